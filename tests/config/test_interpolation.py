"""${...} interpolation: within a kind, environment variables, globals, and their errors."""

from __future__ import annotations

import threading

import pytest
from omegaconf import OmegaConf

from shipyard.config import ConfigLoader
from shipyard.errors import ConfigError


def test_interpolation_sees_the_merged_kind(write, loader):
    write(
        "base/catalog.yml",
        """
        _root: data
        companies:
          type: csv
          filepath: ${_root}/01_raw/companies.csv
        """,
    )
    write("local/catalog.yml", "_root: /mnt/shared\n")
    assert loader().catalog["companies"]["filepath"] == "/mnt/shared/01_raw/companies.csv"


def test_a_lone_interpolation_keeps_the_type(write, loader):
    write(
        "base/parameters.yml",
        """
        n_estimators: 100
        model:
          trees: ${n_estimators}
          name: rf_${n_estimators}
          grid: ${grid}
        grid: {depth: [2, 4]}
        literal: \\${not_interpolated}
        """,
    )
    params = loader().parameters
    assert params["model"] == {"trees": 100, "name": "rf_100", "grid": {"depth": [2, 4]}}
    assert params["literal"] == "${not_interpolated}"


def test_env_variables_and_defaults(write, loader, monkeypatch):
    monkeypatch.setenv("SHIPYARD_TEST_BUCKET", "s3://team-bucket")
    monkeypatch.delenv("SHIPYARD_TEST_UNSET", raising=False)
    write(
        "base/catalog.yml",
        """
        companies:
          filepath: ${oc.env:SHIPYARD_TEST_BUCKET}/companies.csv
          region: ${oc.env:SHIPYARD_TEST_UNSET,eu-west-1}
          retries: ${oc.decode:${oc.env:SHIPYARD_TEST_UNSET,3}}
        """,
    )
    assert loader().catalog["companies"] == {
        "filepath": "s3://team-bucket/companies.csv",
        "region": "eu-west-1",
        "retries": 3,
    }


def test_a_missing_env_variable_names_key_file_and_variable(write, loader, monkeypatch):
    monkeypatch.delenv("SHIPYARD_TEST_UNSET", raising=False)
    write("local/catalog.yml", "companies:\n  filepath: ${oc.env:SHIPYARD_TEST_UNSET}/c.csv\n")
    with pytest.raises(ConfigError) as info:
        loader().get("catalog")
    message = info.value.message
    assert "'companies.filepath' in conf/local/catalog.yml" in message
    assert "environment variable 'SHIPYARD_TEST_UNSET'" in message
    assert "export SHIPYARD_TEST_UNSET=" in info.value.hint
    assert "${oc.env:SHIPYARD_TEST_UNSET,default}" in info.value.hint


def test_globals_with_paths_and_defaults(write, loader):
    write("base/globals.yml", "paths:\n  raw: data/01_raw\nseed: 7\n")
    write("local/globals.yml", "paths:\n  raw: /tmp/raw\n")
    write("base/globals/extra.yml", "folders: {models: data/06_models}\n")
    write(
        "base/catalog.yml",
        """
        companies: {filepath: "${globals:paths.raw}/companies.csv"}
        model: {filepath: "${globals:folders.models}/m.pkl"}
        other: {filepath: "${globals:paths.missing,fallback}/x.csv"}
        """,
    )
    write("base/parameters.yml", "seed: ${globals:seed}\nnone: ${globals:nope,null}\n")
    config = loader()
    assert config.catalog == {
        "companies": {"filepath": "/tmp/raw/companies.csv"},
        "model": {"filepath": "data/06_models/m.pkl"},
        "other": {"filepath": "fallback/x.csv"},
    }
    assert config.parameters == {"seed": 7, "none": None}
    assert config.get("globals")["paths"] == {"raw": "/tmp/raw"}


def test_an_undefined_global_suggests_the_closest(write, loader):
    write("base/globals.yml", "paths:\n  raw: data/01_raw\n")
    write("base/catalog.yml", "companies: {filepath: '${globals:paths.rwa}/c.csv'}\n")
    with pytest.raises(ConfigError) as info:
        loader().get("catalog")
    assert "'companies.filepath' in conf/base/catalog.yml" in info.value.message
    assert "${globals:paths.rwa}" in info.value.message
    assert "Did you mean 'paths.raw'?" in info.value.message
    assert "globals.yml" in info.value.hint


def test_globals_files_cannot_use_globals(write, loader):
    write("base/globals.yml", "a: 1\nb: ${globals:a}\n")
    write("base/parameters.yml", "x: ${globals:a}\n")
    with pytest.raises(ConfigError) as info:
        loader().get("parameters")
    assert "'b' in conf/base/globals.yml" in info.value.message
    assert "${other.key}" in info.value.hint


