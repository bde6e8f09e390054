"""A tracked run from Python: ``start_run`` in a script or notebook, and the logging calls.

>>> import shipyard
>>> with shipyard.start_run(name="try-gbm", experiment="churn") as run:  # doctest: +SKIP
...     run.log_params({"n_estimators": 300, "model": {"lr": 0.1}})
...     for step, loss in enumerate(losses):
...         run.log_metric("loss", loss, step=step)
...     shipyard.log_metric("auc", 0.91)  # the active run, wherever the call is made

``shipyard.log_metric`` inside a node of a pipeline run logs to that pipeline's run
(the tracking hooks make it the process's pipeline run for its duration). Metric points
are buffered and written by a background thread (see ``_writer``); params, tags and
artifacts are written at once, since a conflict must raise where the call is made.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import TrackingError
from shipyard.ids import new_id
from shipyard.tracking._capture import capture_environment, capture_git
from shipyard.tracking._current import (
    RUN_ID_VARIABLE,
    RUN_PROJECT_VARIABLE,
    _active,
    active_run,
)
from shipyard.tracking._points import (
    INT64_MAX,
    INT64_MIN,
    metric_key,
    metric_step,
    metric_value,
)
from shipyard.tracking._stores import DB_VARIABLE, Tracking, tracking_for

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shipyard.metadata.runs import RunRecord
    from shipyard.tracking._writer import BatchWriter

__all__ = ["ActiveRun", "attach_run", "create_run", "finishing", "start_run"]

#: The node running in this thread, so that its metric points name it.
running_node = threading.local()


class ActiveRun:
    """A run in progress: log params, metrics, tags and artifacts to it.

    Params are immutable: logging a key again with another value raises
    ParamConflictError. Metric values are numbers (NaN and ±inf kept as they are).
    """

    __slots__ = ("_tracking", "known_versions", "project_root", "record")

    def __init__(self, tracking: Tracking, record: RunRecord, project_root: Path | None) -> None:
        self._tracking = tracking
        self.record = record
        self.project_root = project_root
        #: For a pipeline run: the versions of the data upstream of the running node.
        self.known_versions: Callable[[], list[dict[str, str]]] | None = None

    @property
    def id(self) -> str:
        """The run's id (``shipyard runs show ID``)."""
        return self.record.id

    def data_versions(self) -> list[dict[str, str]]:
        """The versions (``dataset``, ``version_id``, ``digest``) of the versioned datasets
        upstream of the node that is running (a model it saves came from them); empty
        outside a pipeline run."""
        return self.known_versions() if self.known_versions is not None else []

    def child_environment(self) -> dict[str, str]:
        """The environment variables a child process (a worker, a notebook's kernel)
        needs for its ``shipyard.log_metric`` calls to reach this run."""
        variables = {RUN_ID_VARIABLE: self.id}
        if self.project_root is not None:
            variables[RUN_PROJECT_VARIABLE] = str(Path(self.project_root).resolve())
        return variables

    def log_param(self, key: str, value: Any) -> None:
        """Record one parameter."""
        self.log_params({key: value})

    def log_params(self, values: Mapping[str, Any]) -> None:
        """Record parameters; nested mappings become dotted keys (``model.lr``)."""
        from shipyard.metadata import params

        with self._tracking.store.begin() as conn:
            params.log(conn, self.id, values)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record one point of metric ``key`` (``step`` 0 unless given). Buffered: the
        call returns at once; points are written in batches, and all of them by the end
        of the run."""
        # The hot path of a training loop: plain types are checked without a call.
        if type(key) is not str or not key.strip():
            key = metric_key(key)
        if type(value) is not float:
            value = metric_value(key, value)
        if step is None:
            step = 0
        elif type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
            step = metric_step(key, step)
        point = (key, value, step, time.time(), getattr(running_node, "name", None))
        self._tracking.writer.add("metric", self.record.id, point)

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        """Record one point of each metric in ``values``, all at ``step``."""
        for key, value in values.items():
            self.log_metric(key, value, step)

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        """Keep a file or folder with the run: its content goes to the project's object
        store and the run records it by digest under ``name`` (default: its file name).
        Returns the digest."""
        from shipyard.metadata import artifacts
        from shipyard.objects import ObjectStore

        source = Path(path)
        if not source.exists():
            raise TrackingError(
                f"Artifact {source} of run {self.id} does not exist.",
                hint="Pass the path of a file or folder that exists (relative to the "
                f"current folder, {Path.cwd()}).",
            )
        root = self.project_root or Path.cwd()
        objects = ObjectStore(root / ".shipyard" / "objects")
        kind = "tree" if source.is_dir() else "file"
        info = objects.put_tree(source) if kind == "tree" else objects.put_file(source)
        with self._tracking.store.begin() as conn:
            artifacts.add(conn, self.id, name or source.name, str(info.digest), info.size, kind)
        return str(info.digest)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Label the run (``{"team": "ds"}``); a tag set again takes the new value."""
        from shipyard.metadata import runs

        with self._tracking.store.begin() as conn:
            runs.set_tags(conn, self.id, {str(k): str(v) for k, v in tags.items()})

    @property
    def store_url(self) -> str:
        """The URL of the store the run is recorded in (password masked)."""
        return self._tracking.store.url

    @property
    def writer(self) -> BatchWriter:
        """The batch writer of the run's store (for the tracking hooks' records)."""
        return self._tracking.writer

    def flush(self) -> None:
        """Write the buffered metric points now; raises the first error met writing."""
        self._tracking.writer.flush()

    def finish(self, status: str, error: str | None = None) -> None:
        """Write what is buffered and end the run with ``status`` (finished, failed,
        interrupted), in one transaction. A buffered write that failed is raised after
        the run is ended."""
        from shipyard.metadata import runs

        def end(conn: Connection) -> None:
            runs.finish(conn, self.id, status, ended_at=datetime.now(UTC), error=error)

        self._tracking.writer.flush(then=end)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} ({self.record.name or 'unnamed'})>"


