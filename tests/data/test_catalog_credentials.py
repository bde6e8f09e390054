"""Credentials reach the dataset and never appear in a repr, a description or an error."""

from __future__ import annotations

import json

import pytest

from shipyard.data import AbstractDataset, CSVDataset
from shipyard.errors import DatasetError

SECRET = "hunter2-very-secret"
URL = f"postgresql://ann:{SECRET}@db.example.com/shop"
CREDENTIALS = {
    "s3_dev": {"key": "AKIAEXAMPLEKEY", "secret": SECRET},
    "warehouse": {"con": URL},
}


class Leaky(AbstractDataset):
    """A dataset whose errors and description would show its credentials."""

    def __init__(self, credentials) -> None:
        self._credentials = credentials

    def _load(self):
        raise ConnectionError(f"login failed for {self._credentials['con']}")

    def _save(self, data):
        raise ValueError(f"password {SECRET} rejected")

    def _exists(self):
        return False

    def _describe(self):
        return {"dsn": self._credentials["con"], "note": f"user ann, password {SECRET}"}

    def _target(self):
        return f"warehouse {self._credentials['con']}"


@pytest.fixture
def catalog(make_catalog):
    return make_catalog(
        {
            "remote": {"type": "csv", "filepath": "memory://bucket/r.csv", "credentials": "s3_dev"},
            "leaky": {"type": f"{__name__}.Leaky", "credentials": "warehouse"},
            "inline": {"type": "sql_table", "table_name": "t", "credentials": {"con": URL}},
        },
        credentials=CREDENTIALS,
    )


def assert_clean(text: str) -> None:
    assert SECRET not in text
    assert "AKIAEXAMPLEKEY" not in text


def test_describe_shows_credential_names_only(catalog):
    for name in ("remote", "leaky", "inline"):
        assert_clean(json.dumps(catalog.describe(name)))
    assert catalog.describe("remote")["credentials"] == "s3_dev"
    assert catalog.describe("inline")["credentials"] == "<inline>"
    assert catalog.get("remote").describe()["credentials"] == ["key", "secret"]


def test_repr_never_shows_values(catalog):
    for name in ("remote", "leaky", "inline"):
        assert_clean(repr(catalog.get(name)))
    assert_clean(repr(catalog))
    assert repr(catalog.get("leaky")) == "<Leaky 'leaky' at warehouse ***>"


def test_errors_mask_credential_values(catalog):
    with pytest.raises(DatasetError) as info:
        catalog.load("leaky")
    assert_clean(info.value.describe())
    assert info.value.message == (
        "Failed to load dataset 'leaky' from warehouse ***: ConnectionError: login failed for ***"
    )
    with pytest.raises(DatasetError) as info:
        catalog.save("leaky", 1)
    assert info.value.message.endswith("ValueError: password *** rejected")


def test_credentials_reach_the_dataset(catalog):
    assert catalog.get("remote")._credentials == CREDENTIALS["s3_dev"]


def test_constructor_errors_are_masked_too(make_catalog):
    class Strict(Leaky):
        def __init__(self, credentials) -> None:
            raise ValueError(f"cannot parse {credentials['con']}")

    globals()["Strict"] = Strict
    try:
        with pytest.raises(DatasetError) as info:
            make_catalog(
                {"s": {"type": f"{__name__}.Strict", "credentials": "warehouse"}},
                credentials=CREDENTIALS,
            )
    finally:
        del globals()["Strict"]
    assert info.value.message == "Could not create dataset 's': ValueError: cannot parse ***"


def test_short_values_are_not_masked(root):
    dataset = CSVDataset(
        "a.csv", credentials={"region": "eu", "token": "abcd1234"}, project_root=root
    )
    assert dataset.describe()["credentials"] == ["region", "token"]
