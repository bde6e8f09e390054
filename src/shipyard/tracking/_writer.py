"""The background writer: logging calls append to a buffer, a thread writes it in batches.

A ``log_metric`` call must cost microseconds, never a database round trip, so calls only
append to an in-memory buffer. A daemon thread writes the buffer in one transaction every
``interval_s`` seconds, or sooner once ``batch_size`` records are waiting. ``flush()``
writes what is buffered now, in the calling thread, and raises the first error the thread
met since the last flush; at interpreter exit every writer is flushed (atexit), and an
error then is logged, since there is nobody left to raise it to.

Records are metric points, node runs and lineage edges (a pipeline run's per-node
bookkeeping goes the same way, so tracking a 1,000-node pipeline costs a few transactions,
not thousands).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shipyard._collector import collector_paused

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shipyard.metadata import MetadataStore

__all__ = ["BatchWriter"]

logger = logging.getLogger("shipyard.tracking")

_writers: weakref.WeakSet[BatchWriter] = weakref.WeakSet()


class BatchWriter:
    """Buffers ``(kind, run_id, item)`` records for one store and writes them in batches.

    ``write_batch(conn, kind, run_id, items)`` writes a batch of one kind for one run; the
    writer groups records that way, keeping the order in which they were added.
    """

    def __init__(
        self,
        store: MetadataStore,
        write_batch: Callable[[Connection, str, str, list[Any]], None],
        *,
        interval_s: float = 0.2,
        batch_size: int = 1000,
    ) -> None:
        self.store = store
        self._write_batch = write_batch
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._reset()
        _writers.add(self)
        _flush_at_child_exit()

    def _reset(self) -> None:
        # deque.append and popleft are atomic: adding takes no lock at all.
        self._buffer: deque[tuple[str, str, Any]] = deque()
        self._write_lock = threading.Lock()  # one batch written at a time, in order
        self._wake = threading.Event()
        self._errors: list[BaseException] = []
        self._thread: threading.Thread | None = None

    def add(self, kind: str, run_id: str, item: Any) -> None:
        """Buffer one record; never blocks on the database."""
        if self._thread is None:
            self._start()
        buffer = self._buffer
        buffer.append((kind, run_id, item))
        if len(buffer) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def flush(self, then: Callable[[Connection], None] | None = None) -> None:
        """Write everything buffered now, then call ``then(conn)`` in the same
        transaction; raise the first error met since the last flush (by this call or by
        the background thread), with the others noted in the log. ``then`` runs even when
        the buffered records cannot be written (in a transaction of its own)."""
        self._drain(then)
        errors, self._errors = self._errors, []
        # The same fault met by the background thread and by this flush is one fault:
        # only other faults are worth a line of their own.
        noted = {str(errors[0])} if errors else set()
        for extra in errors[1:]:
            if str(extra) not in noted:
                noted.add(str(extra))
                logger.warning("Tracking store %s: another write failed: %s", self.store.url, extra)
        if errors:
            raise errors[0]

    def _start(self) -> None:
        with self._write_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="shipyard-tracking-writer", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            self._drain(None)

    def _drain(self, then: Callable[[Connection], None] | None) -> None:
        with self._write_lock:
            buffer = self._buffer
            records = [buffer.popleft() for _ in range(len(buffer))]
            if not records and then is None:
                return
            try:
                # thousands of rows made at once: see shipyard._collector
                with collector_paused(), self.store.begin() as conn:
                    for (kind, run_id), items in _grouped(records).items():
                        self._write_batch(conn, kind, run_id, items)
                    if then is not None:
                        then(conn)
                return
            except Exception as exc:  # kept for the next flush(), never dropped silently
                self._errors.append(exc)
            if then is not None and records:
                with self.store.begin() as conn:
                    then(conn)


def _grouped(records: list[tuple[str, str, Any]]) -> dict[tuple[str, str], list[Any]]:
    groups: dict[tuple[str, str], list[Any]] = {}
    for kind, run_id, item in records:
        groups.setdefault((kind, run_id), []).append(item)
    return groups


@atexit.register
def _flush_all_at_exit() -> None:
    for writer in list(_writers):
        try:
            writer.flush()
        except Exception as exc:
            logger.error(
                "Tracking: records buffered for %s could not be written at exit: %s",
                writer.store.url,
                exc,
            )


def _flush_at_child_exit() -> None:
    """A multiprocessing child (a ProcessRunner worker) ends with ``os._exit``, which
    skips atexit: its buffered points are flushed by a multiprocessing finalizer instead."""
    if _child_finalizer or "multiprocessing" not in sys.modules:
        return  # registered already, or not a multiprocessing child (it would import it)
    import multiprocessing.util

    if multiprocessing.parent_process() is not None:
        _child_finalizer.append(
            multiprocessing.util.Finalize(None, _flush_all_at_exit, exitpriority=100)
        )


_child_finalizer: list[object] = []


def _after_fork() -> None:
    # The child has the buffers but not the threads; what the parent buffered is the
    # parent's to write.
    for writer in list(_writers):
        writer._reset()


os.register_at_fork(after_in_child=_after_fork)
