"""Every statistic of shipyard.monitoring.stats against scipy, scikit-learn or a plain
textbook implementation written here, on random inputs; edge cases; the default-method
table; the errors and their hints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from sklearn import metrics as skm

from shipyard.errors import MonitoringError
from shipyard.monitoring import stats
from shipyard.monitoring._result import Estimate

FAST = settings(max_examples=60, deadline=None)


def close(a: float, b: float, tol: float = 1e-9) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=tol, abs_tol=tol)


# samples with ties (small integers) or without (floats), as columns really are
values = st.one_of(
    st.integers(-5, 5).map(float),
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
)
samples = st.lists(values, min_size=1, max_size=60).map(np.array)
tied_samples = st.lists(st.integers(0, 12), min_size=1, max_size=80).map(np.array)
count_pairs = st.integers(1, 12).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 40), min_size=k, max_size=k),
        st.lists(st.integers(0, 40), min_size=k, max_size=k),
    ).filter(lambda pair: sum(pair[0]) > 0 and sum(pair[1]) > 0)
)


def bins_of(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts with every distinct value of either sample in its own bin."""
    distinct = np.union1d(reference, current)
    return (
        np.array([(reference == v).sum() for v in distinct]),
        np.array([(current == v).sum() for v in distinct]),
    )


# --- sample-based --------------------------------------------------------------------


@FAST
@given(samples, samples)
@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")
def test_ks_test_equals_scipy_ks_2samp(reference, current):
    expected = scipy.stats.ks_2samp(reference, current)
    result = stats.ks_test(reference, current)
    assert close(result.statistic, expected.statistic)
    assert close(result.p_value, expected.pvalue)


@pytest.mark.parametrize("shift", [0.0, 0.004, 0.02, 0.05, 0.3, 3.0])
def test_ks_test_on_large_samples_equals_scipy_asymptotic_branches(shift):
    # above 10,000 values a side ks_2samp is asymptotic: these shifts reach the
    # Pelz-Good, the Smirnov-sum and the "p is 0" branches of the Kolmogorov tail
    rng = np.random.default_rng(7)
    reference = rng.normal(size=12_000)
    current = rng.normal(shift, size=15_000)
    expected = scipy.stats.ks_2samp(reference, current)
    result = stats.ks_test(reference, current)
    assert close(result.statistic, expected.statistic)
    assert close(result.p_value, expected.pvalue)


@settings(max_examples=80, deadline=None)
@given(st.integers(141, 30_000), st.floats(1.2, 20.0), st.booleans())
def test_kolmogorov_tail_equals_scipy_kstwo(n, z, beyond_half):
    # the vectorised Smirnov sum replaces scipy's only where scipy would be slow
    x = min(0.5 + z / 50, 0.97) if beyond_half else z / math.sqrt(n)
    assert close(stats._kolmogorov_sf(float(n), x), float(scipy.stats.kstwo.sf(x, n)))


@FAST
@given(samples, samples)
def test_wasserstein_equals_scipy(reference, current):
    assert close(
        stats.wasserstein(reference, current),
        scipy.stats.wasserstein_distance(reference, current),
    )


@FAST
@given(st.data())
def test_weighted_wasserstein_equals_scipy_and_repeated_values(data):
    reference = data.draw(samples)
    current = data.draw(samples)
    ref_w = np.array(
        data.draw(st.lists(st.integers(0, 5), min_size=reference.size, max_size=reference.size))
    )
    cur_w = np.array(
        data.draw(st.lists(st.integers(0, 5), min_size=current.size, max_size=current.size))
    )
    if ref_w.sum() == 0 or cur_w.sum() == 0:
        return
    value = stats.wasserstein(reference, current, ref_w, cur_w)
    assert close(value, scipy.stats.wasserstein_distance(reference, current, ref_w, cur_w))
    # integer weights are the same as repeating each value that many times
    repeated = (np.repeat(reference, ref_w), np.repeat(current, cur_w))
    assert close(value, scipy.stats.wasserstein_distance(*repeated), tol=1e-7)
    normed = stats.normed_wasserstein(reference, current, ref_w, cur_w)
    assert close(normed, value / max(np.std(repeated[0]), 0.001), tol=1e-7)


