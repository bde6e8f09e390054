"""Pipeline: validation, ordering, set operations, slicing, description."""

from __future__ import annotations

import json

import pytest

from shipyard.errors import CircularDependencyError, PipelineError
from shipyard.pipeline import Pipeline, node, pipeline


def identity(x):
    return x


def combine(a, b):
    return (a, b)


def add1(x):
    return x + 1


@pytest.fixture
def diamond() -> Pipeline:
    """raw -> a -> (b, c) -> d; d also reads params:k."""
    return pipeline(
        [
            node(identity, "left", "left_out", name="b", tags=["left"]),
            node(combine, ["left_out", "right_out"], "result", name="d", tags=["end"]),
            node(identity, "raw", "clean", name="a", tags=["prep"]),
            node(identity, "clean", "left", name="split_left", tags=["prep"]),
            node(identity, "clean", "right_out", name="c", tags=["right", "prep"]),
        ]
    )


def names(p: Pipeline) -> list[str]:
    return [item.name for item in p.nodes]


def test_nodes_are_sorted_topologically_and_by_name_within_a_layer(diamond):
    assert names(diamond) == ["a", "c", "split_left", "b", "d"]
    assert [[n.name for n in layer] for layer in diamond.grouped_nodes] == [
        ["a"],
        ["c", "split_left"],
        ["b"],
        ["d"],
    ]


def test_order_does_not_depend_on_the_order_nodes_were_given(diamond):
    reversed_ = Pipeline(list(reversed(diamond.nodes)))
    assert names(reversed_) == names(diamond)
    assert reversed_ == diamond


def test_free_inputs_outputs_and_datasets(diamond):
    assert diamond.inputs() == {"raw"}
    assert diamond.outputs() == {"result"}
    assert diamond.datasets() == {
        "raw", "clean", "left", "left_out", "right_out", "result",
    }  # fmt: skip


def test_duplicate_node_names_are_rejected_naming_both():
    with pytest.raises(PipelineError) as info:
        pipeline([node(identity, "x", "y", name="n"), node(identity, "p", "q", name="n")])
    message = info.value.message
    assert "Two different nodes are named 'n'" in message
    assert "identity(x) -> y" in message
    assert "identity(p) -> q" in message
    assert "namespace" in info.value.hint


def test_the_same_node_twice_is_not_a_duplicate():
    step = node(identity, "x", "y", name="n")
    assert len(pipeline([step, step])) == 1
    assert len(pipeline([step]) + pipeline([step])) == 1


def test_a_dataset_written_by_two_nodes_names_both_nodes():
    with pytest.raises(PipelineError) as info:
        pipeline(
            [node(identity, "a", "out", name="first"), node(identity, "b", "out", name="second")]
        )
    assert info.value.message == "Dataset 'out' is written by two nodes: 'first' and 'second'."
    assert "exactly one node" in info.value.hint


def test_cycle_is_named_node_by_node():
    with pytest.raises(CircularDependencyError) as info:
        pipeline(
            [
                node(identity, "z", "x", name="a"),
                node(identity, "x", "y", name="b"),
                node(identity, "y", "z", name="c"),
                node(identity, "raw", "other", name="fine"),
            ]
        )
    assert info.value.message == (
        "The pipeline has a cycle: a → b → c → a (through datasets x, y, z)."
    )
    assert "Break the cycle" in info.value.hint


def test_cycle_reached_only_through_a_downstream_node():
    with pytest.raises(CircularDependencyError, match="b → c → b"):
        pipeline(
            [
                node(combine, ["raw", "y"], "x", name="b"),
                node(identity, "x", "y", name="c"),
                node(identity, "x", "after", name="d"),
            ]
        )


def test_pipeline_rejects_things_that_are_not_nodes():
    with pytest.raises(PipelineError, match="not function") as info:
        pipeline([identity])  # type: ignore[list-item]
    assert "node(func, inputs, outputs)" in info.value.hint
    with pytest.raises(PipelineError, match="not str"):
        pipeline(["node"])  # type: ignore[list-item]


def test_add_or_and_sum_from_zero(diamond):
    extra = pipeline([node(identity, "result", "report", name="report")])
    combined = diamond + extra
    assert names(combined)[-1] == "report"
    assert (diamond | extra) == combined
    assert sum([diamond, extra]) == combined
    assert sum({"a": diamond, "b": extra}.values()) == combined


def test_add_detects_conflicts_between_the_two_sides(diamond):
    clash = pipeline([node(identity, "raw", "result", name="shortcut")])
    with pytest.raises(PipelineError, match="'result' is written by two nodes"):
        diamond + clash


def test_add_detects_a_cycle_made_by_joining():
    one = pipeline([node(identity, "x", "y", name="one")])
    two = pipeline([node(identity, "y", "x", name="two")])
    with pytest.raises(CircularDependencyError):
        one + two


def test_operators_reject_other_types(diamond):
    with pytest.raises(TypeError):
        diamond + 1
    with pytest.raises(TypeError):
        diamond - [1]
    with pytest.raises(TypeError):
        5 + diamond


def test_difference_and_intersection_by_node_name(diamond):
    left = diamond.only_nodes("split_left", "b")
    assert names(diamond - left) == ["a", "c", "d"]
    assert names(diamond & left) == ["split_left", "b"]