def create_run(
    tracking: Tracking,
    *,
    run_id: str | None = None,
    name: str | None = None,
    experiment: str | None = None,
    project_root: Path | None = None,
    project: str | None = None,
    pipeline: str | None = None,
    env: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> ActiveRun:
    """Record a new run, status ``running``, with the git state of ``project_root`` (or
    the current folder) and this interpreter's environment."""
    from shipyard.metadata import environments, experiments, runs

    git = capture_git(project_root or Path.cwd())
    environment = capture_environment()
    parent = active_run()
    experiment = experiment or "Default"
    with tracking.store.begin() as conn:
        # Both are immutable once stored: asked of the store once per process.
        if environment.id not in tracking.environments:
            environments.upsert(
                conn,
                environment.id,
                python=environment.python,
                platform=environment.platform,
                packages=environment.packages,
                conda=environment.conda,
            )
        experiment_id = tracking.experiments.get(experiment)
        if experiment_id is None:
            experiment_id = experiments.get_or_create(conn, experiment)
        record = runs.RunRecord(
            id=run_id or new_id(),
            experiment_id=experiment_id,
            name=name,
            project=project,
            pipeline=pipeline,
            env=env,
            status="running",
            started_at=datetime.now(UTC),
            ended_at=None,
            user=_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            git_commit=git.commit,
            git_branch=git.branch,
            git_dirty=git.dirty,
            git_diff_digest=git.diff_digest,
            environment_id=environment.id,
            parent_run_id=parent.id if parent is not None else None,
            error=None,
        )
        runs.create(conn, record)
        if tags:
            runs.set_tags(conn, record.id, {str(k): str(v) for k, v in tags.items()})
    # remembered once the transaction is committed, not before
    tracking.environments.add(environment.id)
    tracking.experiments[experiment] = experiment_id
    return ActiveRun(tracking, record, project_root)


@contextmanager
def start_run(
    name: str | None = None,
    experiment: str | None = None,
    *,
    project_root: str | os.PathLike[str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator[ActiveRun]:
    """Track a run for the ``with`` block: it ends ``finished``, ``failed`` (an exception
    left the block; its message is kept) or ``interrupted`` (Ctrl-C).

    The store is ``$SHIPYARD_DB``, else the SQLite file of the project at
    ``project_root`` (default: the project at or above the current folder).
    """
    root = _project_root(project_root)
    tracking = tracking_for(root)
    if tracking is None:
        raise TrackingError(
            f"No store to track the run in: {Path.cwd()} is not in a Shipyard project and "
            f"${DB_VARIABLE} is not set.",
            hint="Pass project_root= (a folder with a Shipyard pyproject.toml), run inside "
            f"a project, or set {DB_VARIABLE} (e.g. sqlite:////tmp/runs.db).",
        )
    run = create_run(
        tracking,
        name=name,
        experiment=experiment,
        project_root=root,
        project=root.name if root is not None else None,
        tags=tags,
    )
    token = _active.set(run)
    try:
        with finishing(run):
            yield run
    finally:
        _active.reset(token)


@contextmanager
def finishing(run: ActiveRun) -> Iterator[ActiveRun]:
    """End ``run`` with the block: ``finished``, ``failed`` (an exception left the block;
    its message is kept) or ``interrupted`` (Ctrl-C)."""
    try:
        yield run
    except KeyboardInterrupt:
        run.finish("interrupted", "KeyboardInterrupt")
        raise
    except BaseException as exc:
        run.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    run.finish("finished")


def attach_run(run_id: str, *, project_root: str | os.PathLike[str] | None = None) -> ActiveRun:
    """The run ``run_id``, still running in another process, to log to from this one.

    A notebook executed by ``shipyard notebook run`` attaches to the run its parent
    process made. This process never ends the run: its points are written when it exits,
    and the run's owner finishes it."""
    from shipyard.metadata import runs

    root = _project_root(project_root)
    tracking = tracking_for(root)
    if tracking is None:
        raise TrackingError(
            f"Run {run_id} cannot be attached to: {Path.cwd()} is not in a Shipyard "
            f"project and ${DB_VARIABLE} is not set.",
            hint=f"Run inside the project that made the run, or set {DB_VARIABLE}.",
        )
    with tracking.store.connect() as conn:
        record = runs.get(conn, run_id)
    if record.status != "running":
        raise TrackingError(
            f"Run {record.id} is {record.status}: points can only be added to a running run.",
            hint="Start a new run with shipyard.start_run(), or unset "
            "SHIPYARD_RUN_ID if it was left over from another process.",
        )
    return ActiveRun(tracking, record, root)


def _project_root(given: str | os.PathLike[str] | None) -> Path | None:
    from shipyard.settings import project_root_here

    return Path(given).resolve() if given is not None else project_root_here()


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return None
