"""Document administration in Telegram: admins send files and use /dokument, /tabort, /reindex
and /papperskorg in a private chat.

Only Telegram work is done here (download, buttons, one progress message edited in place);
`AdminService` saves, removes, restores and reindexes, and its errors carry the Swedish text
shown. Every command and button is declared for admins alone, so the gate checks the role again
at every press: an admin demoted since a button was shown is refused. A file sent by staff or a
reviewer gets the usual "text only" explanation; a file sent in a group is ignored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from telegram import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.adapters.tgbot import callbacks, texts
from bot.adapters.tgbot.access import ADMINS, MEMBERS, Role, allow, role_of
from bot.adapters.tgbot.admin_views import (
    PAGE_SIZE,
    documents_text,
    follow,
    page_buttons,
    pages,
)
from bot.adapters.tgbot.callbacks import Choice, KeyedStore
from bot.adapters.tgbot.handlers import services
from bot.adapters.tgbot.render import clip, esc
from bot.admin.documents import AdminService
from bot.admin.model import (
    Actor,
    AdminError,
    ConfirmReplaceError,
    DocState,
    ReindexStatus,
)
from bot.admin.upload import check_name

log = logging.getLogger(__name__)

CHANNEL = "telegram"
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # bytes: the Bot API lets a bot download no larger file
_MB = 1024 * 1024


@dataclass
class Desk:
    """What the admin handlers share, kept in `application.bot_data["admin"]`."""

    service: AdminService
    # Confirmations and document buttons, per admin, for an hour; lost on restart ("expired").
    choices: KeyedStore[Choice] = field(
        default_factory=lambda: KeyedStore[Choice](max_items=2000, ttl=callbacks.ADMIN_TTL)
    )
    # Progress messages being kept up to date: strong references, cancelled on shutdown.
    followers: set[asyncio.Task[None]] = field(default_factory=set)

    def close(self) -> None:
        for task in list(self.followers):
            task.cancel()


def desk(context: ContextTypes.DEFAULT_TYPE) -> Desk:
    return context.bot_data["admin"]


def actor(user: User) -> Actor:
    return Actor(CHANNEL, f"telegram:{user.id}")


async def _private(update: Update) -> Message | None:
    """The message of a command in a private chat; elsewhere told where to go instead."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or update.effective_user is None:
        return None
    if chat.type != Chat.PRIVATE:
        await message.reply_html(texts.ADMIN_PRIVATE_ONLY)
        return None
    return message


def _start_following(
    context: ContextTypes.DEFAULT_TYPE, message: Message, header: str, started: ReindexStatus
) -> None:
    """Keep `message` showing the reindex's progress, then its summary, without holding up the
    handler (a reindex takes minutes)."""
    d = desk(context)
    task = asyncio.create_task(
        follow(context.bot, d.service, message.chat_id, message.message_id, header, started)
    )
    d.followers.add(task)
    task.add_done_callback(d.followers.discard)


async def _reindex_after(
    context: ContextTypes.DEFAULT_TYPE, user: User, message: Message, header: str, edit: bool
) -> None:
    """Start (or queue) the reindex a change needs and show its progress under `header`."""
    service = desk(context).service
    started = await asyncio.to_thread(service.reindex_after_change, actor(user))
    first = texts.REINDEX_QUEUED if started.follow_up else texts.REINDEX_STARTED
    text = f"{header}\n\n{first}"
    if edit:
        shown = await message.edit_text(text, reply_markup=None)
        target = shown if isinstance(shown, Message) else message
    else:
        target = await message.reply_html(text)
    _start_following(context, target, header, started)


# -- files ------------------------------------------------------------------------------------


@allow(MEMBERS)
async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A file: an admin's in a private chat is saved and indexed; staff get the explanation."""
    user, chat, message = update.effective_user, update.effective_chat, update.message
    if user is None or chat is None or message is None or message.document is None:
        return
    if chat.type != Chat.PRIVATE:
        log.info("update %s: file in a group ignored", update.update_id)
        return
    if role_of(user.id, chat.id, services(context).settings.telegram) < Role.ADMIN:
        await message.reply_html(texts.NOT_TEXT)
        return
    doc = message.document
    if doc.file_size is not None and doc.file_size > DOWNLOAD_LIMIT:
        log.info("update %s: file of %s bytes too big to download", update.update_id, doc.file_size)
        await message.reply_html(texts.TOO_BIG.format(size=_megabytes(doc.file_size)))
        return
    try:
        check_name(doc.file_name or "")  # the service's own rule, before a useless download
    except AdminError as err:
        await message.reply_html(esc(err.sv))
        return
    await _save(context, user, message, doc.file_id, doc.file_name or "", replace=False)


def _megabytes(size: int) -> str:
    return f"{size / _MB:.1f}".replace(".", ",")


