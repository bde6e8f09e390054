"""A model bundle (what a Docker image carries) served without a project or a registry:
the same answers, its own logs, credentials from a mounted file, and a tampered bundle
refused before anything is loaded."""

from __future__ import annotations

import json

import httpx
import pytest
from tests.serving.conftest import training_frame

from shipyard.errors import CredentialsError, ModelError, ModelIntegrityError, ModelNotFoundError
from shipyard.models._bundle import BundleSource, export_bundle, is_bundle
from shipyard.serving import ModelServer
from shipyard.serving._log import read_log
from shipyard.serving._run import running


@pytest.fixture
def bundle(registry, champion, tmp_path):
    folder = tmp_path / "image" / "bundle"
    export_bundle(registry, "churn@champion", folder, serving={"watch_interval_s": 1})
    return folder


def test_a_bundle_holds_the_version_and_serves_it_like_the_registry(
    bundle, champion, tmp_path, monkeypatch
):
    monkeypatch.setenv("SHIPYARD_LOG_DIR", str(tmp_path / "logs"))
    document = json.loads((bundle / "deploy.json").read_text())
    assert (document["model"], document["version"], document["aliases"]) == (
        "churn", champion, ["champion"]
    )  # fmt: skip
    assert is_bundle(bundle) and not is_bundle(tmp_path)
    assert any(line.startswith("scikit-learn==") for line in document["requirements"])
    server = ModelServer.for_bundle(bundle)
    assert server.watched is False
    rows = training_frame(3)[0].to_dict(orient="records")
    with running(server) as url:
        answer = httpx.post(f"{url}/v1/models/churn/predict", json={"records": rows}).json()
        described = httpx.get(f"{url}/v1/models/churn").json()
    assert answer["version"] == champion and len(answer["predictions"]) == 3
    assert described["digest"] == document["digest"]
    assert len(read_log(tmp_path / "logs" / "predictions")) == 3


def test_a_reference_the_bundle_does_not_hold_is_refused(bundle, champion):
    source = BundleSource(bundle)
    assert source.resolve("churn@champion").version == champion
    with pytest.raises(ModelNotFoundError, match=f"holds churn version {champion}"):
        source.resolve("churn:99")
    with pytest.raises(ModelError, match="not a model bundle") as caught:
        BundleSource(bundle.parent)
    assert "shipyard deploy docker" in caught.value.hint


def test_a_tampered_bundle_is_refused_before_loading(bundle):
    model_file = next(path for path in (bundle / "model" / "model").rglob("*") if path.is_file())
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match="changed after it was written"):
        ModelServer.for_bundle(bundle).load()


def test_tokens_come_from_the_mounted_credentials_file(registry, champion, tmp_path, monkeypatch):
    folder = tmp_path / "bundle"
    export_bundle(registry, "churn@champion", folder, serving={"auth_tokens": ["api"]})
    monkeypatch.setenv("SHIPYARD_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("SHIPYARD_CREDENTIALS_FILE", raising=False)
    with pytest.raises(CredentialsError, match="'api'"):
        ModelServer.for_bundle(folder)
    secrets = tmp_path / "secrets.yml"
    secrets.write_text("api: {token: s3cret}\n")
    monkeypatch.setenv("SHIPYARD_CREDENTIALS_FILE", str(secrets))
    rows = training_frame(1)[0].to_dict(orient="records")
    with running(ModelServer.for_bundle(folder)) as url:
        refused = httpx.post(f"{url}/v1/models/churn/predict", json={"records": rows})
        allowed = httpx.post(
            f"{url}/v1/models/churn/predict",
            json={"records": rows},
            headers={"authorization": "Bearer s3cret"},
        )
    assert refused.status_code == 401 and allowed.status_code == 200
    assert "s3cret" not in "".join(p.read_text() for p in folder.rglob("*.yml"))


def test_a_bundle_is_written_into_an_empty_folder_only(registry, champion, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(ModelError, match="not empty"):
        export_bundle(registry, "churn@champion", tmp_path / "busy")
