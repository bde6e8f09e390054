"""`shipyard models ...` on a generated project: the run registers its model, and the CLI
lists, shows, promotes through gates and approvals, prints cards and exports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def as_user(user: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, env={"SHIPYARD_USER": user})


def json_of(result: subprocess.CompletedProcess[str], key: str):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[key]


def set_governance(project: Path, **changes) -> None:
    path = project / "conf/base/governance.yml"
    governance = yaml.safe_load(path.read_text())
    governance.update(changes)
    path.write_text(yaml.safe_dump(governance))


def test_the_run_registered_the_model_with_its_lineage(project):
    models = json_of(run_cli("models", "list", "--json", cwd=project), "models")
    assert [(m["name"], m["latest_version"]) for m in models] == [("churn", 1)]
    shown = json_of(run_cli("models", "show", "churn:1", "--json", cwd=project), "model")
    assert shown["version"]["flavor"] == "sklearn"
    assert shown["version"]["metrics"]["roc_auc"] > 0.75
    assert shown["version"]["run_id"]
    inputs = [column["name"] for column in shown["signature"]["inputs"]]
    assert "tenure_months" in inputs and "churned" not in inputs
    from_data = {item["dataset"] for item in shown["training_data"]}
    assert {"customers_raw", "X_train", "y_train"} <= from_data
    assert "predictions" not in from_data  # not upstream of the model


def test_a_second_run_with_other_params_registers_version_2(project):
    assert run_cli("run", "-q", "--params", "model.C=0.05", cwd=project).returncode == 0
    assert run_cli("run", "-q", cwd=project).returncode == 0  # same content as version 1
    versions = json_of(run_cli("models", "versions", "churn", "--json", cwd=project), "versions")
    assert [v["version"] for v in versions] == [2, 1]


def test_promotion_through_gates_approvals_and_history(project):
    set_governance(
        project,
        users={"alice": ["data_scientist"], "bob": ["ml_engineer"], "carol": ["governance"]},
        promotion={
            "champion": {
                "gates": [{"metric": "roc_auc >= 0.7"}],
                "approvals": {"required": 1, "roles": ["governance"]},
            }
        },
    )
    refused = as_user("alice", "models", "promote", "churn", "1", cwd=project)
    assert refused.returncode == 1 and "alice" in refused.stderr and "hint:" in refused.stderr

    pending = as_user("bob", "models", "promote", "churn", "1", "--json", cwd=project)
    assert json_of(pending, "promotion")["outcome"] == "pending"
    shown = json_of(run_cli("models", "show", "churn:1", "--json", cwd=project), "model")
    assert shown["version"]["aliases"] == [] and len(shown["pending"]) == 1

    approved = as_user("carol", "models", "approve", "churn", "1", "-m", "ok", cwd=project)
    assert approved.returncode == 0, approved.stderr
    assert "churn@champion is now version 1" in approved.stderr

    events = json_of(run_cli("models", "history", "churn", "--json", cwd=project), "history")
    kinds = [(e["kind"], e["actor"]) for e in events]
    assert kinds[-3:] == [("requested", "bob"), ("approved", "carol"), ("promoted", "carol")]


def test_a_failed_gate_refuses_and_names_the_metric(project):
    set_governance(project, promotion={"champion": {"gates": [{"metric": "roc_auc >= 0.99"}]}})
    result = run_cli("models", "promote", "churn", "1", cwd=project)
    assert result.returncode == 1
    assert "roc_auc" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    shown = json_of(run_cli("models", "show", "churn:1", "--json", cwd=project), "model")
    assert shown["version"]["aliases"] == []


def test_card_and_mlflow_export(project, tmp_path):
    card = tmp_path / "card.html"
    result = run_cli("models", "card", "churn:1", "--html", str(card), cwd=project)
    assert result.returncode == 0, result.stderr
    assert "# Model card: churn version 1" in result.stdout
    assert "Not for pricing" in result.stdout  # intended use from governance.yml
    assert "<html" in card.read_text()
    exported = run_cli(
        "models", "export", "churn:1", str(tmp_path / "mlflow"), "--format", "mlflow", cwd=project
    )
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "mlflow/MLmodel").is_file()


def test_load_model_from_python(project):
    code = (
        "import shipyard, pandas as pd\n"
        "m = shipyard.load_model('models:/churn/1')\n"
        "X = pd.read_parquet('data/05_model_input/X_test.parquet')\n"
        "print(round(float(m.predict_proba(X)[:, 1].mean()), 3))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert 0 < float(result.stdout) < 1


@pytest.mark.parametrize("name", ["../churn", "a/b", "\u0441hurn", "churn%2F.."])
def test_bad_model_names_are_refused(project, name):
    package = project / "data/06_models/churn"
    result = run_cli("models", "register", name, "--path", str(package), cwd=project)
    assert result.returncode == 1, result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    models = json_of(run_cli("models", "list", "--json", cwd=project), "models")
    assert [m["name"] for m in models] == ["churn"]


def test_register_from_a_run_by_hand(project):
    runs = json.loads(run_cli("runs", "list", "--json", cwd=project).stdout)["runs"]
    run_id = runs[0]["id"]
    result = run_cli(
        "models", "register", "retention", "--from-run", run_id[:8], "--dataset", "churn_model",
        "--json", cwd=project,
    )  # fmt: skip
    version = json_of(result, "version")
    assert (version["model"], version["version"], version["run_id"]) == ("retention", 1, run_id)
    churn = json_of(run_cli("models", "show", "churn:1", "--json", cwd=project), "model")
    assert version["digest"] == churn["version"]["digest"]  # the same package
    missing = run_cli(
        "models", "register", "retention", "--from-run", run_id, "--dataset", "predictions",
        cwd=project,
    )  # fmt: skip
    assert missing.returncode == 1 and "predictions" in missing.stderr
