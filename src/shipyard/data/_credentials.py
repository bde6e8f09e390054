"""Credentials in catalog entries: looked up by name, handed to the dataset, never shown.

A catalog entry names its credentials (``credentials: warehouse``); the catalog swaps the
name for the matching entry of the credentials mapping before the dataset is built. Every
text Shipyard shows about a dataset (repr, describe, error messages) passes through
:func:`redact`, which masks the credential values the dataset holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from shipyard.errors import CredentialsError, did_you_mean

REDACTED = "***"
CREDENTIALS_KEY = "credentials"
# Shorter values would mask ordinary words in messages; secrets are longer than this.
_MIN_SECRET_LENGTH = 4


def resolve_credentials(
    entry: Mapping[str, Any],
    credentials: Mapping[str, Any],
    *,
    dataset: str,
    origin: str | None,
) -> dict[str, Any]:
    """A copy of ``entry`` where every ``credentials: <name>`` (at any depth) is the entry.

    Inline mappings (``credentials: {con: ...}``) are kept as they are, as in Kedro.
    """
    resolved: dict[str, Any] = {}
    for key, value in entry.items():
        if key == CREDENTIALS_KEY and isinstance(value, str):
            resolved[key] = _lookup(value, credentials, dataset=dataset, origin=origin)
        elif isinstance(value, Mapping):
            resolved[key] = resolve_credentials(value, credentials, dataset=dataset, origin=origin)
        else:
            resolved[key] = value
    return resolved


def credentials_label(entry: Mapping[str, Any]) -> str | None:
    """How describe() shows an entry's credentials: the name, ``<inline>``, or None."""
    value = entry.get(CREDENTIALS_KEY)
    if value is None:
        return None
    return value if isinstance(value, str) else "<inline>"


def secret_values(credentials: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Every string inside ``credentials`` worth masking, plus passwords inside URLs."""
    if not credentials:
        return ()
    found: set[str] = set()
    for value in _leaves(credentials):
        text = str(value)
        if len(text) >= _MIN_SECRET_LENGTH:
            found.add(text)
        if "://" in text:
            password = _url_password(text)
            if password and len(password) >= _MIN_SECRET_LENGTH:
                found.add(password)
    # Longest first, so a URL is masked whole before the password inside it.
    return tuple(sorted(found, key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _lookup(
    name: str, credentials: Mapping[str, Any], *, dataset: str, origin: str | None
) -> Mapping[str, Any]:
    if name in credentials:
        return credentials[name]
    where = f" in {origin}" if origin else ""
    raise CredentialsError(
        f"Dataset '{dataset}'{where} uses credentials '{name}', which are not defined."
        + did_you_mean(name, list(credentials))
    )


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool | int | float):
        yield value


def _url_password(text: str) -> str | None:
    try:
        return urlsplit(text).password
    except ValueError:
        return None
