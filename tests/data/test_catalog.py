"""Catalog: the contract's methods, not-found suggestions, threads and the hot path."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shipyard.data import Catalog, JSONDataset, MemoryDataset
from shipyard.errors import DatasetError, DatasetNotFoundError

ENTRIES = {
    "customers": {"type": "csv", "filepath": "data/01_raw/customers.csv"},
    "summary": {"type": "json", "filepath": "data/08_reporting/summary.json"},
}


def test_load_of_unknown_name_suggests_the_closest(make_catalog):
    catalog = make_catalog(ENTRIES)
    with pytest.raises(DatasetNotFoundError) as info:
        catalog.load("custmers")
    assert (
        info.value.message == "Dataset 'custmers' is not in the catalog. Did you mean 'customers'?"
    )
    assert "shipyard catalog list" in info.value.hint
    with pytest.raises(DatasetNotFoundError):
        catalog.get("nope")
    with pytest.raises(DatasetNotFoundError):
        catalog.describe("nope")


def test_not_found_hint_lists_the_patterns(make_catalog):
    catalog = make_catalog({"{name}_raw": {"type": "csv", "filepath": "{name}.csv"}})
    with pytest.raises(DatasetNotFoundError) as info:
        catalog.load("cars_rw")
    assert "Patterns in this catalog: {name}_raw." in info.value.hint


def test_unknown_names_are_absent_not_errors(make_catalog):
    catalog = make_catalog(ENTRIES)
    assert "ghost" not in catalog
    assert not catalog.exists("ghost")
    assert not catalog.is_persistent("ghost")
    catalog.release("ghost")
    assert "ghost" not in catalog.list()


def test_file_datasets_are_persistent_and_survive_release(make_catalog, root):
    catalog = make_catalog(ENTRIES)
    assert catalog.is_persistent("summary")
    assert not catalog.exists("summary")
    catalog.save("summary", {"rows": 3})
    catalog.release("summary")
    assert catalog.load("summary") == {"rows": 3}
    assert (root / "data/08_reporting/summary.json").is_file()


def test_add_and_replace(make_catalog, root):
    catalog = make_catalog(ENTRIES, origins={"summary": "conf/base/catalog.yml"})
    extra = JSONDataset("extra.json", project_root=root)
    catalog.add("extra", extra)
    assert extra.name == "extra"
    assert catalog.get("extra") is extra
    with pytest.raises(DatasetError) as info:
        catalog.add("summary", MemoryDataset())
    assert info.value.message == (
        "Dataset 'summary' is already in the catalog (from conf/base/catalog.yml)."
    )
    assert "replace=True" in info.value.hint
    catalog.add("summary", MemoryDataset(1), replace=True)
    assert catalog.load("summary") == 1


def test_constructor_takes_datasets():
    catalog = Catalog({"a": MemoryDataset(1), "b": MemoryDataset(2)})
    assert catalog.list() == ["a", "b"]
    assert catalog.load("b") == 2


def test_add_parameters_registers_every_dotted_key(make_catalog):
    catalog = make_catalog({})
    params = {"model": {"C": 1.0, "kernel": {"name": "rbf"}}, "seed": 7}
    catalog.add_parameters(params)
    assert catalog.load("parameters") is params
    assert catalog.load("params:model.C") == 1.0
    assert catalog.load("params:model.kernel") == {"name": "rbf"}
    assert catalog.load("params:model.kernel.name") == "rbf"
    assert catalog.load("params:seed") == 7
    assert not catalog.is_persistent("params:seed")
    catalog.add_parameters({"seed": 8})
    assert catalog.load("params:seed") == 8


def test_list_filters_with_a_regular_expression(make_catalog):
    catalog = make_catalog(ENTRIES)
    catalog.add_parameters({"a": 1})
    assert catalog.list() == ["customers", "parameters", "params:a", "summary"]
    assert catalog.list("^params:") == ["params:a"]
    with pytest.raises(DatasetError) as info:
        catalog.list("raw*[")
    assert "'raw*[' is not a valid regular expression" in info.value.message
    assert "regular expression" in info.value.hint


def test_describe_is_json_able_and_complete(make_catalog):
    catalog = make_catalog(ENTRIES, origins={"customers": "conf/base/catalog.yml"})
    info = catalog.describe("customers")
    assert json.loads(json.dumps(info)) == info
    assert info == {
        "name": "customers",
        "type": "csv",
        "filepath": "data/01_raw/customers.csv",
        "load_args": {},
        "save_args": {"index": False},
        "declared_type": "csv",
        "origin": "conf/base/catalog.yml",
        "pattern": None,
        "versioned": False,
        "layer": None,
        "metadata": None,
        "persistent": True,
        "credentials": None,
    }
    catalog.save("scratch", [1])
    assert catalog.describe("scratch")["type"] == "memory"
    assert catalog.describe("scratch")["persistent"] is False


def test_repr_counts(make_catalog):
    catalog = make_catalog({**ENTRIES, "{n}_x": {"type": "memory"}})
    assert repr(catalog) == "<Catalog: 2 datasets, 1 patterns>"


def test_underscore_entries_are_interpolation_anchors(make_catalog):
    catalog = make_catalog({"_defaults": {"load_args": {}}, **ENTRIES})
    assert "_defaults" not in catalog


def test_threads_saving_and_loading_distinct_names(make_catalog):
    catalog = make_catalog({"{name}_shared": {"type": "memory"}})
    errors = []
    barrier = threading.Barrier(16)

    def work(worker: int) -> None:
        barrier.wait()
        try:
            for i in range(200):
                name = f"w{worker}_{i}"
                catalog.save(name, (worker, i))
                assert catalog.load(name) == (worker, i)
                catalog.get(f"n{i}_shared")  # many threads materialising the same names
        except Exception as exc:  # collected, so a failure in a thread fails the test
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(work, range(16)))
    assert errors == []
    assert len(catalog.list(r"^w\d+_\d+$")) == 16 * 200
    assert len(catalog.list("_shared$")) == 200


def test_pattern_datasets_are_created_once(make_catalog):
    catalog = make_catalog({"{name}_shared": {"type": "memory"}})
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda _: catalog.get("x_shared"), range(64)))
    assert all(dataset is found[0] for dataset in found)


def test_memory_load_and_save_stay_cheap(make_catalog):
    catalog = make_catalog({})
    names = [f"x{i}" for i in range(1000)]
    for name in names:
        catalog.save(name, 0)
    start = time.perf_counter()
    for _ in range(20):
        for name in names:
            catalog.save(name, catalog.load(name) + 1)
    elapsed = time.perf_counter() - start
    # About 1 µs per pair here; the bound is loose so a busy machine does not fail it.
    assert elapsed < 1.0
    assert catalog.load("x0") == 20
