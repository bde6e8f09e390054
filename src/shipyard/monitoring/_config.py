"""Reading ``monitoring.yml``: windows, drift rules, the performance policy and actions.

Every key is optional; a project without the file is monitored with the defaults below.
Like ``serving.yml`` and ``governance.yml`` the file is read strictly: an unknown key is an
error naming its key path and the closest allowed key, because a typo must not pass
silently (``pipline:`` would retrain the default pipeline, ``trigers:`` would act on every
drifted window). ``conf/<env>/monitoring.yml`` is merged over ``conf/base/monitoring.yml``
(mappings key by key; a list such as ``actions`` is replaced as a whole)::

    window: 24h              # the window `shipyard monitor` analyses by default
    every: 1h                # the --watch schedule: windows end on multiples of this (UTC)
    min_rows: 100            # fewer rows in a window: "not enough data", never a false alarm
    drift_share: 0.5         # dataset drift when at least this share of input columns drifted
    defaults:                # the method for a kind of column without a rule of its own;
      numeric: {method: null, threshold: null}      # null = chosen by the data's size
      categorical: {method: null, threshold: null}
    columns:                 # per-column rules
      tenure_months: {method: ks, threshold: 0.01}
      customer_id: {ignore: true}
    reference_sample: 0      # raw reference values kept for exact tests (never of PII
                             # columns); 0 = profiles only
    sources:
      predictions: prediction_log   # catalog entries of the endpoint's logs
      feedback: feedback_log
    performance:
      metrics: []            # empty = every metric of the task
      tolerance: 0.02        # degraded when a metric's CI upper bound is below its baseline
                             # minus this (mae, rmse, log_loss: lower bound above baseline plus)
      min_labels: 100        # fewer labelled rows: no performance verdict
      confidence: 0.95       # of the bootstrap confidence interval
      resamples: 1000        # bootstrap resamples
    trigger: [dataset_drift, performance]   # what makes a window act; [] = never act
    cooldown: 24h            # after actions ran for a window, later triggering windows only
                             # alert until this has passed; 0 = no cooldown
    actions: []              # run in order when a window triggers; one key per item:
      # - alert: {webhook: null, headers_credentials: null, timeout_s: 5, retries: 2,
      #           allow_private_addresses: false}
      #     webhook: null = log only. headers_credentials: a credentials entry whose keys
      #     and values become HTTP headers (secrets stay in conf/local/credentials.yml).
      # - retrain: {pipeline: __default__, env: null, params: {}}
      # - evaluate: {metric: null, min_improvement: 0.0, min_rows: 100}
      #     metric null = roc_auc for classification, rmse for regression
      # - promote: {alias: champion}
      # A bare name (`- alert`) is the action with its defaults.

Durations are written ``90s``, ``15m``, ``1h``, ``24h``, ``7d`` or ``1h30m`` (units in
that order, each at most once); a bare number is seconds.

``every`` must divide a day (``15m``, ``1h``, ``8h``) or be a whole number of days
(``1d``, ``7d``). Windows end on multiples of ``every`` counted from 1970-01-01 00:00 UTC,
so with these values every window starts at the same clock time each day (or at midnight
UTC); ``every: 7h`` would start windows at a different hour each day and is refused.

Drift methods: ``ks``, ``chisquare`` and ``ztest`` are tests, whose threshold is a
p-value (drift when ``p < threshold``, so it must be below 1); ``psi``, ``wasserstein``,
``jensenshannon`` and ``hellinger`` are distances (drift when ``distance >= threshold``).
A ``threshold`` therefore needs a ``method`` beside it: the automatic choice changes with
the data's size, and a p-value threshold means nothing for a distance. ``ks`` and
``wasserstein`` apply to numeric columns only, the others to both (numeric columns by
their reference bins; :data:`METHODS_BY_KIND`).

``evaluate`` and ``promote`` need a ``retrain`` earlier in the list: the challenger they
compare and promote is the model that retraining produced.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, ClassVar

from shipyard.errors import ConfigError, ModelError, UnsafeUrlError, did_you_mean
from shipyard.governance._config import ConfigPath
from shipyard.models._names import normalize_alias
from shipyard.monitoring._webhook import check_webhook_url
from shipyard.monitoring.stats import CLASSIFICATION_METRICS, METHODS, REGRESSION_METRICS

__all__ = [
    "ACTION_KINDS",
    "DRIFT_METHODS",
    "METHODS_BY_KIND",
    "METRICS",
    "P_VALUE_METHODS",
    "TRIGGERS",
    "Action",
    "AlertAction",
    "ColumnRule",
    "EvaluateAction",
    "MonitoringConfig",
    "PerformancePolicy",
    "PromoteAction",
    "RetrainAction",
    "format_duration",
    "parse_duration",
    "parse_monitoring_config",
]

DEFAULT_SOURCE = "conf/base/monitoring.yml"
_DOCS = "docs/monitoring.md"
_TOP_KEYS = (
    "window",
    "every",
    "min_rows",
    "drift_share",
    "defaults",
    "columns",
    "reference_sample",
    "sources",
    "performance",
    "trigger",
    "cooldown",
    "actions",
)
#: Every drift method a rule may name (:data:`shipyard.monitoring.stats.METHODS`).
DRIFT_METHODS = tuple(METHODS)
#: Methods whose threshold is a p-value (drift when p < threshold); the others are distances.
P_VALUE_METHODS = tuple(name for name, method in METHODS.items() if method.measure == "p_value")
#: The methods that apply to each kind of column.
METHODS_BY_KIND: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        kind: tuple(name for name, method in METHODS.items() if kind in method.kinds)
        for kind in ("numeric", "categorical")
    }
)
#: Every performance metric a policy or an evaluate action may name.
METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS
#: What can make a window act.
TRIGGERS = ("dataset_drift", "performance")
#: The actions, in the order they usually appear.
ACTION_KINDS = ("alert", "retrain", "evaluate", "promote")

_DAY = timedelta(days=1)
_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_DURATION_HINT = (
    "Write a number and a unit: 90s, 15m, 1h, 24h, 7d or 1h30m (units d, h, m, s in that "
    "order); a bare number is seconds."
)


# --- durations -------------------------------------------------------------------------------


def parse_duration(
    text: str | int | float, *, where: str = "duration", allow_zero: bool = False
) -> timedelta:
    """The duration ``text`` names: ``"90s"``, ``"15m"``, ``"1h30m"``, ``"7d"``, or a number
    of seconds. A ConfigError naming ``where`` and the value for anything else, and for 0
    unless ``allow_zero``.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    delta, problem = _read_duration(text, allow_zero=allow_zero)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}", hint=_DURATION_HINT)
    return delta


