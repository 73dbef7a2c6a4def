"""What the admin commands show: document pages, reindex progress and summary (escaped HTML),
and the one progress message kept up to date within Telegram's edit limits."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram import Bot, InlineKeyboardButton
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot.adapters.tgbot import callbacks, texts
from bot.adapters.tgbot.render import MAX_MESSAGE, clip, esc, visible
from bot.admin.model import DocState, DocumentInfo, JobState, ReindexStatus, ReindexSummary

if TYPE_CHECKING:
    from bot.admin.documents import AdminService

log = logging.getLogger(__name__)

PAGE_SIZE = 8  # documents a page: with long titles and reasons still far below 4096
EDIT_EVERY = 3.0  # seconds between edits of one message: well within Telegram's limits
POLL_EVERY = 1.0  # seconds between reads of the progress file
FOLLOW_AT_MOST = 6 * 3600.0  # then the message says to look again with /reindex
_BUDGET = MAX_MESSAGE - 200  # room for the header above a summary


def pages(count: int) -> int:
    return max(1, math.ceil(count / PAGE_SIZE))


def page_buttons(action: str, page: int, count: int) -> list[list[InlineKeyboardButton]]:
    """◀ ▶ under a paged list, only where there is a page to go to."""
    row = []
    if page > 0:
        row.append(
            InlineKeyboardButton(
                texts.PAGE_BACK, callback_data=callbacks.admin_data(action, page - 1)
            )
        )
    if page < pages(count) - 1:
        row.append(
            InlineKeyboardButton(
                texts.PAGE_NEXT, callback_data=callbacks.admin_data(action, page + 1)
            )
        )
    return [row] if row else []


def _document(doc: DocumentInfo) -> str:
    state = texts.DOC_STATE.get(doc.state.value, doc.state.value)
    facts = [esc(clip(doc.name, 100)), state]
    if doc.chunks is not None:
        facts.append(texts.ONE_PASSAGE if doc.chunks == 1 else texts.PASSAGES.format(n=doc.chunks))
    line = f"<b>{esc(clip(doc.title or doc.name, 100))}</b>\n" + " · ".join(facts)
    if doc.state == DocState.SKIPPED and doc.reason:
        line += f"\n<i>{esc(clip(doc.reason, 200))}</i>"
    return line


def documents_text(docs: Sequence[DocumentInfo], page: int) -> str:
    if not docs:
        return texts.NO_DOCUMENTS
    heading = texts.DOCUMENTS_HEADING.format(count=len(docs), page=page + 1, pages=pages(len(docs)))
    shown = docs[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    return "\n\n".join([heading, *(_document(d) for d in shown)])


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if minutes < 10 and rest else f"{minutes} min"


def _eta(seconds: float) -> str:
    """Whole minutes: an estimate, and a text that changes (and is edited) less often."""
    return texts.ETA_SECONDS if seconds < 60 else f"cirka {round(seconds / 60)} min"


def progress_text(status: ReindexStatus) -> str:
    by = texts.PROGRESS_BY.format(by=esc(status.started_by)) if status.started_by else ""
    lines = [texts.PROGRESS.format(by=by)]
    phase = texts.PROGRESS_PHASE.get(status.phase)
    if phase:
        lines.append(f"{phase} …")
    if status.documents_total:
        lines.append(
            texts.PROGRESS_DOCUMENTS.format(
                done=status.documents_read, total=status.documents_total
            )
        )
    if status.passages_total:
        lines.append(
            texts.PROGRESS_PASSAGES.format(
                done=status.passages_embedded, total=status.passages_total
            )
        )
    if status.eta_seconds is not None:
        lines.append(texts.PROGRESS_ETA.format(eta=_eta(status.eta_seconds)))
    return "\n".join(lines)


def _fit(lines: list[str], budget: int = _BUDGET) -> list[str]:
    """As many lines as fit the budget; a last one says how many were left out."""
    kept: list[str] = []
    for i, line in enumerate(lines):
        if visible("\n".join([*kept, line])) > budget - 40:
            kept.append(f"… och {len(lines) - i} till")
            break
        kept.append(line)
    return kept


def summary_text(status: ReindexStatus) -> str:
    """The end of a reindex: what changed, what was skipped and why, gaps now answered."""
    if status.state is JobState.FAILED:
        reason = status.error_sv or texts.FAILED_REASON
        return texts.FAILED.format(reason=esc(clip(reason, 1000)))
    s = status.summary or ReindexSummary()
    lines = [texts.DONE.format(seconds=_duration(s.seconds))]
    for label, names in (
        (texts.SUMMARY_ADDED, s.added),
        (texts.SUMMARY_REPLACED, s.replaced),
        (texts.SUMMARY_REMOVED, s.removed),
    ):
        if names:
            lines.append(f"<b>{label}:</b>")
            lines += [f"• {esc(clip(n, 100))}" for n in names]
    if s.skipped:
        lines.append(f"<b>{texts.SUMMARY_SKIPPED}:</b>")
        lines += [f"• {esc(clip(n, 100))} – {esc(clip(r, 200))}" for n, r in s.skipped]
    if not (s.added or s.replaced or s.removed or s.skipped):
        lines.append(texts.SUMMARY_NOTHING)
    ending = [texts.SUMMARY_COUNTS.format(unchanged=s.unchanged, passages=s.passages)]
    if s.answered_now is not None:
        ending.append(texts.SUMMARY_ANSWERED.format(n=s.answered_now))
    room = _BUDGET - visible("\n".join(ending))
    return "\n".join([*_fit(lines, room), *ending])


def finished(status: ReindexStatus, started: ReindexStatus) -> bool:
    """Whether the run `started` stood for (or the follow-up run queued then) has ended.

    A follow-up run goes on in the same process with the same start time; until the new run
    has written its file, the old run's file may still be read, which started earlier."""
    if status.state not in (JobState.DONE, JobState.FAILED) or status.follow_up:
        return False
    if started.started_at is None or status.started_at is None:
        return True
    return status.started_at >= started.started_at


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _join(header: str, body: str) -> str:
    return f"{header}\n\n{body}" if header else body


