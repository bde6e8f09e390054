"""Registered models, their numbered versions, and the append-only history of each model.

Every write of the registry goes through :func:`lock_model` (versions numbered under
concurrency) and :func:`add_event` (the history). Import the public functions from
:mod:`shipyard.metadata.registry`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from shipyard.errors import ModelError, ModelNotFoundError, did_you_mean
from shipyard.metadata._portable import from_db_time, insert, now
from shipyard.metadata._registry_records import (
    EVENT_KINDS,
    ModelEvent,
    ModelRecord,
    ModelSummary,
    ModelVersionRecord,
    from_row,
    json_safe,
)
from shipyard.metadata._schema import model_aliases, model_events, model_versions, registered_models

__all__ = [
    "add_event",
    "add_version",
    "check_exists",
    "ensure_model",
    "get_model",
    "get_version",
    "history",
    "list_models",
    "lock_model",
    "mark_trusted",
    "newest_version",
    "of_model",
    "record_event",
    "set_description",
    "unknown_model",
    "version_records",
    "versions",
]

_SHOWN_VERSIONS = 10  # version numbers listed in a hint


def ensure_model(
    conn: Connection, name: str, *, user: str, description: str | None = None
) -> ModelRecord:
    """The model ``name``, registered now if it is not yet (an existing one is unchanged)."""
    conn.execute(
        insert(conn, registered_models)
        .values(name=name, description=description, created_at=now(), created_by=user)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return get_model(conn, name)


def get_model(conn: Connection, name: str) -> ModelRecord:
    """The registered model ``name``; :class:`ModelNotFoundError` if there is none."""
    row = conn.execute(select(registered_models).where(registered_models.c.name == name)).first()
    if row is None:
        raise unknown_model(conn, name)
    return from_row(ModelRecord, row)


def list_models(conn: Connection) -> list[ModelSummary]:
    """Every registered model, by name."""
    stats = {
        row.model: row
        for row in conn.execute(
            select(
                model_versions.c.model,
                func.max(model_versions.c.version).label("latest"),
                func.count().label("count"),
            ).group_by(model_versions.c.model)
        )
    }
    touched = dict(
        conn.execute(
            select(model_events.c.model, func.max(model_events.c.at)).group_by(model_events.c.model)
        ).all()
    )
    pointers: dict[str, dict[str, int]] = defaultdict(dict)
    for model, alias, version in conn.execute(
        select(model_aliases.c.model, model_aliases.c.alias, model_aliases.c.version).order_by(
            model_aliases.c.alias
        )
    ):
        pointers[model][alias] = version
    summaries = []
    for row in conn.execute(select(registered_models).order_by(registered_models.c.name)):
        stat = stats.get(row.name)
        summaries.append(
            ModelSummary(
                name=row.name,
                description=row.description,
                latest_version=stat.latest if stat else None,
                versions=stat.count if stat else 0,
                aliases=pointers.get(row.name, {}),
                updated_at=from_db_time(touched.get(row.name) or row.created_at),
            )
        )
    return summaries


def add_version(
    conn: Connection,
    name: str,
    *,
    digest: str,
    flavor: str,
    user: str,
    run_id: str | None = None,
    dataset: str | None = None,
    signature: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> ModelVersionRecord:
    """Register package tree ``digest`` as the next version of model ``name``.

    The number is the highest so far plus one, distinct and consecutive even when several
    processes register at once: the model's row is locked first (``SELECT ... FOR UPDATE``
    on PostgreSQL; on SQLite the write transaction of ``store.begin()`` already holds the
    database's write lock). A digest this model already has is not registered twice: its
    existing version is returned unchanged, and no event is recorded.
    """
    lock_model(conn, name)
    existing = conn.scalar(
        select(model_versions.c.version).where(
            model_versions.c.model == name, model_versions.c.digest == digest
        )
    )
    if existing is not None:
        return get_version(conn, name, existing)
    newest = conn.scalar(select(func.max(model_versions.c.version)).where(of_model(name)))
    version = (newest or 0) + 1
    conn.execute(
        model_versions.insert().values(
            model=name,
            version=version,
            digest=digest,
            run_id=run_id,
            dataset=dataset,
            flavor=flavor,
            signature=json_safe(signature),
            metrics=json_safe(metrics or {}),
            trusted=False,
            description=description,
            created_at=now(),
            created_by=user,
        )
    )
    details = {"digest": digest, "run_id": run_id, "dataset": dataset}
    add_event(conn, name, "registered", actor=user, version=version, details=details)
    return get_version(conn, name, version)


def get_version(conn: Connection, name: str, version: int) -> ModelVersionRecord:
    """Version ``version`` of model ``name``; :class:`ModelNotFoundError` lists the versions
    that exist."""
    found = version_records(conn, name, model_versions.c.version == version)
    if found:
        return found[0]
    numbers = list(
        conn.scalars(
            select(model_versions.c.version)
            .where(of_model(name))
            .order_by(model_versions.c.version)
        )
    )
    if not numbers:
        get_model(conn, name)  # an unknown model is the better error
    raise ModelNotFoundError(f"Model '{name}' has no version {version}.", hint=_hint(name, numbers))


def newest_version(conn: Connection, name: str) -> ModelVersionRecord:
    """The model's highest-numbered version; :class:`ModelNotFoundError` if it has none."""
    newest = conn.scalar(select(func.max(model_versions.c.version)).where(of_model(name)))
    if newest is None:
        get_model(conn, name)
        raise ModelNotFoundError(f"Model '{name}' has no versions yet.", hint=_hint(name, []))
    return get_version(conn, name, newest)


