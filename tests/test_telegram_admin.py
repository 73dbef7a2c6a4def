"""Document administration in Telegram, through the fake Bot API: admins send files (real
getFile and download), see one progress message edited into the reindex summary, remove,
restore and replace documents with inline confirmations, and list them a page at a time.

One bot serves the module over a small corpus of its own; the reindexes are real `rutinbot
index` processes started by the admin service, and staff questions afterwards show whether the
documents' facts are cited.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import logging
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from conftest import make_settings, write_small_corpus
from fake_bot_api import BOT, FakeBotAPI, parse_html
from telegram.ext import CallbackContext
from telegram_harness import (
    buttons,
    message_of,
    running_bot,
    settings_for,
    settle,
    sql_recorder,
    texts,
    wait_answer,
)

from bot.adapters.tgbot import admin, admin_views, callbacks
from bot.adapters.tgbot import texts as bot_texts
from bot.adapters.tgbot.app import PURGE_TRASH_JOB
from bot.admin.model import JobState, ReindexStatus, ReindexSummary
from bot.config import DatabaseSettings

ADMIN, OTHER_ADMIN, REVIEWER, STAFF = 5301, 5302, 5201, 5101
GROUP = -5500  # allowed as a whole
REINDEX_TIMEOUT = 300  # seconds: a reindex process on a busy 2-core machine

# Facts no document of the small corpus has.
DOCX_FACT = "Kvällsmottagningen Blåklinten nås på telefon 0470-123 98 76 alla vardagar."
DOCX_QUESTION = "Vilket telefonnummer har kvällsmottagningen Blåklinten?"
OLD_FACT = "Nattpatrullen Tranan samlas vid Storgatan 4 klockan 22 inför varje pass."
NEW_FACT = "Nattpatrullen Tranan samlas vid Järnvägsgatan 17 klockan 21 inför varje pass."
PATROL_QUESTION = "Var samlas nattpatrullen Tranan inför passet?"


def docx(*paragraphs: str) -> bytes:
    """A minimal Word document: the parts the reader needs."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        zf.writestr(
            "word/document.xml", f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>'
        )
    return out.getvalue()


@pytest.fixture(scope="module")
def api():
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, encoder):
    from bot.answer.core import Answerer
    from bot.search.indexer import build_index

    base = tmp_path_factory.mktemp("tg-admin")
    write_small_corpus(base / "knowledge")
    settings = make_settings(base, encoder={"num_threads": 1})
    build_index(settings, encoder)
    return settings, Answerer(settings, encoder)


@pytest.fixture(scope="module")
def fast_edits():
    """Progress edits at most every 0.3 s instead of 3 s: a reindex of this small corpus takes
    only a few seconds, and the test should see the progress message edited before the end."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(admin_views, "EDIT_EVERY", 0.3)
        mp.setattr(admin_views, "POLL_EVERY", 0.1)
        yield


@pytest.fixture(scope="module")
def application(api, corpus, tmp_path_factory, fast_edits):
    settings, answerer = corpus
    records = tmp_path_factory.mktemp("tg-admin-gaps")
    settings = settings_for(
        settings,
        api,
        staff=(STAFF,),
        reviewers=(REVIEWER,),
        admins=(ADMIN, OTHER_ADMIN),
        allowed_chats=(GROUP,),
    )
    # The reindex process re-asks the gap questions the bot records: one database for both.
    settings = settings.replace(database=DatabaseSettings(url=f"sqlite:///{records}/gaps.db"))
    with (
        sql_recorder(records) as recorder,
        running_bot(settings, answerer, recorder) as application,
    ):
        api.wait_polls()
        yield application


@pytest.fixture
def recorder(application):
    return application.bot_data["services"].recorder


@pytest.fixture
def knowledge(application):
    return application.bot_data["services"].settings.paths.knowledge


# -- helpers --------------------------------------------------------------------------------------


def send_file(api: FakeBotAPI, user: int, name: str, content: bytes, **kw) -> dict:
    """The user sends a file; returns its `document` (file id, name, size)."""
    size = kw.pop("size", None)
    document = api.user_file(name, content, size)
    api.send(user, None, kw.pop("chat_id", None), document=document, **kw)
    return document


def until(condition, timeout: float = 30) -> None:
    """Wait for something the bot does without a Bot API call to show it."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def text_of(call) -> str:
    """What a sent or edited message showed right then (a call's result is the message as it
    is now, after later edits)."""
    return parse_html(call.params["text"])


