"""Running independent nodes at the same time on a pool of workers, and the thread runner.

One loop serves the thread and the process runner: it keeps at most ``max_workers``
nodes in flight, starts a node as soon as the nodes it reads from are done, and after a
failure starts nothing new but lets the nodes already running finish.
"""

from __future__ import annotations

import abc
import logging
import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from typing import Any

from shipyard.errors import RunnerError
from shipyard.pipeline import Node
from shipyard.runner._runner import Run, Runner
from shipyard.runner._scheduler import Scheduler

__all__ = ["PoolRunner", "ThreadRunner"]

logger = logging.getLogger("shipyard.runner")


class PoolRunner(Runner):
    """A runner that executes ready nodes concurrently on an ``Executor``."""

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise RunnerError(
                f"max_workers must be a whole number of at least 1, not {max_workers!r}.",
                hint="Use --max-workers 4, or leave it out for a default that fits this machine.",
            )
        self._max_workers = max_workers

    @property
    def max_workers(self) -> int:
        """The most nodes this runner runs at once."""
        return self._max_workers or self._default_workers()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_workers={self._max_workers})"

    def _execute(self, run: Run) -> None:
        workers = max(1, min(self.max_workers, len(run.pipeline)))
        executor = self._open(run, workers)
        try:
            self._drive(run, executor, workers)
        except BaseException:
            # Interrupted or failed: drop the queued nodes and do not wait for the pool.
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown(wait=True)

    def _drive(self, run: Run, executor: Executor, workers: int) -> None:
        scheduler = Scheduler(run.pipeline)
        ready = deque(scheduler.initial())
        running: dict[Future[Any], tuple[Node, Any]] = {}
        failure: Exception | None = None
        while ready or running:
            while ready and failure is None and len(running) < workers:
                node = ready.popleft()
                try:
                    # Restoring from the node cache is quick I/O: done here, in order.
                    if run.restore_cached(node):
                        ready.extend(scheduler.done(node))
                        continue
                except Exception as exc:
                    failure = exc
                    break
                try:
                    future, context = self._submit(run, executor, node)
                except Exception as exc:
                    failure = exc
                    break
                running[future] = (node, context)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in [f for f in running if f in finished]:  # submission order
                node, context = running.pop(future)
                try:
                    duration = self._finish(run, node, future, context)
                except Exception as exc:
                    if failure is None:
                        failure = exc
                    else:
                        logger.warning(
                            "Run %s: node '%s' failed too: %s", run.run_id, node.name, exc
                        )
                    continue
                run.node_done(node, duration)
                ready.extend(scheduler.done(node))
        if failure is not None:
            raise failure

    @abc.abstractmethod
    def _default_workers(self) -> int:
        """How many workers to use when ``max_workers`` is not given."""

    @abc.abstractmethod
    def _open(self, run: Run, workers: int) -> Executor:
        """The executor for this run (checks that must pass before any node runs go here)."""

    @abc.abstractmethod
    def _submit(self, run: Run, executor: Executor, node: Node) -> tuple[Future[Any], Any]:
        """Start ``node``; return its future and whatever ``_finish`` needs with it."""

    @abc.abstractmethod
    def _finish(self, run: Run, node: Node, future: Future[Any], context: Any) -> float:
        """Complete ``node`` after its future is done; return its duration in seconds."""


class ThreadRunner(PoolRunner):
    """Runs independent nodes at the same time on threads of this process.

    Threads share memory, so nothing is copied or pickled: a good choice when nodes wait
    on I/O or call libraries that release the GIL (NumPy, pandas, scikit-learn).
    The default ``max_workers`` is the number of CPUs plus 4, at most 32.
    """

    def _default_workers(self) -> int:
        return min(32, (os.cpu_count() or 1) + 4)

    def _open(self, run: Run, workers: int) -> Executor:
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shipyard-node")

    def _submit(self, run: Run, executor: Executor, node: Node) -> tuple[Future[Any], Any]:
        return executor.submit(run.steps.execute, node), None

    def _finish(self, run: Run, node: Node, future: Future[Any], context: Any) -> float:
        return future.result()
