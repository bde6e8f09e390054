"""The promotion policy: per alias, the gates a version must pass and the approvals it needs.

The policy is the ``promotion`` key of ``governance.yml``::

    promotion:
      champion:
        gates:
          - metric: auc >= 0.8                  # operators: >=, >, <=, <, ==
          - better_than: {alias: champion, metric: auc, by: 0.01, dataset: model_input_table}
          - signature_compatible_with: champion
        approvals: {required: 1, roles: [ml_engineer, governance]}
      challenger:
        gates:
          - metric: auc >= 0.7

- ``metric`` compares a metric recorded with the candidate version with a number.
- ``better_than`` scores the candidate *and* the version holding ``alias`` on the same
  dataset (``name`` or ``name@version``) and passes when the candidate is at least ``by``
  (default 0) better; for the error metrics in :data:`LOWER_IS_BETTER`, better is lower.
- ``signature_compatible_with`` passes when the candidate accepts the input the version
  holding the alias accepts.
- ``approvals``: ``required`` (default 1) distinct users approving under one of ``roles``
  (default: every role that may approve). ``required: 0`` means no approvals.

A gate that compares with an alias nobody holds yet passes ("no champion yet"). An alias
without a policy has no gates and needs no approvals. The gates and their evaluation are
in :mod:`shipyard.models._gates`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.governance import check_governance, read_roles, roles_allowed
from shipyard.governance._config import DEFAULT_SOURCE, ConfigPath
from shipyard.models._gates import OPERATORS, BetterThanGate, Gate, MetricGate, SignatureGate

__all__ = ["AliasPolicy", "ApprovalRule", "PromotionPolicy", "parse_policy"]

_GATE_KINDS = ("metric", "better_than", "signature_compatible_with")
_METRIC_HINT = "Write a metric gate as `metric: <name> <operator> <number>`, e.g. `auc >= 0.8`."
_BETTER_HINT = (
    "Write `better_than: {alias: champion, metric: auc, by: 0.01, dataset: NAME}` "
    "(dataset may be NAME@VERSION)."
)
_GATE_HINT = "Each gate is one of: `metric: auc >= 0.8`, `better_than: {...}`, " + (
    "`signature_compatible_with: champion`."
)
_APPROVALS_HINT = "Write `approvals: {required: 1, roles: [ml_engineer, governance]}`."
# A metric condition read loosely, so that a wrong operator gets its own message.
_CONDITION = re.compile(r"\s*([A-Za-z_][\w./-]*)\s*([<>=!≥≤]+)\s*([^\s<>=!≥≤]+)\s*")
_WRONG_OPERATORS = {"=>": ">=", "=<": "<=", "≥": ">=", "≤": "<=", "=": "=="}


@dataclass(frozen=True)
class ApprovalRule:
    """``required`` distinct users must approve, each under one of ``roles``."""

    required: int
    roles: tuple[str, ...]


@dataclass(frozen=True)
class AliasPolicy:
    """The gates and approvals for moving one alias."""

    alias: str
    gates: tuple[Gate, ...] = ()
    approvals: ApprovalRule | None = None


@dataclass(frozen=True)
class PromotionPolicy:
    """The policy of every alias ``governance.yml`` names."""

    aliases: dict[str, AliasPolicy] = field(default_factory=dict)

    def for_alias(self, alias: str) -> AliasPolicy:
        """The alias's policy; an alias the file does not name has no gates or approvals."""
        return self.aliases.get(alias) or AliasPolicy(alias)


def parse_policy(
    governance: Mapping[str, Any] | None, *, source: str = DEFAULT_SOURCE
) -> PromotionPolicy:
    """The promotion policy of a merged ``governance.yml`` mapping (``None``: no file).

    Raises ConfigError naming ``source`` and the key path (``promotion.champion.gates[1]``)
    for unknown keys, values of the wrong type, unreadable conditions and unknown roles.
    """
    governance = check_governance(governance, source=source)
    promotion = governance.get("promotion")
    if promotion is None:
        return PromotionPolicy()
    path = ConfigPath(source).key("promotion")
    promotion = path.mapping(
        promotion, hint="Give each alias its policy: `champion: {gates: [...]}`."
    )
    return PromotionPolicy(
        {alias: _alias_policy(alias, path.key(alias), entry) for alias, entry in promotion.items()}
    )


