"""Uploads: which names may be saved, and writing the bytes to a new file in pieces."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from bot.admin.model import BadUploadError
from bot.ingest.files import never_indexed, open_inside
from bot.ingest.limits import CHUNK_BYTES
from bot.ingest.readers import SUPPORTED
from bot.safetext import clean_text

MAX_NAME_CHARS = 120
DOCUMENT_MODE = 0o644  # like the documents an administrator copies in by hand
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_BAD_NAME_SV = "Filnamnet går inte att använda"


def _bad_name(why: str, why_sv: str) -> BadUploadError:
    return BadUploadError(f"file name refused: {why}", f"{_BAD_NAME_SV}: {why_sv}.")


def check_name(filename: str) -> str:
    """The name an upload is saved under: NFC, one plain file name the indexer would read."""
    if not isinstance(filename, str):
        raise _bad_name("not text", "det är inte text")
    name = unicodedata.normalize("NFC", filename).strip()
    if not name:
        raise _bad_name("empty", "det är tomt")
    if any(c in name for c in "/\\\x00") or name in (".", ".."):
        raise _bad_name("it holds a path", "det får inte innehålla / eller \\")
    if clean_text(name) != name or any(unicodedata.category(c) == "Cf" for c in name):
        raise _bad_name("it holds control characters", "det innehåller styrtecken")
    if len(name) > MAX_NAME_CHARS:
        raise _bad_name(
            f"longer than {MAX_NAME_CHARS} characters", f"det är över {MAX_NAME_CHARS} tecken"
        )
    if never_indexed(Path(name)):
        raise _bad_name(
            "the indexer never reads hidden files, README files or *.meta.toml",
            "dolda filer, README-filer och .meta.toml-filer läses aldrig in",
        )
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED:
        allowed = ", ".join(SUPPORTED)
        raise BadUploadError(
            f"file type {suffix or '(none)'} is not read; allowed: {allowed}",
            f"Filtypen {suffix or '(ingen)'} kan inte läsas in. Tillåtna: {allowed}.",
        )
    return name


def name_title(path: Path) -> str:
    """The title the indexer would fall back on: from the file name."""
    from bot.ingest.metadata import title_from_name

    return title_from_name(path)


def file_sha(path: Path) -> str:
    """sha256 of a document's own bytes (its sidecar left out), read without following links."""
    digest = hashlib.sha256()
    with os.fdopen(open_inside(path), "rb", buffering=0) as fh:
        while piece := fh.read(CHUNK_BYTES):
            digest.update(piece)
    return digest.hexdigest()


def pieces(stream: BinaryIO | bytes) -> Iterator[bytes]:
    if isinstance(stream, bytes | bytearray | memoryview):
        data = bytes(stream)
        for start in range(0, len(data), CHUNK_BYTES):
            yield data[start : start + CHUNK_BYTES]
        return
    while piece := stream.read(CHUNK_BYTES):
        yield piece


def write_upload(tmp: Path, stream: BinaryIO | bytes, limit: int) -> tuple[str, int]:
    """Write the stream to the new file `tmp` in pieces: (sha256, size); BadUploadError as
    soon as it passes `limit` bytes, or when it is empty (the caller removes `tmp`)."""
    digest, size = hashlib.sha256(), 0
    fd = os.open(tmp, _WRITE_FLAGS, 0o600)
    with os.fdopen(fd, "wb") as fh:
        for piece in pieces(stream):
            size += len(piece)
            if size > limit:
                mb = f"{limit / 1024 / 1024:g}"
                raise BadUploadError(
                    f"the file is larger than the limit of {mb} MB",
                    f"Filen är för stor: högst {mb} MB går att ladda upp.",
                )
            digest.update(piece)
            fh.write(piece)
        if size == 0:
            raise BadUploadError("the file is empty", "Filen är tom.")
        fh.flush()
        os.fchmod(fh.fileno(), DOCUMENT_MODE)
        os.fsync(fh.fileno())
    return digest.hexdigest(), size


def sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
