"""Title, date, owner and validity of a document.

Title and date come from the sidecar file, front matter, the file's own metadata or its name;
owner ("ansvarig") and validity ("galler_fran", "galler_till") only from the sidecar, which
`write_sidecar` edits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import DocumentError
from bot.ingest.files import SIDECAR_SUFFIX, read_sibling, sibling
from bot.safetext import clean_text

__all__ = [
    "SIDECAR_KEYS",
    "SIDECAR_SUFFIX",
    "Metadata",
    "read_sidecar",
    "resolve",
    "sidecar_path",
    "title_from_name",
    "write_sidecar",
]
_ISO_DATE = re.compile(r"(?<!\d)(20\d{2}|19\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)")
_YEAR = re.compile(r"^(19|20)\d{2}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# The keys a sidecar may hold, in the order they are written.
SIDECAR_KEYS = ("title", "date", "ansvarig", "galler_fran", "galler_till")
_VALIDITY_KEYS = ("galler_fran", "galler_till")
_MAX_CHARS = {"title": 300, "ansvarig": 200}
_SV_KEYS = {
    "title": "titel",
    "date": "datum",
    "ansvarig": "ansvarig",
    "galler_fran": "gäller från",
    "galler_till": "gäller till",
}
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SIDECAR_MODE = 0o644  # beside the documents, readable like them


@dataclass(frozen=True)
class Metadata:
    title: str
    date: str | None
    owner: str | None = None  # "ansvarig": who answers for the document (free text)
    valid_from: str | None = None  # "galler_fran", YYYY-MM-DD: not cited before this day
    valid_to: str | None = None  # "galler_till", YYYY-MM-DD: not cited after this day


def sidecar_path(path: Path) -> Path:
    """`rutin.pdf` is described by `rutin.pdf.meta.toml` beside it (optional)."""
    return sibling(path, path.name + SIDECAR_SUFFIX)


def _refuse(message: str, sv: str) -> DocumentError:
    return DocumentError(message, sv=sv)


def _check_date(value: str | None, where: str) -> str | None:
    if value is None or value == "":
        return None
    value = str(value).strip()
    if not _YEAR.match(value):
        raise _refuse(
            f"{where}: date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD",
            f"{where}: datumet måste skrivas ÅÅÅÅ, ÅÅÅÅ-MM eller ÅÅÅÅ-MM-DD.",
        )
    return value


def _real_day(value: str) -> bool:
    if not _DAY.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_day(key: str, value: str, where: str) -> str:
    value = value.strip()
    if not _real_day(value):
        raise _refuse(
            f"{where}: {key} {value!r} is not a date (YYYY-MM-DD)",
            f"{where}: {_SV_KEYS[key]} måste vara ett riktigt datum (ÅÅÅÅ-MM-DD), "
            "till exempel 2025-01-31.",
        )
    return value


def _check(values: dict[str, str], where: str) -> dict[str, str]:
    """`values` with known keys only, their dates real, and galler_fran <= galler_till."""
    unknown = sorted(set(values) - set(SIDECAR_KEYS))
    if unknown:
        raise _refuse(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(SIDECAR_KEYS)})",
            f"{where}: okänt fält {unknown[0]!r}.",
        )
    out = {k: v for k, v in values.items() if v != ""}
    if "date" in out:
        out["date"] = _check_date(out["date"], where) or ""
        if len(out["date"]) == 10:  # a whole date must be a real one (no 2024-02-30)
            out["date"] = _check_day("date", out["date"], where)
    for key in _VALIDITY_KEYS:
        if key in out:
            out[key] = _check_day(key, out[key], where)
    for key, limit in _MAX_CHARS.items():
        if len(out.get(key, "")) > limit:
            raise _refuse(
                f"{where}: {key} is longer than {limit} characters",
                f"{where}: {_SV_KEYS[key]} får vara högst {limit} tecken.",
            )
    start, end = out.get("galler_fran"), out.get("galler_till")
    if start and end and start > end:
        raise _refuse(
            f"{where}: galler_fran {start} is after galler_till {end}",
            f"{where}: ”gäller från” ({start}) är senare än ”gäller till” ({end}).",
        )
    return {k: v for k, v in out.items() if v != ""}


def read_sidecar(path: Path) -> dict[str, str]:
    """The sidecar of the document `path` as strings ({} when there is none), checked.

    Raises DocumentError naming the sidecar for invalid TOML, an unknown key or a bad date.
    """
    return _check(_load_sidecar(path), sidecar_path(path).name)


def _load_sidecar(path: Path) -> dict[str, str]:
    """The sidecar's keys and values as strings, not yet checked."""
    side = sidecar_path(path)
    # Opened like the document itself: a sidecar that is a link out of the folder is refused.
    raw = read_sibling(path, side.name)
    if raw is None:
        return {}
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise _refuse(
            f"{side.name}: not valid TOML: {err}",
            f"{side.name}: metadatafilen går inte att läsa (ogiltig TOML).",
        ) from None
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            raise _refuse(
                f"{side.name}: {key} must be a string",
                f"{side.name}: {_SV_KEYS.get(key, key)} måste vara text.",
            )
    # A TOML date (date = 2024-03-01, unquoted) reads as a date: its str() is the ISO form.
    return {k: str(v) for k, v in data.items()}


