"""The registry's records (frozen, times as aware UTC) and the conversions they share.

Used by the registry's repository modules; import them from :mod:`shipyard.metadata.registry`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from shipyard.errors import ModelError
from shipyard.metadata._portable import from_db_time

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
    "check_alias",
    "from_row",
    "json_safe",
    "to_dict",
]

#: What a model event can record.
EVENT_KINDS = frozenset(
    {
        *("registered", "described", "tagged", "trusted"),
        *("requested", "approved", "rejected", "withdrawn", "promoted", "demoted"),
    }
)
#: The statuses a pending promotion request can be closed with.
CLOSED_STATUSES = ("completed", "rejected", "withdrawn")
#: The reference to a model's newest version; no alias may have this name.
LATEST = "latest"


@dataclass(frozen=True)
class ModelRecord:
    """A registered model; ``name`` is its normalised name."""

    name: str
    description: str | None
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class ModelVersionRecord:
    """One registered version: ``digest`` is its package tree in the object store."""

    model: str
    version: int
    digest: str
    run_id: str | None
    dataset: str | None
    flavor: str
    signature: dict[str, Any] | None
    metrics: dict[str, Any]
    trusted: bool
    description: str | None
    created_at: datetime
    created_by: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelEvent:
    """One entry of a model's history; ``kind`` is one of :data:`EVENT_KINDS`."""

    id: int
    model: str
    version: int | None
    alias: str | None
    kind: str
    actor: str
    at: datetime
    details: dict[str, Any]


@dataclass(frozen=True)
class Approval:
    """One user's approval of a promotion request, in the role that allowed it."""

    user: str
    role: str
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class PromotionRequest:
    """A promotion of ``version`` to ``alias``: pending until approved enough (completed),
    rejected or withdrawn. ``gate_results`` are the gates' results as plain JSON."""

    id: str
    model: str
    version: int
    alias: str
    status: str
    gate_results: list[Any]
    requested_by: str
    requested_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    approvals: tuple[Approval, ...] = ()


@dataclass(frozen=True)
class ModelSummary:
    """A model for listings; ``updated_at`` is the time of its latest event."""

    name: str
    description: str | None
    latest_version: int | None
    versions: int
    aliases: dict[str, int]
    updated_at: datetime


def to_dict(record: Any) -> dict[str, Any]:
    """Any record of this module as plain JSON: times as ISO 8601 text, tuples as lists."""
    return _plain(asdict(record))


def check_alias(alias: str) -> None:
    """Refuse an alias that resolve() would read as a version number or as "latest"."""
    if not alias or alias.isdigit() or alias == LATEST:
        raise ModelError(
            f"'{alias}' cannot be an alias: it reads as a version reference.",
            hint="Use a name such as 'champion' or 'challenger'.",
        )


def from_row(cls: type, row: Any, **extra: Any) -> Any:
    """The record ``cls`` of a row's columns named like its fields, times as aware UTC."""
    names = {item.name for item in fields(cls)}
    values = {
        key: from_db_time(value) if isinstance(value, datetime) else value
        for key, value in row._asdict().items()
        if key in names
    }
    return cls(**values, **extra)


def json_safe(value: Any) -> Any:
    """``value`` as JSON both engines store: NaN and infinities become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
