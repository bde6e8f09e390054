"""Gathering a model card's data from the package, the registry and the run that made it.

PII tags come from the catalog: an entry's ``metadata: {pii: ...}`` lists the columns
that hold personal data, as a list (``[email, phone]``) or a mapping to a kind
(``{email: contact, birth_date: identity}``). The card marks the model's input columns
that any entry tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shipyard.errors import RunNotFoundError
from shipyard.metadata import environments
from shipyard.metadata import registry as repo
from shipyard.metadata import runs as run_repo
from shipyard.models._card import CardData

if TYPE_CHECKING:
    from shipyard.models._registry import ModelRegistry

__all__ = ["card_data", "pii_columns"]


def pii_columns(catalog: Mapping[str, Any]) -> dict[str, str]:
    """Column -> PII kind over every catalog entry's ``metadata.pii``."""
    found: dict[str, str] = {}
    for entry in catalog.values():
        metadata = entry.get("metadata") if isinstance(entry, Mapping) else None
        tagged = metadata.get("pii") if isinstance(metadata, Mapping) else None
        if isinstance(tagged, Mapping):
            found.update({str(column): str(kind) for column, kind in tagged.items()})
        elif isinstance(tagged, list | tuple):
            found.update({str(column): "personal" for column in tagged})
    return found


def card_data(registry: ModelRegistry, record: repo.ModelVersionRecord) -> CardData:
    """The card of one registered version."""
    manifest = registry.manifest(record)
    with registry.store.connect() as conn:
        run = _run(conn, record.run_id)
        environment = _environment(conn, run)
        events = repo.history(conn, record.model)
    signature = manifest.signature or {}
    features = [
        {
            **column,
            "pii": column["name"] in registry.pii,
            "pii_kind": registry.pii.get(column["name"]),
        }
        for column in signature.get("inputs", [])
    ]
    approvals = [
        {
            "user": event.actor,
            "role": (event.details or {}).get("role"),
            "comment": (event.details or {}).get("comment"),
            "at": event.at.isoformat(),
        }
        for event in events
        if event.kind == "approved" and event.version == record.version
    ]
    return CardData(
        name=record.model,
        version=record.version,
        aliases=tuple(record.aliases),
        description=record.description or manifest.description,
        intended_use=registry.governance.get("intended_use"),
        flavor=manifest.flavor,
        flavor_version=manifest.flavor_version,
        created_at=record.created_at.isoformat(),
        created_by=record.created_by,
        run_id=record.run_id,
        git_commit=run.git_commit if run is not None else None,
        metrics=dict(record.metrics or {}),
        evaluation_data=[],
        training_data=list(manifest.training_data),
        features=features,
        outputs=list(signature.get("outputs", [])),
        environment=environment,
        requirements=list(manifest.requirements),
        approvals=approvals,
        history=[
            {
                "kind": e.kind,
                "actor": e.actor,
                "at": e.at.isoformat(),
                "alias": e.alias,
                "details": e.details,
            }
            for e in events
            if e.version in (None, record.version)
        ],
        trusted=record.trusted,
    )


def _run(conn: Any, run_id: str | None) -> run_repo.RunRecord | None:
    if run_id is None:
        return None
    try:
        return run_repo.get(conn, run_id)
    except RunNotFoundError:
        return None  # registered from a package folder whose run is in another store


def _environment(conn: Any, run: run_repo.RunRecord | None) -> dict[str, Any]:
    if run is None or run.environment_id is None:
        return {}
    recorded = environments.get(conn, run.environment_id)
    return {"python": recorded["python"], "packages": recorded["packages"]}
