"""Fixtures for the endpoint: a registry with real scikit-learn models, and a server
answering real HTTP on a loopback port (uvicorn in a thread of the test process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from shipyard.lab import create_project
from shipyard.metadata import MetadataStore
from shipyard.models import ModelRegistry, package
from shipyard.objects import ObjectStore, VersionIndex
from shipyard.serving import ModelServer
from shipyard.serving._config import ServingConfig
from shipyard.serving._log import FeedbackLog, PredictionLog

COLUMNS = [f"f{i}" for i in range(6)]
FEATURES = ["tenure", "charges", "plan"]


def customers(n: int, seed: int = 0) -> pd.DataFrame:
    """Rows to score: an id the model does not use, an int, a float and a text column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"c{seed}-{i}" for i in range(n)],
            "tenure": rng.integers(1, 72, n),
            "charges": rng.normal(70, 20, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )


def make_project(folder: Path) -> Path:
    """A project from the template with ``churn`` (a classifier on an int, a float and a
    text column; version 1 is champion) and ``spend`` (2-d predictions) registered."""
    root = create_project(folder, example=False, init_git=False).path
    train = customers(300, seed=1)
    churn = make_pipeline(
        ColumnTransformer(
            [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])], remainder="passthrough"
        ),
        LogisticRegression(max_iter=500),
    ).fit(train[FEATURES], (train["tenure"] < 20).astype(int))
    package(churn, example=train[FEATURES].head()).save(root / "packages" / "churn")
    numbers = train[["tenure", "charges"]]
    spend = LinearRegression().fit(numbers, np.column_stack([numbers.sum(axis=1), -numbers.tenure]))
    package(spend, example=numbers.head()).save(root / "packages" / "spend")
    registry = ModelRegistry.for_project(root)
    registry.register("churn", root / "packages" / "churn")
    registry.promote("churn", 1, "champion")
    registry.register("spend", root / "packages" / "spend")
    return root


def training_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(COLUMNS))), columns=COLUMNS)
    y = pd.Series((X["f0"] + X["f1"] > 0).astype(int), name="label")
    return X, y


def register_model(registry: ModelRegistry, tmp_path: Path, *, C: float = 1.0) -> int:
    """Train, package and register a model of ``churn``; its version number."""
    X, y = training_frame()
    model = LogisticRegression(C=C, max_iter=500).fit(X, y)
    folder = tmp_path / f"package-{C}"
    package(model, example=X.head(), metrics={"auc": 0.9}).save(folder)
    return registry.register("churn", folder).version


@pytest.fixture
def registry(tmp_path) -> Iterator[ModelRegistry]:
    store = MetadataStore.open(f"sqlite:///{tmp_path / 'shipyard.db'}")
    yield ModelRegistry(
        store,
        ObjectStore(tmp_path / "objects"),
        VersionIndex(tmp_path / "versions.db"),
        cache=tmp_path / "cache",
        user="alice",
    )
    store.close()


@pytest.fixture
def champion(registry, tmp_path) -> int:
    """Version 1 of ``churn``, promoted to champion."""
    version = register_model(registry, tmp_path)
    registry.promote("churn", version, "champion")
    return version


@pytest.fixture
def make_server(registry, tmp_path) -> Callable[..., ModelServer]:
    """A server of ``churn@champion`` (or ``ref``) logging under tmp_path/logs."""

    def make(ref: str = "churn@champion", **settings) -> ModelServer:
        tokens = frozenset(settings.pop("tokens", ()))
        logs = settings.pop("logs", True)
        return ModelServer(
            ref,
            registry,
            config=ServingConfig(**settings),
            tokens=tokens,
            prediction_log=PredictionLog(tmp_path / "logs" / "predictions", flush_interval_s=0.1)
            if logs
            else None,
            feedback_log=FeedbackLog(tmp_path / "logs" / "feedback", flush_interval_s=0.1)
            if logs
            else None,
        )

    return make
