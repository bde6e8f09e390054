"""Metadata stores on both engines for the shared suite: a SQLite file and a real PostgreSQL.

PostgreSQL runs at 127.0.0.1:5432 (trust auth, user postgres). Each test module gets its
own fresh database, dropped afterwards, so parallel workers never share one. PostgreSQL is
never skipped: when it does not answer, the tests fail and say how to start it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from shipyard.metadata import MetadataStore

ENGINES = ["sqlite", "postgresql"]
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
_START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(_ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL at 127.0.0.1:5432 does not answer ({exc}). The metadata tests need "
            f"it: start it with `{_START_HINT}`.",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def new_pg_database() -> Iterator[Callable[[], str]]:
    """Creates empty PostgreSQL databases (URL returned); drops them after the module."""
    created: list[str] = []

    def create() -> str:
        name = f"shipyard_test_{uuid.uuid4().hex[:12]}"
        with _admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{PG_SERVER}/{name}"

    yield create
    with _admin() as admin:
        for name in created:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_url(new_pg_database: Callable[[], str]) -> str:
    """One PostgreSQL database for the module, at the head revision."""
    url = new_pg_database()
    store = MetadataStore.open_unchecked(url)
    store.upgrade()
    store.close()
    return url


@pytest.fixture(params=ENGINES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each engine: a new SQLite file per test, the module's PostgreSQL.

    Tests on the shared PostgreSQL database keep apart by their own ids and names.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shipyard.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[MetadataStore]:
    opened = MetadataStore.open(store_url)
    yield opened
    opened.close()
