"""The records the gaps store hands out: gaps, themes, their history, labels and weekly counts.

Frozen dataclasses (and GapsError) that cross module borders: the front ends, reports and
grouping read them without needing the recorder or the database, so they live apart from
SqlRecorder in bot.gaps.store, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.errors import RutinbotError


class GapsError(RutinbotError):
    """A gaps operation names something that does not exist or is not allowed."""


@dataclass(frozen=True)
class Gap:
    """A question the documents did not answer, or whose answer someone found unhelpful."""

    record_id: str
    time: datetime  # UTC
    question: str  # redacted
    reason: str  # "unanswered" or "unhelpful"
    channel: str
    confidence: float
    theme_id: int | None
    citations: tuple[dict, ...]  # top citations: document, section, page, chunk_id, score
    answered_now: bool = False  # the last reindex answers it confidently
    answered_now_citations: tuple[dict, ...] = ()  # what the last reindex answered it with
    marked_passage: int | None = None  # a reviewer found citation N (1-based) answers it


@dataclass(frozen=True)
class ThemeInfo:
    """A theme as reviewers see it, with how many recorded questions belong to it."""

    id: int
    name: str
    status: str
    answered_now: bool
    note: str
    changed_by: str | None
    changed_at: datetime | None
    created_at: datetime
    questions: int
    answered_now_at: datetime | None = None
    answered_now_index: str = ""


@dataclass(frozen=True)
class ThemeHistory:
    """One change to a theme as reviewers see it."""

    at: datetime
    by: str | None
    kind: str  # status, merge, move or answered_now
    status: str | None
    note: str
    detail: str


@dataclass(frozen=True)
class Labelled:
    """A recorded question with what its outcome says: the confidence report's raw material."""

    record_id: str
    question: str  # redacted
    confidence: float
    answered: bool
    helpful: bool  # someone gave its answer 👍
    unhelpful: bool  # someone gave its answer 👎
    marked_passage: int | None  # refused, and a reviewer found citation N answers it
    marked_quote: str | None  # that passage's text (redacted), when the index still had it
    index_id: str
    citations: tuple[dict, ...]


@dataclass(frozen=True)
class WeekCount:
    """Questions and feedback in one week (Monday to Sunday, UTC)."""

    week: date  # its Monday
    answered: int
    unanswered: int
    helpful: int
    unhelpful: int
