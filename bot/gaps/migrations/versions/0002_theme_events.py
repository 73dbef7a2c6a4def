"""Theme history and "besvaras nu" details.

A theme's status changes, merges and reindex flags become rows of their own, so reviewers see
who changed what when, not only the last change. Questions keep what a reindex answered them with.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "theme_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["theme_id"], ["themes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_theme_events_theme_id", "theme_events", ["theme_id"])
    with op.batch_alter_table("themes") as batch:
        batch.add_column(sa.Column("answered_now_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("answered_now_index", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("questions") as batch:
        batch.add_column(
            sa.Column("answered_now", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("answered_now_citations", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("answered_now_citations")
        batch.drop_column("answered_now")
    with op.batch_alter_table("themes") as batch:
        batch.drop_column("answered_now_index")
        batch.drop_column("answered_now_at")
    op.drop_index("ix_theme_events_theme_id", table_name="theme_events")
    op.drop_table("theme_events")
