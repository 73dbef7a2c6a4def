"""The trash: removed documents kept under <paths.data>/trash/<id>/ until restored or purged.

Each entry is a folder (0700, like the data folder) holding the document, its sidecar if it
had one, and entry.json: where it was, who removed it and when.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from bot.admin.model import Actor, ConfirmReplaceError, TrashEntry, UnknownDocumentError
from bot.filemodes import FILE_MODE, private_folder
from bot.ingest.files import SIDECAR_SUFFIX

log = logging.getLogger(__name__)

ENTRY = "entry.json"
_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}$")  # 24 characters: safe in URLs and callbacks


def folder(data: Path) -> Path:
    return private_folder(private_folder(data) / "trash")


def _unknown(trash_id: str) -> UnknownDocumentError:
    return UnknownDocumentError(
        "no such entry in the trash", "Det finns inget sådant dokument i papperskorgen."
    )


def _write_entry(where: Path, data: dict) -> None:
    fd = os.open(where / ENTRY, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)


def _read_entry(where: Path) -> TrashEntry:
    data = json.loads((where / ENTRY).read_text(encoding="utf-8"))
    return TrashEntry(
        id=where.name,
        name=str(data["name"]),
        removed_by=str(data["removed_by"]),
        removed_at=datetime.fromisoformat(data["removed_at"]),
    )


def put(data: Path, knowledge: Path, path: Path, actor: Actor, now: datetime) -> TrashEntry:
    """Move the document at `path` (and its sidecar) into a new trash entry."""
    name = path.relative_to(knowledge).as_posix()
    trash_id = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    where = folder(data) / trash_id
    where.mkdir(mode=0o700)
    _write_entry(
        where,
        {
            "name": name,
            "removed_by": actor.name,
            "channel": actor.channel,
            "removed_at": now.isoformat(),
            "file": path.name,
        },
    )
    side = path.with_name(path.name + SIDECAR_SUFFIX)
    shutil.move(path, where / path.name)  # a rename on one file system; a link moves as a link
    if os.path.lexists(side):
        shutil.move(side, where / side.name)
    return TrashEntry(trash_id, name, actor.name, now)


def _entry_folder(data: Path, trash_id: str) -> Path:
    if not isinstance(trash_id, str) or not _ID.match(trash_id):
        raise _unknown(str(trash_id))
    where = data / "trash" / trash_id
    if not (where / ENTRY).is_file():
        raise _unknown(trash_id)
    return where


def take(data: Path, knowledge: Path, trash_id: str) -> str:
    """Put an entry's document back where it was; ConfirmReplaceError if its name is taken."""
    where = _entry_folder(data, trash_id)
    entry = _read_entry(where)
    parts = entry.name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise _unknown(trash_id)
    target = knowledge.joinpath(*parts)
    side = target.with_name(target.name + SIDECAR_SUFFIX)
    stored = where / target.name
    stored_side = where / side.name
    for taken in (target, side):
        if os.path.lexists(taken) and (taken == target or os.path.lexists(stored_side)):
            raise ConfirmReplaceError(
                f"{entry.name} exists again in the knowledge folder; not restored",
                f"Det finns redan ett dokument som heter {entry.name}. Ta bort eller byt namn "
                "på det först.",
                entry.name,
            )
    _no_link_on_the_way(knowledge, parts[:-1], trash_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(stored_side):
        shutil.move(stored_side, side)
    shutil.move(stored, target)
    shutil.rmtree(where, ignore_errors=True)
    return entry.name


def _no_link_on_the_way(knowledge: Path, folders: list[str], trash_id: str) -> None:
    """A document goes back only into real folders of the knowledge folder: never through a
    folder that has become a link (it might lead out) since it was removed."""
    where = knowledge
    for part in folders:
        where = where / part
        if os.path.islink(where) or (os.path.lexists(where) and not where.is_dir()):
            raise UnknownDocumentError(
                f"trash entry {trash_id}: folder {part!r} is now a link or a file; not restored",
                f"Mappen {part} är inte längre en vanlig mapp; dokumentet lades inte tillbaka.",
            )


def entries(data: Path) -> list[TrashEntry]:
    """Every entry, newest first; an unreadable one is logged and left out."""
    root = data / "trash"
    if not root.is_dir():
        return []
    found = []
    for where in root.iterdir():
        if not _ID.match(where.name):
            continue
        try:
            found.append(_read_entry(where))
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("trash entry %s cannot be read; left alone", where.name)
    return sorted(found, key=lambda e: (e.removed_at, e.id), reverse=True)


def purge(data: Path, now: datetime, days: int) -> int:
    """Delete entries removed more than `days` days before `now`."""
    cutoff = now - timedelta(days=days)
    purged = 0
    for entry in entries(data):
        if entry.removed_at < cutoff:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(data / "trash" / entry.id)
            purged += 1
    return purged
