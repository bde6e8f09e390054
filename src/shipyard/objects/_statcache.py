"""The stat cache: a file whose inode, mtime and size did not change keeps its digest.

One SQLite table (WAL mode, so readers never wait for the writer and two processes can
share it) maps an absolute path to the stat it had when it was hashed.

>>> cache = StatCache(tmp / "stat.db")                # doctest: +SKIP
>>> cache.hash_file(tmp / "big.parquet")             # hashes, then remembers
>>> cache.hash_file(tmp / "big.parquet")             # answered from the cache
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from shipyard._sqlite import BUSY_TIMEOUT_S, prepare
from shipyard.errors import ObjectStoreError
from shipyard.objects._digest import Digest, hash_file

#: Nanoseconds a file must have been left alone before its stat is trusted: well above
#: the coarsest timestamp tick of common filesystems (ext4 and XFS: one jiffy, <= 10 ms).
RACY_NS = 100_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat (
    path TEXT PRIMARY KEY,
    inode INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS folders (
    path TEXT PRIMARY KEY,
    signature TEXT NOT NULL,
    digest TEXT NOT NULL
);
"""


class StatCache:
    """path -> (inode, mtime_ns, size, digest), in a SQLite file shared by processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        prepare(self.path, self._error)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            # A lost entry after a power cut only costs a re-hash, so no fsync per write.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> ObjectStoreError:
        return ObjectStoreError(
            f"The stat cache {self.path} cannot be opened: {exc}",
            hint="Delete the file; it is only a cache and is rebuilt by hashing again.",
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str | os.PathLike[str]) -> Digest | None:
        """The cached digest if the file's inode, mtime_ns and size all still match."""
        try:
            st = Path(path).stat()
        except FileNotFoundError:
            return None
        return self.lookup(Path(path), st)

    def put(self, path: str | os.PathLike[str], digest: Digest) -> None:
        """Remember ``digest`` for the file Shipyard just wrote there (a checkout)."""
        self.record(Path(path), Path(path).stat(), digest, written=True)

    def hash_file(self, path: str | os.PathLike[str]) -> Digest:
        """The file's digest, hashing it only when the cache has no matching entry."""
        return self.hash_with_stat(path)[0]

    def hash_with_stat(self, path: str | os.PathLike[str]) -> tuple[Digest, os.stat_result]:
        """The file's digest (hashed only on a cache miss) and its stat from before hashing,
        for storing it with :meth:`ObjectStore.put_hashed_file`."""
        path = Path(path)
        st = path.stat()
        digest = self.lookup(path, st)
        if digest is None:
            digest = hash_file(path)
            # The stat from *before* hashing: a write during hashing changes mtime,
            # so the next lookup misses instead of trusting a digest of mixed bytes.
            self.record(path, st, digest)
        return digest, st

    def lookup(self, path: Path, st: os.stat_result) -> Digest | None:
        """The cached digest for ``path`` if ``st`` matches what was recorded."""
        with self._lock:
            row = self._db.execute(
                "SELECT inode, mtime_ns, size, digest FROM stat WHERE path = ?", (_key(path),)
            ).fetchone()
        if row is None or tuple(row[:3]) != (st.st_ino, st.st_mtime_ns, st.st_size):
            return None
        return Digest.parse(row[3])

    def record(
        self, path: Path, st: os.stat_result, digest: Digest, *, written: bool = False
    ) -> None:
        """Remember ``digest`` for ``path`` as stat ``st`` describes it (see
        :meth:`record_many` for ``written``)."""
        self.record_many([(str(path), st, digest)], written=written)

    def record_many(
        self, items: Iterable[tuple[str, os.stat_result, Digest]], *, written: bool = False
    ) -> None:
        """Remember many (path, stat, digest) at once, in one transaction.

        A file changed less than :data:`RACY_NS` before it was hashed could change again
        within the filesystem's timestamp granularity without its stat changing (git's
        "racy clean" problem), so it is not remembered and is hashed again next time;
        ``written=True`` says Shipyard itself just wrote these bytes under a private name,
        so their stat is trusted at once.
        """
        settled_before = time.time_ns() - RACY_NS
        rows = [
            (_key(p), st.st_ino, st.st_mtime_ns, st.st_size, str(d))
            for p, st, d in items
            if written or st.st_mtime_ns < settled_before
        ]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def folder_digest(self, folder: str, signature: str) -> Digest | None:
        """The tree digest recorded for absolute ``folder`` when the stat signature of
        its files (see :func:`shipyard.objects.folder_signature`) is still ``signature``."""
        with self._lock:
            row = self._db.execute(
                "SELECT digest FROM folders WHERE path = ? AND signature = ?", (folder, signature)
            ).fetchone()
        return Digest._from_index(row[0]) if row is not None else None

    def record_folder(
        self, folder: str, signature: str, digest: Digest, *, newest_mtime_ns: int
    ) -> None:
        """Remember that ``folder`` with files of stat ``signature`` has tree ``digest``;
        not while its newest file is racy (see :meth:`record_many`)."""
        if newest_mtime_ns >= time.time_ns() - RACY_NS:
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO folders VALUES (?, ?, ?)", (folder, signature, str(digest))
            )

    def rows_under(self, folder: str) -> dict[str, tuple[int, int, int, Digest]]:
        """Every entry below absolute ``folder``: path -> (inode, mtime_ns, size, digest),
        in one query, for scanning a whole folder."""
        # Paths below "a/b" sort between "a/b/" and "a/b0" ("0" follows "/").
        low, high = folder.rstrip("/") + "/", folder.rstrip("/") + "0"
        with self._lock:
            rows = self._db.execute(
                "SELECT path, inode, mtime_ns, size, digest FROM stat WHERE path >= ? AND path < ?",
                (low, high),
            ).fetchall()
        return {
            path: (ino, mtime, size, Digest._from_index(d)) for path, ino, mtime, size, d in rows
        }


def _key(path: str | os.PathLike[str]) -> str:
    return str(Path(path).absolute())
