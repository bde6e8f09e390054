"""Resolving ``${...}`` in a merged kind of config with OmegaConf.

OmegaConf builds a node per value and parses every interpolated string with its grammar;
for a 200-entry catalog that costs several times the YAML parse. So only the distinct
``${...}`` expressions go through OmegaConf, next to the top-level entries they can refer
to, and the strings are rebuilt from the results exactly as OmegaConf concatenates them.
Expressions whose meaning depends on where they sit (relative ``${.key}``) or that hide a
missing key behind a default (``oc.select``) use the whole tree, and so does any failure,
which keeps answers and error messages identical to a plain OmegaConf resolve.

``${globals:key}`` reads the globals of the loader that is resolving, through a context
variable: the resolver is registered for the process, yet two loaders never see each
other's globals, even from different threads.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from shipyard.config._resolution_errors import (
    GlobalsInsideGlobals,
    MissingGlobal,
    Source,
    in_chain,
    resolution_error,
)
from shipyard.config._tree import copy_tree
from shipyard.errors import ShipyardError

__all__ = ["resolve"]

_TARGETS = "__shipyard_interpolations__"
_WHOLE_TREE = re.compile(r"\$\{\s*\.|oc\.select")
_NO_DEFAULT: Any = object()
_GLOBALS: ContextVar[Callable[[], Mapping[str, Any]] | None] = ContextVar(
    "shipyard_config_globals", default=None
)


def resolve(
    tree: dict[Any, Any],
    source: Source,
    *,
    globals_: Callable[[], Mapping[str, Any]] | None = None,
) -> dict[Any, Any]:
    """``tree`` with every ``${...}`` resolved; ``tree`` itself is not modified.

    ``globals_`` returns the mapping ``${globals:...}`` reads; it is only called when an
    expression uses it. ``None`` means globals are not available (inside globals files).
    """
    spots = list(_interpolated_strings(tree, ()))
    if not spots:
        return tree
    from omegaconf.errors import OmegaConfBaseException

    _register_resolvers()
    token = _GLOBALS.set(globals_)
    try:
        if not any(_WHOLE_TREE.search(text) for _, text in spots):
            try:
                return _resolve_targeted(tree, spots)
            except (OmegaConfBaseException, _NeedsWholeTree):
                pass  # the whole tree gives the real error (or, if it differs, the answer)
        try:
            return _resolve_whole(tree)
        except OmegaConfBaseException as exc:
            own = in_chain(exc, ShipyardError)  # raised by our resolver, e.g. a bad globals.yml
            if own is not None:
                raise own from None
            raise resolution_error(exc, tree, source, _globals_keys) from (
                None if source.secret else exc
            )
    finally:
        _GLOBALS.reset(token)


def _interpolated_strings(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, str):
        if "${" in value:
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _interpolated_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _interpolated_strings(item, (*path, index))


class _NeedsWholeTree(Exception):
    """A string the targeted resolve cannot rebuild exactly as OmegaConf would."""


def _resolve_targeted(tree: dict[Any, Any], spots: list[tuple[tuple, str]]) -> dict[Any, Any]:
    """Resolve each distinct ``${...}`` expression once, then rebuild the strings.

    A catalog whose 200 file paths all start with ``${_root}`` parses one expression
    instead of 200: OmegaConf's grammar parser is the slow part of interpolation.
    """
    from omegaconf import OmegaConf

    plans = [_segments(text) for _, text in spots]
    targets = list(dict.fromkeys(part for plan in plans for is_expr, part in plan if is_expr))
    container = {key: tree[key] for key in _referenced_keys(tree, targets)}
    container[_TARGETS] = targets
    values = OmegaConf.to_container(OmegaConf.create(container)[_TARGETS], resolve=True)
    by_target = dict(zip(targets, values, strict=True))
    # Copy only the containers on the way to a rewritten string; the rest stays shared
    # with the loader's cache, which nobody modifies.
    resolved = dict(tree)
    copied = {id(resolved)}
    for (path, _), plan in zip(spots, plans, strict=True):
        parent = resolved
        for part in path[:-1]:
            child = parent[part]
            if id(child) not in copied:
                child = parent[part] = child.copy()
                copied.add(id(child))
            parent = child
        parent[path[-1]] = _assemble(plan, by_target)
    return resolved


def _segments(text: str) -> list[tuple[bool, str]]:
    """``text`` as (is_expression, text) parts; the whole string is one expression when
    escapes or quotes could make brace counting disagree with OmegaConf's grammar."""
    if "\\" in text or "'" in text or '"' in text:
        return [(True, text)]
    parts: list[tuple[bool, str]] = []
    start, opening = 0, text.find("${")
    while opening != -1:
        depth, end = 0, opening + 1
        for end in range(opening + 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        if depth:
            return [(True, text)]  # unclosed: let OmegaConf report it
        if opening > start:
            parts.append((False, text[start:opening]))
        parts.append((True, text[opening : end + 1]))
        start, opening = end + 1, text.find("${", end + 1)
    if start < len(text):
        parts.append((False, text[start:]))
    return parts


def _assemble(plan: list[tuple[bool, str]], values: Mapping[str, Any]) -> Any:
    if len(plan) == 1 and plan[0][0]:
        return values[plan[0][1]]  # a lone expression keeps its type: ${n} gives an int
    pieces = []
    for is_expr, part in plan:
        value = values[part] if is_expr else part
        if not isinstance(value, str | int | float | bool | None):
            raise _NeedsWholeTree(part)
        pieces.append(str(value))
    return "".join(pieces)


def _referenced_keys(tree: dict[Any, Any], texts: list[str]) -> set[Any]:
    """Top-level keys whose name appears in an expression, followed transitively.

    Matching names as substrings may take an entry that is not needed; that only costs
    time. Missing one would fail the targeted resolve, which then falls back.
    """
    names = {key: str(key) for key in tree}
    needed: set[Any] = set()
    while texts:
        expressions = " ".join(texts)
        found = [key for key, name in names.items() if key not in needed and name in expressions]
        needed.update(found)
        texts = [text for key in found for _, text in _interpolated_strings(tree[key], ())]
    return needed


def _resolve_whole(tree: dict[Any, Any]) -> dict[Any, Any]:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.create(tree), resolve=True)  # type: ignore[return-value]


