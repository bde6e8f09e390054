"""The inference endpoint's codec: every body form becomes the signature's columns and
dtypes, every bad body a RequestError with its status, and predictions JSON-able columns."""

from __future__ import annotations

import io
import math
import pickle
import random
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from shipyard.errors import ModelError
from shipyard.models._signature import ColumnSpec, Signature
from shipyard.serving import _codec
from shipyard.serving._codec import (
    CSV,
    JSON,
    PARQUET,
    SUPPORTED_CONTENT_TYPES,
    Limits,
    V2Request,
    decode_frame,
    decode_v2,
    encode_v2,
    prediction_columns,
)
from shipyard.serving._errors import RequestError


def spec(name: str, dtype: str, nullable: bool = False) -> ColumnSpec:
    return ColumnSpec(name, dtype, nullable)


CUSTOMERS = Signature(
    inputs=(
        spec("age", "int64"),
        spec("score", "float64", nullable=True),
        spec("plan", "string"),
        spec("tier", "category"),
        spec("joined", "datetime64[ns, Europe/Paris]"),
        spec("active", "bool"),
        spec("visits", "int64", nullable=True),
    ),
    outputs=(spec("churn", "float64"),),
)
ROWS = [
    {
        "age": 31,
        "score": 0.5,
        "plan": "basic",
        "tier": "gold",
        "joined": "2024-01-02T03:04:05+01:00",
        "active": True,
        "visits": 3,
    },
    {
        "age": 45,
        "score": None,
        "plan": "01234",
        "tier": "silver",
        "joined": "2024-03-04T00:00:00+01:00",
        "active": False,
        "visits": None,
    },
]
FLOATS = Signature(
    inputs=tuple(spec(f"f{i}", "float64") for i in range(20)),
    outputs=(spec("prediction", "float64"),),
)


def refusal(body: bytes, content_type: str | None = JSON, signature=CUSTOMERS, limits=None):
    with pytest.raises(RequestError) as caught:
        decode_frame(body, content_type, signature, limits or Limits())
    return caught.value


def problems(err: RequestError) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for detail in err.details:
        found.setdefault(detail["column"], []).append(detail["problem"])
    return found


