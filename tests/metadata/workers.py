"""Code run in other processes by the concurrency and kill tests (spawned, so importable).

``python -m tests.metadata.workers batches URL RUN_ID SIZE`` writes batches of SIZE points
forever, printing ``committed N`` after each; the kill test SIGKILLs it mid-batch.
"""

from __future__ import annotations

import sys

from shipyard.metadata import MetadataStore, metrics


def log_points(url: str, run_id: str, worker: int, batches: int, size: int) -> int:
    """Log ``batches`` batches of ``size`` points for key ``w<worker>`` and a shared key."""
    store = MetadataStore.open(url)
    try:
        for batch in range(batches):
            points = [
                metrics.MetricPoint(key, float(worker), step=batch * size + index)
                for index in range(size)
                for key in (f"w{worker}", "shared")
            ]
            with store.begin() as conn:
                metrics.log_batch(conn, run_id, points)
    finally:
        store.close()
    return worker


def _write_forever(url: str, run_id: str, size: int) -> None:
    store = MetadataStore.open(url)
    batch = 0
    while True:
        points = [metrics.MetricPoint("loss", 1.0, step=batch * size + i) for i in range(size)]
        with store.begin() as conn:
            metrics.log_batch(conn, run_id, points)
        batch += 1
        print(f"committed {batch}", flush=True)


if __name__ == "__main__":
    _write_forever(sys.argv[2], sys.argv[3], int(sys.argv[4]))
