"""Telegram handlers: each does Telegram work only; answering and recording live in the core."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Awaitable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.adapters.tgbot import callbacks, render, texts
from bot.adapters.tgbot.access import Role, role_of
from bot.adapters.tgbot.callbacks import ButtonStore, Pending
from bot.answer.core import Answerer
from bot.config import Settings
from bot.errors import QuestionError, RutinbotError
from bot.gaps.store import SqlRecorder
from bot.models import Answer
from bot.privacy import redact

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_SECTION_MESSAGES = 2  # a longer section comes as a file, not a flood of messages
TYPING_EVERY = 4.5  # seconds; Telegram shows "typing" for about five
T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """What the handlers share, built once and kept in `application.bot_data`."""

    settings: Settings
    answerer: Answerer
    recorder: SqlRecorder  # records questions and feedback; reviewers read its gap themes
    buttons: ButtonStore
    # Grouping gaps into themes reads, then writes: two reviewers at once would make a theme twice.
    themes_lock: threading.Lock = field(default_factory=threading.Lock)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.bot_data["services"]


def addressed(message: Message, bot: Bot) -> bool:
    """Whether a message is meant for the bot: any private message; in groups a mention,
    a reply to the bot, or a command without another bot's name."""
    if message.chat.type == Chat.PRIVATE:
        return True
    reply = message.reply_to_message
    if reply and reply.from_user and reply.from_user.id == bot.id:
        return True
    username = (bot.username or "").lower()
    entities = {**message.parse_entities(), **message.parse_caption_entities()}
    for entity, text in entities.items():
        if entity.type == MessageEntity.MENTION and text[1:].lower() == username:
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id:
            return True
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            target = text.partition("@")[2].lower()
            if target in ("", username):
                return True
    return False


def question_text(message: Message, bot: Bot) -> str:
    """The message text without the @mention that addressed the bot."""
    text = message.text or ""
    if bot.username:
        text = re.sub(rf"@{re.escape(bot.username)}\b", " ", text, flags=re.IGNORECASE)
    return text


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: ignore what isn't for the bot, refuse who may not use it."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        raise ApplicationHandlerStop
    if update.message and not addressed(update.message, context.bot):
        raise ApplicationHandlerStop
    settings = services(context).settings.telegram
    if role_of(user.id, chat.id, settings) is not Role.NONE:
        return
    log.info("update %s: refused user %s in chat %s", update.update_id, user.id, chat.id)
    if update.callback_query:
        await update.callback_query.answer(texts.REFUSED_TOAST, show_alert=True)
    elif update.message:
        await update.message.reply_html(texts.REFUSED.format(user_id=user.id))
    raise ApplicationHandlerStop


async def help_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start, /help and any unknown command."""
    text = texts.HELP
    user, chat = update.effective_user, update.effective_chat
    if chat.type != Chat.PRIVATE:
        text += texts.GROUP_HINT.format(username=render.esc(context.bot.username or ""))
    elif role_of(user.id, chat.id, services(context).settings.telegram) >= Role.REVIEWER:
        text += texts.REVIEWER_HELP
    await update.effective_message.reply_html(text)


async def sources_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/kallor: the documents the bot knows, with dates."""
    info = await asyncio.to_thread(services(context).answerer.info)
    for part in render.sources_messages(info):
        await update.effective_message.reply_html(part)


async def about_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/om: version, index date, encoder."""
    info = await asyncio.to_thread(services(context).answerer.info)
    await update.effective_message.reply_html(render.about_message(info))


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Voice, photos, stickers, files: explain instead of staying silent."""
    user, chat = update.effective_user, update.effective_chat
    role = role_of(user.id, chat.id, services(context).settings.telegram)
    await update.message.reply_html(texts.NOT_TEXT_ADMIN if role >= Role.ADMIN else texts.NOT_TEXT)


async def _typing(chat: Chat, work: Awaitable[T]) -> T:
    """Await `work` while the chat shows "typing"."""
    task = asyncio.ensure_future(work)
    while True:
        with suppress(TelegramError):  # the indicator is a courtesy; never fail an answer on it
            await chat.send_chat_action(ChatAction.TYPING)
        done, _ = await asyncio.wait({task}, timeout=TYPING_EVERY)
        if done:
            return task.result()


def keyboard(pending: Pending, key: str) -> InlineKeyboardMarkup | None:
    rows = []
    if pending.feedback:
        rows.append(
            [
                InlineKeyboardButton(
                    "👍 Hjälpte", callback_data=callbacks.encode(callbacks.HELPFUL, key)
                ),
                InlineKeyboardButton(
                    "👎 Hjälpte inte", callback_data=callbacks.encode(callbacks.UNHELPFUL, key)
                ),
            ]
        )
    more = []
    if pending.more:
        more.append(
            InlineKeyboardButton("Fler källor", callback_data=callbacks.encode(callbacks.MORE, key))
        )
    if pending.section_chunk is not None:
        more.append(
            InlineKeyboardButton(
                "Visa hela avsnittet", callback_data=callbacks.encode(callbacks.SECTION, key)
            )
        )
    if more:
        rows.append(more)
    return InlineKeyboardMarkup(rows) if rows else None


