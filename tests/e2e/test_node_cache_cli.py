"""The node cache through ``shipyard run`` on the generated churn project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e

ALL = ["generate_customers", "clean_customers", "build_features", "split_data",
       "train_model", "evaluate_model", "package_model"]  # fmt: skip


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "churn"
    assert run_cli("new", str(root), "--no-git", cwd=tmp_path).returncode == 0
    first = run_cli("run", cwd=root)
    assert first.returncode == 0, first.stderr
    return root


def lines(result) -> dict[str, str]:
    """Node name -> what the plain progress line said about it ('done' or 'cached')."""
    found = {}
    for line in result.stderr.splitlines():
        if line.startswith("[") and "/" in line.split("]")[0]:
            name, what = line.split("] ", 1)[1].split(" ", 2)[:2]
            found[name] = what
    return found


def test_a_rerun_says_which_nodes_came_from_the_cache(project):
    metrics = (project / "data/08_reporting/metrics.json").read_text()
    result = run_cli("run", cwd=project)
    assert result.returncode == 0, result.stderr
    assert lines(result) == dict.fromkeys(ALL, "cached")
    assert "7 nodes of '__default__'" in result.stderr
    assert "7 from the node cache" in result.stderr
    assert (project / "data/08_reporting/metrics.json").read_text() == metrics


def test_no_cache_and_refresh(project):
    assert lines(run_cli("run", "--no-cache", cwd=project)) == dict.fromkeys(ALL, "done")
    refreshed = lines(run_cli("run", "--refresh", "train_model", cwd=project))
    assert refreshed["train_model"] == "done"
    assert refreshed["build_features"] == "cached"


def test_a_parameter_reruns_only_the_training_nodes(project):
    result = run_cli("run", "--params", "model.C=0.25", cwd=project)
    assert result.returncode == 0, result.stderr
    said = lines(result)
    assert {name for name, what in said.items() if what == "done"} == {
        "train_model",
        "evaluate_model",
        "package_model",
    }
    assert json.loads((project / "data/08_reporting/metrics.json").read_text())["n_test"] == 1000


def test_the_process_runner_restores_too(project):
    result = run_cli("run", "--runner", "process", "--max-workers", "2", cwd=project)
    assert result.returncode == 0, result.stderr
    assert set(lines(result).values()) == {"cached"}


def test_an_unknown_refresh_node_is_an_error_with_the_closest_name(project):
    result = run_cli("run", "--refresh", "train_modle", cwd=project)
    assert result.returncode == 1
    assert "train_modle" in result.stderr and "train_model" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
