"""What the admin service hands its front ends: frozen records and the errors they translate.

The service itself is bot/admin/documents.py (reindex jobs: jobs.py, audit log: audit.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.errors import RutinbotError


@dataclass(frozen=True)
class Actor:
    """Who did an admin action: the channel and a name an admin recognises.

    web: the account name; telegram: "telegram:<user id>"; cli: "cli:<OS user>".
    """

    channel: str  # "web" | "telegram" | "cli"
    name: str

    def __str__(self) -> str:
        return self.name


class DocState(StrEnum):
    INDEXED = "indexed"  # in the current index, unchanged since
    WAITING = "waiting"  # new or changed on disk, not yet in the index
    SKIPPED = "skipped"  # the last index passed it over (reason given)
    REMOVED = "removed"  # in the index but no longer on disk (gone after the next reindex)


@dataclass(frozen=True)
class DocumentInfo:
    name: str  # path relative to the knowledge folder (POSIX)
    title: str
    date: str | None
    chunks: int | None  # passages in the current index; None when not indexed
    state: DocState
    reason: str | None = None  # why it was skipped
    size: int | None = None  # bytes on disk; None when removed
    owner: str | None = None  # "ansvarig"
    valid_from: str | None = None  # "galler_fran", YYYY-MM-DD
    valid_to: str | None = None  # "galler_till", YYYY-MM-DD


@dataclass(frozen=True)
class Added:
    name: str  # the normalised name it was saved as
    replaced: bool  # an existing document of that name was replaced (its metadata kept)
    sha256: str
    size: int


@dataclass(frozen=True)
class TrashEntry:
    id: str  # opaque, safe in a URL and in callback data (<= 32 chars)
    name: str  # where it was in the knowledge folder
    removed_by: str
    removed_at: datetime  # UTC


@dataclass(frozen=True)
class IndexPlan:
    """What `rutinbot index` would change, without writing anything (`index --check`)."""

    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unreadable: tuple[tuple[str, str], ...] = ()  # (name, reason): refused before reading
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new or self.changed or self.removed or self.unreadable)


@dataclass(frozen=True)
class ReindexSummary:
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (name, reason)
    unchanged: int = 0
    passages: int = 0
    seconds: float = 0.0
    answered_now: int | None = None  # open gap questions the new index answers; None: not re-asked


class JobState(StrEnum):
    IDLE = "idle"  # never run here
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ReindexStatus:
    """Progress of the current or last reindex, as any process reads it."""

    state: JobState
    started_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    phase: str = ""  # "reading" | "embedding" | "publishing" | "re-asking" | ""
    documents_read: int = 0
    documents_total: int = 0
    passages_embedded: int = 0
    passages_total: int = 0
    eta_seconds: float | None = None
    summary: ReindexSummary | None = None
    error: str | None = None  # English, one line, no traceback
    error_sv: str | None = None
    follow_up: bool = False  # another run is queued for changes made while this one ran
    pid: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AuditEntry:
    at: datetime  # UTC
    channel: str
    actor: str
    action: str  # "add" | "replace" | "remove" | "restore" | "metadata" | "reindex" | "purge-trash"
    target: str  # document name, trash id or "" (redacted like every free text)
    result: str  # "ok" or a one-line English reason


# Errors: each front end translates them once (str(err): English; err.sv: Swedish for staff).


class AdminError(RutinbotError):
    """An admin action that cannot be done as asked."""

    exit_code = 2


class BadUploadError(AdminError):
    """A file name or type the indexer would never read, a file over the size limit, or empty."""


class DuplicateContentError(AdminError):
    """The same content is already in the knowledge folder (err.existing names it)."""

    def __init__(self, message: str, sv: str, existing: str) -> None:
        super().__init__(message, sv)
        self.existing = existing


class ConfirmReplaceError(AdminError):
    """A document of that name exists: ask the admin, then call add(..., replace=True)."""

    def __init__(self, message: str, sv: str, name: str) -> None:
        super().__init__(message, sv)
        self.name = name


class UnknownDocumentError(AdminError):
    """No such document (or trash entry)."""


class ReindexBusyError(AdminError):
    """A reindex is already running; err.status says who started it and how far it is."""

    def __init__(self, message: str, sv: str, status: ReindexStatus) -> None:
        super().__init__(message, sv)
        self.status = status
