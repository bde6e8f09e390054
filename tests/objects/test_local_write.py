"""The lean local write path: what a backend remembers between objects, one-pass put_tree,
and largest-first transfers. Real files on a real disk throughout."""

from __future__ import annotations

import errno
import fcntl
import io
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.errors import RemoteError
from shipyard.objects import ObjectStore, StatCache, hash_bytes, transfer
from shipyard.objects._local import FICLONE
from shipyard.objects._transfer import _largest_first
from shipyard.objects._tree import default_jobs


def _same_folder_pair() -> tuple[bytes, bytes]:
    """Two contents whose objects share their two-hex-digit folder."""
    seen: dict[str, bytes] = {}
    for i in range(10_000):
        data = f"content {i}".encode()
        folder = hash_bytes(data).hex[:2]
        if folder in seen:
            return seen[folder], data
        seen[folder] = data
    raise AssertionError("unreachable: 257 contents always share a folder")


def _reflink_refused(folder: Path) -> bool:
    """True if the filesystem of ``folder`` refuses FICLONE (ext4, tmpfs)."""
    (folder / "probe-src").write_bytes(b"probe")
    with (folder / "probe-src").open("rb") as src, (folder / "probe-dst").open("wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
        except OSError as exc:
            return exc.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY)
    return False


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.partial") if p.is_file()]


def test_a_refused_reflink_is_remembered_and_copies_stay_whole(tmp_path):
    store = ObjectStore(tmp_path / "objects")
    sources = []
    for i in range(3):
        path = tmp_path / f"f{i}.bin"
        path.write_bytes(os.urandom(100_000) + bytes([i]))
        sources.append(path)
    infos = [store.put_file(path) for path in sources]
    backend = store._backend
    if _reflink_refused(tmp_path):
        assert backend.reflinks is False  # later copies skip the ioctl
    for path, info in zip(sources, infos, strict=True):
        assert store.read_bytes(info.digest) == path.read_bytes()
        assert stat.S_IMODE(store.local_path(info.digest).stat().st_mode) == 0o444
    # Checkout after the refusal still copies (no link asked) into a writable file.
    out = store.get_file(infos[0].digest, tmp_path / "out" / "f0.bin", link=False)
    assert out.read_bytes() == sources[0].read_bytes()
    assert _temp_files(tmp_path) == []


def test_an_object_folder_removed_behind_the_store_is_made_again(tmp_path):
    root = tmp_path / "objects"
    store = ObjectStore(root)
    first, second = _same_folder_pair()
    info = store.put_bytes(first)
    # gc never removes folders, but a person may: the remembered folder is gone.
    shutil.rmtree(root, onerror=lambda f, p, e: (os.chmod(p, 0o700), f(p)))
    assert not root.exists()
    again = store.put_bytes(second)
    assert again.digest.hex[:2] == info.digest.hex[:2]
    assert store.read_bytes(again.digest) == second
    source = tmp_path / "first.bin"
    source.write_bytes(first)
    assert store.put_file(source).digest == info.digest
    assert store.verify_all().ok
    assert _temp_files(root) == []


def test_a_stream_commits_into_an_object_folder_removed_after_it_was_made(tmp_path):
    root = tmp_path / "objects"
    store = ObjectStore(root)
    first, second = _same_folder_pair()
    info = store.put_bytes(first)
    folder = store.local_path(info.digest).parent
    store.delete(info.digest)
    folder.rmdir()
    # The stream's temp file lives in the root, so only the commit finds the folder gone.
    streamed = store.put_stream(io.BytesIO(second))
    assert streamed.digest == hash_bytes(second)
    assert store.read_bytes(streamed.digest) == second
    assert list(store.list()) == [streamed.digest]
    assert _temp_files(root) == []


