"""The registry service on a real SQLite store and object store: register, resolve, load,
promote through gates and approvals, trust, cards and export."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from shipyard.errors import (
    ModelIntegrityError,
    ModelNotFoundError,
    PermissionDeniedError,
    PromotionError,
    UnsafeModelError,
)
from shipyard.metadata import MetadataStore
from shipyard.metadata import registry as repo
from shipyard.models import ModelRegistry, package
from shipyard.models._card import render_html, render_markdown
from shipyard.models._card_data import card_data
from shipyard.models._evaluate import score
from shipyard.models._export import export_model
from shipyard.objects import ObjectStore, VersionIndex

USERS = {"alice": ["data_scientist"], "bob": ["ml_engineer"], "carol": ["governance"]}


def frame(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"tenure": rng.integers(1, 72, n), "charges": rng.normal(70, 20, n)})
    y = pd.Series((X["tenure"] < 20).astype(int), name="churned")
    return X, y


def packaged(folder: Path, *, C: float = 1.0, auc: float = 0.9) -> Path:
    X, y = frame()
    model = LogisticRegression(C=C, max_iter=500).fit(X, y)
    package(model, example=X.head(), metrics={"auc": auc}).save(folder)
    return folder


class TableScorer:
    """Scores on an in-memory table, as the project's catalog does with a dataset."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table

    def score(self, model, metric, dataset, version, *, target=None):
        table = self.table.assign(extra=1.0) if target else self.table
        return score(model, metric, table, where=f"dataset '{dataset}'", target=target)


@pytest.fixture
def make_registry(tmp_path):
    store = MetadataStore.open(f"sqlite:///{tmp_path / 'shipyard.db'}")
    objects = ObjectStore(tmp_path / "objects")
    index = VersionIndex(tmp_path / "versions.db")
    X, y = frame(seed=1)
    scorer = TableScorer(X.assign(churned=y))

    def make(user: str = "alice", governance: dict | None = None) -> ModelRegistry:
        return ModelRegistry(
            store,
            objects,
            index,
            cache=tmp_path / "cache",
            governance=governance,
            user=user,
            scorer=scorer,
        )

    yield make
    store.close()


def test_register_resolve_and_load_a_package(make_registry, tmp_path):
    registry = make_registry()
    first = registry.register("Churn", packaged(tmp_path / "p1"))
    second = registry.register("churn", packaged(tmp_path / "p2", C=0.1))
    assert (first.model, first.version, second.version) == ("churn", 1, 2)
    assert registry.register("churn", tmp_path / "p1").version == 1  # same content
    assert registry.resolve("churn").version == 2
    assert registry.resolve("models:/churn/1").digest == first.digest
    model = registry.load("churn:1")
    X, _ = frame()
    assert model.predict(X).shape == (len(X),)
    assert model.predict_proba(X).shape == (len(X), 2)
    # the package is also a version in the index, so push/pull/gc keep it
    stored = {str(v.digest) for v in registry.index.versions("models:/churn")}
    assert stored == {first.digest, second.digest}


def test_a_tampered_package_is_never_registered(make_registry, tmp_path):
    registry = make_registry()
    folder = packaged(tmp_path / "p")
    model_file = next(p for p in (folder / "model").iterdir() if p.is_file())
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match=model_file.name):
        registry.register("churn", folder)
    with registry.store.connect() as conn:
        assert repo.list_models(conn) == []


def test_a_tampered_cache_is_refused_at_load(make_registry, tmp_path):
    registry = make_registry()
    record = registry.register("churn", packaged(tmp_path / "p"))
    cached = registry.package_folder(record)
    manifest = cached / "shipyard-model.yaml"
    manifest.chmod(0o644)
    data = yaml.safe_load(manifest.read_text())
    data["metrics"] = {"auc": 0.99}
    manifest.write_text(yaml.safe_dump(data))
    with pytest.raises(ModelIntegrityError, match=r"shipyard-model\.yaml changed"):
        registry.load("churn:1")


