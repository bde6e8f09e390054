"""A small real project for tracking tests: versioned datasets, a metrics dataset, a node
that logs metric points with ``shipyard.log_metric``, and parameters."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

NODES = """
import os
import sys
import time

import shipyard


def scale(numbers, factor):
    return [n * factor for n in numbers]


def train(scaled, epochs):
    for epoch in range(epochs):
        shipyard.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    if os.environ.get("DEMO_FAIL"):
        raise ValueError("the model diverged")
    if os.environ.get("DEMO_HANG"):
        print("train started", file=sys.stderr, flush=True)
        time.sleep(60)
    return {"weights": sum(scaled)}


def evaluate(model):
    return {"auc": 0.5 + model["weights"] / 100, "n": 3}
"""

PIPELINE = """
from shipyard import node, pipeline

from demo.nodes import evaluate, scale, train


def create_pipeline():
    return pipeline([
        node(scale, ["numbers", "params:factor"], "scaled", name="scale"),
        node(train, ["scaled", "params:model.epochs"], "model", name="train"),
        node(evaluate, "model", "metrics", name="evaluate"),
    ])
"""

REGISTRY = """
from demo.pipelines.main.pipeline import create_pipeline


def register_pipelines():
    main = create_pipeline()
    return {"__default__": main, "main": main}
"""

CATALOG = """
numbers:
  type: json
  filepath: data/numbers.json
  versioned: true
scaled:
  type: json
  filepath: data/scaled.json
  versioned: true
model:
  type: json
  filepath: data/model.json
  versioned: true
metrics:
  type: metrics
  filepath: data/metrics.json
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """The demo project; SHIPYARD_DB unset so runs go to its .shipyard/shipyard.db."""
    monkeypatch.delenv("SHIPYARD_DB", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "demo"
    write(root / "pyproject.toml", "[tool.shipyard]\npackage_name = 'demo'\n")
    write(root / "conf/base/parameters.yml", "factor: 2\nmodel:\n  epochs: 3\n  kind: gbm\n")
    write(root / "conf/base/catalog.yml", CATALOG)
    (root / "conf/local").mkdir(parents=True)
    write(root / "data/numbers.json", "[1, 2, 3]")
    write(root / "src/demo/__init__.py", "")
    write(root / "src/demo/nodes.py", NODES)
    write(root / "src/demo/pipeline_registry.py", REGISTRY)
    write(root / "src/demo/pipelines/__init__.py", "")
    write(root / "src/demo/pipelines/main/__init__.py", "")
    write(root / "src/demo/pipelines/main/pipeline.py", PIPELINE)
    return root


def forget_project_modules() -> None:
    for name in [m for m in sys.modules if m == "demo" or m.startswith("demo.")]:
        del sys.modules[name]
