"""Monitoring windows, column history and actions in the metadata store, on SQLite and on
PostgreSQL, and the 0003 migration of a store that already holds runs and models."""

from __future__ import annotations

import math
import threading
import time
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest

from shipyard.errors import MetadataError
from shipyard.ids import new_id
from shipyard.metadata import MetadataStore, experiments, metrics, runs
from shipyard.metadata import monitoring as mon
from shipyard.metadata import registry as reg
from shipyard.metadata._store import _MIGRATIONS, HEAD_REVISION
from shipyard.monitoring._result import ColumnDrift, MonitoringResult

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def _column(name: str, role: str = "input", **fields) -> ColumnDrift:
    values = {
        "kind": "numeric",
        "method": "wasserstein",
        "threshold": 0.1,
        "status": "ok",
        "statistic": 0.05,
        "current_rows": 100,
        "current_nulls": 2,
    } | fields
    return ColumnDrift(column=name, role=role, **values)


def _result(model: str, start: datetime = T0, **fields) -> MonitoringResult:
    values = {
        "version": 3,
        "window_end": start + HOUR,
        "rows": 100,
        "status": "ok",
        "columns": (_column("tenure"), _column("plan", kind="categorical", method="psi")),
        "predictions": (_column("score", role="prediction", method="ks", p_value=0.4),),
        "drift_share": 0.0,
        "drift_share_threshold": 0.5,
        "computed_at": start + HOUR + timedelta(minutes=5),
    } | fields
    return MonitoringResult(model=model, window_start=start, **values)


def _save(store, result: MonitoringResult | dict) -> mon.WindowRecord:
    data = result.to_dict() if isinstance(result, MonitoringResult) else result
    with store.begin() as conn:
        return mon.save_window(conn, data)


def _hourly(store, model: str, count: int, **fields) -> list[mon.WindowRecord]:
    return [_save(store, _result(model, T0 + i * HOUR, **fields)) for i in range(count)]


@pytest.fixture
def model() -> str:
    """A model name of its own: the PostgreSQL database is shared by the module."""
    return f"churn-{new_id()}"


# --- windows ------------------------------------------------------------------------------


def test_a_window_round_trips_with_its_whole_result(store, model):
    result = _result(model, drift_share=0.5, status="drift")
    saved = _save(store, result)
    assert (saved.model, saved.version, saved.status, saved.rows) == (model, 3, "drift", 100)
    assert (saved.drift_share, saved.dataset_drift) == (0.5, True)
    assert (saved.window_start, saved.window_end) == (T0, T0 + HOUR)
    assert saved.computed_at == result.computed_at
    for moment in (saved.window_start, saved.window_end, saved.computed_at):
        assert moment.tzinfo is UTC
    assert len(saved.id) == 26
    assert saved.result == result.to_dict() | {"id": saved.id}
    # The stored mapping reads back into the same result: it renders the same report.
    assert MonitoringResult.from_dict(saved.result) == MonitoringResult(
        **{**result.__dict__, "id": saved.id}
    )
    with store.connect() as conn:
        assert mon.get_window(conn, saved.id) == saved
        assert mon.find_window(conn, model, T0, T0 + HOUR) == saved
        assert mon.find_window(conn, model, T0, T0 + 2 * HOUR) is None
        assert mon.find_window(conn, f"other-{model}", T0, T0 + HOUR) is None


def test_the_results_own_id_is_kept(store, model):
    chosen = new_id()
    saved = _save(store, _result(model, id=chosen))
    assert saved.id == chosen and saved.result["id"] == chosen
    with pytest.raises(MetadataError, match=f"id {chosen}, status ok"):  # saved again
        _save(store, _result(model, id=chosen))


def test_times_in_any_offset_are_stored_and_found_as_utc(store, model):
    start = T0.astimezone(PARIS)
    saved = _save(store, _result(model, start, window_end=(T0 + HOUR).astimezone(PARIS)))
    assert saved.window_start == T0 and saved.window_start.tzinfo is UTC
    with store.connect() as conn:
        assert mon.find_window(conn, model, start, start + HOUR) == saved
        assert mon.find_window(conn, model, T0, T0 + HOUR) == saved
        assert mon.last_window_end(conn, model) == T0 + HOUR
        assert mon.last_window_end(conn, model).tzinfo is UTC


