"""Wire the Telegram bot in one place (`build_application`) and run it (`serve`, `run`)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import signal
from urllib.parse import urlsplit

from telegram import Bot, BotCommand, BotCommandScopeChat, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.adapters.tgbot import admin, callbacks, handlers, reviewers
from bot.adapters.tgbot.callbacks import ButtonStore
from bot.adapters.tgbot.retry import RetryingRequest
from bot.admin.audit import AuditLog
from bot.admin.documents import AdminService
from bot.answer.core import Answerer
from bot.asking import AskService
from bot.config import Settings, TelegramSettings
from bot.errors import ConfigError, RutinbotError
from bot.gaps.grouping import ThemeJob
from bot.gaps.outbox import Outbox
from bot.gaps.store import SqlRecorder

log = logging.getLogger(__name__)

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
COMMANDS = [
    BotCommand("help", "Hjälp och exempel på frågor"),
    BotCommand("kallor", "Dokumenten jag svarar ur"),
    BotCommand("om", "Version och kunskapsbankens datum"),
]
REVIEWER_COMMANDS = [*COMMANDS, BotCommand("luckor", "Kunskapsluckor: obesvarade frågor per tema")]
ADMIN_COMMANDS = [
    *REVIEWER_COMMANDS,
    BotCommand("dokument", "Dokumenten i kunskapsbanken"),
    BotCommand("tabort", "Ta bort ett dokument"),
    BotCommand("reindex", "Indexera om dokumenten"),
    BotCommand("papperskorg", "Borttagna dokument: återställ"),
]
PURGE_JOB = "purge"
PURGE_TRASH_JOB = "purge-trash"
_SECRET_CHARS = re.compile(r"[A-Za-z0-9_-]{1,256}")


def read_token() -> str:
    """The bot token, from the environment only."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            f"{TOKEN_ENV} is not set: create a bot with @BotFather and export its token "
            "(see docs/telegram.md)"
        )
    return token


def read_webhook_secret() -> str:
    """$TELEGRAM_WEBHOOK_SECRET, or a random one: the webhook is registered anew at each start."""
    secret = os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        return secrets.token_urlsafe(32)
    if not _SECRET_CHARS.fullmatch(secret):
        raise ConfigError(f"{SECRET_ENV} must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    return secret


def build_application(
    settings: Settings, answerer: Answerer, recorder: SqlRecorder, token: str
) -> Application:
    """The whole bot: every handler registered here and nowhere else."""
    tg = settings.telegram
    application = (
        Application.builder()
        .token(token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .rate_limiter(AIORateLimiter(max_retries=3))  # waits out Telegram's 429 retry_after
        .request(RetryingRequest())  # and its 5xx, with backoff
        .concurrent_updates(64)  # one slow question must not hold up everyone else's
        .defaults(
            # Every text the bot sends is HTML, and every piece of it is escaped in render.py.
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .build()
    )
    outbox = Outbox(recorder)
    asking = AskService(answerer, outbox, themes=ThemeJob(recorder, answerer.encoder))
    application.bot_data["services"] = handlers.Services(
        settings, answerer, recorder, ButtonStore(), outbox, asking
    )
    # The audit log shares the recorder's database (and engine).
    application.bot_data["admin"] = admin.Desk(AdminService(settings, AuditLog(recorder.engine)))

    application.add_handler(TypeHandler(Update, handlers.gate), group=-1)
    application.add_handler(CommandHandler(["start", "help"], handlers.help_cmd))
    application.add_handler(CommandHandler("kallor", handlers.sources_cmd))
    application.add_handler(CommandHandler("om", handlers.about_cmd))
    application.add_handler(CommandHandler("luckor", reviewers.gaps_cmd))
    application.add_handler(CommandHandler("dokument", admin.documents_cmd))
    application.add_handler(CommandHandler("tabort", admin.remove_cmd))
    application.add_handler(CommandHandler("reindex", admin.reindex_cmd))
    application.add_handler(CommandHandler("papperskorg", admin.trash_cmd))
    application.add_handler(MessageHandler(filters.COMMAND, handlers.help_cmd))
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, handlers.ask))
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.Document.ALL, admin.document)
    )
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, handlers.not_text))
    application.add_handler(CallbackQueryHandler(reviewers.gap_button, pattern=reviewers.PATTERN))
    application.add_handler(CallbackQueryHandler(admin.button, pattern=callbacks.ADMIN_PATTERN))
    application.add_handler(CallbackQueryHandler(handlers.button))
    application.add_error_handler(handlers.on_error)
    if settings.database.retention_days or settings.admin.trash_days:
        # PTB's job queue runs on the bot's event loop from application.start() to stop().
        job_queue = application.job_queue
        if job_queue is None:  # PTB leaves it out without its optional APScheduler dependency
            raise RutinbotError(
                "deleting old questions and emptying the trash need python-telegram-bot's job "
                "queue: install python-telegram-bot[job-queue]"
            )
        if settings.database.retention_days:
            job_queue.run_repeating(
                reviewers.purge_job,
                interval=reviewers.PURGE_EVERY,
                first=reviewers.PURGE_FIRST,
                name=PURGE_JOB,
            )
        if settings.admin.trash_days:
            job_queue.run_repeating(
                admin.purge_trash_job,
                interval=reviewers.PURGE_EVERY,
                first=reviewers.PURGE_FIRST,
                name=PURGE_TRASH_JOB,
            )
    return application


