"""conf/base + conf/<env>: which files are read, how they merge, and where keys came from."""

from __future__ import annotations

import pytest

from shipyard.config import ConfigLoader
from shipyard.errors import ConfigError


def test_env_deep_merges_over_base(write, loader):
    write(
        "base/parameters.yml",
        """
        model:
          C: 1.0
          penalty: l2
          layers: [64, 32]
        seed: 42
        """,
    )
    write(
        "local/parameters.yml",
        """
        model:
          C: 0.5
          layers: [8]
        extra: true
        """,
    )
    assert loader().get("parameters") == {
        "model": {"C": 0.5, "penalty": "l2", "layers": [8]},  # lists replace, dicts merge
        "seed": 42,
        "extra": True,
    }


def test_env_value_replaces_a_base_group_when_it_is_not_a_mapping(write, loader):
    write("base/catalog.yml", "companies:\n  type: csv\n  filepath: a.csv\n")
    write("local/catalog.yml", "companies: null\n")
    assert loader().get("catalog") == {"companies": None}


def test_kind_files_and_kind_folder_are_read_hidden_ones_are_not(write, loader):
    write("base/catalog.yml", "a: {type: memory}\n")
    write("base/catalog_extra.yaml", "b: {type: memory}\n")
    write("base/catalog/raw/c.yml", "c: {type: memory}\n")
    write("base/catalog/d.yaml", "d: {type: memory}\n")
    write("base/.catalog_swap.yml", "hidden: {type: memory}\n")
    write("base/catalog/.hidden.yml", "hidden2: {type: memory}\n")
    write("base/catalog/.ipynb_checkpoints/e-checkpoint.yml", "hidden3: {type: memory}\n")
    write("base/catalog/notes.txt", "not yaml")
    write("base/parameters.yml", "not_catalog: 1\n")
    write("base/other/catalog.yml", "nested_elsewhere: {type: memory}\n")

    assert sorted(loader().get("catalog")) == ["a", "b", "c", "d"]


def test_same_key_in_two_files_of_one_folder_is_an_error(write, loader):
    first = write("base/catalog.yml", "companies:\n  type: csv\n")
    write("base/catalog/more.yml", "companies:\n  type: parquet\n")
    before = first.read_bytes()

    with pytest.raises(ConfigError) as info:
        loader().get("catalog")

    message = info.value.message
    assert "'companies'" in message
    assert "conf/base/catalog.yml" in message
    assert "conf/base/catalog/more.yml" in message
    assert "conf/<env>/" in info.value.hint
    assert first.read_bytes() == before


def test_underscore_keys_may_repeat_across_files(write, loader):
    write("base/catalog.yml", "_csv: &csv {type: csv}\na:\n  <<: *csv\n  filepath: a.csv\n")
    write("base/catalog_2.yml", "_csv: &csv {type: csv}\nb:\n  <<: *csv\n  filepath: b.csv\n")
    catalog = loader().catalog
    assert catalog == {
        "a": {"type": "csv", "filepath": "a.csv"},
        "b": {"type": "csv", "filepath": "b.csv"},
    }


def test_same_key_in_base_and_env_is_an_override_not_an_error(write, loader):
    write("base/catalog.yml", "companies: {type: csv, filepath: a.csv}\n")
    write("local/catalog.yml", "companies: {filepath: b.csv}\n")
    assert loader().get("catalog") == {"companies": {"type": "csv", "filepath": "b.csv"}}


def test_origin_names_the_file_that_defined_the_key_last(write, loader):
    write("base/catalog.yml", "companies: {type: csv}\nshuttles: {type: csv}\n")
    write("base/catalog/reviews.yml", "reviews: {type: csv}\n")
    write("local/catalog.yml", "shuttles: {filepath: s.csv}\n")
    config = loader()
    assert config.origin("catalog", "companies") == "conf/base/catalog.yml"
    assert config.origin("catalog", "reviews") == "conf/base/catalog/reviews.yml"
    assert config.origin("catalog", "shuttles") == "conf/local/catalog.yml"


def test_origin_of_an_unknown_key_suggests_the_closest(write, loader):
    write("base/catalog.yml", "companies: {type: csv}\n")
    with pytest.raises(ConfigError) as info:
        loader().origin("catalog", "companys")
    assert "'companys'" in info.value.message
    assert "Did you mean 'companies'?" in info.value.message
    assert "conf/base/catalog.yml" in info.value.hint


