"""Reviewer commands in Telegram (/luckor and its buttons) and the bot's daily purge.

The real application runs against the fake Bot API, recording into a real SQLite store; each
test seeds the themes it looks at, so the tests don't depend on each other's order.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from datetime import UTC, datetime, timedelta

import pytest
from fake_bot_api import MAX_CALLBACK_DATA, MAX_TEXT, Call, FakeBotAPI
from sqlmodel import Session
from telegram.ext import CallbackContext
from telegram_harness import running_bot, settings_for, settle, sql_recorder

from bot.adapters.tgbot import render, reviewers
from bot.adapters.tgbot import texts as bot_texts
from bot.adapters.tgbot.app import PURGE_JOB, build_application
from bot.config import DatabaseSettings
from bot.gaps.store import Gap, ThemeInfo
from bot.gaps.tables import Question, utcnow
from bot.models import Answer

STAFF, REVIEWER, ADMIN = 1101, 2101, 3101
GROUP = -700
UNANSWERABLE = "Hur bakar man en sockerkaka med vanilj?"


@pytest.fixture(scope="module")
def api():
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def recorder(tmp_path_factory):
    with sql_recorder(tmp_path_factory.mktemp("gaps")) as recorder:
        yield recorder


@pytest.fixture(scope="module")
def unanswered(answerer) -> Answer:
    answer = answerer.answer(UNANSWERABLE)
    assert not answer.answered and answer.citations
    return answer


@pytest.fixture(scope="module")
def application(api, answerer, sample_settings, recorder):
    settings = settings_for(
        sample_settings,
        api,
        staff=(STAFF,),
        reviewers=(REVIEWER,),
        admins=(ADMIN,),
        allowed_chats=(GROUP,),
    )
    with running_bot(settings, answerer, recorder) as application:
        api.wait_polls()
        yield application


@pytest.fixture(autouse=True)
def _every_callback_answered(request):
    yield
    if "api" in request.fixturenames:
        assert request.getfixturevalue("api").unanswered_queries() == set()


def seed_theme(recorder, answer: Answer, questions: list[str]) -> int:
    """A theme holding these (unanswered) questions, as `rutinbot gaps` would have made it."""
    ids = [recorder.record_question("telegram", "1", q, answer) for q in questions]
    theme_id = recorder.add_theme(questions[0])
    recorder.assign_theme(ids, theme_id)
    return theme_id


def theme(recorder, theme_id: int) -> ThemeInfo:
    return next(t for t in recorder.themes() if t.id == theme_id)


def luckor(api: FakeBotAPI, user: int, chat: int | None = None) -> Call:
    """Send /luckor and return the bot's reply."""
    chat = user if chat is None else chat
    before = len(api.sent(chat))
    api.send(user, "/luckor", chat)
    return api.wait_sent(chat, before + 1, timeout=30)[-1]


def now(api: FakeBotAPI, call: Call) -> dict:
    """The message as it is now, after the bot's edits."""
    return api.messages[(call.result["chat"]["id"], call.result["message_id"])]


def buttons(message: dict) -> dict[str, str]:
    markup = message.get("reply_markup") or {}
    return {b["text"]: b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row}


def theme_button(message: dict, theme_id: int) -> str:
    return next(label for label in buttons(message) if label.startswith(f"#{theme_id} "))


def press(api: FakeBotAPI, user: int, message: dict, label: str) -> Call:
    """Tap a button under a message; returns the callback answer (sent after any edit)."""
    query_id = api.press(user, message, buttons(message)[label])
    return api.wait(
        lambda calls: next(
            (
                c
                for c in calls
                if c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query_id
            ),
            None,
        ),
        timeout=30,
    )


# -- /luckor --------------------------------------------------------------------------------------


