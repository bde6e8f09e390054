"""``shipyard notebook run`` as a user runs it: a real process, a real kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from tests.conftest import run_cli
from tests.lab.test_notebook import make_notebook, stdout_of

from shipyard.lab import create_project
from shipyard.metadata import MetadataStore, params, runs


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = create_project(tmp_path_factory.mktemp("cli") / "nbcli", example=False).path
    make_notebook(
        root / "notebooks/train.ipynb",
        ("md", "# Train"),
        ("params", "n_estimators = 100\nlr = 0.1"),
        ("code", "import shipyard\nshipyard.log_metric('score', n_estimators * lr)"),
        ("code", "print(n_estimators, lr)"),
    )
    make_notebook(
        root / "notebooks/broken.ipynb",
        ("params", "rows = 3"),
        ("code", "total = rows / 0"),
    )
    return root


def recorded(root: Path, run_id: str):
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        found = runs.get(conn, run_id), params.of_run(conn, run_id)
    store.close()
    return found


def run_ids(root: Path) -> list[str]:
    if not (root / ".shipyard" / "shipyard.db").exists():
        return []
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        found = [record.id for record in runs.search(conn, limit=1000)]
    store.close()
    return found


@pytest.mark.slow
def test_a_notebook_runs_as_a_tracked_run_from_the_command_line(project):
    done = run_cli(
        "notebook", "run", "notebooks/train.ipynb",
        "-p", "n_estimators=300", "-p", "lr=0.5", "-p", "seed=7",
        "--output", "out/train.ipynb", "--experiment", "cli",
        cwd=project,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "warning: Parameter 'seed' is not assigned in the parameters cell" in done.stderr
    assert "finished in" in done.stderr
    assert "executed notebook: out/train.ipynb" in done.stderr
    assert "artifact notebook.ipynb (blake3:" in done.stderr
    run_id = done.stderr.split("Run ", 1)[1].split(":", 1)[0]
    record, values = recorded(project, run_id)
    assert record.status == "finished"
    assert values == {"n_estimators": 300, "lr": 0.5, "seed": 7}
    executed = nbformat.read(project / "out/train.ipynb", as_version=4)
    assert stdout_of(executed.cells[4]) == "300 0.5\n"


@pytest.mark.slow
def test_json_prints_one_document_about_the_run(project):
    done = run_cli("notebook", "run", "notebooks/train.ipynb", "--json", cwd=project)

    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)["notebook_run"]
    assert described["status"] == "finished"
    assert described["notebook"] == "notebooks/train.ipynb"
    assert described["output"] is None
    assert described["artifact"]["name"] == "notebook.ipynb"
    assert described["artifact"]["digest"].startswith("blake3:")
    assert described["warnings"] == []
    assert recorded(project, described["run_id"])[0].status == "finished"


@pytest.mark.slow
def test_a_failing_notebook_exits_1_naming_the_cell_without_a_traceback(project):
    done = run_cli("notebook", "run", "notebooks/broken.ipynb", "-p", "rows=5", cwd=project)

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "failed at cell 2 (`total = rows / 0`): ZeroDivisionError: division by zero" in (
        done.stderr
    )
    assert "hint: `shipyard runs artifact RUN notebook.ipynb`" in done.stderr
    run_id = done.stderr.split("Run ", 1)[1].split(":", 1)[0]
    record, _ = recorded(project, run_id)
    assert record.status == "failed"
    assert "ZeroDivisionError" in record.error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "n estimators=3"], "'n estimators' is not a Python variable name"),
        (["-p", "lr=1", "-p", "lr=2"], "Parameter 'lr' is given twice"),
        (["--timeout", "0"], "Invalid value for '--timeout'"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(project, args, message):
    before = run_ids(project)
    done = run_cli("notebook", "run", "notebooks/train.ipynb", *args, cwd=project)

    assert done.returncode in (1, 2)
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert run_ids(project) == before  # no run was recorded


def test_a_missing_notebook_is_named(project):
    before = run_ids(project)
    done = run_cli("notebook", "run", "notebooks/nope.ipynb", cwd=project)
    assert done.returncode == 1
    assert "Notebook notebooks/nope.ipynb does not exist" in done.stderr
    assert "hint: Give the path of an .ipynb file" in done.stderr
    assert run_ids(project) == before


@pytest.mark.parametrize("command", [["notebook"], ["notebook", "run"]])
def test_notebook_commands_have_help(tmp_path, command):
    done = run_cli(*command, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    assert "tracked run" in done.stdout


@pytest.mark.slow
def test_ctrl_c_stops_the_kernel_and_records_the_run_interrupted(project, tmp_path):
    started = tmp_path / "kernel.pid"
    make_notebook(
        project / "notebooks/slow.ipynb",
        ("code", f"import os, time\nopen({str(started)!r}, 'w').write(str(os.getpid()))"),
        ("code", "time.sleep(300)"),
    )
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("SHIPYARD_ENV", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "notebook", "run", "notebooks/slow.ipynb"],
        cwd=project,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # into the second cell
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    (record,) = [
        found
        for found in (recorded(project, i)[0] for i in run_ids(project))
        if found.name == "slow"
    ]
    assert record.status == "interrupted"
    pid = int(started.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and "State:\tZ" not in _status(pid):
        assert time.monotonic() < deadline, "the kernel outlived the interrupted run"
        time.sleep(0.1)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return "State:\tZ"


def test_without_the_lab_extra_it_names_the_extra_and_records_nothing(project):
    before = run_ids(project)
    done = run_cli("notebook", "run", "notebooks/train.ipynb", cwd=project, missing="nbclient")

    assert done.returncode == 1
    assert "needs the 'nbclient' package" in done.stderr
    assert 'pip install "shipyard[lab]"' in done.stderr and "Traceback" not in done.stderr
    assert run_ids(project) == before


def test_the_command_does_not_build_jsonschemas_iri_parsers():
    code = (
        "import sys\n"
        "from shipyard.cli._notebook import skip_iri_format_checker\n"
        "skip_iri_format_checker()\n"
        "import nbformat\n"
        "nbformat.validate(nbformat.v4.new_notebook())  # validation is whole without it\n"
        "assert sys.modules['rfc3987_syntax'] is None\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
