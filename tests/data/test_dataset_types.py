"""Type names: short names, Kedro's names, dotted paths and entry points."""

from __future__ import annotations

import re
import textwrap

import pytest

from shipyard.data import BUILTIN_TYPES, AbstractDataset, resolve_type
from shipyard.data._dataset import type_label
from shipyard.errors import DatasetError

KEDRO_NAMES = {
    "pandas.CSVDataset": "csv",
    "pandas.ParquetDataset": "parquet",
    "pandas.ExcelDataset": "excel",
    "pandas.JSONDataset": "pandas_json",
    "json.JSONDataset": "json",
    "yaml.YAMLDataset": "yaml",
    "text.TextDataset": "text",
    "pickle.PickleDataset": "pickle",
    "MemoryDataset": "memory",
    "io.MemoryDataset": "memory",
    "partitions.PartitionedDataset": "partitioned",
    "pandas.SQLTableDataset": "sql_table",
    "pandas.SQLQueryDataset": "sql_query",
    "tracking.MetricsDataset": "metrics",
}

PLUGIN_MODULE = """
from shipyard.data import JSONDataset

class FancyDataset(JSONDataset):
    pass

class NotADataset:
    pass
"""


@pytest.mark.parametrize("short", sorted(BUILTIN_TYPES))
def test_short_names_resolve_to_classes_that_carry_them(short):
    cls = resolve_type(short)
    assert issubclass(cls, AbstractDataset)
    assert type_label(cls) == short


@pytest.mark.parametrize(("kedro", "short"), sorted(KEDRO_NAMES.items()))
def test_kedro_names_and_old_spellings(kedro, short):
    expected = resolve_type(short)
    old = kedro.removesuffix("Dataset") + "DataSet"
    for spelling in (kedro, old, f"kedro_datasets.{kedro}", f"kedro.extras.datasets.{old}"):
        assert resolve_type(spelling) is expected, spelling


@pytest.mark.parametrize(
    ("kedro", "short"),
    [
        ("kedro.io.MemoryDataset", "memory"),
        ("kedro.io.MemoryDataSet", "memory"),
        ("kedro.io.PartitionedDataSet", "partitioned"),
        ("PartitionedDataset", "partitioned"),
    ],
)
def test_kedro_io_names(kedro, short):
    assert resolve_type(kedro) is resolve_type(short)


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """An installed-looking package ``fancyplugin`` with a ``shipyard.datasets`` entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "fancyplugin.py").write_text(PLUGIN_MODULE)
    dist = site / "fancyplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fancyplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[shipyard.datasets]\nfancy = fancyplugin:FancyDataset\n"
        "csv = fancyplugin:FancyDataset\nbroken = fancyplugin:Missing\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.mark.parametrize("spelling", ["fancyplugin.FancyDataset", "fancyplugin:FancyDataset"])
def test_dotted_paths(plugin, make_catalog, spelling):
    catalog = make_catalog({"f": {"type": spelling, "filepath": "f.json"}})
    catalog.save("f", {"a": 1})
    assert catalog.load("f") == {"a": 1}
    assert catalog.describe("f")["type"] == "fancyplugin.FancyDataset"


def test_entry_points(plugin, make_catalog):
    catalog = make_catalog({"f": {"type": "fancy", "filepath": "f.json"}})
    assert type(catalog.get("f")).__name__ == "FancyDataset"


def test_entry_points_do_not_replace_builtin_names(plugin):
    assert resolve_type("csv").__name__ == "CSVDataset"


def test_broken_entry_point_is_named(plugin):
    with pytest.raises(DatasetError) as info:
        resolve_type("broken", dataset="b", origin="conf/base/catalog.yml")
    assert info.value.message.startswith(
        "Dataset 'b' in conf/base/catalog.yml has type 'broken' from the 'shipyard.datasets' "
        "entry point fancyplugin:Missing, which failed to load"
    )
    assert "plugin package" in info.value.hint


def test_dotted_path_to_something_else(plugin):
    with pytest.raises(DatasetError) as info:
        resolve_type("fancyplugin.NotADataset", dataset="x")
    assert "not a subclass of shipyard.data.AbstractDataset" in info.value.message
    assert "_load, _save, _exists and _describe" in info.value.hint


def test_module_that_fails_to_import(tmp_path, monkeypatch):
    (tmp_path / "brokenmod.py").write_text("import nosuchdependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DatasetError) as info:
        resolve_type("brokenmod.Thing", dataset="x", origin="conf/base/catalog.yml")
    assert info.value.message == (
        "Dataset 'x' in conf/base/catalog.yml has type 'brokenmod.Thing', but importing "
        "brokenmod failed: ModuleNotFoundError: No module named 'nosuchdependency_xyz'"
    )
    assert "python -c 'import brokenmod'" in info.value.hint


def test_unknown_type_names_dataset_file_and_closest_type(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog(
            {"customers": {"type": "cvs", "filepath": "c.csv"}},
            origins={"customers": "conf/base/catalog.yml"},
        )
    assert info.value.message == (
        "Dataset 'customers' in conf/base/catalog.yml has unknown type 'cvs'. Did you mean 'csv'?"
    )
    assert "csv, parquet" in info.value.hint
    assert "my_pkg.datasets.MyDataset" in info.value.hint


def test_unknown_kedro_name_suggests_the_kedro_spelling():
    with pytest.raises(DatasetError, match=r"Did you mean 'pandas.ParquetDataset'\?"):
        resolve_type("pandas.ParquetDatset", dataset="x")


def test_missing_module_in_dotted_path_is_an_unknown_type():
    with pytest.raises(DatasetError, match=re.escape("has unknown type 'no_such_pkg.Thing'")):
        resolve_type("no_such_pkg.Thing", dataset="x")


def test_custom_class_in_a_project_module(tmp_path, monkeypatch, make_catalog):
    (tmp_path / "churn_datasets.py").write_text(
        textwrap.dedent(
            """
            from shipyard.data import AbstractDataset

            class Constant(AbstractDataset):
                def __init__(self, value, *, scale=1):
                    self._value = value * scale
                def _load(self):
                    return self._value
                def _save(self, data):
                    raise NotImplementedError("read-only")
                def _exists(self):
                    return True
                def _describe(self):
                    return {"value": self._value}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    catalog = make_catalog({"c": {"type": "churn_datasets.Constant", "value": 2, "scale": 3}})
    assert catalog.load("c") == 6
    with pytest.raises(DatasetError, match="NotImplementedError: read-only"):
        catalog.save("c", 1)