def next_reply(api: FakeBotAPI, chat_id: int, before: int):
    return api.wait_sent(chat_id, before + 1, timeout=60)[before]


def edits_of(api: FakeBotAPI, chat_id: int, message_id: int, calls=None) -> list:
    return [
        c
        for c in (api.calls if calls is None else calls)
        if c.method == "editMessageText"
        and c.ok
        and int(c.params["chat_id"]) == chat_id
        and int(c.params["message_id"]) == message_id
    ]


def ended(text: str) -> bool:
    return "Omindexeringen är klar" in text or "Omindexeringen misslyckades" in text


def wait_summary(api: FakeBotAPI, chat_id: int, message_id: int) -> list:
    """Every edit of a progress message up to and including the summary."""

    def done(calls):
        edits = edits_of(api, chat_id, message_id, calls)
        return edits if edits and ended(text_of(edits[-1])) else None

    return api.wait(done, REINDEX_TIMEOUT)


def ask(api: FakeBotAPI, question: str, user: int = STAFF) -> str:
    before = len(api.sent(user))
    api.send(user, question)
    return "\n".join(texts(wait_answer(api, user, before, timeout=60)))


def get_file_calls(api: FakeBotAPI, file_id: str) -> list:
    return [c for c in api.calls_of("getFile") if c.params.get("file_id") == file_id]


def command(api: FakeBotAPI, user: int, text: str):
    before = len(api.sent(user))
    api.send(user, text)
    return next_reply(api, user, before)


def current_buttons(api: FakeBotAPI, call) -> dict[str, str]:
    """Label -> callback data of the buttons under a message as it is now (after edits)."""
    markup = message_of(api, call).get("reply_markup") or {}
    return {b["text"]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}


def answer_of(api: FakeBotAPI, query_id: str) -> dict:
    """The parameters the bot answered a button press with."""

    def answered(calls):
        return next(
            (
                c
                for c in calls
                if c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query_id
            ),
            None,
        )

    return api.wait(answered, timeout=60).params


def press(api: FakeBotAPI, user: int, call, label: str) -> dict:
    """Tap a button under a message as it is now; returns the callback answer's parameters."""
    data = current_buttons(api, call)[label]
    return answer_of(api, api.press(user, message_of(api, call), data))


# -- adding ---------------------------------------------------------------------------------------


def test_an_admin_adds_a_docx_and_staff_then_get_its_fact_cited(
    api, application, knowledge, recorder
):
    assert DOCX_FACT not in ask(api, DOCX_QUESTION)  # not known before: a knowledge gap
    until(lambda: recorder.gaps(limit=1))  # recorded: the outbox writes it shortly
    content = docx("Kvällsmottagning", DOCX_FACT)
    before = len(api.sent(ADMIN))
    document = send_file(api, ADMIN, "kvallsmottagning.docx", content)
    reply = next_reply(api, ADMIN, before)
    assert text_of(reply).startswith("📄 kvallsmottagning.docx är sparat.")
    assert "Omindexeringen har startat" in text_of(reply)
    edits = wait_summary(api, ADMIN, reply.result["message_id"])

    # Downloaded for real: getFile, then the file route; the bytes are on disk as sent.
    assert len(get_file_calls(api, document["file_id"])) == 1
    assert (knowledge / "kvallsmottagning.docx").read_bytes() == content
    # One message: progress edits (each a change, EDIT_EVERY apart), then the summary.
    progress = [text_of(e) for e in edits[:-1]]
    assert progress and all("Omindexering pågår" in t for t in progress), progress
    shown = [text_of(reply), *(text_of(e) for e in edits)]
    assert all(a != b for a, b in itertools.pairwise(shown))
    moments = [reply.at, *(e.at for e in edits[:-1])]
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert all(g >= admin_views.EDIT_EVERY - 0.1 for g in gaps), gaps
    summary = text_of(edits[-1])
    assert summary.startswith("📄 kvallsmottagning.docx är sparat.")
    assert "Omindexeringen är klar" in summary and "Tillagda:\n• kvallsmottagning.docx" in summary
    assert "Kunskapsluckor som dokumenten nu besvarar: 1." in summary
    assert len(api.sent(ADMIN)) == before + 1  # nothing else was sent

    assert DOCX_FACT in ask(api, DOCX_QUESTION)


