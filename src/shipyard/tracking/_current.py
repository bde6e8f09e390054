"""Which run a logging call goes to.

In order: the innermost ``start_run`` block of this context; the pipeline run in progress
in this process (its nodes log to it); else the process's *fallback* run, which is

- the run named by ``$SHIPYARD_RUN_ID``, made by another process — a notebook executed by
  ``shipyard notebook run`` or by a notebook node logs to the run that executes it; or
- a run made on first use by a factory, when one is set: ``%load_ext shipyard`` sets one,
  so ``shipyard.log_metric`` in an interactive notebook needs no ``with`` block, and a
  notebook that never logs leaves no empty run behind.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shipyard.errors import TrackingError

if TYPE_CHECKING:
    from shipyard.tracking._run import ActiveRun

__all__ = [
    "RUN_ID_VARIABLE",
    "RUN_PROJECT_VARIABLE",
    "active_run",
    "end_default_run",
    "enter_pipeline_run",
    "leave_pipeline_run",
    "log_metric",
    "log_metrics",
    "log_params",
    "use_default_run",
]

#: The environment variable naming the run a child process logs to, and the one naming
#: the project whose store holds it (a worker need not run in the project's folder).
RUN_ID_VARIABLE = "SHIPYARD_RUN_ID"
RUN_PROJECT_VARIABLE = "SHIPYARD_RUN_PROJECT"

logger = logging.getLogger("shipyard.tracking")
_worker_warned: list[str] = []  # one warning per worker process
#: The run of the innermost ``start_run`` block of this context.
_active: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar(
    "shipyard_active_run", default=None
)
#: The run of the pipeline running in this process (runner threads do not inherit context
#: variables, so this one is process-wide); set by the tracking hooks.
_pipeline_run: list[ActiveRun] = []


class _Fallback:
    """The process's fallback run: attached, made by the factory, or not yet known."""

    def __init__(self) -> None:
        self.run: ActiveRun | None = None
        self.attached_to: str | None = None  # the $SHIPYARD_RUN_ID the run was found by
        self.factory: Callable[[], ActiveRun] | None = None
        # re-entrant: the factory makes its run with create_run, which asks for a parent
        self.lock = threading.RLock()

    def get(self, *, create: bool) -> ActiveRun | None:
        variable = os.environ.get(RUN_ID_VARIABLE) or None
        if self.run is not None and self.attached_to == variable:
            return self.run  # the path of every logging call once the run is known
        with self.lock:
            if self.attached_to is not None and self.attached_to != variable:
                self.run = self.attached_to = None  # the variable changed since
            if self.run is None and variable is not None:
                from shipyard.tracking._run import attach_run

                project = os.environ.get(RUN_PROJECT_VARIABLE) or None
                try:
                    self.run = attach_run(variable, project_root=project)
                    self.attached_to = variable
                except TrackingError:
                    if create:  # a logging call: say why its points have nowhere to go
                        raise
                    return None  # asked for a parent run: a stale variable is no parent
            elif self.run is None and create and self.factory is not None:
                self.run = self.factory()
            return self.run


_fallback = _Fallback()


def active_run() -> ActiveRun | None:
    """The run logging calls go to: the innermost ``start_run`` block, else the pipeline
    run in progress in this process, else the run ``$SHIPYARD_RUN_ID`` names or the
    default run once made (see :func:`use_default_run`), else None."""
    run = _active.get()
    if run is None and _pipeline_run:
        return _pipeline_run[-1]
    return run if run is not None else _fallback.get(create=False)


def use_default_run(factory: Callable[[], ActiveRun] | None) -> None:
    """Let logging calls made outside any run go to a run that ``factory`` makes on the
    first such call (None: stop doing so). ``$SHIPYARD_RUN_ID``, when set, wins."""
    _fallback.factory = factory


def end_default_run(status: str = "finished") -> None:
    """Finish the run the default factory made, if it made one, and forget it. A run
    attached through ``$SHIPYARD_RUN_ID`` is left to the process that owns it."""
    with _fallback.lock:
        run, made_here = _fallback.run, _fallback.attached_to is None
        _fallback.run = _fallback.attached_to = None
    if run is not None and made_here:
        run.finish(status)


def enter_pipeline_run(run: ActiveRun) -> None:
    """Make ``run`` the process's pipeline run, for ``log_metric`` calls in its nodes."""
    _pipeline_run.append(run)


def leave_pipeline_run(run: ActiveRun) -> None:
    """``run`` is over: logging calls no longer go to it."""
    if run in _pipeline_run:
        _pipeline_run.remove(run)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log one metric point to the active run (a ``start_run`` block, or the pipeline
    run whose node is calling)."""
    run = _require_active_run("log_metric")
    if run is not None:
        run.log_metric(key, value, step)


def log_metrics(values: Mapping[str, float], step: int | None = None) -> None:
    """Log one point of each metric in ``values`` to the active run."""
    run = _require_active_run("log_metrics")
    if run is not None:
        run.log_metrics(values, step)


def log_params(values: Mapping[str, Any]) -> None:
    """Log parameters to the active run; a different value for a logged key raises
    ParamConflictError."""
    run = _require_active_run("log_params")
    if run is not None:
        run.log_params(values)


def _require_active_run(call: str) -> ActiveRun | None:
    try:
        run = active_run() or _fallback.get(create=True)
    except TrackingError:
        if not _in_worker():
            raise
        run = None  # a worker whose run cannot be reached: the warning below
    if run is not None:
        return run
    if _in_worker():
        # A ProcessRunner worker outside a tracked run (or cut off from its store): the
        # points cannot be recorded, which must not fail the node: say so once.
        if not _worker_warned:
            _worker_warned.append(call)
            logger.warning(
                "shipyard.%s() in a ProcessRunner worker (pid %d) is not recorded: the "
                "worker cannot reach the pipeline's run; save the values to a metrics "
                "dataset instead.",
                call,
                os.getpid(),
            )
        return None
    raise TrackingError(
        f"shipyard.{call}() was called with no active run.",
        hint="Call it inside `with shipyard.start_run():`, or in a node of a pipeline "
        "run by `shipyard run` in a project (docs/tracking.md).",
    )


def _in_worker() -> bool:
    import multiprocessing  # only off the logging fast path

    return multiprocessing.parent_process() is not None
