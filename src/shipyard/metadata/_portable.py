"""What differs between SQLite and PostgreSQL, in one place: upserts, times, exact floats."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Table
from sqlalchemy.types import UserDefinedType

__all__ = [
    "FloatWithoutAffinity",
    "execute_many",
    "from_db_time",
    "insert",
    "now",
    "to_db_time",
]


class FloatWithoutAffinity(UserDefinedType):
    """A SQLite column that keeps a float's exact bits, -0.0 included.

    SQLite writes integral values of REAL-affinity columns to disk as integers, which
    turns -0.0 into 0.0. A declared type containing "BLOB" has no affinity: Python floats
    are stored as 8-byte IEEE doubles, compare numerically and use indexes as usual.
    """

    cache_ok = True

    def get_col_spec(self, **_kwargs: Any) -> str:
        return "FLOAT_BLOB"


def insert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT, which offers ``on_conflict_do_nothing/do_update`` on both."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_db_time(value: datetime | None) -> datetime | None:
    """A time as UTC for storing (a naive time is taken as local time, like Python does).

    SQLite stores the wall-clock fields without the offset, so every time is stored in
    UTC and string order is time order.
    """
    if value is None or value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def from_db_time(value: datetime | None) -> datetime | None:
    """A stored time as timezone-aware UTC (SQLite gives it back naive, in UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def execute_many(
    conn: Connection,
    statement: Any,
    table: Table,
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
    keys: Sequence[str] | None = None,
) -> None:
    """Run an INSERT (or upsert) of ``table`` for every row in one executemany handed
    straight to the driver. Rows are mappings, or sequences of the values of ``keys`` in
    that order (tuples that match the statement's order pass through uncopied).

    SQLAlchemy's per-row parameter handling costs more than SQLite's insert itself (about
    30 µs a row); the only conversions the drivers need (SQLite's text times, booleans)
    are done here, each distinct value converted once.
    """
    if not rows:
        return
    if keys is None:
        keys = list(rows[0])
        rows = [tuple(row[key] for key in keys) for row in rows]  # type: ignore[index]
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    converters = [_converter(table.c[key].type, dialect) for key in keys]
    if compiled.positional:
        order = [list(keys).index(name) for name in compiled.positiontup or ()]
        if order != list(range(len(keys))):
            rows = [tuple(row[i] for i in order) for row in rows]
            converters = [converters[i] for i in order]
    convert_at = [(i, convert) for i, convert in enumerate(converters) if convert is not None]
    params: list[Any] = rows  # type: ignore[assignment]
    if convert_at:  # one pass per converted column, not a generator per row
        params = [list(values) for values in rows]
        for i, convert in convert_at:
            for values in params:
                values[i] = convert(values[i])
    if compiled.positional:
        params = [tuple(values) for values in params]  # drivers take tuples only
    else:
        params = [dict(zip(keys, values, strict=True)) for values in params]
    conn.exec_driver_sql(str(compiled), params)


def _converter(column_type: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """SQLAlchemy's conversion of a value of this type for this dialect's driver, with
    each distinct value converted once (runs share their timestamps); None if none."""
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    if dialect.name == "sqlite" and column_type._type_affinity is DateTime:
        # SQLAlchemy's own formatting of the same text, at a fifth of the cost.
        return _sqlite_time
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = result = process(value)
            return result
        except TypeError:  # unhashable: convert every time
            return process(value)

    return convert


def _sqlite_time(value: datetime | None) -> str | None:
    """A UTC time as SQLAlchemy writes it to SQLite: ``2026-11-28 17:19:38.123456``."""
    if value is None:
        return None
    # The first 26 characters leave out the "+00:00" of an aware time.
    return value.isoformat(" ", "microseconds")[:26]
