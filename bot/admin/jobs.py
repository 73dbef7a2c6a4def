"""The reindex job: its progress file, the follow-up marker, and starting it as a process.

`rutinbot index` always writes its progress to <paths.index>/reindex.json (atomically, 0600),
so a reindex started in the CLI is visible on the web page and in Telegram too, and the other
way round. Who may start a run is decided under one lock file: a second run is refused while
the first one's process lives; a change saved meanwhile queues a follow-up run instead, which
the running job takes up before it reports itself done.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.admin.model import JobState, ReindexBusyError, ReindexStatus, ReindexSummary
from bot.filemodes import FILE_MODE

log = logging.getLogger(__name__)

PROGRESS_NAME = "reindex.json"
FOLLOW_UP_NAME = "reindex.follow-up"
START_LOCK_NAME = ".reindex.lock"  # not the build lock (.lock): this one is held for moments
WRITE_EVERY = 0.5  # seconds between progress writes within one phase


def _now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def start_lock(root: Path) -> Iterator[None]:
    """Held while deciding whether a run may start, and while a run decides it is done."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / START_LOCK_NAME).open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pid_alive(pid: int | None) -> bool:
    """Whether `pid` is a running process (a zombie, dead but not yet reaped, is not)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


# The file


def _summary_json(summary: ReindexSummary) -> dict:
    return asdict(summary)


def _summary_from(data: dict) -> ReindexSummary:
    return ReindexSummary(
        added=tuple(data.get("added", ())),
        replaced=tuple(data.get("replaced", ())),
        removed=tuple(data.get("removed", ())),
        skipped=tuple((str(p), str(r)) for p, r in data.get("skipped", ())),
        unchanged=int(data.get("unchanged", 0)),
        passages=int(data.get("passages", 0)),
        seconds=float(data.get("seconds", 0.0)),
        answered_now=data.get("answered_now"),
    )


def _status_json(status: ReindexStatus) -> dict:
    data = asdict(status)
    data["state"] = status.state.value
    for key in ("started_at", "finished_at"):
        moment = getattr(status, key)
        data[key] = moment.isoformat() if moment else None
    data["summary"] = _summary_json(status.summary) if status.summary else None
    data.pop("follow_up", None)  # the marker file says that, not this one
    return data


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _status_from(data: dict) -> ReindexStatus:
    summary = data.get("summary")
    eta = data.get("eta_seconds")
    return ReindexStatus(
        state=JobState(data.get("state", "idle")),
        started_by=data.get("started_by"),
        started_at=_when(data.get("started_at")),
        finished_at=_when(data.get("finished_at")),
        phase=str(data.get("phase") or ""),
        documents_read=int(data.get("documents_read", 0)),
        documents_total=int(data.get("documents_total", 0)),
        passages_embedded=int(data.get("passages_embedded", 0)),
        passages_total=int(data.get("passages_total", 0)),
        eta_seconds=float(eta) if eta is not None else None,
        summary=_summary_from(summary) if isinstance(summary, dict) else None,
        error=data.get("error"),
        error_sv=data.get("error_sv"),
        pid=data.get("pid"),
    )


def write_status(root: Path, status: ReindexStatus) -> None:
    """Replace the progress file in one rename; readers see the old or the new one."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{PROGRESS_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(_status_json(status), fh, ensure_ascii=False)
        os.replace(tmp, root / PROGRESS_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_status(root: Path) -> ReindexStatus:
    """The current or last run as the file says; a RUNNING run whose process is gone FAILED."""
    path = root / PROGRESS_NAME
    follow_up = (root / FOLLOW_UP_NAME).exists()
    try:
        status = _status_from(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return ReindexStatus(JobState.IDLE, follow_up=follow_up)
    except (OSError, ValueError, TypeError, AttributeError):
        log.warning("the reindex progress file cannot be read; treated as no run")
        return ReindexStatus(JobState.IDLE, follow_up=follow_up)
    if status.state is JobState.RUNNING and not pid_alive(status.pid):
        status = replace(
            status,
            state=JobState.FAILED,
            eta_seconds=None,
            error="the reindex was interrupted (its process is gone)",
            error_sv="Omindexeringen avbröts innan den blev klar. Starta den igen.",
        )
    return replace(status, follow_up=follow_up)


def running(root: Path) -> ReindexStatus | None:
    status = read_status(root)
    return status if status.state is JobState.RUNNING else None


def busy_error(status: ReindexStatus) -> ReindexBusyError:
    who = status.started_by or "okänd"
    at = status.started_at.astimezone().strftime("%H:%M") if status.started_at else "?"
    if status.passages_total:
        how_far = f"{status.passages_embedded} av {status.passages_total} passager klara"
        far_en = f"{status.passages_embedded} of {status.passages_total} passages done"
    elif status.documents_total:
        how_far = f"{status.documents_read} av {status.documents_total} dokument lästa"
        far_en = f"{status.documents_read} of {status.documents_total} documents read"
    else:
        how_far, far_en = "den har just börjat", "just started"
    return ReindexBusyError(
        f"a reindex is already running, started by {who} at {at}: {far_en}",
        f"En omindexering pågår redan, startad av {who} kl {at}: {how_far}.",
        status,
    )


def queue_follow_up(root: Path, by: str) -> None:
    """Ask the running job to run once more when it finishes (call under start_lock)."""
    (root / FOLLOW_UP_NAME).write_text(by + "\n", encoding="utf-8")


def take_follow_up(root: Path) -> bool:
    """Whether a follow-up run was queued; the marker is removed (call under start_lock)."""
    try:
        (root / FOLLOW_UP_NAME).unlink()
    except FileNotFoundError:
        return False
    return True


def combine(earlier: ReindexSummary | None, later: ReindexSummary) -> ReindexSummary:
    """One summary for a run and the follow-up runs after it: what changed across all of them
    (a document added and then removed again is neither), the skipped and the counts as the
    last run left them, the seconds and the gap questions answered summed."""

    def unique(*groups: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for group in groups for name in group))

    if earlier is None:
        return later
    gone, back = set(later.removed), set(later.added) | set(later.replaced)
    added = unique(tuple(n for n in earlier.added if n not in gone), later.added)
    replaced = unique(
        tuple(n for n in earlier.replaced if n not in gone),
        tuple(n for n in later.replaced if n not in added),
    )
    removed = unique(
        tuple(n for n in earlier.removed if n not in back),
        tuple(n for n in later.removed if n not in earlier.added),
    )
    answered = [a for a in (earlier.answered_now, later.answered_now) if a is not None]
    return replace(
        later,
        added=added,
        replaced=replaced,
        removed=removed,
        seconds=round(earlier.seconds + later.seconds, 1),
        answered_now=sum(answered) if answered else None,
    )


class Progress:
    """What one `rutinbot index` process writes while it runs: the build's progress callback,
    the phases after it, and the end (done with a summary, or failed with the error)."""

    def __init__(self, root: Path, started_by: str) -> None:
        self.root = root
        self.status = ReindexStatus(
            JobState.RUNNING, started_by=started_by, started_at=_now(), pid=os.getpid()
        )
        self._written = 0.0
        self._embed_started: float | None = None

    @classmethod
    def claim(cls, root: Path, started_by: str) -> Progress:
        """Mark a run of this process as started; ReindexBusyError if another one runs."""
        with start_lock(root):
            other = running(root)
            if other is not None and other.pid != os.getpid():
                raise busy_error(other)
            progress = cls(root, started_by)
            if other is not None and other.started_by:  # started for us by AdminService
                progress.status = replace(
                    progress.status, started_by=other.started_by, started_at=other.started_at
                )
            write_status(root, progress.status)
        return progress

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._written >= WRITE_EVERY:
            self._written = now
            try:
                write_status(self.root, self.status)
            except OSError as err:  # progress is a courtesy: the build goes on
                log.warning("could not write the reindex progress: %s", err.strerror or err)

    def __call__(self, phase: str, done: int, total: int) -> None:
        """The build's callback: ("reading", documents, total) or ("embedding", passages, total)."""
        changed = phase != self.status.phase
        if phase == "reading":
            self.status = replace(
                self.status, phase=phase, documents_read=done, documents_total=total
            )
        elif phase == "embedding":
            if self._embed_started is None:
                self._embed_started = time.monotonic()
            elapsed = time.monotonic() - self._embed_started
            eta = (total - done) * elapsed / done if done and elapsed > 0 else None
            self.status = replace(
                self.status,
                phase=phase,
                passages_embedded=min(done, total),
                passages_total=total,
                eta_seconds=eta,
            )
        else:
            self.status = replace(self.status, phase=phase, eta_seconds=None)
        self._write(force=changed or done >= total)

    def again(self) -> None:
        """A follow-up run starts in this process: counts from zero, same starter."""
        self._embed_started = None
        self.status = replace(
            self.status,
            phase="",
            documents_read=0,
            documents_total=0,
            passages_embedded=0,
            passages_total=0,
            eta_seconds=None,
        )
        self._write(force=True)

    def finish(self, summary: ReindexSummary) -> bool:
        """Done, unless a follow-up was queued meanwhile: then True, run again."""
        with start_lock(self.root):
            if take_follow_up(self.root):
                return True
            self.status = replace(
                self.status,
                state=JobState.DONE,
                phase="",
                eta_seconds=None,
                finished_at=_now(),
                summary=summary,
            )
            self._write(force=True)
        return False

    def fail(self, error: str, error_sv: str) -> bool:
        """Failed, unless a follow-up was queued meanwhile (a saved file may mend it): True."""
        with start_lock(self.root):
            if take_follow_up(self.root):
                return True
            self.status = replace(
                self.status,
                state=JobState.FAILED,
                eta_seconds=None,
                finished_at=_now(),
                error=" ".join(error.split())[:500],
                error_sv=error_sv,
            )
            self._write(force=True)
        return False


def started(by: str, pid: int) -> ReindexStatus:
    """What the starting process writes for the job it has just spawned."""
    return ReindexStatus(JobState.RUNNING, started_by=by, started_at=_now(), pid=pid)
