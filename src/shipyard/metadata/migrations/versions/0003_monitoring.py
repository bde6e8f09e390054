"""Monitoring: analysed windows, their columns, and the actions each window set off.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09

Only new tables: the tables of 0001 and 0002 and their rows are left as they are. As in
0001, the columns are spelled out here, never taken from ``_schema.py``, and constraint
and index names follow the naming convention of ``_schema.metadata``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(26)
NAME = sa.String(250)
KEY = sa.String(500)
UTC_TIME = sa.DateTime(timezone=True)
DOUBLE = sa.Float(precision=53)


def _window_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["window_id"],
        ["monitoring_windows.id"],
        name=f"fk_{table}_window_id_monitoring_windows",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "monitoring_windows",
        sa.Column("id", ID, nullable=False),
        sa.Column("model", NAME, nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("window_start", UTC_TIME, nullable=False),
        sa.Column("window_end", UTC_TIME, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("drift_share", DOUBLE, nullable=True),
        sa.Column("dataset_drift", sa.Boolean, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("computed_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitoring_windows"),
        sa.UniqueConstraint(
            "model",
            "window_start",
            "window_end",
            name="uq_monitoring_windows_model_window_start_window_end",
        ),
    )
    op.create_index(
        "ix_monitoring_windows_model_window_end", "monitoring_windows", ["model", "window_end"]
    )
    op.create_table(
        "monitoring_columns",
        sa.Column("window_id", ID, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("column", KEY, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("method", sa.String(50), nullable=False),
        sa.Column("statistic", DOUBLE, nullable=True),
        sa.Column("p_value", DOUBLE, nullable=True),
        sa.Column("threshold", DOUBLE, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("current_rows", sa.BigInteger, nullable=False),
        sa.Column("current_nulls", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("window_id", "role", "column", name="pk_monitoring_columns"),
        _window_fk("monitoring_columns"),
    )
    op.create_table(
        "monitoring_actions",
        sa.Column("id", ID, nullable=False),
        sa.Column("window_id", ID, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("started_at", UTC_TIME, nullable=True),
        sa.Column("finished_at", UTC_TIME, nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_monitoring_actions"),
        sa.UniqueConstraint(
            "window_id", "position", name="uq_monitoring_actions_window_id_position"
        ),
        _window_fk("monitoring_actions"),
    )
    op.create_index(
        "ix_monitoring_actions_status_kind_finished_at",
        "monitoring_actions",
        ["status", "kind", "finished_at"],
    )


def downgrade() -> None:
    for table in ("monitoring_actions", "monitoring_columns", "monitoring_windows"):
        op.drop_table(table)
