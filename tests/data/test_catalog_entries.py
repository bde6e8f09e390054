"""Catalog entries: Kedro-style YAML loads unchanged; mistakes are named with their file."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from shipyard.data import AbstractDataset, Catalog, Versioning
from shipyard.errors import DatasetError

KEDRO_CATALOG = """
_csv: &csv
  type: pandas.CSVDataset
  load_args:
    sep: ","

companies:
  <<: *csv
  filepath: data/01_raw/companies.csv
  metadata:
    kedro-viz:
      layer: raw

reviews:
  type: pandas.CSVDataSet
  filepath: data/01_raw/reviews.csv
  layer: raw
  versioned: true
  fs_args:
    open_args_load:
      encoding: utf-8

shuttles:
  type: pandas.ExcelDataset
  filepath: data/01_raw/shuttles.xlsx
  load_args:
    engine: openpyxl

preprocessed_companies:
  type: pandas.ParquetDataset
  filepath: data/02_intermediate/preprocessed_companies.parquet
  save_args:
    compression: snappy

model_input_table:
  type: kedro_datasets.pandas.ParquetDataset
  filepath: data/03_primary/model_input_table.parquet

regressor:
  type: pickle.PickleDataset
  filepath: data/06_models/regressor.pickle
  versioned: true

metrics:
  type: tracking.MetricsDataset
  filepath: data/09_tracking/metrics.json

parameters_snapshot:
  type: yaml.YAMLDataset
  filepath: data/08_reporting/params.yml

summary:
  type: json.JSONDataset
  filepath: data/08_reporting/summary.json

report:
  type: text.TextDataset
  filepath: data/08_reporting/report.md

scratch:
  type: MemoryDataset
  copy_mode: deepcopy

daily:
  type: partitions.PartitionedDataset
  path: data/01_raw/daily
  dataset: pandas.CSVDataset
  filename_suffix: .csv

"{name}_features":
  type: pandas.ParquetDataset
  filepath: data/04_feature/{name}_features.parquet
"""


@pytest.fixture
def kedro_catalog(root) -> Catalog:
    # `versioned: true` entries need a project store.
    return Catalog.from_config(
        yaml.safe_load(KEDRO_CATALOG),
        project_root=root,
        versioning=Versioning.open(root / ".shipyard"),
    )


def test_kedro_catalog_loads_unchanged(kedro_catalog, root):
    assert kedro_catalog.list() == [
        "companies",
        "daily",
        "metrics",
        "model_input_table",
        "parameters_snapshot",
        "preprocessed_companies",
        "regressor",
        "report",
        "reviews",
        "scratch",
        "shuttles",
        "summary",
    ]
    assert kedro_catalog.patterns == ["{name}_features"]
    assert "cars_features" in kedro_catalog
    assert not (root / "data").exists()  # building a catalog touches no file


def test_kedro_entries_work(kedro_catalog, root, frame):
    (root / "data/01_raw").mkdir(parents=True)
    frame.to_csv(root / "data/01_raw/companies.csv", index=False)
    pd.testing.assert_frame_equal(kedro_catalog.load("companies"), frame)
    kedro_catalog.save("reviews", frame)
    pd.testing.assert_frame_equal(kedro_catalog.load("reviews"), frame)
    kedro_catalog.save("cars_features", frame)
    assert (root / "data/04_feature/cars_features.parquet").is_file()


def test_catalog_level_keys_are_described(kedro_catalog):
    companies = kedro_catalog.describe("companies")
    assert companies["layer"] == "raw"
    assert companies["declared_type"] == "pandas.CSVDataset"
    assert companies["type"] == "csv"
    assert companies["load_args"] == {"sep": ","}
    reviews = kedro_catalog.describe("reviews")
    assert reviews["versioned"] is True
    assert reviews["layer"] == "raw"


def test_unknown_key_names_file_entry_allowed_keys_and_closest(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog(
            {"customers": {"type": "csv", "filepth": "c.csv"}},
            origins={"customers": "conf/base/catalog.yml"},
        )
    assert info.value.message == (
        "Unknown key 'filepth' in dataset 'customers' in conf/base/catalog.yml. "
        "Did you mean 'filepath'?"
    )
    assert info.value.hint == (
        "Allowed keys for type 'csv': allow_outside_project, credentials, filepath, fs_args, "
        "layer, load_args, metadata, save_args, type, versioned."
    )


def test_several_unknown_keys_are_all_named(make_catalog):
    with pytest.raises(DatasetError, match=r"Unknown keys 'load_args', 'trusted' in dataset 't'"):
        make_catalog({"t": {"type": "text", "filepath": "t.txt", "load_args": {}, "trusted": 1}})


def test_project_root_is_not_an_entry_key(make_catalog):
    with pytest.raises(DatasetError, match="Unknown key 'project_root'"):
        make_catalog({"t": {"type": "csv", "filepath": "t.csv", "project_root": "/"}})


class Thermometer(AbstractDataset):
    def __init__(self, sensor: str, *, unit: str = "C") -> None:
        if unit not in ("C", "F"):
            raise ValueError(f"unit must be C or F, got {unit!r}")
        self.sensor, self.unit = sensor, unit

    def _load(self):
        return 21.5

    def _save(self, data):
        raise NotImplementedError

    def _exists(self):
        return True

    def _describe(self):
        return {"sensor": self.sensor, "unit": self.unit}


class Anything(Thermometer):
    def __init__(self, **options) -> None:
        super().__init__("any")
        self.options = options


def test_custom_types_get_the_key_check_from_their_signature(make_catalog):
    path = f"{__name__}.Thermometer"
    with pytest.raises(DatasetError) as info:
        make_catalog({"t": {"type": path, "sensor": "s1", "units": "F"}})
    assert "Unknown key 'units' in dataset 't'. Did you mean 'unit'?" in info.value.message
    assert "sensor, type, unit, versioned" in info.value.hint
    catalog = make_catalog({"t": {"type": path, "sensor": "s1", "unit": "F", "layer": "raw"}})
    assert catalog.describe("t")["unit"] == "F"


def test_custom_types_taking_any_keyword_accept_any_key(make_catalog):
    catalog = make_catalog({"a": {"type": f"{__name__}.Anything", "whatever": 1}})
    assert catalog.get("a").options == {"whatever": 1}


def test_missing_required_key(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog({"c": {"type": "csv"}}, origins={"c": "conf/base/catalog.yml"})
    assert info.value.message == (
        "Required key 'filepath' is missing from dataset 'c' in conf/base/catalog.yml (type 'csv')."
    )
    assert info.value.hint.startswith("Add `filepath: ...` to the entry")


def test_entry_without_type(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog({"c": {"filepath": "c.csv"}}, origins={"c": "conf/base/catalog.yml"})
    assert info.value.message == "Catalog entry 'c' in conf/base/catalog.yml has no `type`."
    assert "type: csv" in info.value.hint


def test_entry_that_is_not_a_mapping(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog({"c": "data/c.csv"}, origins={"c": "conf/base/catalog.yml"})
    assert info.value.message == (
        "Catalog entry 'c' in conf/base/catalog.yml is a str, not a mapping."
    )
    assert "'_'" in info.value.hint


def test_constructor_errors_name_the_dataset_and_file(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog(
            {"t": {"type": f"{__name__}.Thermometer", "sensor": "s", "unit": "K"}},
            origins={"t": "conf/base/catalog.yml"},
        )
    assert info.value.message == (
        "Could not create dataset 't' in conf/base/catalog.yml: "
        "ValueError: unit must be C or F, got 'K'"
    )
    assert isinstance(info.value.__cause__, ValueError)
