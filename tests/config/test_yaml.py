"""Reading YAML files: friendly scalars, and errors that point at the line and column."""

from __future__ import annotations

import pytest

from shipyard.errors import ConfigError


def test_scalars_follow_omegaconf_rules(write, loader):
    write(
        "base/parameters.yml",
        """
        learning_rate: 1e-3
        small: 2.5E+2
        start: 2024-01-31
        count: 1_000
        flag: true
        nothing: null
        text: '0.5'
        """,
    )
    assert loader().parameters == {
        "learning_rate": 0.001,
        "small": 250.0,
        "start": "2024-01-31",  # dates stay strings, so parameters stay JSON-able
        "count": 1000,
        "flag": True,
        "nothing": None,
        "text": "0.5",
    }


def test_an_empty_file_is_an_empty_mapping(write, loader):
    write("base/catalog.yml", "# nothing yet\n")
    assert loader().get("catalog") == {}


def test_malformed_yaml_names_file_line_and_column(write, loader):
    path = write(
        "base/catalog.yml",
        """
        companies:
          type: csv
          filepath: data/companies.csv: broken
        """,
    )
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        loader().get("catalog")
    assert info.value.message.startswith("conf/base/catalog.yml, line 3, column 31:")
    assert "mapping values are not allowed" in info.value.message
    assert "Quote a value" in info.value.hint
    assert path.read_bytes() == before


def test_unclosed_bracket_points_at_where_it_was_noticed(write, loader):
    write("local/parameters.yml", "layers: [64, 32\nseed: 1\n")
    with pytest.raises(ConfigError) as info:
        loader().get("parameters")
    assert "conf/local/parameters.yml, line 2" in info.value.message
    assert "flow sequence started on line 1" in info.value.message


def test_tab_indentation_has_its_own_hint(write, loader):
    write("base/parameters.yml", "model:\n\tC: 1\n")
    with pytest.raises(ConfigError) as info:
        loader().get("parameters")
    assert "line 2, column 1" in info.value.message
    assert "tab" in info.value.message
    assert "spaces" in info.value.hint


def test_a_key_written_twice_in_one_file_is_an_error(write, loader):
    write("base/parameters.yml", "model:\n  C: 1\n  penalty: l2\n  C: 2\n")
    with pytest.raises(ConfigError) as info:
        loader().get("parameters")
    assert "line 4, column 3" in info.value.message
    assert "duplicate key 'C' (first written on line 2)" in info.value.message
    assert "Remove or rename" in info.value.hint


def test_merge_keys_are_not_duplicates(write, loader):
    write(
        "base/catalog.yml",
        """
        _base: &base {type: csv, save_args: {index: false}}
        _wide: &wide
          <<: *base
          load_args: {sep: ";"}
        companies:
          <<: *wide
          type: parquet
        """,
    )
    assert loader().catalog == {
        "companies": {"type": "parquet", "save_args": {"index": False}, "load_args": {"sep": ";"}}
    }


def test_top_level_must_be_a_mapping(write, loader):
    write("base/catalog.yml", "- companies\n- shuttles\n")
    with pytest.raises(ConfigError) as info:
        loader().get("catalog")
    assert "conf/base/catalog.yml must hold a mapping" in info.value.message
    assert "holds a list" in info.value.message
    assert "'name:' entries" in info.value.hint


def test_python_tags_are_refused(write, loader):
    write("base/parameters.yml", "x: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError) as info:
        loader().get("parameters")
    assert "conf/base/parameters.yml, line 1, column 4" in info.value.message
    assert "!!python" in info.value.hint


def test_non_utf8_file(conf, loader):
    (conf / "base" / "catalog.yml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        loader().get("catalog")
    assert "conf/base/catalog.yml is not UTF-8" in info.value.message
    assert "UTF-8" in info.value.hint