@FAST
@given(samples, samples)
def test_normed_wasserstein_divides_by_the_reference_population_std(reference, current):
    distance = scipy.stats.wasserstein_distance(reference, current)
    # Evidently's rule: the std (ddof=0), at least 0.001
    assert close(
        stats.normed_wasserstein(reference, current), distance / max(np.std(reference), 0.001)
    )
    assert close(stats.normed_wasserstein(reference, current, reference_std=2.0), distance / 2)


def test_normed_wasserstein_of_a_constant_reference_uses_the_floor():
    assert stats.normed_wasserstein([3.0] * 10, [3.0] * 5) == 0.0
    assert stats.normed_wasserstein([3.0] * 10, [3.0] * 9 + [4.0]) == pytest.approx(0.1 / 0.001)


# --- count-based ---------------------------------------------------------------------


@FAST
@given(tied_samples, tied_samples)
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # scipy, at n = m = 1
def test_ks_test_binned_equals_ks_2samp_asymp_with_one_bin_per_value(reference, current):
    expected = scipy.stats.ks_2samp(reference, current, method="asymp")
    result = stats.ks_test_binned(*bins_of(reference, current))
    assert close(result.statistic, expected.statistic)
    assert close(result.p_value, expected.pvalue)


@pytest.mark.parametrize("shift", [0.0, 0.03, 0.08, 0.5])
def test_ks_test_binned_equals_ks_2samp_asymp_on_large_rounded_samples(shift):
    rng = np.random.default_rng(3)
    reference = np.round(rng.normal(size=4000), 2)
    current = np.round(rng.normal(shift, size=3000), 2)
    expected = scipy.stats.ks_2samp(reference, current, method="asymp")
    result = stats.ks_test_binned(*bins_of(reference, current))
    assert close(result.statistic, expected.statistic)
    assert close(result.p_value, expected.pvalue)


def textbook_psi(ref, cur, epsilon=1e-4):
    """Evidently's rule, written out: shares, each side's empty shares filled."""
    keep = [i for i in range(len(ref)) if ref[i] or cur[i]]
    shares = []
    for counts in (ref, cur):
        total = sum(counts)
        side = [counts[i] / total for i in keep]
        smallest = min(s for s in side if s > 0)
        fill = smallest / 1e6 if smallest <= epsilon else epsilon
        shares.append([s if s > 0 else fill for s in side])
    return sum((c - r) * math.log(c / r) for r, c in zip(*shares, strict=True))


@FAST
@given(count_pairs)
def test_psi_follows_evidentlys_rule(pair):
    ref, cur = pair
    assert close(stats.psi(ref, cur), textbook_psi(ref, cur))
    assert close(stats.psi(ref, cur, epsilon=0.01), textbook_psi(ref, cur, epsilon=0.01))


def test_psi_fills_with_a_millionth_of_a_tiny_share():
    ref, cur = [100_000, 5, 0], [50_000, 5, 10]
    assert close(stats.psi(ref, cur), textbook_psi(ref, cur))
    assert stats.psi([1, 1], [1, 1]) == 0.0


@FAST
@given(count_pairs)
def test_jensen_shannon_equals_scipy(pair):
    assert close(stats.jensen_shannon(*pair), float(jensenshannon(*pair)))


@FAST
@given(count_pairs)
def test_hellinger_equals_the_textbook_formulas(pair):
    p = np.array(pair[0]) / sum(pair[0])
    q = np.array(pair[1]) / sum(pair[1])
    distance = stats.hellinger(*pair)
    # H^2 = 1 - sum(sqrt(p q)), and H = ||sqrt(p) - sqrt(q)||_2 / sqrt(2)
    assert close(distance**2, 1 - float(np.sqrt(p * q).sum()))
    assert close(distance, float(np.linalg.norm(np.sqrt(p) - np.sqrt(q))) / math.sqrt(2))


