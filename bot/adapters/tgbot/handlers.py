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
from bot.adapters.tgbot.access import (
    ADMINS,
    EVERYONE,
    MEMBERS,
    Role,
    allow,
    allowed_roles,
    handler_for,
    role_of,
)
from bot.adapters.tgbot.callbacks import ButtonStore, Pending
from bot.answer.core import Answerer
from bot.asking import AskService, UnknownAnswerError
from bot.config import Settings
from bot.errors import QuestionError, RutinbotError
from bot.gaps.outbox import Outbox
from bot.gaps.store import SqlRecorder
from bot.models import Answer

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
    recorder: SqlRecorder  # reviewers read its gap themes
    buttons: ButtonStore
    outbox: Outbox  # records questions and feedback, queued while the database is away
    asking: AskService  # checks, redacts, answers, records and pages every question
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


GATE_GROUP = -1  # the gate's handler group: it runs before the handlers it guards


def _refused_by(
    update: Update, context: ContextTypes.DEFAULT_TYPE, role: Role
) -> frozenset[Role] | None:
    """None when every handler that will take this update declared `role` as allowed; else the
    roles the refusing handler allows (none when it declared none).

    One place checks every handler: a handler that declared no roles refuses everyone.
    """
    groups = context.application.handlers
    for group in sorted(g for g in groups if g > GATE_GROUP):
        handler = handler_for(update, groups[group])
        if handler is None:
            continue
        roles = allowed_roles(handler.callback)
        if roles is None:
            log.error("handler %s declares no allowed roles: refused", handler.callback.__name__)
            return frozenset()
        if role not in roles:
            return roles
    return None


@allow(EVERYONE)
async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: ignore what isn't for the bot, refuse who may not use it."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        raise ApplicationHandlerStop
    if update.message and not addressed(update.message, context.bot):
        raise ApplicationHandlerStop
    role = role_of(user.id, chat.id, services(context).settings.telegram)
    refused_by = _refused_by(update, context, role)
    if role is not Role.NONE and refused_by is None:
        return
    admins_only = refused_by == ADMINS  # the document commands and buttons
    log.info(
        "update %s: refused user %s (%s) in chat %s", update.update_id, user.id, role.name, chat.id
    )
    if role is Role.NONE:
        if update.callback_query:
            await update.callback_query.answer(texts.REFUSED_TOAST, show_alert=True)
        elif update.message:
            await update.message.reply_html(texts.REFUSED.format(user_id=user.id))
    elif update.callback_query:
        toast = texts.ADMINS_ONLY_TOAST if admins_only else texts.REVIEWERS_ONLY_TOAST
        await update.callback_query.answer(toast, show_alert=True)
    elif update.message:
        await update.message.reply_html(texts.ADMINS_ONLY if admins_only else texts.REVIEWERS_ONLY)
    raise ApplicationHandlerStop


@allow(MEMBERS)
async def help_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start, /help and any unknown command."""
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    if user is None or chat is None or message is None:
        return
    text = texts.HELP
    if chat.type != Chat.PRIVATE:
        text += texts.GROUP_HINT.format(username=render.esc(context.bot.username or ""))
    else:
        role = role_of(user.id, chat.id, services(context).settings.telegram)
        text += texts.REVIEWER_HELP if role >= Role.REVIEWER else ""
        text += texts.ADMIN_HELP if role >= Role.ADMIN else ""
    await message.reply_html(text)


@allow(MEMBERS)
async def sources_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/kallor: the documents the bot knows, with dates."""
    message = update.effective_message
    if message is None:
        return
    info = await asyncio.to_thread(services(context).answerer.info)
    for part in render.sources_messages(info):
        await message.reply_html(part)


@allow(MEMBERS)
async def about_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/om: version, index date, encoder."""
    message = update.effective_message
    if message is None:
        return
    info = await asyncio.to_thread(services(context).answerer.info)
    await message.reply_html(render.about_message(info))


@allow(MEMBERS)
async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Voice, photos, stickers, files: explain instead of staying silent."""
    user, chat, message = update.effective_user, update.effective_chat, update.message
    if user is None or chat is None or message is None:
        return
    role = role_of(user.id, chat.id, services(context).settings.telegram)
    await message.reply_html(texts.NOT_TEXT_ADMIN if role >= Role.ADMIN else texts.NOT_TEXT)


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
    if pending.section is not None:
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


