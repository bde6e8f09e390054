"""The shared suite: every repository function, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import math
import os
import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shipyard.errors import MetadataError, ParamConflictError, RunNotFoundError
from shipyard.ids import new_id
from shipyard.metadata import (
    artifacts,
    environments,
    experiments,
    lineage,
    metrics,
    nodes,
    params,
    runs,
    schema,
)
from shipyard.metadata.metrics import MetricPoint

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def _new_run(store, **fields) -> runs.RunRecord:
    with store.begin() as conn:
        experiment_id = experiments.get_or_create(conn, fields.pop("experiment", "Default"))
        record = runs.RunRecord(id=new_id(), experiment_id=experiment_id, **fields)
        runs.create(conn, record)
    return record


def test_experiments_are_created_once(store):
    name = f"churn-{new_id()}"
    with store.begin() as conn:
        first = experiments.get_or_create(conn, name)
        assert experiments.get_or_create(conn, name) == first
        assert experiments.get_or_create(conn, f"other-{name}") != first
        assert experiments.get_or_create(conn) == experiments.get_or_create(conn, "Default")


def test_run_round_trips_every_field(store):
    record = _new_run(
        store,
        name="try-gbm",
        project="churn",
        pipeline="training",
        env="local",
        started_at=T0,
        user="ana",
        host="box",
        pid=123,
        git_commit="a" * 40,
        git_branch="main",
        git_dirty=True,
        git_diff_digest="blake3:" + "0" * 64,
    )
    with store.connect() as conn:
        assert runs.get(conn, record.id) == record
    as_json = json.loads(json.dumps(record.to_dict()))
    assert as_json["started_at"] == "2026-01-31T12:00:00+00:00"
    assert as_json["ended_at"] is None and as_json["git_dirty"] is True


def test_times_are_stored_in_utc_whatever_the_offset(store):
    paris = datetime(2026, 1, 31, 13, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Paris")
    )
    record = _new_run(store, started_at=paris)
    with store.connect() as conn:
        got = runs.get(conn, record.id)
    assert got.started_at == paris and got.started_at.tzinfo == UTC


def test_finish_records_status_end_and_error(store):
    record = _new_run(store, started_at=T0)
    with store.begin() as conn:
        runs.finish(conn, record.id, "failed", ended_at=T0 + timedelta(seconds=5), error="boom")
    with store.connect() as conn:
        got = runs.get(conn, record.id)
    assert (got.status, got.ended_at, got.error) == ("failed", T0 + timedelta(seconds=5), "boom")
    with store.begin() as conn, pytest.raises(RunNotFoundError, match="cannot be finished"):
        runs.finish(conn, "0" * 26, "finished", ended_at=T0)


def test_get_by_unique_prefix_and_errors(store):
    record = _new_run(store)
    with store.connect() as conn:
        assert runs.get(conn, record.id[:12]).id == record.id
        assert runs.get(conn, record.id.upper()).id == record.id
        with pytest.raises(RunNotFoundError, match="at least 4 characters"):
            runs.get(conn, record.id[:3])
        missing = record.id[:20] + "zzzzzz"
        with pytest.raises(RunNotFoundError) as caught:
            runs.get(conn, missing)
        assert f"No run id starts with '{missing}'" in caught.value.message
        assert record.id in caught.value.message  # the nearest id is listed
        assert "runs list" in caught.value.hint


def test_ambiguous_prefix_names_the_matches(store):
    first, second = _new_run(store), _new_run(store)
    shared = next(i for i, (a, b) in enumerate(zip(first.id, second.id, strict=True)) if a != b)
    common = first.id[:shared]
    assert len(common) >= 4  # ids made in the same second share their time part
    with store.connect() as conn, pytest.raises(RunNotFoundError) as caught:
        runs.get(conn, common)
    message = caught.value.message
    assert "ambiguous" in message
    listed = re.findall(r"\b[0-9a-z]{26}\b", message)
    assert listed and all(run_id.startswith(common) for run_id in listed)
    # The team store is shared by the tests: runs made in the same second by another
    # test share the prefix too, and the message shows the first five matches only.
    assert {first.id, second.id} <= set(listed) or message.endswith("....")


def test_status_of_marks_a_dead_local_process_lost():
    mine = runs.RunRecord(id=new_id(), experiment_id="e", host=socket.gethostname(), pid=1)
    assert runs.status_of(mine, alive=lambda host, pid: False) == "lost"
    assert runs.status_of(mine, alive=lambda host, pid: True) == "running"
    other_host = runs.RunRecord(id=new_id(), experiment_id="e", host="elsewhere", pid=1)
    assert runs.status_of(other_host, alive=lambda host, pid: False) == "running"
    done = runs.RunRecord(id=new_id(), experiment_id="e", status="finished", pid=1)
    assert runs.status_of(done, alive=lambda host, pid: False) == "finished"


def test_process_alive():
    assert runs.process_alive(socket.gethostname(), os.getpid())
    assert not runs.process_alive(socket.gethostname(), 2**22 + 12345)


def test_tags_are_set_and_replaced(store):
    record = _new_run(store)
    with store.begin() as conn:
        runs.set_tags(conn, record.id, {"team": "ds", "näme/with space": "ü"})
        runs.set_tags(conn, record.id, {"team": "ml"})
    with store.connect() as conn:
        assert runs.tags_of(conn, record.id) == {"näme/with space": "ü", "team": "ml"}


def test_params_are_flattened_and_keep_their_types(store):
    record = _new_run(store)
    values = {"model": {"C": 0.5, "kernel": "rbf", "layers": [1, 2]}, "seed": 3, "on": True}
    with store.begin() as conn:
        params.log(conn, record.id, values)
        params.log(conn, record.id, {"seed": 3})  # the same value again is fine
    with store.connect() as conn:
        assert params.of_run(conn, record.id) == {
            "model.C": 0.5,
            "model.kernel": "rbf",
            "model.layers": [1, 2],
            "on": True,
            "seed": 3,
        }


def test_changing_a_param_is_refused_and_nothing_is_written(store):
    record = _new_run(store)
    with store.begin() as conn:
        params.log(conn, record.id, {"lr": 0.1})
    with pytest.raises(ParamConflictError) as caught, store.begin() as conn:
        params.log(conn, record.id, {"new": 1, "lr": 0.2})
    assert caught.value.message == (
        f"Param 'lr' of run {record.id} is already 0.1; it cannot become 0.2."
    )
    assert "never change" in caught.value.hint
    with store.connect() as conn:
        assert params.of_run(conn, record.id) == {"lr": 0.1}


@pytest.mark.parametrize(
    "key",
    ["val/loss", "métrique/λ", "loss (train) #1", "k" * 500],
    ids=["slash", "unicode", "punct", "500"],
)
def test_metric_names(store, key):
    record = _new_run(store)
    with store.begin() as conn:
        metrics.log_batch(conn, record.id, [MetricPoint(key, 1.5, step=1)])
    with store.connect() as conn:
        assert [point.key for point in metrics.history(conn, record.id, key)] == [key]
        assert metrics.latest(conn, record.id) == {key: 1.5}
        found = runs.search(conn, where=f"metrics.`{key}` = 1.5", experiment="Default")
    assert record.id in [run.id for run in found]


def test_special_values_round_trip_faithfully(store):
    record = _new_run(store)
    values = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308]
    with store.begin() as conn:
        metrics.log_batch(
            conn, record.id, [MetricPoint("x", v, step=i) for i, v in enumerate(values)]
        )
        metrics.log_batch(conn, record.id, [MetricPoint("nan_last", math.nan)])
        metrics.log_batch(conn, record.id, [MetricPoint("negzero_last", -0.0)])
    with store.connect() as conn:
        got = [point.value for point in metrics.history(conn, record.id, "x")]
        latest = metrics.latest(conn, record.id)
    assert math.isnan(got[0])
    assert got[1:] == values[1:]
    assert math.copysign(1, got[3]) == -1  # -0.0 kept its sign
    assert math.copysign(1, got[4]) == 1
    assert latest["x"] == values[-1]
    assert math.isnan(latest["nan_last"])
    assert math.copysign(1, latest["negzero_last"]) == -1


def test_steps_beyond_int32(store):
    record = _new_run(store)
    steps = [2**31, 2**40, 2**62]
    with store.begin() as conn:
        metrics.log_batch(conn, record.id, [MetricPoint("s", float(s), step=s) for s in steps])
    with store.connect() as conn:
        history = metrics.history(conn, record.id, "s")
        assert [point.step for point in history] == steps
        assert metrics.latest(conn, record.id) == {"s": float(2**62)}


def test_latest_is_greatest_step_then_latest_time(store):
    record = _new_run(store)
    with store.begin() as conn:
        metrics.log_batch(
            conn,
            record.id,
            [
                MetricPoint("loss", 0.5, step=10, timestamp=T0),
                MetricPoint("loss", 0.9, step=2, timestamp=T0 + timedelta(hours=1)),
                MetricPoint("loss", 0.4, step=10, timestamp=T0 + timedelta(seconds=1)),
            ],
        )
    with store.begin() as conn:  # an older step logged later does not win
        metrics.log_batch(conn, record.id, [MetricPoint("loss", 7.0, step=3)])
    with store.connect() as conn:
        assert metrics.latest(conn, record.id) == {"loss": 0.4}
        history = metrics.history(conn, record.id, "loss")
    assert [(p.step, p.value) for p in history] == [(2, 0.9), (3, 7.0), (10, 0.5), (10, 0.4)]
    assert history[0].timestamp == T0 + timedelta(hours=1)
    assert history[1].timestamp.tzinfo == UTC  # None -> the time of writing
    with store.begin() as conn:
        metrics.log_batch(conn, record.id, [MetricPoint("loss", 0.1, step=11, node="train")])
    with store.connect() as conn:
        assert metrics.latest(conn, record.id) == {"loss": 0.1}
        assert metrics.history(conn, record.id, "loss")[-1].node == "train"


def test_empty_batch_is_a_no_op(store):
    record = _new_run(store)
    with store.begin() as conn:
        metrics.log_batch(conn, record.id, [])
        params.log(conn, record.id, {})
        runs.set_tags(conn, record.id, {})
        nodes.record(conn, [])
        lineage.add(conn, [])
    with store.connect() as conn:
        assert metrics.latest(conn, record.id) == {}


def test_metrics_of_an_unknown_run_are_refused(store):
    with pytest.raises(sa.exc.IntegrityError), store.begin() as conn:
        metrics.log_batch(conn, "0" * 26, [MetricPoint("x", 1.0)])


def test_artifacts(store):
    record = _new_run(store)
    with store.begin() as conn:
        artifacts.add(conn, record.id, "plots/roc.png", "blake3:" + "1" * 64, 10)
        artifacts.add(conn, record.id, "model", "blake3:" + "2" * 64, 300, kind="tree")
        artifacts.add(conn, record.id, "plots/roc.png", "blake3:" + "3" * 64, 12)
    with store.connect() as conn:
        assert artifacts.of_run(conn, record.id) == [
            {"name": "model", "digest": "blake3:" + "2" * 64, "size": 300, "kind": "tree"},
            {"name": "plots/roc.png", "digest": "blake3:" + "3" * 64, "size": 12, "kind": "file"},
        ]


def test_lineage_edges_both_ways_and_duplicates_ignored(store):
    writer, reader = _new_run(store), _new_run(store)
    version = new_id()
    digest = "blake3:" + "4" * 64
    out = lineage.Edge(writer.id, "split", "train_set", version, digest, "out")
    read = lineage.Edge(reader.id, "fit", "train_set", version, digest, "in")
    unnamed = lineage.Edge(reader.id, None, "train_set", version, digest, "in")
    with store.begin() as conn:
        lineage.add(conn, [out, read, read, unnamed])
    with store.begin() as conn:
        lineage.add(conn, [out, unnamed])  # again, in another call
    with store.connect() as conn:
        assert lineage.writers_of(conn, "train_set", version) == [out]
        assert lineage.readers_of(conn, "train_set", version) == [read, unnamed]
        assert lineage.of_run(conn, reader.id) == [read, unnamed]
        assert lineage.writers_of(conn, "train_set", new_id()) == []


def test_node_runs(store):
    record = _new_run(store)
    fit = nodes.NodeRun(
        record.id, "fit", "failed", T0, T0 + timedelta(seconds=2), 2.0, False, None, "boom"
    )
    split = nodes.NodeRun(
        record.id,
        "split",
        "cached",
        T0 - timedelta(seconds=1),
        None,
        None,
        True,
        "blake3:" + "5" * 64,
        None,
    )
    with store.begin() as conn:
        nodes.record(conn, [fit, split])
        retried = nodes.NodeRun(
            record.id, "fit", "finished", T0, T0 + timedelta(seconds=3), 3.0, False, None, None
        )
        nodes.record(conn, [retried])
    with store.connect() as conn:
        assert nodes.of_run(conn, record.id) == [split, retried]


def test_environments_are_stored_once(store):
    env_id = "blake3:" + new_id().ljust(64, "0")
    with store.begin() as conn:
        environments.upsert(
            conn, env_id, python="3.11.7", platform="linux", packages={"numpy": "2.0"}, conda=None
        )
        environments.upsert(
            conn, env_id, python="3.11.7", platform="linux", packages={"numpy": "2.0"}, conda=None
        )
        count = conn.scalar(
            sa.select(sa.func.count())
            .select_from(schema.environments)
            .where(schema.environments.c.id == env_id)
        )
    assert count == 1
    record = _new_run(store, environment_id=env_id)
    with store.connect() as conn:
        got = environments.get(conn, runs.get(conn, record.id).environment_id)
        assert got["packages"] == {"numpy": "2.0"} and got["python"] == "3.11.7"
        assert got["conda"] is None and datetime.fromisoformat(got["created_at"]).tzinfo
        with pytest.raises(MetadataError, match="is not recorded"):
            environments.get(conn, "blake3:nope")


def test_points_and_latest_store_times_alike(store):
    """Points go to the driver directly: their stored times must match SQLAlchemy's."""
    record = _new_run(store)
    with store.begin() as conn:
        metrics.log_batch(conn, record.id, [MetricPoint("t", 1.0, timestamp=T0)])
        raw = [
            conn.scalar(
                sa.select(sa.cast(table.c.timestamp, sa.String)).where(table.c.run_id == record.id)
            )
            for table in (schema.metrics, schema.latest_metrics)
        ]
        point_is_nan = conn.scalar(
            sa.select(schema.metrics.c.is_nan).where(schema.metrics.c.run_id == record.id)
        )
    assert raw[0] == raw[1]
    assert point_is_nan is False


def test_latest_of_many_runs_in_one_query(store):
    ids = [_new_run(store).id for _ in range(3)]
    with store.begin() as conn:
        metrics.log_batch(
            conn, ids[0], [MetricPoint("auc", 0.5, step=1), MetricPoint("auc", 0.7, step=2)]
        )
        metrics.log_batch(conn, ids[1], [MetricPoint("loss", math.nan)])
    with store.connect() as conn:
        found = metrics.latest_of(conn, ids)
        assert found[ids[0]] == {"auc": 0.7} == metrics.latest(conn, ids[0])
        assert math.isnan(found[ids[1]]["loss"])
        assert found[ids[2]] == {}
        assert metrics.latest_of(conn, []) == {}
