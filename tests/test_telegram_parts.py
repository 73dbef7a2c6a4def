"""The Telegram adapter's small parts: HTML rendering and splitting, the button store, roles."""

from __future__ import annotations

import pytest
from fake_bot_api import ApiError, parse_html, utf16

from bot.adapters.tgbot import callbacks, render
from bot.adapters.tgbot.access import Role, role_of
from bot.adapters.tgbot.callbacks import ButtonStore, Pending
from bot.config import TelegramSettings
from bot.models import Answer, Citation


def citation(text: str, highlight=None, title="Rutin", section=None, n=0) -> Citation:
    return Citation(
        document="rutin.md",
        title=title,
        section=section,
        page=3,
        date="2024-01-02",
        text=text,
        highlight=highlight,
        score=1.0,
        chunk_id=n,
        section_id=0,
    )


def test_passage_marks_the_sentence_and_escapes_every_piece():
    c = citation("a < b. Det & detta <i> gäller. Slut >", highlight=(7, 30))
    html = render.citation_block(1, c)
    assert html.startswith("<b>[1]</b> <i>Rutin, s. 3 (2024-01-02)</i>\n")
    assert "<b>Det &amp; detta &lt;i&gt; gäller.</b>" in html
    assert parse_html(html).endswith("a < b. Det & detta <i> gäller. Slut >")


@pytest.mark.parametrize(
    "text", ["<b>", "a & b", "x > y", "</i>", "<br>", "<b><i>x</b></i>", '<span class="x">y</span>']
)
def test_fake_refuses_what_telegram_would_not_parse(text):
    with pytest.raises(ApiError, match="can't parse entities"):
        parse_html(text)


def test_visible_length_counts_like_telegram():
    assert render.visible("<b>&lt;&amp;</b> 🙂") == 5  # '<&' + space + an emoji of two units
    assert render.visible("<b>&lt;&amp;</b> 🙂") == utf16(parse_html("<b>&lt;&amp;</b> 🙂"))


def test_pack_splits_only_between_blocks_and_stays_under_the_limit():
    blocks = [f"<b>[{n}]</b> " + "&amp;" * 900 for n in range(1, 6)]  # 900 visible, 4500 as HTML
    parts = render.pack(blocks)
    assert len(parts) == 2  # by what Telegram counts, not by HTML length
    assert all(render.visible(p) <= render.MAX_MESSAGE for p in parts)
    assert "\n\n".join(parts) == "\n\n".join(blocks)


def test_clip_cuts_at_a_word_within_the_limit():
    clipped = render.clip("ord " * 100, 50)
    assert utf16(clipped) <= 50 and clipped.endswith("ord…")


def test_answer_messages_shorten_passages_and_never_exceed_telegram_limit():
    long = "Mening om avgifter & <taxor>. " * 33  # ~1000 characters
    three = Answer("fråga", True, 0.9, tuple(citation(long, n=i) for i in range(3)), "idx")
    [part] = render.answer_messages(three)  # a phone screen, not three full excerpts
    assert utf16(parse_html(part)) < 1400
    many = Answer("fråga", True, 0.9, tuple(citation(long, n=i) for i in range(30)), "idx")
    parts = render.answer_messages(many)
    assert len(parts) >= 2
    for part in parts:
        assert utf16(parse_html(part)) <= 4096
    assert parse_html(parts[0]).startswith("Det här säger dokumenten:")


def test_unanswered_without_passages_says_so():
    [part] = render.answer_messages(Answer("fråga", False, 0.0, (), ""))
    assert "inga dokument" in part and "noterats" in part


def test_callback_data_is_short_and_decodes():
    store = ButtonStore()
    key = store.put(Pending("r1", 3, 1))
    assert len(key) == 8
    for action in callbacks.ACTIONS:
        data = callbacks.encode(action, key)
        assert len(data.encode()) <= 64
        assert callbacks.decode(data) == (action, key)
    assert callbacks.decode("något annat") is None and callbacks.decode(None) is None


def test_button_store_is_bounded_and_expires():
    now = [0.0]
    store = ButtonStore(max_items=3, ttl=60, clock=lambda: now[0])
    keys = [store.put(Pending(f"r{i}", 3, None)) for i in range(4)]
    assert len(store) == 3 and store.get(keys[0]) is None  # the oldest made room
    assert store.get(keys[3]).record_id == "r3"
    now[0] = 61
    assert store.get(keys[3]) is None and len(store) == 0


@pytest.mark.parametrize(
    ("user", "chat", "role"),
    [
        (1, 1, Role.STAFF),
        (2, 2, Role.REVIEWER),
        (3, 3, Role.ADMIN),
        (4, 4, Role.NONE),
        (4, -100, Role.STAFF),  # anyone in an allowed group
        (4, -200, Role.NONE),
        (3, -200, Role.ADMIN),
    ],
)
def test_roles(user, chat, role):
    settings = TelegramSettings(staff=(1,), reviewers=(2,), admins=(3,), allowed_chats=(-100,))
    assert role_of(user, chat, settings) is role
