"""Loading a registered model: Shipyard's ``models:/churn@champion`` against MLflow's.

The same model on both sides: a scikit-learn RandomForestClassifier (40 trees, depth 8,
on 5,000 rows of 12 features, seed 0), about 1 MB stored. Each side registers it in a
fresh SQLite store in a temp folder and points the alias ``champion`` at it:

  shipyard: ``ModelRegistry.register`` + ``promote``; timed ``registry.load(
            "models:/churn@champion")``: resolve the alias, compare the checked-out package
            with the registered tree, verify every file's digest and scan it for pickles,
            then load it with skops under the allow-list.
  mlflow:   ``mlflow.sklearn.log_model(registered_model_name="churn")`` + alias; timed
            ``mlflow.pyfunc.load_model("models:/churn@champion")``.

Warm: imports done and one untimed load first (page cache, checked-out packages); the
figure is the median of ``--loads`` loads, each checked by predicting the same 100 rows.
Each side runs in its own process per round (``--worker mlflow`` in the peers venv, which
needs mlflow and scikit-learn); rounds alternate the order. Target: <= 100 ms warm.

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

DISTS = ("mlflow", "scikit-learn")


def training_data() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(5000, 12)), columns=[f"f{i}" for i in range(12)])
    y = (X["f0"] + X["f1"] * X["f2"] + rng.normal(scale=0.5, size=5000) > 0).astype(int)
    return X, y


def trained_model() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    X, y = training_data()
    return RandomForestClassifier(n_estimators=40, max_depth=8, random_state=0).fit(X, y)


def timed_loads(load: Any, loads: int) -> tuple[list[float], Any]:
    X = training_data()[0].head(100)
    expected = load().predict(X)  # warm-up: page cache, checkouts
    times = []
    for _ in range(loads):
        t0 = time.perf_counter()
        model = load()
        times.append(time.perf_counter() - t0)
        if list(model.predict(X)) != list(expected):
            raise H.BenchError("a loaded model predicted differently")
    return times, expected


def shipyard_side(folder: Path, loads: int) -> dict[str, Any]:
    from shipyard.metadata import MetadataStore
    from shipyard.models import ModelRegistry, package
    from shipyard.objects import ObjectStore, VersionIndex

    registry = ModelRegistry(
        MetadataStore.open(f"sqlite:///{folder / 'shipyard.db'}"),
        ObjectStore(folder / "objects"),
        VersionIndex(folder / "versions.db"),
        cache=folder / "models",
        user="bench",
    )
    X = training_data()[0]
    package(trained_model(), example=X.head()).save(folder / "package")
    size = sum(p.stat().st_size for p in (folder / "package").rglob("*") if p.is_file())
    record = registry.register("churn", folder / "package")
    registry.promote("churn", record.version, "champion")
    times, _ = timed_loads(lambda: registry.load("models:/churn@champion"), loads)
    return {"load_s": H.median(times), "size_bytes": size, "versions": H.versions("shipyard")}


def mlflow_side(folder: Path, loads: int) -> dict[str, Any]:
    os.environ.update(H.TELEMETRY_OFF)
    os.chdir(folder)
    import logging

    import mlflow
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    X = training_data()[0]
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            trained_model(),
            name="model",
            registered_model_name="churn",
            input_example=X.head(),
            # MLflow 3 also stores sklearn models with skops, and asks for trees explicitly
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
    client = MlflowClient()
    version = client.get_latest_versions("churn")[0].version
    client.set_registered_model_alias("churn", "champion", version)
    size = sum(p.stat().st_size for p in folder.rglob("model.*") if p.is_file())
    times, _ = timed_loads(lambda: mlflow.pyfunc.load_model("models:/churn@champion"), loads)
    return {"load_s": H.median(times), "size_bytes": size, "versions": H.versions(*DISTS)}


def worker(args: argparse.Namespace) -> None:
    side = shipyard_side if args.worker == "shipyard" else mlflow_side
    H.measure_in_temp_folder(
        f"bench-model-load-{args.worker}-", lambda folder: side(folder, args.loads)
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of both sides")
    ap.add_argument("--loads", type=int, default=20, help="timed loads per round and side")
    ap.add_argument("--no-peer", action="store_true", help="measure Shipyard alone")
    ap.add_argument("--worker", choices=("shipyard", "mlflow"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    clock, out = H.CpuClock(), H.result_stream()
    this = Path(__file__).resolve()
    sizes = ["--loads", args.loads]
    sides = {
        "shipyard": lambda: H.run_json(
            [sys.executable, this, "--worker", "shipyard", *sizes], env=H.shipyard_env()
        )
    }
    peer_python = None if args.no_peer else H.peers_python()
    if peer_python is not None:
        peer_cmd = [peer_python, this, "--worker", "mlflow", *sizes]
        sides["mlflow"] = lambda: H.run_json(peer_cmd)
    rounds = H.alternate(sides, args.rounds, label="model_load")
    ours_s = H.median(r["load_s"] for r in rounds["shipyard"])
    peer_s = H.median(r["load_s"] for r in rounds["mlflow"]) if "mlflow" in rounds else None
    size_mb = rounds["shipyard"][0]["size_bytes"] / 1e6
    results: dict[str, Any] = {
        "params": vars(args),
        "shipyard": {"load_ms": H.rnd(ours_s * 1000, 2), "package_mb": H.rnd(size_mb, 2)},
        "peer": {"load_ms": H.rnd(peer_s * 1000, 2)} if peer_s is not None else None,
        "figures": [
            H.figure(
                f"load models:/churn@champion warm, sklearn {size_mb:.1f} MB, digests verified",
                "ms",
                ours=H.rnd(ours_s * 1000, 2),
                peer=H.rnd(peer_s * 1000, 2) if peer_s is not None else None,
                peer_label="mlflow.pyfunc.load_model",
                max_ours=100.0,
            )
        ],
    }
    if peer_s is None:
        results["peer_note"] = "--no-peer given" if args.no_peer else H.peers_missing_note()
    peer_versions = rounds["mlflow"][0]["versions"] if "mlflow" in rounds else None
    H.emit(out, "model_load", results, clock=clock, peer_versions=peer_versions)


if __name__ == "__main__":
    main()
