"""The version index: which content (a digest) each save of a versioned dataset produced.

One SQLite file (WAL mode, a busy timeout, a fresh connection per call) that several
processes may write at once. A version is immutable; a tag is a movable name for one.

>>> index = VersionIndex(tmp / "versions.db")                  # doctest: +SKIP
>>> v1 = index.record("customers", digest, 1024, "file")
>>> index.tag("customers", v1.id, "q3-audit").tags
('q3-audit',)
>>> index.resolve("customers", "q3-audit") == index.resolve("customers", v1.id[:6])
True
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from shipyard._sqlite import connect, prepare
from shipyard.errors import DatasetError, ObjectStoreError, VersionNotFoundError, did_you_mean
from shipyard.ids import ID_PATTERN, new_id
from shipyard.objects._digest import Digest

Kind = Literal["file", "tree"]
LATEST = "latest"
MIN_PREFIX = 4
_TAG = re.compile(r"[A-Za-z0-9._-]{1,128}")
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    id TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    digest TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('file', 'tree')),
    created_at TEXT NOT NULL,
    run_id TEXT
);
CREATE INDEX IF NOT EXISTS versions_by_dataset ON versions (dataset, created_at);
CREATE TABLE IF NOT EXISTS tags (
    dataset TEXT NOT NULL,
    tag TEXT NOT NULL,
    version_id TEXT NOT NULL REFERENCES versions (id),
    UNIQUE (dataset, tag)
);
"""
_COLUMNS = "id, dataset, digest, size, kind, created_at, run_id"
_NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


@dataclass(frozen=True, slots=True)
class DataVersion:
    """One immutable version of a dataset: the content ``digest`` names (a file, or a
    tree manifest for a folder), its size in bytes, when and by which run it was made."""

    id: str
    dataset: str
    digest: Digest
    size: int
    kind: Kind
    created_at: datetime
    run_id: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """The version's reference, ``data:<dataset>@<id>``."""
        return f"data:{self.dataset}@{self.id}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with stable snake_case keys."""
        return {
            "id": self.id,
            "dataset": self.dataset,
            "ref": self.ref,
            "digest": str(self.digest),
            "size": self.size,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "run_id": self.run_id,
            "tags": list(self.tags),
        }


