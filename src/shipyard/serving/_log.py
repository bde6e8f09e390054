"""The prediction log and the feedback log of the inference endpoint: Parquet, in the background.

Every answered request (or a sample of them) becomes one row per input row of a
partitioned Parquet dataset; ground truth that arrives later goes to a dataset of its own.
``log()`` only takes a sampling decision and appends to an in-memory queue; a daemon
thread writes the queue every ``flush_interval_s`` (or once ~50,000 rows wait), one file
per model and UTC hour, and ``close()`` writes what is left::

    root/model=<name>/hour=YYYY-MM-DDTHH/part-<id>.parquet

Prediction rows, one per input row::

    request_id     string
    row            int32                  the row's position in its request
    timestamp      timestamp[us, tz=UTC]  when the request was answered
    model_version  int32
    latency_ms     float64
    input.<name>   one column per input column (PII columns dropped, masked or hashed)
    output.<name>  one column per output

Feedback rows, one per label::

    request_id     string
    row            int32, null            null: the label is for the whole request
    timestamp      timestamp[us, tz=UTC]  when the label arrived
    label          string                 the label as JSON text: 1, 0.5, true, "churn", NaN
    label_number   float64, null          the label as a number (true 1.0, false 0.0), else null

Labels arrive as numbers, bools and strings mixed across requests; keeping the JSON text
and a number column gives every feedback file of a model the same schema, and
``json.loads(label)`` gives back the value with its type.

Float NaN and inf are kept as values (not nulls); naive datetimes are taken as UTC.

Durability: a part file is written as ``.part-<id>.parquet.tmp`` in its folder, fsynced
and renamed, so a reader sees whole files only (pyarrow and pandas skip dot-files).
Faults: a batch that cannot be written (disk full, a folder that cannot be made) is
dropped and counted in :class:`LogStats`, a warning goes to the ``shipyard.serving``
logger once per distinct error, and the writer goes on with the next batch. A request
whose own data cannot be stored (outputs of the wrong length, values Arrow cannot hold)
is dropped and counted alone, not with its batch.

Example::

    log = PredictionLog(Path("logs/predictions"))
    log.start()
    log.log("r1", "churn", 3, pd.DataFrame({"age": [41]}), {"churn": [0.82]}, latency_ms=2.5)
    log.close()   # LogStats(written_rows=1, dropped_rows=0, failed_writes=0, files=1, ...)
    read_log(Path("logs/predictions"))[["request_id", "input.age", "output.churn", "model"]]
    #   request_id  input.age  output.churn  model
    # 0         r1         41          0.82  churn
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import json
import logging
import numbers
import os
import threading
import time
import weakref
import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import blake3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shipyard.data._log_layout import (
    HOUR_US,
    TIMESTAMP,
    check_model_name,
    epoch_us,
    hour_folder,
    part_files,
)
from shipyard.errors import ConfigError, DatasetError, ShipyardError
from shipyard.ids import new_id
from shipyard.serving._config import PII_MODES

__all__ = ["PII_MODES", "FeedbackLog", "InputArray", "LogStats", "PredictionLog", "read_log"]

#: A flush starts early once this many rows wait.
FLUSH_ROWS = 50_000
#: The context of blake3's key derivation: key = blake3(pii_salt, derive_key_context=...).
PII_KEY_CONTEXT = "shipyard serving prediction log: PII column hashing, v1"
PII_MASK = "***"

logger = logging.getLogger("shipyard.serving")

# Sampling keeps a request when a mixed crc32 of its id falls below rate * 2**32: the same
# decision in every process and replica, at a fraction of a microsecond.
_GOLDEN = 0x9E3779B1
_MASK32 = 0xFFFFFFFF
_MAX_WARNED = 1000
# The columns both logs have: what read_log returns when nothing is logged.
_COMMON_SCHEMA = pa.schema(
    [("request_id", pa.string()), ("row", pa.int32()), ("timestamp", TIMESTAMP)]
)
_PARTITION_COLUMNS = ("model", "hour")
# Integers and bools read back as pandas' nullable dtypes: a null never turns them to floats.
_NULLABLE_DTYPES = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}

_open_logs: weakref.WeakSet[_PartitionedLog] = weakref.WeakSet()


@dataclass(frozen=True)
class LogStats:
    """What a log did so far: rows written and dropped, batches that failed, files made."""

    written_rows: int
    dropped_rows: int
    failed_writes: int
    files: int
    last_error: str | None


class _PartitionedLog(ABC):
    """The machinery both logs share: queue, writer thread, grouping, atomic part files.

    A subclass queues its payloads with ``_enqueue`` and turns a group of them (same
    model, same UTC hour) into one table in ``_build_table``.
    """

    _what: ClassVar[str]

    def __init__(self, root: Path, *, flush_interval_s: float, max_pending_rows: int) -> None:
        if not flush_interval_s > 0 or max_pending_rows < 1:
            raise ConfigError(
                f"The {self._what} log needs flush_interval_s > 0 and max_pending_rows >= 1 "
                f"(got {flush_interval_s} and {max_pending_rows}).",
                hint="Use e.g. flush_interval_s=1.0 and max_pending_rows=200000.",
            )
        self.root = Path(root)
        self._flush_interval_s = flush_interval_s
        self._max_pending_rows = max_pending_rows
        self._flush_rows = min(FLUSH_ROWS, max(1, max_pending_rows // 2))
        self._lock = threading.Lock()
        self._queue: list[tuple[str, int, Any, Any]] = []
        self._queued_rows = 0
        self._held_rows = 0  # queued or being written: what max_pending_rows bounds
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._checked_models: set[str] = set()
        self._written_rows = self._dropped_rows = self._failed_writes = self._files = 0
        self._last_error: str | None = None
        self._warned: set[Any] = set()
        _open_logs.add(self)

    def start(self) -> None:
        """Start the daemon thread that writes the queue (once; not after ``close()``)."""
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"shipyard-{self._what}-log", daemon=True
            )
            self._thread.start()

    def close(self, timeout_s: float = 10.0) -> LogStats:
        """Write everything queued, stop the thread and return the final stats.

        Calling it again only returns the stats. Rows logged after ``close()`` are
        dropped and counted.
        """
        with self._lock:
            closing, self._closed = not self._closed, True
        if closing:
            _open_logs.discard(self)
            if self._thread is None:
                self._write_queued()
            self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning(
                    "The %s log under %s is still writing after %.1f s; %d rows may be lost.",
                    self._what,
                    self.root,
                    timeout_s,
                    self._held_rows,
                )
        return self.stats

    @property
    def stats(self) -> LogStats:
        """The counts so far."""
        with self._lock:
            return LogStats(
                self._written_rows,
                self._dropped_rows,
                self._failed_writes,
                self._files,
                self._last_error,
            )

    def _enqueue(self, model: str, rows: int, timestamp: Any, payload: Any) -> bool:
        if model not in self._checked_models:
            check_model_name(model)
            self._checked_models.add(model)
        with self._lock:
            if self._closed or self._held_rows + rows > self._max_pending_rows:
                self._dropped_rows += rows
                return False
            self._queue.append((model, rows, timestamp, payload))
            self._held_rows += rows
            self._queued_rows += rows
            flush_now = self._queued_rows >= self._flush_rows
        if flush_now and not self._wake.is_set():
            self._wake.set()
        return True

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_interval_s)
            self._wake.clear()
            closing = self._closed
            if self._write_queued() >= _RELEASE_AFTER_ROWS:
                _release_freed_memory()
            if closing:
                return

    def _write_queued(self) -> int:
        """Write the queue; how many rows it held."""
        with self._lock:
            batch, self._queue, self._queued_rows = self._queue, [], 0
        groups: dict[tuple[str, int], list[tuple[int, int, Any]]] = {}
        for model, rows, timestamp, payload in batch:
            try:
                timestamp_us = epoch_us(timestamp)
            except (TypeError, AttributeError, OverflowError) as exc:  # not a datetime
                self._drop(rows, exc, failed_write=False)
                continue
            groups.setdefault((model, timestamp_us // HOUR_US), []).append(
                (rows, timestamp_us, payload)
            )
        for (model, hour), entries in groups.items():
            self._write_group(model, hour, entries)
        rows = sum(entry[1] for entry in batch)
        with self._lock:
            self._held_rows -= rows
        return rows

    def _write_group(self, model: str, hour: int, entries: list[tuple[int, int, Any]]) -> None:
        table = self._joined(self._tables_without_bad_requests(entries))
        if table is None:
            return
        try:
            _write_part_file(hour_folder(self.root, model, hour), table)
        except Exception as exc:  # disk full, a folder that cannot be made: the writer goes on
            self._drop(table.num_rows, exc, failed_write=True)
            return
        with self._lock:
            self._written_rows += table.num_rows
            self._files += 1

    def _joined(self, tables: list[pa.Table]) -> pa.Table | None:
        """The tables as one; a table whose column types clash with the largest one's is
        dropped, so that every file of a model can be read together."""
        if not tables:
            return None
        joined = max(tables, key=lambda table: table.num_rows)
        for table in tables:
            if table is joined:
                continue
            try:
                joined = pa.concat_tables([joined, table], promote_options="permissive")
            except pa.ArrowException as exc:
                first_request = table.column("request_id")[0].as_py()
                self._drop(table.num_rows, exc, failed_write=False, request_id=first_request)
        return joined

    def _tables_without_bad_requests(self, entries: list[tuple[int, int, Any]]) -> list[pa.Table]:
        # Whatever a request's own data raises drops that request alone; halving until it
        # is alone costs O(log n) builds per bad request and keeps the rest of the batch.
        try:
            return [self._build_table(entries)]
        except Exception as exc:
            if len(entries) == 1:
                rows, _, payload = entries[0]
                self._drop(rows, exc, failed_write=False, request_id=payload[0])
                return []
        middle = len(entries) // 2
        return self._tables_without_bad_requests(
            entries[:middle]
        ) + self._tables_without_bad_requests(entries[middle:])

    @abstractmethod
    def _build_table(self, entries: list[tuple[int, int, Any]]) -> pa.Table:
        """One table of the rows of ``entries``: ``(rows, timestamp_us, payload)`` each."""

    def _drop(
        self, rows: int, exc: BaseException, *, failed_write: bool, request_id: str | None = None
    ) -> None:
        message = f"{type(exc).__name__}: {exc}"
        text = message if request_id is None else f"request {request_id}: {message}"
        # An OSError's text names the file; the same fault on the next file is no news.
        errno = exc.errno if isinstance(exc, OSError) else None
        key = (type(exc).__name__, errno) if errno else message
        with self._lock:
            self._dropped_rows += rows
            self._failed_writes += failed_write
            self._last_error = text
            first_time = key not in self._warned and len(self._warned) < _MAX_WARNED
            self._warned.add(key)
        if first_time:
            logger.warning(
                "The %s log under %s dropped %d rows: %s (reported once; its stats count "
                "every dropped row).",
                self._what,
                self.root,
                rows,
                text,
                exc_info=not isinstance(exc, OSError | ShipyardError | pa.ArrowException),
            )


class PredictionLog(_PartitionedLog):
    """The answered requests of an endpoint, one Parquet row per input row.

    ``sample_rate`` keeps that share of requests (whole requests, decided by a hash of
    the request id, so every replica keeps the same ones). ``pii`` maps an input column
    to its PII kind (the catalog's ``metadata.pii``); ``pii_mode`` says what happens to
    those columns: ``drop`` leaves them out, ``mask`` writes ``"***"`` for each non-null
    value, ``hash`` writes the hex blake3 digest of the value's bytes (UTF-8 text; the
    ``str()`` of a non-text value) keyed with ``blake3(pii_salt, derive_key_context=
    PII_KEY_CONTEXT)``, so equal values can still be joined but not read.
    """

    _what = "prediction"

    def __init__(
        self,
        root: Path,
        *,
        flush_interval_s: float = 1.0,
        max_pending_rows: int = 200_000,
        sample_rate: float = 1.0,
        pii: Mapping[str, str] | None = None,
        pii_mode: str = "drop",
        pii_salt: bytes | None = None,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ConfigError(
                f"The prediction log's sample_rate must be between 0 and 1, not {sample_rate}.",
                hint="Use 1.0 to log every request, 0.1 to log one in ten.",
            )
        if pii_mode not in PII_MODES:
            raise ConfigError(
                f"Unknown PII mode {pii_mode!r} for the prediction log.",
                hint=f"Use one of {', '.join(PII_MODES)}.",
            )
        if pii_mode == "hash" and not pii_salt:
            raise ConfigError(
                "PII mode 'hash' needs a secret salt, and none is set.",
                hint=(
                    "Set `pii: {salt_credentials: pii_salt}` in serving.yml and an entry "
                    "`pii_salt: {salt: ...}` in conf/local/credentials.yml (git-ignored), "
                    "or use PII mode 'mask' or 'drop'."
                ),
            )
        super().__init__(root, flush_interval_s=flush_interval_s, max_pending_rows=max_pending_rows)
        self._sample_below = None if sample_rate >= 1.0 else int(sample_rate * 2**32)
        self._pii = dict(pii or {})
        self._pii_mode = pii_mode
        self._pii_key = (
            blake3.blake3(pii_salt, derive_key_context=PII_KEY_CONTEXT).digest()
            if pii_mode == "hash" and pii_salt
            else b""
        )

    def log(  # noqa: PLR0917 (the endpoint's one call per request, positional by design)
        self,
        request_id: str,
        model: str,
        version: int,
        inputs: pd.DataFrame | InputArray,
        outputs: Mapping[str, Sequence[Any]],
        latency_ms: float,
        timestamp: datetime | None = None,
    ) -> bool:
        """Queue one answered request; ``True`` if it will be written.

        ``False`` when sampling leaves it out, or when the queue is full or the log is
        closed (then it is counted as dropped). Never blocks and never touches the data:
        ``inputs`` and ``outputs`` must not be changed afterwards. ``outputs`` has one
        value per input row for each output name.
        """
        sample_below = self._sample_below
        if (
            sample_below is not None
            and (zlib.crc32(request_id.encode()) * _GOLDEN) & _MASK32 >= sample_below
        ):
            return False
        return self._enqueue(
            model,
            len(inputs),
            timestamp or time.time_ns(),
            (request_id, version, inputs, outputs, latency_ms),
        )

    def _build_table(self, entries: list[tuple[int, int, Any]]) -> pa.Table:
        counts = np.fromiter((entry[0] for entry in entries), np.int64, len(entries))
        payloads = [entry[2] for entry in entries]
        owner = np.repeat(np.arange(len(entries)), counts)  # request index of each row
        starts = np.cumsum(counts) - counts
        columns: dict[str, Any] = {
            "request_id": pa.array([p[0] for p in payloads], pa.string()).take(owner),
            "row": pa.array((np.arange(int(counts.sum())) - starts[owner]).astype(np.int32)),
            "timestamp": pa.array(
                np.fromiter((entry[1] for entry in entries), np.int64, len(entries))[owner],
                TIMESTAMP,
            ),
            "model_version": pa.array(np.array([p[1] for p in payloads], np.int32)[owner]),
            "latency_ms": pa.array(np.array([p[4] for p in payloads], np.float64)[owner]),
        }
        inputs = self._without_pii(_inputs_table([p[2] for p in payloads]))
        for name, column in zip(inputs.column_names, inputs.columns, strict=True):
            columns[f"input.{name}"] = column
        for name, column in _output_columns([p[3] for p in payloads], counts).items():
            columns[f"output.{name}"] = column
        return pa.table(columns)

    def _without_pii(self, inputs: pa.Table) -> pa.Table:
        for index in reversed(range(inputs.num_columns)):
            name = inputs.column_names[index]
            if name not in self._pii:
                continue
            if self._pii_mode == "drop":
                inputs = inputs.remove_column(index)
            elif self._pii_mode == "mask":
                inputs = inputs.set_column(index, name, _masked(inputs.column(index)))
            else:
                inputs = inputs.set_column(
                    index, name, _hashed(inputs.column(index), self._pii_key)
                )
        return inputs


class FeedbackLog(_PartitionedLog):
    """Ground truth for answered requests, by request id, in its own dataset.

    The label of a single row of a request gives its ``row``; ``row=None`` labels the
    whole request. See the module docstring for how labels of any type are stored.
    """

    _what = "feedback"

    def __init__(
        self, root: Path, *, flush_interval_s: float = 1.0, max_pending_rows: int = 200_000
    ) -> None:
        super().__init__(root, flush_interval_s=flush_interval_s, max_pending_rows=max_pending_rows)

    def log(
        self,
        model: str,
        request_id: str,
        label: Any,
        row: int | None = None,
        timestamp: datetime | None = None,
    ) -> bool:
        """Queue one label; ``True`` if it will be written (``False``: queue full or closed)."""
        return self._enqueue(model, 1, timestamp or time.time_ns(), (request_id, row, label))

    def _build_table(self, entries: list[tuple[int, int, Any]]) -> pa.Table:
        labels = [_plain(entry[2][2]) for entry in entries]
        return pa.table(
            {
                "request_id": pa.array([entry[2][0] for entry in entries], pa.string()),
                "row": pa.array([entry[2][1] for entry in entries], pa.int32()),
                "timestamp": pa.array(
                    np.fromiter((entry[1] for entry in entries), np.int64, len(entries)),
                    TIMESTAMP,
                ),
                "label": pa.array([json.dumps(label) for label in labels], pa.string()),
                "label_number": pa.array([_label_number(label) for label in labels], pa.float64()),
            }
        )


def read_log(
    root: Path,
    *,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pd.DataFrame:
    """Every part file of a prediction or feedback log, sorted by timestamp.

    ``model`` reads one model's folder; ``since`` (inclusive) and ``until`` (exclusive)
    bound the rows' timestamps, and only the hour folders that overlap are opened. The
    partition columns ``model`` and ``hour`` come last; files whose input columns differ
    are aligned (missing values are null). Integer and bool columns use pandas' nullable
    dtypes. With nothing logged, the frame is empty with the columns both logs share:
    ``request_id, row, timestamp, model, hour``.
    """
    root = Path(root)
    if model is not None:
        check_model_name(model)
    since_us = None if since is None else epoch_us(since)
    until_us = None if until is None else epoch_us(until)
    tables = [
        _read_part(part, since_us, until_us) for part in part_files(root, model, since_us, until_us)
    ]
    tables = [table for table in tables if table is not None and table.num_rows]
    if not tables:
        return _with_partitions(_COMMON_SCHEMA.empty_table(), "", "").to_pandas(
            types_mapper=_NULLABLE_DTYPES.get
        )
    table = tables[0] if len(tables) == 1 else _concat(tables)
    table = table.sort_by([(name, "ascending") for name in ("timestamp", "request_id", "row")])
    return table.to_pandas(types_mapper=_NULLABLE_DTYPES.get)


def _read_part(part: Path, since_us: int | None, until_us: int | None) -> pa.Table | None:
    try:
        table = pq.ParquetFile(part).read()
    except FileNotFoundError:
        return None  # removed since it was listed (retention): it is simply no longer logged
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(
            f"Part file {part} of the log cannot be read: {exc}",
            hint=(
                "The log writes whole files only, so this one was damaged or put there "
                "later: move it out of the log's folder, then read again."
            ),
        ) from exc
    timestamps = table.column("timestamp")
    if since_us is not None:
        table = table.filter(pc.greater_equal(timestamps, pa.scalar(since_us, TIMESTAMP)))
        timestamps = table.column("timestamp")
    if until_us is not None:
        table = table.filter(pc.less(timestamps, pa.scalar(until_us, TIMESTAMP)))
    return _with_partitions(
        table,
        part.parent.parent.name.removeprefix("model="),
        part.parent.name.removeprefix("hour="),
    )


def _with_partitions(table: pa.Table, model: str, hour: str) -> pa.Table:
    for name, value in zip(_PARTITION_COLUMNS, (model, hour), strict=True):
        table = table.append_column(name, pa.repeat(pa.scalar(value, pa.string()), len(table)))
    return table


def _concat(tables: list[pa.Table]) -> pa.Table:
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        raise DatasetError(
            f"Log files disagree on a column's type and cannot be read together: {exc}",
            hint=(
                "A model's input changed type between versions: read each period on its "
                "own with since=/until= (or one model with model=)."
            ),
        ) from exc


def _write_part_file(folder: Path, table: pa.Table) -> None:
    """Write ``table`` to a new part file in ``folder``: whole, or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"part-{new_id()}.parquet"
    temp = folder / f".{final.name}.tmp"
    try:
        # By path: Arrow writes without holding the GIL. Dictionary pages pay off for
        # ids, versions, times and categories, which repeat; for float inputs, which
        # rarely do, trying them made writing 3.5x slower and the file larger.
        pq.write_table(table, temp, use_dictionary=_repeating_columns(table))
        _fsync(temp)
        temp.replace(final)
    except BaseException:
        with suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    _fsync(folder)  # the rename itself survives a power cut


