"""BM25 terms for Swedish questions: stems, folding, compounds, typos and uneven inflections."""

from __future__ import annotations

import pytest

from bot.search.lexical import LexicalIndex, _distance

TEXTS = [
    "Anhörigombud utses av enhetschefen. Ett anhörigombud stödjer anhöriga i vardagen.",
    "Anhöriga erbjuds samtal. Ombud finns på varje enhet, och ett ombud till.",
    "Underlaget lämnas till sakkunnig senast en vecka före sammanträdet.",
    "Division Social omsorg ska vara försäkrad genom kommunens avtal. Lokalerna är försäkrade.",
    "Samverkan kräver förankring hos ledningen och tydliga rutiner för förankring.",
    "Avgiften betalt i förskott gäller hela perioden.",
    "Trygghet skapas genom ett tryggt boende. Boende erbjuds efter utredning.",
    "Trygghet och boende är två olika insatser.",
]


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex.build(TEXTS)


def ranked_first(index: LexicalIndex, question: str) -> int:
    known, _ = index.resolve(question)
    return int(index.scores_for(known).argmax())


def test_a_question_typed_without_aao_meets_the_text_with_them(index):
    assert ranked_first(index, "vem utser anhorigombud") == 0


def test_a_compound_is_found_from_its_parts_and_the_parts_from_the_compound(index):
    assert "ombud" in index.tokenizer.tokens("anhörigombud")
    _, missing = index.resolve("ombud för anhöriga")
    assert missing == []
    assert ranked_first(index, "anhörigombudens uppgifter") == 0


def test_a_typo_one_edit_away_is_corrected(index):
    known, missing = index.resolve("när ska underlaget till sakunnig")
    assert "sakkunn" in known or "sakkunnig" in known
    assert missing == []
    assert ranked_first(index, "underlag till sakunnig") == 2


def test_a_word_two_edits_away_is_not_taken_for_another(index):
    # "forsakring" and "forankring" share a one-deletion variant ("forakring") but are two
    # edits apart: försäkring must not be searched as förankring.
    assert index.correct("forsakring") == []
    known, _ = index.resolve("Vem står för försäkring av lokalerna?")
    assert not any(t.startswith("forank") for t in known)
    assert ranked_first(index, "Vem står för försäkring av lokalerna?") == 3


def test_an_unevenly_stemmed_inflection_meets_the_indexed_form(index):
    # Snowball stems "försäkrad" to "forsakr" but leaves "försäkring" whole.
    assert index.prefixed(index.tokenizer.tokens("försäkring")[0]) == ["forsakr"]
    # The other way round: an indexed term that only adds an ending to the question's word.
    assert index.prefixed("betal") == ["betalt"]
    assert index.prefixed("bet") == []  # too short to say anything


def test_words_found_nowhere_are_reported_missing(index):
    known, missing = index.resolve("färdtjänst ombud")
    assert missing == ["fardtjanst"]
    assert "ombud" in known


def test_a_compound_the_corpus_lacks_counts_as_missing_though_its_parts_are_searched(index):
    known, missing = index.resolve("trygghetsboende")
    assert missing == ["trygghetsboend"]
    assert {"trygg", "boend"} <= set(known)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("sakunnig", "sakkunnig", 1), ("uppdarg", "uppdrag", 1), ("forsakring", "forankring", 2)],
)
def test_edit_distance_counts_an_adjacent_swap_as_one_edit(a, b, expected):
    assert _distance(a, b) == expected
