"""pipeline(p, namespace=..., inputs=..., outputs=..., parameters=...)."""

from __future__ import annotations

import pytest

from shipyard.errors import PipelineError
from shipyard.pipeline import Pipeline, node, pipeline


def prepare(raw, threshold):
    return raw


def fit(table, alpha, config):
    return (table, alpha, config)


@pytest.fixture
def training() -> Pipeline:
    return pipeline(
        [
            node(prepare, ["raw", "params:threshold"], "table", name="prepare"),
            node(fit, ["table", "params:model.alpha", "parameters"], "model", name="fit"),
        ]
    )


def test_namespace_prefixes_datasets_parameters_and_node_names(training):
    eu = pipeline(training, namespace="eu")
    assert [n.name for n in eu.nodes] == ["eu.prepare", "eu.fit"]
    assert all(n.namespace == "eu" for n in eu.nodes)
    assert eu.inputs() == {"eu.raw", "params:eu.threshold", "params:eu.model.alpha", "parameters"}
    assert eu.outputs() == {"eu.model"}
    assert eu.nodes[1].inputs == ["eu.table", "params:eu.model.alpha", "parameters"]


def test_inputs_and_outputs_keep_their_names_or_are_renamed(training):
    eu = pipeline(
        training,
        namespace="eu",
        inputs={"raw": "raw_eu"},
        outputs="model",
        parameters=["threshold"],
    )
    assert eu.inputs() == {"raw_eu", "params:threshold", "params:eu.model.alpha", "parameters"}
    assert eu.outputs() == {"model"}
    assert eu.datasets() >= {"eu.table"}


def test_parameters_can_be_renamed_with_or_without_prefix(training):
    us = pipeline(
        training,
        namespace="us",
        parameters={"params:threshold": "us_threshold", "model.alpha": "params:alpha_us"},
    )
    assert {"params:us_threshold", "params:alpha_us"} <= us.inputs()


def test_renaming_without_a_namespace(training):
    renamed = pipeline(training, inputs={"raw": "customers"}, outputs={"model": "churn_model"})
    assert [n.name for n in renamed.nodes] == ["prepare", "fit"]
    assert renamed.inputs() == {"customers", "params:threshold", "params:model.alpha", "parameters"}
    assert renamed.outputs() == {"churn_model"}


def test_the_same_pipeline_twice_under_two_namespaces(training):
    both = pipeline(training, namespace="eu") + pipeline(training, namespace="us")
    assert len(both) == 4
    with pytest.raises(PipelineError, match="Two different nodes are named 'prepare'"):
        training + pipeline(training, inputs={"raw": "other"})


def test_nested_namespaces(training):
    inner = pipeline(training, namespace="model_a")
    outer = pipeline(inner, namespace="eu")
    assert outer.nodes[0].name == "eu.model_a.prepare"
    assert outer.nodes[0].namespace == "eu.model_a"
    assert "params:eu.model_a.threshold" in outer.inputs()


def test_node_namespace_only_changes_the_name():
    step = node(prepare, ["raw", "params:t"], "table", name="prep", namespace="eu")
    assert step.name == "eu.prep"
    assert step.inputs == ["raw", "params:t"]
    nested = pipeline([step], namespace="x")
    assert nested.nodes[0].name == "x.eu.prep"
    assert nested.nodes[0].namespace == "x.eu"


def test_namespacing_keeps_functions_and_tags(training):
    tagged = pipeline(training, tags="train")
    eu = pipeline(tagged, namespace="eu", tags="eu")
    assert eu.nodes[0].func is prepare
    assert eu.nodes[0].tags == {"train", "eu"}
    assert eu.nodes[0].run({"eu.raw": 1, "params:eu.threshold": 2}) == {"eu.table": 1}


def test_original_pipeline_is_unchanged(training):
    pipeline(training, namespace="eu")
    assert [n.name for n in training.nodes] == ["prepare", "fit"]


@pytest.mark.parametrize(
    ("arguments", "message", "hint"),
    [
        ({"inputs": "rwa"}, "pipeline(inputs=...) names 'rwa'", "free inputs: raw"),
        ({"inputs": {"table": "x"}}, "names 'table'", "free inputs: raw"),
        ({"outputs": ["modle"]}, "Did you mean 'model'?", "node outputs: model, table"),
        ({"parameters": "alpha"}, "names 'params:alpha'", "params:model.alpha"),
    ],
)
def test_mapping_a_name_the_pipeline_does_not_have(training, arguments, message, hint):
    with pytest.raises(PipelineError) as info:
        pipeline(training, namespace="eu", **arguments)
    assert message in info.value.message
    assert hint in info.value.hint


def test_parameters_go_through_parameters_not_inputs(training):
    with pytest.raises(PipelineError, match="names the parameter 'params:threshold'") as info:
        pipeline(training, namespace="eu", inputs="params:threshold")
    assert "parameters=" in info.value.hint


@pytest.mark.parametrize("namespace", ["", ".", " eu", "eu.", "a,b"])
def test_invalid_namespace(training, namespace):
    with pytest.raises(PipelineError, match="Invalid namespace"):
        pipeline(training, namespace=namespace)


def test_renaming_that_merges_two_outputs_is_caught(training):
    with pytest.raises(PipelineError, match="written by two nodes"):
        pipeline(training, outputs={"table": "model"})


def test_mapping_values_must_be_names(training):
    with pytest.raises(PipelineError, match="maps names to names"):
        pipeline(training, inputs={"raw": 3})  # type: ignore[dict-item]