@FAST
@given(count_pairs)
def test_chi_square_equals_scipy_contingency_without_empty_categories(pair):
    ref, cur = np.array(pair[0]), np.array(pair[1])
    used = (ref > 0) | (cur > 0)
    result = stats.chi_square(ref, cur)
    if used.sum() < 2:
        assert result == stats.TestResult(0.0, 1.0)
        return
    expected = scipy.stats.chi2_contingency([ref[used], cur[used]], correction=False)
    assert close(result.statistic, expected.statistic)
    assert close(result.p_value, expected.pvalue)


def textbook_z(h1, n1, h2, n2):
    p1, p2, pooled = h1 / n1, h2 / n2, (h1 + h2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return z, 2 * scipy.stats.norm.sf(abs(z))


@FAST
@given(st.integers(1, 5000), st.integers(1, 5000), st.data())
def test_z_test_proportions_equals_the_pooled_textbook_test(n1, n2, data):
    h1 = data.draw(st.integers(0, n1))
    h2 = data.draw(st.integers(0, n2))
    result = stats.z_test_proportions(h1, n1, h2, n2)
    if h1 + h2 in (0, n1 + n2):
        assert result == stats.TestResult(0.0, 1.0)
        return
    z, p = textbook_z(h1, n1, h2, n2)
    assert close(result.statistic, z)
    assert close(result.p_value, p)


def test_identical_distributions_are_at_distance_zero_and_p_one():
    counts = [5, 0, 12, 3]
    assert stats.psi(counts, counts) == 0.0
    assert stats.jensen_shannon(counts, counts) == 0.0
    assert stats.hellinger(counts, counts) == 0.0
    assert stats.chi_square(counts, counts) == stats.TestResult(0.0, 1.0)
    assert stats.ks_test_binned(counts, [10, 0, 24, 6]) == stats.TestResult(0.0, 1.0)
    assert stats.z_test_proportions(3, 10, 30, 100) == stats.TestResult(0.0, 1.0)
    sample = [1.0, 2.5, 2.5, 7.0]
    assert stats.ks_test(sample, sample) == stats.TestResult(0.0, 1.0)
    assert stats.wasserstein(sample, sample) == 0.0
    assert stats.normed_wasserstein(sample, sample) == 0.0


def test_disjoint_supports_reach_the_maximum():
    ref, cur = [10, 5, 0, 0], [0, 0, 7, 3]
    assert stats.jensen_shannon(ref, cur) == pytest.approx(math.sqrt(math.log(2)))
    assert stats.hellinger(ref, cur) == 1.0
    assert stats.ks_test_binned(ref, cur).statistic == 1.0
    assert math.isfinite(stats.psi(ref, cur)) and stats.psi(ref, cur) > 10
    assert stats.chi_square(ref, cur).p_value < 1e-4
    assert stats.ks_test([0.0, 1.0, 2.0], [5.0, 6.0]).statistic == 1.0
    assert stats.wasserstein([0.0], [5.0]) == 5.0


def test_a_single_bin_has_nothing_to_compare():
    assert stats.psi([7], [3]) == 0.0
    assert stats.jensen_shannon([7], [3]) == 0.0
    assert stats.hellinger([7], [3]) == 0.0
    assert stats.chi_square([7], [3]) == stats.TestResult(0.0, 1.0)
    assert stats.ks_test_binned([7], [3]) == stats.TestResult(0.0, 1.0)


def test_zero_bins_on_both_sides_change_nothing():
    ref, cur = [4, 9, 2], [6, 3, 8]
    padded_ref, padded_cur = [0, 4, 0, 9, 2, 0], [0, 6, 0, 3, 8, 0]
    for function in (stats.psi, stats.jensen_shannon, stats.hellinger):
        assert close(function(padded_ref, padded_cur), function(ref, cur))
    assert stats.chi_square(padded_ref, padded_cur) == stats.chi_square(ref, cur)
    assert stats.ks_test_binned(padded_ref, padded_cur) == stats.ks_test_binned(ref, cur)


def test_inputs_are_not_modified():
    ref, cur = np.array([4.0, 9.0, 0.0]), np.array([6.0, 0.0, 8.0])
    for function in (stats.psi, stats.jensen_shannon, stats.hellinger, stats.chi_square):
        function(ref, cur)
    assert ref.tolist() == [4.0, 9.0, 0.0] and cur.tolist() == [6.0, 0.0, 8.0]


# --- methods -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "rows", "distinct", "method"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 50, 500, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "ztest"),
        ("categorical", 1000, 40, "chisquare"),
        ("categorical", 200, 3, "chisquare"),
        ("categorical", 200, 2, "ztest"),
        ("categorical", 200, 1, "ztest"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 100_000, 90_000, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("numeric", 1001, 2, "jensenshannon"),
        ("categorical", 5000, 2, "jensenshannon"),
        ("categorical", 5000, 300, "jensenshannon"),
    ],
)
def test_default_method_follows_evidentlys_table(kind, rows, distinct, method):
    assert stats.default_method(kind, rows, distinct) == method
    assert kind in stats.METHODS[method].kinds


