"""Turning OmegaConf's resolution errors into messages that name the key, the file and the fix.

OmegaConf's own message can quote the string it was parsing; for credentials that string
may be a secret, so credentials errors are built from key names only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import ConfigError, CredentialsError, did_you_mean

__all__ = ["GlobalsInsideGlobals", "MissingGlobal", "Source", "in_chain", "resolution_error"]

_ENV_MISSING = re.compile(r"Environment variable '([^']*)' not found")
_KEY_MISSING = re.compile(r"Interpolation key '([^']*)' not found")
_RESOLVER_MISSING = re.compile(r"Unsupported interpolation type (\S+)")
_RESOLVERS = ("globals", "oc.env", "oc.decode", "oc.select", "oc.create")


@dataclass(frozen=True, slots=True)
class Source:
    """What is being resolved, for error messages. ``secret`` keeps values out of them."""

    kind: str
    origins: Mapping[Any, str]
    secret: bool = False


class MissingGlobal(KeyError):
    """``${globals:key}`` without a default names a key no globals file defines."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class GlobalsInsideGlobals(KeyError):
    """Globals are resolved before anything else, so they cannot read themselves that way."""


@dataclass(frozen=True, slots=True)
class _Failure:
    exc: Exception
    message: str  # the first line of OmegaConf's message
    where: str  # "'companies.filepath' in conf/base/catalog.yml"
    tree: Mapping[Any, Any]
    kind: str
    globals_keys: Callable[[], list[str]]


def resolution_error(
    exc: Exception,
    tree: Mapping[Any, Any],
    source: Source,
    globals_keys: Callable[[], list[str]],
) -> ConfigError:
    """The ConfigError (CredentialsError for secrets) that explains ``exc``."""
    full_key = str(getattr(exc, "full_key", "") or "")
    top = _top_key(tree, full_key)
    file = source.origins.get(top, f"the {source.kind} files")
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if source.secret:
        return _credentials_error(exc, message, top, full_key, file)
    failure = _Failure(exc, message, f"'{full_key}' in {file}", tree, source.kind, globals_keys)
    for explain in (_env_missing, _global_error, _key_missing, _unknown_resolver, _bad_syntax):
        explained = explain(failure)
        if explained is not None:
            return explained
    return ConfigError(
        f"Cannot resolve {failure.where}: {message}.",
        hint="Check the ${...} expressions at that key and the keys they refer to.",
    )


def _env_missing(failure: _Failure) -> ConfigError | None:
    found = _ENV_MISSING.search(failure.message)
    if found is None:
        return None
    return ConfigError(
        f"{failure.where} uses environment variable '{found.group(1)}', which is not set.",
        hint=_env_hint(found.group(1)),
    )


def _env_hint(variable: str) -> str:
    return (
        f"Set it before running (export {variable}=...), or give a default: "
        f"${{oc.env:{variable},default}}."
    )


def _global_error(failure: _Failure) -> ConfigError | None:
    if in_chain(failure.exc, GlobalsInsideGlobals) is not None:
        return ConfigError(
            f"{failure.where} uses ${{globals:...}}, which globals files cannot use.",
            hint="Inside globals*.yml, refer to another global directly: ${other.key}.",
        )
    missing = in_chain(failure.exc, MissingGlobal)
    if missing is None:
        return None
    return ConfigError(
        f"{failure.where} uses ${{globals:{missing.key}}}, but no globals*.yml file defines "
        f"'{missing.key}'." + did_you_mean(missing.key, failure.globals_keys()),
        hint="Define it in conf/base/globals.yml, or give a default: ${globals:KEY,default}.",
    )


def _key_missing(failure: _Failure) -> ConfigError | None:
    found = _KEY_MISSING.search(failure.message)
    if found is None:
        return None
    ref = found.group(1)
    return ConfigError(
        f"{failure.where} refers to '${{{ref}}}', but the merged {failure.kind} has no key "
        f"'{ref}'." + did_you_mean(ref, _dotted_keys(failure.tree)),
        hint=f"${{...}} looks up keys of the same kind (the {failure.kind} files of conf/base "
        "and conf/<env>, merged). For values shared between kinds, put them in "
        "conf/base/globals.yml and write ${globals:KEY}.",
    )


def _unknown_resolver(failure: _Failure) -> ConfigError | None:
    found = _RESOLVER_MISSING.search(failure.message)
    if found is None:
        return None
    return ConfigError(
        f"{failure.where} uses an unknown resolver '{found.group(1)}'."
        + did_you_mean(found.group(1), _RESOLVERS),
        hint="Available resolvers: ${oc.env:VAR}, ${oc.env:VAR,default}, ${globals:KEY}, "
        "${globals:KEY,default}, ${oc.decode:TEXT}, ${oc.select:KEY,default}.",
    )


def _bad_syntax(failure: _Failure) -> ConfigError | None:
    if type(failure.exc).__name__ != "GrammarParseError":
        return None
    return ConfigError(
        f"{failure.where} has invalid ${{...}} syntax: {failure.message}.",
        hint="Close every ${ with } and write \\${ for a literal '${'.",
    )


def _credentials_error(
    exc: Exception, message: str, top: Any, full_key: str, file: str
) -> CredentialsError:
    env = _ENV_MISSING.search(message)
    if env is not None:
        return CredentialsError(
            f"Credentials entry '{top}' uses environment variable '{env.group(1)}', "
            "which is not set.",
            hint=_env_hint(env.group(1)),
        )
    missing_global = in_chain(exc, MissingGlobal)
    missing_key = _KEY_MISSING.search(message)
    detail = type(exc).__name__
    if missing_global is not None:
        detail = f"${{globals:{missing_global.key}}} is not defined"
    elif missing_key is not None:
        detail = f"it refers to '${{{missing_key.group(1)}}}', which is not defined"
    elif detail == "GrammarParseError":
        detail = "its ${...} syntax is invalid"
    return CredentialsError(
        f"Credentials entry '{top}' in {file} cannot be resolved at '{full_key}': {detail}.",
        hint="Check the ${...} expressions of that entry. Its text is not shown because it "
        "may hold a secret.",
    )


def in_chain(exc: BaseException, kind: type[BaseException]) -> Any:
    """The first exception of type ``kind`` in ``exc``'s cause/context chain, or None.

    OmegaConf wraps what a resolver raises without chaining it as the cause.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _top_key(tree: Mapping[Any, Any], full_key: str) -> Any:
    for key in sorted(tree, key=lambda key: -len(str(key))):
        name = str(key)
        if full_key == name or full_key.startswith((f"{name}.", f"{name}[")):
            return key
    return full_key


def _dotted_keys(tree: Mapping[Any, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        keys.append(name)
        if isinstance(value, Mapping):
            keys.extend(_dotted_keys(value, f"{name}."))
    return keys
