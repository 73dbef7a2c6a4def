"""Starting and stopping: webhook mode with its secret token, and buttons that outlive a restart."""

from __future__ import annotations

import socket

from fake_bot_api import FakeBotAPI
from telegram_harness import (
    message_of,
    press_and_wait,
    recorded,
    running_bot,
    settings_for,
    settle,
    sql_recorder,
    wait_answer,
)

from bot.adapters.tgbot import texts
from bot.gaps.tables import Feedback

USER = 6001
SECRET = "s3cret-Token_for_tests"
QUESTION = "Vem ska jag rapportera lex Sarah till?"
LABELS = ["👍 Hjälpte", "👎 Hjälpte inte", "Fler källor", "Visa hela avsnittet"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webhook_takes_updates_only_with_the_right_secret(answerer, sample_settings, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/rutinbot/telegram"
    with FakeBotAPI() as api:
        settings = settings_for(
            sample_settings,
            api,
            staff=(USER,),
            mode="webhook",
            webhook_url=url,
            webhook_listen="127.0.0.1",
            webhook_port=port,
        )
        with (
            sql_recorder(tmp_path) as recorder,
            running_bot(settings, answerer, recorder, webhook_secret=SECRET),
        ):
            api.wait(lambda calls: [c for c in calls if c.method == "setWebhook"])
            assert api.webhook == {"url": url, "secret_token": SECRET}
            assert api.deliver_webhook(api.message(USER, "/help"), "wrong-secret") == 403
            assert api.deliver_webhook(api.message(USER, "/help"), None) == 403
            settle()
            assert api.sent(USER) == []
            update = api.message(USER, QUESTION)
            assert api.deliver_webhook(update, SECRET) == 200
            parts = wait_answer(api, USER)
            assert parts[0].result["text"].startswith(("Det här säger", "Jag hittar"))
        assert not api.calls_of("getUpdates")  # webhook mode never polls


def test_buttons_from_before_a_restart_say_the_question_must_be_asked_again(
    answerer, sample_settings, tmp_path
):
    with sql_recorder(tmp_path) as recorder, FakeBotAPI() as api:
        settings = settings_for(sample_settings, api, staff=(USER,))
        with running_bot(settings, answerer, recorder):
            api.send(USER, QUESTION)
            last = wait_answer(api, USER)[-1]
        with running_bot(settings, answerer, recorder):  # the restarted bot
            for label in LABELS:
                _, toast = press_and_wait(api, USER, last, label)
                assert toast.params["text"] == texts.EXPIRED
                assert toast.params["show_alert"] in ("true", True)
            assert "reply_markup" not in message_of(api, last)  # the dead buttons are removed
            assert len(api.sent(USER)) == len(wait_answer(api, USER))  # nothing else was sent
        assert api.unanswered_queries() == set()
        assert recorded(recorder, Feedback) == []
