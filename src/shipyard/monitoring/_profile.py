"""Profiles: what the columns of a table look like, in kilobytes, and mergeable.

Drift is computed from profiles, never from raw rows. The *reference* profile is built
at training time from the evaluation inputs (with the model's predictions and the labels)
and stored as bytes in the model package; a *current* profile is built from a window of
the prediction log on the reference's bins, batch by batch (:class:`ProfileAccumulator`),
and the profiles of two parts of a window merge into the profile of the whole.

Numeric columns (int, float, and bool as 0/1) -- :class:`NumericProfile`:

- bins are fixed by the reference: its quantiles at ``bins`` equal-probability levels
  (so each bin holds ~1/bins of the reference), or, when the reference has at most
  ``bins`` distinct values, one bin per value with edges halfway between neighbours,
  so that 0/1 flags and small counts are never lumped together;
- ``counts`` holds an underflow bin (``x < edges[0]``), then bin ``i`` for
  ``edges[i-1] <= x < edges[i]`` (the last one also holds ``x == edges[-1]``), then an
  overflow bin (``x > edges[-1]``): ``len(counts) == len(edges) + 1``; ``sums`` holds
  each bin's sum of values, so bin means (Wasserstein) are exact;
- ``count`` counts finite values; None and NaN are ``nulls``, +-inf are ``infinities``
  (neither binned nor in the moments); ``mean``, ``std`` (population, ddof=0), minimum
  and maximum merge exactly (Chan et al.'s parallel variance);
- ``sample``: an optional uniform sample of the finite values (for exact tests), merged
  by drawing from each side in proportion to its count.

Categorical columns (text, object, category) -- :class:`CategoricalProfile`: the
reference keeps its ``top_categories`` most frequent values and folds the rest into
``"(other)"``; a current profile keeps the same categories plus up to 50 values the
reference did not keep (its new categories), the rest again in ``"(other)"``. A value
that is not text is counted as its ``str()``. A current value that the reference
folded into ``"(other)"`` counts as new: the reference does not know its rare values.

Datetime and timedelta columns are skipped (named in ``DatasetProfile.skipped``): their
range moves with time by design, so their "drift" is no news. PII columns are profiled
but never sampled, and a categorical PII column keeps no values (all in ``"(other)"``).

A column absent from a batch is not counted at all (neither values nor nulls), so a
column the log never had has ``count == nulls == 0``.

Example::

    reference = reference_profile(
        X_test, predictions=model.predict(X_test), labels=y_test,
        task="classification", performance={"accuracy": 0.91},
    )
    blob = reference.to_bytes()                  # ~3 KB per numeric column
    current = ProfileAccumulator(DatasetProfile.from_bytes(blob))
    for batch in batches:
        current.add(batch)
    current.result().columns["age"].counts       # on the reference's bins
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import MonitoringError
from shipyard.monitoring._result import Histogram
from shipyard.monitoring._values import (
    Binner,
    NotNumericError,
    Scratch,
    as_float,
    as_series,
    column_kind,
    column_of,
    float_chunks,
    is_table,
    length_of,
    value_counts,
)

__all__ = [
    "OTHER",
    "CategoricalProfile",
    "ColumnProfile",
    "DatasetProfile",
    "NumericProfile",
    "ProfileAccumulator",
    "histogram",
    "reference_profile",
]

#: The bucket of every category a profile does not keep by name.
OTHER = "(other)"
#: Distinct values of a reference column are counted exactly up to this many.
DISTINCT_CAP = 1000
#: New categories a current profile keeps by name (by count); the rest go to OTHER.
MAX_NEW_CATEGORIES = 50
FORMAT = "shipyard.profile"
FORMAT_VERSION = 1

Task = Literal["classification", "regression"]
_TASKS = ("classification", "regression")
# While streaming, new categories are kept up to this many (by count) before the rest
# are folded into OTHER, so a column of ids cannot grow the accumulator without bound.
_NEW_WORKING = 1000
# Numeric values are binned this many at a time (their work arrays fit in L2 cache).
_CHUNK = 1 << 17
_DAMAGED_HINT = (
    "The profile is stored with the model package: repackage the model with "
    "reference_profile=shipyard.monitoring.reference_profile(...), or check that the "
    "file is the one the package lists."
)


# ----------------------------------------------------------------------------- profiles


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """A numeric column: moments, bins fixed by the reference, an optional sample.

    ``std`` is the population standard deviation (ddof=0), from ``m2``, the sum of
    squared deviations from the mean, which is what merges exactly. ``distinct`` is
    counted in the reference only (exactly up to :data:`DISTINCT_CAP`, then the cap);
    a current profile keeps 0. ``sample_size`` is the sample's cap (0: no sample).
    """

    count: int
    nulls: int
    infinities: int
    mean: float
    m2: float
    minimum: float
    maximum: float
    edges: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    distinct: int = 0
    sample: np.ndarray | None = None
    sample_size: int = 0

    kind: Literal["numeric"] = field(default="numeric", init=False)

    @property
    def std(self) -> float:
        """The population standard deviation of the finite values (NaN without any)."""
        return math.sqrt(max(self.m2, 0.0) / self.count) if self.count else math.nan

    def merge(self, other: NumericProfile, *, seed: int | None = None) -> NumericProfile:
        """The profile of both columns' values together (same reference bins required).

        Samples merge into a uniform sample of the union; ``seed`` fixes that draw
        (by default it is derived from the counts, so a merge is repeatable).
        """
        if not isinstance(other, NumericProfile) or not _same_edges(self.edges, other.edges):
            raise MonitoringError(
                "Two numeric profiles with different bins cannot be merged.",
                hint="Build every current profile from the same reference profile "
                "(ProfileAccumulator(reference) or reference.empty_like()).",
            )
        count, mean, m2 = _chan(
            (self.count, self.mean, self.m2), (other.count, other.mean, other.m2)
        )
        rng = np.random.default_rng(
            seed if seed is not None else (self.count, other.count, len(self.counts))
        )
        sample, size = _merge_samples(
            (self.sample, self.count, self.sample_size),
            (other.sample, other.count, other.sample_size),
            rng,
        )
        return NumericProfile(
            count=count,
            nulls=self.nulls + other.nulls,
            infinities=self.infinities + other.infinities,
            mean=mean,
            m2=m2,
            minimum=float(np.fmin(self.minimum, other.minimum)),
            maximum=float(np.fmax(self.maximum, other.maximum)),
            edges=self.edges,
            counts=self.counts + other.counts,
            sums=self.sums + other.sums,
            distinct=max(self.distinct, other.distinct),
            sample=sample,
            sample_size=size,
        )

    def empty_like(self) -> NumericProfile:
        """No values, on the same bins (with the same sample cap)."""
        return _empty_numeric(self.edges, self.sample_size)


@dataclass(frozen=True)
class CategoricalProfile:
    """A categorical column: counts per category, nulls apart.

    ``categories`` are the reference's (its kept values, then :data:`OTHER`); ``counts``
    has every one of them, and in a current profile also the new categories it kept.
    """

    count: int
    nulls: int
    counts: Mapping[str, int]
    categories: tuple[str, ...]

    kind: Literal["categorical"] = field(default="categorical", init=False)

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        """The profile of both columns' values together (same reference categories)."""
        if not isinstance(other, CategoricalProfile) or other.categories != self.categories:
            raise MonitoringError(
                "Two categorical profiles built on different reference categories cannot "
                "be merged.",
                hint="Build every current profile from the same reference profile.",
            )
        known = set(self.categories)
        counts = {name: self.counts.get(name, 0) + other.counts.get(name, 0) for name in known}
        new: dict[str, int] = {}
        for side in (self.counts, other.counts):
            for name, number in side.items():
                if name not in known:
                    new[name] = new.get(name, 0) + number
        return CategoricalProfile(
            count=self.count + other.count,
            nulls=self.nulls + other.nulls,
            counts=_with_new(self.categories, counts, new),
            categories=self.categories,
        )

    def new_categories(self, reference: CategoricalProfile) -> tuple[str, ...]:
        """The values seen here that ``reference`` does not keep, most frequent first."""
        known = set(reference.categories)
        found = [(-n, name) for name, n in self.counts.items() if name not in known and n > 0]
        return tuple(name for _, name in sorted(found))

    def empty_like(self) -> CategoricalProfile:
        """No values, on the same categories."""
        return CategoricalProfile(
            count=0,
            nulls=0,
            counts=dict.fromkeys(self.categories, 0),
            categories=self.categories,
        )


