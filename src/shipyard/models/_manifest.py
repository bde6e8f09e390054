"""The package manifest, ``shipyard-model.yaml``: what a package holds, validated on read.

A manifest may come from someone else (a registry, a remote store), so every key must be
known and present, every value of its type, every file path relative and inside the
package, and every digest well formed, before anything reads the files it names.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from shipyard.errors import ModelError, ShipyardError, UnsafePathError, did_you_mean
from shipyard.models._signature import Signature
from shipyard.objects import Digest, check_relpath

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "Invalid",
    "PackageManifest",
    "check_metrics",
    "check_training_data",
    "read_manifest",
]

FORMAT_VERSION = 1
MANIFEST = "shipyard-model.yaml"
_TRAINING_KEYS = ("dataset", "version_id", "digest")


@dataclass(frozen=True)
class PackageManifest:
    """The contents of ``shipyard-model.yaml``. ``signature`` is in its dict form
    (:meth:`Signature.to_dict`); ``files`` maps each relative path to its digest."""

    format_version: int
    flavor: str
    flavor_version: str
    flavor_details: dict[str, Any]
    signature: dict[str, Any] | None
    input_example: str | None
    python: str
    requirements: tuple[str, ...]
    metrics: dict[str, float]
    run_id: str | None
    training_data: tuple[dict[str, Any], ...]
    reference_profile: str | None
    description: str | None
    created_at: str
    shipyard_version: str
    has_predict_proba: bool
    files: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, keys in the manifest's order."""
        data = asdict(self)
        data["requirements"] = list(self.requirements)
        data["training_data"] = [dict(item) for item in self.training_data]
        return data

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "given") -> PackageManifest:
        """Validate ``data``: every key known and present, every value of its type, every
        file path relative and inside the package. Faults are ModelErrors naming them."""
        try:
            if not isinstance(data, Mapping):
                raise Invalid(f"it holds a {type(data).__name__}, not a mapping")
            known = [item.name for item in fields(cls)]
            for key in data:
                if key not in known:
                    raise Invalid(f"unknown key {key!r}." + did_you_mean(str(key), known))
            missing = [key for key in known if key not in data]
            if missing:
                raise Invalid(f"it lacks the key(s) {', '.join(missing)}")
            return cls(**{key: _CHECKS[key](data[key], key) for key in known})
        except Invalid as exc:
            raise ModelError(
                f"The model manifest {source} is invalid: {exc}",
                hint="A manifest is written by shipyard.models; register the model again "
                "from its run rather than editing it.",
            ) from None

    @classmethod
    def from_file(cls, path: Path) -> PackageManifest:
        """Read and validate a manifest file."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(
                f"No model package at {path.parent}: {path.name} is missing.",
                hint="Point at a folder written by ModelPackage.save() or the `model` dataset.",
            ) from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ModelError(
                f"The model manifest {path} cannot be read as YAML: {exc}",
                hint="The package is damaged; register the model again from its run.",
            ) from exc
        return cls.from_dict(data, source=str(path))


def read_manifest(folder: Path) -> PackageManifest:
    """The validated manifest of the package in ``folder`` (its files are not checked)."""
    return PackageManifest.from_file(Path(folder) / MANIFEST)


class Invalid(Exception):
    """A manifest value that is not what it must be; the message names the key."""


def _checked(kind: type, label: str) -> Callable[[Any, str], Any]:
    def check(value: Any, key: str) -> Any:
        if not isinstance(value, kind):
            raise Invalid(f"{key}: expected {label}, found {value!r}")
        return value

    return check


def _format_version(value: Any, key: str) -> int:
    if value != FORMAT_VERSION or isinstance(value, bool):
        raise Invalid(
            f"{key} {value!r} is not {FORMAT_VERSION}, the one this Shipyard reads "
            "(a newer Shipyard may have written it)"
        )
    return FORMAT_VERSION


def _relpath(value: Any, key: str) -> str:
    try:
        return check_relpath(_checked(str, "a relative file path")(value, key))
    except UnsafePathError as exc:
        raise Invalid(f"{key}: {exc.message}") from exc


def _optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    return lambda value, key: None if value is None else check(value, key)


def _signature(value: Any, key: str) -> dict[str, Any] | None:
    try:
        return None if value is None else Signature.from_dict(value).to_dict()
    except ModelError as exc:
        raise Invalid(f"{key}: {exc.message}") from exc


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid(f"{key}: expected a list of strings, found {value!r}")
    return tuple(value)


def check_metrics(value: Any, key: str = "metrics") -> dict[str, float]:
    """Metric name -> number, as floats; :class:`Invalid` names a bad one."""
    if not isinstance(value, Mapping):
        raise Invalid(f"{key}: expected a mapping of metric names to numbers, found {value!r}")
    return {str(name): _number(item, f"{key}.{name}") for name, item in value.items()}


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Invalid(f"{key}: expected a number, found {value!r}")
    return float(value)


def check_training_data(value: Any, key: str = "training_data") -> tuple[dict[str, Any], ...]:
    """The data versions a model was trained on; :class:`Invalid` names a bad entry."""
    if not isinstance(value, list | tuple):
        raise Invalid(f"{key}: expected a list of dataset versions, found {value!r}")
    entries = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) != set(_TRAINING_KEYS):
            raise Invalid(f"{key}: each entry has exactly the keys {_TRAINING_KEYS}: {item!r}")
        if not all(item[name] is None or isinstance(item[name], str) for name in _TRAINING_KEYS):
            raise Invalid(f"{key}: the values of {item!r} are not strings")
        entries.append(dict(item))
    return tuple(entries)


def _created_at(value: Any, key: str) -> str:
    text = _checked(str, "an ISO 8601 time")(value, key)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{key}: {value!r} is not an ISO 8601 time") from None
    return text


def _files(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise Invalid(f"{key}: expected a mapping of file paths to digests, found {value!r}")
    files = {}
    for path, digest in value.items():
        _relpath(path, f"{key}: {path!r}")
        try:
            files[path] = str(Digest.parse(digest))
        except ShipyardError as exc:
            raise Invalid(f"{key}: {path!r}: {exc.message}") from exc
    return files


_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "format_version": _format_version,
    "flavor": _checked(str, "a flavor name"),
    "flavor_version": _checked(str, "a version string"),
    "flavor_details": lambda value, key: dict(_checked(Mapping, "a mapping")(value, key)),
    "signature": _signature,
    "input_example": _optional(_relpath),
    "python": _checked(str, "a Python version"),
    "requirements": _strings,
    "metrics": check_metrics,
    "run_id": _optional(_checked(str, "a run id")),
    "training_data": check_training_data,
    "reference_profile": _optional(_relpath),
    "description": _optional(_checked(str, "a text")),
    "created_at": _created_at,
    "shipyard_version": _checked(str, "a version string"),
    "has_predict_proba": _checked(bool, "true or false"),
    "files": _files,
}
