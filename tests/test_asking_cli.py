"""`rutinbot chat` records unless --no-record; `rutinbot ask` records only with --record."""

from __future__ import annotations

import json

import pytest
from telegram_harness import recorded
from test_cli import run, write_config

from bot.gaps.store import SqlRecorder

PERSONAL = "Kan Anna Svensson 19850312-1234 få hjälp av ett anhörigombud?"


@pytest.fixture
def config(small_corpus, monkeypatch):
    monkeypatch.setenv("RUTINBOT_HASH_KEY", "test-key")
    monkeypatch.setenv("USER", "anna")
    monkeypatch.setenv("LOGNAME", "anna")
    path = write_config(small_corpus.parent, small_corpus, small_corpus.parent / "embeddings")
    assert run(path, "index").exit_code == 0
    return path


def questions(config) -> list:
    db = config.parent / "data" / "rutinbot.db"
    if not db.exists():
        return []
    with SqlRecorder(f"sqlite:///{db}") as recorder:
        return recorded(recorder)


def test_chat_records_redacted_under_a_keyed_hash_of_the_login(config):
    result = run(config, "chat", input=f"{PERSONAL}\navsluta\n")
    assert result.exit_code == 0, result.output
    [row] = questions(config)
    assert row.channel == "terminal" and "[PERSONNUMMER]" in row.text
    assert "Svensson" not in row.text and "19850312" not in row.text
    with SqlRecorder(f"sqlite:///{config.parent / 'data' / 'rutinbot.db'}") as recorder:
        assert row.asker == recorder.pseudonym("anna") != "anna"


def test_chat_with_no_record_and_ask_by_default_record_nothing(config):
    assert run(config, "chat", "--no-record", input=f"{PERSONAL}\n").exit_code == 0
    assert run(config, "ask", PERSONAL).exit_code == 0
    assert questions(config) == []


def test_ask_answers_the_redacted_question_and_records_with_record(config):
    result = run(config, "ask", "--json", "--record", PERSONAL)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert "19850312" not in answer["question"] and "[PERSONNUMMER]" in answer["question"]
    assert len(answer["citations"][0]["text"]) > 100  # --json keeps the full excerpt
    [row] = questions(config)
    assert row.channel == "cli" and row.text == answer["question"]
