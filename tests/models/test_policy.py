"""The promotion policy: parsing governance.yml strictly, every gate outcome, and decisions.

The gate context is the registry's side of the contract (which version holds an alias,
scoring a model on a dataset, comparing signatures), so a small fake stands in for it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from shipyard.errors import ConfigError, ModelError
from shipyard.models._gates import (
    BetterThanGate,
    Candidate,
    GateResult,
    MetricGate,
    SignatureGate,
    decide,
    evaluate_gates,
)
from shipyard.models._policy import AliasPolicy, ApprovalRule, PromotionPolicy, parse_policy

GOVERNANCE = {
    "intended_use": "Predict which customers will cancel in the next 30 days.",
    "users": {"alice": ["data_scientist"], "bob": ["ml_engineer"], "carol": ["governance"]},
    "promotion": {
        "champion": {
            "gates": [
                {"metric": "auc >= 0.8"},
                {
                    "better_than": {
                        "alias": "champion",
                        "metric": "auc",
                        "by": 0.01,
                        "dataset": "model_input_table",
                    }
                },
                {"signature_compatible_with": "champion"},
            ],
            "approvals": {"required": 1, "roles": ["ml_engineer", "governance"]},
        },
        "challenger": {"gates": [{"metric": "auc >= 0.7"}]},
    },
}


def _signature(*columns: tuple[str, str]) -> dict[str, Any]:
    return {
        "inputs": [{"name": n, "dtype": d, "nullable": False} for n, d in columns],
        "outputs": [{"name": "churn", "dtype": "int64", "nullable": False}],
    }


SIGNATURE = _signature(("age", "int64"), ("plan", "string"))


class FakeContext:
    """The registry's side: versions holding aliases, scores by version, signature diffs."""

    def __init__(
        self,
        holders: Mapping[str, Candidate] | None = None,
        scores: Mapping[int, float | Exception] | None = None,
    ) -> None:
        self.holders = dict(holders or {})
        self.scores = dict(scores or {})
        self.scored: list[tuple[int, str, str, str | None]] = []

    def incumbent(self, alias: str) -> Candidate | None:
        return self.holders.get(alias)

    def score(
        self,
        candidate: Candidate,
        metric: str,
        dataset: str,
        version: str | None,
        *,
        target: str | None = None,
    ) -> float:
        self.scored.append((candidate.version, metric, dataset, version))
        outcome = self.scores[candidate.version]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def signature_problems(self, new: Mapping[str, Any], old: Mapping[str, Any]) -> list[str]:
        have = {column["name"]: column["dtype"] for column in new["inputs"]}
        problems = []
        for column in old["inputs"]:
            if column["name"] not in have:
                problems.append(f"input column '{column['name']}' is missing")
            elif have[column["name"]] != column["dtype"]:
                problems.append(f"input column '{column['name']}' changed type")
        return problems


def candidate(version: int = 5, signature: Any = SIGNATURE, **metrics: float) -> Candidate:
    return Candidate("churn", version, metrics, signature)


CHAMPION = Candidate("churn", 4, {"auc": 0.83}, SIGNATURE)


# --- parsing -------------------------------------------------------------------------------


def test_parse_the_documented_policy():
    before = copy.deepcopy(GOVERNANCE)
    policy = parse_policy(GOVERNANCE)
    assert policy.aliases["champion"] == AliasPolicy(
        "champion",
        (
            MetricGate("auc", ">=", 0.8),
            BetterThanGate("champion", "auc", "model_input_table", 0.01, None),
            SignatureGate("champion"),
        ),
        ApprovalRule(1, ("ml_engineer", "governance")),
    )
    assert policy.aliases["challenger"] == AliasPolicy(
        "challenger", (MetricGate("auc", ">=", 0.7),)
    )
    assert before == GOVERNANCE


@pytest.mark.parametrize("governance", [None, {}, {"promotion": None}, {"users": {}}])
def test_no_promotion_config_means_no_gates(governance):
    assert parse_policy(governance) == PromotionPolicy()


