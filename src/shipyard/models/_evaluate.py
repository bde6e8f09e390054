"""Scoring a model on a dataset of the catalog, for ``better_than`` promotion gates.

The dataset holds the model's input columns plus one label column: the column that is not
in the model's input signature (or, when there are several, the one named like the
model's output). Metrics are scikit-learn's; ``auc`` uses ``predict_proba`` when the model
has it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.errors import ModelError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.models._package import LoadedModel
    from shipyard.project import Session

__all__ = ["METRICS", "CatalogScorer", "Scorer", "score"]


class Scorer(Protocol):
    """Evaluates a loaded model on a named dataset (optionally a pinned version)."""

    def score(
        self,
        model: LoadedModel,
        metric: str,
        dataset: str,
        version: str | None,
        *,
        target: str | None = None,
    ) -> float:
        """The model's ``metric`` on ``dataset``, whose label column is ``target``."""
        ...


def _auc(model: LoadedModel, features: pd.DataFrame, labels: Any) -> float:
    from sklearn.metrics import roc_auc_score

    if hasattr(model, "predict_proba"):
        scores = model.predict_proba(features)
        scores = scores[:, 1] if getattr(scores, "ndim", 1) == 2 else scores
    else:
        scores = model.predict(features)
    return float(roc_auc_score(labels, scores))


def _on_predictions(name: str) -> Callable[[LoadedModel, Any, Any], float]:
    def compute(model: LoadedModel, features: Any, labels: Any) -> float:
        import numpy as np
        from sklearn import metrics

        predicted = np.asarray(model.predict(features)).ravel()
        if name == "rmse":
            return float(np.sqrt(metrics.mean_squared_error(labels, predicted)))
        return float(getattr(metrics, name)(labels, predicted))

    return compute


#: Metric name -> function(model, features, labels). Higher is better, except for the
#: metrics in shipyard.models._policy.LOWER_IS_BETTER (rmse, mae).
METRICS: dict[str, Callable[[LoadedModel, Any, Any], float]] = {
    "auc": _auc,
    "roc_auc": _auc,
    "accuracy": _on_predictions("accuracy_score"),
    "f1": _on_predictions("f1_score"),
    "precision": _on_predictions("precision_score"),
    "recall": _on_predictions("recall_score"),
    "r2": _on_predictions("r2_score"),
    "rmse": _on_predictions("rmse"),
    "mae": _on_predictions("mean_absolute_error"),
}


def score(
    model: LoadedModel, metric: str, frame: pd.DataFrame, *, where: str, target: str | None = None
) -> float:
    """``metric`` of ``model`` on ``frame``: its input columns and the label column
    ``target`` (None: the one column beyond the inputs)."""
    compute = METRICS.get(metric)
    if compute is None:
        raise ModelError(
            f"Unknown metric '{metric}' in a promotion gate." + did_you_mean(metric, METRICS),
            hint=f"Use one of: {', '.join(sorted(METRICS))}.",
        )
    label = target if target is not None else _label_column(model, frame, where)
    if label not in frame.columns:
        raise ModelError(
            f"Cannot evaluate on {where}: it has no label column '{label}'."
            + did_you_mean(label, map(str, frame.columns)),
            hint="Set `target` of the better_than gate to the dataset's label column.",
        )
    signature = model.signature
    inputs = [c.name for c in signature.inputs] if signature else None
    features = frame[inputs] if inputs else frame.drop(columns=[label])
    return compute(model, features, frame[label])


def _label_column(model: LoadedModel, frame: pd.DataFrame, where: str) -> str:
    signature = model.signature
    if signature is None:
        raise ModelError(
            f"Cannot evaluate on {where}: the model has no signature, so its label column "
            "is unknown.",
            hint="Package the model with an input example: package(model, example=X).",
        )
    inputs = {column.name for column in signature.inputs}
    missing = sorted(inputs - set(frame.columns))
    if missing:
        raise ModelError(
            f"Cannot evaluate on {where}: it lacks the model's input columns {', '.join(missing)}.",
            hint="Name a dataset that holds the model's inputs and the label.",
        )
    extra = [column for column in frame.columns if column not in inputs]
    outputs = {column.name for column in signature.outputs}
    named = [column for column in extra if column in outputs]
    if len(extra) == 1 or len(named) == 1:
        return extra[0] if len(extra) == 1 else named[0]
    raise ModelError(
        f"Cannot evaluate on {where}: besides the model's inputs it has "
        f"{len(extra)} columns ({', '.join(map(str, extra)) or 'none'}), so the label is "
        "ambiguous.",
        hint="Name the label column with `target:` in the better_than gate.",
    )


class CatalogScorer:
    """Scores models on datasets of a project's catalog."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def score(
        self,
        model: LoadedModel,
        metric: str,
        dataset: str,
        version: str | None,
        *,
        target: str | None = None,
    ) -> float:
        """The model's ``metric`` on the catalog's ``dataset`` (at ``version`` if given)."""
        from shipyard.project import Session

        session = self._session
        if version is not None:
            session = Session.open(
                session.settings.project_root,
                env=session.settings.env,
                load_versions={dataset: version},
            )
        where = f"dataset '{dataset}'" + (f"@{version}" if version else "")
        return score(model, metric, session.catalog.load(dataset), where=where, target=target)
