"""The inference endpoint: ``shipyard serve`` against ``mlflow models serve``, same model.

Both sides serve a scikit-learn LogisticRegression fitted on
``make_classification(20,000 x 20, random_state=0)`` as a DataFrame ``f0..f19``:

  shipyard: a project from the template in a temp folder, the model packaged with an
            input example, registered and promoted to ``champion``; served by
            ``python -m shipyard serve models:/churn@champion`` (1 worker, defaults:
            access log and prediction log on).
  mlflow:   ``mlflow.sklearn.log_model(input_example=...)`` in the peers venv, downloaded
            to a folder and served by ``mlflow models serve -m DIR --env-manager local``
            (1 uvicorn worker).

Each server runs in its own process group, started and measured in turn on the same
machine, client and server sharing the 2 cores. The client is this process: asyncio +
httpx with a keep-alive pool, pre-serialised ``{"dataframe_split": {...}}`` bodies (both
servers take that form), 20 untimed warm-up requests, then

  single: 2,000 one-row requests, 8 in flight;
  batch:  200 requests of 1,000 rows, 8 in flight.

Every answer is checked (HTTP 200, one prediction per row). Cold start is the time from
starting the command to the first 200 from its readiness route (``/ready``, ``/ping``);
memory is the resident set of the server's process tree after the load. The Shipyard
server is measured a second time with ``prediction_log: false`` to give the cost of
logging every prediction.

Targets: single-row p50 <= 3 ms, >= 1,500 req/s and >= 5x MLflow's throughput; 1,000-row
p50 <= 20 ms and >= 3x MLflow's rows/s; cold start <= 2 s; memory <= 250 MiB; logging
costs <= 10% of single-row throughput.

Prints one JSON line; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import _harness as H

DISTS = ("mlflow", "scikit-learn", "uvicorn", "fastapi")
FEATURES = [f"f{i}" for i in range(20)]


def training_data() -> tuple[Any, Any]:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=20_000, n_features=len(FEATURES), n_informative=10, random_state=0
    )
    return pd.DataFrame(X, columns=FEATURES), y


def fitted_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    X, y = training_data()
    return LogisticRegression(max_iter=1000).fit(X, y)


# --- preparing each side (the mlflow side runs in the peers venv) ------------------------


def shipyard_project(folder: Path, *, log_predictions: bool) -> Path:
    from shipyard.lab import create_project
    from shipyard.models import ModelRegistry, package

    root = create_project(folder / "project", example=False, init_git=False).path
    if not log_predictions:
        (root / "conf" / "base" / "serving.yml").write_text("prediction_log: false\n")
    X, _ = training_data()
    package(fitted_model(), example=X.head()).save(folder / "package")
    registry = ModelRegistry.for_project(root)
    version = registry.register("churn", folder / "package").version
    registry.promote("churn", version, "champion")
    return root


def mlflow_model(folder: Path) -> None:
    """Worker in the peers venv: log the model with MLflow and download it to folder/model."""
    os.environ.update(H.TELEMETRY_OFF)
    os.chdir(folder)
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    X, _ = training_data()
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(fitted_model(), name="model", input_example=X.head())
    mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(folder / "model"))
    H.print_result(H.result_stream(), {"versions": H.versions(*DISTS)})


# --- servers -------------------------------------------------------------------------------


class Server:
    """A server command in its own process group, with its log in a file."""

    def __init__(self, cmd: list[str], *, cwd: Path, env: dict[str, str], ready: str) -> None:
        self.log_path = cwd / "server.log"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log_path.open("w"),
            start_new_session=True,
        )
        self.cold_start_s = self._wait(ready)

    def _wait(self, url: str, timeout: float = 120) -> float:
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise H.BenchError(f"the server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.01)
        raise H.BenchError(f"{url} did not answer within {timeout} s")

    def rss_mib(self) -> float:
        """Resident memory of the server's process tree."""
        total, pending = 0, [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            total += next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
            )
            pending += [int(child) for child in children]
        return total / 1024

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


# --- the client ----------------------------------------------------------------------------


def bodies(rows: int, count: int, seed: int) -> list[bytes]:
    import numpy as np

    X = training_data()[0].to_numpy()
    rng = np.random.default_rng(seed)
    return [
        json.dumps(
            {
                "dataframe_split": {
                    "columns": FEATURES,
                    "data": X[rng.integers(0, len(X), rows)].round(6).tolist(),
                }
            }
        ).encode()
        for _ in range(count)
    ]


