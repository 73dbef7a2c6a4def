"""Turn raw extracted lines into headings and paragraphs: drop page furniture, join hyphenation."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bot.models import Block

# Page furniture that PDF extraction leaves in the middle of running text.
_FURNITURE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(justerare\s*)+(utdragsbestyrkande)?",
        r"justerandes\s+sign(atur)?\s*(utdragsbestyrkande)?",
        r"(underskrift\s*)?utdragsbestyrkande",
        r"protokollsförslag",
        r"(protokoll\s+)?sida\s*\d+\s*(\(\s*\d+\s*\)|av\s*\d+)?",  # "PROTOKOLL Sida 1(7)"
        r"\d+\s*\(\s*\d+\s*\)",
        r"\d+\s+av\s+\d+",
        r"[-–_=\s]{5,}",
        r"\d{1,3}",  # a bare page number
    )
]
# Lines like "Socialnämnden 2022-12-08": a short running header with the meeting date.
_DATED_HEADER = re.compile(r"^[\wåäöÅÄÖ ,.-]{0,40}\d{4}-\d{2}-\d{2}$")
# A table-of-contents line: text, a tab or dot leader, a page number.
_TOC_LINE = re.compile(r"^.{2,90}?(\t+|\.{4,}|\s{3,})\d{1,3}$")
_TAG = re.compile(r"</?(i|b|u|em|strong)>", re.IGNORECASE)

# Headings of Swedish protocols, tjänsteskrivelser and reports, when they stand alone on a line.
PROTOCOL_HEADINGS = {
    "ärendet",
    "ärendebeskrivning",
    "beskrivning av ärendet",
    "bakgrund",
    "beslut",
    "förslag",
    "förslag till beslut",
    "beslutsunderlag",
    "sammanfattning",
    "syfte",
    "mål",
    "syfte och mål",
    "yrkande",
    "yrkanden",
    "proposition",
    "beslutsgång",
    "reservation",
    "protokollsanteckning",
    "uppföljning",
    "barnrättsprövning",
    "inledning",
    "metod",
    "resultat",
    "analys",
    "slutsats",
    "slutsatser",
    "referenser",
    "referenslista",
    "ekonomiska konsekvenser",
    "ekonomiska konsekvenser för kommunen",
    "övriga konsekvenser",
    "överväganden",
    "bedömning",
    "förvaltningens bedömning",
    "tjänsteskrivelse",
    "förslag till åtgärder",
    "rekommendationer",
    "bilagor",
    "sammanfattande bedömning",
    "revisionell bedömning",
    "rekommendation",
    "utvecklingsbehov",
}
_PARAGRAPH_SIGN = re.compile(r"^(?:[A-ZÅÄÖ]{2,5}\s+)?§\s*(\d+(?:\s*/\s*\d+)?)?\s*(.*)$")
_NUMBERED = re.compile(r"^((?:\d{1,2}\.){0,3}\d{1,2})\.?\s+(\S.*)$")
_BULLET = re.compile(r"^([•▪◦●○■\-–*]|\d{1,2}[.)])\s+")
_SENTENCE_END = re.compile(r"[.!?:;]$")
_JOINERS = {"och", "eller", "samt", "resp", "respektive", "till", "som", "men"}


@dataclass(frozen=True)
class Segment:
    """A cleaned heading or paragraph."""

    text: str
    heading_level: int  # 0 for a paragraph
    page: int | None


_EMPHASIS = re.compile(r"\*{1,2}(?=\S)|(?<=\S)\*{1,2}")


def _norm(line: str) -> str:
    return " ".join(_EMPHASIS.sub("", _TAG.sub("", line)).split())


def is_furniture(line: str, repeated_headers: set[str]) -> bool:
    if line in repeated_headers:
        return True
    return any(p.fullmatch(line) for p in _FURNITURE)


def repeated_dated_headers(lines: Iterable[str]) -> set[str]:
    """Short dated lines that repeat on page after page are running headers."""
    counts = Counter(ln for ln in lines if _DATED_HEADER.match(ln))
    return {ln for ln, n in counts.items() if n >= 3}


# Running headers and footers sit in the first and last lines of a page; a line there that
# recurs (digits aside: "Sida 2 av 3", a diary number, a date) on most pages is page furniture,
# whatever its words. Found by repetition, so it holds for any municipality's template.
_EDGE_LINES = 4
_MAX_FURNITURE_CHARS = 160
_DIGITS = re.compile(r"\d+")


def _shape(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.lower().split()))


def running_lines(blocks: list[Block]) -> set[tuple[int, int]]:
    """(block, line) positions of lines repeated at the top or bottom of most pages.

    A line counts for a page when it is among the page's first or last few lines; it is page
    furniture when that holds on at least two pages and on more than half of them."""
    edges: dict[int, list[tuple[int, int, str]]] = {}
    for b, block in enumerate(blocks):
        if block.kind != "para" or block.page is None:
            continue
        for i, raw in enumerate(block.text.splitlines()):
            line = _norm(raw)
            if line and len(line) <= _MAX_FURNITURE_CHARS:
                edges.setdefault(block.page, []).append((b, i, _shape(line)))
    if len(edges) < 2:
        return set()
    zones = {
        page: lines[:_EDGE_LINES] + lines[_EDGE_LINES:][-_EDGE_LINES:]
        for page, lines in edges.items()
    }
    pages_with = Counter(shape for zone in zones.values() for shape in {s for *_, s in zone})
    repeated = {s for s, n in pages_with.items() if n >= 2 and n > len(zones) / 2}
    return {(b, i) for zone in zones.values() for b, i, s in zone if s in repeated}


def heading_level(line: str) -> int:
    """Heading level of a stand-alone line in plain text, 0 if it reads as running text."""
    if len(line) > 110 or not line:
        return 0
    m = _PARAGRAPH_SIGN.match(line)
    if m and (
        (m.group(1) and ("/" in m.group(1) or not re.search(r"[a-zåäö]{3}", m.group(2))))
        or (not m.group(1) and line[:1].isalpha())
    ):
        # A protocol paragraph ("§ 42/23 …", "§ 41", "SN § Title") is the outermost section;
        # "§ 6 Det åligger …" in a reglemente is running text.
        return 1
    m = _NUMBERED.match(line)
    if m:
        number, rest = m.groups()
        words = rest.split()
        if (
            int(number.split(".")[0]) <= 30
            and (rest[0].isupper() or rest[0] == "<")
            and len(words) <= 10
            and not _SENTENCE_END.search(rest)
            and not rest.rstrip().endswith(",")
            and sum(ch.isdigit() for ch in rest) <= 4
            and not re.search(r"\(|\d{4}|et al|m\.fl|^[Ii]bid\b", rest)  # a footnote
        ):
            return 2 + number.count(".")
        return 0
    bare = line.rstrip(":").strip()
    if bare.lower() in PROTOCOL_HEADINGS:
        return 8  # attaches below whatever structural heading is open
    letters = [ch for ch in bare if ch.isalpha()]
    if len(letters) >= 4 and bare.isupper() and len(bare.split()) <= 8:
        return 1  # "BILAGA 1", "PROJEKTPLAN": a new part of a bundled document
    return 0


def _join(prev: str, line: str, hyphenated_vocab: set[str]) -> str:
    """Join a wrapped line to the text before it, undoing line-break hyphenation."""
    if prev.endswith("-") and len(prev) > 1 and prev[-2].isalpha():
        first = line.split(maxsplit=1)[0]
        if first[0].islower() and first.rstrip(".,;:") not in _JOINERS:
            left = re.findall(r"[\wåäöÅÄÖ]+$", prev[:-1])
            word = (left[0] if left else "") + "-" + first.rstrip(".,;:")
            if word.lower() in hyphenated_vocab:  # a real hyphen, e.g. "e-post"
                return prev + line
            return prev[:-1] + line
        if first[0].isupper():  # "Lex-\nSarah"
            return prev + line
    return prev + " " + line


def _reads_on(para: str, line: str) -> bool:
    """Whether `line`, after a blank line, continues the sentence `para` left open."""
    if para.endswith("-") and para[-2:-1].isalpha():
        return True  # hyphenated across the break
    return line[:1].islower() and not para.endswith((".", "!", "?", ":", ";"))


def segments(blocks: Iterable[Block]) -> list[Segment]:
    """Clean blocks into segments. Plain-text blocks keep raw line breaks; this decides joins."""
    blocks = list(blocks)
    raw_lines = [_norm(ln) for b in blocks if b.kind == "para" for ln in b.text.splitlines()]
    headers = repeated_dated_headers(raw_lines)
    running = running_lines(blocks)
    text_all = " ".join(raw_lines).lower()
    hyphenated_vocab = set(re.findall(r"\b\w+-\w+\b", text_all))
    out: list[Segment] = []
    para: str = ""
    para_page: int | None = None

    def flush() -> None:
        nonlocal para
        if para.strip():
            out.append(Segment(para.strip(), 0, para_page))
        para = ""

    # "next": a "§ 42/23 dnr" line takes the next line as its title; "wrap": a heading may
    # continue on lines that start in lower case. Both carry over blank lines, because
    # double-spaced extractions put a blank line after every line.
    title_mode = ""
    for b, block in enumerate(blocks):
        if block.kind == "heading":
            flush()
            title_mode = ""
            out.append(Segment(_norm(block.text), max(block.level, 1), block.page))
            continue
        lines = [
            _norm(raw)
            for i, raw in enumerate(block.text.splitlines())
            if (b, i) not in running and not _TOC_LINE.match(raw.strip())
        ]
        lines = [ln for ln in lines if ln and not is_furniture(ln, headers)]
        if para and lines and not _reads_on(para, lines[0]):
            flush()  # a blank line ends a paragraph unless the sentence plainly goes on
        for i, line in enumerate(lines):
            following = lines[i + 1] if i + 1 < len(lines) else ""
            continues_title = title_mode == "next" or (
                line[:1].islower() and bool(out) and len(out[-1].text) < 160
            )
            if (
                title_mode
                and continues_title
                and out
                and out[-1].heading_level
                and not heading_level(line)
            ):
                last = out.pop()
                out.append(Segment(f"{last.text} {line}", last.heading_level, last.page))
                # "§ 122", then "Dnr BUN/2020:161": the title is on the line after that
                diary = title_mode == "next" and not re.search(r"[a-zåäö]{3}", line)
                title_mode = "next" if diary else "wrap"
                continue
            title_mode = ""
            level = heading_level(line)
            previous = lines[i - 1] if i else ""
            if (
                not level
                and len(line) <= 60
                and len(line.split()) <= 7
                and line[:1].isupper()
                and not re.search(r"[.!?:;,)]$|\d", line)
                and (not previous or previous.endswith((".", "!", "?", ":")))
                and (len(following) > 80 or following.startswith("§"))
            ):
                level = 8  # a short title line between paragraphs, as in a reglemente
            sign = _PARAGRAPH_SIGN.match(line) if level else None
            if level and not sign and following[:1].islower():
                level = 0  # a wrapped line of running text that happens to look like a heading
            if level:
                flush()
                title = line
                title_mode = "wrap"
                if sign and sign.group(1):
                    rest = sign.group(2)
                    title = f"§ {sign.group(1).replace(' ', '')}" + (f" {rest}" if rest else "")
                    if not re.search(r"[a-zåäö]{3}", rest):
                        title_mode = "next"  # only a diary number: the title is on the next line
                out.append(Segment(title, level, block.page))
                continue
            if _BULLET.match(line) and para:
                flush()
            if not para:
                para, para_page = line, block.page
            elif para.endswith((".", "!", "?", ":")) and line[:1].isupper() and len(line) < 60:
                flush()  # a short line after a sentence end starts a new paragraph
                para, para_page = line, block.page
            else:
                para = _join(para, line, hyphenated_vocab)
    flush()
    return out
