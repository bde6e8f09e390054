"""Data versioning through the CLI, end to end, against DVC in the same run.

In a fresh Shipyard project (``shipyard new``) with two versioned catalog entries:
  big : one file of ``--size-mib`` MiB random bytes (default 1 GiB)
  many: a partitioned folder of ``--files`` files of 256 KiB random bytes (default 2,000)
each command runs as a fresh ``.venv/bin/shipyard`` process and is timed end to end:
  shipyard data add big; shipyard data add many          (hash + store, empty store)
  shipyard data status, nothing changed                  (1 warm-up, then median of --rounds)
  shipyard data push to a local-folder remote            (conf/base/remotes.yml)
Data generation is not timed. Files are in the page cache when read, as on DVC's side.
``sync`` (``os.sync()``, untimed) runs after generating the data and before each timed
command, so the dirty pages of an earlier step (GBs of generated data, the objects an add
just wrote) are not written back during, and throttle, the next one. The DVC peer script
syncs after its data generation too.

The DVC side is the peers script ``versioning.sh`` (``$SHIPYARD_BENCH_PEERS``, default
``../shared/bench-peers`` next to the repository), run with the peers venv's DVC and the
same sizes: ``dvc add`` of the file and of the folder, ``dvc status`` unchanged (median of
3), ``dvc push`` to a local folder. Targets: add big ≥ 3x, add dir ≥ 3x, status ≤ 0.2 s and
≥ 2x, push ≥ 2x faster than DVC.

Prints one JSON line; everything else goes to stderr.

Usage: .venv/bin/python bench/versioning.py [--size-mib 1024] [--files 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as H

SMALL_FILE = 256 << 10
ENTRIES = """
big:
  type: text
  filepath: data/01_raw/big.bin
  versioned: true

many:
  type: partitioned
  path: data/01_raw/many
  dataset: text
  filename_suffix: .bin
  versioned: true
"""


def peers_scripts() -> Path:
    """Where the peers' scripts live: ``$SHIPYARD_BENCH_PEERS`` or ``../shared/bench-peers``."""
    return Path(os.environ.get("SHIPYARD_BENCH_PEERS") or H.REPO_ROOT.parent / "shared/bench-peers")


def shipyard_command() -> str:
    """The project venv's console script, as a user runs it."""
    script = Path(sys.executable).parent / "shipyard"
    return str(script if script.exists() else H.REPO_ROOT / ".venv/bin/shipyard")


