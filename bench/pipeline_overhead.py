"""Pipeline engine overhead: Shipyard's SequentialRunner against Kedro's, side by side.

Shapes (default 1,000 nodes each), over memory datasets with one input holding 0:
  chain : node i reads x{i} and writes x{i+1} = x{i} + 1
  fanout: node i reads the shared input ``src`` and writes y{i} = src + 1
The node function costs almost nothing (``floor_s``: plain Python doing the same work), so
``per_node_ms = run time / nodes`` is the engine's own cost per node.

Modes:
  default_logging: Shipyard with its default logging
      (``configure_logging(default_logging_config())``) and the progress hook on
      (``create_hook_manager(RunProgress())``); Kedro with the logging it applies on import.
  quiet: no progress hook, engine loggers at WARNING: the engine alone.
Both write to the stderr the caller gives this script; the documented figures are with
stderr sent to a file or /dev/null (a terminal costs more, for both engines).

Each side runs in its own fresh process per round (``--worker`` here, and
``bench/peers/kedro_pipeline.py`` in the peers venv); rounds alternate the order of the sides
(A B, B A, ...). Per round and mode, each shape runs ``--reps`` times on a fresh pipeline and
catalog; the first of each round is the cold run, the headline is the median of the others
over all rounds. Also: building (and validating) a ``--build-nodes`` chain, median of all
builds. Targets: per node <= 0.3 ms, >= 5x faster than Kedro with default logging, and the
10,000-node build <= 1 s.

Prints one JSON line; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import _harness as H
import _pipeline_round as R

PEER_SCRIPT = H.BENCH_DIR / "peers" / "kedro_pipeline.py"
MODE_LABEL = {"default_logging": "default logging + progress", "quiet": "quiet"}


class ShipyardEngine:
    """Shipyard's pipeline algebra, in-memory catalog and SequentialRunner."""

    name = "shipyard"

    def __init__(self) -> None:
        from shipyard.data import Catalog
        from shipyard.pipeline import node, pipeline
        from shipyard.project import RunProgress, configure_logging, default_logging_config
        from shipyard.runner import SequentialRunner, create_hook_manager

        self._catalog_cls, self._node, self._pipeline = Catalog, node, pipeline
        self._runner, self._hooks = SequentialRunner, create_hook_manager
        self._progress = RunProgress
        self._configure, self._default_config = configure_logging, default_logging_config
        # memory datasets never touch it; removed when the worker exits
        self._root = tempfile.TemporaryDirectory(prefix="shipyard-bench-")
        self._mode = "default_logging"

    def set_mode(self, mode: str) -> None:
        self._mode = mode
        quiet = mode == "quiet"
        self._configure(self._default_config(), quiet=quiet)
        if quiet:
            logging.getLogger("shipyard").setLevel(logging.WARNING)

    def build(self, shape: str, n: int) -> Any:
        nodes = [self._node(R.add1, s, d, name=name) for s, d, name in R.edges(shape, n)]
        pipe = self._pipeline(nodes)
        pipe.nodes  # noqa: B018 - the sorted node list is part of building
        return pipe

    def catalog(self, first: str) -> Any:
        catalog = self._catalog_cls.from_config({}, project_root=Path(self._root.name))
        catalog.save(first, 0)
        return catalog

    def run(self, pipeline: Any, catalog: Any) -> None:
        hooks = None if self._mode == "quiet" else self._hooks(self._progress())
        self._runner().run(pipeline, catalog, hooks=hooks)

    def load(self, catalog: Any, name: str) -> Any:
        return catalog.load(name)


def summarize_side(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool a side's rounds: per mode and shape, the cold runs and the warm ones."""
    n = rounds[0]["nodes"]
    out: dict[str, Any] = {"import_s": H.rnd(H.median(r["import_s"] for r in rounds))}
    for mode in R.MODES:
        out[mode] = {}
        for shape in R.SHAPES:
            runs = [r["modes"][mode][shape] for r in rounds]
            warm = [t for x in runs for t in (x["run_s"][1:] or x["run_s"])]
            cold = [x["run_s"][0] for x in runs]
            out[mode][shape] = {
                "nodes": n,
                "run_s_median": H.rnd(H.median(warm)),
                "run_s_min": H.rnd(min(warm)),
                "per_node_ms_median": H.rnd(H.median(warm) / n * 1000),
                "per_node_ms_first": H.rnd(H.median(cold) / n * 1000),
                "runs": len(warm) + len(cold),
                "all_ok": all(x["ok"] for x in runs),
            }
    builds = [t for r in rounds for t in r["build"]["s"]]
    out["build"] = {"nodes": rounds[0]["build"]["nodes"], **H.spread(builds)}
    out["floor_s"] = {s: H.rnd(min(r["floor_s"][s] for r in rounds), 6) for s in R.SHAPES}
    out["versions"] = rounds[0]["versions"]
    return out


def figures(ours: dict[str, Any], peer: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for mode in R.MODES:
        for shape in R.SHAPES:
            theirs = peer[mode][shape]["per_node_ms_median"] if peer else None
            rows.append(
                H.figure(
                    f"{shape}, per node, {MODE_LABEL[mode]} ({ours[mode][shape]['nodes']} nodes)",
                    "ms",
                    ours=ours[mode][shape]["per_node_ms_median"],
                    peer=theirs,
                    peer_label="kedro",
                    max_ours=0.3,
                    min_ratio=5.0 if mode == "default_logging" else None,
                )
            )
    rows.append(
        H.figure(
            f"build + validate a {ours['build']['nodes']:,}-node chain",
            "s",
            ours=ours["build"]["median"],
            peer=peer["build"]["median"] if peer else None,
            peer_label="kedro",
            max_ours=1.0,
        )
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of both sides")
    ap.add_argument("--nodes", type=int, default=1000, help="nodes per shape")
    ap.add_argument("--reps", type=int, default=3, help="runs per shape, mode, round (1st=cold)")
    ap.add_argument("--build-nodes", type=int, default=10_000)
    ap.add_argument("--build-reps", type=int, default=5, help="builds per round")
    ap.add_argument("--no-peer", action="store_true", help="measure Shipyard alone")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        R.worker_main(ShipyardEngine, (), [a for a in sys.argv[1:] if a != "--worker"])
        return

    clock, out = H.CpuClock(), H.result_stream()
    sizes = ["--nodes", args.nodes, "--reps", args.reps]
    sizes += ["--build-nodes", args.build_nodes, "--build-reps", args.build_reps]
    worker, worker_env = [sys.executable, Path(__file__).resolve(), "--worker"], H.shipyard_env()
    sides = {"shipyard": lambda: H.run_json([*worker, *sizes], env=worker_env)}
    peer_python = None if args.no_peer else H.peers_python()
    if peer_python is not None:
        sides["kedro"] = lambda: H.run_json([peer_python, PEER_SCRIPT, *sizes])
    rounds = H.alternate(sides, args.rounds, label="pipeline_overhead")

    ours = summarize_side(rounds["shipyard"])
    peer = summarize_side(rounds["kedro"]) if "kedro" in rounds else None
    results: dict[str, Any] = {
        "params": {k: v for k, v in vars(args).items() if k != "worker"},
        "shipyard": ours,
        "peer": peer,
        "figures": figures(ours, peer),
    }
    if peer is None:
        results["peer_note"] = "--no-peer given" if args.no_peer else H.peers_missing_note()
    H.emit(
        out,
        "pipeline_overhead",
        results,
        clock=clock,
        peer_versions=peer["versions"] if peer else None,
    )


if __name__ == "__main__":
    main()
