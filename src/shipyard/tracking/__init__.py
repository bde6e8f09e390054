"""Tracking: every pipeline run recorded automatically, and runs of your own from Python.

>>> import shipyard
>>> with shipyard.start_run(name="baseline", experiment="churn") as run:  # doctest: +SKIP
...     run.log_params({"C": 0.5})
...     run.log_metric("auc", 0.91)

``shipyard.log_metric`` / ``log_metrics`` / ``log_params`` log to the active run: the
innermost ``start_run`` block, the pipeline run whose node is calling, or the run of the
notebook (``$SHIPYARD_RUN_ID`` of a headless execution, :func:`use_default_run` of
``%load_ext shipyard``). Pipeline runs
are tracked by :data:`tracker`, the hook plugin Shipyard registers for every session.
Runs go to ``$SHIPYARD_DB`` or the project's ``.shipyard/shipyard.db`` (docs/tracking.md).
:func:`compare_runs` and :func:`diff_runs` put recorded runs side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_getattr

if TYPE_CHECKING:  # for type checkers and IDEs only; runtime imports are lazy below
    from shipyard.tracking._compare import (
        CompareRow,
        Comparison,
        RunDiff,
        compare_runs,
        diff_runs,
        metric_histories,
    )
    from shipyard.tracking._current import (
        RUN_ID_VARIABLE,
        active_run,
        end_default_run,
        log_metric,
        log_metrics,
        log_params,
        use_default_run,
    )
    from shipyard.tracking._hooks import Tracker, tracker
    from shipyard.tracking._run import ActiveRun, attach_run, start_run

# Imported on first use: `shipyard runs list` opens the store (``_stores``) without the
# hooks, the runner and the capture of git and packages that a tracked run needs.
_LAZY = {
    "ActiveRun": "._run",
    "CompareRow": "._compare",
    "Comparison": "._compare",
    "RUN_ID_VARIABLE": "._current",
    "RunDiff": "._compare",
    "Tracker": "._hooks",
    "active_run": "._current",
    "attach_run": "._run",
    "compare_runs": "._compare",
    "diff_runs": "._compare",
    "end_default_run": "._current",
    "log_metric": "._current",
    "log_metrics": "._current",
    "log_params": "._current",
    "metric_histories": "._compare",
    "start_run": "._run",
    "tracker": "._hooks",
    "use_default_run": "._current",
}

__all__ = [
    "RUN_ID_VARIABLE",
    "ActiveRun",
    "CompareRow",
    "Comparison",
    "RunDiff",
    "Tracker",
    "active_run",
    "attach_run",
    "compare_runs",
    "diff_runs",
    "end_default_run",
    "log_metric",
    "log_metrics",
    "log_params",
    "metric_histories",
    "start_run",
    "tracker",
    "use_default_run",
]

__getattr__ = lazy_getattr(__name__, _LAZY)
