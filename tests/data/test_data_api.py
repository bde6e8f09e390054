"""shipyard.data's public surface, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

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
    code = (
        "import sys, shipyard.data; "
        "heavy = {'pandas', 'pyarrow', 'sqlalchemy', 'fsspec', 'yaml', 'openpyxl', 'numpy'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_building_a_catalog_pulls_in_no_heavy_library():
    code = (
        "import sys; from pathlib import Path; from shipyard.data import Catalog; "
        "c = Catalog.from_config({'a': {'type': 'csv', 'filepath': 'a.csv'}, "
        "'{n}_p': {'type': 'parquet', 'filepath': '{n}.pq'}}, project_root=Path('.')); "
        "c.save('m', 1); c.load('m'); c.describe('a'); c.get('x_p'); "
        "print(sorted({'pandas', 'pyarrow', 'sqlalchemy', 'fsspec'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
