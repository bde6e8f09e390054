"""The model behind the endpoint: when the array path is taken, pinned references, and
where the logs may go."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.serving.conftest import register_model, training_frame

from shipyard.data._log_layout import log_root
from shipyard.errors import PathOutsideProjectError
from shipyard.models import load_package, package
from shipyard.serving._server import _matrix_predictor


def loaded(tmp_path, model, example):
    package(model, example=example).save(tmp_path / "package")
    return load_package(tmp_path / "package")


def test_a_numeric_model_that_takes_arrays_gets_the_array_path(tmp_path):
    X, y = training_frame()
    model = loaded(tmp_path, LogisticRegression().fit(X, y), X.head())
    predict = _matrix_predictor(model)
    assert predict is not None
    assert np.array_equal(predict(X.to_numpy()[:5]), model.predict(X.head()))


def test_a_model_that_selects_columns_by_name_keeps_dataframes(tmp_path):
    X, y = training_frame()
    by_name = ColumnTransformer([("scaled", StandardScaler(), ["f0", "f1"])])
    model = loaded(tmp_path, make_pipeline(by_name, LogisticRegression()).fit(X, y), X.head())
    assert _matrix_predictor(model) is None


def test_a_model_with_text_inputs_keeps_dataframes(tmp_path):
    X = pd.DataFrame({"plan": ["basic", "pro", "basic", "plus"], "age": [30, 40, 50, 60]})
    encode = ColumnTransformer(
        [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])], remainder="passthrough"
    )
    model = make_pipeline(encode, LogisticRegression()).fit(X, [0, 1, 0, 1])
    assert _matrix_predictor(loaded(tmp_path, model, X)) is None


def test_a_pinned_version_is_never_swapped(registry, tmp_path, make_server):
    first = register_model(registry, tmp_path)
    server = make_server(f"churn:{first}", logs=False)
    served = server.load()
    assert server.watched is False
    register_model(registry, tmp_path, C=0.01)
    assert server.check_for_update() is None and server.current is served
    described = served.describe()
    assert described["version"] == first and described["flavor"] == "sklearn"
    assert [column["name"] for column in described["signature"]["inputs"]][:2] == ["f0", "f1"]


def test_log_folders_stay_inside_the_project(tmp_path):
    catalog = {"prediction_log": {"type": "serving_log", "filepath": "../elsewhere"}}
    with pytest.raises(PathOutsideProjectError, match="outside the project"):
        log_root(tmp_path, catalog, "prediction_log")
    assert log_root(tmp_path, {}, "prediction_log") == tmp_path / "data/09_logs/prediction_log"


def test_a_bare_name_follows_the_newest_version(registry, tmp_path, make_server):
    first = register_model(registry, tmp_path)
    server = make_server("models:/churn", logs=False)
    assert server.watched is True and server.load().version == first
    second = register_model(registry, tmp_path, C=0.01)
    assert server.check_for_update().version == second
