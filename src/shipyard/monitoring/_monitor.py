"""Monitoring one registered model: a window of its prediction log compared with the
reference profile in its package, the result kept in the metadata store, the policy's
actions run.

::

    monitor = Monitor.for_project("churn@champion")
    check = monitor.check(since, until)           # analysed once, stored, acted on
    check.result.status, check.result.drifted_columns, [a.status for a in check.actions]

A window is identified by (model, start, end): checking it again returns the stored
result and resumes actions a stopped process left unfinished, so a scheduler that
restarts never analyses or acts on one window twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.data._log_layout import as_utc, log_root
from shipyard.errors import MonitoringError
from shipyard.metadata import monitoring as repo
from shipyard.models import ModelRegistry, parse_model_ref, verify_package
from shipyard.monitoring._config import MonitoringConfig, parse_monitoring_config
from shipyard.monitoring._drift import compare_profiles, drift_share, window_status
from shipyard.monitoring._performance import measure_performance
from shipyard.monitoring._profile import DatasetProfile
from shipyard.monitoring._result import MonitoringResult
from shipyard.monitoring._window import Window, read_window

if TYPE_CHECKING:
    from shipyard.project import Session

__all__ = ["Check", "Monitor", "Target"]

logger = logging.getLogger("shipyard.monitoring")


@dataclass(frozen=True)
class Target:
    """The model version a reference resolves to now, with its reference profile."""

    name: str
    version: int
    reference: DatasetProfile


@dataclass(frozen=True)
class Check:
    """A window's result (``stored`` when it was analysed before) and its actions."""

    result: MonitoringResult
    actions: tuple[repo.ActionRecord, ...] = ()
    stored: bool = False
    triggers: tuple[str, ...] = ()


