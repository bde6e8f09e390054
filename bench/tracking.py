"""Tracking throughput: Shipyard's tracking against MLflow's, side by side, into SQLite.

Workloads, the same on both sides (each in a fresh SQLite file in a temp folder):
  a) one run, N metric points (default 10,000 = 10 keys x 1,000 steps) logged one call at
     a time: Shipyard's ``run.log_metric``, MLflow's ``mlflow.log_metric``. Two figures:
     the logging loop itself (what a training loop pays), and until every point is in the
     database (Shipyard's run end flushes its buffer; MLflow writes on each call).
  b) 200 runs, each ``start_run`` + ``log_params`` (5) + ``log_metrics`` (5) + end.
Before them, an untimed warm-up run (imports, schema creation, page cache). The points of
(a) are read back and counted on both sides.
  c) Shipyard only: the tracking overhead on the 1,000-node chain of
     ``bench/_pipeline_round.py`` (memory datasets, SequentialRunner): the same run with
     and without the tracking hooks, in both modes of ``bench/pipeline_overhead.py``
     (default logging + progress, as ``shipyard run`` does; quiet: the engine alone).

Each side runs in its own process per round (``--worker shipyard`` here; ``--worker mlflow``
of this same file in the peers venv, which needs only the standard library and mlflow);
rounds alternate the order of the sides. Targets: >= 100,000 points/s (<= 10 us a point)
and >= 100x MLflow's log_metric loop; >= 5x MLflow for the 200 runs; <= 20% overhead.

Prints one JSON line; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as H

DISTS = ("mlflow", "sqlalchemy")


# --- the workloads, one function per side ------------------------------------------------


def shipyard_side(points: int, keys: int, runs: int, folder: Path) -> dict[str, Any]:
    os.environ["SHIPYARD_DB"] = f"sqlite:///{folder / 'shipyard.db'}"
    os.chdir(folder)  # as for MLflow: outside any git work tree
    t0 = time.perf_counter()
    import shipyard
    from shipyard.metadata import MetadataStore, metrics

    import_s = time.perf_counter() - t0
    with shipyard.start_run(name="warmup") as run:  # schema creation, imports
        for i in range(200):
            run.log_metric("w", i, step=i)
    steps, names = points // keys, [f"m{k}" for k in range(keys)]
    t0 = time.perf_counter()
    with shipyard.start_run(name="a") as run:
        loop0 = time.perf_counter()
        for step in range(steps):
            for key in names:
                run.log_metric(key, step * 0.001, step=step)
        loop_s = time.perf_counter() - loop0
    stored_s = time.perf_counter() - loop0
    run_total_s = time.perf_counter() - t0
    store = MetadataStore.open()
    with store.connect() as conn:
        got = sum(len(metrics.history(conn, run.id, key)) for key in names)
    t0 = time.perf_counter()
    for r in range(runs):
        with shipyard.start_run() as small:
            small.log_params({f"p{i}": r * 10 + i for i in range(5)})
            small.log_metrics({f"m{i}": r + i * 0.1 for i in range(5)})
    runs_s = time.perf_counter() - t0
    return _side("shipyard", locals())


def mlflow_side(points: int, keys: int, runs: int, folder: Path) -> dict[str, Any]:
    os.environ.update(H.TELEMETRY_OFF)
    os.chdir(folder)  # MLflow's default artifact folder ./mlruns goes to the temp folder
    t0 = time.perf_counter()
    import mlflow
    from mlflow.tracking import MlflowClient

    import_s = time.perf_counter() - t0
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.set_experiment("bench").experiment_id
    with mlflow.start_run(experiment_id=experiment, run_name="warmup"):
        for i in range(200):
            mlflow.log_metric("w", i, step=i)
    steps, names = points // keys, [f"m{k}" for k in range(keys)]
    t0 = time.perf_counter()
    with mlflow.start_run(experiment_id=experiment) as run:
        loop0 = time.perf_counter()
        for step in range(steps):
            for key in names:
                mlflow.log_metric(key, step * 0.001, step=step)
        loop_s = time.perf_counter() - loop0
    stored_s = time.perf_counter() - loop0
    run_total_s = time.perf_counter() - t0
    client = MlflowClient(tracking_uri=uri)
    got = sum(len(client.get_metric_history(run.info.run_id, key)) for key in names)
    t0 = time.perf_counter()
    for r in range(runs):
        with mlflow.start_run(experiment_id=experiment):
            mlflow.log_params({f"p{i}": r * 10 + i for i in range(5)})
            mlflow.log_metrics({f"m{i}": r + i * 0.1 for i in range(5)})
    runs_s = time.perf_counter() - t0
    return _side("mlflow", locals())


def _side(name: str, measured: dict[str, Any]) -> dict[str, Any]:
    """The figures of a side, from the local variables of its workload function."""
    return {
        "side": name,
        "versions": H.versions(*DISTS) if name == "mlflow" else {},
        "import_s": H.rnd(measured["import_s"]),
        "points": measured["points"],
        "points_read_back": measured["got"],
        "ok": measured["got"] == measured["points"],
        "loop_s": H.rnd(measured["loop_s"], 5),
        "stored_s": H.rnd(measured["stored_s"], 5),
        "run_total_s": H.rnd(measured["run_total_s"], 5),
        "runs": measured["runs"],
        "runs_s": H.rnd(measured["runs_s"], 5),
    }


def pipeline_overhead(nodes: int, reps: int, folder: Path) -> dict[str, Any]:
    """The 1,000-node chain run with and without the tracker, alternating, per mode."""
    import _pipeline_round as R

    from shipyard.data import Catalog
    from shipyard.pipeline import node, pipeline
    from shipyard.project import RunProgress, configure_logging, default_logging_config
    from shipyard.runner import SequentialRunner, create_hook_manager
    from shipyard.tracking import Tracker

    os.environ.pop("SHIPYARD_DB", None)
    project = folder / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.shipyard]\npackage_name = 'bench'\n")
    run_params = {"project": "bench", "project_root": str(project), "pipeline_name": "chain"}

    def once(mode: str, tracked: bool) -> float:
        pipe = pipeline([node(R.add1, s, d, name=n) for s, d, n in R.edges("chain", nodes)])
        catalog = Catalog.from_config({}, project_root=project)
        catalog.save("x0", 0)
        plugins: list[object] = [] if mode == "quiet" else [RunProgress()]
        if tracked:
            plugins.append(Tracker())
        hooks = create_hook_manager(*plugins, load_entry_points=False)
        t0 = time.perf_counter()
        SequentialRunner().run(pipe, catalog, hooks=hooks, run_params=run_params)
        elapsed = time.perf_counter() - t0
        if catalog.load(f"x{nodes}") != nodes:
            raise H.BenchError("the chain computed a wrong result")
        return elapsed

    out: dict[str, Any] = {"nodes": nodes}
    for mode in ("default_logging", "quiet"):
        configure_logging(default_logging_config(), quiet=mode == "quiet")
        if mode == "quiet":
            logging.getLogger("shipyard").setLevel(logging.WARNING)
        once(mode, True), once(mode, False)  # warm-up: imports, the store's schema
        times: dict[bool, list[float]] = {False: [], True: []}
        for rep in range(reps):
            for tracked in (False, True) if rep % 2 == 0 else (True, False):
                times[tracked].append(once(mode, tracked))
        untracked, tracked_s = statistics.median(times[False]), statistics.median(times[True])
        out[mode] = {
            "untracked_s": H.rnd(untracked, 5),
            "tracked_s": H.rnd(tracked_s, 5),
            "overhead_pct": round((tracked_s - untracked) / untracked * 100, 1),
        }
    return out


def worker(args: argparse.Namespace) -> None:
    out = H.result_stream()
    folder = Path(tempfile.mkdtemp(prefix=f"bench-tracking-{args.worker}-"))
    try:
        if args.worker == "mlflow":
            result = mlflow_side(args.points, args.keys, args.runs, folder)
        else:
            result = shipyard_side(args.points, args.keys, args.runs, folder)
            result["pipeline"] = pipeline_overhead(args.nodes, args.reps, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    H.print_result(out, result)


# --- the parent: rounds, summary, figures ------------------------------------------------


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    points, runs = rounds[0]["points"], rounds[0]["runs"]
    loop_s = H.median(r["loop_s"] for r in rounds)
    stored_s = H.median(r["stored_s"] for r in rounds)
    runs_s = H.median(r["runs_s"] for r in rounds)
    summary = {
        "points": points,
        "all_read_back": all(r["ok"] for r in rounds),
        "loop_points_per_s": round(points / loop_s),
        "stored_points_per_s": round(points / stored_s),
        "us_per_point_loop": H.rnd(loop_s / points * 1e6, 3),
        "us_per_point_stored": H.rnd(stored_s / points * 1e6, 3),
        "runs": runs,
        "ms_per_run": H.rnd(runs_s / runs * 1000, 3),
        "import_s": H.median(r["import_s"] for r in rounds),
        "versions": rounds[0]["versions"],
    }
    if "pipeline" in rounds[0]:
        summary["pipeline"] = {
            mode: {
                key: H.rnd(H.median(r["pipeline"][mode][key] for r in rounds), 5)
                for key in ("untracked_s", "tracked_s", "overhead_pct")
            }
            for mode in ("default_logging", "quiet")
        }
        summary["pipeline"]["nodes"] = rounds[0]["pipeline"]["nodes"]
    return summary


def figures(ours: dict[str, Any], peer: dict[str, Any] | None) -> list[dict[str, Any]]:
    n = f"{ours['points']:,}"
    rows = [
        H.figure(
            f"log_metric loop, {n} points, one call each (SQLite), per point",
            "µs",
            ours=ours["us_per_point_loop"],
            peer=peer["us_per_point_loop"] if peer else None,
            peer_label="mlflow",
            max_ours=10.0,
            min_ratio=100.0,
        ),
        H.figure(
            f"same, until all {n} points are stored (run end flush), per point",
            "µs",
            ours=ours["us_per_point_stored"],
            peer=peer["us_per_point_stored"] if peer else None,
            peer_label="mlflow",
            max_ours=10.0,
            min_ratio=100.0,
        ),
        H.figure(
            f"{ours['runs']} runs x (5 params + 5 metrics), per run",
            "ms",
            ours=ours["ms_per_run"],
            peer=peer["ms_per_run"] if peer else None,
            peer_label="mlflow",
            min_ratio=5.0,
        ),
    ]
    pipe = ours["pipeline"]
    for mode, label in (("default_logging", "default logging + progress"), ("quiet", "quiet")):
        rows.append(
            H.figure(
                f"tracking overhead, {pipe['nodes']:,}-node chain, {label} "
                f"({pipe[mode]['untracked_s'] * 1000:.1f} ms untracked)",
                "%",
                ours=pipe[mode]["overhead_pct"],
                max_ours=20.0,
            )
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of both sides")
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--keys", type=int, default=10, help="metric keys the points spread over")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--nodes", type=int, default=1000, help="nodes of the overhead chain")
    ap.add_argument("--reps", type=int, default=6, help="runs per mode and side of the chain")
    ap.add_argument("--no-peer", action="store_true", help="measure Shipyard alone")
    ap.add_argument("--worker", choices=("shipyard", "mlflow"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    clock, out = H.CpuClock(), H.result_stream()
    sizes = ["--points", args.points, "--keys", args.keys, "--runs", args.runs]
    sizes += ["--nodes", args.nodes, "--reps", args.reps]
    this = Path(__file__).resolve()
    ours_cmd = [sys.executable, this, "--worker", "shipyard", *sizes]
    sides = {"shipyard": lambda: H.run_json(ours_cmd, env=H.shipyard_env())}
    peer_python = None if args.no_peer else H.peers_python()
    if peer_python is not None:
        peer_cmd = [peer_python, this, "--worker", "mlflow", *sizes]
        sides["mlflow"] = lambda: H.run_json(peer_cmd)
    rounds = H.alternate(sides, args.rounds, label="tracking")
    ours = summarize(rounds["shipyard"])
    peer = summarize(rounds["mlflow"]) if "mlflow" in rounds else None
    results: dict[str, Any] = {
        "params": vars(args),
        "shipyard": ours,
        "peer": peer,
        "figures": figures(ours, peer),
    }
    if peer is None:
        results["peer_note"] = "--no-peer given" if args.no_peer else H.peers_missing_note()
    H.emit(out, "tracking", results, clock=clock, peer_versions=peer["versions"] if peer else None)


if __name__ == "__main__":
    main()
