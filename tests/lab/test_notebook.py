"""Notebooks run headless in real kernels: parameters, failures, timeouts, tracked runs.

Every test starts the dev environment's ``python3`` kernel for real (about a second
each). The tracked-run tests use one generated project per module that has run its
pipelines once, as ``shipyard new`` + ``shipyard run`` leave it, copied per test.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbformat import v4
from tests.conftest import churn_project

from shipyard.errors import NotebookError, ParamsError, ProjectError
from shipyard.lab._notebook import execute_notebook, run_notebook
from shipyard.lab._parameters import parse_parameter, python_literal
from shipyard.metadata import MetadataStore, artifacts, metrics, params, runs
from shipyard.objects import Digest, ObjectStore

KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def make_notebook(path: Path, *cells: tuple[str, str]) -> Path:
    """A notebook of ``(kind, source)`` cells: kind ``code``, ``md`` or ``params``
    (a code cell tagged ``parameters``)."""
    nb = v4.new_notebook(metadata={"kernelspec": KERNEL})
    for kind, source in cells:
        cell = v4.new_markdown_cell(source) if kind == "md" else v4.new_code_cell(source)
        if kind == "params":
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def stdout_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def tags_of(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


# -- parameters ------------------------------------------------------------------------------


def test_parameters_are_injected_after_the_parameters_cell_and_override_defaults(tmp_path):
    path = make_notebook(
        tmp_path / "train.ipynb",
        ("md", "# Train"),
        ("params", "n_estimators = 100\nlr = 0.1\nname = 'base'\nlayers = [1]\nlimit = 1.0"),
        ("code", "print(n_estimators, lr, name, layers, limit, type(limit).__name__)"),
    )
    values = {"n_estimators": 300, "lr": 0.05, "name": "it's", "layers": [64, (32,)]}
    done = execute_notebook(
        path, parameters={**values, "limit": -math.inf}, output=tmp_path / "out.ipynb"
    )

    assert done.injected == ("n_estimators", "lr", "name", "layers", "limit")
    assert done.warnings == ()
    assert done.output == tmp_path / "out.ipynb"
    assert done.duration_s > 0
    cells = done.notebook.cells
    assert [tags_of(c) for c in cells] == [[], ["parameters"], ["injected-parameters"], []]
    assert stdout_of(cells[3]) == "300 0.05 it's [64, (32,)] -inf float\n"
    written = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert stdout_of(written.cells[3]) == stdout_of(cells[3])
    nbformat.validate(written)
    # the notebook itself is left as it was
    assert len(nbformat.read(path, as_version=4).cells) == 3


def test_a_parameter_the_notebook_does_not_declare_warns_and_is_still_injected(tmp_path, caplog):
    path = make_notebook(
        tmp_path / "nb.ipynb", ("params", "alpha = 1"), ("code", "print(alpha, bet)")
    )
    with caplog.at_level(logging.WARNING, logger="shipyard.lab"):
        done = execute_notebook(path, parameters={"alpha": 2, "bet": None})

    assert len(done.warnings) == 1
    assert "'bet' is not assigned in the parameters cell" in done.warnings[0]
    assert done.warnings[0] in caplog.text
    assert stdout_of(done.notebook.cells[2]) == "2 None\n"


def test_without_a_parameters_cell_the_parameters_come_first_with_a_warning(tmp_path):
    path = make_notebook(tmp_path / "nb.ipynb", ("md", "hi"), ("code", "print(x * 2)"))
    done = execute_notebook(path, parameters={"x": 21})

    assert tags_of(done.notebook.cells[0]) == ["injected-parameters"]
    assert stdout_of(done.notebook.cells[2]) == "42\n"
    assert "has no cell tagged 'parameters'" in done.warnings[0]
    assert "Cell Tags" in done.warnings[0]  # says how to tag one


def test_running_an_executed_notebook_again_replaces_its_injected_cell(tmp_path):
    path = make_notebook(tmp_path / "nb.ipynb", ("params", "x = 1"), ("code", "print(x)"))
    first = execute_notebook(path, parameters={"x": 2}, output=tmp_path / "once.ipynb")
    again = execute_notebook(first.output, parameters={"x": 3})

    assert [tags_of(c) for c in again.notebook.cells] == [
        ["parameters"],
        ["injected-parameters"],
        [],
    ]
    assert stdout_of(again.notebook.cells[2]) == "3\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n_estimators=300", ("n_estimators", 300)),
        ("lr=0.5", ("lr", 0.5)),
        ("lr=1e-3", ("lr", 0.001)),
        ("flag=true", ("flag", True)),
        ("layers=[1, 2]", ("layers", [1, 2])),
        ("options={depth: 3}", ("options", {"depth": 3})),
        ("tag='300'", ("tag", "300")),
        ("model=gbm", ("model", "gbm")),
        ("day=2024-01-31", ("day", "2024-01-31")),
        ("title=a=b", ("title", "a=b")),
        (" x = 1 ", ("x", 1)),
        ("empty=", ("empty", None)),
    ],
)
def test_command_line_parameters_are_read_as_yaml(text, expected):
    assert parse_parameter(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("1st=3", "'1st' is not a Python variable name"),
        ("class=1", "'class' is not a Python variable name"),
        ("n-trees=1", "'n-trees' is not a Python variable name"),
        ("=1", "'' is not a Python variable name"),
        ("lr", "has no '='"),
        ("layers=[1, 2", "not valid YAML"),
    ],
)
def test_bad_command_line_parameters_say_what_is_wrong(text, named):
    with pytest.raises(ParamsError) as caught:
        parse_parameter(text)
    assert named in caught.value.message
    assert "-p" in caught.value.hint or "Quote" in caught.value.hint


def test_only_plain_values_can_be_injected(tmp_path):
    assert python_literal({"a": [float("nan"), math.inf, (1,)], 2: None}) == (
        "{'a': [float('nan'), float('inf'), (1,)], 2: None}"
    )
    path = make_notebook(tmp_path / "nb.ipynb", ("params", "when = None"))
    with pytest.raises(ParamsError) as caught:
        execute_notebook(path, parameters={"when": object()}, output=tmp_path / "out.ipynb")
    assert "Parameter 'when' holds a builtins.object" in caught.value.message
    assert "str, int, float, bool, None" in caught.value.hint
    assert not (tmp_path / "out.ipynb").exists()  # refused before any kernel started


# -- how a notebook runs ----------------------------------------------------------------------


def test_the_kernel_runs_in_the_notebook_folder_with_the_extra_environment(tmp_path):
    path = make_notebook(
        tmp_path / "sub" / "nb.ipynb",
        ("code", "import os\nprint(os.getcwd())\nprint(os.environ['NB_TEST_VALUE'])"),
    )
    done = execute_notebook(path, env={"NB_TEST_VALUE": "from-env"})
    assert stdout_of(done.notebook.cells[0]).split() == [str(path.parent.resolve()), "from-env"]

    elsewhere = execute_notebook(path, cwd=tmp_path, env={"NB_TEST_VALUE": "x"})
    assert stdout_of(elsewhere.notebook.cells[0]).split()[0] == str(tmp_path.resolve())


def test_a_failing_cell_is_named_with_its_exception_and_the_output_keeps_the_error(tmp_path):
    path = make_notebook(
        tmp_path / "nb.ipynb",
        ("md", "# Title"),
        ("params", "rows = 10"),
        ("code", "print('before')"),
        ("md", "## Load"),
        ("code", "\n\ndata = {'a': 1}\nvalue = data['missing']"),
        ("code", "print('never')"),
    )
    output = tmp_path / "reports" / "nb.ipynb"
    with pytest.raises(NotebookError) as caught:
        execute_notebook(path, parameters={"rows": 5}, output=output)

    error = caught.value
    # the fifth cell of the notebook as written: the injected cell is not counted
    assert "failed at cell 5 (`data = {'a': 1}`): KeyError: 'missing'." in error.message
    assert f"is at {output}" in error.message
    assert f"Open {output} in Jupyter" in error.hint
    assert (error.cell, error.exception_type, error.exception_message) == (
        5,
        "KeyError",
        "'missing'",
    )
    assert "value = data['missing']" in error.traceback
    assert "\x1b[" not in error.traceback
    assert error.output == output
    written = nbformat.read(output, as_version=4)
    assert stdout_of(written.cells[3]) == "before\n"
    assert written.cells[5].outputs[0].output_type == "error"
    assert written.cells[6].get("outputs") == []


def test_a_syntax_error_is_named_like_any_other_failure(tmp_path):
    path = make_notebook(tmp_path / "nb.ipynb", ("code", "x = 1"), ("code", "def broken(:\n  pass"))
    with pytest.raises(NotebookError) as caught:
        execute_notebook(path)

    error = caught.value
    assert "failed at cell 2 (`def broken(:`): SyntaxError: invalid syntax" in error.message
    assert error.output is None
    assert "Pass --output PATH" in error.hint  # no executed notebook was kept: say how to


def test_a_cell_that_runs_forever_is_stopped_at_the_timeout_and_its_kernel_ends(tmp_path):
    pid_file = tmp_path / "kernel.pid"
    path = make_notebook(
        tmp_path / "nb.ipynb",
        ("code", f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))"),
        ("code", "while True:\n    pass"),
    )
    started = time.monotonic()
    with pytest.raises(NotebookError) as caught:
        execute_notebook(path, timeout_s=2, output=tmp_path / "out.ipynb")
    elapsed = time.monotonic() - started

    assert elapsed < 20
    error = caught.value
    assert "cell 2 (`while True:`) was still running after the 2 s timeout" in error.message
    assert "--timeout SECONDS" in error.hint
    assert error.cell == 2
    assert (tmp_path / "out.ipynb").is_file()
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the timed-out kernel is still running"


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()  # a zombie has ended
    except FileNotFoundError:
        return False


def test_notebooks_that_cannot_be_run_say_why(tmp_path):
    with pytest.raises(NotebookError, match="does not exist"):
        execute_notebook(tmp_path / "missing.ipynb")
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    with pytest.raises(NotebookError, match="is not a notebook that can be read"):
        execute_notebook(broken)
    path = make_notebook(tmp_path / "nb.ipynb", ("code", "1"))
    with pytest.raises(NotebookError) as caught:
        execute_notebook(path, kernel_name="no-such-kernel")
    assert "kernel 'no-such-kernel', which is not installed" in caught.value.message
    assert "jupyter kernelspec list" in caught.value.hint
    with pytest.raises(NotebookError, match="positive number of seconds"):
        execute_notebook(path, timeout_s=0)


# -- tracked runs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """``shipyard new`` + ``shipyard run``: the project's data exists for its notebook."""
    return churn_project(tmp_path_factory.mktemp("notebook") / "churn")


