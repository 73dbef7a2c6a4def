"""HTML safety and message splitting, on a small index of documents full of `<`, `&`, `*`, `_`.

The fake Bot API parses every message as Telegram does and refuses bad HTML or a text over 4096
characters, so a message that arrives proves the escaping; the parsed text proves that what staff
read is the document's own text, not `&lt;` or a swallowed tag.
"""

from __future__ import annotations

import random

import pytest
from conftest import make_settings
from fake_bot_api import FakeBotAPI, utf16
from telegram_harness import (
    buttons,
    press_and_wait,
    running_bot,
    settings_for,
    sql_recorder,
    texts,
    wait_answer,
)

USER = 5001
TITLE = 'Rutin <Avgifter> & "taxor" för *hemtjänst* och _boende_'
HEADING = "Avgifter <2024> & undantag"
HOSTILE = (
    'Skriv aldrig <script>alert("x")</script> i journalen. Om a < b && c > d gäller taxa 2 & 3. '
    'Taggar som </code></s> och <a href="x">ej stängd ska synas som text. Texten &amp; och &lt; '
    "är redan kodad. Tecken som 5 * 3, fil_namn_v2 och snake_case_namn ändras inte. "
)
WORDS = [
    "avgift", "hemtjänst", "boende", "omsorg", "beslut", "handläggare", "brukare", "taxa",
    "förbehållsbelopp", "inkomst", "jämkning", "faktura", "insats", "kommun", "nämnd", "riktlinje",
    "månad", "timme", "matdistribution", "hyra", "bostadstillägg", "minimibelopp", "prövning",
]  # fmt: skip
NIGHT_TITLE = "Larmrutin för nattpatrullen & <hemtjänsten>"
NIGHT_WORDS = [
    "nattpatrull", "larm", "larmrutin", "trygghetslarm", "larmcentral", "nyckel", "nyckelgömma",
    "hembesök", "natt", "kvittering", "kvittera", "åtgärd", "tillsyn", "fall", "uppringning",
    "ambulans", "anhörig",
]  # fmt: skip


def _paragraph(rng: random.Random, n: int, words=WORDS, lead="Stycke") -> str:
    text: list[str] = []
    while len(" ".join(text)) < 700:
        sentence = rng.sample(words, 8)
        text += [sentence[0].capitalize(), *sentence[1:-1], sentence[-1] + "."]
    return f"{lead} {n}: {HOSTILE}" + " ".join(text)


@pytest.fixture(scope="module")
def hostile_answerer(tmp_path_factory, encoder):
    """A real index (real encoder) of three documents that try every way to break HTML."""
    from bot.answer.core import Answerer
    from bot.search.indexer import build_index

    base = tmp_path_factory.mktemp("hostile")
    folder = base / "knowledge"
    folder.mkdir()
    rng = random.Random(7)
    body = "\n\n".join(_paragraph(rng, n) for n in range(1, 5))
    (folder / "avgifter.md").write_text(
        f"---\ntitle: {TITLE}\ndate: 2024-05-02\n---\n# {HEADING}\n\n{body}\n\n"
        f"# Taxa & tillägg <övrigt>\n\n" + "\n\n".join(_paragraph(rng, n) for n in range(5, 9)),
        encoding="utf-8",
    )
    (folder / "stjarnor_och_understreck.txt").write_text(
        "---\ntitle: Avgifter *preliminära* _utkast_ <2025> & framåt\ndate: 2025-01-10\n---\n"
        + "\n\n".join(_paragraph(rng, n) for n in range(9, 13)),
        encoding="utf-8",
    )
    (folder / "larmrutin.txt").write_text(  # one long section: too long for the chat
        f"---\ntitle: {NIGHT_TITLE}\ndate: 2023-09-01\n---\n"
        + "\n\n".join(_paragraph(rng, n, NIGHT_WORDS, "Larmrutin del") for n in range(1, 13)),
        encoding="utf-8",
    )
    settings = make_settings(
        base,
        encoder={"num_threads": 2},
        chunking={"target_chars": 950, "max_chars": 1000},  # long passages: answers over 4096
    )
    build_index(settings, encoder)
    return Answerer(settings, encoder)


@pytest.fixture(scope="module")
def api():
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def bot(api, hostile_answerer, tmp_path_factory):
    settings = settings_for(hostile_answerer.settings, api, staff=(USER,))
    with (
        sql_recorder(tmp_path_factory.mktemp("records")) as recorder,
        running_bot(settings, hostile_answerer, recorder),
    ):
        api.wait_polls()
        yield


