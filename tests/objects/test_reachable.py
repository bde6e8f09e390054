"""reachable(): the digests asked for plus the files their tree manifests list."""

from __future__ import annotations

import pytest

from shipyard.errors import CorruptObjectError
from shipyard.objects import ObjectStore, hash_bytes, reachable


@pytest.fixture
def store(tmp_path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects")


def make_folder(tmp_path, files: dict[str, bytes]):
    folder = tmp_path / "folder"
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def test_a_tree_brings_its_files_and_a_file_only_itself(store, tmp_path):
    folder = make_folder(tmp_path, {"a.csv": b"a\n1\n", "sub/b.csv": b"b\n2\n"})
    tree = store.put_tree(folder).digest
    plain = store.put_bytes(b"just a file").digest
    store.put_bytes(b"unreferenced")
    found = reachable(store, {tree, plain})
    assert found == {tree, plain, hash_bytes(b"a\n1\n"), hash_bytes(b"b\n2\n")}


def test_a_missing_digest_is_kept_but_not_expanded(store):
    missing = hash_bytes(b"never stored")
    assert reachable(store, [missing]) == {missing}


def test_a_file_that_only_looks_like_a_manifest_lists_nothing(store):
    lookalike = store.put_bytes(b'{"files":[1, 2, 3], "note": "user data"}').digest
    assert reachable(store, [lookalike]) == {lookalike}


def test_a_corrupt_manifest_is_an_error_not_an_empty_tree(store, tmp_path):
    tree = store.put_tree(make_folder(tmp_path, {"a.csv": b"a\n"})).digest
    path = store.local_path(tree)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"a.csv", b"b.csv"))
    with pytest.raises(CorruptObjectError, match="corrupt"):
        reachable(store, [tree])