def test_catalog_drops_underscore_keys_but_get_keeps_them(write, loader):
    write("base/catalog.yml", "_root: data\ncompanies: {filepath: '${_root}/c.csv'}\n")
    config = loader()
    assert config.catalog == {"companies": {"filepath": "data/c.csv"}}
    assert config.get("catalog")["_root"] == "data"


def test_a_kind_without_files_is_empty_and_logging_is_none(loader):
    config = loader()
    assert config.get("catalog") == {}
    assert config.get("monitoring") == {}
    assert config.parameters == {}
    assert len(config.credentials) == 0
    assert config.logging_config() is None


def test_logging_config_merges_logging_files(write, loader):
    write("base/logging.yml", "version: 1\nroot: {level: INFO, handlers: [console]}\n")
    write("local/logging.yml", "root: {level: DEBUG}\n")
    assert loader().logging_config() == {
        "version": 1,
        "root": {"level": "DEBUG", "handlers": ["console"]},
    }


def test_get_returns_a_copy_and_caches_the_first_read(write, loader):
    path = write("base/parameters.yml", "model: {C: 1.0}\n")
    config = loader()
    first = config.get("parameters")
    first["model"]["C"] = 99
    path.write_text("model: {C: 2.0}\n", encoding="utf-8")
    assert config.get("parameters") == {"model": {"C": 1.0}}


def test_any_kind_name_works(write, loader):
    write("base/monitoring.yml", "drift: {threshold: 0.1}\n")
    write("local/monitoring/extra.yml", "alerts: {email: me@example.com}\n")
    assert loader().get("monitoring") == {
        "drift": {"threshold": 0.1},
        "alerts": {"email": "me@example.com"},
    }


@pytest.mark.parametrize("kind", ["../base/catalog", "cat*", "", "a/b"])
def test_a_kind_must_be_a_plain_name(loader, kind):
    with pytest.raises(ConfigError) as info:
        loader().get(kind)
    assert "not a valid kind" in info.value.message
    assert "'catalog'" in info.value.hint


def test_missing_base_folder_names_the_path(tmp_path):
    conf = tmp_path / "conf"
    (conf / "local").mkdir(parents=True)
    with pytest.raises(ConfigError) as info:
        ConfigLoader(conf)
    assert str(conf / "base") in info.value.message
    assert "create base/" in info.value.hint


def test_unknown_env_lists_the_existing_ones_and_suggests_the_closest(conf):
    (conf / "prod").mkdir()
    (conf / ".git-hidden").mkdir()
    with pytest.raises(ConfigError) as info:
        ConfigLoader(conf, env="prd")
    assert "Environment 'prd' does not exist" in info.value.message
    assert "Did you mean 'prod'?" in info.value.message
    assert "local, prod." in info.value.hint
    assert ".git-hidden" not in info.value.hint
    assert not (conf / "prd").exists()


@pytest.mark.parametrize("env", ["../project", "local/..", ".", ""])
def test_env_cannot_leave_the_conf_folder(conf, env):
    with pytest.raises(ConfigError) as info:
        ConfigLoader(conf, env=env)
    assert "does not exist" in info.value.message


def test_base_is_not_a_run_env(conf):
    with pytest.raises(ConfigError) as info:
        ConfigLoader(conf, env="base")
    assert "cannot be 'base'" in info.value.message
    assert "--env local" in info.value.hint
    assert "SHIPYARD_ENV" in info.value.hint


def test_other_base_env_name(tmp_path, write):
    conf = tmp_path / "settings"
    (conf / "common").mkdir(parents=True)
    (conf / "dev").mkdir()
    (conf / "common" / "parameters.yml").write_text("a: 1\nb: 1\n")
    (conf / "dev" / "parameters.yml").write_text("b: 2\n")
    config = ConfigLoader(conf, "dev", base_env="common")
    assert config.parameters == {"a": 1, "b": 2}
    assert config.origin("parameters", "b") == "settings/dev/parameters.yml"
    assert config.env == "dev"
    assert config.conf_source == conf


def test_repr_names_folder_and_env(conf):
    assert repr(ConfigLoader(conf)) == f"ConfigLoader(conf_source='{conf}', env='local')"


def test_relative_conf_source_gives_project_relative_origins(conf, write, monkeypatch):
    write("base/catalog.yml", "companies: {type: csv}\n")
    monkeypatch.chdir(conf.parent)
    assert ConfigLoader("conf").origin("catalog", "companies") == "conf/base/catalog.yml"
