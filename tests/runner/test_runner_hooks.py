"""Hooks: the order they fire in, the arguments they get, plugins and entry points."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest
from tests.runner.dict_catalog import DictCatalog
from tests.runner.node_functions import double, fail

from shipyard.errors import DatasetError, NodeError, RunnerError
from shipyard.pipeline import node, pipeline
from shipyard.runner import (
    HookSpecs,
    ProcessRunner,
    RunResult,
    SequentialRunner,
    ThreadRunner,
    create_hook_manager,
    hook_impl,
)


class Recorder:
    """Implements every hook with every argument, and records the calls."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def args(self, hook: str) -> list[dict]:
        return [arguments for name, arguments in self.calls if name == hook]

    @hook_impl
    def after_catalog_created(self, catalog):
        self.calls.append(("after_catalog_created", {"catalog": catalog}))

    @hook_impl
    def before_pipeline_run(self, run_id, pipeline, catalog, run_params):
        self.calls.append(("before_pipeline_run", locals_of(locals())))

    @hook_impl
    def before_dataset_loaded(self, run_id, dataset_name, node):
        self.calls.append(("before_dataset_loaded", locals_of(locals())))

    @hook_impl
    def after_dataset_loaded(self, run_id, dataset_name, data, node, duration_s):
        self.calls.append(("after_dataset_loaded", locals_of(locals())))

    @hook_impl
    def before_node_run(self, run_id, node, catalog, inputs):
        self.calls.append(("before_node_run", locals_of(locals())))

    @hook_impl
    def after_node_run(self, run_id, node, catalog, inputs, outputs, duration_s):  # noqa: PLR0917
        self.calls.append(("after_node_run", {**locals_of(locals()), "pid": os.getpid()}))

    @hook_impl
    def after_node_cache_hit(self, run_id, node, catalog, fingerprint, source_run_id, duration_s):  # noqa: PLR0917
        self.calls.append(("after_node_cache_hit", locals_of(locals())))

    @hook_impl
    def on_node_error(self, run_id, node, catalog, inputs, error):
        self.calls.append(("on_node_error", locals_of(locals())))

    @hook_impl
    def before_dataset_saved(self, run_id, dataset_name, data, node):
        self.calls.append(("before_dataset_saved", locals_of(locals())))

    @hook_impl
    def after_dataset_saved(self, run_id, dataset_name, data, node, duration_s):
        self.calls.append(("after_dataset_saved", locals_of(locals())))

    @hook_impl
    def after_pipeline_run(  # noqa: PLR0917
        self, run_id, pipeline, catalog, run_params, duration_s, result
    ):
        self.calls.append(("after_pipeline_run", locals_of(locals())))

    @hook_impl
    def on_pipeline_error(self, run_id, pipeline, catalog, run_params, error):
        self.calls.append(("on_pipeline_error", locals_of(locals())))


def locals_of(values: dict) -> dict:
    return {key: value for key, value in values.items() if key != "self"}


def two_steps():
    return pipeline([node(double, "raw", "a", name="first"), node(double, "a", "b", name="second")])


NODE_HOOKS = [
    "before_dataset_loaded",
    "after_dataset_loaded",
    "before_node_run",
    "before_dataset_saved",
    "after_dataset_saved",
    "after_node_run",
]


def test_every_hook_spec_is_recorded_by_the_recorder():
    specs = {name for name in vars(HookSpecs) if not name.startswith("_")}
    assert specs == {name for name in vars(Recorder) if not name.startswith("_")} - {
        "names",
        "args",
    }


def test_hooks_fire_in_order_with_the_documented_arguments():
    recorder = Recorder()
    hooks = create_hook_manager(recorder, load_entry_points=False)
    catalog = DictCatalog({"raw": 3})
    p = two_steps()
    result = SequentialRunner().run(
        p, catalog, hooks=hooks, run_id="r1", run_params={"env": "test"}
    )
    assert recorder.names() == [
        "before_pipeline_run",
        *NODE_HOOKS,
        *NODE_HOOKS,
        "after_pipeline_run",
    ]
    assert {arguments["run_id"] for _, arguments in recorder.calls} == {"r1"}
    start = recorder.args("before_pipeline_run")[0]
    assert start == {
        "run_id": "r1",
        "pipeline": p,
        "catalog": catalog,
        "run_params": {"env": "test"},
    }
    loaded = recorder.args("after_dataset_loaded")[0]
    assert (loaded["dataset_name"], loaded["data"], loaded["node"].name) == ("raw", 3, "first")
    assert loaded["duration_s"] >= 0
    ran = recorder.args("after_node_run")[1]
    assert ran["node"].name == "second"
    assert (ran["inputs"], ran["outputs"]) == ({"a": 6}, {"b": 12})
    assert ran["catalog"] is catalog
    saved = recorder.args("before_dataset_saved")[1]
    assert (saved["dataset_name"], saved["data"]) == ("b", 12)
    end = recorder.args("after_pipeline_run")[0]
    assert end["result"] is result
    assert isinstance(end["result"], RunResult)
    assert end["duration_s"] == result.duration_s


