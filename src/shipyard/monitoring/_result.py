"""What one monitoring window found: plain values, apart from how they were computed.

A :class:`MonitoringResult` is what ``shipyard monitor`` prints, what the HTML and JSON
reports show, and what the metadata store keeps (one row per window, one per column).
Every value here is JSON-friendly through :meth:`MonitoringResult.to_dict`, and
:meth:`MonitoringResult.from_dict` reads it back, so a stored result renders the same
report as a fresh one.

Statuses of a column::

    ok               compared, no drift
    drift            compared, drifted (statistic past its threshold)
    not_enough_data  fewer current values than the minimum: no verdict, not a false alarm
    missing          the column is in the reference profile but not in the log
    empty            the column is in the log, but every value in the window is null/NaN
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "COLUMN_STATUSES",
    "ColumnDrift",
    "Estimate",
    "Histogram",
    "MonitoringResult",
    "PerformanceResult",
]

ColumnStatus = Literal["ok", "drift", "not_enough_data", "missing", "empty"]
COLUMN_STATUSES: tuple[ColumnStatus, ...] = ("ok", "drift", "not_enough_data", "missing", "empty")
ColumnKind = Literal["numeric", "categorical"]
ColumnRole = Literal["input", "prediction", "label"]


@dataclass(frozen=True)
class Histogram:
    """Reference and current distributions of one column on the same bins, for plots.

    Numeric columns: ``edges`` has one more item than the shares (bin i is
    ``edges[i]..edges[i+1]``), ``labels`` is empty. Categorical columns: ``labels`` names
    each bar (the last may be ``"(other)"``), ``edges`` is empty. Shares sum to 1 over
    the non-null values of each side (or are all 0 for a side with no values).
    """

    kind: ColumnKind
    reference: tuple[float, ...]
    current: tuple[float, ...]
    edges: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnDrift:
    """The comparison of one column of the window with its reference profile.

    ``statistic`` is the method's value (a distance such as Wasserstein, or a test
    statistic such as KS D); ``p_value`` is set for statistical tests only. A column
    drifted when ``p_value < threshold`` (tests) or ``statistic >= threshold``
    (distances); ``drifted`` is None when there was no verdict (see ``status``).
    """

    column: str
    role: ColumnRole
    kind: ColumnKind
    method: str
    threshold: float
    status: ColumnStatus
    statistic: float | None = None
    p_value: float | None = None
    reference_rows: int = 0
    current_rows: int = 0
    current_nulls: int = 0
    new_categories: tuple[str, ...] = ()
    histogram: Histogram | None = None
    message: str | None = None

    @property
    def drifted(self) -> bool | None:
        """True or False once compared; None without a verdict."""
        if self.status in ("ok", "drift"):
            return self.status == "drift"
        return None

    @property
    def threshold_ratio(self) -> float | None:
        """The statistic relative to its threshold: past 1 means drifted, so a distance
        and a p-value share one scale. Distances: ``statistic / threshold``; tests:
        ``-log10(p) / -log10(threshold)`` (a p-value a hundred times below a 0.01
        threshold reads 2). None without a verdict.

        >>> ColumnDrift("age", "input", "numeric", "ks", 0.05, "drift", 0.2, 0.0025).threshold_ratio
        2.0
        """
        if self.drifted is None:
            return None
        if self.p_value is not None:
            p, threshold = self.p_value, self.threshold
            if math.isnan(p) or not 0 < threshold < 1:
                return None
            return (
                math.inf if p <= 0 else max(-math.log10(min(p, 1.0)), 0.0) / -math.log10(threshold)
            )
        statistic = self.statistic
        if statistic is None or math.isnan(statistic):
            return None
        if self.threshold > 0:
            return statistic / self.threshold
        return math.inf if statistic > 0 else 0.0

    @property
    def score(self) -> float:
        """How drifted the column is, for sorting (higher is more drifted): its
        :attr:`threshold_ratio`, or -1 without a verdict."""
        ratio = self.threshold_ratio
        return -1.0 if ratio is None else ratio


@dataclass(frozen=True)
class Estimate:
    """A metric with its bootstrap confidence interval (``low``..``high``) on ``n`` rows."""

    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class PerformanceResult:
    """The model's quality on the window's rows that have ground truth (feedback).

    ``baseline`` is what the reference profile recorded on the evaluation set;
    ``degraded`` lists the metrics whose upper confidence bound fell below the baseline
    by more than the policy's tolerance. ``over_time`` holds one point per hour:
    ``(hour start, {metric: value})``.
    """

    task: Literal["classification", "regression"]
    status: Literal["ok", "degraded", "not_enough_data"]
    labelled_rows: int
    metrics: Mapping[str, Estimate] = field(default_factory=dict)
    baseline: Mapping[str, float] = field(default_factory=dict)
    degraded: tuple[str, ...] = ()
    over_time: tuple[tuple[datetime, Mapping[str, float]], ...] = ()


@dataclass(frozen=True)
class MonitoringResult:
    """One window of one model version compared with its reference profile.

    ``status`` is ``drift`` when the share of drifted input columns reaches
    ``drift_share_threshold`` or performance degraded, ``not_enough_data`` when the
    window has fewer rows than the policy's minimum, else ``ok``.
    """

    model: str
    version: int | None
    window_start: datetime
    window_end: datetime
    rows: int
    status: Literal["ok", "drift", "not_enough_data"]
    columns: tuple[ColumnDrift, ...]
    drift_share: float
    drift_share_threshold: float
    computed_at: datetime
    predictions: tuple[ColumnDrift, ...] = ()
    performance: PerformanceResult | None = None
    skipped_files: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    duration_s: float = 0.0
    id: str | None = None

    @property
    def dataset_drift(self) -> bool:
        """True when the share of drifted input columns reached the threshold."""
        return self.rows > 0 and self.drift_share >= self.drift_share_threshold

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the input columns that drifted, most drifted first."""
        return [c.column for c in self.sorted_columns() if c.status == "drift"]

    def sorted_columns(self) -> list[ColumnDrift]:
        """Input columns, most drifted first (columns without a verdict last, by name)."""
        return sorted(self.columns, key=lambda c: (-c.score, c.column))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: datetimes as ISO 8601 text, NaN as null, infinities as
        the text "inf" and "-inf" (JSON has neither; :meth:`from_dict` reads them back)."""
        data = asdict(self)
        data["dataset_drift"] = self.dataset_drift
        return _json_ready(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitoringResult:
        """The result :meth:`to_dict` described."""
        performance = data.get("performance")
        return cls(
            model=data["model"],
            version=data.get("version"),
            window_start=datetime.fromisoformat(data["window_start"]),
            window_end=datetime.fromisoformat(data["window_end"]),
            rows=data["rows"],
            status=data["status"],
            columns=tuple(_column(c) for c in data.get("columns", ())),
            drift_share=_number(data["drift_share"]),
            drift_share_threshold=data["drift_share_threshold"],
            computed_at=datetime.fromisoformat(data["computed_at"]),
            predictions=tuple(_column(c) for c in data.get("predictions", ())),
            performance=_performance(performance) if performance else None,
            skipped_files=tuple(data.get("skipped_files", ())),
            warnings=tuple(data.get("warnings", ())),
            duration_s=data.get("duration_s", 0.0),
            id=data.get("id"),
        )


def _column(data: Mapping[str, Any]) -> ColumnDrift:
    histogram = data.get("histogram")
    fields = {key: value for key, value in data.items() if key != "histogram"}
    fields["new_categories"] = tuple(fields.get("new_categories", ()))
    for name in ("statistic", "p_value"):
        fields[name] = _optional_number(fields.get(name))
    fields["threshold"] = float(fields["threshold"])
    return ColumnDrift(
        **fields,
        histogram=Histogram(
            kind=histogram["kind"],
            reference=tuple(_number(v) for v in histogram["reference"]),
            current=tuple(_number(v) for v in histogram["current"]),
            edges=tuple(_number(v) for v in histogram.get("edges", ())),
            labels=tuple(histogram.get("labels", ())),
        )
        if histogram
        else None,
    )


def _performance(data: Mapping[str, Any]) -> PerformanceResult:
    return PerformanceResult(
        task=data["task"],
        status=data["status"],
        labelled_rows=data["labelled_rows"],
        metrics={
            name: Estimate(
                value=_number(estimate["value"]),
                low=_number(estimate["low"]),
                high=_number(estimate["high"]),
                n=estimate["n"],
            )
            for name, estimate in data["metrics"].items()
        },
        baseline={name: _number(value) for name, value in data.get("baseline", {}).items()},
        degraded=tuple(data.get("degraded", ())),
        over_time=tuple(
            (datetime.fromisoformat(moment), {k: _number(v) for k, v in values.items()})
            for moment, values in data.get("over_time", ())
        ),
    )


def _number(value: float | str | None) -> float:
    return math.nan if value is None else float(value)


def _optional_number(value: float | str | None) -> float | None:
    return None if value is None else float(value)


def _json_ready(value: Any) -> Any:
    if isinstance(value, float):
        # JSON has no infinities: kept as the text float() reads back; NaN is null
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_json_ready(item) for item in value]
    return value
