"""Reviewer commands: /luckor lists knowledge-gap themes; its buttons open and resolve them.

Only reviewers and admins (declared with @allow, enforced by the gate for commands and every
button press alike: a button is just data, and a staff member can press one in a forwarded
message or an old chat), and only in a private chat (the questions are not for a whole group).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.adapters.tgbot import render, texts
from bot.adapters.tgbot.access import REVIEWERS, allow
from bot.adapters.tgbot.handlers import Services, services
from bot.gaps.records import GapsError
from bot.gaps.report import nearest_passages, summaries
from bot.gaps.statuses import ACTIVE_STATUSES
from bot.gaps.themes import assign_themes

log = logging.getLogger(__name__)

TOP_THEMES = 10
PURGE_FIRST = timedelta(minutes=1)  # soon after start, once the bot is up
PURGE_EVERY = timedelta(days=1)

# Callback data: "gap:<action>[:<theme id>]", far below Telegram's 64 bytes.
PREFIX = "gap:"
PATTERN = r"^gap:"
LIST, OPEN, RESOLVE, REOPEN = "list", "open", "done", "undo"
NEW_STATUS = {RESOLVE: ("resolved", texts.THEME_RESOLVED), REOPEN: ("open", texts.THEME_REOPENED)}


def data(action: str, theme_id: int | None = None) -> str:
    return f"{PREFIX}{action}" if theme_id is None else f"{PREFIX}{action}:{theme_id}"


def parse(raw: str | None) -> tuple[str, int | None] | None:
    """(action, theme id) from callback data, or None for data this module did not make."""
    action, _, number = (raw or "").removeprefix(PREFIX).partition(":")
    if action == LIST and not number:
        return action, None
    if action in (OPEN, RESOLVE, REOPEN) and number.isdigit():
        return action, int(number)
    return None


# -- views: (HTML, buttons), built off the event loop -----------------------------------------


def list_view(s: Services) -> tuple[str, InlineKeyboardMarkup | None]:
    """Group new gaps into themes first (the encoder runs here), then the busiest open themes."""
    with s.themes_lock:
        if s.recorder.gaps(unthemed=True, limit=1):
            moved = assign_themes(s.recorder, s.answerer.encoder)
            log.info("grouped %s new gaps into themes", moved)
    rows = [r for r in summaries(s.recorder, ACTIVE_STATUSES) if r.count]
    # A theme with questions has a last one; 0.0 only keeps the key total.
    rows.sort(key=lambda r: (-r.count, -(r.last_seen.timestamp() if r.last_seen else 0.0)))
    rows = rows[:TOP_THEMES]
    buttons = [
        [
            InlineKeyboardButton(
                f"#{r.id} ({r.count}) {render.clip(r.name, 40)}", callback_data=data(OPEN, r.id)
            )
        ]
        for r in rows
    ]
    return render.themes_message(rows), InlineKeyboardMarkup(buttons) if buttons else None


def theme_view(s: Services, theme_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    """One theme with its questions, or None when it no longer exists (merged or deleted)."""
    theme = s.recorder.theme(theme_id)
    if theme is None:
        return None
    gaps = s.recorder.gaps(theme_id=theme_id)
    if theme.status == "resolved":
        toggle = InlineKeyboardButton("Öppna igen", callback_data=data(REOPEN, theme_id))
    else:
        toggle = InlineKeyboardButton("Markera löst", callback_data=data(RESOLVE, theme_id))
    markup = InlineKeyboardMarkup(
        [[toggle, InlineKeyboardButton("Tillbaka", callback_data=data(LIST))]]
    )
    return render.theme_message(theme, gaps, nearest_passages(gaps)), markup


# -- handlers ---------------------------------------------------------------------------------


@allow(REVIEWERS)
async def gaps_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/luckor: the open themes with the most questions, a button for each."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    if chat.type != Chat.PRIVATE:
        await message.reply_html(texts.PRIVATE_ONLY)
        return
    text, markup = await asyncio.to_thread(list_view, services(context))
    await message.reply_html(text, reply_markup=markup)


@allow(REVIEWERS)
async def gap_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /luckor buttons: open a theme, resolve or reopen it, go back to the list."""
    user, chat, query = update.effective_user, update.effective_chat, update.callback_query
    if query is None:
        return
    if user is None or chat is None or chat.type != Chat.PRIVATE:
        log.info("update %s: reviewer button refused", update.update_id)
        await query.answer(texts.REVIEWERS_ONLY_TOAST, show_alert=True)
        return
    parsed = parse(query.data)
    action, theme_id = parsed if parsed is not None else (None, None)
    # Data this module did not make, or a theme action without its theme (never passed on).
    if action is None or (action != LIST and theme_id is None):
        await query.answer(texts.EXPIRED, show_alert=True)
        return
    s = services(context)
    toast: str | None = None
    view: tuple[str, InlineKeyboardMarkup | None] | None = None
    try:
        if theme_id is not None and action in (RESOLVE, REOPEN):
            status, toast = NEW_STATUS[action]
            by = f"telegram:{user.username or user.id}"
            await asyncio.to_thread(s.recorder.set_theme_status, theme_id, status, by=by)
        if theme_id is not None and action != LIST:
            view = await asyncio.to_thread(theme_view, s, theme_id)
    except GapsError:  # the theme was merged or deleted since the list was shown
        view = None
    if view is None and action != LIST:
        toast = texts.THEME_GONE
    if view is None:
        view = await asyncio.to_thread(list_view, s)
    await _show(query, *view)
    await query.answer(toast, show_alert=toast == texts.THEME_GONE)
    log.info("update %s: reviewer button %s", update.update_id, action)


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as err:
        if "not modified" not in str(err):  # a double tap; anything else is a bug to see
            raise


# -- retention --------------------------------------------------------------------------------


async def purge_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Daily: delete questions older than [database] retention_days. Never stops the bot."""
    s = services(context)
    days = s.settings.database.retention_days
    try:
        purged = await asyncio.to_thread(s.recorder.purge, days)
    except Exception:
        log.exception("purging questions older than %s days failed; trying again tomorrow", days)
        return
    log.info("purged %s questions older than %s days", purged, days)
