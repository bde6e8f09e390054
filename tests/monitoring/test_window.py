"""Windows of a real prediction log (written by the serving layer's own writer): the
profile of exactly the window's rows, hour folders pruned, damaged files skipped, and
labels joined from a feedback log that arrives later."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.data._log_layout import check_model_name, epoch_us, hour_folder, part_files
from shipyard.errors import ModelError, MonitoringError
from shipyard.models._names import normalize_model_name
from shipyard.monitoring._profile import (
    NumericProfile,
    ProfileAccumulator,
    reference_profile,
)
from shipyard.monitoring._window import read_window
from shipyard.serving._log import FeedbackLog, PredictionLog

T0 = datetime(2024, 5, 1, 13, 0, tzinfo=UTC)
LOGGER = "shipyard.monitoring"


def inputs(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            # quarters: every partial sum is exact, so sums can be compared bit for bit
            "income": np.round(rng.normal(50_000, 9_000, n) * 4) / 4,
            "plan": rng.choice(["basic", "plus", "pro", "max"], n),
        }
    )


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(99)
    return reference_profile(
        inputs(5_000, seed=99),
        predictions={"churn": np.round(rng.random(5_000) * 64) / 64},
        labels=rng.integers(0, 2, 5_000),
        task="classification",
        top_categories=3,
    )


class Logged:
    """What a test logged, to build the expected profile from the same rows."""

    def __init__(self) -> None:
        self.rows: list[pd.DataFrame] = []

    def frame(self, since: datetime, until: datetime, version: int | None = None) -> pd.DataFrame:
        if not self.rows:
            return pd.DataFrame()
        data = pd.concat(self.rows, ignore_index=True)
        keep = (data["timestamp"] >= since) & (data["timestamp"] < until)
        if version is not None:
            keep &= data["version"] == version
        return data[keep]


def log_requests(
    root: Path,
    logged: Logged,
    start: datetime,
    *,
    requests: int,
    rows: int = 3,
    every: timedelta = timedelta(minutes=7),
    version: int = 1,
    seed: int = 0,
    prefix: str = "r",
) -> None:
    """One part file per hour touched: ``requests`` requests of ``rows`` rows each."""
    log = PredictionLog(root)
    rng = np.random.default_rng(seed)
    for i in range(requests):
        data = inputs(rows, seed=seed * 10_000 + i)
        churn = np.round(rng.random(rows) * 64) / 64
        moment = start + i * every
        assert log.log(f"{prefix}{i}", "churn", version, data, {"churn": churn}, 1.0, moment)
        logged.rows.append(
            data.assign(
                churn=churn,
                timestamp=moment,
                version=version,
                request_id=f"{prefix}{i}",
                row=np.arange(rows),
            )
        )
    stats = log.close()
    assert stats.dropped_rows == 0


def expected_profile(reference, data: pd.DataFrame):
    accumulator = ProfileAccumulator(reference)
    if len(data):
        accumulator.add(data[["age", "income", "plan"]], predictions={"churn": data["churn"]})
    return accumulator.result()


def assert_same_profile(got, expected) -> None:
    assert got.rows == expected.rows
    for side in ("columns", "predictions"):
        for name, column in getattr(expected, side).items():
            other = getattr(got, side)[name]
            assert (other.count, other.nulls) == (column.count, column.nulls), name
            if isinstance(column, NumericProfile):
                assert np.array_equal(other.counts, column.counts), name
                assert np.array_equal(other.sums, column.sums), name
                if column.count:
                    assert other.mean == pytest.approx(column.mean, rel=1e-12)
                    assert other.std == pytest.approx(column.std, rel=1e-12)
                    assert (other.minimum, other.maximum) == (column.minimum, column.maximum)
            else:
                assert other.counts == column.counts, name


def corrupt(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PAR1 this is not a parquet file at all PAR1")


def window(root: Path, reference, since: datetime, until: datetime, **options):
    feedback = options.pop("feedback", None)
    return read_window(
        root, feedback, model="churn", since=since, until=until, reference=reference, **options
    )


# ------------------------------------------------------------------------------ profile


def test_the_profile_is_the_profile_of_exactly_the_window_rows(tmp_path, reference):
    logged = Logged()
    log_requests(tmp_path, logged, T0, requests=40, seed=1)  # 13:00 .. 17:33
    log_requests(tmp_path, logged, T0 + timedelta(minutes=3), requests=30, seed=2, prefix="s")
    since, until = T0 + timedelta(minutes=35), T0 + timedelta(hours=3, minutes=10)
    found = window(tmp_path, reference, since, until)
    expected = expected_profile(reference, logged.frame(since, until))
    assert found.rows == len(logged.frame(since, until)) > 0
    assert_same_profile(found.profile, expected)
    assert found.versions == (1,)
    assert (found.skipped_files, found.missing_columns, found.type_mismatches) == ((), (), ())
    assert found.since == since and found.until == until and found.model == "churn"
    # small batches (several per file, decoded ahead in a thread) give the same profile
    assert_same_profile(window(tmp_path, reference, since, until, batch_rows=4).profile, expected)


def test_window_bounds_are_since_inclusive_until_exclusive(tmp_path, reference):
    logged = Logged()
    log_requests(tmp_path, logged, T0, requests=6, every=timedelta(minutes=10))
    found = window(tmp_path, reference, T0 + timedelta(minutes=10), T0 + timedelta(minutes=30))
    assert found.rows == 2 * 3  # the requests at :10 and :20, not the one at :30
    naive = window(
        tmp_path,
        reference,
        (T0 + timedelta(minutes=10)).replace(tzinfo=None),
        (T0 + timedelta(minutes=30)).replace(tzinfo=None),
    )
    assert naive.rows == 6 and naive.since.tzinfo is not None


def test_a_version_filter_keeps_that_versions_rows(tmp_path, reference):
    logged = Logged()
    log_requests(tmp_path, logged, T0, requests=10, version=1, seed=1)
    log_requests(tmp_path, logged, T0, requests=12, version=2, seed=2, prefix="v2-")
    until = T0 + timedelta(hours=3)
    assert window(tmp_path, reference, T0, until).versions == (1, 2)
    found = window(tmp_path, reference, T0, until, version=2)
    assert found.versions == (2,) and found.rows == 36
    assert_same_profile(found.profile, expected_profile(reference, logged.frame(T0, until, 2)))
    assert window(tmp_path, reference, T0, until, version=7).rows == 0


def test_columns_missing_from_the_log_are_named(tmp_path, reference):
    logged = Logged()
    log = PredictionLog(tmp_path, pii={"income": "salary"}, pii_mode="drop")
    data = inputs(4, seed=3)
    assert log.log("r1", "churn", 1, data, {"churn": [0.5] * 4}, 1.0, T0)
    log.close()
    found = window(tmp_path, reference, T0, T0 + timedelta(hours=1))
    assert found.missing_columns == ("income",)
    income = found.profile.columns["income"]
    assert (income.count, income.nulls) == (0, 0)
    assert found.profile.columns["age"].count == 4 and found.rows == 4
    assert logged.rows == []


def test_pii_columns_are_never_read_and_count_as_missing(tmp_path, reference, caplog):
    private = reference_profile(
        inputs(500, seed=7), pii=["age"], predictions={"churn": [0.5] * 500}
    )
    log = PredictionLog(tmp_path, pii={"age": "age"}, pii_mode="mask")
    assert log.log("r1", "churn", 1, inputs(3, seed=8), {"churn": [0.5] * 3}, 1.0, T0)
    log.close()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        found = window(tmp_path, private, T0, T0 + timedelta(hours=1))
    assert found.missing_columns == ("age",) and found.type_mismatches == ()
    assert caplog.records == []
    assert found.profile.columns["age"].count == 0 and found.profile.columns["income"].count == 3


# -------------------------------------------------------------------------------- faults


def test_hour_folders_outside_the_window_are_never_opened(tmp_path, reference, caplog):
    logged = Logged()
    log_requests(tmp_path, logged, T0, requests=20, every=timedelta(minutes=10))  # 4 hours
    before = hour_folder(tmp_path, "churn", epoch_us(T0) // 3_600_000_000 - 1)
    after = hour_folder(tmp_path, "churn", epoch_us(T0) // 3_600_000_000 + 2)
    corrupt(before / "part-damaged.parquet")
    corrupt(after / "part-damaged.parquet")
    since, until = T0 + timedelta(minutes=20), T0 + timedelta(hours=2)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        found = window(tmp_path, reference, since, until)
    assert caplog.records == [] and found.skipped_files == ()
    assert found.rows == len(logged.frame(since, until))
    listed = part_files(tmp_path, "churn", epoch_us(since), epoch_us(until))
    assert len(listed) == 2 and not any("damaged" in str(path) for path in listed)


def test_a_damaged_part_in_the_window_is_skipped_with_a_warning(tmp_path, reference, caplog):
    logged = Logged()
    log_requests(tmp_path, logged, T0, requests=12, every=timedelta(minutes=4))
    damaged = hour_folder(tmp_path, "churn", epoch_us(T0) // 3_600_000_000) / "part-zz.parquet"
    corrupt(damaged)
    no_time = damaged.with_name("part-zzz.parquet")
    pq.write_table(
        pq.read_table(part_files(tmp_path, "churn", None, None)[0]).drop(["timestamp"]), no_time
    )
    until = T0 + timedelta(hours=1)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        found = window(tmp_path, reference, T0, until)
    assert found.skipped_files == (str(damaged), str(no_time))
    assert sum(str(damaged) in record.getMessage() for record in caplog.records) == 1
    assert found.rows == 36
    assert_same_profile(found.profile, expected_profile(reference, logged.frame(T0, until)))


@pytest.mark.parametrize("batch_rows", [5, 262_144])  # decoded ahead in a thread, or not
def test_a_part_damaged_half_way_counts_none_of_its_rows(tmp_path, reference, caplog, batch_rows):
    logged = Logged()
    log_requests(tmp_path, logged, T0, requests=10, every=timedelta(minutes=5))
    (good,) = part_files(tmp_path, "churn", None, None)
    # the same rows again in a file of two row groups, the second one damaged
    table = pq.read_table(good)
    broken = good.with_name("part-broken.parquet")
    pq.write_table(table, broken, row_group_size=15, compression="snappy")
    metadata = pq.ParquetFile(broken).metadata
    assert metadata.num_row_groups == 2
    offset = metadata.row_group(1).column(5).data_page_offset
    raw = bytearray(broken.read_bytes())
    raw[offset : offset + 40] = b"\xff" * 40
    broken.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        found = window(tmp_path, reference, T0, T0 + timedelta(hours=1), batch_rows=batch_rows)
    assert found.skipped_files == (str(broken),)
    assert found.rows == 30  # the good file only: the first row group was rolled back
    assert_same_profile(
        found.profile, expected_profile(reference, logged.frame(T0, T0 + timedelta(hours=1)))
    )


def test_a_column_of_another_type_is_left_out_for_that_file(tmp_path, reference, caplog):
    logged = Logged()
    log_requests(tmp_path, logged, T0, requests=5)
    log = PredictionLog(tmp_path)
    data = inputs(2, seed=5).astype({"age": str})
    assert log.log("text", "churn", 1, data, {"churn": [0.25, 0.5]}, 1.0, T0)
    log.close()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        found = window(tmp_path, reference, T0, T0 + timedelta(hours=1))
    (mismatch,) = found.type_mismatches
    assert "input.age (string)" in mismatch
    assert any("input.age" in record.getMessage() for record in caplog.records)
    assert found.rows == 17 and found.skipped_files == ()
    assert found.profile.columns["age"].count == 15  # neither values nor nulls from that file
    assert found.profile.columns["income"].count == 17
    assert found.missing_columns == ()


def test_an_empty_window_is_zero_rows_not_an_error(tmp_path, reference):
    nothing = window(tmp_path / "no-log", reference, T0, T0 + timedelta(hours=1))
    assert nothing.rows == 0 and nothing.versions == () and nothing.missing_columns == ()
    assert list(nothing.labelled.columns) == [
        "request_id",
        "row",
        "timestamp",
        "model_version",
        "input.age",
        "input.income",
        "input.plan",
        "output.churn",
        "label",
        "label_number",
    ]
    assert len(nothing.labelled) == 0
    assert nothing.profile.columns["income"].count == 0
    logged = Logged()
    log_requests(tmp_path, logged, T0, requests=3)
    later = window(tmp_path, reference, T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert later.rows == 0 and len(later.labelled) == 0
    with pytest.raises(MonitoringError, match="before it starts"):
        window(tmp_path, reference, T0, T0)
    with pytest.raises(ModelError):
        read_window(
            tmp_path,
            None,
            model="Churn",
            since=T0,
            until=T0 + timedelta(hours=1),
            reference=reference,
        )


# ------------------------------------------------------------------------------ feedback


def test_labels_arriving_hours_later_are_joined(tmp_path, reference):
    logged = Logged()
    predictions, feedback = tmp_path / "predictions", tmp_path / "feedback"
    log_requests(predictions, logged, T0, requests=6, rows=2, every=timedelta(minutes=9))
    labels = FeedbackLog(feedback)
    labels.log("churn", "r0", 1, row=None, timestamp=T0 + timedelta(hours=5))  # whole request
    labels.log("churn", "r1", "churn", row=1, timestamp=T0 + timedelta(days=2))
    labels.log("churn", "r2", True, row=0, timestamp=T0 + timedelta(minutes=30))
    labels.log("churn", "r3", math.nan, row=0, timestamp=T0 + timedelta(hours=1))
    labels.log("churn", "unknown", 1, row=0, timestamp=T0 + timedelta(hours=1))
    labels.close()
    found = window(predictions, reference, T0, T0 + timedelta(hours=1), feedback=feedback)
    labelled = found.labelled
    assert list(zip(labelled["request_id"], labelled["row"], strict=True)) == [
        ("r0", 0),
        ("r0", 1),
        ("r1", 1),
        ("r2", 0),
        ("r3", 0),
    ]
    assert labelled["label"].iloc[:3].tolist() == [1, 1, "churn"]
    assert labelled["label"].iloc[3] is True and math.isnan(labelled["label"].iloc[4])
    assert labelled["label_number"].iloc[:2].tolist() == [1.0, 1.0]
    assert math.isnan(labelled["label_number"].iloc[2])
    expected = pd.concat(logged.rows, ignore_index=True).set_index(["request_id", "row"])
    for _, row in labelled.iterrows():
        source = expected.loc[(row["request_id"], row["row"])]
        assert row["input.income"] == source["income"] and row["output.churn"] == source["churn"]
        assert row["input.plan"] == source["plan"] and row["model_version"] == 1
        assert row["timestamp"] == source["timestamp"]
    assert found.rows == 12  # labels change nothing in the profile


def test_the_latest_label_wins_and_a_rows_own_label_beats_an_older_request_label(
    tmp_path, reference
):
    logged = Logged()
    predictions, feedback = tmp_path / "predictions", tmp_path / "feedback"
    log_requests(predictions, logged, T0, requests=3, rows=3)
    first = FeedbackLog(feedback)
    first.log("churn", "r0", "old", row=1, timestamp=T0 + timedelta(hours=2))
    first.log("churn", "r0", "request", row=None, timestamp=T0 + timedelta(hours=3))
    first.log("churn", "r1", "request", row=None, timestamp=T0 + timedelta(hours=2))
    first.log("churn", "r1", "own", row=2, timestamp=T0 + timedelta(hours=3))
    first.log("churn", "r2", "first", row=0, timestamp=T0 + timedelta(hours=2))
    first.close()
    second = FeedbackLog(feedback)  # a file of its own, written later
    second.log("churn", "r2", "second", row=0, timestamp=T0 + timedelta(hours=4))
    second.log("churn", "r0", "newer", row=1, timestamp=T0 + timedelta(hours=6))
    second.close()
    found = window(predictions, reference, T0, T0 + timedelta(hours=1), feedback=feedback)
    labels = {
        (request, row): label
        for request, row, label in zip(
            found.labelled["request_id"],
            found.labelled["row"],
            found.labelled["label"],
            strict=True,
        )
    }
    assert labels == {
        ("r0", 0): "request",
        ("r0", 1): "newer",  # its own label, newer than the request's
        ("r0", 2): "request",
        ("r1", 0): "request",
        ("r1", 1): "request",
        ("r1", 2): "own",
        ("r2", 0): "second",  # duplicate labels: the last one
    }


def test_feedback_is_read_from_the_windows_start_on(tmp_path, reference, caplog):
    logged = Logged()
    predictions, feedback = tmp_path / "predictions", tmp_path / "feedback"
    log_requests(predictions, logged, T0, requests=2, rows=1)
    labels = FeedbackLog(feedback)
    labels.log("churn", "r0", 1, timestamp=T0 + timedelta(hours=30))
    labels.close()
    hour = epoch_us(T0) // 3_600_000_000
    corrupt(hour_folder(feedback, "churn", hour - 3) / "part-old.parquet")  # before: unread
    damaged = hour_folder(feedback, "churn", hour + 1) / "part-bad.parquet"
    corrupt(damaged)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        found = window(predictions, reference, T0, T0 + timedelta(hours=1), feedback=feedback)
    assert found.labelled["request_id"].tolist() == ["r0"]
    assert found.skipped_files == (str(damaged),)
    assert [str(damaged) in record.getMessage() for record in caplog.records] == [True]


# ------------------------------------------------------------------------------- layout


@given(
    st.text(
        # ASCII, path-like and control characters, accents, a Cyrillic "a", a Roman
        # numeral and a ligature (NFKC changes both), a zero-width space
        alphabet=st.sampled_from([*"abcXYZ019_.-/ %\tÉé", "\u0430", "\u2160", "\ufb01", "\u200b"]),
        max_size=12,
    )
)
def test_the_logs_model_name_rule_agrees_with_the_registrys(name):
    try:
        stored = normalize_model_name(name) == name
    except ModelError:
        stored = False
    if stored:
        check_model_name(name)
    else:
        with pytest.raises(ModelError):
            check_model_name(name)
