"""Who/when questions prefer the passage stating the person or time; calibration can take the
passages that answer a question out of the ranking (hard negatives)."""

from __future__ import annotations

import pytest
from conftest import make_settings

from bot.answer.core import FACT_BONUS, Answerer, prefer_stated_facts
from bot.models import Chunk, Hit
from bot.search.indexer import build_index


def _hit(cid: int, text: str, score: float) -> Hit:
    chunk = Chunk(cid, "r.md", "Rutin", None, (), 0, None, cid, text, ((0, len(text)),), "x")
    return Hit(chunk, score)


TOPIC = _hit(0, "Anmälaren ska få återkoppling om utredningen.", 2.0)
DEADLINE = _hit(1, "Anmälan ska göras till IVO inom två veckor.", 2.0 - FACT_BONUS / 2)


def test_a_when_question_prefers_the_passage_stating_a_time():
    ranked = prefer_stated_facts((TOPIC, DEADLINE), "när ska anmälan till IVO göras?")
    assert [h.chunk.id for h in ranked] == [1, 0]


def test_a_question_asking_for_no_fact_keeps_the_fused_order():
    ranked = prefer_stated_facts((TOPIC, DEADLINE), "anmälan till IVO")
    assert [h.chunk.id for h in ranked] == [0, 1]


def test_the_bonus_only_breaks_near_ties():
    far = _hit(1, "Anmälan ska göras till IVO inom två veckor.", 2.0 - 2 * FACT_BONUS)
    assert prefer_stated_facts((TOPIC, far), "när ska anmälan göras?")[0] is TOPIC


@pytest.fixture
def small(small_corpus, encoder):
    settings = make_settings(small_corpus.parent, encoder={"num_threads": 2})
    build_index(settings, encoder)
    return Answerer(settings, encoder)


def test_excluded_chunks_are_neither_cited_nor_scored(small):
    question = "inom hur lång tid ska allvarliga missförhållanden anmälas till IVO?"
    found = small.search(question, 3)
    assert "inom två veckor" in found.citations[0].text
    holding = frozenset(c.id for c in small.retriever().chunks if "inom två veckor" in c.text)

    again = small.search(question, 3, exclude=holding)

    assert all("inom två veckor" not in c.text for c in again.citations)
    assert all(h.chunk.id not in holding for h in again.ranking.hits)
    assert again.features["dense_top"] < found.features["dense_top"]
    assert small.calibration.probability(again.features) < small.calibration.probability(
        found.features
    )
