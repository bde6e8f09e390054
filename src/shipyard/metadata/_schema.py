"""The metadata schema: one set of tables for SQLite and PostgreSQL (SQLAlchemy Core).

Every table is here, and only here; Alembic migrations in ``migrations/versions`` create
and change them. Ids are the 26-character sortable ids of :mod:`shipyard.ids`, times are
timezone-aware UTC, JSON columns hold plain JSON.

Metric values are stored faithfully: PostgreSQL keeps NaN and infinities in a double
column, SQLite turns NaN into NULL, so ``metrics.value`` is NULL for NaN on both and
``metrics.is_nan`` says so; -0.0 and ±inf round-trip as they are (on SQLite the
value columns have no type affinity: a REAL column stores -0.0 as the integer 0).

Tables (and the questions their indexes answer):

- ``experiments``: named groups of runs.
- ``runs``: one row per run; listed by experiment, pipeline, status, start time.
- ``run_tags``: free key/value labels on a run.
- ``params``: a run's parameters, immutable once logged (flattened dotted keys).
- ``metrics``: every logged point (key, value, step, time); ``latest_metrics`` keeps the
  last value per (run, key) so filtering and sorting runs by a metric is one join.
- ``artifacts``: files kept with a run, by object digest.
- ``dataset_versions``: the lineage edges: which run (and node) read or wrote which
  version of which dataset.
- ``node_runs``: each node of a run: status, times, cache hit, fingerprint.
- ``environments``: interpreter, platform and packages, deduplicated by content hash.

The model registry (:mod:`shipyard.metadata.registry`):

- ``registered_models``: one row per model, by its normalised name.
- ``model_versions``: the numbered versions of a model, each a package tree digest in the
  object store; a digest is registered at most once per model.
- ``model_aliases``: named pointers (``champion``, ``challenger``) to a version.
- ``model_tags``: key/value labels on a model (version 0) or on one version.
- ``model_events``: the append-only history of a model (registrations, alias moves,
  requests, approvals), listed by model and time.
- ``promotion_requests``: promotions waiting for approvals (or closed), found by model and
  status; ``approvals`` holds who approved them, once per user.

Monitoring (:mod:`shipyard.metadata.monitoring`):

- ``monitoring_windows``: one row per analysed window of a model, its whole result as
  JSON; a (model, start, end) window is analysed once. Listed by model and window end
  (history, the latest window).
- ``monitoring_columns``: one row per compared column of a window (input or prediction),
  found by its window; a column's history is the model's windows (by model and end)
  joined to this primary key, so it needs no index of its own.
- ``monitoring_actions``: what a window set off (alert, retrain, evaluate, promote), in
  order, with its status; found by status and kind (unfinished actions, cool-downs).

Monitoring statistics: the float columns of these tables hold NULL for NaN and
infinities on both engines (the stored result's JSON keeps infinities as "inf" text); a
column's ``status`` keeps the verdict.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shipyard.metadata._portable import FloatWithoutAffinity

__all__ = [
    "approvals",
    "artifacts",
    "dataset_versions",
    "environments",
    "experiments",
    "latest_metrics",
    "metadata",
    "metrics",
    "model_aliases",
    "model_events",
    "model_tags",
    "model_versions",
    "monitoring_actions",
    "monitoring_columns",
    "monitoring_windows",
    "node_runs",
    "params",
    "promotion_requests",
    "registered_models",
    "run_tags",
    "runs",
]

#: Constraint names follow one convention, so migrations can refer to them on both engines.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(26)
NAME = String(250)
KEY = String(500)  # metric, param and tag keys: long, unicode, with slashes
UTC_TIME = DateTime(timezone=True)
# A metric value: a double; on SQLite a column without affinity so -0.0 keeps its sign.
DIGEST = String(71)  # blake3:<64 hex>
ROW_ID = BigInteger().with_variant(Integer, "sqlite")
METRIC_VALUE = Float(precision=53).with_variant(FloatWithoutAffinity(), "sqlite")

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("created_at", UTC_TIME, nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("id", String(71), primary_key=True),  # blake3:<64 hex> of the content
    Column("python", String(100), nullable=False),
    Column("platform", String(250), nullable=False),
    Column("packages", JSON, nullable=False),  # {distribution: version}
    Column("conda", Text, nullable=True),  # `conda env export` when in a conda env
    Column("created_at", UTC_TIME, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("name", NAME, nullable=True),
    Column("project", NAME, nullable=True),
    Column("pipeline", NAME, nullable=True),
    Column("env", NAME, nullable=True),  # the configuration environment (base/local/prod)
    # running, finished, failed, interrupted; `lost` is derived when a running run's
    # process is gone, never stored.
    Column("status", String(20), nullable=False),
    Column("started_at", UTC_TIME, nullable=False),
    Column("ended_at", UTC_TIME, nullable=True),
    Column("user", NAME, nullable=True),
    Column("host", NAME, nullable=True),
    Column("pid", Integer, nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("git_branch", NAME, nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Column("git_diff_digest", String(71), nullable=True),
    Column("environment_id", String(71), ForeignKey("environments.id"), nullable=True),
    Column("parent_run_id", ID, ForeignKey("runs.id"), nullable=True),
    Column("error", Text, nullable=True),  # the message of the error that ended it
    Index(None, "experiment_id", "started_at"),
    Index(None, "pipeline", "started_at"),
    Index(None, "status", "started_at"),
    Index(None, "started_at"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),  # JSON of the value: 0.5, "rbf", [1, 2], true
    Index(None, "key"),
)

metrics = Table(
    "metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", KEY, nullable=False),
    Column("value", METRIC_VALUE, nullable=True),  # NULL for NaN (see is_nan)
    Column("is_nan", Boolean, nullable=False, default=False),
    Column("step", BigInteger, nullable=False, default=0),
    Column("timestamp", UTC_TIME, nullable=False),
    Column("node", NAME, nullable=True),  # the node that logged it, when known
    Index(None, "run_id", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", METRIC_VALUE, nullable=True),
    Column("is_nan", Boolean, nullable=False, default=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", UTC_TIME, nullable=False),
    Index(None, "key", "value"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", KEY, primary_key=True),  # a relative path: "plots/roc.png"
    Column("digest", String(71), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(10), nullable=False),  # file or tree
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("node", NAME, nullable=True),
    Column("dataset", NAME, nullable=False),
    Column("version_id", ID, nullable=False),
    Column("digest", String(71), nullable=False),
    Column("direction", String(3), nullable=False),  # "in" (read) or "out" (written)
    UniqueConstraint("run_id", "node", "dataset", "version_id", "direction"),
    Index(None, "dataset", "version_id"),
    Index(None, "digest"),
)

node_runs = Table(
    "node_runs",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("node", NAME, primary_key=True),
    Column("status", String(20), nullable=False),  # finished, failed, cached
    Column("started_at", UTC_TIME, nullable=True),
    Column("ended_at", UTC_TIME, nullable=True),
    Column("duration_s", Float(precision=53), nullable=True),
    Column("cache_hit", Boolean, nullable=False, default=False),
    Column("fingerprint", String(71), nullable=True),
    Column("error", Text, nullable=True),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", NAME, primary_key=True),  # normalised: shipyard.models._names
    Column("description", Text, nullable=True),
    Column("created_at", UTC_TIME, nullable=False),
    Column("created_by", NAME, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("model", NAME, ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True),  # 1, 2, ... per model
    Column("digest", DIGEST, nullable=False),  # the package tree in the object store
    # No foreign key: a package may come from a run recorded in another store.
    Column("run_id", ID, nullable=True),
    Column("dataset", NAME, nullable=True),  # the catalog dataset it was saved as
    Column("flavor", String(50), nullable=False),
    Column("signature", JSON, nullable=True),
    Column("metrics", JSON, nullable=False),
    Column("trusted", Boolean, nullable=False, default=False),
    Column("description", Text, nullable=True),
    Column("created_at", UTC_TIME, nullable=False),
    Column("created_by", NAME, nullable=False),
    UniqueConstraint("model", "digest"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model", NAME, primary_key=True),
    Column("alias", NAME, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTC_TIME, nullable=False),
    Column("updated_by", NAME, nullable=False),
    ForeignKeyConstraint(["model", "version"], ["model_versions.model", "model_versions.version"]),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model", NAME, ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True),  # 0: a tag of the model itself
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

model_events = Table(
    "model_events",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("model", NAME, ForeignKey("registered_models.name"), nullable=False),
    Column("version", Integer, nullable=True),
    Column("alias", NAME, nullable=True),
    # registered, promoted, demoted, requested, approved, rejected, withdrawn, tagged,
    # trusted, described
    Column("kind", String(20), nullable=False),
    Column("actor", NAME, nullable=False),
    Column("at", UTC_TIME, nullable=False),
    Column("details", JSON, nullable=False),
    Index(None, "model", "at"),
)

promotion_requests = Table(
    "promotion_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias", NAME, nullable=False),
    Column("status", String(20), nullable=False),  # pending, completed, rejected, withdrawn
    Column("gate_results", JSON, nullable=False),  # a list of gate results
    Column("requested_by", NAME, nullable=False),
    Column("requested_at", UTC_TIME, nullable=False),
    Column("closed_at", UTC_TIME, nullable=True),
    Column("closed_by", NAME, nullable=True),
    ForeignKeyConstraint(["model", "version"], ["model_versions.model", "model_versions.version"]),
    Index(None, "model", "status"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("request_id", ID, ForeignKey("promotion_requests.id"), primary_key=True),
    Column("user", NAME, primary_key=True),
    Column("role", NAME, nullable=False),
    Column("comment", Text, nullable=True),
    Column("at", UTC_TIME, nullable=False),
)

monitoring_windows = Table(
    "monitoring_windows",
    metadata,
    Column("id", ID, primary_key=True),
    # No foreign key: a monitored model may be served from a package never registered here.
    Column("model", NAME, nullable=False),
    Column("version", Integer, nullable=True),
    Column("window_start", UTC_TIME, nullable=False),
    Column("window_end", UTC_TIME, nullable=False),
    Column("status", String(20), nullable=False),  # ok, drift, not_enough_data
    Column("rows", BigInteger, nullable=False),
    Column("drift_share", Float(precision=53), nullable=True),  # NULL if not finite
    Column("dataset_drift", Boolean, nullable=False),
    Column("result", JSON, nullable=False),  # MonitoringResult.to_dict()
    Column("computed_at", UTC_TIME, nullable=False),
    UniqueConstraint("model", "window_start", "window_end"),
    Index(None, "model", "window_end"),
)

monitoring_columns = Table(
    "monitoring_columns",
    metadata,
    Column(
        "window_id",
        ID,
        ForeignKey("monitoring_windows.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role", String(20), primary_key=True),  # input or prediction
    Column("column", KEY, primary_key=True),
    Column("kind", String(20), nullable=False),  # numeric or categorical
    Column("method", String(50), nullable=False),
    Column("statistic", Float(precision=53), nullable=True),  # NULL: none, NaN or inf
    Column("p_value", Float(precision=53), nullable=True),  # NULL: a distance, not a test
    Column("threshold", Float(precision=53), nullable=False),
    Column("status", String(20), nullable=False),  # ok, drift, not_enough_data, missing, empty
    Column("current_rows", BigInteger, nullable=False),
    Column("current_nulls", BigInteger, nullable=False),
)

monitoring_actions = Table(
    "monitoring_actions",
    metadata,
    Column("id", ID, primary_key=True),
    Column(
        "window_id",
        ID,
        ForeignKey("monitoring_windows.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),  # 0, 1, ... in the order they run
    Column("kind", String(20), nullable=False),  # alert, retrain, evaluate, promote
    Column("status", String(20), nullable=False),  # pending, running, done, failed, skipped
    # No foreign key: the run may be recorded in another store.
    Column("run_id", ID, nullable=True),
    Column("started_at", UTC_TIME, nullable=True),
    Column("finished_at", UTC_TIME, nullable=True),
    Column("details", JSON, nullable=True),
    Column("error", Text, nullable=True),
    UniqueConstraint("window_id", "position"),
    Index(None, "status", "kind", "finished_at"),
)
