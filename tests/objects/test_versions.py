"""The version index: versions are recorded once per change, resolved by id, prefix or tag."""

from __future__ import annotations

import json
import threading
from datetime import UTC

import pytest

from shipyard.errors import DatasetError, ObjectStoreError, VersionNotFoundError
from shipyard.ids import ID_PATTERN, new_id
from shipyard.objects import DataVersion, VersionIndex, hash_bytes
from shipyard.runner import new_run_id


@pytest.fixture
def index(tmp_path) -> VersionIndex:
    return VersionIndex(tmp_path / ".shipyard" / "versions.db")


def digest(n: int):
    return hash_bytes(f"content {n}".encode())


def test_ids_sort_by_time_and_the_runner_keeps_its_name():
    ids = [new_id() for _ in range(500)]
    assert ids == sorted(ids) and len(set(ids)) == 500
    assert all(ID_PATTERN.fullmatch(i) for i in ids)
    assert new_run_id() > ids[-1]


def test_record_and_list_newest_first(index):
    first = index.record("customers", digest(1), 10, "file", run_id="run-1")
    second = index.record("customers", digest(2), 20, "file")
    index.record("orders", digest(3), 30, "tree")
    assert [v.id for v in index.versions("customers")] == [second.id, first.id]
    assert index.latest("customers") == second
    assert index.latest("nobody") is None and index.versions("nobody") == []
    assert first.run_id == "run-1" and first.size == 10 and first.kind == "file"
    assert first.created_at.tzinfo is not None and first.created_at.utcoffset() == UTC.utcoffset(
        None
    )
    assert index.datasets() == ["customers", "orders"]


def test_recording_the_latest_content_again_returns_that_version(index):
    first = index.record("customers", digest(1), 10, "file")
    assert index.record("customers", digest(1), 10, "file") == first
    second = index.record("customers", digest(2), 10, "file")
    back = index.record("customers", digest(1), 10, "file")  # back to old bytes: a new version
    assert len({first.id, second.id, back.id}) == 3
    assert index.find("customers", digest(1)) == back
    assert index.find("customers", digest(9)) is None
    assert index.find("orders", digest(1)) is None


def test_ref_and_to_dict_are_json(index):
    version = index.record("customers", digest(1), 10, "file")
    index.tag("customers", version.id, "q3-audit")
    tagged = index.resolve("customers", "q3-audit")
    assert tagged.ref == f"data:customers@{version.id}"
    doc = json.loads(json.dumps(tagged.to_dict()))
    assert doc["digest"] == str(digest(1)) and doc["tags"] == ["q3-audit"]
    assert doc["ref"] == tagged.ref and doc["kind"] == "file" and doc["run_id"] is None
    assert isinstance(tagged, DataVersion)


def test_resolve_by_id_prefix_tag_and_latest(index):
    first = index.record("customers", digest(1), 10, "file")
    second = index.record("customers", digest(2), 10, "file")
    index.tag("customers", first.id, "v1.0")
    assert index.resolve("customers", first.id) == index.resolve("customers", "v1.0")
    assert index.resolve("customers", "latest").id == second.id
    others = [v.id for v in index.versions("customers")]
    unique = next(n for n in range(4, 27) if sum(o.startswith(second.id[:n]) for o in others) == 1)
    assert index.resolve("customers", second.id[:unique]).id == second.id


def test_ambiguous_prefix_lists_the_matches(index):
    versions = [index.record("customers", digest(n), 1, "file") for n in range(3)]
    ids = [v.id for v in versions]
    prefix = ids[0][: next(n for n in range(27) if len({i[:n] for i in ids}) > 1) - 1]
    assert len(prefix) >= 4  # made within the same second
    with pytest.raises(VersionNotFoundError) as info:
        index.resolve("customers", prefix[:4])
    assert "start of 3 versions of dataset 'customers'" in info.value.message
    assert all(v.id in info.value.message for v in versions)
    assert "more characters" in info.value.hint


