"""The batch writer against a real SQLite database: batching, flushing, errors, exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from shipyard.tracking._writer import BatchWriter

REPO_ROOT = Path(__file__).resolve().parents[2]
ROWS = sa.Table(
    "rows",
    sa.MetaData(),
    sa.Column("run_id", sa.String, nullable=False),
    sa.Column("value", sa.Integer, nullable=False),
)


class SQLiteTable:
    """A small real store: one table, the begin()/url a MetadataStore offers."""

    def __init__(self, path):
        self.url = f"sqlite:///{path}"
        self.engine = sa.create_engine(self.url)
        ROWS.metadata.create_all(self.engine)
        self.transactions = 0

    @contextmanager
    def begin(self):
        with self.engine.begin() as conn:
            self.transactions += 1
            yield conn

    def values(self, run_id="r"):
        with self.engine.connect() as conn:
            query = sa.select(ROWS.c.value).where(ROWS.c.run_id == run_id)
            return [row.value for row in conn.execute(query)]


def insert_rows(conn, kind, run_id, items):
    if kind == "bad":
        raise ValueError(f"cannot write {items}")
    conn.execute(ROWS.insert(), [{"run_id": run_id, "value": v} for v in items])


def test_records_are_written_in_batches_and_in_order(tmp_path):
    store = SQLiteTable(tmp_path / "t.db")
    writer = BatchWriter(store, insert_rows, interval_s=60, batch_size=1000)
    for value in range(2500):
        writer.add("row", "r", value)
    writer.flush()
    assert store.values() == list(range(2500))
    assert store.transactions <= 4  # full batches woke the thread; the rest in flush


def test_the_thread_writes_without_a_flush(tmp_path):
    store = SQLiteTable(tmp_path / "t.db")
    writer = BatchWriter(store, insert_rows, interval_s=0.05)
    writer.add("row", "r", 1)
    deadline = time.monotonic() + 5
    while not store.values() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.values() == [1]


def test_adding_never_waits_for_the_database(tmp_path):
    store = SQLiteTable(tmp_path / "t.db")
    writer = BatchWriter(store, insert_rows, interval_s=0.01, batch_size=10)
    # Another connection holds the write lock: the writer's transaction has to wait.
    blocker = sa.create_engine(store.url, connect_args={"timeout": 30}).connect()
    blocker.exec_driver_sql("BEGIN IMMEDIATE")
    start = time.perf_counter()
    for value in range(5000):
        writer.add("row", "r", value)
    assert time.perf_counter() - start < 1.0
    blocker.rollback()
    blocker.close()
    writer.flush()
    assert len(store.values()) == 5000


def test_a_failed_write_is_raised_by_the_next_flush_not_dropped(tmp_path):
    store = SQLiteTable(tmp_path / "t.db")
    writer = BatchWriter(store, insert_rows, interval_s=60)
    writer.add("row", "r", 1)
    writer.add("bad", "r", 2)
    with pytest.raises(ValueError, match=r"cannot write \[2\]"):
        writer.flush()
    assert store.values() == []  # one transaction: the batch is all or nothing
    writer.add("row", "r", 3)
    writer.flush()  # the error was reported once; the writer goes on
    assert store.values() == [3]


def failures_noted(writer, store, second, caplog) -> list[str]:
    """Let the thread meet ``cannot write [1]``, then flush ``second``: the warnings."""
    writer.add("bad", "r", 1)
    deadline = time.monotonic() + 5
    while not writer._errors and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.add("bad", "r", second)
    caplog.clear()
    with (
        caplog.at_level("WARNING", logger="shipyard.tracking"),
        pytest.raises(ValueError, match=r"cannot write \[1\]"),
    ):
        writer.flush()
    return [r.getMessage() for r in caplog.records if "another write failed" in r.getMessage()]


def test_one_fault_met_by_the_thread_and_by_the_flush_is_one_report(tmp_path, caplog):
    store = SQLiteTable(tmp_path / "t.db")
    assert failures_noted(BatchWriter(store, insert_rows, interval_s=0.02), store, 1, caplog) == []
    other = failures_noted(BatchWriter(store, insert_rows, interval_s=0.02), store, 2, caplog)
    assert len(other) == 1 and "cannot write [2]" in other[0]


def test_flushes_from_many_threads_lose_nothing(tmp_path):
    store = SQLiteTable(tmp_path / "t.db")
    writer = BatchWriter(store, insert_rows, interval_s=0.01, batch_size=100)

    def log(offset):
        for value in range(offset, offset + 1000):
            writer.add("row", "r", value)
            if value % 250 == 0:
                writer.flush()

    threads = [threading.Thread(target=log, args=(i * 1000,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.flush()
    assert sorted(store.values()) == list(range(4000))


def test_what_is_buffered_is_written_at_interpreter_exit(tmp_path):
    script = textwrap.dedent(
        f"""
        from tests.tracking.test_writer import SQLiteTable, insert_rows
        from shipyard.tracking._writer import BatchWriter

        writer = BatchWriter(SQLiteTable({str(tmp_path / "t.db")!r}), insert_rows, interval_s=60)
        for value in range(3000):
            writer.add("row", "r", value)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO_ROOT)
    assert sorted(SQLiteTable(tmp_path / "t.db").values()) == list(range(3000))


def test_an_error_at_exit_is_reported_on_stderr(tmp_path):
    script = textwrap.dedent(
        f"""
        from tests.tracking.test_writer import SQLiteTable, insert_rows
        from shipyard.tracking._writer import BatchWriter

        writer = BatchWriter(SQLiteTable({str(tmp_path / "t.db")!r}), insert_rows, interval_s=60)
        writer.add("bad", "r", 7)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
    assert "could not be written at exit" in done.stderr
    assert "cannot write [7]" in done.stderr
