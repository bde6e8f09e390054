"""Faults on a real disk: a put killed half-way, a full disk, two writers of one object."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.objects.flaky import FullFileSystem

from shipyard.errors import ObjectStoreError
from shipyard.objects import ObjectStore, hash_bytes

REPO = Path(__file__).resolve().parents[2]

# A child that puts a 400 MiB stream that trickles in (4 MiB every 20 ms), so the parent
# can kill it while the temp file is growing.
SLOW_PUT = """
import io, sys, time
from shipyard.objects import ObjectStore

class Trickle(io.RawIOBase):
    def __init__(self):
        self.left = 400 << 20
    def readable(self):
        return True
    def readinto(self, buffer):
        if not self.left:
            return 0
        n = min(len(buffer), self.left, 4 << 20)
        buffer[:n] = b"x" * n
        self.left -= n
        time.sleep(0.02)
        return n

ObjectStore(sys.argv[1]).put_stream(io.BufferedReader(Trickle(), 4 << 20))
"""


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return env


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.partial") if p.is_file()]


def test_sigkill_in_the_middle_of_a_put_leaves_no_partial_object(tmp_path):
    root = tmp_path / "objects"
    store = ObjectStore(root)
    kept = store.put_bytes(b"previous version").digest
    child = subprocess.Popen([sys.executable, "-c", SLOW_PUT, str(root)], env=_child_env())
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 8 << 20 for p in _temp_files(root)):
            assert child.poll() is None, "the child finished or failed before it was killed"
            assert time.monotonic() < deadline, "the child never started writing"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert list(store.list()) == [kept]
    report = store.verify_all()
    assert (report.checked, report.ok) == (1, True)
    assert store.read_bytes(kept) == b"previous version"
    info = store.put_bytes(b"x" * 1000)
    assert store.verify(info.digest)
    assert sorted(store.list()) == sorted([kept, info.digest])


TWO_WRITERS = """
import io, sys, time
from shipyard.objects import ObjectStore

class Slow(io.RawIOBase):
    def __init__(self):
        self.left = 32 << 20
    def readable(self):
        return True
    def readinto(self, buffer):
        if not self.left:
            return 0
        n = min(len(buffer), self.left, 1 << 20)
        buffer[:n] = bytes([self.left % 251]) * n
        self.left -= n
        time.sleep(0.005)
        return n

print(ObjectStore(sys.argv[1]).put_stream(io.BufferedReader(Slow(), 1 << 20)).digest)
"""


def test_two_processes_putting_the_same_object_leave_one_intact_object(tmp_path):
    root = tmp_path / "objects"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_WRITERS, str(root)],
            env=_child_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs[0] == outputs[1]
    store = ObjectStore(root)
    assert [str(d) for d in store.list()] == [outputs[0]]
    assert store.verify_all().ok
    assert _temp_files(root) == []


@pytest.mark.parametrize("size", [50_000, 3_000_000])
def test_disk_full_is_a_clear_error_and_keeps_nothing_partial(tmp_path, size):
    root = tmp_path / "objects"
    ObjectStore(root).put_bytes(b"already stored")
    store = ObjectStore(f"fullfs://{root}")
    FullFileSystem.room = 10_000
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(size))
    for put in (lambda: store.put_file(source), lambda: store.put_bytes(source.read_bytes())):
        with pytest.raises(ObjectStoreError) as err:
            put()
        assert "No space left on device" in err.value.message
        assert str(root) in err.value.message
        assert "Free space" in err.value.hint
    plain = ObjectStore(root)
    assert list(plain.list()) == [hash_bytes(b"already stored")]
    assert plain.verify_all().ok
    assert _temp_files(root) == []


def test_object_files_are_read_only_and_a_changed_source_is_refused(tmp_path):
    store = ObjectStore(tmp_path / "objects")
    source = tmp_path / "a.bin"
    source.write_bytes(b"version one")
    before = source.stat()
    digest = hash_bytes(b"version one")
    time.sleep(0.01)
    source.write_bytes(b"version two, longer")
    with pytest.raises(ObjectStoreError, match="changed while it was being stored") as err:
        store.put_hashed_file(source, digest, before)
    assert "again" in err.value.hint
    assert list(store.list()) == []
    assert _temp_files(tmp_path / "objects") == []