def test_unknown_models_and_aliases_are_named(make_registry, tmp_path):
    registry = make_registry()
    registry.register("churn", packaged(tmp_path / "p"))
    with pytest.raises(ModelNotFoundError):
        registry.resolve("churn@champion")
    with pytest.raises(ModelNotFoundError):
        registry.resolve("fraud")


def test_promotion_without_policy_moves_the_alias_and_records_history(make_registry, tmp_path):
    registry = make_registry()
    registry.register("churn", packaged(tmp_path / "p1"))
    registry.register("churn", packaged(tmp_path / "p2", C=0.1))
    assert registry.promote("churn", 1, "champion").decision.outcome == "promote"
    moved = registry.promote("churn", 2, "champion")
    assert moved.previous == 1
    assert registry.resolve("churn@champion").version == 2
    with registry.store.connect() as conn:
        kinds = [e.kind for e in repo.history(conn, "churn")]
    assert kinds == ["registered", "registered", "promoted", "promoted"]


GATED = {
    "users": USERS,
    "promotion": {
        "champion": {
            "gates": [
                {"metric": "auc >= 0.8"},
                {"signature_compatible_with": "champion"},
                {"better_than": {"alias": "champion", "metric": "auc", "by": 0.0, "dataset": "t"}},
            ],
            "approvals": {"required": 1, "roles": ["ml_engineer", "governance"]},
        }
    },
}


def test_a_failed_gate_refuses_with_reasons_and_is_in_the_history(make_registry, tmp_path):
    registry = make_registry("bob", GATED)
    registry.register("churn", packaged(tmp_path / "p", auc=0.6))
    with pytest.raises(PromotionError, match="auc"):
        registry.promote("churn", 1, "champion")
    with registry.store.connect() as conn:
        assert repo.aliases(conn, "churn") == {}
        assert repo.history(conn, "churn")[-1].kind == "rejected"


def test_promotion_waits_for_an_approval_by_another_allowed_role(make_registry, tmp_path):
    alice, bob, carol = (make_registry(u, GATED) for u in ("alice", "bob", "carol"))
    alice.register("churn", packaged(tmp_path / "p"))
    with pytest.raises(PermissionDeniedError, match="alice"):
        alice.promote("churn", 1, "champion")  # data scientists do not promote
    pending = bob.promote("churn", 1, "champion")
    assert pending.decision.outcome == "pending" and pending.request is not None
    with bob.store.connect() as conn:
        assert repo.aliases(conn, "churn") == {}
    with pytest.raises(PromotionError, match="cannot also approve"):
        bob.approve("churn", 1, "champion")
    with pytest.raises(PermissionDeniedError):
        alice.approve("churn", 1, "champion")
    done = carol.approve("churn", 1, "champion", comment="checked the card")
    assert done.decision.outcome == "promote"
    assert carol.resolve("churn@champion").version == 1


def test_better_than_scores_both_models_on_the_same_data(make_registry, tmp_path):
    policy = {"promotion": {"champion": {"gates": GATED["promotion"]["champion"]["gates"]}}}
    registry = make_registry("alice", policy)
    registry.register("churn", packaged(tmp_path / "good", C=1.0))
    registry.promote("churn", 1, "champion")
    # a heavily regularised model that predicts almost nothing
    registry.register("churn", packaged(tmp_path / "weak", C=1e-6))
    with pytest.raises(PromotionError, match="better"):
        registry.promote("churn", 2, "champion")
    assert registry.resolve("churn@champion").version == 1


def test_python_flavor_needs_trust_from_governance(make_registry, tmp_path):
    class Doubler:
        def predict(self, X):
            return X.iloc[:, 0] * 2

    X, _ = frame()
    package(Doubler(), example=X.head()).save(tmp_path / "py")
    alice = make_registry("alice", {"users": USERS})
    carol = make_registry("carol", {"users": USERS})
    alice.register("doubler", tmp_path / "py")
    with pytest.raises(UnsafeModelError):
        alice.load("doubler:1")
    with pytest.raises(PermissionDeniedError):
        alice.trust("doubler", 1)
    assert carol.trust("doubler", 1).trusted
    assert list(alice.load("doubler:1").predict(X.head(2))) == list(X["tenure"].head(2) * 2)