def test_an_alias_without_policy_has_no_gates_or_approvals():
    policy = parse_policy(GOVERNANCE)
    assert policy.for_alias("staging") == AliasPolicy("staging", (), None)
    assert policy.for_alias("champion").approvals == ApprovalRule(1, ("ml_engineer", "governance"))


@pytest.mark.parametrize("op", [">=", ">", "<=", "<", "=="])
def test_every_operator_parses(op):
    gate = parse_policy({"promotion": {"a": {"gates": [{"metric": f"val/log-loss{op}-0.25"}]}}})
    assert gate.for_alias("a").gates == (MetricGate("val/log-loss", op, -0.25),)


def test_pinned_dataset_version_and_default_by():
    spec = {"alias": "champion", "metric": "rmse", "dataset": "holdout@v3"}
    policy = parse_policy({"promotion": {"champion": {"gates": [{"better_than": spec}]}}})
    gate = policy.for_alias("champion").gates[0]
    assert gate == BetterThanGate("champion", "rmse", "holdout", 0.0, "v3")
    assert gate.text == "better than champion on rmse by 0 on holdout@v3"


def test_approval_defaults_and_repeats():
    def rule(approvals: Any) -> ApprovalRule | None:
        return parse_policy({"promotion": {"c": {"approvals": approvals}}}).for_alias("c").approvals

    assert rule({}) == ApprovalRule(1, ("ml_engineer", "governance"))
    assert rule({"required": 2, "roles": ["governance", "governance"]}) == (
        ApprovalRule(2, ("governance",))
    )
    assert rule({"required": 0, "roles": ["governance"]}) is None


PATH = "conf/base/governance.yml, promotion.champion"


