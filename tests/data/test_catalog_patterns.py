"""Dataset factories: patterns, their order, the catch-all, and their mistakes."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from shipyard.data import MemoryDataset
from shipyard.data._patterns import PatternSet
from shipyard.errors import DatasetError

RAW = {"type": "csv", "filepath": "data/01_raw/{name}.csv"}


def test_a_pattern_provides_names(make_catalog, root, frame):
    catalog = make_catalog({"{name}_raw": RAW})
    assert "cars_raw" in catalog
    assert "cars" not in catalog
    assert catalog.list() == []
    catalog.save("cars_raw", frame)
    assert (root / "data/01_raw/cars.csv").is_file()
    pd.testing.assert_frame_equal(catalog.load("cars_raw"), frame)
    assert catalog.list() == ["cars_raw"]
    info = catalog.describe("cars_raw")
    assert info["pattern"] == "{name}_raw"
    assert info["filepath"] == "data/01_raw/cars.csv"


def test_load_resolves_a_pattern_for_an_existing_file(make_catalog, root, frame):
    (root / "data/01_raw").mkdir(parents=True)
    frame.to_csv(root / "data/01_raw/boats.csv", index=False)
    catalog = make_catalog({"{name}_raw": RAW})
    pd.testing.assert_frame_equal(catalog.load("boats_raw"), frame)
    assert catalog.exists("boats_raw")
    assert catalog.is_persistent("boats_raw")


def test_entries_beat_patterns(make_catalog):
    catalog = make_catalog(
        {"{name}_raw": RAW, "cars_raw": {"type": "json", "filepath": "cars.json"}}
    )
    assert catalog.describe("cars_raw")["type"] == "json"


def test_more_literal_characters_win():
    patterns = PatternSet(
        {"{a}_raw": {"type": "csv"}, "cars_{b}": {"type": "json"}, "{c}": {"type": "memory"}}
    )
    assert patterns.names == ["cars_{b}", "{a}_raw", "{c}"]
    assert patterns.match("cars_raw") == "cars_{b}"
    assert patterns.match("boats_raw") == "{a}_raw"
    assert patterns.match("boats") == "{c}"


def test_then_more_placeholders_then_alphabetical():
    # As Kedro sorts: with equal literal text, the pattern with more placeholders is tried
    # first (it constrains the name more); remaining ties go alphabetically.
    patterns = PatternSet({"{c}_": {}, "{a}_{b}": {}, "{y}-x": {}, "{x}-x": {}})
    assert patterns.names == ["{x}-x", "{y}-x", "{a}_{b}", "{c}_"]
    assert patterns.match("p_q_") == "{a}_{b}"


def test_placeholders_fill_every_string(make_catalog):
    catalog = make_catalog(
        {
            "{namespace}.{name}": {
                "type": "partitioned",
                "path": "data/{namespace}/{name}",
                "dataset": {"type": "csv", "load_args": {"comment": "#", "names": ["{name}"]}},
            }
        }
    )
    info = catalog.describe("eu.sales")
    assert info["path"] == "data/eu/sales"


def test_repeated_placeholder_must_match_the_same_text():
    patterns = PatternSet({"{x}_to_{x}": {}})
    assert patterns.match("a_to_a") == "{x}_to_{x}"
    assert patterns.match("a_to_b") is None


def test_catch_all_replaces_memory_for_unregistered_names(make_catalog, root, frame):
    catalog = make_catalog(
        {"{default}": {"type": "parquet", "filepath": "data/{default}.parquet"}, "{name}_raw": RAW}
    )
    assert "anything" in catalog
    catalog.save("anything", frame)
    assert (root / "data/anything.parquet").is_file()
    assert catalog.is_persistent("anything")
    assert catalog.describe("cars_raw")["type"] == "csv"


def test_without_a_catch_all_unregistered_saves_go_to_memory(make_catalog):
    catalog = make_catalog({"{name}_raw": RAW})
    catalog.save("intermediate", 5)
    assert isinstance(catalog.get("intermediate"), MemoryDataset)
    assert not catalog.is_persistent("intermediate")


def test_two_catch_alls_are_refused(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog(
            {"{a}": {"type": "memory"}, "{b}": {"type": "memory"}},
            origins={"{a}": "conf/base/catalog.yml", "{b}": "conf/local/catalog.yml"},
        )
    assert info.value.message == (
        "The catalog has 2 catch-all patterns: {a}, {b} "
        "(in conf/base/catalog.yml, conf/local/catalog.yml)."
    )
    assert "'{default}'" in info.value.hint


def test_unknown_placeholder_in_the_entry(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog(
            {"{name}_raw": {"type": "csv", "filepath": "data/{nmae}.csv"}},
            origins={"{name}_raw": "conf/base/catalog.yml"},
        )
    assert info.value.message == (
        "Pattern '{name}_raw' in conf/base/catalog.yml uses '{nmae}' in its entry, but the "
        "pattern has no such placeholder."
    )
    assert info.value.hint == "Use only the pattern's placeholders: name."


@pytest.mark.parametrize(
    ("pattern", "problem"), [("{a:d}_x", "not a plain name"), ("{a}_x}", "unbalanced brace")]
)
def test_malformed_patterns(make_catalog, pattern, problem):
    with pytest.raises(DatasetError, match=problem):
        make_catalog({pattern: {"type": "memory"}})


def test_pattern_entries_are_checked_when_the_catalog_is_built(make_catalog):
    with pytest.raises(
        DatasetError, match=re.escape("Unknown key 'filepth' in dataset '{name}_raw'")
    ):
        make_catalog({"{name}_raw": {"type": "csv", "filepth": "{name}.csv"}})
    with pytest.raises(DatasetError, match="has unknown type 'cvs'"):
        make_catalog({"{name}_raw": {"type": "cvs", "filepath": "{name}.csv"}})


def test_patterns_may_name_credentials(make_catalog, frame):
    catalog = make_catalog(
        {"{table}_db": {"type": "sql_table", "table_name": "{table}", "credentials": "db"}},
        credentials={"db": {"con": "sqlite:///data/p.sqlite"}},
    )
    catalog.save("sales_db", frame)
    pd.testing.assert_frame_equal(catalog.load("sales_db"), frame)
    assert catalog.describe("sales_db")["credentials"] == "db"
