"""Object store throughput: hashing and storing a large file, and storing many small ones.

Figures (Shipyard only for now; the DVC side comes with the versioning CLI):
- ``hash_file`` of a 1 GiB file already in the page cache (target ≥ 3 GB/s, i.e. ≤ 0.36 s)
- ``put_file`` of that file into an empty local store (hash + copy in the kernel)
- ``put_tree`` of 2,000 files of 256 KiB into an empty local store (target ≤ 0.9 s, a
  third of the 2.7 s ``dvc add`` takes here)
- ``build_tree`` of the same folder again through a warm stat cache (what ``data status``
  will do over unchanged files)

Each timing is the median of ``--rounds`` runs; the store is emptied between rounds, the
source files are not (they stay in the page cache). ``sync`` runs (untimed) after the data
is generated and after each emptying, so write-back of earlier rounds does not throttle the
next one. Prints one JSON line; the rest goes to stderr.

Usage: .venv/bin/python bench/objects_throughput.py [--size-mib 1024] [--files 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _harness as H

from shipyard.objects import ObjectStore, StatCache, build_tree, hash_file

SMALL_FILE = 256 << 10


def timed(fn: Callable[[], Any], rounds: int, reset: Callable[[], None] | None = None) -> list:
    times = []
    for _ in range(rounds):
        if reset is not None:
            reset()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as out:
        for _ in range(size // (1 << 24)):
            out.write(os.urandom(1 << 24))
        out.write(os.urandom(size % (1 << 24)))


def empty(folder: Path) -> Callable[[], None]:
    def reset() -> None:
        if folder.exists():
            for path in folder.rglob("*"):
                if path.is_file():
                    path.chmod(stat.S_IWUSR | stat.S_IRUSR)
            shutil.rmtree(folder)
        os.sync()

    return reset


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    clock, out = H.CpuClock(), H.result_stream()
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="objects-bench-") as tmp:
        work = Path(tmp)
        big = work / "big.bin"
        size = args.size_mib << 20
        H.log(f"[objects] writing {args.size_mib} MiB and {args.files} small files")
        write_random(big, size)
        folder = work / "many"
        folder.mkdir()
        for i in range(args.files):
            (folder / f"part-{i:05d}.bin").write_bytes(os.urandom(SMALL_FILE))
        os.sync()
        hash_file(big)  # page cache warm-up

        store_dir = work / "store"
        H.log("[objects] hash_file / put_file")
        hash_s = timed(lambda: hash_file(big), args.rounds)
        put_s = timed(lambda: ObjectStore(store_dir).put_file(big), args.rounds, empty(store_dir))
        H.log("[objects] put_tree")
        tree_s = timed(
            lambda: ObjectStore(store_dir).put_tree(folder), args.rounds, empty(store_dir)
        )
        cache = StatCache(work / "stat.db")
        build_tree(folder, stat_cache=cache)
        status_s = timed(lambda: build_tree(folder, stat_cache=cache), args.rounds)
        cache.close()

    gb = size / 1e9
    hash_med, put_med = H.median(hash_s), H.median(put_s)
    rows = [
        H.figure(
            f"hash_file {args.size_mib} MiB (page cache)",
            "s",
            ours=H.rnd(hash_med),
            max_ours=round(gb / 3, 3),
        ),
        H.figure(f"put_file {args.size_mib} MiB into an empty store", "s", ours=H.rnd(put_med)),
        H.figure(
            f"put_tree {args.files} x 256 KiB", "s", ours=H.rnd(H.median(tree_s)), max_ours=0.9
        ),
        H.figure(
            f"build_tree {args.files} files, warm stat cache", "s", ours=H.rnd(H.median(status_s))
        ),
    ]
    results = {
        "figures": rows,
        "hash_gb_per_s": round(gb / hash_med, 2),
        "put_file_gb_per_s": round(gb / put_med, 2),
        "timings_s": {
            "hash_file": H.spread(hash_s),
            "put_file": H.spread(put_s),
            "put_tree": H.spread(tree_s),
            "build_tree_cached": H.spread(status_s),
        },
    }
    H.emit(out, "objects_throughput", results, clock=clock, peer_versions=H.versions("blake3"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