@allow(MEMBERS)
async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A question: answer it off the event loop, record it, send the passages with buttons."""
    user, message = update.effective_user, update.message
    if user is None or message is None:
        return
    s = services(context)
    started = time.monotonic()
    work = asyncio.to_thread(
        s.asking.ask,
        question_text(message, context.bot),
        channel=CHANNEL,
        asker=str(user.id),
    )
    asked = await _typing(message.chat, work)
    if asked.ticket is not None:
        await s.outbox.settle(asked.ticket)  # briefly, and only while the database keeps up
    answer = asked.answer
    pending = Pending(
        record_id=asked.record_id,
        shown=asked.shown,
        section=1 if answer.citations else None,
        more=asked.more,
        asker=user.id,
    )
    log.info(
        "update %s: answered=%s with %d passages in %.2fs",
        update.update_id,
        answer.answered,
        len(answer.citations),
        time.monotonic() - started,
    )
    await _send_answer(context, message, asked.first_page, pending, first=1)


@allow(MEMBERS)
async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every answer button. The query is always answered, so no button spins forever."""
    query = update.callback_query
    if query is None:
        return
    decoded = callbacks.decode(query.data)
    pending = services(context).buttons.get(decoded[1]) if decoded is not None else None
    if decoded is None or pending is None:
        log.info("update %s: expired or unknown button", update.update_id)
        await query.answer(texts.EXPIRED, show_alert=True)
        with suppress(BadRequest):  # old messages can't always be edited
            await query.edit_message_reply_markup(None)
        return
    if pending.asker != query.from_user.id:
        # Someone else's answer (in a group, or forged data): the buttons act for its asker
        # alone. Told as "expired", so a guessed id is not confirmed; their buttons stay.
        log.info("update %s: button of another user's answer refused", update.update_id)
        await query.answer(texts.EXPIRED, show_alert=True)
        return
    action, key = decoded
    message = query.message
    # Replies go under the answer's message: one too old for the bot to see is "expired".
    if not isinstance(message, Message):
        log.info("update %s: button of an inaccessible message refused", update.update_id)
        await query.answer(texts.EXPIRED, show_alert=True)
        return
    toast: str | None
    try:
        if action in (callbacks.HELPFUL, callbacks.UNHELPFUL):
            toast = await _feedback(context, query, pending, key, action == callbacks.HELPFUL)
        elif action == callbacks.MORE:
            toast = await _more(context, query, message, pending, key)
        elif pending.section is not None:
            toast = await _section(context, query, message, pending, pending.section)
        else:  # forged: "Visa hela avsnittet" under an answer that offered none
            log.info("update %s: section button without a section refused", update.update_id)
            await query.answer(texts.EXPIRED, show_alert=True)
            return
    except UnknownAnswerError:  # the service no longer holds the answer (or never did)
        log.info("update %s: button of an unknown answer refused", update.update_id)
        await query.answer(texts.EXPIRED, show_alert=True)
        return
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
    s = services(context)
    asker = str(query.from_user.id)
    ticket = await asyncio.to_thread(
        s.asking.feedback, pending.record_id, asker, helpful, channel=CHANNEL
    )
    if ticket is not None:
        await s.outbox.settle(ticket)
    await _update_buttons(query, pending, key)
    return texts.HELPFUL_THANKS if helpful else texts.UNHELPFUL_THANKS


async def _more(
    context: ContextTypes.DEFAULT_TYPE,
    query: CallbackQuery,
    message: Message,
    pending: Pending,
    key: str,
) -> str | None:
    s = services(context)
    if not pending.more:
        return texts.NO_MORE
    pending.more = False
    asker = str(query.from_user.id)
    work = asyncio.to_thread(
        s.asking.more, pending.record_id, asker, pending.shown, channel=CHANNEL
    )
    answer = await _typing(message.chat, work)
    await _update_buttons(query, pending, key)
    if not answer.citations:
        return texts.NO_MORE
    following = Pending(
        record_id=pending.record_id,
        shown=pending.shown + len(answer.citations),
        section=pending.shown + 1,
        feedback=False,  # feedback belongs to the answer, asked for under its first message
        more=s.asking.has_more(answer),
        asker=pending.asker,
    )
    await _send_answer(context, message, answer, following, first=pending.shown + 1)
    return None


async def _section(
    context: ContextTypes.DEFAULT_TYPE,
    query: CallbackQuery,
    message: Message,
    pending: Pending,
    citation: int,
) -> str | None:
    asking = services(context).asking
    asker = str(query.from_user.id)
    found = await asyncio.to_thread(
        asking.section, pending.record_id, asker, citation, channel=CHANNEL
    )
    chunks = list(found.chunks)
    parts = render.section_messages(chunks)
    if len(parts) <= MAX_SECTION_MESSAGES:
        for part in parts:
            await message.reply_html(part, do_quote=False)
        return None
    heading = render.clip(found.heading, 300)
    name = f"{Path(found.document).stem}-avsnitt.txt"
    await message.reply_document(
        InputFile(found.text.encode("utf-8"), filename=name),
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
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        # Telegram timed out or could not be reached while the answer was sent: the answer
        # may well have arrived (a timed-out send is often delivered), and an apology would
        # meet the same network. Say nothing rather than "something went wrong".
        log.warning(
            "update %s: Telegram not reachable while answering (%s)",
            update.update_id,
            type(error).__name__,
        )
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
