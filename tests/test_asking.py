"""The ask service: redacted answers, records, paging, sections and feedback for the asker alone."""

from __future__ import annotations

import io

import pytest
from conftest import make_settings, write_small_corpus
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from bot.adapters.chat import run_chat
from bot.answer.core import Answerer
from bot.asking import AskService, UnknownAnswerError, as_shown, brief
from bot.errors import QuestionError
from bot.gaps.grouping import ThemeJob
from bot.gaps.outbox import Outbox
from bot.gaps.store import SqlRecorder
from bot.gaps.tables import Feedback, Question
from bot.models import Citation
from bot.search.indexer import build_index

PERSONAL = "Kan Anna Svensson 19850312-1234 få anhörigombud?"
UNANSWERABLE = "hur mycket kostar en parkeringsplats vid rådhuset"


@pytest.fixture(scope="module")
def small_answerer(tmp_path_factory, encoder):
    """A real index of two short routines (seconds to build)."""
    base = tmp_path_factory.mktemp("asking")
    write_small_corpus(base / "knowledge")
    settings = make_settings(base, encoder={"num_threads": 1}, answer={"citations": 2})
    build_index(settings, encoder)
    return Answerer(settings, encoder)


@pytest.fixture
def recorder(tmp_path):
    with SqlRecorder(f"sqlite:///{tmp_path / 'gaps.db'}", key_file=tmp_path / "k") as recorder:
        yield recorder


@pytest.fixture
def service(small_answerer, recorder):
    outbox = Outbox(recorder)
    themes = ThemeJob(recorder, small_answerer.encoder)
    yield AskService(small_answerer, outbox, themes=themes)
    outbox.close()
    themes.close()


def test_the_redacted_question_is_answered_and_recorded(service, small_answerer, recorder):
    asked = service.ask(PERSONAL, channel="test", asker="7")
    assert "19850312" not in asked.question_redacted and "Svensson" not in asked.question_redacted
    assert "[PERSONNUMMER]" in asked.question_redacted
    # The answer is the redacted question's, the same `answer()` gives for that text.
    assert asked.answer == small_answerer.answer(asked.question_redacted)
    assert asked.ticket.written.result(timeout=10)
    row = recorder.question(asked.record_id)
    assert row.text == asked.question_redacted and row.channel == "test"
    assert row.asker == recorder.pseudonym("7") and row.asker != "7"


def test_not_recording_writes_nothing_but_still_pages(service, recorder):
    asked = service.ask("vad gör ett anhörigombud?", channel="test", asker="7", record=False)
    assert not asked.recorded and asked.ticket is None
    assert recorder.question(asked.record_id) is None
    service.more(asked.record_id, "7", asked.shown, channel="test")  # the asker's own answer pages


def test_a_question_that_cannot_be_asked_is_refused(service):
    with pytest.raises(QuestionError):
        service.ask("   ", channel="test", asker="7")


def test_paging_gives_the_next_citations_of_the_same_question(service, small_answerer):
    asked = service.ask("vem ska missförhållanden rapporteras till?", channel="t", asker="7")
    full = small_answerer.answer(asked.question_redacted, limit=4)
    page = service.more(asked.record_id, "7", 1, channel="t")
    assert [c.chunk_id for c in page.citations] == [c.chunk_id for c in full.citations[1:3]]
    section = service.section(asked.record_id, "7", 2, channel="t")  # the second citation's section
    assert full.citations[1].chunk_id in {c.id for c in section.chunks}
    assert section.heading.startswith(full.citations[1].title)


@pytest.mark.parametrize("action", ["more", "section", "feedback"])
def test_a_forged_or_foreign_record_id_is_refused_alike(service, action):
    asked = service.ask("vad gör ett anhörigombud?", channel="t", asker="owner")
    calls = {
        "more": lambda rid, who, ch: service.more(rid, who, 1, channel=ch),
        "section": lambda rid, who, ch: service.section(rid, who, 1, channel=ch),
        "feedback": lambda rid, who, ch: service.feedback(rid, who, False, channel=ch),
    }
    tries = (
        (asked.record_id, "intruder", "t"),
        ("0123456789ab", "owner", "t"),
        (asked.record_id, "owner", "web"),  # the same name on another channel: another person
    )
    for record_id, asker, channel in tries:
        with pytest.raises(UnknownAnswerError) as err:
            calls[action](record_id, asker, channel)
        assert err.value.sv == UnknownAnswerError.default_sv  # nothing tells them apart


