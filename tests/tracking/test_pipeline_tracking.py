"""Pipeline runs are tracked through the hooks, on a real project and a real SQLite store:
params, metrics (a metrics dataset and shipyard.log_metric in a node), lineage, node runs,
cache hits, failures; a store fault never breaks the run."""

from __future__ import annotations

import logging
import os
import sqlite3

import pytest
from tests.tracking.conftest import forget_project_modules

from shipyard.errors import MetadataError, NodeError, TrackingError
from shipyard.metadata import MetadataStore, lineage, metrics, nodes, params, runs
from shipyard.project import Session
from shipyard.runner import SequentialRunner, ThreadRunner, create_hook_manager


def run(root, **options):
    forget_project_modules()
    return Session.open(root).run(**options)


def recorded(root, run_id):
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        found = {
            "run": runs.get(conn, run_id),
            "params": params.of_run(conn, run_id),
            "metrics": metrics.latest(conn, run_id),
            "loss": metrics.history(conn, run_id, "loss"),
            "edges": {(e.node, e.dataset, e.direction): e for e in lineage.of_run(conn, run_id)},
            "nodes": {n.node: n for n in nodes.of_run(conn, run_id)},
        }
    store.close()
    return found


def test_a_pipeline_run_is_tracked_with_params_metrics_lineage_and_nodes(project):
    result = run(project)
    found = recorded(project, result.run_id)
    record = found["run"]
    assert record.status == "finished" and record.error is None
    assert (record.project, record.pipeline, record.env) == ("demo", "__default__", "local")
    assert record.ended_at >= record.started_at
    assert record.environment_id.startswith("blake3:")
    assert record.git_commit is None  # the tmp project is not a git work tree
    assert found["params"] == {"factor": 2, "model.epochs": 3, "model.kind": "gbm"}
    # from the metrics dataset, and from shipyard.log_metric in the train node
    assert found["metrics"] == {"auc": 0.62, "n": 3.0, "loss": pytest.approx(1 / 3)}
    assert [(p.step, p.value, p.node) for p in found["loss"]] == [
        (0, 1.0, "train"),
        (1, 0.5, "train"),
        (2, pytest.approx(1 / 3), "train"),
    ]
    versioning = Session.open(project).versioning
    latest = {name: versioning.index.latest(name) for name in ("numbers", "scaled", "model")}
    edges = found["edges"]
    assert set(edges) == {
        ("scale", "numbers", "in"),
        ("scale", "scaled", "out"),
        ("train", "scaled", "in"),
        ("train", "model", "out"),
        ("evaluate", "model", "in"),
    }
    assert edges["scale", "scaled", "out"].version_id == latest["scaled"].id
    assert edges["train", "scaled", "in"].version_id == latest["scaled"].id
    assert edges["scale", "numbers", "in"].digest == str(latest["numbers"].digest)
    assert latest["model"].run_id == result.run_id  # the data version names the same run
    assert {name: n.status for name, n in found["nodes"].items()} == dict.fromkeys(
        ("scale", "train", "evaluate"), "finished"
    )
    assert all(n.duration_s >= 0 and not n.cache_hit for n in found["nodes"].values())


def test_a_cached_rerun_records_cache_hits_and_the_restored_versions(project):
    first = run(project)
    second = run(project)
    assert second.cached == ("scale", "train")
    found = recorded(project, second.run_id)
    hit = found["nodes"]["scale"]
    assert (hit.status, hit.cache_hit) == ("cached", True)
    assert hit.fingerprint
    assert found["nodes"]["evaluate"].status == "finished"
    before = recorded(project, first.run_id)["edges"]
    # the restored outputs are the first run's versions
    assert found["edges"]["train", "model", "out"].version_id == (
        before["train", "model", "out"].version_id
    )
    # train was restored too; its input's version is known (scale's restored output)
    assert found["edges"]["train", "scaled", "in"].version_id == (
        before["train", "scaled", "in"].version_id
    )
    assert found["loss"] == []  # train did not run, so it logged nothing this time
    assert found["metrics"] == {"auc": 0.62, "n": 3.0}