def format_duration(delta: timedelta) -> str:
    """``delta`` the way monitoring.yml writes it; :func:`parse_duration` reads it back.

    Days are used from two days on, so a day reads as the usual ``24h``:

    >>> format_duration(timedelta(hours=24)), format_duration(timedelta(days=7))
    ('24h', '7d')
    >>> format_duration(timedelta(minutes=90)), format_duration(timedelta(seconds=1.5))
    ('1h30m', '1.5s')
    """
    if delta < timedelta(0):
        return "-" + format_duration(-delta)
    micros = delta // timedelta(microseconds=1)
    seconds, fraction = divmod(micros, 1_000_000)
    parts = []
    for unit, size in _UNITS[:-1]:
        if unit == "d" and seconds < 2 * 86_400:
            continue
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    if fraction:
        parts.append(f"{seconds}.{fraction:06d}".rstrip("0") + "s")
    elif seconds or not parts:
        parts.append(f"{seconds}s")
    return "".join(parts)


def _read_duration(value: Any, *, allow_zero: bool) -> tuple[timedelta, str | None]:
    """The duration and ``None``, or a zero duration and what is wrong with ``value``."""
    zero = timedelta(0)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return zero, f"expected a duration, got {value!r}."
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if not value.strip() or match is None:
            return zero, f"{value!r} is not a duration."
        seconds: float = sum(
            int(count) * size
            for count, (_, size) in zip(match.groups(), _UNITS, strict=True)
            if count
        )
    elif not math.isfinite(value) or value < 0:
        return zero, f"{value!r} is not a duration of 0 seconds or more."
    else:
        seconds = value
    try:
        delta = timedelta(seconds=seconds)
    except OverflowError:
        return zero, f"{value!r} is too long a duration."
    if delta == zero and not allow_zero:
        return zero, f"{value!r} is no time at all; it must be more than 0."
    return delta, None


