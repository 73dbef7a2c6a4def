"""Gap themes with the real encoder: similar questions share a theme, ids stay, CSV is safe."""

from __future__ import annotations

import csv
import io
import json

import pytest
import test_gaps_store as store_tests

from bot.gaps.report import nearest_passages, questions_csv, render, safe_cell, summaries
from bot.gaps.store import GapsError
from bot.gaps.themes import EXAMPLE_SEP, assign_themes, merge_themes, move_question

LEX_SARAH = ["hur rapporterar jag lex sarah", "vem ska lex sarah rapport skickas till"]
FARDTJANST = "färdtjänst ansökan"
UNANSWERED = store_tests.UNANSWERED

# The store tests' fixtures, so every test here runs on SQLite and on PostgreSQL alike.
pg_database = store_tests.pg_database
db_url = store_tests.db_url
recorder = store_tests.recorder


def ask(recorder, *questions: str) -> list[str]:
    return [recorder.record_question("web", "1", q, UNANSWERED) for q in questions]


def theme_of(recorder, record_id: str) -> int | None:
    return recorder.question(record_id).theme_id


def test_similar_questions_share_a_theme_and_an_unrelated_one_gets_its_own(recorder, encoder):
    sarah1, sarah2, fard = ask(recorder, *LEX_SARAH, FARDTJANST)
    assert assign_themes(recorder, encoder) == 3
    assert theme_of(recorder, sarah1) == theme_of(recorder, sarah2) != theme_of(recorder, fard)
    themes = {t.id: t for t in recorder.themes()}
    assert len(themes) == 2
    name = themes[theme_of(recorder, sarah1)].name
    label, example = name.split(EXAMPLE_SEP)
    assert "lex sarah" in label and label not in LEX_SARAH and example in LEX_SARAH
    assert assign_themes(recorder, encoder) == 0  # nothing left unthemed


def test_close_embeddings_without_a_shared_word_stay_apart(recorder, encoder):
    # Short keyword questions embed close together whatever they are about (these two: ~0.86).
    fard, hemtjanst, fard2 = ask(
        recorder, "färdtjänst ansökan regler", "hemtjänst avgift taxa", "färdtjänst regler barn"
    )
    assert assign_themes(recorder, encoder) == 3
    assert theme_of(recorder, fard) != theme_of(recorder, hemtjanst)
    assert theme_of(recorder, fard2) == theme_of(recorder, fard)


def test_theme_ids_stay_stable_as_more_questions_arrive(recorder, encoder):
    sarah1, fard = ask(recorder, LEX_SARAH[0], FARDTJANST)
    assign_themes(recorder, encoder)
    before = {sarah1: theme_of(recorder, sarah1), fard: theme_of(recorder, fard)}
    sarah2, fard2, other = ask(
        recorder, LEX_SARAH[1], "hur ansöker man om färdtjänst", "semesterersättning timanställd"
    )
    assert assign_themes(recorder, encoder) == 3
    assert {q: theme_of(recorder, q) for q in before} == before
    assert theme_of(recorder, sarah2) == before[sarah1]
    assert theme_of(recorder, fard2) == before[fard]
    assert theme_of(recorder, other) not in before.values()


def test_resolved_themes_take_no_new_questions(recorder, encoder):
    [first] = ask(recorder, LEX_SARAH[0])
    assign_themes(recorder, encoder)
    recorder.set_theme_status(theme_of(recorder, first), "resolved", note="ny rutin", by="anna")
    [again] = ask(recorder, LEX_SARAH[1])
    assign_themes(recorder, encoder)
    assert theme_of(recorder, again) not in (None, theme_of(recorder, first))


def test_merge_and_move_keep_questions_and_rename(recorder, encoder):
    sarah, fard = ask(recorder, LEX_SARAH[0], FARDTJANST)
    assign_themes(recorder, encoder)
    keep, gone = theme_of(recorder, sarah), theme_of(recorder, fard)
    move_question(recorder, fard, keep, encoder)
    assert theme_of(recorder, fard) == keep
    move_question(recorder, fard, gone, encoder)
    assert merge_themes(recorder, gone, keep, encoder) == 1
    assert [t.id for t in recorder.themes()] == [keep]
    assert {theme_of(recorder, q) for q in (sarah, fard)} == {keep}
    with pytest.raises(GapsError, match="no theme"):
        merge_themes(recorder, gone, keep, encoder)
    with pytest.raises(GapsError, match="no question"):
        move_question(recorder, "missing", keep, encoder)


# One wrapper around personal data, as staff type it, around five unrelated topics; then the
# first topic again in other wrappers. The redacted questions share every wrapper word.
WRAPPED = [
    "har en klient, Anna Berg 19800101-1234, som undrar hur man söker färdtjänst",
    "har en klient, Olle Ek 19501212-1234, som undrar hur man söker god man",
    "har en klient, Sara Lind 19700303-1234, som undrar hur man söker bostadsanpassning",
    "har en klient, Per Holm 19601111-1234, som undrar hur man söker id-kort",
    "har en klient, Eva Sjö 19900505-1234, som undrar hur man söker skuldsanering",
]
FARDTJANST_AGAIN = [
    "ringde en anhörig (070-123 45 67) angående Olle som vill veta hur man får färdtjänst",
]