async def _save(
    context: ContextTypes.DEFAULT_TYPE,
    user: User,
    message: Message,
    file_id: str,
    name: str,
    *,
    replace: bool,
) -> None:
    """Download the file, hand it to the service, and reindex. With `replace`, `message` is the
    bot's confirmation, edited in place; otherwise the admin's file, replied to."""

    async def say(text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        if replace:
            await message.edit_text(text, reply_markup=markup)
        else:
            await message.reply_html(text, reply_markup=markup)

    try:
        telegram_file = await context.bot.get_file(file_id)
        content = bytes(await telegram_file.download_as_bytearray())
    except BadRequest as err:
        log.info("file download refused: %s", err)
        too_big = "too big" in str(err).lower()
        await say(texts.TOO_BIG.format(size="över 20") if too_big else texts.DOWNLOAD_FAILED)
        return
    except TelegramError as err:
        log.warning("file download failed: %s", err)
        await say(texts.DOWNLOAD_FAILED)
        return
    d = desk(context)
    try:
        added = await asyncio.to_thread(d.service.add, actor(user), name, content, replace=replace)
    except ConfirmReplaceError as err:
        key = d.choices.put(Choice(user.id, err.name, file_id))
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts.REPLACE_BUTTON,
                        callback_data=callbacks.admin_data(callbacks.REPLACE, key),
                    ),
                    InlineKeyboardButton(
                        texts.CANCEL_BUTTON,
                        callback_data=callbacks.admin_data(callbacks.CANCEL, key),
                    ),
                ]
            ]
        )
        await say(esc(err.sv), markup)
        return
    except AdminError as err:
        log.info("upload refused: %s", type(err).__name__)
        await say(esc(err.sv))
        return
    header = (texts.REPLACED if added.replaced else texts.SAVED).format(name=esc(added.name))
    log.info("saved a document of %s bytes (replaced=%s)", added.size, added.replaced)
    await _reindex_after(context, user, message, header, edit=replace)


# -- commands ---------------------------------------------------------------------------------


@allow(ADMINS)
async def documents_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/dokument: every document with its title, state and passages, a page at a time."""
    message = await _private(update)
    if message is None:
        return
    text, markup = await _documents_page(context, 0)
    await message.reply_html(text, reply_markup=markup)


async def _documents_page(
    context: ContextTypes.DEFAULT_TYPE, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    docs = await asyncio.to_thread(desk(context).service.documents)
    page = min(page, pages(len(docs)) - 1)
    rows = page_buttons(callbacks.DOCS_PAGE, page, len(docs))
    return documents_text(docs, page), InlineKeyboardMarkup(rows) if rows else None


async def _pick_page(
    context: ContextTypes.DEFAULT_TYPE, user: User, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """/tabort without a name: a button for each document that can be removed."""
    d = desk(context)
    docs = [x for x in await asyncio.to_thread(d.service.documents) if x.state != DocState.REMOVED]
    if not docs:
        return texts.NO_DOCUMENTS, None
    page = min(page, pages(len(docs)) - 1)
    rows = [
        [
            InlineKeyboardButton(
                clip(doc.name, 60),
                callback_data=callbacks.admin_data(
                    callbacks.PICK, d.choices.put(Choice(user.id, doc.name))
                ),
            )
        ]
        for doc in docs[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    ]
    rows += page_buttons(callbacks.PICK_PAGE, page, len(docs))
    return texts.REMOVE_PICK, InlineKeyboardMarkup(rows)


def _confirm_removal(d: Desk, user: User, name: str) -> tuple[str, InlineKeyboardMarkup]:
    key = d.choices.put(Choice(user.id, name))
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.REMOVE_YES, callback_data=callbacks.admin_data(callbacks.REMOVE, key)
                ),
                InlineKeyboardButton(
                    texts.REMOVE_NO, callback_data=callbacks.admin_data(callbacks.CANCEL, key)
                ),
            ]
        ]
    )
    return texts.REMOVE_QUESTION.format(name=esc(name)), markup


@allow(ADMINS)
async def remove_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/tabort NAME: "Ta bort NAME?" with Ja/Nej; /tabort alone: pick the document first."""
    message = await _private(update)
    user = update.effective_user
    if message is None or user is None:
        return
    wanted = (message.text or "").partition(" ")[2].strip()
    if not wanted:
        text, markup = await _pick_page(context, user, 0)
        await message.reply_html(text, reply_markup=markup)
        return
    d = desk(context)
    docs = [x for x in await asyncio.to_thread(d.service.documents) if x.state != DocState.REMOVED]
    found = next((x.name for x in docs if x.name == wanted), None)
    if found is None:  # as typed on a phone: any case
        matches = [x.name for x in docs if x.name.casefold() == wanted.casefold()]
        found = matches[0] if len(matches) == 1 else None
    if found is None:
        await message.reply_html(texts.NO_SUCH_DOCUMENT.format(name=esc(clip(wanted, 120))))
        return
    text, markup = _confirm_removal(d, user, found)
    await message.reply_html(text, reply_markup=markup)


