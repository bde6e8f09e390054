"""The working copy of a versioned dataset against its versions: status, checkout, add."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import shipyard.objects._tree as tree_module
from shipyard.data import Catalog, VersionedDataset, Versioning, WorkingState
from shipyard.errors import DatasetError, ObjectNotFoundError, VersionNotFoundError
from shipyard.objects import build_tree, hash_bytes

ENTRIES = {
    "notes": {"type": "text", "filepath": "data/notes.txt", "versioned": True},
    "days": {
        "type": "partitioned",
        "path": "data/days",
        "dataset": "text",
        "filename_suffix": ".txt",
        "versioned": True,
    },
}


@pytest.fixture
def catalog(root: Path) -> Catalog:
    return Catalog.from_config(
        ENTRIES, project_root=root, versioning=Versioning.open(root / ".shipyard")
    )


def dataset(catalog: Catalog, name: str) -> VersionedDataset:
    found = catalog.get(name)
    assert isinstance(found, VersionedDataset)
    return found


def test_every_state_of_a_file(catalog, root):
    notes = dataset(catalog, "notes")
    working = root / "data/notes.txt"
    empty = notes.status()
    assert (empty.state, empty.digest, empty.latest, empty.matches) == ("empty", None, None, None)

    working.parent.mkdir()
    working.write_text("first")
    new = notes.status()
    assert new.state == "new" and new.digest == hash_bytes(b"first") and new.latest is None

    v1 = notes.add()
    assert v1 is not None and v1.digest == hash_bytes(b"first")
    unchanged = notes.status()
    assert unchanged.state == "unchanged" and unchanged.latest == unchanged.matches == v1

    working.write_text("second")
    modified = notes.status()
    assert modified.state == "modified" and modified.matches is None
    assert modified.latest == v1 and modified.digest == hash_bytes(b"second")

    v2 = notes.add()
    assert v2 is not None and v2.id != v1.id
    working.write_text("first")  # back to the older content, by hand
    older = notes.status()
    assert older.state == "modified" and older.latest == v2 and older.matches == v1

    working.unlink()
    missing = notes.status()
    assert missing.state == "missing" and missing.digest is None and missing.latest == v2
    assert notes.add() is None  # nothing to record


def test_working_state_to_dict_has_plain_json_types(catalog, root):
    notes = dataset(catalog, "notes")
    (root / "data").mkdir()
    (root / "data/notes.txt").write_text("a")
    version = notes.add()
    (root / "data/notes.txt").write_text("b")
    state = notes.status()
    assert isinstance(state, WorkingState)
    doc = json.loads(json.dumps(state.to_dict()))
    assert doc == {
        "dataset": "notes",
        "path": "data/notes.txt",
        "state": "modified",
        "digest": str(hash_bytes(b"b")),
        "latest": version.to_dict(),
        "matches": None,
    }


def test_folder_digest_is_the_digest_of_its_tree_manifest(catalog, root):
    days = dataset(catalog, "days")
    catalog.save("days", {"mon": "1", "tue": "2"})
    folder = root / "data/days"
    expected = hash_bytes(build_tree(folder).to_bytes())
    assert days.working_digest() == expected == catalog.version_of("days").digest
    assert days.status().state == "unchanged"
    (folder / "wed.txt").write_text("3")
    assert days.status().state == "modified"


def test_working_digest_stores_nothing(catalog, root):
    (root / "data").mkdir()
    (root / "data/notes.txt").write_text("not stored")
    assert dataset(catalog, "notes").working_digest() == hash_bytes(b"not stored")
    objects = root / ".shipyard/objects"
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))


def test_status_answers_unchanged_files_from_the_stat_cache(catalog, root, monkeypatch):
    catalog.save("days", {f"p{i}": str(i) for i in range(20)})
    days = dataset(catalog, "days")
    hashed: list[str] = []
    real = tree_module.hash_file
    monkeypatch.setattr(tree_module, "hash_file", lambda p: hashed.append(p) or real(p))
    assert days.status().state == "unchanged"
    assert hashed == []  # nothing was read: every file matched its recorded stat
    changed = root / "data/days/p3.txt"
    changed.write_text("changed")
    st = changed.stat()  # an edit ten seconds ago: settled, so its stat can be trusted
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns - 10**10))
    assert days.status().state == "modified"
    assert hashed == [str(root.resolve() / "data/days/p3.txt")]  # only the changed file
    assert days.status().state == "modified"
    assert len(hashed) == 1  # and its new stat was recorded


def test_checkout_an_older_version_by_id_and_by_tag(catalog, root):
    notes = dataset(catalog, "notes")
    working = root / "data/notes.txt"
    catalog.save("notes", "v1")
    v1 = catalog.version_of("notes")
    catalog.save("notes", "v2")
    v2 = catalog.version_of("notes")
    Versioning.open(root / ".shipyard").index.tag("notes", v1.id, "first")

    assert notes.checkout(v1.id).id == v1.id
    assert working.read_text() == "v1"
    state = notes.status()
    assert state.state == "modified" and state.latest == v2
    assert state.matches is not None and state.matches.id == v1.id
    assert state.matches.tags == ("first",)
    assert notes.checkout() == v2 and working.read_text() == "v2"
    assert notes.checkout("first").id == v1.id and working.read_text() == "v1"
    assert [v.id for v in Versioning.open(root / ".shipyard").index.versions("notes")] == [
        v2.id,
        v1.id,
    ]  # checking out records nothing


def test_checkout_when_already_there_changes_nothing(catalog, root):
    catalog.save("notes", "same")
    working = root / "data/notes.txt"
    inode = working.stat().st_ino
    assert dataset(catalog, "notes").checkout() == catalog.version_of("notes")
    assert working.stat().st_ino == inode


def test_checkout_refuses_unrecorded_changes_and_keeps_them(catalog, root):
    catalog.save("notes", "recorded")
    working = root / "data/notes.txt"
    working.write_text("precious edits")
    with pytest.raises(DatasetError) as caught:
        dataset(catalog, "notes").checkout()
    error = caught.value
    assert "'notes'" in error.message and "data/notes.txt" in error.message
    assert "shipyard data add notes" in error.hint and "--force" in error.hint
    assert working.read_text() == "precious edits"


def test_checkout_force_discards_unrecorded_changes(catalog, root):
    catalog.save("notes", "recorded")
    working = root / "data/notes.txt"
    working.write_text("throw away")
    dataset(catalog, "notes").checkout(force=True)
    assert working.read_text() == "recorded"
    assert dataset(catalog, "notes").status().state == "unchanged"


def test_checkout_restores_a_missing_working_copy(catalog, root):
    catalog.save("notes", "kept")
    (root / "data/notes.txt").unlink()
    dataset(catalog, "notes").checkout()
    assert (root / "data/notes.txt").read_text() == "kept"


def test_folder_checkout_removes_files_the_version_lacks(catalog, root):
    catalog.save("days", {"mon": "1", "tue": "2"})
    first = catalog.version_of("days")
    catalog.save("days", {"wed": "3", "mon": "one"})  # partitions add to the folder
    folder = root / "data/days"
    assert sorted(p.name for p in folder.iterdir()) == ["mon.txt", "tue.txt", "wed.txt"]

    dataset(catalog, "days").checkout(first.id)
    assert sorted(p.name for p in folder.iterdir()) == ["mon.txt", "tue.txt"]
    assert (folder / "mon.txt").read_text() == "1"
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp left
    assert dataset(catalog, "days").status().matches == first
    # Folder files are copies, not links to the read-only objects: a partition save can
    # write into them without touching the store.
    assert all(os.stat(p).st_nlink == 1 for p in folder.iterdir())
    assert stat.S_IMODE((folder / "mon.txt").stat().st_mode) & stat.S_IWUSR


def test_folder_checkout_refuses_an_unrecorded_extra_file(catalog, root):
    catalog.save("days", {"mon": "1"})
    extra = root / "data/days/notes.txt"
    extra.write_text("mine")
    with pytest.raises(DatasetError, match="not recorded as a version"):
        dataset(catalog, "days").checkout()
    assert extra.read_text() == "mine"


def test_checkout_of_a_version_without_its_object_says_pull(catalog, root):
    catalog.save("notes", "v1")
    v1 = catalog.version_of("notes")
    catalog.save("notes", "v2")
    obj = root / ".shipyard/objects" / v1.digest.key
    obj.unlink()
    with pytest.raises(ObjectNotFoundError) as caught:
        dataset(catalog, "notes").checkout(v1.id)
    assert v1.id in caught.value.message and "shipyard data pull" in caught.value.hint
    assert (root / "data/notes.txt").read_text() == "v2"  # working copy untouched


def test_checkout_of_an_unknown_ref_lists_the_nearest(catalog, root):
    catalog.save("notes", "v1")
    Versioning.open(root / ".shipyard").index.tag("notes", "latest", "baseline")
    with pytest.raises(VersionNotFoundError) as caught:
        dataset(catalog, "notes").checkout("baselin")
    assert "baselin" in caught.value.message and "baseline" in caught.value.message
    assert (root / "data/notes.txt").read_text() == "v1"


def test_checkout_without_any_version_says_add(catalog, root):
    with pytest.raises(VersionNotFoundError) as caught:
        dataset(catalog, "notes").checkout()
    assert "no recorded version" in caught.value.message
    assert "shipyard data add notes" in caught.value.hint


def test_checkout_refuses_a_version_of_another_dataset(catalog, root):
    catalog.save("days", {"mon": "1"})
    with pytest.raises(DatasetError, match="belongs to dataset 'days'"):
        dataset(catalog, "notes").checkout(catalog.version_of("days"))


def test_add_then_status_is_clean(catalog, root):
    folder = root / "data/days"
    folder.mkdir(parents=True)
    for day in ("mon", "tue"):
        (folder / f"{day}.txt").write_text(day)
    days = dataset(catalog, "days")
    assert days.status().state == "new"
    version = days.add()
    assert version is not None and version.kind == "tree"
    assert days.status().state == "unchanged"
    assert days.add() == version  # same content: no second version
    assert catalog.load("days")["mon"]() == "mon"