def test_feedback_is_recorded_once_and_an_unhelpful_answer_is_grouped(service, recorder):
    asked = service.ask("vad gör ett anhörigombud?", channel="t", asker="7")
    ticket = service.feedback(asked.record_id, "7", False, channel="t")
    assert ticket.written.result(timeout=10)
    assert service.feedback(asked.record_id, "7", False, channel="t") is None  # a double tap
    assert service.themes.wait_idle()
    assert len(_rows(recorder, Feedback)) == 1
    assert recorder.question(asked.record_id).theme_id is not None


def test_an_unanswered_question_is_in_a_theme_without_any_command(service, recorder):
    asked = service.ask(UNANSWERABLE, channel="t", asker="7")
    assert not asked.answer.answered
    assert asked.ticket.written.result(timeout=10)
    assert service.themes.wait_idle()
    theme_id = recorder.question(asked.record_id).theme_id
    assert theme_id is not None and recorder.theme(theme_id).status == "open"


def test_a_new_process_still_knows_whose_recorded_answer_it_is(service, small_answerer):
    asked = service.ask("vad gör ett anhörigombud?", channel="t", asker="7")
    asked.ticket.written.result(timeout=10)
    restarted = AskService(small_answerer, service.outbox)  # nothing in memory
    restarted.more(asked.record_id, "7", 1, channel="t")
    for asker, channel in (("8", "t"), ("7", "web")):
        with pytest.raises(UnknownAnswerError):
            restarted.more(asked.record_id, asker, 1, channel=channel)


def test_the_terminal_chat_records_what_it_answers(service, recorder):
    out = io.StringIO()
    lines = iter([PERSONAL, "mer", "avsluta"])
    run_chat(service, read=lambda _: next(lines), out=out, asker="anna")
    service.outbox.close()
    [row] = _rows(recorder)
    assert (row.channel, row.asker) == ("terminal", recorder.pseudonym("anna"))
    assert row.text == service.prepare(PERSONAL)
    assert "19850312" not in out.getvalue() and "Fler källor" in out.getvalue()


def _rows(recorder, table=Question) -> list:
    with recorder._session() as session:
        return list(session.exec(select(table)))


def cit(text: str, highlight) -> Citation:
    return Citation("d.md", "T", None, None, None, text, highlight, 1.0, 0, 0)


@given(
    st.text(alphabet=st.sampled_from("ab cdé. \n"), max_size=1500),
    st.data(),
    st.sampled_from([80, 300, 600]),
    st.sampled_from([0.0, 1 / 3, 1.0]),
)
def test_brief_keeps_the_marked_sentence_within_the_limit(text, data, limit, before):
    highlight = None
    if text and data.draw(st.booleans()):
        start = data.draw(st.integers(0, len(text) - 1))
        highlight = (start, data.draw(st.integers(start + 1, len(text))))
    short = brief(cit(text, highlight), limit, before)
    assert len(short.text) <= limit + 4  # the two ellipses
    if highlight and short.highlight:
        s, e = short.highlight
        assert short.text[s:e] in text[highlight[0] : highlight[1]]
    if highlight and highlight[1] - highlight[0] <= limit and short.text.strip(" …"):
        assert short.highlight is not None or not text[highlight[0] : highlight[1]].strip()


def test_the_best_passage_leads_with_its_marked_sentence_and_the_others_are_short():
    sentences = [f"Mening nummer {i} om avgifter och taxor i hemtjänsten." for i in range(40)]
    text = " ".join(sentences)
    start = text.index(sentences[20])
    c = cit(text, (start, start + len(sentences[20])))
    lead, other = as_shown(c, 1), as_shown(c, 2)
    assert lead.text.startswith("… " + sentences[20]) and lead.highlight[0] == 2
    assert len(lead.text) <= 604 and len(other.text) <= 304
    assert sentences[20] in other.text and sentences[19] in other.text  # some context before