ColumnProfile: TypeAlias = NumericProfile | CategoricalProfile


@dataclass(frozen=True, eq=False)
class DatasetProfile:
    """The profiles of a table's columns: model inputs, outputs and the label.

    ``predictions`` are named as the prediction log names outputs (``output.<name>``
    there); ``performance`` holds the baseline metrics measured on the evaluation set;
    ``skipped`` names the input columns that were not profiled (datetimes).
    """

    rows: int
    columns: Mapping[str, ColumnProfile]
    predictions: Mapping[str, ColumnProfile] = field(default_factory=dict)
    label: ColumnProfile | None = None
    task: Task | None = None
    performance: Mapping[str, float] = field(default_factory=dict)
    pii: tuple[str, ...] = ()
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    skipped: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        """Compact JSON with a format version; floats and arrays round-trip exactly."""
        return orjson.dumps(
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "rows": self.rows,
                "created_at": self.created_at.isoformat(),
                "task": self.task,
                "performance": {name: _float_out(v) for name, v in self.performance.items()},
                "pii": list(self.pii),
                "skipped": list(self.skipped),
                "columns": {name: _column_out(p) for name, p in self.columns.items()},
                "predictions": {name: _column_out(p) for name, p in self.predictions.items()},
                "label": None if self.label is None else _column_out(self.label),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview | str) -> DatasetProfile:
        """The profile :meth:`to_bytes` wrote; :class:`MonitoringError` for anything else."""
        try:
            document = orjson.loads(data)
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise MonitoringError(
                f"These bytes are not a Shipyard profile (not JSON: {exc}).", hint=_DAMAGED_HINT
            ) from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise MonitoringError(
                "These bytes are not a Shipyard profile (no profile format marker).",
                hint=_DAMAGED_HINT,
            )
        version = document.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise MonitoringError(
                f"This profile has format version {version!r}; this Shipyard reads "
                f"version {FORMAT_VERSION} and older.",
                hint="Upgrade Shipyard to read profiles made by a newer version.",
            )
        try:
            label = document["label"]
            return cls(
                rows=int(document["rows"]),
                columns={str(k): _column_in(v) for k, v in document["columns"].items()},
                predictions={str(k): _column_in(v) for k, v in document["predictions"].items()},
                label=None if label is None else _column_in(label),
                task=_task(document["task"]),
                performance={str(k): _float_in(v) for k, v in document["performance"].items()},
                pii=tuple(str(name) for name in document["pii"]),
                created_at=datetime.fromisoformat(document["created_at"]),
                skipped=tuple(str(name) for name in document.get("skipped", ())),
            )
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise MonitoringError(
                f"The profile is damaged: {type(exc).__name__}: {exc}", hint=_DAMAGED_HINT
            ) from exc

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        """Both profiles' rows together; both must be built on the same reference bins.

        The result keeps this profile's task, baseline and PII tags, and the later
        creation time.
        """
        if (
            list(self.columns) != list(other.columns)
            or list(self.predictions) != list(other.predictions)
            or (self.label is None) != (other.label is None)
        ):
            raise MonitoringError(
                "Two profiles of different columns cannot be merged.",
                hint="Merge only current profiles built from the same reference profile.",
            )
        return replace(
            self,
            rows=self.rows + other.rows,
            columns=_merged(self.columns, other.columns),
            predictions=_merged(self.predictions, other.predictions),
            label=None if self.label is None else _merge_column(self.label, other.label),
            created_at=max(self.created_at, other.created_at),
        )

    def empty_like(self) -> DatasetProfile:
        """No rows, on the same bins: where a current profile starts."""
        return replace(
            self,
            rows=0,
            columns={name: p.empty_like() for name, p in self.columns.items()},
            predictions={name: p.empty_like() for name, p in self.predictions.items()},
            label=None if self.label is None else self.label.empty_like(),
            performance={},
            created_at=datetime.now(UTC),
        )


