"""``shipyard predict`` as a user runs it: a fresh process in a project with a registered
model; JSON on stdout and nothing else, errors as a message and a hint without traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import run_cli
from tests.serving.conftest import customers, make_project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("cli-predict") / "shop")
    customers(250).to_parquet(root / "new_customers.parquet", index=False)
    return root


def test_json_is_the_only_thing_on_stdout(project):
    result = run_cli(
        "predict",
        "models:/churn@champion",
        "--input",
        "new_customers.parquet",
        "--output",
        "scored.csv",
        "--chunk-size",
        "100",
        "--json",
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document) == ["prediction"]
    prediction = document["prediction"]
    assert sorted(prediction) == sorted(
        ["rows", "seconds", "rows_per_s", "output", "run_id", "model", "version"]
    )
    assert (prediction["rows"], prediction["model"], prediction["version"]) == (250, "churn", 1)
    assert prediction["output"] == str(project / "scored.csv")
    scored = pd.read_csv(project / "scored.csv")
    assert len(scored) == 250
    assert scored["request_id"].nunique() == 3
    assert "rows predicted" not in result.stderr  # --json silences the progress


def test_people_get_a_summary_and_progress_on_stderr(project):
    result = run_cli(
        "predict", "churn", "-i", "new_customers.parquet", "-o", "scored.parquet", cwd=project
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "[250/250] rows predicted" in result.stderr
    assert "Predicted 250 rows with churn version 1" in result.stderr
    runs = run_cli("runs", "list", "--json", cwd=project)
    assert any(run["name"] == "predict" for run in json.loads(runs.stdout)["runs"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-i", "missing.parquet", "-o", "out.parquet"], "does not exist"),
        (["-i", "new_customers.parquet", "-o", "out.xlsx"], "not a Parquet or CSV file"),
        (["-i", "new_customers.parquet", "-o", "new_customers.parquet"], "is the input file"),
    ],
)
def test_errors_are_a_message_and_a_hint_without_traceback(project, arguments, message):
    result = run_cli("predict", "churn", *arguments, cwd=project)
    assert result.returncode == 1
    assert message in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not (project / "out.parquet").exists()


def test_an_unknown_model_is_a_user_error(project):
    result = run_cli(
        "predict", "churn@nobody", "-i", "new_customers.parquet", "-o", "x.parquet", cwd=project
    )
    assert result.returncode == 1
    assert "no alias 'nobody'" in result.stderr
    assert "Traceback" not in result.stderr
