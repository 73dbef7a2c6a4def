"""The audit log of document administration, in the SQL store beside the gaps tables.

Every admin action from any front end (web, Telegram, the CLI) is one row: when, the channel,
who, what, on which document or trash entry, and how it ended. Targets and results are
redacted like every free text. A database that cannot be reached never stops the action
itself: the failure is logged (in English, without the file name) and the action goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from bot.admin.model import Actor, AuditEntry
from bot.errors import RutinbotError
from bot.gaps.tables import AdminAction, utcnow
from bot.privacy import redact, redact_actor

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

ACTIONS = ("add", "replace", "remove", "restore", "metadata", "reindex", "purge-trash")
CHANNELS = ("web", "telegram", "cli", "system")
RESULT_CHARS = 500


def one_line(text: str, limit: int = RESULT_CHARS) -> str:
    return " ".join(str(text).split())[:limit]


class AuditLog:
    """Audit rows in the store at `target` (a database URL, or an engine shared with the
    recorder). The schema is migrated on first use; a failed migration is retried later."""

    def __init__(self, target: str | Engine) -> None:
        self._url = target if isinstance(target, str) else None
        self._engine: Engine | None = target if isinstance(target, Engine) else None
        self._own = isinstance(target, str)
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        return cls(settings.database_url)

    def _engine_ready(self) -> Engine:
        with self._lock:
            if self._engine is None:
                from bot.gaps.engine import create_db_engine

                assert self._url is not None
                self._engine = create_db_engine(self._url)
            if not self._ready:
                from bot.gaps.migrate import upgrade

                upgrade(self._engine)
                self._ready = True
            return self._engine

    def close(self) -> None:
        if self._own and self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def record(self, actor: Actor, action: str, target: str = "", result: str = "ok") -> bool:
        """Store one action; False (and a log line) when the store could not take it."""
        row = AdminAction(
            at=utcnow(),
            channel=one_line(actor.channel, 20),
            actor=redact_actor(actor.name) or "-",
            action=one_line(action, 20),
            target=redact(one_line(target)),
            result=redact(one_line(result)),
        )
        try:
            with Session(self._engine_ready()) as session:
                session.add(row)
                session.commit()
        except (SQLAlchemyError, OSError, RutinbotError) as err:
            # Never the target: a file name can name a person.
            log.error(
                "the audit log could not record a %s action (%s); the action itself went on",
                row.action,
                type(err).__name__,
            )
            return False
        return True

    def entries(self, limit: int = 200) -> list[AuditEntry]:
        """The newest `limit` actions, newest first."""
        query = (
            select(AdminAction)
            .order_by(sa.desc(col(AdminAction.at)), sa.desc(col(AdminAction.id)))
            .limit(max(0, limit))
        )
        try:
            with Session(self._engine_ready()) as session:
                rows = session.exec(query).all()
        except SQLAlchemyError as err:
            raise RutinbotError(
                f"the audit log cannot be read ({type(err).__name__})",
                "Händelseloggen kan inte läsas just nu. Försök igen om en stund.",
            ) from None
        return [AuditEntry(r.at, r.channel, r.actor, r.action, r.target, r.result) for r in rows]
