"""Querying runs: `shipyard runs list` with a metric filter and sort over 10,000 runs.

For SQLite (a file in a temp folder) and for PostgreSQL (a fresh database on the local
server at 127.0.0.1:5432, dropped afterwards; skipped with a note when it does not
answer), ``--runs`` runs (default 10,000) with 5 params and 5 metrics each are recorded
through the metadata repositories, then:

- ``runs.search(where="metrics.auc > 0.8", sort="-metrics.auc", limit=100)`` in-process,
  median of ``--reps`` (what a notebook or the server pays), and
- ``shipyard runs list --where "metrics.auc > 0.8" --sort -metrics.auc --json`` as a fresh
  process with ``SHIPYARD_DB`` pointing at the store, median of ``--reps`` (what a user
  waits for at the terminal).

Target: **≤ 0.2 s** for the query on both engines. The MLflow equivalent
(``mlflow.search_runs`` with a filter string) is not run here: its peer script measures
logging, not search.

Prints one JSON line; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _harness as H

WHERE = "metrics.auc > 0.8"
SORT = "-metrics.auc"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def populate(url: str, count: int) -> None:
    """``count`` finished runs with params p0..p4 and metrics auc, m1..m4, in one
    transaction through the repositories."""
    from shipyard.ids import new_id
    from shipyard.metadata import MetadataStore, experiments, metrics, params, runs

    rng = random.Random(7)
    store = MetadataStore.open(url)
    try:
        with store.begin() as conn:
            experiment = experiments.get_or_create(conn, "bench")
            for _ in range(count):
                run_id = new_id()
                runs.create(conn, runs.RunRecord(run_id, experiment, status="finished"))
                params.log(conn, run_id, {f"p{i}": rng.randint(0, 100) for i in range(5)})
                values = {"auc": rng.random(), **{f"m{i}": rng.random() for i in range(1, 5)}}
                metrics.log_batch(
                    conn, run_id, [metrics.MetricPoint(k, v) for k, v in values.items()]
                )
    finally:
        store.close()


def time_search(url: str, reps: int) -> tuple[list[float], int]:
    from shipyard.metadata import MetadataStore, runs

    store = MetadataStore.open(url)
    times, found = [], 0
    try:
        for _ in range(reps + 1):  # the first one warms caches and is dropped
            with store.connect() as conn:
                started = time.perf_counter()
                found = len(runs.search(conn, where=WHERE, sort=SORT, limit=100))
                times.append(time.perf_counter() - started)
    finally:
        store.close()
    return times[1:], found


def time_cli(url: str, reps: int, workdir: Path) -> list[float]:
    env = {**H.shipyard_env(), "SHIPYARD_DB": url}
    cmd = [sys.executable, "-m", "shipyard", "runs", "list", "--where", WHERE,
           "--sort", SORT, "--json"]  # fmt: skip
    times = []
    for _ in range(reps + 1):
        result = H.time_command(cmd, env=env, cwd=str(workdir))
        if result["rc"] != 0:
            raise H.BenchError(f"shipyard runs list failed: {result['output']}")
        times.append(result["s"])
    return times[1:]


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh database on the local server, or None when it does not answer."""
    from sqlalchemy import create_engine, text

    name = f"shipyard_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server here: report SQLite alone
        H.log(f"[runs_query] PostgreSQL not available: {exc}")
        yield None
        return
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(label: str, url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if url.startswith("postgresql"):
        subprocess.run(  # PostgreSQL stores are upgraded explicitly, as users do
            [sys.executable, "-m", "shipyard", "db", "upgrade", "--url", url],
            env=H.shipyard_env(), capture_output=True, check=True,
        )  # fmt: skip
    started = time.perf_counter()
    populate(url, args.runs)
    H.log(
        f"[runs_query] {label}: {args.runs} runs recorded in {time.perf_counter() - started:.1f}s"
    )
    search, found = time_search(url, args.reps)
    cli = time_cli(url, args.reps, workdir)
    H.log(f"[runs_query] {label}: search {H.median(search):.4f}s, CLI {H.median(cli):.3f}s")
    return {"search_s": H.spread(search), "cli_s": H.spread(cli), "found": found}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    clock, out = H.CpuClock(), H.result_stream()
    results: dict[str, Any] = {"params": vars(args)}
    with tempfile.TemporaryDirectory(prefix="runs-query-") as tmp:
        workdir = Path(tmp)
        results["sqlite"] = measure("sqlite", f"sqlite:///{workdir / 'runs.db'}", args, workdir)
        with postgres_database() as url:
            results["postgresql"] = measure("postgresql", url, args, workdir) if url else None

    def row(engine: str, key: str, name: str) -> dict[str, Any]:
        figures = results.get(engine)
        ours = figures[key]["median"] if figures else None
        return H.figure(name, "s", ours=ours, max_ours=0.2)

    count = f"{args.runs:,}"
    results["figures"] = [
        row("sqlite", "search_s", f"`runs.search` over {count} runs, filter + sort (SQLite)"),
        row("sqlite", "cli_s", f"`shipyard runs list --where --sort` over {count} (SQLite)"),
        row("postgresql", "search_s", f"`runs.search` over {count} runs (PostgreSQL)"),
        row(
            "postgresql", "cli_s", f"`shipyard runs list --where --sort` over {count} (PostgreSQL)"
        ),
    ]
    H.emit(out, "runs_query", results, clock=clock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
