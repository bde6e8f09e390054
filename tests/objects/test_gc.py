"""Garbage collection: unreachable objects go, kept versions and their tree files stay."""

from __future__ import annotations

import os
import time

import pytest

from shipyard.objects import ObjectStore, VersionIndex, collect_garbage, hash_bytes


@pytest.fixture
def store(tmp_path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects")


def put_folder(store: ObjectStore, tmp_path, files: dict[str, bytes]):
    folder = tmp_path / "folder"
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return store.put_tree(folder).digest


def test_unreferenced_objects_go_and_kept_ones_and_tree_files_stay(store, tmp_path):
    kept_file = store.put_bytes(b"kept").digest
    tree = put_folder(store, tmp_path, {"p1.csv": b"x\n1\n", "p2.csv": b"x\n2\n"})
    garbage = store.put_bytes(b"garbage!").digest

    report = collect_garbage(store, {kept_file, tree}, dry_run=False)

    assert [(info.digest, info.size) for info in report.removed] == [(garbage, 8)]
    assert report.bytes == 8 and report.kept == 4
    assert not store.exists(garbage)
    assert store.read_bytes(kept_file) == b"kept"
    assert store.read_bytes(hash_bytes(b"x\n2\n")) == b"x\n2\n"
    assert store.read_tree(tree).entries.keys() == {"p1.csv", "p2.csv"}


def test_dry_run_lists_with_sizes_and_deletes_nothing(store):
    garbage = store.put_bytes(b"0123456789").digest
    before = sorted(store.list(), key=str)
    report = collect_garbage(store, set(), dry_run=True)
    assert [(info.digest, info.size) for info in report.removed] == [(garbage, 10)]
    assert report.bytes == 10 and report.kept == 0
    assert sorted(store.list(), key=str) == before


def test_stale_temp_files_go_and_fresh_ones_stay(store):
    root = store.put_bytes(b"x").digest
    folder = store.local_path(root).parent
    stale, fresh = folder / ".put.aaaaaaaaaaaa.partial", folder / ".put.bbbbbbbbbbbb.partial"
    top = folder.parent / ".put.cccccccccccc.partial"
    for path in (stale, fresh, top):
        path.write_bytes(b"half an object")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    os.utime(top, (old, old))

    dry = collect_garbage(store, {root}, dry_run=True)
    assert set(dry.temp_files) == {str(stale), str(top)} and stale.exists()

    report = collect_garbage(store, {root}, dry_run=False)
    assert set(report.temp_files) == {str(stale), str(top)}
    assert not stale.exists() and not top.exists() and fresh.exists()
    assert store.exists(root)


def test_tagged_only_keeps_tagged_versions_and_drops_the_others(store, tmp_path):
    index = VersionIndex(tmp_path / "versions.db")
    old = index.record("customers", store.put_bytes(b"v1").digest, 2, "file")
    new = index.record("customers", store.put_bytes(b"v2").digest, 2, "file")
    tree = put_folder(store, tmp_path, {"part.csv": b"p\n"})
    index.record("daily", tree, 2, "tree")
    index.tag("customers", old.id, "audit")

    report = collect_garbage(store, index.digests(tagged_only=True), dry_run=False)

    assert {info.digest for info in report.removed} == {new.digest, tree, hash_bytes(b"p\n")}
    assert store.read_bytes(old.digest) == b"v1"
    assert index.resolve("customers", new.id) == new  # the record stays; its bytes are gone


def test_keep_last_keeps_the_newest_of_each_dataset(store, tmp_path):
    index = VersionIndex(tmp_path / "versions.db")
    first = index.record("model", store.put_bytes(b"m1").digest, 2, "file")
    second = index.record("model", store.put_bytes(b"m2").digest, 2, "file")
    report = collect_garbage(store, index.digests(keep_last=1), dry_run=False)
    assert [info.digest for info in report.removed] == [first.digest]
    assert store.exists(second.digest)
