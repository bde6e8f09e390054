"""Experiments: named groups of runs. Runs without one go to ``Default``."""

from __future__ import annotations

from sqlalchemy import Connection, select

from shipyard.ids import new_id
from shipyard.metadata._portable import insert, now
from shipyard.metadata._schema import experiments

__all__ = ["DEFAULT_EXPERIMENT", "get_or_create"]

DEFAULT_EXPERIMENT = "Default"


def get_or_create(conn: Connection, name: str = DEFAULT_EXPERIMENT) -> str:
    """The id of the experiment called ``name``, created if it does not exist yet."""
    found = conn.scalar(select(experiments.c.id).where(experiments.c.name == name))
    if found is not None:
        return found
    conn.execute(
        insert(conn, experiments)
        .values(id=new_id(), name=name, created_at=now())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    # Another process may have created it first: read whichever id won.
    return conn.scalar(select(experiments.c.id).where(experiments.c.name == name))