def test_an_unknown_key_suggests_the_closest(write, loader):
    write("base/catalog.yml", "_root: data\ncompanies: {filepath: '${_rot}/c.csv'}\n")
    with pytest.raises(ConfigError) as info:
        loader().get("catalog")
    assert "'companies.filepath' in conf/base/catalog.yml" in info.value.message
    assert "no key '_rot'" in info.value.message
    assert "Did you mean '_root'?" in info.value.message
    assert "${globals:KEY}" in info.value.hint


def test_interpolation_does_not_cross_kinds(write, loader):
    write("base/parameters.yml", "root: data\n")
    write("base/catalog.yml", "companies: {filepath: '${root}/c.csv'}\n")
    with pytest.raises(ConfigError, match=r"merged catalog has no key 'root'"):
        loader().get("catalog")


def test_unknown_resolver_and_bad_syntax(write, loader):
    write("base/parameters.yml", "a: ${oc.enf:HOME}\n")
    with pytest.raises(ConfigError) as info:
        loader().get("parameters")
    assert "unknown resolver 'oc.enf'. Did you mean 'oc.env'?" in info.value.message
    write("base/parameters.yml", "a: ${oops\n")
    with pytest.raises(ConfigError) as info:
        loader().get("parameters")
    assert "'a' in conf/base/parameters.yml has invalid ${...} syntax" in info.value.message
    assert "\\${" in info.value.hint


def test_a_cycle_is_an_error(write, loader):
    write("base/parameters.yml", "a: ${b}\nb: ${a}\n")
    with pytest.raises(ConfigError) as info:
        loader().get("parameters")
    assert "conf/base/parameters.yml" in info.value.message
    assert "Recursive interpolation" in info.value.message


def test_relative_and_select_interpolation(write, loader):
    write(
        "base/catalog.yml",
        """
        companies:
          folder: data
          filepath: ${.folder}/companies.csv
          backup: ${oc.select:_backup,none}
        """,
    )
    assert loader().catalog["companies"] == {
        "folder": "data",
        "filepath": "data/companies.csv",
        "backup": "none",
    }


def test_results_match_a_plain_omegaconf_resolve(write, loader, monkeypatch):
    """The loader resolves only the expressions it needs; the answer must not differ."""
    monkeypatch.setenv("SHIPYARD_TEST_HOST", "db.internal")
    text = """
        _root: data
        _n: 3
        _flag: true
        _list: [1, 2]
        _map: {a: 1}
        a: {x: "${_root}/a.csv", y: "${_n}", z: "${_n}${_n}", w: " ${_flag} "}
        b: {x: "${a.x}", y: "pre-${a.y}-post", z: "$notanexpr ${_root} }{"}
        c: {x: "${_list}", y: "list=${_list}", z: "map=${_map}", w: "${_map.a}"}
        d: {x: "${oc.env:SHIPYARD_TEST_HOST}:5432", y: "${oc.env:SHIPYARD_TEST_NONE,'a,b'}"}
        e: ["${_root}", {deep: "${b.y}"}]
        """
    write("base/catalog.yml", text)
    import yaml

    expected = OmegaConf.to_container(OmegaConf.create(yaml.safe_load(text)), resolve=True)
    assert loader().get("catalog") == expected


def test_two_loaders_keep_their_own_globals_across_threads(tmp_path):
    loaders = []
    for name in ("one", "two"):
        conf = tmp_path / name / "conf"
        (conf / "base").mkdir(parents=True)
        (conf / "local").mkdir()
        (conf / "base" / "globals.yml").write_text(f"who: {name}\n")
        (conf / "base" / "parameters.yml").write_text("who: ${globals:who}\n")
        loaders.append(ConfigLoader(conf))
    results: dict[int, str] = {}

    def read(index: int) -> None:
        results[index] = loaders[index].parameters["who"]

    threads = [threading.Thread(target=read, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {0: "one", 1: "two"}


def test_an_error_in_globals_names_the_globals_file(write, loader):
    write("base/globals.yml", "root: [unclosed\n")
    write("base/catalog.yml", "companies: {filepath: '${globals:root}/c.csv'}\n")
    with pytest.raises(ConfigError, match=r"conf/base/globals.yml, line 2"):
        loader().get("catalog")


def test_globals_are_read_only_when_used(write, loader):
    write("base/globals.yml", "root: [unclosed\n")
    write("base/parameters.yml", "a: 1\n")
    assert loader().parameters == {"a": 1}
