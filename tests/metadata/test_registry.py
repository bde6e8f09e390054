"""The model registry's repository functions, on SQLite and on PostgreSQL: numbering under
concurrency, aliases, tags, the append-only history, promotion requests and approvals, and
the 0002 migration of a store that already holds runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest
import sqlalchemy as sa

from shipyard.errors import ModelError, ModelNotFoundError, PromotionError
from shipyard.ids import new_id
from shipyard.metadata import MetadataStore, experiments, metrics, params, runs, schema
from shipyard.metadata import registry as reg
from shipyard.metadata._store import _MIGRATIONS, HEAD_REVISION
from shipyard.models._names import normalize_model_name

ROOT = Path(__file__).resolve().parents[2]


def _digest(number: int) -> str:
    return f"blake3:{number:064x}"


@pytest.fixture
def model(store) -> str:
    """A new model (unique per test: the PostgreSQL database is shared by the module)."""
    name = f"churn-{new_id()}"
    with store.begin() as conn:
        reg.ensure_model(conn, name, user="ana", description="Predicts churn.")
    return name


def _register(store, model: str, count: int, **fields) -> list[reg.ModelVersionRecord]:
    with store.begin() as conn:
        return [
            reg.add_version(conn, model, digest=_digest(n), flavor="sklearn", user="ana", **fields)
            for n in range(1, count + 1)
        ]


def _kinds(store, model: str) -> list[str]:
    with store.connect() as conn:
        return [event.kind for event in reg.history(conn, model)]


# --- models and versions ------------------------------------------------------------------


def test_ensure_model_is_idempotent_and_keeps_the_first_description(store, model):
    with store.begin() as conn:
        again = reg.ensure_model(conn, model, user="bo", description="Another text.")
        assert again == reg.get_model(conn, model)
    assert (again.name, again.description, again.created_by) == (model, "Predicts churn.", "ana")
    assert again.created_at.tzinfo is UTC


def test_unknown_model_is_named_with_the_nearest_name(store, model):
    with store.connect() as conn, pytest.raises(ModelNotFoundError) as caught:
        reg.get_model(conn, model[:-1])
    assert caught.value.message == (
        f"No model named '{model[:-1]}' is registered. Did you mean '{model}'?"
    )
    assert "shipyard models list" in caught.value.hint


def test_versions_round_trip_every_field_newest_first(store, model):
    run_id = new_id()
    signature = {"inputs": [{"name": "age", "dtype": "int64", "nullable": False}]}
    with store.begin() as conn:
        first = reg.add_version(
            conn,
            model,
            digest=_digest(1),
            flavor="sklearn",
            user="ana",
            run_id=run_id,
            dataset="model",
            signature=signature,
            metrics={"auc": 0.91, "nan": float("nan"), "inf": float("-inf")},
            description="First try.",
        )
        reg.add_version(conn, model, digest=_digest(2), flavor="xgboost", user="bo")
    assert (first.model, first.version, first.digest, first.run_id, first.dataset) == (
        model,
        1,
        _digest(1),
        run_id,
        "model",
    )
    assert (first.flavor, first.signature, first.description) == (
        "sklearn",
        signature,
        "First try.",
    )
    assert first.metrics == {"auc": 0.91, "nan": None, "inf": None}  # JSON has no NaN
    assert (first.trusted, first.created_by, first.aliases) == (False, "ana", ())
    assert first.created_at.tzinfo is UTC
    with store.connect() as conn:
        listed = reg.versions(conn, model)
        assert [v.version for v in listed] == [2, 1]
        assert listed[1] == first == reg.get_version(conn, model, 1)
        assert listed[0].signature is None and listed[0].metrics == {}


def test_the_same_digest_is_registered_once(store, model):
    (first,) = _register(store, model, 1)
    events = _kinds(store, model)
    with store.begin() as conn:
        again = reg.add_version(conn, model, digest=_digest(1), flavor="sklearn", user="bo")
    assert again == first
    with store.connect() as conn:
        assert [v.version for v in reg.versions(conn, model)] == [1]
    assert _kinds(store, model) == events  # nothing new happened


def test_a_version_of_an_unknown_model_is_refused_and_nothing_stored(store):
    ghost = f"ghost-{new_id()}"
    with (
        store.begin() as conn,
        pytest.raises(ModelNotFoundError, match=f"No model named '{ghost}' is registered"),
    ):
        reg.add_version(conn, ghost, digest=_digest(1), flavor="sklearn", user="ana")
    with store.connect() as conn:
        stored = conn.scalar(
            sa.select(sa.func.count())
            .select_from(schema.model_versions)
            .where(schema.model_versions.c.model == ghost)
        )
    assert stored == 0


def test_missing_versions_are_named_with_those_that_exist(store, model):
    with store.connect() as conn, pytest.raises(ModelNotFoundError) as caught:
        reg.get_version(conn, model, 1)
    assert caught.value.message == f"Model '{model}' has no version 1."
    assert caught.value.hint.startswith("It has no versions yet: register one with")
    _register(store, model, 12)
    with store.connect() as conn, pytest.raises(ModelNotFoundError) as caught:
        reg.get_version(conn, model, 99)
    assert caught.value.hint == (
        f"Its versions are 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 (and 2 older); "
        f"`shipyard models versions {model}`."
    )


def test_resolve_by_number_latest_and_alias(store, model):
    with store.connect() as conn, pytest.raises(ModelNotFoundError, match="has no versions yet"):
        reg.resolve(conn, model, reg.LATEST)
    _register(store, model, 3)
    with store.begin() as conn:
        reg.set_alias(conn, model, "champion", 2, user="ana")
        assert reg.resolve(conn, model, 1).version == 1
        assert reg.resolve(conn, model, "3").version == 3
        assert reg.resolve(conn, model, "latest").version == 3
        champion = reg.resolve(conn, model, "champion")
        assert (champion.version, champion.aliases) == (2, ("champion",))
        with pytest.raises(ModelNotFoundError) as caught:
            reg.resolve(conn, model, "champoin")
    assert caught.value.message == (
        f"Model '{model}' has no alias 'champoin'. Its aliases: champion (version 2). "
        "Did you mean 'champion'?"
    )
    assert f"shipyard models promote {model} VERSION --alias champoin" in caught.value.hint


def test_descriptions_and_trust_are_stored_and_recorded(store, model):
    _register(store, model, 1)
    with store.begin() as conn:
        reg.set_description(conn, model, "Churn, monthly.", user="bo")
        reg.set_description(conn, model, "Tuned.", version=1, user="bo")
        reg.mark_trusted(conn, model, 1, user="gov")
        assert reg.get_model(conn, model).description == "Churn, monthly."
        version = reg.get_version(conn, model, 1)
        assert (version.description, version.trusted) == ("Tuned.", True)
        with pytest.raises(ModelNotFoundError, match="has no version 5"):
            reg.mark_trusted(conn, model, 5, user="gov")
        with pytest.raises(ModelNotFoundError, match="has no version 5"):
            reg.set_description(conn, model, "x", version=5, user="gov")
    assert _kinds(store, model) == ["registered", "described", "described", "trusted"]


def test_list_models_summarises_each_model(store, model):
    _register(store, model, 2)
    with store.begin() as conn:
        reg.set_alias(conn, model, "champion", 1, user="ana")
        empty = f"empty-{new_id()}"
        reg.ensure_model(conn, empty, user="ana")
        summaries = {s.name: s for s in reg.list_models(conn)}
        last_event = reg.history(conn, model)[-1].at
    assert summaries[model] == reg.ModelSummary(
        model, "Predicts churn.", 2, 2, {"champion": 1}, last_event
    )
    assert (summaries[empty].latest_version, summaries[empty].versions) == (None, 0)
    assert summaries[empty].aliases == {} and summaries[empty].updated_at.tzinfo is UTC


# --- aliases, tags, history ---------------------------------------------------------------


def test_alias_moves_record_from_and_to(store, model):
    _register(store, model, 2)
    with store.begin() as conn:
        assert reg.set_alias(conn, model, "champion", 1, user="ana") is None
        assert reg.set_alias(conn, model, "champion", 2, user="bo", details={"gates": []}) == 1
        assert reg.aliases(conn, model) == {"champion": 2}
        assert reg.remove_alias(conn, model, "champion", user="gov") == 2
        assert reg.remove_alias(conn, model, "champion", user="gov") is None  # no event
        assert reg.aliases(conn, model) == {}
        moves = reg.history(conn, model, alias="champion")
    assert [(e.kind, e.actor, e.version, e.details) for e in moves] == [
        ("promoted", "ana", 1, {"from": None, "to": 1}),
        ("promoted", "bo", 2, {"gates": [], "from": 1, "to": 2}),
        ("demoted", "gov", 2, {"from": 2, "to": None}),
    ]


@pytest.mark.parametrize(("alias", "version"), [("7", 1), ("latest", 1), ("champion", 9)])
def test_bad_alias_moves_are_refused_and_change_nothing(store, model, alias, version):
    _register(store, model, 1)
    with store.begin() as conn:
        reg.set_alias(conn, model, "champion", 1, user="ana")
    events = _kinds(store, model)
    with store.begin() as conn, pytest.raises(ModelError) as caught:
        reg.set_alias(conn, model, alias, version, user="ana")
    expected = (
        f"Model '{model}' has no version 9."
        if version == 9
        else f"'{alias}' cannot be an alias: it reads as a version reference."
    )
    assert caught.value.message == expected
    with store.connect() as conn:
        assert reg.aliases(conn, model) == {"champion": 1}
    assert _kinds(store, model) == events


def test_tags_of_the_model_and_of_a_version(store, model):
    _register(store, model, 1)
    with store.begin() as conn:
        reg.set_tag(conn, model, "team", "risk", user="ana")
        reg.set_tag(conn, model, "team", "growth", user="ana")  # replaced
        reg.set_tag(conn, model, "reviewed", "yes", version=1, user="bo")
        assert reg.tags(conn, model) == {"team": "growth"}
        assert reg.tags(conn, model, 1) == {"reviewed": "yes"}
        with pytest.raises(ModelNotFoundError, match="has no version 4"):
            reg.set_tag(conn, model, "x", "y", version=4, user="bo")
        with pytest.raises(ModelNotFoundError, match="has no version 4"):
            reg.tags(conn, model, 4)
    assert _kinds(store, model)[-3:] == ["tagged", "tagged", "tagged"]


def test_history_is_append_only_and_ordered(store, model):
    _register(store, model, 2)
    with store.begin() as conn:
        before = reg.history(conn, model)
        event = reg.record_event(
            conn, model, "rejected", actor="ana", version=2, alias="champion", details={"x": 1}
        )
        reg.set_alias(conn, model, "champion", 2, user="ana")
        after = reg.history(conn, model)
    assert after[: len(before)] == before  # earlier events never change
    assert after[len(before)] == event
    assert [e.kind for e in after] == ["registered", "registered", "rejected", "promoted"]
    assert [e.id for e in after] == sorted(e.id for e in after)
    assert [e.at for e in after] == sorted(e.at for e in after)
    assert all(e.at.tzinfo is UTC for e in after)
    public = [name for name in reg.__all__ if "event" in name or "history" in name]
    assert public == ["history", "record_event"]  # no way to change or remove an event


def test_events_of_unknown_kinds_or_models_are_refused(store, model):
    with store.begin() as conn:
        with pytest.raises(ModelError) as caught:
            reg.record_event(conn, model, "promote", actor="ana")
        assert caught.value.message == (
            "'promote' is not a kind of model event. Did you mean 'promoted'?"
        )
        with pytest.raises(ModelNotFoundError, match="No model named 'nope-"):
            reg.record_event(conn, f"nope-{new_id()}", "tagged", actor="ana")
    assert _kinds(store, model) == []


# --- promotion requests and approvals ----------------------------------------------------


def _request(store, model, gates=({"gate": "metric auc >= 0.8", "passed": True},)):
    with store.begin() as conn:
        return reg.open_request(conn, model, 1, "champion", user="ana", gate_results=list(gates))


def test_a_request_is_opened_once_and_updated_with_new_gate_results(store, model):
    _register(store, model, 2)
    first = _request(store, model)
    assert (first.status, first.requested_by, first.approvals, first.closed_at) == (
        "pending",
        "ana",
        (),
        None,
    )
    again = _request(store, model, gates=[{"gate": "metric auc >= 0.9", "passed": True}])
    assert again.id == first.id and again.requested_at == first.requested_at
    assert again.gate_results == [{"gate": "metric auc >= 0.9", "passed": True}]
    with store.begin() as conn:
        other = reg.open_request(conn, model, 2, "champion", user="bo", gate_results=[])
        assert [r.id for r in reg.pending_requests(conn, model)] == [first.id, other.id]
        assert reg.pending_requests(conn, model, version=2) == [other]
        assert reg.pending_requests(conn, model, alias="challenger") == []
        assert reg.get_request(conn, first.id) == again
    assert _kinds(store, model)[-3:] == ["requested", "requested", "requested"]


def test_approvals_are_stored_once_per_user(store, model):
    _register(store, model, 1)
    request = _request(store, model)
    with store.begin() as conn:
        reg.add_approval(conn, request.id, user="bo", role="ml_engineer", comment="Looks good.")
        approved = reg.add_approval(conn, request.id, user="cy", role="governance")
    assert [(a.user, a.role, a.comment) for a in approved.approvals] == [
        ("bo", "ml_engineer", "Looks good."),
        ("cy", "governance", None),
    ]
    assert all(a.at.tzinfo is UTC for a in approved.approvals)
    with store.begin() as conn, pytest.raises(PromotionError) as caught:
        reg.add_approval(conn, request.id, user="bo", role="ml_engineer", comment="Again.")
    assert caught.value.message == (
        f"bo has already approved the promotion of {model} version 1 to 'champion' "
        f"(request {request.id})."
    )
    with store.connect() as conn:
        assert reg.get_request(conn, request.id) == approved  # the first comment is kept
    assert _kinds(store, model).count("approved") == 2


def test_a_closed_request_cannot_be_approved_or_closed_again(store, model):
    _register(store, model, 1)
    request = _request(store, model)
    with store.begin() as conn:
        closed = reg.close_request(conn, request.id, "completed", user="ana")
    assert (closed.status, closed.closed_by) == ("completed", "ana")
    assert closed.closed_at is not None and closed.closed_at.tzinfo is UTC
    subject = f"{model} version 1 to 'champion' (request {request.id})"
    for attempt, verb in (
        (lambda conn: reg.add_approval(conn, request.id, user="bo", role="x"), "approved"),
        (lambda conn: reg.close_request(conn, request.id, "rejected", user="bo"), "rejected"),
    ):
        with store.begin() as conn, pytest.raises(PromotionError) as caught:
            attempt(conn)
        assert caught.value.message == (
            f"The promotion of {subject} is completed; it cannot be {verb}."
        )
        assert f"shipyard models promote {model} 1 --alias champion" in caught.value.hint
    with store.connect() as conn:
        assert reg.get_request(conn, request.id) == closed
        assert reg.pending_requests(conn, model) == []


@pytest.mark.parametrize("status", ["rejected", "withdrawn"])
def test_rejecting_or_withdrawing_is_in_the_history(store, model, status):
    _register(store, model, 1)
    request = _request(store, model)
    with store.begin() as conn:
        reg.close_request(conn, request.id, status, user="gov")
        last = reg.history(conn, model)[-1]
    assert (last.kind, last.actor, last.alias, last.details) == (
        status,
        "gov",
        "champion",
        {"request": request.id},
    )


def test_bad_request_calls_are_refused(store, model):
    _register(store, model, 1)
    request = _request(store, model)
    with store.begin() as conn:
        with pytest.raises(ModelError, match="'done' is not a status"):
            reg.close_request(conn, request.id, "done", user="ana")
        with pytest.raises(ModelNotFoundError, match="No promotion request 'nope'"):
            reg.get_request(conn, "nope")
        with pytest.raises(ModelNotFoundError, match="has no version 3"):
            reg.open_request(conn, model, 3, "champion", user="ana", gate_results=[])
        assert reg.get_request(conn, request.id).status == "pending"


def test_records_convert_to_plain_json(store, model):
    _register(store, model, 1)
    request = _request(store, model)
    with store.begin() as conn:
        request = reg.add_approval(conn, request.id, user="bo", role="ml_engineer")
    plain = json.loads(json.dumps(reg.to_dict(request)))
    assert plain["approvals"][0]["user"] == "bo"
    assert plain["requested_at"] == request.requested_at.isoformat()


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("churn-{id}/x", "contains '/' (names are not paths)"),
        ("..", "contains '..' (names are not paths)"),
        ("churn-{id}%2F..", "contains '%' (URL-encoded text is not decoded"),
        ("\u0441hurn-{id}", "contains '\u0441' (U+0441 CYRILLIC SMALL LETTER ES)"),
    ],
)
def test_names_that_could_collide_never_reach_the_store(store, raw, problem):
    suffix = new_id()
    name = normalize_model_name(f"Churn-{suffix}")
    with store.begin() as conn:
        reg.ensure_model(conn, name, user="ana")
        before = reg.list_models(conn)
    with pytest.raises(ModelError, match=re.escape(problem)):
        normalize_model_name(raw.format(id=suffix))
    with store.begin() as conn:
        # "Churn-..." and " churn-... " are one model, registered once.
        reg.ensure_model(conn, normalize_model_name(f"  CHURN-{suffix} "), user="bo")
        assert reg.list_models(conn) == before


# --- concurrency and migration ------------------------------------------------------------

_WORKER = """
import sys
from shipyard.metadata import MetadataStore, registry
url, model, worker = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = MetadataStore.open(url)
print("ready", flush=True)
sys.stdin.readline()  # all workers start registering at once
for i in range(10):
    with store.begin() as conn:
        registry.ensure_model(conn, model, user=f"w{worker}")
        digest = f"blake3:{worker:032x}{i:032x}"
        registry.add_version(conn, model, digest=digest, flavor="sklearn", user=f"w{worker}")
