"""Private files: the data folder 0700, what is written in it 0600, too-open modes tightened."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions: it creates them with the main file's mode, but an older, looser one
# left by an earlier version keeps its own mode until tightened.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def _tighten(path: Path, private: int) -> None:
    """Take group and other permissions away, logging it; leave the owner's bits alone."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        # Only the file's owner (or root) may chmod: a file of another user is reported instead.
        try:
            os.chmod(path, mode & ~0o077 | (private & 0o700))
        except PermissionError:
            log.warning("%s is readable by others (mode %o) and cannot be tightened", path, mode)
            return
        log.warning("%s was readable by others (mode %o); tightened to owner only", path, mode)


def private_folder(folder: Path) -> Path:
    """Create `folder` (parents as usual) as 0700, or tighten an existing one."""
    folder = Path(folder)
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process was just as quick
            folder.mkdir(mode=FOLDER_MODE)
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode passes through the umask; set it exactly
    else:
        _tighten(folder, FOLDER_MODE)
    return folder


def private_file(path: Path) -> Path:
    """Make sure `path` exists as 0600 before anyone writes to it; tighten it if it is older."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
    else:
        os.close(fd)
        os.chmod(path, FILE_MODE)
    return path


def private_sqlite(database: Path) -> Path:
    """The SQLite file and its companions owner-only, created 0600 before SQLite opens it."""
    database = Path(database)
    private_file(database)
    for suffix in SQLITE_COMPANIONS:
        _tighten(database.with_name(database.name + suffix), FILE_MODE)
    return database


def tighten_existing(path: Path) -> None:
    """An existing file or folder is made owner-only; a missing one is left missing."""
    _tighten(Path(path), FOLDER_MODE if Path(path).is_dir() else FILE_MODE)
