"""When a node fails or the run is interrupted: what runs, what is raised, how to resume."""

from __future__ import annotations

import signal
import threading

import pytest
from tests.runner.dict_catalog import DictCatalog
from tests.runner.node_functions import (
    double,
    fail,
    interrupt,
    pair,
    send_sigint,
    slow_double,
    wrong_count,
)

from shipyard.errors import DatasetError, NodeError, PipelineError, RunnerError
from shipyard.pipeline import node, pipeline
from shipyard.runner import ProcessRunner, SequentialRunner, ThreadRunner
from shipyard.runner._resume import resume_nodes


def failing_pipeline():
    """raw -> make_a -> a -> broken (fails) -> b -> after -> c; raw -> other -> o (slow)."""
    return pipeline(
        [
            node(double, "raw", "a", name="make_a"),
            node(fail, "a", "b", name="broken"),
            node(double, "b", "c", name="after"),
            node(slow_double, "raw", "o", name="other"),
        ]
    )


def test_sequential_failure_raises_node_error_and_skips_dependants():
    catalog = DictCatalog({"raw": 3})
    with pytest.raises(NodeError) as info:
        SequentialRunner().run(failing_pipeline(), catalog)
    error = info.value
    assert error.node == "broken"
    assert error.message.startswith("Node 'broken' failed at ")
    assert "node_functions.py" in error.message
    assert "in fail: ValueError: cannot handle 6 (inputs: a)." in error.message
    assert isinstance(error.__cause__, ValueError)
    assert "Fix the node's function" in error.hint
    assert "Then resume with: shipyard run --from-nodes make_a" in error.hint
    assert "c" not in catalog.data  # 'after' never ran
    assert catalog.data["o"] == 6  # 'other' ran before (layer order)


@pytest.mark.parametrize(
    "runner",
    [pytest.param(ThreadRunner(max_workers=2), id="thread"), ProcessRunner(max_workers=2)],
)
def test_pool_failure_lets_running_nodes_finish_and_skips_dependants(runner):
    catalog = DictCatalog({"raw": 3})
    with pytest.raises(NodeError, match="Node 'broken' failed") as info:
        runner.run(failing_pipeline(), catalog)
    assert catalog.data["o"] == 6  # 'other' was running when 'broken' failed; it finished
    assert "c" not in catalog.data
    assert "Then resume with: shipyard run --from-nodes make_a" in info.value.hint


def chain_with_memory_and_persisted_data():
    """raw -> n1 -> a (persisted) -> n2 -> b (memory) -> n3 (fails) -> c."""
    return pipeline(
        [
            node(double, "raw", "a", name="n1"),
            node(double, "a", "b", name="n2"),
            node(fail, "b", "c", name="n3"),
        ]
    )


def test_resume_walks_upstream_to_the_nearest_persisted_input():
    catalog = DictCatalog({"raw": 1}, persistent={"a"})
    with pytest.raises(NodeError) as info:
        SequentialRunner().run(chain_with_memory_and_persisted_data(), catalog)
    # 'b' lived in memory only, so n2 must run again; 'a' was persisted, so n1 need not.
    assert "shipyard run --from-nodes n2" in info.value.hint


def test_resume_starts_at_the_failed_node_when_its_inputs_are_persisted():
    catalog = DictCatalog({"raw": 1}, persistent={"a", "b"})
    with pytest.raises(NodeError) as info:
        SequentialRunner().run(chain_with_memory_and_persisted_data(), catalog)
    assert "shipyard run --from-nodes n3 " in info.value.hint


def test_resume_includes_producers_of_memory_data_read_further_downstream():
    """n4 reads 'm' from n1 (memory), so resuming at n3 is not enough: n1 must run too."""
    p = pipeline(
        [
            node(double, "raw", "m", name="n1"),
            node(double, "m", "p", name="n2"),
            node(fail, "p", "q", name="n3"),
            node(pair, ["q", "m"], "r", name="n4"),
        ]
    )
    catalog = DictCatalog({"raw": 1}, persistent={"p"})
    assert resume_nodes(p, {"n1", "n2"}, catalog) == ["n1"]
    assert resume_nodes(p - p.only_nodes("n4"), {"n1", "n2"}, catalog) == ["n3"]
    assert resume_nodes(p, {"n1"}, DictCatalog(persistent={"m"})) == ["n2"]


def test_resume_names_several_nodes_when_needed():
    p = pipeline(
        [
            node(fail, "x", "a", name="left"),
            node(double, "y", "b", name="right"),
            node(pair, ["a", "b"], "c", name="join"),
        ]
    )
    assert resume_nodes(p, {"right"}, DictCatalog(persistent={"b"})) == ["left"]
    assert resume_nodes(p, {"right"}, DictCatalog()) == ["left", "right"]


def test_no_resume_hint_when_nothing_completed():
    p = pipeline([node(fail, "raw", "a", name="first")])
    with pytest.raises(NodeError) as info:
        SequentialRunner().run(p, DictCatalog({"raw": 1}))
    assert "resume" not in info.value.hint


def test_output_mismatch_under_a_runner_is_a_node_error_from_pipeline_error():
    p = pipeline([node(wrong_count, "raw", ["a", "b", "c"], name="three")])
    with pytest.raises(NodeError) as info:
        SequentialRunner().run(p, DictCatalog({"raw": 1}))
    assert isinstance(info.value.__cause__, PipelineError)
    assert "Node 'three' declares 3 outputs" in info.value.message
    assert "outputs=" in info.value.hint


class FailingSaveCatalog(DictCatalog):
    def save(self, name, data):
        if name == "b":
            raise DatasetError(f"Dataset '{name}' could not be saved.", hint="Check the disk.")
        super().save(name, data)


def test_a_dataset_error_keeps_its_type_and_gains_the_resume_hint():
    p = pipeline([node(double, "raw", "a", name="n1"), node(double, "a", "b", name="n2")])
    catalog = FailingSaveCatalog({"raw": 1}, persistent={"a"})
    with pytest.raises(DatasetError) as info:
        SequentialRunner().run(p, catalog)
    assert info.value.message == "Dataset 'b' could not be saved."
    assert info.value.hint.startswith("Check the disk. Then resume with: ")
    assert "--from-nodes n2" in info.value.hint
    assert catalog.data["a"] == 2  # what was saved before the failure is intact


def interrupted_pipeline(stopper):
    return pipeline(
        [
            node(double, "raw", "a", name="first"),
            node(stopper, "a", "b", name="stop"),
            node(double, "b", "c", name="last"),
        ]
    )


@pytest.mark.parametrize(
    "runner",
    [SequentialRunner(), pytest.param(ThreadRunner(2), id="thread"), ProcessRunner(2)],
)
def test_keyboard_interrupt_becomes_runner_error_with_resume_hint(runner):
    catalog = DictCatalog({"raw": 1})
    with pytest.raises(RunnerError) as info:
        runner.run(interrupted_pipeline(interrupt), catalog, run_id="run-1")
    assert info.value.message == "Run run-1 interrupted after 1 of 3 nodes."
    assert info.value.hint == (
        "Resume with: shipyard run --from-nodes first (keep the other options you ran with)."
    )
    assert isinstance(info.value.__cause__, KeyboardInterrupt)
    assert "c" not in catalog.data


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need main thread"
)
def test_ctrl_c_while_the_thread_runner_waits():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        catalog = DictCatalog({"raw": 1})
        with pytest.raises(RunnerError, match=r"Run r interrupted after 1 of 3 nodes"):
            ThreadRunner(2).run(interrupted_pipeline(send_sigint), catalog, run_id="r")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "c" not in catalog.data
