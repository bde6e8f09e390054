"""Reading ``serving.yml``: limits, logs, PII handling, CORS and tokens of the endpoint.

Every key is optional; a project without the file serves with the defaults below. Like
``governance.yml``, the file is read strictly: an unknown key is an error naming the key
path and the closest allowed key, because a typo such as ``auth_token:`` must not leave
the endpoint open. ``conf/<env>/serving.yml`` is merged over ``conf/base/serving.yml``::

    max_body_mb: 64            # larger bodies get 413
    max_rows: 100000           # more rows in one request get 413 (use `shipyard predict`)
    body_timeout_s: 30         # a client slower than this to send its body gets 408
    watch_interval_s: 2        # how often the served alias is checked for a new version
    access_log: true           # one JSON line per request on the shipyard.serving.access logger
    cors_origins: []           # origins allowed to call from a browser; none by default
    auth_tokens: []            # credentials entries holding {token: ...}; empty = no check
    prediction_log:
      dataset: prediction_log  # the catalog entry whose filepath holds the log
      sample_rate: 1.0         # the share of requests kept
      flush_interval_s: 1.0
    feedback_log:
      dataset: feedback_log
    pii:
      mode: drop               # drop | mask | hash columns the catalog tags as PII
      salt_credentials: pii_salt  # for hash: the credentials entry holding {salt: ...}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.governance._config import ConfigPath

__all__ = ["PII_MODES", "LogConfig", "PiiConfig", "ServingConfig", "parse_serving_config"]

DEFAULT_SOURCE = "conf/base/serving.yml"
_DOCS = "docs/serving.md"
_TOP_KEYS = (
    "max_body_mb",
    "max_rows",
    "body_timeout_s",
    "watch_interval_s",
    "access_log",
    "cors_origins",
    "auth_tokens",
    "prediction_log",
    "feedback_log",
    "pii",
)
#: How columns the catalog tags as PII are written to the prediction log.
PII_MODES = ("drop", "mask", "hash")


@dataclass(frozen=True)
class LogConfig:
    """Where one of the endpoint's logs goes: ``dataset`` names a catalog entry."""

    dataset: str
    enabled: bool = True
    sample_rate: float = 1.0
    flush_interval_s: float = 1.0


@dataclass(frozen=True)
class PiiConfig:
    """How columns tagged as PII in the catalog are written to the prediction log."""

    mode: str = "drop"
    salt_credentials: str | None = None


@dataclass(frozen=True)
class ServingConfig:
    """The endpoint's settings; see the module docstring for each key."""

    max_body_bytes: int = 64 * 1024 * 1024
    max_rows: int = 100_000
    body_timeout_s: float = 30.0
    watch_interval_s: float = 2.0
    access_log: bool = True
    cors_origins: tuple[str, ...] = ()
    auth_tokens: tuple[str, ...] = ()
    prediction_log: LogConfig = field(default_factory=lambda: LogConfig("prediction_log"))
    feedback_log: LogConfig = field(default_factory=lambda: LogConfig("feedback_log"))
    pii: PiiConfig = field(default_factory=PiiConfig)


def parse_serving_config(
    data: Mapping[str, Any] | None, *, source: str = DEFAULT_SOURCE
) -> ServingConfig:
    """The settings in the merged ``serving.yml`` mapping; ``None`` or ``{}`` gives the
    defaults. A wrong key or value is a ConfigError naming its key path."""
    root = ConfigPath(source, docs=_DOCS)
    data = root.mapping(data or {}, hint="Give serving.yml top-level keys: " + ", ".join(_TOP_KEYS))
    root.check_keys(data, _TOP_KEYS)
    defaults = ServingConfig()
    number = _numbers(root, data)
    return ServingConfig(
        max_body_bytes=int(number("max_body_mb", defaults.max_body_bytes / 2**20) * 2**20),
        max_rows=int(number("max_rows", defaults.max_rows, whole=True)),
        body_timeout_s=number("body_timeout_s", defaults.body_timeout_s),
        watch_interval_s=number("watch_interval_s", defaults.watch_interval_s),
        access_log=_flag(root.key("access_log"), data.get("access_log", True)),
        cors_origins=_strings(root.key("cors_origins"), data.get("cors_origins")),
        auth_tokens=_strings(root.key("auth_tokens"), data.get("auth_tokens")),
        prediction_log=_log(root, data, "prediction_log"),
        feedback_log=_log(root, data, "feedback_log"),
        pii=_pii(root.key("pii"), data.get("pii")),
    )


def _numbers(root: ConfigPath, data: Mapping[str, Any]) -> Any:
    def number(key: str, default: float, *, whole: bool = False) -> float:
        value = data.get(key, default)
        checked = root.key(key).non_negative(value, whole=whole, hint=f"Set {key} to a number.")
        if checked == 0:
            raise root.key(key).error(
                "must be more than 0.", hint=f"Remove {key} to use the default ({default:g})."
            )
        return checked

    return number


def _flag(path: ConfigPath, value: Any) -> bool:
    if not isinstance(value, bool):
        raise path.error(f"expected true or false, got {value!r}.", hint="Write true or false.")
    return value


def _strings(path: ConfigPath, value: Any) -> tuple[str, ...]:
    items = path.items(value, hint="Write a list of names, e.g. [web_app].")
    return tuple(
        path.item(position).string(item, hint="Write each entry as text.")
        for position, item in enumerate(items)
    )


def _log(root: ConfigPath, data: Mapping[str, Any], key: str) -> LogConfig:
    path, value = root.key(key), data.get(key)
    if value is False:
        return LogConfig(key, enabled=False)
    entry = path.mapping(value or {}, hint="Write a mapping, or false to turn the log off.")
    path.check_keys(entry, ("dataset", "enabled", "sample_rate", "flush_interval_s"))
    sample_rate = path.key("sample_rate").non_negative(
        entry.get("sample_rate", 1.0), hint="Write the share of requests to keep, 0 to 1."
    )
    if sample_rate > 1:
        raise path.key("sample_rate").error(
            f"is {sample_rate}, more than 1.", hint="Write the share of requests to keep, 0 to 1."
        )
    return LogConfig(
        dataset=path.key("dataset").string(entry.get("dataset", key), hint="Name a catalog entry."),
        enabled=_flag(path.key("enabled"), entry.get("enabled", True)),
        sample_rate=float(sample_rate),
        flush_interval_s=_numbers(path, entry)("flush_interval_s", 1.0),
    )


def _pii(path: ConfigPath, value: Any) -> PiiConfig:
    entry = path.mapping(value or {}, hint="Write a mapping with mode: drop, mask or hash.")
    path.check_keys(entry, ("mode", "salt_credentials"))
    mode = path.key("mode").string(entry.get("mode", "drop"), hint="Write drop, mask or hash.")
    if mode not in PII_MODES:
        raise path.key("mode").error(
            f"unknown mode {mode!r}.", hint=f"Write one of: {', '.join(PII_MODES)}."
        )
    salt = entry.get("salt_credentials")
    if salt is not None:
        salt = path.key("salt_credentials").string(salt, hint="Name a credentials entry.")
    if mode == "hash" and salt is None:
        raise path.key("salt_credentials").error(
            "is needed when mode is hash.",
            hint="Name a credentials entry holding {salt: ...} in conf/local/credentials.yml; "
            "without a secret salt, hashed values can be guessed back.",
        )
    return PiiConfig(mode=mode, salt_credentials=salt)
