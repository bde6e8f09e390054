"""The metadata store: one SQLAlchemy engine on SQLite (default) or PostgreSQL (teams).

>>> store = MetadataStore.open(project_root=Path("churn"))  # doctest: +SKIP
>>> with store.begin() as conn:  # doctest: +SKIP
...     runs.search(conn, where="metrics.auc > 0.8", sort="-metrics.auc")

SQLite stores upgrade themselves when opened, under a file lock; PostgreSQL stores are
upgraded only by ``shipyard db upgrade`` and refused while they are behind. A schema newer
than this code is refused on both.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from shipyard._imports import require
from shipyard._sqlite import BUSY_TIMEOUT_S, file_lock, prepare
from shipyard.errors import MetadataError

__all__ = ["CONNECT_TIMEOUT_S", "DB_ENV_VARIABLE", "HEAD_REVISION", "MetadataStore"]

#: The environment variable naming the store's URL, e.g. a team's PostgreSQL.
DB_ENV_VARIABLE = "SHIPYARD_DB"
#: Seconds a PostgreSQL connection attempt may take before the store gives up.
CONNECT_TIMEOUT_S = 5
_MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest revision in migrations/versions (a test checks Alembic agrees). Opening a
#: store compares it with the stored one in plain SQL: Alembic (about 0.1 s to import
#: and read its scripts) is only loaded when the two differ.
HEAD_REVISION = "0003"
# Per connection; WAL is a property of the file, set once by shipyard._sqlite.prepare.
_SQLITE_PRAGMAS = (
    f"busy_timeout = {BUSY_TIMEOUT_S * 1000}",  # first: the pragmas below wait for it too
    "foreign_keys = ON",
    "synchronous = NORMAL",
)
_WRITE_OPTION = "shipyard_write"
_UPGRADE_LOCK_KEY = 0x5348_4950  # "SHIP": the PostgreSQL advisory lock around migrations
_UPGRADE_HINT = (
    "Run `shipyard db upgrade` (it reads SHIPYARD_DB, or pass --url) with this version "
    "of Shipyard; back the database up first."
)


class MetadataStore:
    """Where runs, params, metrics, lineage and environments are kept.

    Open it with :meth:`open`; use :meth:`begin` for writes (one transaction) and
    :meth:`connect` for reads. ``url`` is safe to print: its password is masked.
    """

    def __init__(self, engine: Engine, *, sqlite_path: Path | None = None) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        self.url: str = engine.url.render_as_string(hide_password=True)
        self._password = engine.url.password
        self._sqlite_path = sqlite_path

    def __repr__(self) -> str:
        return f"MetadataStore({self.url!r})"

    @classmethod
    def open(cls, url: str | None = None, *, project_root: Path | None = None) -> MetadataStore:
        """Open the store at ``url``, else ``$SHIPYARD_DB``, else the project's SQLite file.

        The project's file is ``<project_root>/.shipyard/shipyard.db``. SQLite is created
        and upgraded to this code's schema when needed; PostgreSQL must already be at it.
        """
        store = cls.open_unchecked(url, project_root=project_root)
        try:
            store._require_head()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_unchecked(
        cls, url: str | None = None, *, project_root: Path | None = None
    ) -> MetadataStore:
        """Connect without checking or upgrading the schema (for ``shipyard db``)."""
        parsed = _resolve_url(url, project_root)
        if parsed.get_backend_name() == "sqlite":
            return cls._open_sqlite(parsed)
        require("psycopg", purpose="A PostgreSQL metadata store", extra="postgres")
        engine = create_engine(
            parsed, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}, pool_pre_ping=True
        )
        return cls(engine)

    @classmethod
    def _open_sqlite(cls, url: URL) -> MetadataStore:
        path = Path(url.database) if url.database and url.database != ":memory:" else None
        if path is not None:
            prepare(path, _unopenable(path))
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy's "begin" event below starts transactions, not pysqlite.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # A write transaction takes the write lock at once (waiting up to the busy
            # timeout): a deferred one that reads first could fail with SQLITE_BUSY
            # instead of waiting when another writer commits in between.
            immediate = conn.get_execution_options().get(_WRITE_OPTION)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return cls(engine, sqlite_path=path)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction, committed at the end of the block (or rolled back)."""
        with self._translated(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads: SQLAlchemy begins a transaction on first use; nothing is
        committed unless you call ``conn.commit()``. Write with :meth:`begin` instead: on
        SQLite it takes the write lock up front, so concurrent writers wait, never fail."""
        with self._translated(), self.engine.connect() as conn:
            yield conn

    def current_revision(self) -> str | None:
        """The schema revision the database is at; None for an empty database."""
        try:
            with self.connect() as conn:
                rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except DBAPIError as exc:
            if exc.statement is None:  # not a missing table: the server is unreachable
                raise
            return None  # no alembic_version table: nothing was ever migrated here
        return rows[0][0] if rows else None

    def head_revision(self) -> str:
        """The schema revision this version of Shipyard needs."""
        return HEAD_REVISION

    def revisions(self) -> list[str]:
        """Every schema revision this code knows, oldest first."""
        return [script.revision for script in reversed(list(self._scripts().walk_revisions()))]

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate the schema to :meth:`head_revision`; returns (from, to) revisions.

        Two processes never migrate at once: a file lock next to a SQLite file, an
        advisory lock on PostgreSQL. A schema newer than this code is refused.
        """
        from alembic import command

        head = self.head_revision()
        with self._sqlite_upgrade_lock(), self.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK_KEY})"))
            from alembic.runtime.migration import MigrationContext

            current = MigrationContext.configure(conn).get_current_revision()
            self._refuse_unknown(current)
            if current != head:
                config = self._config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        return current, head

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _require_head(self) -> None:
        current, head = self.current_revision(), self.head_revision()
        if current == head:
            return
        self._refuse_unknown(current)
        if self.dialect == "sqlite":
            self.upgrade()
            return
        raise MetadataError(
            f"The metadata store {self.url} has schema revision "
            f"{current or 'none (an empty database)'}; this Shipyard needs {head}.",
            hint=_UPGRADE_HINT,
        )

    def _refuse_unknown(self, current: str | None) -> None:
        if current is None or current in self.revisions():
            return
        raise MetadataError(
            f"The metadata store {self.url} has schema revision {current}, newer than this "
            f"Shipyard knows (its newest is {self.head_revision()}).",
            hint="Upgrade Shipyard (pip install -U shipyard) to the version that migrated "
            "the store; an older Shipyard never writes to a newer schema.",
        )

    @contextmanager
    def _sqlite_upgrade_lock(self) -> Iterator[None]:
        if self._sqlite_path is None:
            yield
            return
        with file_lock(self._sqlite_path):
            yield

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Connection failures as a MetadataError naming the store (password masked)."""
        try:
            yield
        except DBAPIError as exc:
            if exc.statement is not None:  # a statement failed: not a connection problem
                raise
            reason = self._mask(str(exc.orig).strip() or type(exc.orig).__name__)
            raise MetadataError(
                f"Cannot connect to the metadata store {self.url}: {reason}",
                hint="Check that the server is running and reachable and the URL (SHIPYARD_DB "
                "or --url) is right; unset SHIPYARD_DB to use the project's SQLite file.",
            ) from None

    def _mask(self, message: str) -> str:
        return message.replace(self._password, "***") if self._password else message

    def _config(self) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        return config

    def _scripts(self) -> Any:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._config())


def _unopenable(database: Path) -> Callable[[sqlite3.Error], MetadataError]:
    def error(exc: sqlite3.Error) -> MetadataError:
        return MetadataError(
            f"The metadata store {database} cannot be opened: {exc}",
            hint="Check that the file is a Shipyard store and that its folder is writable.",
        )

    return error


def _resolve_url(url: str | None, project_root: Path | None) -> URL:
    raw = url or os.environ.get(DB_ENV_VARIABLE)
    if not raw:
        if project_root is None:
            raise MetadataError(
                "No metadata store given: no URL, no SHIPYARD_DB and no project.",
                hint="Run inside a project (its store is .shipyard/shipyard.db), or set "
                "SHIPYARD_DB to sqlite:///path/to/shipyard.db or postgresql+psycopg://...",
            )
        raw = f"sqlite:///{Path(project_root).resolve() / '.shipyard' / 'shipyard.db'}"
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise MetadataError(
            f"'{_mask_url_text(raw)}' is not a database URL.", hint=_URL_HINT
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise MetadataError(
        f"The metadata store {parsed.render_as_string(hide_password=True)} uses "
        f"'{backend}', which Shipyard does not support.",
        hint=_URL_HINT,
    )


_URL_HINT = (
    "Use sqlite:///path/to/shipyard.db (a local file) or "
    "postgresql+psycopg://user:password@host:5432/database (a team store)."
)


def _mask_url_text(text: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", text)