def test_methods_describe_themselves():
    assert set(stats.METHODS) == {
        "ks", "psi", "wasserstein", "jensenshannon", "chisquare", "hellinger", "ztest"
    }  # fmt: skip
    for name, method in stats.METHODS.items():
        assert method.name == name and method.description
        expected = 0.05 if method.measure == "p_value" else 0.1
        assert method.default_threshold == expected
    assert {n for n, m in stats.METHODS.items() if m.measure == "p_value"} == {
        "ks", "chisquare", "ztest"
    }  # fmt: skip
    assert stats.METHODS["ks"].kinds == stats.METHODS["wasserstein"].kinds == {"numeric"}
    with pytest.raises(TypeError):
        stats.METHODS["new"] = stats.METHODS["ks"]  # type: ignore[index]


def test_is_drift_reads_p_values_and_distances():
    assert stats.is_drift("ks", 0.01, 0.05) and not stats.is_drift("ks", 0.05, 0.05)
    assert stats.is_drift("wasserstein", 0.1, 0.1) and not stats.is_drift("psi", 0.09, 0.1)
    assert not stats.is_drift("ks", math.nan, 0.05)
    assert not stats.is_drift("jensenshannon", math.nan, 0.1)


def test_unknown_method_names_the_known_ones():
    with pytest.raises(MonitoringError) as caught:
        stats.is_drift("wasserstien", 0.2, 0.1)
    assert "Did you mean 'wasserstein'?" in caught.value.message
    assert "ks, chisquare, ztest" in caught.value.hint
    with pytest.raises(MonitoringError, match="not a column kind"):
        stats.default_method("text", 10, 3)  # type: ignore[arg-type]


# --- validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "cur", "message", "hint"),
    [
        ([1, 2], [1, 2, 3], "same, non-zero length", "same ordered bins"),
        ([], [], "same, non-zero length", "same ordered bins"),
        ([[1, 2]], [[1, 2]], "must be 1-d", "same ordered bins"),
        ([1, -2], [1, 2], "negative", "finite and >= 0"),
        ([1, math.nan], [1, 2], "NaN", "finite and >= 0"),
        ([0, 0], [1, 2], "reference counts are all zero", "not enough data"),
        ([1, 2], [0, 0], "current counts are all zero", "not enough data"),
    ],
)
@pytest.mark.parametrize(
    "function",
    [stats.psi, stats.jensen_shannon, stats.hellinger, stats.chi_square, stats.ks_test_binned],
)
def test_bad_counts_are_refused_with_a_hint(function, ref, cur, message, hint):
    with pytest.raises(MonitoringError) as caught:
        function(ref, cur)
    assert message in caught.value.message
    assert hint in caught.value.hint


@pytest.mark.parametrize(
    ("reference", "message", "hint"),
    [
        ([], "non-empty 1-d array", "not enough data"),
        ([1.0, math.nan], "NaN or infinite", "Drop null"),
        ([1.0, math.inf], "NaN or infinite", "Drop null"),
    ],
)
@pytest.mark.parametrize("function", [stats.ks_test, stats.wasserstein, stats.normed_wasserstein])
def test_bad_samples_are_refused_with_a_hint(function, reference, message, hint):
    with pytest.raises(MonitoringError) as caught:
        function(reference, [1.0, 2.0])
    assert message in caught.value.message
    assert hint in caught.value.hint