def test_error_hooks_get_the_original_error_and_the_raised_one():
    recorder = Recorder()
    p = pipeline([node(double, "raw", "a", name="first"), node(fail, "a", "b", name="broken")])
    with pytest.raises(NodeError) as info:
        SequentialRunner().run(
            p, DictCatalog({"raw": 1}), hooks=create_hook_manager(recorder, load_entry_points=False)
        )
    assert recorder.names() == [
        "before_pipeline_run",
        *NODE_HOOKS,
        "before_dataset_loaded",
        "after_dataset_loaded",
        "before_node_run",
        "on_node_error",
        "on_pipeline_error",
    ]
    node_error = recorder.args("on_node_error")[0]
    assert isinstance(node_error["error"], ValueError)
    assert node_error["inputs"] == {"a": 2}
    assert node_error["node"].name == "broken"
    assert recorder.args("on_pipeline_error")[0]["error"] is info.value
    assert "after_pipeline_run" not in recorder.names()


@pytest.mark.parametrize("runner", [pytest.param(ThreadRunner(2), id="thread"), ProcessRunner(2)])
def test_pool_runners_fire_node_hooks_in_order_and_in_this_process(runner):
    recorder = Recorder()
    hooks = create_hook_manager(recorder, load_entry_points=False)
    runner.run(two_steps(), DictCatalog({"raw": 3}), hooks=hooks)
    assert recorder.names() == [
        "before_pipeline_run",
        *NODE_HOOKS,
        *NODE_HOOKS,
        "after_pipeline_run",
    ]
    assert {call["pid"] for call in recorder.args("after_node_run")} == {os.getpid()}
    assert recorder.args("after_node_run")[1]["outputs"] == {"b": 12}


class OnlyNode:
    """Takes one argument of after_node_run, in its own order: that is enough."""

    def __init__(self):
        self.seen = []

    @hook_impl
    def after_node_run(self, outputs, node):
        self.seen.append((node.name, outputs))


def test_implementations_take_any_subset_of_arguments():
    plugin = OnlyNode()
    SequentialRunner().run(
        two_steps(),
        DictCatalog({"raw": 1}),
        hooks=create_hook_manager(plugin, load_entry_points=False),
    )
    assert plugin.seen == [("first", {"a": 2}), ("second", {"b": 4})]


def test_a_plugin_registered_twice_counts_once():
    plugin = OnlyNode()
    hooks = create_hook_manager(plugin, plugin, load_entry_points=False)
    SequentialRunner().run(two_steps(), DictCatalog({"raw": 1}), hooks=hooks)
    assert len(plugin.seen) == 2


class Misspelled:
    @hook_impl
    def before_node_runs(self, node):
        pass


class UnknownArgument:
    @hook_impl
    def after_node_run(self, node, elapsed):
        pass


@pytest.mark.parametrize(
    ("plugin", "expected"),
    [(Misspelled(), "before_node_runs"), (UnknownArgument(), "elapsed")],
)
def test_invalid_plugins_are_refused_with_a_hint(plugin, expected):
    with pytest.raises(RunnerError, match="is not valid") as info:
        create_hook_manager(plugin, load_entry_points=False)
    assert expected in info.value.message
    assert "HookSpecs" in info.value.hint


def test_no_hooks_at_all():
    result = SequentialRunner().run(two_steps(), DictCatalog({"raw": 1}), hooks=None)
    assert result.completed == ("first", "second")


def install_plugin(tmp_path, monkeypatch, module: str, body: str, target: str) -> None:
    """A real installed distribution: a module plus a dist-info with an entry point."""
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    info = tmp_path / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n",
        encoding="utf-8",
    )
    (info / "entry_points.txt").write_text(
        f"[shipyard.hooks]\n{module} = {module}:{target}\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)


PLUGIN = """
from shipyard.runner import hook_impl

class Counter:
    def __init__(self):
        self.runs = []

    @hook_impl
    def before_pipeline_run(self, run_id):
        self.runs.append(run_id)

counter = Counter()
"""


def test_entry_point_plugins_are_loaded_unless_disabled(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "shipyard_counter_plugin", PLUGIN, "counter")
    hooks = create_hook_manager()
    plugin = hooks.get_plugin("shipyard_counter_plugin")
    assert plugin is not None
    SequentialRunner().run(two_steps(), DictCatalog({"raw": 1}), hooks=hooks, run_id="ep")
    assert plugin.runs == ["ep"]
    assert (
        create_hook_manager(load_entry_points=False).get_plugin("shipyard_counter_plugin") is None
    )


def test_a_broken_entry_point_names_the_plugin_and_package(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "shipyard_broken_plugin", PLUGIN, "missing_name")
    with pytest.raises(RunnerError) as info:
        create_hook_manager()
    assert "Hook plugin 'shipyard_broken_plugin'" in info.value.message
    assert "shipyard_broken_plugin:missing_name" in info.value.message
    assert "shipyard-broken-plugin" in info.value.hint


class RefuseB:
    """A data check: refuses dataset 'a' after loading it."""

    @hook_impl
    def after_dataset_loaded(self, dataset_name):
        if dataset_name == "a":
            raise DatasetError("Dataset 'a' is empty.", hint="Check the export.")


def test_a_hook_that_raises_stops_the_run_with_its_own_error():
    recorder = Recorder()
    hooks = create_hook_manager(RefuseB(), recorder, load_entry_points=False)
    catalog = DictCatalog({"raw": 1})
    with pytest.raises(DatasetError) as info:
        SequentialRunner().run(two_steps(), catalog, hooks=hooks)
    assert info.value.message == "Dataset 'a' is empty."
    assert info.value.hint.startswith("Check the export. Then resume with: ")
    assert recorder.args("on_node_error")[0]["error"] is info.value
    assert recorder.args("on_node_error")[0]["node"].name == "second"
    assert "b" not in catalog.data
