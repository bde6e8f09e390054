"""Drift statistics and performance metrics: pure numpy/scipy, no pandas, no I/O.

Everything here takes plain arrays, so the profile-based code can feed it either raw
samples or the histograms a reference profile keeps. The caller removes nulls/NaN and
decides whether there is enough data; these functions only refuse inputs that have no
answer (an all-zero side, negative counts, different bins on the two sides).

The statistics, for reference shares ``r`` and current shares ``c`` over the same bins
or categories (counts divided by their side's total)::

    ks             two-sample Kolmogorov-Smirnov: D = the largest gap between the two
                   empirical CDFs; p from scipy's ks_2samp (exact for samples of at most
                   10,000 values, else the two-sided Kolmogorov distribution of
                   D for n = round(n_ref * n_cur / (n_ref + n_cur))). On counts, D is
                   taken at the bin boundaries and p always comes from that asymptotic
                   distribution (ks_2samp's method="asymp").
    wasserstein    first Wasserstein (earth mover's) distance: the area between the two
                   CDFs. Normed by the reference's population standard deviation
                   (ddof=0), so 0.1 means "the mass moved a tenth of a std on average".
    psi            population stability index: sum over bins of (c - r) * ln(c / r).
    jensenshannon  Jensen-Shannon distance, natural log: with m = (r + c) / 2,
                   sqrt((KL(r || m) + KL(c || m)) / 2); 0 for equal shares, at most
                   sqrt(ln 2) ~ 0.83 for disjoint ones.
    hellinger      sqrt(1 - sum(sqrt(r * c))): 0 for equal shares, 1 for disjoint ones.
    chisquare      Pearson chi-square test of homogeneity of the 2 x k table of counts
                   (reference row, current row), k - 1 degrees of freedom, no Yates
                   correction; categories empty on both sides are dropped.
    ztest          two-sided pooled z-test for two proportions: with pooled share
                   p = (h_ref + h_cur) / (n_ref + n_cur),
                   z = (h_ref/n_ref - h_cur/n_cur) / sqrt(p (1 - p) (1/n_ref + 1/n_cur)).

Why homogeneity for chi-square: a goodness-of-fit test against the reference shares
treats them as the true distribution, ignoring that the reference is itself a sample.
With a small reference that inflates false alarms; the homogeneity test puts both
samples' noise in the expected counts.

Default method of a column (:func:`default_method`), the same as Evidently's documented
default drift algorithm and its ``_get_default_stattest`` (checked in Evidently's docs
and source), so users moving over see the same verdicts::

    reference rows   kind / distinct values                method         drift when
    <= 1000          numeric, distinct > 5                 ks             p < 0.05
    <= 1000          distinct <= 2 (binary)                ztest          p < 0.05
    <= 1000          categorical, or numeric distinct <= 5 chisquare      p < 0.05
    > 1000           numeric, distinct > 5                 wasserstein    normed >= 0.1
    > 1000           categorical, or numeric distinct <= 5 jensenshannon  >= 0.1
    (any, on request)                                      psi            >= 0.1
    (any, on request)                                      hellinger      >= 0.1

Evidently counts distinct values over reference and current together and sends a
column with one or two of them to the z-test; large samples get distances, because
tests flag tiny, harmless shifts once there are thousands of rows. Where Shipyard
differs from Evidently, on purpose: chi-square is the homogeneity test (see above,
Evidently's is goodness of fit); PSI drops bins empty on both sides before filling
empty shares (see :func:`psi`).

Noise floors to keep in mind when choosing bins: between two samples of the same
distribution, Jensen-Shannon and Hellinger are about sqrt((k - 1) / (8 n)) for k bins
and n = n_ref n_cur / (n_ref + n_cur): ~0.07 on 100 bins at 5,000 rows a side, but 0.16
(past the 0.1 threshold) at 1,000; PSI is about (k - 1) / n. Compare these methods on
about 10 equal-frequency groups, not 100 bins. Normed Wasserstein and KS do not have
this problem (100 bins: normed Wasserstein ~0.03 at 5,000 rows a side).

Performance metrics (:func:`classification_performance`,
:func:`regression_performance`) come with percentile-bootstrap confidence intervals,
computed for all resamples at once from a matrix of resample weights (how many times
each row was drawn), so a metric is a few matrix products instead of a Python loop.

Costs, measured on a 2-core machine: each count-based statistic on ~100 bins takes
30-120 us, except KS's p-value (0.2-0.6 ms at 5,000 rows a side, up to 10 ms at
100,000 when D is large; scipy's own evaluation takes 3 and 75 ms there); KS and
Wasserstein on 100,000-row samples take ~25-35 ms (scipy's ks_2samp up to 110 ms: its
tail sum is redone here vectorised); the bootstrap costs ~0.01-0.04 us per row and
resample (binary classification with ROC AUC on 10,000 rows and 1,000 resamples:
~0.4 s; 100,000 rows: ~3 s; multiclass ROC AUC reorders the weights once per class:
~1.3 s for 4 classes on 10,000 rows).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from scipy import special

from shipyard.errors import MonitoringError, did_you_mean
from shipyard.monitoring._result import Estimate

__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "METHODS",
    "REGRESSION_METRICS",
    "Method",
    "TestResult",
    "chi_square",
    "classification_performance",
    "default_method",
    "hellinger",
    "is_drift",
    "jensen_shannon",
    "ks_test",
    "ks_test_binned",
    "normed_wasserstein",
    "psi",
    "regression_performance",
    "wasserstein",
    "z_test_proportions",
]

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class TestResult:
    """A statistical test's statistic and two-sided p-value."""

    __test__ = False  # a result type, not a pytest test class

    statistic: float
    p_value: float


