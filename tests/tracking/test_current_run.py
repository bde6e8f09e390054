"""Where logging calls go outside a ``start_run`` block: the run ``$SHIPYARD_RUN_ID``
names (a notebook executed by another process), or a default run made on first use."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import shipyard
from shipyard import tracking
from shipyard.errors import TrackingError
from shipyard.metadata import MetadataStore, metrics, params, runs
from shipyard.tracking._run import create_run
from shipyard.tracking._stores import tracking_for

CHILD = textwrap.dedent(
    """
    import shipyard

    shipyard.log_params({"n_estimators": 300})
    for step in range(500):
        shipyard.log_metric("loss", 1 / (step + 1), step=step)
    shipyard.log_metric("acc", 0.9)
    """
)


def stored_run(root, run_id):
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        found = (
            runs.get(conn, run_id),
            params.of_run(conn, run_id),
            metrics.latest(conn, run_id),
            metrics.history(conn, run_id, "loss"),
        )
    store.close()
    return found


@pytest.fixture
def no_fallback():
    yield
    tracking.end_default_run()
    tracking.use_default_run(None)


def test_a_child_process_logs_to_the_run_its_parent_named(project):
    run = create_run(tracking_for(project), name="notebook", project_root=project)
    env = {**os.environ, tracking.RUN_ID_VARIABLE: run.id}
    subprocess.run([sys.executable, "-c", CHILD], cwd=project, env=env, check=True, timeout=60)
    record, logged, latest, loss = stored_run(project, run.id)
    # the child wrote everything at its exit, and left the run to its owner
    assert record.status == "running"
    assert logged == {"n_estimators": 300}
    assert latest["acc"] == 0.9
    assert len(loss) == 500
    run.finish("finished")
    assert stored_run(project, run.id)[0].status == "finished"


def test_a_run_started_in_the_child_is_a_child_of_the_named_run(project, monkeypatch):
    parent = create_run(tracking_for(project), name="notebook", project_root=project)
    monkeypatch.setenv(tracking.RUN_ID_VARIABLE, parent.id)
    monkeypatch.chdir(project)
    with shipyard.start_run(name="inner") as inner:
        assert shipyard.tracking.active_run() is inner
    assert inner.record.parent_run_id == parent.id
    parent.finish("finished")


def test_a_stale_run_id_is_a_clear_error_for_logging_and_no_parent_for_new_runs(
    project, monkeypatch
):
    old = create_run(tracking_for(project), name="old", project_root=project)
    old.finish("finished")
    monkeypatch.setenv(tracking.RUN_ID_VARIABLE, old.id)
    monkeypatch.chdir(project)
    with pytest.raises(TrackingError) as caught:
        shipyard.log_metric("acc", 0.5)
    assert f"Run {old.id} is finished" in caught.value.message
    assert "SHIPYARD_RUN_ID" in caught.value.hint
    with shipyard.start_run(name="fresh") as fresh:
        pass
    assert fresh.record.parent_run_id is None
    assert stored_run(project, old.id)[2] == {}  # nothing was added to the finished run


def test_the_default_run_is_made_on_the_first_logging_call_only(project, no_fallback, monkeypatch):
    monkeypatch.chdir(project)
    made = []

    def factory():
        run = create_run(tracking_for(project), name="explore", project_root=project)
        made.append(run)
        return run

    tracking.use_default_run(factory)
    assert tracking.active_run() is None  # asking does not make a run
    shipyard.log_metric("acc", 0.7)
    shipyard.log_params({"C": 1.0})
    assert len(made) == 1
    assert tracking.active_run() is made[0]
    with shipyard.start_run(name="inside") as inner:  # a block still wins
        shipyard.log_metric("acc", 0.8)
    assert inner.record.parent_run_id == made[0].id
    tracking.end_default_run()
    record, logged, latest, _ = stored_run(project, made[0].id)
    assert (record.status, logged, latest["acc"]) == ("finished", {"C": 1.0}, 0.7)
    assert tracking.active_run() is None


def test_ending_a_default_run_that_was_never_made_does_nothing(no_fallback):
    tracking.use_default_run(lambda: pytest.fail("no run should be made"))
    tracking.end_default_run()
    assert tracking.active_run() is None
