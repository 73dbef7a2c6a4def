"""Confidence features that mean the same on any corpus: reference word weights, and what a
question asks for against what the marked sentences state."""

from __future__ import annotations

import pytest

from bot.answer.asks import asked, holds, unmet
from bot.answer.terms import question_terms, word_weight, zipf_table


def test_reference_table_is_shipped_and_ranks_rare_words_above_common_ones():
    table = zipf_table()
    assert len(table) >= 100_000
    assert word_weight("rapportera") > word_weight("och")
    assert word_weight("avhopparsamordnare") > word_weight("rapportera")  # not in the table


def test_words_typed_without_aao_weigh_as_their_spelled_form():
    assert word_weight("maste") == pytest.approx(word_weight("måste"))
    assert word_weight("nar") < word_weight("avhopparsamordnare")


def test_share_held_weighs_words_by_general_rarity_not_by_count():
    terms = question_terms([("vem", ("vem",)), ("rapportera", ("rapporter",)), ("lex", ("lex",))])
    rare_only = terms.share_held({"lex"})
    common_only = terms.share_held({"vem"})
    assert 0 < common_only < rare_only < 1
    assert terms.share_held({"vem", "rapporter", "lex"}) == pytest.approx(1.0)
    assert question_terms([]).share_held({"x"}) == 0.0


def test_a_word_found_nowhere_is_never_held():
    terms = question_terms([("arvode", ()), ("anhörigombud", ("anhorigombud",))])
    assert terms.share_held({"anhorigombud", "arvod"}) < 1.0


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("vem ska jag rapportera lex sarah till?", "person"),
        ("Vems medgivande behövs för en SIP?", "person"),
        ("hur snabbt måste jag journalföra ett samtal", "time"),
        ("inom hur lång tid ska sip mötet hållas", "time"),
        ("nar ska chefen ordna debriefing", "time"),
        ("hur många timmar är utbildningen", "number"),
        ("vad kostar växelvård per dygn?", "cost"),
        ("Får ombudet något arvode?", "cost"),
        ("Vilket telefonnummer ska förskolan ringa?", "phone"),
        ("vad heter it-tjänsten för kallelser", "name"),
    ],
)
def test_what_a_question_asks_for(question, kind):
    assert kind in asked(question)


def test_how_questions_ask_for_no_particular_fact():
    assert asked("Hur gör man om något i akten är fel?") == frozenset()
    assert asked("steg i avhopparprocessen") == frozenset()


def test_a_deadline_question_is_unmet_by_a_sentence_without_a_time():
    question = "hur lång tid har vi på oss att bli klara med utredningen?"
    assert unmet(question, ["Utredningen leds av en socialsekreterare."]) == 1.0
    assert unmet(question, ["Utredningen ska vara klar inom fyra månader."]) == 0.0


def test_a_phone_question_needs_a_number_in_the_evidence():
    question = "Vilket telefonnummer når mottagningsgruppen?"
    assert unmet(question, ["Mottagningsgruppen nås via kommunens växel."]) == 1.0
    assert unmet(question, ["Ring mottagningsgruppen på 0612-45 67 80."]) == 0.0


def test_a_name_the_question_already_gives_is_not_an_answer():
    question = "vad heter polisens kontaktperson för avhoppare i Älvdala"
    assert not holds("name", "Samverkan sker med lokalpolisområde Älvdala.", question)
    assert not holds("name", "Planen görs med Region Älvmark.", question)  # a body, not a name
    assert holds("name", "Kallelsen skickas i journalsystemet Treserva.", question)
    assert holds("name", "Kontaktperson är kommissarie Berit Holm.", question)


def test_a_fact_in_any_of_the_cited_sentences_meets_the_question():
    question = "vem ska jag rapportera till?"
    assert (
        unmet(question, ["Rapporten skrivs på blanketten.", "Lämna den till enhetschefen."]) == 0.0
    )
