"""End to end: a project from `shipyard new`, driven through the CLI as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import run_cli

from shipyard.serving._log import read_log

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """One generated project (with git, not run yet) per module; tests that change it
    work on the conftest's ``project``, a copy."""
    root = tmp_path_factory.mktemp("projects") / "churn"
    result = run_cli("new", str(root), cwd=root.parent)
    assert result.returncode == 0, result.stderr
    return root


def test_new_reports_the_next_step(pristine):
    assert (pristine / "conf" / "base" / "catalog.yml").is_file()
    assert (pristine / ".git").is_dir()


def test_new_refuses_a_non_empty_folder(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = run_cli("new", str(target), cwd=tmp_path)
    assert result.returncode == 1
    assert "taken" in result.stderr and "hint:" in result.stderr
    assert (target / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]


def test_run_default_pipeline_end_to_end(project):
    result = run_cli("run", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "✓ Run" in result.stderr
    metrics = json.loads((project / "data/08_reporting/metrics.json").read_text())
    assert metrics["roc_auc"] > 0.75
    assert (project / "data/06_models/model/shipyard-model.yaml").is_file()
    assert "Registered churn version 1" in " ".join(result.stderr.split())
    # not a terminal: one plain progress line per node
    assert "] train_model done in" in result.stderr


def test_run_training_in_prod_with_params(project):
    assert run_cli("run", "-q", cwd=project).returncode == 0
    result = run_cli(
        "run", "--pipeline", "training", "--env", "prod", "--params", "model.C=0.5", cwd=project
    )
    assert result.returncode == 0, result.stderr
    assert "'training'" in result.stderr and "env prod" in result.stderr


@pytest.mark.parametrize("runner", ["thread", "process"])
def test_other_runners_give_the_same_metrics(project, runner):
    assert run_cli("run", "-q", cwd=project).returncode == 0
    reference = (project / "data/08_reporting/metrics.json").read_text()
    result = run_cli("run", "-q", "--runner", runner, "--max-workers", "2", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "data/08_reporting/metrics.json").read_text() == reference


def test_pipeline_list_and_show_json(pristine):
    listed = run_cli("pipeline", "list", "--json", cwd=pristine)
    assert listed.returncode == 0, listed.stderr
    names = {p["name"] for p in json.loads(listed.stdout)["pipelines"]}
    assert {"__default__", "data_processing", "training"} <= names

    shown = run_cli("pipeline", "show", "training", "--json", cwd=pristine)
    pipeline = json.loads(shown.stdout)["pipeline"]
    assert pipeline["name"] == "training"
    assert any(node["name"] == "train_model" for node in pipeline["nodes"])

    text = run_cli("pipeline", "show", "training", cwd=pristine)
    assert "train_model" in text.stdout and "layer" in text.stdout
    dot = run_cli("pipeline", "show", "--format", "dot", cwd=pristine)
    assert dot.stdout.startswith('digraph "__default__"')


def test_catalog_list_and_describe_json(pristine):
    listed = run_cli("catalog", "list", "--json", cwd=pristine)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["datasets"]}
    assert rows["customers_raw"]["type"] == "csv"
    assert rows["customers_raw"]["filepath"].endswith("data/01_raw/customers.csv")
    described = run_cli("catalog", "describe", "model", "--json", cwd=pristine)
    assert json.loads(described.stdout)["dataset"]["type"] == "model"


def test_info_json_inside_and_outside_a_project(pristine, tmp_path):
    inside = json.loads(run_cli("info", "--json", cwd=pristine).stdout)["info"]
    assert inside["project"]["package"] == "churn"
    outside = json.loads(run_cli("info", "--json", cwd=tmp_path).stdout)["info"]
    assert outside["project"] is None


def test_quickstart_runs_the_blueprint(tmp_path):
    target = tmp_path / "qs"
    result = run_cli("quickstart", str(target), cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Quickstart finished" in result.stderr
    assert "roc_auc" in result.stdout
    assert (target / "data/08_reporting/metrics.json").is_file()
    said = " ".join(result.stderr.split())
    assert "nothing changed, so 7 of 7 nodes were restored from the node cache" in said
    # the registered model passed the champion gates and has a card
    assert "is now churn@champion" in said
    assert "churn" in (target / "data/08_reporting/model_card.html").read_text()
    # the last stage traces the model back to the raw data and the project's first commit
    assert "customers_raw@" in result.stdout and "generate_customers" in result.stdout
    assert "commit none" not in result.stdout
    # the champion answered real HTTP requests, every one of them logged, then stopped
    assert "the same endpoint with 5 customers as CSV" in said
    # 7 rows from the serving stage, then 1,000 customers after the price rise
    logged = read_log(target / "data/09_logs/predictions")
    assert len(logged) == 7 + 1000 and set(logged["model_version"]) == {1}
    assert len(read_log(target / "data/09_logs/feedback")) == 1 + 1000
    scored = pd.read_parquet(target / "data/07_model_output/scored.parquet")
    assert {"prediction", "request_id", "row", "model_version"} <= set(scored.columns)
    assert (target / "lineage.html").read_text().count("<rect") >= 10
    # the loop closed: drift found, retrained, promoted, and the endpoint swapped
    assert "input drift in monthly_charges" in said and ": degraded" in said
    assert "action promote: done (v2 -> @champion: promoted)" in said
    assert "the endpoint swapped to churn v2 without a restart" in said
    assert "http" not in (target / "data/08_reporting/drift.html").read_text()
    # and its deployment manifests were written and checked
    assert "deploy/k8s: configmap.yaml, deployment.yaml" in said
    assert said.count("passes `shipyard deploy check`") == 2
    assert "shipyard deploy docker churn@champion --tag churn:2" in said


def test_new_without_example_or_git_and_a_package_name(tmp_path):
    target = tmp_path / "Bare-Project"
    result = run_cli(
        "new", str(target), "--no-example", "--no-git", "--package-name", "bare", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (target / "src/bare/pipeline_registry.py").is_file()
    assert not (target / "src/bare/pipelines/training").exists()
    assert not (target / ".git").exists()
    listed = run_cli("pipeline", "list", "--json", cwd=target)
    assert json.loads(listed.stdout)["pipelines"] == [
        {"name": "__default__", "nodes": 0, "inputs": [], "outputs": []}
    ]