def _merged(
    one: Mapping[str, ColumnProfile], other: Mapping[str, ColumnProfile]
) -> dict[str, ColumnProfile]:
    return {name: _merge_column(profile, other[name]) for name, profile in one.items()}


def _merge_column(one: ColumnProfile, other: ColumnProfile | None) -> ColumnProfile:
    if isinstance(one, NumericProfile) and isinstance(other, NumericProfile):
        return one.merge(other)
    if isinstance(one, CategoricalProfile) and isinstance(other, CategoricalProfile):
        return one.merge(other)
    raise MonitoringError(
        "A numeric and a categorical profile of the same column cannot be merged.",
        hint="Merge only current profiles built from the same reference profile.",
    )


# ------------------------------------------------------------------------ the reference


def reference_profile(
    inputs: pd.DataFrame,
    *,
    predictions: Any = None,
    labels: Any = None,
    task: Task | None = None,
    performance: Mapping[str, float] | None = None,
    bins: int = 100,
    top_categories: int = 100,
    sample_size: int = 0,
    pii: Iterable[str] = (),
    seed: int = 0,
) -> DatasetProfile:
    """The reference profile of the model's evaluation inputs, outputs and labels.

    ``predictions`` is what the model returned for ``inputs``: an array or Series (one
    output, named ``prediction`` or by the Series' name; a 2-d array gives
    ``prediction_0``, ...), a DataFrame, or a mapping of output name to values.
    ``performance`` holds the baseline metrics on this evaluation set. ``sample_size``
    keeps a uniform sample of each numeric column (never of ``pii`` columns).

    >>> profile = reference_profile(pd.DataFrame({"x": [1.0, 2.0, 2.0, 3.0]}))
    >>> profile.columns["x"].edges, profile.columns["x"].counts
    (array([1. , 1.5, 2.5, 3. ]), array([0, 1, 2, 1, 0]))
    """
    if not isinstance(inputs, pd.DataFrame):
        raise MonitoringError(
            f"A reference profile is built from a DataFrame, not a {type(inputs).__name__}.",
            hint="Pass the evaluation inputs as a pandas DataFrame (e.g. X_test).",
        )
    if bins < 1 or top_categories < 1 or sample_size < 0:
        raise MonitoringError(
            f"A reference profile needs bins >= 1, top_categories >= 1 and sample_size >= 0 "
            f"(got {bins}, {top_categories} and {sample_size}).",
            hint="Keep the defaults (bins=100, top_categories=100, sample_size=0).",
        )
    if task is not None and task not in _TASKS:
        raise MonitoringError(
            f"Unknown task {task!r} for a reference profile.",
            hint="Use task='classification' or task='regression' (or leave it out).",
        )
    pii = tuple(dict.fromkeys(str(name) for name in pii))
    build = _ReferenceBuilder(bins, top_categories, sample_size, seed)
    columns: dict[str, ColumnProfile] = {}
    skipped = []
    for position, name in enumerate(inputs.columns):
        profile = build.column(inputs.iloc[:, position], private=str(name) in pii)
        if profile is None:
            skipped.append(str(name))
        else:
            columns[str(name)] = profile
    outputs: dict[str, ColumnProfile] = {}
    for name, values in _named_outputs(predictions).items():
        profile = build.column(values, private=False)
        if profile is not None:
            outputs[name] = profile
    return DatasetProfile(
        rows=len(inputs),
        columns=columns,
        predictions=outputs,
        label=None if labels is None else build.column(as_series(labels), private=False),
        task=task,
        performance={str(k): float(v) for k, v in (performance or {}).items()},
        pii=pii,
        skipped=tuple(skipped),
    )


