"""Metric points of a run, and the latest value per key (what runs are filtered by).

Values are kept faithfully on both engines: NaN is stored as NULL with ``is_nan`` set,
±inf and -0.0 as they are. Steps are 64-bit integers.

>>> log_batch(conn, run_id, [MetricPoint("val/loss", 0.31, step=1)])  # doctest: +SKIP
>>> latest(conn, run_id)  # doctest: +SKIP
{'val/loss': 0.31}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, or_, select

from shipyard.metadata._portable import execute_many, from_db_time, insert, now, to_db_time
from shipyard.metadata._schema import latest_metrics, metrics

__all__ = ["MetricPoint", "history", "latest", "latest_of", "log_batch"]

_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp", "node")
_LATEST_COLUMNS = _COLUMNS[:6]  # zip() stops there: latest_metrics has no node


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One logged value of a metric. ``timestamp`` None means the time it is written."""

    key: str
    value: float
    step: int = 0
    timestamp: datetime | None = None
    node: str | None = None


def log_batch(conn: Connection, run_id: str, points: Sequence[MetricPoint]) -> None:
    """Write points in one executemany, and move each key's latest value forward.

    The latest value of a key is the point with the greatest step, then the latest
    timestamp (a later write wins a tie), across this batch and what is stored.
    """
    if not points:
        return
    written_at = now()
    rows = [_row(run_id, point, written_at) for point in points]
    execute_many(conn, metrics.insert(), metrics, rows, keys=_COLUMNS)
    newest: dict[str, tuple] = {}
    for row in rows:  # (step, timestamp) of a row: row[4:6]
        best = newest.get(row[1])
        if best is None or row[4:6] >= best[4:6]:
            newest[row[1]] = row
    upsert = insert(conn, latest_metrics)
    stored = latest_metrics.c
    upsert = upsert.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={
            "value": upsert.excluded.value,
            "is_nan": upsert.excluded.is_nan,
            "step": upsert.excluded.step,
            "timestamp": upsert.excluded.timestamp,
        },
        where=or_(
            upsert.excluded.step > stored.step,
            and_(
                upsert.excluded.step == stored.step, upsert.excluded.timestamp >= stored.timestamp
            ),
        ),
    )
    # Sorted keys: concurrent writers lock the rows in the same order (no deadlock).
    conn.execute(
        upsert,
        [dict(zip(_LATEST_COLUMNS, row, strict=False)) for _, row in sorted(newest.items())],
    )


def history(conn: Connection, run_id: str, key: str) -> list[MetricPoint]:
    """Every point of one metric of a run, by step then time."""
    rows = conn.execute(
        select(
            metrics.c.key,
            metrics.c.value,
            metrics.c.is_nan,
            metrics.c.step,
            metrics.c.timestamp,
            metrics.c.node,
        )
        .where(metrics.c.run_id == run_id, metrics.c.key == key)
        .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
    )
    return [
        MetricPoint(
            key=row.key,
            value=_value(row.value, row.is_nan),
            step=row.step,
            timestamp=from_db_time(row.timestamp),
            node=row.node,
        )
        for row in rows
    ]


def latest(conn: Connection, run_id: str) -> dict[str, float]:
    """The latest value of each metric of a run, by key."""
    rows = conn.execute(
        select(latest_metrics.c.key, latest_metrics.c.value, latest_metrics.c.is_nan)
        .where(latest_metrics.c.run_id == run_id)
        .order_by(latest_metrics.c.key)
    )
    return {row.key: _value(row.value, row.is_nan) for row in rows}


def _row(run_id: str, point: MetricPoint, written_at: datetime) -> tuple:
    """A point as the values of :data:`_COLUMNS` (tuples, not dicts: a batch holds
    thousands, and each object made is work for the garbage collector too)."""
    value = float(point.value)
    is_nan = math.isnan(value)
    timestamp = written_at if point.timestamp is None else to_db_time(point.timestamp)
    return (
        run_id,
        point.key,
        None if is_nan else value,
        is_nan,
        int(point.step),
        timestamp,
        point.node,
    )


def latest_of(conn: Connection, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
    """:func:`latest` for many runs in one query: run id -> key -> value (a run without
    metrics maps to an empty dict)."""
    found: dict[str, dict[str, float]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return found
    rows = conn.execute(
        select(
            latest_metrics.c.run_id,
            latest_metrics.c.key,
            latest_metrics.c.value,
            latest_metrics.c.is_nan,
        )
        .where(latest_metrics.c.run_id.in_(list(run_ids)))
        .order_by(latest_metrics.c.run_id, latest_metrics.c.key)
    )
    for row in rows:
        found[row.run_id][row.key] = _value(row.value, row.is_nan)
    return found


def _value(value: float | None, is_nan: bool) -> float:
    if is_nan or value is None:
        return math.nan
    return float(value)