def test_wrapper_words_and_placeholders_do_not_join_unrelated_questions(recorder, encoder):
    ids = ask(recorder, *WRAPPED)
    assert assign_themes(recorder, encoder) == len(WRAPPED)
    assert len({theme_of(recorder, q) for q in ids}) == len(WRAPPED)
    names = [t.name.split(EXAMPLE_SEP)[0] for t in recorder.themes()]  # the labels
    assert not any("klient" in n or "undrar" in n or "[" in n for n in names), names


def test_same_topic_in_other_wrappers_joins_its_theme(recorder, encoder):
    ids = ask(recorder, *WRAPPED)
    assign_themes(recorder, encoder)
    before = {q: theme_of(recorder, q) for q in ids}
    again = ask(recorder, *FARDTJANST_AGAIN)
    assert assign_themes(recorder, encoder) == len(again)
    assert {q: theme_of(recorder, q) for q in ids} == before  # ids and members stay
    assert {theme_of(recorder, q) for q in again} == {before[ids[0]]}
    [theme] = [t for t in recorder.themes() if t.id == before[ids[0]]]
    assert "färdtjänst" in theme.name and theme.questions == 2


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('=HYPERLINK("http://x","klick")', '\'=HYPERLINK("http://x","klick")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("lex sarah", "lex sarah"),
        (3, 3),
    ],
)
def test_safe_cell_neutralises_spreadsheet_formulas(value, shown):
    assert safe_cell(value) == shown


def test_csv_export_neutralises_formulas_in_questions(recorder, encoder):
    ask(recorder, '=HYPERLINK("http://evil.example","klicka här")')
    assign_themes(recorder, encoder)
    rows = list(csv.DictReader(io.StringIO(render(summaries(recorder), "csv"))))
    assert len(rows) == 1
    assert not rows[0]["name"].startswith(("=", "'="))  # a label of its words, not the formula
    assert rows[0]["examples"].startswith("'=HYPERLINK(")


def test_every_format_shows_each_theme(recorder, encoder):
    ask(recorder, *LEX_SARAH, FARDTJANST)
    assign_themes(recorder, encoder)
    rows = summaries(recorder)
    data = json.loads(render(rows, "json"))
    assert sorted(d["count"] for d in data) == [1, 2]
    assert set(data[0]) >= {"id", "name", "count", "first_seen", "last_seen", "examples"}
    markdown = render(rows, "markdown").splitlines()
    assert markdown[0].startswith("| id |") and len(markdown) == 4
    assert FARDTJANST in render(rows, "table")
    with pytest.raises(ValueError, match="table, csv, json, markdown"):
        render(rows, "xml")


def _gap(record_id: str, *citations: tuple[str, str | None, float], question: str = "q"):
    from datetime import UTC, datetime

    from bot.gaps.store import Gap

    cited = tuple(
        {"document": d, "section": s, "page": None, "chunk_id": i, "score": score}
        for i, (d, s, score) in enumerate(citations)
    )
    return Gap(
        record_id, datetime(2026, 11, 2, tzinfo=UTC), question, "unanswered", "web", 0.1, 1, cited
    )


def test_nearest_passages_rank_by_how_many_questions_cite_them_then_score():
    gaps = [
        _gap("a", ("rutin.md", "Anmälan", 0.7), ("rutin.md", "Anmälan", 0.9), ("b.md", None, 0.8)),
        _gap("b", ("rutin.md", "Anmälan", 0.6), ("c.md", "Ett", 0.95)),
        _gap("c", ("c.md", "Två", 0.5)),
    ]
    passages = nearest_passages(gaps, limit=3)
    assert [(p.document, p.section, p.count) for p in passages] == [
        ("rutin.md", "Anmälan", 2),  # cited for two questions (twice for "a": counted once)
        ("c.md", "Ett", 1),
        ("b.md", None, 1),
    ]
    assert passages[0].score == 0.9 and passages[0].label() == "rutin.md › Anmälan"
    assert nearest_passages([]) == []


def test_questions_csv_is_formula_safe_with_one_row_a_question():
    gaps = [_gap("a", question="-1+1"), _gap("b", question="vanlig fråga")]
    rows = list(csv.DictReader(io.StringIO(questions_csv(gaps))))
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["question"] == "'-1+1" and rows[1]["question"] == "vanlig fråga"
    assert rows[0]["time"] == "2026-11-02 00:00" and rows[0]["theme"] == "1"


def test_theme_names_carry_no_personal_data_whatever_the_questions_held(recorder, encoder):
    """A theme is named after its questions; what a person typed in them never shows."""
    [record_id] = ask(recorder, "ring mamman Svensson på 070.123.45.67 om färdtjänst")
    assign_themes(recorder, encoder)
    theme = recorder.theme(theme_of(recorder, record_id))
    for typed in ("Svensson", "svensson", "070", "45"):
        assert typed not in theme.name
    label, example = theme.name.split(EXAMPLE_SEP)
    assert "färdtjänst" in label and "[" not in label  # a label, without placeholders
    assert example.startswith("ring mamman [NAMN] på [TELEFON] om färdtjänst")
    moved = recorder.add_theme("Anna Svensson 850312-1234")
    assert "[NAMN]" in recorder.theme(moved).name
    move_question(recorder, record_id, moved, encoder, by="Berit 08-123 456 78")
    assert [e.by for e in recorder.theme_events(moved)] == ["Berit [TELEFON]"]