def test_luckor_groups_new_gaps_and_lists_the_theme_with_its_count(api, application, recorder):
    question = "Får man ta med hunden till jobbet på fredagar?"
    for _ in range(2):
        recorder.record_question("telegram", "1", question, Answer("x", False, 0.1, (), "idx"))
    reply = luckor(api, REVIEWER)
    [grouped] = [t for t in recorder.themes() if "hunden" in t.name]  # a label of its words
    assert grouped.questions == 2 and not recorder.gaps(unthemed=True)
    shown = reply.result["text"]
    assert shown.startswith("Kunskapsluckor")
    assert f"#{grouped.id} · 2 frågor · senast {utcnow():%Y-%m-%d}" in shown
    assert question in shown
    label = theme_button(reply.result, grouped.id)
    assert label.startswith(f"#{grouped.id} (2) ")
    assert all(len(d.encode()) <= MAX_CALLBACK_DATA for d in buttons(reply.result).values())


def test_opening_a_theme_shows_its_questions_and_nearest_passage(
    api, application, recorder, unanswered
):
    theme_id = seed_theme(recorder, unanswered, [UNANSWERABLE, "Sockerkaka <med> vanilj & grädde?"])
    listing = now(api, luckor(api, ADMIN))
    toast = press(api, ADMIN, listing, theme_button(listing, theme_id))
    assert not toast.params.get("text")
    opened = api.messages[(ADMIN, listing["message_id"])]
    shown = opened["text"]
    assert shown.startswith(f"Tema #{theme_id} · öppen · 2 frågor")
    assert "Sockerkaka <med> vanilj & grädde?" in shown  # escaped, and shown as written
    assert f"{utcnow():%Y-%m-%d} · obesvarad\n{UNANSWERABLE}" in shown
    assert "Närmaste avsnitt" in shown and unanswered.citations[0].document in shown
    assert list(buttons(opened)) == ["Markera löst", "Tillbaka"]
    back = press(api, ADMIN, opened, "Tillbaka")
    assert not back.params.get("text")
    assert api.messages[(ADMIN, listing["message_id"])]["text"].startswith("Kunskapsluckor")


def test_mark_resolved_records_who_and_drops_the_theme_from_the_list(
    api, application, recorder, unanswered
):
    theme_id = seed_theme(recorder, unanswered, ["Hur ofta ska kaffemaskinen avkalkas?"])
    listing = now(api, luckor(api, REVIEWER))
    press(api, REVIEWER, listing, theme_button(listing, theme_id))
    opened = api.messages[(REVIEWER, listing["message_id"])]
    toast = press(api, REVIEWER, opened, "Markera löst")
    assert toast.params["text"] == bot_texts.THEME_RESOLVED
    resolved = theme(recorder, theme_id)
    assert resolved.status == "resolved" and resolved.changed_by == f"telegram:{REVIEWER}"
    after = api.messages[(REVIEWER, listing["message_id"])]
    assert f"Tema #{theme_id} · löst" in after["text"]
    assert f"Ändrad av telegram:{REVIEWER}" in after["text"]
    assert list(buttons(after)) == ["Öppna igen", "Tillbaka"]
    press(api, REVIEWER, after, "Tillbaka")
    relisted = api.messages[(REVIEWER, listing["message_id"])]
    assert not any(label.startswith(f"#{theme_id} ") for label in buttons(relisted))


def test_staff_may_not_use_luckor_nor_press_a_reviewers_button(
    api, application, recorder, unanswered
):
    theme_id = seed_theme(recorder, unanswered, ["Vem vattnar blommorna i semestern?"])
    refusal = luckor(api, STAFF)
    assert refusal.params["text"] == bot_texts.REVIEWERS_ONLY
    assert not refusal.params.get("reply_markup")
    listing = now(api, luckor(api, REVIEWER))
    shown = copy.deepcopy(listing)
    label = theme_button(listing, theme_id)
    # A forwarded or old button is only data: a staff member pressing it is refused.
    toast = press(api, STAFF, listing, label)
    assert toast.params["text"] == bot_texts.REVIEWERS_ONLY_TOAST
    assert toast.params["show_alert"] in (True, "true")
    api.press(STAFF, listing, f"gap:done:{theme_id}")  # forged data, same answer
    refused = bot_texts.REVIEWERS_ONLY_TOAST
    api.wait(lambda calls: len([c for c in calls if c.params.get("text") == refused]) == 2)
    settle()
    assert theme(recorder, theme_id).status == "open"
    assert api.messages[(REVIEWER, listing["message_id"])] == shown  # not edited