# --- the values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnRule:
    """How one column (or one kind of column) is compared: ``method`` None = automatic,
    ``threshold`` None = the method's default, ``ignore`` = not compared at all."""

    method: str | None = None
    threshold: float | None = None
    ignore: bool = False


@dataclass(frozen=True)
class PerformancePolicy:
    """When a window's performance counts as degraded; see the module docstring."""

    metrics: tuple[str, ...] = ()
    tolerance: float = 0.02
    min_labels: int = 100
    confidence: float = 0.95
    resamples: int = 1000


@dataclass(frozen=True)
class AlertAction:
    """Post the window's result to ``webhook`` (``None``: log it only)."""

    kind: ClassVar[str] = "alert"
    webhook: str | None = None
    headers_credentials: str | None = None
    timeout_s: float = 5.0
    retries: int = 2
    allow_private_addresses: bool = False


@dataclass(frozen=True)
class RetrainAction:
    """Run ``pipeline`` (in ``env``, with ``params`` over the project's parameters)."""

    kind: ClassVar[str] = "retrain"
    pipeline: str = "__default__"
    env: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class EvaluateAction:
    """Compare the retrained challenger with the served model on recent labelled rows."""

    kind: ClassVar[str] = "evaluate"
    metric: str | None = None
    min_improvement: float = 0.0
    min_rows: int = 100


@dataclass(frozen=True)
class PromoteAction:
    """Point ``alias`` at the retrained challenger (through the registry's gates)."""

    kind: ClassVar[str] = "promote"
    alias: str = "champion"


Action = AlertAction | RetrainAction | EvaluateAction | PromoteAction


def _no_rules() -> Mapping[str, ColumnRule]:
    return MappingProxyType({kind: ColumnRule() for kind in METHODS_BY_KIND})


@dataclass(frozen=True)
class MonitoringConfig:
    """The monitoring settings; see the module docstring for each key. ``source`` is the
    file named in errors that :meth:`rule_for` raises."""

    window: timedelta = timedelta(hours=24)
    every: timedelta = timedelta(hours=1)
    min_rows: int = 100
    drift_share: float = 0.5
    defaults: Mapping[str, ColumnRule] = field(default_factory=_no_rules)
    columns: Mapping[str, ColumnRule] = field(default_factory=lambda: MappingProxyType({}))
    reference_sample: int = 0
    predictions_dataset: str = "prediction_log"
    feedback_dataset: str = "feedback_log"
    performance: PerformancePolicy = field(default_factory=PerformancePolicy)
    trigger: tuple[str, ...] = TRIGGERS
    cooldown: timedelta = timedelta(hours=24)
    actions: tuple[Action, ...] = ()
    source: str = field(default=DEFAULT_SOURCE, compare=False)

    def rule_for(self, column: str, kind: str) -> ColumnRule:
        """The rule of ``column`` merged over the default of its ``kind`` ("numeric" or
        "categorical"). A column naming its own method keeps its own threshold (the
        default's threshold belongs to the default's method); a ConfigError if that
        method does not apply to ``kind``.

        >>> config = parse_monitoring_config({"columns": {"age": {"method": "ks"}}})
        >>> config.rule_for("age", "numeric")
        ColumnRule(method='ks', threshold=None, ignore=False)
        """
        if kind not in METHODS_BY_KIND:
            raise ValueError(f"kind must be 'numeric' or 'categorical', not {kind!r}")
        default = self.defaults[kind]
        rule = self.columns.get(column)
        if rule is None:
            return default
        if rule.ignore:
            return rule
        if rule.method is None:
            return default
        if rule.method not in METHODS_BY_KIND[kind]:
            path = ConfigPath(self.source, docs=_DOCS).key("columns").key(column).key("method")
            raise path.error(
                f"{rule.method} does not apply to '{column}', a {kind} column.",
                hint=f"For {kind} columns use one of: {', '.join(METHODS_BY_KIND[kind])}.",
            )
        threshold = rule.threshold
        if threshold is None and rule.method == default.method:
            threshold = default.threshold
        return ColumnRule(rule.method, threshold)


