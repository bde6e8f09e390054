"""One suite for the object store, run against every backend (local, memory://, s3://)."""

from __future__ import annotations

import io
import os
import stat

import pytest

from shipyard.errors import CorruptObjectError, ObjectNotFoundError, ObjectStoreError
from shipyard.objects import Digest, ObjectStore, hash_bytes


def test_put_bytes_then_read_exists_list_delete(backend):
    store = backend.store()
    info = store.put_bytes(b"hello")
    assert info.digest == hash_bytes(b"hello")
    assert info.size == 5
    assert store.exists(info.digest)
    assert store.read_bytes(info.digest) == b"hello"
    assert list(store.list()) == [info.digest]
    assert store.delete(info.digest) is True
    assert not store.exists(info.digest)
    assert store.delete(info.digest) is False
    assert list(store.list()) == []


def test_layout_is_two_hex_folder_then_the_rest(backend):
    store = backend.store()
    digest = store.put_bytes(b"layout").digest
    head, tail = digest.path_parts
    assert store.location(digest).endswith(f"/{head}/{tail}")
    root = backend.url.split("://")[-1]
    assert store.location(digest).endswith(f"{root}/{head}/{tail}")


def test_putting_an_existing_object_changes_nothing(backend):
    store = backend.store()
    first = store.put_bytes(b"same bytes")
    second = store.put_bytes(b"same bytes")
    third = store.put_stream(io.BytesIO(b"same bytes"))
    assert first == second == third
    assert list(store.list()) == [first.digest]


def test_empty_object_round_trips(backend):
    store = backend.store()
    info = store.put_bytes(b"")
    assert info.size == 0
    assert store.read_bytes(info.digest) == b""
    assert store.verify(info.digest)


def test_put_stream_of_several_chunks_matches_put_bytes(backend):
    store = backend.store()
    data = os.urandom((1 << 20) * 3 + 17)
    info = store.put_stream(io.BytesIO(data))
    assert info.digest == hash_bytes(data)
    assert info.size == len(data)
    assert store.read_bytes(info.digest) == data


@pytest.mark.parametrize("link", [True, False])
def test_put_file_then_get_file(backend, tmp_path, link):
    store = backend.store()
    source = tmp_path / "model.bin"
    data = os.urandom(300_000)
    source.write_bytes(data)
    info = store.put_file(source)
    assert info.size == len(data)
    dest = store.get_file(info.digest, tmp_path / "out" / "model.bin", link=link)
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["model.bin"]  # no temp left behind
    if backend.kind == "local":
        assert stat.S_IMODE(os.stat(store.location(info.digest)).st_mode) == 0o444
        if not link:
            assert os.stat(dest).st_ino != os.stat(store.location(info.digest)).st_ino


def test_get_file_replaces_an_existing_file_whole(backend, tmp_path):
    store = backend.store()
    digest = store.put_bytes(b"new content").digest
    dest = tmp_path / "data.csv"
    dest.write_bytes(b"old content that is longer")
    store.get_file(digest, dest, link=False)
    assert dest.read_bytes() == b"new content"


def test_missing_object_names_the_digest_and_the_store(backend, tmp_path):
    store = backend.store()
    digest = hash_bytes(b"never stored")
    for action in (
        lambda: store.open(digest),
        lambda: store.get_file(digest, tmp_path / "x"),
        lambda: store.verify(digest),
    ):
        with pytest.raises(ObjectNotFoundError) as err:
            action()
        assert str(digest) in err.value.message
        assert "stored again" in err.value.hint
    assert not (tmp_path / "x").exists()


def test_list_skips_temp_and_foreign_files(backend):
    store = backend.store()
    digest = store.put_bytes(b"real").digest
    backend.plant(f"{digest.hex[:2]}/.put.abcdef.partial", b"half")
    backend.plant(".put.123.partial", b"half")
    backend.plant("README", b"not an object")
    backend.plant("zz/not-hex", b"x")
    assert list(store.list()) == [digest]
    assert store.verify_all().ok


def test_corrupt_object_is_reported_and_never_repaired(backend, tmp_path):
    store = backend.store()
    good = store.put_bytes(b"good bytes").digest
    bad = store.put_bytes(b"original bytes").digest
    backend.overwrite(store, bad, b"rotten bytes!!")

    assert store.verify(good)
    assert not store.verify(bad)
    report = store.verify_all()
    assert report.checked == 2
    assert report.corrupt == (bad,)
    assert not report.ok

    checked = backend.store(verify_on_read=True)
    with pytest.raises(CorruptObjectError) as err:
        checked.read_bytes(bad)
    assert str(bad) in err.value.message
    assert store.location(bad) in err.value.message
    assert "verify" in err.value.hint
    assert checked.read_bytes(good) == b"good bytes"

    dest = tmp_path / "kept.bin"
    dest.write_bytes(b"previous version")
    with pytest.raises(CorruptObjectError):
        checked.get_file(bad, dest)
    assert dest.read_bytes() == b"previous version"
    # The corrupt object stays where it is for the user to inspect and re-fetch.
    assert store.exists(bad)
    assert store.read_bytes(bad) == b"rotten bytes!!"


def test_verify_all_reports_progress(backend):
    store = backend.store()
    for i in range(3):
        store.put_bytes(b"x" * (i + 1))
    seen = []
    report = store.verify_all(progress=lambda files, size: seen.append((files, size)))
    assert report.checked == 3
    assert sorted(seen) == [(1, 1), (1, 2), (1, 3)]


def test_put_file_of_a_missing_path_names_it(backend, tmp_path):
    store = backend.store()
    with pytest.raises(ObjectStoreError) as err:
        store.put_file(tmp_path / "nope.csv")
    assert "nope.csv" in err.value.message
    with pytest.raises(ObjectStoreError, match="not a regular file"):
        store.put_file(tmp_path)


def test_store_accepts_path_objects_and_file_urls(tmp_path):
    by_path = ObjectStore(tmp_path / "objects")
    by_url = ObjectStore(f"file://{tmp_path / 'objects'}")
    digest = by_path.put_bytes(b"shared").digest
    assert by_url.read_bytes(digest) == b"shared"
    assert by_url.local_path(digest) == by_path.local_path(digest)


def test_unknown_protocol_is_a_clear_error():
    with pytest.raises(ObjectStoreError) as err:
        ObjectStore("nosuchproto://bucket/objects")
    assert "nosuchproto://" in err.value.message
    assert "s3://" in err.value.hint


def test_digest_objects_are_required_not_strings(local_store):
    with pytest.raises(ObjectStoreError, match="not a digest"):
        Digest.parse("blake3:xyz")
    assert not local_store.exists(hash_bytes(b"absent"))