@pytest.fixture
def tracked(project, monkeypatch) -> Path:
    monkeypatch.delenv("SHIPYARD_DB", raising=False)
    return project


def stored(root: Path, run_id: str) -> dict:
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        found = {
            "run": runs.get(conn, run_id),
            "tags": runs.tags_of(conn, run_id),
            "params": params.of_run(conn, run_id),
            "metrics": metrics.latest(conn, run_id),
            "artifacts": artifacts.of_run(conn, run_id),
        }
    store.close()
    return found


def artifact_notebook(root: Path, found: dict, tmp_path: Path):
    (artifact,) = found["artifacts"]
    assert artifact["name"] == "notebook.ipynb"
    copy = tmp_path / "artifact.ipynb"
    ObjectStore(root / ".shipyard" / "objects").get_file(Digest.parse(artifact["digest"]), copy)
    return nbformat.read(copy, as_version=4)


@pytest.mark.slow
def test_the_generated_projects_notebook_runs_headless_as_a_tracked_run(tracked, tmp_path):
    started = []
    done = run_notebook(
        tracked / "notebooks" / "explore.ipynb",
        parameters={"top_n": 3},
        on_cell=lambda *cell: started.append(cell),
    )

    assert done.status == "finished"
    assert done.output is None
    found = stored(tracked, done.run_id)
    assert found["run"].status == "finished"
    assert found["run"].name == "explore"
    assert found["tags"] == {"source": "notebook", "notebook": "notebooks/explore.ipynb"}
    assert found["params"] == {"top_n": 3}
    # its `%load_ext shipyard` did not make a run of its own: the metric is in this one
    assert 0 < found["metrics"]["churn_rate"] < 1
    executed = artifact_notebook(tracked, found, tmp_path)
    assert found["artifacts"][0]["digest"] == done.artifact_digest
    nbformat.validate(executed)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert any(o.output_type == "execute_result" for cell in code for o in cell.outputs)
    assert not any(o.output_type == "error" for cell in code for o in cell.outputs)
    head = next(cell for cell in code if "customers.head(top_n)" in cell.source)
    shown = head.outputs[0].data["text/plain"]
    assert "C000003" in shown and "C000004" not in shown  # top_n=3 rows
    # progress: every code cell, in order, ours (the injected parameters) included
    assert [(position, total) for _, position, total in started] == [
        (n, len(code)) for n in range(1, len(code) + 1)
    ]
    assert started[0][0].startswith("cell 2 (`top_n = 5  # rows to show;")
    assert "injected" in started[1][0]


