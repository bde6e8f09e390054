"""What every runner does: results, input checks, release timing, run ids, logging."""

from __future__ import annotations

import logging
import time

import pytest
from tests.runner.dict_catalog import DictCatalog
from tests.runner.node_functions import add, double, plus_one

from shipyard.errors import PipelineError, RunnerError
from shipyard.pipeline import Pipeline, node, pipeline
from shipyard.runner import (
    ProcessRunner,
    RunResult,
    SequentialRunner,
    ThreadRunner,
    create_hook_manager,
    hook_impl,
    new_run_id,
)

RUNNERS = [
    pytest.param(SequentialRunner(), id="sequential"),
    pytest.param(ThreadRunner(max_workers=2), id="thread"),
    pytest.param(ProcessRunner(max_workers=2), id="process"),
]


def diamond() -> Pipeline:
    """raw -> make_a -> a -> (make_b, make_c) -> (b, c) -> make_d -> d."""
    return pipeline(
        [
            node(double, "raw", "a", name="make_a"),
            node(plus_one, "a", "b", name="make_b"),
            node(double, "a", "c", name="make_c"),
            node(add, ["b", "c"], "d", name="make_d"),
        ]
    )


@pytest.mark.parametrize("runner", RUNNERS)
def test_every_runner_computes_the_same_diamond(runner):
    catalog = DictCatalog({"raw": 3})
    result = runner.run(diamond(), catalog)
    assert catalog.data == {"raw": 3, "d": 19}  # intermediates released, output kept
    assert isinstance(result, RunResult)
    assert sorted(result.completed) == ["make_a", "make_b", "make_c", "make_d"]
    assert result.completed[0] == "make_a"
    assert result.completed[-1] == "make_d"
    assert set(result.node_durations) == set(result.completed)
    assert all(seconds >= 0 for seconds in result.node_durations.values())
    assert result.duration_s > 0
    assert len(result.run_id) == 26


def test_sequential_releases_each_dataset_right_after_its_last_reader():
    catalog = DictCatalog({"raw": 3})
    SequentialRunner().run(diamond(), catalog)
    assert catalog.events == [
        ("load", "raw"),
        ("save", "a"),
        ("load", "a"),
        ("save", "b"),
        ("load", "a"),
        ("save", "c"),
        ("release", "a"),
        ("load", "b"),
        ("load", "c"),
        ("save", "d"),
        ("release", "b"),
        ("release", "c"),
    ]


def test_thread_runner_releases_after_the_last_reader_and_never_inputs_or_outputs():
    catalog = DictCatalog({"raw": 3})
    ThreadRunner(max_workers=2).run(diamond(), catalog)
    events = catalog.events
    released = [name for action, name in events if action == "release"]
    assert sorted(released) == ["a", "b", "c"]
    last_read_of_a = max(i for i, event in enumerate(events) if event == ("load", "a"))
    assert events.index(("release", "a")) > last_read_of_a
    assert events.index(("release", "a")) < events.index(("load", "b"))


def test_the_result_is_the_run_id_given():
    result = SequentialRunner().run(diamond(), DictCatalog({"raw": 1}), run_id="my-run")
    assert result.run_id == "my-run"
    with pytest.raises(AttributeError):
        result.run_id = "other"  # type: ignore[misc]


def test_run_ids_sort_in_creation_order_and_are_unique():
    ids = [new_run_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(run_id) == 26 and run_id.isalnum() for run_id in ids)
    earlier = new_run_id()
    time.sleep(0.002)
    assert new_run_id()[:10] > earlier[:10]


def test_missing_free_inputs_are_named_with_the_nodes_that_need_them():
    p = pipeline(
        [
            node(add, ["raw", "params:k"], "a", name="first"),
            node(add, ["a", "params:k"], "b", name="second"),
        ]
    )
    catalog = DictCatalog({"raw": 1})
    with pytest.raises(PipelineError) as info:
        SequentialRunner().run(p, catalog)
    assert info.value.message == (
        "Dataset 'params:k' (read by 'first', 'second'): no dataset in the catalog and no node "
        "in the pipeline provides it."
    )
    assert "catalog.yml" in info.value.hint
    assert "parameters.yml" in info.value.hint
    assert catalog.events == []  # nothing ran
    assert catalog.data == {"raw": 1}


def test_several_missing_inputs_are_all_listed():
    p = pipeline([node(add, ["x", "y"], "z", name="adder")])
    with pytest.raises(PipelineError, match=r"Datasets 'x' \(read by 'adder'\); 'y'"):
        SequentialRunner().run(p, DictCatalog())


def test_a_catalog_without_the_protocol_methods_is_refused():
    with pytest.raises(RunnerError) as info:
        SequentialRunner().run(diamond(), {"raw": 1})  # type: ignore[arg-type]
    assert "(dict) has no load, save, exists, release, is_persistent method" in info.value.message
    assert "CatalogProtocol" in info.value.hint


@pytest.mark.parametrize("workers", [0, -1, "2", 1.5, True])
def test_max_workers_must_be_a_positive_whole_number(workers):
    for runner_class in (ThreadRunner, ProcessRunner):
        with pytest.raises(RunnerError, match="max_workers must be a whole number") as info:
            runner_class(max_workers=workers)
        assert "--max-workers" in info.value.hint


def test_default_workers_and_repr():
    assert ThreadRunner().max_workers >= 5
    assert ProcessRunner().max_workers >= 1
    assert ThreadRunner(max_workers=3).max_workers == 3
    assert repr(ThreadRunner(max_workers=3)) == "ThreadRunner(max_workers=3)"
    assert repr(SequentialRunner()) == "SequentialRunner()"


def test_hooks_must_be_a_hook_manager():
    with pytest.raises(RunnerError, match="hooks= takes a hook manager, not list"):
        SequentialRunner().run(diamond(), DictCatalog({"raw": 1}), hooks=[object()])  # type: ignore[arg-type]


def test_info_logging_is_one_line_at_start_and_one_at_the_end(caplog):
    caplog.set_level(logging.INFO, logger="shipyard.runner")
    result = SequentialRunner().run(diamond(), DictCatalog({"raw": 1}))
    messages = [r.getMessage() for r in caplog.records if r.name == "shipyard.runner"]
    assert messages == [
        f"Run {result.run_id}: SequentialRunner starts 4 nodes",
        f"Run {result.run_id}: 4 nodes done in {result.duration_s:.2f}s",
    ]


def test_debug_logging_has_a_line_per_node(caplog):
    caplog.set_level(logging.DEBUG, logger="shipyard.runner")
    SequentialRunner().run(diamond(), DictCatalog({"raw": 1}))
    per_node = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(per_node) == 8
    assert "node 'make_a' starts" in per_node[0].getMessage()


class _NoOp:
    @hook_impl
    def after_node_run(self, node):
        pass


def test_a_1000_node_chain_with_a_plugin_runs_and_keeps_only_the_output():
    """Scale, not speed: bench/pipeline_overhead.py times this run (target 0.3 ms a node)."""
    chain = pipeline([node(plus_one, f"x{i}", f"x{i + 1}", name=f"n{i}") for i in range(1000)])
    hooks = create_hook_manager(_NoOp(), load_entry_points=False)
    catalog = DictCatalog({"x0": 0})
    result = SequentialRunner().run(chain, catalog, hooks=hooks)
    assert catalog.data == {"x0": 0, "x1000": 1000}
    assert len(result.completed) == 1000
