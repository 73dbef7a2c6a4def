"""SqlRecorder: questions, feedback and gap themes in SQLite or PostgreSQL, chosen by URL."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, select

from bot.errors import RutinbotError
from bot.gaps.migrate import upgrade
from bot.gaps.tables import THEME_STATUSES, Feedback, Question, Theme, ThemeEvent, utcnow
from bot.models import Answer
from bot.privacy import HASH_KEY_ENV, hash_key, pseudonym, redact

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000  # how long a SQLite writer waits for another process's transaction
KEY_NAME = "pseudonym.key"  # beside a SQLite database: pseudonyms stay stable across restarts
ANSWERED_NOW_SHARE = 0.5  # of a theme's re-asked questions answered, for "besvaras nu"


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
class WeekCount:
    """Questions and feedback in one week (Monday to Sunday, UTC)."""

    week: date  # its Monday
    answered: int
    unanswered: int
    helpful: int
    unhelpful: int


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
        answered_now_at=theme.answered_now_at,
        answered_now_index=theme.answered_now_index,
    )


class SqlRecorder:
    """Where front ends record questions and feedback, and reviewers read the gaps: one row a
    question, migrated to the newest schema on open.

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

    # Recording: what front ends call

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
                answered_now=q.answered_now,
                answered_now_citations=tuple(q.answered_now_citations),
            )
            for q in rows
        ]

    def weekly(self, weeks: int = 8, *, now: datetime | None = None) -> list[WeekCount]:
        """Questions answered and not, and feedback given, per week for the last `weeks` weeks.

        Oldest first, and every week is present (zeros included), so a chart needs no gaps.
        """
        if weeks < 1:
            raise GapsError(f"weeks must be at least 1, got {weeks}")
        today = (now or utcnow()).date()
        first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        counts = {first + timedelta(weeks=i): [0, 0, 0, 0] for i in range(weeks)}

        def week_of(moment: datetime) -> date:
            day = moment.date()
            return day - timedelta(days=day.weekday())

        with self._session() as session:
            asked = session.exec(
                select(Question.asked_at, Question.answered).where(Question.asked_at >= start)
            ).all()
            rated = session.exec(
                select(Feedback.given_at, Feedback.helpful).where(Feedback.given_at >= start)
            ).all()
        for moment, answered in asked:
            if (row := counts.get(week_of(moment))) is not None:
                row[0 if answered else 1] += 1
        for moment, helpful in rated:
            if (row := counts.get(week_of(moment))) is not None:
                row[2 if helpful else 3] += 1
        return [WeekCount(week, *row) for week, row in counts.items()]

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

    def move_question(self, record_id: str, theme_id: int, *, by: str = "") -> int | None:
        """Put one question in another theme, in both themes' history; return its old theme."""
        with self._session() as session:
            question = session.get(Question, record_id)
            if question is None:
                raise GapsError(f"no question with id {record_id}")
            if session.get(Theme, theme_id) is None:
                raise GapsError(f"no theme with id {theme_id}")
            old = question.theme_id
            if old == theme_id:
                return old
            question.theme_id = theme_id
            session.add(question)
            now = utcnow()
            detail = f"{record_id}: #{old if old is not None else '-'} -> #{theme_id}"
            for tid in {old, theme_id} - {None}:
                event = ThemeEvent(theme_id=tid, at=now, by=by or None, kind="move", detail=detail)
                session.add(event)
            session.commit()
        return old

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

    def theme(self, theme_id: int) -> ThemeInfo | None:
        """One theme with its question count, or None."""
        count = select(sa.func.count(Question.id)).where(Question.theme_id == theme_id)
        with self._session() as session:
            theme = session.get(Theme, theme_id)
            return None if theme is None else _theme_info(theme, session.exec(count).one())

    def theme_events(self, theme_id: int) -> list[ThemeHistory]:
        """A theme's history of status changes, merges, moves and reindex flags, oldest first."""
        query = (
            select(ThemeEvent)
            .where(ThemeEvent.theme_id == theme_id)
            .order_by(ThemeEvent.at, ThemeEvent.id)
        )
        with self._session() as session:
            return [
                ThemeHistory(e.at, e.by, e.kind, e.status, e.note, e.detail)
                for e in session.exec(query).all()
            ]

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
            session.add(
                ThemeEvent(
                    theme_id=theme_id,
                    at=theme.changed_at,
                    by=theme.changed_by,
                    kind="status",
                    status=status,
                    note=note or "",
                )
            )
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

    def merge_theme(self, theme_id: int, into: int, *, by: str = "") -> int:
        """Move every question of one theme into another and delete the first; return how many.

        The first theme's history goes with it; `into` records the merge, with the name the
        merged theme had, so its history still says where the questions came from.
        """
        if theme_id == into:
            raise GapsError(f"cannot merge theme {theme_id} into itself")
        with self._session() as session:
            merged = session.get(Theme, theme_id)
            for tid, theme in ((theme_id, merged), (into, session.get(Theme, into))):
                if theme is None:
                    raise GapsError(f"no theme with id {tid}")
            moved = session.exec(
                sa.update(Question).where(Question.theme_id == theme_id).values(theme_id=into)
            )
            session.exec(sa.delete(ThemeEvent).where(ThemeEvent.theme_id == theme_id))
            session.exec(sa.delete(Theme).where(Theme.id == theme_id))
            session.add(
                ThemeEvent(
                    theme_id=into,
                    by=by or None,
                    kind="merge",
                    detail=f"#{theme_id} {merged.name} ({moved.rowcount})",
                )
            )
            session.commit()
        return moved.rowcount

    def record_reanswers(
        self, index_id: str, answers: dict[str, Answer], *, share: float = ANSWERED_NOW_SHARE
    ) -> list[int]:
        """Store what a reindex answered gap questions with; flag themes "besvaras nu".

        Each re-asked question keeps whether the new index answers it and with which passages.
        A theme is flagged when at least `share` of its re-asked questions are answered now
        (one answered question among ten is not the theme answered). Flags from an earlier
        index are replaced. Returns the ids of themes flagged by this call that were not before.
        """
        now = utcnow()
        newly: list[int] = []
        with self._session() as session:
            questions = session.exec(select(Question).where(Question.id.in_(list(answers)))).all()
            per_theme: dict[int, list[bool]] = {}
            for q in questions:
                answer = answers[q.id]
                q.answered_now = answer.answered
                q.answered_now_citations = _citations(answer) if answer.answered else []
                session.add(q)
                if q.theme_id is not None:
                    per_theme.setdefault(q.theme_id, []).append(answer.answered)
            for theme_id, answered in per_theme.items():
                theme = session.get(Theme, theme_id)
                if theme is None:  # merged away while the questions were being asked
                    continue
                flagged = sum(answered) >= share * len(answered)
                if flagged and not theme.answered_now:
                    newly.append(theme_id)
                    theme.answered_now_at = now
                    session.add(
                        ThemeEvent(
                            theme_id=theme_id,
                            at=now,
                            kind="answered_now",
                            detail=f"{sum(answered)}/{len(answered)} index {index_id}",
                        )
                    )
                theme.answered_now = flagged
                theme.answered_now_index = index_id
                if not flagged:
                    theme.answered_now_at = None
                session.add(theme)
            session.commit()
        return newly


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
