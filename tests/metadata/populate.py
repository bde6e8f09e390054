"""Many runs at once, written straight into the tables (for search tests and timings)."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shipyard.ids import new_id
from shipyard.metadata import MetadataStore, experiments, schema

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeRun:
    """What populate() wrote for one run, to compute expected search results in Python."""

    id: str
    pipeline: str
    status: str
    started_at: datetime
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)


def populate(
    store: MetadataStore, experiment: str, count: int, *, n_params: int = 3, n_metrics: int = 2
) -> list[FakeRun]:
    """``count`` runs with params p0.., metrics m0.. (auc first), a team tag; seeded."""
    rng = random.Random(count)
    made: list[FakeRun] = []
    with store.begin() as conn:
        experiment_id = experiments.get_or_create(conn, experiment)
        for index in range(count):
            run = FakeRun(
                id=new_id(),
                pipeline=rng.choice(["training", "scoring"]),
                status=rng.choice(["finished", "failed"]),
                started_at=T0 + timedelta(seconds=index),
            )
            run.params = {
                "C": rng.choice([0.5, 1, 2, 10, "auto"]),
                "kernel": rng.choice(["rbf", "linear"]),
            }
            run.params.update({f"p{i}": rng.randint(0, 100) for i in range(n_params - 2)})
            if rng.random() < 0.9:  # some runs have no auc at all
                run.metrics["auc"] = math.nan if rng.random() < 0.02 else rng.random()
            run.metrics.update({f"m{i}": rng.random() for i in range(n_metrics - 1)})
            run.tags = {"team": rng.choice(["ds", "ml"])}
            made.append(run)
        _insert(
            conn,
            schema.runs,
            [
                {
                    "id": r.id,
                    "experiment_id": experiment_id,
                    "pipeline": r.pipeline,
                    "status": r.status,
                    "started_at": r.started_at,
                }
                for r in made
            ],
        )
        _insert(
            conn,
            schema.params,
            [
                {"run_id": r.id, "key": k, "value": json.dumps(v)}
                for r in made
                for k, v in r.params.items()
            ],
        )
        _insert(
            conn,
            schema.latest_metrics,
            [
                {
                    "run_id": r.id,
                    "key": k,
                    "value": None if math.isnan(v) else v,
                    "is_nan": math.isnan(v),
                    "step": 0,
                    "timestamp": r.started_at,
                }
                for r in made
                for k, v in r.metrics.items()
            ],
        )
        _insert(
            conn,
            schema.run_tags,
            [{"run_id": r.id, "key": k, "value": v} for r in made for k, v in r.tags.items()],
        )
    return made


def _insert(conn, table, rows: list[dict], chunk: int = 5000) -> None:
    for start in range(0, len(rows), chunk):
        conn.execute(table.insert(), rows[start : start + chunk])