@pytest.mark.parametrize(
    ("champion", "message"),
    [
        ({"gate": []}, f"{PATH}: unknown key 'gate'. Did you mean 'gates'?"),
        ({"gates": {"metric": "auc >= 0.8"}}, f"{PATH}.gates: expected a list, got a mapping."),
        ({"gates": ["auc >= 0.8"]}, f"{PATH}.gates[0]: expected a mapping, got a string."),
        ({"gates": [{"metric": "auc > 0.7"}, {"metrc": "auc > 1"}]},
         f"{PATH}.gates[1]: unknown key 'metrc'. Did you mean 'metric'?"),
        ({"gates": [{"metric": "auc > 1", "signature_compatible_with": "champion"}]},
         f"{PATH}.gates[0]: a gate has exactly one key, this one has 2."),
        ({"gates": [{}]}, f"{PATH}.gates[0]: a gate has exactly one key, this one has 0."),
        ({"gates": [{"metric": "auc => 0.8"}]},
         f"{PATH}.gates[0].metric: '=>' in 'auc => 0.8' is not an operator. Did you mean '>='?"),
        ({"gates": [{"metric": "auc =< 0.8"}]},
         f"{PATH}.gates[0].metric: '=<' in 'auc =< 0.8' is not an operator. Did you mean '<='?"),
        ({"gates": [{"metric": "auc = 0.8"}]},
         f"{PATH}.gates[0].metric: '=' in 'auc = 0.8' is not an operator. Did you mean '=='?"),
        ({"gates": [{"metric": "auc != 0.8"}]},
         f"{PATH}.gates[0].metric: '!=' in 'auc != 0.8' is not an operator."),
        ({"gates": [{"metric": "auc >= high"}]},
         f"{PATH}.gates[0].metric: 'high' in 'auc >= high' is not a number."),
        ({"gates": [{"metric": "auc >= nan"}]},
         f"{PATH}.gates[0].metric: 'nan' in 'auc >= nan' is not a number."),
        ({"gates": [{"metric": "auc"}]},
         f"{PATH}.gates[0].metric: cannot read 'auc' as `<metric> <operator> <number>`."),
        ({"gates": [{"metric": "auc >= 0.8 0.9"}]},
         f"{PATH}.gates[0].metric: cannot read 'auc >= 0.8 0.9' as `<metric> <operator> "
         "<number>`."),
        ({"gates": [{"metric": {"auc": ">= 0.8"}}]},
         f"{PATH}.gates[0].metric: expected text, got a mapping."),
        ({"gates": [{"better_than": "champion"}]},
         f"{PATH}.gates[0].better_than: expected a mapping, got a string."),
        ({"gates": [{"better_than": {"alias": "champion", "metric": "auc"}}]},
         f"{PATH}.gates[0].better_than: the required key 'dataset' is missing."),
        ({"gates": [{"better_than": {"alias": "champion", "metric": "auc", "dataset": "d",
                                     "on": "x"}}]},
         f"{PATH}.gates[0].better_than: unknown key 'on'."),
        ({"gates": [{"better_than": {"alias": "champion", "metric": "auc", "dataset": "d",
                                     "by": -0.1}}]},
         f"{PATH}.gates[0].better_than.by: expected a number of 0 or more, got -0.1."),
        ({"gates": [{"better_than": {"alias": "champion", "metric": "auc", "dataset": "d",
                                     "by": "0.01"}}]},
         f"{PATH}.gates[0].better_than.by: expected a number of 0 or more, got '0.01'."),
        ({"gates": [{"better_than": {"alias": 1, "metric": "auc", "dataset": "d"}}]},
         f"{PATH}.gates[0].better_than.alias: expected text, got a number."),
        ({"gates": [{"better_than": {"alias": "champion", "metric": "auc", "dataset": "@v1"}}]},
         f"{PATH}.gates[0].better_than.dataset: cannot read '@v1' as NAME or NAME@VERSION."),
        ({"gates": [{"signature_compatible_with": ["champion"]}]},
         f"{PATH}.gates[0].signature_compatible_with: expected text, got a list."),
        ({"approvals": 1}, f"{PATH}.approvals: expected a mapping, got a number."),
        ({"approvals": {"role": ["governance"]}},
         f"{PATH}.approvals: unknown key 'role'. Did you mean 'roles'?"),
        ({"approvals": {"required": True}},
         f"{PATH}.approvals.required: expected a whole number of 0 or more, got True."),
        ({"approvals": {"required": 1.5}},
         f"{PATH}.approvals.required: expected a whole number of 0 or more, got 1.5."),
        ({"approvals": {"roles": "governance"}},
         f"{PATH}.approvals.roles: expected a list of roles, got a string."),
        ({"approvals": {"roles": []}},
         f"{PATH}.approvals.roles: expected at least one role, got none."),
        ({"approvals": {"roles": ["ml_engineers"]}},
         f"{PATH}.approvals.roles[0]: 'ml_engineers' is not a role. Did you mean 'ml_engineer'?"),
        ({"approvals": {"roles": ["governance", "data_scientist"]}},
         f"{PATH}.approvals.roles[1]: the role 'data_scientist' may not approve a pending "
         "promotion."),
        (None, f"{PATH}: expected a mapping, got nothing (null)."),
    ],
)  # fmt: skip
def test_every_parse_error_names_the_key_path(champion, message):
    governance = {"promotion": {"champion": champion}}
    before = copy.deepcopy(governance)
    with pytest.raises(ConfigError) as caught:
        parse_policy(governance)
    assert caught.value.message == message
    assert caught.value.hint
    assert governance == before


def test_top_level_errors_and_the_source_file():
    with pytest.raises(ConfigError) as caught:
        parse_policy({"promotions": {}}, source="conf/prod/governance.yml")
    assert caught.value.message == (
        "conf/prod/governance.yml: unknown key 'promotions'. Did you mean 'promotion'?"
    )
    with pytest.raises(ConfigError, match=r"^conf/base/governance\.yml, promotion: expected a"):
        parse_policy({"promotion": ["champion"]})