def test_unknown_window_id_is_a_clear_error(store):
    with store.connect() as conn, pytest.raises(MetadataError) as caught:
        mon.get_window(conn, "0" * 26)
    assert caught.value.message == f"No monitoring window has the id '{'0' * 26}'."
    assert "26-character" in caught.value.hint


def test_a_window_is_analysed_once(store, model):
    first = _save(store, _result(model))
    with store.begin() as conn:
        with pytest.raises(MetadataError) as caught:
            mon.save_window(conn, _result(model, status="drift").to_dict())
        # A refused duplicate leaves the transaction usable (no failed statement).
        other = mon.save_window(conn, _result(model, T0 + HOUR).to_dict())
    assert caught.value.message == (
        f"Model '{model}' already has a monitoring window from {T0.isoformat()} to "
        f"{(T0 + HOUR).isoformat()} (id {first.id}, status ok): a window is analysed once."
    )
    assert "Read the stored window" in caught.value.hint
    assert f"ends at {(T0 + HOUR).isoformat()}" in caught.value.hint
    with store.connect() as conn:
        assert mon.get_window(conn, first.id) == first  # untouched
        assert [w.id for w in mon.list_windows(conn, model)] == [first.id, other.id]
    # The same times for another model, or an overlapping window, are other windows.
    _save(store, _result(f"other-{model}"))
    _save(store, _result(model, T0, window_end=T0 + 2 * HOUR))


def test_two_monitors_storing_one_window_store_it_once(store, model):
    """The second waits for the first's transaction (the unique key on PostgreSQL, the
    write lock on SQLite), then is refused: one window, one set of columns."""
    stored = threading.Event()
    first: list[mon.WindowRecord] = []

    def store_and_hold() -> None:
        with store.begin() as conn:
            first.append(mon.save_window(conn, _result(model).to_dict()))
            stored.set()
            time.sleep(0.5)  # the other monitor's save runs into this uncommitted window

    worker = threading.Thread(target=store_and_hold)
    worker.start()
    try:
        assert stored.wait(30)
        with pytest.raises(MetadataError, match="already has a monitoring window"):
            _save(store, _result(model, status="drift"))
    finally:
        worker.join()
    with store.connect() as conn:
        assert mon.list_windows(conn, model) == first
        assert len(mon.column_history(conn, model)) == 2


def test_list_windows_is_oldest_first_and_filters_by_overlap(store, model):
    saved = _hourly(store, model, 5)
    _hourly(store, f"other-{model}", 2)
    ids = [w.id for w in saved]
    with store.connect() as conn:
        assert [w.id for w in mon.list_windows(conn, model)] == ids
        assert mon.list_windows(conn, model) == saved
        # since/until keep the windows overlapping that span.
        assert [w.id for w in mon.list_windows(conn, model, since=T0 + HOUR)] == ids[1:]
        assert [w.id for w in mon.list_windows(conn, model, since=T0 + 90 * MINUTE)] == ids[1:]
        assert [w.id for w in mon.list_windows(conn, model, until=T0 + 2 * HOUR)] == ids[:2]
        between = mon.list_windows(conn, model, since=T0 + HOUR, until=T0 + 3 * HOUR)
        assert [w.id for w in between] == ids[1:3]
        # limit keeps the newest, still oldest first.
        assert [w.id for w in mon.list_windows(conn, model, limit=2)] == ids[3:]
        assert [w.id for w in mon.list_windows(conn, model, until=T0 + 3 * HOUR, limit=2)] == (
            ids[1:3]
        )
        assert mon.list_windows(conn, f"none-{model}") == []
        assert mon.last_window_end(conn, model) == T0 + 5 * HOUR
        assert mon.last_window_end(conn, f"none-{model}") is None


# --- columns ------------------------------------------------------------------------------