# --- parsing ---------------------------------------------------------------------------------


def parse_monitoring_config(
    data: Mapping[str, Any] | None, *, source: str = DEFAULT_SOURCE
) -> MonitoringConfig:
    """The settings in the merged ``monitoring.yml`` mapping; ``None`` or ``{}`` gives the
    defaults. A wrong key or value is a ConfigError naming its key path and the fix."""
    root = ConfigPath(source, docs=_DOCS)
    data = root.mapping(
        data or {}, hint="Give monitoring.yml top-level keys: " + ", ".join(_TOP_KEYS)
    )
    root.check_keys(data, _TOP_KEYS)
    defaults = MonitoringConfig()
    trigger = _trigger(root.key("trigger"), data.get("trigger", list(TRIGGERS)))
    actions = _actions(root.key("actions"), data.get("actions"))
    if actions and not trigger:
        raise root.key("trigger").error(
            "is empty, so the actions would never run.",
            hint=f"Name what makes a window act ({', '.join(TRIGGERS)}), or remove the actions.",
        )
    return MonitoringConfig(
        window=_duration(root.key("window"), data.get("window", defaults.window)),
        every=_every(root.key("every"), data.get("every", defaults.every)),
        min_rows=_count(root.key("min_rows"), data.get("min_rows", defaults.min_rows)),
        drift_share=_share(
            root.key("drift_share"), data.get("drift_share", defaults.drift_share), one=True
        ),
        defaults=_defaults(root.key("defaults"), data.get("defaults")),
        columns=_columns(root.key("columns"), data.get("columns")),
        reference_sample=int(
            root.key("reference_sample").non_negative(
                data.get("reference_sample", 0),
                whole=True,
                hint="Write how many raw reference rows to keep, or 0 for profiles only.",
            )
        ),
        predictions_dataset=_source(root, data, "predictions", defaults.predictions_dataset),
        feedback_dataset=_source(root, data, "feedback", defaults.feedback_dataset),
        performance=_performance(root.key("performance"), data.get("performance")),
        trigger=trigger,
        cooldown=_duration(
            root.key("cooldown"), data.get("cooldown", defaults.cooldown), allow_zero=True
        ),
        actions=actions,
        source=source,
    )


def _timedelta_or_value(value: Any) -> Any:
    # The defaults are timedeltas; the parser reads seconds.
    return value.total_seconds() if isinstance(value, timedelta) else value


def _duration(path: ConfigPath, value: Any, *, allow_zero: bool = False) -> timedelta:
    delta, problem = _read_duration(_timedelta_or_value(value), allow_zero=allow_zero)
    if problem is not None:
        raise path.error(problem, hint=_DURATION_HINT)
    return delta


def _every(path: ConfigPath, value: Any) -> timedelta:
    every = _duration(path, value)
    if _DAY % every and every % _DAY:
        raise path.error(
            f"{format_duration(every)} neither divides a day nor is a whole number of days, "
            "so windows would start at a different time each day.",
            hint="Use a duration that divides 24h (5m, 15m, 1h, 6h, 8h, 12h) or whole days "
            "(1d, 7d).",
        )
    return every


def _number(path: ConfigPath, value: Any, *, hint: str) -> float:
    return float(path.non_negative(value, hint=hint))


