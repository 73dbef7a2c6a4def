"""The web side of reviewers' marks: "Svarade på frågan" on a theme page, and /utfall."""

from __future__ import annotations

import re

from test_gaps_outcomes import CHUNKS, answered, refused, write_index
from test_web import app, client, reviewer, session_token, settings, store  # noqa: F401

from bot.privacy import redact


def _theme_with_a_refusal(store):  # noqa: F811
    theme = store.add_theme("Lex Sarah")
    qid = store.record_question("web", "u1", "vem tar emot rapporten?", refused(0.17))
    done = store.record_question("web", "u1", "när anmäls det?", answered(0.9))
    store.record_feedback(done, False)
    store.assign_theme([qid, done], theme)
    return theme, qid, done


def test_a_reviewer_marks_a_nearest_passage_and_sees_it_marked(reviewer, store, settings):  # noqa: F811
    write_index(settings.paths.index)
    theme, qid, done = _theme_with_a_refusal(store)
    page = reviewer.get(f"/themes/{theme}").text
    # The refused question's two passages have the button; the answered one's have none.
    assert page.count("Svarade på frågan</button>") == 2
    assert f'action="/questions/{done}/answered"' not in page
    token = session_token(reviewer)
    url = f"/questions/{qid}/answered"
    assert reviewer.post(url, data={"passage": "2", "theme_id": theme}).status_code == 403
    response = reviewer.post(url, data={"csrf": token, "passage": "2", "theme_id": theme})
    assert response.status_code == 303 and response.headers["location"] == f"/themes/{theme}"
    row = store.question(qid)
    assert (row.marked_passage, row.marked_by) == (2, "anna")
    assert row.marked_quote == redact(CHUNKS[1])  # the passage's text, from its own index
    page = reviewer.get(f"/themes/{theme}").text
    assert "Svarade på frågan: avsnitt 2" in page and "✓ Svarade på frågan" in page
    assert page.count("Svarade på frågan</button>") == 1  # the other passage can still be chosen
    undo = reviewer.post(url, data={"csrf": token, "angra": "1", "theme_id": theme})
    assert undo.status_code == 303 and store.question(qid).marked_passage is None


def test_marking_refuses_answered_questions_and_passages_it_does_not_have(reviewer, store):  # noqa: F811
    _, qid, done = _theme_with_a_refusal(store)
    token = session_token(reviewer)
    for url, passage, status in (
        (f"/questions/{done}/answered", "1", 400),
        (f"/questions/{qid}/answered", "3", 400),
        (f"/questions/{qid}/answered", "0", 400),
        ("/questions/finnsinte/answered", "1", 404),
    ):
        assert reviewer.post(url, data={"csrf": token, "passage": passage}).status_code == status
    assert store.question(qid).marked_passage is None
    assert store.question(done).marked_passage is None


def test_outcome_page_shows_bands_and_says_too_few_examples(reviewer, store):  # noqa: F811
    _, qid, _ = _theme_with_a_refusal(store)
    store.mark_answered(qid, 1)
    assert 'href="/utfall"' in reviewer.get("/").text
    page = reviewer.get("/utfall")
    assert page.status_code == 200
    rows = re.findall(
        r"<tr>\s*<td[^>]*>([\d.]+)–([\d.]+)</td>((?:\s*<td[^>]*>\d+</td>)+)", page.text
    )
    assert len(rows) == 10
    counts = {low: [int(n) for n in re.findall(r">(\d+)<", cells)] for low, _, cells in rows}
    assert counts["0.1"] == [0, 0, 1, 0, 1]  # refused at 0.17, marked answered: one example
    assert counts["0.9"] == [0, 1, 0, 0, 1]  # answered at 0.9 with 👎: too bold
    assert "För få exempel: 2 märkta frågor" in page.text and "0.45" in page.text


def test_outcome_page_implies_a_threshold_from_enough_examples(reviewer, store):  # noqa: F811
    for n in range(30):
        qid = store.record_question("web", "u1", f"fråga {n}", refused(0.3))
        store.mark_answered(qid, 1)
    page = reviewer.get("/utfall").text
    # Never below the lowest labelled example: 0.30, not 0.00.
    assert "pekar på tröskeln <strong>0.30</strong>: boten är troligen för försiktig" in page
