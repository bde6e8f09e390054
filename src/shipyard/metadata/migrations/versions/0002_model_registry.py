"""The model registry: models, versions, aliases, tags, history, promotion requests, approvals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Only new tables: the tables of 0001 and their rows are left as they are. As in 0001, the
columns are spelled out here, never taken from ``_schema.py``, and constraint and index
names follow the naming convention of ``_schema.metadata``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(26)
NAME = sa.String(250)
KEY = sa.String(500)
DIGEST = sa.String(71)
UTC_TIME = sa.DateTime(timezone=True)
ROW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _model_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["model"], ["registered_models.name"], name=f"fk_{table}_model_registered_models"
    )


def _version_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["model", "version"],
        ["model_versions.model", "model_versions.version"],
        name=f"fk_{table}_model_model_versions",
    )


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", NAME, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("created_by", NAME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_registered_models"),
    )
    op.create_table(
        "model_versions",
        sa.Column("model", NAME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("dataset", NAME, nullable=True),
        sa.Column("flavor", sa.String(50), nullable=False),
        sa.Column("signature", sa.JSON, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("trusted", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("created_by", NAME, nullable=False),
        sa.PrimaryKeyConstraint("model", "version", name="pk_model_versions"),
        sa.UniqueConstraint("model", "digest", name="uq_model_versions_model_digest"),
        _model_fk("model_versions"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("model", NAME, nullable=False),
        sa.Column("alias", NAME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("updated_by", NAME, nullable=False),
        sa.PrimaryKeyConstraint("model", "alias", name="pk_model_aliases"),
        _version_fk("model_aliases"),
    )
    op.create_table(
        "model_tags",
        sa.Column("model", NAME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("model", "version", "key", name="pk_model_tags"),
        _model_fk("model_tags"),
    )
    op.create_table(
        "model_events",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("model", NAME, nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("alias", NAME, nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor", NAME, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_events"),
        _model_fk("model_events"),
    )
    op.create_index("ix_model_events_model_at", "model_events", ["model", "at"])
    op.create_table(
        "promotion_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("model", NAME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("alias", NAME, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("gate_results", sa.JSON, nullable=False),
        sa.Column("requested_by", NAME, nullable=False),
        sa.Column("requested_at", UTC_TIME, nullable=False),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("closed_by", NAME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_promotion_requests"),
        _version_fk("promotion_requests"),
    )
    op.create_index("ix_promotion_requests_model_status", "promotion_requests", ["model", "status"])
    op.create_table(
        "approvals",
        sa.Column("request_id", ID, nullable=False),
        sa.Column("user", NAME, nullable=False),
        sa.Column("role", NAME, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("request_id", "user", name="pk_approvals"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["promotion_requests.id"],
            name="fk_approvals_request_id_promotion_requests",
        ),
    )


def downgrade() -> None:
    for table in (
        "approvals",
        "promotion_requests",
        "model_events",
        "model_tags",
        "model_aliases",
        "model_versions",
        "registered_models",
    ):
        op.drop_table(table)
