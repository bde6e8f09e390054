"""serving.yml is read strictly: defaults, every key, and errors that name the key."""

from __future__ import annotations

import pytest

from shipyard.errors import ConfigError
from shipyard.serving._config import LogConfig, PiiConfig, ServingConfig, parse_serving_config


def test_no_file_gives_the_defaults():
    assert parse_serving_config(None) == ServingConfig()
    assert parse_serving_config({}).max_body_bytes == 64 * 2**20


def test_every_key_is_read():
    config = parse_serving_config(
        {
            "max_body_mb": 1,
            "max_rows": 500,
            "body_timeout_s": 2.5,
            "watch_interval_s": 0.5,
            "access_log": False,
            "cors_origins": ["https://app.example"],
            "auth_tokens": ["web"],
            "prediction_log": {"dataset": "preds", "sample_rate": 0.25, "flush_interval_s": 3},
            "feedback_log": False,
            "pii": {"mode": "hash", "salt_credentials": "pii_salt"},
        }
    )
    assert config.max_body_bytes == 2**20 and config.max_rows == 500
    assert config.body_timeout_s == 2.5 and config.watch_interval_s == 0.5
    assert config.access_log is False
    assert config.cors_origins == ("https://app.example",) and config.auth_tokens == ("web",)
    assert config.prediction_log == LogConfig("preds", True, 0.25, 3)
    assert config.feedback_log.enabled is False
    assert config.pii == PiiConfig("hash", "pii_salt")


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"auth_token": ["web"]}, ["auth_token", "auth_tokens"]),
        ({"max_rows": -1}, ["max_rows", "0 or more"]),
        ({"max_rows": 1.5}, ["max_rows", "whole number"]),
        ({"body_timeout_s": 0}, ["body_timeout_s", "more than 0"]),
        ({"access_log": "yes"}, ["access_log", "true or false"]),
        ({"cors_origins": "https://a"}, ["cors_origins", "list"]),
        ({"prediction_log": {"sample_rate": 2}}, ["prediction_log.sample_rate", "0 to 1"]),
        ({"prediction_log": {"datset": "x"}}, ["prediction_log", "datset", "dataset"]),
        ({"pii": {"mode": "scramble"}}, ["pii.mode", "drop, mask, hash"]),
        ({"pii": {"mode": "hash"}}, ["pii.salt_credentials", "salt"]),
        (["max_rows"], ["serving.yml", "mapping"]),
    ],
)
def test_a_wrong_key_or_value_is_named(data, names):
    with pytest.raises(ConfigError) as caught:
        parse_serving_config(data)
    text = caught.value.describe()
    for name in names:
        assert name in text
