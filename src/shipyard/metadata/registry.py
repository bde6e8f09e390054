"""The model registry's records: models, numbered versions, aliases, tags, an append-only
history of events, and promotion requests with their approvals.

Plain functions over a Connection, like the other repository modules. Names arrive already
normalised (:mod:`shipyard.models._names`), and whether a user may register, promote or
approve is checked above this layer (:mod:`shipyard.governance`): this layer stores, keeps
version numbers unique under concurrent writers, and records every change as an event.

>>> ensure_model(conn, "churn", user="ana")  # doctest: +SKIP
>>> add_version(conn, "churn", digest=tree, flavor="sklearn", user="ana").version  # doctest: +SKIP
1
>>> set_alias(conn, "churn", "champion", 1, user="ana")  # the previous version, or None
... # doctest: +SKIP

JSON has no NaN or infinity (PostgreSQL refuses them), so a non-finite number in metrics,
signatures, details or gate results is stored as null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, select

from shipyard.errors import ModelNotFoundError, did_you_mean
from shipyard.metadata._portable import insert, now
from shipyard.metadata._registry_records import (
    CLOSED_STATUSES,
    EVENT_KINDS,
    LATEST,
    Approval,
    ModelEvent,
    ModelRecord,
    ModelSummary,
    ModelVersionRecord,
    PromotionRequest,
    check_alias,
    to_dict,
)
from shipyard.metadata._registry_requests import (
    add_approval,
    close_request,
    get_request,
    open_request,
    pending_requests,
)
from shipyard.metadata._registry_versions import (
    add_event,
    add_version,
    check_exists,
    ensure_model,
    get_model,
    get_version,
    history,
    list_models,
    lock_model,
    mark_trusted,
    newest_version,
    record_event,
    set_description,
    versions,
)
from shipyard.metadata._schema import model_aliases, model_tags

__all__ = [
    "CLOSED_STATUSES",
    "EVENT_KINDS",
    "LATEST",
    "Approval",
    "ModelEvent",
    "ModelRecord",
    "ModelSummary",
    "ModelVersionRecord",
    "PromotionRequest",
    "add_approval",
    "add_version",
    "aliases",
    "close_request",
    "ensure_model",
    "get_model",
    "get_request",
    "get_version",
    "history",
    "list_models",
    "mark_trusted",
    "open_request",
    "pending_requests",
    "record_event",
    "remove_alias",
    "resolve",
    "set_alias",
    "set_description",
    "set_tag",
    "tags",
    "to_dict",
    "versions",
]

_MODEL_TAG = 0  # model_tags.version of a tag on the model itself


def resolve(conn: Connection, name: str, ref: int | str) -> ModelVersionRecord:
    """The version ``ref`` names: a number (``3`` or ``"3"``), :data:`LATEST` (the newest
    version) or an alias; :class:`ModelNotFoundError` names what exists instead."""
    if isinstance(ref, int) or (ref.isascii() and ref.isdigit()):
        return get_version(conn, name, int(ref))
    if ref == LATEST:
        return newest_version(conn, name)
    version = conn.scalar(
        select(model_aliases.c.version).where(
            model_aliases.c.model == name, model_aliases.c.alias == ref
        )
    )
    if version is not None:
        return get_version(conn, name, version)
    known = aliases(conn, name)
    listed = ", ".join(f"{alias} (version {number})" for alias, number in known.items())
    raise ModelNotFoundError(
        f"Model '{name}' has no alias '{ref}'."
        + (f" Its aliases: {listed}." if known else " It has no aliases yet.")
        + did_you_mean(ref, known),
        hint=f"Point an alias at a version with `shipyard models promote {name} VERSION "
        f"--alias {ref}`, or refer to a version by number ({name}:VERSION).",
    )


def set_alias(
    conn: Connection,
    name: str,
    alias: str,
    version: int,
    *,
    user: str,
    details: Mapping[str, Any] | None = None,
) -> int | None:
    """Point ``alias`` at ``version``; returns the version it pointed at before (or None).

    Records a ``promoted`` event whose details hold ``from`` and ``to`` (and ``details``).
    """
    check_alias(alias)
    lock_model(conn, name)  # the previous version read here is the one replaced
    get_version(conn, name, version)
    previous = aliases(conn, name).get(alias)
    upsert = insert(conn, model_aliases).values(
        model=name, alias=alias, version=version, updated_at=now(), updated_by=user
    )
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["model", "alias"],
            set_={key: upsert.excluded[key] for key in ("version", "updated_at", "updated_by")},
        )
    )
    moved = {**(details or {}), "from": previous, "to": version}
    add_event(conn, name, "promoted", actor=user, version=version, alias=alias, details=moved)
    return previous


def remove_alias(conn: Connection, name: str, alias: str, *, user: str) -> int | None:
    """Remove ``alias``; returns the version it pointed at (None, and no event, if none)."""
    lock_model(conn, name)
    previous = aliases(conn, name).get(alias)
    if previous is None:
        return None
    conn.execute(
        delete(model_aliases).where(model_aliases.c.model == name, model_aliases.c.alias == alias)
    )
    moved = {"from": previous, "to": None}
    add_event(conn, name, "demoted", actor=user, version=previous, alias=alias, details=moved)
    return previous


def aliases(conn: Connection, name: str) -> dict[str, int]:
    """The model's aliases and the versions they point at, by alias."""
    found = dict(
        conn.execute(
            select(model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.model == name)
            .order_by(model_aliases.c.alias)
        ).all()
    )
    if not found:
        get_model(conn, name)
    return found


def set_tag(
    conn: Connection, name: str, key: str, value: str, *, version: int | None = None, user: str
) -> None:
    """Set (or replace) a tag of the model, or of one of its versions."""
    check_exists(conn, name, version)
    upsert = insert(conn, model_tags).values(
        model=name, version=version or _MODEL_TAG, key=key, value=str(value)
    )
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["model", "version", "key"], set_={"value": upsert.excluded.value}
        )
    )
    details = {"key": key, "value": str(value)}
    add_event(conn, name, "tagged", actor=user, version=version, details=details)


def tags(conn: Connection, name: str, version: int | None = None) -> dict[str, str]:
    """The tags of the model (``version`` None), or of one of its versions, by key."""
    found = dict(
        conn.execute(
            select(model_tags.c.key, model_tags.c.value)
            .where(model_tags.c.model == name, model_tags.c.version == (version or _MODEL_TAG))
            .order_by(model_tags.c.key)
        ).all()
    )
    if not found:
        check_exists(conn, name, version)
    return found
