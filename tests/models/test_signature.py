"""Signatures: inferred from an example, checked per column, compared between versions,
and read back from a manifest only when well formed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import ModelError, SignatureError
from shipyard.models._signature import (
    ColumnSpec,
    Signature,
    example_from_records,
    example_to_json,
    infer_signature,
)


def spec(name: str, dtype: str, nullable: bool = False) -> ColumnSpec:
    return ColumnSpec(name, dtype, nullable)


@pytest.fixture
def every_dtype() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "count": np.array([1, 2, 3], dtype="int64"),
            "small": np.array([1, 2, 3], dtype="uint8"),
            "maybe": pd.array([1, None, 3], dtype="Int64"),
            "score": [0.5, np.nan, 1.5],
            "ratio": np.array([0.1, 0.2, 0.3], dtype="float32"),
            "flag": [True, False, True],
            "name": ["ann", None, "cy"],
            "names_as_objects": pd.Series(["a", "b", "c"], dtype=object),
            "tier": pd.Categorical(["a", "b", "a"]),
            "when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]).as_unit("ns"),
            "when_paris": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])
            .tz_localize("Europe/Paris")
            .as_unit("ns"),
            "wait": pd.to_timedelta([1, 2, 3], unit="s").as_unit("ns"),
        }
    )


def test_inferred_dtypes_are_normalized_and_nulls_make_a_column_nullable(every_dtype):
    signature = infer_signature(every_dtype, np.array([0, 1, 0]))
    assert signature.inputs == (
        spec("count", "int64"),
        spec("small", "uint8"),
        spec("maybe", "int64", True),
        spec("score", "float64", True),
        spec("ratio", "float32"),
        spec("flag", "bool"),
        spec("name", "string", True),
        spec("names_as_objects", "string"),
        spec("tier", "category"),
        spec("when", "datetime64[ns]"),
        spec("when_paris", "datetime64[ns, Europe/Paris]"),
        spec("wait", "timedelta64[ns]"),
    )
    assert signature.outputs == (spec("prediction", "int64"),)


@pytest.mark.parametrize(
    ("predictions", "outputs"),
    [
        (np.array([0.1, 0.2]), (spec("prediction", "float64"),)),
        ([1, 2], (spec("prediction", "int64"),)),
        (np.array(["yes", "no"]), (spec("prediction", "string"),)),
        (
            np.array([[0.1, 0.9], [0.4, 0.6]]),
            (spec("prediction_0", "float64"), spec("prediction_1", "float64")),
        ),
        (pd.Series([1.0, None], name="churn"), (spec("churn", "float64", True),)),
        (
            pd.DataFrame({"label": ["a", "b"], "p": [0.1, 0.2]}),
            (spec("label", "string"), spec("p", "float64")),
        ),
    ],
)
def test_outputs_follow_the_shape_of_the_predictions(predictions, outputs):
    assert infer_signature(pd.DataFrame({"x": [1, 2]}), predictions).outputs == outputs


def test_an_example_that_is_not_a_named_dataframe_is_refused():
    with pytest.raises(ModelError, match="not a pandas DataFrame"):
        infer_signature(np.zeros((2, 2)), [0, 1])
    with pytest.raises(ModelError, match="not strings"):
        infer_signature(pd.DataFrame(np.zeros((2, 2))), [0, 1])
    with pytest.raises(ModelError, match="3 dimensions"):
        infer_signature(pd.DataFrame({"x": [1]}), np.zeros((1, 1, 1)))


@pytest.fixture
def signature() -> Signature:
    return Signature(
        inputs=(spec("age", "int64"), spec("income", "float64", True), spec("plan", "string")),
        outputs=(spec("prediction", "int64"),),
    )


def test_matching_data_has_no_problems_and_integers_fill_float_columns(signature):
    data = pd.DataFrame(
        {"plan": ["basic"], "income": np.array([5], dtype="int32"), "age": np.int16([40])}
    )
    assert signature.problems(data) == []
    signature.validate(data)


def test_every_problem_is_listed_and_names_its_column(signature):
    data = pd.DataFrame({"age": [1.5, None], "extra": [1, 2], "income": ["a", "b"]})
    assert signature.problems(data) == [
        "column 'age' has dtype float64, expected int64",
        "column 'age' has 1 null value(s) but is not nullable",
        "column 'extra' is not in the signature",
        "column 'income' has dtype string, expected float64",
        "column 'plan' is missing (expected string)",
    ]
    with pytest.raises(SignatureError) as raised:
        signature.validate(data)
    for name in ("'age'", "'extra'", "'income'", "'plan'"):
        assert name in raised.value.message
    assert "shipyard models show" in raised.value.hint


def test_nulls_are_fine_where_the_column_is_nullable_and_not_elsewhere(signature):
    data = pd.DataFrame({"age": [1, 2], "income": [None, 2.0], "plan": ["a", None]})
    assert signature.problems(data) == ["column 'plan' has 1 null value(s) but is not nullable"]


def test_repeated_columns_and_non_frames_are_problems(signature):
    data = pd.DataFrame([[1, 2.0, "a", 3]], columns=["age", "income", "plan", "age"])
    assert "column 'age' appears more than once" in signature.problems(data)
    assert signature.problems(np.zeros((1, 3))) == ["the data is a ndarray, not a pandas DataFrame"]


def test_datetimes_of_another_unit_are_accepted_but_not_of_another_zone():
    signature = Signature((spec("t", "datetime64[ns]"),), ())
    moments = pd.to_datetime(["2024-01-01"])
    assert signature.problems(pd.DataFrame({"t": moments.as_unit("us")})) == []
    assert signature.problems(pd.DataFrame({"t": moments.tz_localize("UTC")})) != []


def test_to_dict_and_from_dict_round_trip(every_dtype):
    signature = infer_signature(every_dtype, np.zeros(3))
    assert Signature.from_dict(json.loads(json.dumps(signature.to_dict()))) == signature


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not a mapping"),
        ({"inputs": []}, "lacks the key(s) 'outputs'"),
        ({"inputs": [], "outputs": [], "output": []}, "Did you mean 'outputs'?"),
        ({"inputs": {}, "outputs": []}, "signature inputs is a dict, not a list"),
        ({"inputs": [{"name": "a", "dtype": "int64"}], "outputs": []}, "lacks the key(s)"),
        (
            {"inputs": [{"name": "a", "dtype": "int64", "nulable": True}], "outputs": []},
            "Did you mean 'nullable'?",
        ),
        ({"inputs": [{"name": "", "dtype": "int64", "nullable": False}], "outputs": []}, "name"),
        (
            {"inputs": [{"name": "a", "dtype": "int65", "nullable": False}], "outputs": []},
            "unknown dtype 'int65'",
        ),
        (
            {"inputs": [{"name": "a", "dtype": "int64", "nullable": "no"}], "outputs": []},
            "nullable 'no'",
        ),
        (
            {
                "inputs": [
                    {"name": "a", "dtype": "int64", "nullable": False},
                    {"name": "a", "dtype": "string", "nullable": False},
                ],
                "outputs": [],
            },
            "more than once",
        ),
    ],
)
def test_a_malformed_signature_is_refused_with_what_is_wrong(data, message):
    with pytest.raises(ModelError) as raised:
        Signature.from_dict(data)
    assert message in raised.value.message
    assert "malformed" in raised.value.message


def test_incompatibilities_name_every_column_that_breaks_a_drop_in_replacement(signature):
    other = Signature(
        inputs=(spec("age", "float64"), spec("income", "float64", True), spec("zip", "string")),
        outputs=(spec("prediction", "float64"), spec("score", "float64")),
    )
    stricter = Signature(
        inputs=(spec("age", "int64"), spec("income", "float64"), spec("plan", "string")),
        outputs=(spec("prediction", "int64"), spec("reason", "string")),
    )
    assert signature.incompatibilities(signature) == []
    assert stricter.incompatibilities(other) == [
        "input column 'age' changed dtype from float64 to int64",
        "input column 'income' no longer accepts nulls",
        "input column 'plan' is new: callers do not send it",
        "input column 'zip' was removed: callers send it",
        "output column 'score' was removed",
        "output column 'reason' is new",
    ]


def test_a_wider_input_type_is_still_a_drop_in_replacement(signature):
    wider = Signature(
        inputs=(
            spec("age", "float64", True),
            spec("income", "float64", True),
            spec("plan", "string"),
        ),
        outputs=signature.outputs,
    )
    assert wider.incompatibilities(signature) == []
    assert signature.incompatibilities(wider) == [
        "input column 'age' changed dtype from float64 to int64"
    ]


def test_the_input_example_round_trips_its_dtypes_through_json(every_dtype):
    signature = infer_signature(every_dtype, np.zeros(3))
    records = json.loads(example_to_json(every_dtype))
    restored = example_from_records(records, signature.inputs)
    assert infer_signature(restored, np.zeros(3)) == signature
    assert signature.problems(restored) == []
    pd.testing.assert_series_equal(restored["when_paris"], every_dtype["when_paris"])
    assert restored["maybe"].tolist()[0] == 1 and pd.isna(restored["maybe"].tolist()[1])
