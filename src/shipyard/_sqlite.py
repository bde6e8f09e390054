"""Connections to the small SQLite files Shipyard keeps in ``.shipyard`` (version index,
node cache): WAL so readers never wait for the writer, a busy timeout so two processes
writing at once take turns, one connection per call so threads and processes share
nothing but the file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from shipyard.errors import ShipyardError

__all__ = ["connect"]


@contextlib.contextmanager
def connect(
    path: Path,
    error: Callable[[sqlite3.Error], ShipyardError],
    *,
    durable: bool = True,
) -> Iterator[sqlite3.Connection]:
    """A connection to ``path`` in autocommit mode, closed on exit; SQLite errors become
    ``error(exc)``. ``durable=False`` skips the fsync of each commit, for files that are
    only caches (a lost write costs recomputing it)."""
    try:
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
    except sqlite3.Error as exc:
        raise error(exc) from exc
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        if not durable:
            db.execute("PRAGMA synchronous=NORMAL")
        yield db
    except sqlite3.DatabaseError as exc:
        raise error(exc) from exc
    finally:
        db.close()