def assert_customers(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == [column.name for column in CUSTOMERS.inputs]
    assert CUSTOMERS.problems(frame) == []
    assert frame["age"].tolist() == [31, 45]
    assert frame["age"].dtype == np.int64
    assert frame["score"].iloc[0] == 0.5 and math.isnan(frame["score"].iloc[1])
    assert frame["plan"].tolist() == ["basic", "01234"]
    assert isinstance(frame["tier"].dtype, pd.CategoricalDtype)
    assert frame["tier"].tolist() == ["gold", "silver"]
    assert str(frame["joined"].dtype) == "datetime64[ns, Europe/Paris]"
    assert frame["joined"].iloc[0] == pd.Timestamp("2024-01-02T03:04:05+01:00")
    assert frame["active"].tolist() == [True, False]
    assert frame["visits"].dtype == "Int64"
    assert frame["visits"].iloc[0] == 3 and frame["visits"].isna().iloc[1]


# ------------------------------------------------------------------------- body forms


def _json_forms() -> dict[str, bytes]:
    names = list(ROWS[0])
    # sent in another order than the signature's
    shuffled = [{name: row[name] for name in reversed(names)} for row in ROWS]
    split = {"columns": names, "data": [[row[name] for name in names] for row in ROWS]}
    return {
        "records": orjson.dumps({"records": shuffled}),
        "columns/data": orjson.dumps(split),
        "pandas split with index": orjson.dumps({**split, "index": [0, 1]}),
        "mlflow dataframe_records": orjson.dumps({"dataframe_records": shuffled}),
        "mlflow dataframe_split": orjson.dumps({"dataframe_split": split}),
    }


@pytest.mark.parametrize("form", list(_json_forms()))
def test_every_json_form_becomes_the_signature_columns_and_dtypes(form):
    assert_customers(decode_frame(_json_forms()[form], JSON, CUSTOMERS, Limits()))


@pytest.mark.parametrize(
    "content_type", [None, "", "application/json; charset=utf-8", "APPLICATION/JSON"]
)
def test_a_missing_content_type_means_json_and_parameters_are_ignored(content_type):
    assert_customers(decode_frame(_json_forms()["records"], content_type, CUSTOMERS, Limits()))


def test_csv_is_read_with_the_signature_dtypes_text_staying_text():
    body = (
        b"visits,age,score,plan,tier,joined,active\n"
        b"3,31,0.5,basic,gold,2024-01-02T03:04:05+01:00,true\n"
        b",45,,01234,silver,2024-03-04T00:00:00+01:00,false\n"
    )
    assert_customers(decode_frame(body, "text/csv; header=present", CUSTOMERS, Limits()))


@pytest.mark.parametrize("content_type", [PARQUET, "application/x-parquet"])
def test_parquet_is_read_index_columns_left_out(content_type):
    frame = pd.DataFrame(ROWS, index=[7, 9])  # a filtered frame: its index is written too
    frame["joined"] = pd.to_datetime(frame["joined"], utc=True)  # another zone: converted
    frame["visits"] = frame["visits"].astype("Int64")
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    assert_customers(decode_frame(buffer.getvalue(), content_type, CUSTOMERS, Limits()))


def test_integers_are_accepted_for_float_columns_and_cast():
    body = orjson.dumps({"records": [{f"f{i}": i for i in range(20)}]})
    frame = decode_frame(body, JSON, FLOATS, Limits())
    assert (frame.dtypes == np.float64).all()
    assert frame.iloc[0].tolist() == [float(i) for i in range(20)]


def test_a_uniform_float_batch_keeps_every_value():
    values = np.random.default_rng(1).random((300, 20))
    body = orjson.dumps({"columns": [f"f{i}" for i in range(20)], "data": values.tolist()})
    frame = decode_frame(body, JSON, FLOATS, Limits())
    assert list(frame.columns) == [f"f{i}" for i in range(20)]
    np.testing.assert_array_equal(frame.to_numpy(), values)


def test_small_integer_and_float32_columns_get_their_dtypes():
    signature = Signature((spec("count", "int8"), spec("ratio", "float32")), ())
    frame = decode_frame(b'{"records": [{"count": -5, "ratio": 0.25}]}', JSON, signature, Limits())
    assert frame.dtypes.astype(str).tolist() == ["int8", "float32"]
    assert frame.iloc[0].tolist() == [-5, 0.25]


def test_a_naive_datetime_column_and_nullable_bool():
    signature = Signature((spec("at", "datetime64[ns]"), spec("ok", "bool", nullable=True)), ())
    body = orjson.dumps({"columns": ["at", "ok"], "data": [["2024-05-06 07:08:09", None]]})
    frame = decode_frame(body, JSON, signature, Limits())
    assert str(frame["at"].dtype) == "datetime64[ns]"
    assert frame["at"].iloc[0] == pd.Timestamp("2024-05-06 07:08:09")
    assert frame["ok"].dtype == "boolean" and frame["ok"].isna().all()


def test_control_characters_are_kept_byte_for_byte_in_text_columns():
    text = "red \x1b[31m bell \x07 nul \x00 end \u2028"
    signature = Signature((spec("note", "string"),), ())
    frame = decode_frame(orjson.dumps({"records": [{"note": text}]}), JSON, signature, Limits())
    assert frame["note"].iloc[0] == text
    csv_frame = decode_frame(
        b"note\n" + text.replace("\u2028", "").encode() + b"\n", CSV, signature, Limits()
    )
    assert csv_frame["note"].iloc[0] == text.replace("\u2028", "")


def test_empty_csv_cells_are_nulls_except_in_text_columns():
    signature = Signature(
        (
            spec("a", "float64", nullable=True),
            spec("b", "string", nullable=True),
            spec("c", "uint8", nullable=True),
            spec("d", "datetime64[ns]", nullable=True),
        ),
        (),
    )
    frame = decode_frame(b"a,b,c,d\n,,,\n,,5,2024-01-01\n", CSV, signature, Limits())
    assert signature.problems(frame) == []
    assert frame["a"].isna().all() and frame["b"].tolist() == ["", ""]
    assert frame["c"].dtype == "UInt8" and frame["c"].iloc[1] == 5 and frame["c"].isna().iloc[0]
    assert pd.isna(frame["d"].iloc[0]) and frame["d"].iloc[1] == pd.Timestamp("2024-01-01")


def test_frames_are_the_same_without_pandas_block_constructor(monkeypatch):
    """pandas < 3 has no create_dataframe_from_blocks: the codec builds from a dict."""
    floats = orjson.dumps({"records": [{f"f{i}": i / 2 for i in range(20)}]})
    with_blocks = decode_frame(floats, JSON, FLOATS, Limits())
    monkeypatch.setattr(_codec, "create_dataframe_from_blocks", None)
    pd.testing.assert_frame_equal(decode_frame(floats, JSON, FLOATS, Limits()), with_blocks)
    assert_customers(decode_frame(_json_forms()["records"], JSON, CUSTOMERS, Limits()))


def test_without_a_signature_the_columns_are_taken_as_sent():
    body = b'{"columns": ["b", "a"], "data": [[1, "x"], [2.5, null]]}'
    frame = decode_frame(body, JSON, None, Limits())
    assert list(frame.columns) == ["b", "a"]
    assert frame["b"].tolist() == [1.0, 2.5]
    assert frame["a"].iloc[0] == "x" and pd.isna(frame["a"].iloc[1])
    csv_frame = decode_frame(b"z,y\n1,u\n", CSV, None, Limits())
    assert list(csv_frame.columns) == ["z", "y"] and csv_frame["z"].tolist() == [1]


# ------------------------------------------------------------------------- 400: shape


def test_malformed_json_is_a_400_giving_the_position():
    err = refusal(b'{"records": [{"age": 31,}]}')
    assert err.status == 400
    assert "not valid JSON" in err.message and "line 1 column 24 (char 23)" in err.message


def test_json_nested_ten_thousand_levels_deep_is_a_400_at_once():
    started = time.perf_counter()
    err = refusal(b"[" * 10_000 + b"]" * 10_000)
    assert time.perf_counter() - started < 0.5
    assert err.status == 400 and "depth" in err.message and "1,024 levels" in err.hint


def test_json_carries_no_nan_and_says_how_to_send_nulls():
    err = refusal(b'{"records": [{"score": NaN}]}')
    assert err.status == 400 and "null" in err.hint


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"[1, 2]", "it is a list, not an object"),
        (b"{}", "it is empty"),
        (b'{"instances": [[1, 2]]}', "it has the key(s) 'instances'"),
        (b'{"records": {"age": 1}}', "'records' is an object, not a list of objects"),
        (b'{"records": [{"age": 1}, [2]]}', "records[1] is a list, not an object"),
        (b'{"dataframe_records": [1]}', "dataframe_records[0] is a number, not an object"),
        (b'{"columns": ["a"], "data": [[1], [1, 2]]}', "data[1] has 2 value(s) for 1 column(s)"),
        (b'{"columns": ["a"], "data": [[1], "x"]}', "data[1] is a string, not a list"),
        (b'{"columns": ["a", 1], "data": [[1, 2]]}', "a list of column names (strings)"),
        (b'{"columns": ["a"]}', '"data": a list of rows'),
        (b'{"dataframe_split": [1]}', '"dataframe_split" is a list, not an object'),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_400_naming_the_fault_and_the_forms(body, said):
    err = refusal(body)
    assert err.status == 400
    assert said in err.message
    assert '{"records": [' in err.hint and "dataframe_split" in err.hint


