"""Parameters: --params parsing, strict overrides, and params:<dotted> names."""

from __future__ import annotations

import copy

import pytest

from shipyard.config import apply_params_overrides, flatten_params, parse_params_overrides
from shipyard.errors import ParamsError

PARAMS = {
    "model": {"C": 1.0, "penalty": "l2", "solver": {"name": "lbfgs", "max_iter": 100}},
    "seed": 42,
    "features": ["a", "b"],
    "optimizer": None,
}


def test_values_are_parsed_as_yaml_scalars():
    assert parse_params_overrides("model.C=0.5,name=x,flag=true,layers=[1,2]") == {
        "model": {"C": 0.5},
        "name": "x",
        "flag": True,
        "layers": [1, 2],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lr=1e-3", {"lr": 0.001}),
        ("n=10", {"n": 10}),
        ("s='10'", {"s": "10"}),
        ("empty=", {"empty": ""}),
        ("none=null", {"none": None}),
        ("day=2024-01-31", {"day": "2024-01-31"}),
        ("grid={depth: [2, 4], lr: 0.1}", {"grid": {"depth": [2, 4], "lr": 0.1}}),
        ("name='a, b',x=1", {"name": "a, b", "x": 1}),
        ('name="a, [b",x=1', {"name": "a, [b", "x": 1}),
        ("who=O'Brien,x=1", {"who": "O'Brien", "x": 1}),
        (" a = 1 , b.c = two ,", {"a": 1, "b": {"c": "two"}}),
        ("url=http://host:80/x", {"url": "http://host:80/x"}),
        ("", {}),
    ],
)
def test_parsing(text, expected):
    assert parse_params_overrides(text) == expected


def test_a_token_without_equals_is_named():
    with pytest.raises(ParamsError) as info:
        parse_params_overrides("model.C=0.5,seed")
    assert "'seed' has no '='" in info.value.message
    assert "key=value" in info.value.hint


@pytest.mark.parametrize("text", ["=5", "model..C=1", ".C=1", "model.=1"])
def test_empty_names_are_refused(text):
    with pytest.raises(ParamsError) as info:
        parse_params_overrides(text)
    assert "empty" in info.value.message
    assert "key=value" in info.value.hint


def test_unclosed_brackets_and_quotes():
    with pytest.raises(ParamsError, match="unclosed bracket") as info:
        parse_params_overrides("layers=[1,2,name=x")
    assert "layers=[1,2]" in info.value.hint
    with pytest.raises(ParamsError, match="unclosed quote"):
        parse_params_overrides("name='abc,x=1")


def test_invalid_yaml_value_names_the_key():
    with pytest.raises(ParamsError) as info:
        parse_params_overrides("who=@me")
    assert "'who'" in info.value.message
    assert "@me" in info.value.message
    assert "Quote" in info.value.hint


@pytest.mark.parametrize(
    ("text", "clash"),
    [
        ("a=1,a=2", "'a' is given twice"),
        ("a=1,a.b=2", "'a.b' conflicts with the override of 'a'"),
        ("a.b=2,a=1", "'a' is given twice"),
    ],
)
def test_conflicting_overrides(text, clash):
    with pytest.raises(ParamsError) as info:
        parse_params_overrides(text)
    assert clash in info.value.message
    assert "once" in info.value.hint


def test_apply_merges_into_groups_and_leaves_the_input_alone():
    before = copy.deepcopy(PARAMS)
    result = apply_params_overrides(
        PARAMS, parse_params_overrides("model.C=0.5,model.solver.max_iter=500,features=[c]")
    )
    assert result["model"] == {
        "C": 0.5,
        "penalty": "l2",
        "solver": {"name": "lbfgs", "max_iter": 500},
    }
    assert result["features"] == ["c"]
    assert before == PARAMS


def test_apply_accepts_dotted_and_nested_keys():
    result = apply_params_overrides(PARAMS, {"model.C": 2.0, "model": {"penalty": "l1"}})
    assert result["model"]["C"] == 2.0
    assert result["model"]["penalty"] == "l1"


