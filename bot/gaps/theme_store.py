"""ThemeStore: SqlRecorder's theme operations, a mixin kept apart from recording questions.

Reviewers follow gaps as themes: grouping runs (one at a time across processes, behind
grouping_lock) add themes and put questions in them, and reviewers move questions, change a
theme's status, rename and merge themes, each change kept in the theme's history. SqlRecorder
in bot.gaps.store inherits these methods and supplies the engine and sessions they use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.gaps.records import GapsError, ThemeHistory, ThemeInfo
from bot.gaps.tables import THEME_STATUSES, Question, Theme, ThemeEvent, utcnow
from bot.privacy import redact, redact_actor

GROUPING_LOCK_ID = 0x72757469  # PostgreSQL advisory lock key for grouping gaps ("ruti")


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


class ThemeStore:
    """Theme operations of SqlRecorder, which provides what is declared here."""

    engine: Engine
    _grouping: threading.Lock
    _session: Callable[[], Session]

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
