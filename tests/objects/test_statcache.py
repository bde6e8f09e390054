"""The stat cache answers only for files whose inode, mtime and size are unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from shipyard.errors import ObjectStoreError
from shipyard.objects import StatCache, build_tree, hash_bytes, hash_file


def settle(*paths):
    """Age files by ten seconds, so the cache trusts their stat (no racy mtime)."""
    for path in paths:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 10**10))


@pytest.fixture
def cache(tmp_path):
    with StatCache(tmp_path / "cache" / "stat.db") as opened:
        yield opened


def test_get_returns_the_digest_only_while_the_file_is_unchanged(cache, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"1,2\n")
    assert cache.get(path) is None
    cache.put(path, hash_file(path))
    assert cache.get(path) == hash_bytes(b"1,2\n")

    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000))
    assert cache.get(path) is None  # mtime changed


def test_a_different_size_or_inode_misses(cache, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"1,2\n")
    cache.put(path, hash_file(path))
    st = path.stat()
    path.write_bytes(b"1,2,3\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache.get(path) is None  # size changed, same mtime

    cache.put(path, hash_file(path))
    replacement = tmp_path / "new.csv"
    replacement.write_bytes(b"9,9,9\n")
    os.utime(replacement, ns=(st.st_atime_ns, path.stat().st_mtime_ns))
    keep = tmp_path / "keep"  # holds the old inode so the new file cannot reuse it
    os.link(path, keep)
    replacement.replace(path)
    assert cache.get(path) is None  # same size and mtime, another inode


def test_get_of_a_missing_file_is_none(cache, tmp_path):
    assert cache.get(tmp_path / "gone.csv") is None


def test_hash_file_hashes_once_then_answers_from_the_cache(cache, tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(50_000))
    settle(path)
    digest = cache.hash_file(path)
    assert digest == hash_file(path)
    # Prove the second answer comes from the cache: plant a different digest for the
    # unchanged stat and see it returned.
    planted = hash_bytes(b"planted")
    cache.record(path, path.stat(), planted)
    assert cache.hash_file(path) == planted


def test_build_tree_uses_and_fills_the_cache(cache, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"a")
    (folder / "b.csv").write_bytes(b"b")
    settle(folder / "a.csv", folder / "b.csv")
    first = build_tree(folder, stat_cache=cache)
    assert cache.get(folder / "a.csv") == first.entries["a.csv"].digest
    planted = hash_bytes(b"planted")
    cache.put(folder / "b.csv", planted)
    assert build_tree(folder, stat_cache=cache).entries["b.csv"].digest == planted


def test_cache_persists_and_is_shared_by_two_processes(tmp_path):
    db = tmp_path / "stat.db"
    folder = tmp_path / "files"
    folder.mkdir()
    for i in range(200):
        (folder / f"{i}.txt").write_text(str(i))
        # older than the racy window, so the hashes are recorded however fast this runs
        os.utime(folder / f"{i}.txt", (time.time() - 10, time.time() - 10))
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from shipyard.objects import StatCache
        with StatCache({str(db)!r}) as cache:
            for path in sorted(Path({str(folder)!r}).iterdir()):
                cache.hash_file(path)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with StatCache(db) as cache:
        assert cache.get(folder / "7.txt") == hash_bytes(b"7")


def test_a_damaged_cache_file_says_to_delete_it(tmp_path):
    db = tmp_path / "stat.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ObjectStoreError) as err:
        StatCache(db)
    assert str(db) in err.value.message
    assert "Delete the file" in err.value.hint


def test_a_file_changed_a_moment_ago_is_not_trusted_yet(tmp_path):
    """Racy stats: a second write within the filesystem's timestamp tick keeps the stat,
    so a file hashed right after a change is hashed again next time."""
    path = tmp_path / "fresh.csv"
    path.write_text("a,b\n")
    cache = StatCache(tmp_path / "stat.db")
    digest = cache.hash_file(path)
    assert cache.get(path) is None  # not remembered: it was changed just now
    settle(path)
    assert cache.hash_file(path) == digest
    assert cache.get(path) == digest  # settled: remembered
    cache.record(path, path.stat(), digest, written=True)  # Shipyard's own write: trusted
    assert cache.get(path) == digest
