"""Model packages: written whole, verified file by file before anything is deserialised,
and refused with a message that names the file when anything is off. Every refusal
leaves the package as it was and runs no code (the marker file never appears)."""

from __future__ import annotations

import gzip
import io
import platform
import zipfile
from datetime import datetime

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard.errors import ModelError, ModelIntegrityError, SignatureError, UnsafeModelError
from shipyard.models._package import (
    LoadedModel,
    ModelPackage,
    PackageManifest,
    load_package,
    package,
    read_manifest,
    verify_package,
)
from shipyard.objects import hash_file


@pytest.fixture
def classifier(numeric, labels):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(numeric, labels)


@pytest.fixture
def saved(tmp_path, classifier, numeric):
    """A sklearn package, saved with an example, metrics and lineage."""
    built = package(classifier, example=numeric, metrics={"auc": np.float32(0.75), "n": 3})
    built.run_id = "01J0RUN"
    built.training_data = [{"dataset": "customers", "version_id": "v1", "digest": None}]
    built.reference_profile = b'{"age": {"mean": 40}}'
    folder = tmp_path / "churn"
    built.save(folder)
    return folder


# --- writing --------------------------------------------------------------------------


def test_the_layout_and_manifest_describe_every_file(saved, numeric):
    assert sorted(p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()) == [
        "input_example.json",
        "model/model.skops",
        "reference_profile",
        "requirements.txt",
        "shipyard-model.yaml",
    ]
    raw = yaml.safe_load((saved / "shipyard-model.yaml").read_text())
    assert list(raw) == [
        "format_version",
        "flavor",
        "flavor_version",
        "flavor_details",
        "signature",
        "input_example",
        "python",
        "requirements",
        "metrics",
        "run_id",
        "training_data",
        "reference_profile",
        "description",
        "created_at",
        "shipyard_version",
        "has_predict_proba",
        "files",
    ]
    manifest = read_manifest(saved)
    assert manifest.format_version == 1 and manifest.flavor == "sklearn"
    assert manifest.python == platform.python_version()
    assert manifest.metrics == {"auc": pytest.approx(0.75), "n": 3.0}
    assert manifest.run_id == "01J0RUN" and manifest.training_data[0]["dataset"] == "customers"
    assert manifest.reference_profile == "reference_profile"
    assert manifest.has_predict_proba is True
    assert datetime.fromisoformat(manifest.created_at).utcoffset().total_seconds() == 0
    assert manifest.files == {
        path: str(hash_file(saved / path))
        for path in (
            "input_example.json",
            "model/model.skops",
            "reference_profile",
            "requirements.txt",
        )
    }
    names = [line.split("==")[0] for line in manifest.requirements]
    assert names == ["scikit-learn", "skops", "numpy", "pandas", "shipyard"]
    assert all("==" in line for line in manifest.requirements)
    assert (saved / "requirements.txt").read_text().splitlines() == list(manifest.requirements)
    assert len(pd.read_json(saved / "input_example.json")) == 20 < len(numeric)
    assert PackageManifest.from_dict(manifest.to_dict()) == manifest


def test_given_requirements_and_description_are_kept_as_given(tmp_path, classifier):
    built = package(classifier, requirements=["scikit-learn>=1.4"], description="churn v2")
    manifest = built.save(tmp_path / "p")
    assert manifest.requirements == ("scikit-learn>=1.4",)
    assert manifest.description == "churn v2"
    assert manifest.signature is None and manifest.input_example is None


def test_save_refuses_a_folder_that_is_not_empty_and_leaves_it_alone(
    tmp_path, classifier, snapshot_of
):
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(ModelError) as raised:
        package(classifier).save(folder)
    assert str(folder) in raised.value.message and "not an empty folder" in raised.value.message
    assert snapshot_of(folder) == {"notes.txt": b"keep me"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]

    empty = tmp_path / "empty"
    empty.mkdir()
    package(classifier).save(empty)
    verify_package(empty)


class FailingFlavor:
    """Writes part of its files, then fails: what a full disk does mid-save."""

    name = "sklearn"
    carries_code = False

    def save(self, model, folder):
        (folder / "half.bin").write_bytes(b"half")
        raise OSError("No space left on device")


def test_a_failed_save_leaves_nothing_behind(tmp_path, classifier):
    built = ModelPackage(model=classifier, flavor=FailingFlavor())
    with pytest.raises(OSError, match="No space left"):
        built.save(tmp_path / "models" / "churn")
    assert list((tmp_path / "models").iterdir()) == []


# --- integrity ------------------------------------------------------------------------


