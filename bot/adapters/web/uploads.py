"""Uploads waiting for an admin's "Ersätt": private files under the data folder, per session."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bot.filemodes import FILE_MODE, private_folder

TTL_SECONDS = 30 * 60  # a confirmation page left open longer has to upload again
PER_SESSION = 3  # pending files one session may hold; the oldest goes first
SUFFIX = ".upload"


@dataclass(frozen=True)
class PendingUpload:
    """A file an admin sent under a name that exists, kept until she confirms or cancels."""

    id: str  # random, safe in a URL; the file on disk is named after it, never after `name`
    session: str  # the session that sent it: no other session can confirm or see it
    name: str  # the name she uploaded it as
    size: int
    path: Path
    created: float  # time.monotonic()


class PendingUploads:
    """The confirmation step of a replace, without the browser sending the file twice.

    The bytes are copied to `<folder>/<random id>.upload` (folder 0700, file 0600, created
    exclusively and never through a link), bound to one session, and dropped when confirmed,
    cancelled, pushed out by newer ones, or older than the TTL.
    """

    def __init__(
        self, folder: Path, ttl: float = TTL_SECONDS, per_session: int = PER_SESSION, clock=None
    ) -> None:
        self.folder = Path(folder)
        self.ttl = ttl
        self.per_session = per_session
        self._clock = clock or time.monotonic
        self._pending: dict[str, PendingUpload] = {}
        self._lock = threading.Lock()
        self._swept = False

    def keep(self, session: str, name: str, stream: BinaryIO) -> PendingUpload:
        """Copy `stream` (from its current position) into a new private file."""
        with self._lock:
            self._expire()
            if not self._swept:
                private_folder(self.folder)
                self._sweep_leftovers()
                self._swept = True
            mine = sorted(
                (p for p in self._pending.values() if p.session == session),
                key=lambda p: p.created,
            )
            for old in mine[: max(0, len(mine) - self.per_session + 1)]:
                self._drop(old.id)
        upload_id = secrets.token_urlsafe(18)
        path = self.folder / (upload_id + SUFFIX)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            size = path.stat().st_size
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        pending = PendingUpload(upload_id, session, name, size, path, self._clock())
        with self._lock:
            self._pending[upload_id] = pending
        return pending

    def get(self, session: str, upload_id: str) -> PendingUpload | None:
        """The pending upload with this id, if it is this session's and still fresh."""
        with self._lock:
            self._expire()
            pending = self._pending.get(upload_id)
        if pending is None or not secrets.compare_digest(pending.session, session):
            return None
        return pending

    def discard(self, upload_id: str) -> None:
        with self._lock:
            self._drop(upload_id)

    def close(self) -> None:
        """Forget every pending upload and delete its file (the app is stopping)."""
        with self._lock:
            for upload_id in list(self._pending):
                self._drop(upload_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def _drop(self, upload_id: str) -> None:
        pending = self._pending.pop(upload_id, None)
        if pending is not None:
            pending.path.unlink(missing_ok=True)

    def _expire(self) -> None:
        cutoff = self._clock() - self.ttl
        for upload_id in [k for k, p in self._pending.items() if p.created < cutoff]:
            self._drop(upload_id)

    def _sweep_leftovers(self) -> None:
        # Sessions live in memory, so files an earlier run left can never be confirmed; those
        # older than the TTL go (a newer one may be another process's, sharing the folder).
        cutoff = time.time() - self.ttl
        for leftover in self.folder.glob("*" + SUFFIX):
            with contextlib.suppress(OSError):
                if leftover.lstat().st_mtime < cutoff:
                    leftover.unlink()
