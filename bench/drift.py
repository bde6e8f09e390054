"""Drift: Shipyard's drift computation and report against Evidently's DataDriftPreset, and
a 10,000,000-row prediction log window analysed in bounded memory.

Frames (the peers' drift scenario): reference and current DataFrames of --rows (100,000)
x --cols (20) float64 columns c0..c19, column j ~ Normal(mu_j, sigma_j) with per-column
mu/sigma; reference and current drawn independently (seed 42); in current, columns
c0..c4 are shifted by 0.5 sigma.

  shipyard:  ``compare_frames(reference, current)``: profile the reference (100
             equal-frequency bins per column), stream the current frame into a profile
             on those bins, compare every column (normed Wasserstein, threshold 0.1 —
             Evidently's default for > 1,000 rows); then ``render_html(result)``.
  evidently: ``Report([DataDriftPreset()], include_tests=True).run(current, reference)``
             in the peers venv; then ``snapshot.save_html``. Its import is timed apart.
Both: first run reported apart, figure = median of the other --reps runs; the flagged
columns must equal the shifted ones.

Window (Shipyard only): a prediction log of --log-rows rows (20 numeric inputs and one
output, in 1,000,000-row Parquet parts across hour folders, written the way the endpoint
writes them) is read by ``read_window`` against a reference profile in a fresh process;
the figures are rows per second and the process's peak RSS.

Targets: drift <= 0.5 s and >= 8x Evidently; report <= 2 s and <= 2 MB; window >= 2,000,000
rows/s with peak RSS <= 1.5 GB. Prints one JSON line; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as H

DISTS = ("evidently", "scipy", "pandas", "numpy")
SEED = 42
START = datetime(2026, 11, 1, tzinfo=UTC)
PART_ROWS = 1_000_000


def make_frames(rows: int, cols: int, drifted: int, shift: float) -> tuple[Any, Any, list[str]]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    mu = rng.uniform(-5, 5, size=cols)
    sigma = rng.uniform(0.5, 3, size=cols)
    names = [f"c{j}" for j in range(cols)]
    reference = pd.DataFrame(rng.normal(mu, sigma, size=(rows, cols)), columns=names)
    current = rng.normal(mu, sigma, size=(rows, cols))
    current[:, :drifted] += shift * sigma[:drifted]
    return reference, pd.DataFrame(current, columns=names), names[:drifted]


def _order(names: Any) -> list[str]:
    return sorted(names, key=lambda name: int(name[1:]))


def shipyard_frames(args: argparse.Namespace) -> dict[str, Any]:
    from shipyard.monitoring import compare_frames, render_html

    reference, current, truth = make_frames(args.rows, args.cols, args.drifted, args.shift)
    times, result = [], None
    for _ in range(args.reps + 1):
        t0 = time.perf_counter()
        result = compare_frames(reference, current)
        times.append(time.perf_counter() - t0)
    assert result is not None
    html_times, page = [], ""
    for _ in range(3):
        t0 = time.perf_counter()
        page = render_html(result)
        html_times.append(time.perf_counter() - t0)
    flagged = _order(result.drifted_columns)
    return {
        "run_s_first": times[0],
        "run_s": statistics.median(times[1:]),
        "html_s": min(html_times),
        "html_bytes": len(page.encode()),
        "methods": sorted({column.method for column in result.columns}),
        "flagged": flagged,
        "exact": flagged == truth,
        "versions": H.versions("shipyard", "scipy", "pandas", "numpy"),
    }


def evidently_frames(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(H.TELEMETRY_OFF)
    reference, current, truth = make_frames(args.rows, args.cols, args.drifted, args.shift)
    t0 = time.perf_counter()
    from evidently import Report
    from evidently.presets import DataDriftPreset

    import_s = time.perf_counter() - t0
    times, snapshot = [], None
    for _ in range(args.reps + 1):
        t0 = time.perf_counter()
        snapshot = Report([DataDriftPreset()], include_tests=True).run(
            current_data=current, reference_data=reference
        )
        times.append(time.perf_counter() - t0)
    flagged = set()
    for test in snapshot.dict().get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith("ValueDrift") and test.get("status") == "FAIL":
            flagged.add(params["column"])
    with tempfile.TemporaryDirectory(prefix="bench-drift-evidently-") as folder:
        path = Path(folder) / "report.html"
        t0 = time.perf_counter()
        snapshot.save_html(str(path))
        html_s = time.perf_counter() - t0
        html_bytes = path.stat().st_size
    return {
        "import_s": import_s,
        "run_s_first": times[0],
        "run_s": statistics.median(times[1:]),
        "html_s": html_s,
        "html_bytes": html_bytes,
        "flagged": _order(flagged),
        "exact": _order(flagged) == truth,
        "versions": H.versions(*DISTS),
    }


# --- the log window -----------------------------------------------------------------


def write_log(root: Path, rows: int, cols: int) -> None:
    """``rows`` prediction rows in the endpoint's layout, 1,000,000 per part file, ten
    minutes of traffic per part (so the window spans several hour folders)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    timestamp_type = pa.timestamp("us", tz="UTC")
    for part, first in enumerate(range(0, rows, PART_ROWS)):
        n = min(PART_ROWS, rows - first)
        start = START + timedelta(minutes=10 * part)
        stamps = (start.timestamp() * 1e6 + np.sort(rng.integers(0, 600_000_000, n))).astype(
            np.int64
        )
        columns: dict[str, Any] = {
            "request_id": pa.array(np.char.add("r", (first + np.arange(n)).astype(str))),
            "row": pa.array(np.zeros(n, np.int32)),
            "timestamp": pa.array(stamps, timestamp_type),
            "model_version": pa.array(np.ones(n, np.int32)),
            "latency_ms": pa.array(rng.gamma(2.0, 1.0, n)),
        }
        for j in range(cols):
            columns[f"input.c{j}"] = pa.array(rng.normal(j, 1.0 + j / 10, n))
        columns["output.prediction"] = pa.array(rng.integers(0, 2, n))
        folder = root / "model=churn" / f"hour={start:%Y-%m-%dT%H}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), folder / f"part-{part:05d}.parquet")


