"""node(): building, checking the signature, running, immutability."""

from __future__ import annotations

import functools
import pickle

import pytest

from shipyard.errors import PipelineError
from shipyard.pipeline import Node, node


def add(a, b):
    return a + b


def split(df, ratio=0.5):
    cut = int(len(df) * ratio)
    return df[:cut], df[cut:]


def stats(values):
    return {"low": min(values), "high": max(values)}


def keyword_only(*, df, ratio):
    return df, ratio


def test_positional_inputs_and_single_output():
    step = node(add, ["x", "y"], "total", name="adder")
    assert step.run({"x": 1, "y": 2}) == {"total": 3}
    assert step.inputs == ["x", "y"]
    assert step.outputs == ["total"]
    assert step.name == "adder"
    assert step.func is add


def test_dict_inputs_pass_keywords():
    step = node(keyword_only, {"df": "customers", "ratio": "params:ratio"}, ["a", "b"])
    assert step.inputs == ["customers", "params:ratio"]
    assert step.run({"customers": [1], "params:ratio": 0.3}) == {"a": [1], "b": 0.3}


def test_list_outputs_unpack_a_tuple():
    step = node(split, ["data", "params:ratio"], ["train", "test"])
    assert step.run({"data": [1, 2, 3, 4], "params:ratio": 0.75}) == {
        "train": [1, 2, 3],
        "test": [4],
    }


def test_dict_outputs_take_keys_from_the_returned_dict():
    step = node(stats, "values", {"low": "minimum", "high": "maximum"})
    assert step.outputs == ["minimum", "maximum"]
    assert step.run({"values": [3, 1, 2]}) == {"minimum": 1, "maximum": 3}


def test_no_inputs_and_no_outputs():
    seen = []
    assert node(lambda: 42, None, "answer").run({}) == {"answer": 42}
    assert node(seen.append, "x", None, name="record").run({"x": 1}) == {}
    assert seen == [1]


def test_default_name_comes_from_function_and_outputs():
    assert node(split, ["d", "r"], ["train", "test"]).name == "split:train+test"
    assert node(print, "x", None).name == "print"
    assert node(lambda x: x, "x", "y").name == "lambda:y"
    assert node(functools.partial(add, 1), "x", "y").name == "add:y"


def test_namespace_prefixes_the_name():
    step = node(add, ["x", "y"], "z", name="adder", namespace="eu")
    assert step.name == "eu.adder"
    assert step.namespace == "eu"


def test_too_few_positional_inputs_names_node_function_and_mismatch():
    with pytest.raises(PipelineError) as info:
        node(add, ["x"], "z", name="adder")
    message = info.value.message
    assert "Node 'adder'" in message
    assert "add(a, b)" in message
    assert "missing a required argument: 'b'" in message
    assert "by position" in info.value.hint


def test_too_many_positional_inputs():
    with pytest.raises(PipelineError, match="too many positional arguments") as info:
        node(add, ["x", "y", "z"], "out", name="adder")
    assert "['x', 'y', 'z']" in info.value.message


def test_unknown_keyword_input():
    with pytest.raises(PipelineError, match="unexpected keyword argument 'rate'") as info:
        node(split, {"df": "data", "rate": "params:rate"}, ["a", "b"], name="splitter")
    assert "splitter" in info.value.message
    assert "{parameter: dataset}" in info.value.hint


def test_keyword_only_function_rejects_positional_inputs():
    with pytest.raises(PipelineError, match="Node 'kw'"):
        node(keyword_only, ["a", "b"], ["c", "d"], name="kw")


def test_signature_check_is_cached_per_function_and_shape():
    node(add, ["x", "y"], "z")
    node(add, ["p", "q"], "r")  # same shape: cached, still fine
    with pytest.raises(PipelineError):
        node(add, ["p"], "r")  # another shape is still checked


def test_builtin_without_signature_is_accepted():
    assert node(max, ["a", "b"], "m").run({"a": 1, "b": 5}) == {"m": 5}


