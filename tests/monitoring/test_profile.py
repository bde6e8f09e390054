"""Profiles: bins fixed by the reference, exact merges, bytes that round-trip, and the
odd columns (flags, all-NaN, datetimes, mixed objects) handled on purpose."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from shipyard.errors import MonitoringError
from shipyard.monitoring._profile import (
    MAX_NEW_CATEGORIES,
    OTHER,
    CategoricalProfile,
    DatasetProfile,
    NumericProfile,
    ProfileAccumulator,
    histogram,
    reference_profile,
)
from shipyard.monitoring._values import Binner, Scratch


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.lognormal(10, 1, n),
            "age": rng.integers(18, 90, n),
            "score": rng.normal(0, 1, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1]),
            "member": rng.random(n) < 0.3,
        }
    )


def assert_numeric_equal(one: NumericProfile, other: NumericProfile, *, exact_sums: bool) -> None:
    assert (one.count, one.nulls, one.infinities) == (other.count, other.nulls, other.infinities)
    assert np.array_equal(one.edges, other.edges)
    assert np.array_equal(one.counts, other.counts)
    if exact_sums:
        assert np.array_equal(one.sums, other.sums)
    else:
        np.testing.assert_allclose(one.sums, other.sums, rtol=1e-12, atol=1e-9)
    if one.count:
        assert one.mean == pytest.approx(other.mean, rel=1e-12, abs=1e-12)
        assert one.std == pytest.approx(other.std, rel=1e-12, abs=1e-12)
        assert (one.minimum, one.maximum) == (other.minimum, other.maximum)


def binned_ks(reference: NumericProfile, current: NumericProfile) -> float:
    ref = np.cumsum(reference.counts) / reference.counts.sum()
    cur = np.cumsum(current.counts) / current.counts.sum()
    return float(np.abs(ref - cur).max())


# ---------------------------------------------------------------------------- reference


def test_numeric_reference_has_equal_frequency_bins_and_exact_moments():
    data = frame(50_000)
    profile = reference_profile(data)
    income = profile.columns["income"]
    assert isinstance(income, NumericProfile) and income.kind == "numeric"
    assert len(income.edges) == 101 and len(income.counts) == len(income.sums) == 102
    assert income.edges[0] == data["income"].min() and income.edges[-1] == data["income"].max()
    # each inner bin holds ~1% of the rows; nothing is below or above the reference range
    assert income.counts[0] == income.counts[-1] == 0
    assert np.all(np.abs(income.counts[1:-1] - 500) <= 1)
    assert income.counts.sum() == income.count == 50_000
    assert income.mean == pytest.approx(data["income"].mean(), rel=1e-12)
    assert income.std == pytest.approx(data["income"].std(ddof=0), rel=1e-12)
    np.testing.assert_allclose(income.sums.sum(), data["income"].sum(), rtol=1e-12)
    assert income.distinct == 1000  # counted exactly up to the cap
    assert profile.rows == 50_000 and profile.columns["age"].distinct == 72


def test_bins_follow_searchsorted_with_the_last_edge_in_the_last_bin():
    rng = np.random.default_rng(3)
    reference = reference_profile(pd.DataFrame({"x": rng.normal(0, 1, 10_000)}))
    edges = reference.columns["x"].edges
    values = np.concatenate(
        [edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), [-50.0, 50.0]]
    )
    accumulator = ProfileAccumulator(reference)
    accumulator.add({"x": values})
    counts = accumulator.result().columns["x"].counts
    expected = np.searchsorted(edges, values, side="right")
    expected[values == edges[-1]] = len(edges) - 1  # the last inner bin is closed
    assert np.array_equal(counts, np.bincount(expected, minlength=len(edges) + 1))


@settings(max_examples=60, deadline=None)
@given(
    reference=st.lists(
        st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False), min_size=1, max_size=300
    ),
    current=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=300),
    bins=st.integers(1, 40),
)
def test_the_fast_binner_agrees_with_searchsorted(reference, current, bins):
    edges = reference_profile(pd.DataFrame({"x": reference}), bins=bins).columns["x"].edges
    search = edges.copy()
    search[-1] = np.nextafter(search[-1], np.inf)
    values = np.array([*current, *edges, *np.nextafter(edges, np.inf)], dtype=np.float64)
    got = Binner(edges).index(values, Scratch())
    assert np.array_equal(got, np.searchsorted(search, values, side="right"))


@pytest.mark.parametrize("values", [[0, 1], list(range(21)), list(range(100))])
def test_discrete_columns_get_one_bin_per_value_and_binned_ks_is_exact(values):
    rng = np.random.default_rng(1)
    reference_values = rng.choice(values, 5_000)
    reference = reference_profile(pd.DataFrame({"x": reference_values}))
    column = reference.columns["x"]
    assert len(column.counts) == len(values) + 2  # one bin per value, plus under/overflow
    assert np.array_equal(column.counts[1:-1], np.bincount(reference_values)[values])
    current_values = rng.choice(
        values, 3_000, p=np.linspace(1, 2, len(values)) / sum(np.linspace(1, 2, len(values)))
    )
    accumulator = ProfileAccumulator(reference)
    accumulator.add({"x": current_values})
    current = accumulator.result().columns["x"]
    exact = stats.ks_2samp(reference_values, current_values).statistic
    assert binned_ks(column, current) == pytest.approx(exact, abs=1e-12)


def test_bool_and_one_hot_flags_are_numeric_0_1_never_lumped():
    rng = np.random.default_rng(2)
    data = pd.DataFrame(
        {
            "member": rng.random(1000) < 0.25,
            "plan_pro": (rng.random(1000) < 0.1).astype(np.uint8),
            "maybe": pd.array([True, False, None] * 333 + [True], dtype="boolean"),
        }
    )
    profile = reference_profile(data)
    member = profile.columns["member"]
    assert member.kind == "numeric" and member.edges.tolist() == [0.0, 0.5, 1.0]
    assert member.counts.tolist() == [0, 1000 - data.member.sum(), data.member.sum(), 0]
    assert profile.columns["plan_pro"].edges.tolist() == [0.0, 0.5, 1.0]
    maybe = profile.columns["maybe"]
    assert (maybe.count, maybe.nulls) == (667, 333)
    assert maybe.counts.tolist() == [0, 333, 334, 0]


def test_a_constant_column_has_one_bin():
    profile = reference_profile(pd.DataFrame({"x": [7.0] * 10}))
    column = profile.columns["x"]
    assert column.edges.tolist() == [7.0, 7.0] and column.counts.tolist() == [0, 10, 0]
    accumulator = ProfileAccumulator(profile)
    accumulator.add({"x": [6.0, 7.0, 8.0, 7.0]})
    assert accumulator.result().columns["x"].counts.tolist() == [1, 2, 1]


def test_nulls_nan_and_infinities_are_counted_apart_from_values():
    data = pd.DataFrame({"x": [1.0, np.nan, np.inf, -np.inf, 2.0, None, 3.0]})
    column = reference_profile(data).columns["x"]
    assert (column.count, column.nulls, column.infinities) == (3, 2, 2)
    assert column.mean == 2.0 and column.std == pytest.approx(math.sqrt(2 / 3))
    assert column.counts.sum() == 3


def test_an_all_nan_column_and_an_empty_frame_profile_to_zero_counts():
    profile = reference_profile(pd.DataFrame({"x": [np.nan] * 4, "y": [None] * 4}))
    x = profile.columns["x"]
    assert (x.count, x.nulls, len(x.edges), x.counts.tolist()) == (0, 4, 0, [0])
    assert math.isnan(x.mean) and math.isnan(x.std) and math.isnan(x.minimum)
    assert profile.columns["y"].kind == "categorical" and profile.columns["y"].nulls == 4
    accumulator = ProfileAccumulator(profile)
    accumulator.add({"x": [1.0, 2.0, np.nan]})
    current = accumulator.result().columns["x"]
    assert (current.count, current.nulls, current.counts.tolist()) == (2, 1, [2])
    assert histogram(x, current).current == (1.0,)

    empty = reference_profile(frame(10).iloc[:0])
    assert empty.rows == 0 and set(empty.columns) == {"income", "age", "score", "plan", "member"}
    assert all(column.count == 0 for column in empty.columns.values())
    assert DatasetProfile.from_bytes(empty.to_bytes()).rows == 0


def test_datetime_and_timedelta_columns_are_skipped():
    data = pd.DataFrame(
        {
            "x": [1.0, 2.0],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "when_utc": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
            "took": pd.to_timedelta([1, 2], unit="s"),
        }
    )
    profile = reference_profile(data)
    assert list(profile.columns) == ["x"]
    assert profile.skipped == ("when", "when_utc", "took")
    assert DatasetProfile.from_bytes(profile.to_bytes()).skipped == profile.skipped


def test_mixed_and_unhashable_object_values_are_counted_as_text():
    data = pd.DataFrame(
        {"mixed": pd.Series([1, "1", 2.5, None, "a", np.nan, [1, 2], {"k": 1}], dtype=object)}
    )
    column = reference_profile(data).columns["mixed"]
    assert isinstance(column, CategoricalProfile)
    assert (column.count, column.nulls) == (6, 2)
    assert column.counts["1"] == 2 and column.counts["[1, 2]"] == 1
    assert column.counts["{'k': 1}"] == 1 and column.counts[OTHER] == 0


def test_categorical_reference_keeps_its_top_categories_and_folds_the_rest():
    values = ["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 6 + ["e"] * 4 + [None] * 3
    profile = reference_profile(
        pd.DataFrame({"c": pd.Series(values, dtype="category")}), top_categories=3
    )
    column = profile.columns["c"]
    assert column.categories == ("a", "b", "c", OTHER)
    assert column.counts == {"a": 50, "b": 30, "c": 10, OTHER: 10}
    assert (column.count, column.nulls) == (100, 3)


def test_current_categorical_keeps_new_categories_by_count_and_folds_the_rest():
    reference = reference_profile(pd.DataFrame({"c": ["a", "b", "c", "d"] * 10}), top_categories=3)
    new = [f"n{i:03d}" for i in range(120) for _ in range(120 - i)]  # n000 most frequent
    accumulator = ProfileAccumulator(reference)
    accumulator.add({"c": pa.array(["a"] * 5 + ["d"] * 2 + new[: len(new) // 2])})
    accumulator.add(pd.DataFrame({"c": ["b", None, *new[len(new) // 2 :]]}))
    current = accumulator.result().columns["c"]
    found = current.new_categories(reference.columns["c"])
    assert found == tuple(f"n{i:03d}" for i in range(MAX_NEW_CATEGORIES))
    assert current.counts["a"] == 5 and current.counts["b"] == 1
    folded = sum(120 - i for i in range(MAX_NEW_CATEGORIES, 120))
    assert current.counts[OTHER] == 2 + folded  # "d" was folded in the reference too
    assert (current.count, current.nulls) == (5 + 2 + 1 + len(new), 1)
    assert sum(current.counts.values()) == current.count


def test_profiles_round_trip_through_bytes_exactly():
    rng = np.random.default_rng(4)
    data = frame(3_000)
    data.loc[::7, "score"] = np.nan
    data.loc[::11, "score"] = np.inf
    profile = reference_profile(
        data,
        predictions=rng.random(3_000),
        labels=pd.Series(rng.choice(["stay", "churn"], 3_000)),
        task="classification",
        performance={"accuracy": 0.1 + 0.2, "f1": 1 / 3},
        sample_size=500,
        pii=["income"],
    )
    again = DatasetProfile.from_bytes(profile.to_bytes())
    assert again.to_bytes() == profile.to_bytes()
    assert (again.rows, again.task, again.pii) == (3_000, "classification", ("income",))
    assert again.performance == {"accuracy": 0.1 + 0.2, "f1": 1 / 3}
    assert again.created_at == profile.created_at
    for name, column in profile.columns.items():
        other = again.columns[name]
        if isinstance(column, NumericProfile):
            assert_numeric_equal(column, other, exact_sums=True)
            assert (column.mean, column.m2, column.distinct) == (
                other.mean,
                other.m2,
                other.distinct,
            )
            assert (column.sample is None) == (other.sample is None)
            if column.sample is not None:
                assert np.array_equal(column.sample, other.sample)
        else:
            assert (column.counts, column.categories) == (other.counts, other.categories)
    assert profile.columns["income"].sample is None  # PII is never sampled
    assert len(profile.columns["score"].sample) == 500
    assert list(again.predictions) == ["prediction"]
    assert again.label.counts == profile.label.counts


def test_a_20_column_profile_is_kilobytes():
    rng = np.random.default_rng(5)
    data = pd.DataFrame({f"x{i}": rng.normal(i, 1, 10_000) for i in range(20)})
    size = len(reference_profile(data, predictions=rng.random(10_000)).to_bytes())
    assert size < 100_000, size


@pytest.mark.parametrize(
    ("blob", "words"),
    [
        (b"\x00\x01garbage", "not JSON"),
        (b'{"rows": 3}', "not a Shipyard profile"),
        (b"[1, 2, 3]", "not a Shipyard profile"),
        (b'{"format": "shipyard.profile", "version": 99}', "format version 99"),
        (b'{"format": "shipyard.profile", "version": 1, "rows": 1}', "damaged"),
    ],
)
def test_damaged_or_foreign_bytes_are_refused_with_a_hint(blob, words):
    with pytest.raises(MonitoringError, match=words) as caught:
        DatasetProfile.from_bytes(blob)
    assert caught.value.hint


def test_a_profile_with_a_damaged_column_is_refused():
    document = orjson.loads(reference_profile(frame(100)).to_bytes())
    document["columns"]["score"]["counts"] = document["columns"]["score"]["counts"][:-1]
    with pytest.raises(MonitoringError, match="damaged"):
        DatasetProfile.from_bytes(orjson.dumps(document))
    truncated = reference_profile(frame(100)).to_bytes()[:-20]
    with pytest.raises(MonitoringError, match="not JSON"):
        DatasetProfile.from_bytes(truncated)


# ------------------------------------------------------------------------------ merging


def test_merging_profiles_of_two_parts_gives_the_profile_of_the_whole():
    reference = reference_profile(frame(5_000, seed=1), predictions={"p": np.arange(5_000)})
    data = frame(20_000, seed=2)
    # values on a 1/64 grid: every partial sum is exact, so sums must match bit for bit
    data["score"] = np.round(data["score"] * 64) / 64
    data["income"] = np.round(data["income"])
    outputs = {"p": np.arange(20_000) % 7}
    whole = ProfileAccumulator(reference)
    whole.add(data, predictions=outputs)
    first, second = ProfileAccumulator(reference), ProfileAccumulator(reference)
    first.add(data.iloc[:7_001], predictions={"p": outputs["p"][:7_001]})
    second.add(data.iloc[7_001:], predictions={"p": outputs["p"][7_001:]})
    merged = reference.empty_like().merge(first.result()).merge(second.result())
    expected = whole.result()
    assert merged.rows == expected.rows == 20_000
    for name in ("income", "age", "score", "member"):
        assert_numeric_equal(merged.columns[name], expected.columns[name], exact_sums=True)
    assert merged.columns["plan"].counts == expected.columns["plan"].counts
    assert_numeric_equal(merged.predictions["p"], expected.predictions["p"], exact_sums=True)
    # and both are what the rows say
    assert expected.columns["score"].mean == pytest.approx(data["score"].mean(), rel=1e-12)
    assert expected.columns["score"].std == pytest.approx(data["score"].std(ddof=0), rel=1e-12)


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.integers(-4_000, 4_000).map(lambda i: i / 8),
            st.sampled_from([math.nan, math.inf, -math.inf]),
        ),
        max_size=200,
    ),
    cut=st.floats(0, 1),
)
def test_merge_is_exact_for_any_split(values, cut):
    reference = reference_profile(pd.DataFrame({"x": np.linspace(-300, 300, 1_000)}), bins=25)
    values = np.array(values, dtype=np.float64)
    split = int(cut * len(values))
    whole, first, second = (ProfileAccumulator(reference) for _ in range(3))
    whole.add({"x": values})
    first.add({"x": values[:split]})
    second.add({"x": values[split:]})
    merged = first.result().merge(second.result())
    assert_numeric_equal(merged.columns["x"], whole.result().columns["x"], exact_sums=True)


def test_merging_profiles_on_other_bins_is_refused():
    one = reference_profile(frame(100, seed=1))
    other = reference_profile(frame(100, seed=2))
    with pytest.raises(MonitoringError, match="different bins"):
        one.empty_like().merge(other.empty_like())
    with pytest.raises(MonitoringError, match="different columns"):
        one.merge(reference_profile(frame(100)[["age"]]))


def test_merged_samples_draw_from_each_part_in_proportion():
    reference = reference_profile(pd.DataFrame({"x": np.arange(100.0)}))
    shares = []
    for seed in range(40):
        small, large = (ProfileAccumulator(reference, sample_size=100, seed=seed) for _ in "ab")
        small.add({"x": np.zeros(1_000)})
        large.add({"x": np.ones(9_000)})
        merged = small.result().columns["x"].merge(large.result().columns["x"], seed=seed)
        assert len(merged.sample) == 100 and merged.sample_size == 100
        shares.append(float(np.mean(merged.sample == 0)))
    assert np.mean(shares) == pytest.approx(0.1, abs=0.02)


def test_a_streamed_sample_is_uniform_over_batches():
    reference = reference_profile(pd.DataFrame({"x": np.arange(100.0)}))
    accumulator = ProfileAccumulator(reference, sample_size=2_000, seed=7)
    for batch in range(10):
        accumulator.add({"x": np.full(5_000, float(batch))})
    sample = accumulator.result().columns["x"].sample
    counts = np.bincount(sample.astype(int), minlength=10)
    assert len(sample) == 2_000
    assert stats.chisquare(counts).pvalue > 0.001


# ---------------------------------------------------------------------------- streaming


def test_every_kind_of_batch_gives_the_same_profile():
    reference = reference_profile(frame(2_000, seed=1))
    data = frame(3_000, seed=3)
    table = pa.Table.from_pandas(data, preserve_index=False)
    results = []
    for batch in (
        data,
        table,
        table.to_batches()[0],
        {name: data[name].to_numpy() for name in data},
        {
            name: pa.chunked_array([table[name].chunk(0)[:1000], table[name].chunk(0)[1000:]])
            for name in data
        },
    ):
        accumulator = ProfileAccumulator(reference)
        accumulator.add(batch)
        results.append(accumulator.result())
    for result in results[1:]:
        assert result.rows == 3_000
        for name in ("income", "age", "score", "member"):
            assert_numeric_equal(result.columns[name], results[0].columns[name], exact_sums=False)
        assert result.columns["plan"].counts == results[0].columns["plan"].counts


def test_a_column_missing_from_a_batch_is_not_counted_and_rows_can_be_given():
    reference = reference_profile(pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}))
    accumulator = ProfileAccumulator(reference)
    accumulator.add({"x": [1.0, 2.0, 3.0]})
    accumulator.add({}, rows=4)
    result = accumulator.result()
    assert result.rows == 7
    assert (result.columns["y"].count, result.columns["y"].nulls) == (0, 0)
    assert result.columns["x"].count == 3


def test_text_in_a_numeric_column_is_refused():
    accumulator = ProfileAccumulator(reference_profile(pd.DataFrame({"x": [1.0, 2.0]})))
    with pytest.raises(MonitoringError, match="numeric in the reference"):
        accumulator.add({"x": pa.array(["a", "b"])})
    with pytest.raises(MonitoringError, match="numeric in the reference"):
        accumulator.add(pd.DataFrame({"x": ["a", "b"]}))
    accumulator.add(pd.DataFrame({"x": pd.Series([1, None, 2.5], dtype=object)}))
    assert accumulator.result().columns["x"].count == 2


def test_rollback_forgets_the_rows_added_since_the_checkpoint():
    reference = reference_profile(frame(1_000))
    accumulator = ProfileAccumulator(reference, sample_size=10)
    accumulator.add(frame(500, seed=1))
    before = accumulator.result()
    token = accumulator.checkpoint()
    accumulator.add(frame(700, seed=2))
    accumulator.rollback(token)
    after = accumulator.result()
    assert after.rows == before.rows == 500
    for name in ("income", "score"):
        assert_numeric_equal(after.columns[name], before.columns[name], exact_sums=True)
        assert np.array_equal(after.columns[name].sample, before.columns[name].sample)
    assert after.columns["plan"].counts == before.columns["plan"].counts


def test_predictions_and_labels_are_profiled_by_name():
    rng = np.random.default_rng(6)
    data = frame(1_000)
    profile = reference_profile(
        data,
        predictions=pd.DataFrame(
            {"churn": rng.random(1_000), "label": rng.choice(["a", "b"], 1_000)}
        ),
        labels=rng.integers(0, 2, 1_000),
        task="regression",
    )
    assert list(profile.predictions) == ["churn", "label"]
    assert profile.label.kind == "numeric" and profile.label.count == 1_000
    two_d = reference_profile(data, predictions=rng.random((1_000, 2)))
    assert list(two_d.predictions) == ["prediction_0", "prediction_1"]
    one = reference_profile(data, predictions={"score": rng.random(1_000)})
    accumulator = ProfileAccumulator(one)
    accumulator.add(data.iloc[:10], predictions=np.arange(10.0))  # one output: its name
    assert accumulator.result().predictions["score"].count == 10
    with pytest.raises(MonitoringError, match="Unknown task"):
        reference_profile(data, task="ranking")


# ----------------------------------------------------------------------------- plotting


def test_numeric_histogram_groups_bins_and_shows_values_beyond_the_range():
    rng = np.random.default_rng(8)
    reference = reference_profile(pd.DataFrame({"x": rng.normal(0, 1, 10_000)}))
    accumulator = ProfileAccumulator(reference)
    accumulator.add({"x": rng.normal(0.5, 1.5, 5_000)})
    current = accumulator.result().columns["x"]
    plot = histogram(reference.columns["x"], current, max_bins=30)
    assert plot.kind == "numeric" and len(plot.edges) == len(plot.reference) + 1
    assert len(plot.reference) <= 32  # 30 groups, a bar below and one above the range
    assert plot.reference[0] == 0.0 and plot.current[0] > 0 and plot.current[-1] > 0
    assert plot.edges[0] == current.minimum and plot.edges[-1] == current.maximum
    assert sum(plot.reference) == pytest.approx(1) and sum(plot.current) == pytest.approx(1)
    assert list(plot.edges) == sorted(plot.edges)
    inner = np.array(plot.reference[1:-1])
    assert inner.max() - inner.min() < 0.011  # equal reference frequency, to a bin


def test_categorical_histogram_shows_top_new_and_other():
    reference = reference_profile(pd.DataFrame({"c": list("aaaabbbcc") + list("defgh")}))
    accumulator = ProfileAccumulator(reference)
    accumulator.add({"c": list("aab") + ["new"] * 3 + ["newer"]})
    plot = histogram(reference.columns["c"], accumulator.result().columns["c"], max_bins=5)
    assert plot.labels == ("a", "b", "c", "new", OTHER)
    assert plot.reference == pytest.approx((4 / 14, 3 / 14, 2 / 14, 0, 5 / 14))
    assert plot.current == pytest.approx((2 / 7, 1 / 7, 0, 3 / 7, 1 / 7))
    with pytest.raises(MonitoringError):
        histogram(reference.columns["c"], reference_profile(frame(10)).columns["age"])


def test_created_at_is_utc_and_kept():
    profile = reference_profile(frame(10))
    assert profile.created_at.tzinfo is not None
    assert profile.created_at <= datetime.now(UTC)
