"""Node cache: re-running an unchanged three-pipeline project.

A generated project with three pipelines (ingest -> features -> training, 8 nodes, every
output a versioned Parquet or pickle file) is run once, then again unchanged. Target: the
second run restores every node from the node cache and takes at most 10% of the first
run's time. Figures, each the median of ``--rounds`` fresh projects:

- the first run and the cached rerun, as ``shipyard run`` reports them (the run itself:
  fingerprints, restores, version records, and opening the tracking store), and the sum
  of the rerun's per-node restore times from its progress lines (the cache's own work),
- the same two as whole commands (process start, imports of pandas and scikit-learn,
  config and catalog), which is what a user waits for.

No peer: Kedro has no node cache; DVC's ``dvc repro`` caches stages but needs the
pipeline written again as dvc.yaml, so it is not the same workload.

Usage: .venv/bin/python bench/cache_rerun.py [--rows 400000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import _harness as H

CATALOG = """
_parquet: &parquet
  type: parquet
  versioned: true
events_raw: {<<: *parquet, filepath: data/01_raw/events.parquet}
events_clean: {<<: *parquet, filepath: data/02_intermediate/events.parquet}
customer_features: {<<: *parquet, filepath: data/04_feature/customer_features.parquet}
category_mix: {<<: *parquet, filepath: data/04_feature/category_mix.parquet}
model_input: {<<: *parquet, filepath: data/05_model_input/model_input.parquet}
train_set: {<<: *parquet, filepath: data/05_model_input/train.parquet}
test_set: {<<: *parquet, filepath: data/05_model_input/test.parquet}
model: {type: pickle, filepath: data/06_models/model.pkl, trusted: true, versioned: true}
metrics: {type: metrics, filepath: data/08_reporting/metrics.json, versioned: true}
"""

PARAMETERS = """
ingest: {{rows: {rows}, customers: {customers}, seed: 7}}
split: {{test_size: 0.25, seed: 1}}
model: {{max_iter: 60, learning_rate: 0.1}}
"""

NODES = """
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score


def make_events(ingest):
    rng = np.random.default_rng(ingest["seed"])
    rows, customers = ingest["rows"], ingest["customers"]
    return pd.DataFrame({
        "customer": rng.integers(0, customers, rows),
        "amount": rng.gamma(2.0, 30.0, rows) - 5,
        "category": rng.choice(list("abcdefgh"), rows),
        "day": rng.integers(0, 365, rows),
    })


def clean_events(events):
    events = events[events["amount"] > 0].drop_duplicates()
    return events.sort_values(["customer", "day"]).reset_index(drop=True)


def customer_features(events):
    grouped = events.groupby("customer")
    frame = grouped["amount"].agg(["sum", "mean", "std", "count", "max"])
    frame["active_days"] = grouped["day"].nunique()
    frame["recency"] = 365 - grouped["day"].max()
    frame["trend"] = grouped["amount"].apply(lambda s: s.diff().mean())
    return frame.fillna(0).reset_index()


def category_mix(events):
    mix = events.pivot_table(index="customer", columns="category", values="amount",
                             aggfunc="sum", fill_value=0)
    mix = mix.div(mix.sum(axis=1), axis=0)
    mix.columns = [f"share_{c}" for c in mix.columns]
    return mix.reset_index()


def join_features(features, mix):
    frame = features.merge(mix, on="customer")
    frame["churned"] = ((frame["recency"] > 30) & (frame["count"] < frame["count"].median()))
    return frame.astype({"churned": int})


def split(frame, split):
    test = frame.sample(frac=split["test_size"], random_state=split["seed"])
    return frame.drop(test.index), test


def train(frame, model):
    features = frame.drop(columns=["customer", "churned", "recency"])
    clf = HistGradientBoostingClassifier(max_iter=model["max_iter"],
                                         learning_rate=model["learning_rate"], random_state=0)
    return clf.fit(features, frame["churned"])


def evaluate(clf, frame):
    features = frame.drop(columns=["customer", "churned", "recency"])
    scores = clf.predict_proba(features)[:, 1]
    return {"roc_auc": float(roc_auc_score(frame["churned"], scores)), "n": len(frame)}
"""

REGISTRY = """
from shipyard import node, pipeline

from bench_cache.nodes import (category_mix, clean_events, customer_features, evaluate,
                               join_features, make_events, split, train)


