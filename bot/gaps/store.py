"""SqlRecorder: questions, feedback and gap themes in SQLite or PostgreSQL, chosen by URL."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, col, select

from bot.errors import ConfigError, RutinbotError
from bot.filemodes import private_folder, private_sqlite, tighten_existing
from bot.gaps.migrate import upgrade
from bot.gaps.tables import THEME_STATUSES, Feedback, Question, Theme, ThemeEvent, utcnow
from bot.models import Answer
from bot.privacy import HASH_KEY_ENV, hash_key, pseudonym, redact, redact_actor, use_index

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000  # how long a SQLite writer waits for another process's transaction
KEY_NAME = "pseudonym.key"  # beside a SQLite database: pseudonyms stay stable across restarts
GROUPING_LOCK_ID = 0x72757469  # PostgreSQL advisory lock key for grouping gaps ("ruti")
MARKED_QUOTE_CHARS = 2000  # of a marked passage's text kept for export (calibration reads 1200)
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


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets settings that let several processes write safely."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _server_engine(parsed)
    memory = parsed.database in (None, "", ":memory:")
    if parsed.database and not memory:
        database = Path(parsed.database).expanduser()
        if not database.parent.is_dir():
            private_folder(database.parent)
        private_sqlite(database)  # 0600 before SQLite opens it: -wal and -shm take its mode
    engine = sa.create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        poolclass=StaticPool if memory else None,  # one connection, or each sees an empty db
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _server_engine(parsed) -> Engine:
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except ModuleNotFoundError as err:  # the driver is an install extra, not a core dependency
        raise ConfigError(
            f"[database] url needs the {err.name} driver: install it with "
            "`pip install 'rutinbot[postgres]'` and use a postgresql+psycopg:// URL"
        ) from None


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


def _saved_id(theme: Theme) -> int:
    """A theme's id; every theme read back from the database has one."""
    if theme.id is None:
        raise GapsError("a theme was used before it was saved")
    return theme.id


def _theme_name(name: str) -> str:
    # Built from redacted questions, but a reviewer or a caller may name a theme too.
    return redact(name)[:200]  # the column's length


