"""One measuring round of the pipeline-overhead scenario, shared by both sides.

Shipyard (``bench/pipeline_overhead.py --worker``) and Kedro (``bench/peers/kedro_pipeline.py``,
run in the peers venv) time the same shapes with this same code, so the only difference
between the two figures is the engine. Standard library only: it runs in both venvs.

Shapes, each over memory datasets with one input holding 0:
  chain : node i reads x{i} and writes x{i+1} = x{i} + 1
  fanout: node i reads the shared input ``src`` and writes y{i} = src + 1
Modes: ``default_logging`` (the engine's logging as shipped, plus Shipyard's progress hook)
and ``quiet`` (engine loggers at WARNING, no progress): the engine alone.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any, Protocol

import _harness as H

MODES = ("default_logging", "quiet")
SHAPES = ("chain", "fanout")


def add1(x: int) -> int:
    return x + 1


def first_input(shape: str) -> str:
    return "x0" if shape == "chain" else "src"


def edges(shape: str, n: int) -> list[tuple[str, str, str]]:
    """(input, output, node name) of every node of a shape."""
    if shape == "chain":
        return [(f"x{i}", f"x{i + 1}", f"n{i}") for i in range(n)]
    return [("src", f"y{i}", f"f{i}") for i in range(n)]


def check(shape: str, n: int, load: Callable[[str], Any]) -> bool:
    """The run computed what it should: the outputs are there and hold the right values."""
    if shape == "chain":
        return load(f"x{n}") == n
    return all(load(f"y{i}") == 1 for i in range(n))


class Engine(Protocol):
    """What a side provides: build a pipeline, make a catalog, run, read a result back."""

    name: str

    def set_mode(self, mode: str) -> None: ...
    def build(self, shape: str, n: int) -> Any: ...
    def catalog(self, first: str) -> Any: ...
    def run(self, pipeline: Any, catalog: Any) -> None: ...
    def load(self, catalog: Any, name: str) -> Any: ...


def time_runs(engine: Engine, shape: str, n: int, reps: int) -> dict[str, Any]:
    """Run a freshly built pipeline over a fresh catalog ``reps`` times; only the run is timed."""
    run_s, ok = [], True
    for _ in range(reps):
        pipe = engine.build(shape, n)
        catalog = engine.catalog(first_input(shape))
        t0 = time.perf_counter()
        engine.run(pipe, catalog)
        run_s.append(time.perf_counter() - t0)
        try:
            ok = ok and check(shape, n, lambda name, c=catalog: engine.load(c, name))
        except Exception as exc:  # a failed read-back is reported as ok=false, not hidden
            H.log(f"[{engine.name}] reading the {shape} results back failed: {exc!r}")
            ok = False
    return {"run_s": run_s, "ok": ok}


def time_builds(engine: Engine, n: int, reps: int) -> list[float]:
    """Build (and validate: sort, check) an n-node chain ``reps`` times."""
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        pipe = engine.build("chain", n)
        out.append(time.perf_counter() - t0)
        del pipe
    return out


def plain_floor(shape: str, n: int, reps: int = 20) -> float:
    """The same work as plain Python over a dict: what the nodes themselves cost."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        store = {"x0": 0, "src": 0}
        for src, dst, _name in edges(shape, n):
            store[dst] = add1(store[src])
        best = min(best, time.perf_counter() - t0)
    return best


def worker_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=1000, help="nodes per shape")
    ap.add_argument("--reps", type=int, default=3, help="runs per shape and mode (1st = cold)")
    ap.add_argument("--build-nodes", type=int, default=10_000, help="nodes of the built chain")
    ap.add_argument("--build-reps", type=int, default=5, help="builds of that chain")
    return ap.parse_args(argv)


def worker_main(make_engine: Callable[[], Engine], dists: tuple[str, ...], argv=None) -> None:
    """Measure one round of one side and print it as one JSON line."""
    args = worker_args(argv)
    out = H.result_stream()
    t0 = time.perf_counter()
    engine = make_engine()
    import_s = time.perf_counter() - t0
    modes: dict[str, Any] = {}
    for mode in MODES:
        engine.set_mode(mode)
        modes[mode] = {s: time_runs(engine, s, args.nodes, args.reps) for s in SHAPES}
    engine.set_mode("quiet")
    result = {
        "side": engine.name,
        "versions": H.versions(*dists),
        "nodes": args.nodes,
        "import_s": import_s,
        "modes": modes,
        "build": {
            "nodes": args.build_nodes,
            "s": time_builds(engine, args.build_nodes, args.build_reps),
        },
        "floor_s": {s: plain_floor(s, args.nodes) for s in SHAPES},
    }
    H.print_result(out, result)
