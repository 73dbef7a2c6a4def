"""Property-based tests of Telegram rendering: every message parses as Telegram HTML and fits.

The parser below is strict and independent of the renderer: it accepts only the tags and
entities Telegram documents for parse_mode HTML, so a message it accepts is one Telegram takes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.adapters.tgbot.render import (
    MAX_MESSAGE,
    answer_messages,
    clip,
    pack,
    section_messages,
    sources_messages,
    theme_message,
    themes_message,
)
from bot.answer.core import IndexInfo
from bot.gaps.report import Passage, ThemeSummary
from bot.gaps.store import Gap, ThemeInfo
from bot.models import Answer, Chunk, Citation
from bot.search.store import DocumentRecord

PROPS = settings(max_examples=150, deadline=None, database=None)
FEW = settings(max_examples=50, deadline=None, database=None)

# Tags Telegram accepts, with the attributes each may (or must) carry.
_TAGS = {
    "b": set(),
    "strong": set(),
    "i": set(),
    "em": set(),
    "u": set(),
    "ins": set(),
    "s": set(),
    "strike": set(),
    "del": set(),
    "a": {"href"},
    "code": {"class"},
    "pre": set(),
    "blockquote": {"expandable"},
    "tg-spoiler": set(),
    "span": {"class"},
}
_TAG = re.compile(r"<(/?)([a-z-]+)((?:\s+[a-z-]+(?:=\"[^\"<>]*\")?)*)\s*>")
_ATTR = re.compile(r"([a-z-]+)(?:=\"([^\"<>]*)\")?")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class NotTelegramHtml(ValueError):
    pass


def _entity(m: re.Match[str]) -> str:
    if m[1]:
        return _NAMED[m[1]]
    code = int(m[2]) if m[2] else int(m[3], 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or code == 0:
        raise NotTelegramHtml(f"bad character reference {m.group()}")
    return chr(code)


def _attributes(name: str, raw: str) -> dict[str, str]:
    attrs = {m[1]: _ENTITY.sub(_entity, m[2] or "") for m in _ATTR.finditer(raw)}
    if set(attrs) - _TAGS[name]:
        raise NotTelegramHtml(f"<{name}> cannot carry {sorted(attrs)}")
    if name == "a" and "href" not in attrs:
        raise NotTelegramHtml("<a> without href")
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise NotTelegramHtml("<span> must be class=tg-spoiler")
    if name == "code" and not attrs.get("class", "language-x").startswith("language-"):
        raise NotTelegramHtml("<code class> must name a language")
    return attrs


def parse_telegram_html(markup: str) -> str:
    """The text Telegram shows for `markup`; NotTelegramHtml when Telegram would refuse it."""
    shown: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(markup):
        ch = markup[pos]
        if ch == "<":
            m = _TAG.match(markup, pos)
            if not m or m[2] not in _TAGS:
                raise NotTelegramHtml(f"not a Telegram tag at {pos}: {markup[pos : pos + 20]!r}")
            closing, name, raw = m.groups()
            if closing:
                if raw.strip() or not stack or stack[-1] != name:
                    raise NotTelegramHtml(f"</{name}> closes {stack[-1:] or 'nothing'}")
                stack.pop()
            else:
                _attributes(name, raw)
                inside_code = stack and stack[-1] in ("code", "pre")
                if inside_code and not (name == "code" and stack[-1] == "pre"):
                    raise NotTelegramHtml(f"<{name}> inside <{stack[-1]}>")
                stack.append(name)
            pos = m.end()
        elif ch == "&":
            m = _ENTITY.match(markup, pos)
            if not m:
                raise NotTelegramHtml(f"bare & at {pos}: {markup[pos : pos + 12]!r}")
            shown.append(_entity(m))
            pos = m.end()
        elif ch == ">":
            raise NotTelegramHtml(f"bare > at {pos}")
        else:
            shown.append(ch)
            pos += 1
    if stack:
        raise NotTelegramHtml(f"unclosed {stack}")
    return "".join(shown)


def utf16_units(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def assert_sendable(messages: list[str]) -> list[str]:
    """Every message parses, is not empty and fits; returns the texts Telegram would show."""
    assert messages
    shown = []
    for markup in messages:
        text = parse_telegram_html(markup)
        assert text.strip(), markup[:200]
        assert utf16_units(text) <= MAX_MESSAGE, utf16_units(text)
        shown.append(text)
    return shown


# -- the parser itself must refuse what Telegram refuses ------------------------------------------


@pytest.mark.parametrize(
    "markup",
    [
        "a < b",
        "a & b",
        "a > b",
        "<b>open",
        "<b><i>crossed</b></i>",
        "<script>x</script>",
        "<a>no href</a>",
        "<span>plain span</span>",
        "&nbsp;",
        "&#xD800;",
        "<code><b>x</b></code>",
    ],
)
def test_the_strict_parser_refuses_what_telegram_refuses(markup):
    with pytest.raises(NotTelegramHtml):
        parse_telegram_html(markup)


def test_the_strict_parser_reads_what_telegram_reads():
    markup = (
        '<b>a</b> &lt;&amp;&gt;&quot;&#128512;&#x1F600; <a href="https://x.se/?a=1&amp;b=2">l</a>'
        '<span class="tg-spoiler">s</span><pre><code class="language-py">x</code></pre>'
    )
    assert parse_telegram_html(markup) == 'a <&>"😀😀 lsx'


# -- rendering -------------------------------------------------------------------------------------

# Text as documents hold it, and worse: emoji (surrogate pairs in UTF-16), markup characters,
# entities that must stay literal, long words without spaces and runs of newlines.
_PIECES = ["<", ">", "&", "&amp;", "<b>", "</i>", '"', "\n", "\n\n\n", " ", "😀", "👍🏽", "𝔄"]
doc_piece = st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(_PIECES))


def pieces(alphabet=doc_piece, min_size: int = 0, max_size: int = 300) -> st.SearchStrategy[str]:
    return st.lists(alphabet, min_size=min_size, max_size=max_size).map("".join)


# Long texts are short ones repeated: as hard for the renderer, far cheaper to generate.
doc_text = st.one_of(
    pieces(),
    st.tuples(pieces(min_size=1, max_size=40), st.integers(20, 300)).map(lambda t: t[0] * t[1]),
    st.tuples(st.sampled_from(["😀", "&", "<", "😀&<x"]), st.integers(1000, 9000)).map(
        lambda t: t[0] * t[1]  # one endless word
    ),
)
short_text = pieces(max_size=120)


@st.composite
def citations(draw) -> Citation:
    text = draw(doc_text)
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, len(text)))
    return Citation(
        document=draw(short_text),
        title=draw(st.one_of(short_text, short_text.map(lambda t: t * 40))),
        section=draw(st.one_of(st.none(), short_text)),
        page=draw(st.one_of(st.none(), st.integers(1, 10_000))),
        date=draw(st.one_of(st.none(), short_text)),
        text=text,
        highlight=draw(st.one_of(st.none(), st.just((start, end)))),
        score=0.5,
        chunk_id=0,
        section_id=0,
    )


@FEW
@given(st.lists(citations(), max_size=8), st.booleans(), st.integers(1, 40))
def test_answer_messages_parse_as_telegram_html_and_fit(cites, answered, first):
    answer = Answer("fråga", answered, 0.5, tuple(cites))
    messages = answer_messages(answer, first=first)
    if first > 1 and not cites:  # a further page with nothing on it: nothing to send
        assert messages == []
        return
    shown = assert_sendable(messages)
    for c in cites:  # every passage is there, its start as the document has it
        assert any(c.text[:20].strip() in s for s in shown)


@FEW
@given(
    st.lists(st.tuples(doc_text, st.one_of(st.none(), st.integers(1, 99))), min_size=1, max_size=6),
    short_text,
)
def test_section_messages_parse_as_telegram_html_and_fit(parts, title):
    chunks = [
        Chunk(i, "d.md", title, None, (title,), 0, page, i, text, (), "sha")
        for i, (text, page) in enumerate(parts)
    ]
    assert_sendable(section_messages(chunks))


@PROPS
@given(st.lists(st.tuples(short_text, st.one_of(st.none(), short_text)), max_size=60))
def test_sources_messages_parse_as_telegram_html_and_fit(docs):
    records = tuple(DocumentRecord(f"{i}.md", t, d, "sha", 1) for i, (t, d) in enumerate(docs))
    info = IndexInfo("1.0", "2024-01-01", "e5", len(records), records, ())
    assert_sendable(sources_messages(info))


@PROPS
@given(pieces(max_size=6000), st.integers(1, 4096))
@example("😀" * 3, 5)
def test_clip_fits_in_utf16_units_and_keeps_a_prefix(text, limit):
    out = clip(text, limit)
    assert utf16_units(out) <= limit
    assert out == text or text.startswith(out.removesuffix("…").rstrip())


@PROPS
@given(st.lists(st.text(st.sampled_from("ab😀&<\n "), min_size=1, max_size=900), max_size=30))
def test_pack_keeps_every_block_in_order_and_under_the_limit(texts):
    from bot.adapters.tgbot.render import esc

    blocks = [f"<b>{esc(t)}</b>" for t in texts]
    messages = pack(blocks, limit=1000)
    assert "\n\n".join(messages) == "\n\n".join(blocks)
    for markup in messages:
        assert utf16_units(parse_telegram_html(markup)) <= 1000


# -- knowledge gaps, for reviewers -----------------------------------------------------------------

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


@st.composite
def themes(draw) -> tuple[ThemeInfo, list[Gap], list[Passage]]:
    theme = ThemeInfo(
        id=draw(st.integers(1, 10**6)),
        name=draw(doc_text),
        status=draw(st.sampled_from(["open", "in_progress", "resolved", "wont_fix", "<&>"])),
        answered_now=draw(st.booleans()),
        note=draw(st.one_of(st.just(""), doc_text)),
        changed_by=draw(st.one_of(st.none(), short_text)),
        changed_at=draw(st.one_of(st.none(), st.just(WHEN))),
        created_at=WHEN,
        questions=0,
    )
    gaps = [
        Gap(
            f"r{i}",
            WHEN,
            question,
            draw(st.sampled_from(["unanswered", "unhelpful", "<x>"])),
            "telegram",
            0.1,
            theme.id,
            (),
        )
        for i, question in enumerate(draw(st.lists(doc_text, max_size=25)))
    ]
    passages = [
        Passage(document, section, page, 0, 0.5, 1)
        for document, section, page in draw(
            st.lists(st.tuples(short_text, st.one_of(st.none(), short_text), st.none()), max_size=5)
        )
    ]
    return theme, gaps, passages


@FEW
@given(themes())
def test_theme_message_parses_as_telegram_html_and_fits(theme):
    assert_sendable([theme_message(*theme)])


@FEW
@given(st.lists(st.tuples(st.integers(1, 10**6), doc_text, st.integers(1, 10**4)), max_size=10))
def test_themes_message_parses_as_telegram_html_and_fits(rows):
    summaries = [ThemeSummary(i, name, "open", n, WHEN, WHEN, ()) for i, name, n in rows]
    assert_sendable([themes_message(summaries)])
