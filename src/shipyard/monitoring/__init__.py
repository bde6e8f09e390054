"""Monitoring: drift and performance of a served model, measured against the reference
profile kept in its package, and the policy that closes the loop (docs/monitoring.md).

At training time, profile the data the model learned from and keep it in the package::

    import shipyard.monitoring

    profile = shipyard.monitoring.reference_profile(
        X_train, predictions=model.predict(X_test), labels=y_test, task="classification",
        performance={"accuracy": 0.81},
    )
    shipyard.models.package(model, example=X_test.head(), reference_profile=profile)

In production, compare a window of the prediction log with it, and act::

    monitor = shipyard.monitoring.Monitor.for_project("churn@champion")
    check = monitor.check(since, until)      # stored once per window; actions run
    check.result.drifted_columns             # ['monthly_charges', ...]

The statistics are in :mod:`shipyard.monitoring.stats` (pure numpy/scipy).
Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_getattr

if TYPE_CHECKING:
    from shipyard.monitoring._config import (
        MonitoringConfig,
        parse_duration,
        parse_monitoring_config,
    )
    from shipyard.monitoring._drift import compare_frames
    from shipyard.monitoring._monitor import Check, Monitor, Target
    from shipyard.monitoring._profile import DatasetProfile, ProfileAccumulator, reference_profile
    from shipyard.monitoring._report import render_html, write_report
    from shipyard.monitoring._result import (
        ColumnDrift,
        Estimate,
        Histogram,
        MonitoringResult,
        PerformanceResult,
    )
    from shipyard.monitoring._window import Window, read_window

__all__ = [
    "Check",
    "ColumnDrift",
    "DatasetProfile",
    "Estimate",
    "Histogram",
    "Monitor",
    "MonitoringConfig",
    "MonitoringResult",
    "PerformanceResult",
    "ProfileAccumulator",
    "Target",
    "Window",
    "compare_frames",
    "parse_duration",
    "parse_monitoring_config",
    "read_window",
    "reference_profile",
    "render_html",
    "write_report",
]

_LAZY = {
    "Check": "shipyard.monitoring._monitor",
    "ColumnDrift": "shipyard.monitoring._result",
    "DatasetProfile": "shipyard.monitoring._profile",
    "Estimate": "shipyard.monitoring._result",
    "Histogram": "shipyard.monitoring._result",
    "Monitor": "shipyard.monitoring._monitor",
    "MonitoringConfig": "shipyard.monitoring._config",
    "MonitoringResult": "shipyard.monitoring._result",
    "PerformanceResult": "shipyard.monitoring._result",
    "ProfileAccumulator": "shipyard.monitoring._profile",
    "Target": "shipyard.monitoring._monitor",
    "Window": "shipyard.monitoring._window",
    "compare_frames": "shipyard.monitoring._drift",
    "parse_duration": "shipyard.monitoring._config",
    "parse_monitoring_config": "shipyard.monitoring._config",
    "read_window": "shipyard.monitoring._window",
    "reference_profile": "shipyard.monitoring._profile",
    "render_html": "shipyard.monitoring._report",
    "write_report": "shipyard.monitoring._report",
}

__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)
