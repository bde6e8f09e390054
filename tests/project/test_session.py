"""The session over small hand-written projects: discovery, hooks, selection, errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from shipyard.errors import PipelineError, PipelineNotFoundError, ProjectError
from shipyard.project import Session, find_pipelines


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def make_project(root: Path, *, factor: int = 2, hooks: str = "HOOKS = ()") -> Path:
    write(root / "pyproject.toml", "[tool.shipyard]\npackage_name = 'demo'\n")
    write(root / "conf/base/parameters.yml", f"factor: {factor}\n")
    write(
        root / "conf/base/catalog.yml",
        """
        numbers:
          type: json.JSONDataset
          filepath: data/numbers.json
        scaled:
          type: json.JSONDataset
          filepath: data/scaled.json
        """,
    )
    (root / "conf/local").mkdir(parents=True)
    write(root / "data/numbers.json", "[1, 2, 3]")
    write(root / "src/demo/__init__.py", "")
    write(root / "src/demo/settings.py", hooks + "\n")
    write(root / "src/demo/pipelines/__init__.py", "")
    write(root / "src/demo/pipelines/scale/__init__.py", "")
    write(
        root / "src/demo/pipelines/scale/pipeline.py",
        """
        from shipyard import node, pipeline


        def scale(numbers, factor):
            return [n * factor for n in numbers]


        def total(scaled):
            return sum(scaled)


        def create_pipeline():
            return pipeline([
                node(scale, ["numbers", "params:factor"], "scaled", name="scale", tags=["math"]),
                node(total, "scaled", "total", name="total"),
            ])
        """,
    )
    return root


def test_pipelines_are_discovered_without_a_registry(tmp_path):
    session = Session.open(make_project(tmp_path / "p"))
    assert sorted(session.pipelines) == ["__default__", "scale"]
    assert len(session.pipeline().nodes) == 2
    assert sorted(find_pipelines("demo")) == ["scale"]


def test_run_reads_params_and_writes_through_the_catalog(tmp_path):
    root = make_project(tmp_path / "p")
    result = Session.open(root, params={"factor": 10}).run()
    assert json.loads((root / "data/scaled.json").read_text()) == [10, 20, 30]
    assert set(result.completed) == {"scale", "total"}


def test_selection_and_an_unknown_tag(tmp_path):
    root = make_project(tmp_path / "p")
    session = Session.open(root)
    assert list(session.run(tags=["math"]).completed) == ["scale"]
    assert list(session.run(from_nodes=["total"]).completed) == ["total"]
    with pytest.raises(PipelineError, match="no tag named 'nope'"):
        session.run(tags=["nope"])


def test_unknown_pipeline_lists_the_defined_ones(tmp_path):
    session = Session.open(make_project(tmp_path / "p"))
    with pytest.raises(PipelineNotFoundError, match="Did you mean 'scale'") as info:
        session.pipeline("scal")
    assert "__default__, scale" in info.value.hint


def test_project_hooks_are_called(tmp_path):
    hooks = """
    from shipyard import hook_impl

    CALLS = []


    class Recorder:
        @hook_impl
        def after_node_run(self, node):
            CALLS.append(node.name)


    HOOKS = (Recorder(),)
    """
    session = Session.open(make_project(tmp_path / "p", hooks=textwrap.dedent(hooks)))
    session.run()
    import demo.settings

    assert demo.settings.CALLS == ["scale", "total"]


def test_hooks_must_be_a_tuple_of_instances(tmp_path):
    session = Session.open(make_project(tmp_path / "p", hooks="HOOKS = 'oops'"))
    with pytest.raises(ProjectError, match="must be a tuple") as info:
        session.run()
    assert "instances" in info.value.hint


def test_two_projects_with_the_same_package_in_one_process(tmp_path):
    first = make_project(tmp_path / "first", factor=2)
    second = make_project(tmp_path / "second", factor=3)
    write(
        second / "src/demo/pipelines/scale/pipeline.py",
        (second / "src/demo/pipelines/scale/pipeline.py")
        .read_text()
        .replace('name="total"', 'name="sum_up"'),
    )
    assert "total" in {n.name for n in Session.open(first).pipeline().nodes}
    assert "sum_up" in {n.name for n in Session.open(second).pipeline().nodes}


def test_a_broken_project_module_is_reported(tmp_path):
    root = make_project(tmp_path / "p")
    write(root / "src/demo/pipelines/scale/pipeline.py", "import does_not_exist_anywhere\n")
    with pytest.raises(ProjectError, match="does_not_exist_anywhere") as info:
        _ = Session.open(root).pipelines
    assert "--debug" in info.value.hint


def test_running_an_empty_pipeline_says_how_to_add_one(tmp_path):
    root = make_project(tmp_path / "p")
    write(
        root / "src/demo/pipeline_registry.py",
        """
        from shipyard import pipeline


        def register_pipelines():
            return {"__default__": pipeline([])}
        """,
    )
    with pytest.raises(PipelineError, match="has no nodes") as info:
        Session.open(root).run()
    assert "src/demo/pipelines/" in info.value.hint