async def _send_answer(
    context: ContextTypes.DEFAULT_TYPE,
    reply_to: Message,
    answer: Answer,
    pending: Pending,
    first: int,
) -> None:
    """Send an answer's messages; the buttons go under the last one."""
    key = services(context).buttons.put(pending)
    parts = render.answer_messages(answer, first=first)
    for i, part in enumerate(parts):
        markup = keyboard(pending, key) if i == len(parts) - 1 else None
        await reply_to.reply_html(part, reply_markup=markup)


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A question: answer it off the event loop, record it, send the passages with buttons."""
    s = services(context)
    message = update.message
    started = time.monotonic()
    # Redacted before anything else sees it: search, the recorder, the button store.
    question = redact(s.answerer.check_question(question_text(message, context.bot)))
    answer = await _typing(message.chat, asyncio.to_thread(s.answerer.answer, question))
    record_id = await asyncio.to_thread(
        s.recorder.record_question, CHANNEL, str(update.effective_user.id), question, answer
    )
    pending = Pending(
        question=question,
        record_id=record_id,
        index_id=answer.index_id,
        shown=len(answer.citations),
        section_chunk=answer.citations[0].chunk_id if answer.citations else None,
        more=len(answer.citations) >= s.settings.answer.citations,
    )
    log.info(
        "update %s: answered=%s with %d passages in %.2fs",
        update.update_id,
        answer.answered,
        len(answer.citations),
        time.monotonic() - started,
    )
    await _send_answer(context, message, answer, pending, first=1)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every answer button. The query is always answered, so no button spins forever."""
    query = update.callback_query
    decoded = callbacks.decode(query.data)
    pending = services(context).buttons.get(decoded[1]) if decoded else None
    if pending is None:
        log.info("update %s: expired or unknown button", update.update_id)
        await query.answer(texts.EXPIRED, show_alert=True)
        with suppress(BadRequest):  # old messages can't always be edited
            await query.edit_message_reply_markup(None)
        return
    action, key = decoded
    if action in (callbacks.HELPFUL, callbacks.UNHELPFUL):
        toast = await _feedback(context, query, pending, key, action == callbacks.HELPFUL)
    elif action == callbacks.MORE:
        toast = await _more(context, query, pending, key)
    else:
        toast = await _section(context, query, pending)
    await query.answer(toast)
    log.info("update %s: button %s", update.update_id, action)


async def _update_buttons(query: CallbackQuery, pending: Pending, key: str) -> None:
    with suppress(BadRequest):  # "message is not modified" or too old to edit
        await query.edit_message_reply_markup(keyboard(pending, key))


async def _feedback(
    context: ContextTypes.DEFAULT_TYPE,
    query: CallbackQuery,
    pending: Pending,
    key: str,
    helpful: bool,
) -> str:
    if not pending.feedback:
        return texts.ALREADY_VOTED
    pending.feedback = False  # before any await, so a double tap records once
    await asyncio.to_thread(services(context).recorder.record_feedback, pending.record_id, helpful)
    await _update_buttons(query, pending, key)
    return texts.HELPFUL_THANKS if helpful else texts.UNHELPFUL_THANKS


async def _more(
    context: ContextTypes.DEFAULT_TYPE, query: CallbackQuery, pending: Pending, key: str
) -> str | None:
    s = services(context)
    if not pending.more:
        return texts.NO_MORE
    pending.more = False
    work = asyncio.to_thread(s.answerer.answer, pending.question, offset=pending.shown)
    answer = await _typing(query.message.chat, work)
    await _update_buttons(query, pending, key)
    if not answer.citations:
        return texts.NO_MORE
    following = Pending(
        question=pending.question,
        record_id=pending.record_id,
        index_id=answer.index_id,
        shown=pending.shown + len(answer.citations),
        section_chunk=answer.citations[0].chunk_id,
        feedback=False,  # feedback belongs to the answer, asked for under its first message
        more=len(answer.citations) >= s.settings.answer.citations,
    )
    await _send_answer(context, query.message, answer, following, first=pending.shown + 1)
    return None


async def _section(
    context: ContextTypes.DEFAULT_TYPE, query: CallbackQuery, pending: Pending
) -> str | None:
    answerer = services(context).answerer
    chunks = await asyncio.to_thread(answerer.section, pending.section_chunk, pending.index_id)
    parts = render.section_messages(chunks)
    if len(parts) <= MAX_SECTION_MESSAGES:
        for part in parts:
            await query.message.reply_html(part, do_quote=False)
        return None
    heading = render.clip(render.section_heading(chunks), 300)
    name = f"{Path(chunks[0].document).stem}-avsnitt.txt"
    await query.message.reply_document(
        InputFile(render.section_text(chunks).encode("utf-8"), filename=name),
        caption=texts.SECTION_AS_FILE.format(heading=render.esc(heading)),
        do_quote=False,
    )
    return None


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the update id (never the update: it holds the question) and tell the user briefly."""
    error = context.error
    if not isinstance(update, Update):
        if isinstance(error, NetworkError):  # polling will retry; no traceback for a blip
            log.warning("Telegram not reachable (%s); retrying", error)
        else:
            log.error("error outside an update", exc_info=error)
        return
    if isinstance(error, QuestionError):
        log.info("update %s: question refused: %s", update.update_id, error)
    elif isinstance(error, RutinbotError):
        log.warning("update %s failed: %s", update.update_id, error)
    else:
        log.error("update %s failed", update.update_id, exc_info=error)
    reply = error.sv if isinstance(error, RutinbotError) else texts.ERROR
    with suppress(TelegramError):
        if update.callback_query:
            await update.callback_query.answer(
                render.clip(reply, render.MAX_TOAST), show_alert=True
            )
        elif update.effective_message:
            await update.effective_message.reply_html(render.esc(reply))
