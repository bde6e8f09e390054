"""Dataset type names: short names, Kedro's names, dotted paths and plugin entry points.

A catalog entry's ``type`` is looked up in this order:

1. a built-in short name (``csv``) or a Kedro name (``pandas.CSVDataset``, also the older
   ``pandas.CSVDataSet`` and ``kedro_datasets.``-prefixed spellings);
2. a dotted path to an :class:`AbstractDataset` subclass (``my_pkg.datasets.MyDataset``
   or ``my_pkg.datasets:MyDataset``);
3. a name in the ``shipyard.datasets`` entry point group, so a plugin package can add
   types. Entry points are read only for names that are not built in.

Built-in classes are named by import path and imported on first use, as fsspec does
with its backends.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from shipyard.data._dataset import AbstractDataset
from shipyard.errors import DatasetError, did_you_mean

ENTRY_POINT_GROUP = "shipyard.datasets"

BUILTIN_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "csv": "shipyard.data._frames:CSVDataset",
        "parquet": "shipyard.data._frames:ParquetDataset",
        "excel": "shipyard.data._frames:ExcelDataset",
        "pandas_json": "shipyard.data._frames:PandasJSONDataset",
        "json": "shipyard.data._text:JSONDataset",
        "yaml": "shipyard.data._text:YAMLDataset",
        "text": "shipyard.data._text:TextDataset",
        "pickle": "shipyard.data._pickle:PickleDataset",
        "memory": "shipyard.data._memory:MemoryDataset",
        "partitioned": "shipyard.data._partitioned:PartitionedDataset",
        "sql_table": "shipyard.data._sql:SQLTableDataset",
        "sql_query": "shipyard.data._sql:SQLQueryDataset",
        "metrics": "shipyard.data._metrics:MetricsDataset",
    }
)

# Kedro's names (after dropping a kedro package prefix and spelling DataSet as Dataset).
KEDRO_ALIASES: dict[str, str] = {
    "pandas.CSVDataset": "csv",
    "pandas.ParquetDataset": "parquet",
    "pandas.ExcelDataset": "excel",
    "pandas.JSONDataset": "pandas_json",
    "pandas.SQLTableDataset": "sql_table",
    "pandas.SQLQueryDataset": "sql_query",
    "json.JSONDataset": "json",
    "yaml.YAMLDataset": "yaml",
    "text.TextDataset": "text",
    "pickle.PickleDataset": "pickle",
    "MemoryDataset": "memory",
    "io.MemoryDataset": "memory",
    "PartitionedDataset": "partitioned",
    "io.PartitionedDataset": "partitioned",
    "partitions.PartitionedDataset": "partitioned",
    "tracking.MetricsDataset": "metrics",
    "tracking.JSONDataset": "json",
}

_KEDRO_PREFIXES = ("kedro_datasets.", "kedro.extras.datasets.", "kedro.io.")


def builtin_name(type_name: str) -> str | None:
    """The short name for a built-in or Kedro type name, or None.

    >>> builtin_name("kedro_datasets.pandas.CSVDataSet")
    'csv'
    """
    if type_name in BUILTIN_TYPES:
        return type_name
    name = type_name.strip()
    for prefix in _KEDRO_PREFIXES:
        if name.startswith(prefix):
            name = name.removeprefix(prefix)
            break
    if name.endswith("DataSet"):
        name = name.removesuffix("DataSet") + "Dataset"
    return KEDRO_ALIASES.get(name)


def resolve_type(
    type_name: str, *, dataset: str | None = None, origin: str | None = None
) -> type[AbstractDataset]:
    """The dataset class a catalog ``type`` names. Unknown names raise DatasetError."""
    short = builtin_name(type_name)
    if short is not None:
        return _import_target(BUILTIN_TYPES[short])
    if "." in type_name or ":" in type_name:
        found = _import_dotted(type_name, dataset=dataset, origin=origin)
        if found is not None:
            return _checked(found, type_name, dataset=dataset, origin=origin)
    found, plugin_names = _from_entry_points(type_name, dataset=dataset, origin=origin)
    if found is not None:
        return _checked(found, type_name, dataset=dataset, origin=origin)
    raise _unknown(type_name, plugin_names, dataset=dataset, origin=origin)


def _import_target(target: str) -> type[AbstractDataset]:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _import_dotted(type_name: str, *, dataset: str | None, origin: str | None) -> Any:
    separator = ":" if ":" in type_name else "."
    module_name, _, attribute = type_name.rpartition(separator)
    if not module_name:
        return None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # The named module is missing: the name is no dotted path (maybe an entry point).
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise _import_failed(type_name, module_name, exc, dataset, origin) from exc
    except Exception as exc:
        raise _import_failed(type_name, module_name, exc, dataset, origin) from exc
    return getattr(module, attribute, None)


def _from_entry_points(
    type_name: str, *, dataset: str | None, origin: str | None
) -> tuple[Any, list[str]]:
    from shipyard._entry_points import entry_points

    points = entry_points(ENTRY_POINT_GROUP)
    for point in points:
        if point.name == type_name:
            try:
                return point.load(), []
            except Exception as exc:
                raise DatasetError(
                    f"{_subject(dataset, origin)} has type '{type_name}' from the "
                    f"'{ENTRY_POINT_GROUP}' entry point {point.value}, which failed to load: "
                    f"{type(exc).__name__}: {exc}",
                    hint="Reinstall or fix the plugin package that declares this entry point.",
                ) from exc
    return None, [point.name for point in points]


def _checked(
    found: Any, type_name: str, *, dataset: str | None, origin: str | None
) -> type[AbstractDataset]:
    if isinstance(found, type) and issubclass(found, AbstractDataset):
        return found
    raise DatasetError(
        f"{_subject(dataset, origin)} has type '{type_name}', which is {found!r}, "
        "not a subclass of shipyard.data.AbstractDataset.",
        hint="Point `type` at a class that subclasses AbstractDataset and implements "
        "_load, _save, _exists and _describe.",
    )


def _unknown(
    type_name: str, plugin_names: list[str], *, dataset: str | None, origin: str | None
) -> DatasetError:
    choices = [*BUILTIN_TYPES, *KEDRO_ALIASES, *plugin_names]
    return DatasetError(
        f"{_subject(dataset, origin)} has unknown type '{type_name}'."
        + did_you_mean(type_name, choices),
        hint=(
            f"Use a built-in type ({', '.join(BUILTIN_TYPES)}), a Kedro name such as "
            "pandas.CSVDataset, a dotted path to your own AbstractDataset subclass "
            f"(my_pkg.datasets.MyDataset), or a name from the '{ENTRY_POINT_GROUP}' "
            "entry point group."
        ),
    )


def _import_failed(
    type_name: str, module_name: str, exc: Exception, dataset: str | None, origin: str | None
) -> DatasetError:
    return DatasetError(
        f"{_subject(dataset, origin)} has type '{type_name}', but importing {module_name} "
        f"failed: {type(exc).__name__}: {exc}",
        hint=f"Fix that module; `python -c 'import {module_name}'` shows the full error.",
    )


def _subject(dataset: str | None, origin: str | None) -> str:
    subject = f"Dataset '{dataset}'" if dataset else "A dataset"
    return f"{subject} in {origin}" if origin else subject