def test_bad_weights_and_std_are_refused():
    with pytest.raises(MonitoringError, match="weights have shape") as caught:
        stats.wasserstein([1.0, 2.0], [1.0], [1.0], None)
    assert "one weight" in caught.value.hint
    with pytest.raises(MonitoringError, match="all zero"):
        stats.wasserstein([1.0, 2.0], [1.0], [0, 0], [1])
    with pytest.raises(MonitoringError, match="standard deviation") as caught:
        stats.normed_wasserstein([1.0, 2.0], [1.0], reference_std=math.nan)
    assert "reference_std" in caught.value.hint


@pytest.mark.parametrize(
    ("args", "side"),
    [((5, 4, 1, 2), "reference"), ((1, 2, -1, 2), "current"), ((0, 0, 1, 2), "reference")],
)
def test_bad_proportions_are_refused(args, side):
    with pytest.raises(MonitoringError) as caught:
        stats.z_test_proportions(*args)
    assert f"The {side} side" in caught.value.message
    assert "0 <= hits <= total" in caught.value.hint


# --- performance ---------------------------------------------------------------------

labels_ = st.lists(st.integers(0, 1), min_size=1, max_size=60)
# values to 3 decimals, as measured: ties and constants, no subnormal noise
measurements = st.integers(-100_000, 100_000).map(lambda i: i / 1000)


def sklearn_binary(truth, predicted, score, positive):
    expected = {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, pos_label=positive, zero_division=0),
        "recall": skm.recall_score(truth, predicted, pos_label=positive, zero_division=0),
        "f1": skm.f1_score(truth, predicted, pos_label=positive, zero_division=0),
    }
    if score is not None:
        if len(set(truth)) == 2:
            expected["roc_auc"] = skm.roc_auc_score(truth, score)
        if len(set(truth) | set(predicted)) == 2:
            labels = sorted(set(truth) | set(predicted))
            expected["log_loss"] = skm.log_loss(truth, score, labels=labels)
    return expected


@FAST
@given(st.data())
def test_binary_metrics_equal_sklearn(data):
    truth = np.array(data.draw(labels_)) * 5 + 2  # labels 2 and 7: the positive is 7
    size = truth.size
    predicted = np.array(data.draw(st.lists(st.sampled_from([2, 7]), min_size=size, max_size=size)))
    # scores with ties, and the probability 0 and 1 that log loss clips
    score = np.array(
        data.draw(
            st.lists(st.sampled_from([0.0, 0.1, 0.35, 0.5, 0.8, 1.0]), min_size=size, max_size=size)
        )
    )
    result = stats.classification_performance(truth, predicted, score, resamples=0)
    expected = sklearn_binary(truth, predicted, score, positive=max(set(truth) | set(predicted)))
    assert set(result) == set(expected)
    for name, value in expected.items():
        assert close(result[name].value, value), name
        assert math.isnan(result[name].low) and result[name].n == size


@FAST
@given(st.data())
def test_multiclass_metrics_equal_sklearn(data):
    size = data.draw(st.integers(1, 60))
    truth = np.array(data.draw(st.lists(st.sampled_from("abcd"), min_size=size, max_size=size)))
    predicted = np.array(data.draw(st.lists(st.sampled_from("abcd"), min_size=size, max_size=size)))
    raw = (
        np.array(
            data.draw(
                st.lists(
                    st.lists(st.integers(0, 4), min_size=4, max_size=4),
                    min_size=size,
                    max_size=size,
                )
            ),
            dtype=float,
        )
        + 0.5
    )
    proba = raw / raw.sum(axis=1, keepdims=True)
    labels = list("abcd")
    result = stats.classification_performance(truth, predicted, proba, labels=labels, resamples=0)
    expected = {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, average="macro", zero_division=0),
        "recall": skm.recall_score(truth, predicted, average="macro", zero_division=0),
        "f1": skm.f1_score(truth, predicted, average="macro", zero_division=0),
        "log_loss": skm.log_loss(truth, proba, labels=labels),
    }
    if set(truth) == set(labels):
        expected["roc_auc"] = skm.roc_auc_score(truth, proba, multi_class="ovr", labels=labels)
    if len(set(truth) | set(predicted)) <= 2:
        return  # two observed classes out of four: covered by the binary test
    assert set(result) == set(expected)
    for name, value in expected.items():
        assert close(result[name].value, value), name