def test_a_file_changed_after_saving_is_refused_by_name(saved, snapshot_of):
    (saved / "requirements.txt").write_text("evil-package==6.6.6\n")
    before = snapshot_of(saved)
    with pytest.raises(ModelIntegrityError) as raised:
        load_package(saved)
    assert "requirements.txt changed after the package was written" in raised.value.message
    assert "Nothing was loaded" in raised.value.message
    assert snapshot_of(saved) == before


def test_an_extra_a_missing_or_a_linked_file_is_refused(saved, tmp_path, snapshot_of):
    (saved / "model" / "patch.py").write_text("print('hello')\n")
    (saved / "input_example.json").unlink()
    (tmp_path / "outside.txt").write_text("secret")
    (saved / "model" / "link.txt").symlink_to(tmp_path / "outside.txt")
    before = snapshot_of(saved)
    with pytest.raises(ModelIntegrityError) as raised:
        verify_package(saved)
    message = raised.value.message
    assert "model/patch.py is not listed" in message
    assert "input_example.json is missing" in message
    assert "model/link.txt is a symbolic link" in message
    assert snapshot_of(saved) == before


def _zip_with(name, data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "case",
    [
        (lambda exploit: exploit, ""),
        (lambda exploit: _zip_with("data.pkl", exploit), "inside ZIP member 'data.pkl'"),
        (gzip.compress, "gzip-compressed"),
    ],
    ids=["plain", "zip-member", "gzip"],
)
def test_a_pickle_in_place_of_the_model_file_is_refused_even_when_trusted(
    saved, forge, exploit, marker, case
):
    form, where = case
    forge(saved, "model/model.skops", form(exploit))  # digests forged to match
    for trusted in (False, True):
        with pytest.raises(UnsafeModelError) as raised:
            load_package(saved, trusted=trusted)
        message = raised.value.message
        assert "model/model.skops holds a pickle stream that imports" in message
        assert where in message and "nothing was loaded" in message
    assert not marker.exists()


def test_a_pickle_hidden_as_the_reference_profile_is_refused(saved, forge, exploit, marker):
    forge(saved, "reference_profile", exploit)
    with pytest.raises(UnsafeModelError, match="reference_profile holds a pickle"):
        verify_package(saved)
    assert not marker.exists()


def test_a_damaged_model_file_is_a_model_error_naming_the_package(saved, forge):
    forge(saved, "model/model.skops", b"not a zip archive at all")
    with pytest.raises(ModelError) as raised:
        load_package(saved)
    assert (
        "sklearn model in" in raised.value.message and "could not be loaded" in raised.value.message
    )
    assert "scikit-learn==" in raised.value.hint


# --- the python flavor ----------------------------------------------------------------


class MarksWhenLoaded:
    """A python-flavor model whose unpickling creates a marker file."""

    def __init__(self, path):
        self.path = str(path)

    def __setstate__(self, state):
        open(state["path"], "w").close()
        self.__dict__.update(state)

    def predict(self, df):
        return np.zeros(len(df))


def test_a_python_flavor_package_loads_only_when_trusted(tmp_path, numeric, marker):
    folder = tmp_path / "custom"
    package(MarksWhenLoaded(marker), example=numeric.head()).save(folder)
    assert read_manifest(folder).flavor == "python"
    assert cloudpickle.loads((folder / "model" / "model.pkl").read_bytes())  # really live
    marker.unlink()

    with pytest.raises(UnsafeModelError) as raised:
        load_package(folder)
    assert "python-flavor package" in raised.value.message
    assert "runs code" in raised.value.message
    assert "trusted=True" in raised.value.hint and "governance officer" in raised.value.hint
    assert not marker.exists()

    loaded = load_package(folder, trusted=True)
    assert marker.exists()
    assert loaded.predict(numeric).shape == (len(numeric),)


# --- the manifest ---------------------------------------------------------------------


def test_an_unknown_manifest_key_is_refused_with_a_suggestion(saved, manifest_editor):
    manifest_editor(saved, lambda doc: doc.update(metrcs=doc.pop("metrics")))
    with pytest.raises(ModelError) as raised:
        load_package(saved)
    assert "unknown key 'metrcs'. Did you mean 'metrics'?" in raised.value.message
    assert "shipyard-model.yaml" in raised.value.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda doc: doc.pop("files"), "lacks the key(s) files"),
        (lambda doc: doc.update(format_version=2), "format_version 2 is not 1"),
        (lambda doc: doc.update(flavor=["sklearn"]), "flavor: expected a flavor name"),
        (lambda doc: doc.update(metrics={"auc": "high"}), "metrics.auc: expected a number"),
        (lambda doc: doc.update(has_predict_proba="yes"), "expected true or false"),
        (lambda doc: doc.update(requirements="numpy"), "expected a list of strings"),
        (lambda doc: doc.update(created_at="yesterday"), "not an ISO 8601 time"),
        (lambda doc: doc.update(training_data=[{"dataset": "x"}]), "exactly the keys"),
        (lambda doc: doc["signature"]["inputs"][0].update(dtype="int65"), "unknown dtype"),
        (
            lambda doc: doc["files"].update({"requirements.txt": "md5:abc"}),
            "'md5:abc' is not a digest",
        ),
    ],
)
def test_a_manifest_with_a_missing_key_or_a_wrong_type_is_refused(
    saved, manifest_editor, change, message
):
    manifest_editor(saved, change)
    with pytest.raises(ModelError) as raised:
        read_manifest(saved)
    assert message in raised.value.message
    assert "register the model again" in raised.value.hint


