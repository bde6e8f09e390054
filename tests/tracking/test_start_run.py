"""start_run in plain Python: params, metrics (NaN, inf, -0.0, big steps), tags,
artifacts, how a run ends, the flush at exit, and 8 processes logging at once."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import shipyard
from shipyard.errors import ParamConflictError, TrackingError
from shipyard.metadata import MetadataStore, artifacts, metrics, params, runs

REPO_ROOT = Path(__file__).resolve().parents[2]


def stored(root, run_id):
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        record = runs.get(conn, run_id)
        found = {
            "run": record,
            "params": params.of_run(conn, run_id),
            "latest": metrics.latest(conn, run_id),
            "tags": runs.tags_of(conn, run_id),
            "artifacts": artifacts.of_run(conn, run_id),
        }
    store.close()
    return found


def history(root, run_id, key):
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        points = metrics.history(conn, run_id, key)
    store.close()
    return points


def test_a_notebook_run_logs_params_metrics_tags_and_artifacts(project, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text("all good")
    with shipyard.start_run(
        name="try-gbm", experiment="churn", project_root=project, tags={"team": "ds"}
    ) as run:
        run.log_params({"model": {"C": 0.5, "kernel": "rbf"}})
        run.log_param("seed", 7)
        shipyard.log_params({"seed": 7})  # the same value again is fine
        for step in range(5):
            run.log_metric("loss", 1 / (step + 1), step=step)
        shipyard.log_metrics({"auc": 0.91, "val/ñ-unicode": -0.0})
        run.log_metric("nan", math.nan)
        run.log_metric("inf", math.inf, step=2**40)
        run.log_metric("-inf", -math.inf)
        digest = run.log_artifact(report)
        run.set_tags({"stage": "explore"})
    found = stored(project, run.id)
    assert found["run"].status == "finished" and found["run"].name == "try-gbm"
    assert found["params"] == {"model.C": 0.5, "model.kernel": "rbf", "seed": 7}
    latest = found["latest"]
    assert latest["loss"] == 0.2 and latest["auc"] == 0.91
    assert math.copysign(1, latest["val/ñ-unicode"]) == -1.0
    assert math.isnan(latest["nan"])
    assert latest["inf"] == math.inf and latest["-inf"] == -math.inf
    assert [p.step for p in history(project, run.id, "inf")] == [2**40]
    assert found["tags"] == {"team": "ds", "stage": "explore"}
    assert found["artifacts"][0]["name"] == "report.txt"
    assert found["artifacts"][0]["digest"] == digest
    assert (project / ".shipyard" / "objects" / digest[7:9] / digest[9:]).exists()


def test_a_changed_param_is_an_error_naming_key_and_values(project):
    with shipyard.start_run(project_root=project) as run:
        run.log_params({"lr": 0.1})
        with pytest.raises(ParamConflictError) as caught:
            run.log_param("lr", 0.2)
    assert "lr" in caught.value.message
    assert "0.1" in caught.value.message and "0.2" in caught.value.message
    assert caught.value.hint
    assert stored(project, run.id)["params"] == {"lr": 0.1}  # the first value is kept


def test_an_exception_marks_the_run_failed_and_keeps_its_points(project):
    with (
        pytest.raises(RuntimeError, match="out of memory"),
        shipyard.start_run(project_root=project) as run,
    ):
        run.log_metric("loss", 0.5)
        raise RuntimeError("out of memory")
    found = stored(project, run.id)
    assert found["run"].status == "failed"
    assert found["run"].error == "RuntimeError: out of memory"
    assert found["latest"] == {"loss": 0.5}


def test_ctrl_c_marks_the_run_interrupted(project):
    with pytest.raises(KeyboardInterrupt), shipyard.start_run(project_root=project) as run:
        raise KeyboardInterrupt
    assert stored(project, run.id)["run"].status == "interrupted"


def test_a_nested_run_names_its_parent(project):
    with shipyard.start_run(project_root=project) as outer:
        with shipyard.start_run(project_root=project) as inner:
            shipyard.log_metric("inner", 1)
        shipyard.log_metric("outer", 2)
    assert stored(project, inner.id)["run"].parent_run_id == outer.id
    assert stored(project, inner.id)["latest"] == {"inner": 1.0}
    assert stored(project, outer.id)["latest"] == {"outer": 2.0}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda run: run.log_metric("acc", "high"), "Metric 'acc' is not a number: str"),
        (lambda run: run.log_metric("acc", True), "Metric 'acc' is not a number: bool"),
        (lambda run: run.log_metric("", 1.0), "Metric name '' is not a non-empty string"),
        (lambda run: run.log_metric("acc", 1.0, step=1.5), "Step 1.5 of metric 'acc'"),
        (lambda run: run.log_metric("acc", 1.0, step=2**63), "out of range"),
        (lambda run: run.log_artifact("missing.png"), "missing.png of run"),
    ],
)
def test_bad_logging_calls_name_the_problem(project, call, message):
    with shipyard.start_run(project_root=project) as run:
        with pytest.raises(TrackingError) as caught:
            call(run)
        run.log_metric("ok", 1.0)
    assert message in caught.value.message and caught.value.hint
    assert stored(project, run.id)["latest"] == {"ok": 1.0}


def test_logging_with_no_active_run_says_how_to_start_one():
    with pytest.raises(TrackingError) as caught:
        shipyard.log_metric("auc", 0.9)
    assert "no active run" in caught.value.message
    assert "start_run" in caught.value.hint


def test_start_run_without_project_or_store_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SHIPYARD_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TrackingError) as caught, shipyard.start_run():
        pass
    assert "not in a Shipyard project" in caught.value.message
    assert "SHIPYARD_DB" in caught.value.hint
    assert list(tmp_path.iterdir()) == []


def test_shipyard_db_takes_runs_outside_a_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIPYARD_DB", f"sqlite:///{tmp_path / 'team.db'}")
    with shipyard.start_run(name="anywhere") as run:
        run.log_metric("x", 1)
    store = MetadataStore.open()
    with store.connect() as conn:
        assert metrics.latest(conn, run.id) == {"x": 1.0}
    store.close()


LOGGER = """
import sys
import shipyard

with shipyard.start_run(name=sys.argv[2], project_root=sys.argv[1]) as run:
    run.log_params({"worker": sys.argv[2]})
    for step in range(int(sys.argv[3])):
        shipyard.log_metric("loss", step / 10, step=step)
    print(run.id)
"""


def test_points_buffered_at_a_normal_exit_are_all_written(project):
    script = textwrap.dedent(
        """
        import sys
        import shipyard

        run = shipyard.start_run(project_root=sys.argv[1]).__enter__()
        for step in range(10_000):
            run.log_metric("loss", step, step=step)
        print(run.id)
        # no __exit__: the process just ends, with points still buffered
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(project)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    run_id = done.stdout.strip()
    points = history(project, run_id, "loss")
    assert len(points) == 10_000
    assert [p.step for p in points] == list(range(10_000))


def test_eight_processes_log_to_one_sqlite_file_and_nothing_is_lost(project):
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", LOGGER, str(project), f"w{i}", "3000"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        for i in range(8)
    ]
    run_ids = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        run_ids.append(out.strip())
    assert len(set(run_ids)) == 8
    for worker, run_id in enumerate(run_ids):
        found = stored(project, run_id)
        assert found["run"].status == "finished"
        assert found["params"] == {"worker": f"w{worker}"}
        assert len(history(project, run_id, "loss")) == 3000
        assert found["latest"] == {"loss": 299.9}