def test_an_unknown_key_beside_a_form_is_a_400_with_a_suggestion():
    err = refusal(b'{"columns": ["a"], "data": [[1]], "indx": [0]}')
    assert err.status == 400
    assert "unknown key 'indx'" in err.message and "Did you mean 'index'?" in err.message


def test_malformed_csv_and_parquet_are_400s_saying_which():
    csv_err = refusal(b"a,b\n1,2\n3\n", CSV)
    assert csv_err.status == 400 and "not valid CSV" in csv_err.message
    assert "Expected 2 columns" in csv_err.message and "header row" in csv_err.hint
    parquet_err = refusal(b"PAR1 this is no parquet file PAR1", PARQUET)
    assert parquet_err.status == 400 and "not a valid Parquet file" in parquet_err.message


# ------------------------------------------------------------------- 413 and 415


def test_a_body_over_the_byte_limit_is_a_413_before_it_is_parsed():
    err = refusal(b"{" * 2_000, limits=Limits(max_body_bytes=1_000))  # invalid JSON, too
    assert err.status == 413
    assert "2,000 bytes; the limit is 1,000" in err.message
    assert "shipyard predict" in err.hint


def test_a_million_rows_over_the_limit_are_a_413_without_building_a_frame():
    body = b'{"columns": ["f0"], "data": [' + b",".join([b"[1.5]"] * 1_000_000) + b"]}"
    started = time.perf_counter()
    err = refusal(body, signature=FLOATS, limits=Limits(max_rows=100_000))
    assert time.perf_counter() - started < 2
    assert err.status == 413
    assert "1,000,000 rows; the limit is 100,000" in err.message
    assert "Split the batch" in err.hint and "`shipyard predict`" in err.hint