#: A flush of at least this many rows hands its memory back to the OS afterwards.
_RELEASE_AFTER_ROWS = 10_000


def _release_freed_memory() -> None:
    """Hand the memory of the batch just written back to the OS.

    A large flush builds tens of MB (the queued inputs, one table, Parquet pages) and frees
    them, but Arrow's allocator and glibc's per-thread arenas keep freed pages for reuse:
    the server's resident set stayed ~90 MiB above its size without the log. Releasing
    them after flushes of 10,000 rows or more brought it down by 50-60 MiB in
    ``bench/serving.py``; after every flush it also cost ~3% of single-row throughput (the
    pages fault back in), which small flushes do not repay.
    """
    pa.default_memory_pool().release_unused()
    if _malloc_trim is not None:
        _malloc_trim(0)


def _glibc_malloc_trim() -> Any:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


_malloc_trim = _glibc_malloc_trim()


def _repeating_columns(table: pa.Table) -> list[str]:
    return [field.name for field in table.schema if not pa.types.is_floating(field.type)]


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class InputArray(NamedTuple):
    """A request's inputs as the endpoint's numeric fast path holds them: a 2-d float
    array and its columns as ``(name, dtype)`` pairs, in order. The writer casts each
    column back to its dtype, so the log reads the same whichever path a request took."""

    columns: tuple[tuple[str, str], ...]
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.values)


