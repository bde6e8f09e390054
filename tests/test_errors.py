from __future__ import annotations

import pytest

from shipyard import errors


def test_every_error_derives_from_shipyard_error_and_has_a_hint():
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type):
            assert issubclass(cls, errors.ShipyardError)
            assert cls.hint, f"{name} has no default hint"


def test_raise_site_hint_replaces_the_default():
    err = errors.DatasetError("Dataset 'x' failed.", hint="Do this.")
    assert err.describe() == "Dataset 'x' failed.\nhint: Do this."
    assert str(err) == "Dataset 'x' failed."


def test_missing_dependency_names_the_extra():
    err = errors.MissingDependencyError("s3fs", "s3", purpose="Reading s3:// paths")
    assert "s3fs" in err.message
    assert err.hint == 'Install it with: pip install "shipyard[s3]"'


def test_node_error_keeps_the_node_name():
    err = errors.NodeError("Node 'train' failed.", node="train")
    assert err.node == "train"
    assert "--from-nodes" in err.hint


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [
        ("filepth", ["filepath", "load_args"], " Did you mean 'filepath'?"),
        ("zzz", ["filepath"], ""),
    ],
)
def test_did_you_mean(word, choices, expected):
    assert errors.did_you_mean(word, choices) == expected
