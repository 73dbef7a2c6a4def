"""List the knowledge folder and open its files without ever following a link out of it.

A link to a file inside the folder is followed (its resolved path must stay inside); a link out
of it, a dangling link, a link loop and a link to a folder are refused and reported by name.
Every open walks from the folder one component at a time with O_NOFOLLOW, so a file or folder
swapped for a link between listing and reading is refused too.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pathlib
import stat
from dataclasses import dataclass
from pathlib import Path

from bot.errors import DocumentError, RutinbotError
from bot.ingest.limits import CHUNK_BYTES

SIDECAR_SUFFIX = ".meta.toml"
# Files larger than this are not hashed by content (their size and time stand in): reading
# them is refused anyway by [ingest] max_file_mb, and hashing gigabytes would cost seconds.
HASH_CEILING_BYTES = 1024 * 1024 * 1024

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a named pipe must not wait for a writer; a regular file ignores it.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class KnowledgePath(pathlib.PosixPath):
    """A listed path that remembers the knowledge folder it must stay inside."""

    knowledge_folder: Path | None = None


def in_folder(path: Path, folder: Path) -> Path:
    """`path` tied to `folder`: opening it refuses anything that resolves outside `folder`."""
    tied = KnowledgePath(path)
    tied.knowledge_folder = Path(folder)
    return tied


def sibling(path: Path, name: str) -> Path:
    """The file `name` beside `path`, tied to the same knowledge folder."""
    return in_folder(path.with_name(name), _folder_of(path))


@dataclass(frozen=True)
class Listing:
    """What a knowledge folder holds: files to read, and entries refused with the reason."""

    files: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...]  # (path relative to the folder, reason)


def never_indexed(rel: Path) -> bool:
    """Hidden files and folders, README files and sidecars: listed, never indexed (and never
    accepted as an upload's name)."""
    name = rel.name
    hidden = any(part.startswith(".") for part in rel.parts)
    return hidden or name.endswith(SIDECAR_SUFFIX) or name.upper().startswith("README")


def list_knowledge(folder: Path) -> Listing:
    """Every document under `folder` in a stable order; links are checked, never walked into."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RutinbotError(f"knowledge folder not found: {folder}")
    real_root = os.path.realpath(folder)
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as entries:
                found = sorted(entries, key=lambda e: e.name)
        except OSError as err:
            skipped.append((current.relative_to(folder).as_posix(), _unreadable(err)))
            continue
        for entry in found:
            path = current / entry.name
            rel = path.relative_to(folder)
            if never_indexed(rel):
                continue
            try:
                if entry.is_symlink():
                    problem = link_problem(path, real_root)
                    if problem:
                        skipped.append((rel.as_posix(), problem))
                    else:
                        files.append(in_folder(path, folder))
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif entry.is_file(follow_symlinks=False):
                    files.append(in_folder(path, folder))
                else:
                    skipped.append(
                        (rel.as_posix(), "not a regular file (a pipe, socket or device)")
                    )
            except OSError as err:
                skipped.append((rel.as_posix(), _unreadable(err)))
    files.sort()
    skipped.sort()
    return Listing(tuple(files), tuple(skipped))


def _unreadable(err: OSError) -> str:
    return f"cannot be read: {err.strerror or err}"


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def link_problem(path: Path, real_root: str) -> str | None:
    """Why the link `path` is not followed, or None for a link to a file inside the folder."""
    try:
        target = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        return "a link to something that does not exist (dangling link)"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a link loop (the link leads back to itself)"
        return f"a link that cannot be followed: {err.strerror or err}"
    if not _inside(target, real_root):
        return "a link to a place outside the knowledge folder; links out are not followed"
    if os.path.isdir(target):
        return "a link to a folder; links to folders are not followed"
    if not os.path.isfile(target):
        return "a link to something that is not a regular file"
    return None


def _folder_of(path: Path) -> Path:
    return getattr(path, "knowledge_folder", None) or Path(path).parent


def open_inside(path: Path) -> int:
    """A read-only descriptor of the regular file `path`, opened without following links.

    A link (to a file inside the folder) is resolved first and its target opened the same way.
    Raises DocumentError naming the file for anything else.
    """
    path = Path(path) if not isinstance(path, KnowledgePath) else path
    folder = _folder_of(path)
    real_root = os.path.realpath(folder)
    name = path.name
    if os.path.islink(path):
        problem = link_problem(path, real_root)
        if problem:
            raise DocumentError(f"{name}: {problem}")
        parts = Path(os.path.realpath(path)).relative_to(real_root).parts
    else:
        try:
            parts = path.relative_to(folder).parts
        except ValueError:
            raise DocumentError(f"{name}: outside the knowledge folder") from None
    if not parts or any(part in ("", ".", "..") for part in parts):
        raise DocumentError(f"{name}: outside the knowledge folder")
    return _open_parts(real_root, parts, name)


def _open_parts(real_root: str, parts: tuple[str, ...], name: str) -> int:
    dir_fd = os.open(real_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise DocumentError(
                        f"{name}: a folder on its path is a link (changed after listing?)"
                    ) from None
                raise DocumentError(f"{name} {_unreadable(err)}") from None
            os.close(dir_fd)
            dir_fd = next_fd
        try:
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise DocumentError(
                    f"{name}: is a link, not a file (changed after listing?)"
                ) from None
            raise DocumentError(f"{name} {_unreadable(err)}") from None
    finally:
        os.close(dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DocumentError(f"{name}: not a regular file")
    return fd


def read_limited(path: Path, max_bytes: int, too_big: DocumentError) -> bytes:
    """The whole file, refused with `too_big` past `max_bytes` (also if it grows while read)."""
    fd = open_inside(path)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if os.fstat(fd).st_size > max_bytes:
            raise too_big
        data = bytearray()
        while chunk := fh.read(CHUNK_BYTES):
            data += chunk
            if len(data) > max_bytes:
                raise too_big
    return bytes(data)


def read_sibling(path: Path, name: str, max_bytes: int = 1024 * 1024) -> bytes | None:
    """The small file `name` beside `path` (a sidecar), or None when there is none."""
    side = sibling(path, name)
    if not os.path.lexists(side):
        return None
    return read_limited(side, max_bytes, DocumentError(f"{name}: too large for a metadata file"))


def content_sha256(path: Path) -> str:
    """Hash of the file and its sidecar, read in pieces (a changed title is a changed file)."""
    digest = hashlib.sha256()
    fd = open_inside(path)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        info = os.fstat(fd)
        if info.st_size > HASH_CEILING_BYTES:
            return f"size:{info.st_size}:{info.st_mtime_ns}"
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    side = read_sibling(path, path.name + SIDECAR_SUFFIX)
    if side is not None:
        digest.update(side)
    return digest.hexdigest()
