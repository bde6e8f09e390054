"""A flat mapping of metric name -> number, in a JSON file."""

from __future__ import annotations

import numbers
import reprlib
from collections.abc import Mapping
from typing import Any

from shipyard.data._text import JSONDataset
from shipyard.errors import DatasetError

_HINT = (
    "A metrics dataset holds a flat mapping of metric name -> number (int or float). "
    "Keep other values in a json or yaml dataset."
)


class MetricsDataset(JSONDataset):
    """Metrics as JSON (``type: metrics``; Kedro: ``tracking.MetricsDataset``).

    ``save`` checks every value first, so a bad value writes nothing:

    >>> MetricsDataset("data/09_tracking/metrics.json").describe()["type"]
    'metrics'
    """

    _type_name = "metrics"

    def _save(self, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise DatasetError(
                f"Dataset {self._label()} (metrics) needs a mapping of metric name -> number, "
                f"got {type(data).__qualname__}.",
                hint=_HINT,
            )
        super()._save({str(key): self._number(key, value) for key, value in data.items()})

    def _number(self, key: Any, value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise DatasetError(
                f"Metric '{key}' of dataset {self._label()} is not a number: "
                f"{type(value).__qualname__} {reprlib.repr(value)}.",
                hint=_HINT,
            )
        # numpy scalars become plain numbers, which the json module can write.
        return int(value) if isinstance(value, numbers.Integral) else float(value)
