"""Tables and queries in a SQL database, through SQLAlchemy and pandas.

The connection string comes from credentials (``credentials: {con: "sqlite:///..."}``),
so it never sits in the catalog file. A relative SQLite path resolves against the project
root, like every other path in the catalog. SQLAlchemy is imported on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.data._dataset import AbstractDataset
from shipyard.data._paths import resolve_location
from shipyard.errors import DatasetError


class _SQLDataset(AbstractDataset):
    """The connection both SQL types share: credentials in, one engine per dataset."""

    def __init__(
        self,
        credentials: Mapping[str, Any],
        project_root: str | Path | None,
        execution_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(credentials, Mapping) or not credentials.get("con"):
            raise DatasetError(
                "The credentials of a SQL dataset need a `con` connection string.",
                hint="Add `con: postgresql://user:password@host/db` (or `sqlite:///data/x.db`) "
                "to the credentials entry in conf/local/credentials.yml.",
            )
        self._credentials = dict(credentials)
        self._project_root = Path(project_root) if project_root is not None else Path.cwd()
        self._execution_options = dict(execution_options or {})
        self._engine: Any = None

    @property
    def engine(self) -> Any:
        """The SQLAlchemy engine, created on first use."""
        if self._engine is None:
            self._engine = _create_engine(
                self._credentials, self._project_root, self._execution_options
            )
        return self._engine

    def _release(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class SQLTableDataset(_SQLDataset):
    """A DataFrame as a database table (``type: sql_table``; Kedro: ``pandas.SQLTableDataset``).

    ``load_args`` go to ``pandas.read_sql_table``, ``save_args`` to ``DataFrame.to_sql``.
    Saving replaces the table (``if_exists: replace``) and skips the index, like
    writing a file. The whole save is one transaction, so a save that fails half-way
    leaves the old table as it was.

    >>> sales = SQLTableDataset("sales", credentials={"con": "sqlite:///data/shop.db"})
    """

    _type_name = "sql_table"

    def __init__(
        self,
        table_name: str,
        *,
        credentials: Mapping[str, Any],
        load_args: Mapping[str, Any] | None = None,
        save_args: Mapping[str, Any] | None = None,
        project_root: str | Path | None = None,
    ) -> None:
        super().__init__(credentials, project_root)
        self._table_name = table_name
        self._load_args = dict(load_args or {})
        self._save_args = {"index": False, "if_exists": "replace", **(save_args or {})}

    def _load(self) -> Any:
        import pandas as pd

        return pd.read_sql_table(self._table_name, con=self.engine, **self._load_args)

    def _save(self, data: Any) -> None:
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            raise DatasetError(
                f"Dataset {self._label()} (sql_table) can only save a pandas DataFrame, "
                f"got {type(data).__qualname__}.",
                hint="Return a DataFrame from the node that outputs it.",
            )
        # Our own transaction: pandas commits what it wrote even when to_sql fails.
        with self.engine.begin() as connection:
            data.to_sql(name=self._table_name, con=connection, **self._save_args)

    def _exists(self) -> bool:
        import sqlalchemy

        schema = self._save_args.get("schema") or self._load_args.get("schema")
        return bool(sqlalchemy.inspect(self.engine).has_table(self._table_name, schema=schema))

    def _describe(self) -> dict[str, Any]:
        return {
            "table_name": self._table_name,
            "load_args": self._load_args,
            "save_args": self._save_args,
        }

    def _target(self) -> str:
        return f"table '{self._table_name}'"


class SQLQueryDataset(_SQLDataset):
    """The result of a query, as a DataFrame (``type: sql_query``; read-only).

    Give the query inline (``sql``) or as a file (``filepath``, resolved like any data
    path). ``load_args`` go to ``pandas.read_sql_query``; ``execution_options`` to the
    SQLAlchemy engine.
    """

    _type_name = "sql_query"

    def __init__(
        self,
        sql: str | None = None,
        *,
        credentials: Mapping[str, Any],
        filepath: str | None = None,
        load_args: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        execution_options: Mapping[str, Any] | None = None,
        allow_outside_project: bool = False,
        project_root: str | Path | None = None,
    ) -> None:
        if (sql is None) == (filepath is None):
            raise DatasetError(
                "A sql_query dataset needs exactly one of `sql` and `filepath`.",
                hint="Write the query inline as `sql: SELECT ...`, or put it in a .sql file "
                "named by `filepath`.",
            )
        super().__init__(credentials, project_root, execution_options)
        self._sql = sql
        self._filepath = filepath
        self._load_args = dict(load_args or {})
        self._fs_args = dict(fs_args or {})
        self._allow_outside_project = allow_outside_project

    def _load(self) -> Any:
        import pandas as pd
        import sqlalchemy

        return pd.read_sql_query(sqlalchemy.text(self._query()), con=self.engine, **self._load_args)

    def _save(self, data: Any) -> None:
        raise DatasetError(
            f"Dataset {self._label()} is a sql_query dataset, which can only be loaded.",
            hint="Save to a `sql_table` dataset instead, and query that.",
        )

    def _exists(self) -> bool:
        if self._filepath is None:
            return True
        return self._query_file().exists()

    def _describe(self) -> dict[str, Any]:
        return {"sql": self._sql, "filepath": self._filepath, "load_args": self._load_args}

    def _target(self) -> str:
        return self._filepath or "an inline SQL query"

    def _query(self) -> str:
        if self._sql is not None:
            return self._sql
        with self._query_file().open_read() as handle:
            return handle.read().decode("utf-8")

    def _query_file(self) -> Any:
        return resolve_location(
            str(self._filepath),
            dataset=self.name or str(self._filepath),
            project_root=self._project_root,
            allow_outside_project=self._allow_outside_project,
            fs_args=self._fs_args,
        )


def _create_engine(
    credentials: Mapping[str, Any], project_root: Path, execution_options: Mapping[str, Any]
) -> Any:
    import sqlalchemy

    url = sqlalchemy.make_url(str(credentials["con"]))
    database = url.database
    if (
        url.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
        and not Path(database).is_absolute()
    ):
        path = project_root / database
        path.parent.mkdir(parents=True, exist_ok=True)
        url = url.set(database=str(path))
    # Other credential keys (connect_args, pool settings, ...) go to create_engine, as in Kedro.
    options = {key: value for key, value in credentials.items() if key != "con"}
    engine = sqlalchemy.create_engine(url, **options)
    if url.get_backend_name() == "sqlite" and url.get_driver_name() == "pysqlite":
        _transactional_sqlite(engine)
    return engine.execution_options(**execution_options) if execution_options else engine


def _transactional_sqlite(engine: Any) -> None:
    """Make pysqlite run DDL (DROP/CREATE TABLE) inside transactions, so they roll back.

    pysqlite commits schema changes on its own; SQLAlchemy's documented recipe hands
    transaction control to SQLAlchemy instead.
    """
    import sqlalchemy

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    sqlalchemy.event.listen(engine, "connect", on_connect)
    sqlalchemy.event.listen(engine, "begin", on_begin)
