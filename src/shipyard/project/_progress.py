"""Run progress as a hook plugin: a Rich bar on a terminal, one plain line per node elsewhere.

Progress is only a view of the run, so it plugs into the runner's hooks like any
other plugin; the runner knows nothing about terminals.
"""

from __future__ import annotations

import sys
import threading
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from shipyard.runner import hook_impl

__all__ = ["RunProgress"]


class RunProgress:
    """Shows nodes done / total, the node running now and the elapsed time; nodes whose
    results came from the node cache count as done and say "cached".

    On a terminal it draws a Rich progress bar on stderr; when stderr is not a
    terminal (CI logs, files) it writes one plain line per finished node; with
    ``quiet=True`` it shows nothing.
    """

    def __init__(self, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self._quiet = quiet
        self._stream = stream if stream is not None else sys.stderr
        self._progress: Progress | None = None
        self._task: Any = None
        self._total = 0
        self._done = 0
        # node hooks fire from worker threads under the thread runner
        self._lock = threading.Lock()

    @hook_impl
    def before_pipeline_run(self, pipeline: Any) -> None:
        self._total, self._done = len(pipeline.nodes), 0
        if self._quiet or not self._stream.isatty():
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=self._stream),
            transient=True,
        )
        self._task = self._progress.add_task("starting", total=self._total)
        self._progress.start()

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=node.name)

    @hook_impl
    def after_node_run(self, node: Any, duration_s: float) -> None:
        self._finished(node, f"done in {duration_s:.3f}s")

    @hook_impl
    def after_node_cache_hit(self, node: Any, source_run_id: str | None, duration_s: float) -> None:
        run = source_run_id or "unknown"
        self._finished(node, f"cached in {duration_s:.3f}s (results of run {run})")

    def _finished(self, node: Any, what: str) -> None:
        with self._lock:
            self._done += 1
            if self._progress is not None:
                self._progress.advance(self._task)
            elif not self._quiet:
                width = len(str(self._total))
                self._stream.write(f"[{self._done:>{width}}/{self._total}] {node.name} {what}\n")

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._stop()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
