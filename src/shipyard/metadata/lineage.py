"""Lineage edges: which run (and node) read or wrote which version of which dataset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, select

from shipyard.metadata._portable import insert
from shipyard.metadata._schema import dataset_versions

__all__ = ["Edge", "add", "of_run", "readers_of", "writers_of"]


@dataclass(frozen=True)
class Edge:
    """``direction`` is ``in`` (the run read the version) or ``out`` (it wrote it)."""

    run_id: str
    node: str | None
    dataset: str
    version_id: str
    digest: str
    direction: str


_COLUMNS = [dataset_versions.c[item.name] for item in fields(Edge)]


def add(conn: Connection, edges: Sequence[Edge]) -> None:
    """Record edges; an edge already recorded is ignored."""
    unique = list(dict.fromkeys(edges))
    # The unique constraint cannot see duplicates whose node is NULL: check those here.
    without_node = [edge for edge in unique if edge.node is None]
    if without_node:
        unique = [edge for edge in unique if edge.node is not None or not _exists(conn, edge)]
    if unique:
        conn.execute(
            insert(conn, dataset_versions).on_conflict_do_nothing(),
            [_values(edge) for edge in unique],
        )


def of_run(conn: Connection, run_id: str) -> list[Edge]:
    """A run's edges: inputs first, then outputs, by dataset."""
    return _edges(
        conn,
        dataset_versions.c.run_id == run_id,
        order=(dataset_versions.c.direction, dataset_versions.c.dataset, dataset_versions.c.id),
    )


def writers_of(conn: Connection, dataset: str, version_id: str) -> list[Edge]:
    """The edges of the runs that wrote this version (usually one)."""
    return _edges(conn, _version(dataset, version_id, "out"))


def readers_of(conn: Connection, dataset: str, version_id: str) -> list[Edge]:
    """The edges of the runs that read this version, oldest first."""
    return _edges(conn, _version(dataset, version_id, "in"))


def _version(dataset: str, version_id: str, direction: str) -> ColumnElement[bool]:
    return and_(
        dataset_versions.c.dataset == dataset,
        dataset_versions.c.version_id == version_id,
        dataset_versions.c.direction == direction,
    )


def _edges(
    conn: Connection,
    condition: ColumnElement[bool],
    order: Sequence[Any] = (dataset_versions.c.id,),
) -> list[Edge]:
    rows = conn.execute(select(*_COLUMNS).where(condition).order_by(*order))
    return [Edge(*row) for row in rows]


def _exists(conn: Connection, edge: Edge) -> bool:
    condition = and_(
        *(
            column.is_(None) if value is None else column == value
            for column, value in zip(_COLUMNS, astuple(edge), strict=True)
        )
    )
    return conn.scalar(select(dataset_versions.c.id).where(condition).limit(1)) is not None


def _values(edge: Edge) -> dict[str, str | None]:
    return {item.name: getattr(edge, item.name) for item in fields(Edge)}