def test_an_unknown_key_at_any_depth_suggests_the_closest():
    before = copy.deepcopy(PARAMS)
    with pytest.raises(ParamsError) as info:
        apply_params_overrides(PARAMS, {"model": {"solver": {"max_iters": 5}}})
    assert "Parameter 'model.solver.max_iters' does not exist" in info.value.message
    assert "Did you mean 'model.solver.max_iter'?" in info.value.message
    assert "model.solver.name, model.solver.max_iter" in info.value.hint
    assert "conf/base/parameters.yml" in info.value.hint
    assert before == PARAMS


def test_an_unknown_top_level_key():
    with pytest.raises(ParamsError) as info:
        apply_params_overrides(PARAMS, {"sed": 1})
    assert "Did you mean 'seed'?" in info.value.message


def test_allow_new_adds_keys():
    result = apply_params_overrides(PARAMS, {"model.tol": 1e-4, "new.deep": 1}, allow_new=True)
    assert result["model"]["tol"] == 1e-4
    assert result["new"] == {"deep": 1}


def test_keys_under_a_single_value_are_refused():
    with pytest.raises(ParamsError) as info:
        apply_params_overrides(PARAMS, {"seed.value": 1}, allow_new=True)
    assert "'seed' is a single value (42), not a group" in info.value.message
    assert "--params 'seed=...'" in info.value.hint


def test_a_group_cannot_be_replaced_by_a_single_value():
    with pytest.raises(ParamsError) as info:
        apply_params_overrides(PARAMS, {"model": 3})
    assert "'model' is a group (C, penalty, solver)" in info.value.message
    assert "model.KEY=" in info.value.hint


def test_a_null_parameter_can_become_a_group():
    result = apply_params_overrides(PARAMS, parse_params_overrides("optimizer={name: adam}"))
    assert result["optimizer"] == {"name": "adam"}


def test_flatten_params():
    flat = flatten_params({"model": {"C": 1, "solver": {"name": "lbfgs"}}, "seed": 1})
    assert flat == {
        "model": {"C": 1, "solver": {"name": "lbfgs"}},
        "model.C": 1,
        "model.solver": {"name": "lbfgs"},
        "model.solver.name": "lbfgs",
        "seed": 1,
    }
    assert flatten_params({}) == {}


def test_loader_applies_runtime_params_before_interpolation(write, loader):
    write(
        "base/parameters.yml",
        """
        n_estimators: 100
        model_name: rf_${n_estimators}
        model: {C: 1.0, penalty: l2}
        """,
    )
    config = loader(runtime_params=parse_params_overrides("n_estimators=200,model.C=0.5"))
    assert config.parameters == {
        "n_estimators": 200,
        "model_name": "rf_200",
        "model": {"C": 0.5, "penalty": "l2"},
    }
    assert config.get("parameters") == config.parameters
    assert config.origin("parameters", "model") == "conf/base/parameters.yml"


def test_loader_refuses_unknown_runtime_params_unless_allowed(write, loader):
    path = write("base/parameters.yml", "model: {C: 1.0}\n")
    before = path.read_bytes()
    with pytest.raises(ParamsError) as info:
        _ = loader(runtime_params={"model.c": 0.5}).parameters
    assert "Did you mean 'model.C'?" in info.value.message
    assert path.read_bytes() == before
    allowed = loader(runtime_params={"model.c": 0.5}, allow_new_params=True)
    assert allowed.parameters == {"model": {"C": 1.0, "c": 0.5}}


def test_runtime_params_given_to_the_loader_are_copied(write, loader):
    write("base/parameters.yml", "model: {C: 1.0}\n")
    overrides = {"model": {"C": 0.5}}
    config = loader(runtime_params=overrides)
    overrides["model"]["C"] = 9
    assert config.parameters["model"]["C"] == 0.5
