"""The runners against the real shipyard.data.Catalog, with files in a project folder."""

from __future__ import annotations

import json

import pytest
from tests.runner.node_functions import add, double, fail

from shipyard.data import Catalog
from shipyard.errors import DatasetError, NodeError, PipelineError
from shipyard.pipeline import node, pipeline
from shipyard.runner import ProcessRunner, SequentialRunner, ThreadRunner


def scale(values, factor):
    return [v * factor for v in values]


def total(values):
    return sum(values)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.json").write_text("[1, 2, 3]", encoding="utf-8")
    return tmp_path


def make_catalog(project) -> Catalog:
    catalog = Catalog.from_config(
        {
            "raw": {"type": "json", "filepath": "data/raw.json"},
            "report": {"type": "json", "filepath": "data/report.json"},
        },
        project_root=project,
    )
    catalog.add_parameters({"factor": 3})
    return catalog


def reporting():
    return pipeline(
        [
            node(scale, ["raw", "params:factor"], "scaled", name="scale"),
            node(total, "scaled", "sum", name="total"),
            node(double, "sum", "doubled", name="double"),
            node(add, ["sum", "doubled"], "report", name="report"),
        ]
    )


@pytest.mark.parametrize(
    "runner",
    [SequentialRunner(), pytest.param(ThreadRunner(2), id="thread"), ProcessRunner(2)],
)
def test_runners_read_and_write_files_through_the_catalog(project, runner):
    catalog = make_catalog(project)
    result = runner.run(reporting(), catalog)
    assert json.loads((project / "data" / "report.json").read_text()) == 54
    assert len(result.completed) == 4
    with pytest.raises(DatasetError, match="has no data"):
        catalog.load("scaled")  # released after its last reader
    assert catalog.load("params:factor") == 3  # free inputs are never released


def test_resume_hint_uses_the_catalogs_persistence(project):
    catalog = make_catalog(project)
    persisted = Catalog.from_config(
        {
            "raw": {"type": "json", "filepath": "data/raw.json"},
            "scaled": {"type": "json", "filepath": "data/scaled.json"},
        },
        project_root=project,
    )
    persisted.add_parameters({"factor": 3})
    failing = pipeline(
        [
            node(scale, ["raw", "params:factor"], "scaled", name="scale"),
            node(total, "scaled", "sum", name="total"),
            node(fail, "sum", "out", name="broken"),
        ]
    )
    with pytest.raises(NodeError) as memory_only:
        SequentialRunner().run(failing, catalog)
    assert "shipyard run --from-nodes scale " in memory_only.value.hint
    with pytest.raises(NodeError) as with_file:
        SequentialRunner().run(failing, persisted)
    assert "shipyard run --from-nodes total " in with_file.value.hint
    assert json.loads((project / "data" / "scaled.json").read_text()) == [3, 6, 9]


def test_a_missing_catalog_entry_stops_the_run_before_it_starts(project):
    p = pipeline([node(total, "customers", "n", name="count")])
    with pytest.raises(PipelineError, match="'customers' \\(read by 'count'\\)"):
        SequentialRunner().run(p, make_catalog(project))
