"""The prediction and feedback logs on a real disk, with real writer threads and a real
child process killed mid-stream."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import blake3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.errors import ShipyardError
from shipyard.serving._log import (
    PII_KEY_CONTEXT,
    FeedbackLog,
    LogStats,
    PredictionLog,
    read_log,
)

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, 13, 20, 5, 123456, tzinfo=UTC)


def parts(root: Path) -> list[Path]:
    return sorted(root.rglob("part-*.parquet"))


def one_row(i: int) -> pd.DataFrame:
    return pd.DataFrame({"age": [i], "city": [f"c{i}"]})


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_predictions_round_trip_with_the_documented_schema(tmp_path):
    log = PredictionLog(tmp_path)
    log.start()
    inputs = pd.DataFrame(
        {
            "age": [41, 42, 43],
            "note": ["tab\there", "nul\x00bell\x07", "line\r\nfeed\x1b"],
            "income": [math.nan, math.inf, -math.inf],
        }
    )
    outputs = {"churn": [0.1, math.nan, 0.9], "label": ["no", "yes\x00", "no"]}
    assert log.log("r1", "churn", 7, inputs, outputs, 2.5, timestamp=T0)
    assert log.log("r2", "churn", 7, inputs.iloc[:1], {"churn": np.array([0.5])}, 1.0, T0)
    stats = log.close()
    assert stats == LogStats(
        written_rows=4, dropped_rows=0, failed_writes=0, files=1, last_error=None
    )

    (part,) = parts(tmp_path)
    assert part.parent == tmp_path / "model=churn" / "hour=2024-05-01T13"
    schema = pq.read_schema(part)
    assert schema.names[:5] == ["request_id", "row", "timestamp", "model_version", "latency_ms"]
    assert [schema.field(n).type for n in schema.names[:5]] == [
        pa.string(),
        pa.int32(),
        pa.timestamp("us", tz="UTC"),
        pa.int32(),
        pa.float64(),
    ]
    assert schema.names[5:] == [
        "input.age",
        "input.note",
        "input.income",
        "output.churn",
        "output.label",
    ]
    assert schema.field("input.note").type == pa.string()

    frame = read_log(tmp_path)
    assert list(frame["request_id"]) == ["r1", "r1", "r1", "r2"]
    assert list(frame["row"]) == [0, 1, 2, 0]
    assert (frame["timestamp"] == pd.Timestamp(T0)).all()
    assert list(frame["input.note"][:3]) == list(inputs["note"])
    income = frame["input.income"].to_numpy()
    assert math.isnan(income[0]) and income[1] == math.inf and income[2] == -math.inf
    assert math.isnan(frame["output.churn"][1]) and frame["output.churn"][3] == 0.5
    assert list(frame["output.label"][:3]) == ["no", "yes\x00", "no"]
    assert set(frame["model"]) == {"churn"} and set(frame["hour"]) == {"2024-05-01T13"}
    # NaN and inf are values in the file, not nulls
    raw = pq.read_table(part)
    assert raw.column("input.income").null_count == 0
    # dictionary pages for what repeats (ids, versions, text), plain pages for floats
    row_group = pq.ParquetFile(part).metadata.row_group(0)
    encodings = {
        row_group.column(i).path_in_schema: row_group.column(i).encodings
        for i in range(row_group.num_columns)
    }
    assert all("RLE_DICTIONARY" in encodings[c] for c in ("request_id", "input.note"))
    assert all("RLE_DICTIONARY" not in encodings[c] for c in ("input.income", "output.churn"))


def test_feedback_labels_of_any_type_give_one_schema_per_model(tmp_path):
    log = FeedbackLog(tmp_path, flush_interval_s=0.05)
    log.start()
    labels = [1, 0.5, True, "churned", math.nan, np.int64(4), None, {"class": "a"}]
    for i, label in enumerate(labels):
        assert log.log("churn", f"r{i}", label, row=i if i % 2 else None, timestamp=T0)
        wait_for(lambda i=i: log.stats.written_rows == i + 1)  # one part file per label
    assert log.close().files == len(labels)

    schemas = {pq.read_schema(part) for part in parts(tmp_path)}
    assert len(schemas) == 1
    (schema,) = schemas
    assert [(f.name, f.type) for f in schema] == [
        ("request_id", pa.string()),
        ("row", pa.int32()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("label", pa.string()),
        ("label_number", pa.float64()),
    ]
    frame = read_log(tmp_path).set_index("request_id").loc[[f"r{i}" for i in range(8)]]
    decoded = [json.loads(text) for text in frame["label"]]
    assert decoded[:4] == [1, 0.5, True, "churned"]
    assert math.isnan(decoded[4]) and decoded[5:] == [4, None, {"class": "a"}]
    assert frame["row"].isna().tolist() == [True, False] * 4
    raw = pa.concat_tables(pq.read_table(part) for part in parts(tmp_path))
    ids, values = raw["request_id"].to_pylist(), raw["label_number"].to_pylist()
    numbers = dict(zip(ids, values, strict=True))
    expected = [1.0, 0.5, 1.0, None, 4.0, None, None]
    assert [numbers[f"r{i}"] for i in (0, 1, 2, 3, 5, 6, 7)] == expected
    assert math.isnan(numbers["r4"])  # NaN is a number, not a missing label


def test_read_log_of_nothing_is_an_empty_frame_with_the_shared_columns(tmp_path):
    for root in (tmp_path / "missing", tmp_path):
        frame = read_log(root)
        assert frame.empty
        assert list(frame.columns) == ["request_id", "row", "timestamp", "model", "hour"]
        assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"


def test_read_log_filters_by_model_and_time_and_sorts_by_timestamp(tmp_path):
    log = PredictionLog(tmp_path)
    times = [T0 + timedelta(hours=h, minutes=5) for h in (2, 0, 1)]
    for i, when in enumerate(times):
        for model in ("churn", "fraud"):
            assert log.log(f"{model}-{i}", model, 1, one_row(i), {"p": [0.5]}, 1.0, when)
    # a naive datetime is taken as UTC
    assert log.log("naive", "churn", 1, one_row(9), {"p": [0.1]}, 1.0, T0.replace(tzinfo=None))
    log.close()

    assert len(parts(tmp_path / "model=churn")) == 3  # one file per hour
    everything = read_log(tmp_path)
    assert everything["timestamp"].is_monotonic_increasing and len(everything) == 7
    assert read_log(tmp_path, model="fraud")["request_id"].tolist() == [
        "fraud-1",
        "fraud-2",
        "fraud-0",
    ]
    window = read_log(tmp_path, model="churn", since=times[2], until=times[0])
    assert window["request_id"].tolist() == ["churn-2"]
    naive = read_log(tmp_path, model="churn", until=T0 + timedelta(minutes=1))
    assert naive["request_id"].tolist() == ["naive"]
    assert naive["hour"].tolist() == ["2024-05-01T13"]


def test_read_log_aligns_models_with_different_inputs_and_skips_temp_files(tmp_path):
    log = PredictionLog(tmp_path)
    log.log("a", "churn", 1, pd.DataFrame({"age": [30]}), {"p": [0.1]}, 1.0, T0)
    log.log("b", "fraud", 1, pd.DataFrame({"amount": [9.5]}), {"p": [0.2]}, 1.0, T0)
    log.close()
    folder = tmp_path / "model=churn" / "hour=2024-05-01T13"
    (folder / ".part-half-written.parquet.tmp").write_bytes(b"PAR1 not finished")
    frame = read_log(tmp_path).set_index("request_id")
    assert frame.loc["a", "input.age"] == 30 and pd.isna(frame.loc["b", "input.age"])
    assert frame.loc["b", "input.amount"] == 9.5 and pd.isna(frame.loc["a", "input.amount"])
    assert len(pd.read_parquet(tmp_path)) == 2


def test_read_log_names_a_damaged_part_file(tmp_path):
    log = PredictionLog(tmp_path)
    log.log("a", "churn", 1, one_row(1), {"p": [0.1]}, 1.0, T0)
    log.close()
    damaged = parts(tmp_path)[0].with_name("part-zzz.parquet")
    damaged.write_bytes(b"not parquet")
    with pytest.raises(ShipyardError, match=r"part-zzz\.parquet") as caught:
        read_log(tmp_path)
    assert "move it out" in caught.value.hint


@pytest.mark.parametrize("name", ["a/b", "..", "../etc", "churn/../x"])
def test_a_model_name_that_would_leave_the_folder_is_refused(tmp_path, name):
    log = PredictionLog(tmp_path)
    with pytest.raises(ShipyardError) as caught:
        log.log("r", name, 1, one_row(1), {"p": [0.1]}, 1.0)
    assert not isinstance(caught.value, ValueError)
    feedback = FeedbackLog(tmp_path)
    with pytest.raises(ShipyardError):
        feedback.log(name, "r", 1)
    feedback.close()
    with pytest.raises(ShipyardError):
        read_log(tmp_path, model=name)
    log.close()
    assert not any(tmp_path.iterdir())


def test_close_writes_everything_pending_and_is_idempotent(tmp_path):
    log = PredictionLog(tmp_path, flush_interval_s=3600)
    log.start()
    frame = pd.DataFrame({"x": np.arange(100)})
    for i in range(100):
        assert log.log(f"r{i}", "churn", 1, frame, {"y": np.zeros(100)}, 1.0)
    assert parts(tmp_path) == []  # nothing flushed yet: the interval is an hour
    stats = log.close()
    assert stats.written_rows == 10_000 and stats.files == 1
    assert len(read_log(tmp_path)) == 10_000
    assert log.close() == stats
    # after close a request is refused and counted, never blocks
    assert not log.log("late", "churn", 1, frame, {"y": np.zeros(100)}, 1.0)
    assert log.stats.dropped_rows == 100


def test_rows_of_one_model_and_hour_become_one_file_per_flush(tmp_path):
    log = PredictionLog(tmp_path, flush_interval_s=3600)
    for i in range(500):
        log.log(f"r{i}", "churn" if i % 2 else "fraud", 1, one_row(i), {"p": [0.5]}, 1.0, T0)
    assert log.close().files == 2
    assert [p.parent.parent.name for p in parts(tmp_path)] == ["model=churn", "model=fraud"]


def test_a_flush_starts_early_once_enough_rows_wait(tmp_path):
    log = PredictionLog(tmp_path, flush_interval_s=3600)
    log.start()
    frame = pd.DataFrame({"x": np.arange(10_000)})
    for i in range(6):  # 60,000 rows: past the 50,000 that trigger a flush
        log.log(f"r{i}", "churn", 1, frame, {"y": np.zeros(10_000)}, 1.0)
    wait_for(lambda: log.stats.written_rows >= 50_000)
    log.close()
    assert len(read_log(tmp_path)) == 60_000


def test_a_full_queue_drops_requests_without_blocking(tmp_path):
    log = PredictionLog(tmp_path, max_pending_rows=100)  # never started: nothing drains
    kept = [log.log(f"r{i}", "churn", 1, one_row(i), {"p": [0.5]}, 1.0) for i in range(150)]
    assert kept == [True] * 100 + [False] * 50
    assert log.stats.dropped_rows == 50
    stats = log.close()
    assert stats.written_rows == 100 and stats.dropped_rows == 50
    assert sorted(read_log(tmp_path)["request_id"]) == sorted(f"r{i}" for i in range(100))


def test_sampling_keeps_whole_requests_by_request_id(tmp_path):
    ids = [f"req-{i}" for i in range(5000)]
    kept_sets = []
    for attempt in ("a", "b"):
        log = PredictionLog(tmp_path / attempt, sample_rate=0.1)
        frame = pd.DataFrame({"x": [1, 2]})
        kept_sets.append(
            {rid for rid in ids if log.log(rid, "churn", 1, frame, {"y": [0, 1]}, 1.0)}
        )
        log.close()
    assert kept_sets[0] == kept_sets[1]  # the same requests in every process and replica
    assert 400 <= len(kept_sets[0]) <= 600
    frame = read_log(tmp_path / "a")
    assert set(frame["request_id"]) == kept_sets[0]
    assert (frame.groupby("request_id")["row"].count() == 2).all()
    none = PredictionLog(tmp_path / "none", sample_rate=0.0)
    assert not any(none.log(rid, "churn", 1, one_row(1), {"p": [1]}, 1.0) for rid in ids[:100])
    assert none.close().written_rows == 0 and none.stats.dropped_rows == 0


def _pii_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": ["a@x.org", None, "a@x.org"],
            "phone": np.array([5551234, 5559876, 5551234], dtype=np.int64),
            "age": [30, 40, 50],
        }
    )


def test_pii_columns_are_dropped_masked_or_hashed_with_a_keyed_blake3(tmp_path):
    pii = {"email": "contact", "phone": "contact"}
    salt = b"secret salt"
    frames = {}
    for mode in ("drop", "mask", "hash"):
        log = PredictionLog(tmp_path / mode, pii=pii, pii_mode=mode, pii_salt=salt)
        log.log("r1", "churn", 1, _pii_frame(), {"p": [0.1, 0.2, 0.3]}, 1.0)
        log.close()
        frames[mode] = read_log(tmp_path / mode)

    assert "input.email" not in frames["drop"] and "input.phone" not in frames["drop"]
    assert frames["drop"]["input.age"].tolist() == [30, 40, 50]
    masked = frames["mask"]
    assert masked["input.email"].tolist()[::2] == ["***", "***"]
    assert pd.isna(masked["input.email"][1])  # a null stays null
    assert masked["input.phone"].tolist() == ["***"] * 3

    key = blake3.blake3(salt, derive_key_context=PII_KEY_CONTEXT).digest()
    hashed = frames["hash"]
    email = blake3.blake3(b"a@x.org", key=key).hexdigest()
    assert hashed["input.email"][0] == email == hashed["input.email"][2]
    assert pd.isna(hashed["input.email"][1])
    assert hashed["input.phone"][0] == blake3.blake3(b"5551234", key=key).hexdigest()
    assert hashed["input.phone"][0] != hashed["input.phone"][1]
    assert hashed["input.age"].tolist() == [30, 40, 50]
    for part in parts(tmp_path):  # the raw values are in no file
        text = part.read_bytes()
        assert b"a@x.org" not in text

    other = PredictionLog(tmp_path / "other", pii=pii, pii_mode="hash", pii_salt=b"another")
    other.log("r1", "churn", 1, _pii_frame(), {"p": [0.1, 0.2, 0.3]}, 1.0)
    other.close()
    assert read_log(tmp_path / "other")["input.email"][0] != email


def test_hash_without_a_salt_and_other_bad_settings_are_refused(tmp_path):
    with pytest.raises(ShipyardError, match="salt") as caught:
        PredictionLog(tmp_path, pii={"email": "contact"}, pii_mode="hash")
    assert "salt_credentials" in caught.value.hint and "credentials.yml" in caught.value.hint
    with pytest.raises(ShipyardError, match="PII mode"):
        PredictionLog(tmp_path, pii_mode="encrypt")
    with pytest.raises(ShipyardError, match="sample_rate"):
        PredictionLog(tmp_path, sample_rate=1.5)
    with pytest.raises(ShipyardError, match="flush_interval_s"):
        FeedbackLog(tmp_path, flush_interval_s=0)


def test_a_folder_that_cannot_be_made_drops_batches_and_the_writer_recovers(tmp_path, caplog):
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file where the log's folder must go")
    log = PredictionLog(blocker / "log", flush_interval_s=0.02)
    caplog.set_level(logging.WARNING, logger="shipyard.serving")
    log.start()
    started = time.perf_counter()
    for i in range(200):  # requests keep being accepted while every write fails
        assert log.log(f"r{i}", "churn", 1, one_row(i), {"p": [0.5]}, 1.0)
        time.sleep(0.001)
    assert time.perf_counter() - started < 5
    wait_for(lambda: log.stats.dropped_rows == 200)
    stats = log.stats
    assert stats.failed_writes >= 2 and stats.written_rows == 0
    assert "NotADirectoryError" in stats.last_error
    warnings = [r for r in caplog.records if r.name == "shipyard.serving"]
    assert len(warnings) == 1 and "dropped" in warnings[0].getMessage()

    blocker.unlink()  # the obstacle goes away: the next batch is written
    assert log.log("after", "churn", 1, one_row(1), {"p": [0.5]}, 1.0)
    wait_for(lambda: log.stats.written_rows == 1)
    log.close()
    assert read_log(blocker / "log")["request_id"].tolist() == ["after"]


def test_a_request_whose_data_cannot_be_stored_is_dropped_alone(tmp_path, caplog):
    log = PredictionLog(tmp_path)
    for i in range(40):
        log.log(f"r{i}", "churn", 1, one_row(i), {"p": [0.5]}, 1.0, T0)
    log.log("bad", "churn", 1, one_row(1), {"p": [0.5, 0.6]}, 1.0, T0)  # 2 outputs, 1 row
    stats = log.close()
    assert stats.written_rows == 40 and stats.dropped_rows == 1 and stats.failed_writes == 0
    assert "request bad" in stats.last_error and "2 values for 1 input rows" in stats.last_error
    assert "bad" not in set(read_log(tmp_path)["request_id"])
    assert any("request bad" in r.getMessage() for r in caplog.records)


BASE = pd.DataFrame({"a": [1], "b": [0.5], "s": ["x"]})


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (BASE[["s", "b", "a"]], {"a": 1, "b": 0.5, "s": "x"}),
        (BASE.rename(columns={"a": "c"}), {"c": 1, "b": 0.5, "s": "x"}),
        (BASE.assign(a=1.5), {"a": 1.5, "b": 0.5, "s": "x"}),
        (BASE.assign(s=7), None),  # an int where the others have text: dropped alone
        (BASE.drop(columns="b").assign(extra=True), {"a": 1, "s": "x", "extra": True}),
    ],
    ids=["reordered", "renamed", "retyped", "mixed-types", "other-columns"],
)
def test_a_frame_that_differs_from_the_others_keeps_its_values(tmp_path, variant, expected):
    log = PredictionLog(tmp_path)
    for i, frame in enumerate([BASE, BASE, variant, BASE]):
        log.log(f"r{i}", "churn", 1, frame, {"p": [i]}, 1.0, T0 + timedelta(seconds=i))
    stats = log.close()
    result = read_log(tmp_path).set_index("request_id")
    if expected is None:
        assert stats.written_rows == 3 and stats.dropped_rows == 1
        assert "request r2" in stats.last_error and "incompatible types" in stats.last_error
        assert "r2" not in result.index
        return
    assert stats.written_rows == 4
    for name, value in expected.items():
        assert result.loc["r2", f"input.{name}"] == value, name
    for i in (0, 1, 3):
        assert result.loc[f"r{i}", "input.a"] == 1 and result.loc[f"r{i}", "input.s"] == "x"
    for name in {"a", "b", "s", "c", "extra"} - set(expected):
        if f"input.{name}" in result:
            assert pd.isna(result.loc["r2", f"input.{name}"])


def test_frames_with_the_same_columns_built_otherwise_keep_their_values(tmp_path):
    def by_assignment(a: float, b: float) -> pd.DataFrame:
        frame = pd.DataFrame({"a": [a]})
        frame["b"] = b
        return frame

    by_insertion = pd.DataFrame({"b": [20.0]})  # same names, dtypes and block count,
    by_insertion.insert(0, "a", 10.0)  # but its blocks hold the columns the other way round
    log = PredictionLog(tmp_path)
    for i, frame in enumerate([by_assignment(1.0, 2.0), by_insertion, by_assignment(3.0, 4.0)]):
        log.log(f"r{i}", "churn", 1, frame, {"p": [i]}, 1.0, T0 + timedelta(seconds=i))
    log.close()
    result = read_log(tmp_path)
    assert result["input.a"].tolist() == [1.0, 10.0, 3.0]
    assert result["input.b"].tolist() == [2.0, 20.0, 4.0]


def test_uniform_frames_of_many_dtypes_keep_their_values_and_types(tmp_path):
    def frame(i: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "int": [i, i + 1],
                "float": [i / 2, math.nan],
                "bool": [True, False],
                "str": [f"s{i}", "\x01"],
                "nullable": pd.array([i, None], dtype="Int64"),
                "category": pd.Categorical(["a", "b"]),
                "when": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"),
                "objects": np.array([None, f"o{i}"], dtype=object),
            }
        )

    log = PredictionLog(tmp_path)
    for i in range(50):
        log.log(f"r{i:02d}", "churn", 1, frame(i), {"p": [1, 2]}, 1.0, T0)
    log.close()
    result = read_log(tmp_path).sort_values(["request_id", "row"], ignore_index=True)
    expected = pd.concat([frame(i) for i in range(50)], ignore_index=True)
    assert result["input.int"].tolist() == expected["int"].tolist()
    np.testing.assert_array_equal(result["input.float"], expected["float"])
    assert result["input.bool"].tolist() == expected["bool"].tolist()
    assert result["input.str"].tolist() == expected["str"].tolist()
    assert result["input.nullable"].isna().tolist() == [False, True] * 50
    assert result["input.category"].astype(str).tolist() == ["a", "b"] * 50
    assert (result["input.when"] == expected["when"]).all()
    assert result["input.objects"].isna().tolist() == [True, False] * 50
    schema = pq.read_schema(parts(tmp_path)[0])
    assert schema.field("input.str").type == pa.string()
    assert schema.field("input.when").type == pa.timestamp("us", tz="UTC")


def test_concurrent_callers_lose_no_row(tmp_path):
    log = PredictionLog(tmp_path, flush_interval_s=0.01)
    log.start()

    def call(worker: int) -> None:
        for i in range(500):
            assert log.log(f"w{worker}-{i}", "churn", 1, one_row(i), {"p": [0.5]}, 1.0)

    threads = [threading.Thread(target=call, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = log.close()
    assert stats.written_rows == 2000 and stats.dropped_rows == 0
    assert read_log(tmp_path)["request_id"].nunique() == 2000


def test_log_does_no_data_work_on_the_callers_side(tmp_path):
    log = PredictionLog(tmp_path, flush_interval_s=3600, max_pending_rows=10**6)
    frame, outputs = one_row(1), {"p": [0.5]}
    started = time.perf_counter()
    for _ in range(20_000):
        log.log("r", "churn", 1, frame, outputs, 1.0)
    per_call = (time.perf_counter() - started) / 20_000
    log.close()
    # about 2 µs on a 2-core VM; Arrow or pandas work would cost 100 µs and more
    assert per_call < 50e-6


# A child that logs requests of 2,000 rows as fast as it can, flushing every 20 ms, until
# it is killed; with "exit" it logs 5 requests and leaves without close().
CHILD = """
import itertools, sys
from pathlib import Path
import pandas as pd
from shipyard.serving._log import PredictionLog