class _ReferenceBuilder:
    """Builds each column's reference profile: its bins first, then the counts on them."""

    def __init__(self, bins: int, top_categories: int, sample_size: int, seed: int) -> None:
        self.bins = bins
        self.top = top_categories
        self.sample_size = sample_size
        self.rng = np.random.default_rng(seed)
        self.scratch = Scratch()

    def column(self, values: Any, *, private: bool) -> ColumnProfile | None:
        kind = column_kind(values)
        if kind is None:
            return None
        if kind == "numeric":
            return self._numeric(as_float(values), private=private)
        return self._categorical(values, private=private)

    def _numeric(self, values: np.ndarray, *, private: bool) -> NumericProfile:
        finite = values[np.isfinite(values)]
        ordered = np.sort(finite)
        change = ordered[1:] != ordered[:-1]
        distinct = int(np.count_nonzero(change)) + 1 if len(ordered) else 0
        if not len(ordered):
            edges = np.empty(0)
        elif distinct <= self.bins:
            edges = _value_edges(ordered[np.concatenate(([True], change))])
        else:
            positions = np.linspace(0, len(ordered) - 1, self.bins + 1).astype(np.int64)
            edges = np.unique(ordered[positions])
        state = _NumericState(edges, 0 if private else self.sample_size, self.rng)
        state.add(values, self.scratch)
        return state.profile(distinct=min(distinct, DISTINCT_CAP))

    def _categorical(self, values: Any, *, private: bool) -> CategoricalProfile:
        nulls, keys, counts = value_counts(values)
        ranked = sorted(
            zip(keys.to_pylist(), counts.tolist(), strict=True),
            key=lambda item: (-item[1], item[0]),
        )
        # A value that is itself called "(other)" joins the bucket of that name.
        kept = {name: n for name, n in ([] if private else ranked[: self.top]) if name != OTHER}
        total = int(counts.sum())
        return CategoricalProfile(
            count=total,
            nulls=nulls,
            counts={**kept, OTHER: total - sum(kept.values())},
            categories=(*kept, OTHER),
        )


def _value_edges(values: np.ndarray) -> np.ndarray:
    """Edges that give each of the sorted distinct ``values`` a bin of its own: halfway
    between neighbours (or the upper one, between two adjacent floats)."""
    low, high = values[:-1], values[1:]
    halfway = low / 2 + high / 2  # not (low + high) / 2: that overflows near the float max
    halfway = np.where(halfway > low, halfway, high)
    return np.concatenate((values[:1], halfway, values[-1:]))


def _named_outputs(predictions: Any) -> dict[str, Any]:
    """Predictions by output name, named as the prediction log names them."""
    if predictions is None:
        return {}
    if isinstance(predictions, Mapping):
        return {str(name): values for name, values in predictions.items()}
    from shipyard.models._signature import _as_frame  # the serving endpoint's naming rule

    frame = _as_frame(predictions)
    return {str(name): frame.iloc[:, i] for i, name in enumerate(frame.columns)}


# ----------------------------------------------------------------------- the current side


