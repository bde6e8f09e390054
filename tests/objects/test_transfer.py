"""Transfers between stores, into every backend: only missing objects, retries, verify,
and no partial object after an interrupted transfer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.objects.conftest import BUCKET
from tests.objects.flaky import FlakyFileSystem

from shipyard.errors import RemoteError
from shipyard.objects import ObjectStore, transfer
from shipyard.objects import _transfer as transfer_module

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    # Real sleeps, just shorter: the backoff schedule itself is not under test here.
    monkeypatch.setattr(transfer_module, "BACKOFF_S", 0.01)
    FlakyFileSystem.failures = 0


def fill(store: ObjectStore, count: int, size: int = 20_000) -> list:
    return [store.put_bytes(os.urandom(size) + bytes([i])).digest for i in range(count)]


def test_transfer_copies_only_what_is_missing(backend, local_store):
    digests = fill(local_store, 6)
    target = backend.store()
    target.put_bytes(local_store.read_bytes(digests[0]))
    seen = []
    report = transfer(local_store, target, digests, jobs=3, progress=lambda f, b: seen.append(b))
    assert (report.copied, report.skipped, report.ok) == (5, 1, True)
    assert report.bytes == 5 * 20_001
    assert len(seen) == 6
    assert sum(seen) == report.bytes
    assert sorted(target.list()) == sorted(digests)
    assert target.verify_all().ok

    again = transfer(local_store, target, digests)
    assert (again.copied, again.skipped, again.bytes) == (0, 6, 0)


def test_pull_back_from_a_remote_with_verify(backend, tmp_path):
    remote = backend.store()
    digests = fill(remote, 3)
    local = ObjectStore(tmp_path / "pulled")
    report = transfer(remote, local, digests, verify=True)
    assert report.copied == 3
    assert local.verify_all().ok


def test_verify_refuses_corrupt_bytes_and_keeps_nothing(backend, tmp_path):
    source = backend.store()
    good, bad = fill(source, 2)
    backend.overwrite(source, bad, b"corrupted on the remote")
    target = ObjectStore(tmp_path / "target")
    report = transfer(source, target, [good, bad], verify=True)
    assert report.copied == 1
    assert list(report.failed) == [bad]
    assert "hash to" in report.failed[bad]
    assert list(target.list()) == [good]
    # Nothing of the bad object, not even a temp file (the good one may share its folder).
    left = {p.name for p in target.local_path(bad).parent.iterdir()}
    assert left <= {target.local_path(good).name} - {target.local_path(bad).name}
    with pytest.raises(RemoteError) as err:
        report.check()
    assert str(bad) in err.value.message
    assert "again" in err.value.hint


@pytest.mark.parametrize("size", [1000, 12 << 20])
def test_verify_keeps_nothing_of_a_corrupt_object_in_any_target(backend, tmp_path, size):
    source = ObjectStore(tmp_path / "source")
    (bad,) = fill(source, 1, size=size)
    path = source.local_path(bad)
    path.chmod(0o644)
    path.write_bytes(b"\0" * (size + 1))
    target = backend.store()
    report = transfer(source, target, [bad], verify=True)
    assert list(report.failed) == [bad]
    assert list(target.list()) == []
    assert not target.exists(bad)


def test_a_broken_read_is_retried(tmp_path):
    plain = ObjectStore(tmp_path / "remote")
    digests = fill(plain, 2, size=50_000)
    flaky = ObjectStore(f"flakyfs://{tmp_path / 'remote'}")
    FlakyFileSystem.failures = 2
    target = ObjectStore(tmp_path / "target")
    report = transfer(flaky, target, digests, jobs=1, retries=3)
    assert (report.copied, report.ok) == (2, True)
    assert target.verify_all().ok


def test_an_interrupted_transfer_leaves_no_partial_object_and_resumes(tmp_path):
    plain = ObjectStore(tmp_path / "remote")
    digests = fill(plain, 4, size=50_000)
    flaky = ObjectStore(f"flakyfs://{tmp_path / 'remote'}")
    FlakyFileSystem.failures = 10**6  # every read breaks half-way, every retry too
    target = ObjectStore(tmp_path / "target")
    report = transfer(flaky, target, digests[:2], jobs=2, retries=1)
    assert report.copied == 0
    assert sorted(report.failed) == sorted(digests[:2])
    assert "Connection reset" in next(iter(report.failed.values()))
    assert list(target.list()) == []
    assert [p for p in (tmp_path / "target").rglob("*") if p.is_file()] == []

    FlakyFileSystem.failures = 0
    resumed = transfer(flaky, target, digests)
    assert (resumed.copied, resumed.skipped, resumed.ok) == (4, 0, True)
    assert target.verify_all().ok


def test_an_object_missing_from_the_source_fails_without_retries(tmp_path):
    source = ObjectStore(tmp_path / "source")
    (gone,) = fill(source, 1)
    source.delete(gone)
    remote = ObjectStore(f"memory://transfer-missing-{os.getpid()}")
    report = transfer(source, remote, [gone], retries=5)
    assert list(report.failed) == [gone]
    assert "not in" in report.failed[gone]


PUSH = """
import sys
from tests.objects.flaky import FlakyFileSystem
from shipyard.objects import ObjectStore, transfer

FlakyFileSystem.delay = 0.05
source, target = ObjectStore("flakyfs://" + sys.argv[1]), ObjectStore(sys.argv[2])
transfer(source, target, list(ObjectStore(sys.argv[1]).list()), jobs=2)
"""


def test_sigkill_in_the_middle_of_a_push_leaves_no_partial_object(tmp_path):
    source = ObjectStore(tmp_path / "source")
    digests = fill(source, 3, size=16 << 20)
    target_root = tmp_path / "remote"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    child = subprocess.Popen(
        [sys.executable, "-c", PUSH, str(tmp_path / "source"), str(target_root)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size for p in target_root.rglob(".*.partial")):
            assert child.poll() is None, "the push finished or failed before it was killed"
            assert time.monotonic() < deadline, "the push never started writing"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)

    target = ObjectStore(target_root)
    assert target.verify_all().ok  # whatever is listed is whole
    resumed = transfer(source, target, digests)
    assert resumed.ok
    assert resumed.copied + resumed.skipped == 3
    assert resumed.copied >= 1
    assert sorted(target.list()) == sorted(digests)
    assert target.verify_all().ok


def test_a_refused_multipart_upload_to_s3_is_aborted(tmp_path, request):
    endpoint = request.getfixturevalue("s3_endpoint")
    import boto3

    source = ObjectStore(tmp_path / "source")
    (bad,) = fill(source, 1, size=60 << 20)  # above s3fs's 50 MiB block: a multipart upload
    path = source.local_path(bad)
    path.chmod(0o644)
    path.write_bytes(b"\0" * (60 << 20))
    target = ObjectStore(f"s3://{BUCKET}/mpu", storage_options={"endpoint_url": endpoint})
    report = transfer(source, target, [bad], verify=True)
    assert list(report.failed) == [bad]
    assert list(target.list()) == []
    client = boto3.client("s3", endpoint_url=endpoint)
    assert not client.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
