"""Promotion gates and the decision: what a version must pass, evaluated purely.

The registry supplies a :class:`GateContext` (which version holds an alias, scores on a
dataset, signature differences); :func:`evaluate_gates` runs every gate of an alias's
policy, even after one failed, and :func:`decide` turns the results and the approvals given
into promote, pending or refused. A gate that cannot be evaluated fails with the reason; it
never raises. Numbers are compared with a relative tolerance of 1e-9, so float noise
decides no gate. The policy itself is parsed in :mod:`shipyard.models._policy`.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shipyard.errors import ShipyardError, did_you_mean

if TYPE_CHECKING:
    from shipyard.models._policy import AliasPolicy

__all__ = [
    "LOWER_IS_BETTER",
    "OPERATORS",
    "BetterThanGate",
    "Candidate",
    "Decision",
    "Gate",
    "GateContext",
    "GateResult",
    "MetricGate",
    "SignatureGate",
    "decide",
    "evaluate_gates",
]

#: Metrics where a lower score is the better one (``better_than`` reads ``by`` downwards).
LOWER_IS_BETTER = frozenset({"mae", "rmse"})
OPERATORS = (">=", ">", "<=", "<", "==")


@dataclass(frozen=True)
class Candidate:
    """A model version as the gates see it. ``signature`` is the dict form:
    ``{"inputs": [{"name", "dtype", "nullable"}, ...], "outputs": [...]}``."""

    name: str
    version: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    signature: Mapping[str, Any] | None = None


class GateContext(Protocol):
    """What gates ask of the registry running them."""

    def incumbent(self, alias: str) -> Candidate | None:
        """The version currently holding ``alias``, or None."""
        ...

    def score(
        self,
        candidate: Candidate,
        metric: str,
        dataset: str,
        version: str | None,
        *,
        target: str | None = None,
    ) -> float:
        """``metric`` of ``candidate`` evaluated on ``dataset`` (at ``version`` if given),
        whose label column is ``target`` (None: the one column beyond the inputs)."""
        ...

    def signature_problems(self, new: Mapping[str, Any], old: Mapping[str, Any]) -> list[str]:
        """Why a model with signature ``new`` cannot take the input ``old`` takes; [] if it can."""
        ...


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome: the gate as text, whether it passed, and the numbers why."""

    gate: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form stored with promotion requests and history."""
        return {"gate": self.gate, "passed": self.passed, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        """The result :meth:`to_dict` made."""
        return cls(str(data["gate"]), bool(data["passed"]), str(data.get("detail", "")))


class Gate(ABC):
    """A condition a version must meet to take an alias."""

    @property
    @abstractmethod
    def text(self) -> str:
        """The gate in words, as results and messages show it."""

    @abstractmethod
    def evaluate(self, candidate: Candidate, context: GateContext) -> GateResult:
        """Whether ``candidate`` passes; may raise, :func:`evaluate_gates` catches it."""

    def _result(self, passed: bool, detail: str) -> GateResult:
        return GateResult(self.text, passed, detail)

    def _holder(
        self, alias: str, candidate: Candidate, context: GateContext
    ) -> Candidate | GateResult:
        """The version holding ``alias``, or the passing result when there is none to
        compare with (nobody holds it, or the candidate itself does)."""
        incumbent = context.incumbent(alias)
        if incumbent is None:
            return self._result(True, f"no {alias} yet")
        if (incumbent.name, incumbent.version) == (candidate.name, candidate.version):
            return self._result(True, f"version {candidate.version} already holds '{alias}'")
        return incumbent


@dataclass(frozen=True)
class MetricGate(Gate):
    """``metric: auc >= 0.8``: a metric recorded with the version, against a number."""

    metric: str
    op: str
    value: float

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {_number(self.value)}"

    def evaluate(self, candidate: Candidate, context: GateContext) -> GateResult:
        metrics = candidate.metrics or {}
        if self.metric not in metrics:
            has = ", ".join(sorted(metrics)) or "none"
            return self._result(
                False,
                f"version {candidate.version} records no metric '{self.metric}' "
                f"(it records: {has}).{did_you_mean(self.metric, metrics)}",
            )
        value = _finite(metrics[self.metric])
        if value is None:
            return self._result(False, f"{self.metric} is {metrics[self.metric]!r}, not a number")
        passed = _compare(value, self.op, self.value)
        return self._result(
            passed, f"{self.metric} = {value:.6g}" + ("" if passed else f", needs {self.text}")
        )


@dataclass(frozen=True)
class BetterThanGate(Gate):
    """``better_than``: the candidate scores at least ``by`` better than the version holding
    ``alias``, both scored on the same dataset (version); ``target`` names its label column
    (None: the one column beyond the model's inputs)."""

    alias: str
    metric: str
    dataset: str
    by: float = 0.0
    dataset_version: str | None = None
    target: str | None = None

    @property
    def where(self) -> str:
        """The dataset, with ``@version`` when pinned."""
        return self.dataset + (f"@{self.dataset_version}" if self.dataset_version else "")

    @property
    def text(self) -> str:
        return f"better than {self.alias} on {self.metric} by {_number(self.by)} on {self.where}"

    def evaluate(self, candidate: Candidate, context: GateContext) -> GateResult:
        holder = self._holder(self.alias, candidate, context)
        if isinstance(holder, GateResult):
            return holder
        labels = (f"version {candidate.version}", f"{self.alias} (version {holder.version})")
        scores = []
        for model, label in zip((candidate, holder), labels, strict=True):
            try:
                scored = context.score(
                    model, self.metric, self.dataset, self.dataset_version, target=self.target
                )
            except Exception as exc:  # the caller's scoring failed: the gate fails, says why
                return self._result(
                    False, f"could not score {label} on {self.where}: {_error_text(exc)}"
                )
            if _finite(scored) is None:
                return self._result(False, f"scoring {label} gave {scored!r}, not a number")
            scores.append(float(scored))
        new, old = scores
        lower = self.metric in LOWER_IS_BETTER
        gain = old - new if lower else new - old
        passed = gain > self.by or math.isclose(gain, self.by, rel_tol=1e-9, abs_tol=1e-12)
        return self._result(
            passed,
            f"{self.metric} on {self.where}: {labels[0]} {new:.6g}, {labels[1]} {old:.6g}; "
            f"{'lower' if lower else 'higher'} by {gain:.6g}, needs {_number(self.by)}",
        )


@dataclass(frozen=True)
class SignatureGate(Gate):
    """``signature_compatible_with``: the candidate takes the input the holder takes."""

    alias: str

    @property
    def text(self) -> str:
        return f"signature compatible with {self.alias}"

    def evaluate(self, candidate: Candidate, context: GateContext) -> GateResult:
        holder = self._holder(self.alias, candidate, context)
        if isinstance(holder, GateResult):
            return holder
        other = f"{self.alias} (version {holder.version})"
        if candidate.signature is None:
            return self._result(
                False, f"version {candidate.version} has no signature to compare with {other}"
            )
        if holder.signature is None:
            return self._result(True, f"{other} records no signature; nothing to compare")
        problems = list(context.signature_problems(candidate.signature, holder.signature))
        if problems:
            return self._result(False, f"incompatible with {other}: " + "; ".join(problems))
        return self._result(True, f"compatible with {other}")


def evaluate_gates(
    policy: AliasPolicy, candidate: Candidate, context: GateContext
) -> list[GateResult]:
    """Every gate of ``policy`` evaluated for ``candidate``, in order; never raises for a
    gate that cannot be evaluated (it fails with the reason)."""
    results = []
    for gate in policy.gates:
        try:
            results.append(gate.evaluate(candidate, context))
        except Exception as exc:  # a broken context must not hide the other gates' results
            detail = f"could not be evaluated: {_error_text(exc)}"
            results.append(GateResult(gate.text, False, detail))
    return results


@dataclass(frozen=True)
class Decision:
    """What a promotion comes to: ``promote``, ``pending`` (approvals missing) or ``refused``
    (a gate failed). ``approvals_needed`` is how many more approvals it needs."""

    outcome: Literal["promote", "pending", "refused"]
    results: list[GateResult]
    approvals_needed: int
    approvals_roles: tuple[str, ...]
    reason: str


def decide(
    policy: AliasPolicy, results: Sequence[GateResult], approvals: Sequence[tuple[str, str]]
) -> Decision:
    """The decision for gate ``results`` and the ``(user, role)`` approvals given so far.

    Approvals count once per user, and only under a role the policy accepts.
    """
    required, roles = (rule.required, rule.roles) if (rule := policy.approvals) else (0, ())
    approvers: dict[str, str] = {}
    for user, role in approvals:
        if role in roles:
            approvers.setdefault(user, role)
    needed = max(0, required - len(approvers))
    given = ", ".join(f"{user} ({role})" for user, role in approvers.items())
    failed = [result for result in results if not result.passed]
    if failed:
        outcome = "refused"
        reason = "failed gates: " + "; ".join(f"{r.gate} ({r.detail})" for r in failed)
    elif needed:
        outcome = "pending"
        reason = (
            f"waiting for {needed} more approval{'s' if needed > 1 else ''} from "
            f"{' or '.join(roles)}" + (f"; approved so far by {given}" if given else "")
        )
    else:
        outcome = "promote"
        passed = f"all {len(results)} gates passed" if results else "no gates"
        reason = passed + (f"; approved by {given}" if given else "")
    return Decision(outcome, list(results), needed, roles, reason)


def _compare(value: float, op: str, threshold: float) -> bool:
    close = math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12)
    if op == "==":
        return close
    if op in (">=", "<="):
        return close or (value > threshold if op == ">=" else value < threshold)
    return not close and (value > threshold if op == ">" else value < threshold)


def _number(value: float) -> str:
    """A number as the user wrote it: 0.8, not 0.800000."""
    return f"{value:.15g}"


def _finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite real number (not true/false), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value) if math.isfinite(value) else None


def _error_text(exc: Exception) -> str:
    return exc.message if isinstance(exc, ShipyardError) else f"{type(exc).__name__}: {exc}"