class VersionIndex:
    """Dataset versions and tags in an embedded SQLite file at ``path``.

    This is the embedded implementation of a small protocol: ``record``, ``versions``,
    ``latest``, ``find``, ``resolve``, ``tag``, ``untag``, ``datasets`` and ``digests``
    are the whole surface, so a PostgreSQL-backed index (the tracking issue) can stand in
    for it. Each call opens its own connection, so threads and forked processes share
    nothing but the file.

    Recording content equal to the dataset's latest version returns that version instead
    of a duplicate row: saving the same bytes twice makes one version.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        prepare(self.path, self._error)
        with self._connect() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"VersionIndex({str(self.path)!r})"

    def record(
        self, dataset: str, digest: Digest, size: int, kind: Kind, *, run_id: str | None = None
    ) -> DataVersion:
        """A new version of ``dataset`` holding ``digest``, or the latest version when it
        already holds exactly that content."""
        if kind not in ("file", "tree"):
            raise ValueError(f"kind must be 'file' or 'tree', not {kind!r}")
        with self._transaction() as db:
            latest = self._latest(db, dataset)
            if latest is not None and latest.digest == digest:
                return latest
            created = datetime.now(UTC)
            if latest is not None and created <= latest.created_at:
                # Another process's clock ran ahead: stay after its version.
                created = latest.created_at + timedelta(microseconds=1)
            version = DataVersion(new_id(), dataset, digest, size, kind, created, run_id)
            db.execute(
                f"INSERT INTO versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (version.id, dataset, str(digest), size, kind, _stamp(created), run_id),
            )
        return version

    def versions(self, dataset: str) -> list[DataVersion]:
        """Every version of ``dataset``, newest first (empty if it has none)."""
        with self._connect() as db:
            return self._select(db, f"WHERE dataset = ? {_NEWEST_FIRST}", (dataset,))

    def latest(self, dataset: str) -> DataVersion | None:
        """The newest version of ``dataset``, or None."""
        with self._connect() as db:
            return self._latest(db, dataset)

    def find(self, dataset: str, digest: Digest) -> DataVersion | None:
        """The newest version of ``dataset`` holding ``digest``, or None."""
        with self._connect() as db:
            found = self._select(
                db,
                f"WHERE dataset = ? AND digest = ? {_NEWEST_FIRST} LIMIT 1",
                (dataset, str(digest)),
            )
        return found[0] if found else None

    def resolve(self, dataset: str, ref: str) -> DataVersion:
        """The version ``ref`` names: ``latest``, a full id, a tag, or a unique id prefix of
        at least 4 characters. Anything else raises :class:`VersionNotFoundError`."""
        with self._connect() as db:
            return self._resolve(db, dataset, ref)

    def tag(self, dataset: str, ref: str, tag: str, *, move: bool = False) -> DataVersion:
        """Name the version ``ref`` resolves to ``tag``. A tag already on another version
        is an error unless ``move`` is true, which moves it."""
        _check_tag(dataset, tag)
        with self._transaction() as db:
            version = self._resolve(db, dataset, ref)
            row = db.execute(
                "SELECT version_id FROM tags WHERE dataset = ? AND tag = ?", (dataset, tag)
            ).fetchone()
            if row is not None and row[0] != version.id and not move:
                raise DatasetError(
                    f"Tag '{tag}' of dataset '{dataset}' is already on version {row[0]}.",
                    hint=f"Pass move=True (`shipyard data tag {dataset} {ref} {tag} --move`) "
                    "to move it, or choose another tag.",
                )
            db.execute(
                "INSERT OR REPLACE INTO tags (dataset, tag, version_id) VALUES (?, ?, ?)",
                (dataset, tag, version.id),
            )
            return self._resolve(db, dataset, version.id)

    def untag(self, dataset: str, tag: str) -> DataVersion:
        """Remove ``tag`` from ``dataset``; returns the version it was on."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT version_id FROM tags WHERE dataset = ? AND tag = ?", (dataset, tag)
            ).fetchone()
            if row is None:
                tags = [
                    t for (t,) in db.execute("SELECT tag FROM tags WHERE dataset = ?", (dataset,))
                ]
                raise VersionNotFoundError(
                    f"Dataset '{dataset}' has no tag '{tag}'."
                    + did_you_mean(tag, tags)
                    + (f" Its tags: {', '.join(sorted(tags))}." if tags else " It has no tags."),
                    hint=f"List the versions and tags with `shipyard data versions {dataset}`.",
                )
            db.execute("DELETE FROM tags WHERE dataset = ? AND tag = ?", (dataset, tag))
            return self._resolve(db, dataset, row[0])

    def datasets(self) -> list[str]:
        """The names of every dataset with at least one version, sorted."""
        with self._connect() as db:
            return [name for (name,) in db.execute("SELECT DISTINCT dataset FROM versions")]

    def digests(self, *, tagged_only: bool = False, keep_last: int | None = None) -> set[Digest]:
        """The digests garbage collection keeps: every version's by default; with
        ``tagged_only`` only tagged versions'; ``keep_last=N`` adds the N newest versions of
        each dataset (and, without ``tagged_only``, keeps only those plus tagged ones).
        A tree's digest names its manifest; the files it lists are the caller's to add."""
        with self._connect() as db:
            kept = {
                d
                for (d,) in db.execute(
                    "SELECT v.digest FROM versions v JOIN tags t ON t.version_id = v.id"
                )
            }
            if keep_last is not None:
                kept.update(
                    d
                    for (d,) in db.execute(
                        "SELECT digest FROM (SELECT digest, ROW_NUMBER() OVER (PARTITION BY "
                        "dataset ORDER BY created_at DESC, id DESC) AS n FROM versions) "
                        "WHERE n <= ?",
                        (max(0, keep_last),),
                    )
                )
            elif not tagged_only:
                kept.update(d for (d,) in db.execute("SELECT digest FROM versions"))
        return {Digest.parse(d) for d in kept}

    # --- internals -----------------------------------------------------------------

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return connect(self.path, self._error)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock first, so two processes recording the same
        # dataset see each other's rows and never both decide they are "the latest".
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _error(self, exc: sqlite3.Error) -> ObjectStoreError:
        return ObjectStoreError(
            f"The version index {self.path} cannot be read or written: {exc}",
            hint="Check that the file is readable and writable and not damaged; restore it "
            "from a backup if it is.",
        )

    def _latest(self, db: sqlite3.Connection, dataset: str) -> DataVersion | None:
        found = self._select(db, f"WHERE dataset = ? {_NEWEST_FIRST} LIMIT 1", (dataset,))
        return found[0] if found else None

    def _select(
        self, db: sqlite3.Connection, where: str, args: tuple[Any, ...]
    ) -> list[DataVersion]:
        rows = db.execute(f"SELECT {_COLUMNS} FROM versions {where}", args).fetchall()
        tags: dict[str, list[str]] = {}
        if rows:
            marks = ",".join("?" * len(rows))
            for version_id, tag in db.execute(
                f"SELECT version_id, tag FROM tags WHERE version_id IN ({marks}) ORDER BY tag",
                [row[0] for row in rows],
            ):
                tags.setdefault(version_id, []).append(tag)
        return [
            DataVersion(
                vid,
                name,
                Digest.parse(digest),
                size,
                kind,
                datetime.fromisoformat(created),
                run_id,
                tuple(tags.get(vid, ())),
            )
            for vid, name, digest, size, kind, created, run_id in rows
        ]

    def _resolve(self, db: sqlite3.Connection, dataset: str, ref: str) -> DataVersion:
        ref = str(ref).strip()
        if ref == LATEST:
            latest = self._latest(db, dataset)
            if latest is None:
                raise VersionNotFoundError(
                    f"Dataset '{dataset}' has no recorded versions yet, so 'latest' names none.",
                    hint="Save the dataset (run the node that writes it) to record a version.",
                )
            return latest
        exact = self._select(db, "WHERE dataset = ? AND id = ?", (dataset, ref))
        if exact:
            return exact[0]
        tagged = self._select(
            db,
            "WHERE id = (SELECT version_id FROM tags WHERE dataset = ? AND tag = ?)",
            (dataset, ref),
        )
        if tagged:
            return tagged[0]
        if len(ref) >= MIN_PREFIX and ID_PATTERN.fullmatch(ref.ljust(26, "0")):
            matches = self._select(
                db, f"WHERE dataset = ? AND id LIKE ? {_NEWEST_FIRST}", (dataset, ref + "%")
            )
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise VersionNotFoundError(
                    f"'{ref}' is the start of {len(matches)} versions of dataset "
                    f"'{dataset}': {', '.join(v.id for v in matches[:10])}.",
                    hint="Give more characters of the version id, or use a tag.",
                )
        raise self._not_found(db, dataset, ref)

    def _not_found(self, db: sqlite3.Connection, dataset: str, ref: str) -> VersionNotFoundError:
        ids = [
            vid
            for (vid,) in db.execute(
                f"SELECT id FROM versions WHERE dataset = ? {_NEWEST_FIRST}", (dataset,)
            )
        ]
        tags = [
            t
            for (t,) in db.execute(
                "SELECT tag FROM tags WHERE dataset = ? ORDER BY tag", (dataset,)
            )
        ]
        if not ids:
            detail = " It has no recorded versions yet."
        else:
            detail = did_you_mean(ref, tags + ids) + f" Newest versions: {', '.join(ids[:3])}."
            if tags:
                detail += f" Tags: {', '.join(tags[:10])}."
        return VersionNotFoundError(
            f"Dataset '{dataset}' has no version or tag '{ref}'.{detail}",
            hint=f"List the versions and tags with `shipyard data versions {dataset}`.",
        )


def _check_tag(dataset: str, tag: str) -> None:
    if (
        not isinstance(tag, str)
        or not _TAG.fullmatch(tag)
        or tag == LATEST
        or ID_PATTERN.fullmatch(tag)
    ):
        raise DatasetError(
            f"{tag!r} cannot be a tag of dataset '{dataset}'.",
            hint="A tag is 1-128 letters, digits, '.', '_' or '-', and is neither 'latest' "
            "nor shaped like a 26-character version id; e.g. 'q3-audit' or 'v1.2'.",
        )


def _stamp(moment: datetime) -> str:
    # Fixed width, so text order is time order.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
