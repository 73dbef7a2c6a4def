"""SqlRecorder: questions, feedback and gap themes in SQLite or PostgreSQL, chosen by URL."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, select

from bot.errors import RutinbotError
from bot.gaps.migrate import upgrade
from bot.gaps.tables import THEME_STATUSES, Feedback, Question, Theme, utcnow
from bot.models import Answer
from bot.privacy import HASH_KEY_ENV, hash_key, pseudonym, redact

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000  # how long a SQLite writer waits for another process's transaction
KEY_NAME = "pseudonym.key"  # the same file JsonlRecorder uses, so pseudonyms stay stable


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


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets settings that let several processes write safely."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    memory = parsed.database in (None, "", ":memory:")
    if not memory:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        poolclass=StaticPool if memory else None,  # one connection, or each sees an empty db
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Take transactions out of the sqlite3 module's hands, so _sqlite_begin decides how they start.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")  # readers don't block the writer, nor it them
    cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, and much faster
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # A deferred transaction that reads and then writes can't wait for another writer: SQLite
    # fails it with "database is locked" at once, whatever busy_timeout says. Taking the write
    # lock up front makes it wait its turn instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _default_key_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database).expanduser().parent / KEY_NAME
    return None


def _citations(answer: Answer) -> list[dict]:
    return [
        {
            "document": c.document,
            "section": c.section,
            "page": c.page,
            "chunk_id": c.chunk_id,
            "score": round(float(c.score), 6),
        }
        for c in answer.citations
    ]


def _theme_info(theme: Theme, questions: int) -> ThemeInfo:
    return ThemeInfo(
        id=theme.id,
        name=theme.name,
        status=theme.status,
        answered_now=theme.answered_now,
        note=theme.note,
        changed_by=theme.changed_by,
        changed_at=theme.changed_at,
        created_at=theme.created_at,
        questions=questions,
    )


class SqlRecorder:
    """The Recorder for production: one row a question, migrated to the newest schema on open.

    Every method is one short transaction, so the bot, the web page and the CLI can share a
    SQLite file. Question text is redacted and askers pseudonymised here, whatever the caller did.
    """

    def __init__(
        self, url: str, *, key_file: str | Path | None = None, migrate: bool = True
    ) -> None:
        self.engine = create_db_engine(url)
        if migrate:
            upgrade(self.engine)
        self._key_file = Path(key_file) if key_file else _default_key_file(url)
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SqlRecorder:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _pseudonym(self, asker: str) -> str:
        with self._lock:
            if self._key is None:
                if self._key_file is None:
                    if not os.environ.get(HASH_KEY_ENV):
                        raise GapsError(
                            f"set {HASH_KEY_ENV} (or pass key_file): a server database needs "
                            "one pseudonym key shared by every process that records questions"
                        )
                    self._key = os.environ[HASH_KEY_ENV].encode()
                else:
                    self._key = hash_key(self._key_file)
        return pseudonym(asker, self._key)

    # The Recorder protocol

    def record_question(self, channel: str, asker: str, question: str, answer: Answer) -> str:
        row = Question(
            id=secrets.token_hex(6),
            text=redact(question),
            channel=channel,
            asker=self._pseudonym(asker),
            answered=answer.answered,
            confidence=round(float(answer.confidence), 4),
            index_id=answer.index_id,
            citations=_citations(answer),
        )
        with self._session() as session:
            session.add(row)
            session.commit()
        return row.id

    def record_feedback(self, record_id: str, helpful: bool) -> None:
        with self._session() as session:
            if session.get(Question, record_id) is None:
                # Deleted or purged between the answer and the click: nothing left to rate.
                log.info("feedback for question %s ignored: it is no longer recorded", record_id)
                return
            session.add(Feedback(question_id=record_id, helpful=helpful))
            session.commit()

    # Knowledge gaps

    def gaps(
        self,
        since: datetime | None = None,
        *,
        theme_id: int | None = None,
        unthemed: bool = False,
        limit: int | None = None,
    ) -> list[Gap]:
        """Unanswered questions and questions with unhelpful feedback, oldest first."""
        unhelpful = (
            sa.exists()
            .where(Feedback.question_id == Question.id, sa.not_(Feedback.helpful))
            .correlate(Question)
        )
        query = select(Question).where(sa.or_(sa.not_(Question.answered), unhelpful))
        if since is not None:
            query = query.where(Question.asked_at >= since)
        if theme_id is not None:
            query = query.where(Question.theme_id == theme_id)
        if unthemed:
            query = query.where(Question.theme_id.is_(None))
        query = query.order_by(Question.asked_at, Question.id).limit(limit)
        with self._session() as session:
            rows = session.exec(query).all()
        return [
            Gap(
                record_id=q.id,
                time=q.asked_at,
                question=q.text,
                reason="unhelpful" if q.answered else "unanswered",
                channel=q.channel,
                confidence=q.confidence,
                theme_id=q.theme_id,
                citations=tuple(q.citations),
            )
            for q in rows
        ]

    def question(self, record_id: str) -> Question | None:
        """One recorded question (detached from its session), or None."""
        with self._session() as session:
            return session.get(Question, record_id)

    def purge(self, older_than_days: int) -> int:
        """Delete questions (and their feedback) asked more than this many days ago."""
        if older_than_days < 0:
            raise GapsError(f"older_than_days must not be negative, got {older_than_days}")
        cutoff = utcnow() - timedelta(days=older_than_days)
        old = select(Question.id).where(Question.asked_at < cutoff)
        with self._session() as session:
            # Explicit, not left to ON DELETE CASCADE: SQLite enforces that only per connection.
            session.exec(sa.delete(Feedback).where(Feedback.question_id.in_(old)))
            deleted = session.exec(sa.delete(Question).where(Question.asked_at < cutoff))
            session.commit()
        return deleted.rowcount

    def delete_question(self, record_id: str) -> bool:
        """Delete one question and its feedback (someone asked to be forgotten); False if absent."""
        with self._session() as session:
            session.exec(sa.delete(Feedback).where(Feedback.question_id == record_id))
            deleted = session.exec(sa.delete(Question).where(Question.id == record_id))
            session.commit()
        return deleted.rowcount > 0

    # Themes

    def add_theme(self, name: str) -> int:
        """Create an open theme; return its id, which stays the same for as long as it exists."""
        theme = Theme(name=name)
        with self._session() as session:
            session.add(theme)
            session.commit()
            return theme.id

    def assign_theme(self, record_ids: Iterable[str], theme_id: int | None) -> int:
        """Put questions in a theme (None takes them out); return how many were found."""
        ids = list(record_ids)
        with self._session() as session:
            if theme_id is not None and session.get(Theme, theme_id) is None:
                raise GapsError(f"no theme with id {theme_id}")
            result = session.exec(
                sa.update(Question).where(Question.id.in_(ids)).values(theme_id=theme_id)
            )
            session.commit()
        return result.rowcount

    def themes(self, status: str | None = None) -> list[ThemeInfo]:
        """All themes (or those with one status), oldest first, with their question counts."""
        count = (
            select(sa.func.count(Question.id))
            .where(Question.theme_id == Theme.id)
            .correlate(Theme)
            .scalar_subquery()
        )
        query = select(Theme, count).order_by(Theme.created_at, Theme.id)
        if status is not None:
            query = query.where(Theme.status == status)
        with self._session() as session:
            return [_theme_info(theme, n) for theme, n in session.exec(query).all()]

    def set_theme_status(
        self, theme_id: int, status: str, note: str | None = None, by: str = ""
    ) -> ThemeInfo:
        """Change a theme's status (and note, if given), recording who changed it and when."""
        if status not in THEME_STATUSES:
            raise GapsError(
                f"unknown theme status {status!r}; use one of {', '.join(THEME_STATUSES)}"
            )
        with self._session() as session:
            theme = session.get(Theme, theme_id)
            if theme is None:
                raise GapsError(f"no theme with id {theme_id}")
            theme.status = status
            if note is not None:
                theme.note = note
            theme.changed_by = by or None
            theme.changed_at = utcnow()
            session.add(theme)
            session.commit()
            questions = session.exec(
                select(sa.func.count(Question.id)).where(Question.theme_id == theme_id)
            ).one()
        return _theme_info(theme, questions)

    def rename_theme(self, theme_id: int, name: str) -> None:
        with self._session() as session:
            theme = session.get(Theme, theme_id)
            if theme is None:
                raise GapsError(f"no theme with id {theme_id}")
            theme.name = name[:200]  # the column's length
            session.add(theme)
            session.commit()

    def merge_theme(self, theme_id: int, into: int) -> int:
        """Move every question of one theme into another and delete the first; return how many."""
        if theme_id == into:
            raise GapsError(f"cannot merge theme {theme_id} into itself")
        with self._session() as session:
            for tid in (theme_id, into):
                if session.get(Theme, tid) is None:
                    raise GapsError(f"no theme with id {tid}")
            moved = session.exec(
                sa.update(Question).where(Question.theme_id == theme_id).values(theme_id=into)
            )
            session.exec(sa.delete(Theme).where(Theme.id == theme_id))
            session.commit()
        return moved.rowcount

    def set_answered_now(self, theme_id: int, answered_now: bool) -> None:
        """Flag a theme "besvaras nu": after a reindex, the documents answer its questions."""
        with self._session() as session:
            theme = session.get(Theme, theme_id)
            if theme is None:
                raise GapsError(f"no theme with id {theme_id}")
            theme.answered_now = answered_now
            session.add(theme)
            session.commit()


def create_recorder(settings: Settings) -> SqlRecorder:
    """The recorder the settings describe, migrated, with questions past retention purged."""
    recorder = SqlRecorder(settings.database_url, key_file=settings.paths.data / KEY_NAME)
    if settings.database.retention_days:
        purged = recorder.purge(settings.database.retention_days)
        if purged:
            log.info(
                "purged %s questions older than %s days", purged, settings.database.retention_days
            )
    return recorder
