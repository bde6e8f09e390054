"""The `model` catalog type: packages saved whole, versioned as trees, loaded verified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard.data import Catalog, Versioning
from shipyard.errors import ModelIntegrityError
from shipyard.models import LoadedModel, ModelDataset, package


def training_data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"tenure": rng.integers(1, 72, 100), "charges": rng.normal(70, 20, 100)})
    return X, (X["tenure"] < 20).astype(int)


def catalog_for(root: Path) -> Catalog:
    entries = {"model": {"type": "model", "filepath": "data/model", "versioned": True}}
    return Catalog.from_config(
        entries, project_root=root, versioning=Versioning.open(root / ".shipyard")
    )


def test_the_catalog_type_and_its_project_root(tmp_path):
    catalog = catalog_for(tmp_path)
    dataset = catalog.get("model").wrapped
    assert isinstance(dataset, ModelDataset)
    assert dataset.location.path == str(tmp_path / "data/model")


def test_saves_are_versions_of_the_whole_folder(tmp_path):
    X, y = training_data()
    catalog = catalog_for(tmp_path)
    catalog.save("model", package(LogisticRegression().fit(X, y), example=X.head()))
    catalog.save("model", LogisticRegression(C=0.01).fit(X, y))  # a bare model is packaged
    versions = Versioning.open(tmp_path / ".shipyard").index.versions("model")
    assert [v.kind for v in versions] == ["tree", "tree"]
    loaded = catalog.load("model")
    assert isinstance(loaded, LoadedModel) and loaded.signature is None
    assert loaded.predict(X).shape == (100,)
    # nothing of the first package is left beside the second
    assert not (tmp_path / "data/model/input_example.json").exists()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["model"]


def test_a_pinned_version_loads_from_the_store(tmp_path):
    X, y = training_data()
    catalog = catalog_for(tmp_path)
    catalog.save("model", package(LogisticRegression().fit(X, y), example=X.head()))
    first = Versioning.open(tmp_path / ".shipyard").index.latest("model")
    catalog.save("model", LogisticRegression(C=0.01).fit(X, y))
    pinned = Catalog.from_config(
        {"model": {"type": "model", "filepath": "data/model", "versioned": True}},
        project_root=tmp_path,
        versioning=Versioning.open(tmp_path / ".shipyard", load_versions={"model": first.id}),
    )
    assert pinned.load("model").signature is not None


def test_a_changed_working_copy_is_refused(tmp_path):
    X, y = training_data()
    catalog = catalog_for(tmp_path)
    catalog.save("model", package(LogisticRegression().fit(X, y), example=X.head()))
    weights = next((tmp_path / "data/model/model").iterdir())
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes()[:-1])
    with pytest.raises(ModelIntegrityError, match=weights.name):
        catalog_for(tmp_path).load("model")
