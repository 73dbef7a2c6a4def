"""Reviewers mark refused questions answered; outcomes by confidence band; labelled export."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_gaps_cli import config  # noqa: F401  (a fixture)
from test_gaps_store import db_url, pg_database, raw_rows  # noqa: F401  (fixtures)

from bot.answer.calibration import read_questions
from bot.cli import cli
from bot.config import load
from bot.gaps.outcomes import MIN_EXAMPLES, implied_threshold, labelled_lines, outcomes
from bot.gaps.store import GapsError, SqlRecorder
from bot.models import Answer, Citation
from bot.privacy import redact

INDEX = "index-20261129T000000"
PASSAGES = (
    Citation("lex-sarah.md", "Rutin", "Rapportering", 1, None, "t", None, 0.61, 0, 1),
    Citation("lex-sarah.md", "Rutin", "Anmälan till IVO", 1, None, "t", None, 0.55, 1, 2),
)
CHUNKS = (
    "Medarbetare ska genast rapportera missförhållanden till sin närmaste chef.",
    "Allvarliga missförhållanden anmäls till IVO inom två veckor. Ring 08-123 456 78.",
)


def refused(confidence: float = 0.2) -> Answer:
    return Answer("x", False, confidence, PASSAGES, INDEX)


def answered(confidence: float = 0.8) -> Answer:
    return Answer("x", True, confidence, PASSAGES, INDEX)


def write_index(root: Path) -> None:
    """The one file an export reads from an index folder: chunks.jsonl, a chunk a line."""
    folder = root / INDEX
    folder.mkdir(parents=True)
    lines = (json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(CHUNKS))
    (folder / "chunks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def recorder(db_url, tmp_path):  # noqa: F811
    with SqlRecorder(db_url, key_file=tmp_path / "pseudonym.key") as recorder:
        yield recorder


def test_a_refused_question_is_marked_with_who_and_when_and_unmarked(recorder, db_url):  # noqa: F811
    qid = recorder.record_question("web", "u1", "vem tar emot rapporten?", refused())
    citation = recorder.mark_answered(
        qid, 2, by="anna 19850312-1234", quote="Anmäl till IVO, ring 08-123 456 78."
    )
    assert citation["section"] == "Anmälan till IVO"
    [(passage, by, at, quote)] = raw_rows(
        db_url,
        f"SELECT marked_passage, marked_by, marked_at, marked_quote FROM questions"
        f" WHERE id = '{qid}'",
    )
    assert passage == 2 and at is not None
    assert "19850312" not in by and by.startswith("anna")  # who, redacted at the store
    assert "08-123" not in quote and "IVO" in quote
    [gap] = recorder.gaps()
    assert gap.marked_passage == 2  # still a gap: the bot refused it
    assert recorder.unmark_answered(qid) is True
    assert raw_rows(db_url, f"SELECT marked_passage, marked_by FROM questions WHERE id = '{qid}'")[
        0
    ] == (None, None)
    assert recorder.unmark_answered(qid) is False


def test_only_a_refused_question_and_one_of_its_passages_can_be_marked(recorder):
    done = recorder.record_question("web", "u1", "fråga", answered())
    with pytest.raises(GapsError, match="only a refused question"):
        recorder.mark_answered(done, 1)
    qid = recorder.record_question("web", "u1", "fråga", refused())
    for wrong in (0, 3, -1):
        with pytest.raises(GapsError, match="from 1 to 2"):
            recorder.mark_answered(qid, wrong)
    bare = recorder.record_question("web", "u1", "fråga", Answer("x", False, 0.1, (), INDEX))
    with pytest.raises(GapsError, match="no nearest passages"):
        recorder.mark_answered(bare, 1)
    with pytest.raises(GapsError, match="no question"):
        recorder.mark_answered("finnsinte", 1)


def test_labelled_carries_feedback_and_marks(recorder):
    good = recorder.record_question("web", "u1", "a", answered(0.9))
    recorder.record_feedback(good, True)
    recorder.record_feedback(good, True)  # two 👍 are still one question
    bad = recorder.record_question("web", "u1", "b", answered(0.7))
    recorder.record_feedback(bad, False)
    marked = recorder.record_question("web", "u1", "c", refused(0.3))
    recorder.mark_answered(marked, 1, quote=CHUNKS[0])
    recorder.record_question("web", "u1", "d", refused(0.1))
    rows = {q.question: q for q in recorder.labelled()}
    assert len(rows) == 4
    assert rows["a"].helpful and not rows["a"].unhelpful
    assert rows["b"].unhelpful and not rows["b"].helpful
    assert rows["c"].marked_passage == 1 and rows["c"].marked_quote == CHUNKS[0]
    assert rows["d"].marked_passage is None and not rows["d"].answered


def _labelled(spec: list[tuple[float, str]]) -> list:
    """Questions by (confidence, outcome): ok, bad (👎), good (👍), marked, refused."""
    from bot.gaps.store import Labelled

    out = []
    for n, (conf, kind) in enumerate(spec):
        out.append(
            Labelled(
                record_id=f"q{n}",
                question=f"fråga {n}",
                confidence=conf,
                answered=kind in ("ok", "bad", "good"),
                helpful=kind == "good",
                unhelpful=kind == "bad",
                marked_passage=1 if kind == "marked" else None,
                marked_quote=CHUNKS[0] if kind == "marked" else None,
                index_id=INDEX,
                citations=({"chunk_id": 0}, {"chunk_id": 1}),
            )
        )
    return out


def test_bands_count_each_outcome_and_the_examples_behind_them():
    questions = _labelled(
        [
            (0.05, "refused"),
            (0.15, "marked"),
            (0.15, "refused"),
            (0.55, "ok"),
            (0.55, "bad"),
            (0.58, "good"),
            (1.0, "good"),
        ]
    )
    report = outcomes(questions, 0.45)
    b = report.bands
    assert len(b) == 10 and (b[0].low, b[-1].high) == (0.0, 1.0)
    assert (b[0].refused_unmarked, b[0].examples) == (1, 0)
    assert (b[1].refused_marked, b[1].refused_unmarked, b[1].examples) == (1, 1, 1)
    assert (b[5].answered_ok, b[5].answered_bad, b[5].examples) == (2, 1, 2)  # 👍 and 👎
    assert (b[9].answered_ok, b[9].examples) == (1, 1)  # confidence 1.0 is in the last band
    assert report.examples == 4 and report.implied is None  # under 30: no threshold
    assert "too few examples" in report.verdict()


def test_implied_threshold_is_the_lowest_keeping_thumbs_down_at_ten_percent():
    # 20 good answers at 0.8, 2 👎 at 0.5, 10 marked refusals at 0.3, 3 👎 at 0.2.
    spec = [(0.8, "good")] * 20 + [(0.5, "bad")] * 2 + [(0.3, "marked")] * 10
    spec += [(0.2, "bad")] * 3
    questions = _labelled(spec)
    # At 0.21..0.30: 2 bad of 32 (6%) -> fine; at 0.20 and below: 5 of 35 (14%) -> too bold.
    assert implied_threshold(questions) == 0.21
    report = outcomes(questions, 0.45)
    assert report.examples == 35 and report.enough and report.implied == 0.21
    assert "too cautious" in report.verdict()
    # No 👎 at all: not 0.00 (answer everything), but the lowest labelled example's 0.29.
    assert implied_threshold(_labelled([(0.29, "marked"), (0.7, "good")])) == 0.29
    only_bad = _labelled([(0.9, "bad")] * 30)
    assert outcomes(only_bad, 0.45).implied is None
    assert MIN_EXAMPLES == 30


def test_export_writes_what_calibrate_reads(tmp_path):
    write_index(tmp_path / "embeddings")
    questions = _labelled(
        [(0.3, "marked"), (0.8, "good"), (0.6, "bad"), (0.2, "refused"), (0.7, "ok")]
    )
    questions[1] = questions[1].__class__(
        **{**questions[1].__dict__, "citations": ({"chunk_id": 1}, {"chunk_id": 0})}
    )
    export = labelled_lines(questions, tmp_path / "embeddings")
    assert (export.answerable, export.unanswerable, export.skipped) == (2, 1, 0)
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(line + "\n" for line in export.lines), encoding="utf-8")
    read = read_questions(path)
    assert [(q.question, q.answerable) for q in read] == [
        ("fråga 0", True),
        ("fråga 1", True),
        ("fråga 2", False),
    ]
    assert read[0].quote == CHUNKS[0]  # the marked passage's stored text
    assert read[1].quote == CHUNKS[1]  # a 👍 answer: its first cited passage, from the index


def test_export_leaves_out_answers_whose_index_is_gone_and_never_leaves_the_root(tmp_path):
    questions = _labelled([(0.8, "good")])
    for index_id in (INDEX, "../" + INDEX, "/etc", ""):
        q = questions[0].__class__(**{**questions[0].__dict__, "index_id": index_id})
        export = labelled_lines([q], tmp_path / "embeddings")
        assert (export.lines, export.skipped) == ((), 1)


# -- CLI -------------------------------------------------------------------------------------------


def run(config: Path, *args: str):  # noqa: F811
    return CliRunner().invoke(cli, ["--config", str(config), "gaps", *args])


def test_cli_marks_shows_reports_and_exports(config, tmp_path):  # noqa: F811
    settings = load(config)
    write_index(settings.paths.index)
    with SqlRecorder(settings.database_url, key_file=settings.paths.data / "k") as recorder:
        qid = recorder.record_question("web", "1", "vem tar emot rapporten?", refused(0.17))
        done = recorder.record_question("web", "1", "när anmäls det?", answered(0.9))
        recorder.record_feedback(done, False)
        theme = recorder.add_theme("Lex Sarah")
        recorder.assign_theme([qid, done], theme)
    marked = run(config, "answered", qid, "2", "--by", "anna")
    assert marked.exit_code == 0, marked.output
    assert "passage 2: lex-sarah.md > Anmälan till IVO" in marked.output
    shown = run(config, "show", str(theme)).output
    assert "2. lex-sarah.md > Anmälan till IVO (score 0.55)  <- answered it (marked)" in shown
    assert "1. lex-sarah.md > Rapportering" in shown

    report = run(config, "outcomes")
    assert report.exit_code == 0, report.output
    assert "0.1-0.2         0        0       1        0        1" in report.output
    assert "0.9-1.0         0        1       0        0        1" in report.output
    assert "min_confidence: 0.45" in report.output and "too few examples" in report.output

    out = tmp_path / "labelled.jsonl"
    exported = run(config, "export-labelled", str(out))
    assert exported.exit_code == 0, exported.output
    assert "2 labelled questions" in exported.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    read = read_questions(out)
    # The marked passage's text as the store keeps it: redacted (a phone number in a routine).
    assert [(q.answerable, q.quote) for q in read] == [(True, redact(CHUNKS[1])), (False, None)]
    assert "08-123" not in out.read_text(encoding="utf-8")

    undone = run(config, "answered", qid, "--undo")
    assert undone.exit_code == 0 and "no longer marked" in undone.output
    assert "(marked)" not in run(config, "show", str(theme)).output
    again = run(config, "answered", qid, "--undo")
    assert again.exit_code != 0 and again.output.count("\n") == 1 and "not marked" in again.output


def test_cli_refuses_an_answered_question_and_a_passage_out_of_range(config):  # noqa: F811
    settings = load(config)
    with SqlRecorder(settings.database_url, key_file=settings.paths.data / "k") as recorder:
        qid = recorder.record_question("web", "1", "fråga", refused())
        done = recorder.record_question("web", "1", "fråga", answered())
    for args, message in (
        ((done, "1"), "only a refused question"),
        ((qid, "5"), "from 1 to 2"),
        (("finnsinte", "1"), "no question"),
        (("\x1b]0;x\x07\x1b[31mröd", "1"), "no question"),  # a typed id reaches no terminal raw
    ):
        result = run(config, "answered", *args)
        assert result.exit_code == 1, result.output
        assert message in result.output and result.output.startswith("Error:")
        assert "\x1b" not in result.output and "\x07" not in result.output
    assert run(config, "answered", qid).exit_code == 2  # neither a passage nor --undo


def test_marked_refusals_export_to_what_calibrate_counts_as_answered(
    small_corpus, encoder, tmp_path
):
    """End to end on a real index: a refused question marked by the CLI, exported, and read
    by calibration, whose label for it is "answerable and a gold passage among the first three"."""
    from bot.answer import calibration
    from bot.answer.core import Answerer
    from bot.search.indexer import build_index

    path = tmp_path / "config.toml"
    path.write_text(
        f"[paths]\nknowledge = '{small_corpus}'\nindex = '{tmp_path / 'embeddings'}'\n"
        f"data = '{tmp_path / 'data'}'\n\n[encoder]\nnum_threads = 1\n\n"
        "[answer]\nmin_confidence = 0.99\n",  # refuse everything: every question is a gap
        encoding="utf-8",
    )
    settings = load(path)
    build_index(settings, encoder)
    answerer = Answerer(settings, encoder)
    answer = answerer.answer("till vem ska allvarliga missförhållanden anmälas?")
    assert not answer.answered and len(answer.citations) >= 2
    ivo = next(n for n, c in enumerate(answer.citations, 1) if "IVO" in (c.section or ""))
    with SqlRecorder(settings.database_url, key_file=settings.paths.data / "k") as recorder:
        qid = recorder.record_question("web", "1", answer.question, answer)
    assert run(path, "answered", qid, str(ivo)).exit_code == 0
    out = tmp_path / "labelled.jsonl"
    assert run(path, "export-labelled", str(out)).exit_code == 0
    [question] = calibration.read_questions(out)
    assert question.answerable and "Inspektionen för vård och omsorg" in question.quote
    _x, labels, kinds = calibration.labelled_features(answerer, [question])
    assert labels.tolist() == [1.0] and kinds.tolist() == [True]
