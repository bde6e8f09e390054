"""Notebooks as pipeline nodes, run for real in a project made by ``create_project``.

The project's ``report`` pipeline is one notebook node: it reads a Parquet dataset and a
parameter, and hands back a DataFrame and a dict that the catalog saves as versioned
datasets, so the node cache applies to it.
"""

from __future__ import annotations

import pickle
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from tests.lab.test_notebook import make_notebook, stdout_of, tags_of

from shipyard.errors import NodeError, PipelineError
from shipyard.lab import create_project
from shipyard.lab._notebook_node import NotebookFunction, notebook_node, variable_name
from shipyard.metadata import MetadataStore, metrics
from shipyard.project import Session
from shipyard.project._code import CodeDigests

CATALOG = """
customers:
  type: parquet
  filepath: data/01_raw/customers.parquet
high_spenders:
  type: parquet
  filepath: data/03_primary/high_spenders.parquet
  versioned: true
summary:
  type: json
  filepath: data/08_reporting/summary.json
  versioned: true
result:
  type: json
  filepath: data/08_reporting/result.json
  versioned: true
"""

PIPELINE = """
from shipyard import pipeline
from shipyard.lab._notebook_node import notebook_node


def create_pipeline():
    return pipeline([
        notebook_node(
            "notebooks/report.ipynb",
            ["customers", "params:report.threshold"],
            {"high": "high_spenders", "summary": "summary"},
            parameters={"label": "weekly"},
            report="data/08_reporting/report.ipynb",
        )
    ])
"""

FORGETS = """
from shipyard import pipeline
from shipyard.lab._notebook_node import notebook_node


def create_pipeline():
    return pipeline([notebook_node("notebooks/forgets.ipynb", "customers", "result")])
"""

REPORT_CELLS = (
    ("md", "# Who spends the most"),
    ("params", "customers = None\nreport_threshold = 0.0\nlabel = 'draft'"),
    ("code", "high = customers[customers['spend'] > report_threshold].reset_index(drop=True)"),
    ("code", "summary = {'n': len(high), 'label': label}\nprint(summary)"),
    ("code", "import shipyard\nshipyard.log_metric('n_high', len(high))"),
)
CUSTOMERS = pd.DataFrame({"id": [1, 2, 3, 4], "spend": [10.0, 80.0, 55.5, 20.0]})


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = create_project(tmp_path_factory.mktemp("node") / "nbdemo", example=False).path
    (root / "conf/base/catalog.yml").write_text(CATALOG)
    (root / "conf/base/parameters.yml").write_text("report:\n  threshold: 50\n")
    CUSTOMERS.to_parquet(root / "data/01_raw/customers.parquet")
    for name, source in (("report", PIPELINE), ("forgets", FORGETS)):
        folder = root / "src/nbdemo/pipelines" / name
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        (folder / "pipeline.py").write_text(textwrap.dedent(source).lstrip())
    make_notebook(root / "notebooks/report.ipynb", *REPORT_CELLS)
    make_notebook(
        root / "notebooks/forgets.ipynb",
        ("params", "customers = None"),
        ("code", "results = len(customers)  # a typo: the output is `result`"),
    )
    return root