def _inputs_table(inputs: list[pd.DataFrame | InputArray]) -> pa.Table:
    """The input rows of many requests as one Arrow table: arrays of the same columns
    are stacked (a few µs per request), frames are joined with ``pd.concat``."""
    pieces = []
    for columns, group in itertools.groupby(
        inputs, key=lambda item: item.columns if isinstance(item, InputArray) else None
    ):
        batch = list(group)
        if columns is None:
            pieces.append(_frame_table(pd.concat(batch, ignore_index=True)))
        else:
            values = np.concatenate([item.values for item in batch])
            arrays = [
                _to_arrow(values[:, position].astype(dtype))
                for position, (_, dtype) in enumerate(columns)
            ]
            pieces.append(pa.Table.from_arrays(arrays, names=[name for name, _ in columns]))
    return pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces, promote_options="default")


def _frame_table(frame: pd.DataFrame) -> pa.Table:
    arrays = []
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        numpy = isinstance(column.dtype, np.dtype)
        arrays.append(_to_arrow(column.to_numpy() if numpy else column.array))
    return pa.Table.from_arrays(arrays, names=[str(name) for name in frame.columns])


def _to_arrow(values: Any) -> pa.Array:
    """One column (a numpy or pandas array) as an Arrow array."""
    # In an object column None and NaN both mean missing (pandas' rule); a float NaN
    # elsewhere is a value and stays one.
    from_pandas = isinstance(values, np.ndarray) and values.dtype == object
    array = pa.array(values, from_pandas=from_pandas)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    # pandas' str columns are large_string: one string type for every file of a log.
    return array.cast(pa.string()) if pa.types.is_large_string(array.type) else array


