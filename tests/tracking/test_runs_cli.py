"""``shipyard runs list`` / ``show`` on real tracked runs; Ctrl-C, SIGTERM and SIGKILL of a
real ``shipyard run`` process; the PostgreSQL store once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
from tests.conftest import run_cli
from tests.tracking.conftest import forget_project_modules
from typer.testing import CliRunner

import shipyard
from shipyard.cli._runs import app
from shipyard.errors import MetadataError, RunNotFoundError
from shipyard.metadata import MetadataStore, runs
from shipyard.project import Session


@pytest.fixture
def tracked(project, monkeypatch):
    """The project with three runs: a pipeline run and two notebook runs."""
    monkeypatch.chdir(project)
    forget_project_modules()
    pipeline_run = Session.open(project).run().run_id
    with shipyard.start_run(name="low", tags={"team": "ds"}) as low:
        low.log_params({"C": 0.1})
        low.log_metrics({"auc": 0.7, "loss": float("nan")})
    with shipyard.start_run(name="high") as high:
        high.log_params({"C": 1.0})
        high.log_metrics({"auc": 0.9})
    return {"pipeline": pipeline_run, "low": low.id, "high": high.id}


def invoke(*args):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_list_shows_runs_newest_first_with_key_metrics(tracked):
    result = invoke("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    position = {
        name: next(i for i, line in enumerate(lines) if tracked[name] in line) for name in tracked
    }
    assert position["high"] < position["low"] < position["pipeline"]
    assert "auc=0.9" in lines[position["high"]]
    assert "finished" in lines[position["pipeline"]] and "__default__" in result.output


def test_list_filters_and_sorts_in_json(tracked):
    result = invoke("list", "--where", "metrics.auc > 0.6", "--sort", "metrics.auc", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)["runs"]
    assert [r["id"] for r in listed] == [tracked["pipeline"], tracked["low"], tracked["high"]]
    assert listed[1]["metrics"] == {"auc": 0.7, "loss": "NaN"}  # JSON has no NaN
    only = json.loads(invoke("list", "--pipeline", "__default__", "--json").output)["runs"]
    assert [r["id"] for r in only] == [tracked["pipeline"]]
    tagged = json.loads(invoke("list", "--where", "tags.team = 'ds'", "--json").output)["runs"]
    assert [r["id"] for r in tagged] == [tracked["low"]]
    limited = json.loads(invoke("list", "--limit", "1", "--json").output)["runs"]
    assert [r["id"] for r in limited] == [tracked["high"]]


def test_a_filter_with_a_syntax_error_names_the_position(tracked):
    result = invoke("list", "--where", "metrics.auc >> 0.8")
    assert isinstance(result.exception, MetadataError)
    assert "column" in result.exception.message


def test_an_unknown_status_is_refused_with_the_known_ones(tracked):
    result = invoke("list", "--status", "finshed")
    assert isinstance(result.exception, MetadataError)
    assert "'finished'" in result.exception.message
    assert "interrupted" in result.exception.hint


def test_show_has_params_metrics_data_versions_git_env_and_nodes(tracked):
    result = invoke("show", tracked["pipeline"][:10], "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["run"]
    assert shown["id"] == tracked["pipeline"] and shown["status"] == "finished"
    assert shown["params"] == {"factor": 2, "model.epochs": 3, "model.kind": "gbm"}
    assert shown["metrics"]["auc"] == 0.62
    assert {e["dataset"] for e in shown["inputs"]} == {"numbers", "scaled", "model"}
    assert {e["ref"].split("@")[0] for e in shown["outputs"]} == {"scaled", "model"}
    assert all(e["ref"] == f"{e['dataset']}@{e['version']}" for e in shown["outputs"])
    assert [n["node"] for n in shown["nodes"]] == ["scale", "train", "evaluate"]
    assert shown["environment"]["packages"] > 10
    assert shown["git_commit"] is None
    text = invoke("show", tracked["pipeline"])
    assert text.exit_code == 0, text.output
    for expected in ("Params", "model.epochs", "Data read", "numbers@", "Nodes", "Python"):
        assert expected in text.output


def test_show_an_unknown_run_lists_the_nearest(tracked):
    result = invoke("show", "zzzzzzzz")
    assert isinstance(result.exception, RunNotFoundError)
    assert "zzzzzzzz" in result.exception.message


def hanging_run(project, extra_env=None):
    """`shipyard run` whose train node hangs once it has started."""
    process = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "run", "--no-cache"],
        cwd=project,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DEMO_HANG": "1", "COLUMNS": "200", **(extra_env or {})},
    )
    seen = []
    assert process.stderr is not None
    for line in process.stderr:
        seen.append(line)
        if "train started" in line:
            return process
    pytest.fail("the run ended before train started:\n" + "".join(seen))


def only_run(project):
    store = MetadataStore.open(project_root=project)
    with store.connect() as conn:
        (record,) = runs.search(conn)
    store.close()
    return record


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_mark_the_run_interrupted(project, signum):
    process = hanging_run(project)
    process.send_signal(signum)
    rest = process.stderr.read()
    assert process.wait(timeout=30) != 0
    assert "Traceback" not in rest
    record = only_run(project)
    assert record.status == "interrupted", rest
    assert record.ended_at is not None
    if signum == signal.SIGTERM:
        assert record.error == "terminated (SIGTERM)"


def test_a_killed_run_shows_as_lost(project, monkeypatch):
    process = hanging_run(project)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    monkeypatch.chdir(project)
    listed = json.loads(invoke("list", "--json").output)["runs"]
    assert [(r["status"], r["pid"]) for r in listed] == [("lost", process.pid)]
    lost = json.loads(invoke("list", "--status", "lost", "--json").output)["runs"]
    assert len(lost) == 1
    assert only_run(project).status == "running"  # stored as it was; lost is derived
    assert json.loads(invoke("list", "--status", "running", "--json").output)["runs"] == []


@pytest.fixture
def postgres_url():
    psycopg = pytest.importorskip("psycopg")
    name = f"shipyard_tracking_{uuid.uuid4().hex[:12]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at 127.0.0.1:5432: {exc}")
    connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.close()


def test_a_pipeline_run_goes_to_postgresql(project, postgres_url, monkeypatch):
    MetadataStore.open_unchecked(postgres_url).upgrade()
    monkeypatch.setenv("SHIPYARD_DB", postgres_url)
    forget_project_modules()
    result = Session.open(project).run()
    monkeypatch.chdir(project)
    shown = json.loads(invoke("show", result.run_id, "--json").output)["run"]
    assert shown["status"] == "finished"
    assert shown["params"]["model.kind"] == "gbm"
    assert shown["metrics"] == {"auc": 0.62, "n": 3.0, "loss": pytest.approx(1 / 3)}
    assert len(shown["inputs"]) == 3 and len(shown["nodes"]) == 3
    assert not (project / ".shipyard" / "shipyard.db").exists()  # nothing went to SQLite


def test_shipyard_run_then_runs_list_and_show(project):
    assert run_cli("run", cwd=project).returncode == 0
    listed = run_cli("runs", "list", "--json", cwd=project)
    assert listed.returncode == 0, listed.stderr
    (only,) = json.loads(listed.stdout)["runs"]
    shown = run_cli("runs", "show", only["id"], cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert "model.epochs" in shown.stdout and "numbers@" in shown.stdout


def test_runs_show_of_an_unknown_run_is_an_error_with_a_hint(project):
    result = run_cli("runs", "show", "nope1234", cwd=project)
    assert result.returncode == 1
    assert "nope1234" in result.stderr and "hint:" in result.stderr


def test_artifact_writes_a_runs_file_or_folder_back_and_never_a_tampered_one(
    project, monkeypatch, tmp_path
):
    monkeypatch.chdir(project)
    (tmp_path / "report.txt").write_text("all good")
    (tmp_path / "plots" / "a").mkdir(parents=True)
    (tmp_path / "plots" / "a" / "roc.svg").write_text("<svg/>")
    with shipyard.start_run(name="r") as run:
        digest = run.log_artifact(tmp_path / "report.txt")
        run.log_artifact(tmp_path / "plots")

    done = run_cli("runs", "artifact", run.id[:10], "report.txt", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / "report.txt").read_text() == "all good"
    again = run_cli("runs", "artifact", run.id, "report.txt", cwd=project)
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert run_cli("runs", "artifact", run.id, "report.txt", "--force", cwd=project).returncode == 0
    tree = run_cli("runs", "artifact", run.id, "plots", "-o", str(tmp_path / "back"), cwd=project)
    assert tree.returncode == 0, tree.stderr
    assert (tmp_path / "back" / "a" / "roc.svg").read_text() == "<svg/>"

    unknown = run_cli("runs", "artifact", run.id, "report.tx", cwd=project)
    assert unknown.returncode == 1
    assert "has no artifact 'report.tx'. Did you mean 'report.txt'?" in unknown.stderr
    assert "plots, report.txt" in unknown.stderr

    stored = project / ".shipyard" / "objects" / digest[7:9] / digest[9:]
    stored.chmod(0o644)
    stored.write_text("all bad!")
    tampered = run_cli("runs", "artifact", run.id, "report.txt", "-o", "copy.txt", cwd=project)
    assert tampered.returncode == 1
    assert digest in tampered.stderr and "Traceback" not in tampered.stderr
    assert not (project / "copy.txt").exists()
