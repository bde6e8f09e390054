"""The metadata store: experiments, runs, params, metrics, artifacts, lineage, environments,
the model registry, and monitoring windows with the actions they set off.

One schema (:mod:`shipyard.metadata.schema`) on SQLite by default or PostgreSQL for teams,
migrated by Alembic, and small repository modules of plain functions over a Connection::

    from shipyard.metadata import MetadataStore, metrics, runs

    store = MetadataStore.open(project_root=Path("."))
    with store.begin() as conn:
        metrics.log_batch(conn, run_id, [metrics.MetricPoint("loss", 0.3, step=1)])
        best = runs.search(conn, where="metrics.auc > 0.8", sort="-metrics.auc", limit=5)
"""

from __future__ import annotations

from shipyard.metadata import _schema as schema
from shipyard.metadata import (
    artifacts,
    environments,
    experiments,
    lineage,
    metrics,
    monitoring,
    nodes,
    params,
    registry,
    runs,
)
from shipyard.metadata._store import DB_ENV_VARIABLE, MetadataStore

__all__ = [
    "DB_ENV_VARIABLE",
    "MetadataStore",
    "artifacts",
    "environments",
    "experiments",
    "lineage",
    "metrics",
    "monitoring",
    "nodes",
    "params",
    "registry",
    "runs",
    "schema",
]
