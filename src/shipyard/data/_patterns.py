"""Dataset factories: catalog entries whose name is a pattern such as ``{name}_raw``.

A pattern's ``{placeholders}`` match any non-empty text; the values fill the same
placeholders in the entry's strings. When several patterns match a name, the most specific
wins, by Kedro's rule: more characters outside placeholders first, then more
placeholders, then alphabetical order. A pattern with no literal characters
(``{default}``) is the catch-all; a catalog may have one.

>>> patterns = PatternSet({"{name}_raw": {"type": "csv", "filepath": "data/{name}.csv"}})
>>> patterns.resolve("cars_raw")
('{name}_raw', {'type': 'csv', 'filepath': 'data/cars.csv'})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import DatasetError

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_pattern(name: str) -> bool:
    """Whether a catalog name is a dataset factory pattern."""
    return "{" in name


@dataclass(frozen=True, slots=True)
class _Pattern:
    text: str
    regex: re.Pattern[str]
    config: Mapping[str, Any]
    specificity: int
    placeholders: int


class PatternSet:
    """The factory patterns of one catalog, sorted so the first match is the best one."""

    def __init__(
        self,
        patterns: Mapping[str, Mapping[str, Any]],
        origins: Mapping[str, str] | None = None,
    ) -> None:
        origins = origins or {}
        compiled = [_compile(text, config, origins.get(text)) for text, config in patterns.items()]
        compiled.sort(key=lambda p: (-p.specificity, -p.placeholders, p.text))
        catch_alls = [p.text for p in compiled if p.specificity == 0]
        if len(catch_alls) > 1:
            files = sorted({origins[t] for t in catch_alls if t in origins})
            raise DatasetError(
                f"The catalog has {len(catch_alls)} catch-all patterns: "
                f"{', '.join(catch_alls)}" + (f" (in {', '.join(files)})." if files else "."),
                hint="Keep one pattern without literal characters, such as '{default}'; "
                "add literal text to the others (e.g. '{name}_raw').",
            )
        self._patterns = compiled

    def __len__(self) -> int:
        return len(self._patterns)

    @property
    def names(self) -> list[str]:
        """The patterns, best first."""
        return [p.text for p in self._patterns]

    def match(self, name: str) -> str | None:
        """The pattern that provides ``name``, or None."""
        for pattern in self._patterns:
            if pattern.regex.fullmatch(name):
                return pattern.text
        return None

    def resolve(self, name: str) -> tuple[str, dict[str, Any]] | None:
        """The matching pattern and its entry with placeholders filled in, or None."""
        for pattern in self._patterns:
            found = pattern.regex.fullmatch(name)
            if found:
                return pattern.text, _fill(pattern.config, found.groupdict())
        return None


def _compile(text: str, config: Mapping[str, Any], origin: str | None) -> _Pattern:
    where = f" in {origin}" if origin else ""
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for found in _PLACEHOLDER.finditer(text):
        field = found.group(1)
        if not _IDENTIFIER.fullmatch(field):
            raise DatasetError(
                f"Pattern '{text}'{where} has the placeholder '{{{field}}}', which is not a "
                "plain name.",
                hint="Placeholders are names in braces, such as '{name}' or '{namespace}'.",
            )
        parts.append(re.escape(text[position : found.start()]))
        parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>.+?)")
        seen.add(field)
        position = found.end()
    parts.append(re.escape(text[position:]))
    literal = _PLACEHOLDER.sub("", text)
    if "{" in literal or "}" in literal:
        raise DatasetError(
            f"Pattern '{text}'{where} has an unbalanced brace.",
            hint="Write placeholders as '{name}', with one opening and one closing brace.",
        )
    for used in _used_fields(config):
        if used not in seen:
            raise DatasetError(
                f"Pattern '{text}'{where} uses '{{{used}}}' in its entry, but the pattern "
                "has no such placeholder.",
                hint=f"Use only the pattern's placeholders: {', '.join(sorted(seen)) or 'none'}.",
            )
    count = len(_PLACEHOLDER.findall(text))
    return _Pattern(text, re.compile("".join(parts)), config, len(literal), count)


def _used_fields(value: Any) -> set[str]:
    if isinstance(value, str):
        return {f for f in _PLACEHOLDER.findall(value) if _IDENTIFIER.fullmatch(f)}
    if isinstance(value, Mapping):
        return set().union(*(_used_fields(item) for item in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_used_fields(item) for item in value))
    return set()


def _fill(value: Any, fields: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(
            lambda m: fields.get(m.group(1), m.group(0)),
            value,
        )
    if isinstance(value, Mapping):
        return {key: _fill(item, fields) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(item, fields) for item in value]
    return value
