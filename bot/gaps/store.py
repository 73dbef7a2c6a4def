"""SqlRecorder: questions, feedback and gap themes in SQLite or PostgreSQL, chosen by URL.

The recorder keeps questions, feedback, their vectors and what a reindex re-answers; its theme
operations (ThemeStore) and reviewers' labels (LabelStore) are mixins in modules of their own,
the records it hands out are in bot.gaps.records and its engine in bot.gaps.engine. Those
names are re-exported, so `from bot.gaps.store import ...` keeps working.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from bot.filemodes import private_folder, tighten_existing
from bot.gaps.engine import BUSY_TIMEOUT_MS, create_db_engine
from bot.gaps.label_store import MARKED_QUOTE_CHARS, LabelStore
from bot.gaps.migrate import upgrade
from bot.gaps.records import Gap, GapsError, Labelled, ThemeHistory, ThemeInfo, WeekCount
from bot.gaps.tables import Feedback, Question, Theme, ThemeEvent, utcnow
from bot.gaps.theme_store import GROUPING_LOCK_ID, ThemeStore
from bot.models import Answer
from bot.privacy import HASH_KEY_ENV, hash_key, pseudonym, redact, use_index

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = [
    "ANSWERED_NOW_SHARE",
    "BUSY_TIMEOUT_MS",
    "GROUPING_LOCK_ID",
    "KEY_NAME",
    "MARKED_QUOTE_CHARS",
    "Gap",
    "GapsError",
    "LabelStore",
    "Labelled",
    "SqlRecorder",
    "ThemeHistory",
    "ThemeInfo",
    "ThemeStore",
    "WeekCount",
    "create_db_engine",
    "create_recorder",
]

log = logging.getLogger(__name__)

KEY_NAME = "pseudonym.key"  # beside a SQLite database: pseudonyms stay stable across restarts
ANSWERED_NOW_SHARE = 0.5  # of a theme's re-asked questions answered, for "besvaras nu"


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


class SqlRecorder(ThemeStore, LabelStore):
    """Where front ends record questions and feedback, and reviewers read the gaps: one row a
    question, migrated to the newest schema on open.

    Every method is one short transaction, so the bot, the web page and the CLI can share a
    SQLite file. Every free text (questions, theme names, notes, who made a change) is redacted
    and askers pseudonymised here, whatever the caller did.
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
        self._grouping = threading.Lock()

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
                    if not self._key_file.parent.is_dir():
                        private_folder(self._key_file.parent)
                    tighten_existing(self._key_file)  # an older, looser key file
                    self._key = hash_key(self._key_file)
        return pseudonym(asker, self._key)

    def pseudonym(self, asker: str) -> str:
        """The keyed hash an asker is recorded under (what ownership checks compare)."""
        return self._pseudonym(asker)

    # Recording: what front ends call

    def record_question(
        self,
        channel: str,
        asker: str,
        question: str,
        answer: Answer,
        *,
        record_id: str | None = None,
        asked_at: datetime | None = None,
    ) -> str:
        """Record a question; with a `record_id` (a queued write retried) at most once."""
        row = Question(
            id=record_id or secrets.token_hex(6),
            text=redact(question),
            channel=channel,
            asker=self._pseudonym(asker),
            answered=answer.answered,
            confidence=round(float(answer.confidence), 4),
            index_id=answer.index_id,
            citations=_citations(answer),
        )
        if asked_at is not None:
            row.asked_at = asked_at
        with self._session() as session:
            if record_id is not None and session.get(Question, record_id) is not None:
                return record_id  # an earlier attempt committed before its connection was cut
            session.add(row)
            session.commit()
        return row.id

    def record_feedback(
        self, record_id: str, helpful: bool, *, given_at: datetime | None = None
    ) -> None:
        """Record feedback; with `given_at` (a queued write retried) at most once."""
        with self._session() as session:
            if session.get(Question, record_id) is None:
                # Deleted or purged between the answer and the click: nothing left to rate.
                log.info("feedback for question %s ignored: it is no longer recorded", record_id)
                return
            if given_at is not None:
                same = select(Feedback.id).where(
                    Feedback.question_id == record_id, Feedback.given_at == given_at
                )
                if session.exec(same).first() is not None:
                    return  # an earlier attempt committed before its connection was cut
            row = Feedback(question_id=record_id, helpful=helpful)
            if given_at is not None:
                row.given_at = given_at
            session.add(row)
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
            .where(col(Feedback.question_id) == col(Question.id), sa.not_(col(Feedback.helpful)))
            .correlate(Question)
        )
        query = select(Question).where(sa.or_(sa.not_(col(Question.answered)), unhelpful))
        if since is not None:
            query = query.where(Question.asked_at >= since)
        if theme_id is not None:
            query = query.where(Question.theme_id == theme_id)
        if unthemed:
            query = query.where(col(Question.theme_id).is_(None))
        query = query.order_by(col(Question.asked_at), col(Question.id)).limit(limit)
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
                marked_passage=q.marked_passage,
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

    def has_feedback(self, record_id: str) -> bool:
        """Whether anyone rated the answer to that question."""
        with self._session() as session:
            found = select(Feedback.id).where(Feedback.question_id == record_id)
            return session.exec(found).first() is not None

    def purge(self, older_than_days: int) -> int:
        """Delete questions (and their feedback) asked more than this many days ago."""
        if older_than_days < 0:
            raise GapsError(f"older_than_days must not be negative, got {older_than_days}")
        cutoff = utcnow() - timedelta(days=older_than_days)
        old = select(Question.id).where(Question.asked_at < cutoff)
        with self._session() as session:
            # Explicit, not left to ON DELETE CASCADE: SQLite enforces that only per connection.
            session.exec(sa.delete(Feedback).where(col(Feedback.question_id).in_(old)))
            deleted = session.exec(sa.delete(Question).where(col(Question.asked_at) < cutoff))
            session.commit()
        return deleted.rowcount

    def delete_question(self, record_id: str) -> bool:
        """Delete one question and its feedback (someone asked to be forgotten); False if absent."""
        with self._session() as session:
            session.exec(sa.delete(Feedback).where(col(Feedback.question_id) == record_id))
            deleted = session.exec(sa.delete(Question).where(col(Question.id) == record_id))
            session.commit()
        return deleted.rowcount > 0

    # Grouping: vectors kept per question, and one grouping run at a time across processes

    def question_vectors(self, record_ids: Iterable[str], encoder: str) -> dict[str, bytes]:
        """Stored vectors of these questions that `encoder` made (others must be re-encoded)."""
        ids = list(record_ids)
        found: dict[str, bytes] = {}
        with self._session() as session:
            for start in range(0, len(ids), 500):  # keep the IN list short
                rows = session.exec(
                    select(Question.id, Question.vector).where(
                        col(Question.id).in_(ids[start : start + 500]),
                        Question.vector_encoder == encoder,
                        col(Question.vector).is_not(None),
                    )
                )
                found.update({rid: vector for rid, vector in rows if vector is not None})
        return found

    def store_vectors(self, vectors: dict[str, bytes], encoder: str) -> None:
        """Keep questions' vectors with the name of the encoder that made them."""
        if not vectors:
            return
        with self._session() as session:
            for rid, vector in vectors.items():
                session.exec(
                    sa.update(Question)
                    .where(col(Question.id) == rid)
                    .values(vector=vector, vector_encoder=encoder)
                )
            session.commit()

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
            questions = session.exec(
                select(Question).where(col(Question.id).in_(list(answers)))
            ).all()
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
    tighten_existing(settings.paths.data)  # everything under it is the service's alone
    use_index(settings.paths.index)  # redaction learns the municipality's place names from it
    recorder = SqlRecorder(settings.database_url, key_file=settings.paths.data / KEY_NAME)
    if settings.database.retention_days:
        purged = recorder.purge(settings.database.retention_days)
        if purged:
            log.info(
                "purged %s questions older than %s days", purged, settings.database.retention_days
            )
    return recorder