def window_reader(args: argparse.Namespace) -> dict[str, Any]:
    """In its own process, so that its peak RSS is the read's alone."""
    import numpy as np
    import pandas as pd

    from shipyard.monitoring import read_window, reference_profile

    rng = np.random.default_rng(0)
    reference = reference_profile(
        pd.DataFrame({f"c{j}": rng.normal(j, 1.0, 100_000) for j in range(args.cols)}),
        predictions=rng.integers(0, 2, 100_000),
    )
    t0 = time.perf_counter()
    window = read_window(
        Path(args.log),
        None,
        model="churn",
        since=START,
        until=START + timedelta(days=7),
        reference=reference,
    )
    seconds = time.perf_counter() - t0
    return {
        "rows": window.rows,
        "s": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_window(args: argparse.Namespace) -> dict[str, Any]:
    this = Path(__file__).resolve()
    with tempfile.TemporaryDirectory(prefix="bench-drift-log-") as folder:
        log = Path(folder) / "predictions"
        t0 = time.perf_counter()
        write_log(log, args.log_rows, args.cols)
        H.log(f"[drift] wrote {args.log_rows:,} log rows in {time.perf_counter() - t0:.1f}s")
        size = sum(p.stat().st_size for p in log.rglob("*.parquet"))
        runs = [
            H.run_json(
                [sys.executable, this, "--worker", "window", "--log", log, "--cols", args.cols],
                env=H.shipyard_env(),
            )
            for _ in range(args.window_reps)
        ]
    best = min(runs, key=lambda run: run["s"])
    return {
        "rows": best["rows"],
        "s": best["s"],
        "rows_per_s": best["rows"] / best["s"],
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "log_mb": size / 1e6,
        "runs_s": [run["s"] for run in runs],
    }


def worker(args: argparse.Namespace) -> None:
    out = H.result_stream()
    sides = {"shipyard": shipyard_frames, "evidently": evidently_frames, "window": window_reader}
    H.print_result(out, sides[args.worker](args))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--cols", type=int, default=20)
    ap.add_argument("--drifted", type=int, default=5)
    ap.add_argument("--shift", type=float, default=0.5, help="mean shift in sigmas")
    ap.add_argument("--reps", type=int, default=3, help="timed runs after the first, per round")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of both sides")
    ap.add_argument("--log-rows", type=int, default=10_000_000)
    ap.add_argument("--window-reps", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true", help="measure Shipyard alone")
    ap.add_argument("--no-window", action="store_true", help="skip the log window")
    ap.add_argument("--worker", choices=("shipyard", "evidently", "window"), help=argparse.SUPPRESS)
    ap.add_argument("--log", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    clock, out = H.CpuClock(), H.result_stream()
    this = Path(__file__).resolve()
    sizes = [
        *("--rows", args.rows, "--cols", args.cols, "--drifted", args.drifted),
        *("--shift", args.shift, "--reps", args.reps),
    ]
    sides = {
        "shipyard": lambda: H.run_json(
            [sys.executable, this, "--worker", "shipyard", *sizes], env=H.shipyard_env()
        )
    }
    peer_python = None if args.no_peer else H.peers_python()
    if peer_python is not None:
        sides["evidently"] = lambda: H.run_json(
            [peer_python, this, "--worker", "evidently", *sizes]
        )
    rounds = H.alternate(sides, args.rounds, label="drift")
    ours = rounds["shipyard"]
    peer = rounds.get("evidently")
    ours_s = H.median(r["run_s"] for r in ours)
    peer_s = H.median(r["run_s"] for r in peer) if peer else None
    html_s = H.median(r["html_s"] for r in ours)
    html_mb = ours[0]["html_bytes"] / 1e6
    frames = f"{args.rows:,} x {args.cols} numeric, {args.drifted} shifted {args.shift} sd"
    figures = [
        H.figure(
            f"drift of two frames ({frames})",
            "s",
            ours=H.rnd(ours_s),
            peer=H.rnd(peer_s),
            peer_label="Evidently DataDriftPreset (tests on)",
            max_ours=0.5,
            min_ratio=8.0,
        ),
        H.figure(
            "HTML report",
            "s",
            ours=H.rnd(html_s),
            peer=H.rnd(H.median(r["html_s"] for r in peer)) if peer else None,
            peer_label="snapshot.save_html",
            max_ours=2.0,
        ),
        H.figure(
            "HTML report size",
            "MB",
            ours=H.rnd(html_mb, 3),
            peer=H.rnd(peer[0]["html_bytes"] / 1e6, 3) if peer else None,
            peer_label="Evidently's HTML",
            max_ours=2.0,
        ),
    ]
    results: dict[str, Any] = {
        "params": {k: v for k, v in vars(args).items() if k not in ("worker", "log")},
        "shipyard": {
            "run_s": H.rnd(ours_s),
            "run_s_first": H.rnd(H.median(r["run_s_first"] for r in ours)),
            "html_s": H.rnd(html_s),
            "html_bytes": ours[0]["html_bytes"],
            "methods": ours[0]["methods"],
            "flagged": ours[0]["flagged"],
            "exact": all(r["exact"] for r in ours),
        },
    }
    if peer:
        results["peer"] = {
            "import_s": H.rnd(H.median(r["import_s"] for r in peer)),
            "run_s": H.rnd(peer_s),
            "run_s_first": H.rnd(H.median(r["run_s_first"] for r in peer)),
            "html_bytes": peer[0]["html_bytes"],
            "flagged": peer[0]["flagged"],
            "exact": all(r["exact"] for r in peer),
        }
    else:
        results["peer_note"] = "--no-peer given" if args.no_peer else H.peers_missing_note()
    if not args.no_window:
        window = measure_window(args)
        results["window"] = {
            key: H.rnd(value, 1) if isinstance(value, float) else value
            for key, value in window.items()
        }
        figures.append(
            H.figure(
                f"log window of {window['rows']:,} rows, {args.cols} inputs (rows/s: "
                f"{window['rows_per_s']:,.0f}, target >= 2,000,000)",
                "s",
                ours=H.rnd(window["s"], 2),
                max_ours=round(window["rows"] / 2_000_000, 2),
            )
        )
        figures.append(
            H.figure(
                "log window peak RSS", "MB", ours=H.rnd(window["peak_rss_mb"], 0), max_ours=1536
            )
        )
    results["figures"] = figures
    H.emit(out, "drift", results, clock=clock, peer_versions=peer[0]["versions"] if peer else None)


if __name__ == "__main__":
    main()
