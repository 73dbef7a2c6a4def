"""Redact what is already stored with today's redactor.

Reviewers' notes, theme names and who made a change were stored as typed, and older questions
with a redactor that missed some forms; every such text is passed through the redactor the
store now applies on the way in. The schema does not change, and there is nothing to undo: the
text as typed is gone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.privacy import redact, redact_actor

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 500  # rows read at a time, so a large table is not held in memory at once
NAME_LENGTH = 200  # themes.name
# (table, column, how to redact it): the free texts the store writes.
TEXTS = (
    ("questions", "text", redact),
    ("themes", "name", lambda text: redact(text)[:NAME_LENGTH]),
    ("themes", "note", redact),
    ("themes", "changed_by", redact_actor),
    ("theme_events", "note", redact),
    ("theme_events", "by", redact_actor),
    ("theme_events", "detail", redact),
)


def _rewrite(connection: sa.Connection, table: str, column: str, redactor) -> None:
    rows = sa.table(table, sa.column("id"), sa.column(column))
    key = rows.c.id
    last = None
    while True:
        query = sa.select(key, rows.c[column]).order_by(key).limit(BATCH)
        if last is not None:
            query = query.where(key > last)
        batch = connection.execute(query).all()
        if not batch:
            return
        for row_id, text in batch:
            if text is None:
                continue
            cleaned = redactor(text)
            if cleaned != text:
                connection.execute(sa.update(rows).where(key == row_id).values({column: cleaned}))
        last = batch[-1][0]


def upgrade() -> None:
    connection = op.get_bind()
    for table, column, redactor in TEXTS:
        _rewrite(connection, table, column, redactor)


def downgrade() -> None:
    pass  # redacted text cannot be restored
