"""The runner's side of the node cache: ask before a node runs, remember after it saved.

``DictNodeCache`` is a small real implementation of the NodeCache protocol over a
DictCatalog: a node's fingerprint is its name and the repr of its inputs, and a hit
saves the remembered outputs back into the catalog.
"""

from __future__ import annotations

import logging
import threading

import pytest
from tests.runner.dict_catalog import DictCatalog
from tests.runner.node_functions import add, double

from shipyard.pipeline import node, pipeline
from shipyard.runner import (
    CacheHit,
    NodeCache,
    ProcessRunner,
    SequentialRunner,
    ThreadRunner,
    create_hook_manager,
    hook_impl,
)


class DictNodeCache:
    def __init__(self, catalog: DictCatalog, *, fail_remember: bool = False) -> None:
        self.catalog = catalog
        self.results: dict[str, tuple[str, dict]] = {}
        self.remembered: list[tuple[str, str]] = []
        self.fail_remember = fail_remember
        self._lock = threading.Lock()

    def fingerprint(self, node):
        if any(name not in self.catalog.data for name in node.inputs):
            return None
        return f"{node.name}|{[repr(self.catalog.data[n]) for n in node.inputs]}"

    def restore(self, node, fingerprint, run_id):
        found = self.results.get(fingerprint)
        if found is None:
            return None
        source, outputs = found
        for name, value in outputs.items():
            self.catalog.save(name, value)
        return CacheHit(fingerprint, source)

    def remember(self, node, fingerprint, run_id):
        if self.fail_remember:
            raise OSError("disk full")
        with self._lock:
            outputs = {name: self.catalog.data[name] for name in node.outputs}
            self.results[fingerprint] = (run_id, outputs)
            self.remembered.append((node.name, run_id))


class HitRecorder:
    def __init__(self):
        self.hits: list[dict] = []
        self.ran: list[str] = []

    @hook_impl
    def after_node_cache_hit(self, run_id, node, fingerprint, source_run_id, duration_s):
        self.hits.append({"node": node.name, "run_id": run_id, "source": source_run_id,
                          "fingerprint": fingerprint, "duration_s": duration_s})  # fmt: skip

    @hook_impl
    def before_node_run(self, node):
        self.ran.append(node.name)


def chain():
    return pipeline(
        [
            node(double, "a", "b", name="first"),
            node(double, "b", "c", name="second"),
            node(add, ["c", "a"], "d", name="third"),
        ]
    )


RUNNERS = [SequentialRunner, lambda: ThreadRunner(max_workers=2), lambda: ProcessRunner(2)]


def test_the_dict_cache_implements_the_protocol():
    assert isinstance(DictNodeCache(DictCatalog()), NodeCache)


@pytest.mark.parametrize("make_runner", RUNNERS, ids=["sequential", "thread", "process"])
def test_a_second_run_restores_every_node_and_fires_the_hit_hook(make_runner):
    catalog = DictCatalog({"a": 3}, persistent=["a", "b", "c", "d"])
    cache = DictNodeCache(catalog)
    first = make_runner().run(chain(), catalog, cache=cache, run_id="run-1")
    assert first.cached == ()
    assert sorted(cache.remembered) == [("first", "run-1"), ("second", "run-1"), ("third", "run-1")]

    catalog.data = {"a": 3}  # a fresh workspace: every output is restored, none computed
    recorder = HitRecorder()
    second = make_runner().run(
        chain(), catalog, cache=cache, run_id="run-2", hooks=create_hook_manager(recorder)
    )
    assert catalog.data == {"a": 3, "b": 6, "c": 12, "d": 15}
    assert set(second.cached) == set(second.completed) == {"first", "second", "third"}
    assert recorder.ran == []  # before_node_run never fired: no node ran
    assert [hit["node"] for hit in recorder.hits] == ["first", "second", "third"]
    assert {hit["source"] for hit in recorder.hits} == {"run-1"}
    assert all(hit["run_id"] == "run-2" and hit["duration_s"] >= 0 for hit in recorder.hits)
    assert set(second.node_durations) == {"first", "second", "third"}


def test_a_changed_input_reruns_only_what_depends_on_it():
    catalog = DictCatalog({"a": 3, "x": 1}, persistent=["a", "b", "c", "d", "y"])
    cache = DictNodeCache(catalog)
    graph = chain() + pipeline([node(double, "x", "y", name="other")])
    SequentialRunner().run(graph, catalog, cache=cache)
    catalog.data["a"] = 4
    result = SequentialRunner().run(graph, catalog, cache=cache)
    assert result.cached == ("other",)
    assert catalog.data["d"] == 20


def test_a_node_without_a_fingerprint_runs():
    catalog = DictCatalog({"a": 3})
    cache = DictNodeCache(catalog)
    cache.fingerprint = lambda node: None
    result = SequentialRunner().run(chain(), catalog, cache=cache)
    assert result.cached == () and cache.remembered == []


def test_a_failure_to_remember_is_a_warning_not_a_failed_run(caplog):
    catalog = DictCatalog({"a": 3})
    with caplog.at_level(logging.WARNING, logger="shipyard.runner"):
        result = SequentialRunner().run(
            chain(), catalog, cache=DictNodeCache(catalog, fail_remember=True)
        )
    assert result.completed == ("first", "second", "third")
    assert "could not be added to the node cache: disk full" in caplog.text


def test_without_a_cache_nothing_is_asked():
    catalog = DictCatalog({"a": 3})
    assert SequentialRunner().run(chain(), catalog).cached == ()
