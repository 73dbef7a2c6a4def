"""Run the real Telegram application (as `rutinbot telegram` builds it) against the fake Bot API."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fake_bot_api import TOKEN, Call, FakeBotAPI
from sqlmodel import Session, select

from bot.adapters.tgbot.app import build_application, serve
from bot.config import Settings, TelegramSettings
from bot.gaps.store import SqlRecorder
from bot.gaps.tables import Feedback, Question


def settings_for(base: Settings, api: FakeBotAPI, **telegram: object) -> Settings:
    """`base` with a [telegram] table pointing at the fake Bot API."""
    return base.replace(
        telegram=TelegramSettings(
            base_url=api.base_url, base_file_url=api.base_file_url, **telegram
        )
    )


def sql_recorder(folder: Path) -> SqlRecorder:
    """The store `rutinbot telegram` records into, on a SQLite file of its own."""
    return SqlRecorder(f"sqlite:///{folder}/gaps.db", key_file=folder / "pseudonym.key")


def recorded(recorder: SqlRecorder, table: type = Question) -> list:
    """Every row of a table (questions by default), oldest first."""
    order = Question.asked_at if table is Question else Feedback.given_at
    with Session(recorder.engine) as session:
        return list(session.exec(select(table).order_by(order, table.id)).all())


@contextmanager
def running_bot(
    settings: Settings,
    answerer: object,
    recorder: SqlRecorder,
    *,
    token: str = TOKEN,
    webhook_secret: str | None = None,
) -> Iterator[object]:
    """Serve the bot in a thread of its own, as the CLI would, until the block ends."""
    application = build_application(settings, answerer, recorder, token)
    state: dict = {}
    started = threading.Event()

    async def main() -> None:
        state["loop"] = asyncio.get_running_loop()
        state["stop"] = asyncio.Event()
        started.set()
        await serve(application, settings, state["stop"], webhook_secret)

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as err:  # re-raised in the test's thread
            state["error"] = err
            started.set()

    thread = threading.Thread(target=target, name="rutinbot-telegram", daemon=True)
    thread.start()
    started.wait(10)
    try:
        deadline = time.monotonic() + 30
        while not application.running and "error" not in state:  # polling, or webhook listening
            assert time.monotonic() < deadline, "the bot did not start"
            time.sleep(0.01)
        yield application
    finally:
        loop = state.get("loop")
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(state["stop"].set)
        thread.join(30)
        assert not thread.is_alive(), "the bot did not stop"
        if "error" in state:
            raise state["error"]


def buttons(call: Call) -> dict[str, str]:
    """Button label -> callback data of a sent message."""
    markup = call.params.get("reply_markup") or {}
    return {b["text"]: b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row}


def texts(calls: list[Call]) -> list[str]:
    """What the chat shows: the parsed text (or caption) of each message."""
    return [c.result.get("text") or c.result.get("caption", "") for c in calls]


def wait_answer(api: FakeBotAPI, chat_id: int, since: int = 0, timeout: float = 20) -> list[Call]:
    """The messages of the next answer in a chat: all sent after `since`, up to its buttons."""

    def ready(calls: list[Call]) -> list[Call] | None:
        sent = api.sent(chat_id, calls)[since:]
        for i, call in enumerate(sent):
            if call.params.get("reply_markup"):
                return sent[: i + 1]
        return None

    return api.wait(ready, timeout)


def message_of(api: FakeBotAPI, call: Call) -> dict:
    """The message as it is now (after edits), for pressing its buttons."""
    result = call.result
    return api.messages[(result["chat"]["id"], result["message_id"])]


def press_and_wait(api: FakeBotAPI, user_id: int, call: Call, label: str) -> tuple[str, Call]:
    """Tap a button under a sent message; returns the query id and the callback answer."""
    query_id = api.press(user_id, message_of(api, call), buttons(call)[label])
    answer = api.wait(
        lambda calls: next(
            (
                c
                for c in calls
                if c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query_id
            ),
            None,
        )
    )
    return query_id, answer


def settle(seconds: float = 0.3) -> None:
    """Give the bot a moment in which it must *not* do something (used sparingly)."""
    time.sleep(seconds)
