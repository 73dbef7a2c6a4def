"""A forged answer button gets the "expired" alert and never reaches the core with a None."""

from __future__ import annotations

import dataclasses

import pytest
from fake_bot_api import FakeBotAPI
from telegram_harness import (
    buttons,
    message_of,
    running_bot,
    settings_for,
    sql_recorder,
    wait_answer,
)

from bot.adapters.tgbot import callbacks
from bot.adapters.tgbot import texts as bot_texts

STAFF = (4001, 4002, 4003)
QUESTION = "Vem ska jag rapportera missförhållanden enligt lex Sarah till?"


@pytest.fixture(scope="module")
def api():
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def application(api, answerer, sample_settings, tmp_path_factory):
    settings = settings_for(sample_settings, api, staff=STAFF)
    with (
        sql_recorder(tmp_path_factory.mktemp("records")) as recorder,
        running_bot(settings, answerer, recorder) as application,
    ):
        api.wait_polls()
        yield application


def _expired_alert(api: FakeBotAPI, query_id: str) -> dict:
    def answered(calls):
        return next(
            (
                c
                for c in calls
                if c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query_id
            ),
            None,
        )

    return api.wait(answered).params


def test_forged_section_button_of_an_answer_without_a_section_is_expired(api, application):
    user = STAFF[0]
    api.send(user, QUESTION)
    last = wait_answer(api, user)[-1]
    key = callbacks.decode(buttons(last)["👍 Hjälpte"])[1]
    store = application.bot_data["services"].buttons
    # The same answer and asker, but as an answer that offered no "Visa hela avsnittet".
    no_section = store.put(dataclasses.replace(store.get(key), section=None))
    sent = len(api.sent(user))
    query_id = api.press(
        user, message_of(api, last), callbacks.encode(callbacks.SECTION, no_section)
    )
    params = _expired_alert(api, query_id)
    assert params.get("text") == bot_texts.EXPIRED
    assert params["show_alert"] in ("true", True)
    assert len(api.sent(user)) == sent  # no section, no error message