async def _set_commands(bot: Bot, tg: TelegramSettings) -> None:
    """The command menu: everyone's, one with /luckor in each reviewer's private chat, and one
    with the document commands too in each admin's."""
    try:
        await bot.set_my_commands(COMMANDS)
    except TelegramError as err:
        log.warning("could not set the command menu: %s", err)
        return
    menus = {user_id: REVIEWER_COMMANDS for user_id in tg.reviewers}
    menus.update({user_id: ADMIN_COMMANDS for user_id in tg.admins})
    for user_id, commands in menus.items():
        try:
            await bot.set_my_commands(commands, scope=BotCommandScopeChat(user_id))
        except TelegramError as err:  # "chat not found" until they have written to the bot
            log.info("no command menu for user %s yet: %s", user_id, err)


def _polling_error(error: TelegramError) -> None:
    log.warning("polling failed (%s); retrying", error)


async def serve(
    application: Application,
    settings: Settings,
    stop: asyncio.Event,
    webhook_secret: str | None = None,
) -> None:
    """Run until `stop` is set: long polling, or a webhook that checks Telegram's secret token."""
    tg = settings.telegram
    updater = application.updater
    if updater is None:  # build_application always makes one; an application without cannot serve
        raise RutinbotError("the Telegram application has no updater to receive updates with")
    try:
        await application.initialize()  # getMe: checks the token
    except InvalidToken:
        raise ConfigError(
            f"Telegram rejected the bot token in {TOKEN_ENV}: check it with @BotFather"
        ) from None
    except NetworkError as err:
        host = urlsplit(tg.base_url).netloc
        reason = str(err).replace(application.bot.token, "[TOKEN]")
        raise RutinbotError(f"cannot reach the Telegram Bot API at {host}: {reason}") from None
    try:
        await _set_commands(application.bot, tg)
        if tg.mode == "webhook":
            await updater.start_webhook(
                listen=tg.webhook_listen,
                port=tg.webhook_port,
                url_path=urlsplit(tg.webhook_url).path,
                webhook_url=tg.webhook_url,
                secret_token=webhook_secret or read_webhook_secret(),
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, error_callback=_polling_error
            )
        await application.start()
        log.info("running as @%s (%s)", application.bot.username, tg.mode)
        await stop.wait()
    finally:
        application.bot_data["admin"].close()  # progress messages stop being edited
        if updater.running:
            await updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        # Off the event loop: the queue may wait for a database that is away (logged if so).
        s = application.bot_data["services"]
        await asyncio.to_thread(s.outbox.close)
        await asyncio.to_thread(s.asking.themes.close)  # after the last gap was written


class HideSecret(logging.Filter):
    """Replaces a secret in every log line and traceback, should anything ever log it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "[TOKEN]"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = record.exc_text.replace(self.secret, "[TOKEN]")
        return True


def quiet_logs(token: str) -> None:
    """Keep the token and questions out of the logs: httpx logs URLs (which hold the token) at
    INFO, python-telegram-bot logs whole updates at DEBUG."""
    for name in ("httpx", "httpcore", "tornado.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.addFilter(HideSecret(token))


def run(settings: Settings, answerer: Answerer, recorder: SqlRecorder, token: str) -> None:
    """`rutinbot telegram`: build the bot and serve until SIGINT or SIGTERM."""
    quiet_logs(token)
    application = build_application(settings, answerer, recorder, token)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(application, settings, stop)

    try:
        asyncio.run(main())
    except OSError as err:  # e.g. the webhook port is taken
        raise RutinbotError(f"cannot start the bot: {err}") from None