def test_a_file_over_20_mb_is_refused_without_downloading(api, application, knowledge):
    before = len(api.sent(ADMIN))
    document = send_file(api, ADMIN, "stor-rutin.pdf", b"%PDF-1.4 liten", size=25 * 1024 * 1024)
    reply = next_reply(api, ADMIN, before)
    assert text_of(reply) == bot_texts.TOO_BIG.format(size="25,0")
    assert get_file_calls(api, document["file_id"]) == []
    assert not (knowledge / "stor-rutin.pdf").exists()


def test_a_refused_name_is_explained_and_nothing_is_saved(api, application, knowledge):
    before = len(api.sent(ADMIN))
    send_file(api, ADMIN, "program.exe", b"MZ not a routine")
    reply = next_reply(api, ADMIN, before)
    assert "Filtypen .exe kan inte läsas in" in text_of(reply)
    assert not (knowledge / "program.exe").exists()


@pytest.mark.parametrize("user", [STAFF, REVIEWER], ids=["staff", "reviewer"])
def test_staff_and_reviewers_who_send_files_get_the_explanation(api, application, knowledge, user):
    before = len(api.sent(user))
    document = send_file(api, user, "egen-rutin.txt", b"En rutin som inte ska sparas.")
    reply = next_reply(api, user, before)
    assert text_of(reply) == bot_texts.NOT_TEXT
    assert get_file_calls(api, document["file_id"]) == []
    assert not (knowledge / "egen-rutin.txt").exists()


def test_a_file_sent_in_a_group_is_ignored_even_from_an_admin(api, application, knowledge):
    before = len(api.sent(GROUP))
    mention = f"@{BOT['username']}"
    document = send_file(
        api,
        ADMIN,
        "grupprutin.txt",
        b"En rutin skickad i gruppen.",
        chat_id=GROUP,
        caption=f"{mention} spara den här",
        caption_entities=[{"type": "mention", "offset": 0, "length": len(mention)}],
    )
    api.send(STAFF, "/help", GROUP)  # a later message that is answered: the file came first
    api.wait_sent(GROUP, before + 1)
    settle()
    assert len(api.sent(GROUP)) == before + 1  # only the help
    assert get_file_calls(api, document["file_id"]) == []
    assert not (knowledge / "grupprutin.txt").exists()


def test_the_summary_still_arrives_when_telegram_refuses_or_delays_edits(api, application):
    # A flood-limit 429 on the first edit is waited out (the app's rate limiter retries it).
    api.fail_next("editMessageText", 429, retry_after=1)
    _, reply = _upload_and_wait(
        api, "kort-rutin-1.txt", "Kort rutin ett om nyckelskåpet.\n".encode()
    )
    edits = wait_summary(api, ADMIN, reply.result["message_id"])
    assert "Tillagda:\n• kort-rutin-1.txt" in text_of(edits[-1])

    # The progress message can no longer be edited (deleted, say): the summary comes anew.
    api.fail_next("editMessageText", 400)
    before = len(api.sent(ADMIN))
    _, reply = _upload_and_wait(api, "kort-rutin-2.txt", b"Kort rutin tva om larmkoden.\n")

    def summary(calls):
        return next((c for c in api.sent(ADMIN, calls)[before + 1 :] if ended(text_of(c))), None)

    final = api.wait(summary, REINDEX_TIMEOUT)
    assert text_of(final).startswith("📄 kort-rutin-2.txt är sparat.\n\n✅ Omindexeringen är klar")
    assert edits_of(api, ADMIN, reply.result["message_id"]) == []  # not one edit got through


# -- removing and restoring -----------------------------------------------------------------------


def test_tabort_asks_first_then_removes_and_the_fact_is_no_longer_cited(
    api, application, knowledge
):
    assert (knowledge / "kvallsmottagning.docx").exists()
    question = command(api, ADMIN, "/tabort kvallsmottagning.docx")
    assert text_of(question) == "Ta bort kvallsmottagning.docx?"
    assert set(buttons(question)) == {bot_texts.REMOVE_YES, bot_texts.REMOVE_NO}

    assert press(api, ADMIN, question, bot_texts.REMOVE_YES).get("text") is None
    edits = wait_summary(api, ADMIN, question.result["message_id"])
    assert text_of(edits[0]).startswith("🗑 kvallsmottagning.docx är borttaget")
    assert "Borttagna:\n• kvallsmottagning.docx" in text_of(edits[-1])
    assert not (knowledge / "kvallsmottagning.docx").exists()
    assert DOCX_FACT not in ask(api, DOCX_QUESTION)

    # The same confirmation again (a double tap): used once, so "expired".
    query_id = api.press(ADMIN, message_of(api, question), buttons(question)[bot_texts.REMOVE_YES])
    assert answer_of(api, query_id)["text"] == bot_texts.EXPIRED