@dataclass(frozen=True)
class Method:
    """A drift method: how its value reads (``p_value``: drift when p < threshold;
    ``distance``: drift when value >= threshold) and which column kinds it fits."""

    name: str
    measure: Literal["p_value", "distance"]
    default_threshold: float
    kinds: frozenset[str]
    description: str


_BOTH = frozenset({"numeric", "categorical"})

METHODS: Mapping[str, Method] = MappingProxyType(
    {
        "ks": Method(
            "ks", "p_value", 0.05, frozenset({"numeric"}), "Kolmogorov-Smirnov test p-value"
        ),
        "chisquare": Method("chisquare", "p_value", 0.05, _BOTH, "chi-square test p-value"),
        "ztest": Method("ztest", "p_value", 0.05, _BOTH, "z-test for proportions p-value"),
        "wasserstein": Method(
            "wasserstein",
            "distance",
            0.1,
            frozenset({"numeric"}),
            "Wasserstein distance (normed by the reference std)",
        ),
        "jensenshannon": Method("jensenshannon", "distance", 0.1, _BOTH, "Jensen-Shannon distance"),
        "psi": Method("psi", "distance", 0.1, _BOTH, "population stability index"),
        "hellinger": Method("hellinger", "distance", 0.1, _BOTH, "Hellinger distance"),
    }
)

#: Evidently's boundaries: up to this many reference rows, statistical tests.
_SMALL_REFERENCE = 1000
_FEW_DISTINCT = 5

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse", "r2")
#: Metrics where a smaller value is better; the others are better when larger.
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse"})


def default_method(kind: Kind, reference_rows: int, distinct: int) -> str:
    """The method a column gets when its rule names none (table in the module docstring).

    >>> default_method("numeric", 5000, 80), default_method("categorical", 300, 2)
    ('wasserstein', 'ztest')
    """
    if kind not in ("numeric", "categorical"):
        raise MonitoringError(
            f"'{kind}' is not a column kind.", hint="A column kind is 'numeric' or 'categorical'."
        )
    many_values = kind == "numeric" and distinct > _FEW_DISTINCT
    if reference_rows <= _SMALL_REFERENCE:
        if many_values:
            return "ks"
        return "ztest" if distinct <= 2 else "chisquare"
    return "wasserstein" if many_values else "jensenshannon"


def is_drift(method: str, value: float, threshold: float) -> bool:
    """Whether ``value`` (a p-value for tests, the distance otherwise) is past
    ``threshold``. NaN is never drift: no verdict is not a false alarm."""
    measure = _method(method).measure
    if value is None or math.isnan(value):
        return False
    return value < threshold if measure == "p_value" else value >= threshold


def _method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise MonitoringError(
            f"'{name}' is not a drift method.{did_you_mean(name, METHODS)}",
            hint=f"Use one of: {', '.join(METHODS)}.",
        ) from None


# ---------------------------------------------------------------------------------------
# sample-based statistics


def ks_test(reference: Any, current: Any) -> TestResult:
    """Two-sample Kolmogorov-Smirnov test of two samples; the same D and p as
    ``scipy.stats.ks_2samp(reference, current)`` (exact p up to 10,000 values per side,
    the asymptotic distribution above, with a faster evaluation of its tail)."""
    ref = np.sort(_sample(reference, "reference"))
    cur = np.sort(_sample(current, "current"))
    if max(ref.size, cur.size) <= _KS_EXACT_MAX_N:
        from scipy import stats

        with warnings.catch_warnings():
            # scipy falls back to the asymptotic p when the exact one fails: expected
            warnings.filterwarnings("ignore", "ks_2samp: Exact calculation", RuntimeWarning)
            result = stats.ks_2samp(ref, cur)
        return TestResult(float(result.statistic), float(result.pvalue))
    # Evaluate the CDFs the way ks_2samp does (at every observation, right-continuous),
    # so D is the same number.
    both = np.concatenate((ref, cur))
    gaps = np.searchsorted(ref, both, side="right") / ref.size
    gaps -= np.searchsorted(cur, both, side="right") / cur.size
    statistic = max(float(gaps.max()), min(max(-float(gaps.min()), 0.0), 1.0))
    return TestResult(statistic, _ks_asymptotic_p(statistic, ref.size, cur.size))


