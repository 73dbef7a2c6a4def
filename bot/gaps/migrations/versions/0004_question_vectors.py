"""Question vectors for grouping gaps, stored with the encoder that made them.

Grouping new gaps into themes compared each one with every open theme's questions, encoding all
of them again on every run. Each question's vector is now stored once, with the encoder's name:
a question is encoded again only when the configured encoder changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("vector", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("vector_encoder", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("vector_encoder")
        batch.drop_column("vector")