def test_papperskorg_restores_a_removed_document(api, application, knowledge):
    listing = command(api, ADMIN, "/papperskorg")
    assert "kvallsmottagning.docx – borttaget" in text_of(listing)
    label = bot_texts.RESTORE_BUTTON.format(name="kvallsmottagning.docx")
    assert press(api, ADMIN, listing, label).get("text") is None
    edits = wait_summary(api, ADMIN, listing.result["message_id"])
    assert text_of(edits[0]).startswith("♻️ kvallsmottagning.docx är återställt.")
    assert "kvallsmottagning.docx" in text_of(edits[-1])
    assert (knowledge / "kvallsmottagning.docx").exists()
    assert DOCX_FACT in ask(api, DOCX_QUESTION)


def test_tabort_without_a_name_offers_the_documents_as_buttons(api, application, knowledge):
    listing = command(api, ADMIN, "/tabort")
    assert text_of(listing) == bot_texts.REMOVE_PICK
    assert "anhorigstod.txt" in buttons(listing)
    press(api, ADMIN, listing, "anhorigstod.txt")
    asked = message_of(api, listing)
    assert asked["text"] == "Ta bort anhorigstod.txt?"
    press(api, ADMIN, listing, bot_texts.REMOVE_NO)
    assert message_of(api, listing)["text"] == bot_texts.CANCELLED
    assert (knowledge / "anhorigstod.txt").exists()


def test_tabort_of_an_unknown_name_says_so(api, application):
    reply = command(api, ADMIN, "/tabort finns-inte.pdf")
    assert text_of(reply).startswith("Det finns inget dokument som heter finns-inte.pdf")


# -- replacing ------------------------------------------------------------------------------------


def _upload_and_wait(api, name: str, content: bytes):
    """The admin sends a file; returns its document and the bot's reply."""
    before = len(api.sent(ADMIN))
    document = send_file(api, ADMIN, name, content)
    reply = next_reply(api, ADMIN, before)
    return document, reply


def test_replacing_asks_first_and_only_ersatt_replaces(api, application, knowledge):
    name = "nattpatrull.txt"
    _, first = _upload_and_wait(api, name, f"Nattpatrull\n\n{OLD_FACT}\n".encode())
    wait_summary(api, ADMIN, first.result["message_id"])
    assert OLD_FACT in ask(api, PATROL_QUESTION)

    new = f"Nattpatrull\n\n{NEW_FACT}\n".encode()
    _, confirm = _upload_and_wait(api, name, new)
    assert "Det finns redan ett dokument som heter nattpatrull.txt" in text_of(confirm)
    assert set(buttons(confirm)) == {bot_texts.REPLACE_BUTTON, bot_texts.CANCEL_BUTTON}
    press(api, ADMIN, confirm, bot_texts.CANCEL_BUTTON)
    assert message_of(api, confirm)["text"] == bot_texts.CANCELLED
    assert OLD_FACT in (knowledge / name).read_text(encoding="utf-8")
    # "Ersätt" under the answered question: used up with "Avbryt".
    query_id = api.press(
        ADMIN, message_of(api, confirm), buttons(confirm)[bot_texts.REPLACE_BUTTON]
    )
    assert answer_of(api, query_id)["text"] == bot_texts.EXPIRED

    document, confirm = _upload_and_wait(api, name, new)
    press(api, ADMIN, confirm, bot_texts.REPLACE_BUTTON)
    edits = wait_summary(api, ADMIN, confirm.result["message_id"])
    assert any(text_of(e) == "Hämtar filen igen …" for e in edits)
    assert any(text_of(e).startswith("📄 nattpatrull.txt är ersatt") for e in edits)
    assert "Ersatta:\n• nattpatrull.txt" in text_of(edits[-1])
    assert len(get_file_calls(api, document["file_id"])) == 2  # once, and again on "Ersätt"
    assert (knowledge / name).read_bytes() == new
    answer = ask(api, PATROL_QUESTION)
    assert NEW_FACT in answer and OLD_FACT not in answer


