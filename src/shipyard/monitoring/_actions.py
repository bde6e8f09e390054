"""The policy's actions for a window that triggered them: alert, retrain, evaluate, promote.

Actions run in the order ``monitoring.yml`` lists them, inside one tracked run of the
``monitoring`` experiment (tagged with the window id), so the retraining run is that
run's child and its lineage leads back to the result that caused it. Each action's state
is kept in the metadata store *before* it starts and when it ends::

    pending -> running -> done | failed | skipped

so a process killed in the middle resumes where it stopped: a retraining recorded as
running is looked up by its planned run id, and run again only if that run never
finished. A failed retraining or promotion leaves the champion untouched, sends the
alerts, and skips what follows. Within the cool-down after a retraining, a later window
only alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import ShipyardError
from shipyard.ids import new_id
from shipyard.metadata import monitoring as repo
from shipyard.metadata import registry as model_records
from shipyard.metadata import runs as run_records
from shipyard.monitoring import stats
from shipyard.monitoring._config import (
    Action,
    AlertAction,
    EvaluateAction,
    PromoteAction,
    RetrainAction,
)
from shipyard.monitoring._result import MonitoringResult
from shipyard.monitoring._webhook import post_webhook
from shipyard.tracking import start_run

if TYPE_CHECKING:
    from shipyard.monitoring._monitor import Monitor, Target
    from shipyard.monitoring._window import Window

__all__ = ["alert_payload", "run_actions"]

logger = logging.getLogger("shipyard.monitoring")

#: Tags linking runs to the window that caused them.
WINDOW_TAG = "shipyard.monitoring.window"
ACTION_TAG = "shipyard.monitoring.action"


class ActionFailed(Exception):
    """An action that could not do its job; the message says why."""


@dataclass
class _State:
    """What earlier actions of the window left for later ones."""

    challenger: int | None = None
    champion: int | None = None
    beaten: bool | None = None
    read: tuple[Target, Window] | None = None


def run_actions(
    monitor: Monitor,
    result: MonitoringResult,
    triggers: tuple[str, ...],
    *,
    read: tuple[Target, Window] | None = None,
) -> tuple[repo.ActionRecord, ...]:
    """Run (or resume) the policy's actions for ``result``; returns their final states.
    ``read`` is the target and window the result was just computed from, so that
    ``evaluate`` does not read the window again (a resumed window is read anew)."""
    assert result.id is not None, "a window is stored before its actions run"
    actions = monitor.config.actions
    with monitor.registry.store.begin() as conn:
        records = repo.add_actions(conn, result.id, [action.kind for action in actions])
    if all(record.status in _FINISHED for record in records):
        return tuple(records)
    root = monitor.session.settings.project_root
    cooling = _cooling_down(monitor, result.id)
    state = _State(champion=result.version, read=read)
    with start_run(
        name=f"monitor {result.model} {result.window_start:%Y-%m-%d %H:%M}",
        experiment="monitoring",
        project_root=root,
        tags={WINDOW_TAG: result.id, "shipyard.monitoring.triggers": ",".join(triggers)},
    ) as run:
        run.log_metrics(_result_metrics(result))
        failed = False
        for record, action in zip(records, actions, strict=True):
            if record.status in _FINISHED:
                _remember(state, record)
                failed = failed or record.status == "failed"
                continue
            reason = _skip_reason(action, failed, cooling, state)
            if reason is not None:
                _finish(monitor, record, "skipped", details={"reason": reason})
                continue
            # it keeps its old status: "running" means a stopped process began it
            started = replace(record, run_id=_planned_run_id(record, action))
            with monitor.registry.store.begin() as conn:
                repo.start_action(conn, started.id, run_id=started.run_id)
            try:
                details = _RUNNERS[action.kind](monitor, result, action, state, started)
            except (ActionFailed, ShipyardError) as exc:
                message = exc.describe() if isinstance(exc, ShipyardError) else str(exc)
                logger.error("The %s action for %s failed: %s", action.kind, result.model, message)
                _finish(monitor, record, "failed", error=message)
                _alert_failure(monitor, result, action.kind, message)
                failed = True
                continue
            _finish(monitor, record, "done", details=details, run_id=details.get("run_id"))
    with monitor.registry.store.begin() as conn:
        return tuple(repo.actions_for(conn, result.id))


_FINISHED = ("done", "failed", "skipped")


def _skip_reason(action: Action, failed: bool, cooling: str | None, state: _State) -> str | None:
    if isinstance(action, AlertAction):
        return None
    if failed:
        return "an earlier action failed"
    if cooling is not None:
        return cooling
    if isinstance(action, PromoteAction) and state.beaten is False:
        return "the challenger did not beat the champion on the recent data"
    return None


def _cooling_down(monitor: Monitor, window_id: str) -> str | None:
    """Why retraining must wait, when a retraining for another window finished less than
    the cool-down ago (one drift episode retrains once)."""
    with monitor.registry.store.begin() as conn:
        last = repo.last_finished_action(conn, monitor.name, "retrain")
    if last is None or last.window_id == window_id or last.finished_at is None:
        return None
    until = last.finished_at + monitor.config.cooldown
    if datetime.now(UTC) >= until:
        return None
    return (
        f"cool-down after the retraining of {last.finished_at:%Y-%m-%d %H:%M} UTC, "
        f"until {until:%Y-%m-%d %H:%M} UTC"
    )


def _planned_run_id(record: repo.ActionRecord, action: Action) -> str | None:
    if not isinstance(action, RetrainAction):
        return None
    return record.run_id or new_id()


def _finish(
    monitor: Monitor,
    record: repo.ActionRecord,
    status: str,
    *,
    details: Mapping[str, Any] | None = None,
    error: str | None = None,
    run_id: str | None = None,
) -> None:
    with monitor.registry.store.begin() as conn:
        repo.finish_action(conn, record.id, status, details=details, error=error, run_id=run_id)


def _remember(state: _State, record: repo.ActionRecord) -> None:
    details = record.details or {}
    if record.kind == "retrain" and record.status == "done":
        state.challenger = details.get("challenger")
    if record.kind == "evaluate" and record.status == "done":
        state.beaten = details.get("beaten")


# --- the actions --------------------------------------------------------------------


def _alert(
    monitor: Monitor,
    result: MonitoringResult,
    action: AlertAction,
    state: _State,
    record: repo.ActionRecord,
) -> dict[str, Any]:
    payload = alert_payload(result, event="drift")
    return _send(monitor, action, payload)


def _send(monitor: Monitor, action: AlertAction, payload: Mapping[str, Any]) -> dict[str, Any]:
    logger.warning("%s", payload["summary"])
    if action.webhook is None:
        return {"webhook": None}
    headers = {}
    if action.headers_credentials:
        entry = monitor.session.config.credentials.get(action.headers_credentials)
        if not isinstance(entry, Mapping):
            raise ActionFailed(
                f"The credentials entry '{action.headers_credentials}' for the alert's "
                "headers is missing from conf/local/credentials.yml."
            )
        headers = {str(key): str(value) for key, value in entry.items()}
    sent = post_webhook(
        action.webhook,
        payload,
        headers=headers,
        timeout_s=action.timeout_s,
        retries=action.retries,
        allow_private_addresses=action.allow_private_addresses,
    )
    if not sent.ok:
        raise ActionFailed(
            f"The alert webhook failed after {sent.attempts} attempt(s): {sent.error}"
        )
    return {"webhook": action.webhook, "status": sent.status, "attempts": sent.attempts}


def _retrain(
    monitor: Monitor,
    result: MonitoringResult,
    action: RetrainAction,
    state: _State,
    record: repo.ActionRecord,
) -> dict[str, Any]:
    run_id = record.run_id
    assert run_id is not None, "a retraining's run id is chosen before it starts"
    if not _finished_run(monitor, run_id):
        if record.status == "running":
            # the process that started it stopped first: this is its one retry
            run_id = new_id()
            with monitor.registry.store.begin() as conn:
                repo.start_action(conn, record.id, run_id=run_id)
        _run_pipeline(monitor, action, run_id, result)
    challenger = _registered_by(monitor, run_id)
    state.challenger = challenger
    return {"run_id": run_id, "pipeline": action.pipeline, "challenger": challenger}


def _run_pipeline(
    monitor: Monitor, action: RetrainAction, run_id: str, result: MonitoringResult
) -> None:
    from shipyard.project import Session

    settings = monitor.session.settings
    session = Session.open(
        settings.project_root, env=action.env or settings.env, params=dict(action.params)
    )
    logger.info("Retraining %s: pipeline %s, run %s.", result.model, action.pipeline, run_id)
    try:
        session.run(action.pipeline, run_id=run_id)
    finally:
        with monitor.registry.store.begin() as conn:
            if _run_exists(conn, run_id):
                run_records.set_tags(
                    conn, run_id, {WINDOW_TAG: str(result.id), ACTION_TAG: "retrain"}
                )


def _run_exists(conn: Any, run_id: str) -> bool:
    try:
        run_records.get(conn, run_id)
    except ShipyardError:
        return False
    return True


def _finished_run(monitor: Monitor, run_id: str) -> bool:
    with monitor.registry.store.begin() as conn:
        if not _run_exists(conn, run_id):
            return False
        return run_records.get(conn, run_id).status == "finished"


def _registered_by(monitor: Monitor, run_id: str) -> int:
    with monitor.registry.store.begin() as conn:
        versions = [v for v in model_records.versions(conn, monitor.name) if v.run_id == run_id]
    if not versions:
        raise ActionFailed(
            f"The retraining run {run_id} finished but registered no new version of "
            f"{monitor.name}: the pipeline must save a model dataset with "
            f"`register: {monitor.name}` in the catalog."
        )
    return max(version.version for version in versions)


def _evaluate(
    monitor: Monitor,
    result: MonitoringResult,
    action: EvaluateAction,
    state: _State,
    record: repo.ActionRecord,
) -> dict[str, Any]:
    if state.challenger is None or state.champion is None:
        raise ActionFailed("There is no challenger to evaluate: no retraining preceded it.")
    if state.read is not None:
        target, window = state.read
    else:
        target = monitor.target()
        window = monitor.read(result.window_start, result.window_end, target)
    labelled = window.labelled
    task = target.reference.task or "classification"
    metric = action.metric or ("roc_auc" if task == "classification" else "rmse")
    details: dict[str, Any] = {
        "metric": metric,
        "rows": len(labelled),
        "champion": state.champion,
        "challenger": state.challenger,
    }
    if len(labelled) < action.min_rows:
        state.beaten = False
        return {**details, "beaten": False, "reason": "not enough labelled rows"}
    inputs = labelled[[f"input.{c}" for c in target.reference.columns]]
    inputs.columns = list(target.reference.columns)
    truth = labelled["label"].to_numpy()
    scores = {
        role: _score(monitor, version, inputs, truth, task=task, metric=metric)
        for role, version in (("champion", state.champion), ("challenger", state.challenger))
    }
    gain = scores["challenger"] - scores["champion"]
    if metric in stats.LOWER_IS_BETTER:
        gain = -gain
    beaten = bool(gain >= action.min_improvement)
    state.beaten = beaten
    with start_run(
        name=f"evaluate {result.model} v{state.challenger} vs v{state.champion}",
        experiment="monitoring",
        project_root=monitor.session.settings.project_root,
        tags={WINDOW_TAG: str(result.id), ACTION_TAG: "evaluate"},
    ) as run:
        run.log_params(
            {"champion": state.champion, "challenger": state.challenger, "metric": metric}
        )
        run.log_metrics({f"{role}.{metric}": value for role, value in scores.items()})
    return {
        **details,
        "champion_value": scores["champion"],
        "challenger_value": scores["challenger"],
        "beaten": beaten,
        "run_id": run.id,
    }


def _score(
    monitor: Monitor, version: int, inputs: Any, truth: np.ndarray, *, task: str, metric: str
) -> float:
    model = monitor.registry.load(f"{monitor.name}:{version}")
    if task == "classification":
        score = None
        if metric in ("roc_auc", "log_loss") and hasattr(model, "predict_proba"):
            probabilities = np.asarray(model.predict_proba(inputs))
            score = probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities
        measured = stats.classification_performance(
            truth, np.asarray(model.predict(inputs)), score, metrics=(metric,), resamples=0
        )
    else:
        measured = stats.regression_performance(
            truth.astype(float), np.asarray(model.predict(inputs)), metrics=(metric,), resamples=0
        )
    if metric not in measured:
        raise ActionFailed(f"{metric} cannot be measured on the recent labelled rows.")
    return measured[metric].value


def _promote(
    monitor: Monitor,
    result: MonitoringResult,
    action: PromoteAction,
    state: _State,
    record: repo.ActionRecord,
) -> dict[str, Any]:
    if state.challenger is None:
        raise ActionFailed("There is no challenger to promote: no retraining preceded it.")
    promotion = monitor.registry.promote(monitor.name, state.challenger, action.alias)
    # "promote" once the gates passed; "pending" while the policy's approvals are missing
    outcome = "promoted" if promotion.decision.outcome == "promote" else "pending approval"
    logger.warning(
        "%s version %s %s to @%s: %s.",
        monitor.name,
        state.challenger,
        outcome,
        action.alias,
        promotion.decision.reason,
    )
    return {
        "version": state.challenger,
        "alias": action.alias,
        "outcome": outcome,
        "reason": promotion.decision.reason,
        "previous": promotion.previous,
    }


_RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "alert": _alert,
    "retrain": _retrain,
    "evaluate": _evaluate,
    "promote": _promote,
}


# --- alerts ---------------------------------------------------------------------------


def alert_payload(
    result: MonitoringResult, *, event: str, failure: str | None = None
) -> dict[str, Any]:
    """The JSON body of an alert: what happened, to which model, with the evidence."""
    drifted = result.drifted_columns
    degraded = list(result.performance.degraded) if result.performance else []
    parts = [f"{result.model} v{result.version}: {event}"]
    if drifted:
        parts.append(f"{len(drifted)} of {len(result.columns)} input columns drifted")
    if degraded:
        parts.append("performance degraded on " + ", ".join(degraded))
    if failure:
        parts.append(failure)
    return {
        "event": event,
        "summary": "; ".join(parts),
        "model": result.model,
        "version": result.version,
        "window_id": result.id,
        "window_start": result.window_start.isoformat(),
        "window_end": result.window_end.isoformat(),
        "status": result.status,
        "rows": result.rows,
        "drift_share": result.drift_share,
        "drifted_columns": drifted,
        "degraded_metrics": degraded,
    }


def _alert_failure(monitor: Monitor, result: MonitoringResult, kind: str, message: str) -> None:
    """Tell the alert actions' receivers that an action failed (best effort)."""
    if kind == "alert":
        return
    payload = alert_payload(result, event=f"{kind}_failed", failure=message)
    for action in monitor.config.actions:
        if isinstance(action, AlertAction):
            try:
                _send(monitor, action, payload)
            except (ActionFailed, ShipyardError) as exc:
                logger.error("The alert about the failed %s was not sent: %s", kind, exc)


def _result_metrics(result: MonitoringResult) -> dict[str, float]:
    metrics = {
        "rows": float(result.rows),
        "drift_share": result.drift_share,
        "drifted_columns": float(len(result.drifted_columns)),
    }
    if result.performance is not None:
        metrics.update(
            {f"performance.{name}": e.value for name, e in result.performance.metrics.items()}
        )
    return metrics