@FAST
@given(st.data())
def test_bootstrap_resamples_equal_sklearn_with_sample_weights(data):
    """A resample is a weight per row (how often it was drawn): the weighted metrics
    must equal scikit-learn's with those sample weights."""
    size = data.draw(st.integers(2, 40))
    truth = np.array(data.draw(st.lists(st.integers(0, 1), min_size=size, max_size=size)))
    predicted = np.array(data.draw(st.lists(st.integers(0, 1), min_size=size, max_size=size)))
    score = np.array(
        data.draw(st.lists(st.sampled_from([0.1, 0.4, 0.6, 0.9]), min_size=size, max_size=size))
    )
    weights = np.array(
        data.draw(st.lists(st.integers(0, 3), min_size=size, max_size=size)), dtype=float
    )
    if weights.sum() == 0 or len(set(truth)) < 2 or len(set(truth[weights > 0])) < 2:
        return
    statistic = stats._ClassificationStatistic(
        stats.CLASSIFICATION_METRICS, truth, predicted, score, classes=2
    )
    # rows weigh weights / mean(weights): the statistic divides by the row count
    values = dict(
        zip(statistic.names, statistic(weights[None, :] * size / weights.sum())[0], strict=True)
    )
    w = {"sample_weight": weights}
    assert close(values["accuracy"], skm.accuracy_score(truth, predicted, **w))
    assert close(values["f1"], skm.f1_score(truth, predicted, zero_division=0, **w))
    assert close(values["roc_auc"], skm.roc_auc_score(truth, score, **w))
    assert close(values["log_loss"], skm.log_loss(truth, score, labels=[0, 1], **w))


def test_roc_auc_is_left_out_with_one_class_and_scores_outside_0_1_drop_log_loss():
    result = stats.classification_performance([1, 1, 1], [1, 0, 1], [0.9, 0.2, 0.7])
    assert "roc_auc" not in result and "log_loss" in result
    result = stats.classification_performance([0, 1, 1], [0, 0, 1], [-2.0, 0.5, 3.0])
    assert result["roc_auc"].value == pytest.approx(skm.roc_auc_score([0, 1, 1], [-2.0, 0.5, 3.0]))
    assert "log_loss" not in result
    # one observed label, no labels=: the score's class is unknown
    assert set(stats.classification_performance([1, 1], [1, 1], [0.9, 0.8])) == {
        "accuracy", "precision", "recall", "f1"
    }  # fmt: skip
    with_labels = stats.classification_performance([1, 1], [1, 1], [0.9, 0.8], labels=[0, 1])
    assert with_labels["log_loss"].value == pytest.approx(
        skm.log_loss([1, 1], [0.9, 0.8], labels=[0, 1])
    )


def test_without_scores_roc_auc_and_log_loss_are_left_out():
    result = stats.classification_performance([0, 1, 1, 0], [0, 1, 0, 0], resamples=0)
    assert list(result) == ["accuracy", "precision", "recall", "f1"]
    accuracy = result["accuracy"]
    assert isinstance(accuracy, Estimate) and (accuracy.value, accuracy.n) == (0.75, 4)
    assert math.isnan(accuracy.low) and math.isnan(accuracy.high)  # no bootstrap asked
    assert stats.classification_performance([0, 1], [0, 1], metrics=["roc_auc"]) == {}


def test_a_two_column_binary_score_is_read_from_its_positive_column():
    truth, predicted = [0, 1, 1, 0, 1], [0, 1, 0, 0, 1]
    positive = np.array([0.2, 0.9, 0.4, 0.3, 0.6])
    one = stats.classification_performance(truth, predicted, positive, resamples=0)
    two = stats.classification_performance(
        truth, predicted, np.stack([1 - positive, positive], axis=1), resamples=0
    )
    assert set(one) == set(two) == set(stats.CLASSIFICATION_METRICS)
    assert all(one[name].value == two[name].value for name in one)


