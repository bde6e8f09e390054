"""Run every benchmark scenario, record the results and regenerate docs/benchmarks.md.

Scenarios are the ``bench/*.py`` files not starting with ``_`` (this file excepted). They run
one at a time (never in parallel: the figures are wall times), each with stdout captured for
its one JSON line and stderr written to ``bench/results/logs/<scenario>-<time>.log`` (the
figures are documented with stderr going to a file, as the peers' were). Every line is
appended to ``bench/results/<date>.jsonl`` (git-ignored), and the tables between
``<!-- bench:start -->`` and ``<!-- bench:end -->`` in ``docs/benchmarks.md`` are rewritten
with the latest recorded line of each scenario (this run's, for the scenarios it ran).

Usage:
  .venv/bin/python bench/run_all.py                       # all scenarios
  .venv/bin/python bench/run_all.py --only startup        # a subset
  .venv/bin/python bench/run_all.py --render bench/results/2026-11-28.jsonl   # docs only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import _harness as H

RESULTS_DIR = H.BENCH_DIR / "results"
DOCS = H.REPO_ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
NONE = "\N{EN DASH}"  # an empty table cell
# A run is provisional when other processes used more than this many CPU seconds, or this
# share of the machine's capacity over a long run: the machine's own services (database,
# broker) use about 1% of it, which alone adds seconds to a scenario of several minutes.
BUSY_CPU_S = 2.0
BUSY_SHARE = 0.02


def scenarios() -> dict[str, Path]:
    found = sorted(H.BENCH_DIR.glob("*.py"))
    return {p.stem: p for p in found if not p.name.startswith("_") and p.name != "run_all.py"}


def run_scenario(name: str, script: Path, log_dir: Path) -> dict[str, Any] | None:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    log_path = log_dir / f"{name}-{stamp}.log"
    H.log(f"== {name} (stderr -> {log_path})")
    with log_path.open("w") as log:
        proc = subprocess.run(
            [sys.executable, str(script)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=H.telemetry_off_env(),
            cwd=H.REPO_ROOT,
            check=False,
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if result is None:
        H.log(f"   FAILED (exit code {proc.returncode}, no JSON line), see {log_path}")
        return None
    result["exit_code"] = proc.returncode
    other = result.get("cpu", {}).get("other_cpu_s")
    H.log(f"   exit code {proc.returncode}, other_cpu_s={other}")
    return result


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return NONE
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    text = f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def render_scenario(line: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in line.get("versions", {}).items() if v)
    host, cpu = line.get("host", {}), line.get("cpu", {})
    about = [
        f"measured {line.get('when', '?')}",
        versions,
        f"Python {host.get('python')} on {host.get('cpus')} CPUs ({host.get('cpu_model')})",
        f"`other_cpu_s` = {cpu.get('other_cpu_s')}",
    ]
    out = [f"### {line['scenario']}", "", "; ".join(a for a in about if a) + ".", ""]
    capacity = (cpu.get("wall_s") or 0) * (host.get("cpus") or 1)
    if (cpu.get("other_cpu_s") or 0) > max(BUSY_CPU_S, BUSY_SHARE * capacity):
        out += ["**Provisional:** other processes used the cores during this run.", ""]
    if line.get("peer_note"):
        out += [f"Peer not measured: {line['peer_note']}.", ""]
    if line.get("exit_code"):
        out += [f"**The scenario exited with code {line['exit_code']}** (a check failed).", ""]
    out += ["| figure | Shipyard | peer | ratio | target | met? |", "|---|---|---|---|---|---|"]
    for row in line.get("figures", []):
        unit = row.get("unit", "")
        peer = fmt(row.get("peer"), unit)
        if row.get("peer") is not None and row.get("peer_label"):
            peer += f" ({row['peer_label']})"
        ratio = f"{row['ratio']:.3g}{H.TIMES}" if row.get("ratio") is not None else NONE
        met = {True: "yes", False: "**no**", None: NONE}[row.get("met")]
        cells = [
            row["name"],
            fmt(row.get("shipyard"), unit),
            peer,
            ratio,
            row.get("target") or NONE,
            met,
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def read_lines(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(x) for p in paths for x in p.read_text().splitlines() if x.strip()]


def render_docs(lines: list[dict[str, Any]], docs: Path) -> None:
    """Replace the generated block of docs/benchmarks.md with one table per scenario: the
    latest line of each scenario among ``lines``."""
    latest: dict[str, dict[str, Any]] = {}
    for line in sorted(lines, key=lambda x: x.get("when", "")):
        latest[line["scenario"]] = line
    block = "\n\n".join(render_scenario(latest[name]) for name in sorted(latest))
    text = docs.read_text()
    if START not in text or END not in text:
        raise H.BenchError(f"{docs} has no {START} ... {END} block; add both markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    docs.write_text(f"{head}{START}\n{block}\n{END}{tail}")
    H.log(f"tables rewritten in {docs}")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", nargs="+", metavar="SCENARIO", help="run only these scenarios")
    ap.add_argument(
        "--render",
        nargs="+",
        type=Path,
        metavar="JSONL",
        help="run nothing; regenerate the docs tables from these result files",
    )
    ap.add_argument("--docs", type=Path, default=DOCS, help="the Markdown file to update")
    ap.add_argument("--no-docs", action="store_true", help="do not touch the docs")
    args = ap.parse_args()

    if args.render:
        render_docs(read_lines(args.render), args.docs)
        return 0

    known = scenarios()
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = {k: v for k, v in known.items() if not args.only or k in args.only}
    log_dir = RESULTS_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    results_file = RESULTS_DIR / f"{dt.date.today().isoformat()}.jsonl"
    lines, failed = [], []
    for name, script in chosen.items():
        line = run_scenario(name, script, log_dir)
        if line is None or line["exit_code"] != 0:
            failed.append(name)
        if line is not None:
            lines.append(line)
            with results_file.open("a") as fh:
                fh.write(json.dumps(line) + "\n")
    H.log(f"{len(lines)} result line(s) appended to {results_file}")
    if lines and not args.no_docs:
        # scenarios not run this time keep their latest recorded figures
        render_docs(read_lines(sorted(RESULTS_DIR.glob("*.jsonl"))), args.docs)
    if failed:
        H.log(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
