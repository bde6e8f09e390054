"""The public surface is exactly what each package's __all__ says, and it stays light."""

from __future__ import annotations

import importlib

import pytest
from tests.imports import modules_loaded_by

import shipyard

PACKAGES = [
    "shipyard",
    "shipyard.config",
    "shipyard.data",
    "shipyard.pipeline",
    "shipyard.runner",
    "shipyard.project",
    "shipyard.lab",
    "shipyard.objects",
    "shipyard.ids",
    "shipyard.errors",
    "shipyard.settings",
    "shipyard.tracking",
    "shipyard.models",
    "shipyard.governance",
    "shipyard.serving",
    "shipyard.monitoring",
    "shipyard.monitoring.stats",
    "shipyard.deploy",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_exist_and_are_sorted(package):
    module = importlib.import_module(package)
    exported = module.__all__
    for name in exported:
        assert getattr(module, name) is not None, f"{package}.{name}"
    assert sorted(exported) == sorted(set(exported)), f"{package}.__all__ has duplicates"


def test_top_level_api():
    assert set(shipyard.__all__) == {
        "AbstractDataset",
        "Catalog",
        "ConfigLoader",
        "Node",
        "Pipeline",
        "ProcessRunner",
        "SequentialRunner",
        "Session",
        "ShipyardError",
        "ThreadRunner",
        "__version__",
        "hook_impl",
        "load_model",
        "log_metric",
        "log_metrics",
        "log_params",
        "node",
        "pipeline",
        "start_run",
    }
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = shipyard.nope


def test_import_shipyard_is_light():
    code = (
        "import shipyard, shipyard.cli._app, shipyard.models, shipyard.models._hooks, "
        "shipyard.monitoring, shipyard.deploy"
    )
    heavy = {"pandas", "sklearn", "sqlalchemy", "omegaconf", "pyarrow", "numpy"}
    assert modules_loaded_by(code, heavy) == []


def test_dataset_types_of_entry_points_import_light():
    # Every command builds the catalog, and the template's catalog names the serving log
    # and model types: importing them must not cost pandas (0.3-0.5 s on `data status`).
    code = (
        "from shipyard._entry_points import entry_points; "
        "[point.load() for point in entry_points('shipyard.datasets')]"
    )
    heavy = {"pandas", "sklearn", "sqlalchemy", "pyarrow", "numpy", "shipyard.models._package"}
    assert modules_loaded_by(code, heavy) == []
