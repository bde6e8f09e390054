"""Many processes writing at once, and a writer killed mid-batch: nothing lost, nothing torn."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.metadata.workers import log_points

from shipyard.ids import new_id
from shipyard.metadata import MetadataStore, experiments, metrics, runs, schema

PROCESSES = 8
BATCHES = 10
SIZE = 50
ROOT = Path(__file__).resolve().parents[2]


def _new_run(url: str) -> str:
    store = MetadataStore.open(url)
    with store.begin() as conn:
        run_id = new_id()
        runs.create(conn, runs.RunRecord(run_id, experiments.get_or_create(conn)))
    store.close()
    return run_id


def _count(store: MetadataStore, run_id: str, key: str | None = None) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(schema.metrics)
        .where(schema.metrics.c.run_id == run_id)
    )
    if key is not None:
        query = query.where(schema.metrics.c.key == key)
    with store.connect() as conn:
        return conn.scalar(query)


@pytest.mark.slow
def test_eight_processes_log_to_one_store(store_url):
    run_id = _new_run(store_url)
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        done = pool.starmap(
            log_points, [(store_url, run_id, w, BATCHES, SIZE) for w in range(PROCESSES)]
        )
    assert sorted(done) == list(range(PROCESSES))
    store = MetadataStore.open(store_url)
    try:
        assert _count(store, run_id) == PROCESSES * BATCHES * SIZE * 2
        for worker in range(PROCESSES):
            assert _count(store, run_id, f"w{worker}") == BATCHES * SIZE
        with store.connect() as conn:
            latest = metrics.latest(conn, run_id)
            steps = conn.execute(
                sa.select(schema.latest_metrics.c.key, schema.latest_metrics.c.step).where(
                    schema.latest_metrics.c.run_id == run_id
                )
            ).all()
        assert latest == {"shared": latest["shared"]} | {
            f"w{w}": float(w) for w in range(PROCESSES)
        }
        assert {step for _, step in steps} == {BATCHES * SIZE - 1}
    finally:
        store.close()


@pytest.mark.slow
def test_writer_killed_mid_batch_leaves_sqlite_consistent(tmp_path):
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    run_id = _new_run(url)
    size = 20_000  # a batch takes long enough to be killed in the middle of one
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.metadata.workers", "batches", url, run_id, str(size)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert writer.stdout.readline().strip() == "committed 1"
        time.sleep(random.uniform(0.01, 0.05))  # into the second batch (or later)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    store = MetadataStore.open(url)
    try:
        count = _count(store, run_id)
        assert count >= size and count % size == 0  # whole batches only
        with store.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            stored_step = conn.scalar(
                sa.select(schema.latest_metrics.c.step).where(
                    schema.latest_metrics.c.run_id == run_id
                )
            )
        assert stored_step == count - 1  # latest_metrics moved with its batch, not apart
        with store.begin() as conn:  # and it takes writes again
            metrics.log_batch(conn, run_id, [metrics.MetricPoint("loss", 2.0, step=count)])
        assert _count(store, run_id) == count + 1
    finally:
        store.close()