log = PredictionLog(Path(sys.argv[1]), flush_interval_s=0.02)
log.start()
frame = pd.DataFrame({"x": range(2000), "s": ["text\\x01"] * 2000})
outputs = {"y": [0.5] * 2000}
count = 5 if sys.argv[2] == "exit" else None
for i in itertools.islice(itertools.count(), count):
    log.log(f"r{i}", "churn", 1, frame, outputs, 1.0)
"""


def _child(root: Path, mode: str) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-c", CHILD, str(root), mode], env=env)


def test_sigkill_mid_stream_leaves_only_whole_part_files(tmp_path):
    root = tmp_path / "log"
    child = _child(root, "kill")
    try:
        wait_for(lambda: len(parts(root)) >= 5, timeout=120)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    files = parts(root)
    rows = 0
    for part in files:  # every file present is complete and holds whole requests
        table = pq.ParquetFile(part).read()
        assert table.num_rows % 2000 == 0
        rows += table.num_rows
    frame = read_log(root)
    assert len(frame) == rows and set(frame["input.s"]) == {"text\x01"}
    assert len(pd.read_parquet(root)) == rows


def test_a_log_still_open_at_interpreter_exit_is_written(tmp_path):
    root = tmp_path / "log"
    child = _child(root, "exit")
    assert child.wait(timeout=120) == 0
    assert len(read_log(root)) == 10_000
