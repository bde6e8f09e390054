"""The model's quality on a window: its logged predictions against the ground truth that
came back through ``/v1/feedback``, with bootstrap confidence intervals.

Performance drift is what input drift cannot see: when the world changes but the
inputs do not (concept drift), only the labels tell. A metric is *degraded* when even
the optimistic end of its confidence interval is worse than the baseline the reference
profile recorded on the evaluation set, by more than the policy's tolerance; with
fewer labelled rows than ``min_labels`` there is no verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from shipyard.monitoring import stats
from shipyard.monitoring._config import PerformancePolicy
from shipyard.monitoring._profile import DatasetProfile
from shipyard.monitoring._result import Estimate, PerformanceResult

__all__ = ["measure_performance", "prediction_column"]


def prediction_column(reference: DatasetProfile) -> str | None:
    """The logged output the labels are compared with: the first prediction of the
    reference profile (``prediction`` for a model returning one column)."""
    return next(iter(reference.predictions), None)


def measure_performance(
    reference: DatasetProfile, labelled: pd.DataFrame, policy: PerformancePolicy
) -> PerformanceResult | None:
    """Quality on ``labelled`` (rows with ``label`` and ``output.<prediction>``), or None
    when the reference profile records no task (no labels at training time)."""
    task = reference.task
    output = prediction_column(reference)
    if task is None or output is None:
        return None
    metrics = tuple(
        name for name in policy.metrics or _task_metrics(task) if name in _task_metrics(task)
    )
    baseline = {
        name: float(value) for name, value in reference.performance.items() if name in metrics
    }
    column = f"output.{output}"
    labelled = labelled.dropna(subset=["label"]) if "label" in labelled else labelled.iloc[:0]
    if column not in labelled or len(labelled) < policy.min_labels:
        return PerformanceResult(
            task=task, status="not_enough_data", labelled_rows=len(labelled), baseline=baseline
        )
    truth, predicted = _aligned(labelled["label"], labelled[column], task)
    estimates = _measure(task, truth, predicted, metrics, policy)
    degraded = tuple(
        name
        for name, estimate in estimates.items()
        if name in baseline and _worse(name, estimate, baseline[name], policy.tolerance)
    )
    return PerformanceResult(
        task=task,
        status="degraded" if degraded else "ok",
        labelled_rows=len(labelled),
        metrics=estimates,
        baseline=baseline,
        degraded=degraded,
        over_time=_hourly(labelled, column, task, metrics, policy),
    )


def _task_metrics(task: str) -> tuple[str, ...]:
    return stats.CLASSIFICATION_METRICS if task == "classification" else stats.REGRESSION_METRICS


def _measure(
    task: str,
    truth: np.ndarray,
    predicted: np.ndarray,
    metrics: tuple[str, ...],
    policy: PerformancePolicy,
    *,
    resamples: int | None = None,
) -> dict[str, Estimate]:
    # The log holds what the endpoint answered (classes, not probabilities), and ROC AUC
    # and log loss need scores: they are left out here (the evaluate action has them).
    wanted = tuple(name for name in metrics if name not in ("roc_auc", "log_loss"))
    resamples = policy.resamples if resamples is None else resamples
    if task == "classification":
        return stats.classification_performance(
            truth,
            predicted,
            metrics=wanted,
            confidence=policy.confidence,
            resamples=resamples,
        )
    return stats.regression_performance(
        truth, predicted, metrics=wanted, confidence=policy.confidence, resamples=resamples
    )


def _aligned(label: pd.Series, predicted: pd.Series, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions as comparable arrays: numbers when both are numeric (a
    label 1 and a prediction 1.0 are the same class), else text."""
    numeric_label = pd.to_numeric(label, errors="coerce")
    numeric_prediction = pd.to_numeric(predicted, errors="coerce")
    if task == "regression" or (numeric_label.notna().all() and numeric_prediction.notna().all()):
        return numeric_label.to_numpy(np.float64), numeric_prediction.to_numpy(np.float64)
    return label.astype(str).to_numpy(), predicted.astype(str).to_numpy()


def _worse(name: str, estimate: Estimate, baseline: float, tolerance: float) -> bool:
    if name in stats.LOWER_IS_BETTER:
        return estimate.low > baseline + tolerance
    return estimate.high < baseline - tolerance


def _hourly(
    labelled: pd.DataFrame,
    column: str,
    task: str,
    metrics: tuple[str, ...],
    policy: PerformancePolicy,
) -> tuple[tuple[datetime, Mapping[str, float]], ...]:
    """Point values of the metrics per hour of the window (no intervals: an hour holds
    few labels, and the chart shows the trend)."""
    hours = pd.to_datetime(labelled["timestamp"], utc=True).dt.floor("h")
    points = []
    for hour, rows in labelled.groupby(hours, sort=True):
        truth, predicted = _aligned(rows["label"], rows[column], task)
        values = _measure(task, truth, predicted, metrics, policy, resamples=0)
        points.append(
            (
                hour.to_pydatetime().astimezone(UTC),
                {name: estimate.value for name, estimate in values.items()},
            )
        )
    return tuple(points)
