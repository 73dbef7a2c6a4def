"""The core every front end calls: answer(question) -> Answer with ranked, cited passages."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import SAMPLE, make_settings

from bot.answer.core import Answerer
from bot.errors import IndexMissingError, QuestionError
from bot.search.indexer import build_index

SAMPLE_DOCUMENTS = {p.name for p in SAMPLE.glob("*.txt")}
# Broad questions about the sample corpus, phrased as staff would; none is an eval question.
QUESTIONS = [
    "Hur följer socialnämnden upp arbetet med anhörigstöd?",
    "Vad gör kommunen för barn och unga i riskzonen?",
]
MEDICINE = (
    "Läkemedelsförråd\n\nNyckeln till läkemedelsskåpet förvaras i det låsta kassaskåpet på "
    "expeditionen och kvitteras ut av den sjuksköterska som har passet.\n"
)


@pytest.fixture(scope="module", params=QUESTIONS)
def answered(request, answerer):
    return answerer.answer(request.param)


def test_answer_cites_at_least_five_passages_with_their_source(answered, answerer):
    assert len(answered.citations) >= 5
    chunk_count = len(answerer.retriever().chunks)
    for c in answered.citations:
        assert c.document in SAMPLE_DOCUMENTS
        assert isinstance(c.title, str) and c.title.strip()
        assert c.section is None or (isinstance(c.section, str) and c.section.strip())
        assert c.date is None or re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", c.date)
        assert 0 < len(c.text) <= 1000
        assert isinstance(c.score, float)
        assert 0 <= c.chunk_id < chunk_count
        assert isinstance(c.section_id, int)
        assert c.page is None or c.page >= 1
    assert any(c.section for c in answered.citations)  # the protocols have § headings
    assert answered.index_id == answerer.retriever().folder.name


def test_highlight_marks_a_sentence_inside_the_citation(answered, answerer):
    for c in answered.citations:
        assert c.highlight is not None
        start, end = c.highlight
        assert 0 <= start < end <= len(c.text)
        sentence = c.text[start:end]
        chunk = answerer.retriever().chunks[c.chunk_id]
        assert sentence in chunk.text
        assert sentence == sentence.strip()


def test_citation_text_is_an_excerpt_of_its_section(answered, answerer):
    """Excerpts may cross chunk borders, never section borders, and stay readable in size."""
    retriever = answerer.retriever()
    for c in answered.citations:
        chunk = retriever.chunks[c.chunk_id]
        section = " ".join(retriever.section_text(c.chunk_id).sentences)
        assert c.text in section
        assert len(c.text) <= 1000
        assert (c.document, c.title, c.section_id) == (
            chunk.document,
            chunk.title,
            chunk.section_id,
        )


def test_citations_are_ordered_by_score(answered):
    scores = [c.score for c in answered.citations]

    assert scores == sorted(scores, reverse=True)


def test_no_passage_is_cited_twice(answered, answerer):
    chunks = answerer.retriever().chunks
    groups = [
        chunks[c.chunk_id].dup_of if chunks[c.chunk_id].dup_of is not None else c.chunk_id
        for c in answered.citations
    ]

    assert len(set(groups)) == len(groups)  # no chunk and no repeat of one already cited
    assert len({c.text for c in answered.citations}) == len(answered.citations)


@pytest.mark.parametrize("question", QUESTIONS)
def test_offset_pages_to_further_distinct_passages(answerer, question):
    """ "Fler källor": the next page continues the ranking where the first stopped."""
    first = answerer.answer(question)
    more = answerer.answer(question, offset=len(first.citations))
    both = answerer.answer(question, limit=len(first.citations) * 2)

    assert len(more.citations) == len(first.citations)
    first_ids = [c.chunk_id for c in first.citations]
    more_ids = [c.chunk_id for c in more.citations]
    assert not set(first_ids) & set(more_ids)
    assert first_ids + more_ids == [c.chunk_id for c in both.citations]
    assert max(c.score for c in more.citations) <= min(c.score for c in first.citations)


def test_limit_sets_the_number_of_citations(answerer):
    assert len(answerer.answer(QUESTIONS[0], limit=2).citations) == 2
    assert len(answerer.answer(QUESTIONS[0], limit=8).citations) == 8


def test_section_returns_the_whole_section_of_a_citation(answered, answerer):
    for c in answered.citations:
        section = answerer.section(c.chunk_id, answered.index_id)

        assert c.chunk_id in [s.id for s in section]
        assert {(s.document, s.section_id) for s in section} == {(c.document, c.section_id)}
        assert [s.position for s in section] == sorted(s.position for s in section)
        whole = " ".join(s.text for s in section)
        marked = c.text[c.highlight[0] : c.highlight[1]]
        assert marked in whole


def test_section_holds_every_chunk_of_that_section(answerer):
    chunks = answerer.retriever().chunks
    long_section = max(
        {(c.document, c.section_id) for c in chunks},
        key=lambda key: sum((c.document, c.section_id) == key for c in chunks),
    )
    members = [c for c in chunks if (c.document, c.section_id) == long_section]
    assert len(members) > 1

    assert answerer.section(members[-1].id) == members


def test_section_refuses_a_stale_index_id(answered, answerer):
    with pytest.raises(IndexMissingError) as err:
        answerer.section(answered.citations[0].chunk_id, "index-20200101T000000000000-1")

    assert "indexerats om" in err.value.sv


@pytest.mark.parametrize("chunk_id", [-1, 10**6])
def test_section_refuses_an_unknown_chunk(answerer, chunk_id):
    with pytest.raises(IndexMissingError):
        answerer.section(chunk_id)


@pytest.mark.parametrize(
    ("question", "english"),
    [
        ("", "empty"),
        ("   \n\t  ", "empty"),
        ("Hur rapporterar jag en avvikelse? " * 303, "characters long; the limit is 1000"),
        ("?!? …", "no words"),
        (None, "must be text"),
        (b"Vad \xc3\xa4r lex Sarah?", "must be text"),
        (42, "must be text"),
    ],
)
def test_question_that_cannot_be_asked_gets_a_swedish_message(answerer, question, english):
    with pytest.raises(QuestionError) as err:
        answerer.answer(question)

    assert english in str(err.value)
    assert "fråg" in err.value.sv.lower()  # written for staff, in Swedish
    assert err.value.sv != str(err.value)


def test_too_long_question_message_says_how_long_it_may_be(answerer):
    with pytest.raises(QuestionError) as err:
        answerer.answer("a" * 10_000)

    assert "10000 tecken" in err.value.sv and "1000" in err.value.sv.replace("10000", "")


def test_question_whitespace_is_tidied(answerer):
    answer = answerer.answer("  Hur följer socialnämnden\n upp   anhörigstödet? ")

    assert answer.question == "Hur följer socialnämnden upp anhörigstödet?"


@pytest.fixture
def small_answerer(small_corpus, encoder):
    """The small corpus with one more routine, indexed from scratch."""
    (small_corpus / "lakemedel.txt").write_text(MEDICINE, encoding="utf-8")
    settings = make_settings(small_corpus.parent, encoder={"num_threads": 2})
    build_index(settings, encoder)
    return Answerer(settings, encoder)


@pytest.mark.parametrize(
    ("question", "document", "sentence"),
    [
        (
            "Var förvaras nyckeln till läkemedelsskåpet?",
            "lakemedel.txt",
            "Nyckeln till läkemedelsskåpet förvaras i det låsta kassaskåpet",
        ),
        (
            "Inom hur lång tid ska ett allvarligt missförhållande anmälas till IVO?",
            "rutin-lex-sarah.md",
            "anmälas till Inspektionen för vård och omsorg (IVO) inom två veckor",
        ),
        (
            "Vem ska en medarbetare rapportera missförhållanden till?",
            "rutin-lex-sarah.md",
            "genast rapportera missförhållanden",
        ),
    ],
)
def test_distinctive_answer_is_cited_first_and_highlighted(
    small_answerer, question, document, sentence
):
    answer = small_answerer.answer(question)

    top = answer.citations[0]
    assert top.document == document
    start, end = top.highlight
    assert sentence in top.text[start:end]


def test_answered_question_is_more_confident_than_one_about_something_absent(small_answerer):
    present = small_answerer.answer("Var förvaras nyckeln till läkemedelsskåpet?")
    absent = small_answerer.answer("Hur bokar jag tvättstugan i Kiruna?")

    assert present.confidence > absent.confidence


@pytest.mark.parametrize(
    "question",
    ["Hur bokar jag tvättstugan i Kiruna?", "Vilken färg har bussarna i Luleå på vintern?"],
)
def test_question_about_something_absent_is_not_answered(small_answerer, question):
    answer = small_answerer.answer(question)

    assert answer.answered is False
    assert 0.0 <= answer.confidence < small_answerer.settings.answer.min_confidence
    assert answer.citations  # the nearest passages are still shown, to read critically


def test_standout_is_the_best_score_above_the_background():
    from bot.answer.confidence import standout

    flat = np.full(30, 0.8)
    peaked = flat.copy()
    peaked[7] = 0.9

    assert standout(flat) == pytest.approx(0.0)
    assert standout(peaked) == pytest.approx(0.1)
    assert standout(np.array([0.9, 0.7])) == pytest.approx(0.2)  # short: against the rest
    assert standout(np.array([0.9])) == 0.0


def test_the_ranking_carries_every_sentences_cosine_for_the_sentence_features(answerer):
    from bot.answer.confidence import standout
    from bot.search.indexer import sentence_texts

    question = "Vem utser anhörigombud?"
    found = answerer.search(answerer.check_question(question), 5)
    retriever, ranking = found.retriever, found.ranking
    query = answerer.encoder.queries([question])[0]
    top = found.hits[0].chunk

    assert len(ranking.sentences) == sum(len(c.sentences) for c in retriever.chunks)
    top_sentences = [
        float(ranking.sentences[retriever.sentence_row(top.id, i)])
        for i in range(len(top.sentences))
    ]
    direct = answerer.encoder.passages(sentence_texts(top)) @ query
    assert top_sentences == pytest.approx(direct.tolist(), abs=1e-5)
    assert found.features["sentence_standout"] == standout(ranking.sentences)
    assert any(found.features["sentence_cosine"] == c for c in top_sentences)  # the marked one