def test_hints_show_how_to_write_it():
    with pytest.raises(ConfigError) as caught:
        parse_policy({"promotion": {"c": {"gates": [{"metric": "auc => 0.8"}]}}})
    assert caught.value.hint == "Operators: >=, >, <=, <, ==."
    with pytest.raises(ConfigError) as caught:
        parse_policy({"promotion": {"c": {"gates": [{"metric": "auc"}]}}})
    assert "`auc >= 0.8`" in caught.value.hint


# --- gates ---------------------------------------------------------------------------------


def _evaluate(
    *gates: Any, context: FakeContext | None = None, model: Candidate | None = None
) -> list[GateResult]:
    policy = AliasPolicy("champion", tuple(gates))
    return evaluate_gates(policy, model or candidate(auc=0.85), context or FakeContext())


@pytest.mark.parametrize(
    ("op", "value", "passed"),
    [
        (">=", 0.85, True), (">=", 0.85 + 1e-12, True), (">=", 0.86, False),
        (">", 0.84, True), (">", 0.85, False),
        ("<=", 0.85, True), ("<=", 0.84, False),
        ("<", 0.86, True), ("<", 0.85, False),
        ("==", 0.85, True), ("==", 0.8500000000001, True), ("==", 0.8, False),
    ],
)  # fmt: skip
def test_metric_gate_outcomes(op, value, passed):
    (result,) = _evaluate(MetricGate("auc", op, value))
    assert result.passed is passed
    assert result.gate == f"auc {op} {value:.15g}"
    assert result.detail.startswith("auc = 0.85")
    assert ("needs" in result.detail) is not passed


def test_metric_gate_fails_with_the_numbers():
    (result,) = _evaluate(MetricGate("auc", ">=", 0.9))
    assert result == GateResult("auc >= 0.9", False, "auc = 0.85, needs auc >= 0.9")


def test_metric_missing_from_the_candidate_names_the_metrics_it_has():
    (result,) = _evaluate(MetricGate("auc_roc", ">=", 0.8), model=candidate(auc=0.9, f1=0.7))
    assert not result.passed
    assert result.detail == (
        "version 5 records no metric 'auc_roc' (it records: auc, f1). Did you mean 'auc'?"
    )
    (result,) = _evaluate(MetricGate("auc", ">=", 0.8), model=candidate())
    assert result.detail == "version 5 records no metric 'auc' (it records: none)."


@pytest.mark.parametrize("value", ["0.9", None, float("nan"), True])
def test_metric_that_is_not_a_number_fails(value):
    (result,) = _evaluate(MetricGate("auc", ">=", 0.8), model=candidate(auc=value))
    assert not result.passed
    assert result.detail == f"auc is {value!r}, not a number"


BETTER = BetterThanGate("champion", "auc", "model_input_table", 0.01, "v7")


def test_better_than_without_champion_passes():
    context = FakeContext()
    (result,) = _evaluate(BETTER, context=context)
    assert result == GateResult(BETTER.text, True, "no champion yet")
    assert context.scored == []


def test_better_than_scores_both_models_on_the_same_dataset_version():
    context = FakeContext({"champion": CHAMPION}, {5: 0.86, 4: 0.84})
    (result,) = _evaluate(BETTER, context=context)
    assert result.passed
    assert context.scored == [
        (5, "auc", "model_input_table", "v7"),
        (4, "auc", "model_input_table", "v7"),
    ]
    assert result.detail == (
        "auc on model_input_table@v7: version 5 0.86, champion (version 4) 0.84; "
        "higher by 0.02, needs 0.01"
    )


@pytest.mark.parametrize(("new", "passed"), [(0.85, True), (0.8499, False), (0.9, True)])
def test_better_than_needs_the_margin(new, passed):
    context = FakeContext({"champion": CHAMPION}, {5: new, 4: 0.84})
    (result,) = _evaluate(BETTER, context=context)
    assert result.passed is passed  # 0.85 - 0.84 is 0.01 up to float noise: it passes


