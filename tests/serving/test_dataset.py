"""The ``serving_log`` catalog type: read through the catalog with filters, never written."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from shipyard.data import Catalog
from shipyard.errors import DatasetError
from shipyard.serving._log import PredictionLog


@pytest.fixture
def logged(tmp_path):
    log = PredictionLog(tmp_path / "data" / "09_logs" / "predictions")
    log.start()
    for model, hour in (("churn", 8), ("churn", 9), ("fraud", 9)):
        log.log(
            f"{model}-{hour}",
            model,
            1,
            pd.DataFrame({"age": [30, 40]}),
            {"prediction": [0, 1]},
            1.5,
            timestamp=datetime(2026, 11, 28, hour, 30, tzinfo=UTC),
        )
    log.close()
    return tmp_path


def catalog(root, **entry):
    config = {"type": "serving_log", "filepath": "data/09_logs/predictions", **entry}
    return Catalog.from_config({"prediction_log": config}, project_root=root)


def test_the_log_loads_through_the_catalog_with_filters(logged):
    everything = catalog(logged).load("prediction_log")
    assert len(everything) == 6 and set(everything["model"]) == {"churn", "fraud"}
    churn_at_nine = catalog(logged, load_args={"model": "churn", "since": "2026-11-28T09:00"}).load(
        "prediction_log"
    )
    assert churn_at_nine["request_id"].unique().tolist() == ["churn-9"]


def test_saving_and_unknown_filters_are_refused(logged):
    with pytest.raises(DatasetError, match="only by `shipyard serve`"):
        catalog(logged).save("prediction_log", pd.DataFrame({"a": [1]}))
    with pytest.raises(DatasetError, match="modle"):
        catalog(logged, load_args={"modle": "churn"}).load("prediction_log")
    with pytest.raises(DatasetError, match="not a date"):
        catalog(logged, load_args={"since": "yesterday-ish"}).load("prediction_log")
