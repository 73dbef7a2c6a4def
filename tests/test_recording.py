"""Privacy for recording: personnummer are redacted, askers become keyed pseudonyms."""

from __future__ import annotations

import pytest

from bot.privacy import REDACTED_PNR, hash_key, pseudonym, redact


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
