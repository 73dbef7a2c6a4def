"""AdminService: the one core the CLI, the web page and Telegram call to manage documents.

Synchronous and thread-safe; front ends call it off their event loop and only render what it
returns or raises (English `str(err)`, Swedish `err.sv`). Every action is written to the audit
log, refused ones too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from bot.admin import jobs, launch, trash, upload
from bot.admin.audit import AuditLog, one_line
from bot.admin.model import (
    Actor,
    Added,
    AdminError,
    AuditEntry,
    BadUploadError,
    ConfirmReplaceError,
    DocState,
    DocumentInfo,
    DuplicateContentError,
    IndexPlan,
    ReindexStatus,
    TrashEntry,
    UnknownDocumentError,
)
from bot.config import Settings
from bot.errors import DocumentError, RutinbotError
from bot.ingest.files import content_sha256, list_knowledge
from bot.ingest.metadata import read_sidecar, write_sidecar
from bot.ingest.readers import SUPPORTED
from bot.search import store


class AdminService:
    """Documents in the knowledge folder: add, replace, remove, restore, metadata, reindex."""

    def __init__(
        self,
        settings: Settings,
        audit: AuditLog | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.audit = audit if audit is not None else AuditLog.from_settings(settings)
        self.clock = clock
        self._lock = threading.RLock()
        self._shas: dict[str, tuple[tuple[int, int], str]] = {}  # name: ((size, mtime), sha)
        # the reindex this service started, reaped when it ends
        self._process: subprocess.Popen | None = None

    @property
    def knowledge(self) -> Path:
        return self.settings.paths.knowledge

    @property
    def index_root(self) -> Path:
        return self.settings.paths.index

    @property
    def upload_limit(self) -> int:
        mb = min(self.settings.admin.max_upload_mb, self.settings.ingest.max_file_mb)
        return int(mb * 1024 * 1024)

    @contextmanager
    def _audited(self, actor: Actor, action: str, target: str) -> Iterator[list[str]]:
        """Audit the action when it ends: "ok" (or what the body appends), or why it failed."""
        result: list[str] = []
        try:
            yield result
        except RutinbotError as err:
            self.audit.record(actor, action, target, f"refused: {one_line(str(err))}")
            raise
        except OSError as err:
            self.audit.record(
                actor, action, target, f"failed: {err.strerror or type(err).__name__}"
            )
            raise
        self.audit.record(actor, action, target, "; ".join(["ok", *result]))

    # Listing

    def _listed(self) -> dict[str, Path]:
        listing = list_knowledge(self.knowledge)
        return {p.relative_to(self.knowledge).as_posix(): p for p in listing.files}

    def _find(self, name: str) -> Path:
        path = self._listed().get(name) if isinstance(name, str) else None
        if path is None:
            raise UnknownDocumentError(
                f"no document named {name!r} in the knowledge folder",
                f"Dokumentet {name} finns inte i kunskapsbanken.",
            )
        return path

    def documents(self) -> list[DocumentInfo]:
        """Files on disk joined with the current index: indexed, waiting, skipped, removed."""
        manifest = None
        folder = store.current_dir(self.index_root)
        if folder is not None:
            with contextlib.suppress(RutinbotError):
                manifest = store.read_manifest(folder)
        indexed = {d.path: d for d in manifest.documents} if manifest else {}
        skipped = (
            {str(s.get("path")): str(s.get("reason")) for s in manifest.skipped} if manifest else {}
        )
        out: list[DocumentInfo] = []
        for name, path in self._listed().items():
            out.append(self._info(name, path, indexed.get(name), skipped.get(name)))
        for name in sorted(set(indexed) - {d.name for d in out}):
            d = indexed[name]
            out.append(
                DocumentInfo(
                    name,
                    d.title,
                    d.date,
                    d.chunks,
                    DocState.REMOVED,
                    owner=d.owner,
                    valid_from=d.valid_from,
                    valid_to=d.valid_to,
                )
            )
        return sorted(out, key=lambda d: d.name)

    def _info(
        self, name: str, path: Path, record: store.DocumentRecord | None, skipped: str | None
    ) -> DocumentInfo:
        try:
            size = os.stat(path).st_size
            sha = content_sha256(path)
        except (OSError, DocumentError) as err:
            return DocumentInfo(name, name, None, None, DocState.SKIPPED, reason=str(err))
        suffix = PurePosixPath(name).suffix
        if suffix.lower() not in SUPPORTED:
            skipped = f"unsupported file type {suffix or '(none)'}"
        try:
            side = read_sidecar(path)
        except DocumentError as err:
            side, skipped = {}, skipped or str(err)
        owner, start, end = side.get("ansvarig"), side.get("galler_fran"), side.get("galler_till")
        if record is not None and record.sha256 == sha:
            title, date, chunks, state = record.title, record.date, record.chunks, DocState.INDEXED
        else:
            title = side.get("title") or upload.name_title(path)
            date, chunks = side.get("date"), None
            waiting = skipped is None or self._changed_since_index(path)
            state = DocState.WAITING if waiting else DocState.SKIPPED
        return DocumentInfo(
            name,
            title,
            date,
            chunks,
            state,
            reason=skipped if state is DocState.SKIPPED else None,
            size=size,
            owner=owner,
            valid_from=start,
            valid_to=end,
        )

    def _changed_since_index(self, path: Path) -> bool:
        folder = store.current_dir(self.index_root)
        if folder is None:
            return True
        try:
            return os.lstat(path).st_mtime >= os.stat(folder / store.MANIFEST).st_mtime
        except OSError:
            return True

    # Adding

    def add(
        self, actor: Actor, filename: str, stream: BinaryIO | bytes, *, replace: bool = False
    ) -> Added:
        """Save an uploaded document: a name the indexer reads, within the size limit, new content,
        written beside and renamed into place; an existing name only with `replace`
        (docs/admin.md, "What an upload must be")."""
        target = one_line(unicodedata.normalize("NFC", str(filename)), 200)
        with self._audited(actor, "replace" if replace else "add", target) as result:
            name = upload.check_name(filename)
            added = self._save(name, stream, replace)
            result.append(f"{added.size} bytes")
            return added

    def _save(self, name: str, stream: BinaryIO | bytes, replace: bool) -> Added:
        self.knowledge.mkdir(parents=True, exist_ok=True)
        tmp = self.knowledge / f".upload-{secrets.token_hex(8)}.part"
        try:
            sha, size = upload.write_upload(tmp, stream, self.upload_limit)
            with self._lock:
                self._check_duplicate(name, sha)
                target = self.knowledge / name
                try:
                    info = os.lstat(target)
                except FileNotFoundError:
                    info = None
                if info is not None and not stat.S_ISREG(info.st_mode):
                    raise BadUploadError(
                        f"{name} exists and is a link or a folder; not replaced",
                        f"{name} finns redan som en länk eller mapp och kan inte ersättas.",
                    )
                if info is not None and not replace:
                    raise ConfirmReplaceError(
                        f"a document named {name} exists; confirm to replace it",
                        f"Det finns redan ett dokument som heter {name}. Vill du ersätta det?",
                        name,
                    )
                os.replace(tmp, target)  # renames over a link, never writes through one
                upload.sync_folder(self.knowledge)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return Added(name, info is not None, sha, size)

    def _check_duplicate(self, name: str, sha: str) -> None:
        for other, path in self._listed().items():
            try:
                info = os.stat(path)
                key = (info.st_size, info.st_mtime_ns)
                cached = self._shas.get(other)
                known = cached[1] if cached and cached[0] == key else upload.file_sha(path)
                self._shas[other] = (key, known)
            except (OSError, DocumentError):
                continue
            if known == sha:
                raise DuplicateContentError(
                    f"the same content is already in the knowledge folder as {other}",
                    f"Dokumentet finns redan som {other}.",
                    other,
                )

    # Removing and the trash

    def remove(self, actor: Actor, name: str) -> TrashEntry:
        """Move a document (and its sidecar) to <data>/trash/<id>/; restore() brings it back."""
        with self._audited(actor, "remove", one_line(str(name), 200)) as result, self._lock:
            path = self._find(name)
            entry = trash.put(self.settings.paths.data, self.knowledge, path, actor, self.clock())
            result.append(f"trash {entry.id}")
            return entry

    def restore(self, actor: Actor, trash_id: str) -> str:
        with self._audited(actor, "restore", one_line(str(trash_id), 40)) as result, self._lock:
            name = trash.take(self.settings.paths.data, self.knowledge, trash_id)
            result.append(name)
            return name

    def trash(self) -> list[TrashEntry]:
        return trash.entries(self.settings.paths.data)

    def purge_trash(self, actor: Actor | None = None) -> int:
        """Empty trash entries older than [admin] trash_days (0: never); returns how many."""
        days = self.settings.admin.trash_days
        if not days:
            return 0
        who = actor or Actor("system", "rutinbot")
        with self._audited(who, "purge-trash", "") as result, self._lock:
            purged = trash.purge(self.settings.paths.data, self.clock(), days)
            result.append(f"{purged} entries older than {days} days")
        return purged

    # Metadata

    def set_metadata(
        self,
        actor: Actor,
        name: str,
        *,
        title: str | None = None,
        date: str | None = None,
        owner: str | None = None,
        valid_from: str | None = None,
        valid_to: str | None = None,
    ) -> DocumentInfo:
        """Write the document's sidecar: None leaves a key as it is, "" clears it."""
        given = {
            "title": title,
            "date": date,
            "ansvarig": owner,
            "galler_fran": valid_from,
            "galler_till": valid_to,
        }
        values = {k: v for k, v in given.items() if v is not None}
        with self._audited(actor, "metadata", one_line(str(name), 200)) as result, self._lock:
            path = self._find(name)
            try:
                write_sidecar(path, values)
            except DocumentError as err:
                raise AdminError(str(err), err.sv) from None
            result.append(", ".join(sorted(values)) or "nothing changed")
        return next(d for d in self.documents() if d.name == name)

    # The index

    def check(self) -> IndexPlan:
        from bot.search.planning import plan_changes

        return plan_changes(self.settings)

    def status(self) -> ReindexStatus:
        if self._process is not None and self._process.poll() is not None:
            self._process = None  # reaped: a crashed child is no zombie "running" forever
        return jobs.read_status(self.index_root)

    def reindex(self, actor: Actor) -> ReindexStatus:
        """Start `rutinbot index` in a process of its own; ReindexBusyError while one runs."""
        return self._start(actor, follow_up=False)

    def reindex_after_change(self, actor: Actor) -> ReindexStatus:
        """Like reindex, but while one runs a follow-up run is queued instead of refusing."""
        return self._start(actor, follow_up=True)

    def _start(self, actor: Actor, *, follow_up: bool) -> ReindexStatus:
        self.status()
        with self._audited(actor, "reindex", "") as result, jobs.start_lock(self.index_root):
            current = jobs.running(self.index_root)
            if current is not None:
                if not follow_up:
                    raise jobs.busy_error(current)
                jobs.queue_follow_up(self.index_root, actor.name)
                result.append("queued after the running one")
                return jobs.read_status(self.index_root)
            jobs.take_follow_up(self.index_root)  # a run queued for a job that died: this is it
            config = self._config_file()
            process = launch.spawn(config, actor.name, actor.channel, self.settings.paths.data)
            self._process = process
            jobs.write_status(self.index_root, jobs.started(actor.name, process.pid))
            result.append(f"started (process {process.pid})")
            return jobs.read_status(self.index_root)

    def _config_file(self) -> Path:
        if self.settings.source is not None:
            return self.settings.source
        return launch.snapshot_settings(self.settings)

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        return self.audit.entries(limit)
