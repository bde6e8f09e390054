"""Pickle: saving always works, loading only when the entry says the file is trusted."""

from __future__ import annotations

import pytest

from shipyard.errors import DatasetError, UnsafeDataError

MODEL = {"weights": [0.1, 0.2], "bias": 3}


def test_untrusted_pickle_is_saved_but_not_loaded(make_catalog, root):
    catalog = make_catalog(
        {"model": {"type": "pickle", "filepath": "data/06_models/model.pkl"}},
        origins={"model": "conf/base/catalog.yml"},
    )
    catalog.save("model", MODEL)
    assert (root / "data/06_models/model.pkl").is_file()
    with pytest.raises(UnsafeDataError) as info:
        catalog.load("model")
    assert info.value.message == (
        "Dataset 'model' (data/06_models/model.pkl) is a pickle that is not marked trusted; "
        "loading it would run code stored in the file."
    )
    assert "add `trusted: true` to the catalog entry 'model'" in info.value.hint
    assert "parquet" in info.value.hint
    assert (root / "data/06_models/model.pkl").is_file()


def test_trusted_pickle_round_trips(make_catalog):
    catalog = make_catalog({"m": {"type": "pickle", "filepath": "m.pkl", "trusted": True}})
    catalog.save("m", MODEL)
    assert catalog.load("m") == MODEL
    assert catalog.describe("m")["trusted"] is True


@pytest.mark.parametrize("backend", ["joblib", "cloudpickle"])
def test_other_backends(make_catalog, backend):
    catalog = make_catalog(
        {
            "m": {
                "type": "pickle.PickleDataset",
                "filepath": "m.pkl",
                "backend": backend,
                "trusted": True,
            }
        }
    )
    catalog.save("m", MODEL)
    assert catalog.load("m") == MODEL


def test_trusted_must_be_true_not_truthy(make_catalog):
    catalog = make_catalog({"m": {"type": "pickle", "filepath": "m.pkl", "trusted": "yes"}})
    catalog.save("m", MODEL)
    with pytest.raises(UnsafeDataError):
        catalog.load("m")


def test_unknown_backend_is_named_with_a_suggestion(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog(
            {"m": {"type": "pickle", "filepath": "m.pkl", "backend": "jobllib"}},
            origins={"m": "conf/base/catalog.yml"},
        )
    assert info.value.message == (
        "Could not create dataset 'm' in conf/base/catalog.yml: "
        "Unknown pickle backend 'jobllib'. Did you mean 'joblib'?"
    )
    assert "pickle, joblib, cloudpickle" in info.value.hint