@pytest.fixture
def project(template, tmp_path, monkeypatch) -> Path:
    """A copy of the project, the current folder (as in `shipyard run`), its runs kept
    in its own store, and a private temp folder to see what is left behind."""
    root = tmp_path / "nbdemo"
    shutil.copytree(template, root)
    monkeypatch.chdir(root)
    monkeypatch.delenv("SHIPYARD_DB", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield root
    for name in [m for m in sys.modules if m == "nbdemo" or m.startswith("nbdemo.")]:
        del sys.modules[name]


def run(root: Path, pipeline: str = "report"):
    for name in [m for m in sys.modules if m == "nbdemo" or m.startswith("nbdemo.")]:
        del sys.modules[name]  # a fresh session imports the pipelines anew, as a new process
    session = Session.open(root)
    return session, session.run(pipeline)


def test_a_notebook_node_gets_its_inputs_as_variables_and_its_outputs_are_saved(project):
    session, result = run(project)

    assert result.completed == ("notebook_report",)
    expected = CUSTOMERS[CUSTOMERS["spend"] > 50].reset_index(drop=True)
    pd.testing.assert_frame_equal(session.catalog.load("high_spenders"), expected)
    assert session.catalog.load("summary") == {"n": 2, "label": "weekly"}
    # what the notebook logged went to the pipeline's run
    store = MetadataStore.open(project_root=project)
    with store.connect() as conn:
        assert metrics.latest(conn, result.run_id) == {"n_high": 2.0}
    store.close()
    # the executed notebook, as a report: inputs shown, Shipyard's hand-back cell not
    report = nbformat.read(project / "data/08_reporting/report.ipynb", as_version=4)
    assert [tags_of(cell) for cell in report.cells] == [
        [],
        ["parameters"],
        ["injected-parameters"],
        [],
        [],
        [],
    ]
    injected = report.cells[2].source
    assert "label = 'weekly'" in injected
    assert "customers = _shipyard_pandas.read_parquet(" in injected
    assert "report_threshold = _shipyard_pickle.load(" in injected
    assert stdout_of(report.cells[4]) == "{'n': 2, 'label': 'weekly'}\n"
    # the private transfer folder is gone
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


@pytest.mark.slow
def test_under_the_process_runner_the_notebook_still_logs_to_the_pipelines_run(project):
    from shipyard.runner import ProcessRunner

    for name in [m for m in sys.modules if m == "nbdemo" or m.startswith("nbdemo.")]:
        del sys.modules[name]
    session = Session.open(project)
    result = session.run("report", runner=ProcessRunner(max_workers=1))

    assert result.completed == ("notebook_report",)
    assert session.catalog.load("summary") == {"n": 2, "label": "weekly"}
    store = MetadataStore.open(project_root=project)
    with store.connect() as conn:  # worker -> kernel -> the run, through the environment
        assert metrics.latest(conn, result.run_id) == {"n_high": 2.0}
    store.close()


def test_an_unchanged_notebook_is_a_cache_hit_and_an_edited_one_runs_again(project):
    _, first = run(project)
    _, second = run(project)
    assert first.cached == ()
    assert second.cached == ("notebook_report",)

    cells = list(REPORT_CELLS)
    cells[3] = ("code", "summary = {'n': len(high), 'label': label.upper()}")
    make_notebook(project / "notebooks/report.ipynb", *cells)
    session, third = run(project)

    assert third.cached == ()
    assert session.catalog.load("summary") == {"n": 2, "label": "WEEKLY"}


def test_the_node_fingerprint_follows_the_notebook_content(project):
    def digest() -> str:
        made = notebook_node("notebooks/report.ipynb", "customers", "summary")
        return CodeDigests().of(made.func)

    before = digest()
    assert digest() == before
    path = project / "notebooks/report.ipynb"
    path.write_text(path.read_text().replace("'draft'", "'final'"))
    assert digest() != before
    # the state that counts is plain data; the project folder is not part of it
    func = notebook_node("notebooks/report.ipynb", "customers", "summary").func
    assert vars(func) == {
        "notebook": "notebooks/report.ipynb",
        "digest": func.digest,
        "inputs": ["customers"],
        "outputs": ["summary"],
        "parameters": {},
        "timeout_s": 600.0,
        "report": None,
    }
    assert func.digest.startswith("blake3:")
    copy = pickle.loads(pickle.dumps(func))  # as the process runner sends it
    assert isinstance(copy, NotebookFunction)
    assert (vars(copy), copy._root) == (vars(func), func._root)


def test_an_output_the_notebook_does_not_assign_fails_the_node_by_name(project):
    with pytest.raises(NodeError) as caught:
        run(project, "forgets")

    message = caught.value.message
    assert "Node 'notebook_forgets' failed" in message
    assert "without assigning the output variable 'result'" in message
    assert "must assign every output variable" in caught.value.hint
    assert "`result = ...`" in caught.value.hint
    assert not (project / "data/08_reporting/result.json").exists()
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


def test_a_failing_cell_fails_the_node_naming_the_cell(project):
    cells = list(REPORT_CELLS)
    cells[2] = ("code", "high = customers[customers['missing'] > 0]")
    make_notebook(project / "notebooks/report.ipynb", *cells)

    with pytest.raises(NodeError) as caught:
        run(project)
    assert "failed at cell 3 (`high = customers[customers['missing'] > 0]`)" in str(caught.value)
    assert "KeyError: 'missing'" in str(caught.value)
    report = nbformat.read(project / "data/08_reporting/report.ipynb", as_version=4)
    assert report.cells[3].outputs[0].ename == "KeyError"  # the report shows the error


@pytest.mark.parametrize(
    ("dataset", "variable"),
    [
        ("customers", "customers"),
        ("params:model.C", "model_C"),
        ("eu.customers_raw", "eu_customers_raw"),
        ("2024_sales", "_2024_sales"),
        ("params:class", "class_"),
        ("data-v2", "data_v2"),
    ],
)
def test_dataset_names_become_variable_names(dataset, variable):
    assert variable_name(dataset) == variable


def test_bad_notebook_nodes_are_refused_when_the_pipeline_is_built(project):
    path = "notebooks/report.ipynb"
    with pytest.raises(PipelineError) as caught:
        notebook_node(path, ["params:model.C", "model.C"], "out")
    assert "'params:model.C' and 'model.C' would both be the notebook variable 'model_C'" in (
        caught.value.message
    )
    assert "inputs={'model_C': 'params:model.C'" in caught.value.hint
    with pytest.raises(PipelineError, match="'my var' in outputs is not a Python variable"):
        notebook_node(path, None, {"my var": "out"})
    with pytest.raises(PipelineError, match="'label' is both an input variable and a parameter"):
        notebook_node(path, {"label": "customers"}, "out", parameters={"label": "x"})
    with pytest.raises(PipelineError) as caught:
        notebook_node("notebooks/missing.ipynb", "customers", "out")
    assert "notebooks/missing.ipynb does not exist" in caught.value.message
    assert str(project) in caught.value.hint
    made = notebook_node(path, name="weekly", tags="reports")
    assert (made.name, made.inputs, made.outputs, made.tags) == ("weekly", [], [], {"reports"})
