"""Structure-aware chunking: heading paths on every chunk, splits at sentence boundaries."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.ingest.clean import Segment

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = {
    "bl.a",
    "t.ex",
    "m.m",
    "dvs",
    "d.v.s",
    "kap",
    "ca",
    "enl",
    "s.k",
    "fr.o.m",
    "t.o.m",
    "nr",
    "st",
    "jfr",
    "resp",
    "ev",
    "inkl",
    "exkl",
    "fl",
    "m.fl",
    "o.s.v",
    "osv",
    "p.g.a",
    "pga",
    "f.d",
    "tel",
    "mm",
    "kl",
    "s",
    "sid",
    "prop",
    "a.a",
    "ff",
    "mfl",
    "tkr",
    "mkr",
    "kr",
    "e.d",
    "ang",
    "avd",
    "d",
    "t",
    "m",
    "jan",
    "feb",
    "aug",
    "sept",
    "okt",
    "nov",
    "dec",
}
# The closing quotes and brackets after a stop belong to the sentence they close (group 1).
_BOUNDARY = re.compile(r"(?<=[.!?])([\"”’)]*)\s+(?=[\"“”'(\[]?[A-ZÅÄÖ0-9•▪–-])|\s+(?=[•▪]\s)")
_WORD_BEFORE = re.compile(r"([\w.]+)\.$")


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it has an id in an index."""

    section: tuple[str, ...]
    section_no: int  # chunks of the same section share this number within a document
    page: int | None
    text: str
    sentences: tuple[tuple[int, int], ...]


def split_sentences(text: str) -> list[str]:
    """Split Swedish running text into sentences, keeping abbreviations and bullets intact."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        w = _WORD_BEFORE.search(text[start : m.start()])
        if w and w.group(1).lower() in _ABBREVIATIONS:
            continue
        before = text[start : m.end(1) if m.group(1) is not None else m.start()]
        if before.strip():
            out.append(before.strip())
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    """A 'sentence' longer than a chunk (tables, lists without stops) is cut between words."""
    if len(sentence) <= max_chars:
        return [sentence]
    pieces, current = [], ""
    for word in sentence.split(" "):
        while len(word) > max_chars:  # a long URL: no word boundary to cut at
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:max_chars])
            word = word[max_chars:]
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def _pack(sentences: list[str], target: int, max_chars: int) -> list[tuple[int, int]]:
    """Group sentences into chunks of about `target` characters, never over `max_chars`:
    [start, end) ranges of `sentences`.

    The last sentence of a chunk starts the next one as well when it is short, so an answer
    that spans a chunk border is still whole in one of them. Positions, not texts, say what was
    carried over: a sentence repeated word for word (a table's "Ja.") is still a new sentence.
    """
    groups: list[tuple[int, int]] = []
    start, carried, size = 0, 0, 0  # the open group is sentences[start:i]; `carried` of them old
    for i, sent in enumerate(sentences):
        if i > start and size + 1 + len(sent) > max_chars:
            if i - start > carried:
                groups.append((start, i))
            tail = sentences[i - 1]
            carried = 1 if len(tail) + 1 + len(sent) <= target else 0
            start, size = i - carried, len(tail) if carried else 0
        size += len(sent) + (1 if i > start else 0)
        if size >= target:
            groups.append((start, i + 1))
            carried = 1 if len(sent) < target // 3 else 0
            start, size = i + 1 - carried, len(sent) if carried else 0
    if len(sentences) - start > carried:
        groups.append((start, len(sentences)))
    return groups


def group_windows(spans: tuple[tuple[int, int], ...], target: int) -> tuple[tuple[int, int], ...]:
    """Consecutive sentences grouped into windows of about `target` characters.

    A short tail joins the window before it, so no window is a lone fragment.
    """
    windows: list[list[int]] = []
    start, size = 0, 0
    for i, (s, e) in enumerate(spans):
        size += e - s
        if size >= target:
            windows.append([start, i + 1])
            start, size = i + 1, 0
    if start < len(spans):
        if windows and size < target // 3:
            windows[-1][1] = len(spans)
        else:
            windows.append([start, len(spans)])
    return tuple((a, b) for a, b in windows)


def chunk_segments(
    segments: Iterable[Segment], target_chars: int = 700, max_chars: int = 1000
) -> list[ChunkDraft]:
    """Chunk a document: sections never share a chunk; every chunk carries its heading path."""
    drafts: list[ChunkDraft] = []
    stack: list[tuple[int, str]] = []
    section_no = 0
    pending: list[tuple[str, int | None]] = []  # paragraphs of the open section

    def close_section() -> None:
        nonlocal pending
        if not pending:
            return
        sentences: list[str] = []
        pages: list[int | None] = []
        for para, page in pending:
            for sent in split_sentences(para):
                for piece in _cut_long(sent, max_chars):
                    sentences.append(piece)
                    pages.append(page)
        path = tuple(title for _, title in stack)
        for first, end in _pack(sentences, target_chars, max_chars):
            text, spans, pos = "", [], 0
            for sent in sentences[first:end]:
                if text:
                    text += " "
                    pos += 1
                spans.append((pos, pos + len(sent)))
                text += sent
                pos += len(sent)
            drafts.append(ChunkDraft(path, section_no, pages[first], text, tuple(spans)))
        pending = []

    for seg in segments:
        if seg.heading_level:
            close_section()
            section_no += 1
            while stack and stack[-1][0] >= seg.heading_level:
                stack.pop()
            stack.append((seg.heading_level, seg.text[:150]))
        else:
            pending.append((seg.text, seg.page))
    close_section()
    return drafts
