"""Read .txt, .md, .pdf, .docx and .html files into raw blocks plus title, date and front matter."""

from __future__ import annotations

import datetime as dt
import pathlib
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser

from bot.errors import DocumentError
from bot.ingest.files import read_limited
from bot.ingest.limits import CHUNK_BYTES, Budget, Limits
from bot.ingest.pdf import read_pdf
from bot.ingest.word import read_word
from bot.models import Block
from bot.safetext import clean_text

SUPPORTED = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")


@dataclass(frozen=True)
class ReadResult:
    """What a file holds before cleaning: blocks in reading order and the file's own metadata."""

    blocks: tuple[Block, ...]
    title: str | None = None  # from the file's metadata or its own heading
    date: str | None = None  # ISO date (YYYY-MM-DD) from the file's metadata
    front_matter: dict[str, str] = field(default_factory=dict)


def read_document(path: pathlib.Path | str, limits: Limits | None = None) -> ReadResult:
    """Read one file within `limits` ([ingest]); raise DocumentError naming the file when it
    cannot be turned into text or breaks a limit. Control characters never leave here."""
    if not isinstance(path, pathlib.Path):  # a listed path keeps the folder it must stay in
        path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; "
            f"convert it to one of {', '.join(SUPPORTED)}"
        )
    limits = limits or Limits.from_settings()
    budget = Budget(limits, path.name)
    data = read_limited(path, limits.max_file_bytes, limits.too_big(path.name))
    if not data.strip():
        raise DocumentError(f"{path.name} is empty")
    readers = {".pdf": _read_pdf, ".docx": _read_docx, ".md": _read_markdown, ".txt": _read_txt}
    result = _cleaned(readers.get(suffix, _read_html)(path, data, budget))
    if not result.blocks:
        raise DocumentError(f"{path.name} contains no text")
    return result


def _cleaned(result: ReadResult) -> ReadResult:
    """The one place text leaves the readers: controls and bidi overrides stripped."""
    blocks = []
    for block in result.blocks:
        text = clean_text(block.text)
        if text.strip():
            blocks.append(Block(text, block.kind, block.level, block.page))
    return ReadResult(
        tuple(blocks),
        clean_text(result.title).strip() or None if result.title else None,
        result.date,
        {clean_text(k): clean_text(v) for k, v in result.front_matter.items()},
    )


# --- plain text and markdown -------------------------------------------------------------

_FRONT_LINE = re.compile(r"^([A-Za-z][\w -]*?)\s*:\s*(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-{2,})[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_EMPHASIS = [
    (re.compile(r"\*\*|__|`"), ""),
    # Single * or _ only when it hugs a word, so list bullets and snake_case survive.
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"), r"\1"),
]


