"""shipyard.data's public surface, and that importing it stays light."""

from __future__ import annotations

from tests.imports import modules_loaded_by

import shipyard.data


def test_public_names():
    assert set(shipyard.data.__all__) == {
        "AbstractDataset",
        "BUILTIN_TYPES",
        "CSVDataset",
        "Catalog",
        "ENTRY_POINT_GROUP",
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
    }
    assert shipyard.data.ENTRY_POINT_GROUP == "shipyard.datasets"


def test_import_pulls_in_no_heavy_library():
    heavy = {"pandas", "pyarrow", "sqlalchemy", "fsspec", "yaml", "openpyxl", "numpy"}
    assert modules_loaded_by("import shipyard.data", heavy) == []


def test_building_a_catalog_pulls_in_no_heavy_library():
    code = (
        "from pathlib import Path; from shipyard.data import Catalog; "
        "c = Catalog.from_config({'a': {'type': 'csv', 'filepath': 'a.csv'}, "
        "'{n}_p': {'type': 'parquet', 'filepath': '{n}.pq'}}, project_root=Path('.')); "
        "c.save('m', 1); c.load('m'); c.describe('a'); c.get('x_p')"
    )
    assert modules_loaded_by(code, {"pandas", "pyarrow", "sqlalchemy", "fsspec"}) == []
