"""ProcessRunner: what cannot cross a process boundary is named, with what to do instead."""

from __future__ import annotations

import threading

import pytest
from tests.runner.dict_catalog import DictCatalog
from tests.runner.node_functions import double, make_lock, raise_picky, use_lock

from shipyard.errors import NodeError, RunnerError
from shipyard.pipeline import node, pipeline
from shipyard.runner import ProcessRunner


def test_an_unpicklable_input_names_the_dataset_and_suggests_threads():
    p = pipeline([node(use_lock, "lock", "flag", name="locked")])
    catalog = DictCatalog({"lock": threading.Lock()})
    with pytest.raises(RunnerError) as info:
        ProcessRunner(max_workers=1).run(p, catalog)
    message = info.value.message
    assert message.startswith("Dataset 'lock' cannot be sent to a worker process for node 'locked'")
    assert "cannot be pickled" in message
    assert "--runner thread" in info.value.hint
    assert "flag" not in catalog.data


def test_an_unpicklable_output_names_the_output_and_the_node():
    p = pipeline([node(make_lock, "raw", "lock", name="locker")])
    catalog = DictCatalog({"raw": 1})
    with pytest.raises(RunnerError) as info:
        ProcessRunner(max_workers=1).run(p, catalog)
    assert info.value.message.startswith(
        "Output 'lock' of node 'locker' cannot be sent back from the worker process"
    )
    assert "--runner thread" in info.value.hint


def test_an_unpicklable_function_is_refused_before_anything_runs():
    p = pipeline(
        [node(double, "raw", "a", name="fine"), node(lambda a: a, "a", "b", name="inline")]
    )
    catalog = DictCatalog({"raw": 1})
    with pytest.raises(RunnerError) as info:
        ProcessRunner(max_workers=1).run(p, catalog)
    assert info.value.message.startswith("Node 'inline' cannot run in a worker process")
    assert "top level of a module" in info.value.hint
    assert "--runner thread" in info.value.hint
    assert catalog.events == []


def test_an_exception_that_cannot_be_unpickled_still_reports_the_failure():
    p = pipeline([node(raise_picky, "raw", "a", name="picky")])
    with pytest.raises(NodeError) as info:
        ProcessRunner(max_workers=1).run(p, DictCatalog({"raw": 1}))
    assert "Node 'picky' failed at " in info.value.message
    assert "node_functions.py" in info.value.message
    assert "PickyError: 7: picky" in info.value.message
    notes = getattr(info.value.__cause__, "__notes__", [])
    assert any("Raised in a worker process" in note for note in notes)