def test_unknown_ref_lists_the_nearest(index):
    versions = [index.record("customers", digest(n), 1, "file") for n in range(5)]
    index.tag("customers", versions[0].id, "q3-audit")
    with pytest.raises(VersionNotFoundError) as info:
        index.resolve("customers", "q3-audti")
    message = info.value.message
    assert "Dataset 'customers' has no version or tag 'q3-audti'." in message
    assert "Did you mean 'q3-audit'?" in message
    newest = [v.id for v in reversed(versions)][:3]
    assert f"Newest versions: {', '.join(newest)}." in message
    assert versions[0].id not in message.split("Newest versions:")[1].split("Tags:")[0]
    assert info.value.hint == "List the versions and tags with `shipyard data versions customers`."
    with pytest.raises(VersionNotFoundError, match="no version or tag 'abc'"):
        index.resolve("customers", "abc")  # too short to be a prefix


def test_no_versions_yet_is_said(index):
    with pytest.raises(VersionNotFoundError, match="'customers' has no recorded versions yet"):
        index.resolve("customers", "latest")
    with pytest.raises(VersionNotFoundError, match="It has no recorded versions yet"):
        index.resolve("customers", "q3")


def test_tag_on_another_version_needs_move(index):
    first = index.record("customers", digest(1), 1, "file")
    second = index.record("customers", digest(2), 1, "file")
    index.tag("customers", first.id, "prod")
    with pytest.raises(DatasetError) as info:
        index.tag("customers", second.id, "prod")
    assert f"Tag 'prod' of dataset 'customers' is already on version {first.id}" in (
        info.value.message
    )
    assert "--move" in info.value.hint
    assert index.resolve("customers", "prod").id == first.id  # unchanged
    assert index.tag("customers", first.id, "prod").tags == ("prod",)  # same version: fine
    moved = index.tag("customers", second.id, "prod", move=True)
    assert moved.id == second.id and moved.tags == ("prod",)
    assert index.resolve("customers", first.id).tags == ()


@pytest.mark.parametrize(
    "bad", ["", "has space", "a/b", "latest", "x" * 129, "01jd6w3c5rk0b8x3z5m2n7q4tv"]
)
def test_bad_tag_names_are_refused(index, bad):
    version = index.record("customers", digest(1), 1, "file")
    with pytest.raises(DatasetError) as info:
        index.tag("customers", version.id, bad)
    assert "cannot be a tag of dataset 'customers'" in info.value.message
    assert "letters, digits" in info.value.hint
    assert index.resolve("customers", version.id).tags == ()


def test_untag(index):
    version = index.record("customers", digest(1), 1, "file")
    index.tag("customers", version.id, "a")
    index.tag("customers", version.id, "b")
    assert index.untag("customers", "a").tags == ("b",)
    with pytest.raises(VersionNotFoundError) as info:
        index.untag("customers", "a")
    assert info.value.message == "Dataset 'customers' has no tag 'a'. Its tags: b."
    assert "shipyard data versions customers" in info.value.hint


def test_digests_gc_keeps(index):
    old = index.record("customers", digest(1), 1, "file")
    mid = index.record("customers", digest(2), 1, "file")
    new = index.record("customers", digest(3), 1, "file")
    orders = index.record("orders", digest(4), 1, "tree")
    index.tag("customers", old.id, "audit")
    assert index.digests() == {digest(n) for n in range(1, 5)}
    assert index.digests(tagged_only=True) == {old.digest}
    assert index.digests(keep_last=1) == {old.digest, new.digest, orders.digest}
    assert index.digests(keep_last=2, tagged_only=True) == {
        old.digest,
        mid.digest,
        new.digest,
        orders.digest,
    }


def test_threads_and_connections_share_the_file(index, tmp_path):
    def save(worker: int) -> None:
        other = VersionIndex(index.path)
        for n in range(20):
            other.record("customers", digest(worker * 100 + n), n, "file")

    threads = [threading.Thread(target=save, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = index.versions("customers")
    assert len(versions) == 80
    assert [v.created_at for v in versions] == sorted(
        (v.created_at for v in versions), reverse=True
    )


def test_a_damaged_index_is_a_clear_error(tmp_path):
    path = tmp_path / "versions.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ObjectStoreError) as info:
        VersionIndex(path)
    assert str(path) in info.value.message
    assert "backup" in info.value.hint