def test_column_history_follows_each_column_over_the_windows(store, model):
    windows = [
        _save(
            store,
            _result(
                model,
                T0 + i * HOUR,
                columns=(
                    _column("tenure", statistic=0.01 * (i + 1), status="drift" if i else "ok"),
                    _column("plan", kind="categorical", method="psi", statistic=0.2),
                ),
            ),
        )
        for i in range(3)
    ]
    _save(store, _result(f"other-{model}"))
    with store.connect() as conn:
        tenure = mon.column_history(conn, model, column="tenure")
        every = mon.column_history(conn, model)
        scores = mon.column_history(conn, model, role="prediction")
        assert mon.column_history(conn, model, column="absent") == []
    assert tenure == [
        mon.ColumnPoint(
            window_id=w.id,
            window_start=w.window_start,
            window_end=w.window_end,
            column="tenure",
            method="wasserstein",
            statistic=0.01 * (i + 1),
            p_value=None,
            threshold=0.1,
            status="drift" if i else "ok",
        )
        for i, w in enumerate(windows)
    ]
    assert all(p.window_end.tzinfo is UTC for p in tenure)
    assert [(p.window_id, p.column) for p in every] == [
        (w.id, name) for w in windows for name in ("plan", "tenure")
    ]
    assert [(p.column, p.method, p.p_value) for p in scores] == [("score", "ks", 0.4)] * 3


def test_a_wrong_role_is_refused(store, model):
    with store.connect() as conn, pytest.raises(MetadataError) as caught:
        mon.column_history(conn, model, role="inputs")
    assert caught.value.message == "'inputs' is not a column role."
    assert caught.value.hint == "Use one of: input, prediction."


@pytest.mark.parametrize("through_to_dict", [True, False], ids=["to_dict", "raw"])
def test_non_finite_statistics_are_null_on_both_engines(store, model, through_to_dict):
    """NaN and ±inf become NULL in the columns; None stays None; finite values are exact.
    The stored result keeps infinities as to_dict() writes them ("inf" text)."""
    statistics = {
        "nan": (math.nan, math.nan),
        "inf": (math.inf, 0.0),
        "-inf": (-math.inf, -math.inf),
        "none": (None, None),
        "tiny": (1e-300, 5e-324),
        "sum": (0.1 + 0.2, 1.0),
    }
    columns = tuple(
        _column(name, statistic=statistic, p_value=p_value)
        for name, (statistic, p_value) in statistics.items()
    )
    result = _result(model, columns=columns, drift_share=math.nan)
    data = result.to_dict()
    if not through_to_dict:  # a caller handing over its own floats, NaN and all
        data["drift_share"] = math.nan
        for column, (statistic, p_value) in zip(data["columns"], statistics.values(), strict=True):
            column["statistic"], column["p_value"] = statistic, p_value
    saved = _save(store, data)
    assert saved.drift_share is None and saved.result["drift_share"] is None
    with store.connect() as conn:
        points = {p.column: p for p in mon.column_history(conn, model)}
        assert mon.get_window(conn, saved.id) == saved
    expected = {
        "nan": (None, None),
        "inf": (None, 0.0),
        "-inf": (None, None),
        "none": (None, None),
        "tiny": (1e-300, 5e-324),
        "sum": (0.30000000000000004, 1.0),
    }
    assert {name: (p.statistic, p.p_value) for name, p in points.items()} == expected
    stored = {c["column"]: (c["statistic"], c["p_value"]) for c in saved.result["columns"]}
    if through_to_dict:
        expected |= {"inf": ("inf", 0.0), "-inf": ("-inf", "-inf")}
    assert stored == expected


# --- actions ------------------------------------------------------------------------------


def test_actions_are_added_in_order_once(store, model):
    window = _save(store, _result(model))
    with store.begin() as conn:
        added = mon.add_actions(conn, window.id, ["alert", "retrain", "evaluate"])
        again = mon.add_actions(conn, window.id, ["promote"])
    assert [(a.position, a.kind, a.status) for a in added] == [
        (0, "alert", "pending"),
        (1, "retrain", "pending"),
        (2, "evaluate", "pending"),
    ]
    assert all(a.window_id == window.id and len(a.id) == 26 for a in added)
    assert all(
        a.started_at is a.finished_at is a.run_id is a.details is a.error is None for a in added
    )
    assert again == added  # idempotent: the first set stays, unchanged
    without = _save(store, _result(model, T0 + HOUR))
    with store.begin() as conn:
        assert mon.actions_for(conn, window.id) == added
        assert mon.add_actions(conn, without.id, []) == []
        assert mon.actions_for(conn, without.id) == []