def _positive(path: ConfigPath, value: Any, *, hint: str) -> float:
    number = _number(path, value, hint=hint)
    if number == 0:
        raise path.error("must be more than 0.", hint=hint)
    return number


def _count(path: ConfigPath, value: Any, *, hint: str = "Write a whole number of rows.") -> int:
    count = int(path.non_negative(value, whole=True, hint=hint))
    if count == 0:
        raise path.error("must be 1 or more.", hint=hint)
    return count


def _share(path: ConfigPath, value: Any, *, one: bool) -> float:
    """A share in (0, 1], or in (0, 1) when ``one`` is false."""
    interval = "more than 0 and at most 1" if one else "between 0 and 1 (both excluded)"
    hint = f"Write a number {interval}, e.g. 0.5."
    share = _number(path, value, hint=hint)
    if share == 0 or share > 1 or (share == 1 and not one):
        raise path.error(f"is {share:g}; it must be {interval}.", hint=hint)
    return share


def _optional_string(path: ConfigPath, value: Any, *, hint: str) -> str | None:
    return None if value is None else path.string(value, hint=hint)


def _flag(path: ConfigPath, value: Any) -> bool:
    if not isinstance(value, bool):
        raise path.error(f"expected true or false, got {value!r}.", hint="Write true or false.")
    return value


def _choice(path: ConfigPath, value: Any, choices: tuple[str, ...], what: str) -> str:
    hint = f"Write one of: {', '.join(choices)}."
    name = path.string(value, hint=hint)
    if name not in choices:
        raise path.error(f"unknown {what} '{name}'." + did_you_mean(name, choices), hint=hint)
    return name


def _names(path: ConfigPath, value: Any, choices: tuple[str, ...], what: str) -> tuple[str, ...]:
    items = path.items(value, hint=f"Write a list, e.g. [{', '.join(choices[:2])}].")
    names: list[str] = []
    for index, item in enumerate(items):
        name = _choice(path.item(index), item, choices, what)
        if name in names:
            raise path.item(index).error(f"'{name}' is listed twice.", hint="List each name once.")
        names.append(name)
    return tuple(names)


def _trigger(path: ConfigPath, value: Any) -> tuple[str, ...]:
    return _names(path, value, TRIGGERS, "trigger")


def _rule(path: ConfigPath, value: Any, *, kind: str | None) -> ColumnRule:
    """A column's rule (``kind`` None) or the default rule of a kind of column."""
    keys = ("method", "threshold") if kind else ("method", "threshold", "ignore")
    entry = path.mapping(
        {} if value is None else value,
        hint="Write a mapping, e.g. {method: ks, threshold: 0.01}"
        + ("." if kind else " or {ignore: true}."),
    )
    path.check_keys(entry, keys)
    method = entry.get("method")
    allowed = METHODS_BY_KIND[kind] if kind else DRIFT_METHODS
    if method is not None:
        method = _choice(path.key("method"), method, allowed, "method")
    threshold = entry.get("threshold")
    if threshold is not None:
        threshold = _threshold(path, method, threshold)
    ignore = _flag(path.key("ignore"), entry.get("ignore", False))
    if ignore and (method is not None or threshold is not None):
        raise path.error(
            "has ignore: true beside a method or threshold.",
            hint="An ignored column is not compared: remove method and threshold, or ignore.",
        )
    return ColumnRule(method, threshold, ignore)


def _threshold(path: ConfigPath, method: str | None, value: Any) -> float:
    where = path.key("threshold")
    if method is None:
        raise where.error(
            "is set without a method.",
            hint="Name the method the threshold is for (e.g. method: ks): the automatic "
            "choice changes with the data's size, and tests take a p-value threshold "
            "where distances take a distance.",
        )
    if method in P_VALUE_METHODS:
        hint = f"{method} is a test: write the p-value below which a column drifted, e.g. 0.05."
        threshold = _number(where, value, hint=hint)
        if not 0 < threshold < 1:
            raise where.error(
                f"is {threshold:g}; a p-value threshold is between 0 and 1.", hint=hint
            )
        return threshold
    hint = f"{method} is a distance: write the distance from which a column drifted, e.g. 0.1."
    return _positive(where, value, hint=hint)


