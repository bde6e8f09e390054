"""Pausing Python's cyclic garbage collector while a large batch of objects is built.

Building thousands of small objects (parsed JSON, rows for an executemany) sets off
collections that walk the whole heap again and again, and a process that has imported
SQLAlchemy, pandas or scikit-learn has a large heap: the collections cost several times
the work itself. Such batches hold no reference cycles, so the collector is paused while
they are built. Several threads may pause it at once: the first to pause and the last to
resume decide, under a lock, so the collector is never left off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]

_lock = threading.Lock()
_pausers = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (as it was, afterwards)."""
    global _pausers, _was_enabled  # noqa: PLW0603 - process-wide by nature
    with _lock:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _lock:
            _pausers -= 1
            if _pausers == 0 and _was_enabled:
                gc.enable()