def _toml_string(value: str) -> str:
    """A TOML basic string that tomllib reads back as `value` (JSON-style escapes)."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate cannot be stored as UTF-8
            raise ValueError("lone surrogate")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _sidecar_text(values: Mapping[str, str]) -> str:
    lines = ["# Metadata for the document beside this file (rutinbot)."]
    lines += [f"{key} = {_toml_string(values[key])}" for key in SIDECAR_KEYS if key in values]
    return "\n".join(lines) + "\n"


def _open_folder(path: Path) -> int:
    """A descriptor of the folder holding `path`, walked from the knowledge folder unlinked."""
    folder = Path(getattr(path, "knowledge_folder", None) or path.parent)
    try:
        parts = path.parent.relative_to(folder).parts
    except ValueError:
        raise DocumentError(f"{path.name}: outside the knowledge folder") from None
    if any(part in ("", ".", "..") for part in parts):
        raise DocumentError(f"{path.name}: outside the knowledge folder")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except OSError:
        os.close(fd)
        raise DocumentError(f"{path.name}: a folder on its path is a link or missing") from None
    return fd


def write_sidecar(path: Path, values: Mapping[str, str | None]) -> None:
    """Merge `values` into the sidecar of the document `path`; None or "" removes a key.

    Unknown keys and bad dates are refused (DocumentError, English message, Swedish `.sv`).
    The file is written to a temporary name and renamed over the sidecar, which must not be a
    link; when no key is left the sidecar is removed.
    """
    path = Path(path) if not isinstance(path, Path) else path
    side_name = path.name + SIDECAR_SUFFIX
    unknown = sorted(set(values) - set(SIDECAR_KEYS))
    if unknown:
        raise _refuse(
            f"{side_name}: unknown key {unknown[0]!r} (known: {', '.join(SIDECAR_KEYS)})",
            f"Okänt fält {unknown[0]!r}.",
        )
    changes: dict[str, str] = {}
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{key}: expected a string or None, got {type(value).__name__}")
        text = (value or "").strip()
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _refuse(
                f"{side_name}: {key} holds characters that cannot be stored",
                f"{_SV_KEYS[key].capitalize()} innehåller tecken som inte kan sparas.",
            ) from None
        changes[key] = text
    dir_fd = _open_folder(path)
    try:
        try:
            info = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise _refuse(
                f"{path.name}: no such document", f"Dokumentet {path.name} finns inte."
            ) from None
        if stat.S_ISDIR(info.st_mode):
            raise DocumentError(f"{path.name}: is a folder, not a document")
        try:
            side_info = os.stat(side_name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            side_info = None
        if side_info is not None and not stat.S_ISREG(side_info.st_mode):
            raise _refuse(
                f"{side_name}: is a link or not a regular file; not written",
                f"{side_name} är en länk eller ingen vanlig fil och skrivs inte över.",
            )
        # checked after the merge: a bad value by hand can be put right from here
        current = _load_sidecar(path) if side_info is not None else {}
        merged = _check({**current, **changes}, side_name)
        if not merged:
            if side_info is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(side_name, dir_fd=dir_fd)
            return
        _replace_file(dir_fd, side_name, _sidecar_text(merged).encode("utf-8"))
    finally:
        os.close(dir_fd)


def _replace_file(dir_fd: int, name: str, data: bytes) -> None:
    """Write `data` to `name` in the folder `dir_fd` atomically: temp file, fsync, rename."""
    tmp = f".{name}.{secrets.token_hex(6)}.tmp"  # hidden: never listed as a document
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, SIDECAR_MODE, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), SIDECAR_MODE)  # the umask may have narrowed it
            os.fsync(fh.fileno())
        # rename replaces a link that appeared since the check itself, never its target
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    with contextlib.suppress(OSError):
        os.fsync(dir_fd)


def title_from_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    stem = _ISO_DATE.sub("", stem)
    words = [w for w in re.split(r"[-_ ]+", stem) if w]
    return " ".join(words).capitalize() if words else path.name


def _one_line(text: str) -> str:
    return " ".join(clean_text(text).split())


def resolve(
    path: Path, detected_title: str | None, detected_date: str | None, front: dict, text: str
) -> Metadata:
    """Pick title and date: sidecar, then front matter, then the file's own, then guesses.

    Owner and validity come from the sidecar only.
    """
    side = read_sidecar(path)
    title = side.get("title") or front.get("title") or detected_title or title_from_name(path)
    where = sidecar_path(path).name if "date" in side else path.name
    date = _check_date(side.get("date") or front.get("date"), where)
    if date is None:
        date = _check_date(detected_date, path.name) if detected_date else None
    if date is None:
        found = _ISO_DATE.search(path.name) or _ISO_DATE.search(text[:3000])
        date = found.group(0) if found else None
    owner = _one_line(side.get("ansvarig", "")) or None
    # Titles come from files, sidecars and file names alike: all are cleaned here, once.
    return Metadata(
        _one_line(title) or path.name,
        date,
        owner,
        side.get("galler_fran"),
        side.get("galler_till"),
    )