def _defaults(path: ConfigPath, value: Any) -> Mapping[str, ColumnRule]:
    entry = path.mapping({} if value is None else value, hint="Write numeric: and categorical:.")
    path.check_keys(entry, METHODS_BY_KIND)
    return MappingProxyType(
        {kind: _rule(path.key(kind), entry.get(kind), kind=kind) for kind in METHODS_BY_KIND}
    )


def _columns(path: ConfigPath, value: Any) -> Mapping[str, ColumnRule]:
    entry = path.mapping(
        {} if value is None else value,
        hint="Write one rule per column, e.g. columns: {age: {method: ks}}.",
    )
    return MappingProxyType(
        {column: _rule(path.key(column), rule, kind=None) for column, rule in entry.items()}
    )


def _source(root: ConfigPath, data: Mapping[str, Any], key: str, default: str) -> str:
    path = root.key("sources")
    sources = path.mapping(
        {} if data.get("sources") is None else data["sources"],
        hint="Write predictions: and feedback: with catalog entry names.",
    )
    path.check_keys(sources, ("predictions", "feedback"))
    return path.key(key).string(sources.get(key, default), hint="Name a catalog entry.")


def _performance(path: ConfigPath, value: Any) -> PerformancePolicy:
    entry = path.mapping(
        {} if value is None else value, hint="Write a mapping, e.g. {tolerance: 0.02}."
    )
    path.check_keys(entry, ("metrics", "tolerance", "min_labels", "confidence", "resamples"))
    defaults = PerformancePolicy()
    return PerformancePolicy(
        metrics=_names(path.key("metrics"), entry.get("metrics"), METRICS, "metric"),
        tolerance=_number(
            path.key("tolerance"),
            entry.get("tolerance", defaults.tolerance),
            hint="Write how far below its baseline a metric may fall, e.g. 0.02.",
        ),
        min_labels=_count(
            path.key("min_labels"),
            entry.get("min_labels", defaults.min_labels),
            hint="Write the fewest labelled rows that give a verdict, e.g. 100.",
        ),
        confidence=_share(
            path.key("confidence"), entry.get("confidence", defaults.confidence), one=False
        ),
        resamples=_count(
            path.key("resamples"),
            entry.get("resamples", defaults.resamples),
            hint="Write how many bootstrap resamples to draw, e.g. 1000.",
        ),
    )


# --- actions ---------------------------------------------------------------------------------

_ACTION_HINT = (
    "Write one action per item with its settings indented below it, e.g. "
    "`- alert: {webhook: https://...}` or `- retrain: {pipeline: training}`."
)


def _actions(path: ConfigPath, value: Any) -> tuple[Action, ...]:
    actions: list[Action] = []
    for index, item in enumerate(path.items(value, hint=_ACTION_HINT)):
        where = path.item(index)
        if isinstance(item, str):
            name, settings = item, None
        else:
            entry = where.mapping(item, hint=_ACTION_HINT)
            if len(entry) != 1:
                found = f"{len(entry)} keys ({', '.join(entry)})" if entry else "no key"
                raise where.error(
                    f"has {found}; an action has exactly one: its name.", hint=_ACTION_HINT
                )
            ((name, settings),) = entry.items()
        if name not in ACTION_KINDS:
            raise where.error(
                f"unknown action '{name}'." + did_you_mean(name, ACTION_KINDS),
                hint=f"Actions: {', '.join(ACTION_KINDS)} ({_DOCS}).",
            )
        if name in ("evaluate", "promote") and not any(
            action.kind == "retrain" for action in actions
        ):
            raise where.key(name).error(
                f"comes before any retrain action: there is no challenger to {name}.",
                hint=f"Put a `- retrain: {{...}}` item before `- {name}`: the model "
                f"to {name} is the one retraining produces.",
            )
        actions.append(_ACTION_PARSERS[name](where.key(name), settings))
    return tuple(actions)


