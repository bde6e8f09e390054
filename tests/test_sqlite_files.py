"""The small SQLite files in .shipyard, opened fresh by several processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from shipyard._sqlite import connect, prepare
from shipyard.errors import ObjectStoreError

OPENERS = {
    "version index": "from shipyard.objects._versions import VersionIndex as Open",
    "node cache": "from shipyard.project._cache import ResultIndex as Open",
    "stat cache": "from shipyard.objects._statcache import StatCache as Open",
}


@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_processes_opening_a_new_file_at_once_all_succeed(kind, tmp_path):
    # Switching a new file to WAL takes an exclusive lock; racing switches used to fail
    # with "database is locked" instead of waiting.
    go = tmp_path / "go"
    database = tmp_path / ".shipyard" / "index.db"
    script = textwrap.dedent(
        f"""
        import os, sys, time
        {OPENERS[kind]}
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        Open({str(database)!r})
        """
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    time.sleep(1.0)  # all of them are imported and waiting
    go.touch()
    errors = [p.communicate(timeout=60)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 6, errors
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_prepare_names_the_file_it_cannot_open(tmp_path):
    not_a_database = tmp_path / "index.db"
    not_a_database.write_bytes(b"this is not SQLite" * 100)

    def error(exc: sqlite3.Error) -> ObjectStoreError:
        return ObjectStoreError(f"{not_a_database} cannot be read: {exc}", hint="Delete it.")

    with pytest.raises(ObjectStoreError, match=r"index\.db cannot be read: file is not a database"):
        prepare(not_a_database, error)
    assert not_a_database.read_bytes() == b"this is not SQLite" * 100


def test_connect_commits_each_statement(tmp_path):
    database = tmp_path / "auto.db"

    def error(exc: sqlite3.Error) -> ObjectStoreError:
        return ObjectStoreError(str(exc))

    prepare(database, error)
    with connect(database, error) as db:
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
    with connect(database, error, durable=False) as db:
        assert db.execute("SELECT x FROM t").fetchall() == [(1,)]