def register_pipelines():
    ingest = pipeline([
        node(make_events, "params:ingest", "events_raw", name="make_events"),
        node(clean_events, "events_raw", "events_clean", name="clean_events"),
    ])
    features = pipeline([
        node(customer_features, "events_clean", "customer_features", name="customer_features"),
        node(category_mix, "events_clean", "category_mix", name="category_mix"),
        node(join_features, ["customer_features", "category_mix"], "model_input",
             name="join_features"),
    ])
    training = pipeline([
        node(split, ["model_input", "params:split"], ["train_set", "test_set"], name="split"),
        node(train, ["train_set", "params:model"], "model", name="train"),
        node(evaluate, ["model", "test_set"], "metrics", name="evaluate"),
    ])
    everything = ingest + features + training
    return {"__default__": everything, "ingest": ingest, "features": features,
            "training": training}
"""

SUMMARY = re.compile(r"(\d+) nodes of '[^']+' in ([0-9.]+)s(?:, (\d+) from the node cache)?")
CACHED = re.compile(r"\] \S+ cached in ([0-9.]+)s")


def write_project(root: Path, rows: int) -> None:
    files = {
        "pyproject.toml": "[tool.shipyard]\npackage_name = 'bench_cache'\n",
        "conf/base/catalog.yml": CATALOG,
        "conf/base/parameters.yml": PARAMETERS.format(rows=rows, customers=max(rows // 40, 10)),
        "conf/local/.keep": "",
        "src/bench_cache/__init__.py": "",
        "src/bench_cache/nodes.py": NODES,
        "src/bench_cache/pipeline_registry.py": REGISTRY,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def shipyard_run(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """One ``shipyard run`` in a fresh process: its wall time, and the run's own time and
    node counts from its summary line."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "shipyard", "run"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    found = SUMMARY.search(" ".join(proc.stderr.split()))
    if proc.returncode != 0 or found is None:
        raise H.BenchError(f"shipyard run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    nodes, run_s, cached = found.groups()
    restores = sum(float(seconds) for seconds in CACHED.findall(proc.stderr))
    return {"wall_s": wall, "run_s": float(run_s), "nodes": int(nodes),
            "cached": int(cached or 0), "restore_s": restores}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=400_000, help="events generated")
    ap.add_argument("--rounds", type=int, default=3, help="fresh projects, each run twice")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    clock, out = H.CpuClock(), H.result_stream()
    env = H.shipyard_env()
    first, rerun = [], []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="cache-bench-") as tmp:
        for round_number in range(args.rounds):
            root = Path(tmp) / f"project-{round_number}"
            write_project(root, args.rows)
            first.append(shipyard_run(root, env))
            rerun.append(shipyard_run(root, env))
            H.log(f"[cache] round {round_number + 1}: first {first[-1]}, rerun {rerun[-1]}")
            shutil.rmtree(root)
    if any(r["cached"] != r["nodes"] for r in rerun):
        raise H.BenchError(f"the rerun was not all cache hits: {rerun}")

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return H.rnd(H.median(r[key] for r in runs))

    first_run, rerun_run = med(first, "run_s"), med(rerun, "run_s")
    restores = med(rerun, "restore_s")
    first_wall, rerun_wall = med(first, "wall_s"), med(rerun, "wall_s")
    figures = [
        H.figure("first run of 8 nodes (run time)", "s", ours=first_run),
        H.figure(
            "unchanged rerun, all 8 nodes cache hits (run time)",
            "s",
            ours=rerun_run,
            max_ours=round(first_run * 0.10, 3),
        ),
        H.figure(
            "of which the node cache's own work (fingerprints, restores)",
            "s",
            ours=restores,
            max_ours=round(first_run * 0.10, 3),
        ),
        H.figure("first run, whole `shipyard run` command", "s", ours=first_wall),
        H.figure("unchanged rerun, whole `shipyard run` command", "s", ours=rerun_wall),
    ]
    results = {
        "params": {"rows": args.rows, "rounds": args.rounds},
        "first": first,
        "rerun": rerun,
        "rerun_share_of_first_run": round(rerun_run / first_run, 4),
        "rerun_share_of_first_command": round(rerun_wall / first_wall, 4),
        "figures": figures,
    }
    H.emit(out, "cache_rerun", results, clock=clock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
