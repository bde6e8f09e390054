"""Git hygiene of a new project: pre-commit hooks (ruff, nbstripout) and Jupyter's files
ignored, all in the first commit."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shipyard.lab import create_project

GIT = shutil.which("git")


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_project(tmp_path_factory.mktemp("git") / "churn").path


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def test_pre_commit_runs_ruff_and_strips_notebook_outputs(churn):
    config = yaml.safe_load((churn / ".pre-commit-config.yaml").read_text(encoding="utf-8"))

    hooks = {
        repo["repo"]: (repo["rev"], [hook["id"] for hook in repo["hooks"]])
        for repo in config["repos"]
    }
    assert hooks["https://github.com/astral-sh/ruff-pre-commit"][1] == [
        "ruff-check",
        "ruff-format",
    ]
    assert hooks["https://github.com/kynan/nbstripout"][1] == ["nbstripout"]
    # pinned to release tags, never a branch
    for rev, _ in hooks.values():
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", rev), rev


def test_jupyter_files_are_ignored(churn):
    ignored = (churn / ".gitignore").read_text(encoding="utf-8").splitlines()
    for pattern in (".ipynb_checkpoints/", ".virtual_documents/", ".shipyard/"):
        assert pattern in ignored


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_the_first_commit_holds_everything(churn):
    assert git(churn, "status", "--porcelain", "--untracked-files=all") == ""
    committed = git(churn, "ls-files").splitlines()
    assert ".pre-commit-config.yaml" in committed and ".gitignore" in committed

    # what Jupyter and `shipyard lab` leave behind stays out of git
    for leftover in (
        "notebooks/.ipynb_checkpoints/explore-checkpoint.ipynb",
        "notebooks/.virtual_documents/explore.ipynb",
        ".shipyard/jupyter/kernels/shipyard-churn/kernel.json",
        ".jupyter_ystore.db",
    ):
        path = churn / leftover
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert git(churn, "status", "--porcelain", "--untracked-files=all") == ""
