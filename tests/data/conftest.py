"""Fixtures for the data tests: a project folder, a catalog builder, a small DataFrame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shipyard.data import Catalog


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty project folder; a sibling folder plays "outside the project"."""
    project = tmp_path / "project"
    project.mkdir()
    return project


@pytest.fixture
def make_catalog(root: Path):
    def make(entries, *, credentials=None, origins=None) -> Catalog:
        return Catalog.from_config(
            entries, credentials=credentials, project_root=root, origins=origins
        )

    return make


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [1, 2, 3], "city": ["Oslo", "Lima", "Pune"], "score": [0.5, 1.5, 2.5]}
    )
