"""The first schema: experiments, runs, tags, params, metrics, artifacts, lineage, nodes.

Revision ID: 0001
Revises: -
Create Date: 2026-11-28

Columns are spelled out here, not taken from ``_schema.py``: this file must keep creating
the schema of revision 0001 after the current schema has moved on. Constraint and index
names follow the naming convention of ``_schema.metadata``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.metadata._portable import FloatWithoutAffinity

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(26)
NAME = sa.String(250)
KEY = sa.String(500)
DIGEST = sa.String(71)
UTC_TIME = sa.DateTime(timezone=True)
METRIC_VALUE = sa.Float(precision=53).with_variant(FloatWithoutAffinity(), "sqlite")
ROW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id"], ["runs.id"], name=f"fk_{table}_run_id_runs", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )
    op.create_table(
        "environments",
        sa.Column("id", DIGEST, nullable=False),
        sa.Column("python", sa.String(100), nullable=False),
        sa.Column("platform", NAME, nullable=False),
        sa.Column("packages", sa.JSON, nullable=False),
        sa.Column("conda", sa.Text, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_environments"),
    )
    op.create_table(
        "runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("experiment_id", ID, nullable=False),
        sa.Column("name", NAME, nullable=True),
        sa.Column("project", NAME, nullable=True),
        sa.Column("pipeline", NAME, nullable=True),
        sa.Column("env", NAME, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("user", NAME, nullable=True),
        sa.Column("host", NAME, nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("git_branch", NAME, nullable=True),
        sa.Column("git_dirty", sa.Boolean, nullable=True),
        sa.Column("git_diff_digest", DIGEST, nullable=True),
        sa.Column("environment_id", DIGEST, nullable=True),
        sa.Column("parent_run_id", ID, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name="fk_runs_experiment_id_experiments"
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"], ["environments.id"], name="fk_runs_environment_id_environments"
        ),
        sa.ForeignKeyConstraint(["parent_run_id"], ["runs.id"], name="fk_runs_parent_run_id_runs"),
    )
    for columns in (
        ["experiment_id", "started_at"],
        ["pipeline", "started_at"],
        ["status", "started_at"],
        ["started_at"],
    ):
        op.create_index(f"ix_runs_{'_'.join(columns)}", "runs", columns)

    for table in ("run_tags", "params"):
        op.create_table(
            table,
            sa.Column("run_id", ID, nullable=False),
            sa.Column("key", KEY, nullable=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("run_id", "key", name=f"pk_{table}"),
            _run_fk(table),
        )
    op.create_index("ix_params_key", "params", ["key"])

    op.create_table(
        "metrics",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", METRIC_VALUE, nullable=True),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", UTC_TIME, nullable=False),
        sa.Column("node", NAME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_metrics"),
        _run_fk("metrics"),
    )
    op.create_index("ix_metrics_run_id_key_step", "metrics", ["run_id", "key", "step"])
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", METRIC_VALUE, nullable=True),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_latest_metrics"),
        _run_fk("latest_metrics"),
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])

    op.create_table(
        "artifacts",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "name", name="pk_artifacts"),
        _run_fk("artifacts"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("node", NAME, nullable=True),
        sa.Column("dataset", NAME, nullable=False),
        sa.Column("version_id", ID, nullable=False),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_versions"),
        sa.UniqueConstraint(
            "run_id",
            "node",
            "dataset",
            "version_id",
            "direction",
            name="uq_dataset_versions_run_id_node_dataset_version_id_direction",
        ),
        _run_fk("dataset_versions"),
    )
    op.create_index(
        "ix_dataset_versions_dataset_version_id", "dataset_versions", ["dataset", "version_id"]
    )
    op.create_index("ix_dataset_versions_digest", "dataset_versions", ["digest"])
    op.create_table(
        "node_runs",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("node", NAME, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=True),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("duration_s", sa.Float(precision=53), nullable=True),
        sa.Column("cache_hit", sa.Boolean, nullable=False),
        sa.Column("fingerprint", DIGEST, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "node", name="pk_node_runs"),
        _run_fk("node_runs"),
    )


def downgrade() -> None:
    for table in (
        "node_runs",
        "dataset_versions",
        "artifacts",
        "latest_metrics",
        "metrics",
        "params",
        "run_tags",
        "runs",
        "environments",
        "experiments",
    ):
        op.drop_table(table)