def test_the_same_content_under_another_name_is_recognised(api, application, knowledge):
    content = (knowledge / "anhorigstod.txt").read_bytes()
    _, reply = _upload_and_wait(api, "kopia.txt", content)
    assert text_of(reply) == "Dokumentet finns redan som anhorigstod.txt."
    assert not (knowledge / "kopia.txt").exists()


# -- buttons: roles and forged data ---------------------------------------------------------------


def _swap_roles(application, admins: tuple[int, ...], staff: tuple[int, ...]) -> None:
    """As if the bot had been restarted with these admins and staff (the role of a press is
    looked up anew each time, in the settings the handlers share)."""
    services = application.bot_data["services"]
    telegram = dataclasses.replace(services.settings.telegram, admins=admins, staff=staff)
    settings = services.settings.replace(telegram=telegram)
    application.bot_data["services"] = dataclasses.replace(services, settings=settings)


def test_a_button_pressed_after_the_admin_was_demoted_is_refused(api, application, knowledge):
    question = command(api, ADMIN, "/tabort anhorigstod.txt")
    _swap_roles(application, admins=(OTHER_ADMIN,), staff=(STAFF, ADMIN))  # demoted to staff
    try:
        params = press(api, ADMIN, question, bot_texts.REMOVE_YES)
    finally:
        _swap_roles(application, admins=(ADMIN, OTHER_ADMIN), staff=(STAFF,))
    assert params["text"] == bot_texts.ADMINS_ONLY_TOAST
    assert (knowledge / "anhorigstod.txt").exists()
    assert message_of(api, question)["text"] == "Ta bort anhorigstod.txt?"  # untouched
    press(api, ADMIN, question, bot_texts.REMOVE_NO)


def test_forged_admin_buttons_are_expired(api, application, knowledge):
    question = command(api, ADMIN, "/tabort anhorigstod.txt")
    key = callbacks.parse_admin(buttons(question)[bot_texts.REMOVE_YES])[1]
    message = message_of(api, question)
    forged = [
        callbacks.admin_data(callbacks.REMOVE, "AAAAAAAA"),  # a key never made
        "adm:zz:1",  # an action that does not exist
        "adm:dp:x",  # a page that is no number
        "adm:rm:",
    ]
    for data in forged:
        answer = answer_of(api, api.press(ADMIN, message, data))
        assert answer["text"] == bot_texts.EXPIRED, data
        assert answer["show_alert"] in (True, "true")
    # Another admin pressing this admin's confirmation (in their own chat): expired too.
    theirs = {**message, "chat": {"id": OTHER_ADMIN, "type": "private"}}
    query_id = api.press(OTHER_ADMIN, theirs, callbacks.admin_data(callbacks.REMOVE, key))
    assert answer_of(api, query_id)["text"] == bot_texts.EXPIRED
    assert (knowledge / "anhorigstod.txt").exists()
    press(api, ADMIN, question, bot_texts.REMOVE_NO)  # still the admin's own to answer


def test_document_commands_are_for_admins_in_private_chats(api, application):
    for user in (STAFF, REVIEWER):
        for text in ("/dokument", "/tabort anhorigstod.txt", "/reindex", "/papperskorg"):
            assert text_of(command(api, user, text)) == bot_texts.ADMINS_ONLY
    before = len(api.sent(GROUP))
    api.send(ADMIN, "/dokument", GROUP)
    assert text_of(next_reply(api, GROUP, before)) == bot_texts.ADMIN_PRIVATE_ONLY


# -- reindex and the document list ----------------------------------------------------------------


def test_reindex_reports_a_running_reindex_instead_of_starting_another(api, application):
    before = len(api.sent(ADMIN))
    api.send(ADMIN, "/reindex")
    api.send(ADMIN, "/reindex")
    replies = api.wait_sent(ADMIN, before + 2, timeout=60)[before : before + 2]
    # Handled concurrently: either may be the one that started it.
    first, second = sorted(replies, key=lambda c: text_of(c) != bot_texts.REINDEX_STARTED)
    assert text_of(first) == bot_texts.REINDEX_STARTED
    assert text_of(second).startswith("En omindexering pågår redan, startad av telegram:5301")
    edits = wait_summary(api, ADMIN, first.result["message_id"])
    assert "Inga dokument ändrades." in text_of(edits[-1])


