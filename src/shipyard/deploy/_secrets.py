"""Secrets in files that go into an image or a manifest: find them, refuse them.

One rule for every generator and check of ``shipyard.deploy``: a key is secret-named when
one of its words is password, passwd, pwd, secret or token, or it ends in a key such as
api_key, access_key or private_key (camelCase is split into words first); its value is
a secret when it is written out literally rather than taken from the environment
(``${VAR}``, ``$VAR``, ``${oc.env:VAR}``). A URL with a password is a secret wherever it is.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from shipyard.errors import ConfigError

__all__ = ["find_secrets", "is_interpolated", "is_secret_name", "refuse_secrets", "secrets_in"]

_INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{[A-Za-z_][A-Za-z0-9_]*[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")


def is_interpolated(value: object) -> bool:
    """True if ``value`` takes its content from the environment (``${VAR}``, ``$VAR``)
    or has none, so it can hold no secret itself."""
    return value is None or value == "" or bool(_INTERPOLATION.search(str(value)))


def is_secret_name(key: object) -> bool:
    """Whether a key (``db_password``, ``apiKey``, ``AWS_SECRET_ACCESS_KEY``) names a
    secret.

    >>> is_secret_name("apiKey"), is_secret_name("monkey"), is_secret_name("DB_PASSWORD")
    (True, False, True)
    """
    return _secret_name(str(key))


_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "secret", "token", "apikey"})
_SECRET_PAIRS = frozenset({"api_key", "access_key", "private_key", "secret_key", "auth_key"})
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@")


def find_secrets(data: Any, *, every_value: bool = False) -> list[str]:
    """The key paths in ``data`` (a parsed YAML document) that hold a literal secret: a
    key named like a password, secret, token, API key or access key whose value is a
    string or number other than a ``${...}`` interpolation, or a URL with a password.
    With ``every_value`` (a credentials file), every literal value counts.

    >>> find_secrets({"db": {"password": "hunter2", "user": "ml"}, "api": {"token": "${oc.env:T}"}})
    ['db.password']
    """
    found: list[str] = []
    _walk_secrets(data, "", found, secret=every_value)
    return found


def _walk_secrets(data: Any, path: str, found: list[str], *, secret: bool) -> None:
    """``secret``: every literal below this point counts (a credentials file, or the
    items of a list under a secret-named key)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            child = f"{path}.{key}" if path else str(key)
            named = secret or _secret_name(str(key))
            if _literal(value) and named:
                found.append(child)
            else:
                _walk_secrets(
                    value, child, found, secret=secret or (named and isinstance(value, list))
                )
    elif isinstance(data, list):
        for index, value in enumerate(data):
            child = f"{path}[{index}]"
            if _literal(value) and secret:
                found.append(child)
            else:
                _walk_secrets(value, child, found, secret=secret)
    elif isinstance(data, str):
        match = _URL_PASSWORD.match(data)
        if match is not None and "${" not in match.group(1):
            found.append(f"{path} (a URL with a password)")


def _secret_name(key: str) -> bool:
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()
    parts = [part for part in re.split(r"[^a-z0-9]+", words) if part]
    pairs = {f"{a}_{b}" for a, b in itertools.pairwise(parts)}
    return bool(_SECRET_WORDS.intersection(parts) or _SECRET_PAIRS.intersection(pairs))


def _literal(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(value.strip()) and "${" not in value


def secrets_in(folders: Iterable[Path], root: Path) -> dict[str, list[str]]:
    """The literal secrets of every YAML file under ``folders``, by file (relative)."""
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted([*folder.rglob("*.yml"), *folder.rglob("*.yaml")]):
            shown = path.relative_to(root).as_posix()
            try:
                documents = list(yaml.safe_load_all(path.read_text("utf-8")))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise ConfigError(
                    f"{shown} cannot be read, so it cannot be checked for secrets: {exc}",
                    hint="Fix the file; every configuration file put in an image is checked.",
                ) from exc
            every = path.name.startswith("credentials")
            keys = [key for doc in documents for key in find_secrets(doc, every_value=every)]
            if keys:
                found[shown] = keys
    return found


def refuse_secrets(found: Mapping[str, list[str]]) -> None:
    found = {where: keys for where, keys in found.items() if keys}
    if not found:
        return
    listed = "; ".join(f"{where}: {', '.join(keys)}" for where, keys in found.items())
    raise ConfigError(
        f"Refusing to put a secret in an image: {listed} "
        f"hold{'s' if sum(map(len, found.values())) == 1 else ''} a literal value.",
        hint="Move the value to conf/local/credentials.yml (never copied into an image) and "
        "give it to the container at run time (a mounted credentials file), or read it from "
        "the environment with ${oc.env:VAR}.",
    )