def _alias_policy(alias: str, path: ConfigPath, entry: Any) -> AliasPolicy:
    entry = path.mapping(entry, hint="Give the alias `gates: [...]` and/or `approvals: {...}`.")
    path.check_keys(entry, ("gates", "approvals"))
    gates = path.key("gates").items(entry.get("gates"), hint=_GATE_HINT)
    approvals = entry.get("approvals")
    return AliasPolicy(
        alias,
        tuple(_gate(path.key("gates").item(i), gate) for i, gate in enumerate(gates)),
        None if approvals is None else _approval_rule(path.key("approvals"), approvals),
    )


def _gate(path: ConfigPath, item: Any) -> Gate:
    item = path.mapping(item, hint=_GATE_HINT)
    path.check_keys(item, _GATE_KINDS)
    if len(item) != 1:
        raise path.error(f"a gate has exactly one key, this one has {len(item)}.", hint=_GATE_HINT)
    kind, spec = next(iter(item.items()))
    if kind == "metric":
        return _metric_gate(path.key(kind), spec)
    if kind == "better_than":
        return _better_than_gate(path.key(kind), spec)
    hint = "Name an alias: `signature_compatible_with: champion`."
    return SignatureGate(path.key(kind).string(spec, hint=hint))


def _metric_gate(path: ConfigPath, spec: Any) -> MetricGate:
    text = path.string(spec, hint=_METRIC_HINT)
    found = _CONDITION.fullmatch(text)
    if found is None:
        raise path.error(
            f"cannot read '{text}' as `<metric> <operator> <number>`.", hint=_METRIC_HINT
        )
    metric, op, number = found.groups()
    if op not in OPERATORS:
        fix = _WRONG_OPERATORS.get(op)
        raise path.error(
            f"'{op}' in '{text}' is not an operator." + (f" Did you mean '{fix}'?" if fix else ""),
            hint=f"Operators: {', '.join(OPERATORS)}.",
        )
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise path.error(f"'{number}' in '{text}' is not a number.", hint=_METRIC_HINT)
    return MetricGate(metric, op, value)


def _better_than_gate(path: ConfigPath, spec: Any) -> BetterThanGate:
    spec = path.mapping(spec, hint=_BETTER_HINT)
    path.check_keys(spec, ("alias", "metric", "by", "dataset", "target"))
    for key in ("alias", "metric", "dataset"):
        if key not in spec:
            raise path.error(f"the required key '{key}' is missing.", hint=_BETTER_HINT)
    text = {key: path.key(key).string(spec[key], hint=_BETTER_HINT) for key in spec if key != "by"}
    by_hint = "`by` is how much better the candidate must score, e.g. `by: 0.01`."
    by = path.key("by").non_negative(spec.get("by", 0), hint=by_hint)
    dataset, at, version = text["dataset"].partition("@")
    if at and not (dataset and version):
        raise path.key("dataset").error(
            f"cannot read '{text['dataset']}' as NAME or NAME@VERSION.", hint=_BETTER_HINT
        )
    return BetterThanGate(
        text["alias"], text["metric"], dataset, float(by), version or None, text.get("target")
    )


def _approval_rule(path: ConfigPath, spec: Any) -> ApprovalRule | None:
    spec = path.mapping(spec, hint=_APPROVALS_HINT)
    path.check_keys(spec, ("required", "roles"))
    required = int(
        path.key("required").non_negative(spec.get("required", 1), hint=_APPROVALS_HINT, whole=True)
    )
    approve = "models.approve"
    roles = read_roles(
        path.key("roles"),
        spec.get("roles", list(roles_allowed(approve))),
        hint=_APPROVALS_HINT,
        action=approve,
    )
    if not roles:
        raise path.key("roles").error("expected at least one role, got none.", hint=_APPROVALS_HINT)
    return ApprovalRule(required, roles) if required else None
