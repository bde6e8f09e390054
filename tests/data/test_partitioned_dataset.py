"""PartitionedDataset: a folder of files, loaded lazily one partition at a time."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from shipyard.errors import DatasetError, PathOutsideProjectError

KEDRO_ENTRY = {
    "type": "partitions.PartitionedDataset",
    "path": "data/01_raw/daily",
    "dataset": {"type": "pandas.CSVDataset", "load_args": {"sep": ";"}, "save_args": {"sep": ";"}},
    "filename_suffix": ".csv",
}


@pytest.fixture
def catalog(make_catalog):
    return make_catalog({"daily": KEDRO_ENTRY}, origins={"daily": "conf/base/catalog.yml"})


def test_save_then_load_lazily(catalog, root, frame):
    calls = []

    def later():
        calls.append("called")
        return frame.head(1)

    catalog.save("daily", {"2024-01-01": frame, "2024-01-02": later, "north/2024-01-01": frame})
    assert calls == ["called"]
    assert (root / "data/01_raw/daily/2024-01-02.csv").read_text().startswith("id;city;score")
    assert (root / "data/01_raw/daily/north/2024-01-01.csv").is_file()

    partitions = catalog.load("daily")
    assert sorted(partitions) == ["2024-01-01", "2024-01-02", "north/2024-01-01"]
    assert all(callable(load) for load in partitions.values())
    pd.testing.assert_frame_equal(partitions["2024-01-02"](), frame.head(1))


def test_partitions_are_read_only_when_called(catalog, root, frame):
    catalog.save("daily", {"good": frame})
    (root / "data/01_raw/daily/bad.csv").write_bytes(b"\xff\xfe\x00broken")
    partitions = catalog.load("daily")  # lists files, reads none
    pd.testing.assert_frame_equal(partitions["good"](), frame)
    with pytest.raises(DatasetError) as info:
        partitions["bad"]()
    assert info.value.message.startswith("Failed to load dataset 'daily/bad' from ")


def test_hidden_and_other_suffix_files_are_skipped(catalog, root, frame):
    catalog.save("daily", {"a": frame})
    folder = root / "data/01_raw/daily"
    (folder / ".a.csv.123.partial").write_text("half written")
    (folder / "notes.txt").write_text("not a partition")
    assert list(catalog.load("daily")) == ["a"]


def test_no_partitions_is_an_error_that_says_what_to_check(catalog):
    assert not catalog.exists("daily")
    with pytest.raises(DatasetError) as info:
        catalog.load("daily")
    assert info.value.message == (
        "Dataset 'daily' has no partitions in data/01_raw/daily ending in '.csv'."
    )
    assert "filename_suffix" in info.value.hint


def test_overwrite_removes_stale_partitions_after_writing(make_catalog, root, frame):
    catalog = make_catalog(
        {"p": {"type": "partitioned", "path": "parts", "dataset": "parquet", "overwrite": True}}
    )
    catalog.save("p", {"old": frame, "kept": frame})
    catalog.save("p", {"kept": frame.head(2), "new": frame})
    assert sorted(catalog.load("p")) == ["kept", "new"]
    assert not (root / "parts/old").exists()


def test_without_overwrite_partitions_accumulate(make_catalog, frame):
    catalog = make_catalog({"p": {"type": "partitioned", "path": "parts", "dataset": "json"}})
    catalog.save("p", {"a": [1]})
    catalog.save("p", {"b": [2]})
    assert {pid: load() for pid, load in catalog.load("p").items()} == {"a": [1], "b": [2]}


@pytest.mark.parametrize("bad_id", ["../escape", "/etc/passwd", "", 7])
def test_partition_ids_must_stay_in_the_folder(catalog, root, frame, bad_id):
    with pytest.raises(DatasetError) as info:
        catalog.save("daily", {"fine": frame, bad_id: frame})
    assert "is not a relative path inside the partition folder" in info.value.message
    assert "'..'" in info.value.hint
    assert not (root / "data").exists()  # checked before anything was written


def test_save_needs_a_mapping(catalog, frame):
    with pytest.raises(
        DatasetError, match="saves a mapping of partition id -> data, got DataFrame"
    ):
        catalog.save("daily", frame)


def test_folder_outside_the_project_is_refused(make_catalog, frame):
    catalog = make_catalog({"p": {"type": "partitioned", "path": "../p", "dataset": "csv"}})
    with pytest.raises(PathOutsideProjectError, match=re.escape("Dataset 'p' has path '../p'")):
        catalog.save("p", {"a": frame})


def test_inner_dataset_keys_are_checked(make_catalog):
    entry = {"type": "partitioned", "path": "p", "dataset": {"type": "csv", "load_arg": {}}}
    with pytest.raises(DatasetError) as info:
        make_catalog({"p": entry}, origins={"p": "conf/base/catalog.yml"})
    assert info.value.message == (
        "Could not create dataset 'p' in conf/base/catalog.yml: Unknown key 'load_arg' in "
        "the `dataset` of a partitioned dataset. Did you mean 'load_args'?"
    )
    assert "Allowed keys for type 'csv'" in info.value.hint


def test_inner_dataset_may_not_set_the_filepath(make_catalog):
    entry = {"type": "partitioned", "path": "p", "dataset": {"type": "csv", "filepath": "x"}}
    with pytest.raises(DatasetError, match="sets `filepath`, which the partitioned dataset fills"):
        make_catalog({"p": entry})


def test_path_and_dataset_are_required(make_catalog):
    with pytest.raises(DatasetError, match="needs `dataset`"):
        make_catalog({"p": {"type": "partitioned", "path": "p"}})
    with pytest.raises(DatasetError, match="needs `path`"):
        make_catalog({"p": {"type": "partitioned", "dataset": "csv"}})


def test_filepath_is_accepted_for_the_folder(make_catalog, frame):
    catalog = make_catalog(
        {
            "p": {
                "type": "partitioned",
                "filepath": "parts",
                "dataset": "csv",
                "filename_suffix": ".csv",
            }
        }
    )
    catalog.save("p", {"a": frame})
    assert catalog.describe("p")["path"] == "parts"
    assert catalog.describe("p")["dataset"] == "csv"
