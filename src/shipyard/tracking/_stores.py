"""The metadata stores this process tracks into, each opened once, with its batch writer.

Opening a store checks (and for SQLite, upgrades) its schema: worth doing once per
process, not once per run. The store is the one ``$SHIPYARD_DB`` names, else the
project's SQLite file.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.tracking._writer import BatchWriter

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shipyard.metadata import MetadataStore

__all__ = ["DB_VARIABLE", "Tracking", "tracking_for"]

DB_VARIABLE = "SHIPYARD_DB"


class Tracking:
    """A store and the writer that batches records into it."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.writer = BatchWriter(store, _write_batch)
        #: Environment ids and experiment ids (by name) known to be in the store.
        self.environments: set[str] = set()
        self.experiments: dict[str, str] = {}


_opened: dict[str, Tracking] = {}
_lock = threading.Lock()


def tracking_for(project_root: Path | None) -> Tracking | None:
    """The store runs of ``project_root`` are tracked in, or None when there is none to
    use (no ``$SHIPYARD_DB`` and no project). An unreachable store raises MetadataError."""
    url = os.environ.get(DB_VARIABLE) or None
    if url is None and project_root is None:
        return None
    key = url or str(Path(project_root).resolve())  # type: ignore[arg-type]
    with _lock:
        tracking = _opened.get(key)
        if tracking is None or (url is None and not _sqlite_file(project_root).exists()):
            # first use, or the project's database was deleted since: open it afresh
            from shipyard.metadata import MetadataStore

            store = MetadataStore.open(url, project_root=project_root)
            tracking = _opened[key] = Tracking(store)
        return tracking


def _sqlite_file(project_root: Path | None) -> Path:
    return Path(project_root or ".") / ".shipyard" / "shipyard.db"


def _write_batch(conn: Connection, kind: str, run_id: str, items: list[Any]) -> None:
    from shipyard.metadata import lineage, metrics, nodes

    if kind == "metric":  # (key, value, step, time.time(), node) tuples
        points = [
            metrics.MetricPoint(key, value, step, _time(moment), node)
            for key, value, step, moment, node in items
        ]
        metrics.log_batch(conn, run_id, points)
    elif kind == "node":  # (node, status, started, ended, duration_s, fingerprint, error)
        node_runs = [
            nodes.NodeRun(
                run_id,
                node,
                status,
                _time(started),
                _time(ended),
                duration_s,
                status == "cached",
                fingerprint,
                error,
            )
            for node, status, started, ended, duration_s, fingerprint, error in items
        ]
        nodes.record(conn, node_runs)
    elif kind == "edge":  # (node, dataset, version_id, digest, direction)
        lineage.add(conn, [lineage.Edge(run_id, *edge) for edge in items])
    else:  # a programming error, not a user's
        raise ValueError(f"unknown tracking record kind {kind!r}")


def _time(moment: float | None) -> datetime | None:
    return datetime.fromtimestamp(moment, UTC) if moment is not None else None
