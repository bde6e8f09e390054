from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import ConfigError, ProjectError
from shipyard.settings import Settings, find_project_root


def make_project(root: Path, table: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f"[project]\nname='demo'\n\n[tool.shipyard]\n{table}")
    return root


def test_finds_the_project_from_a_subfolder(tmp_path):
    root = make_project(tmp_path / "demo-project")
    sub = root / "notebooks" / "deep"
    sub.mkdir(parents=True)
    settings = Settings.for_project(sub)
    assert settings.project_root == root.resolve()
    assert settings.package_name == "demo_project"
    assert settings.conf_source == root.resolve() / "conf"
    assert settings.env == "local"


def test_env_precedence(tmp_path, monkeypatch):
    root = make_project(tmp_path / "p", 'default_env = "dev"')
    monkeypatch.delenv("SHIPYARD_ENV", raising=False)
    assert Settings.for_project(root).env == "dev"
    monkeypatch.setenv("SHIPYARD_ENV", "staging")
    assert Settings.for_project(root).env == "staging"
    assert Settings.for_project(root, env="prod").env == "prod"


def test_no_project_is_a_project_error(tmp_path):
    with pytest.raises(ProjectError, match="No Shipyard project found") as info:
        find_project_root(tmp_path)
    assert "shipyard new" in info.value.hint


def test_unknown_key_suggests_the_closest(tmp_path):
    root = make_project(tmp_path / "p", 'package_nam = "x"')
    with pytest.raises(ConfigError, match="Did you mean 'package_name'") as info:
        Settings.for_project(root)
    assert "conf_source" in info.value.hint


def test_invalid_toml_names_the_file(tmp_path):
    root = make_project(tmp_path / "p", 'package_name = "x')
    with pytest.raises(ConfigError, match=r"pyproject\.toml is not valid TOML"):
        Settings.for_project(root)
