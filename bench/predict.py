"""Batch prediction: ``shipyard predict`` on a Parquet file against MLflow's pyfunc on pandas.

The same data and model on both sides: 1,000,000 rows of 20 float64 features (seed 0),
written by pandas as Parquet (about 165 MB), and a scikit-learn LogisticRegression fitted
on 20,000 of them, registered with the alias ``champion`` in a fresh store in a temp folder.

  shipyard: ``predict_file("models:/churn@champion", input, output)`` in a project made
            from the template; timed: the prediction pass it reports (stream the input
            in chunks of 100,000 rows, check each against the signature, predict, write
            the input's columns + prediction + request_id/row/model_version to a temp
            Parquet file, rename it into place), and the whole call (resolving and
            loading the model, hashing input and output, recording the run and lineage).
  mlflow:   ``mlflow.pyfunc.load_model("models:/churn@champion")`` once; timed:
            ``pandas.read_parquet`` + ``model.predict`` (schema enforcement included) +
            the same added columns + ``DataFrame.to_parquet``.

Warm: each side predicts once untimed in its process first; the figures are medians of
``--repeats`` passes per round, each side in its own process per round, rounds
alternating the order. Target: the shipyard pass <= 2 s (>= 500,000 rows/s).

Prints one JSON line; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import _harness as H

DISTS = ("mlflow", "scikit-learn", "pyarrow", "pandas")
FEATURES = 20
TRAIN_ROWS = 20_000


def write_input(folder: Path, rows: int) -> tuple[Path, Any, Any]:
    """The input file, and the training rows and labels (the first TRAIN_ROWS)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(rows, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
    path = folder / "new_customers.parquet"
    X.to_parquet(path)
    train = X.head(TRAIN_ROWS)
    labels = (train["f0"] + train["f1"] * train["f2"] > 0).astype(int)
    return path, train, labels


def trained_model(train: Any, labels: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=500).fit(train, labels)


def shipyard_side(folder: Path, rows: int, repeats: int) -> dict[str, Any]:
    from shipyard.lab import create_project
    from shipyard.models import ModelRegistry, package
    from shipyard.serving._batch import predict_file

    root = create_project(folder / "shop", example=False, init_git=False).path
    path, train, labels = write_input(root, rows)
    package(trained_model(train, labels), example=train.head()).save(root / "package")
    registry = ModelRegistry.for_project(root)
    registry.register("churn", root / "package")
    registry.promote("churn", 1, "champion")

    def call() -> tuple[float, float]:
        t0 = time.perf_counter()
        result = predict_file(
            "models:/churn@champion", path, root / "scored.parquet", project=root, progress=False
        )
        if result.rows != rows:
            raise H.BenchError(f"predicted {result.rows} rows, not {rows}")
        return result.seconds, time.perf_counter() - t0

    call()  # warm-up: imports, the model's checkout, the stat cache
    timed = [call() for _ in range(repeats)]
    return {
        "pass_s": H.median(t[0] for t in timed),
        "call_s": H.median(t[1] for t in timed),
        "output_bytes": (root / "scored.parquet").stat().st_size,
        "versions": H.versions("shipyard", *DISTS[1:]),
    }


def mlflow_side(folder: Path, rows: int, repeats: int) -> dict[str, Any]:
    os.environ.update(H.TELEMETRY_OFF)
    os.chdir(folder)
    import logging
    import uuid

    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    path, train, labels = write_input(folder, rows)
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            trained_model(train, labels),
            name="model",
            registered_model_name="churn",
            input_example=train.head(),
        )
    client = MlflowClient()
    version = int(client.get_latest_versions("churn")[0].version)
    client.set_registered_model_alias("churn", "champion", str(version))
    model = mlflow.pyfunc.load_model("models:/churn@champion")
    output = folder / "scored.parquet"

    def one_pass() -> float:
        t0 = time.perf_counter()
        frame = pd.read_parquet(path)
        frame["prediction"] = model.predict(frame)
        frame["request_id"] = uuid.uuid4().hex
        frame["row"] = np.arange(len(frame))
        frame["model_version"] = version
        frame.to_parquet(output)
        return time.perf_counter() - t0

    one_pass()  # warm-up
    times = [one_pass() for _ in range(repeats)]
    return {"pass_s": H.median(times), "versions": H.versions(*DISTS)}


def worker(args: argparse.Namespace) -> None:
    side = shipyard_side if args.worker == "shipyard" else mlflow_side
    H.measure_in_temp_folder(
        f"bench-predict-{args.worker}-", lambda folder: side(folder, args.rows, args.repeats)
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of both sides")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes per round and side")
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the input file")
    ap.add_argument("--no-peer", action="store_true", help="measure Shipyard alone")
    ap.add_argument("--worker", choices=("shipyard", "mlflow"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    clock, out = H.CpuClock(), H.result_stream()
    this = Path(__file__).resolve()
    sizes = ["--rows", args.rows, "--repeats", args.repeats]
    sides = {
        "shipyard": lambda: H.run_json(
            [sys.executable, this, "--worker", "shipyard", *sizes], env=H.shipyard_env()
        )
    }
    peer_python = None if args.no_peer else H.peers_python()
    if peer_python is not None:
        peer_cmd = [peer_python, this, "--worker", "mlflow", *sizes]
        sides["mlflow"] = lambda: H.run_json(peer_cmd)
    rounds = H.alternate(sides, args.rounds, label="predict")
    ours_s = H.median(r["pass_s"] for r in rounds["shipyard"])
    call_s = H.median(r["call_s"] for r in rounds["shipyard"])
    peer_s = H.median(r["pass_s"] for r in rounds["mlflow"]) if "mlflow" in rounds else None
    millions = args.rows / 1e6
    # The target is a throughput: 500,000 rows/s is 2 s per million rows.
    target_s = 2.0 * millions
    results: dict[str, Any] = {
        "params": vars(args),
        "shipyard": {
            "pass_s": H.rnd(ours_s, 3),
            "rows_per_s": round(args.rows / ours_s),
            "call_s": H.rnd(call_s, 3),
            "output_mb": H.rnd(rounds["shipyard"][0]["output_bytes"] / 1e6, 1),
        },
        "peer": (
            {"pass_s": H.rnd(peer_s, 3), "rows_per_s": round(args.rows / peer_s)}
            if peer_s is not None
            else None
        ),
        "figures": [
            H.figure(
                f"predict {millions:g}M rows x {FEATURES} floats, LogisticRegression, Parquet "
                "in/out: read + validate + predict + write (target >= 500k rows/s)",
                "s",
                ours=H.rnd(ours_s, 3),
                peer=H.rnd(peer_s, 3) if peer_s is not None else None,
                peer_label="pandas + mlflow.pyfunc predict",
                max_ours=target_s,
            ),
            H.figure(
                "the whole predict_file call, warm: + model load, hashing, run and lineage",
                "s",
                ours=H.rnd(call_s, 3),
            ),
        ],
    }
    if peer_s is None:
        results["peer_note"] = "--no-peer given" if args.no_peer else H.peers_missing_note()
    peer_versions = rounds["mlflow"][0]["versions"] if "mlflow" in rounds else None
    H.emit(out, "predict", results, clock=clock, peer_versions=peer_versions)


if __name__ == "__main__":
    main()
