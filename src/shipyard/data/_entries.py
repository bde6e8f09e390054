"""From one catalog entry to a dataset: type, allowed keys, credentials, construction.

The keys an entry may hold are the dataset class's ``__init__`` parameters plus the
catalog's own keys (``type``, ``versioned``, ``metadata``, ``layer``, and ``load_version`` on
a versioned entry), so a custom type gets the same unknown-key check as the built-in ones.
``project_root`` is supplied by the catalog, never written in an entry.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.data._credentials import (
    credentials_label,
    redact,
    resolve_credentials,
    secret_values,
)
from shipyard.data._dataset import AbstractDataset
from shipyard.data._files import FileDataset
from shipyard.data._registry import resolve_type
from shipyard.errors import DatasetError, MissingDependencyError, ShipyardError, did_you_mean

CATALOG_KEYS = frozenset({"type", "versioned", "metadata", "layer"})
# Allowed, and offered in hints, only on an entry with `versioned: true`.
VERSION_KEYS = frozenset({"load_version"})
_SUPPLIED = frozenset({"project_root"})


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """What the catalog remembers about an entry for ``describe()``. Holds no secrets."""

    declared_type: str | None = None
    origin: str | None = None
    versioned: bool = False
    load_version: str | None = None
    layer: str | None = None
    metadata: Mapping[str, Any] | None = None
    credentials: str | None = None
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class _Parameters:
    allowed: frozenset[str]
    required: frozenset[str]
    takes_any: bool
    project_root: bool


def check_entry(name: str, entry: Any, *, origin: str | None) -> type[AbstractDataset]:
    """Check an entry's shape, type and keys; return its dataset class."""
    where = f" in {origin}" if origin else ""
    if not isinstance(entry, Mapping):
        raise DatasetError(
            f"Catalog entry '{name}'{where} is a {type(entry).__name__}, not a mapping.",
            hint="Give the entry keys such as `type` and `filepath`; start names of "
            "YAML anchors used only for interpolation with '_'.",
        )
    type_name = entry.get("type")
    if not type_name or not isinstance(type_name, str):
        raise DatasetError(
            f"Catalog entry '{name}'{where} has no `type`.",
            hint="Add a type, for example `type: csv` (see docs/catalog.md for all types).",
        )
    cls = resolve_type(type_name, dataset=name, origin=origin)
    check_keys(cls, entry, subject=f"dataset '{name}'{where}", type_name=type_name)
    return cls


def check_keys(
    cls: type[AbstractDataset], entry: Mapping[str, Any], *, subject: str, type_name: str
) -> None:
    """Raise DatasetError for keys ``cls`` does not take, or required keys that are missing.

    ``subject`` names the entry in messages, e.g. "dataset 'customers' in conf/base/catalog.yml".
    """
    params = parameters_of(cls)
    allowed = params.allowed | CATALOG_KEYS
    if entry.get("versioned") is True:
        allowed |= VERSION_KEYS
    elif "load_version" in entry and "load_version" not in params.allowed:
        raise DatasetError(
            f"{subject[0].upper()}{subject[1:]} sets `load_version` but is not versioned.",
            hint="Add `versioned: true` to the entry, or remove `load_version`.",
        )
    unknown = sorted(key for key in entry if key not in allowed)
    if unknown and not params.takes_any:
        keys = ", ".join(f"'{key}'" for key in unknown)
        raise DatasetError(
            f"Unknown key{'s' if len(unknown) > 1 else ''} {keys} in {subject}."
            + did_you_mean(unknown[0], allowed),
            hint=f"Allowed keys for type '{type_name}': {', '.join(sorted(allowed))}.",
        )
    missing = sorted(key for key in params.required if key not in entry)
    if missing:
        raise DatasetError(
            f"Required key '{missing[0]}' is missing from {subject} (type '{type_name}').",
            hint=f"Add `{missing[0]}: ...` to the entry; allowed keys: "
            f"{', '.join(sorted(allowed))}.",
        )


