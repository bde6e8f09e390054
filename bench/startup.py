"""CLI cold start: ``shipyard --help`` and friends against the peers' CLIs, as fresh processes.

Every command runs ``--reps`` times (default 7) as a new process from an empty temp dir (not
inside a git repo or a project), telemetry off, and the commands are interleaved (one of
each per repetition) so that a passing disturbance hits all of them alike. Reported per
command: median, min, max and the first run (no untimed warm-up, but ``.pyc`` files exist
and the OS page cache is not dropped, so "cold" means a fresh process).

Ours:  shipyard --help | shipyard --version | python -c "import shipyard" | python -c pass
Peers (from the peers venv, when built): kedro --help | kedro --version | mlflow --version |
dvc --version
Target: ``shipyard --help`` <= 0.2 s.

Also checks which heavy libraries ``shipyard --help`` imports (it must import none of
pandas, sklearn, sqlalchemy): ``python -X importtime`` runs the CLI's ``--help`` in a small
wrapper that reports ``sys.modules`` afterwards; the slowest top-level imports are reported.
Exit code 1 when that check fails or the help itself fails (the JSON line is printed
first).

Prints one JSON line; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import _harness as H

FORBIDDEN = ("pandas", "sklearn", "sqlalchemy")
ALSO_WATCHED = ("numpy", "pyarrow", "scipy", "omegaconf", "pydantic", "rich", "pluggy", "fsspec")

# Runs `python -m shipyard --help` in-process, then lists the watched modules it loaded
# (written without importing json, so the import profile is the CLI's alone).
WRAPPER = """
import runpy, sys
out, watched = sys.argv[1], sys.argv[2].split(",")
sys.argv = ["shipyard", "--help"]
code = 0
try:
    runpy.run_module("shipyard", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code or 0
with open(out, "w") as fh:
    fh.write("\\n".join([str(code), *(m for m in watched if m in sys.modules)]))
"""


PEER_VERSIONS = """
import json
from importlib.metadata import version
print(json.dumps({d: version(d) for d in ("kedro", "mlflow", "dvc")}))
"""


def our_commands() -> tuple[dict[str, list[str]], str]:
    """Our commands, through the installed console script when there is one."""
    py = sys.executable
    script = Path(py).parent / "shipyard"
    if not script.exists():
        script = Path(shutil.which("shipyard") or "")
    installed = script.name == "shipyard" and script.exists()
    base = [str(script)] if installed else [py, "-m", "shipyard"]
    cmds = {
        "shipyard_help": [*base, "--help"],
        "shipyard_version": [*base, "--version"],
        "import_shipyard": [py, "-c", "import shipyard"],
        "python_pass": [py, "-c", "pass"],
    }
    return cmds, " ".join(base)


def peer_commands() -> dict[str, list[str]]:
    python = H.peers_python()
    if python is None:
        return {}
    bin_dir = python.parent
    return {
        "kedro_help": [str(bin_dir / "kedro"), "--help"],
        "kedro_version": [str(bin_dir / "kedro"), "--version"],
        "mlflow_version": [str(bin_dir / "mlflow"), "--version"],
        "dvc_version": [str(bin_dir / "dvc"), "--version"],
    }


def time_all(cmds: dict[str, tuple[list[str], dict[str, str]]], reps: int, cwd: str) -> dict:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in cmds}
    for rep in range(reps):
        H.log(f"[startup] repetition {rep + 1}/{reps}")
        for name, (cmd, env) in cmds.items():
            runs[name].append(H.time_command(cmd, env=env, cwd=cwd))
    out = {}
    for name, rs in runs.items():
        rcs = sorted({r["rc"] for r in rs})
        out[name] = {**H.spread([r["s"] for r in rs]), "rc": rcs, "output": rs[-1]["output"]}
        if rcs != [0]:
            H.log(f"[startup] {name} exited with {rcs}: {rs[-1]['output']}")
    return out


def help_imports(env: dict[str, str], cwd: str) -> dict[str, Any]:
    """Which watched modules `shipyard --help` loads, and its slowest top-level imports."""
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        report = Path(tmp) / "modules.txt"
        cmd = [sys.executable, "-X", "importtime", "-c", WRAPPER, str(report)]
        cmd.append(",".join(FORBIDDEN + ALSO_WATCHED))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
        if not report.exists():
            raise H.BenchError(f"shipyard --help under -X importtime failed: {proc.stderr[-500:]}")
        code, *loaded = report.read_text().splitlines()
    top = []
    for line in proc.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            top.append((int(parts[1]), parts[2].strip()))
    top.sort(reverse=True)
    return {
        "exit_code": int(code) if code.lstrip("-").isdigit() else code,
        "forbidden_loaded": [m for m in loaded if m in FORBIDDEN],
        "watched_loaded": [m for m in loaded if m not in FORBIDDEN],
        "slowest_top_level_imports_ms": {name: round(us / 1000, 1) for us, name in top[:8]},
    }


def figures(t: dict[str, Any], imports: dict[str, Any]) -> list[dict[str, Any]]:
    def med(name: str) -> float | None:
        return t[name]["median"] if name in t else None

    rows = [
        H.figure(
            "`shipyard --help` vs `kedro --help`",
            "s",
            ours=med("shipyard_help"),
            peer=med("kedro_help"),
            peer_label="kedro",
            max_ours=0.2,
        ),
    ]
    for peer in ("kedro", "mlflow", "dvc"):
        rows.append(
            H.figure(
                f"`shipyard --version` vs `{peer} --version`",
                "s",
                ours=med("shipyard_version"),
                peer=med(f"{peer}_version"),
                peer_label=peer,
            )
        )
    rows.append(H.figure("`python -c 'import shipyard'`", "s", ours=med("import_shipyard")))
    rows.append(H.figure("`python -c pass` (interpreter floor)", "s", ours=med("python_pass")))
    loaded = imports["forbidden_loaded"]
    failed = imports["exit_code"] != 0  # a help that crashed proves nothing about imports
    verdict = f"--help exited {imports['exit_code']}" if failed else ", ".join(loaded) or "none"
    rows.append(
        {
            "name": "`shipyard --help` imports pandas / sklearn / sqlalchemy",
            "unit": "",
            "shipyard": verdict,
            "peer": None,
            "peer_label": None,
            "ratio": None,
            "target": "none",
            "met": not loaded and not failed,
        }
    )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=7, help="fresh processes per command")
    ap.add_argument("--no-peer", action="store_true", help="measure Shipyard alone")
    args = ap.parse_args()

    clock, out = H.CpuClock(), H.result_stream()
    H.compile_shipyard()  # both sides start from compiled bytecode
    with tempfile.TemporaryDirectory(prefix="shipyard-startup-") as work:
        ours, shipyard_cmd = our_commands()
        ours_env, peers_env = H.shipyard_env(), H.telemetry_off_env()
        cmds = {name: (cmd, ours_env) for name, cmd in ours.items()}
        peers = {} if args.no_peer else peer_commands()
        cmds.update({name: (cmd, peers_env) for name, cmd in peers.items()})
        timings = time_all(cmds, args.reps, work)
        imports = help_imports(ours_env, work)

    results: dict[str, Any] = {
        "params": vars(args),
        "shipyard_cmd": shipyard_cmd,
        "shipyard": {k: v for k, v in timings.items() if k in ours},
        "peer": {k: v for k, v in timings.items() if k in peers} or None,
        "help_imports": imports,
        "figures": figures(timings, imports),
    }
    peer_versions = None
    if not peers:
        results["peer_note"] = "--no-peer given" if args.no_peer else H.peers_missing_note()
    else:
        peer_versions = H.run_json([H.peers_python(), "-c", PEER_VERSIONS])
    H.emit(out, "startup", results, clock=clock, peer_versions=peer_versions)
    return 1 if imports["forbidden_loaded"] or imports["exit_code"] != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