def _settings(path: ConfigPath, value: Any, keys: tuple[str, ...]) -> Mapping[str, Any]:
    entry = path.mapping(
        {} if value is None else value, hint=f"Write a mapping with keys: {', '.join(keys)}."
    )
    path.check_keys(entry, keys)
    return entry


def _alert(path: ConfigPath, value: Any) -> AlertAction:
    keys = ("webhook", "headers_credentials", "timeout_s", "retries", "allow_private_addresses")
    entry = _settings(path, value, keys)
    defaults = AlertAction()
    allow = _flag(
        path.key("allow_private_addresses"),
        entry.get("allow_private_addresses", defaults.allow_private_addresses),
    )
    webhook = _optional_string(
        path.key("webhook"), entry.get("webhook"), hint="Write an https:// URL, or null."
    )
    if webhook is not None:
        try:
            # Scheme and literal addresses now; names are resolved when posting.
            check_webhook_url(webhook, allow_private_addresses=allow, resolve=False)
        except UnsafeUrlError as exc:
            raise path.key("webhook").error(exc.message, hint=exc.hint) from None
    return AlertAction(
        webhook=webhook,
        headers_credentials=_optional_string(
            path.key("headers_credentials"),
            entry.get("headers_credentials"),
            hint="Name a credentials entry of conf/local/credentials.yml, or null.",
        ),
        timeout_s=_positive(
            path.key("timeout_s"),
            entry.get("timeout_s", defaults.timeout_s),
            hint="Write the seconds one attempt may take, e.g. 5.",
        ),
        retries=int(
            path.key("retries").non_negative(
                entry.get("retries", defaults.retries),
                whole=True,
                hint="Write how many times a failed post is tried again, e.g. 2.",
            )
        ),
        allow_private_addresses=allow,
    )


def _retrain(path: ConfigPath, value: Any) -> RetrainAction:
    entry = _settings(path, value, ("pipeline", "env", "params"))
    params = path.key("params").mapping(
        {} if entry.get("params") is None else entry["params"],
        hint="Write parameter overrides as a mapping, e.g. {model: {C: 0.5}}.",
    )
    return RetrainAction(
        pipeline=path.key("pipeline").string(
            entry.get("pipeline", "__default__"), hint="Name a pipeline of the project."
        ),
        env=_optional_string(
            path.key("env"), entry.get("env"), hint="Name a conf/<env> folder, or null."
        ),
        params=MappingProxyType(dict(params)),
    )


def _evaluate(path: ConfigPath, value: Any) -> EvaluateAction:
    entry = _settings(path, value, ("metric", "min_improvement", "min_rows"))
    metric = entry.get("metric")
    defaults = EvaluateAction()
    return EvaluateAction(
        metric=None if metric is None else _choice(path.key("metric"), metric, METRICS, "metric"),
        min_improvement=_number(
            path.key("min_improvement"),
            entry.get("min_improvement", defaults.min_improvement),
            hint="Write by how much the challenger must beat the served model, e.g. 0.01.",
        ),
        min_rows=_count(
            path.key("min_rows"),
            entry.get("min_rows", defaults.min_rows),
            hint="Write the fewest labelled rows to evaluate on, e.g. 100.",
        ),
    )


def _promote(path: ConfigPath, value: Any) -> PromoteAction:
    entry = _settings(path, value, ("alias",))
    alias = path.key("alias").string(
        entry.get("alias", PromoteAction.alias), hint="Name an alias, e.g. champion."
    )
    try:
        alias = normalize_alias(alias)
    except ModelError as exc:
        raise path.key("alias").error(exc.message, hint=exc.hint) from None
    return PromoteAction(alias=alias)


_ACTION_PARSERS = {
    "alert": _alert,
    "retrain": _retrain,
    "evaluate": _evaluate,
    "promote": _promote,
}
