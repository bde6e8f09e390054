"""Node executions of a run: status, times, cache hit, fingerprint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Connection, select

from shipyard.metadata._portable import execute_many, from_db_time, insert, to_db_time
from shipyard.metadata._schema import node_runs

__all__ = ["NodeRun", "of_run", "record"]


@dataclass(frozen=True)
class NodeRun:
    """One node of a run. ``status`` is finished, failed or cached."""

    run_id: str
    node: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    cache_hit: bool
    fingerprint: str | None
    error: str | None


_FIELDS = tuple(item.name for item in fields(NodeRun))
_COLUMNS = [node_runs.c[name] for name in _FIELDS]
_UPDATED = [item.name for item in fields(NodeRun) if item.name not in ("run_id", "node")]


def record(conn: Connection, node_runs_: Sequence[NodeRun]) -> None:
    """Record node executions; a node recorded again for the same run is replaced."""
    if not node_runs_:
        return
    upsert = insert(conn, node_runs)
    upsert = upsert.on_conflict_do_update(
        index_elements=["run_id", "node"],
        set_={name: upsert.excluded[name] for name in _UPDATED},
    )
    execute_many(conn, upsert, node_runs, [_values(item) for item in node_runs_])


def of_run(conn: Connection, run_id: str) -> list[NodeRun]:
    """A run's nodes in the order they started."""
    rows = conn.execute(
        select(*_COLUMNS)
        .where(node_runs.c.run_id == run_id)
        .order_by(node_runs.c.started_at, node_runs.c.node)
    )
    return [
        NodeRun(
            **{
                **row._asdict(),
                "started_at": from_db_time(row.started_at),
                "ended_at": from_db_time(row.ended_at),
            }
        )
        for row in rows
    ]


def _values(node_run: NodeRun) -> dict:
    # Not dataclasses.asdict: it deep-copies every field, 60 µs a row.
    values = {name: getattr(node_run, name) for name in _FIELDS}
    values["started_at"] = to_db_time(node_run.started_at)
    values["ended_at"] = to_db_time(node_run.ended_at)
    return values
