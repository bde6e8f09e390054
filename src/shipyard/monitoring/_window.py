"""A window of the prediction log, streamed into a current profile, with its ground truth.

:func:`read_window` reads one model's prediction log (the layout of
:mod:`shipyard.data._log_layout`) between ``since`` (inclusive) and ``until``
(exclusive) without loading it: only the hour folders that overlap the window are
listed, only the columns the reference profile needs are decoded, and each Arrow batch
is binned into a :class:`ProfileAccumulator` and dropped, while a thread decodes the
next batches (Arrow decodes without the GIL). Memory is bounded by three batches plus
the feedback, whatever the window's size.

Ground truth comes from the feedback log, read from ``since`` onward with no upper bound
(labels arrive after their predictions, often hours later). A label names a request and
a row, or the whole request (``row`` null: it applies to every row of the request). For
a row, the latest of its own label and its request's label wins (on a tie, its own). Only
prediction rows whose request has feedback are kept from each batch (an Arrow ``is_in``
filter), so the labelled rows cost memory in proportion to the feedback, not the log.

Faults, all reported and none fatal:

- a part file that cannot be read (damaged, truncated, not a log part) is skipped
  whole: rows of it already counted are rolled back, a warning on the
  ``shipyard.monitoring`` logger names it, and it is listed in ``skipped_files``;
- a column whose type in one file does not fit its reference profile (text in a column
  that the reference holds as numbers) is left out *for that file*: its values there
  count neither as values nor as nulls, the other columns of the file are read, a
  warning names the file and column, and ``type_mismatches`` lists them. Skipping the
  whole file would hide good columns; counting the values as nulls would report a
  null-rate drift that did not happen;
- a reference column absent from every file read is in ``missing_columns``; so are the
  reference's PII columns, never read: the log drops, masks or hashes them, so their
  logged values cannot be compared with the reference;
- no log folder, or no rows in the window: a window of 0 rows, no error.

Example::

    window = read_window(
        Path("logs/predictions"), Path("logs/feedback"), model="churn",
        since=datetime(2026, 11, 1, tzinfo=UTC), until=datetime(2026, 11, 2, tzinfo=UTC),
        reference=DatasetProfile.from_bytes(blob),
    )
    window.rows, window.profile.columns["age"].counts, len(window.labelled)
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shipyard.data._log_layout import as_utc, check_model_name, epoch_us, part_files
from shipyard.errors import MonitoringError
from shipyard.monitoring._profile import (
    ColumnProfile,
    DatasetProfile,
    NumericProfile,
    ProfileAccumulator,
)

__all__ = ["Window", "read_window"]

logger = logging.getLogger("shipyard.monitoring")

#: The columns of every prediction row the window reads besides inputs and outputs.
KEY_COLUMNS = ("request_id", "row", "timestamp", "model_version")
FEEDBACK_COLUMNS = ("request_id", "row", "timestamp", "label", "label_number")
_FEEDBACK_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("row", pa.int64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("label", pa.string()),
        ("label_number", pa.float64()),
    ]
)
INPUT_PREFIX = "input."
# What a null time or version reads as: before every window, and no version.
_NO_VALUE = int(np.iinfo(np.int64).min)
OUTPUT_PREFIX = "output."


@dataclass(frozen=True)
class Window:
    """What :func:`read_window` found in ``[since, until)`` of one model's log.

    ``labelled`` has one row per prediction row with ground truth: ``request_id, row,
    timestamp, model_version``, the reference's ``input.<c>`` and ``output.<o>`` columns
    present in the log, ``label`` (the value, parsed from the log's JSON text) and
    ``label_number``. ``type_mismatches`` lists ``"<file>: <column> (<type>)"`` for each
    column left out of a file because its type does not fit the reference.
    """

    model: str
    since: datetime
    until: datetime
    rows: int
    profile: DatasetProfile
    labelled: pd.DataFrame
    skipped_files: tuple[str, ...] = ()
    missing_columns: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()
    type_mismatches: tuple[str, ...] = ()


def read_window(
    predictions_root: Path,
    feedback_root: Path | None,
    *,
    model: str,
    since: datetime,
    until: datetime,
    reference: DatasetProfile,
    version: int | None = None,
    batch_rows: int = 262_144,
    sample_size: int = 0,
) -> Window:
    """Stream ``model``'s prediction rows of ``[since, until)`` into a current profile on
    ``reference``'s bins, and join the rows that have feedback with their labels.

    ``version`` keeps the rows of that model version only. Naive datetimes are UTC.
    ``sample_size`` keeps a uniform sample of that many values of each numeric column
    (for exact tests).
    """
    check_model_name(model)
    since, until = as_utc(since), as_utc(until)
    since_us, until_us = epoch_us(since), epoch_us(until)
    if until_us <= since_us:
        raise MonitoringError(
            f"The window ends ({until.isoformat()}) before it starts ({since.isoformat()}).",
            hint="Give a start earlier than the end.",
        )
    if batch_rows < 1:
        raise MonitoringError(
            f"batch_rows must be at least 1, not {batch_rows}.",
            hint="Keep the default (262144).",
        )
    skipped: list[str] = []
    feedback = (
        _read_feedback(Path(feedback_root), model, since_us, skipped)
        if feedback_root is not None
        else None
    )
    reader = _PartReader(
        reference,
        ProfileAccumulator(reference, sample_size=sample_size),
        since_us=since_us,
        until_us=until_us,
        version=version,
        labelled_ids=None
        if feedback is None
        else pa.array(feedback["request_id"].unique(), pa.string()),
        batch_rows=batch_rows,
    )
    for part in part_files(Path(predictions_root), model, since_us, until_us):
        error = reader.read(part)
        if error is not None:
            skipped.append(str(part))
            logger.warning("Skipped unreadable prediction log file %s: %s", part, error)
    profile = reader.accumulator.result()
    return Window(
        model=model,
        since=since,
        until=until,
        rows=profile.rows,
        profile=profile,
        labelled=_labelled(reader, feedback),
        skipped_files=tuple(skipped),
        missing_columns=reader.missing_columns(),
        versions=tuple(sorted(reader.versions)),
        type_mismatches=tuple(reader.mismatches),
    )


class _PartReader:
    """Reads part files one by one into the accumulator, and keeps the labelled rows."""

    def __init__(
        self,
        reference: DatasetProfile,
        accumulator: ProfileAccumulator,
        *,
        since_us: int,
        until_us: int,
        version: int | None,
        labelled_ids: pa.Array | None,
        batch_rows: int,
    ) -> None:
        self.reference = reference
        self.accumulator = accumulator
        self.since_us, self.until_us, self.version = since_us, until_us, version
        self.labelled_ids = labelled_ids if labelled_ids is not None and len(labelled_ids) else None
        self.batch_rows = batch_rows
        # PII columns are dropped, masked or hashed in the log: nothing to compare.
        self.inputs = {
            INPUT_PREFIX + name: name for name in reference.columns if name not in reference.pii
        }
        self.outputs = {OUTPUT_PREFIX + name: name for name in reference.predictions}
        self.profiles: dict[str, ColumnProfile] = {
            **{name: reference.columns[short] for name, short in self.inputs.items()},
            **{OUTPUT_PREFIX + n: p for n, p in reference.predictions.items()},
        }
        self.seen_inputs: set[str] = set()
        self.read_any = False
        self.versions: set[int] = set()
        self.labelled_parts: list[pa.Table] = []
        self.mismatches: list[str] = []

    def read(self, part: Path) -> str | None:
        """Add the rows of ``part``; the error text if it cannot be read (then none of
        its rows count)."""
        try:
            source = pq.ParquetFile(part)
        except FileNotFoundError:
            return None  # removed since it was listed (retention): no longer in the log
        except (OSError, pa.ArrowException, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        with source:
            return self._read(part, source)

    def _read(self, part: Path, source: pq.ParquetFile) -> str | None:
        try:
            plan = self._plan(part, source)
        except (OSError, pa.ArrowException, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if plan is None:
            return "it has no timestamp column, so it is not a part of this log"
        columns, filter_time, filter_version = plan
        if not columns:
            return None  # the version filter rules out every row group
        token = self.accumulator.checkpoint()
        versions: set[int] = set()
        labelled: list[pa.Table] = []
        batches = source.iter_batches(batch_size=self.batch_rows, columns=columns, use_threads=True)
        # A file of one batch has nothing to decode ahead: no thread for it.
        ahead = source.metadata.num_rows > self.batch_rows
        try:
            for batch in _prefetched(batches) if ahead else _checked(batches):
                self._add(batch, filter_time, filter_version, versions, labelled)
        except _ReadError as error:
            self.accumulator.rollback(token)
            return str(error)
        self.read_any = True
        self.seen_inputs.update(name for name in columns if name in self.inputs)
        self.versions |= versions
        self.labelled_parts.extend(labelled)
        return None

    def _plan(self, part: Path, source: pq.ParquetFile) -> tuple[list[str], bool, bool] | None:
        """The columns to read, and whether rows must be filtered by time and version
        (not when the row groups' statistics show that every row is in)."""
        schema = source.schema_arrow
        if "timestamp" not in schema.names:
            return None
        columns = [name for name in KEY_COLUMNS if name in schema.names]
        if self.labelled_ids is None:
            columns = [name for name in columns if name not in ("request_id", "row")]
        wrong = []
        for name in schema.names:
            profile = self.profiles.get(name)
            if profile is None:
                continue
            if isinstance(profile, NumericProfile) and not _numeric_type(schema.field(name).type):
                wrong.append(f"{name} ({schema.field(name).type})")
                continue
            columns.append(name)
        if wrong:
            self.mismatches.extend(f"{part}: {text}" for text in wrong)
            logger.warning(
                "Prediction log file %s: left out %s, whose type does not fit the reference "
                "profile (numbers expected); the file's other columns are read.",
                part,
                ", ".join(wrong),
            )
        times = _ranges(source, "timestamp")
        filter_time = times is None or not (times[0] >= self.since_us and times[1] < self.until_us)
        filter_version = self.version is not None
        if self.version is not None and "model_version" in schema.names:
            versions = _ranges(source, "model_version")
            if versions is not None and not versions[0] <= self.version <= versions[1]:
                return [], False, False
            filter_version = versions is None or versions != (self.version, self.version)
        return columns, filter_time, filter_version

    def _add(
        self,
        batch: pa.RecordBatch,
        filter_time: bool,
        filter_version: bool,
        versions: set[int],
        labelled: list[pa.Table],
    ) -> None:
        keep = None
        if filter_time:
            times = _integers(batch.column("timestamp"))
            keep = (times >= self.since_us) & (times < self.until_us)
        has_version = "model_version" in batch.schema.names
        if filter_version:
            found = _integers(batch.column("model_version")) if has_version else None
            match = (
                found == self.version if found is not None else np.zeros(batch.num_rows, dtype=bool)
            )
            keep = match if keep is None else keep & match
        if keep is not None and not keep.all():
            if not keep.any():
                return
            batch = batch.filter(pa.array(keep))
        if has_version:
            found = _integers(batch.column("model_version"))
            low, high = int(found.min()), int(found.max())
            seen = (low,) if low == high else np.unique(found).tolist()
            versions.update(number for number in seen if number != _NO_VALUE)
        names = batch.schema.names
        columns = dict(zip(names, batch.columns, strict=True))
        self.accumulator.add(
            {short: columns[name] for name, short in self.inputs.items() if name in columns},
            {short: columns[name] for name, short in self.outputs.items() if name in columns},
            rows=batch.num_rows,
        )
        if self.labelled_ids is not None and "request_id" in names:
            hits = pc.is_in(batch.column("request_id"), value_set=self.labelled_ids)
            if pc.any(hits).as_py():
                labelled.append(pa.Table.from_batches([batch.filter(hits)]))

    def missing_columns(self) -> tuple[str, ...]:
        """Reference input columns no file read had, and the PII ones (none when no
        file was read)."""
        if not self.read_any:
            return ()
        return tuple(
            name for name in self.reference.columns if INPUT_PREFIX + name not in self.seen_inputs
        )


class _ReadError(Exception):
    """A part file's data could not be decoded (the message says why)."""


def _checked(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``batches``, with a decoding error raised as :class:`_ReadError`."""
    try:
        yield from batches
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _ReadError(f"{type(exc).__name__}: {exc}") from exc


_DONE = object()


def _prefetched(batches: Iterator[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """``batches``, decoded by a thread of their own up to ``depth`` batches ahead.

    Arrow decodes without holding the GIL, so the next batch is decoded while this
    thread bins the current one: on two cores a window reads ~1.5x faster. A decoding
    error is raised here as :class:`_ReadError`; leaving the loop early stops the thread.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def decode() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
        except (OSError, pa.ArrowException, ValueError) as exc:
            put(_ReadError(f"{type(exc).__name__}: {exc}"))
            return
        except BaseException as exc:  # a bug, not a damaged file: raised as it is
            put(exc)
            return
        put(_DONE)

    thread = threading.Thread(target=decode, name="shipyard-window-decoder", daemon=True)
    thread.start()
    try:
        while (item := handoff.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _numeric_type(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_null(kind)
    )


def _ranges(source: pq.ParquetFile, column: str) -> tuple[int, int] | None:
    """The smallest and largest raw value of an integer column over all row groups,
    from the file's statistics; None when some row group has none."""
    metadata = source.metadata
    if metadata.num_row_groups == 0:
        return None
    position = next(
        (
            i
            for i in range(metadata.num_columns)
            if metadata.row_group(0).column(i).path_in_schema == column
        ),
        None,
    )
    if position is None:
        return None
    low = high = None
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(position).statistics
        if statistics is None or not statistics.has_min_max:
            return None
        if statistics.null_count:
            return None  # rows without a time or version: filter them row by row
        low = statistics.min_raw if low is None else min(low, statistics.min_raw)
        high = statistics.max_raw if high is None else max(high, statistics.max_raw)
    if not isinstance(low, int) or not isinstance(high, int):
        return None
    return low, high


def _integers(column: pa.Array) -> np.ndarray:
    """An integer or timestamp column as int64 numbers (nulls: a value no window has)."""
    if column.null_count:
        column = pc.fill_null(column.cast(pa.int64()), _NO_VALUE)
    values = column.to_numpy()
    return values.view(np.int64) if values.dtype.kind == "M" else values


# ------------------------------------------------------------------------------ feedback


def _read_feedback(
    root: Path, model: str, since_us: int, skipped: list[str]
) -> pd.DataFrame | None:
    """The model's labels from the hour of ``since`` on: the latest per (request, row)."""
    tables = []
    for part in part_files(root, model, since_us, None):
        try:
            with pq.ParquetFile(part) as source:
                names = source.schema_arrow.names
                if not {"request_id", "row", "timestamp", "label"} <= set(names):
                    raise ValueError("it lacks the columns request_id, row, timestamp, label")
                table = source.read(columns=[name for name in FEEDBACK_COLUMNS if name in names])
                if "label_number" not in names:
                    table = table.append_column(
                        "label_number", pa.nulls(table.num_rows, pa.float64())
                    )
                tables.append(table.select(list(FEEDBACK_COLUMNS)).cast(_FEEDBACK_SCHEMA))
        except FileNotFoundError:
            continue
        except (OSError, pa.ArrowException, ValueError) as exc:
            skipped.append(str(part))
            logger.warning(
                "Skipped unreadable feedback log file %s: %s: %s", part, type(exc).__name__, exc
            )
    tables = [table for table in tables if table.num_rows]
    if not tables:
        return None
    table = pa.concat_tables(tables)
    # The latest label per key; a stable sort keeps the file order among equal times.
    table = table.take(pc.sort_indices(table, sort_keys=[("timestamp", "ascending")]))
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return frame.drop_duplicates(subset=["request_id", "row"], keep="last")


def _labelled(reader: _PartReader, feedback: pd.DataFrame | None) -> pd.DataFrame:
    """The prediction rows that have a label, with it (see the module docstring)."""
    columns = [
        *KEY_COLUMNS,
        *reader.inputs,
        *reader.outputs,
    ]
    empty = pd.DataFrame({name: pd.Series(dtype=object) for name in [*columns, "label"]})
    empty["label_number"] = pd.Series(dtype=np.float64)
    if feedback is None or not reader.labelled_parts:
        return empty
    rows = _concat(reader.labelled_parts, reader.profiles).to_pandas()
    rows["row"] = rows["row"].astype(np.int64)
    own = feedback[feedback["row"].notna()].astype({"row": np.int64})
    whole = feedback[feedback["row"].isna()].drop(columns="row")
    rows = rows.merge(own, on=["request_id", "row"], how="left", suffixes=("", "_own"))
    rows = rows.merge(whole, on="request_id", how="left", suffixes=("", "_request"))
    use_request = rows["label"].isna() | (rows["timestamp_request"] > rows["timestamp_own"])
    use_request &= rows["label_request"].notna()
    for name in ("label", "label_number"):
        rows[name] = rows[name].where(~use_request, rows[f"{name}_request"])
    rows = rows[rows["label"].notna()]
    rows = rows.drop(columns=["timestamp_own", "timestamp_request", *_suffixed("_request")])
    rows["label"] = _parsed(rows["label"])
    rows = rows.sort_values(["timestamp", "request_id", "row"], kind="stable")
    present = [name for name in columns if name in rows.columns]
    return rows[[*present, "label", "label_number"]].reset_index(drop=True)


def _parsed(texts: pd.Series) -> pd.Series:
    """Labels as the values their JSON text holds; each distinct text parsed once."""
    values = texts.to_numpy(dtype=object)
    position, distinct = pd.factorize(values)
    parsed = np.empty(len(distinct), dtype=object)
    parsed[:] = [_json(text) for text in distinct]
    return pd.Series(parsed[position], index=texts.index, dtype=object)


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN and Infinity: JSON as Python writes it
        return json.loads(text)


def _suffixed(suffix: str) -> list[str]:
    return [f"label{suffix}", f"label_number{suffix}"]


def _concat(parts: list[pa.Table], profiles: dict[str, ColumnProfile]) -> pa.Table:
    """The labelled rows of every file as one table; a column whose type differs between
    files is read as numbers (numeric in the reference) or text."""
    try:
        return pa.concat_tables(parts, promote_options="permissive")
    except pa.ArrowException:
        pass
    unified = []
    for part in parts:
        table = part
        for index, name in enumerate(part.column_names):
            profile = profiles.get(name)
            if profile is None:
                continue
            kind = pa.float64() if isinstance(profile, NumericProfile) else pa.string()
            table = table.set_column(index, name, table.column(index).cast(kind, safe=False))
        unified.append(table)
    return pa.concat_tables(unified, promote_options="permissive")