def _register_resolvers() -> None:
    # Replacing on every resolve keeps ours in place even if another library in the
    # process registered its own "globals" resolver; it is a dict assignment.
    _registrar()("globals", _resolve_global, replace=True)


@functools.cache
def _registrar() -> Callable[..., None]:
    from omegaconf import OmegaConf

    # OmegaConf 2.4 renamed register_new_resolver to register_resolver; before 2.4 that
    # name is the legacy string-only API, told apart by its lack of `replace`.
    modern = getattr(OmegaConf, "register_resolver", None)
    if modern is not None and "replace" in inspect.signature(modern).parameters:
        return modern
    return OmegaConf.register_new_resolver


def _resolve_global(key: Any, default: Any = _NO_DEFAULT) -> Any:
    load = _GLOBALS.get()
    if load is None:
        raise GlobalsInsideGlobals(str(key))
    value: Any = load()
    for part in str(key).split("."):
        if not isinstance(value, Mapping) or part not in value:
            if default is _NO_DEFAULT:
                raise MissingGlobal(str(key))
            return default
        value = value[part]
    return copy_tree(value)


def _globals_keys() -> list[str]:
    load = _GLOBALS.get()
    try:
        return list(_flat_keys(load())) if load is not None else []
    except ShipyardError:
        return []


def _flat_keys(tree: Mapping[Any, Any], prefix: str = "") -> Iterator[str]:
    for key, value in tree.items():
        yield f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flat_keys(value, f"{prefix}{key}.")
