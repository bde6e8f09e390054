"""monitoring.yml is read strictly: defaults, every key, durations, rules and action order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.errors import ConfigError
from shipyard.monitoring._config import (
    AlertAction,
    ColumnRule,
    EvaluateAction,
    MonitoringConfig,
    PerformancePolicy,
    PromoteAction,
    RetrainAction,
    format_duration,
    parse_duration,
    parse_monitoring_config,
)

FULL = {
    "window": "6h",
    "every": "15m",
    "min_rows": 50,
    "drift_share": 0.3,
    "defaults": {
        "numeric": {"method": "wasserstein", "threshold": 0.2},
        "categorical": {"method": "jensenshannon"},
    },
    "columns": {
        "tenure_months": {"method": "ks", "threshold": 0.01},
        "customer_id": {"ignore": True},
        "plan": None,
    },
    "reference_sample": 5000,
    "sources": {"predictions": "preds", "feedback": "labels"},
    "performance": {
        "metrics": ["roc_auc", "f1"],
        "tolerance": 0.05,
        "min_labels": 200,
        "confidence": 0.9,
        "resamples": 500,
    },
    "trigger": ["performance"],
    "cooldown": "7d",
    "actions": [
        {
            "alert": {
                "webhook": "https://hooks.example.com/T0/B0/secret",
                "headers_credentials": "alert_headers",
                "timeout_s": 2,
                "retries": 0,
            }
        },
        {"retrain": {"pipeline": "training", "env": "prod", "params": {"model": {"C": 0.5}}}},
        {"evaluate": {"metric": "f1", "min_improvement": 0.01, "min_rows": 300}},
        {"promote": {"alias": "Champion"}},
        "alert",
    ],
}


def test_no_file_gives_the_defaults():
    config = parse_monitoring_config(None)
    assert config == parse_monitoring_config({}) == MonitoringConfig()
    assert config.window == timedelta(hours=24) and config.every == timedelta(hours=1)
    assert config.min_rows == 100 and config.drift_share == 0.5
    assert dict(config.defaults) == {"numeric": ColumnRule(), "categorical": ColumnRule()}
    assert dict(config.columns) == {} and config.reference_sample == 0
    assert (config.predictions_dataset, config.feedback_dataset) == (
        "prediction_log",
        "feedback_log",
    )
    assert config.performance == PerformancePolicy((), 0.02, 100, 0.95, 1000)
    assert config.trigger == ("dataset_drift", "performance")
    assert config.cooldown == timedelta(hours=24) and config.actions == ()


def test_every_key_is_read():
    config = parse_monitoring_config(FULL, source="conf/prod/monitoring.yml")
    assert config.window == timedelta(hours=6) and config.every == timedelta(minutes=15)
    assert config.min_rows == 50 and config.drift_share == 0.3
    assert config.defaults["numeric"] == ColumnRule("wasserstein", 0.2)
    assert config.defaults["categorical"] == ColumnRule("jensenshannon")
    assert config.columns["tenure_months"] == ColumnRule("ks", 0.01)
    assert config.columns["customer_id"] == ColumnRule(ignore=True)
    assert config.columns["plan"] == ColumnRule()
    assert config.reference_sample == 5000
    assert (config.predictions_dataset, config.feedback_dataset) == ("preds", "labels")
    assert config.performance == PerformancePolicy(("roc_auc", "f1"), 0.05, 200, 0.9, 500)
    assert config.trigger == ("performance",) and config.cooldown == timedelta(days=7)
    alert, retrain, evaluate, promote, bare_alert = config.actions
    assert alert == AlertAction(
        "https://hooks.example.com/T0/B0/secret", "alert_headers", 2.0, 0, False
    )
    assert retrain == RetrainAction("training", "prod", {"model": {"C": 0.5}})
    assert evaluate == EvaluateAction("f1", 0.01, 300)
    assert promote == PromoteAction("champion")  # aliases are stored in lower case
    assert bare_alert == AlertAction()
    assert [action.kind for action in config.actions] == [
        "alert",
        "retrain",
        "evaluate",
        "promote",
        "alert",
    ]
    assert config.source == "conf/prod/monitoring.yml"


def test_the_parsed_config_cannot_be_changed():
    config = parse_monitoring_config(FULL)
    with pytest.raises(TypeError):
        config.columns["age"] = ColumnRule()  # type: ignore[index]
    with pytest.raises(TypeError):
        config.actions[1].params["extra"] = 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "names"),
    [
        # unknown keys: the path and the closest key
        ({"windw": "1h"}, ["monitoring.yml: unknown key 'windw'", "Did you mean 'window'?"]),
        (
            {"performance": {"tolerence": 0.1}},
            ["performance: unknown key 'tolerence'", "'tolerance'"],
        ),
        (
            {"actions": [{"retrain": {}}, {"retrain": {"pipline": "x"}}]},
            ["actions[1].retrain: unknown key 'pipline'", "Did you mean 'pipeline'?"],
        ),
        ({"sources": {"prediction": "x"}}, ["sources", "'predictions'"]),
        ({"defaults": {"numerical": {}}}, ["defaults", "'numeric'"]),
        ({"columns": {"age": {"methd": "ks"}}}, ["columns.age", "'method'"]),
        # types and ranges
        (["window"], ["monitoring.yml", "expected a mapping"]),
        ({"window": "1.5h"}, ["window: '1.5h' is not a duration", "1h30m"]),
        ({"window": 0}, ["window", "more than 0"]),
        ({"window": True}, ["window", "expected a duration"]),
        ({"every": "7h"}, ["every", "divides", "24h"]),
        ({"every": "36h"}, ["every", "whole number of days"]),
        ({"cooldown": -5}, ["cooldown", "0 seconds or more"]),
        ({"min_rows": 0}, ["min_rows", "1 or more"]),
        ({"min_rows": 2.5}, ["min_rows", "whole number"]),
        ({"drift_share": 0}, ["drift_share", "more than 0 and at most 1"]),
        ({"drift_share": 1.2}, ["drift_share", "at most 1"]),
        ({"reference_sample": -1}, ["reference_sample", "0 or more"]),
        ({"sources": {"feedback": ""}}, ["sources.feedback", "catalog entry"]),
        ({"performance": {"confidence": 1}}, ["performance.confidence", "both excluded"]),
        ({"performance": {"resamples": 0}}, ["performance.resamples", "1 or more"]),
        ({"performance": {"metrics": ["auc"]}}, ["performance.metrics[0]", "'roc_auc'"]),
        ({"performance": {"metrics": ["f1", "f1"]}}, ["performance.metrics[1]", "twice"]),
        ({"trigger": "performance"}, ["trigger", "expected a list"]),
        ({"trigger": ["drift"]}, ["trigger[0]", "unknown trigger 'drift'", "dataset_drift"]),
        ({"trigger": [], "actions": ["alert"]}, ["trigger", "never run"]),
        # drift rules
        ({"columns": {"age": {"method": "kss"}}}, ["columns.age.method", "Did you mean 'ks'?"]),
        ({"columns": {"age": {"threshold": 0.05}}}, ["columns.age.threshold", "Name the method"]),
        ({"columns": {"age": {"method": "ks", "threshold": 5}}}, ["age.threshold", "p-value"]),
        ({"columns": {"age": {"method": "psi", "threshold": 0}}}, ["age.threshold", "distance"]),
        ({"columns": {"id": {"ignore": "yes"}}}, ["columns.id.ignore", "true or false"]),
        ({"columns": {"id": {"ignore": True, "method": "ks"}}}, ["columns.id", "ignored"]),
        ({"columns": {"id": "ignore"}}, ["columns.id", "expected a mapping"]),
        (
            {"defaults": {"categorical": {"method": "wasserstein"}}},
            ["defaults.categorical.method", "unknown method 'wasserstein'", "chisquare, ztest"],
        ),
        ({"defaults": {"categorical": {"ignore": True}}}, ["defaults.categorical", "'ignore'"]),
        # actions
        ({"actions": {"alert": {}}}, ["actions", "expected a list", "- alert:"]),
        ({"actions": [{}]}, ["actions[0]", "has no key", "exactly one"]),
        (
            {"actions": [{"alert": None, "webhook": "https://x.example"}]},
            ["actions[0]", "2 keys (alert, webhook)", "indented below it"],
        ),
        ({"actions": [{"page": {}}]}, ["actions[0]", "unknown action 'page'"]),
        ({"actions": ["retrian"]}, ["actions[0]", "Did you mean 'retrain'?"]),
        (
            {"actions": [{"evaluate": {}}, {"retrain": {}}]},
            ["actions[0].evaluate", "before any retrain", "Put a `- retrain"],
        ),
        (
            {"actions": ["alert", "alert", {"promote": {"alias": "champion"}}]},
            ["actions[2].promote", "before any retrain", "no challenger to promote"],
        ),
        ({"actions": [{"alert": {"timeout_s": 0}}]}, ["actions[0].alert.timeout_s", "more"]),
        ({"actions": [{"alert": {"retries": -1}}]}, ["actions[0].alert.retries", "0 or more"]),
        (
            {"actions": [{"alert": {"allow_private_addresses": "no"}}]},
            ["alert.allow_private_addresses", "true or false"],
        ),
        (
            {"actions": [{"alert": {"webhook": "ftp://files.example/x"}}]},
            ["actions[0].alert.webhook", "scheme 'ftp:'", "http:// or https:// URL"],
        ),
        (
            {"actions": [{"alert": {"webhook": "http://169.254.169.254/latest"}}]},
            ["actions[0].alert.webhook", "cloud metadata"],
        ),
        (
            {"actions": [{"alert": {"webhook": "http://10.1.2.3/hook"}}]},
            ["actions[0].alert.webhook", "a private address"],
        ),
        ({"actions": ["retrain", {"evaluate": {"metric": "auc"}}]}, ["evaluate.metric", "roc"]),
        (
            {"actions": ["retrain", {"evaluate": {"min_improvement": -0.1}}]},
            ["actions[1].evaluate.min_improvement", "0 or more"],
        ),
        ({"actions": [{"retrain": {"params": [1]}}]}, ["actions[0].retrain.params", "mapping"]),
        ({"actions": [{"retrain": {"pipeline": 3}}]}, ["actions[0].retrain.pipeline", "text"]),
        (
            {"actions": ["retrain", {"promote": {"alias": "latest"}}]},
            ["actions[1].promote.alias", "reserved"],
        ),
    ],
)
def test_a_wrong_key_or_value_is_named_with_its_fix(data, names):
    with pytest.raises(ConfigError) as caught:
        parse_monitoring_config(data)
    text = caught.value.describe()
    assert text.startswith("conf/base/monitoring.yml")
    assert "\nhint: " in text
    for name in names:
        assert name in text


def test_a_private_webhook_is_read_when_allowed():
    config = parse_monitoring_config(
        {"actions": [{"alert": {"webhook": "http://10.1.2.3/h", "allow_private_addresses": True}}]}
    )
    assert config.actions[0] == AlertAction("http://10.1.2.3/h", None, 5.0, 2, True)


def test_evaluate_and_promote_after_a_retrain_are_accepted():
    config = parse_monitoring_config({"actions": ["retrain", "evaluate", "promote", "alert"]})
    assert [action.kind for action in config.actions] == [
        "retrain",
        "evaluate",
        "promote",
        "alert",
    ]
    assert config.actions[1] == EvaluateAction(None, 0.0, 100)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        ("1d12h", timedelta(hours=36)),
        ("2h0m5s", timedelta(seconds=7205)),
        (" 5m ", timedelta(minutes=5)),
        (3600, timedelta(hours=1)),
        (0.25, timedelta(milliseconds=250)),
    ],
)
def test_durations_are_read(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "h", "1.5h", "30m1h", "1h1h", "15", "1 h", "5M", "1w", "-1h", -3, None, [1], True]
)
def test_a_malformed_duration_names_the_value_and_gives_examples(text):
    with pytest.raises(ConfigError) as caught:
        parse_duration(text, where="--window")
    assert caught.value.message.startswith("--window: ")
    assert repr(text) in caught.value.message
    assert "90s, 15m, 1h, 24h, 7d or 1h30m" in caught.value.hint


def test_zero_is_refused_unless_allowed():
    with pytest.raises(ConfigError, match="more than 0"):
        parse_duration("0s")
    assert parse_duration(0, allow_zero=True) == timedelta(0)
    with pytest.raises(ConfigError, match="too long"):
        parse_duration("99999999999d")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(hours=24), "24h"),
        (timedelta(days=7), "7d"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(hours=60), "2d12h"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(0), "0s"),
        (timedelta(minutes=-15), "-15m"),
    ],
)
def test_durations_are_formatted(delta, text):
    assert format_duration(delta) == text


@given(st.integers(min_value=1, max_value=10**9))
def test_a_formatted_duration_reads_back(seconds):
    delta = timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta


@given(st.text(max_size=12))
def test_any_text_is_a_duration_or_a_config_error(text):
    try:
        delta = parse_duration(text)
    except ConfigError as exc:
        assert exc.message.startswith(f"duration: {text!r}")
    else:
        assert delta > timedelta(0)


@pytest.mark.parametrize("every", ["1s", "5m", "90m", "1h", "8h", "12h", "24h", "1d", "2d", "7d"])
def test_every_divides_a_day_or_is_whole_days(every):
    assert parse_monitoring_config({"every": every}).every == parse_duration(every)


def test_rule_for_merges_the_column_rule_over_the_default_of_its_kind():
    config = parse_monitoring_config(
        {
            "defaults": {
                "numeric": {"method": "ks", "threshold": 0.01},
                "categorical": {"method": "psi", "threshold": 0.2},
            },
            "columns": {
                "age": {"method": "wasserstein", "threshold": 0.3},
                "income": {"method": "wasserstein"},
                "tenure": {"method": "ks"},
                "plan": {},
                "customer_id": {"ignore": True},
                "region": {"method": "chisquare", "threshold": 0.05},
            },
        }
    )
    # no rule: the kind's default
    assert config.rule_for("unknown", "numeric") == ColumnRule("ks", 0.01)
    assert config.rule_for("unknown", "categorical") == ColumnRule("psi", 0.2)
    # an own method and threshold win
    assert config.rule_for("age", "numeric") == ColumnRule("wasserstein", 0.3)
    # another method does not inherit a threshold meant for the default's method
    assert config.rule_for("income", "numeric") == ColumnRule("wasserstein", None)
    # the same method does
    assert config.rule_for("tenure", "numeric") == ColumnRule("ks", 0.01)
    assert config.rule_for("plan", "categorical") == ColumnRule("psi", 0.2)
    assert config.rule_for("customer_id", "numeric").ignore is True
    assert config.rule_for("region", "categorical") == ColumnRule("chisquare", 0.05)
    with pytest.raises(ConfigError) as caught:
        config.rule_for("tenure", "categorical")
    text = caught.value.describe()
    assert "columns.tenure.method: ks does not apply" in text
    assert "chisquare, ztest" in text
    with pytest.raises(ValueError, match="numeric"):
        config.rule_for("age", "text")


def test_automatic_defaults_leave_method_and_threshold_open():
    config = parse_monitoring_config({"columns": {"id": {"ignore": True}}})
    assert config.rule_for("age", "numeric") == ColumnRule(None, None, False)
    assert config.rule_for("id", "categorical") == ColumnRule(ignore=True)