def test_only_nodes_with_tags_means_any_of(diamond):
    assert names(diamond.only_nodes_with_tags("left", "end")) == ["b", "d"]
    assert names(diamond.only_nodes_with_tags("prep")) == ["a", "c", "split_left"]


def test_unknown_tag_lists_the_tags(diamond):
    with pytest.raises(PipelineError) as info:
        diamond.only_nodes_with_tags("prepp")
    assert "no tag named 'prepp'. Did you mean 'prep'?" in info.value.message
    assert info.value.hint == "This pipeline's tags: end, left, prep, right."


def test_from_nodes_and_to_nodes(diamond):
    assert names(diamond.from_nodes("split_left")) == ["split_left", "b", "d"]
    assert names(diamond.from_nodes("c", "b")) == ["b", "c", "d"]
    assert names(diamond.to_nodes("b")) == ["a", "split_left", "b"]
    assert names(diamond.to_nodes("d")) == names(diamond)


def test_from_inputs_and_to_outputs(diamond):
    assert names(diamond.from_inputs("left")) == ["b", "d"]
    assert names(diamond.from_inputs("raw")) == names(diamond)
    assert names(diamond.to_outputs("right_out")) == ["a", "c"]
    assert names(diamond.to_outputs("left", "right_out")) == ["a", "c", "split_left"]


@pytest.mark.parametrize(
    ("method", "argument", "what", "suggestion"),
    [
        ("only_nodes", "splitleft", "node", "split_left"),
        ("from_nodes", "dd", "node", "d"),
        ("to_nodes", "cc", "node", "c"),
        ("from_inputs", "rawx", "dataset", "raw"),
        ("to_outputs", "clean_", "node output", "clean"),
    ],
)
def test_unknown_names_list_what_exists(diamond, method, argument, what, suggestion):
    with pytest.raises(PipelineError) as info:
        getattr(diamond, method)(argument)
    message = info.value.message
    assert message.startswith(f"{method}(): the pipeline has no {what} named '{argument}'.")
    assert f"Did you mean '{suggestion}'?" in message
    assert info.value.hint.startswith(f"This pipeline's {what}s: ")
    assert suggestion in info.value.hint


def test_to_outputs_rejects_a_free_input(diamond):
    with pytest.raises(PipelineError, match="no node output named 'raw'"):
        diamond.to_outputs("raw")


def test_slicing_needs_at_least_one_name(diamond):
    with pytest.raises(PipelineError, match=r"from_nodes\(\) needs at least one node name"):
        diamond.from_nodes()
    with pytest.raises(PipelineError, match="at least one tag"):
        diamond.only_nodes_with_tags()


def test_long_name_lists_are_cut_in_errors():
    many = pipeline([node(identity, f"i{k}", f"o{k}", name=f"n{k:03}") for k in range(50)])
    with pytest.raises(PipelineError) as info:
        many.only_nodes("missing")
    assert info.value.hint.endswith("... and 20 more.")


def test_pipeline_tags_are_added_to_every_node(diamond):
    tagged = pipeline(diamond, tags="daily")
    assert all("daily" in item.tags for item in tagged.nodes)
    assert not any("daily" in item.tags for item in diamond.nodes)


def test_describe_is_json_able_with_edges(diamond):
    described = diamond.describe()
    json.dumps(described)
    assert [n["name"] for n in described["nodes"]] == names(diamond)
    assert described["nodes"][0] == {
        "name": "a",
        "function": f"{__name__}.identity",
        "inputs": ["raw"],
        "outputs": ["clean"],
        "tags": ["prep"],
        "namespace": None,
        "cache": True,
    }
    assert {"source": "a", "target": "c", "dataset": "clean"} in described["edges"]
    assert {"source": "b", "target": "d", "dataset": "left_out"} in described["edges"]
    assert len(described["edges"]) == 5
    assert described["inputs"] == ["raw"]
    assert described["outputs"] == ["result"]
    assert described["layers"] == [["a"], ["c", "split_left"], ["b"], ["d"]]


def test_repr_and_str_are_useful_in_a_terminal(diamond):
    assert repr(diamond) == "Pipeline(5 nodes: a, c, split_left, b, d)"
    big = pipeline([node(identity, f"i{k}", f"o{k}", name=f"n{k}") for k in range(7)])
    assert repr(big).endswith(", ...)")
    text = str(diamond)
    assert text.splitlines()[:3] == [
        "Pipeline with 5 nodes in 4 layers",
        "  inputs:  raw",
        "  outputs: result",
    ]
    assert "    2  c: identity(clean) -> right_out  [prep, right]" in text


def test_len_iter_and_empty_pipeline(diamond):
    assert len(diamond) == 5
    assert [n.name for n in diamond] == names(diamond)
    empty = Pipeline()
    assert len(empty) == 0
    assert empty.inputs() == set()
    assert empty.describe()["nodes"] == []


def test_nodes_list_is_a_copy(diamond):
    diamond.nodes.clear()
    assert len(diamond.nodes) == 5


def test_a_10k_node_chain_builds_and_slices():
    """Scale, not speed: bench/pipeline_overhead.py times this build (target 1 s)."""
    chain = pipeline([node(add1, f"x{i}", f"x{i + 1}", name=f"n{i}") for i in range(10_000)])
    assert len(chain) == 10_000
    assert chain.inputs() == {"x0"}
    assert chain.outputs() == {"x10000"}
    assert len(chain.grouped_nodes) == 10_000
    assert len(chain.from_nodes("n5000")) == 5_000
