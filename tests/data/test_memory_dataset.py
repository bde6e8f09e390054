"""MemoryDataset: assignment by default (fast), copies on request."""

from __future__ import annotations

import pandas as pd
import pytest

from shipyard.data import MemoryDataset
from shipyard.errors import DatasetError


def test_assign_is_the_default_for_everything(frame):
    for value in (frame, 41, [1, [2]], {"a": {"b": 1}}):
        dataset = MemoryDataset()
        dataset.save(value)
        assert dataset.load() is value
    assert MemoryDataset().describe() == {"type": "memory", "copy_mode": "assign", "data": None}


def test_copy_mode_copy_gives_independent_dataframes(frame):
    dataset = MemoryDataset(frame, copy_mode="copy")
    loaded = dataset.load()
    assert loaded is not frame
    loaded.loc[0, "city"] = "Changed"
    pd.testing.assert_frame_equal(dataset.load(), frame)
    assert frame.loc[0, "city"] == "Oslo"


def test_copy_mode_deepcopy_protects_nested_data():
    value = {"a": [1, 2]}
    dataset = MemoryDataset(value, copy_mode="deepcopy")
    dataset.load()["a"].append(3)
    value["a"].append(4)
    assert dataset.load() == {"a": [1, 2]}


def test_unknown_copy_mode_suggests_the_closest(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog({"m": {"type": "memory", "copy_mode": "deep_copy"}})
    assert info.value.message == (
        "Could not create dataset 'm': Unknown copy_mode 'deep_copy'. Did you mean 'deepcopy'?"
    )
    assert "assign, copy, deepcopy" in info.value.hint


def test_loading_before_saving_says_what_to_do(make_catalog):
    catalog = make_catalog({"scratch": {"type": "MemoryDataset"}})
    with pytest.raises(DatasetError) as info:
        catalog.load("scratch")
    assert info.value.message.startswith("Dataset 'scratch' has no data")
    assert "Run the node that outputs it" in info.value.hint
    assert not catalog.exists("scratch")


def test_release_drops_the_data(make_catalog):
    catalog = make_catalog({})
    catalog.save("tmp", [1, 2])
    assert catalog.exists("tmp")
    catalog.release("tmp")
    assert not catalog.exists("tmp")
    with pytest.raises(DatasetError, match="no data"):
        catalog.load("tmp")


def test_data_given_in_the_entry(make_catalog):
    catalog = make_catalog({"seed": {"type": "io.MemoryDataset", "data": 42}})
    assert catalog.load("seed") == 42
    assert catalog.describe("seed")["data"] == "int"
    assert catalog.is_persistent("seed") is False