def test_metrics_the_notebook_logs_land_in_its_run_with_its_parameters(tracked, tmp_path):
    path = make_notebook(
        tracked / "notebooks" / "score.ipynb",
        ("params", "acc = 0.5\nmodel = {'depth': 2}"),
        ("code", "import shipyard\nshipyard.log_metric('acc', acc)"),
    )
    done = run_notebook(
        path,
        parameters={"acc": 0.9, "model": {"depth": 4}},
        output=tmp_path / "score-out.ipynb",
        experiment="notebooks",
    )

    found = stored(tracked, done.run_id)
    assert found["metrics"] == {"acc": 0.9}
    assert found["params"] == {"acc": 0.9, "model.depth": 4}
    assert done.output == tmp_path / "score-out.ipynb"
    assert nbformat.read(done.output, as_version=4).cells[1].metadata.tags == [
        "injected-parameters"
    ]


def test_a_failing_notebook_marks_its_run_failed_and_keeps_the_executed_notebook(tracked, tmp_path):
    path = make_notebook(
        tracked / "notebooks" / "fail.ipynb",
        ("md", "# Fails"),
        ("code", "raise ValueError('the data is empty')"),
    )
    with pytest.raises(NotebookError) as caught:
        run_notebook(path)

    error = caught.value
    assert "failed at cell 2 (`raise ValueError('the data is empty')`)" in error.message
    assert f"kept with run {error.run_id} as artifact notebook.ipynb" in error.message
    assert "`shipyard runs artifact RUN notebook.ipynb` writes the executed notebook" in error.hint
    found = stored(tracked, error.run_id)
    assert found["run"].status == "failed"
    assert "ValueError: the data is empty" in found["run"].error
    assert "cell 2" in found["run"].error
    executed = artifact_notebook(tracked, found, tmp_path)
    assert executed.cells[1].outputs[0].ename == "ValueError"


def test_a_notebook_outside_a_project_cannot_be_tracked(tmp_path, monkeypatch):
    monkeypatch.delenv("SHIPYARD_DB", raising=False)
    path = make_notebook(tmp_path / "loose.ipynb", ("code", "1"))
    with pytest.raises(ProjectError) as caught:
        run_notebook(path)
    assert "not inside a Shipyard project" in caught.value.message
    assert "execute_notebook" in caught.value.hint
    assert os.listdir(tmp_path) == ["loose.ipynb"]  # no store was made
