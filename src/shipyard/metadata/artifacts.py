"""Files kept with a run, recorded by the digest of their object in the object store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from shipyard.metadata._portable import insert
from shipyard.metadata._schema import artifacts

__all__ = ["add", "of_run"]


def add(  # noqa: PLR0917 - the signature the tracking contract fixes
    conn: Connection, run_id: str, name: str, digest: str, size: int, kind: str = "file"
) -> None:
    """Record artifact ``name`` (a relative path) of a run; a name logged again is replaced.

    ``kind`` is ``file`` or ``tree`` (a folder stored as a tree object).
    """
    upsert = insert(conn, artifacts).values(
        run_id=run_id, name=name, digest=digest, size=size, kind=kind
    )
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["run_id", "name"],
            set_={
                "digest": upsert.excluded.digest,
                "size": upsert.excluded.size,
                "kind": upsert.excluded.kind,
            },
        )
    )


def of_run(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    """A run's artifacts by name: ``{"name", "digest", "size", "kind"}``."""
    rows = conn.execute(
        select(artifacts.c.name, artifacts.c.digest, artifacts.c.size, artifacts.c.kind)
        .where(artifacts.c.run_id == run_id)
        .order_by(artifacts.c.name)
    )
    return [row._asdict() for row in rows]