def test_luckor_in_a_group_is_sent_to_the_private_chat(api, application):
    reply = luckor(api, REVIEWER, GROUP)
    assert reply.params["text"] == bot_texts.PRIVATE_ONLY


def test_reviewers_get_luckor_in_their_command_menu(api, application):
    calls = api.calls_of("setMyCommands")
    everyone = [c for c in calls if not c.params.get("scope")]
    assert "luckor" not in [c["command"] for c in everyone[0].params["commands"]]
    scoped = {c.params["scope"]["chat_id"]: c for c in calls if c.params.get("scope")}
    assert set(scoped) == {REVIEWER, ADMIN}
    assert "luckor" in [c["command"] for c in scoped[REVIEWER].params["commands"]]


def test_help_mentions_luckor_to_reviewers_only(api, application):
    for user, shown in ((REVIEWER, True), (STAFF, False)):
        before = len(api.sent(user))
        api.send(user, "/help")
        reply = api.wait_sent(user, before + 1)[-1]
        assert ("/luckor" in reply.result["text"]) is shown


# -- the message itself ---------------------------------------------------------------------------


def test_a_theme_with_many_long_questions_fits_one_message():
    info = ThemeInfo(7, "x" * 300, "open", False, "n" * 600, "telegram:anna", utcnow(), utcnow(), 0)
    gaps = [
        Gap(str(i), utcnow(), "<&> " * 200, "unhelpful", "telegram", 0.1, 7, ()) for i in range(40)
    ]
    text = render.theme_message(info, gaps, [])
    assert render.visible(text) <= MAX_TEXT
    assert "… och" in text and "rutinbot gaps show 7" in text
    assert "&lt;&amp;&gt;" in text and "<&>" not in text


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("gap:list", ("list", None)),
        ("gap:open:12", ("open", 12)),
        ("gap:done:12", ("done", 12)),
        ("gap:undo:3", ("undo", 3)),
        ("gap:open", None),
        ("gap:done:x", None),
        ("gap:drop:1", None),
        ("fb:+:abc", None),
        (None, None),
    ],
)
def test_callback_data_is_parsed_strictly(raw, parsed):
    assert reviewers.parse(raw) == parsed
    if parsed:
        assert reviewers.data(*parsed) == raw


# -- retention ------------------------------------------------------------------------------------


def test_the_purge_runs_daily_and_deletes_old_questions(application, recorder, unanswered, caplog):
    [job] = application.job_queue.get_jobs_by_name(PURGE_JOB)
    assert job.job.trigger.interval == timedelta(days=1)
    assert job.next_t - datetime.now(UTC) < timedelta(minutes=2)  # and soon after start
    old = recorder.record_question("telegram", "1", "En gammal fråga om lex Sarah", unanswered)
    new = recorder.record_question("telegram", "1", "En ny fråga om lex Sarah", unanswered)
    days = application.bot_data["services"].settings.database.retention_days
    with Session(recorder.engine) as session:
        row = session.get(Question, old)
        row.asked_at = utcnow() - timedelta(days=days + 1)
        session.add(row)
        session.commit()
    caplog.set_level(logging.INFO)
    asyncio.run(reviewers.purge_job(CallbackContext(application)))
    assert recorder.question(old) is None and recorder.question(new) is not None
    assert f"purged 1 questions older than {days} days" in caplog.text
    assert "lex Sarah" not in caplog.text


def test_a_failing_purge_is_logged_and_the_bot_goes_on(application, recorder, monkeypatch, caplog):
    def broken(days: int) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(recorder, "purge", broken)
    asyncio.run(reviewers.purge_job(CallbackContext(application)))  # does not raise
    assert "purging questions older than" in caplog.text and "disk full" in caplog.text
    assert application.running


def test_no_purge_job_when_questions_are_kept(sample_settings, answerer, recorder):
    settings = sample_settings.replace(database=DatabaseSettings(retention_days=0))
    application = build_application(settings, answerer, recorder, "123:abc")
    assert not application.job_queue.get_jobs_by_name(PURGE_JOB)
