"""Node executions of a run: status, times, cache hit, fingerprint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Connection, select

from shipyard.metadata._portable import execute_many, from_db_time, insert, to_db_time
from shipyard.metadata._schema import node_runs

__all__ = ["NodeRun", "of_run", "record"]


class NodeRun(NamedTuple):
    """One node of a run. ``status`` is finished, failed or cached.

    A named tuple, not a dataclass: a 1,000-node run records 1,000 of them at its end,
    and a tuple in column order goes to the database driver as it is.
    """

    run_id: str
    node: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    cache_hit: bool
    fingerprint: str | None
    error: str | None


_COLUMNS = [node_runs.c[name] for name in NodeRun._fields]
_UPDATED = [name for name in NodeRun._fields if name not in ("run_id", "node")]


def record(conn: Connection, node_runs_: Sequence[NodeRun]) -> None:
    """Record node executions; a node recorded again for the same run is replaced."""
    if not node_runs_:
        return
    upsert = insert(conn, node_runs)
    upsert = upsert.on_conflict_do_update(
        index_elements=["run_id", "node"],
        set_={name: upsert.excluded[name] for name in _UPDATED},
    )
    rows = [
        item
        if _stored_as_is(item)
        else item._replace(
            started_at=to_db_time(item.started_at), ended_at=to_db_time(item.ended_at)
        )
        for item in node_runs_
    ]
    execute_many(conn, upsert, node_runs, rows, keys=NodeRun._fields)


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


def _stored_as_is(item: NodeRun) -> bool:
    """Whether the item's times are already stored as they are (UTC or missing)."""
    return (item.started_at is None or item.started_at.tzinfo is UTC) and (
        item.ended_at is None or item.ended_at.tzinfo is UTC
    )