def test_better_than_for_an_error_metric_wants_lower():
    gate = BetterThanGate("champion", "rmse", "holdout", 0.5)
    (better,) = _evaluate(gate, context=FakeContext({"champion": CHAMPION}, {5: 9.0, 4: 10.0}))
    (worse,) = _evaluate(gate, context=FakeContext({"champion": CHAMPION}, {5: 11.0, 4: 10.0}))
    assert better.passed
    assert better.detail.endswith("lower by 1, needs 0.5")
    assert not worse.passed
    assert worse.detail.endswith("lower by -1, needs 0.5")


def test_a_score_that_raises_fails_the_gate_and_the_others_still_run():
    error = ModelError("Cannot evaluate on dataset 'model_input_table': it lacks the column age.")
    context = FakeContext({"champion": CHAMPION}, {5: 0.9, 4: error})
    results = _evaluate(BETTER, MetricGate("auc", ">=", 0.8), context=context)
    assert [r.passed for r in results] == [False, True]
    assert results[0].detail == (
        "could not score champion (version 4) on model_input_table@v7: Cannot evaluate on "
        "dataset 'model_input_table': it lacks the column age."
    )
    context = FakeContext({"champion": CHAMPION}, {5: KeyError("model_input_table")})
    (result,) = _evaluate(BETTER, context=context)
    assert result.detail == (
        "could not score version 5 on model_input_table@v7: KeyError: 'model_input_table'"
    )


def test_a_score_that_is_not_a_number_fails_the_gate():
    context = FakeContext({"champion": CHAMPION}, {5: float("nan"), 4: 0.8})
    (result,) = _evaluate(BETTER, context=context)
    assert not result.passed
    assert result.detail == "scoring version 5 gave nan, not a number"


def test_a_version_already_holding_the_alias_passes_without_scoring():
    context = FakeContext({"champion": CHAMPION})
    results = _evaluate(BETTER, SignatureGate("champion"), model=CHAMPION, context=context)
    assert [r.detail for r in results] == ["version 4 already holds 'champion'"] * 2
    assert all(r.passed for r in results)
    assert context.scored == []


def test_a_context_that_raises_fails_only_its_gate():
    class Broken(FakeContext):
        def incumbent(self, alias: str) -> Candidate | None:
            raise ModelError("The metadata store cannot be reached.")

    results = _evaluate(SignatureGate("champion"), MetricGate("auc", ">", 0.5), context=Broken())
    assert results == [
        GateResult(
            "signature compatible with champion",
            False,
            "could not be evaluated: The metadata store cannot be reached.",
        ),
        GateResult("auc > 0.5", True, "auc = 0.85"),
    ]


def test_signature_gate_outcomes():
    gate = SignatureGate("champion")
    context = FakeContext({"champion": CHAMPION})
    (none_yet,) = _evaluate(gate)
    (same,) = _evaluate(gate, context=context, model=candidate(signature=dict(SIGNATURE)))
    changed = _signature(("age", "float64"))
    (broken,) = _evaluate(gate, context=context, model=candidate(signature=changed))
    (unsigned,) = _evaluate(gate, context=context, model=candidate(signature=None))
    old_unsigned = FakeContext({"champion": Candidate("churn", 4, {}, None)})
    (nothing_to_compare,) = _evaluate(gate, context=old_unsigned)
    assert none_yet == GateResult("signature compatible with champion", True, "no champion yet")
    assert same.passed and same.detail == "compatible with champion (version 4)"
    assert not broken.passed
    assert broken.detail == (
        "incompatible with champion (version 4): input column 'age' changed type; "
        "input column 'plan' is missing"
    )
    assert not unsigned.passed
    assert unsigned.detail == "version 5 has no signature to compare with champion (version 4)"
    assert nothing_to_compare.passed
    assert (
        nothing_to_compare.detail == "champion (version 4) records no signature; nothing to compare"
    )


