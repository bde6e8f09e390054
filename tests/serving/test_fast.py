"""The numeric fast path: it answers only when sure, and the full path decides the rest."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from shipyard.models._signature import ColumnSpec, Signature
from shipyard.serving._codec import Limits
from shipyard.serving._fast import decode_numeric_json

SIGNATURE = Signature(
    inputs=(
        ColumnSpec("age", "int64", False),
        ColumnSpec("income", "float64", False),
        ColumnSpec("active", "bool", False),
    ),
    outputs=(ColumnSpec("prediction", "int64", False),),
)
LIMITS = Limits(max_rows=3)


def decode(data, content_type="application/json"):
    return decode_numeric_json(orjson.dumps(data), content_type, SIGNATURE, LIMITS)


def test_records_and_columns_forms_become_a_float_array_in_signature_order():
    rows = [{"income": 1.5, "active": True, "age": 30}, {"age": 2, "income": 3, "active": False}]
    expected = np.array([[30, 1.5, 1], [2, 3, 0]], dtype=np.float64)
    assert np.array_equal(decode({"records": rows}), expected)
    assert np.array_equal(decode({"dataframe_records": rows}), expected)
    split = {"columns": ["age", "income", "active"], "data": [[30, 1.5, True], [2, 3, False]]}
    assert np.array_equal(decode(split), expected)
    assert np.array_equal(decode({"dataframe_split": split}), expected)
    assert np.array_equal(decode({"records": rows}, "application/json; charset=utf-8"), expected)


@pytest.mark.parametrize(
    "data",
    [
        {"records": [{"age": 30, "income": 1.5}]},  # missing column
        {"records": [{"age": 30, "income": 1.5, "active": True, "extra": 1}]},
        {"records": [{"age": 30.5, "income": 1.5, "active": True}]},  # float in an int column
        {"records": [{"age": True, "income": 1.5, "active": True}]},  # bool in an int column
        {"records": [{"age": 30, "income": "1.5", "active": True}]},  # text
        {"records": [{"age": 30, "income": None, "active": True}]},  # null
        {"records": [{"age": 30, "income": 1e308 * 10, "active": True}]},  # not finite
        {"records": [{"age": 30, "income": 1.5, "active": 1}]},  # int in a bool column
        {"records": []},
        {"records": [{"age": 1, "income": 1.0, "active": True}] * 4},  # over max_rows
        {"columns": ["income", "age", "active"], "data": [[1.5, 30, True]]},  # other order
        {"columns": ["age", "income", "active"], "data": [[30, 1.5]]},  # short row
        {"records": [{"age": 1, "income": 1.0, "active": True}], "extra": 1},
        {"instances": [[1, 1.0, True]]},
        [1, 2, 3],
    ],
)
def test_anything_unsure_goes_to_the_full_path(data):
    assert decode(data) is None


def test_other_content_types_and_broken_json_go_to_the_full_path():
    body = orjson.dumps({"records": [{"age": 1, "income": 1.0, "active": True}]})
    assert decode_numeric_json(body, "text/csv", SIGNATURE, LIMITS) is None
    assert decode_numeric_json(b'{"records": [', None, SIGNATURE, LIMITS) is None
    assert decode_numeric_json(body, None, None, LIMITS) is None
    assert decode_numeric_json(body, None, SIGNATURE, LIMITS) is not None
