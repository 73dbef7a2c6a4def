"""Reviewers mark a refused question answered by one of its nearest passages.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("marked_passage", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("marked_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("marked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("marked_quote", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("marked_quote")
        batch.drop_column("marked_at")
        batch.drop_column("marked_by")
        batch.drop_column("marked_passage")
