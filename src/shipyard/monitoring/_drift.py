"""Drift of a window: each column's current profile compared with its reference profile.

The statistics live in :mod:`shipyard.monitoring.stats` and take samples or counts; this
module chooses the method of each column (its rule in ``monitoring.yml``, else the
default for its kind and the reference size) and feeds it what the profiles hold:

- numeric columns: the reference's ~100 equal-frequency bins (bin means for
  Wasserstein); PSI, Jensen-Shannon, Hellinger and chi-square use the same bins grouped
  into 10 equal-frequency groups, so a small window is not compared on near-empty bins;
  KS uses raw samples when both profiles kept one, else the bins (a slightly smaller D:
  conservative, never more false alarms);
- categorical columns: the counts of every category seen on either side.

A column with fewer current values than ``min_rows`` gets no verdict
(``not_enough_data``), one whose values are all null is ``empty``, one absent from the
log is ``missing``: none of them counts as drifted.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import pandas as pd

from shipyard.monitoring import stats
from shipyard.monitoring._config import MonitoringConfig
from shipyard.monitoring._profile import (
    CategoricalProfile,
    ColumnProfile,
    DatasetProfile,
    NumericProfile,
    ProfileAccumulator,
    histogram,
    reference_profile,
)
from shipyard.monitoring._result import (
    ColumnDrift,
    ColumnRole,
    MonitoringResult,
    PerformanceResult,
)

__all__ = [
    "compare_columns",
    "compare_frames",
    "compare_profiles",
    "drift_share",
    "window_status",
]

#: Bins of a numeric column for the share-based methods (PSI, JS, Hellinger, chi-square).
SHARE_GROUPS = 10
PLOT_BINS = 30


def compare_columns(
    reference: Mapping[str, ColumnProfile],
    current: Mapping[str, ColumnProfile],
    config: MonitoringConfig,
    *,
    role: ColumnRole = "input",
    missing: Collection[str] = (),
) -> tuple[ColumnDrift, ...]:
    """One :class:`ColumnDrift` per reference column that no rule ignores, in reference
    order. ``missing`` names columns the log did not have."""
    results = []
    for name, profile in reference.items():
        rule = config.rule_for(name, profile.kind) if role == "input" else None
        if rule is not None and rule.ignore:
            continue
        method = _method(profile, rule.method if rule else None)
        threshold = (
            rule.threshold
            if rule is not None and rule.threshold is not None
            else stats.METHODS[method].default_threshold
        )
        base = {
            "column": name,
            "role": role,
            "kind": profile.kind,
            "method": method,
            "threshold": threshold,
            "reference_rows": profile.count,
        }
        window = current.get(name)
        if name in missing or window is None:
            results.append(
                ColumnDrift(**base, status="missing", message="not in the prediction log")
            )
            continue
        results.append(_compare(base, profile, window, config.min_rows))
    return tuple(results)


def drift_share(columns: Collection[ColumnDrift]) -> float:
    """The share of columns with a verdict that drifted (0 when none has a verdict)."""
    judged = [column for column in columns if column.drifted is not None]
    return sum(bool(column.drifted) for column in judged) / len(judged) if judged else 0.0


def window_status(
    rows: int, share: float, performance: PerformanceResult | None, config: MonitoringConfig
) -> Literal["ok", "drift", "not_enough_data"]:
    """A window's status: too few rows for any verdict, or drift when enough input
    columns drifted or performance degraded, else ok."""
    if rows < config.min_rows:
        return "not_enough_data"
    degraded = performance is not None and performance.status == "degraded"
    return "drift" if share >= config.drift_share or degraded else "ok"


def compare_profiles(
    reference: DatasetProfile,
    current: DatasetProfile,
    config: MonitoringConfig,
    *,
    missing: Collection[str] = (),
) -> tuple[tuple[ColumnDrift, ...], tuple[ColumnDrift, ...]]:
    """Input columns and prediction columns of ``current`` compared with ``reference``."""
    return (
        compare_columns(reference.columns, current.columns, config, missing=missing),
        compare_columns(reference.predictions, current.predictions, config, role="prediction"),
    )


def _method(profile: ColumnProfile, chosen: str | None) -> str:
    """The rule's method (``rule_for`` checked that it fits the column's kind), else the
    default for the kind and the reference's size."""
    if chosen is not None:
        return chosen
    distinct = profile.distinct if isinstance(profile, NumericProfile) else len(profile.counts)
    return stats.default_method(profile.kind, profile.count, distinct)


def _compare(
    base: dict, reference: ColumnProfile, current: ColumnProfile, min_rows: int
) -> ColumnDrift:
    details = {
        "current_rows": current.count,
        "current_nulls": current.nulls,
        "histogram": histogram(reference, current, PLOT_BINS),
    }
    if isinstance(current, CategoricalProfile) and isinstance(reference, CategoricalProfile):
        details["new_categories"] = current.new_categories(reference)
    if current.count == 0 and current.nulls:
        return ColumnDrift(**base, **details, status="empty", message="every value is null")
    if current.count < min_rows or reference.count == 0:
        side = "the window" if current.count < min_rows else "the reference"
        return ColumnDrift(
            **base,
            **details,
            status="not_enough_data",
            message=f"{current.count if side == 'the window' else 0} values in {side}; "
            f"at least {min_rows} are needed for a verdict",
        )
    statistic, p_value = _statistic(base["method"], reference, current)
    measured = p_value if stats.METHODS[base["method"]].measure == "p_value" else statistic
    drifted = stats.is_drift(base["method"], measured, base["threshold"])
    return ColumnDrift(
        **base,
        **details,
        status="drift" if drifted else "ok",
        statistic=statistic,
        p_value=p_value,
    )


