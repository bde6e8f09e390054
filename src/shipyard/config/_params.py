"""Parameters: ``--params`` overrides, applying them strictly, and ``params:`` names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from shipyard.config._tree import copy_tree
from shipyard.config._yaml import parse_value
from shipyard.errors import ParamsError, did_you_mean

__all__ = ["apply_params_overrides", "flatten_params", "parse_params_overrides"]

_OPENING = "[{"
_CLOSING = "]}"
_QUOTES = "'\""
_FORMAT_HINT = "Write overrides as key=value pairs separated by commas: 'model.C=0.5,name=x'."


def parse_params_overrides(text: str) -> dict[str, Any]:
    """Parse ``--params`` text into a nested dict; values are read as YAML scalars.

    Commas inside brackets or quotes do not split, ``key=`` gives ``""``, and dotted
    keys nest.

    >>> parse_params_overrides("model.C=0.5,name=x,flag=true,layers=[1,2]")
    {'model': {'C': 0.5}, 'name': 'x', 'flag': True, 'layers': [1, 2]}
    """
    pairs = []
    for token in _split(text):
        key, equals, raw = token.partition("=")
        key, raw = key.strip(), raw.strip()
        if not equals:
            raise ParamsError(f"Parameter override '{token}' has no '='.", hint=_FORMAT_HINT)
        _check_key(key, token)
        pairs.append((key, _parse(key, raw)))
    return _nest(pairs)


def _split(text: str) -> list[str]:
    tokens: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in _QUOTES and (not current or current[-1] in "=[{,: "):
            quote = char  # a quote opens a value only where YAML would read it as one
        elif char in _OPENING:
            depth += 1
        elif char in _CLOSING:
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            tokens.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote or depth:
        raise ParamsError(
            f"Parameter overrides '{text}' have an unclosed {'quote' if quote else 'bracket'}.",
            hint="Close every [, { and quote in the value, e.g. layers=[1,2] or name='a, b'.",
        )
    tokens.append("".join(current))
    return [token.strip() for token in tokens if token.strip()]


def _check_key(key: str, token: str) -> None:
    if not key or any(not part.strip() for part in key.split(".")):
        raise ParamsError(
            f"Parameter override '{token}' has an empty name or an empty part in its name.",
            hint=_FORMAT_HINT,
        )


def _parse(key: str, raw: str) -> Any:
    if not raw:
        return ""
    try:
        return parse_value(raw)
    except ValueError as exc:
        raise ParamsError(
            f"The value of parameter override '{key}' is not valid: {raw} ({exc}).",
            hint="Quote values that contain special characters, e.g. name='a: b'.",
        ) from None


def _nest(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Dotted keys into nested dicts; a key given twice, or as a value and a group, fails."""
    nested: dict[str, Any] = {}
    for dotted, value in _leaves(pairs):
        *groups, leaf = dotted.split(".")
        node = nested
        for depth, group in enumerate(groups):
            node = node.setdefault(group, {})
            if not isinstance(node, dict):
                _conflict(dotted, ".".join(groups[: depth + 1]))
        if leaf in node:
            _conflict(dotted, dotted)
        node[leaf] = value
    return nested


def _leaves(pairs: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """Mapping values become dotted pairs, so ``model={C: 1}`` and ``model.penalty=l1`` merge."""
    for dotted, value in pairs:
        if isinstance(value, Mapping) and value:
            yield from _leaves((f"{dotted}.{key}", item) for key, item in value.items())
        else:
            yield dotted, value


def _conflict(dotted: str, other: str) -> None:
    clash = "is given twice" if dotted == other else f"conflicts with the override of '{other}'"
    raise ParamsError(
        f"Parameter override '{dotted}' {clash}.",
        hint="Give each parameter once, either as a group or as its individual keys.",
    )


def _expand(overrides: Mapping[Any, Any]) -> dict[str, Any]:
    """Overrides as nested dicts, whether given nested, dotted (``{"model.C": 1}``) or mixed."""
    return _nest((str(key), value) for key, value in overrides.items())


def apply_params_overrides(
    params: Mapping[str, Any], overrides: Mapping[str, Any], *, allow_new: bool = False
) -> dict[str, Any]:
    """A copy of ``params`` with ``overrides`` applied; ``params`` is not modified.

    Nested overrides merge into groups key by key. A key that ``params`` does not have,
    at any depth, is a :class:`ParamsError` suggesting the closest existing key, unless
    ``allow_new`` is true.

    >>> apply_params_overrides({"model": {"C": 1.0, "penalty": "l2"}}, {"model.C": 0.5})
    {'model': {'C': 0.5, 'penalty': 'l2'}}
    """
    result = copy_tree(dict(params))
    _apply(result, _expand(overrides), "", params, allow_new)
    return result


def _apply(
    target: dict[Any, Any],
    overrides: dict[str, Any],
    prefix: str,
    params: Mapping[str, Any],
    allow_new: bool,
) -> None:
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if key not in target and not allow_new:
            raise _unknown(dotted, prefix, target, params)
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _apply(current, value, f"{dotted}.", params, allow_new)
        elif isinstance(value, dict) and key in target and current is not None:
            raise ParamsError(
                f"Parameter '{dotted}' is a single value ({current!r}), not a group, so its "
                f"keys ({', '.join(map(str, value))}) cannot be overridden.",
                hint=f"Override the value itself: --params '{dotted}=...'.",
            )
        elif isinstance(current, dict) and current:
            raise ParamsError(
                f"Parameter '{dotted}' is a group ({', '.join(map(str, current))}); "
                f"replacing it with a single value ({value!r}) would drop its keys.",
                hint=f"Override its keys one by one: --params '{dotted}.KEY=...'.",
            )
        else:
            target[key] = copy_tree(value)


def _unknown(dotted: str, prefix: str, level: Mapping[Any, Any], params: Mapping) -> ParamsError:
    names = [f"{prefix}{key}" for key in level]
    siblings = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") or "none"
    return ParamsError(
        f"Parameter '{dotted}' does not exist, so it cannot be overridden."
        + did_you_mean(dotted, flatten_params(params)),
        hint=f"Parameters at that level: {siblings}. Fix the name, or add the parameter to "
        "conf/base/parameters.yml first.",
    )


def flatten_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Every group and value under its dotted name, for ``params:<name>`` node inputs.

    >>> flatten_params({"model": {"C": 1}})
    {'model': {'C': 1}, 'model.C': 1}
    """
    flat: dict[str, Any] = {}
    for key, value in params.items():
        flat[str(key)] = value
        if isinstance(value, Mapping):
            flat.update({f"{key}.{name}": item for name, item in flatten_params(value).items()})
    return flat