async def follow(
    bot: Bot,
    service: AdminService,
    chat_id: int,
    message_id: int,
    header: str,
    started: ReindexStatus,
) -> None:
    """Edit one message with the reindex's progress (only when its text changes, at most every
    EDIT_EVERY seconds, pausing for Telegram's 429), then replace it with the summary."""
    shown = ""
    next_edit = time.monotonic() + EDIT_EVERY  # the message was just sent
    deadline = time.monotonic() + FOLLOW_AT_MOST
    editable = True
    try:
        while True:
            status = await asyncio.to_thread(service.status)
            if finished(status, started):
                final = _join(header, summary_text(status))
                break
            if time.monotonic() > deadline:
                final = _join(header, texts.STILL_RUNNING)
                break
            text = _join(header, progress_text(status))
            now = time.monotonic()
            if editable and text != shown and now >= next_edit:
                next_edit = now + EDIT_EVERY
                try:
                    await bot.edit_message_text(text, chat_id, message_id)
                    shown = text
                except RetryAfter as err:  # what the rate limiter gave up on: wait it out
                    next_edit = now + _seconds(err.retry_after)
                except BadRequest as err:
                    if "not modified" in str(err):
                        shown = text
                    else:  # deleted, or too old: the summary comes as a new message
                        log.info("progress message can no longer be edited: %s", err)
                        editable = False
                except TelegramError as err:  # a network blip: the next edit may get through
                    log.warning("could not edit the progress message: %s", err)
            await asyncio.sleep(POLL_EVERY)
        await _final(bot, chat_id, message_id, final, editable)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("following the reindex failed")


async def _final(bot: Bot, chat_id: int, message_id: int, text: str, editable: bool) -> None:
    for _ in range(3):
        try:
            if editable:
                await bot.edit_message_text(text, chat_id, message_id)
            else:
                await bot.send_message(chat_id, text)
            return
        except RetryAfter as err:
            await asyncio.sleep(_seconds(err.retry_after))
        except BadRequest as err:
            if "not modified" in str(err):
                return
            if not editable:
                raise
            editable = False  # the summary still reaches the admin, as a new message
    log.warning("the reindex summary could not be sent")