def _statistic(
    method: str, reference: ColumnProfile, current: ColumnProfile
) -> tuple[float, float | None]:
    if isinstance(reference, NumericProfile) and isinstance(current, NumericProfile):
        return _numeric(method, reference, current)
    assert isinstance(reference, CategoricalProfile) and isinstance(current, CategoricalProfile)
    labels = list(dict.fromkeys([*reference.counts, *current.counts]))
    ref = np.array([reference.counts.get(label, 0) for label in labels], dtype=np.int64)
    cur = np.array([current.counts.get(label, 0) for label in labels], dtype=np.int64)
    if method == "ztest":
        top = int(np.argmax(ref))
        result = stats.z_test_proportions(
            int(ref[top]), int(ref.sum()), int(cur[top]), int(cur.sum())
        )
        return result.statistic, result.p_value
    return _on_counts(method, ref, cur)


def _numeric(
    method: str, reference: NumericProfile, current: NumericProfile
) -> tuple[float, float | None]:
    if method == "ks":
        if reference.sample is not None and current.sample is not None:
            result = stats.ks_test(reference.sample, current.sample)
        else:
            result = stats.ks_test_binned(reference.counts, current.counts)
        return result.statistic, result.p_value
    if method == "wasserstein":
        return (
            stats.normed_wasserstein(
                _bin_means(reference),
                _bin_means(current),
                reference.counts,
                current.counts,
                reference_std=reference.std,
            ),
            None,
        )
    if method == "ztest":
        # a two-valued column: its exact-value bins; "hits" are the larger value
        top = int(np.flatnonzero(reference.counts)[-1])
        result = stats.z_test_proportions(
            int(reference.counts[top]),
            int(reference.counts.sum()),
            int(current.counts[top]),
            int(current.counts.sum()),
        )
        return result.statistic, result.p_value
    ref, cur = _grouped(reference.counts, current.counts, SHARE_GROUPS)
    return _on_counts(method, ref, cur)


def _on_counts(method: str, ref: np.ndarray, cur: np.ndarray) -> tuple[float, float | None]:
    if method == "chisquare":
        result = stats.chi_square(ref, cur)
        return result.statistic, result.p_value
    distance = {
        "psi": stats.psi,
        "jensenshannon": stats.jensen_shannon,
        "hellinger": stats.hellinger,
    }[method]
    return float(distance(ref, cur)), None


def _bin_means(profile: NumericProfile) -> np.ndarray:
    """Each bin's mean value; an empty bin (weight 0) gets its midpoint, or the outer
    edge for the underflow and overflow bins."""
    edges = profile.edges
    low = np.concatenate(([edges[0]], edges))
    high = np.concatenate((edges, [edges[-1]]))
    means = (low + high) / 2
    filled = profile.counts > 0
    means[filled] = profile.sums[filled] / profile.counts[filled]
    return means


def _grouped(ref: np.ndarray, cur: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference's bins merged into about ``groups`` groups of equal reference
    frequency; the underflow and overflow bins (first and last) stay on their own."""
    inner_ref, inner_cur = ref[1:-1], cur[1:-1]
    if len(inner_ref) > groups:
        share = np.cumsum(inner_ref) / max(int(inner_ref.sum()), 1)
        group_of = np.clip(np.ceil(share * groups).astype(np.int64) - 1, 0, groups - 1)
        starts = np.flatnonzero(np.diff(group_of, prepend=-1))
        inner_ref = np.add.reduceat(inner_ref, starts)
        inner_cur = np.add.reduceat(inner_cur, starts)
    return (
        np.concatenate((ref[:1], inner_ref, ref[-1:])),
        np.concatenate((cur[:1], inner_cur, cur[-1:])),
    )


def compare_frames(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    config: MonitoringConfig | None = None,
    name: str = "frames",
) -> MonitoringResult:
    """Drift between two DataFrames with the same columns, as for a model's window: in a
    notebook, or to compare two extracts before training on the newer one.

    >>> result = compare_frames(train, latest_extract)  # doctest: +SKIP
    >>> result.drifted_columns  # doctest: +SKIP
    ['monthly_charges', 'plan_premium']
    """
    started = time.perf_counter()
    config = config or MonitoringConfig()
    profile = reference_profile(reference)
    accumulator = ProfileAccumulator(profile)
    accumulator.add(current[[column for column in profile.columns if column in current]])
    window = accumulator.result()
    missing = tuple(column for column in profile.columns if column not in current)
    columns, _ = compare_profiles(profile, window, config, missing=missing)
    share = drift_share(columns)
    now = datetime.now(UTC)
    status = window_status(len(current), share, None, config)
    return MonitoringResult(
        model=name,
        version=None,
        window_start=now,
        window_end=now,
        rows=len(current),
        status=status,
        columns=columns,
        drift_share=share,
        drift_share_threshold=config.drift_share,
        computed_at=now,
        duration_s=time.perf_counter() - started,
    )
