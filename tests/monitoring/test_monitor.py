"""Monitoring a registered model of a generated churn project: windows of a real prediction
log, the result stored once, and the policy's actions (alert, retrain, evaluate, promote)
run, resumed after a kill, refused by a cool-down, and failing without harm."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import churn_project, run_cli

from shipyard.metadata import monitoring as repo
from shipyard.metadata import runs as run_records
from shipyard.models import ModelRegistry
from shipyard.monitoring import Monitor, parse_monitoring_config
from shipyard.monitoring._actions import WINDOW_TAG
from shipyard.monitoring._schedule import due_windows, run_due
from shipyard.project import Session
from shipyard.serving._log import FeedbackLog, PredictionLog

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HOUR = datetime(2026, 11, 2, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """churn v1 trained and promoted to champion; the test sets of today's market in
    ``old/`` and of the market after a 30% price rise in data/05_model_input."""
    root = churn_project(tmp_path_factory.mktemp("monitor") / "churn", champion=True)
    (root / "old").mkdir()
    for name in ("X_test", "y_test"):
        shutil.copy(root / f"data/05_model_input/{name}.parquet", root / f"old/{name}.parquet")
    done = run_cli(
        "run", "-q", "--pipeline", "data_processing", "--params",
        "data.price_rise=0.3,data.seed=7", cwd=root, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root


def market(project: Path, which: str) -> tuple[pd.DataFrame, pd.Series]:
    folder = project / ("old" if which == "old" else "data/05_model_input")
    X = pd.read_parquet(folder / "X_test.parquet")
    return X, pd.read_parquet(folder / "y_test.parquet")["churned"]


def log_traffic(
    project: Path, X: pd.DataFrame, labels: pd.Series | None, *, at: datetime, version: int = 1
) -> None:
    """What the endpoint would have logged: ``X`` in requests of 100 rows answered by
    churn ``version`` at ``at`` and the minutes after, with ``labels`` as feedback."""
    model = ModelRegistry.for_project(project).load(f"churn:{version}")
    predictions = np.asarray(model.predict(X))
    predicted = PredictionLog(project / "data/09_logs/predictions")
    feedback = FeedbackLog(project / "data/09_logs/feedback")
    predicted.start()
    feedback.start()
    for number, first in enumerate(range(0, len(X), 100)):
        request = f"{at:%d%H%M}-{number}"
        moment = at + timedelta(minutes=number)
        rows = X.iloc[first : first + 100]
        outputs = {"prediction": predictions[first : first + 100].tolist()}
        predicted.log(request, "churn", version, rows, outputs, 1.0, timestamp=moment)
        if labels is not None:
            for row, label in enumerate(labels.iloc[first : first + 100]):
                feedback.log("churn", request, int(label), row=row, timestamp=moment)
    assert predicted.close().written_rows == len(X)
    feedback.close()


def monitor(project: Path, policy: dict | None = None) -> Monitor:
    config = parse_monitoring_config({"min_rows": 100, **(policy or {})})
    return Monitor(Session.open(project), "churn@champion", config=config)


def champion(project: Path) -> int:
    return ModelRegistry.for_project(project).resolve("churn@champion").version


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    """A webhook receiver on 127.0.0.1: its URL and the JSON bodies it got."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    finally:
        server.shutdown()


def closed_loop(url: str, **retrain: object) -> dict:
    return {
        "actions": [
            {"alert": {"webhook": url, "allow_private_addresses": True}},
            {"retrain": {"pipeline": "training", **retrain}},
            {"evaluate": {"metric": "roc_auc"}},
            {"promote": {"alias": "champion"}},
        ]
    }


# --- analysing ----------------------------------------------------------------------


def test_traffic_like_the_training_data_is_not_drift_and_is_analysed_once(project):
    X, y = market(project, "old")
    log_traffic(project, X, y, at=HOUR)
    watcher = monitor(project)

    check = watcher.check(HOUR, HOUR + timedelta(hours=1))

    result = check.result
    assert (result.status, result.rows, result.version) == ("ok", len(X), 1)
    assert result.drifted_columns == [] and result.drift_share == 0.0
    assert {c.column for c in result.columns} == set(X.columns)
    assert {c.method for c in result.columns} <= {"wasserstein", "jensenshannon"}
    assert result.performance is not None and result.performance.status == "ok"
    assert result.performance.labelled_rows == len(X)
    assert [c.column for c in result.predictions] == ["prediction"]
    assert check.actions == () and check.triggers == () and not check.stored
    again = watcher.check(HOUR, HOUR + timedelta(hours=1))
    assert again.stored and again.result == result
    assert [r.id for r in watcher.history()] == [result.id]