def _theme_info(theme: Theme, questions: int) -> ThemeInfo:
    return ThemeInfo(
        id=_saved_id(theme),
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

    # Reviewers' labels: a refused question that one of its nearest passages did answer

    def mark_answered(
        self, record_id: str, passage: int, *, by: str = "", quote: str | None = None
    ) -> dict:
        """Mark a refused question as answered by citation `passage` (1-based) of its stored
        nearest passages, with who and when; `quote` is that passage's text. Returns the
        citation. Marking again replaces the earlier mark."""
        with self._session() as session:
            question = session.get(Question, record_id)
            if question is None:
                raise GapsError(f"no question with id {record_id}")
            if question.answered:
                raise GapsError(
                    f"question {record_id} was answered: only a refused question can be marked "
                    "(an answer that did not help is rated 👎 instead)"
                )
            count = len(question.citations)
            if not 1 <= passage <= count:
                raise GapsError(
                    f"question {record_id} has {count} nearest passages; "
                    f"choose one from 1 to {count}"
                    if count
                    else f"question {record_id} has no nearest passages to mark"
                )
            question.marked_passage = passage
            question.marked_by = redact_actor(by)
            question.marked_at = utcnow()
            question.marked_quote = redact(quote)[:MARKED_QUOTE_CHARS] if quote else None
            session.add(question)
            session.commit()
            return dict(question.citations[passage - 1])

    def unmark_answered(self, record_id: str) -> bool:
        """Take a reviewer's mark off a question; False if it had none."""
        with self._session() as session:
            question = session.get(Question, record_id)
            if question is None:
                raise GapsError(f"no question with id {record_id}")
            if question.marked_passage is None:
                return False
            question.marked_passage = None
            question.marked_by = None
            question.marked_at = None
            question.marked_quote = None
            session.add(question)
            session.commit()
        return True

    def labelled(self, since: datetime | None = None) -> list[Labelled]:
        """Every recorded question with its feedback and mark, oldest first."""
        rated = (
            select(Feedback.question_id, Feedback.helpful)
            .join(Question, col(Question.id) == col(Feedback.question_id))
            .distinct()
        )
        # Not whole rows: the vectors are of no use here, and there may be many questions.
        # sqlalchemy's select: sqlmodel's is typed for at most four columns.
        query = sa.select(
            col(Question.id),
            col(Question.text),
            col(Question.confidence),
            col(Question.answered),
            col(Question.marked_passage),
            col(Question.marked_quote),
            col(Question.index_id),
            col(Question.citations),
        ).order_by(col(Question.asked_at), col(Question.id))
        if since is not None:
            query = query.where(col(Question.asked_at) >= since)
            rated = rated.where(col(Question.asked_at) >= since)
        with self._session() as session:
            ratings = session.exec(rated).all()
            rows = session.execute(query).all()
        helpful = {rid for rid, ok in ratings if ok}
        unhelpful = {rid for rid, ok in ratings if not ok}
        return [
            Labelled(
                record_id=rid,
                question=text,
                confidence=confidence,
                answered=answered,
                helpful=rid in helpful,
                unhelpful=rid in unhelpful,
                marked_passage=passage,
                marked_quote=quote,
                index_id=index_id,
                citations=tuple(citations),
            )
            for rid, text, confidence, answered, passage, quote, index_id, citations in rows
        ]

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

    @contextmanager
    def grouping_lock(self) -> Iterator[None]:
        """Held while gaps are grouped into themes: two processes recording at once must not
        both put the same gap in a theme, or make the same theme twice.

        PostgreSQL: an advisory lock on a connection of its own. SQLite: a lock on a file beside
        the database (SQLite is always one machine), since its write lock would also block this
        process's own writes between the run's short transactions.
        """
        with self._grouping:  # threads of this process
            if self.engine.dialect.name == "postgresql":
                with self.engine.connect() as connection:
                    connection.exec_driver_sql(f"SELECT pg_advisory_lock({GROUPING_LOCK_ID})")
                    try:
                        yield
                    finally:
                        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({GROUPING_LOCK_ID})")
                        connection.commit()
                return
            database = self.engine.url.database
            if self.engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
                yield  # one process only: the thread lock is enough
                return
            import fcntl

            path = Path(database).expanduser().with_name(Path(database).name + ".grouping.lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the lock

    # Themes

    def add_theme(self, name: str) -> int:
        """Create an open theme; return its id, which stays the same for as long as it exists."""
        theme = Theme(name=_theme_name(name))
        with self._session() as session:
            session.add(theme)
            session.commit()
            return _saved_id(theme)

    def assign_theme(self, record_ids: Iterable[str], theme_id: int | None) -> int:
        """Put questions in a theme (None takes them out); return how many were found."""
        ids = list(record_ids)
        with self._session() as session:
            if theme_id is not None and session.get(Theme, theme_id) is None:
                raise GapsError(f"no theme with id {theme_id}")
            result = session.exec(
                sa.update(Question).where(col(Question.id).in_(ids)).values(theme_id=theme_id)
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
            now, who = utcnow(), redact_actor(by)
            detail = f"{record_id}: #{old if old is not None else '-'} -> #{theme_id}"
            for tid in {theme_id} if old is None else {old, theme_id}:
                event = ThemeEvent(theme_id=tid, at=now, by=who, kind="move", detail=detail)
                session.add(event)
            session.commit()
        return old

    def themes(self, status: str | None = None) -> list[ThemeInfo]:
        """All themes (or those with one status), oldest first, with their question counts."""
        count = (
            select(sa.func.count(col(Question.id)))
            .where(Question.theme_id == Theme.id)
            .correlate(Theme)
            .scalar_subquery()
        )
        query = select(Theme, count).order_by(col(Theme.created_at), col(Theme.id))
        if status is not None:
            query = query.where(Theme.status == status)
        with self._session() as session:
            return [_theme_info(theme, n) for theme, n in session.exec(query).all()]

    def theme(self, theme_id: int) -> ThemeInfo | None:
        """One theme with its question count, or None."""
        count = select(sa.func.count(col(Question.id))).where(col(Question.theme_id) == theme_id)
        with self._session() as session:
            theme = session.get(Theme, theme_id)
            return None if theme is None else _theme_info(theme, session.exec(count).one())

    def theme_events(self, theme_id: int) -> list[ThemeHistory]:
        """A theme's history of status changes, merges, moves and reindex flags, oldest first."""
        query = (
            select(ThemeEvent)
            .where(ThemeEvent.theme_id == theme_id)
            .order_by(col(ThemeEvent.at), col(ThemeEvent.id))
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
                note = redact(note)
                theme.note = note
            theme.changed_by = redact_actor(by)
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
                select(sa.func.count(col(Question.id))).where(col(Question.theme_id) == theme_id)
            ).one()
        return _theme_info(theme, questions)

    def rename_theme(self, theme_id: int, name: str) -> None:
        with self._session() as session:
            theme = session.get(Theme, theme_id)
            if theme is None:
                raise GapsError(f"no theme with id {theme_id}")
            theme.name = _theme_name(name)
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
            if merged is None:
                raise GapsError(f"no theme with id {theme_id}")
            if session.get(Theme, into) is None:
                raise GapsError(f"no theme with id {into}")
            moved = session.exec(
                sa.update(Question).where(col(Question.theme_id) == theme_id).values(theme_id=into)
            )
            session.exec(sa.delete(ThemeEvent).where(col(ThemeEvent.theme_id) == theme_id))
            session.exec(sa.delete(Theme).where(col(Theme.id) == theme_id))
            session.add(
                ThemeEvent(
                    theme_id=into,
                    by=redact_actor(by),
                    kind="merge",
                    detail=f"#{theme_id} {redact(merged.name)} ({moved.rowcount})",
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