def test_put_tree_in_one_pass_with_any_worker_count_gives_the_same_tree(tmp_path):
    folder = tmp_path / "many"
    (folder / "sub").mkdir(parents=True)
    for i in range(40):
        (folder / ("sub" if i % 3 else "") / f"part-{i:03d}.bin").write_bytes(os.urandom(5000))
    (folder / "empty.bin").write_bytes(b"")
    assert 1 <= default_jobs() <= 8
    digests = set()
    for jobs in (1, 2, 4, None):
        store = ObjectStore(tmp_path / f"objects-{jobs}")
        digests.add(store.put_tree(folder, jobs=jobs).digest)
        assert len(list(store.list())) == 42  # 41 files + the manifest
        assert store.verify_all().ok
        assert _temp_files(tmp_path / f"objects-{jobs}") == []
    assert len(digests) == 1


def test_put_tree_again_keeps_stored_objects_and_restores_missing_ones(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(20):
        (folder / f"part-{i:03d}.bin").write_bytes(os.urandom(3000))
    store = ObjectStore(tmp_path / "objects")
    with StatCache(tmp_path / "stat.db") as cache:
        info = store.put_tree(folder, stat_cache=cache)
        tree = store.read_tree(info.digest)
        kept = tree.entries["part-000.bin"].digest
        lost = tree.entries["part-001.bin"].digest
        inode = store.local_path(kept).stat().st_ino
        store.delete(lost)
        # Warm cache: nothing is hashed again, the present object is not rewritten, the
        # deleted one is stored again from the working file.
        assert store.put_tree(folder, stat_cache=cache) == info
    assert store.local_path(kept).stat().st_ino == inode
    assert store.read_bytes(lost) == (folder / "part-001.bin").read_bytes()
    assert store.verify_all().ok


def test_a_transfer_from_a_local_store_queues_the_largest_objects_first(tmp_path):
    source = ObjectStore(tmp_path / "source")
    sizes = [1_000, 50_000, 10, 7_000, 300_000, 2_000]
    digests = [source.put_bytes(os.urandom(size)).digest for size in sizes]
    missing = hash_bytes(b"not stored")
    # The queue order itself (completion order is up to the threads).
    queued = _largest_first(source, [*digests, missing])
    assert [source.size(d) for d in queued[:-1]] == sorted(sizes, reverse=True)
    assert queued[-1] == missing
    remote_like = ObjectStore("memory://largest-first-" + tmp_path.name)
    assert _largest_first(remote_like, digests) == digests  # no stat round trips there
    target = ObjectStore(tmp_path / "target")
    report = transfer(source, target, digests, jobs=2)
    assert (report.copied, report.bytes) == (len(sizes), sum(sizes))
    assert target.verify_all().ok


def test_a_transfer_reports_an_object_missing_from_a_local_source(tmp_path):
    source = ObjectStore(tmp_path / "source")
    present = source.put_bytes(b"here").digest
    missing = hash_bytes(b"never stored")
    target = ObjectStore(tmp_path / "target")
    report = transfer(source, target, [missing, present], jobs=2, retries=0)
    assert report.copied == 1
    assert list(report.failed) == [missing]
    assert "not in the source store" in report.failed[missing]
    assert list(target.list()) == [present]
    with pytest.raises(RemoteError, match="could not be transferred") as err:
        report.check()
    assert "again" in err.value.hint


def test_a_local_store_named_by_a_string_opens_without_importing_fsspec(tmp_path):
    script = (
        "import sys\n"
        "from shipyard.objects import ObjectStore\n"
        f"plain = ObjectStore({str(tmp_path / 'plain')!r})\n"
        f"url = ObjectStore('file://' + {str(tmp_path / 'url')!r})\n"
        "digest = plain.put_bytes(b'x').digest\n"
        "assert url.is_local and plain.read_bytes(digest) == b'x'\n"
        "print('fsspec' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"  # saves ~0.1 s of every push/pull to a local remote
    assert ObjectStore(f"file://{tmp_path / 'url'}").url == str(tmp_path / "url")
