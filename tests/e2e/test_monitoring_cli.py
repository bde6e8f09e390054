"""The closed loop through the CLI and a real endpoint: ``shipyard serve`` answers traffic
from a changed market and takes its ground truth; ``shipyard monitor`` finds the drift,
retrains, evaluates and promotes; the running server swaps to the new champion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tests.conftest import run_cli
from tests.e2e.conftest import serving

from shipyard.serving._log import read_log

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

POLICY = """
min_rows: 100
actions:
  - alert: {webhook: null}
  - retrain: {pipeline: training}
  - evaluate: {metric: roc_auc}
  - promote: {alias: champion}
"""


def cli(project: Path, *args: str) -> str:
    done = run_cli(*args, cwd=project, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def wait_for(condition, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_drift_found_over_http_retrains_and_the_server_swaps(project):
    cli(project, "models", "promote", "churn", "1")
    (project / "conf/base/serving.yml").write_text("watch_interval_s: 0.5\n")
    (project / "conf/base/monitoring.yml").write_text(POLICY)
    cli(project, "run", "-q", "--pipeline", "data_processing", "--params",
        "data.price_rise=0.3,data.seed=7")  # fmt: skip
    customers = pd.read_parquet(project / "data/05_model_input/X_test.parquet")
    churned = pd.read_parquet(project / "data/05_model_input/y_test.parquet")["churned"]
    started = datetime.now(UTC)

    with serving(project, model="churn@champion") as (url, _):
        for first in range(0, len(customers), 250):
            batch = customers.iloc[first : first + 250]
            answer = httpx.post(
                f"{url}/v1/models/churn/predict",
                content=f'{{"records": {batch.to_json(orient="records")}}}',
                headers={"content-type": "application/json"},
            ).json()
            labels = churned.iloc[first : first + 250].tolist()
            feedback = [
                {"request_id": answer["request_id"], "row": row, "label": label}
                for row, label in enumerate(labels)
            ]
            assert httpx.post(f"{url}/v1/feedback", json={"feedback": feedback}).is_success
        logs = project / "data/09_logs"
        wait_for(lambda: len(read_log(logs / "predictions")) == len(customers), "the log")
        wait_for(lambda: len(read_log(logs / "feedback")) == len(customers), "the feedback")

        output = cli(
            project, "monitor", "churn@champion", "--since", started.isoformat(),
            "--report", "drift.html", "--json", "drift.json",
        )  # fmt: skip

        result = json.loads((project / "drift.json").read_text())
        assert result["status"] == "drift" and result["rows"] == len(customers)
        assert "monthly_charges" in [
            c["column"] for c in result["columns"] if c["status"] == "drift"
        ]
        assert result["performance"]["status"] == "degraded"
        assert "monthly_charges" in output and "promoted" in output
        page = (project / "drift.html").read_text()
        assert "monthly_charges" in page and "http://" not in page and "https://" not in page
        wait_for(
            lambda: httpx.get(f"{url}/v1/models/churn").json()["version"] == 2,
            "the server to swap to version 2",
        )

    history = run_cli("monitor", "history", "churn", "--json", cwd=project)
    windows = json.loads(history.stdout)["windows"]
    assert [(w["status"], w["version"]) for w in windows] == [("drift", 1)]
    cli(project, "monitor", "history", "churn", "--feature", "monthly_charges", "-o", "m.html")
    assert "<svg" in (project / "m.html").read_text()
    runs = {
        run["id"]: run
        for run in json.loads(run_cli("runs", "list", "--json", cwd=project).stdout)["runs"]
    }
    evaluation = next(run for run in runs.values() if run["name"] == "evaluate churn v2 vs v1")
    assert evaluation["metrics"]["challenger.roc_auc"] > evaluation["metrics"]["champion.roc_auc"]
    monitor_run = runs[evaluation["parent_run_id"]]
    retraining = [r for r in runs.values() if r["parent_run_id"] == monitor_run["id"]]
    assert {r["pipeline"] for r in retraining} >= {"training"}


def test_monitor_errors_are_plain_messages(project):
    missing = run_cli("monitor", "churn@champion", cwd=project)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "champion" in missing.stderr

    cli(project, "models", "promote", "churn", "1")
    (project / "conf/base/monitoring.yml").write_text(
        "actions:\n  - alert: {webhook: 'http://169.254.169.254/latest/meta-data'}\n"
    )
    refused = run_cli("monitor", "churn@champion", cwd=project)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "169.254.169.254" in refused.stderr and "monitoring.yml" in refused.stderr

    (project / "conf/base/monitoring.yml").write_text("windw: 1h\n")
    typo = run_cli("monitor", "churn@champion", cwd=project)
    assert typo.returncode != 0 and "window" in typo.stderr and "Traceback" not in typo.stderr


def test_monitor_help_names_both_commands(project):
    text = run_cli("monitor", "--help", cwd=project).stdout
    assert "check" in text and "history" in text
    check = run_cli("monitor", "churn", "--help", cwd=project).stdout
    assert "--window" in check and "--watch" in check and "--once" in check


def test_watch_checks_the_due_window_and_stops_cleanly_on_sigterm(project):
    cli(project, "models", "promote", "churn", "1")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "monitor", "churn@champion", "--watch", "--every", "1h"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: "not_enough_data" in run_cli("monitor", "history", "churn", cwd=project).stdout,
            "the first window to be checked",
        )
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    said = " ".join(stderr.split())
    assert "Watching churn@champion: one window per 1h" in said
    assert "Stopped after 1 window(s)." in said
    again = run_cli("monitor", "churn@champion", "--once", cwd=project)
    assert again.returncode == 0 and "No window is due" in again.stderr
