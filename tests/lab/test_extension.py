"""``%load_ext shipyard`` and its magics, in a real IPython shell on a generated project."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import shipyard
from shipyard.data import Catalog
from shipyard.errors import (
    DatasetNotFoundError,
    LabError,
    ParamsError,
    PipelineError,
    PipelineNotFoundError,
    ProjectError,
)
from shipyard.lab import create_project
from shipyard.lab._extension import notebook_name
from shipyard.metadata import MetadataStore, metrics, params, runs
from shipyard.tracking import RUN_ID_VARIABLE, end_default_run, use_default_run

NAMES = ("session", "catalog", "params", "pipelines")
SMALL = "data.n_customers=400"  # a quick data_processing run


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project as `shipyard new` makes it, copied by `project` for each test."""
    return create_project(tmp_path_factory.mktemp("lab") / "churn", init_git=False).path


@pytest.fixture
def shell(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """IPython's test shell, in the project's notebooks/ folder, with the extension
    unloaded (and the notebook's run ended) after the test."""
    from IPython.testing import globalipapp

    for variable in ("SHIPYARD_ENV", "SHIPYARD_DB", RUN_ID_VARIABLE, "JPY_SESSION_NAME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # tables unwrapped, for the assertions
    monkeypatch.chdir(project / "notebooks")
    globalipapp.start_ipython()  # once per process; later calls return None
    ip = globalipapp.get_ipython()
    try:
        yield ip
    finally:
        ip.run_line_magic("unload_ext", "shipyard")
        ip.user_ns.pop("__session__", None)
        use_default_run(None)
        end_default_run()


def stored_runs(project: Path) -> list[runs.RunRecord]:
    store = MetadataStore.open(project_root=project)
    with store.connect() as conn:
        return runs.search(conn, limit=100)


def cell(ip, source: str):
    """Run a cell as Jupyter does: errors are shown, not raised."""
    return ip.run_cell(source, store_history=False)


def test_load_puts_the_project_in_the_notebook(shell, project, capsys):
    shell.run_line_magic("load_ext", "shipyard")

    status = capsys.readouterr().out
    assert "project 'churn' (env local), 13 datasets" in status
    assert "pipelines: __default__, data_processing, training" in status
    session = shell.user_ns["session"]
    assert session.settings.project_root == project.resolve()
    assert isinstance(shell.user_ns["catalog"], Catalog)
    assert shell.user_ns["catalog"] is session.catalog
    assert shell.user_ns["params"]["model"]["C"] == 1.0
    assert set(shell.user_ns["pipelines"]) == {"__default__", "data_processing", "training"}


def test_env_comes_from_SHIPYARD_ENV(shell, monkeypatch, capsys):
    monkeypatch.setenv("SHIPYARD_ENV", "prod")  # what the project kernel of `shipyard lab` sets

    shell.run_line_magic("load_ext", "shipyard")

    assert "(env prod)" in capsys.readouterr().out
    assert shell.user_ns["session"].settings.env == "prod"
    assert shell.user_ns["params"]["model"]["C"] == 0.5


def test_outside_a_project_it_says_how_to_open_one(shell, project, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    shell.run_line_magic("load_ext", "shipyard")

    out = capsys.readouterr()
    assert f"No Shipyard project at or above {elsewhere.resolve()}" in out.err
    assert "%shipyard open PATH" in out.err and "%reload_shipyard" in out.err
    assert "Traceback" not in out.out + out.err
    assert not any(name in shell.user_ns for name in NAMES)

    # the magics are there all the same: the notebook can open the project
    failed = cell(shell, "%shipyard catalog")
    assert isinstance(failed.error_in_exec, ProjectError)
    out = capsys.readouterr()
    assert "Error: No Shipyard project is open in this notebook" in out.out
    assert "hint:" in out.out and "Traceback" not in out.out

    shell.run_line_magic("shipyard", f"open {project / 'src'}")
    assert shell.user_ns["session"].settings.project_root == project.resolve()
    assert "project 'churn'" in capsys.readouterr().out


def test_loading_twice_is_harmless(shell, capsys):
    shell.run_line_magic("load_ext", "shipyard")
    session = shell.user_ns["session"]

    shipyard.load_ipython_extension(shell)  # e.g. the kernel's --ext, then %load_ext
    shell.run_line_magic("load_ext", "shipyard")

    assert shell.user_ns["session"] is session
    assert capsys.readouterr().out.count("project 'churn'") == 2


def test_unload_removes_its_names_and_magics_but_not_the_users(shell):
    shell.run_line_magic("load_ext", "shipyard")
    cell(shell, "params = {'mine': 1}")

    shell.run_line_magic("unload_ext", "shipyard")

    assert shell.user_ns["params"] == {"mine": 1}
    assert not any(name in shell.user_ns for name in ("session", "catalog", "pipelines"))
    assert shell.find_line_magic("shipyard") is None
    assert shell.find_line_magic("reload_shipyard") is None
    shell.run_line_magic("load_ext", "shipyard")  # and it loads again
    assert "session" in shell.user_ns


def test_logging_makes_one_run_of_the_notebook_that_ends_with_it(shell, project):
    shell.user_ns["__session__"] = str(project / "notebooks" / "explore.ipynb")
    shell.run_line_magic("load_ext", "shipyard")
    assert stored_runs(project) == []  # a notebook that never logs leaves no run

    done = cell(
        shell,
        "import shipyard\n"
        "shipyard.log_params({'C': 0.5})\n"
        "shipyard.log_metric('auc', 0.9)\n"
        "shipyard.log_metric('auc', 0.95, step=1)\n",
    )
    assert done.success, done.error_in_exec
    [running] = stored_runs(project)
    assert (running.name, running.status) == ("explore", "running")

    shell.run_line_magic("unload_ext", "shipyard")  # as the kernel's exit does

    [run] = stored_runs(project)
    assert (run.id, run.status, run.project, run.env) == (running.id, "finished", "churn", "local")
    store = MetadataStore.open(project_root=project)
    with store.connect() as conn:
        assert runs.tags_of(conn, run.id) == {"source": "notebook"}
        assert params.of_run(conn, run.id) == {"C": 0.5}
        assert metrics.latest(conn, run.id) == {"auc": 0.95}


def test_a_notebook_executed_for_a_run_logs_to_that_run(shell, project, monkeypatch):
    from shipyard.tracking._run import create_run
    from shipyard.tracking._stores import tracking_for

    executor = create_run(tracking_for(project), name="notebook-executor", project_root=project)
    monkeypatch.setenv(RUN_ID_VARIABLE, executor.id)
    shell.run_line_magic("load_ext", "shipyard")

    done = cell(shell, "import shipyard; shipyard.log_metric('rows', 400)")
    shell.run_line_magic("unload_ext", "shipyard")
    executor.flush()  # points are buffered; the kernel's exit writes them in real life

    assert done.success, done.error_in_exec
    [run] = stored_runs(project)
    assert (run.id, run.status) == (executor.id, "running")  # its owner ends it, not the notebook
    store = MetadataStore.open(project_root=project)
    with store.connect() as conn:
        assert metrics.latest(conn, run.id) == {"rows": 400.0}


def test_reload_reads_config_and_pipeline_code_again(shell, project, capsys):
    shell.run_line_magic("load_ext", "shipyard")
    before = shell.user_ns["session"]
    with (project / "conf/base/parameters.yml").open("a", encoding="utf-8") as file:
        file.write("\nthreshold: 0.7\n")
    with (project / "conf/base/catalog.yml").open("a", encoding="utf-8") as file:
        file.write("\nscores:\n  type: csv\n  filepath: data/08_reporting/scores.csv\n")
    extra = project / "src/churn/pipelines/reporting"
    extra.mkdir()
    (extra / "__init__.py").write_text("")
    (extra / "pipeline.py").write_text(
        "from shipyard import node, pipeline\n\n\n"
        "def create_pipeline():\n"
        "    return pipeline([node(lambda m: m, 'metrics', 'scores', name='report')])\n"
    )

    shell.run_line_magic("reload_shipyard", "")

    assert shell.user_ns["session"] is not before
    assert shell.user_ns["params"]["threshold"] == 0.7
    assert "scores" in shell.user_ns["catalog"].list()
    assert "reporting" in shell.user_ns["pipelines"]
    assert "14 datasets" in capsys.readouterr().out


def test_run_magic_runs_and_tracks_a_pipeline(shell, project, capsys):
    shell.run_line_magic("load_ext", "shipyard")

    done = cell(shell, f"%shipyard run --pipeline data_processing --params {SMALL}")

    assert done.success, done.error_in_exec
    out = capsys.readouterr().out
    assert "4 nodes of 'data_processing'" in out and "(env local)" in out
    [run] = stored_runs(project)
    assert (run.pipeline, run.status, run.env) == ("data_processing", "finished", "local")
    # the notebook's catalog reads what the run wrote
    assert cell(shell, "ids = catalog.load('customers_raw').customer_id.nunique()").success
    assert shell.user_ns["ids"] == 400

    done = cell(
        shell, f"%shipyard run -p data_processing -e prod --params {SMALL} -n generate_customers"
    )
    assert done.success, done.error_in_exec
    latest = stored_runs(project)[0]
    assert (latest.env, latest.status) == ("prod", "finished")
    store = MetadataStore.open(project_root=project)
    with store.connect() as conn:
        assert params.of_run(conn, latest.id)["data.n_customers"] == 400
    assert shell.user_ns["session"].settings.env == "local"  # the notebook's session is unchanged


@pytest.mark.parametrize(
    "case",
    [
        ("run --pipeline nope", PipelineNotFoundError, "Pipeline 'nope' is not defined"),
        ("run --params model.C", ParamsError, "model.C"),
        ("run --nodes nope", PipelineError, "no node named 'nope'"),
        ("run --bogus", LabError, "unrecognized arguments: --bogus"),
        ("runs 0", LabError, "N must be 1 or more"),
        ("frobnicate", LabError, "invalid choice: 'frobnicate'"),
        ('open "unclosed', LabError, "no closing quotation"),
        ("catalog nope", DatasetNotFoundError, "nope"),
        ("open /no/such/folder", ProjectError, "/no/such/folder is not a folder"),
    ],
    ids=lambda case: case[0],
)
def test_errors_fail_the_cell_with_message_and_hint_only(shell, project, capsys, case):
    line, error, message = case
    shell.run_line_magic("load_ext", "shipyard")
    session = shell.user_ns["session"]
    capsys.readouterr()

    failed = cell(shell, f"%shipyard {line}")

    assert isinstance(failed.error_in_exec, error)
    out = capsys.readouterr().out
    assert out.startswith("Error: ") and message in out
    assert "\nhint: " in out and "Traceback" not in out
    assert stored_runs(project) == []  # nothing ran, nothing was recorded
    assert shell.user_ns["session"] is session  # the notebook keeps its project


def test_help_lists_the_commands(shell, capsys):
    shell.run_line_magic("load_ext", "shipyard")
    capsys.readouterr()

    assert cell(shell, "%shipyard --help").success
    assert cell(shell, "%shipyard").success
    out = capsys.readouterr().out
    for command in ("run", "catalog", "runs", "open", "%reload_shipyard"):
        assert out.count(command) >= 2


def test_catalog_magic_lists_and_describes(shell, capsys):
    shell.run_line_magic("load_ext", "shipyard")
    capsys.readouterr()

    shell.run_line_magic("shipyard", "catalog")
    listing = capsys.readouterr().out
    shell.run_line_magic("shipyard", "catalog customers_raw")
    described = capsys.readouterr().out

    assert "13 datasets (env local)" in listing
    assert "data/01_raw/customers.csv" in listing and "params:" not in listing
    assert "Dataset 'customers_raw'" in described and "versioned" in described


def test_runs_magic_lists_the_latest_runs(shell, project, capsys):
    shell.run_line_magic("load_ext", "shipyard")
    shell.run_line_magic("shipyard", "runs")
    assert "No runs in" in capsys.readouterr().out

    shell.run_line_magic("shipyard", f"run -p data_processing --params {SMALL}")
    shell.run_line_magic("shipyard", "run -p training")
    capsys.readouterr()
    shell.run_line_magic("shipyard", "runs 1")

    listed = capsys.readouterr().out
    newest, older = stored_runs(project)
    assert "Last 1 runs" in listed and newest.id in listed and older.id not in listed
    assert "training" in listed and "finished" in listed and "accuracy=" in listed


def test_open_switches_project_and_env(shell, project, tmp_path, capsys):
    other = create_project(tmp_path / "other-project", example=False, init_git=False).path
    shell.run_line_magic("load_ext", "shipyard")

    shell.run_line_magic("shipyard", f"open {other} --env prod")

    session = shell.user_ns["session"]
    assert (session.settings.project_root, session.settings.env) == (other, "prod")
    assert "project 'other-project' (env prod)" in capsys.readouterr().out


def test_notebook_name_is_the_file_stem_when_known():
    vscode = {"__vsc_ipynb_file__": "/home/me/churn/notebooks/eda.ipynb", "__session__": "x"}
    assert notebook_name(vscode, {}) == "eda"
    assert notebook_name({"__session__": "notebooks/explore.ipynb"}, {}) == "explore"
    assert notebook_name({}, {"JPY_SESSION_NAME": "a/b/train.ipynb"}) == "train"
    assert notebook_name({"__session__": "Console 1-2b7c"}, {}) == "ipython"
    assert notebook_name({}, os.environ | {"JPY_SESSION_NAME": ""}) == "ipython"
