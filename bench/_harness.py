"""Shared plumbing of the benchmark scenarios in ``bench/`` (standard library only).

Every scenario prints exactly ONE JSON line on stdout; everything else (library chatter,
progress, logs) goes to stderr. The peer side of a comparison (Kedro, MLflow, DVC, ...) runs
as a subprocess in the peers venv (``.venv-peers`` at the repository root, or
``$SHIPYARD_PEERS_VENV``; build it with ``bash bench/setup_peers.sh``). That subprocess may
import this module too, so it must stay free of third-party imports.

A scenario's JSON line carries ``figures``: the rows ``bench/run_all.py`` renders into
``docs/benchmarks.md`` (figure | Shipyard | peer | ratio | target | met?)::

    clock = CpuClock()
    out = result_stream()  # fd 1 now goes to stderr; `out` is the real stdout
    rows = [figure("per-node overhead", "ms", ours=0.05, peer=0.43, max_ours=0.3)]
    emit(out, "pipeline_overhead", {"figures": rows}, clock=clock)
"""

from __future__ import annotations

import compileall
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

# Telemetry of every peer tool is off (Shipyard has none): the machine has no internet, and
# an analytics call that has to time out would only add noise.
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "true",  # mlflow (needs "true"), kedro-telemetry
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "ITERATIVE_DO_NOT_TRACK": "1",  # iterative-telemetry (dvc, evidently)
}

TIMES = "\N{MULTIPLICATION SIGN}"
PEERS_MISSING_HINT = "run `bash bench/setup_peers.sh` to measure the peers side by side"


class BenchError(RuntimeError):
    """A benchmark step failed in a way that makes its figures meaningless."""


def telemetry_off_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default: this process's environment) with telemetry off."""
    env = dict(os.environ if base is None else base)
    env.update(TELEMETRY_OFF)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def log(*parts: Any) -> None:
    """Progress for the human: always stderr, never the result stream."""
    print(*parts, file=sys.stderr, flush=True)


# --- where things live -------------------------------------------------------------------


def peers_venv() -> Path:
    """The peers venv directory: ``$SHIPYARD_PEERS_VENV`` or ``<repo>/.venv-peers``."""
    return Path(os.environ.get("SHIPYARD_PEERS_VENV") or REPO_ROOT / ".venv-peers")


def peers_python() -> Path | None:
    """The peers venv's interpreter, or None when the venv has not been built."""
    python = peers_venv() / "bin" / "python"
    return python if python.exists() else None


def peers_missing_note() -> str:
    return f"peers venv not found at {peers_venv()}; {PEERS_MISSING_HINT}"


def shipyard_env() -> dict[str, str]:
    """Environment for a subprocess of ours: telemetry off, and ``<repo>/src`` on the path
    when the project venv has no installed (editable) Shipyard. Shipyard's sources are
    byte-compiled first (see :func:`compile_shipyard`)."""
    compile_shipyard()
    env = telemetry_off_env()
    # A user's Python writes bytecode caches; timing without them measures compiling.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not shipyard_installed():
        src = str(REPO_ROOT / "src")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


@functools.cache
def compile_shipyard() -> None:
    """Byte-compile Shipyard's sources once, as installing a package does. pip does not
    compile an editable install, and with PYTHONDONTWRITEBYTECODE set (as on these
    machines) Python never caches the bytecode: every fresh process of ours would
    recompile Shipyard while the peers' installed packages are compiled."""
    compileall.compile_dir(str(REPO_ROOT / "src" / "shipyard"), quiet=1)


def shipyard_installed() -> bool:
    """True when ``import shipyard`` works in this interpreter without touching sys.path."""
    probe = [sys.executable, "-c", "import shipyard"]
    return subprocess.run(probe, capture_output=True, cwd="/", check=False).returncode == 0


# --- subprocesses that answer with one JSON line -----------------------------------------


