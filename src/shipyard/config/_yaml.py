"""Reading YAML: libyaml's fast C parser with the scalar rules OmegaConf (and Kedro) users know.

Two rules differ from plain ``yaml.safe_load``, both on purpose:

- ``1e-3`` is a float (YAML 1.1 reads it as a string, a classic learning-rate bug);
- dates such as ``2024-01-31`` stay strings, so every config value is JSON-able.

A key written twice in one mapping is an error instead of silently keeping the last one.
PyYAML is imported inside the functions, so ``import shipyard.config`` stays cheap.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from shipyard.errors import ConfigError

__all__ = ["parse_mapping", "parse_value"]

_FLOAT_TAG = "tag:yaml.org,2002:float"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)
_GENERIC_HINT = (
    "Check the indentation (spaces, never tabs) and the quotes on that line. Quote values "
    "that contain ': ' or ' #', or that start with {, [, *, &, !, %, @ or `."
)
_HINTS = (
    ("tab character", "Replace the tabs at the start of that line with spaces."),
    ("duplicate key", "Remove or rename one of the two keys; YAML would silently keep the last."),
    (
        "mapping values are not allowed",
        "Quote a value that contains ': ' (url: \"http://host: 80\"), or fix the indentation.",
    ),
    ("constructor for the tag", "Tags such as !!python/... are not allowed; write plain values."),
)


@functools.cache
def _loader_class() -> type:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class ConfigYamlLoader(base):  # type: ignore[misc, valid-type]
        """SafeLoader (C-accelerated when libyaml is present) with OmegaConf's scalars."""

    ConfigYamlLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in pairs if tag != _TIMESTAMP_TAG]
        for first, pairs in base.yaml_implicit_resolvers.items()
    }
    ConfigYamlLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))
    return ConfigYamlLoader


def _load(text: str) -> Any:
    """Compose, reject duplicate keys, then construct: checking nodes before ``<<`` merges
    are flattened is the only way to tell a repeated key from a merged-in one."""
    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _reject_duplicate_keys(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _reject_duplicate_keys(root: Any) -> None:
    import yaml

    scalar, mapping = yaml.ScalarNode, yaml.MappingNode
    pending, seen = [root], set()
    while pending:
        node = pending.pop()
        if id(node) in seen or node.__class__ is scalar:
            continue
        seen.add(id(node))  # aliases point at nodes already checked
        if node.__class__ is not mapping:
            pending.extend(node.value)
            continue
        first: dict[tuple[str, str], Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is scalar and key_node.tag != _MERGE_TAG:
                earlier = first.setdefault((key_node.tag, key_node.value), key_node)
                if earlier is not key_node:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"found duplicate key '{key_node.value}' "
                        f"(first written on line {earlier.start_mark.line + 1})",
                        key_node.start_mark,
                    )
            pending.append(value_node)


def parse_mapping(text: str, display: str, *, secret: bool = False) -> dict[Any, Any]:
    """Parse one config file's text; its top level must be a mapping (an empty file is ``{}``).

    ``display`` names the file in errors. With ``secret`` the YAML error is not chained,
    because a pure-Python parser's error carries a snippet of the offending line.
    """
    import yaml

    try:
        data = _load(text)
    except yaml.MarkedYAMLError as exc:
        error = _syntax_error(exc, display, text)
        if secret:
            raise error from None
        raise error from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{display} could not be read as YAML ({type(exc).__name__}).", hint=_GENERIC_HINT
        ) from (None if secret else exc)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{display} must hold a mapping of names to values at its top level, "
            f"but it holds a {type(data).__name__}.",
            hint="Start the file with 'name:' entries, e.g. 'companies:' then indented keys.",
        )
    return data


def _syntax_error(exc: Any, display: str, text: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    where = f"{display}, line {mark.line + 1}, column {mark.column + 1}" if mark else display
    problem = exc.problem or "invalid YAML"
    if mark and _char_at(text, mark) == "\t":
        problem = "found a tab character; YAML indents with spaces only"
    context = ""
    if exc.context and exc.context_mark and mark and exc.context_mark.line != mark.line:
        context = f" ({exc.context} started on line {exc.context_mark.line + 1})"
    hint = next((hint for needle, hint in _HINTS if needle in problem), _GENERIC_HINT)
    return ConfigError(f"{where}: {problem}{context}.", hint=hint)


def _char_at(text: str, mark: Any) -> str:
    lines = text.splitlines()
    if mark.line < len(lines) and mark.column < len(lines[mark.line]):
        return lines[mark.line][mark.column]
    return ""


def parse_value(text: str) -> Any:
    """Parse one value the way a YAML file would (``0.5`` float, ``true`` bool, ``[1, 2]``).

    Raises ``ValueError`` naming the problem when ``text`` is not valid YAML.
    """
    import yaml

    try:
        return _load(text)
    except yaml.MarkedYAMLError as exc:
        raise ValueError(exc.problem or "invalid YAML") from exc
    except yaml.YAMLError as exc:
        raise ValueError(type(exc).__name__) from exc