def test_card_and_exports(make_registry, tmp_path):
    registry = make_registry()
    record = registry.register("churn", packaged(tmp_path / "p"), description="<b>churn</b>")
    data = card_data(registry, record)
    markdown = render_markdown(data)
    assert "churn" in markdown and "auc" in markdown and "tenure" in markdown
    assert "<b>churn</b>" not in render_html(data)

    mlflow_dir = export_model(registry, record, tmp_path / "mlflow", format="mlflow")
    mlmodel = yaml.safe_load((mlflow_dir / "MLmodel").read_text())
    assert mlmodel["flavors"]["python_function"]["loader_module"] == (
        "shipyard.models.mlflow_loader"
    )
    from shipyard.models.mlflow_loader import _load_pyfunc

    loaded = _load_pyfunc(str(mlflow_dir / mlmodel["flavors"]["python_function"]["data"]))
    X, _ = frame()
    assert loaded.predict(X).shape == (len(X),)

    onnx_file = export_model(registry, record, tmp_path / "onnx", format="onnx")
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_file))
    labels = session.run(None, {"input": X[["tenure", "charges"]].to_numpy(np.float32)})[0]
    assert (labels == registry.load("churn:1").predict(X)).mean() > 0.99


def test_garbage_collection_keeps_registered_packages(make_registry, tmp_path):
    from shipyard.objects import collect_garbage

    registry = make_registry()
    record = registry.register("churn", packaged(tmp_path / "p"))
    registry.load(f"churn:{record.version}")
    shutil.rmtree(registry.cache)  # the next load must come from the object store again
    report = collect_garbage(registry.objects, registry.index.digests(), dry_run=False)
    assert report.removed == ()
    assert registry.load(f"churn:{record.version}").predict(frame()[0]).shape == (200,)


def test_a_signature_change_fails_the_gate_with_the_columns_named(make_registry, tmp_path):
    policy = {"promotion": {"champion": {"gates": [{"signature_compatible_with": "champion"}]}}}
    registry = make_registry("alice", policy)
    registry.register("churn", packaged(tmp_path / "p"))
    registry.promote("churn", 1, "champion")
    X, y = frame()
    wider = X.assign(region=np.where(X["tenure"] > 30, 1.0, 0.0))
    package(LogisticRegression().fit(wider, y), example=wider.head()).save(tmp_path / "wide")
    narrower = X[["tenure"]]
    package(LogisticRegression().fit(narrower, y), example=narrower.head()).save(tmp_path / "one")
    registry.register("churn", tmp_path / "wide")
    registry.register("churn", tmp_path / "one")
    with pytest.raises(PromotionError, match="region"):
        registry.promote("churn", 2, "champion")
    with pytest.raises(PromotionError, match="charges"):
        registry.promote("churn", 3, "champion")
    assert registry.resolve("churn@champion").version == 1


def test_better_than_with_a_named_target_column(make_registry, tmp_path):
    gate = {"alias": "champion", "metric": "auc", "dataset": "t", "target": "churned"}
    registry = make_registry(
        "alice", {"promotion": {"champion": {"gates": [{"better_than": gate}]}}}
    )
    registry.register("churn", packaged(tmp_path / "good"))
    registry.promote("churn", 1, "champion")
    registry.register("churn", packaged(tmp_path / "weak", C=1e-6))
    with pytest.raises(PromotionError, match="better"):
        registry.promote("churn", 2, "champion")
    wrong = {**gate, "target": "churn"}
    registry = make_registry(
        "alice", {"promotion": {"champion": {"gates": [{"better_than": wrong}]}}}
    )
    with pytest.raises(PromotionError, match="no label column 'churn'"):
        registry.promote("churn", 2, "champion")
