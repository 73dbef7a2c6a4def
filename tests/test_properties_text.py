"""Property-based tests of text cleaning and chunking: what they promise holds for any input."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.ingest.chunk import ChunkDraft, chunk_segments, split_sentences
from bot.ingest.clean import Segment, segments
from bot.models import Block
from bot.safetext import clean_text, for_terminal

PROPS = settings(max_examples=200, deadline=None, database=None)
SLOW = settings(max_examples=60, deadline=None, database=None)

# What clean_text promises (its docstring and comments): no C0 control but newline and tab, no
# DEL or C1 control, no bidi embedding, override or isolate, no lone surrogate; every other
# character kept in order; CR LF, CR, VT, FF, NEL, LS and PS each become one newline; no
# invisible character that splits a word (soft hyphen, zero-width space and joiners, word
# joiner, byte-order mark).
BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
INVISIBLE = set("\u00ad\u200b\u200c\u200d\u2060\ufeff")
LINE_BREAKS = set("\r\x0b\x0c\x85\u2028\u2029")


def removed(ch: str) -> bool:
    cp = ord(ch)
    control = cp < 0x20 or 0x7F <= cp <= 0x9F
    surrogate = 0xD800 <= cp <= 0xDFFF
    return (control and ch not in "\n\t") or ch in BIDI or ch in INVISIBLE or surrogate


def line_breaks(text: str) -> int:
    return text.count("\n") + len(re.findall("\r(?!\n)|[\x0b\x0c\x85\u2028\u2029]", text))


# Text rich in what the cleaner handles: every control, bidi mark, line break and surrogate.
hostile_char = st.one_of(
    st.characters(exclude_categories=()),  # anything, lone surrogates included
    st.sampled_from(
        [*sorted(BIDI | LINE_BREAKS | INVISIBLE), "\x1b", "\x00", "\x9b", "\t", "\n", "\ud83d"]
    ),
)
hostile_text = st.text(hostile_char, max_size=80)


@PROPS
@given(hostile_text)
def test_clean_text_leaves_no_control_bidi_override_or_surrogate(text):
    out = clean_text(text)
    assert not [ch for ch in out if removed(ch) or ch in LINE_BREAKS]
    out.encode("utf-8")  # strict: nothing unencodable left


@PROPS
@given(hostile_text)
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


@PROPS
@given(hostile_text)
def test_clean_text_keeps_every_other_character_in_order_and_every_line_break(text):
    out = clean_text(text)
    kept = [ch for ch in text if not removed(ch) and ch not in LINE_BREAKS and ch != "\n"]
    assert [ch for ch in out if ch != "\n"] == kept
    assert out.count("\n") == line_breaks(text)


@PROPS
@given(hostile_text)
def test_for_terminal_output_holds_nothing_a_terminal_acts_on(text):
    out = for_terminal(text)
    assert all(unicodedata.category(ch) != "Cc" or ch in "\n\t" for ch in out)
    assert not BIDI & set(out)
    assert for_terminal(out) == out


# -- clean.segments ----------------------------------------------------------------------------

# Swedish-ish text with no digits: nothing in it is page furniture (page numbers, "Sida 2 av 3",
# dated running headers, table-of-contents lines), so the cleaner may drop no letter of it. It
# may still join hyphenated words, drop emphasis stars and tags, and make headings.
FURNITURE_WORDS = ("justerare", "utdragsbestyrkande", "protokollsförslag")
_EMPHASIS_TAG = re.compile(r"</?(i|b|u|em|strong)>", re.IGNORECASE)
text_piece = st.one_of(
    st.text('abcåäöABCÅÄÖxyz -*§:.,;!?()\t"”', min_size=1, max_size=10),
    st.sampled_from(["<i>", "</b>", "<strong>", "-\n", "\n", "\n\n", "Bakgrund\n", "BILAGA A\n"]),
    st.sampled_from(["• ", "– ", "Lex-\nSarah", "e-\npost", "bl.a. ", "Beslut:\n"]),
)
plain_block = (
    st.lists(text_piece, max_size=30)
    .map("".join)
    .filter(lambda t: not any(w in t.lower() for w in FURNITURE_WORDS))
)


def letters(text: str) -> list[str]:
    return [ch for ch in _EMPHASIS_TAG.sub("", text) if ch.isalpha()]


@SLOW
@given(st.lists(st.tuples(plain_block, st.booleans(), st.integers(0, 3)), min_size=1, max_size=6))
def test_segments_lose_and_reorder_no_letter_of_text_without_furniture(raw):
    """Headings and paragraphs in any order: every letter survives, in order, in tidy segments."""
    blocks = [
        Block(text, "heading" if head else "para", level if head else 0)
        for text, head, level in raw
    ]
    out = segments(blocks)

    assert letters(" ".join(s.text for s in out)) == letters(" ".join(b.text for b in blocks))
    for seg in out:
        assert seg.text == seg.text.strip() and "\n" not in seg.text


@SLOW
@given(
    st.lists(
        st.tuples(st.text(max_size=200), st.sampled_from(["para", "heading"]), st.integers(0, 9)),
        max_size=8,
    ),
    st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=8, max_size=8),
)
def test_segments_never_fail_and_give_clean_single_line_segments(raw, pages):
    """Any text (after clean_text, as readers do) cleans without an error into tidy segments."""
    blocks = [
        Block(clean_text(text), kind, level, page)
        for (text, kind, level), page in zip(raw, pages, strict=False)
    ]
    out = segments(blocks)
    for seg in out:
        assert isinstance(seg, Segment) and seg.heading_level >= 0
        assert seg.text == seg.text.strip() and "\n" not in seg.text
        assert seg.text or seg.heading_level  # an empty paragraph is never kept


# -- chunking ----------------------------------------------------------------------------------

# Sentences of Swedish-ish text with abbreviations, bullets, long words without spaces (URLs,
# tables) and odd spacing: everything the splitter and the packer must cut somewhere.
chunk_word = st.one_of(
    st.text("abcdefghijklmnoprstuvåäöABDEFGHKLMNOSTÅÄÖ", min_size=1, max_size=12),
    st.sampled_from(["bl.a.", "t.ex.", "§", "•", "–", "3.", "IVO.", "(SoL)", "”Lex", "Sarah.”"]),
    st.text("abcdefghij/.:-", min_size=30, max_size=400),  # a URL or table row without spaces
    st.text(min_size=1, max_size=8).map(clean_text).filter(lambda w: w.strip() == w and w),
)
paragraph = st.lists(chunk_word, min_size=1, max_size=60).map(lambda ws: " ".join(ws) + ".")
heading = st.tuples(st.integers(1, 9), st.text(min_size=1, max_size=200).map(clean_text))
document = st.lists(
    st.one_of(
        heading.map(lambda h: Segment(h[1], h[0], None)),
        st.tuples(paragraph, st.one_of(st.none(), st.integers(1, 30))).map(
            lambda p: Segment(p[0], 0, p[1])
        ),
    ),
    max_size=12,
)
sizes = st.integers(100, 2000).flatmap(lambda m: st.tuples(st.integers(100, m), st.just(m)))


def nonspace(text: str) -> str:
    return "".join(text.split())


def covers_in_order(whole: str, pieces: list[str]) -> bool:
    """Whether `pieces`, in order, cover `whole` from end to end, each overlapping at most the
    one before it (the tail sentence a chunk repeats) and none ever going back before it."""
    reachable = {(-1, 0)}  # (start, end) of the piece placed last
    for piece in pieces:
        nxt = set()
        for start, end in reachable:
            for at in range(start + 1, end + 1):
                if whole.startswith(piece, at):
                    nxt.add((at, at + len(piece)))
        if not nxt:
            return False
        reachable = nxt
    return any(end == len(whole) for _, end in reachable) if pieces else not whole


def expected_paths(doc: list[Segment]) -> dict[int, tuple[str, ...]]:
    """Heading path of each section number, as the documentation describes it."""
    stack: list[tuple[int, str]] = []
    paths, number = {0: ()}, 0
    for seg in doc:
        if seg.heading_level:
            number += 1
            while stack and stack[-1][0] >= seg.heading_level:
                stack.pop()
            stack.append((seg.heading_level, seg.text[:150]))
            paths[number] = tuple(t for _, t in stack)
    return paths


def section_texts(doc: list[Segment]) -> dict[int, list[Segment]]:
    out: dict[int, list[Segment]] = {}
    number = 0
    for seg in doc:
        if seg.heading_level:
            number += 1
        else:
            out.setdefault(number, []).append(seg)
    return out


@SLOW
@given(document, sizes)
# A sentence repeated word for word (a table's "Ja.") was taken for the carried-over tail and
# the chunk holding it dropped.
@example([Segment(":" * 47 + " A.", 0, None)] * 2, (100, 100))
def test_chunks_fit_lose_nothing_keep_order_and_carry_heading_paths(doc, size):
    target, max_chars = size
    drafts = chunk_segments(doc, target_chars=target, max_chars=max_chars)

    paths, paragraphs = expected_paths(doc), section_texts(doc)
    by_section: dict[int, list[ChunkDraft]] = {}
    for d in drafts:
        assert 0 < len(d.text) <= max_chars
        assert d.section == paths[d.section_no]
        by_section.setdefault(d.section_no, []).append(d)
    assert [d.section_no for d in drafts] == sorted(d.section_no for d in drafts)
    for number, segs in paragraphs.items():
        whole = nonspace(" ".join(s.text for s in segs))
        chunks = by_section.get(number, [])
        assert covers_in_order(whole, [nonspace(d.text) for d in chunks]), number
        assert {d.page for d in chunks} <= {s.page for s in segs}
    with_text = {n for n, segs in paragraphs.items() if any(nonspace(s.text) for s in segs)}
    assert set(by_section) <= with_text


@SLOW
@given(document, sizes)
def test_sentence_spans_tile_the_chunk_text(doc, size):
    for d in chunk_segments(doc, target_chars=size[0], max_chars=size[1]):
        assert d.sentences and d.sentences[0][0] == 0 and d.sentences[-1][1] == len(d.text)
        assert " ".join(d.text[s:e] for s, e in d.sentences) == d.text
        assert all(e > s for s, e in d.sentences)


@PROPS
@given(paragraph)
@example("Hon sa ”ring IVO.” Sedan gick hon.")  # the closing quote was dropped
def test_split_sentences_loses_and_reorders_nothing(text):
    assert nonspace("".join(split_sentences(text))) == nonspace(text)