@FAST
@given(
    st.lists(measurements, min_size=1, max_size=60).map(np.array),
    st.data(),
)
def test_regression_metrics_equal_sklearn(truth, data):
    predicted = np.array(
        data.draw(st.lists(measurements, min_size=truth.size, max_size=truth.size))
    )
    result = stats.regression_performance(truth, predicted, resamples=0)
    assert close(result["mae"].value, skm.mean_absolute_error(truth, predicted))
    assert close(result["rmse"].value, skm.root_mean_squared_error(truth, predicted))
    if truth.size > 1 and np.ptp(truth) > 0:
        assert close(result["r2"].value, skm.r2_score(truth, predicted), tol=1e-7)
    else:
        assert "r2" not in result  # undefined (scikit-learn reports 0 or 1 by convention)


def test_bootstrap_intervals_have_the_textbook_width_and_are_reproducible():
    rng = np.random.default_rng(0)
    n = 4000
    truth = rng.integers(0, 2, n)
    predicted = np.where(rng.random(n) < 0.8, truth, 1 - truth)
    result = stats.classification_performance(truth, predicted, metrics=["accuracy"], seed=3)
    accuracy = result["accuracy"]
    assert accuracy.low < accuracy.value < accuracy.high
    # the normal approximation: half-width 1.96 * sqrt(p (1 - p) / n)
    half = 1.96 * math.sqrt(accuracy.value * (1 - accuracy.value) / n)
    assert (accuracy.high - accuracy.low) / 2 == pytest.approx(half, rel=0.1)
    again = stats.classification_performance(truth, predicted, metrics=["accuracy"], seed=3)
    assert again == result
    other = stats.classification_performance(truth, predicted, metrics=["accuracy"], seed=4)
    assert other["accuracy"].low != accuracy.low
    narrow = stats.classification_performance(
        truth, predicted, metrics=["accuracy"], seed=3, confidence=0.5
    )
    assert accuracy.low < narrow["accuracy"].low < narrow["accuracy"].high < accuracy.high

    y = rng.normal(size=n)
    errors = rng.normal(size=n)
    mae = stats.regression_performance(y, y + errors, metrics=["mae"])["mae"]
    half = 1.96 * np.std(np.abs(errors)) / math.sqrt(n)
    assert (mae.high - mae.low) / 2 == pytest.approx(half, rel=0.1)


def test_unknown_metric_names_the_allowed_ones():
    with pytest.raises(MonitoringError) as caught:
        stats.classification_performance([0, 1], [0, 1], metrics=["acuracy"])
    assert "Did you mean 'accuracy'?" in caught.value.message
    assert "accuracy, precision, recall, f1, roc_auc, log_loss" in caught.value.hint
    with pytest.raises(MonitoringError) as caught:
        stats.regression_performance([0.0, 1.0], [0.0, 1.0], metrics=["accuracy"])
    assert "not a regression metric" in caught.value.message
    assert "mae, rmse, r2" in caught.value.hint


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 1.0}, "not a probability"),
        ({"resamples": -1}, "not a number of bootstrap resamples"),
        ({"resamples": 10.5}, "not a number of bootstrap resamples"),
    ],
)
def test_bad_bootstrap_settings_are_refused(kwargs, message):
    with pytest.raises(MonitoringError, match=message):
        stats.regression_performance([1.0, 2.0], [1.0, 3.0], **kwargs)


def test_bad_performance_inputs_are_refused_with_a_hint():
    with pytest.raises(MonitoringError) as caught:
        stats.regression_performance([1.0, 2.0], [1.0])
    assert "same length" in caught.value.message
    with pytest.raises(MonitoringError) as caught:
        stats.classification_performance([], [])
    assert "not enough data" in caught.value.hint
    with pytest.raises(MonitoringError) as caught:
        stats.regression_performance([1.0, math.nan], [1.0, 2.0])
    assert "Drop rows" in caught.value.hint
    with pytest.raises(MonitoringError) as caught:
        stats.classification_performance(["a", "b", "c"], ["a", "b", "c"], np.ones((3, 2)))
    assert "labels=" in caught.value.hint
    with pytest.raises(MonitoringError) as caught:
        stats.classification_performance([0, 1, 2], [0, 1, 1], labels=[0, 1])
    assert "[2]" in caught.value.message and "every class" in caught.value.hint