def wasserstein(
    reference: Any,
    current: Any,
    reference_weights: Any = None,
    current_weights: Any = None,
) -> float:
    """First Wasserstein distance between two (weighted) samples, in the values' unit;
    equals ``scipy.stats.wasserstein_distance``. Weights are counts or shares per value
    (zeros allowed), as with a histogram's bin means and bin counts."""
    ref, ref_w = _weighted(reference, reference_weights, "reference")
    cur, cur_w = _weighted(current, current_weights, "current")
    return _cdf_area(ref, ref_w, cur, cur_w)


def normed_wasserstein(
    reference: Any,
    current: Any,
    reference_weights: Any = None,
    current_weights: Any = None,
    *,
    reference_std: float | None = None,
) -> float:
    """:func:`wasserstein` divided by the reference's standard deviation (population,
    ddof=0, weighted when weights are given; or ``reference_std`` when the caller kept
    it, e.g. in a profile).

    Like Evidently, the divisor is at least 0.001: a constant reference (std 0) gives
    distance / 0.001, which is 0 when the current sample has the same value and large
    otherwise. (Such a column has few distinct values, so by default it gets another
    method.)
    """
    ref, ref_w = _weighted(reference, reference_weights, "reference")
    cur, cur_w = _weighted(current, current_weights, "current")
    if reference_std is None:
        if ref_w is None:
            reference_std = float(np.std(ref))
        else:
            mean = np.average(ref, weights=ref_w)
            reference_std = math.sqrt(float(np.average((ref - mean) ** 2, weights=ref_w)))
    elif not (math.isfinite(reference_std) and reference_std >= 0):
        raise MonitoringError(
            f"The reference standard deviation is {reference_std}.",
            hint="Pass a finite, non-negative reference_std, or None to compute it.",
        )
    return _cdf_area(ref, ref_w, cur, cur_w) / max(reference_std, _MIN_STD)


_MIN_STD = 0.001  # Evidently's floor for the normalising std


def _cdf_area(
    ref: np.ndarray, ref_w: np.ndarray | None, cur: np.ndarray, cur_w: np.ndarray | None
) -> float:
    # scipy's _cdf_distance with p=1, but sorting values instead of argsorting them when
    # there are no weights (several times faster on 100k values).
    ref_sorted, ref_cum = _sorted_cdf(ref, ref_w)
    cur_sorted, cur_cum = _sorted_cdf(cur, cur_w)
    both = np.concatenate((ref_sorted, cur_sorted))
    both.sort()
    deltas = np.diff(both)
    ref_cdf = ref_cum[np.searchsorted(ref_sorted, both[:-1], side="right")]
    cur_cdf = cur_cum[np.searchsorted(cur_sorted, both[:-1], side="right")]
    return float(np.dot(np.abs(ref_cdf - cur_cdf), deltas))