def run_json(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = 1800,
) -> dict[str, Any]:
    """Run ``cmd`` with its stderr passed through, and parse the last line of its stdout."""
    proc = subprocess.run(
        [str(c) for c in cmd],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(env) if env is not None else telemetry_off_env(),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"{' '.join(map(str, cmd))} failed with exit code {proc.returncode}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise BenchError(f"{cmd[0]} printed no JSON result line: {lines[-1][:200]!r}") from exc


def alternate(
    sides: Mapping[str, Callable[[], Any]], rounds: int, *, label: str = ""
) -> dict[str, list[Any]]:
    """Call each side once per round, reversing the order every other round (A B, B A, ...)
    so that slow drift of the machine (thermal, other load) hits both sides alike."""
    names = list(sides)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            log(f"[{label}] round {r + 1}/{rounds}: {name}")
            results[name].append(sides[name]())
    return results


def time_command(cmd: Sequence[str], *, env: Mapping[str, str], cwd: str) -> dict[str, Any]:
    """Wall time of one fresh process, its exit code and the last line it printed."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(env), cwd=cwd, check=False)
    wall = time.perf_counter() - t0
    text = (proc.stdout + proc.stderr).strip().splitlines()
    return {"s": wall, "rc": proc.returncode, "output": text[-1][:120] if text else ""}


# --- numbers -----------------------------------------------------------------------------


def rnd(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def spread(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """median/min/max/first of a series of timings, in the series' unit."""
    return {
        "median": rnd(median(values), digits),
        "min": rnd(min(values), digits),
        "max": rnd(max(values), digits),
        "first": rnd(values[0], digits),
        "n": len(values),
    }


def ratio(peer: float | None, ours: float | None) -> float | None:
    """How many times faster we are: ``peer / ours`` for times (lower is better)."""
    if peer is None or ours is None or ours <= 0:
        return None
    return round(peer / ours, 2)


def figure(
    name: str,
    unit: str,
    *,
    ours: float | None,
    peer: float | None = None,
    peer_label: str | None = None,
    max_ours: float | None = None,
    min_ratio: float | None = None,
) -> dict[str, Any]:
    """One row of a scenario's table. Times only (lower is better); ``met`` is None when a
    ratio target cannot be judged because the peer was not measured."""
    r = ratio(peer, ours)
    checks: list[bool | None] = []
    target_text = []
    if max_ours is not None:
        checks.append(ours is not None and ours <= max_ours)
        target_text.append(f"≤ {max_ours:g} {unit}")
    if min_ratio is not None:
        checks.append(None if r is None else r >= min_ratio)
        target_text.append(f"≥ {min_ratio:g}{TIMES}")
    if False in checks:
        met: bool | None = False
    elif None in checks or not checks:
        met = None
    else:
        met = True
    return {
        "name": name,
        "unit": unit,
        "shipyard": ours,
        "peer": peer,
        "peer_label": peer_label,
        "ratio": r,
        "target": ", ".join(target_text) or None,
        "met": met,
    }


# --- the result line ---------------------------------------------------------------------


def result_stream() -> TextIO:
    """Keep the real stdout for the one result line and send fd 1 (and ``sys.stdout``) to
    stderr, so that whatever a library prints cannot corrupt the result."""
    out = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    return out


def measure_in_temp_folder(prefix: str, side: Callable[[Path], Mapping[str, Any]]) -> None:
    """A worker's whole life: run ``side`` in a new temp folder (removed afterwards) and
    print what it returns as the one result line."""
    out = result_stream()
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        result = side(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print_result(out, result)


def print_result(out: TextIO, payload: Mapping[str, Any]) -> None:
    out.write(json.dumps(payload) + "\n")
    out.flush()


def _proc_stat_cpu() -> list[int] | None:
    try:
        with open("/proc/stat") as fh:
            return [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None


class CpuClock:
    """Interference check: the machine's busy CPU seconds (``/proc/stat``) during the
    scenario versus the scenario's own (this process and every child it waited for).
    ``other_cpu_s`` above ~1-2 s means something else used the cores: distrust the run."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()
        self._stat0 = _proc_stat_cpu()
        self._own0 = self._own()

    @staticmethod
    def _own() -> float:
        total = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            total += usage.ru_utime + usage.ru_stime
        return total

    def accounting(self) -> dict[str, Any]:
        out: dict[str, Any] = {"wall_s": round(time.perf_counter() - self._t0, 2)}
        now = _proc_stat_cpu()
        if self._stat0 and now:
            d = [b - a for a, b in zip(self._stat0, now, strict=False)]
            tick = os.sysconf("SC_CLK_TCK")
            idle = d[3] + (d[4] if len(d) > 4 else 0)
            steal = d[7] if len(d) > 7 else 0
            busy = (sum(d[:8]) - idle - steal) / tick
            own = self._own() - self._own0
            out.update(
                machine_busy_cpu_s=round(busy, 2),
                own_cpu_s=round(own, 2),
                other_cpu_s=round(busy - own, 2),
                steal_s=round(steal / tick, 2),
            )
        return out


def versions(*dists: str) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for dist in dists:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def shipyard_version() -> str | None:
    """Our version, read from the source tree when the package is not installed."""
    about = REPO_ROOT / "src" / "shipyard" / "__about__.py"
    with contextlib.suppress(OSError):
        for line in about.read_text().splitlines():
            if line.startswith("__version__"):
                return line.split("=", 1)[1].strip().strip("\"'")
    return None


def host_info() -> dict[str, Any]:
    mem_gib = None
    with contextlib.suppress(ValueError, OSError):
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_gib": mem_gib,
        "platform": platform.platform(),
    }


def emit(
    out: TextIO,
    scenario: str,
    results: Mapping[str, Any],
    *,
    clock: CpuClock,
    peer_versions: Mapping[str, Any] | None = None,
) -> None:
    """Write the scenario's one JSON line: identity, machine, results, CPU check."""
    line = {
        "scenario": scenario,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {"shipyard": shipyard_version(), **(peer_versions or {})},
        "host": host_info(),
        **results,
        "cpu": clock.accounting(),
    }
    print_result(out, line)
