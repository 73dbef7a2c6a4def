"""Reviewer commands: /luckor lists knowledge-gap themes; its buttons open and resolve them.

Only reviewers and admins, and only in a private chat (the questions are not for a whole
group). The role is checked again at every button press: a button is just data, and a staff
member can press one in a forwarded message or an old chat.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.adapters.tgbot import render, texts
from bot.adapters.tgbot.access import Role, role_of
from bot.adapters.tgbot.handlers import Services, services
from bot.gaps.report import nearest_passages, summaries
from bot.gaps.store import GapsError
from bot.gaps.themes import assign_themes

log = logging.getLogger(__name__)

TOP_THEMES = 10
OPEN_STATUSES = ("open", "in_progress")
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
    rows = [r for r in summaries(s.recorder, OPEN_STATUSES) if r.count]
    rows.sort(key=lambda r: (-r.count, -r.last_seen.timestamp()))
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


def _role(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Role:
    user, chat = update.effective_user, update.effective_chat
    return role_of(user.id, chat.id, services(context).settings.telegram)


async def gaps_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/luckor: the open themes with the most questions, a button for each."""
    message = update.effective_message
    if _role(update, context) < Role.REVIEWER:
        log.info("update %s: /luckor refused", update.update_id)
        await message.reply_html(texts.REVIEWERS_ONLY)
        return
    if update.effective_chat.type != Chat.PRIVATE:
        await message.reply_html(texts.PRIVATE_ONLY)
        return
    text, markup = await asyncio.to_thread(list_view, services(context))
    await message.reply_html(text, reply_markup=markup)


async def gap_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /luckor buttons: open a theme, resolve or reopen it, go back to the list."""
    query = update.callback_query
    if _role(update, context) < Role.REVIEWER or update.effective_chat.type != Chat.PRIVATE:
        log.info("update %s: reviewer button refused", update.update_id)
        await query.answer(texts.REVIEWERS_ONLY_TOAST, show_alert=True)
        return
    parsed = parse(query.data)
    if parsed is None:
        await query.answer(texts.EXPIRED, show_alert=True)
        return
    s = services(context)
    action, theme_id = parsed
    toast = None
    try:
        if action in (RESOLVE, REOPEN):
            status, toast = NEW_STATUS[action]
            by = f"telegram:{update.effective_user.username or update.effective_user.id}"
            await asyncio.to_thread(s.recorder.set_theme_status, theme_id, status, by=by)
        view = None if action == LIST else await asyncio.to_thread(theme_view, s, theme_id)
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