@pytest.mark.parametrize(
    ("inputs", "outputs", "expected"),
    [
        (5, "y", "inputs must be None, a dataset name"),
        ("x", 3.0, "outputs must be None, a dataset name"),
        (["x", ""], "y", "non-empty string"),
        ({"not valid": "x"}, "y", "not a valid parameter name"),
        ("x", ["y", "y"], "writes dataset 'y' more than once"),
        ("x", "x", "reads and writes the same dataset 'x'"),
    ],
)
def test_malformed_inputs_and_outputs(inputs, outputs, expected):
    with pytest.raises(PipelineError, match=expected) as info:
        node(lambda *a, **k: None, inputs, outputs, name="bad")
    assert "bad" in info.value.message
    assert info.value.hint


def test_not_a_function():
    with pytest.raises(PipelineError, match="needs a function") as info:
        node(add(1, 2), "x", "y")
    assert "without calling it" in info.value.hint


@pytest.mark.parametrize("name", ["", "a,b", " padded ", ".hidden"])
def test_bad_names(name):
    with pytest.raises(PipelineError, match="Invalid node name") as info:
        node(add, ["x", "y"], "z", name=name)
    assert "Commas separate names" in info.value.hint


def test_bad_tag():
    with pytest.raises(PipelineError, match="Invalid tag"):
        node(add, ["x", "y"], "z", tags=["ok", ""])


def test_output_count_mismatch_at_run_time_names_the_node():
    step = node(lambda: (1, 2), None, ["a", "b", "c"], name="three")
    with pytest.raises(PipelineError) as info:
        step.run({})
    assert "Node 'three' declares 3 outputs ['a', 'b', 'c']" in info.value.message
    assert "returned 2 values" in info.value.message
    assert "outputs=" in info.value.hint


def test_list_outputs_but_function_returned_a_single_value():
    with pytest.raises(PipelineError, match="returned a int, not a list or tuple of 2"):
        node(lambda: 1, None, ["a", "b"], name="one").run({})


def test_dict_outputs_missing_and_unexpected_keys():
    step = node(lambda: {"low": 1, "avg": 2}, None, {"low": "lo", "high": "hi"}, name="st")
    with pytest.raises(PipelineError) as info:
        step.run({})
    assert "Node 'st'" in info.value.message
    assert "without key(s) 'high'" in info.value.message
    assert "unexpected key(s) 'avg'" in info.value.message
    with pytest.raises(PipelineError, match="returned a list, not a dict"):
        node(lambda: [1], None, {"low": "lo"}, name="st").run({})


def test_run_with_a_missing_input_names_it():
    with pytest.raises(PipelineError, match="needs input 'y'") as info:
        node(add, ["x", "y"], "z", name="adder").run({"x": 1})
    assert "x, y" in info.value.hint


def test_function_errors_propagate_unchanged():
    def boom(x):
        raise ValueError("bad x")

    with pytest.raises(ValueError, match="bad x"):
        node(boom, "x", "y").run({"x": 1})


def test_nodes_are_immutable_and_tag_returns_a_copy():
    step = node(add, ["x", "y"], "z", name="adder", tags="a")
    with pytest.raises(AttributeError, match="immutable"):
        step.name = "other"  # type: ignore[misc]
    tagged = step.tag(["b", "c"])
    assert tagged.tags == {"a", "b", "c"}
    assert step.tags == {"a"}
    assert tagged is not step
    assert tagged != step
    step.inputs.append("sneaky")
    assert step.inputs == ["x", "y"]


def test_equality_and_hash():
    one = node(add, ["x", "y"], "z", name="adder")
    two = node(add, ["x", "y"], "z", name="adder")
    assert one == two
    assert hash(one) == hash(two)
    assert one != node(add, ["x", "w"], "z", name="adder")


def test_nodes_pickle_and_come_back_equal():
    step = node(split, {"df": "d", "ratio": "r"}, ["a", "b"], tags=["t"], namespace="ns")
    copy = pickle.loads(pickle.dumps(step))
    assert copy == step
    assert isinstance(copy, Node)
    assert copy.run({"d": [1, 2], "r": 0.5}) == {"a": [1], "b": [2]}


def test_describe_str_and_repr():
    step = node(add, ["x", "y"], "z", name="adder", tags=["math"])
    assert step.describe() == {
        "name": "adder",
        "function": f"{__name__}.add",
        "inputs": ["x", "y"],
        "outputs": ["z"],
        "tags": ["math"],
        "namespace": None,
        "cache": True,
    }
    assert str(step) == "adder: add(x, y) -> z"
    assert repr(step) == "Node(add, ['x', 'y'], ['z'], name='adder')"
