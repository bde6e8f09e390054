"""Trees: building, storing and checking out folders; hostile manifests and symlinks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from shipyard.errors import ObjectNotFoundError, ObjectStoreError, UnsafePathError
from shipyard.objects import Tree, TreeEntry, build_tree, hash_bytes


def make_folder(root: Path) -> Path:
    (root / "train").mkdir(parents=True)
    (root / "train" / "a.csv").write_bytes(b"x,y\n1,2\n")
    (root / "train" / "nested").mkdir()
    (root / "train" / "nested" / "b.bin").write_bytes(os.urandom(70_000))
    (root / "README.md").write_text("data\n")
    (root / "empty.txt").write_bytes(b"")
    script = root / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_build_tree_is_sorted_canonical_and_round_trips(tmp_path):
    folder = make_folder(tmp_path / "data")
    tree = build_tree(folder)
    assert list(tree) == ["README.md", "empty.txt", "run.sh", "train/a.csv", "train/nested/b.bin"]
    assert tree.entries["run.sh"].mode == 0o755
    assert tree.entries["README.md"].mode == 0o644
    assert tree.entries["train/a.csv"] == TreeEntry(hash_bytes(b"x,y\n1,2\n"), 8, 0o644)
    assert Tree.from_bytes(tree.to_bytes()) == tree
    assert build_tree(folder).to_bytes() == tree.to_bytes()
    assert b" " not in tree.to_bytes()


def test_put_tree_then_checkout_restores_the_folder(backend, tmp_path):
    store = backend.store()
    folder = make_folder(tmp_path / "data")
    info = store.put_tree(folder)
    assert store.put_tree(folder) == info  # same content, same digest, nothing new
    dest = tmp_path / "restored"
    tree = store.checkout_tree(info.digest, dest)
    assert snapshot(dest) == snapshot(folder)
    assert len(tree) == 5
    assert os.stat(dest / "run.sh").st_mode & stat.S_IXUSR
    assert len(list(store.list())) == 6  # five files (one empty) and the manifest


def test_checkout_fails_before_writing_when_an_object_is_missing(local_store, tmp_path):
    folder = make_folder(tmp_path / "data")
    info = local_store.put_tree(folder)
    local_store.delete(hash_bytes(b"x,y\n1,2\n"))
    dest = tmp_path / "restored"
    with pytest.raises(ObjectNotFoundError) as err:
        local_store.checkout_tree(info.digest, dest)
    assert "train/a.csv" in err.value.message
    assert not dest.exists()


HOSTILE = [
    "../escaped.txt",
    "ok/../../escaped.txt",
    "/tmp/escaped.txt",
    "..\\escaped.txt",
    "C:/escaped.txt",
    "C:escaped.txt",
    "nul\x00byte.txt",
    "a//b.txt",
    "./a.txt",
    "",
]


def _manifest(path: str, digest) -> bytes:
    entry = {"path": path, "digest": str(digest), "size": 5, "mode": 0o644}
    return json.dumps({"format": "shipyard.tree/1", "files": [entry]}).encode()


@pytest.mark.parametrize("bad_path", HOSTILE)
def test_hostile_manifest_is_refused_and_nothing_is_written(local_store, tmp_path, bad_path):
    digest = local_store.put_bytes(b"owned").digest
    manifest = local_store.put_bytes(_manifest(bad_path, digest)).digest
    before = snapshot(tmp_path)
    dest = tmp_path / "work" / "dest"
    with pytest.raises(UnsafePathError) as err:
        local_store.checkout_tree(manifest, dest)
    assert repr(bad_path) in err.value.message
    assert "relative" in err.value.hint
    assert snapshot(tmp_path) == before
    assert not dest.exists()
    with pytest.raises(UnsafePathError):
        Tree.from_bytes(_manifest(bad_path, digest))


def test_checkout_refuses_to_write_through_a_symlinked_folder(local_store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    digest = local_store.put_bytes(b"owned").digest
    tree = Tree({"sub/file.txt": TreeEntry(digest, 5)})
    manifest = local_store.put_bytes(tree.to_bytes()).digest
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(outside)
    with pytest.raises(ObjectStoreError, match="symlink"):
        local_store.checkout_tree(manifest, dest)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (b"not json", "malformed"),
        (b'{"format": "other", "files": []}', "format"),
        (b'{"format": "shipyard.tree/1", "files": [{"path": "a"}]}', "malformed"),
        (
            b'{"format": "shipyard.tree/1", "files": [{"path": "a", "digest": "md5:1",'
            b' "size": 1, "mode": 420}]}',
            "not a digest",
        ),
    ],
)
def test_malformed_manifest_is_a_clear_error(doc, problem):
    with pytest.raises(ObjectStoreError, match=problem) as err:
        Tree.from_bytes(doc)
    assert "store the folder again" in err.value.hint


def test_a_path_that_is_both_file_and_folder_is_refused():
    entry = TreeEntry(hash_bytes(b"x"), 1)
    with pytest.raises(UnsafePathError, match="both a file and a folder"):
        Tree({"a": entry, "a/b": entry})


def test_symlink_pointing_outside_the_folder_is_refused(local_store, tmp_path):
    folder = make_folder(tmp_path / "data")
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (folder / "train" / "leak.txt").symlink_to(secret)
    with pytest.raises(UnsafePathError) as err:
        local_store.put_tree(folder)
    assert "leak.txt" in err.value.message
    assert "outside the folder" in err.value.message
    assert list(local_store.list()) == []


def test_symlink_to_a_file_inside_is_stored_as_that_file(local_store, tmp_path):
    folder = make_folder(tmp_path / "data")
    (folder / "latest.csv").symlink_to(folder / "train" / "a.csv")
    info = local_store.put_tree(folder)
    dest = tmp_path / "restored"
    local_store.checkout_tree(info.digest, dest)
    assert not (dest / "latest.csv").is_symlink()
    assert (dest / "latest.csv").read_bytes() == b"x,y\n1,2\n"


@pytest.mark.parametrize("target", ["folder", "dangling"])
def test_symlinked_folders_and_dangling_links_are_refused(tmp_path, target):
    folder = make_folder(tmp_path / "data")
    link = folder / "link"
    link.symlink_to(folder / "train" if target == "folder" else folder / "missing")
    with pytest.raises(UnsafePathError, match="link"):
        build_tree(folder)


def test_build_tree_of_a_missing_folder_names_it(tmp_path):
    with pytest.raises(ObjectStoreError, match="not a folder") as err:
        build_tree(tmp_path / "nope")
    assert "nope" in err.value.message


def test_tree_digest_matches_put_tree_and_follows_every_change(tmp_path, monkeypatch):
    from shipyard.objects import ObjectStore, StatCache, _tree, tree_digest

    folder = tmp_path / "parts"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("a,b\n1,2\n")
    (folder / "sub" / "b.csv").write_text("x\n")
    for path in (folder / "a.csv", folder / "sub" / "b.csv"):  # settled: not "racy"
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 10**10))
    cache = StatCache(tmp_path / "stat.db")
    first = tree_digest(folder, stat_cache=cache)
    assert first == ObjectStore(tmp_path / "objects").put_tree(folder).digest
    assert first == tree_digest(folder)  # the same without a cache

    # Unchanged: answered from the folder's record, nothing is scanned or hashed.
    monkeypatch.setattr(_tree, "scan_tree", lambda *a, **k: pytest.fail("scanned again"))
    assert tree_digest(folder, stat_cache=cache) == first
    monkeypatch.undo()

    (folder / "sub" / "b.csv").write_text("changed\n")
    changed = tree_digest(folder, stat_cache=cache)
    (folder / "c.csv").write_text("")
    added = tree_digest(folder, stat_cache=cache)
    (folder / "c.csv").chmod(0o755)
    executable = tree_digest(folder, stat_cache=cache)
    assert len({first, changed, added, executable}) == 4
