"""Recording: personnummer never reach the disk, askers are pseudonyms, gaps are found again."""

from __future__ import annotations

import pytest

from bot.models import Answer
from bot.privacy import REDACTED_PNR, hash_key, pseudonym, redact
from bot.recording import JsonlRecorder


@pytest.mark.parametrize(
    "number",
    [
        "850312-1234",
        "850312+1234",
        "19850312-1234",
        "198503121234",
        "8503121234",
        "850312 1234",
        "19850312 1234",
        "850372-1234",  # samordningsnummer: day + 60
    ],
)
def test_personnummer_in_common_forms_are_redacted(number):
    assert redact(f"Klienten {number} har ansökt.") == f"Klienten {REDACTED_PNR} har ansökt."


@pytest.mark.parametrize(
    "text", ["Beslut 2023-11-06 § 12", "Diarienummer SN22/5", "belopp 12345 kr", "år 2024"]
)
def test_ordinary_numbers_are_kept(text):
    assert redact(text) == text


def test_pseudonym_is_stable_and_keyed():
    assert pseudonym(42, b"k1") == pseudonym("42", b"k1") != pseudonym(42, b"k2")
    assert "42" not in pseudonym(42, b"k1")


def test_hash_key_from_environment_or_a_file_made_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RUTINBOT_HASH_KEY", "hemlig")
    assert hash_key(tmp_path / "key") == b"hemlig"
    monkeypatch.delenv("RUTINBOT_HASH_KEY")
    first = hash_key(tmp_path / "key")
    assert "RUTINBOT_HASH_KEY is not set" in caplog.text
    assert hash_key(tmp_path / "key") == first and len(first) == 64


def test_recorder_redacts_pseudonymises_and_lists_gaps(tmp_path, monkeypatch):
    monkeypatch.setenv("RUTINBOT_HASH_KEY", "test")
    recorder = JsonlRecorder(tmp_path)
    answered = Answer("x", True, 0.9, (), "idx")
    unanswered = Answer("x", False, 0.1, (), "idx")
    first = recorder.record_question("telegram", "1001", "Gäller 850312-1234 lex Sarah?", answered)
    second = recorder.record_question("telegram", "1001", "Sockerkaka?", unanswered)
    recorder.record_feedback(first, helpful=False)
    recorder.record_feedback(second, helpful=True)
    raw = (tmp_path / "records.jsonl").read_text(encoding="utf-8")
    assert "850312" not in raw and '"1001"' not in raw
    assert [(g.record_id, g.question, g.reason) for g in recorder.gaps()] == [
        (second, "Sockerkaka?", "unanswered"),
        (first, f"Gäller {REDACTED_PNR} lex Sarah?", "unhelpful"),
    ]
    askers = {e["asker"] for e in recorder.events("question")}
    assert askers == {pseudonym("1001", b"test")}