class ProfileAccumulator:
    """A current profile on a reference's bins, built batch by batch in bounded memory.

    Each :meth:`add` bins its batch and merges the counts; nothing of the batch is kept
    (apart from a bounded sample when ``sample_size`` > 0). Columns are found by the
    reference's names (inputs without the log's ``input.`` prefix).

    >>> reference = reference_profile(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    >>> accumulator = ProfileAccumulator(reference)
    >>> accumulator.add({"x": [2.0, 2.0, 9.0]})
    >>> accumulator.result().columns["x"].counts
    array([0, 0, 2, 0, 1])
    """

    def __init__(self, reference: DatasetProfile, *, sample_size: int = 0, seed: int = 0) -> None:
        if sample_size < 0:
            raise MonitoringError(
                f"sample_size must be >= 0, not {sample_size}.",
                hint="Use 0 (no sample) or the number of values to keep per column.",
            )
        self.reference = reference
        self._rows = 0
        self._scratch = Scratch()
        rng = np.random.default_rng(seed)
        pii = set(reference.pii)

        def state(name: str | None, profile: ColumnProfile) -> _NumericState | _CategoryState:
            if isinstance(profile, NumericProfile):
                return _NumericState(profile.edges, 0 if name in pii else sample_size, rng)
            return _CategoryState(profile.categories)

        self._columns = {name: state(name, p) for name, p in reference.columns.items()}
        self._predictions = {name: state(None, p) for name, p in reference.predictions.items()}
        self._label = None if reference.label is None else state(None, reference.label)

    def add(
        self,
        inputs: Any,
        predictions: Any = None,
        labels: Any = None,
        *,
        rows: int | None = None,
    ) -> None:
        """Add a batch: ``inputs`` (a DataFrame, an Arrow table or record batch, or a
        mapping of column name to values), optionally the model's ``predictions`` for
        it (the same, or one array for one output) and the ``labels``. ``rows`` is the
        batch's row count when ``inputs`` cannot tell (a mapping without columns).

        :class:`MonitoringError` when a numeric column's values are not numbers.
        """
        self._rows += length_of(inputs) if rows is None else rows
        for name, state in self._columns.items():
            values = column_of(inputs, name)
            if values is not None:
                _add(state, values, name, self._scratch)
        if predictions is not None:
            named = predictions if is_table(predictions) else _named_outputs(predictions)
            if not is_table(predictions) and len(named) == len(self._predictions) == 1:
                named = {next(iter(self._predictions)): next(iter(named.values()))}
            for name, state in self._predictions.items():
                values = column_of(named, name)
                if values is not None:
                    _add(state, values, f"prediction {name}", self._scratch)
        if labels is not None and self._label is not None:
            _add(self._label, labels, "label", self._scratch)

    @property
    def rows(self) -> int:
        """Rows added so far."""
        return self._rows

    def checkpoint(self) -> object:
        """A token for :meth:`rollback`: the counts so far (kilobytes, not data). A reader
        takes one before a file and rolls back when the file turns out to be damaged
        half-way, so that none of its rows count."""
        states = [*self._columns.values(), *self._predictions.values()]
        if self._label is not None:
            states.append(self._label)
        return self._rows, [(state, state.snapshot()) for state in states]

    def rollback(self, token: object) -> None:
        """Forget every row added since :meth:`checkpoint` returned ``token``."""
        rows, snapshots = token  # type: ignore[misc]
        self._rows = rows
        for state, snapshot in snapshots:
            state.restore(snapshot)

    def result(self) -> DatasetProfile:
        """The current profile of every row added so far."""
        reference = self.reference
        return DatasetProfile(
            rows=self._rows,
            columns={name: state.profile() for name, state in self._columns.items()},
            predictions={name: state.profile() for name, state in self._predictions.items()},
            label=None if self._label is None else self._label.profile(),
            task=reference.task,
            pii=reference.pii,
            skipped=reference.skipped,
        )


def _add(state: _NumericState | _CategoryState, values: Any, what: str, scratch: Scratch) -> None:
    if isinstance(state, _CategoryState):
        state.add(values)
        return
    try:
        for chunk in float_chunks(values):
            state.add(chunk, scratch)
    except NotNumericError as exc:
        raise MonitoringError(
            f"Column {what} is numeric in the reference profile, but this batch holds "
            f"{exc} values.",
            hint="Send the column with the type the model was trained on.",
        ) from exc


