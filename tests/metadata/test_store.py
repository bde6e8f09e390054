"""Opening, migrating and refusing stores: SQLite self-upgrade, PostgreSQL explicit upgrade."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from shipyard.errors import MetadataError
from shipyard.ids import new_id
from shipyard.metadata import MetadataStore, experiments, schema
from shipyard.metadata._store import HEAD_REVISION


def _stamp(store: MetadataStore, revision: str) -> None:
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_sqlite_store_is_created_in_the_project_with_its_pragmas(tmp_path, monkeypatch):
    monkeypatch.delenv("SHIPYARD_DB", raising=False)
    store = MetadataStore.open(project_root=tmp_path)
    try:
        assert store.dialect == "sqlite"
        assert store.url == f"sqlite:///{tmp_path.resolve()}/.shipyard/shipyard.db"
        assert (tmp_path / ".shipyard" / "shipyard.db").is_file()
        assert store.current_revision() == store.head_revision() == store.revisions()[-1]
        with store.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
        assert pragma == {
            "journal_mode": "wal",
            "busy_timeout": 30000,
            "foreign_keys": 1,
            "synchronous": 1,
        }
    finally:
        store.close()
    assert (tmp_path / ".shipyard" / "shipyard.db.lock").exists()


def test_shipyard_db_variable_wins_over_the_project(tmp_path, monkeypatch):
    elsewhere = tmp_path / "team" / "store.db"
    monkeypatch.setenv("SHIPYARD_DB", f"sqlite:///{elsewhere}")
    store = MetadataStore.open(project_root=tmp_path / "project")
    store.close()
    assert elsewhere.is_file() and not (tmp_path / "project").exists()


def test_no_url_no_variable_no_project(monkeypatch):
    monkeypatch.delenv("SHIPYARD_DB", raising=False)
    with pytest.raises(MetadataError, match="No metadata store given") as caught:
        MetadataStore.open()
    assert "SHIPYARD_DB" in caught.value.hint


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "'not a url' is not a database URL."),
        (
            "mysql://root:hunter2@db/x",
            "The metadata store mysql://root:***@db/x uses 'mysql', which Shipyard does not "
            "support.",
        ),
    ],
)
def test_bad_urls(url, expected):
    with pytest.raises(MetadataError) as caught:
        MetadataStore.open(url)
    assert caught.value.message == expected
    assert "postgresql+psycopg://" in caught.value.hint


def test_migrations_create_exactly_the_schema(store):
    """Migrations spell their columns out: they must still build what _schema.py describes."""
    with store.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diffs == []


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_schema_newer_than_the_code_is_refused(engine, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 's.db'}"
        if engine == "sqlite"
        else request.getfixturevalue("new_pg_database")()
    )
    store = MetadataStore.open_unchecked(url)
    store.upgrade()
    with store.begin() as conn:
        experiments.get_or_create(conn, "kept")
    _stamp(store, "9999_from_the_future")
    store.close()
    for attempt in (
        lambda: MetadataStore.open(url),
        lambda: MetadataStore.open_unchecked(url).upgrade(),
    ):
        with pytest.raises(MetadataError) as caught:
            attempt()
        assert (
            "schema revision 9999_from_the_future, newer than this Shipyard knows"
            in caught.value.message
        )
        assert f"(its newest is {HEAD_REVISION})" in caught.value.message
        assert "Upgrade Shipyard" in caught.value.hint
    store = MetadataStore.open_unchecked(url)
    assert store.current_revision() == "9999_from_the_future"  # untouched
    with store.connect() as conn:
        assert conn.scalar(
            sa.select(schema.experiments.c.name).where(schema.experiments.c.name == "kept")
        )
    store.close()


def test_postgresql_behind_is_refused_until_upgraded(new_pg_database):
    url = new_pg_database().replace("postgres@", "postgres:s3cret-pw@")
    with pytest.raises(MetadataError) as caught:
        MetadataStore.open(url)
    assert caught.value.message == (
        f"The metadata store {url.replace('s3cret-pw', '***')} has schema revision "
        f"none (an empty database); this Shipyard needs {HEAD_REVISION}."
    )
    assert "shipyard db upgrade" in caught.value.hint
    store = MetadataStore.open_unchecked(url)
    assert store.upgrade() == (None, HEAD_REVISION)
    assert store.upgrade() == (HEAD_REVISION, HEAD_REVISION)  # idempotent
    store.close()
    store = MetadataStore.open(url)
    with store.begin() as conn:
        assert experiments.get_or_create(conn, "x")
    store.close()


def test_sqlite_behind_upgrades_itself(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # an empty file another tool made
        conn.exec_driver_sql("CREATE TABLE unrelated (x INTEGER)")
    engine.dispose()
    store = MetadataStore.open(url)
    assert store.current_revision() == HEAD_REVISION
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres:topsecret@127.0.0.1:1/x",
        "postgresql://postgres:topsecret@127.0.0.1:1/x",
    ],
)
def test_unreachable_server_fails_fast_with_a_clear_error(url):
    started = time.monotonic()
    with pytest.raises(MetadataError) as caught:
        MetadataStore.open(url)
    assert time.monotonic() - started < 10
    message = caught.value.message
    assert message.startswith(
        "Cannot connect to the metadata store postgresql+psycopg://postgres:***@127.0.0.1:1/x: "
    )
    assert "topsecret" not in message + caught.value.hint
    assert "reachable" in caught.value.hint


def test_concurrent_first_opens_migrate_once(tmp_path):
    """Many stores opened at once on a new file: the lock lets one migrate."""
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite:///{tmp_path / 'race.db'}"

    def open_and_write(index: int) -> str:
        store = MetadataStore.open(url)
        try:
            with store.begin() as conn:
                return experiments.get_or_create(conn, f"e{index % 2}")
        finally:
            store.close()

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(open_and_write, range(6)))
    assert len(set(ids)) == 2


def test_store_repr_and_close(tmp_path):
    store = MetadataStore.open(f"sqlite:///{tmp_path / 'x.db'}")
    assert repr(store) == f"MetadataStore('sqlite:///{tmp_path / 'x.db'}')"
    store.close()
    with store.begin() as conn:  # a closed store reconnects on use
        assert experiments.get_or_create(conn, new_id())
    store.close()
    assert Path(tmp_path / "x.db").is_file()


def test_the_head_revision_constant_is_alembics_head():
    """Opening a store compares revisions without Alembic; the constant must be its head."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from shipyard.metadata._store import _MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_opening_an_up_to_date_store_does_not_load_alembic(tmp_path):
    import subprocess
    import sys

    MetadataStore.open(f"sqlite:///{tmp_path / 'runs.db'}").close()  # created and migrated
    probe = (
        "import sys; from shipyard.metadata import MetadataStore; "
        f"MetadataStore.open('sqlite:///{tmp_path / 'runs.db'}').close(); "
        "print('alembic' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "False", result.stderr
