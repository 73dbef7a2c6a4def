"""Every front end through the ask service: the terminal chat and Telegram answer and record a
question alike, and Telegram's first message fits a phone screen."""

from __future__ import annotations

import io

import pytest
import test_asking
from fake_bot_api import FakeBotAPI
from telegram_harness import (
    buttons,
    press_and_wait,
    recorded,
    running_bot,
    settings_for,
    sql_recorder,
    wait_answer,
)

from bot.adapters.chat import run_chat
from bot.asking import FIRST_PAGE, AskService
from bot.gaps.outbox import Outbox

small_answerer = test_asking.small_answerer
USER = 4242
QUESTION = "Ska Anna Svensson 19850312-1234 rapportera missförhållanden till sin chef?"


@pytest.fixture
def recorder(tmp_path):
    with sql_recorder(tmp_path) as recorder:
        yield recorder


def test_terminal_chat_and_telegram_give_the_same_answer_and_record(small_answerer, recorder):
    outbox = Outbox(recorder)
    service = AskService(small_answerer, outbox)
    out = io.StringIO()
    lines = iter([QUESTION, "avsluta"])
    run_chat(service, read=lambda _: next(lines), out=out, asker=str(USER))
    outbox.close()
    with FakeBotAPI() as api:
        settings = settings_for(small_answerer.settings, api, staff=(USER,))
        with running_bot(settings, small_answerer, recorder):
            api.send(USER, QUESTION)
            sent = wait_answer(api, USER)
    terminal, telegram = recorded(recorder)
    assert (terminal.channel, telegram.channel) == ("terminal", "telegram")
    assert terminal.text == telegram.text == service.prepare(QUESTION)
    assert "19850312" not in terminal.text and "Svensson" not in terminal.text
    assert terminal.asker == telegram.asker == recorder.pseudonym(str(USER))
    same = ("answered", "confidence", "index_id", "citations")
    assert [getattr(terminal, k) for k in same] == [getattr(telegram, k) for k in same]
    # Both show the same passages first, the best one leading.
    first = sent[0].result["text"]
    top = small_answerer.answer(service.prepare(QUESTION)).citations[0].title
    assert f"[1] {top}" in first and f"[1] {top}" in out.getvalue()


def test_telegram_leads_with_at_most_three_short_passages(answerer, tmp_path):
    """The issue's example: "vad gör ett anhörigombud?" was two messages of 3,046 and 2,159
    characters; now one message, three passages, and the rest behind "Fler källor"."""
    with sql_recorder(tmp_path) as recorder, FakeBotAPI() as api:
        settings = settings_for(answerer.settings, api, staff=(USER,))
        with running_bot(settings, answerer, recorder):
            api.send(USER, "vad gör ett anhörigombud?")
            [message] = wait_answer(api, USER)
            text = message.result["text"]
            assert text.count("\n[") + text.startswith("[") <= FIRST_PAGE
            assert "[1]" in text and "[3]" in text and "[4]" not in text
            assert len(text) < 2000
            press_and_wait(api, USER, message, "Fler källor")
            more = wait_answer(api, USER, since=1)
            assert "[4]" in more[0].result["text"]
            assert "Visa hela avsnittet" in buttons(message)