def build_dataset(
    name: str,
    entry: Mapping[str, Any],
    *,
    credentials: Mapping[str, Any],
    project_root: Path,
    origin: str | None = None,
    pattern: str | None = None,
) -> tuple[AbstractDataset, EntryInfo]:
    """Build the dataset a catalog entry describes, named ``name``."""
    cls = check_entry(name, entry, origin=origin)
    resolved = resolve_credentials(entry, credentials, dataset=name, origin=origin)
    takes = parameters_of(cls)
    kwargs = {
        key: value
        for key, value in resolved.items()
        if key not in CATALOG_KEYS | VERSION_KEYS or key in takes.allowed
    }
    if takes.project_root:
        kwargs["project_root"] = project_root
    versioned, load_version = _versioning_keys(name, entry, origin)
    dataset = instantiate(cls, kwargs, dataset=name, origin=origin)
    metadata = entry.get("metadata")
    info = EntryInfo(
        declared_type=str(entry["type"]),
        origin=origin,
        versioned=versioned,
        load_version=load_version,
        layer=entry.get("layer") or _kedro_viz_layer(metadata),
        metadata=metadata if isinstance(metadata, Mapping) else None,
        credentials=credentials_label(entry),
        pattern=pattern,
    )
    return dataset, info


def instantiate(
    cls: type[AbstractDataset], kwargs: Mapping[str, Any], *, dataset: str, origin: str | None
) -> AbstractDataset:
    """``cls(**kwargs)`` named ``dataset``; a failure names the dataset and its file."""
    try:
        instance = cls(**kwargs)
    except MissingDependencyError:
        raise
    except Exception as exc:
        where = f" in {origin}" if origin else ""
        detail = exc.message if isinstance(exc, ShipyardError) else f"{type(exc).__name__}: {exc}"
        secrets = secret_values(kwargs.get("credentials"))
        raise DatasetError(
            redact(f"Could not create dataset '{dataset}'{where}: {detail}", secrets),
            hint=exc.hint if isinstance(exc, ShipyardError) else None,
        ) from exc
    instance.name = dataset
    if isinstance(instance, FileDataset):
        instance.check_path()
    return instance


@functools.cache
def parameters_of(cls: type[AbstractDataset]) -> _Parameters:
    """The entry keys ``cls.__init__`` takes (without ``project_root``), and which are required."""
    import inspect

    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return _Parameters(frozenset(), frozenset(), takes_any=True, project_root=False)
    allowed, required, takes_any = set(), set(), False
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            takes_any = True
        elif parameter.kind is not parameter.VAR_POSITIONAL and parameter.name not in _SUPPLIED:
            allowed.add(parameter.name)
            if parameter.default is parameter.empty:
                required.add(parameter.name)
    takes_root = "project_root" in signature.parameters
    return _Parameters(frozenset(allowed), frozenset(required), takes_any, takes_root)


def _versioning_keys(
    name: str, entry: Mapping[str, Any], origin: str | None
) -> tuple[bool, str | None]:
    """``versioned`` (a boolean) and ``load_version`` (only on a versioned entry)."""
    where = f" in {origin}" if origin else ""
    versioned = entry.get("versioned", False)
    if not isinstance(versioned, bool):
        raise DatasetError(
            f"`versioned` of dataset '{name}'{where} is {versioned!r}, not true or false.",
            hint="Write `versioned: true` to keep every save as a version, or remove the key.",
        )
    load_version = entry.get("load_version") if versioned else None
    if load_version is None:
        return versioned, None
    if not isinstance(load_version, str) or not load_version.strip():
        raise DatasetError(
            f"`load_version` of dataset '{name}'{where} is {load_version!r}, not a version "
            "id or tag.",
            hint=f"Use an id or tag from `shipyard data versions {name}`, or `latest`.",
        )
    return versioned, load_version.strip()


def _kedro_viz_layer(metadata: Any) -> str | None:
    # Kedro 0.19+ keeps the layer under metadata: {kedro-viz: {layer: ...}}.
    if isinstance(metadata, Mapping):
        viz = metadata.get("kedro-viz")
        if isinstance(viz, Mapping) and viz.get("layer"):
            return str(viz["layer"])
    return None
