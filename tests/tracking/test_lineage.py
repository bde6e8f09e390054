"""Lineage walks over a real store filled by real pipeline runs of the demo project
(numbers -> scale -> scaled -> train -> model -> evaluate -> metrics), and `shipyard
lineage` as a user runs it."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from tests.conftest import run_cli
from tests.tracking.conftest import forget_project_modules

from shipyard.errors import MetadataError, RunNotFoundError, VersionNotFoundError
from shipyard.metadata import MetadataStore
from shipyard.project import Session
from shipyard.tracking._lineage import downstream, lineage_of, upstream


@pytest.fixture
def ran(project):
    """Two runs: the first makes every version; the second (factor 3) makes new
    scaled/model versions from the same numbers version."""
    forget_project_modules()
    session = Session.open(project)
    first = session.run().run_id
    versions = session.versioning.index
    first_model = versions.latest("model")
    versions.tag("model", first_model.id, "golden")
    forget_project_modules()
    second = Session.open(project, params={"factor": 3}).run().run_id
    store = MetadataStore.open(project_root=project)
    yield {
        "root": project,
        "first": first,
        "second": second,
        "index": versions,
        "store": store,
        "numbers": versions.latest("numbers"),
        "first_model": first_model,
        "second_model": versions.latest("model"),
    }
    store.close()


def walk(ran, ref, direction="both", depth=None):
    with ran["store"].connect() as conn:
        return lineage_of(conn, ref, direction, depth, index=ran["index"])


def test_upstream_from_the_model_goes_back_to_the_raw_data(ran):
    with ran["store"].connect() as conn:
        graph = upstream(conn, "model", index=ran["index"])
    model, numbers, second = ran["second_model"], ran["numbers"], ran["second"]
    assert graph.start == f"data:model@{model.id}"
    assert set(graph.nodes) == {
        f"data:model@{model.id}",
        f"run:{second}/train",
        f"data:scaled@{ran['index'].latest('scaled').id}",
        f"run:{second}/scale",
        f"data:numbers@{numbers.id}",
    }
    raw = graph.nodes[f"data:numbers@{numbers.id}"]
    assert raw.made_by is None and "raw data" in raw.details()
    assert raw.digest == str(numbers.digest) and raw.column == -4
    step = graph.nodes[f"run:{second}/train"]
    assert (step.pipeline, step.node, step.column) == ("__default__", "train", -1)
    assert graph.nodes[graph.start].made_by == f"run:{second}/train"
    # the edges point the way data flows
    assert (f"run:{second}/train", graph.start, "train") in [
        (e.source, e.target, e.node) for e in graph.edges
    ]


def test_downstream_from_the_raw_data_reaches_both_runs_models_and_the_metrics(ran):
    with ran["store"].connect() as conn:
        graph = downstream(conn, f"numbers@{ran['numbers'].id}", index=ran["index"])
    models = {n.version_id for n in graph.nodes.values() if n.dataset == "model"}
    assert models == {ran["first_model"].id, ran["second_model"].id}
    runs_seen = {n.run_id for n in graph.nodes.values() if n.kind == "run"}
    assert runs_seen == {ran["first"], ran["second"]}
    assert any(n.dataset == "metrics" for n in graph.nodes.values()) is False  # not versioned
    assert f"run:{ran['second']}/evaluate" in graph.nodes
    assert all(n.column >= 0 for n in graph.nodes.values())


def test_a_tag_and_a_prefix_resolve_through_the_version_index(ran):
    first_model = ran["first_model"]
    tagged = walk(ran, "model@golden", "upstream")
    by_prefix = walk(ran, f"model@{first_model.id[:20]}", "upstream")
    assert tagged.start == by_prefix.start == f"data:model@{first_model.id}"
    assert f"run:{ran['first']}/train" in tagged.nodes
    assert f"run:{ran['second']}/train" not in tagged.nodes


def test_the_depth_limits_how_many_runs_away_the_walk_goes(ran):
    assert set(walk(ran, "model", "upstream", depth=0).nodes) == {
        f"data:model@{ran['second_model'].id}"
    }
    one = walk(ran, "model", "upstream", depth=1)
    assert {n.dataset or n.node for n in one.nodes.values()} == {"model", "train", "scaled"}
    with pytest.raises(MetadataError, match="depth must be 0 or more, not -1"):
        walk(ran, "model", "upstream", depth=-1)


def test_a_run_reference_shows_its_free_inputs_and_its_outputs(ran):
    graph = walk(ran, ran["second"][:10])
    start = graph.nodes[graph.start]
    assert graph.start == f"run:{ran['second']}" and start.kind == "run"
    read = [graph.nodes[p] for p in graph.parents(graph.start)]
    wrote = {graph.nodes[c].dataset for c in graph.children(graph.start)}
    assert [v.dataset for v in read] == ["numbers"]  # scaled is read but written by the run
    assert wrote == {"scaled", "model"}


def test_unknown_references_name_the_nearest_and_the_fix(ran):
    with pytest.raises(VersionNotFoundError) as unknown_dataset:
        walk(ran, "modle@latest")
    assert "Dataset 'modle'" in unknown_dataset.value.message
    assert "Did you mean 'model'" in unknown_dataset.value.message
    assert "shipyard data versions" in unknown_dataset.value.hint
    with pytest.raises(VersionNotFoundError) as unknown_version:
        walk(ran, "model@gloden")
    assert "golden" in unknown_version.value.message
    with pytest.raises(RunNotFoundError) as unknown_run:
        walk(ran, "zzzz9999")
    message = unknown_run.value.message
    assert "neither a dataset" in message and ran["second"] in message + ran["first"]
    assert "shipyard runs list" in unknown_run.value.hint
    with pytest.raises(RunNotFoundError, match="Did you mean 'scaled'"):
        walk(ran, "scaledd")
    with pytest.raises(MetadataError) as model_ref:
        walk(ran, "models:/churn/3")
    assert "model registry" in model_ref.value.message
    assert "shipyard lineage churn@latest" in model_ref.value.hint
    # nothing was changed by the failed look-ups
    assert walk(ran, "model", "upstream").start == f"data:model@{ran['second_model'].id}"


def test_dot_is_well_formed_and_escapes_quotes(ran):
    dot = walk(ran, "model", "upstream").to_dot()
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert dot.count("->") == len(walk(ran, "model", "upstream").edges)
    # every line is a statement whose quoted strings are closed (an escaped quote is \")
    for line in dot.splitlines()[1:-1]:
        assert line.rstrip().endswith(";") or line.rstrip().endswith("{")
        assert len(re.findall(r'(?<!\\)"', line)) % 2 == 0
    from shipyard.tracking._lineage import _dot_string

    assert _dot_string('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


def test_html_is_one_self_contained_page_with_a_well_formed_svg(ran):
    graph = walk(ran, "model")
    page = graph.to_html()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")
    svg = ET.fromstring(page[page.index("<svg") : page.index("</svg>") + len("</svg>")])
    namespace = "{http://www.w3.org/2000/svg}"
    assert len(svg.findall(f".//{namespace}rect")) == len(graph.nodes)
    assert len(svg.findall(f".//{namespace}line")) == len(graph.edges)
    titles = {t.text for t in svg.findall(f"./{namespace}g/{namespace}title")}
    assert titles == set(graph.nodes)


def test_json_has_nodes_and_edges_that_refer_to_them(ran):
    document = json.loads(json.dumps(walk(ran, "model", "upstream").to_dict()))
    assert document["direction"] == "upstream"
    ids = {node["id"] for node in document["nodes"]}
    assert document["start"] in ids
    assert all(edge["from"] in ids and edge["to"] in ids for edge in document["edges"])
    version = next(n for n in document["nodes"] if n["id"] == document["start"])
    assert version["ref"] == f"model@{ran['second_model'].id}"
    assert version["digest"].startswith("blake3:")
    step = next(n for n in document["nodes"] if n["kind"] == "run")
    assert {"run_id", "node", "pipeline", "started_at", "git_commit"} <= set(step)


def test_the_tree_shows_digests_and_the_making_run(ran):
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(walk(ran, "model", "upstream").to_tree())
    text = console.export_text()
    assert f"model@{ran['second_model'].id[:12]}" in text
    assert "made by train in run" in text and "raw data" in text
    assert "commit none" in text  # the demo project is not a git work tree


def test_the_cli_prints_a_tree_and_writes_dot_html_and_json(ran, tmp_path):
    root = ran["root"]
    tree = run_cli("lineage", "model", "--upstream", cwd=root)
    assert tree.returncode == 0, tree.stderr
    assert "numbers@" in tree.stdout and "train · run" in tree.stdout
    as_json = run_cli("lineage", "numbers", "--downstream", "--format", "json", cwd=root)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["lineage"]["direction"] == "downstream"
    page = tmp_path / "lineage.html"
    written = run_cli("lineage", "model@golden", "-f", "html", "-o", str(page), cwd=root)
    assert written.returncode == 0, written.stderr
    assert "written to" in written.stderr and page.read_text().startswith("<!DOCTYPE html>")
    dot = run_cli("lineage", ran["first"], "--format", "dot", "--depth", "1", cwd=root)
    assert dot.stdout.startswith("digraph lineage {")


def test_the_cli_names_a_bad_reference_and_the_fix(ran):
    result = run_cli("lineage", "modle", cwd=ran["root"])
    assert result.returncode != 0
    assert "Did you mean 'model'" in result.stderr and "hint:" in result.stderr
    model = run_cli("lineage", "models:/churn/1", cwd=ran["root"])
    assert "model registry" in model.stderr and "churn@latest" in model.stderr