def test_adding_actions_refuses_unknown_kinds_and_windows(store, model):
    window = _save(store, _result(model))
    with store.begin() as conn:
        with pytest.raises(MetadataError) as caught:
            mon.add_actions(conn, window.id, ["alert", "page", "mail"])
        assert caught.value.message == "Unknown monitoring action 'page', 'mail'."
        assert caught.value.hint == "Actions are: alert, retrain, evaluate, promote."
        assert mon.actions_for(conn, window.id) == []
        with pytest.raises(MetadataError, match="No monitoring window has the id"):
            mon.add_actions(conn, "1" * 26, ["alert"])


def test_an_action_runs_then_finishes(store, model):
    window = _save(store, _result(model))
    with store.begin() as conn:
        alert, retrain = mon.add_actions(conn, window.id, ["alert", "retrain"])
    before = datetime.now(UTC)
    run_id = new_id()
    with store.begin() as conn:
        mon.start_action(conn, retrain.id, run_id=run_id)
        running = mon.actions_for(conn, window.id)[1]
    assert (running.status, running.run_id, running.finished_at) == ("running", run_id, None)
    assert running.started_at.tzinfo is UTC and running.started_at >= before - timedelta(seconds=1)
    with store.begin() as conn:
        mon.start_action(conn, retrain.id)  # a resumed action starts again, keeping its run
        mon.finish_action(
            conn, retrain.id, "done", details={"auc": 0.91, "delta": math.nan, "tags": ["a"]}
        )
        mon.finish_action(conn, alert.id, "failed", error="Slack answered 500.")
        finished = mon.actions_for(conn, window.id)
    assert (finished[1].status, finished[1].run_id) == ("done", run_id)
    assert finished[1].details == {"auc": 0.91, "delta": None, "tags": ["a"]}
    assert finished[1].finished_at >= finished[1].started_at >= running.started_at
    assert finished[1].finished_at.tzinfo is UTC
    assert (finished[0].status, finished[0].error, finished[0].started_at) == (
        "failed",
        "Slack answered 500.",
        None,  # finished without being started: started_at stays empty
    )
    assert finished[0].details is None and finished[0].finished_at.tzinfo is UTC


def test_finishing_sets_the_run_and_skips(store, model):
    window = _save(store, _result(model))
    run_id = new_id()
    with store.begin() as conn:
        (evaluate,) = mon.add_actions(conn, window.id, ["evaluate"])
        mon.finish_action(conn, evaluate.id, "skipped", run_id=run_id, details={"why": "cool"})
        (skipped,) = mon.actions_for(conn, window.id)
    assert (skipped.status, skipped.run_id, skipped.details) == ("skipped", run_id, {"why": "cool"})


def test_finished_actions_and_wrong_statuses_are_refused(store, model):
    window = _save(store, _result(model))
    with store.begin() as conn:
        (alert,) = mon.add_actions(conn, window.id, ["alert"])
        with pytest.raises(MetadataError) as caught:
            mon.finish_action(conn, alert.id, "running")
        assert caught.value.message == "'running' is not a status an action can finish with."
        assert caught.value.hint == "Use one of: done, failed, skipped."
        mon.finish_action(conn, alert.id, "done")
        for attempt, verb in (
            (lambda: mon.start_action(conn, alert.id), "started"),
            (lambda: mon.finish_action(conn, alert.id, "failed"), "finished"),
        ):
            with pytest.raises(MetadataError) as caught:
                attempt()
            assert caught.value.message == (
                f"Monitoring action {alert.id} already finished (done); it cannot be {verb} again."
            )
        with pytest.raises(MetadataError) as caught:
            mon.start_action(conn, "2" * 26)
        assert caught.value.message == (
            f"No monitoring action has the id '{'2' * 26}', so it cannot be started."
        )
        assert mon.actions_for(conn, window.id)[0].status == "done"