class _NumericState:
    """The running moments, bin counts and sample of one numeric column."""

    def __init__(self, edges: np.ndarray, sample_size: int, rng: np.random.Generator) -> None:
        self.binner = Binner(edges)
        self.edges = edges
        self.counts = np.zeros(self.binner.bins, np.int64)
        self.sums = np.zeros(self.binner.bins, np.float64)
        self.count = self.nulls = self.infinities = 0
        self.mean = self.m2 = 0.0
        self.minimum = self.maximum = math.nan
        self.sample_size = sample_size
        self.sample: np.ndarray | None = None
        self.rng = rng

    def add(self, values: np.ndarray, scratch: Scratch) -> None:
        """Add float64 values (NaN for nulls)."""
        # A slice at a time: the dozen passes over it then run in the CPU's cache.
        for start in range(0, len(values), _CHUNK):
            self._add(values[start : start + _CHUNK], scratch)

    def _add(self, values: np.ndarray, scratch: Scratch) -> None:
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, checked next
            total = float(values.sum())
        kept = len(values)
        if not math.isfinite(total):  # NaN or inf in there (or a sum past the float range)
            finite = np.isfinite(values, out=scratch.mask(len(values), 1))
            kept = int(np.count_nonzero(finite))
            if kept < len(values):
                missing = int(np.count_nonzero(np.isnan(values)))
                self.nulls += missing
                self.infinities += len(values) - kept - missing
                values = values[finite]
            total = float(values.sum())
        if not kept:
            return
        index = self.binner.index(values, scratch)
        self.counts += np.bincount(index, minlength=self.binner.bins)
        self.sums += np.bincount(index, weights=values, minlength=self.binner.bins)
        # Two passes per slice (mean, then squared deviations) and Chan's formula between
        # slices: as exact as two passes over everything, without holding it.
        mean = total / kept if math.isfinite(total) else float((values / kept).sum())
        squares = np.subtract(values, mean, out=scratch.floats(kept))
        np.square(squares, out=squares)
        m2 = float(squares.sum())  # not np.dot: BLAS threads cost ms on a busy machine
        self.count, self.mean, self.m2 = _chan((self.count, self.mean, self.m2), (kept, mean, m2))
        self.minimum = float(np.fmin(self.minimum, values.min()))
        self.maximum = float(np.fmax(self.maximum, values.max()))
        if self.sample_size:
            taken = self.rng.choice(kept, min(self.sample_size, kept), replace=False)
            self.sample, _ = _merge_samples(
                (self.sample, self.count - kept, self.sample_size),
                (values[np.sort(taken)], kept, self.sample_size),
                self.rng,
            )

    def snapshot(self) -> tuple:
        return (
            self.counts.copy(),
            self.sums.copy(),
            (self.count, self.nulls, self.infinities, self.mean, self.m2),
            (self.minimum, self.maximum, self.sample),  # samples are replaced, never changed
        )

    def restore(self, snapshot: tuple) -> None:
        counts, sums, moments, rest = snapshot
        self.counts, self.sums = counts.copy(), sums.copy()
        self.count, self.nulls, self.infinities, self.mean, self.m2 = moments
        self.minimum, self.maximum, self.sample = rest

    def profile(self, distinct: int = 0) -> NumericProfile:
        return NumericProfile(
            count=self.count,
            nulls=self.nulls,
            infinities=self.infinities,
            mean=self.mean if self.count else math.nan,
            m2=self.m2,
            minimum=self.minimum,
            maximum=self.maximum,
            edges=self.edges,
            counts=self.counts.copy(),
            sums=self.sums.copy(),
            distinct=distinct,
            sample=None if self.sample is None else self.sample.copy(),
            sample_size=self.sample_size,
        )


class _CategoryState:
    """The running counts of one categorical column: the reference's categories, and
    the most frequent new ones."""

    def __init__(self, categories: tuple[str, ...]) -> None:
        self.categories = categories
        self.index = pa.array(categories, pa.string())
        self.other = categories.index(OTHER) if OTHER in categories else None
        self.counts = np.zeros(len(categories), np.int64)
        self.new: dict[str, int] = {}
        self.folded = 0  # new values beyond the ones kept by name
        self.count = self.nulls = 0

    def add(self, values: Any) -> None:
        nulls, keys, counts = value_counts(values)
        self.nulls += nulls
        self.count += int(counts.sum())
        if not len(keys):
            return
        position = pc.fill_null(pc.index_in(keys, value_set=self.index), -1).to_numpy()
        known = position >= 0
        np.add.at(self.counts, position[known], counts[known])
        if known.all():
            return
        unknown = np.flatnonzero(~known)
        order = unknown[np.argsort(-counts[unknown], kind="stable")]
        self.folded += int(counts[order[_NEW_WORKING:]].sum())
        order = order[:_NEW_WORKING]
        for name, number in zip(
            keys.take(pa.array(order)).to_pylist(), counts[order].tolist(), strict=True
        ):
            self.new[name] = self.new.get(name, 0) + number
        if len(self.new) > 2 * _NEW_WORKING:
            ranked = sorted(self.new.items(), key=lambda item: -item[1])
            self.new = dict(ranked[:_NEW_WORKING])
            self.folded += sum(number for _, number in ranked[_NEW_WORKING:])

    def snapshot(self) -> tuple:
        return self.counts.copy(), dict(self.new), self.folded, self.count, self.nulls

    def restore(self, snapshot: tuple) -> None:
        counts, new, self.folded, self.count, self.nulls = snapshot
        self.counts, self.new = counts.copy(), dict(new)

    def profile(self) -> CategoricalProfile:
        counts = dict(zip(self.categories, self.counts.tolist(), strict=True))
        if self.folded:
            counts[OTHER] = counts.get(OTHER, 0) + self.folded
        return CategoricalProfile(
            count=self.count,
            nulls=self.nulls,
            counts=_with_new(self.categories, counts, self.new),
            categories=self.categories,
        )


def _with_new(
    categories: tuple[str, ...], counts: dict[str, int], new: Mapping[str, int]
) -> dict[str, int]:
    """``counts`` (the reference's categories) with the most frequent new categories by
    name, the other new ones added to OTHER."""
    ranked = sorted(new.items(), key=lambda item: (-item[1], item[0]))
    result = {name: counts.get(name, 0) for name in categories}
    folded = sum(number for _, number in ranked[MAX_NEW_CATEGORIES:])
    if folded:
        result[OTHER] = result.get(OTHER, 0) + folded
    result.update(ranked[:MAX_NEW_CATEGORIES])
    return result