@pytest.fixture
def answer(api, bot):
    before = len(api.sent(USER))
    api.send(USER, "Vilken avgift gäller för hemtjänst och boende?")
    return wait_answer(api, USER, since=before)


@pytest.fixture
def journal_answer(api, bot):
    """An answer whose best passage's marked sentence is in the hostile text, so the first
    message shows it (passages are shortened around their marked sentence)."""
    before = len(api.sent(USER))
    api.send(USER, "Vad får man aldrig skriva i journalen?")
    return wait_answer(api, USER, since=before)


def test_document_text_is_escaped_and_reads_as_written(journal_answer):
    answer = journal_answer
    shown = "\n".join(texts(answer))
    assert '<script>alert("x")</script>' in shown
    assert "a < b && c > d gäller taxa 2 & 3" in shown
    assert '</code></s> och <a href="x">ej stängd' in shown
    assert "&amp; och &lt; är redan kodad" in shown  # shown as written, not decoded
    assert "5 * 3, fil_namn_v2 och snake_case_namn" in shown
    assert "<script>" not in "".join(c.params["text"] for c in answer)  # sent escaped


def test_titles_and_headings_are_escaped(answer):
    shown = "\n".join(texts(answer))
    assert TITLE in shown or "Avgifter *preliminära* _utkast_ <2025> & framåt" in shown
    assert HEADING in shown or "Taxa & tillägg <övrigt>" in shown


def test_an_answer_of_long_passages_is_one_screen_of_three_shortened_ones(answer):
    """Five passages of ~1000 characters were two messages over 4096; now the first message
    holds three, cut around their marked sentences, and "Fler källor" has the rest."""
    [shown] = texts(answer)
    assert utf16(shown) < 2000
    for n in range(1, 4):
        assert shown.count(f"[{n}] ") == 1  # every passage exactly once
    assert "[4] " not in shown and "…" in shown
    assert all(not c.params.get("reply_markup") for c in answer[:-1])
    assert list(buttons(answer[-1]))[:2] == ["👍 Hjälpte", "👎 Hjälpte inte"]


def test_whole_hostile_section_is_sent_safely(api, answer):
    before = len(api.sent(USER))
    _, toast = press_and_wait(api, USER, answer[-1], "Visa hela avsnittet")
    assert toast.ok
    sent = api.wait(lambda calls: api.sent(USER, calls)[before:])
    first = sent[0]
    if first.method == "sendDocument":
        content = api.files[first.result["document"]["file_id"]][1].decode()
        assert "<script>" in content  # a plain text file: no escaping in it
    else:
        assert '<script>alert("x")</script>' in first.result["text"] + sent[-1].result["text"]


def test_more_sources_with_hostile_text(api, answer):
    before = len(api.sent(USER))
    press_and_wait(api, USER, answer[-1], "Fler källor")
    more = wait_answer(api, USER, since=before)
    assert texts(more)[0].startswith("[4] ")


def test_kallor_escapes_titles(api, bot):
    before = len(api.sent(USER))
    api.send(USER, "/kallor")
    shown = texts(api.wait_sent(USER, before + 1)[before:])[0]
    assert f"• {TITLE} (2024-05-02)" in shown
    assert "• Avgifter *preliminära* _utkast_ <2025> & framåt (2025-01-10)" in shown


def test_question_with_html_is_answered_not_parsed(api, bot):
    before = len(api.sent(USER))
    api.send(USER, "Vad är <b>avgiften</b> & taxan för hemtjänst?")
    parts = wait_answer(api, USER, since=before)
    assert parts[-1].ok


def test_long_section_comes_as_one_text_file(api, bot):
    before = len(api.sent(USER))
    api.send(USER, "Hur ska nattpatrullen kvittera ett trygghetslarm vid hembesök?")
    answer = wait_answer(api, USER, since=before)
    assert texts(answer)[0].split("\n")[2].startswith(f"[1] {NIGHT_TITLE}")
    _, toast = press_and_wait(api, USER, answer[-1], "Visa hela avsnittet")
    assert toast.ok
    [document] = api.wait(lambda calls: [c for c in calls if c.method == "sendDocument"])
    assert NIGHT_TITLE in document.result["caption"]
    content = api.files[document.result["document"]["file_id"]][1].decode()
    assert content.startswith(f"{NIGHT_TITLE} (2023-09-01)")
    assert "Larmrutin del 1:" in content and "Larmrutin del 12:" in content
    assert '<script>alert("x")</script>' in content  # plain text: nothing escaped
    assert len(api.sent(USER)) == before + len(answer) + 1  # one file, not a flood
