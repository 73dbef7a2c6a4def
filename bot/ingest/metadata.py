"""Title and date of a document: sidecar file, front matter, the file's own metadata, its name."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bot.errors import DocumentError
from bot.ingest.files import SIDECAR_SUFFIX, read_sibling, sibling
from bot.safetext import clean_text

__all__ = ["SIDECAR_SUFFIX", "Metadata", "resolve", "sidecar_path"]
_ISO_DATE = re.compile(r"(?<!\d)(20\d{2}|19\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)")
_YEAR = re.compile(r"^(19|20)\d{2}(-(0[1-9]|1[0-2]))?(-(0[1-9]|[12]\d|3[01]))?$")


@dataclass(frozen=True)
class Metadata:
    title: str
    date: str | None


def sidecar_path(path: Path) -> Path:
    """`rutin.pdf` is described by `rutin.pdf.meta.toml` beside it (optional)."""
    return sibling(path, path.name + SIDECAR_SUFFIX)


def _read_sidecar(path: Path) -> dict:
    side = sidecar_path(path)
    # Opened like the document itself: a sidecar that is a link out of the folder is refused.
    raw = read_sibling(path, side.name)
    if raw is None:
        return {}
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DocumentError(f"{side.name}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - {"title", "date"})
    if unknown:
        raise DocumentError(f"{side.name}: unknown key {unknown[0]!r} (known: title, date)")
    return {k: str(v) for k, v in data.items()}


def _check_date(value: str | None, where: str) -> str | None:
    if value is None or value == "":
        return None
    value = str(value).strip()
    if not _YEAR.match(value):
        raise DocumentError(f"{where}: date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    return value


def _title_from_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    stem = _ISO_DATE.sub("", stem)
    words = [w for w in re.split(r"[-_ ]+", stem) if w]
    return " ".join(words).capitalize() if words else path.name


def resolve(
    path: Path, detected_title: str | None, detected_date: str | None, front: dict, text: str
) -> Metadata:
    """Pick title and date: sidecar, then front matter, then the file's own, then guesses."""
    side = _read_sidecar(path)
    title = side.get("title") or front.get("title") or detected_title or _title_from_name(path)
    where = sidecar_path(path).name if "date" in side else path.name
    date = _check_date(side.get("date") or front.get("date"), where)
    if date is None:
        date = _check_date(detected_date, path.name) if detected_date else None
    if date is None:
        found = _ISO_DATE.search(path.name) or _ISO_DATE.search(text[:3000])
        date = found.group(0) if found else None
    # Titles come from files, sidecars and file names alike: all are cleaned here, once.
    return Metadata(" ".join(clean_text(title).split()) or path.name, date)
