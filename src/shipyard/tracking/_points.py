"""What a metric point may be: a non-empty name, a real number, a 64-bit step.

The checks of the slow path: ``ActiveRun.log_metric`` accepts plain ``str``/``float``/
``int`` without calling them, and calls them for anything else (numpy scalars, bad input).
"""

from __future__ import annotations

import numbers
from typing import Any

from shipyard.errors import TrackingError

__all__ = ["INT64_MAX", "INT64_MIN", "metric_key", "metric_step", "metric_value"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def metric_key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise TrackingError(
            f"Metric name {key!r} is not a non-empty string.",
            hint="Name metrics with strings such as 'loss' or 'val/auc'.",
        )
    return key


def metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TrackingError(
            f"Metric '{key}' is not a number: {type(value).__qualname__} {value!r:.80}.",
            hint="Log numbers (int, float, numpy scalars); NaN and ±inf are kept as they are.",
        )
    return float(value)


def metric_step(key: str, step: Any) -> int:
    if step is None:
        return 0
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TrackingError(
            f"Step {step!r} of metric '{key}' is not an integer.",
            hint="Pass step= as an int (the epoch or iteration), or leave it out.",
        )
    if not INT64_MIN <= step <= INT64_MAX:
        raise TrackingError(
            f"Step {step} of metric '{key}' is out of range: steps are 64-bit integers.",
            hint=f"Use steps between {INT64_MIN} and {INT64_MAX}.",
        )
    return int(step)