def _output_columns(outputs: list[Mapping[str, Sequence[Any]]], counts: np.ndarray) -> dict:
    """Each output name's values over all requests (null where a request lacks it)."""
    names = dict.fromkeys(name for output in outputs for name in output)
    columns = {}
    for name in names:
        parts = [output.get(name) for output in outputs]
        for part, count in zip(parts, counts, strict=True):
            if part is not None and len(part) != count:
                raise ShipyardError(
                    f"Output '{name}' has {len(part)} values for {count} input rows.",
                    hint="Give each output one value per input row.",
                )
        if all(isinstance(part, np.ndarray) and part.ndim == 1 for part in parts):
            values = np.concatenate(parts)
            columns[name] = pa.array(values, from_pandas=values.dtype == object)
            continue
        flat: list[Any] = []
        for part, count in zip(parts, counts, strict=True):
            if part is None:
                flat.extend([None] * int(count))
            else:
                flat.extend(part.tolist() if hasattr(part, "tolist") else part)
        columns[name] = pa.array(flat)
    return columns


def _masked(column: pa.ChunkedArray) -> pa.Array:
    return pc.if_else(
        pc.is_valid(column), pa.scalar(PII_MASK, pa.string()), pa.scalar(None, pa.string())
    )


def _hashed(column: pa.ChunkedArray, key: bytes) -> pa.Array:
    return pa.array(
        [
            None if value is None else blake3.blake3(_value_bytes(value), key=key).hexdigest()
            for value in column.to_pylist()
        ],
        pa.string(),
    )


def _value_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else str(value)).encode()


def _plain(label: Any) -> Any:
    """A numpy scalar as the Python value it holds, so JSON and numbers treat it alike."""
    return label.item() if isinstance(label, np.generic) else label


def _label_number(label: Any) -> float | None:
    if isinstance(label, numbers.Real):  # bools too: True is 1.0
        with suppress(OverflowError):
            return float(label)
    return None


@atexit.register
def _close_open_logs() -> None:
    """At interpreter exit, write what every log still holds (the thread is a daemon)."""
    for log in list(_open_logs):
        log.close()
