"""The gaps tables: questions asked, feedback on their answers, and themes reviewers follow."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from bot.gaps.statuses import ACTIVE_STATUSES, THEME_STATUS_SV, THEME_STATUSES

# Re-exported: older imports take the statuses from here.
__all__ = ["ACTIVE_STATUSES", "THEME_STATUSES", "THEME_STATUS_SV"]


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no time zones: values are stored as naive UTC and given their zone back on read,
    so callers compare and sort aware datetimes whichever database is behind the URL.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Theme(SQLModel, table=True):
    """A group of similar gaps that reviewers give a status and follow until it is resolved."""

    __tablename__ = "themes"
    __table_args__ = (
        sa.CheckConstraint(
            f"status IN ({', '.join(repr(x) for x in THEME_STATUSES)})", name="ck_themes_status"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    status: str = Field(default="open", max_length=20)
    answered_now: bool = False  # "besvaras nu": the current index answers the theme's questions
    answered_now_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_now_index: str = Field(default="", max_length=64)  # the index that answers them
    note: str = ""  # the reviewer's note
    changed_by: str | None = Field(default=None, max_length=100)
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Question(SQLModel, table=True):
    """A question as asked (redacted), by whom (a pseudonym), and how well it was answered."""

    __tablename__ = "questions"

    id: str = Field(primary_key=True, max_length=32)
    text: str  # redacted before it gets here
    asked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    channel: str = Field(max_length=32)
    asker: str = Field(max_length=64)  # pseudonym, never the channel's user id
    answered: bool
    confidence: float
    index_id: str = Field(default="", max_length=64)  # the index the citations refer to
    citations: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    theme_id: int | None = Field(
        default=None, foreign_key="themes.id", ondelete="SET NULL", index=True
    )
    # Set when a reindex re-asked the question and the new documents answer it confidently.
    answered_now: bool = False
    answered_now_citations: list[dict] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # The question's vector for grouping (float32 bytes), and the encoder that made it: encoded
    # once, again only when the encoder changes (migration 0004).
    vector: bytes | None = Field(default=None, sa_column=Column(sa.LargeBinary, nullable=True))
    vector_encoder: str | None = Field(default=None, max_length=200)
    # A reviewer found that one of a refused question's nearest passages did answer it: its
    # 1-based place in `citations`, who said so and when, and the passage's text (redacted) for
    # exporting the question as labelled (migration 0005).
    marked_passage: int | None = None
    marked_by: str | None = Field(default=None, max_length=100)
    marked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    marked_quote: str | None = None


class Feedback(SQLModel, table=True):
    """Whether an answer helped; an unhelpful answer makes its question a gap."""

    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    question_id: str = Field(
        foreign_key="questions.id", ondelete="CASCADE", index=True, max_length=32
    )
    helpful: bool
    given_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


EVENT_KINDS = ("status", "merge", "move", "answered_now")


class ThemeEvent(SQLModel, table=True):
    """One change to a theme: who did what when, kept so reviewers can follow its history."""

    __tablename__ = "theme_events"

    id: int | None = Field(default=None, primary_key=True)
    theme_id: int = Field(foreign_key="themes.id", ondelete="CASCADE", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    by: str | None = Field(default=None, max_length=100)
    kind: str = Field(max_length=20)  # one of EVENT_KINDS
    status: str | None = Field(default=None, max_length=20)  # the status after the change
    note: str = ""
    detail: str = ""  # e.g. "merged theme 4 (3 questions)"


class AdminAction(SQLModel, table=True):
    """One admin action on the documents (add, replace, remove, restore, metadata, reindex,
    purge-trash), from any front end: who, what, when and how it ended (migration 0006)."""

    __tablename__ = "admin_actions"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    channel: str = Field(max_length=20)  # web, telegram or cli
    actor: str = Field(max_length=100)
    action: str = Field(max_length=20)
    target: str = ""  # a document name or trash id, redacted
    result: str = ""  # "ok" or a one-line English reason, redacted


TABLES = tuple(
    SQLModel.metadata.tables[m.__tablename__]
    for m in (Theme, Question, Feedback, ThemeEvent, AdminAction)
)
