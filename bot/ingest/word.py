"""Read a .docx by streaming its XML: linear in its size, never a whole part in memory."""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import zipfile
from collections.abc import Iterator

from bot.errors import DocumentError
from bot.ingest.limits import RATIO_GRACE_BYTES, BoundedStream, Budget
from bot.models import Block

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_OFFICE_DOCUMENT = "/officeDocument"
_STYLES = "/styles"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_DC_TERMS = "{http://purl.org/dc/terms/}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"

# Word stores built-in style names in English; Swedish templates may carry "Rubrik N".
_HEADING_STYLE = re.compile(r"^(?:heading|rubrik)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLES = {"title", "rubrik"}
# python-docx's blank template carries this creation time; it says nothing about the document.
_TEMPLATE_DATE = "2013-12-23T23:15:00"
# Text that is not the current document's: tracked deletions, the old place of moved text,
# and the fallback copy Word writes of every text box for older readers.
_HIDDEN = {f"{_W}del", f"{_W}moveFrom", _MC + "Fallback"}
_P, _T, _TBL, _TR, _TC = (f"{_W}{tag}" for tag in ("p", "t", "tbl", "tr", "tc"))
_PSTYLE, _VAL = f"{_W}pStyle", f"{_W}val"
_CHARS = {f"{_W}{tag}": char for tag, char in [("tab", "\t"), ("ptab", "\t"), ("br", "\n")]}
_CHARS |= {f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
_BODY_TAGS = (_P, _T, _TBL, _TR, _TC, _PSTYLE, *_CHARS, *_HIDDEN)
_CHECK_EVERY = 2048  # XML events between two looks at the clock


def docx_level(style_name: str) -> int:
    """Heading level from the paragraph style; the document title sits at level 1 too."""
    match = _HEADING_STYLE.match(style_name)
    return 1 if style_name.lower() in _TITLE_STYLES else int(match[1]) if match else 0


class _Package:
    """The zip archive, each member checked against the budget while it is decompressed."""

    def __init__(self, data: bytes, budget: Budget) -> None:
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        self.budget = budget
        infos = self.zip.infolist()
        limits = budget.limits
        # Declared sizes are checked first (cheap), actual ones while reading (headers lie).
        for info in infos:
            if info.file_size > max(limits.max_ratio * info.compress_size, RATIO_GRACE_BYTES):
                raise limits.too_compressed(budget.name)
        if sum(i.file_size for i in infos) > limits.max_unpacked_bytes:
            raise limits.too_unpacked(budget.name)
        self.names = {i.filename for i in infos}

    def stream(self, name: str) -> BoundedStream | None:
        if name not in self.names:
            return None
        info = self.zip.getinfo(name)
        return BoundedStream(self.zip.open(info), info.compress_size, self.budget)

    def events(
        self, name: str, tags: tuple[str, ...], events: tuple[str, ...] = ("end",)
    ) -> Iterator[tuple]:
        """(event, element) pairs of one XML part for these tags (filtered in C: a Python step
        per element would be most of the cost); each element is emptied after its end."""
        from lxml import etree  # lazily: only indexing pays for it

        source = self.stream(name)
        if source is None:
            return
        parser = etree.iterparse(
            source,
            events=events,
            tag=tags,
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
        )
        check_time = self.budget.check_time
        for count, (event, element) in enumerate(parser):
            if not count % _CHECK_EVERY:
                check_time()
            yield event, element
            if event != "end":
                continue
            # Everything needed from an element is taken at its end: free it, and what came
            # before it and before its parent, so memory stays flat however long the part or
            # one paragraph is.
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is None:
                continue
            while element.getprevious() is not None:
                del parent[0]
            grandparent = parent.getparent()
            if grandparent is not None:
                while parent.getprevious() is not None:
                    del grandparent[0]

    def relations(self, part: str) -> dict[str, str]:
        """Relationship type suffix -> target part name, from the part's .rels file."""
        folder, base = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", base + ".rels")
        found: dict[str, str] = {}
        for _, element in self.events(rels, (_REL,)):
            if element.tag == _REL and element.get("TargetMode") != "External":
                kind = element.get("Type", "")
                target = posixpath.normpath(posixpath.join(folder, element.get("Target", "")))
                found.setdefault(kind[kind.rfind("/") :], target.lstrip("/"))
        return found


def _style_names(package: _Package, part: str | None) -> dict[str, str]:
    """styleId -> style name, read once (python-docx looked each paragraph's up in a list)."""
    names: dict[str, str] = {}
    if part is None:
        return names
    pending: str | None = None
    for event, element in package.events(part, (f"{_W}style", f"{_W}name"), ("start", "end")):
        if event == "start" and element.tag == f"{_W}style":
            pending = element.get(f"{_W}styleId")
        elif event == "start" and element.tag == f"{_W}name" and pending is not None:
            names.setdefault(pending, element.get(f"{_W}val") or "")
            pending = None
    return names


def _properties(package: _Package) -> tuple[str | None, str | None]:
    """Title and ISO date (created, else modified) from docProps/core.xml."""
    values: dict[str, str] = {}
    tags = (_DC_TITLE, f"{_DC_TERMS}created", f"{_DC_TERMS}modified")
    for _, element in package.events("docProps/core.xml", tags):
        if element.tag in (_DC_TITLE, f"{_DC_TERMS}created", f"{_DC_TERMS}modified"):
            values.setdefault(element.tag, (element.text or "").strip())
    when = values.get(f"{_DC_TERMS}created") or values.get(f"{_DC_TERMS}modified") or ""
    date = None
    if when and not when.startswith(_TEMPLATE_DATE):
        try:
            date = dt.date.fromisoformat(when[:10]).isoformat()
        except ValueError:
            date = None
    return values.get(_DC_TITLE) or None, date


class _Body:
    """Turns the body's XML events into blocks: paragraphs, headings, a table row per block."""

    def __init__(self, styles: dict[str, str], budget: Budget) -> None:
        self.styles = styles
        self.budget = budget
        self.blocks: list[Block] = []
        self.title: str | None = None
        self.text: list[str] = []  # the paragraph, or the cell, being read
        self.cells: list[str] = []  # the table row being read
        self.tables = 0  # open tables: a paragraph inside one belongs to a cell
        self.paragraphs = 0  # open paragraphs (a text box nests one inside another)
        self.style = ""
        self.hidden = 0  # open elements whose text is not the document's current text

    def start(self, tag: str) -> None:
        if tag == _P:
            if not self.tables:
                self.paragraphs += 1
                if self.paragraphs == 1:
                    self.text, self.style = [], ""
        elif tag == _TBL:
            if not self.tables:
                self._paragraph_end()  # text before a table in a text box stays its own
            self.tables += 1
        elif tag in _HIDDEN:
            self.hidden += 1

    def end(self, element) -> None:
        tag = element.tag
        if tag == _T:
            self._add(element.text or "")
        elif tag in _CHARS:
            self._add(_CHARS[tag])
        elif tag in _HIDDEN:
            self.hidden -= 1
        elif tag == _PSTYLE:
            if self.paragraphs == 1 and not self.tables:
                style_id = element.get(_VAL) or ""
                self.style = self.styles.get(style_id, style_id)
        elif self.tables:
            self._table_end(tag)
        elif tag == _P:
            self.paragraphs -= 1
            if not self.paragraphs:
                self._paragraph_end()

    def _add(self, text: str) -> None:
        if not self.hidden:
            self.budget.add_chars(len(text))
            self.text.append(text)

    def _paragraph_end(self) -> None:
        text = "".join(self.text).strip()
        self.text = []
        if not text:
            return
        style = self.style.strip()
        level = docx_level(style) if style else 0
        self.blocks.append(Block(text, "heading" if level else "para", level))
        if style and style.lower() in _TITLE_STYLES and self.title is None:
            self.title = text

    def _table_end(self, tag: str) -> None:
        if tag == _P:
            self.text.append(" ")  # a cell's paragraphs are joined by a space
        elif tag == _TC and self.tables == 1:
            if cell := " ".join("".join(self.text).split()):
                self.cells.append(cell)
            self.text = []
        elif tag == _TR and self.tables == 1:
            if self.cells:
                self.blocks.append(Block(" | ".join(self.cells)))
            self.cells = []
        elif tag == _TBL:
            self.tables -= 1
            if self.tables == 0:
                self.text = []


def read_word(name: str, data: bytes, budget: Budget) -> tuple[list[Block], str | None, str | None]:
    """Blocks, title and date of a .docx; DocumentError when it is broken or over a limit."""
    try:
        package = _Package(data, budget)
        main = package.relations("").get(_OFFICE_DOCUMENT, "word/document.xml")
        styles = package.relations(main).get(_STYLES)
        if (
            styles is None
            and posixpath.join(posixpath.dirname(main), "styles.xml") in package.names
        ):
            styles = posixpath.join(posixpath.dirname(main), "styles.xml")
        body = _Body(_style_names(package, styles), budget)
        if main not in package.names:
            raise DocumentError(f"{name} is not a readable Word document (no document part)")
        for event, element in package.events(main, _BODY_TAGS, ("start", "end")):
            if event == "start":
                body.start(element.tag)
            else:
                body.end(element)
        title, date = _properties(package)
    except DocumentError:
        raise
    except Exception as err:  # zip, zlib, XML and key errors on broken files
        raise DocumentError(
            f"{name} is not a readable Word document (corrupt, or not .docx): {err}"
        ) from err
    return body.blocks, (title or "").strip() or body.title, date