async def hammer(url: str, payloads: list[bytes], rows: int, concurrency: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    queue = iter(payloads)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=120, trust_env=False) as client:

        async def worker() -> None:
            for payload in queue:
                started = time.perf_counter()
                try:
                    answer = await client.post(url, content=payload, headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                elapsed = time.perf_counter() - started
                if answer.status_code != 200:
                    errors.append(f"{answer.status_code}: {answer.text[:200]}")
                elif len(answer.json()["predictions"]) != rows:
                    errors.append("wrong number of predictions")
                else:
                    latencies.append(elapsed)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    if errors:
        raise H.BenchError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    latencies.sort()
    return {
        "client": "httpx",
        "requests": len(latencies),
        "wall_s": H.rnd(wall),
        "req_per_s": round(len(latencies) / wall, 1),
        "rows_per_s": round(len(latencies) * rows / wall, 1),
        "p50_ms": H.rnd(latencies[len(latencies) // 2] * 1000, 3),
        "p99_ms": H.rnd(latencies[int(len(latencies) * 0.99)] * 1000, 3),
    }


_WRK_SCRIPT = """
local bodies, i = {}, 0
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def hammer_wrk(
    url: str, payloads: list[bytes], rows: int, concurrency: int, seconds: float
) -> dict[str, Any]:
    """The load from wrk (one thread, ``concurrency`` connections) for ``seconds``, after
    checking a few answers with httpx; wrk itself only counts non-2xx answers."""
    asyncio.run(hammer(url, payloads[:concurrency], rows, concurrency))
    folder = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    try:
        (folder / "bodies").write_bytes(b"\n".join(payloads) + b"\n")
        (folder / "post.lua").write_text(_WRK_SCRIPT)
        cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency"]
        output = subprocess.run(
            [*cmd, "-s", str(folder / "post.lua"), url],
            env={**os.environ, "BENCH_BODIES": str(folder / "bodies")},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if "Non-2xx" in output or "Socket errors" in output:
        raise H.BenchError(f"wrk saw failed requests:\n{output}")
    latency = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            number = float(parts[1].rstrip("usm"))
            unit = parts[1][len(parts[1].rstrip("usm")) :]
            latency[parts[0]] = number * _UNITS[unit]
    rate = float(output.split("Requests/sec:")[1].split()[0])
    requests = int(output.split(" requests in ")[0].split()[-1])
    return {
        "client": "wrk",
        "requests": requests,
        "req_per_s": round(rate, 1),
        "rows_per_s": round(rate * rows, 1),
        "p50_ms": H.rnd(latency["50%"], 3),
        "p99_ms": H.rnd(latency["99%"], 3),
    }


def measure(server: Server, url: str, args: argparse.Namespace) -> dict[str, Any]:
    rss_ready = server.rss_mib()
    asyncio.run(hammer(url, bodies(1, 20, 3), 1, 1))
    if args.client == "wrk":
        single = hammer_wrk(url, bodies(1, 500, 1), 1, args.concurrency, args.seconds)
        batch = hammer_wrk(
            url, bodies(args.batch_rows, 50, 2), args.batch_rows, args.concurrency, args.seconds
        )
    else:
        single = asyncio.run(hammer(url, bodies(1, args.single, 1), 1, args.concurrency))
        batch = asyncio.run(
            hammer(url, bodies(args.batch_rows, args.batches, 2), args.batch_rows, args.concurrency)
        )
    return {
        "cold_start_s": H.rnd(server.cold_start_s, 3),
        "rss_ready_mib": round(rss_ready, 1),
        "rss_mib": round(server.rss_mib(), 1),
        "single": single,
        "batch": batch,
    }


def run_shipyard(folder: Path, args: argparse.Namespace, *, log_predictions: bool) -> dict:
    root = shipyard_project(folder, log_predictions=log_predictions)
    port = _free_port()
    cmd = [sys.executable, "-m", "shipyard", "serve", "models:/churn@champion"]
    server = Server(
        [*cmd, "--port", str(port), "--log-level", "warning"],
        cwd=root,
        env=H.shipyard_env(),
        ready=f"http://127.0.0.1:{port}/ready",
    )
    try:
        return measure(server, f"http://127.0.0.1:{port}/v1/models/churn/predict", args)
    finally:
        server.stop()


def run_mlflow(folder: Path, args: argparse.Namespace, python: Path) -> dict:
    prepared = H.run_json([python, Path(__file__).resolve(), "--worker", str(folder)])
    port = _free_port()
    env = H.telemetry_off_env()
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [str(python.parent / "mlflow"), "models", "serve", "-m", str(folder / "model")]
    server = Server(
        [*cmd, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        cwd=folder,
        env=env,
        ready=f"http://127.0.0.1:{port}/ping",
    )
    try:
        return {**measure(server, f"http://127.0.0.1:{port}/invocations", args), **prepared}
    finally:
        server.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--single", type=int, default=2000, help="single-row requests")
    ap.add_argument("--batches", type=int, default=200, help="requests of --batch-rows rows")
    ap.add_argument("--batch-rows", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    ap.add_argument(
        "--client",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator: wrk (C, when installed; apt install wrk) or Python's httpx, "
        "which spends more CPU per request than either server and so caps both",
    )
    ap.add_argument("--seconds", type=float, default=5, help="duration of each wrk load")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of every side")
    ap.add_argument("--no-peer", action="store_true", help="measure Shipyard alone")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        mlflow_model(Path(args.worker))
        return

    clock, out = H.CpuClock(), H.result_stream()
    folder = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    peer_python = None if args.no_peer else H.peers_python()
    sides = {
        "shipyard": lambda: run_shipyard(_fresh(folder), args, log_predictions=True),
        "unlogged": lambda: run_shipyard(_fresh(folder), args, log_predictions=False),
    }
    if peer_python is not None:
        sides["mlflow"] = lambda: run_mlflow(_fresh(folder), args, peer_python)
    try:
        rounds = H.alternate(sides, args.rounds, label="serving")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ours, unlogged = _median(rounds["shipyard"]), _median(rounds["unlogged"])
    peer = _median(rounds["mlflow"]) if "mlflow" in rounds else None
    results: dict[str, Any] = {
        "params": vars(args),
        "shipyard": ours,
        "shipyard_without_log": unlogged,
        "peer": peer,
        "figures": figures(ours, unlogged, peer),
    }
    if peer is None:
        results["peer_note"] = "--no-peer given" if args.no_peer else H.peers_missing_note()
    H.emit(out, "serving", results, clock=clock, peer_versions=peer and peer.pop("versions"))


def _fresh(folder: Path) -> Path:
    """A new empty folder for one server's project or model."""
    return Path(tempfile.mkdtemp(dir=folder))


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number over the rounds (other values from the first round)."""
    merged: dict[str, Any] = {}
    for key, first in results[0].items():
        values = [result[key] for result in results]
        if isinstance(first, dict):
            merged[key] = _median(values)
        elif isinstance(first, int | float) and not isinstance(first, bool):
            merged[key] = H.rnd(H.median(values), 4)
        else:
            merged[key] = first
    return merged


def figures(ours: dict, unlogged: dict, peer: dict | None) -> list[dict[str, Any]]:
    """Times only (lower is better): throughput enters as wall time per request / row."""

    def get(side: dict | None, *keys: str) -> Any:
        for key in keys:
            side = None if side is None else side[key]
        return side

    def per_request_ms(side: dict | None) -> float | None:
        rate = get(side, "single", "req_per_s")
        return H.rnd(1000 / rate, 4) if rate else None

    def per_1000_rows_ms(side: dict | None) -> float | None:
        rate = get(side, "batch", "rows_per_s")
        return H.rnd(1000 * 1000 / rate, 3) if rate else None

    logged, plain = ours["single"]["req_per_s"], unlogged["single"]["req_per_s"]
    return [
        H.figure(
            "single-row requests, 8 in flight: wall time per request (1/throughput)",
            "ms",
            ours=per_request_ms(ours),
            peer=per_request_ms(peer),
            peer_label="mlflow models serve",
            max_ours=H.rnd(1000 / 1500, 4),
            min_ratio=5,
        ),
        H.figure(
            "single-row requests: p50 latency",
            "ms",
            ours=get(ours, "single", "p50_ms"),
            peer=get(peer, "single", "p50_ms"),
            peer_label="mlflow models serve",
            max_ours=3,
        ),
        H.figure(
            "1,000-row requests, 8 in flight: wall time per 1,000 rows (1/throughput)",
            "ms",
            ours=per_1000_rows_ms(ours),
            peer=per_1000_rows_ms(peer),
            peer_label="mlflow models serve",
            min_ratio=3,
        ),
        H.figure(
            "1,000-row requests: p50 latency",
            "ms",
            ours=get(ours, "batch", "p50_ms"),
            peer=get(peer, "batch", "p50_ms"),
            peer_label="mlflow models serve",
            max_ours=20,
        ),
        H.figure(
            "cold start to ready",
            "s",
            ours=ours["cold_start_s"],
            peer=get(peer, "cold_start_s"),
            peer_label="mlflow models serve",
            max_ours=2,
        ),
        H.figure(
            "resident memory of the server after the load",
            "MiB",
            ours=ours["rss_mib"],
            peer=get(peer, "rss_mib"),
            peer_label="mlflow models serve",
            max_ours=250,
        ),
        H.figure(
            "single-row throughput lost to the prediction log",
            "%",
            ours=H.rnd(max(0.0, (plain - logged) / plain * 100), 1),
            max_ours=10,
        ),
    ]


if __name__ == "__main__":
    main()