class Monitor:
    """Monitors the model ``ref`` (``churn@champion``, ``churn:3``) of an open session."""

    def __init__(
        self,
        session: Session,
        ref: str,
        *,
        config: MonitoringConfig | None = None,
        registry: ModelRegistry | None = None,
    ) -> None:
        self.session = session
        self.ref = parse_model_ref(ref)
        self.config = config or parse_monitoring_config(session.config.get("monitoring"))
        self.registry = registry or ModelRegistry.for_session(session)
        root = session.settings.project_root
        catalog = session.config.catalog
        self.predictions_root: Path = log_root(root, catalog, self.config.predictions_dataset)
        self.feedback_root: Path = log_root(root, catalog, self.config.feedback_dataset)

    @classmethod
    def for_project(
        cls, ref: str, path: str | Path | None = None, *, env: str | None = None
    ) -> Monitor:
        """A monitor of ``ref`` in the project at or above ``path``, configured by its
        ``monitoring.yml``."""
        from shipyard.project import Session

        return cls(Session.open(path, env=env), ref)

    @property
    def name(self) -> str:
        """The registered model's name (its log folder is ``model=<name>``)."""
        return self.ref.name

    def target(self) -> Target:
        """Resolve the reference now and read the reference profile of what it names
        (the package's digests are verified first)."""
        record = self.registry.resolve(self.ref)
        folder = self.registry.package_folder(record)
        manifest = verify_package(folder)
        if manifest.reference_profile is None:
            raise MonitoringError(
                f"{record.model} version {record.version} has no reference profile, so "
                "there is nothing to compare its traffic with.",
                hint="Package the model with reference_profile="
                "shipyard.monitoring.reference_profile(X_train, ...) (docs/monitoring.md), "
                "register the new version and monitor that one.",
            )
        profile = DatasetProfile.from_bytes((folder / manifest.reference_profile).read_bytes())
        return Target(record.model, record.version, profile)

    # --- analysing ------------------------------------------------------------------

    def read(self, since: datetime, until: datetime, target: Target) -> Window:
        """The window [since, until) of the target version's log, streamed into a
        profile, with the rows that have ground truth."""
        return read_window(
            self.predictions_root,
            self.feedback_root,
            model=target.name,
            since=since,
            until=until,
            reference=target.reference,
            version=target.version,
            sample_size=self.config.reference_sample,
        )

    def analyse(
        self, since: datetime, until: datetime, *, target: Target | None = None
    ) -> MonitoringResult:
        """Compare the window [since, until) with the reference profile; nothing is
        stored and no action runs."""
        return self._analyse(since, until, target or self.target())[0]

    def _analyse(
        self, since: datetime, until: datetime, target: Target
    ) -> tuple[MonitoringResult, Window]:
        since, until = as_utc(since), as_utc(until)
        if until <= since:
            raise MonitoringError(
                f"The window ends ({until.isoformat()}) before it starts ({since.isoformat()}).",
                hint="Give --since earlier than --until, or a --window length.",
            )
        started = time.perf_counter()
        window = self.read(since, until, target)
        inputs, predictions = compare_profiles(
            target.reference, window.profile, self.config, missing=window.missing_columns
        )
        performance = measure_performance(
            target.reference, window.labelled, self.config.performance
        )
        share = drift_share(inputs)
        status = window_status(window.rows, share, performance, self.config)
        warnings = [f"skipped unreadable log file {path}" for path in window.skipped_files]
        if window.missing_columns:
            warnings.append(
                "columns of the reference missing from the log: "
                + ", ".join(window.missing_columns)
            )
        result = MonitoringResult(
            model=target.name,
            version=target.version,
            window_start=since,
            window_end=until,
            rows=window.rows,
            status=status,
            columns=inputs,
            drift_share=share,
            drift_share_threshold=self.config.drift_share,
            computed_at=datetime.now(UTC),
            predictions=predictions,
            performance=performance,
            skipped_files=window.skipped_files,
            warnings=tuple(warnings),
            duration_s=time.perf_counter() - started,
        )
        return result, window

    def triggers(self, result: MonitoringResult) -> tuple[str, ...]:
        """What in ``result`` calls for the policy's actions (``dataset_drift``,
        ``performance``), as far as the policy's ``trigger`` list allows."""
        if result.status == "not_enough_data":
            return ()
        found = []
        if result.dataset_drift:
            found.append("dataset_drift")
        if result.performance is not None and result.performance.status == "degraded":
            found.append("performance")
        return tuple(reason for reason in found if reason in self.config.trigger)

    # --- checking: analyse once, store, act ---------------------------------------------

    def check(self, since: datetime, until: datetime, *, act: bool = True) -> Check:
        """Analyse the window unless it was (then its stored result is used), store it,
        and run the policy's actions when it triggers them (``act=False``: never)."""
        since, until = as_utc(since), as_utc(until)
        with self.registry.store.begin() as conn:
            stored = repo.find_window(conn, self.name, since, until)
        read: tuple[Target, Window] | None = None
        if stored is not None:
            result = replace(MonitoringResult.from_dict(stored.result), id=stored.id)
        else:
            target = self.target()
            result, window = self._analyse(since, until, target)
            read = (target, window)
            with self.registry.store.begin() as conn:
                record = repo.save_window(conn, result.to_dict())
            result = replace(result, id=record.id)
        triggers = self.triggers(result)
        actions: tuple[repo.ActionRecord, ...] = ()
        if act and triggers and self.config.actions:
            from shipyard.monitoring._actions import run_actions

            actions = run_actions(self, result, triggers, read=read)
        elif stored is not None:
            with self.registry.store.begin() as conn:
                actions = tuple(repo.actions_for(conn, stored.id))
        return Check(result=result, actions=actions, stored=stored is not None, triggers=triggers)

    def resume(self) -> list[Check]:
        """Finish the actions of windows whose process stopped in the middle of them."""
        with self.registry.store.begin() as conn:
            unfinished = repo.unfinished_windows(conn, self.name)
        return [self.check(window.window_start, window.window_end) for window in unfinished]

    def history(self, *, limit: int | None = None) -> list[MonitoringResult]:
        """Stored results of this model's windows (the newest ``limit``), oldest first."""
        with self.registry.store.begin() as conn:
            windows = repo.list_windows(conn, self.name, limit=limit)
        return [replace(MonitoringResult.from_dict(w.result), id=w.id) for w in windows]
