"""The monitoring schedule: windows aligned to ``every``, each analysed once.

Window ends are multiples of ``every`` since the Unix epoch (UTC), so every process
agrees on them: with ``every: 1h`` and ``window: 24h``, the window ending at 10:00
covers yesterday 10:00 to today 10:00. The newest stored window end of the model is the
schedule's memory: after a restart, or a night the scheduler was down, the windows it
missed are analysed in order (the newest ``MAX_CATCH_UP`` of them), and none twice.

``--once`` (cron, Airflow, a Kubernetes CronJob) resumes unfinished actions, checks the
windows due now and returns; ``--watch`` does the same at every boundary until
SIGINT/SIGTERM, finishing the window in progress before it stops.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from shipyard.metadata import monitoring as repo
from shipyard.monitoring._monitor import Check, Monitor

__all__ = ["MAX_CATCH_UP", "due_windows", "run_due", "stop_on_signals", "watch"]

logger = logging.getLogger("shipyard.monitoring")

#: Missed windows analysed after a pause, newest first kept; older ones are reported.
MAX_CATCH_UP = 48
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def due_windows(
    now: datetime, *, every: timedelta, window: timedelta, last_end: datetime | None
) -> list[tuple[datetime, datetime]]:
    """The windows (start, end) to analyse at ``now``, oldest first: every aligned end
    after ``last_end`` up to the last boundary at or before ``now`` (just that one
    boundary when nothing was analysed yet), at most :data:`MAX_CATCH_UP` of them."""
    latest = _EPOCH + ((now - _EPOCH) // every) * every
    if last_end is None or last_end >= latest:
        ends = [] if last_end is not None else [latest]
    else:
        first = _EPOCH + ((last_end - _EPOCH) // every + 1) * every
        count = (latest - first) // every + 1
        if count > MAX_CATCH_UP:
            logger.warning("%d windows were missed; analysing the newest %d.", count, MAX_CATCH_UP)
            first = latest - (MAX_CATCH_UP - 1) * every
        ends = [first + i * every for i in range((latest - first) // every + 1)]
    return [(end - window, end) for end in ends]


def run_due(monitor: Monitor, *, now: datetime | None = None) -> list[Check]:
    """Resume unfinished actions, then check every window due at ``now``."""
    checks = monitor.resume()
    with monitor.registry.store.begin() as conn:
        last_end = repo.last_window_end(conn, monitor.name)
    for since, until in due_windows(
        now or datetime.now(UTC),
        every=monitor.config.every,
        window=monitor.config.window,
        last_end=last_end,
    ):
        checks.append(monitor.check(since, until))
    return checks


def watch(
    monitor: Monitor,
    stop: threading.Event,
    *,
    on_check: Callable[[Check], None] = lambda check: None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Check due windows at every boundary until ``stop`` is set; returns how many
    windows were checked. A failing check is logged and retried at the next boundary."""
    checked = 0
    while not stop.is_set():
        try:
            for check in run_due(monitor, now=clock()):
                checked += 1
                on_check(check)
        except Exception:
            logger.exception("Monitoring %s failed; trying again at the next window.", monitor.name)
        now = clock()
        every = monitor.config.every
        next_boundary = _EPOCH + ((now - _EPOCH) // every + 1) * every
        stop.wait(max((next_boundary - now).total_seconds(), 0.0) + 1.0)
    return checked


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Set ``stop`` on SIGINT or SIGTERM for the block (in the main thread), so the
    window in progress finishes and the loop ends cleanly."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def request_stop(signum: int, frame: object) -> None:
        logger.warning("Stopping after the current window (signal %d).", signum)
        stop.set()

    for sig in previous:
        signal.signal(sig, request_stop)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
