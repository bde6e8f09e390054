"""Runs: create, finish, find by id prefix, tag, and search with a small filter language.

>>> search(conn, where="metrics.auc > 0.8 and params.model.C = 0.5", sort="-metrics.auc")
... # doctest: +SKIP

The filter language is described in :mod:`shipyard.metadata._filter` and docs/metadata.md.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from shipyard.errors import RunNotFoundError
from shipyard.metadata._filter import compile_search
from shipyard.metadata._portable import from_db_time, insert, now, to_db_time
from shipyard.metadata._schema import experiments, run_tags, runs

__all__ = [
    "MIN_PREFIX",
    "RunRecord",
    "create",
    "finish",
    "get",
    "process_alive",
    "search",
    "set_tags",
    "status_of",
    "tags_of",
]

#: The shortest id prefix :func:`get` accepts.
MIN_PREFIX = 4
_TIME_FIELDS = ("started_at", "ended_at")


@dataclass(frozen=True)
class RunRecord:
    """One run as stored. ``status`` is running, finished, failed or interrupted."""

    id: str
    experiment_id: str
    name: str | None = None
    project: str | None = None
    pipeline: str | None = None
    env: str | None = None
    status: str = "running"
    started_at: datetime = field(default_factory=now)
    ended_at: datetime | None = None
    user: str | None = None
    host: str | None = None
    pid: int | None = None
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    git_diff_digest: str | None = None
    environment_id: str | None = None
    parent_run_id: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: times as ISO 8601 strings."""
        values = asdict(self)
        for name in _TIME_FIELDS:
            if values[name] is not None:
                values[name] = values[name].isoformat()
        return values


_COLUMNS = [runs.c[item.name] for item in fields(RunRecord)]


def create(conn: Connection, record: RunRecord) -> None:
    """Insert a new run."""
    values = asdict(record)
    for name in _TIME_FIELDS:
        values[name] = to_db_time(values[name])
    conn.execute(runs.insert().values(values))


def finish(
    conn: Connection, run_id: str, status: str, *, ended_at: datetime, error: str | None = None
) -> None:
    """Set a run's final status, end time and (for a failure) the error's message."""
    result = conn.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(status=status, ended_at=to_db_time(ended_at), error=error)
    )
    if result.rowcount == 0:
        raise RunNotFoundError(f"Run {run_id} is not recorded, so it cannot be finished.")


def get(conn: Connection, ref: str) -> RunRecord:
    """The run with id ``ref``, or the one run whose id starts with ``ref`` (>= 4 chars)."""
    ref = ref.strip().lower()
    exact = conn.execute(select(*_COLUMNS).where(runs.c.id == ref)).first()
    if exact is not None:
        return _record(exact)
    if len(ref) < MIN_PREFIX:
        raise RunNotFoundError(
            f"No run has the id '{ref}', and a prefix needs at least {MIN_PREFIX} characters."
        )
    found = conn.execute(
        select(*_COLUMNS).where(runs.c.id.startswith(ref, autoescape=True)).limit(6)
    ).all()
    if len(found) == 1:
        return _record(found[0])
    if found:
        shown = ", ".join(row.id for row in found[:5]) + (", ..." if len(found) > 5 else "")
        raise RunNotFoundError(
            f"Run prefix '{ref}' is ambiguous: it matches {shown}.",
            hint="Give more characters of the run id.",
        )
    nearest = _nearest_ids(conn, ref)
    raise RunNotFoundError(
        f"No run id starts with '{ref}'."
        + (f" Nearest ids: {', '.join(nearest)}." if nearest else " No runs are recorded.")
    )


def status_of(record: RunRecord, *, alive: Callable[[str, int], bool]) -> str:
    """The status to show: ``lost`` for a running run of this host whose process is gone.

    ``alive(host, pid)`` says whether the process still runs (:func:`process_alive`).
    A run of another host keeps its stored status: its process cannot be checked.
    """
    if (
        record.status == "running"
        and record.pid is not None
        and record.host == socket.gethostname()
        and not alive(record.host, record.pid)
    ):
        return "lost"
    return record.status


def process_alive(host: str, pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (``host`` is this host's name)."""
    del host  # only processes of this host can be checked
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def set_tags(conn: Connection, run_id: str, tags: Mapping[str, str]) -> None:
    """Set (or replace) tags of a run."""
    if not tags:
        return
    upsert = insert(conn, run_tags)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["run_id", "key"], set_={"value": upsert.excluded.value}
        ),
        [{"run_id": run_id, "key": key, "value": str(value)} for key, value in tags.items()],
    )


def tags_of(conn: Connection, run_id: str) -> dict[str, str]:
    """Every tag of a run."""
    rows = conn.execute(
        select(run_tags.c.key, run_tags.c.value)
        .where(run_tags.c.run_id == run_id)
        .order_by(run_tags.c.key)
    )
    return dict(rows.all())


def search(
    conn: Connection,
    *,
    where: str | None = None,
    sort: str | None = None,
    pipeline: str | None = None,
    status: str | None = None,
    experiment: str | None = None,
    limit: int = 100,
) -> list[RunRecord]:
    """Runs matching a filter expression, sorted (default: newest first), in one query.

    ``where``: ``metrics.auc > 0.8 and params.model.C = 0.5 and tags.team = 'ds'``;
    ``sort``: ``-metrics.auc`` (descending), ``params.x``, ``started_at``. Runs without
    a sorted-by value come last. A malformed expression raises MetadataError naming the
    column and what was expected.
    """
    query = compile_search(_COLUMNS, where=where, sort=sort)
    if pipeline is not None:
        query = query.where(runs.c.pipeline == pipeline)
    if status is not None:
        query = query.where(runs.c.status == status)
    if experiment is not None:
        query = query.where(
            runs.c.experiment_id.in_(
                select(experiments.c.id).where(experiments.c.name == experiment)
            )
        )
    return [_record(row) for row in conn.execute(query.limit(limit))]


def _record(row: Any) -> RunRecord:
    values = row._asdict()
    for name in _TIME_FIELDS:
        values[name] = from_db_time(values[name])
    return RunRecord(**values)


def _nearest_ids(conn: Connection, ref: str) -> list[str]:
    """Up to 3 ids sharing the longest prefix with ``ref``."""
    for length in range(len(ref) - 1, 0, -1):
        found = conn.scalars(
            select(runs.c.id)
            .where(runs.c.id.startswith(ref[:length], autoescape=True))
            .order_by(runs.c.id)
            .limit(3)
        ).all()
        if found:
            return list(found)
    return list(conn.scalars(select(runs.c.id).order_by(runs.c.id.desc()).limit(3)))