def test_a_thread_runner_run_is_tracked_the_same(project):
    result = run(project, runner=ThreadRunner(max_workers=2))
    found = recorded(project, result.run_id)
    assert found["run"].status == "finished"
    assert len(found["loss"]) == 3 and {p.node for p in found["loss"]} == {"train"}
    assert len(found["edges"]) == 5


def test_a_failed_run_is_recorded_with_its_error(project, monkeypatch):
    monkeypatch.setenv("DEMO_FAIL", "1")
    session_run_ids = []
    with pytest.raises(NodeError, match="the model diverged"):
        forget_project_modules()
        session = Session.open(project)
        try:
            session.run()
        finally:
            session_run_ids.append(session.versioning.index.latest("scaled").run_id)
    found = recorded(project, session_run_ids[0])
    assert found["run"].status == "failed"
    assert "NodeError" in found["run"].error and "the model diverged" in found["run"].error
    assert found["nodes"]["scale"].status == "finished"
    failed = found["nodes"]["train"]
    assert failed.status == "failed" and "ValueError: the model diverged" in failed.error
    assert len(found["loss"]) == 3  # points logged before the failure are kept


def test_a_store_fault_mid_run_is_one_warning_and_the_run_goes_on(project, caplog):
    run(project)  # creates the store
    db = project / ".shipyard" / "shipyard.db"
    connection = sqlite3.connect(db)
    connection.execute("DROP TABLE node_runs")
    connection.commit()
    connection.close()
    with caplog.at_level(logging.WARNING, logger="shipyard.tracking"):
        result = run(project, cache=False)
    assert result.completed == ("scale", "train", "evaluate")
    warnings = [r for r in caplog.records if r.name == "shipyard.tracking"]
    assert len(warnings) == 1
    assert result.run_id in warnings[0].getMessage()
    assert "the run goes on" in warnings[0].getMessage()
    store = MetadataStore.open(project_root=project)
    with store.connect() as conn:
        assert runs.get(conn, result.run_id).status == "finished"


def test_an_unreachable_store_stops_the_run_before_any_node(project, monkeypatch):
    monkeypatch.setenv("SHIPYARD_DB", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    with pytest.raises(MetadataError) as caught:
        run(project)
    assert "127.0.0.1" in caught.value.message
    assert not (project / "data" / "scaled.json").exists()


def test_nothing_is_tracked_without_a_project_or_store(tmp_path, monkeypatch):
    from shipyard import node, pipeline
    from shipyard.data import Catalog

    monkeypatch.delenv("SHIPYARD_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    catalog = Catalog()
    catalog.save("x", 1)
    calls = []

    def double(x):
        calls.append(x)
        with pytest.raises(TrackingError, match="no active run"):
            import shipyard

            shipyard.log_metric("m", 1.0)
        return 2 * x

    hooks = create_hook_manager()  # the installed tracker included
    assert any(type(p).__name__ == "Tracker" for p in hooks.get_plugins())
    SequentialRunner().run(pipeline([node(double, "x", "y")]), catalog, hooks=hooks)
    assert calls == [1] and catalog.load("y") == 2
    assert list(tmp_path.iterdir()) == []  # no .shipyard, no database


def test_a_process_runner_run_is_tracked_with_the_points_its_workers_log(project):
    from shipyard.runner import ProcessRunner

    result = run(project, runner=ProcessRunner(max_workers=2))
    found = recorded(project, result.run_id)
    assert found["run"].status == "finished"
    assert found["metrics"] == {"auc": 0.62, "n": 3.0, "loss": 1 / 3}
    # logged in a worker process, which found the run through $SHIPYARD_RUN_ID
    assert [(p.step, p.value) for p in found["loss"]] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert "SHIPYARD_RUN_ID" not in os.environ  # only for the run's duration
    assert {n.status for n in found["nodes"].values()} == {"finished"}
