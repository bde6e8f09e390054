"""Metrics: a flat mapping of name -> number, checked before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shipyard.errors import DatasetError


def test_metrics_round_trip_and_numpy_numbers(make_catalog, root):
    catalog = make_catalog({"m": {"type": "metrics", "filepath": "data/09_tracking/m.json"}})
    catalog.save("m", {"accuracy": np.float64(0.91), "rows": np.int64(120), "loss": 0.2})
    assert catalog.load("m") == {"accuracy": 0.91, "rows": 120, "loss": 0.2}
    assert json.loads((root / "data/09_tracking/m.json").read_text())["rows"] == 120


@pytest.mark.parametrize(
    ("value", "shown"),
    [("high", "str 'high'"), (True, "bool True"), ({"a": 1}, "dict {'a': 1}"), (None, "NoneType")],
)
def test_non_numbers_are_named_and_nothing_is_written(make_catalog, root, value, shown):
    catalog = make_catalog({"m": {"type": "tracking.MetricsDataSet", "filepath": "m.json"}})
    catalog.save("m", {"accuracy": 0.9})
    before = (root / "m.json").read_bytes()
    with pytest.raises(DatasetError) as info:
        catalog.save("m", {"accuracy": 0.95, "quality": value})
    assert info.value.message.startswith(
        f"Metric 'quality' of dataset 'm' is not a number: {shown}"
    )
    assert "flat mapping of metric name -> number" in info.value.hint
    assert (root / "m.json").read_bytes() == before


def test_metrics_must_be_a_mapping(make_catalog):
    catalog = make_catalog({"m": {"type": "metrics", "filepath": "m.json"}})
    with pytest.raises(DatasetError, match=r"needs a mapping of metric name -> number, got list"):
        catalog.save("m", [0.9])
