"""The Telegram bot, driven over HTTP through a fake Bot API that enforces Telegram's rules.

One bot (the real application `rutinbot telegram` builds, long polling) serves the whole module
on the sample-corpus index; each test talks to it from its own user ids, so tests don't mix.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from fake_bot_api import FakeBotAPI
from telegram_harness import (
    buttons,
    message_of,
    press_and_wait,
    recorded,
    running_bot,
    settings_for,
    settle,
    sql_recorder,
    texts,
    wait_answer,
)

from bot.adapters.tgbot import texts as bot_texts
from bot.gaps.tables import Feedback

REVIEWER, ADMIN, OUTSIDER = 2001, 3001, 9999
# Ids as long as real ones: a short id could turn up by chance in a raw database file
# (a timestamp's microseconds), where a test looks for it.
STAFF = tuple(range(7_310_486_001, 7_310_486_041))
CROWD = STAFF[20:]  # the twenty who ask at once
GROUP, OTHER_GROUP = -500, -600  # GROUP is allowed as a whole; OTHER_GROUP is not
LABELS = ["👍 Hjälpte", "👎 Hjälpte inte", "Fler källor", "Visa hela avsnittet"]
QUESTION = "Vem ska jag rapportera missförhållanden enligt lex Sarah till?"
UNANSWERABLE = "Hur bakar man en sockerkaka med vanilj?"


class SlowAnswerer:
    """The real answerer, optionally made slow: shows whether one question blocks the others."""

    def __init__(self, answerer) -> None:
        self._answerer = answerer
        self.delay = 0.0

    def answer(self, question, **kwargs):
        time.sleep(self.delay)  # blocking on purpose, like a slow encoder would be
        return self._answerer.answer(question, **kwargs)

    def __getattr__(self, name):
        return getattr(self._answerer, name)


@pytest.fixture(scope="module")
def api():
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def recorder(tmp_path_factory):
    with sql_recorder(tmp_path_factory.mktemp("records")) as recorder:
        yield recorder


@pytest.fixture(scope="module")
def bot(api, answerer, sample_settings, recorder):
    settings = settings_for(
        sample_settings,
        api,
        staff=STAFF,
        reviewers=(REVIEWER,),
        admins=(ADMIN,),
        allowed_chats=(GROUP,),
    )
    slow = SlowAnswerer(answerer)
    with running_bot(settings, slow, recorder):
        api.wait_polls()
        yield slow


@pytest.fixture(autouse=True)
def _every_callback_answered(request):
    yield
    if "api" in request.fixturenames:
        api = request.getfixturevalue("api")
        assert api.unanswered_queries() == set(), "a button was left spinning"


def questions(recorder) -> list:
    return recorded(recorder)


# -- answering ------------------------------------------------------------------------------------


def test_staff_question_gets_cited_passages_with_buttons(api, bot, recorder):
    user = STAFF[0]
    api.send(user, QUESTION)
    parts = wait_answer(api, user)
    shown = texts(parts)
    assert shown[0].startswith("Det här säger dokumenten:")
    joined = "\n".join(shown)
    assert "[1] Kallelse och handlingar, Socialnämnden, Nyköpings kommun" in joined
    assert "(2022-12-08)" in joined  # the document's date
    assert "[3]" in joined and "[4]" not in joined  # one phone screen: three passages
    assert len(parts) == 1 and len(joined) < 2000
    assert "<b>" in parts[0].params["text"]  # the most relevant sentence is marked
    assert parts[0].params["parse_mode"] == "HTML"
    assert list(buttons(parts[-1])) == LABELS
    assert all(len(d.encode()) <= 64 for d in buttons(parts[-1]).values())
    assert all(not p.params.get("reply_markup") for p in parts[:-1])  # buttons once, at the end
    typing = [c for c in api.calls_of("sendChatAction") if int(c.params["chat_id"]) == user]
    assert typing and typing[0].params["action"] == "typing" and typing[0].at <= parts[0].at
    record = questions(recorder)[-1]
    assert record.text == QUESTION and record.answered is True and record.channel == "telegram"
    assert record.asker != str(user) and len(record.asker) == 32  # a pseudonym
    assert record.citations[0]["document"] and record.index_id


def test_unanswered_question_gets_honest_reply_suggestions_and_a_gap(api, bot, recorder):
    user = STAFF[1]
    api.send(user, UNANSWERABLE)
    shown = "\n".join(texts(wait_answer(api, user)))
    assert shown.startswith("Jag hittar inget säkert svar på det i dokumenten.")
    assert "[1]" in shown  # the nearest passages, as suggestions
    assert "Frågan har noterats" in shown
    assert [g.reason for g in recorder.gaps() if g.question == UNANSWERABLE] == ["unanswered"]


def test_personnummer_is_redacted_before_anything_is_recorded(api, bot, recorder):
    user = STAFF[2]
    api.send(user, "Ska lex Sarah rapporteras för klienten 19850312-1234 eller 850312 1234?")
    wait_answer(api, user)
    assert questions(recorder)[-1].text == (
        "Ska lex Sarah rapporteras för klienten [PERSONNUMMER] eller [PERSONNUMMER]?"
    )
    folder = Path(recorder.engine.url.database).parent
    raw = b"".join(f.read_bytes() for f in folder.glob("gaps.db*"))  # the database and its WAL
    assert b"850312" not in raw and str(user).encode() not in raw


def test_too_long_question_gets_the_swedish_reason(api, bot):
    user = STAFF[3]
    api.send(user, "lex Sarah " * 200)
    [reply] = api.wait_sent(user)
    assert reply.result["text"].startswith("Frågan är för lång")


# -- who may use it -------------------------------------------------------------------------------


def test_outsider_is_refused_once_with_their_id_and_nothing_is_kept(api, bot, recorder, caplog):
    caplog.set_level(logging.INFO)
    before = len(questions(recorder))
    api.send(OUTSIDER, "Hemlig fråga om lex Sarah")
    [refusal] = api.wait_sent(OUTSIDER)
    assert "Kontakta administratören" in refusal.result["text"]
    assert f"<code>{OUTSIDER}</code>" in refusal.params["text"]
    api.send(OUTSIDER, "/help")
    api.wait_sent(OUTSIDER, 2)
    settle()
    assert len(api.sent(OUTSIDER)) == 2  # one refusal per message, nothing else
    assert not [c for c in api.calls_of("sendChatAction") if int(c.params["chat_id"]) == OUTSIDER]
    assert len(questions(recorder)) == before
    assert f"refused user {OUTSIDER}" in caplog.text
    assert "Hemlig" not in caplog.text


def test_outsider_cannot_press_buttons(api, bot):
    user = STAFF[4]
    api.send(user, QUESTION)
    last = wait_answer(api, user)[-1]
    _, toast = press_and_wait(api, OUTSIDER, last, "👍 Hjälpte")
    assert toast.params["text"] == bot_texts.REFUSED_TOAST


def test_group_answers_only_when_mentioned_or_replied_to(api, bot):
    member = 4001  # not listed anywhere: the group is allowed as a whole
    plain = api.send(member, QUESTION, GROUP)
    mentioned = api.send(member, QUESTION, GROUP, mention=True)
    first = wait_answer(api, GROUP)
    replied = api.send(member, "Och om det gäller IVO?", GROUP, reply_to=message_of(api, first[0]))
    second = wait_answer(api, GROUP, since=len(first))
    settle()
    quoted = [c.params["reply_parameters"]["message_id"] for c in api.sent(GROUP)]
    assert set(quoted) == {mentioned["message_id"], replied["message_id"]}
    assert plain["message_id"] not in quoted
    assert "Det här säger dokumenten" in texts(first)[0] or "Jag hittar" in texts(first)[0]
    assert second


def test_other_groups_refuse_outsiders_but_staff_may_ask(api, bot):
    api.send(OUTSIDER, QUESTION, OTHER_GROUP)  # not addressed: ignored
    api.send(OUTSIDER, QUESTION, OTHER_GROUP, mention=True)
    [refusal] = api.wait_sent(OTHER_GROUP)
    assert "Kontakta administratören" in refusal.result["text"]
    api.send(STAFF[5], QUESTION, OTHER_GROUP, mention=True)
    answer = wait_answer(api, OTHER_GROUP, since=1)
    assert list(buttons(answer[-1])) == LABELS
    settle()
    assert len([c for c in api.sent(OTHER_GROUP) if "administratören" in c.result["text"]]) == 1


# -- buttons --------------------------------------------------------------------------------------


def test_helpful_is_recorded_once_and_the_thumbs_go_away(api, bot, recorder):
    user = STAFF[6]
    api.send(user, QUESTION)
    last = wait_answer(api, user)[-1]
    record_id = questions(recorder)[-1].id
    _, toast = press_and_wait(api, user, last, "👍 Hjälpte")
    assert toast.params["text"] == bot_texts.HELPFUL_THANKS
    edited = api.wait(
        lambda calls: [c for c in calls if c.method == "editMessageReplyMarkup" and c.ok]
    )[-1]
    assert list(buttons(edited)) == ["Fler källor", "Visa hela avsnittet"]
    # An old client still showing 👎 can't vote twice.
    api.press(user, message_of(api, last), buttons(last)["👎 Hjälpte inte"])
    api.wait(lambda calls: [c for c in calls if c.params.get("text") == bot_texts.ALREADY_VOTED])
    feedback = [f for f in recorded(recorder, Feedback) if f.question_id == record_id]
    assert [f.helpful for f in feedback] == [True]


def test_unhelpful_makes_the_question_a_gap(api, bot, recorder):
    user = STAFF[7]
    question = "Vilka rutiner finns för avvikelser i hemtjänsten?"
    api.send(user, question)
    last = wait_answer(api, user)[-1]
    _, toast = press_and_wait(api, user, last, "👎 Hjälpte inte")
    assert toast.params["text"] == bot_texts.UNHELPFUL_THANKS
    assert "unhelpful" in [g.reason for g in recorder.gaps() if g.question == question]


def test_more_sources_shows_the_next_passages_numbered_on(api, bot):
    user = STAFF[8]
    api.send(user, QUESTION)
    first = wait_answer(api, user)
    press_and_wait(api, user, first[-1], "Fler källor")
    more = wait_answer(api, user, since=len(first))
    shown = "\n".join(texts(more))
    assert shown.startswith("[4]") and "[8]" in shown and "[3]" not in shown
    assert list(buttons(more[-1])) == ["Fler källor", "Visa hela avsnittet"]
    # The first message no longer offers "Fler källor" (it would show the same passages).
    assert "Fler källor" not in [
        b["text"] for row in message_of(api, first[-1])["reply_markup"]["inline_keyboard"]
        for b in row
    ]  # fmt: skip


def test_show_whole_section(api, bot, answerer):
    user = STAFF[9]
    api.send(user, QUESTION)
    first = wait_answer(api, user)
    press_and_wait(api, user, first[-1], "Visa hela avsnittet")
    section = api.wait(lambda calls: api.sent(user, calls)[len(first) :])
    top = answerer.answer(QUESTION).citations[0]
    if section[0].method == "sendDocument":  # a long section comes as one file
        content = api.files[section[0].result["document"]["file_id"]][1].decode()
        assert top.title in section[0].result["caption"] and top.title in content
    else:
        assert section[0].result["text"].startswith(f"{top.title} › {top.section}")


def test_button_from_an_unknown_answer_says_so(api, bot):
    user = STAFF[10]
    api.send(user, QUESTION)
    last = wait_answer(api, user)[-1]
    message = message_of(api, last)
    api.press(user, message, "fb:+:zzzzzzzz")
    toast = api.wait(lambda calls: [c for c in calls if c.params.get("text") == bot_texts.EXPIRED])
    assert toast[-1].params["show_alert"] in ("true", True)


# -- commands and other messages ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/start", "/help", "/okänt", "/foo@rutinbot_test_bot"])
def test_start_help_and_unknown_commands_show_help(api, bot, command):
    user = STAFF[11]
    before = len(api.sent(user))
    api.send(user, command)
    reply = api.wait_sent(user, before + 1)[-1]
    assert reply.result["text"].startswith("Hej! Jag är rutinbot.")
    assert "Exempel på frågor" in reply.result["text"]
    assert "personnummer" in reply.result["text"] and "Telegram" in reply.result["text"]


def test_kallor_lists_documents_with_dates(api, bot, answerer):
    user = STAFF[12]
    api.send(user, "/kallor")
    shown = "\n".join(texts(api.wait_sent(user)))
    for doc in answerer.info().documents:
        assert f"• {doc.title}" in shown
    assert "(2022-12-08)" in shown


def test_om_shows_version_index_date_and_encoder(api, bot, answerer):
    user = STAFF[13]
    api.send(user, "/om")
    [reply] = api.wait_sent(user)
    info = answerer.info()
    for value in (info.version, info.built_at, info.encoder):
        assert value in reply.result["text"]


MEDIA = {
    "voice": {"voice": {"file_id": "v1", "file_unique_id": "uv1", "duration": 3}},
    "photo": {"photo": [{"file_id": "p1", "file_unique_id": "up1", "width": 90, "height": 90}]},
    "sticker": {
        "sticker": {
            "file_id": "s1",
            "file_unique_id": "us1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    },
    "document": {"document": {"file_id": "d1", "file_unique_id": "ud1", "file_name": "rutin.pdf"}},
}


@pytest.mark.parametrize("kind", sorted(MEDIA))
def test_voice_photos_stickers_and_files_get_an_explanation(api, bot, kind):
    user = STAFF[14]
    before = len(api.sent(user))
    api.send(user, None, **MEDIA[kind])
    reply = api.wait_sent(user, before + 1)[-1]
    assert reply.result["text"] == bot_texts.NOT_TEXT


def test_admin_sending_a_photo_is_told_documents_come_as_files(api, bot):
    # An admin's document is saved and indexed: tests/test_telegram_admin.py.
    api.send(ADMIN, None, **MEDIA["photo"])
    [reply] = api.wait_sent(ADMIN)
    assert reply.result["text"] == bot_texts.NOT_TEXT_ADMIN
    assert "skicka det som fil" in reply.result["text"]


# -- robustness -----------------------------------------------------------------------------------


def test_flood_limit_is_waited_out_and_the_message_arrives_once(api, bot):
    api.fail_next("sendMessage", 429, retry_after=1)
    api.send(REVIEWER, "/help")
    api.wait_sent(REVIEWER)
    attempts = [c for c in api.calls_of("sendMessage") if int(c.params["chat_id"]) == REVIEWER]
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0  # after the retry_after Telegram asked for
    settle()
    assert len(api.sent(REVIEWER)) == 1


def test_network_error_mid_poll_is_survived(api, bot, caplog):
    caplog.set_level(logging.WARNING)
    user = STAFF[15]
    polls = api.polls
    api.drop_polls()
    api.wait_polls(polls + 1)  # a new poll after the cut one
    api.send(user, "/om")
    api.wait_sent(user)
    assert [c for c in api.calls_of("getUpdates") if c.status == 0]
    assert "polling failed" in caplog.text


def test_twenty_users_at_once_all_answered_and_help_stays_quick(api, bot):
    bot.delay = 0.5  # each answer holds a worker thread for half a second
    try:
        for user in CROWD:
            api.send(user, QUESTION)
        asked = time.monotonic()
        api.send(STAFF[16], "/help")
        [help_reply] = api.wait_sent(STAFF[16])
        assert help_reply.at - asked < 1.0, "the event loop was blocked by answering"
        for user in CROWD:
            parts = wait_answer(api, user, timeout=30)
            assert list(buttons(parts[-1])) == LABELS
        settle()
        for user in CROWD:  # exactly one answer each: nothing lost, nothing doubled
            assert len([c for c in api.sent(user) if c.params.get("reply_markup")]) == 1
    finally:
        bot.delay = 0.0


def test_logs_hold_update_ids_not_questions(api, bot, caplog):
    caplog.set_level(logging.DEBUG, logger="bot")
    user = STAFF[17]
    api.send(user, "Gäller lex Sarah även för praktikanter på boendet?")
    wait_answer(api, user)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert any("answered=" in line for line in ours)
    assert not any("praktikanter" in line for line in ours)