def versions(conn: Connection, name: str) -> list[ModelVersionRecord]:
    """Every version of model ``name``, newest first."""
    found = version_records(conn, name)
    if not found:
        get_model(conn, name)
    return found


def mark_trusted(conn: Connection, name: str, version: int, *, user: str) -> None:
    """Mark a version trusted: its package loads even if its flavor can run code."""
    marked = conn.execute(
        update(model_versions)
        .where(of_model(name), model_versions.c.version == version)
        .values(trusted=True)
    )
    if marked.rowcount == 0:
        get_version(conn, name, version)  # raises: nothing to mark
    add_event(conn, name, "trusted", actor=user, version=version)


def set_description(
    conn: Connection, name: str, text: str | None, *, version: int | None = None, user: str
) -> None:
    """Set the description of the model, or of one of its versions."""
    if version is None:
        table, where = registered_models, registered_models.c.name == name
    else:
        table, where = model_versions, and_(of_model(name), model_versions.c.version == version)
    if conn.execute(update(table).where(where).values(description=text)).rowcount == 0:
        check_exists(conn, name, version)
    details = {"description": text}
    add_event(conn, name, "described", actor=user, version=version, details=details)


def record_event(
    conn: Connection,
    name: str,
    kind: str,
    *,
    actor: str,
    version: int | None = None,
    alias: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> ModelEvent:
    """Append an event to the model's history (there is no way to change or remove one)."""
    get_model(conn, name)
    return add_event(conn, name, kind, actor=actor, version=version, alias=alias, details=details)


def history(conn: Connection, name: str, *, alias: str | None = None) -> list[ModelEvent]:
    """The model's events (only those of ``alias`` if given), oldest first."""
    query = select(model_events).where(model_events.c.model == name)
    if alias is not None:
        query = query.where(model_events.c.alias == alias)
    found = [from_row(ModelEvent, row) for row in conn.execute(query.order_by("at", "id"))]
    if not found:
        get_model(conn, name)
    return found


def of_model(name: str) -> Any:
    """The condition selecting the versions of model ``name``."""
    return model_versions.c.model == name


def lock_model(conn: Connection, name: str) -> None:
    """Lock the model's row until the transaction ends (FOR UPDATE renders as nothing on
    SQLite, whose write transactions already exclude each other)."""
    locked = conn.scalar(
        select(registered_models.c.name).where(registered_models.c.name == name).with_for_update()
    )
    if locked is None:
        raise unknown_model(conn, name)


def version_records(conn: Connection, name: str, *where: Any) -> list[ModelVersionRecord]:
    """The model's versions matching ``where``, newest first, with their aliases."""
    rows = conn.execute(
        select(model_versions)
        .where(of_model(name), *where)
        .order_by(model_versions.c.version.desc())
    ).all()
    pointers: dict[int, list[str]] = defaultdict(list)
    if rows:
        for alias, version in conn.execute(
            select(model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.model == name)
            .order_by(model_aliases.c.alias)
        ):
            pointers[version].append(alias)
    return [from_row(ModelVersionRecord, row, aliases=tuple(pointers[row.version])) for row in rows]


def add_event(
    conn: Connection,
    name: str,
    kind: str,
    *,
    actor: str,
    version: int | None = None,
    alias: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> ModelEvent:
    """Append an event; the model must exist (its foreign key says so)."""
    if kind not in EVENT_KINDS:
        raise ModelError(
            f"'{kind}' is not a kind of model event." + did_you_mean(kind, EVENT_KINDS),
            hint=f"Use one of: {', '.join(sorted(EVENT_KINDS))}.",
        )
    values = {
        "model": name,
        "version": version,
        "alias": alias,
        "kind": kind,
        "actor": actor,
        "at": now(),
        "details": json_safe(dict(details or {})),
    }
    result = conn.execute(model_events.insert().values(values))
    return ModelEvent(id=result.inserted_primary_key[0], **values)


def check_exists(conn: Connection, name: str, version: int | None) -> None:
    """Raise :class:`ModelNotFoundError` unless the model (or its ``version``) exists."""
    if version is None:
        get_model(conn, name)
    else:
        get_version(conn, name, version)


def unknown_model(conn: Connection, name: str) -> ModelNotFoundError:
    """The error for a model that is not registered, suggesting the closest name."""
    names = list(conn.scalars(select(registered_models.c.name)))
    return ModelNotFoundError(f"No model named '{name}' is registered." + did_you_mean(name, names))


def _hint(name: str, numbers: Sequence[int]) -> str:
    if not numbers:
        return f"It has no versions yet: register one with `shipyard models register {name}`."
    shown = [str(number) for number in numbers[-_SHOWN_VERSIONS:]]
    more = f" (and {len(numbers) - len(shown)} older)" if len(numbers) > len(shown) else ""
    return f"Its versions are {', '.join(shown)}{more}; `shipyard models versions {name}`."
