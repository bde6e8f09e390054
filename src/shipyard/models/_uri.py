"""Model references: ``models:/churn/3``, ``models:/churn@champion``, ``churn@champion``,
``churn:3`` and ``churn`` (the newest version), read the same everywhere.

The name is normalised (:func:`~shipyard.models._names.normalize_model_name`) and the alias
too (:func:`~shipyard.models._names.normalize_alias`), so ``models:/Churn@Champion`` and
``churn@champion`` are one reference. ``str()`` gives the canonical URI.

>>> ref = parse_model_ref("Churn:3")
>>> ref, str(ref)
(ModelRef(name='churn', version=3, alias=None), 'models:/churn/3')
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.errors import ModelError
from shipyard.models._names import LATEST, normalize_alias, normalize_model_name

__all__ = ["URI_PREFIX", "ModelRef", "parse_model_ref"]

URI_PREFIX = "models:/"
_FORMS = (
    "A model reference is one of models:/NAME/VERSION, models:/NAME@ALIAS, NAME@ALIAS, "
    "NAME:VERSION or NAME (the newest version), e.g. models:/churn@champion or churn:3."
)


@dataclass(frozen=True)
class ModelRef:
    """A model, and either a version number, an alias or neither (the newest version)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{URI_PREFIX}{self.name}/{self.version}"
        if self.alias is not None:
            return f"{URI_PREFIX}{self.name}@{self.alias}"
        return f"{URI_PREFIX}{self.name}"


def parse_model_ref(text: str) -> ModelRef:
    """The reference ``text`` names; :class:`ModelError` naming the accepted forms if it
    is malformed, or the problem with its name or alias.

    A bare ``NAME``, ``NAME:latest`` and ``models:/NAME/latest`` mean the newest version
    (``version`` and ``alias`` both None). The ``models:`` scheme is case-insensitive.
    """
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise ModelError(f"{text!r} is not a model reference: it is empty.", hint=_FORMS)
    prefixed = raw[: len(URI_PREFIX)].lower() == URI_PREFIX
    body = raw[len(URI_PREFIX) :] if prefixed else raw
    name, at, alias = body.partition("@")
    name, separator, version = name.partition("/" if prefixed else ":")
    if at and separator:
        raise _malformed(raw, "it names both a version and an alias")
    if at and not alias:
        raise _malformed(raw, "no alias follows '@'")
    if not prefixed and "/" in body:
        raise _malformed(raw, "'/' is only for models:/NAME/VERSION; write NAME:VERSION")
    if at:
        return ModelRef(normalize_model_name(name), alias=normalize_alias(alias))
    if not separator or version == LATEST:
        return ModelRef(normalize_model_name(name))
    if not (version.isascii() and version.isdigit() and int(version) > 0):
        raise _malformed(raw, f"the version '{version}' is not a number from 1 up")
    return ModelRef(normalize_model_name(name), version=int(version))


def _malformed(raw: str, reason: str) -> ModelError:
    return ModelError(f"'{raw}' is not a model reference: {reason}.", hint=_FORMS)