def test_every_gate_is_evaluated_after_a_failure():
    context = FakeContext({"champion": CHAMPION}, {5: 0.7, 4: 0.84})
    policy = parse_policy(GOVERNANCE).for_alias("champion")
    model = candidate(signature=_signature(("age", "int64")), auc=0.7)
    results = evaluate_gates(policy, model, context)
    assert [(r.gate, r.passed) for r in results] == [
        ("auc >= 0.8", False),
        ("better than champion on auc by 0.01 on model_input_table", False),
        ("signature compatible with champion", False),
    ]


def test_gate_results_round_trip():
    result = GateResult("auc >= 0.8", False, "auc = 0.7, needs auc >= 0.8")
    assert GateResult.from_dict(result.to_dict()) == result
    assert result.to_dict() == {
        "gate": "auc >= 0.8",
        "passed": False,
        "detail": "auc = 0.7, needs auc >= 0.8",
    }


# --- decisions -----------------------------------------------------------------------------

CHAMPION_POLICY = AliasPolicy(
    "champion", (MetricGate("auc", ">=", 0.8),), ApprovalRule(1, ("ml_engineer", "governance"))
)
PASSED = [GateResult("auc >= 0.8", True, "auc = 0.85")]
FAILED = [
    GateResult("auc >= 0.8", False, "auc = 0.7, needs auc >= 0.8"),
    GateResult("signature compatible with champion", True, "no champion yet"),
    GateResult("better than champion on auc by 0.01 on d", False, "could not score"),
]


def test_a_failed_gate_refuses_even_with_approvals():
    decision = decide(CHAMPION_POLICY, FAILED, [("bob", "ml_engineer")])
    assert decision.outcome == "refused"
    assert decision.reason == (
        "failed gates: auc >= 0.8 (auc = 0.7, needs auc >= 0.8); "
        "better than champion on auc by 0.01 on d (could not score)"
    )
    assert decision.results == FAILED


def test_missing_approvals_leave_it_pending():
    decision = decide(CHAMPION_POLICY, PASSED, [])
    assert decision.outcome == "pending"
    assert decision.approvals_needed == 1
    assert decision.approvals_roles == ("ml_engineer", "governance")
    assert decision.reason == "waiting for 1 more approval from ml_engineer or governance"


def test_approvals_count_once_per_user_and_only_under_allowed_roles():
    policy = AliasPolicy("champion", (), ApprovalRule(2, ("governance",)))
    given = [("bob", "ml_engineer"), ("carol", "governance"), ("carol", "governance")]
    decision = decide(policy, [], given)
    assert decision.outcome == "pending"
    assert decision.approvals_needed == 1
    assert decision.reason == (
        "waiting for 1 more approval from governance; approved so far by carol (governance)"
    )
    decision = decide(policy, [], [*given, ("dana", "governance")])
    assert decision.outcome == "promote"
    assert decision.approvals_needed == 0
    assert decision.reason == "no gates; approved by carol (governance), dana (governance)"


def test_enough_approvals_promote():
    decision = decide(CHAMPION_POLICY, PASSED, [("carol", "governance")])
    assert decision.outcome == "promote"
    assert decision.reason == "all 1 gates passed; approved by carol (governance)"


def test_without_approval_rule_passing_gates_promote():
    decision = decide(AliasPolicy("challenger", (MetricGate("auc", ">=", 0.7),)), PASSED, [])
    assert (decision.outcome, decision.approvals_needed, decision.approvals_roles) == (
        "promote",
        0,
        (),
    )
    assert decide(AliasPolicy("staging"), [], []).reason == "no gates"


def test_better_than_may_name_the_label_column():
    spec = {"alias": "champion", "metric": "auc", "dataset": "features", "target": "churned"}
    policy = parse_policy({"promotion": {"champion": {"gates": [{"better_than": spec}]}}})
    assert policy.for_alias("champion").gates[0].target == "churned"
