"""A throwaway project's conf/ folder with real YAML files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.config import ConfigLoader


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """``<tmp>/project/conf`` with empty base/ and local/ folders."""
    root = tmp_path / "project" / "conf"
    (root / "base").mkdir(parents=True)
    (root / "local").mkdir()
    return root


@pytest.fixture
def write(conf: Path) -> Callable[[str, str], Path]:
    """``write("base/catalog.yml", text)``: dedented text into a file under conf/."""

    def _write(relative: str, text: str) -> Path:
        path = conf / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def loader(conf: Path) -> Callable[..., ConfigLoader]:
    """``loader(env="local", **kwargs)``: a fresh ConfigLoader over the fixture's conf/."""

    def _loader(env: str = "local", **kwargs) -> ConfigLoader:
        return ConfigLoader(conf, env, **kwargs)

    return _loader