def test_an_empty_window_is_not_enough_data_not_an_alarm(project, receiver):
    url, received = receiver
    check = monitor(project, closed_loop(url)).check(HOUR, HOUR + timedelta(hours=1))
    assert (check.result.status, check.result.rows) == ("not_enough_data", 0)
    assert {c.status for c in check.result.columns} == {"not_enough_data"}
    assert check.actions == () and received == []


def test_concept_drift_shows_in_performance_not_in_the_inputs(project):
    X, y = market(project, "old")
    flipped = y.copy()
    rng = np.random.default_rng(0)
    chosen = rng.random(len(y)) < 0.3
    flipped[chosen] = 1 - flipped[chosen]
    log_traffic(project, X, flipped, at=HOUR)

    check = monitor(project).check(HOUR, HOUR + timedelta(hours=1), act=False)

    assert check.result.drifted_columns == []
    assert check.result.performance.status == "degraded"
    assert "accuracy" in check.result.performance.degraded
    assert check.result.status == "drift" and check.triggers == ("performance",)


def test_a_corrupted_part_is_skipped_and_named_and_the_rest_analysed(project):
    X, y = market(project, "old")
    log_traffic(project, X, y, at=HOUR)
    broken = project / f"data/09_logs/predictions/model=churn/hour={HOUR:%Y-%m-%dT%H}"
    (broken / "part-broken.parquet").write_bytes(b"PAR1 this is not parquet")

    result = monitor(project).check(HOUR, HOUR + timedelta(hours=1)).result

    assert result.rows == len(X) and result.status == "ok"
    assert [Path(name).name for name in result.skipped_files] == ["part-broken.parquet"]
    assert any("part-broken.parquet" in warning for warning in result.warnings)


def test_a_model_without_a_reference_profile_is_a_clear_error(project):
    from shipyard.errors import MonitoringError
    from shipyard.models import load_model, package

    registry = ModelRegistry.for_project(project)
    bare = package(load_model("churn:1", project=project).raw)
    bare.save(project / "bare")
    version = registry.register("churn", project / "bare").version
    with pytest.raises(MonitoringError) as caught:
        Monitor(Session.open(project), f"churn:{version}").target()
    assert "no reference profile" in caught.value.message
    assert "reference_profile=" in caught.value.hint


# --- acting -------------------------------------------------------------------------


def test_drifted_traffic_retrains_evaluates_promotes_then_cools_down(project, receiver):
    url, received = receiver
    X, y = market(project, "new")
    log_traffic(project, X, y, at=HOUR)
    watcher = monitor(project, closed_loop(url))

    check = watcher.check(HOUR, HOUR + timedelta(hours=1))

    result = check.result
    assert result.status == "drift" and "performance" in check.triggers
    assert "monthly_charges" in result.drifted_columns
    assert [(a.kind, a.status) for a in check.actions] == [
        ("alert", "done"), ("retrain", "done"), ("evaluate", "done"), ("promote", "done"),
    ]  # fmt: skip
    retrain, evaluate, promote = (a.details for a in check.actions[1:])
    assert retrain["challenger"] == 2
    assert evaluate["beaten"] is True
    assert evaluate["challenger_value"] > evaluate["champion_value"]
    assert promote["outcome"] == "promoted" and champion(project) == 2
    assert received[0]["event"] == "drift" and received[0]["window_id"] == result.id
    assert "monthly_charges" in received[0]["drifted_columns"]
    with watcher.registry.store.begin() as conn:
        run = run_records.get(conn, check.actions[1].run_id)
        tags = run_records.tags_of(conn, run.id)
        parent_tags = run_records.tags_of(conn, run.parent_run_id)
    assert run.status == "finished" and run.pipeline == "training"
    assert tags[WINDOW_TAG] == result.id and parent_tags[WINDOW_TAG] == result.id

    # the same window again: nothing runs twice
    again = watcher.check(HOUR, HOUR + timedelta(hours=1))
    assert again.stored and [a.status for a in again.actions] == ["done"] * 4
    assert champion(project) == 2 and len(received) == 1

    # the next drifted window, within the cool-down, only alerts (against the new champion)
    log_traffic(project, X, 1 - y, at=HOUR + timedelta(hours=1), version=2)
    later = watcher.check(HOUR + timedelta(hours=1), HOUR + timedelta(hours=2))
    assert later.result.version == 2 and later.result.status == "drift"
    assert [(a.kind, a.status) for a in later.actions] == [
        ("alert", "done"), ("retrain", "skipped"), ("evaluate", "skipped"), ("promote", "skipped"),
    ]  # fmt: skip
    assert "cool-down" in later.actions[1].details["reason"]
    assert champion(project) == 2 and len(received) == 2


