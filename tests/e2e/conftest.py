"""Projects for the end-to-end tests: one generated and run per module, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A generated project that has run once, so its data folder holds results (and
    churn version 1 is registered). Tests that change it work on :func:`project`."""
    root = tmp_path_factory.mktemp("e2e") / "churn"
    assert run_cli("new", str(root), "--no-git", cwd=root.parent).returncode == 0
    assert run_cli("run", "-q", cwd=root).returncode == 0
    return root


@pytest.fixture
def project(pristine, tmp_path) -> Path:
    """A copy of the module's ``pristine`` project, for a test to change."""
    copy = tmp_path / "churn"
    shutil.copytree(pristine, copy)
    return copy