def test_last_finished_action_spans_the_models_windows(store, model):
    first, second, third = _hourly(store, model, 3)
    other = _save(store, _result(f"other-{model}"))
    with store.connect() as conn:
        assert mon.last_finished_action(conn, model, "retrain") is None
    done = {}
    for window in (first, second, third, other):
        with store.begin() as conn:
            retrain, alert = mon.add_actions(conn, window.id, ["retrain", "alert"])
            if window is not third:
                mon.finish_action(conn, retrain.id, "done")
                done[window.id] = retrain.id
            else:
                mon.finish_action(conn, retrain.id, "failed", error="OOM")
            mon.finish_action(conn, alert.id, "done")
    with store.connect() as conn:
        latest = mon.last_finished_action(conn, model, "retrain")
        failed = mon.last_finished_action(conn, model, "retrain", status="failed")
        assert mon.last_finished_action(conn, model, "promote") is None
        alert = mon.last_finished_action(conn, model, "alert")
    assert latest.id == done[second.id] and latest.window_id == second.id  # not the other model's
    assert latest.finished_at.tzinfo is UTC
    assert (failed.window_id, failed.error) == (third.id, "OOM")
    assert alert.window_id == third.id and alert.kind == "alert"


def test_unfinished_windows_are_those_with_pending_or_running_actions(store, model):
    quiet, pending, running, done, resumed = _hourly(store, model, 5)
    with store.begin() as conn:
        mon.add_actions(conn, pending.id, ["alert"])
        first, _ = mon.add_actions(conn, running.id, ["retrain", "evaluate"])
        mon.finish_action(conn, first.id, "done")
        mon.start_action(conn, mon.actions_for(conn, running.id)[1].id)
        (finished,) = mon.add_actions(conn, done.id, ["alert"])
        mon.finish_action(conn, finished.id, "skipped")
        (late,) = mon.add_actions(conn, resumed.id, ["promote"])
    _save(store, _result(f"other-{model}"))
    with store.begin() as conn:
        other = mon.find_window(conn, f"other-{model}", T0, T0 + HOUR)
        mon.add_actions(conn, other.id, ["alert"])
    with store.connect() as conn:
        assert mon.unfinished_windows(conn, model) == [pending, running, resumed]
    with store.begin() as conn:
        mon.finish_action(conn, late.id, "done")
        assert [w.id for w in mon.unfinished_windows(conn, model)] == [pending.id, running.id]
        assert mon.actions_for(conn, quiet.id) == []


# --- migration ----------------------------------------------------------------------------


def _store_at(url: str, revision: str) -> MetadataStore:
    from alembic import command
    from alembic.config import Config

    store = MetadataStore.open_unchecked(url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with store.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return store


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_0003_upgrades_a_store_with_runs_and_models_without_losing_them(engine, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if engine == "sqlite"
        else request.getfixturevalue("new_pg_database")()
    )
    store = _store_at(url, "0002")
    run_id = new_id()
    with store.begin() as conn:
        runs.create(conn, runs.RunRecord(run_id, experiments.get_or_create(conn), name="old"))
        metrics.log_batch(conn, run_id, [metrics.MetricPoint("auc", 0.87)])
        reg.ensure_model(conn, "churn", user="ana")
        reg.add_version(conn, "churn", digest=f"blake3:{1:064x}", flavor="sklearn", user="ana")
    assert store.current_revision() == "0002"
    assert HEAD_REVISION == "0003"
    if engine == "postgresql":  # behind: refused until `shipyard db upgrade`
        with pytest.raises(MetadataError) as caught:
            MetadataStore.open(url)
        assert caught.value.message == (
            f"The metadata store {url} has schema revision 0002; this Shipyard needs 0003."
        )
        assert "shipyard db upgrade" in caught.value.hint
        assert store.upgrade() == ("0002", "0003")
    store.close()
    store = MetadataStore.open(url)  # SQLite upgrades itself here
    try:
        assert store.current_revision() == "0003"
        with store.begin() as conn:
            assert runs.get(conn, run_id).name == "old"
            assert metrics.latest(conn, run_id) == {"auc": 0.87}
            assert reg.get_version(conn, "churn", 1).flavor == "sklearn"
            saved = mon.save_window(conn, _result("churn").to_dict())
            assert mon.list_windows(conn, "churn") == [saved]
    finally:
        store.close()
