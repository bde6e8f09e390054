"""Datasets and the data catalog.

A :class:`Catalog` maps names to datasets. Build it from Kedro-style catalog entries::

    from pathlib import Path
    from shipyard.data import Catalog

    catalog = Catalog.from_config(
        {"customers": {"type": "csv", "filepath": "data/01_raw/customers.csv"}},
        project_root=Path("."),
    )
    frame = catalog.load("customers")

Built-in types (``type:`` in an entry): ``csv``, ``parquet``, ``excel``, ``pandas_json``,
``json``, ``yaml``, ``text``, ``pickle``, ``memory``, ``partitioned``, ``sql_table``,
``sql_query``, ``metrics``; Kedro's names for them work too. Your own types subclass
:class:`AbstractDataset` (or :class:`FileDataset`) and are named by dotted path or
through the ``shipyard.datasets`` entry point group. pandas, fsspec and SQLAlchemy are
imported only when data is loaded or saved. See docs/catalog.md.

An entry with ``versioned: true`` keeps every save as an immutable version in the
project's object store; build the catalog with ``versioning=Versioning.open(".shipyard")``.
See docs/versioning.md.
"""

from __future__ import annotations

from shipyard.data._catalog import Catalog
from shipyard.data._content import value_digest
from shipyard.data._dataset import AbstractDataset
from shipyard.data._files import FileDataset
from shipyard.data._frames import CSVDataset, ExcelDataset, PandasJSONDataset, ParquetDataset
from shipyard.data._memory import MemoryDataset
from shipyard.data._metrics import MetricsDataset
from shipyard.data._partitioned import PartitionedDataset
from shipyard.data._pickle import PickleDataset
from shipyard.data._registry import BUILTIN_TYPES, ENTRY_POINT_GROUP, resolve_type
from shipyard.data._sql import SQLQueryDataset, SQLTableDataset
from shipyard.data._text import JSONDataset, TextDataset, YAMLDataset
from shipyard.data._versioned import (
    VersionedDataset,
    Versioning,
    WorkingState,
    parse_load_versions,
)

__all__ = [
    "BUILTIN_TYPES",
    "ENTRY_POINT_GROUP",
    "AbstractDataset",
    "CSVDataset",
    "Catalog",
    "ExcelDataset",
    "FileDataset",
    "JSONDataset",
    "MemoryDataset",
    "MetricsDataset",
    "PandasJSONDataset",
    "ParquetDataset",
    "PartitionedDataset",
    "PickleDataset",
    "SQLQueryDataset",
    "SQLTableDataset",
    "TextDataset",
    "VersionedDataset",
    "Versioning",
    "WorkingState",
    "YAMLDataset",
    "parse_load_versions",
    "resolve_type",
    "value_digest",
]