# ------------------------------------------------------------------------------- merging


def _chan(
    one: tuple[int, float, float], other: tuple[int, float, float]
) -> tuple[int, float, float]:
    """Count, mean and sum of squared deviations of two groups together (Chan et al.)."""
    (count, mean, m2), (other_count, other_mean, other_m2) = one, other
    if not other_count:
        return count, mean, m2
    if not count:
        return other_count, other_mean, other_m2
    total = count + other_count
    delta = other_mean - mean
    return (
        total,
        mean + delta * other_count / total,
        m2 + other_m2 + delta * delta * count * other_count / total,
    )


def _merge_samples(
    one: tuple[np.ndarray | None, int, int],
    other: tuple[np.ndarray | None, int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray | None, int]:
    """A uniform sample of two groups together, from a uniform sample of each: each
    ``(sample, values in the group, cap)``; returns the sample and its cap.

    The number drawn from the first group is hypergeometric, as if the sample had been
    drawn from all the values at once."""
    (sample, count, cap), (other_sample, other_count, other_cap) = one, other
    if not other_count:
        return sample, cap
    if not count:
        return other_sample, other_cap
    cap = min(cap, other_cap)
    if not cap or sample is None or other_sample is None:
        return None, 0
    size = min(cap, count + other_count)
    if count + other_count < 10**9:
        first = int(rng.hypergeometric(count, other_count, size))
    else:  # numpy's hypergeometric stops at 1e9; the binomial is as good there
        first = int(rng.binomial(size, count / (count + other_count)))
    first = min(max(first, size - len(other_sample)), len(sample))
    return (
        np.concatenate(
            (
                rng.choice(sample, first, replace=False),
                rng.choice(other_sample, size - first, replace=False),
            )
        ),
        cap,
    )


def _same_edges(one: np.ndarray, other: np.ndarray) -> bool:
    return one is other or (one.shape == other.shape and bool(np.array_equal(one, other)))


def _empty_numeric(edges: np.ndarray, sample_size: int) -> NumericProfile:
    return NumericProfile(
        count=0,
        nulls=0,
        infinities=0,
        mean=math.nan,
        m2=0.0,
        minimum=math.nan,
        maximum=math.nan,
        edges=edges,
        counts=np.zeros(len(edges) + 1, np.int64),
        sums=np.zeros(len(edges) + 1, np.float64),
        sample_size=sample_size,
    )


# ------------------------------------------------------------------------------ plotting


def histogram(reference: ColumnProfile, current: ColumnProfile, max_bins: int = 30) -> Histogram:
    """Both sides of a column on the same bars, as shares, for plots.

    Numeric: the reference's bins grouped into at most ``max_bins`` groups of about
    equal reference frequency, plus a bar below and one above the reference's range
    when the current values reach there. Categorical: the reference's most frequent
    categories, then the current side's new ones, then ``"(other)"`` for the rest.
    """
    if isinstance(reference, NumericProfile) and isinstance(current, NumericProfile):
        return _numeric_histogram(reference, current, max(max_bins, 1))
    if isinstance(reference, CategoricalProfile) and isinstance(current, CategoricalProfile):
        return _categorical_histogram(reference, current, max(max_bins, 2))
    raise MonitoringError(
        "A histogram needs two profiles of the same kind.",
        hint="Compare a column's current profile with its own reference profile.",
    )


def _numeric_histogram(
    reference: NumericProfile, current: NumericProfile, max_bins: int
) -> Histogram:
    if not _same_edges(reference.edges, current.edges):
        raise MonitoringError(
            "The current profile was not built on the reference profile's bins.",
            hint="Build the current profile with ProfileAccumulator(reference).",
        )
    edges = reference.edges
    if not len(edges):  # the reference has no finite value: one bar of the current range
        if not current.count:
            return Histogram(kind="numeric", reference=(), current=())
        return Histogram(
            kind="numeric",
            reference=(0.0,),
            current=(1.0,),
            edges=(current.minimum, current.maximum),
        )
    inner = reference.counts[1:-1]
    groups = min(max_bins, len(inner))
    if inner.sum():
        share = np.cumsum(inner) / inner.sum()
        group_of = np.clip(np.ceil(share * groups - 1e-9).astype(np.int64) - 1, 0, groups - 1)
    else:
        group_of = np.arange(len(inner)) * groups // len(inner)
    starts = np.flatnonzero(np.diff(group_of, prepend=-1))
    bar_edges = [*edges[starts].tolist(), float(edges[-1])]
    ref_bars = np.add.reduceat(reference.counts[1:-1], starts).tolist()
    cur_bars = np.add.reduceat(current.counts[1:-1], starts).tolist()
    if current.counts[0] or reference.counts[0]:
        low = current.minimum if math.isfinite(current.minimum) else edges[0]
        bar_edges.insert(0, float(min(low, edges[0])))
        ref_bars.insert(0, int(reference.counts[0]))
        cur_bars.insert(0, int(current.counts[0]))
    if current.counts[-1] or reference.counts[-1]:
        high = current.maximum if math.isfinite(current.maximum) else edges[-1]
        bar_edges.append(float(max(high, edges[-1])))
        ref_bars.append(int(reference.counts[-1]))
        cur_bars.append(int(current.counts[-1]))
    return Histogram(
        kind="numeric",
        reference=_shares(ref_bars),
        current=_shares(cur_bars),
        edges=tuple(bar_edges),
    )


def _categorical_histogram(
    reference: CategoricalProfile, current: CategoricalProfile, max_bins: int
) -> Histogram:
    new = current.new_categories(reference)
    shown_new = min(len(new), max(1, max_bins // 4)) if new else 0
    ranked = sorted(
        (name for name in reference.counts if name != OTHER),
        key=lambda name: (-reference.counts[name], name),
    )
    labels = [*ranked[: max_bins - 1 - shown_new], *new[:shown_new]]
    ref_bars = [reference.counts.get(name, 0) for name in labels]
    cur_bars = [current.counts.get(name, 0) for name in labels]
    ref_rest, cur_rest = reference.count - sum(ref_bars), current.count - sum(cur_bars)
    if ref_rest or cur_rest:
        labels.append(OTHER)
        ref_bars.append(ref_rest)
        cur_bars.append(cur_rest)
    return Histogram(
        kind="categorical",
        reference=_shares(ref_bars),
        current=_shares(cur_bars),
        labels=tuple(labels),
    )


def _shares(counts: list[int]) -> tuple[float, ...]:
    total = sum(counts)
    return tuple(number / total if total else 0.0 for number in counts)


# ------------------------------------------------------------------------ serialisation


def _column_out(profile: ColumnProfile) -> dict[str, Any]:
    if isinstance(profile, CategoricalProfile):
        known = set(profile.categories)
        return {
            "kind": "categorical",
            "count": profile.count,
            "nulls": profile.nulls,
            "categories": list(profile.categories),
            "counts": [int(profile.counts.get(name, 0)) for name in profile.categories],
            "new": {k: int(v) for k, v in profile.counts.items() if k not in known},
        }
    return {
        "kind": "numeric",
        "count": profile.count,
        "nulls": profile.nulls,
        "infinities": profile.infinities,
        "mean": _float_out(profile.mean),
        "m2": _float_out(profile.m2),
        "minimum": _float_out(profile.minimum),
        "maximum": _float_out(profile.maximum),
        "edges": _array_out(profile.edges),
        "counts": profile.counts.tolist(),
        "sums": _array_out(profile.sums),
        "distinct": profile.distinct,
        "sample": None if profile.sample is None else _array_out(profile.sample),
        "sample_size": profile.sample_size,
    }


def _column_in(data: Mapping[str, Any]) -> ColumnProfile:
    if data["kind"] == "categorical":
        categories = tuple(str(name) for name in data["categories"])
        numbers = [int(n) for n in data["counts"]]
        if len(numbers) != len(categories):
            raise ValueError("categories and counts differ in length")
        counts = dict(zip(categories, numbers, strict=True))
        counts.update({str(k): int(v) for k, v in data["new"].items()})
        return CategoricalProfile(
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            counts=counts,
            categories=categories,
        )
    if data["kind"] != "numeric":
        raise ValueError(f"unknown column kind {data['kind']!r}")
    edges, sums = _array_in(data["edges"]), _array_in(data["sums"])
    counts = np.array(data["counts"], dtype=np.int64)
    if counts.ndim != 1 or len(counts) != len(edges) + 1 or len(sums) != len(counts):
        raise ValueError("edges, counts and sums do not fit together")
    return NumericProfile(
        count=int(data["count"]),
        nulls=int(data["nulls"]),
        infinities=int(data["infinities"]),
        mean=_float_in(data["mean"]),
        m2=_float_in(data["m2"]),
        minimum=_float_in(data["minimum"]),
        maximum=_float_in(data["maximum"]),
        edges=edges,
        counts=counts,
        sums=sums,
        distinct=int(data["distinct"]),
        sample=None if data["sample"] is None else _array_in(data["sample"]),
        sample_size=int(data["sample_size"]),
    )


def _array_out(array: np.ndarray) -> str:
    """Float64 values as base64 of their little-endian bytes: exact, and a third of the
    size of their decimal text."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f8").tobytes()).decode("ascii")


def _array_in(text: str) -> np.ndarray:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    return np.frombuffer(raw, dtype="<f8").astype(np.float64)


def _float_out(value: float) -> float | str | None:
    value = float(value)
    if math.isnan(value):
        return None
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _float_in(value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str) and value in ("inf", "-inf"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _task(value: Any) -> Task | None:
    if value is None or value in _TASKS:
        return value
    raise ValueError(f"unknown task {value!r}")