def test_dokument_lists_documents_a_page_at_a_time(api, application, knowledge):
    for n in range(9):
        (knowledge / f"extra-{n}.txt").write_text(f"Extra rutin nummer {n}.\n", encoding="utf-8")
    try:
        count = len(application.bot_data["admin"].service.documents())
        assert admin_views.PAGE_SIZE < count <= 2 * admin_views.PAGE_SIZE
        listing = command(api, ADMIN, "/dokument")
        text = text_of(listing)
        assert text.startswith(f"Dokument ({count} st, sida 1 av 2)")
        assert "Anhorigstod\nanhorigstod.txt · indexerat · 1 passage\n" in text
        assert "Extra 0\nextra-0.txt · väntar på omindexering" in text
        assert set(buttons(listing)) == {bot_texts.PAGE_NEXT}
        press(api, ADMIN, listing, bot_texts.PAGE_NEXT)
        page = message_of(api, listing)
        assert page["text"].startswith(f"Dokument ({count} st, sida 2 av 2)")
        assert "Rutin för lex Sarah\nrutin-lex-sarah.md · indexerat · 2 passager" in page["text"]
        assert [b["text"] for row in page["reply_markup"]["inline_keyboard"] for b in row] == [
            bot_texts.PAGE_BACK
        ]
    finally:
        for n in range(9):
            (knowledge / f"extra-{n}.txt").unlink()


def test_the_trash_is_emptied_daily_while_the_bot_runs(application, caplog):
    [job] = application.job_queue.get_jobs_by_name(PURGE_TRASH_JOB)
    assert job.job.trigger.interval == timedelta(days=1)
    caplog.set_level(logging.INFO)
    asyncio.run(admin.purge_trash_job(CallbackContext(application)))
    assert "emptied 0 old entries from the document trash" in caplog.text  # none 30 days old


# -- what is shown --------------------------------------------------------------------------------


def test_a_long_summary_fits_one_message():
    names = tuple(f"{'mycket-langt-dokumentnamn-' * 4}{n}.pdf" for n in range(300))
    summary = ReindexSummary(
        added=names, removed=names, skipped=tuple((n, "oläslig " * 40) for n in names)
    )
    status = ReindexStatus(JobState.DONE, summary=summary)
    text = admin_views.summary_text(status)
    assert admin_views.visible(text) <= 4096 - 200
    assert "… och " in text and text.endswith("Passager i indexet: 0.")


def test_progress_says_the_phase_how_far_and_how_long():
    status = ReindexStatus(
        JobState.RUNNING,
        started_by="telegram:5301",
        phase="embedding",
        documents_read=10,
        documents_total=10,
        passages_embedded=40,
        passages_total=120,
        eta_seconds=130,
    )
    assert parse_html(admin_views.progress_text(status)) == (
        "⏳ Omindexering pågår (startad av telegram:5301)\nBeräknar passagerna …\n"
        "Dokument: 10 av 10\nPassager: 40 av 120\nKlart om cirka 2 min"
    )


def test_a_failed_reindex_says_why_in_swedish():
    status = ReindexStatus(JobState.FAILED, error="boom", error_sv="Indexmappen är full <disk>.")
    text = admin_views.summary_text(status)
    assert parse_html(text) == "❌ Omindexeringen misslyckades: Indexmappen är full <disk>."


def test_the_follower_waits_for_its_own_run_and_any_follow_up():
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    started = ReindexStatus(JobState.RUNNING, started_at=t0)
    earlier = ReindexStatus(JobState.DONE, started_at=t0 - timedelta(minutes=5))
    assert not admin_views.finished(earlier, started)  # the last run's file, not yet rewritten
    assert not admin_views.finished(dataclasses.replace(started, follow_up=True), started)
    done = ReindexStatus(JobState.DONE, started_at=t0, summary=ReindexSummary())
    assert not admin_views.finished(dataclasses.replace(done, follow_up=True), started)
    assert admin_views.finished(done, started)
    assert admin_views.finished(dataclasses.replace(done, state=JobState.FAILED), started)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("adm:dp:2", ("dp", "2")),
        ("adm:rm:Ab3_x9Qz", ("rm", "Ab3_x9Qz")),
        ("adm:dp:x", None),
        ("adm:rm:a:b", None),
        ("adm:zz:1", None),
        ("adm:rm:", None),
        ("gap:list", None),
        (None, None),
    ],
)
def test_admin_callback_data_is_parsed_strictly(raw, parsed):
    assert callbacks.parse_admin(raw) == parsed