@allow(ADMINS)
async def reindex_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reindex: start a reindex and show its progress; when one runs, who started it."""
    message = await _private(update)
    user = update.effective_user
    if message is None or user is None:
        return
    service = desk(context).service
    try:
        started = await asyncio.to_thread(service.reindex, actor(user))
    except AdminError as err:  # ReindexBusyError: who started it and how far it is
        await message.reply_html(esc(err.sv))
        return
    shown = await message.reply_html(texts.REINDEX_STARTED)
    _start_following(context, shown, "", started)


@allow(ADMINS)
async def trash_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/papperskorg: removed documents, newest first, each with a button to restore it."""
    message = await _private(update)
    user = update.effective_user
    if message is None or user is None:
        return
    d = desk(context)
    entries = sorted(await asyncio.to_thread(d.service.trash), key=lambda e: e.removed_at)
    entries.reverse()
    if not entries:
        await message.reply_html(texts.TRASH_EMPTY)
        return
    shown = entries[:PAGE_SIZE]
    lines = [texts.TRASH_HEADING]
    lines += [
        "• "
        + texts.TRASH_LINE.format(
            name=esc(clip(e.name, 100)),
            at=e.removed_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            by=esc(clip(e.removed_by, 60)),
        )
        for e in shown
    ]
    rows = [
        [
            InlineKeyboardButton(
                texts.RESTORE_BUTTON.format(name=clip(e.name, 50)),
                callback_data=callbacks.admin_data(
                    callbacks.RESTORE, d.choices.put(Choice(user.id, e.id))
                ),
            )
        ]
        for e in shown
    ]
    await message.reply_html("\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


# -- buttons ----------------------------------------------------------------------------------


@allow(ADMINS)
async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every admin button. The gate has checked the role again; here the data is checked:
    what this bot did not make, or made for another admin, is "expired"."""
    user, chat, query = update.effective_user, update.effective_chat, update.callback_query
    if query is None:
        return
    parsed = callbacks.parse_admin(query.data)
    message = query.message
    if (
        parsed is None
        or user is None
        or chat is None
        or chat.type != Chat.PRIVATE
        or not isinstance(message, Message)
    ):
        await _expired(update, query)
        return
    action, argument = parsed
    if action == callbacks.DOCS_PAGE:
        text, markup = await _documents_page(context, int(argument))
        await _show(message, text, markup)
        await query.answer()
        return
    if action == callbacks.PICK_PAGE:
        text, markup = await _pick_page(context, user, int(argument))
        await _show(message, text, markup)
        await query.answer()
        return
    d = desk(context)
    choice = d.choices.get(argument)
    # One-time buttons: taken, so a second tap (or the other of Ja/Nej) finds nothing.
    if choice is None or choice.user_id != user.id or d.choices.take(argument) is None:
        await _expired(update, query)
        return
    try:
        await _act(context, user, message, action, choice)
    except AdminError as err:  # e.g. removed meanwhile, or its name taken since
        # The class only: the English text names the document, and a name can name a person.
        log.info(
            "update %s: admin button %s refused: %s", update.update_id, action, type(err).__name__
        )
        await _show(message, esc(err.sv), None)
    await query.answer()  # after the message shows the outcome
    log.info("update %s: admin button %s", update.update_id, action)


async def _act(
    context: ContextTypes.DEFAULT_TYPE, user: User, message: Message, action: str, choice: Choice
) -> None:
    d = desk(context)
    if action == callbacks.CANCEL:
        await _show(message, texts.CANCELLED, None)
    elif action == callbacks.PICK:
        text, markup = _confirm_removal(d, user, choice.name)
        await _show(message, text, markup)
    elif action == callbacks.REMOVE:
        entry = await asyncio.to_thread(d.service.remove, actor(user), choice.name)
        header = texts.REMOVED.format(name=esc(entry.name))
        await _reindex_after(context, user, message, header, edit=True)
    elif action == callbacks.RESTORE:
        name = await asyncio.to_thread(d.service.restore, actor(user), choice.name)
        header = texts.RESTORED.format(name=esc(name))
        await _reindex_after(context, user, message, header, edit=True)
    elif action == callbacks.REPLACE and choice.file_id is not None:
        await _show(message, texts.DOWNLOADING, None)
        await _save(context, user, message, choice.file_id, choice.name, replace=True)


async def _expired(update: Update, query: CallbackQuery) -> None:
    log.info("update %s: expired or unknown admin button", update.update_id)
    await query.answer(texts.EXPIRED, show_alert=True)


async def _show(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await message.edit_text(text, reply_markup=markup)
    except BadRequest as err:
        if "not modified" not in str(err):  # a double tap; anything else is a bug to see
            raise


# -- jobs -------------------------------------------------------------------------------------


async def purge_trash_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Daily: empty trash entries older than [admin] trash_days. Never stops the bot."""
    try:
        purged = await asyncio.to_thread(desk(context).service.purge_trash)
    except Exception:
        log.exception("emptying the document trash failed; trying again tomorrow")
        return
    log.info("emptied %s old entries from the document trash", purged)
