"""Monitoring windows, the drift of each column over them, and the actions they set off.

Plain functions over a Connection, like the other repository modules. A window arrives as
the plain mapping of ``MonitoringResult.to_dict()`` (this layer is below
:mod:`shipyard.monitoring` and never imports it): the whole mapping is kept as JSON, so a
stored window renders the same report as a fresh one, and its summary and one row per
column are kept as columns, so history and "the latest window" are plain queries.

>>> window = save_window(conn, result.to_dict())  # doctest: +SKIP
>>> [a.kind for a in add_actions(conn, window.id, ["alert", "retrain"])]  # doctest: +SKIP
['alert', 'retrain']
>>> [p.statistic for p in column_history(conn, "churn", column="tenure")]  # doctest: +SKIP
[0.02, 0.03, 0.21]

A window's actions run in order and are recorded as they go (pending, running, then done,
failed or skipped), so a restarted monitor resumes the windows :func:`unfinished_windows`
returns, and :func:`last_finished_action` gives the time a cool-down counts from.

JSON has no NaN or infinity (PostgreSQL refuses them in JSON): ``to_dict()`` writes NaN
as null and infinities as the text "inf"/"-inf", which the stored result keeps; a raw
float NaN or infinity handed over is stored as null. The float columns hold NULL for
every non-finite statistic, p-value or drift share, on both engines; a column's
``status`` keeps the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select, update

from shipyard.errors import MetadataError
from shipyard.ids import new_id
from shipyard.metadata._portable import from_db_time, insert, now, to_db_time
from shipyard.metadata._registry_records import from_row, json_safe
from shipyard.metadata._schema import monitoring_actions, monitoring_columns, monitoring_windows

__all__ = [
    "ACTION_KINDS",
    "ACTION_STATUSES",
    "FINISHED_STATUSES",
    "ROLES",
    "ActionRecord",
    "ColumnPoint",
    "WindowRecord",
    "actions_for",
    "add_actions",
    "column_history",
    "find_window",
    "finish_action",
    "get_window",
    "last_finished_action",
    "last_window_end",
    "list_windows",
    "save_window",
    "start_action",
    "unfinished_windows",
]

#: What a window can set off, in the order a policy usually lists them.
ACTION_KINDS = ("alert", "retrain", "evaluate", "promote")
#: An action's life: pending, running, then one of :data:`FINISHED_STATUSES`.
ACTION_STATUSES = ("pending", "running", "done", "failed", "skipped")
FINISHED_STATUSES = ("done", "failed", "skipped")
#: The roles of a stored column: a model input, or one of its predictions.
ROLES = ("input", "prediction")
_UNFINISHED = ("pending", "running")


@dataclass(frozen=True)
class WindowRecord:
    """One analysed window of a model. ``result`` is its ``MonitoringResult.to_dict()``
    (with ``id`` set to this record's id); times are aware UTC."""

    id: str
    model: str
    version: int | None
    window_start: datetime
    window_end: datetime
    status: str
    rows: int
    drift_share: float | None
    dataset_drift: bool
    result: dict[str, Any]
    computed_at: datetime


@dataclass(frozen=True)
class ColumnPoint:
    """One column in one window: a point of that column's drift history.

    ``statistic`` and ``p_value`` are None when there was none (no verdict, a distance
    without p-value) or it was not finite; ``status`` is the column's verdict.
    """

    window_id: str
    window_start: datetime
    window_end: datetime
    column: str
    method: str
    statistic: float | None
    p_value: float | None
    threshold: float
    status: str


@dataclass(frozen=True)
class ActionRecord:
    """One action a window set off; ``run_id`` is the tracked run it made, if any."""

    id: str
    window_id: str
    position: int
    kind: str
    status: str
    run_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    details: dict[str, Any] | None
    error: str | None


_WINDOW_COLUMNS = [monitoring_windows.c[item.name] for item in fields(WindowRecord)]
_ACTION_COLUMNS = [monitoring_actions.c[item.name] for item in fields(ActionRecord)]


def save_window(conn: Connection, result: Mapping[str, Any]) -> WindowRecord:
    """Store one analysed window (``MonitoringResult.to_dict()``) and one row per column
    of ``result["columns"]`` (role input) and ``result["predictions"]`` (role prediction).

    The window's id is ``result["id"]`` when set, else a new one. A window is analysed
    once: a (model, window_start, window_end) already stored raises MetadataError.
    """
    window_id = result.get("id") or new_id()
    stored = json_safe({**result, "id": window_id})
    model = result["model"]
    start, end = _time(result["window_start"]), _time(result["window_end"])
    if find_window(conn, model, start, end) is not None:
        raise _already_stored(conn, model, start, end)
    conn.execute(
        insert(conn, monitoring_windows)
        .values(
            id=window_id,
            model=model,
            version=result.get("version"),
            window_start=start,
            window_end=end,
            status=result["status"],
            rows=int(result["rows"]),
            drift_share=_finite(result.get("drift_share")),
            dataset_drift=bool(result.get("dataset_drift", False)),
            result=stored,
            computed_at=_time(result["computed_at"]),
        )
        # A monitor storing the same window at the same time (PostgreSQL; SQLite writers
        # take turns): a conflict, not a failed statement, so this transaction goes on.
        .on_conflict_do_nothing(index_elements=["model", "window_start", "window_end"])
    )
    saved = find_window(conn, model, start, end)
    if saved is None or saved.id != window_id:
        raise _already_stored(conn, model, start, end)
    rows = [
        _column_row(window_id, role, column)
        for role, key in (("input", "columns"), ("prediction", "predictions"))
        for column in result.get(key) or ()
    ]
    if rows:
        conn.execute(monitoring_columns.insert(), rows)
    return saved


def find_window(
    conn: Connection, model: str, window_start: datetime, window_end: datetime
) -> WindowRecord | None:
    """The stored window of ``model`` from ``window_start`` to ``window_end``, or None."""
    row = conn.execute(
        select(*_WINDOW_COLUMNS).where(
            monitoring_windows.c.model == model,
            monitoring_windows.c.window_start == to_db_time(window_start),
            monitoring_windows.c.window_end == to_db_time(window_end),
        )
    ).first()
    return None if row is None else from_row(WindowRecord, row)


def get_window(conn: Connection, window_id: str) -> WindowRecord:
    """The window with id ``window_id``; MetadataError if there is none."""
    row = conn.execute(
        select(*_WINDOW_COLUMNS).where(monitoring_windows.c.id == window_id.strip().lower())
    ).first()
    if row is None:
        raise MetadataError(
            f"No monitoring window has the id '{window_id}'.",
            hint="Window ids are the 26-character ids of the monitor's output and reports; "
            "list a model's windows with its monitoring history.",
        )
    return from_row(WindowRecord, row)


def list_windows(
    conn: Connection,
    model: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[WindowRecord]:
    """The windows of ``model`` that overlap ``since``..``until`` (either open), oldest
    first (by end, then start). ``limit`` keeps the newest ``limit`` of them."""
    query = select(*_WINDOW_COLUMNS).where(monitoring_windows.c.model == model)
    if since is not None:
        query = query.where(monitoring_windows.c.window_end > to_db_time(since))
    if until is not None:
        query = query.where(monitoring_windows.c.window_start < to_db_time(until))
    newest_first = _by_time(query, descending=True)
    if limit is not None:
        newest_first = newest_first.limit(limit)
    return [from_row(WindowRecord, row) for row in reversed(conn.execute(newest_first).all())]


def last_window_end(conn: Connection, model: str) -> datetime | None:
    """Where the latest stored window of ``model`` ends (the next one starts there)."""
    end = conn.scalar(
        select(monitoring_windows.c.window_end)
        .where(monitoring_windows.c.model == model)
        .order_by(monitoring_windows.c.window_end.desc())
        .limit(1)
    )
    return from_db_time(end)


def column_history(
    conn: Connection, model: str, *, column: str | None = None, role: str = "input"
) -> list[ColumnPoint]:
    """Each column of ``role`` (or only ``column``) in every window of ``model``, oldest
    window first, then by column name."""
    if role not in ROLES:
        raise MetadataError(
            f"'{role}' is not a column role.", hint=f"Use one of: {', '.join(ROLES)}."
        )
    windows, columns = monitoring_windows.c, monitoring_columns.c
    query = (
        select(
            windows.id.label("window_id"),
            windows.window_start,
            windows.window_end,
            columns.column,
            columns.method,
            columns.statistic,
            columns.p_value,
            columns.threshold,
            columns.status,
        )
        .join_from(monitoring_windows, monitoring_columns, columns.window_id == windows.id)
        .where(windows.model == model, columns.role == role)
    )
    if column is not None:
        query = query.where(columns.column == column)
    query = _by_time(query).order_by(columns.column)
    # Built by position (the select's order is the fields'): a history has a row per
    # column per window, and from_row's generality costs 3/4 of the time there.
    return [
        ColumnPoint(window_id, from_db_time(start), from_db_time(end), *rest)  # type: ignore[arg-type]
        for window_id, start, end, *rest in conn.execute(query)
    ]


def add_actions(conn: Connection, window_id: str, kinds: Sequence[str]) -> list[ActionRecord]:
    """Record the actions a window sets off, pending, at positions 0, 1, ... in order.

    Idempotent: a window that already has actions keeps them, unchanged, and gets them
    back (a restarted monitor deciding again does not add a second set).
    """
    unknown = [kind for kind in kinds if kind not in ACTION_KINDS]
    if unknown:
        raise MetadataError(
            f"Unknown monitoring action {', '.join(repr(k) for k in unknown)}.",
            hint=f"Actions are: {', '.join(ACTION_KINDS)}.",
        )
    existing = actions_for(conn, window_id)
    if existing:
        return existing
    get_window(conn, window_id)  # an unknown window is an error, not an empty list
    if not kinds:
        return []
    # A concurrent monitor may have added them in between: its set stays.
    conn.execute(
        insert(conn, monitoring_actions).on_conflict_do_nothing(
            index_elements=["window_id", "position"]
        ),
        [
            {
                "id": new_id(),
                "window_id": window_id,
                "position": position,
                "kind": kind,
                "status": "pending",
            }
            for position, kind in enumerate(kinds)
        ],
    )
    return actions_for(conn, window_id)


def actions_for(conn: Connection, window_id: str) -> list[ActionRecord]:
    """The actions of a window, by position."""
    rows = conn.execute(
        select(*_ACTION_COLUMNS)
        .where(monitoring_actions.c.window_id == window_id)
        .order_by(monitoring_actions.c.position)
    )
    return [from_row(ActionRecord, row) for row in rows]


def start_action(conn: Connection, action_id: str, *, run_id: str | None = None) -> None:
    """Mark an action running from now (again, for one a stopped monitor left running)."""
    _check_unfinished(conn, action_id, "started")
    values: dict[str, Any] = {"status": "running", "started_at": now()}
    if run_id is not None:
        values["run_id"] = run_id
    conn.execute(
        update(monitoring_actions).where(monitoring_actions.c.id == action_id).values(values)
    )


def finish_action(
    conn: Connection,
    action_id: str,
    status: str,
    *,
    details: Mapping[str, Any] | None = None,
    error: str | None = None,
    run_id: str | None = None,
) -> None:
    """Close an action as done, failed or skipped, now; ``run_id`` None keeps the one
    :func:`start_action` recorded. ``details`` is plain JSON (non-finite numbers: null)."""
    if status not in FINISHED_STATUSES:
        raise MetadataError(
            f"'{status}' is not a status an action can finish with.",
            hint=f"Use one of: {', '.join(FINISHED_STATUSES)}.",
        )
    _check_unfinished(conn, action_id, "finished")
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now(),
        "details": None if details is None else json_safe(details),
        "error": error,
    }
    if run_id is not None:
        values["run_id"] = run_id
    conn.execute(
        update(monitoring_actions).where(monitoring_actions.c.id == action_id).values(values)
    )


def last_finished_action(
    conn: Connection, model: str, kind: str, *, status: str = "done"
) -> ActionRecord | None:
    """The latest action of ``kind`` that finished with ``status``, for any window of
    ``model`` (what a cool-down counts from); None if there is none."""
    actions = monitoring_actions.c
    row = conn.execute(
        select(*_ACTION_COLUMNS)
        .join_from(
            monitoring_actions, monitoring_windows, monitoring_windows.c.id == actions.window_id
        )
        .where(monitoring_windows.c.model == model, actions.kind == kind, actions.status == status)
        .order_by(actions.finished_at.desc(), actions.id.desc())
        .limit(1)
    ).first()
    return None if row is None else from_row(ActionRecord, row)


def unfinished_windows(conn: Connection, model: str) -> list[WindowRecord]:
    """The windows of ``model`` with actions still pending or running, oldest first:
    what a restarted monitor resumes."""
    unfinished = select(monitoring_actions.c.window_id).where(
        monitoring_actions.c.status.in_(_UNFINISHED)
    )
    query = select(*_WINDOW_COLUMNS).where(
        monitoring_windows.c.model == model, monitoring_windows.c.id.in_(unfinished)
    )
    return [from_row(WindowRecord, row) for row in conn.execute(_by_time(query))]


def _by_time(query: Select, *, descending: bool = False) -> Select:
    order = [monitoring_windows.c.window_end, monitoring_windows.c.window_start]
    order.append(monitoring_windows.c.id)
    return query.order_by(*(column.desc() if descending else column for column in order))


def _column_row(window_id: str, role: str, column: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "window_id": window_id,
        "role": role,
        "column": column["column"],
        "kind": column["kind"],
        "method": column["method"],
        "statistic": _finite(column.get("statistic")),
        "p_value": _finite(column.get("p_value")),
        "threshold": float(column["threshold"]),
        "status": column["status"],
        "current_rows": int(column.get("current_rows", 0)),
        "current_nulls": int(column.get("current_nulls", 0)),
    }


def _finite(value: float | None) -> float | None:
    """A float column's value: None for None, NaN and infinities (numbers or "inf" text)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _time(value: datetime | str) -> datetime:
    """A result's time (ISO 8601 text, or a datetime) as UTC for storing."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return to_db_time(moment)  # type: ignore[return-value]


def _already_stored(conn: Connection, model: str, start: datetime, end: datetime) -> MetadataError:
    existing = find_window(conn, model, start, end)
    known = f" (id {existing.id}, status {existing.status})" if existing else ""
    latest = last_window_end(conn, model)
    return MetadataError(
        f"Model '{model}' already has a monitoring window from {start.isoformat()} to "
        f"{end.isoformat()}{known}: a window is analysed once.",
        hint="Read the stored window (find_window) instead of analysing it again, or "
        f"analyse the next one: the latest stored window of '{model}' ends at "
        f"{latest.isoformat() if latest else start.isoformat()}.",
    )


def _check_unfinished(conn: Connection, action_id: str, verb: str) -> None:
    status = conn.scalar(
        select(monitoring_actions.c.status).where(monitoring_actions.c.id == action_id)
    )
    if status is None:
        raise MetadataError(
            f"No monitoring action has the id '{action_id}', so it cannot be {verb}.",
            hint="Take action ids from actions_for(window_id) or add_actions().",
        )
    if status not in _UNFINISHED:
        raise MetadataError(
            f"Monitoring action {action_id} already finished ({status}); it cannot be "
            f"{verb} again.",
            hint="A finished action stays as it ended: a new window sets off new actions.",
        )
