"""Columns compared through their profiles: the method each gets, what drifts, and the
columns that get no verdict (missing, all null, too few values) instead of a false alarm."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import ConfigError
from shipyard.monitoring import compare_frames, parse_monitoring_config, reference_profile
from shipyard.monitoring._config import PerformancePolicy
from shipyard.monitoring._performance import measure_performance


def frames(rows: int = 5_000, *, shift: float = 0.5, seed: int = 0):
    """20 normal columns; columns c0..c4 of the current frame shifted by ``shift`` sd."""
    rng = np.random.default_rng(seed)
    mu, sigma = rng.uniform(-5, 5, 20), rng.uniform(0.5, 3, 20)
    names = [f"c{j}" for j in range(20)]
    reference = pd.DataFrame(rng.normal(mu, sigma, (rows, 20)), columns=names)
    current = rng.normal(mu, sigma, (rows, 20))
    current[:, :5] += shift * sigma[:5]
    return reference, pd.DataFrame(current, columns=names)


def test_shifted_columns_and_only_those_drift():
    reference, current = frames()
    result = compare_frames(reference, current)
    assert sorted(result.drifted_columns) == ["c0", "c1", "c2", "c3", "c4"]
    assert result.drift_share == 0.25 and result.status == "ok"  # below the 0.5 share
    assert {c.method for c in result.columns} == {"wasserstein"}
    assert all(c.statistic > 0.4 for c in result.columns if c.status == "drift")
    assert all(c.statistic < 0.05 for c in result.columns if c.status == "ok")
    assert [c.column for c in result.sorted_columns()][:5] == result.drifted_columns


def test_small_frames_use_tests_and_rules_override_methods():
    reference, current = frames(rows=800)
    result = compare_frames(reference, current)
    assert {c.method for c in result.columns} == {"ks"}
    assert all(c.p_value is not None for c in result.columns)
    config = parse_monitoring_config({"columns": {"c0": {"method": "psi", "threshold": 0.2}}})
    c0 = compare_frames(reference, current, config=config).columns[0]
    assert (c0.method, c0.threshold, c0.p_value) == ("psi", 0.2, None)


def test_categories_new_values_and_columns_without_a_verdict():
    rng = np.random.default_rng(1)
    reference = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "plus", "pro"], 5_000, p=[0.5, 0.3, 0.2]),
            "age": rng.normal(40, 10, 5_000),
            "income": rng.normal(50_000, 5_000, 5_000),
            "score": rng.normal(0, 1, 5_000),
        }
    )
    current = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "plus", "enterprise"], 5_000, p=[0.3, 0.3, 0.4]),
            "age": np.full(5_000, np.nan),
            "score": np.r_[rng.normal(0, 1, 50), np.full(4_950, np.nan)],
        }
    )
    by_name = {c.column: c for c in compare_frames(reference, current).columns}
    plan = by_name["plan"]
    assert (plan.kind, plan.method, plan.status) == ("categorical", "jensenshannon", "drift")
    assert plan.new_categories == ("enterprise",)
    assert "enterprise" in plan.histogram.labels
    assert (by_name["age"].status, by_name["age"].current_nulls) == ("empty", 5_000)
    assert by_name["income"].status == "missing"
    assert by_name["score"].status == "not_enough_data"
    assert "at least 100" in by_name["score"].message
    assert all(by_name[name].drifted is None for name in ("age", "income", "score"))


def test_a_method_that_does_not_fit_the_column_is_named():
    reference = pd.DataFrame({"plan": ["a", "b"] * 600})
    config = parse_monitoring_config({"columns": {"plan": {"method": "ks"}}})
    with pytest.raises(ConfigError) as caught:
        compare_frames(reference, reference, config=config)
    assert "columns.plan.method: ks does not apply" in caught.value.message
    assert "jensenshannon" in caught.value.hint


def test_one_hot_flags_and_counts_are_compared_on_their_exact_values():
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"flag": rng.integers(0, 2, 5_000), "calls": rng.poisson(1.5, 5_000)})
    current = pd.DataFrame(
        {"flag": (rng.random(5_000) < 0.8).astype(int), "calls": rng.poisson(1.5, 5_000)}
    )
    by_name = {c.column: c for c in compare_frames(reference, current).columns}
    assert by_name["flag"].status == "drift" and by_name["calls"].status == "ok"


def performance_of(truth, predicted, *, baseline: dict, min_labels: int = 100):
    reference = reference_profile(
        pd.DataFrame({"x": np.arange(len(truth), dtype=float)}),
        predictions=np.asarray(predicted),
        labels=pd.Series(truth),
        task="classification",
        performance=baseline,
    )
    labelled = pd.DataFrame(
        {
            "label": list(truth),
            "output.prediction": list(predicted),
            "timestamp": pd.date_range("2026-11-02", periods=len(truth), freq="min", tz="UTC"),
        }
    )
    policy = PerformancePolicy(min_labels=min_labels, resamples=200)
    return measure_performance(reference, labelled, policy)


def test_performance_is_degraded_only_when_the_interval_is_clear_of_the_baseline():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 2_000)
    right = np.where(rng.random(2_000) < 0.9, truth, 1 - truth)
    wrong = np.where(rng.random(2_000) < 0.7, truth, 1 - truth)
    fine = performance_of(truth, right, baseline={"accuracy": 0.9, "n_test": 1000})
    assert fine.status == "ok" and fine.degraded == ()
    assert fine.metrics["accuracy"].low < 0.9 < fine.metrics["accuracy"].high
    assert set(fine.baseline) == {"accuracy"}
    worse = performance_of(truth, wrong, baseline={"accuracy": 0.9})
    assert worse.status == "degraded" and "accuracy" in worse.degraded
    assert "roc_auc" not in worse.metrics  # the log holds classes, not scores
    assert len(worse.over_time) == math.ceil(2_000 / 60)
    too_few = performance_of(truth[:50], wrong[:50], baseline={"accuracy": 0.9})
    assert (too_few.status, too_few.labelled_rows, too_few.metrics) == ("not_enough_data", 50, {})