def _sorted_cdf(values: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The sorted values and the CDF after the first i of them, for i = 0..n."""
    if weights is None:
        return np.sort(values), np.arange(values.size + 1) / values.size
    order = np.argsort(values)
    cumulative = np.concatenate(([0.0], np.cumsum(weights[order])))
    return values[order], cumulative / cumulative[-1]


# ---------------------------------------------------------------------------------------
# count-based statistics


def ks_test_binned(reference_counts: Any, current_counts: Any) -> TestResult:
    """Kolmogorov-Smirnov on two histograms over the same ordered bins.

    D is the largest gap between the two CDFs at the bin boundaries (with every distinct
    value in its own bin, exactly the samples' D); p is the two-sided Kolmogorov
    distribution's tail at D for n = round(n_ref * n_cur / (n_ref + n_cur)), as
    ``scipy.stats.ks_2samp(..., method="asymp")`` computes it. Binning can only hide
    gaps inside a bin, so D (and the false-alarm rate) is never larger than on samples.
    Pass counts, not shares: the p-value depends on the totals.
    """
    ref, cur, ref_total, cur_total = _counts(reference_counts, current_counts)
    gaps = np.cumsum(ref) / ref_total - np.cumsum(cur) / cur_total
    statistic = max(float(gaps.max()), min(max(-float(gaps.min()), 0.0), 1.0))
    return TestResult(statistic, _ks_asymptotic_p(statistic, ref_total, cur_total))


def psi(reference_counts: Any, current_counts: Any, *, epsilon: float = 1e-4) -> float:
    """Population stability index, sum((c - r) * ln(c / r)) over the shares.

    Empty shares would make it infinite; they are filled the way Evidently fills them,
    each side on its own: with ``epsilon``, or with a millionth of the side's smallest
    non-empty share when that share is itself at most ``epsilon``. Bins empty on both
    sides are dropped first (they say nothing, and filling both sides differently
    would add a spurious term).
    """
    ref, cur, ref_total, cur_total = _counts(reference_counts, current_counts)
    used = (ref > 0) | (cur > 0)
    ref_share = _filled(ref[used] / ref_total, epsilon)
    cur_share = _filled(cur[used] / cur_total, epsilon)
    return float(np.dot(cur_share - ref_share, np.log(cur_share / ref_share)))


def _filled(share: np.ndarray, epsilon: float) -> np.ndarray:
    empty = share == 0
    if empty.any():
        smallest = share[~empty].min()
        share = share.copy()
        share[empty] = smallest * 1e-6 if smallest <= epsilon else epsilon
    return share


def jensen_shannon(reference_counts: Any, current_counts: Any) -> float:
    """Jensen-Shannon distance (natural log) of the two normalised count vectors; equals
    ``scipy.spatial.distance.jensenshannon``. In [0, sqrt(ln 2)]."""
    ref, cur, ref_total, cur_total = _counts(reference_counts, current_counts)
    ref /= ref_total
    cur /= cur_total
    middle = (ref + cur) / 2
    divergence = special.rel_entr(ref, middle).sum() + special.rel_entr(cur, middle).sum()
    # rounding can leave a tiny negative sum for near-equal shares (scipy returns NaN)
    return math.sqrt(max(float(divergence), 0.0) / 2)


def hellinger(reference_counts: Any, current_counts: Any) -> float:
    """Hellinger distance sqrt(1 - sum(sqrt(r * c))) of the shares, in [0, 1].

    Computed as the equal ||sqrt(r) - sqrt(c)||_2 / sqrt(2), which keeps its precision
    near 0 (1 - sum(...) cancels: identical shares could come out as 1e-8).
    """
    ref, cur, ref_total, cur_total = _counts(reference_counts, current_counts)
    gap = np.sqrt(ref / ref_total) - np.sqrt(cur / cur_total)
    return min(math.sqrt(float(np.dot(gap, gap)) / 2), 1.0)


def chi_square(reference_counts: Any, current_counts: Any) -> TestResult:
    """Pearson chi-square test of homogeneity of the two count vectors; equals
    ``scipy.stats.chi2_contingency([reference, current], correction=False)`` after
    dropping categories empty on both sides. One category left: statistic 0, p 1."""
    ref, cur, _, _ = _counts(reference_counts, current_counts)
    used = (ref > 0) | (cur > 0)
    table = np.stack((ref[used], cur[used]))
    if table.shape[1] < 2:
        return TestResult(0.0, 1.0)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return TestResult(statistic, float(special.chdtrc(table.shape[1] - 1, statistic)))


def z_test_proportions(
    reference_hits: int, reference_total: int, current_hits: int, current_total: int
) -> TestResult:
    """Two-sided pooled z-test that two proportions are equal (statsmodels'
    ``proportions_ztest`` on [reference, current]); z is positive when the reference
    share is the larger. Both shares 0 or both 1: z = 0, p = 1."""
    for name, hits, total in (
        ("reference", reference_hits, reference_total),
        ("current", current_hits, current_total),
    ):
        if not 0 <= hits <= total or total <= 0:
            raise MonitoringError(
                f"The {name} side has {hits} hits out of {total}.",
                hint="Pass 0 <= hits <= total and total > 0 on both sides; a side "
                "without rows has no proportion (report it as not enough data).",
            )
    pooled = (reference_hits + current_hits) / (reference_total + current_total)
    variance = pooled * (1 - pooled) * (1 / reference_total + 1 / current_total)
    if variance == 0:
        return TestResult(0.0, 1.0)
    z = (reference_hits / reference_total - current_hits / current_total) / math.sqrt(variance)
    return TestResult(z, float(2 * special.ndtr(-abs(z))))


# ---------------------------------------------------------------------------------------
# the Kolmogorov distribution's tail


_KS_EXACT_MAX_N = 10_000  # ks_2samp(method="auto") is exact up to this many values a side
_SMIRNOV_MAX_N = 1_000_000  # above it, scipy's smirnov switches to an approximation


def _ks_asymptotic_p(statistic: float, ref_total: float, cur_total: float) -> float:
    """ks_2samp's two-sided "asymp" p-value: kstwo.sf(D, round(n m / (n + m)))."""
    n = float(np.round(ref_total * cur_total / (ref_total + cur_total)))
    return _kolmogorov_sf(n, statistic)


def _kolmogorov_sf(n: float, x: float) -> float:
    """P(D_n >= x) for the two-sided one-sample KS statistic: scipy's ``kstwo.sf``.

    scipy evaluates the tail as 2 * smirnov(n, x) when n > 140 and n x^2 >= 2.2 (or
    x >= 0.5), with an exact sum of n(1 - x) terms in double-double arithmetic: about
    3 ms at n = 2,500 and 100 ms at n = 50,000. That branch is redone here as the same
    sum written as binomial probabilities, vectorised (~15x faster, agreeing to ~1e-12);
    every other branch is scipy's own.
    """
    t = n * x
    if n > 140 and 1.0 < t < n - 1 and n <= _SMIRNOV_MAX_N:
        nxx = t * x
        if x >= 0.5 or 2.2 <= nxx < 370.0:
            return min(2.0 * _smirnov_sf(n, x), 1.0)
    return float(np.clip(_kolmogn(n, x), 0.0, 1.0))


def _smirnov_sf(n: float, x: float) -> float:
    """P(D+_n >= x) by the Birnbaum-Tingey sum: x * sum over 0 <= j < n(1 - x) of
    C(n, j) (x + j/n)^(j-1) (1 - x - j/n)^(n-j), each term a binomial probability
    divided by (x + j/n), which scipy computes without over- or underflow."""
    from scipy import stats

    j = np.arange(math.ceil(n - n * x), dtype=np.float64)
    success = x + j / n
    return float(x * np.sum(stats.binom.pmf(j, n, success) / success))


def _kolmogn(n: float, x: float) -> float:
    try:  # the function behind kstwo.sf, without the distribution machinery (~0.2 ms)
        from scipy.stats._ksstats import kolmogn
    except ImportError:  # pragma: no cover - a future scipy may move it
        from scipy import stats

        return float(stats.kstwo.sf(x, n))
    return float(kolmogn(n, x, cdf=False))


# ---------------------------------------------------------------------------------------
# input validation


def _sample(values: Any, side: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise MonitoringError(
            f"The {side} sample must be a non-empty 1-d array, not shape {array.shape}.",
            hint="Pass one column's values, after dropping nulls; with no values, report "
            "the column as not enough data instead of comparing it.",
        )
    if not np.isfinite(array).all():
        raise MonitoringError(
            f"The {side} sample holds NaN or infinite values.",
            hint="Drop null, NaN and infinite values before comparing distributions.",
        )
    return array


def _weighted(values: Any, weights: Any, side: str) -> tuple[np.ndarray, np.ndarray | None]:
    array = _sample(values, side)
    if weights is None:
        return array, None
    weight = np.asarray(weights, dtype=np.float64)
    if weight.shape != array.shape:
        raise MonitoringError(
            f"The {side} weights have shape {weight.shape}, its values {array.shape}.",
            hint="Pass one weight (count) per value.",
        )
    _check_counts(weight, f"{side} weights")
    return array, weight


def _counts(
    reference_counts: Any, current_counts: Any
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Both count vectors as float arrays (copies), validated, and their totals."""
    ref = np.array(reference_counts, dtype=np.float64)  # a copy: callers may normalise it
    cur = np.array(current_counts, dtype=np.float64)
    if ref.ndim != 1 or cur.ndim != 1 or ref.size != cur.size or ref.size == 0:
        raise MonitoringError(
            f"The count vectors have shapes {ref.shape} (reference) and {cur.shape} "
            "(current); they must be 1-d and of the same, non-zero length.",
            hint="Count both sides over the same ordered bins or categories, with a 0 "
            "where a side has none.",
        )
    return ref, cur, _check_counts(ref, "reference counts"), _check_counts(cur, "current counts")


def _check_counts(counts: np.ndarray, what: str) -> float:
    """The total of ``counts``, once they are known to be finite, >= 0 and not all 0."""
    total = float(counts.sum())
    if not (math.isfinite(total) and counts.min() >= 0):  # NaN fails the comparison
        raise MonitoringError(
            f"The {what} hold negative, NaN or infinite values.",
            hint="Counts are numbers of rows: finite and >= 0.",
        )
    if total <= 0:
        raise MonitoringError(
            f"The {what} are all zero: there is no distribution to compare.",
            hint="Check for an empty side before comparing, and report the column as "
            "not enough data (or empty) instead.",
        )
    return total


# ---------------------------------------------------------------------------------------
# performance with bootstrap confidence intervals

#: Rows x resamples of the weight matrix built at once (8 MB of float64).
_BLOCK_CELLS = 1_000_000

_Statistic = Callable[[np.ndarray], np.ndarray]


def classification_performance(
    y_true: Any,
    y_pred: Any,
    y_score: Any = None,
    *,
    metrics: Iterable[str] | None = None,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
    labels: Sequence[Any] | None = None,
) -> dict[str, Estimate]:
    """Classification metrics of predicted labels (and scores) against the truth, each
    with a percentile-bootstrap confidence interval.

    Binary (at most two labels): the positive class is the larger label; ``y_score`` is
    the positive class's score (a 2-column score is read from its second column).
    Multiclass: precision, recall and F1 are macro averages over the labels present in
    the truth or the predictions (as scikit-learn's ``average="macro"``), ROC AUC is the
    one-vs-rest macro average, and ``y_score`` holds one column per class in sorted
    label order (scikit-learn's ``classes_``). ``labels`` lists every class the model
    knows, for windows where some never occur.

    Values equal scikit-learn's (precision and recall of a class never predicted or
    never true count as 0, its ``zero_division=0``). A metric the data cannot define is
    left out of the result, never NaN: ``roc_auc`` and ``log_loss`` without
    ``y_score``, ROC AUC with one class in the truth, log loss with scores outside
    [0, 1] or with a single observed label and no ``labels`` (the score's class is
    then unknown).
    ``resamples=0`` skips the bootstrap: low and high are NaN.

    >>> result = classification_performance([0, 1, 1, 0], [0, 1, 0, 0], resamples=0)
    >>> result["accuracy"].value
    0.75
    """
    names = _metric_names(metrics, CLASSIFICATION_METRICS, "classification")
    truth = np.asarray(y_true)
    predicted = np.asarray(y_pred)
    rows = _rows(truth, predicted)
    classes = _classes(truth, predicted, labels)
    scores = None if y_score is None else _scores(y_score, rows, len(classes))
    true_code = np.searchsorted(classes, truth)
    pred_code = np.searchsorted(classes, predicted)
    if scores is not None and scores.ndim == 1:
        # rows in score order once, so ROC AUC's resamples need no reordering
        order = np.argsort(scores, kind="stable")
        true_code, pred_code, scores = true_code[order], pred_code[order], scores[order]
    statistic = _ClassificationStatistic(names, true_code, pred_code, scores, len(classes))
    return _estimates(
        statistic.names, statistic, rows, confidence=confidence, resamples=resamples, seed=seed
    )


def regression_performance(
    y_true: Any,
    y_pred: Any,
    *,
    metrics: Iterable[str] | None = None,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Estimate]:
    """MAE, RMSE and R² of numeric predictions, each with a percentile-bootstrap
    confidence interval; values equal scikit-learn's. R² is left out when the truth is
    constant or has one row (scikit-learn would report 0 or 1 by convention).
    ``resamples=0`` skips the bootstrap: low and high are NaN.

    >>> regression_performance([1.0, 2.0, 3.0], [1.0, 2.0, 5.0], resamples=0)["mae"].value
    0.6666666666666666
    """
    names = _metric_names(metrics, REGRESSION_METRICS, "regression")
    truth = _numbers(y_true, "y_true")
    predicted = _numbers(y_pred, "y_pred")
    rows = _rows(truth, predicted)
    error = predicted - truth
    centred = truth - truth.mean()  # R²'s sums of squares without cancellation
    columns = np.stack((np.abs(error), error**2, centred, centred**2), axis=1)
    defined = [n for n in names if n != "r2" or (rows > 1 and np.any(centred != 0))]

    def statistic(weights: np.ndarray) -> np.ndarray:
        sums = weights @ columns
        values = {
            "mae": sums[:, 0] / rows,
            "rmse": np.sqrt(sums[:, 1] / rows),
        }
        if "r2" in defined:
            total = sums[:, 3] - sums[:, 2] ** 2 / rows
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = 1 - sums[:, 1] / total
            # a resample of one repeated value has no variance: R² undefined there
            values["r2"] = np.where(total > 1e-12 * sums[:, 3], r2, np.nan)
        return np.stack([values[n] for n in defined], axis=1)

    return _estimates(
        defined, statistic, rows, confidence=confidence, resamples=resamples, seed=seed
    )


class _ClassificationStatistic:
    """The requested metrics as functions of a (resamples x rows) weight matrix.

    Counts (true positives, predicted positives, ...) are weighted sums of per-row
    indicator columns, one matrix product for all of them; ROC AUC is the Mann-Whitney
    statistic from cumulative weights over the rows sorted by score.
    """

    def __init__(
        self,
        names: Sequence[str],
        truth: np.ndarray,
        predicted: np.ndarray,
        scores: np.ndarray | None,
        classes: int,
    ) -> None:
        self.binary = classes <= 2
        positive = classes - 1  # the larger label (the only one when there is one)
        columns = [truth == predicted]
        if self.binary:
            true_pos, pred_pos = truth == positive, predicted == positive
            columns += [true_pos & pred_pos, pred_pos, true_pos]
        else:
            onehot_true = truth[:, None] == np.arange(classes)
            onehot_pred = predicted[:, None] == np.arange(classes)
            columns += [*onehot_true.T, *onehot_pred.T, *(onehot_true & onehot_pred).T]
        self.classes = classes
        self.names = [n for n in names if n not in ("roc_auc", "log_loss")]
        self.auc: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if scores is not None:
            if "roc_auc" in names:
                self._prepare_auc(truth, scores)
            if "log_loss" in names and classes > 1 and scores.min() >= 0 and scores.max() <= 1:
                columns.append(_log_losses(truth, scores, positive))
                self.names.append("log_loss")
        self.names.sort(key=CLASSIFICATION_METRICS.index)
        self.columns = np.stack(columns, axis=1).astype(np.float64)

    def _prepare_auc(self, truth: np.ndarray, scores: np.ndarray) -> None:
        if self.binary:
            per_class = [(truth == self.classes - 1, scores)]
        else:
            per_class = [(truth == k, scores[:, k]) for k in range(self.classes)]
        if any(positive.all() or not positive.any() for positive, _ in per_class):
            return  # one class in the truth: AUC is undefined, leave it out
        for positive, score in per_class:
            order = np.argsort(score, kind="stable")
            ranked = score[order]
            starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
            self.auc.append(
                (
                    None if np.array_equal(order, np.arange(order.size)) else order,
                    positive[order].astype(np.float64),
                    starts if starts.size < score.size else None,
                )
            )
        self.names.append("roc_auc")

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        sums = weights @ self.columns
        rows = self.columns.shape[0]
        values = {"accuracy": sums[:, 0] / rows}
        k = 1 if self.binary else self.classes
        if self.binary:
            hits, predicted, true = sums[:, 1:2], sums[:, 2:3], sums[:, 3:4]
        else:
            true, predicted, hits = (
                sums[:, 1 : 1 + k],
                sums[:, 1 + k : 1 + 2 * k],
                sums[:, 1 + 2 * k : 1 + 3 * k],
            )
        present = (true + predicted) > 0  # the classes scikit-learn's macro average counts
        classes = np.maximum(present.sum(axis=1), 1)
        for name, numerator, denominator in (
            ("precision", hits, predicted),
            ("recall", hits, true),
            ("f1", 2 * hits, true + predicted),
        ):
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(denominator > 0, numerator / denominator, 0.0)
            values[name] = ratio.sum(axis=1) / classes if not self.binary else ratio[:, 0]
        if "log_loss" in self.names:
            values["log_loss"] = sums[:, -1] / rows
        if self.auc:
            values["roc_auc"] = np.mean([_weighted_auc(weights, *auc) for auc in self.auc], axis=0)
        return np.stack([values[n] for n in self.names], axis=1)


def _weighted_auc(
    weights: np.ndarray,
    order: np.ndarray | None,
    positive: np.ndarray,
    starts: np.ndarray | None,
) -> np.ndarray:
    """ROC AUC for each row of weights: the weighted share of (positive, negative) pairs
    ranked right, ties counting a half. ``order`` sorts the rows by score (None: they
    are sorted); ``starts`` marks groups of tied scores (None when all scores differ)."""
    ranked = weights if order is None else weights[:, order]
    pos = ranked * positive
    if starts is None:
        neg = ranked - pos
    else:
        pos = np.add.reduceat(pos, starts, axis=1)
        neg = np.add.reduceat(ranked, starts, axis=1)
        neg -= pos
    below = np.cumsum(neg, axis=1)
    below -= 0.5 * neg  # negatives strictly below, plus half of the tied ones
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = np.einsum("ij,ij->i", pos, below) / pairs
    return np.where(pairs > 0, auc, np.nan)


def _log_losses(truth: np.ndarray, scores: np.ndarray, positive: int) -> np.ndarray:
    # scikit-learn clips each class probability to [eps, 1 - eps] before the log
    eps = np.finfo(np.float64).eps
    if scores.ndim == 1:
        chosen = np.where(truth == positive, scores, 1 - scores)
    else:
        chosen = scores[np.arange(truth.size), truth]
    return -np.log(np.clip(chosen, eps, 1 - eps))


def _estimates(
    names: Sequence[str],
    statistic: _Statistic,
    rows: int,
    *,
    confidence: float,
    resamples: int,
    seed: int,
) -> dict[str, Estimate]:
    if not 0 < confidence < 1:
        raise MonitoringError(
            f"A confidence of {confidence} is not a probability.",
            hint="Use a confidence level between 0 and 1, e.g. 0.95.",
        )
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 0:
        raise MonitoringError(
            f"resamples={resamples!r} is not a number of bootstrap resamples.",
            hint="Use a whole number >= 0 (0 skips the confidence intervals).",
        )
    if not names:
        return {}
    point = statistic(np.ones((1, rows)))[0]
    low, high = np.full(len(names), np.nan), np.full(len(names), np.nan)
    if resamples:
        draws = _bootstrap(statistic, rows, resamples, seed)
        tail = (1 - confidence) / 2
        for i in range(len(names)):
            valid = draws[:, i][~np.isnan(draws[:, i])]
            if valid.size:
                low[i], high[i] = np.quantile(valid, (tail, 1 - tail))
    return {
        name: Estimate(value=float(point[i]), low=float(low[i]), high=float(high[i]), n=rows)
        for i, name in enumerate(names)
        if not math.isnan(point[i])
    }


def _bootstrap(statistic: _Statistic, rows: int, resamples: int, seed: int) -> np.ndarray:
    """The statistic on ``resamples`` bootstrap resamples: rows drawn with replacement,
    expressed as weights (how often each row was drawn), a block of resamples at a time."""
    rng = np.random.default_rng(seed)
    block = max(1, min(resamples, _BLOCK_CELLS // rows))
    results = []
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        drawn = rng.integers(0, rows, size=(size, rows))
        drawn += np.arange(0, size * rows, rows)[:, None]  # one bincount for the block
        weights = np.bincount(drawn.ravel(), minlength=size * rows).reshape(size, rows)
        results.append(statistic(weights.astype(np.float64)))
    return np.concatenate(results)


def _metric_names(metrics: Iterable[str] | None, allowed: tuple[str, ...], task: str) -> list[str]:
    if metrics is None:
        return list(allowed)
    names = list(dict.fromkeys([metrics] if isinstance(metrics, str) else metrics))
    for name in names:
        if name not in allowed:
            raise MonitoringError(
                f"'{name}' is not a {task} metric.{did_you_mean(name, allowed)}",
                hint=f"Choose from: {', '.join(allowed)}.",
            )
    return sorted(names, key=allowed.index)


def _rows(truth: np.ndarray, predicted: np.ndarray) -> int:
    if truth.ndim != 1 or predicted.ndim != 1 or truth.shape != predicted.shape:
        raise MonitoringError(
            f"y_true has shape {truth.shape} and y_pred {predicted.shape}; they must be "
            "1-d and of the same length.",
            hint="Pass one truth and one prediction per labelled row.",
        )
    if truth.size == 0:
        raise MonitoringError(
            "There are no labelled rows to measure performance on.",
            hint="Check for labelled rows first and report not enough data instead.",
        )
    return truth.size


def _numbers(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise MonitoringError(
            f"{name} holds values that are not numbers.",
            hint="Regression metrics need numeric truths and predictions.",
        ) from None
    if not np.isfinite(array).all():
        raise MonitoringError(
            f"{name} holds NaN or infinite values.",
            hint="Drop rows without a label or prediction before measuring.",
        )
    return array


def _classes(truth: np.ndarray, predicted: np.ndarray, labels: Sequence[Any] | None) -> np.ndarray:
    try:
        observed = np.unique(np.concatenate((truth, predicted)))
        classes = observed if labels is None else np.unique(np.asarray(labels))
    except TypeError:
        raise MonitoringError(
            "The labels mix types that cannot be ordered (e.g. numbers and text).",
            hint="Convert truths and predictions to one type, e.g. all text.",
        ) from None
    unknown = np.setdiff1d(observed, classes)
    if unknown.size:
        raise MonitoringError(
            f"The rows hold labels that `labels` does not list: {unknown[:5].tolist()}.",
            hint="Pass every class the model knows in labels, or leave labels out.",
        )
    return classes


def _scores(y_score: Any, rows: int, classes: int) -> np.ndarray:
    scores = _numbers(y_score, "y_score")
    if scores.ndim == 2 and scores.shape[1] == 2 and classes <= 2:
        scores = scores[:, 1]  # binary predict_proba: the positive (larger) class's column
    expected = (rows,) if classes <= 2 else (rows, classes)
    if scores.shape != expected:
        raise MonitoringError(
            f"y_score has shape {scores.shape}; with {classes} classes and {rows} rows "
            f"it should be {expected}.",
            hint="Pass the positive class's score for a binary model, or one column per "
            "class in sorted label order; pass labels= with every class the model knows "
            "when a window does not show them all.",
        )
    return scores
