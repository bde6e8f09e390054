"""The small SQLite files Shipyard keeps in ``.shipyard`` (version index, node cache, stat
cache, the embedded metadata store): WAL so readers never wait for the writer, set once
per file under a file lock; a busy timeout so two processes writing at once take turns;
one connection per call so threads and processes share nothing but the file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from shipyard.errors import ShipyardError

__all__ = ["BUSY_TIMEOUT_S", "connect", "file_lock", "prepare"]

#: Seconds a connection waits for another process's write before it gives up.
BUSY_TIMEOUT_S = 30


def prepare(path: Path, error: Callable[[sqlite3.Error], ShipyardError]) -> None:
    """Create ``path``'s folder and put the database in WAL mode, once per file.

    Switching the journal mode takes an exclusive lock, and two connections racing to
    switch a new file can get "database is locked" at once, without the busy timeout: so
    the switch happens under :func:`file_lock`, and only when the file is not in WAL yet
    (a plain read, the common case)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)) as db:
            if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
        with (
            file_lock(path),
            contextlib.closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)) as db,
        ):
            db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise error(exc) from exc


@contextlib.contextmanager
def file_lock(database: Path) -> Iterator[None]:
    """An exclusive lock on ``<database>.lock``: one process at a time sets up the file."""
    import fcntl

    lock_path = database.with_name(database.name + ".lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def connect(
    path: Path,
    error: Callable[[sqlite3.Error], ShipyardError],
    *,
    durable: bool = True,
) -> Iterator[sqlite3.Connection]:
    """A connection to ``path`` (already :func:`prepare`\\ d) in autocommit mode, closed on
    exit; SQLite errors become ``error(exc)``. ``durable=False`` skips the fsync of each
    commit, for files that are only caches (a lost write costs recomputing it)."""
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise error(exc) from exc
    try:
        if not durable:
            db.execute("PRAGMA synchronous=NORMAL")
        yield db
    except sqlite3.DatabaseError as exc:
        raise error(exc) from exc
    finally:
        db.close()