def test_row_limits_hold_for_records_csv_parquet_and_v2():
    limits = Limits(max_rows=2)
    records = orjson.dumps({"records": [{"f0": 1.0}] * 3})
    assert refusal(records, signature=FLOATS, limits=limits).status == 413
    assert refusal(b"f0\n1\n2\n3\n", CSV, FLOATS, limits).status == 413
    buffer = io.BytesIO()
    pd.DataFrame({"f0": [1.0, 2.0, 3.0]}).to_parquet(buffer)
    err = refusal(buffer.getvalue(), PARQUET, FLOATS, limits)
    assert err.status == 413 and "3 rows; the limit is 2" in err.message
    v2 = orjson.dumps(
        {"inputs": [{"name": "f0", "shape": [3], "datatype": "FP64", "data": [1, 2, 3]}]}
    )
    with pytest.raises(RequestError) as caught:
        decode_v2(v2, None, limits)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    "content_type", ["application/python-pickle", "application/octet-stream", "text/plain"]
)
def test_an_unsupported_content_type_is_a_415_naming_the_supported_ones(content_type):
    err = refusal(b"{}", content_type)
    assert err.status == 415
    assert content_type in err.message
    assert all(supported in err.message for supported in SUPPORTED_CONTENT_TYPES)


class _Trap:
    """Loading this pickle creates a file: proof that a body was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("content_type", ["application/python-pickle", None, CSV, PARQUET])
def test_a_pickle_body_is_never_loaded(tmp_path, content_type):
    marker = tmp_path / "unpickled"
    body = pickle.dumps(_Trap(marker))
    assert refusal(body, content_type).status in (400, 415)
    assert not marker.exists()
    assert "Pickle is never read" in refusal(body, "application/python-pickle").hint


# --------------------------------------------------------------------- 422: columns


def test_every_column_problem_is_reported_at_once():
    row = dict(ROWS[0], age="31", plan=None, agee=1, tier=[1])
    del row["active"]
    err = refusal(orjson.dumps({"records": [ROWS[0], row]}))
    assert err.status == 422
    assert problems(err) == {
        "agee": ["column 'agee' is not in the signature (did you mean 'age'?)"],
        "age": ["column 'age' has dtype string, expected int64 (row 1: '31')"],
        "plan": ["column 'plan' has 1 null value(s) but is not nullable (first at row 1)"],
        "tier": ["column 'tier' has dtype object, expected category (row 1: [1])"],
        "active": ["column 'active' has 1 null value(s) but is not nullable (first at row 1)"],
    }
    assert "column 'age' has dtype string, expected int64" in err.message
    assert "age (int64)" in err.hint and "score (float64, nullable)" in err.hint
    assert err.to_dict()["details"] == err.details


def test_missing_and_repeated_columns_are_422s():
    err = refusal(b'{"columns": ["f0", "f0"], "data": [[1, 2]]}', signature=FLOATS)
    found = problems(err)
    assert err.status == 422
    assert found["f0"] == ["column 'f0' appears more than once"]
    assert found["f1"] == ["column 'f1' is missing (expected float64)"]
    assert len(err.details) == 20  # f0 repeated, f1..f19 missing
    assert "and 15 more" in err.message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"1.5"', "column 'f3' has dtype string, expected float64 (row 0: '1.5')"),
        ("true", "column 'f3' has dtype bool, expected float64 (row 0: True)"),
        ("null", "column 'f3' has 1 null or NaN value(s) but is not nullable (first at row 0)"),
        ('"\\u0000"', "column 'f3' has dtype string, expected float64 (row 0: '\\x00')"),
        ('"\\u001b[31m"', "column 'f3' has dtype string, expected float64 (row 0: '\\x1b[31m')"),
        ("[1.0]", "column 'f3' has dtype object, expected float64 (row 0: [1.0])"),
    ],
)
def test_a_wrong_value_in_a_float_column_is_a_422_naming_its_row(value, problem):
    cells = ["0.5"] * 20
    cells[3] = value
    body = b'{"columns": %s, "data": [[%s]]}' % (
        orjson.dumps([f"f{i}" for i in range(20)]),
        ", ".join(cells).encode(),
    )
    err = refusal(body, signature=FLOATS)
    assert err.status == 422
    assert problems(err) == {"f3": [problem]}


def test_a_boolean_among_numbers_is_caught_even_on_the_fast_path():
    row = {f"f{i}": 1.0 for i in range(20)} | {"f7": True}
    err = refusal(orjson.dumps({"records": [row]}), signature=FLOATS)
    assert problems(err) == {"f7": ["column 'f7' has dtype bool, expected float64 (row 0: True)"]}


def test_a_boolean_in_split_rows_is_caught_and_zeros_and_ones_alone_are_numbers():
    columns = [f"f{i}" for i in range(20)]
    rows = [[float(i % 2) for i in range(20)] for _ in range(3)]  # only 0.0 and 1.0
    body = orjson.dumps({"columns": columns, "data": rows})
    frame = decode_frame(body, JSON, FLOATS, Limits())
    assert frame.shape == (3, 20) and set(frame.dtypes) == {np.dtype("float64")}
    rows[2][4] = False
    err = refusal(orjson.dumps({"columns": columns, "data": rows}), signature=FLOATS)
    assert problems(err) == {"f4": ["column 'f4' has dtype bool, expected float64 (row 2: False)"]}


@pytest.mark.parametrize(
    ("dtype", "value", "problem"),
    [
        ("int64", "1.5", "has dtype float64, expected int64 (row 0: 1.5)"),
        ("int8", "300", "has a value out of range for int8 (row 0: 300)"),
        ("uint8", "-1", "has a value out of range for uint8 (row 0: -1)"),
        ("int64", "18446744073709551616", "has dtype float64, expected int64"),  # read as float
        ("float32", "1e39", "has 1 infinite value(s)"),
        ("bool", "1", "has dtype int64, expected bool (row 0: 1)"),
        ("string", "5", "has dtype int64, expected string (row 0: 5)"),
        ("datetime64[ns]", '"yesterday"', "expected datetime64[ns] (row 0: 'yesterday')"),
        ("datetime64[ns]", "1700000000", "has dtype int64, expected datetime64[ns] (row 0:"),
    ],
)
def test_json_values_that_do_not_fit_the_dtype_are_422s(dtype, value, problem):
    signature = Signature((spec("x", dtype),), ())
    err = refusal(b'{"records": [{"x": %s}]}' % value.encode(), signature=signature)
    assert err.status == 422
    assert len(err.details) == 1 and err.details[0]["column"] == "x"
    assert problem in err.details[0]["problem"]


def test_nan_and_infinities_from_csv_and_parquet_are_counted():
    signature = Signature((spec("a", "float64"), spec("b", "float64", nullable=True)), ())
    csv_err = refusal(b"a,b\ninf,1\n-inf,inf\n1,2\n", CSV, signature)
    assert problems(csv_err) == {
        "a": ["column 'a' has 2 infinite value(s)"],
        "b": ["column 'b' has 1 infinite value(s)"],
    }
    buffer = io.BytesIO()
    pd.DataFrame({"a": [np.nan, 1.0, np.nan], "b": [np.nan, 2.0, 3.0]}).to_parquet(buffer)
    parquet_err = refusal(buffer.getvalue(), PARQUET, signature)
    # NaN is how a float column holds nulls: refused only where nulls are.
    assert problems(parquet_err) == {
        "a": ["column 'a' has 2 null or NaN value(s) but is not nullable (first at row 0)"]
    }


def test_csv_cells_that_are_not_numbers_are_named_by_row():
    signature = Signature((spec("a", "int64"), spec("b", "bool"), spec("c", "int64")), ())
    err = refusal(b"a,b,c\n1,true,1\nx,maybe,2.5\n", CSV, signature)
    assert problems(err) == {
        "a": ["column 'a' has dtype string, expected int64 (row 1: 'x')"],
        "b": ["column 'b' has dtype string, expected bool (row 1: 'maybe')"],
        "c": ["column 'c' has dtype float64, expected int64"],
    }


def test_parquet_columns_of_the_wrong_dtype_are_422s():
    buffer = io.BytesIO()
    pd.DataFrame({"age": [1.5], "when": pd.to_datetime(["2024-01-01"])}).to_parquet(buffer)
    signature = Signature((spec("age", "int64"), spec("when", "datetime64[ns, UTC]")), ())
    err = refusal(buffer.getvalue(), PARQUET, signature)
    found = problems(err)
    assert found["age"] == ["column 'age' has dtype float64, expected int64"]
    assert found["when"][0].startswith("column 'when' has dtype datetime64[")  # naive


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b'{"records": []}', JSON), (b'{"columns": ["f0"], "data": []}', JSON), (b"f0\n", CSV)],
)
def test_an_empty_request_is_a_422(body, content_type):
    err = refusal(body, content_type, FLOATS)
    assert err.status == 422 and "no rows" in err.message


# ------------------------------------------------------------------------ V2 requests


def _v2_body(**payload) -> bytes:
    return orjson.dumps(payload)


def test_a_v2_request_with_a_tensor_per_column_becomes_the_frame():
    body = _v2_body(
        id="req-1",
        parameters={"content_type": "pd"},
        inputs=[
            {"name": "active", "shape": [2], "datatype": "BOOL", "data": [True, False]},
            {"name": "age", "shape": [2, 1], "datatype": "INT64", "data": [[31], [45]]},
            {"name": "score", "shape": [2], "datatype": "FP32", "data": [0.5, 1]},
            {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["basic", "01234"]},
            {"name": "tier", "shape": [2], "datatype": "BYTES", "data": ["gold", "silver"]},
            {
                "name": "joined",
                "shape": [2],
                "datatype": "BYTES",
                "data": ["2024-01-02T03:04:05+01:00", "2024-03-04T00:00:00+01:00"],
            },
            {"name": "visits", "shape": [2], "datatype": "UINT8", "data": [3, 4]},
        ],
        outputs=[{"name": "churn"}],
    )
    request = decode_v2(body, CUSTOMERS, Limits())
    assert isinstance(request, V2Request)
    assert request.id == "req-1" and request.outputs == ("churn",)
    frame = request.frame
    assert list(frame.columns) == [column.name for column in CUSTOMERS.inputs]
    assert CUSTOMERS.problems(frame) == []
    assert frame["score"].tolist() == [0.5, 1.0] and frame["visits"].tolist() == [3, 4]


def test_a_single_two_dimensional_tensor_holds_the_columns_in_signature_order():
    signature = Signature((spec("a", "float64"), spec("b", "int64"), spec("c", "float64")), ())
    flat = _v2_body(
        inputs=[
            {"name": "input-0", "shape": [2, 3], "datatype": "INT64", "data": [1, 2, 3, 4, 5, 6]}
        ]
    )
    nested = _v2_body(
        inputs=[{"name": "x", "shape": [2, 3], "datatype": "INT64", "data": [[1, 2, 3], [4, 5, 6]]}]
    )
    for body in (flat, nested):
        frame = decode_v2(body, signature, Limits()).frame
        assert frame.to_dict("list") == {"a": [1.0, 4.0], "b": [2, 5], "c": [3.0, 6.0]}
        assert frame.dtypes.astype(str).tolist() == ["float64", "int64", "float64"]
    unsigned = decode_v2(nested, None, Limits())
    assert list(unsigned.frame.columns) == ["x_0", "x_1", "x_2"] and unsigned.id is None


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ({"inputs": []}, '"inputs" must be a non-empty list'),
        (
            {"inputs": [{"name": "f0", "shape": [2], "datatype": "FP64", "data": [1.0]}]},
            "has shape [2] but 1 value(s)",
        ),
        (
            {"inputs": [{"name": "f0", "shape": [1], "datatype": "FP128", "data": [1.0]}]},
            "datatype 'FP128'",
        ),
        (
            {"inputs": [{"name": "f0", "shape": [1], "datatype": "INT64", "data": [1.5]}]},
            "is INT64 but data[0] is 1.5",
        ),
        (
            {"inputs": [{"name": "f0", "shape": [1, 1, 1], "datatype": "FP64", "data": [1.0]}]},
            '"shape" [n] or [n, k]',
        ),
        (
            {
                "inputs": [
                    {"name": "f0", "shape": [1], "datatype": "FP64", "data": [1.0], "dtype": 1}
                ]
            },
            "unknown key 'dtype'",
        ),
        ({"id": 7, "inputs": []}, '"id" is a number, not a string'),
        (
            {
                "inputs": [{"name": "f0", "shape": [1], "datatype": "FP64", "data": [1.0]}],
                "outputs": ["p"],
            },
            '"outputs" must be a list',
        ),
        (
            {
                "inputs": [
                    {"name": "f0", "shape": [1], "datatype": "FP64", "data": [1.0]},
                    {"name": "f1", "shape": [2], "datatype": "FP64", "data": [1.0, 2.0]},
                ]
            },
            "input 'f1' has 2 rows, the first input 1",
        ),
        (
            {
                "inputs": [
                    {"name": "f0", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]},
                    {"name": "f1", "shape": [1], "datatype": "FP64", "data": [1.0]},
                ]
            },
            "input 'f0' has shape [1, 2]",
        ),
    ],
)
def test_a_malformed_v2_request_is_a_400(payload, said):
    with pytest.raises(RequestError) as caught:
        decode_v2(orjson.dumps(payload), FLOATS, Limits())
    assert caught.value.status == 400
    assert said in caught.value.message
    assert "datatype" in caught.value.hint


def test_v2_tensors_are_checked_against_the_signature():
    signature = Signature((spec("age", "int64"), spec("score", "float64")), (spec("p", "float64"),))
    body = _v2_body(
        inputs=[
            {"name": "age", "shape": [1], "datatype": "FP32", "data": [1]},
            {"name": "sore", "shape": [1], "datatype": "FP64", "data": [0.5]},
        ]
    )
    with pytest.raises(RequestError) as caught:
        decode_v2(body, signature, Limits())
    assert caught.value.status == 422
    assert problems(caught.value) == {
        "sore": ["column 'sore' is not in the signature (did you mean 'score'?)"],
        "age": ["column 'age' has dtype float32, expected int64"],
        "score": ["column 'score' is missing (expected float64)"],
    }
    asks = _v2_body(
        inputs=[{"name": "age", "shape": [1], "datatype": "INT64", "data": [1]}],
        outputs=[{"name": "q"}],
    )
    with pytest.raises(RequestError) as caught:
        decode_v2(asks, signature, Limits())
    assert (
        caught.value.status == 400
        and "'q'" in caught.value.message
        and "returns p" in caught.value.hint
    )


def test_v2_response_round_trip():
    signature = Signature((spec("a", "float64"),), (spec("label", "int64"), spec("p", "float64")))
    request = decode_v2(
        _v2_body(
            id="r9", inputs=[{"name": "a", "shape": [2], "datatype": "FP64", "data": [0.1, 0.2]}]
        ),
        signature,
        Limits(),
    )
    predictions = pd.DataFrame({"label": np.array([1, 0]), "p": [0.9, np.nan]})
    columns = prediction_columns(predictions, signature)
    response = encode_v2(request.id or "", "churn", 3, columns, request.outputs)
    assert orjson.loads(orjson.dumps(response)) == {
        "model_name": "churn",
        "model_version": "3",
        "id": "r9",
        "outputs": [
            {"name": "label", "shape": [2], "datatype": "INT64", "data": [1, 0]},
            {"name": "p", "shape": [2], "datatype": "FP64", "data": [0.9, None]},
        ],
    }
    only_p = encode_v2("r9", "churn", 3, columns, ("p",))
    assert [output["name"] for output in only_p["outputs"]] == ["p"]
    texts = encode_v2("r", "m", 1, {"y": ["a", None], "ok": [True, False]}, None)
    assert [output["datatype"] for output in texts["outputs"]] == ["BYTES", "BOOL"]
    with pytest.raises(RequestError) as caught:
        encode_v2("r9", "churn", 3, columns, ("pp",))
    assert caught.value.status == 400 and "Did you mean 'p'?" in caught.value.message


# ------------------------------------------------------------------ prediction columns


def test_one_dimensional_predictions_take_the_signature_output_name():
    signature = Signature((spec("a", "float64"),), (spec("churn", "float64"),))
    columns = prediction_columns(np.array([0.25, np.nan, np.inf], dtype=np.float32), signature)
    assert columns == {"churn": [0.25, None, None]}
    assert prediction_columns(np.array([1, 0]), None) == {"prediction": [1, 0]}
    assert type(prediction_columns(np.array([1, 0]), None)["prediction"][0]) is int
    assert prediction_columns(["yes", "no"], None) == {"prediction": ["yes", "no"]}
    assert prediction_columns(pd.Series([1.0], name="risk"), None) == {"risk": [1.0]}
    assert prediction_columns(np.float64(0.5), None) == {"prediction": [0.5]}


def test_two_dimensional_predictions_are_one_column_each():
    probabilities = np.array([[0.1, 0.9], [0.6, 0.4]])
    two = Signature((spec("a", "float64"),), (spec("no", "float64"), spec("yes", "float64")))
    assert prediction_columns(probabilities, two) == {"no": [0.1, 0.6], "yes": [0.9, 0.4]}
    assert prediction_columns(probabilities, None) == {
        "prediction_0": [0.1, 0.6],
        "prediction_1": [0.9, 0.4],
    }
    with pytest.raises(ModelError, match="3 dimensions"):
        prediction_columns(np.zeros((1, 2, 2)), None)


def test_dataframe_predictions_become_plain_json_values():
    predictions = pd.DataFrame(
        {
            "label": pd.Categorical(["a", None]),
            "count": pd.array([1, None], dtype="Int64"),
            "flag": [True, False],
            "when": pd.to_datetime(["2024-01-01T10:00:00", None]).tz_localize("UTC"),
            "note": ["x\x00", None],
            "wait": pd.to_timedelta([90, None], unit="s"),
        }
    )
    columns = prediction_columns(predictions, None)
    assert columns == {
        "label": ["a", None],
        "count": [1, None],
        "flag": [True, False],
        "when": ["2024-01-01T10:00:00+00:00", None],
        "note": ["x\x00", None],
        "wait": ["P0DT0H1M30S", None],
    }
    assert all(
        type(value) in (str, int, bool, type(None))
        for values in columns.values()
        for value in values
    )
    assert orjson.loads(orjson.dumps(columns)) == columns


# ------------------------------------------------------------------- only RequestError


def _valid_bodies() -> dict[str | None, bytes]:
    buffer = io.BytesIO()
    pd.DataFrame(ROWS).to_parquet(buffer)
    csv = pd.DataFrame(ROWS).to_csv(index=False).encode()
    return {JSON: _json_forms()["columns/data"], CSV: csv, PARQUET: buffer.getvalue()}


def _mutations(body: bytes, rng: random.Random, count: int):
    for _ in range(count):
        mutated = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            choice = rng.random()
            position = rng.randrange(len(mutated) or 1)
            if choice < 0.4 and mutated:
                mutated[position] = rng.randrange(256)
            elif choice < 0.7:
                mutated.insert(position, rng.choice(b'{}[]",:0-.e\\\x00\xff\ntruefalsenull'))
            else:
                del mutated[position : position + rng.randint(1, 20)]
        yield bytes(mutated)


@pytest.mark.parametrize(
    "signature", [CUSTOMERS, FLOATS, None], ids=["customers", "floats", "none"]
)
def test_random_and_mutated_bytes_raise_nothing_but_request_errors(signature):
    rng = random.Random(20_240_611)
    bodies: list[tuple[str | None, bytes]] = []
    for content_type in (JSON, CSV, PARQUET, None):
        bodies += [(content_type, rng.randbytes(rng.randrange(200))) for _ in range(60)]
    for content_type, body in _valid_bodies().items():
        bodies += [(content_type, mutated) for mutated in _mutations(body, rng, 150)]
    for content_type, body in bodies:
        try:
            frame = decode_frame(body, content_type, signature, Limits())
        except RequestError as err:
            assert err.status in (400, 413, 415, 422)
        else:
            assert isinstance(frame, pd.DataFrame)
            if signature is not None:
                assert signature.problems(frame) == []
    v2 = _v2_body(
        inputs=[
            {"name": f"f{i}", "shape": [1], "datatype": "FP64", "data": [0.5]} for i in range(20)
        ]
    )
    for body in [rng.randbytes(100), *_mutations(v2, rng, 300)]:
        try:
            decode_v2(body, signature, Limits())
        except RequestError as err:
            assert err.status in (400, 413, 422)
