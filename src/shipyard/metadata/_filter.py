"""The filter language of ``runs.search``: a tokenizer, a parser, and a compiler to one SELECT.

Grammar (``and`` only; keywords are case-insensitive)::

    expression := comparison ("and" comparison)*
    comparison := key operator value
    key        := prefix "." name | attribute
    prefix     := metrics | params | tags | attributes   (or metric, param, tag, attribute)
    name       := letters, digits, _ - . (params.model.C) | `anything` (metrics.`val/loss`)
    operator   := = | != | < | <= | > | >=
    value      := number | 'string' | "string" | true | false

Comparisons:

- ``metrics.K``: the run's latest value of K, compared with a number. NaN matches nothing.
- ``params.K``: params are stored as JSON text. Against a number, the param compares
  numerically when it is a JSON number (else it does not match); against a string, it
  compares with the string; against true/false, with the boolean.
- ``tags.K``: the tag's text, compared with the value's text.
- ``attributes.A`` (or just ``A``): a column of the run: status, pipeline, started_at
  (compared with an ISO 8601 time such as '2026-01-31'), ...

A run without the metric, param or tag a comparison names does not match. Sorting by a
key puts runs without it last, in either direction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, Select, and_, case, cast, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from shipyard.errors import MetadataError, did_you_mean
from shipyard.metadata._schema import latest_metrics, params, run_tags, runs
from shipyard.metadata.params import to_json

__all__ = ["ATTRIBUTES", "compile_search", "parse_filter", "parse_sort"]

_PREFIXES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
}
#: The run columns a filter or sort can name as ``attributes.NAME`` or just ``NAME``.
ATTRIBUTES = (
    "id",
    "experiment_id",
    "name",
    "project",
    "pipeline",
    "env",
    "status",
    "started_at",
    "ended_at",
    "user",
    "host",
    "pid",
    "git_commit",
    "git_branch",
    "git_dirty",
    "git_diff_digest",
    "environment_id",
    "parent_run_id",
)
_TIME_ATTRIBUTES = ("started_at", "ended_at")
_OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
_FILTER_HINT = (
    "Write comparisons joined by 'and': metrics.auc > 0.8 and params.model.C = 0.5 and "
    "tags.team = 'ds' and status = 'finished'. Operators: = != < <= > >=. Strings in quotes; "
    "keys with other characters in backquotes: metrics.`val/loss`."
)
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_OPERATOR = re.compile(r"!=|<=|>=|==|=|<|>")
_DIGITS = tuple("0123456789")


@dataclass(frozen=True)
class Token:
    """A piece of an expression: its kind, value and 1-based column."""

    kind: str  # key, operator, number, string, bool, and, end; time once checked
    value: Any
    column: int
    text: str


@dataclass(frozen=True)
class Key:
    """A key of a filter or sort: ``metrics`` + ``val/loss``."""

    kind: str  # metrics, params, tags, attributes
    name: str


@dataclass(frozen=True)
class Comparison:
    """``key operator value`` of a filter."""

    key: Key
    operator: str
    value: Token


class _Syntax:
    """Raises errors that show the expression with a caret under the column."""

    def __init__(self, expression: str, what: str, *, offset: int = 0) -> None:
        self.expression = expression
        self.what = what
        self.offset = offset  # where the tokenized part starts in ``expression``

    def error(self, column: int, message: str) -> MetadataError:
        column += self.offset
        pointer = " " * (column - 1) + "^"
        return MetadataError(
            f"Invalid {self.what} at column {column}: {message}\n  {self.expression}\n  {pointer}",
            hint=_FILTER_HINT,
        )


def tokenize(expression: str, syntax: _Syntax) -> Iterator[Token]:
    """The tokens of ``expression``, ending with an ``end`` token."""
    position = 0
    while position < len(expression):
        char = expression[position]
        column = position + 1
        if char.isspace():
            position += 1
        elif char in "'\"":
            value, position = _quoted(expression, position, syntax, "string")
            yield Token("string", value, column, expression[column - 1 : position])
        elif number := _NUMBER.match(expression, position):
            text = number.group()
            value = float(text) if any(c in text for c in ".eE") else int(text)
            position = number.end()
            yield Token("number", value, column, text)
        elif operator := _OPERATOR.match(expression, position):
            position = operator.end()
            value = "=" if operator.group() == "==" else operator.group()
            yield Token("operator", value, column, operator.group())
        elif char.isalpha() or char == "_":
            token, position = _word(expression, position, syntax)
            yield token
        else:
            raise syntax.error(column, f"unexpected character {char!r}.")
    yield Token("end", None, len(expression) + 1, "the end")


def _word(expression: str, start: int, syntax: _Syntax) -> tuple[Token, int]:
    position = start
    while position < len(expression) and (
        expression[position].isalnum() or expression[position] in "_.-"
    ):
        position += 1
    word = expression[start:position]
    if word.endswith(".") and expression[position : position + 1] == "`":
        quoted, position = _quoted(expression, position, syntax, "key")
        return Token("key", (word, quoted), start + 1, expression[start:position]), position
    lowered = word.lower()
    if lowered == "and":
        return Token("and", "and", start + 1, word), position
    if lowered in ("true", "false"):
        return Token("bool", lowered == "true", start + 1, word), position
    return Token("key", (word, ""), start + 1, word), position


def _key(token: Token, syntax: _Syntax) -> Key:
    """The key a ``key`` token names: its prefix checked, an attribute name checked."""
    word, quoted = token.value
    column = token.column
    prefix, dot, name = word.partition(".")
    if not dot:
        if word in ATTRIBUTES:
            return Key("attributes", word)
        raise syntax.error(
            column,
            f"unknown key '{word}'.{did_you_mean(word, ATTRIBUTES)} Keys start with metrics., "
            f"params., tags. or attributes.; attributes: {', '.join(ATTRIBUTES)}.",
        )
    kind = _PREFIXES.get(prefix.lower())
    if kind is None:
        raise syntax.error(
            column,
            f"unknown prefix '{prefix}'.{did_you_mean(prefix, _PREFIXES)} Expected metrics, "
            "params, tags or attributes.",
        )
    name += quoted
    if not name:
        raise syntax.error(column + len(word), f"expected a name after '{prefix}.'.")
    if kind == "attributes" and name not in ATTRIBUTES:
        raise syntax.error(
            column,
            f"unknown attribute '{name}'.{did_you_mean(name, ATTRIBUTES)} Attributes: "
            f"{', '.join(ATTRIBUTES)}.",
        )
    return Key(kind, name)


def _quoted(expression: str, start: int, syntax: _Syntax, what: str) -> tuple[str, int]:
    """The text between a quote at ``start`` and its closing quote (doubled = literal)."""
    quote = expression[start]
    characters = []
    position = start + 1
    while position < len(expression):
        char = expression[position]
        if char == quote:
            if expression[position + 1 : position + 2] != quote:
                return "".join(characters), position + 1
            position += 1  # a doubled quote stands for one
        characters.append(char)
        position += 1
    raise syntax.error(start + 1, f"the {what} that starts here has no closing {quote}.")


def parse_filter(expression: str) -> list[Comparison]:
    """The comparisons of a filter expression (joined by ``and``)."""
    syntax = _Syntax(expression, "filter")
    tokens = list(tokenize(expression, syntax))
    comparisons: list[Comparison] = []
    index = 0

    def expect(kinds: Sequence[str], expected: str) -> Token:
        nonlocal index
        token = tokens[index]
        if token.kind not in kinds:
            found = "the end" if token.kind == "end" else repr(token.text)
            extra = " (only 'and' is supported)" if token.text.lower() == "or" else ""
            raise syntax.error(token.column, f"expected {expected}, found {found}{extra}.")
        index += 1
        return token

    while True:
        key = expect(["key"], "a key such as metrics.auc, params.lr, tags.team or status")
        operator = expect(["operator"], "an operator (=, !=, <, <=, >, >=)")
        value = expect(["number", "string", "bool"], "a value: a number, 'text', true or false")
        comparison = Comparison(_key(key, syntax), operator.value, value)
        comparisons.append(_checked(comparison, syntax))
        if expect(["and", "end"], "'and' or the end of the filter").kind == "end":
            return comparisons


def _checked(comparison: Comparison, syntax: _Syntax) -> Comparison:
    """The comparison if its value suits its key (a time's text parsed to a datetime)."""
    key, value = comparison.key, comparison.value
    if key.kind == "metrics" and value.kind != "number":
        raise syntax.error(value.column, f"metrics.{key.name} compares with a number.")
    if key.kind == "attributes":
        if key.name in _TIME_ATTRIBUTES:
            moment = _time_value(value, syntax)
            return replace(comparison, value=replace(value, kind="time", value=moment))
        if key.name == "git_dirty" and value.kind != "bool":
            raise syntax.error(value.column, "git_dirty compares with true or false.")
        if key.name == "pid" and value.kind != "number":
            raise syntax.error(value.column, "pid compares with a number.")
    return comparison


def _time_value(value: Token, syntax: _Syntax) -> datetime:
    try:
        moment = datetime.fromisoformat(value.value) if value.kind == "string" else None
    except ValueError:
        moment = None
    if moment is None:
        raise syntax.error(
            value.column, "times compare with an ISO 8601 time such as '2026-01-31T12:00'."
        )
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_sort(expression: str) -> tuple[Key, bool]:
    """The key of a sort expression and whether it is descending (a leading ``-``)."""
    descending = expression.strip().startswith("-")
    body = expression.strip().lstrip("-+").strip()
    syntax = _Syntax(expression, "sort key", offset=expression.index(body) if body else 0)
    tokens = list(tokenize(body, syntax))
    if tokens[0].kind != "key" or tokens[1].kind != "end":
        bad = tokens[0] if tokens[0].kind != "key" else tokens[1]
        found = "the end" if bad.kind == "end" else repr(bad.text)
        raise syntax.error(
            bad.column,
            f"expected one key such as metrics.auc, -metrics.auc or started_at, found {found}.",
        )
    return _key(tokens[0], syntax), descending


class _Joins:
    """One aliased join per (table, key) the filter and sort name."""

    def __init__(self) -> None:
        self.source: Any = runs
        self._aliases: dict[tuple[str, str], Any] = {}

    def table(self, key: Key, *, outer: bool) -> Any:
        found = self._aliases.get((key.kind, key.name))
        if found is not None:
            return found
        table = {"metrics": latest_metrics, "params": params, "tags": run_tags}[key.kind]
        alias = table.alias(f"{key.kind}_{len(self._aliases)}")
        self.source = self.source.join(
            alias, and_(alias.c.run_id == runs.c.id, alias.c.key == key.name), isouter=outer
        )
        self._aliases[(key.kind, key.name)] = alias
        return alias


def compile_search(columns: Sequence[Any], *, where: str | None, sort: str | None) -> Select:
    """One SELECT of ``columns`` of runs, filtered and sorted, with one join per key."""
    joins = _Joins()
    conditions = [_condition(item, joins) for item in parse_filter(where)] if where else []
    key, descending = parse_sort(sort) if sort else (Key("attributes", "started_at"), True)
    order = _sort_expressions(key, joins)
    query = select(*columns).select_from(joins.source).where(*conditions)
    ordered = [(item.desc() if descending else item.asc()).nulls_last() for item in order]
    return query.order_by(*ordered, runs.c.id.desc())


def _condition(comparison: Comparison, joins: _Joins) -> ColumnElement[bool]:
    key, value = comparison.key, comparison.value
    if key.kind == "attributes":
        column = runs.c[key.name]
        typed = value.kind == "time" or key.name in ("pid", "git_dirty")
        literal = value.value if typed else _as_text(value)
        return _compare(column, comparison.operator, literal)
    alias = joins.table(key, outer=False)
    if key.kind == "metrics":
        return _compare(alias.c.value, comparison.operator, float(value.value))
    if key.kind == "params":
        if value.kind == "number":
            return _compare(_param_number(alias), comparison.operator, float(value.value))
        return _compare(alias.c.value, comparison.operator, to_json(value.value))
    return _compare(alias.c.value, comparison.operator, _as_text(value))


def _as_text(value: Token) -> str:
    """A value compared with text: a string as is, a number as written, true/false."""
    if value.kind == "string":
        return value.value
    return value.text.lower() if value.kind == "bool" else value.text


def _param_number(alias: Any) -> ColumnElement[Any]:
    """A param's JSON text as a double when it is a JSON number, else NULL.

    The guard keeps CAST away from other text: PostgreSQL would raise on it.
    """
    first, second = func.substr(alias.c.value, 1, 1), func.substr(alias.c.value, 2, 1)
    is_number = or_(first.in_(_DIGITS), and_(first == "-", second.in_(_DIGITS)))
    return case((is_number, cast(alias.c.value, Float(precision=53))), else_=None)


def _sort_expressions(key: Key, joins: _Joins) -> list[ColumnElement[Any]]:
    if key.kind == "attributes":
        return [runs.c[key.name]]
    alias = joins.table(key, outer=True)
    if key.kind == "params":  # numbers in numeric order, then the other values as text
        return [_param_number(alias), alias.c.value]
    return [alias.c.value]


def _compare(column: Any, operator: str, value: Any) -> ColumnElement[bool]:
    match operator:
        case "=":
            return column == value
        case "!=":
            return column != value
        case "<":
            return column < value
        case "<=":
            return column <= value
        case ">":
            return column > value
        case _:
            return column >= value