def cli_env() -> dict[str, str]:
    env = H.shipyard_env()
    env.update(COLUMNS="120", NO_COLOR="1")
    return env


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as out:
        for _ in range(size // (1 << 24)):
            out.write(os.urandom(1 << 24))
        out.write(os.urandom(size % (1 << 24)))


def make_project(work: Path, size: int, files: int, env: dict[str, str]) -> Path:
    project = work / "proj"
    created = H.time_command([shipyard_command(), "new", str(project), "--no-git"], env=env,
                             cwd=str(work))  # fmt: skip
    if created["rc"] != 0:
        raise H.BenchError(f"shipyard new failed: {created['output']}")
    catalog = project / "conf/base/catalog.yml"
    catalog.write_text(catalog.read_text() + ENTRIES)
    (project / "conf/base/remotes.yml").write_text(
        f"bench:\n  url: {work / 'remote'}\n  default: true\n"
    )
    raw = project / "data/01_raw"
    H.log(f"[versioning] writing {size >> 20} MiB and {files} files of 256 KiB")
    write_random(raw / "big.bin", size)
    (raw / "many").mkdir(parents=True)
    for i in range(files):
        (raw / "many" / f"part-{i:05d}.bin").write_bytes(os.urandom(SMALL_FILE))
    os.sync()
    return project


def run_ours(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    env = cli_env()
    project = make_project(work, args.size_mib << 20, args.files, env)

    def timed(*cli: str) -> tuple[float, str]:
        os.sync()  # write back earlier steps' dirty pages outside the timing
        t0 = time.perf_counter()
        proc = subprocess.run([shipyard_command(), *cli], capture_output=True, text=True,
                              env=env, cwd=project, check=False)  # fmt: skip
        wall = time.perf_counter() - t0
        output = (proc.stdout + proc.stderr).strip()
        H.log(f"[versioning] shipyard {' '.join(cli)}: {wall:.3f} s")
        if proc.returncode != 0:
            raise H.BenchError(f"shipyard {' '.join(cli)} failed: {output[-2000:]}")
        return wall, output

    timed("data", "versions", "big")  # warm-up: bytecode caches, nothing recorded
    add_big, add_many = timed("data", "add", "big"), timed("data", "add", "many")
    status = [timed("data", "status") for _ in range(args.rounds + 1)]
    if "all unchanged" not in status[-1][1]:
        raise H.BenchError(f"status after add is not clean: {status[-1][1]}")
    push = timed("data", "push", "-q")
    status_s = [wall for wall, _ in status[1:]]
    return {
        "add_big_s": H.rnd(add_big[0]),
        "add_dir_s": H.rnd(add_many[0]),
        "status_first_s": H.rnd(status[0][0]),
        "status_s": H.spread(status_s),
        "status_output": status[-1][1].splitlines()[0],
        "push_s": H.rnd(push[0]),
        "push_output": push[1],
    }


def run_dvc(args: argparse.Namespace) -> tuple[dict[str, Any] | None, str | None]:
    """The peers script's JSON line, or None and why it was not run."""
    if args.no_peer:
        return None, "--no-peer given"
    if H.peers_python() is None:
        return None, H.peers_missing_note()
    script = peers_scripts() / "versioning.sh"
    if not script.exists():
        return None, f"{script} not found; set SHIPYARD_BENCH_PEERS to the bench-peers folder"
    env = H.telemetry_off_env()
    env["PEERS_VENV"] = str(H.peers_venv())
    cmd = ["bash", str(script), "--big-mib", str(args.size_mib), "--files", str(args.files)]
    H.log(f"[versioning] DVC side: {' '.join(cmd)}")
    return H.run_json(cmd, env=env), None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024, help="size of the big file")
    ap.add_argument("--files", type=int, default=2000, help="files of 256 KiB in the folder")
    ap.add_argument("--rounds", type=int, default=5, help="timed `data status` runs")
    ap.add_argument("--workdir", type=Path, default=None, help="where the temp folder goes")
    ap.add_argument("--no-peer", action="store_true", help="do not run the DVC side")
    args = ap.parse_args()
    clock, out = H.CpuClock(), H.result_stream()
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="versioning-bench-") as tmp:
        ours = run_ours(args, Path(tmp))
    dvc, peer_note = run_dvc(args)

    def peer(*keys: str) -> float | None:
        value: Any = dvc
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    label = "dvc" if dvc else None
    size, files = f"{args.size_mib} MiB", f"{args.files} x 256 KiB"
    rows = [
        H.figure(f"data add, one {size} file", "s", ours=ours["add_big_s"],
                 peer=peer("add_big", "s"), peer_label=label, min_ratio=3),
        H.figure(f"data add, folder of {files}", "s", ours=ours["add_dir_s"],
                 peer=peer("add_dir", "s"), peer_label=label, min_ratio=3),
        H.figure(f"data status, {args.files} files unchanged (whole command)", "s",
                 ours=ours["status_s"]["median"], peer=peer("status_unchanged", "median_s"),
                 peer_label=label, max_ours=0.2, min_ratio=2),
        H.figure("data push of both to a local-folder remote", "s", ours=ours["push_s"],
                 peer=peer("push", "s"), peer_label=label, min_ratio=2),
    ]  # fmt: skip
    for row in rows:
        H.log(f"[versioning] {row['name']}: shipyard {row['shipyard']} s, dvc {row['peer']} s, "
              f"ratio {row['ratio']}, target {row['target']}, met {row['met']}")  # fmt: skip
    results: dict[str, Any] = {
        "params": {"size_mib": args.size_mib, "files": args.files, "rounds": args.rounds},
        "figures": rows,
        "shipyard": ours,
        "dvc": dvc,
    }
    if peer_note:
        results["peer_note"] = peer_note
    versions = (dvc or {}).get("versions") or {}
    H.emit(out, "versioning", results, clock=clock, peer_versions=versions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
