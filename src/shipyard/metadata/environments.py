"""Interpreter environments (python, platform, packages), stored once per content hash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from shipyard.errors import MetadataError
from shipyard.metadata._portable import from_db_time, insert, now
from shipyard.metadata._schema import environments

__all__ = ["get", "upsert"]


def upsert(
    conn: Connection,
    env_id: str,
    *,
    python: str,
    platform: str,
    packages: Mapping[str, str],
    conda: str | None,
) -> None:
    """Record an environment unless its id (the hash of its content) is already stored."""
    conn.execute(
        insert(conn, environments)
        .values(
            id=env_id,
            python=python,
            platform=platform,
            packages=dict(packages),
            conda=conda,
            created_at=now(),
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )


def get(conn: Connection, env_id: str) -> dict[str, Any]:
    """An environment as plain JSON: id, python, platform, packages, conda, created_at."""
    row = conn.execute(select(environments).where(environments.c.id == env_id)).first()
    if row is None:
        raise MetadataError(
            f"Environment {env_id} is not recorded.",
            hint="Environments are recorded with their runs; `shipyard runs show RUN` "
            "names a run's environment.",
        )
    values = row._asdict()
    values["created_at"] = from_db_time(values["created_at"]).isoformat()
    return values