def _decode(path: pathlib.Path, data: bytes, fallback: str = "cp1252") -> str:
    """UTF-8 (BOM allowed); old Windows exports in cp1252 are read silently; binary is refused."""
    not_text = DocumentError(f"{path.name} is not UTF-8 text (it looks binary); save it as UTF-8")
    if b"\x00" in data:
        raise not_text
    for encoding in ("utf-8-sig", fallback, "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    else:
        raise not_text
    controls = sum(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text)
    if controls > len(text) / 100:
        raise not_text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """A leading `---` / `key: value` lines / `---` block; anything else is left as text."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    meta: dict[str, str] = {}
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return meta, "\n".join(lines[i + 1 :])
        match = _FRONT_LINE.match(line)
        if match:
            meta[match[1].strip().lower()] = match[2].strip().strip("\"'")
        elif line.strip() and not line.lstrip().startswith("#"):
            break
    return {}, text


def _iso_date(value: str | None) -> str | None:
    """The YYYY-MM-DD a value starts with, if it is a real date."""
    match = re.match(r"\s*(\d{4})-?(\d{2})-?(\d{2})", value or "")
    try:
        return dt.date(*map(int, match.groups())).isoformat() if match else None
    except ValueError:  # 2024-02-30 and the like
        return None


def _paragraphs(text: str, page: int | None = None) -> list[Block]:
    """Split at blank lines; line breaks inside a paragraph stay for the cleaning stage."""
    blocks = []
    for part in re.split(r"\n[ \t\f\v]*\n", text.replace("\x00", "")):
        lines = [line.rstrip() for line in part.strip("\n").split("\n")]
        if any(lines):
            blocks.append(Block("\n".join(lines).strip("\n"), page=page))
    return blocks


def _strip_emphasis(text: str) -> str:
    for pattern, replacement in _EMPHASIS:
        text = pattern.sub(replacement, text)
    return text


def _markdown_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    para: list[str] = []
    code: list[str] = []
    fence = ""

    def flush() -> None:
        if any(line.strip() for line in para):
            blocks.append(Block(_strip_emphasis("\n".join(para).strip("\n"))))
        para.clear()

    for line in text.split("\n"):
        if fence:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                if any(c.strip() for c in code):
                    blocks.append(Block("\n".join(code)))
                fence = ""
            else:
                code.append(line.rstrip())
        elif match := _FENCE.match(line):
            flush()
            fence, code = match[1], []
        elif not line.strip():
            flush()
        elif match := _ATX.match(line):
            flush()
            if title := _strip_emphasis(match[2] or "").strip():
                blocks.append(Block(title, kind="heading", level=len(match[1])))
        elif para and (match := _SETEXT.match(line)):
            heading = _strip_emphasis(" ".join(p.strip() for p in para))
            blocks.append(Block(heading, kind="heading", level=1 if "=" in match[1] else 2))
            para.clear()
        elif _RULE.match(line):
            flush()
        else:
            para.append(line.rstrip())
    if fence and any(c.strip() for c in code):
        blocks.append(Block("\n".join(code)))  # an unclosed fence runs to the end of the file
    flush()
    return blocks


def _first_title(blocks: list[Block]) -> str | None:
    return next((b.text for b in blocks if b.kind == "heading" and b.level == 1), None)


def _read_txt(path: pathlib.Path, data: bytes, budget: Budget) -> ReadResult:
    meta, body = _split_front_matter(_decode(path, data))
    budget.add_chars(len(body))
    blocks = _paragraphs(body)
    budget.check_time()
    return ReadResult(tuple(blocks), meta.get("title") or None, _iso_date(meta.get("date")), meta)


def _read_markdown(path: pathlib.Path, data: bytes, budget: Budget) -> ReadResult:
    meta, body = _split_front_matter(_decode(path, data))
    budget.add_chars(len(body))
    blocks = _markdown_blocks(body)
    budget.check_time()
    title = meta.get("title") or _first_title(blocks)
    return ReadResult(tuple(blocks), title, _iso_date(meta.get("date")), meta)


# --- PDF and Word ------------------------------------------------------------------------


def _read_pdf(path: pathlib.Path, data: bytes, budget: Budget) -> ReadResult:
    texts, title, created = read_pdf(path.name, data, budget)
    blocks = [b for number, text in enumerate(texts, 1) for b in _paragraphs(text, number)]
    title = title.removeprefix("Microsoft Word - ").strip() if title else None
    date = _iso_date(created.removeprefix("D:")) if created else None
    return ReadResult(tuple(blocks), title or None, date)


def _read_docx(path: pathlib.Path, data: bytes, budget: Budget) -> ReadResult:
    blocks, title, date = read_word(path.name, data, budget)
    return ReadResult(tuple(blocks), title, date)


# --- HTML --------------------------------------------------------------------------------

_SKIP = {"script", "style", "nav", "noscript", "template", "svg"}
_IN_HEAD = {"base", "link", "meta", "title", *_SKIP}  # any other tag ends an unclosed <head>
_BLOCK = {"address", "article", "aside", "blockquote", "caption", "dd", "div", "dl", "dt"}
_BLOCK |= {"figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "ol", "p"}
_BLOCK |= {"pre", "section", "ul"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


class _HtmlBlocks(HTMLParser):
    """Collects headings and paragraphs; a table row becomes one paragraph, cells joined by |."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # decodes entities such as &auml; and &nbsp;
        self.blocks: list[Block] = []
        self.buffer: list[str] = []
        self.title: str | None = None
        self.in_title = self.in_head = False
        self.skip = self.tables = self.pre = self.level = 0

    def flush(self) -> None:
        raw = "".join(self.buffer)
        self.buffer.clear()
        if self.pre:  # preformatted text keeps its lines, like fenced code in markdown
            text = "\n".join(line.rstrip() for line in raw.strip("\n").split("\n"))
        else:
            text = " ".join(raw.split())
        if text.strip():
            kind = "heading" if self.level else "para"
            self.blocks.append(Block(text, kind=kind, level=self.level))

    def handle_starttag(self, tag: str, attrs) -> None:
        self.boundary(tag, 1)

    def handle_endtag(self, tag: str) -> None:
        self.boundary(tag, -1)

    def boundary(self, tag: str, step: int) -> None:
        """React to an opening (step 1) or closing (step -1) tag."""
        if tag == "head" or (step > 0 and tag not in _IN_HEAD):
            self.in_head = tag == "head" and step > 0
        if tag == "title":
            self.in_title = step > 0
        elif tag in _SKIP:
            self.skip = max(self.skip + step, 0)
        elif tag in ("table", "tr"):
            self.flush()
            self.tables = max(self.tables + step * (tag == "table"), 0)
        elif self.tables and tag in ("td", "th"):
            row = "".join(self.buffer).strip()
            if step > 0 and row and not row.endswith("|"):
                self.buffer.append(" | ")
        elif self.tables or tag == "br":  # blocks inside a cell stay in the row
            self.buffer.append("\n" if tag == "br" and self.pre else " ")
        elif tag in _HEADINGS or tag in _BLOCK:
            self.flush()
            self.level = _HEADINGS.get(tag, 0) if step > 0 else 0
            self.pre = max(self.pre + step * (tag == "pre"), 0)

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title = " ".join(f"{self.title or ''} {data}".split()) or None
        elif not (self.skip or self.in_head):
            self.buffer.append(data)


def _read_html(path: pathlib.Path, data: bytes, budget: Budget) -> ReadResult:
    declared = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", data[:4096], re.IGNORECASE)
    text = _decode(path, data, declared[1].decode("ascii") if declared else "cp1252")
    parser = _HtmlBlocks()
    # Fed in pieces with a look at the clock between them: an unclosed construct makes the
    # parser scan its buffer again on every feed.
    for start in range(0, len(text), CHUNK_BYTES):
        budget.check_time()
        parser.feed(text[start : start + CHUNK_BYTES])
    parser.close()
    parser.flush()
    budget.add_chars(sum(len(block.text) for block in parser.blocks))  # text, not markup
    return ReadResult(tuple(parser.blocks), parser.title or _first_title(parser.blocks))