store.close()
"""


@pytest.mark.slow
def test_two_processes_registering_at_once_get_distinct_consecutive_numbers(store_url):
    model = f"race-{new_id()}"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, store_url, model, str(worker)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in (1, 2)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors
    store = MetadataStore.open(store_url)
    try:
        with store.connect() as conn:
            registered = reg.versions(conn, model)
            events = reg.history(conn, model)
    finally:
        store.close()
    assert sorted(v.version for v in registered) == list(range(1, 21))
    assert len({v.digest for v in registered}) == 20
    for worker in ("w1", "w2"):  # each worker's versions numbered in its own order
        mine = sorted((v for v in registered if v.created_by == worker), key=lambda v: v.digest)
        assert len(mine) == 10
        assert [v.version for v in mine] == sorted(v.version for v in mine)
    assert sorted(e.version for e in events if e.kind == "registered") == list(range(1, 21))


def _store_at_0001(url: str) -> MetadataStore:
    from alembic import command
    from alembic.config import Config

    store = MetadataStore.open_unchecked(url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with store.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    return store


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_0002_upgrades_a_store_with_runs_without_losing_them(engine, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if engine == "sqlite"
        else request.getfixturevalue("new_pg_database")()
    )
    store = _store_at_0001(url)
    run_id = new_id()
    with store.begin() as conn:
        runs.create(conn, runs.RunRecord(run_id, experiments.get_or_create(conn), name="old"))
        params.log(conn, run_id, {"model": {"C": 0.5}})
        metrics.log_batch(conn, run_id, [metrics.MetricPoint("auc", 0.87, step=0)])
    assert store.current_revision() == "0001"
    assert store.upgrade() == ("0001", HEAD_REVISION)
    store.close()
    store = MetadataStore.open(url)
    try:
        with store.begin() as conn:
            assert runs.get(conn, run_id).name == "old"
            assert params.of_run(conn, run_id) == {"model.C": 0.5}
            assert metrics.latest(conn, run_id) == {"auc": 0.87}
            reg.ensure_model(conn, "churn", user="ana")
            version = reg.add_version(
                conn, "churn", digest=_digest(1), flavor="sklearn", user="ana", run_id=run_id
            )
        assert version.run_id == run_id
    finally:
        store.close()