@pytest.mark.parametrize(
    "bad",
    [
        ("../outside.txt", "'..' segment"),
        ("/etc/passwd", "absolute"),
        ("model\\model.skops", "backslash"),
    ],
)
@pytest.mark.parametrize("key", ["files", "input_example", "reference_profile"])
def test_manifest_paths_that_leave_the_package_are_refused(
    saved, manifest_editor, snapshot_of, bad, key
):
    path, problem = bad

    def change(doc):
        if key == "files":
            doc["files"][path] = doc["files"].pop("requirements.txt")
        else:
            doc[key] = path

    manifest_editor(saved, change)
    before = snapshot_of(saved)
    with pytest.raises(ModelError) as raised:
        load_package(saved)
    assert repr(path) in raised.value.message and problem in raised.value.message
    assert snapshot_of(saved) == before


def test_flavor_details_that_point_outside_the_model_folder_are_refused(saved, manifest_editor):
    manifest_editor(saved, lambda doc: doc["flavor_details"].update(file="../requirements.txt"))
    with pytest.raises(ModelError, match=r"name the file '\.\./requirements\.txt'"):
        load_package(saved)


def test_a_folder_without_a_manifest_or_with_broken_yaml_is_refused(tmp_path, saved):
    with pytest.raises(ModelError, match=r"shipyard-model\.yaml is missing"):
        load_package(tmp_path / "nowhere")
    (saved / "shipyard-model.yaml").write_text("flavor: [unclosed\n")
    with pytest.raises(ModelError, match="cannot be read as YAML"):
        load_package(saved)


# --- loaded models --------------------------------------------------------------------


def test_predict_checks_the_signature_and_orders_the_columns(saved, classifier, numeric):
    loaded = load_package(saved)
    assert isinstance(loaded, LoadedModel) and loaded.flavor.name == "sklearn"
    assert loaded.metrics["n"] == 3.0
    shuffled = numeric[["income", "age"]]
    np.testing.assert_array_equal(loaded.predict(shuffled), classifier.predict(numeric))
    assert hasattr(loaded, "predict_proba")
    with pytest.raises(SignatureError) as raised:
        loaded.predict(
            numeric.assign(age=numeric["age"].astype(str), extra=1).drop(columns="income")
        )
    message = raised.value.message
    assert "column 'age' has dtype string, expected int64" in message
    assert "column 'extra' is not in the signature" in message
    assert "column 'income' is missing" in message


def test_a_regressor_has_no_predict_proba(tmp_path, numeric):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(numeric, numeric["income"])
    package(model, example=numeric.head()).save(tmp_path / "r")
    loaded = load_package(tmp_path / "r")
    assert not hasattr(loaded, "predict_proba")
    assert read_manifest(tmp_path / "r").has_predict_proba is False
    with pytest.raises(AttributeError, match="no predict_proba"):
        loaded.predict_proba(numeric)


def test_the_input_example_comes_back_with_its_dtypes(tmp_path, mixed, labels):
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier().fit(mixed, labels)
    package(model, example=mixed.head(7)).save(tmp_path / "p")
    example = load_package(tmp_path / "p").input_example()
    pd.testing.assert_frame_equal(example, mixed.head(7), check_dtype=False)
    assert [str(example[c].dtype) for c in ("age", "region", "active")] == [
        "int64",
        "category",
        "bool",
    ]


def test_package_refuses_what_it_cannot_describe(classifier, numeric):
    with pytest.raises(ModelError, match="Did you mean 'sklearn'"):
        package(classifier, flavor="sklaern")
    with pytest.raises(ModelError, match="predict\\(\\) failed on the input example"):
        package(classifier, example=numeric.assign(extra=1))
    with pytest.raises(ModelError, match=r"metrics\.auc: expected a number"):
        package(classifier, metrics={"auc": "good"})
    with pytest.raises(ModelError, match="python flavor does not handle a object"):
        package(object(), flavor="python")
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(ModelError, match="StandardScaler has no predict method"):
        package(StandardScaler().fit(numeric), example=numeric)