def test_a_failing_retraining_keeps_the_champion_and_sends_an_alert(project, receiver):
    url, received = receiver
    X, y = market(project, "new")
    log_traffic(project, X, y, at=HOUR)
    policy = closed_loop(url, pipeline="__default__", params={"data": {"n_customers": -5}})

    check = monitor(project, policy).check(HOUR, HOUR + timedelta(hours=1))

    assert [(a.kind, a.status) for a in check.actions] == [
        ("alert", "done"), ("retrain", "failed"), ("evaluate", "skipped"), ("promote", "skipped"),
    ]  # fmt: skip
    assert "generate_customers" in check.actions[1].error
    assert check.actions[2].details["reason"] == "an earlier action failed"
    assert champion(project) == 1
    assert [body["event"] for body in received] == ["drift", "retrain_failed"]
    assert "generate_customers" in received[1]["summary"]


SLOW_PIPELINE = '''
"""Training that waits while the test's flag file exists, so it can be killed mid-run."""

import time
from pathlib import Path

from shipyard import node, pipeline

from ..training.pipeline import create_pipeline as training


def pause(X_train):
    flag = Path(__file__).parents[4] / "pause.flag"
    deadline = time.monotonic() + 60
    while flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return X_train


def create_pipeline(**kwargs):
    return pipeline([node(pause, "X_train", "X_train_checked", name="pause")]) + training()
'''


def test_a_process_killed_mid_retraining_resumes_once_and_keeps_the_window(project):
    folder = project / "src/churn/pipelines/slow_training"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "pipeline.py").write_text(SLOW_PIPELINE)
    (project / "pause.flag").write_text("")
    X, y = market(project, "new")
    log_traffic(project, X, y, at=HOUR)
    policy = {"actions": [{"retrain": {"pipeline": "slow_training"}}, {"promote": {}}]}
    script = textwrap.dedent(f"""
        from datetime import datetime, timedelta
        from shipyard.monitoring import Monitor, parse_monitoring_config
        from shipyard.project import Session
        hour = datetime.fromisoformat({HOUR.isoformat()!r})
        config = parse_monitoring_config({{"min_rows": 100, **{policy!r}}})
        Monitor(Session.open("."), "churn@champion", config=config).check(
            hour, hour + timedelta(hours=1))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=project, env=os.environ)
    watcher = monitor(project, policy)
    deadline = time.monotonic() + 120
    try:
        while True:
            assert process.poll() is None, "the monitor finished before it could be killed"
            assert time.monotonic() < deadline, "the retraining never started"
            with watcher.registry.store.begin() as conn:
                window = repo.find_window(conn, "churn", HOUR, HOUR + timedelta(hours=1))
                running = run_records.search(conn, pipeline="slow_training", status="running")
            if window is not None and running:
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    (project / "pause.flag").unlink()

    resumed = watcher.resume()

    assert len(resumed) == 1 and resumed[0].result.id == window.id
    assert [(a.kind, a.status) for a in resumed[0].actions] == [
        ("retrain", "done"), ("promote", "done"),
    ]  # fmt: skip
    with watcher.registry.store.begin() as conn:
        retrainings = run_records.search(conn, pipeline="slow_training")
        windows = repo.list_windows(conn, "churn")
    finished = [r for r in retrainings if r.status == "finished"]
    assert len(finished) == 1 and finished[0].id == resumed[0].actions[0].run_id
    assert len(retrainings) == 2  # the killed one stays recorded, unfinished
    assert [w.id for w in windows] == [window.id]
    assert champion(project) == 2
    assert watcher.resume() == []  # nothing is left to finish


# --- the schedule ---------------------------------------------------------------------


def test_due_windows_are_aligned_caught_up_and_never_repeated():
    every, window = timedelta(hours=1), timedelta(hours=24)
    now = datetime(2026, 11, 2, 10, 17, tzinfo=UTC)
    first = due_windows(now, every=every, window=window, last_end=None)
    assert first == [(datetime(2026, 11, 1, 10, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC))]
    assert due_windows(now, every=every, window=window, last_end=first[0][1]) == []
    later = due_windows(now + timedelta(hours=3), every=every, window=window, last_end=first[0][1])
    assert [end.hour for _, end in later] == [11, 12, 13]
    many = due_windows(now + timedelta(days=5), every=every, window=window, last_end=first[0][1])
    assert len(many) == 48 and many[-1][1] == datetime(2026, 11, 7, 10, tzinfo=UTC)


def test_once_checks_each_due_window_once(project):
    X, y = market(project, "old")
    log_traffic(project, X, y, at=HOUR)
    watcher = monitor(project, {"every": "1h", "window": "1h"})
    now = HOUR + timedelta(hours=1, minutes=5)

    first = run_due(watcher, now=now)

    assert [(c.result.window_start, c.result.rows) for c in first] == [(HOUR, len(X))]
    assert run_due(watcher, now=now) == []
    next_hour = run_due(watcher, now=now + timedelta(hours=1))
    assert [(c.result.window_start, c.result.status) for c in next_hour] == [
        (HOUR + timedelta(hours=1), "not_enough_data")
    ]
