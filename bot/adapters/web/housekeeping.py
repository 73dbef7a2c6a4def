"""Daily housekeeping while the web app serves: old questions and old trash are deleted.

A deployment that allows no third-party messenger runs the web app alone, so it must do what
the Telegram bot's daily jobs do: delete questions older than [database] retention_days and
empty trash entries older than [admin] trash_days.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.datastructures import State

from bot.adapters.web.deps import admin_of, store_of

log = logging.getLogger(__name__)

FIRST_SECONDS = 60.0  # soon after start, once the app is up
EVERY_SECONDS = 24 * 3600.0


def once(state: State) -> None:
    """One round (blocking: run it in a thread). A failure is logged and retried tomorrow."""
    settings = state.settings
    days = settings.database.retention_days
    try:
        store = store_of(state)
    except Exception:
        log.exception("daily housekeeping: the store could not be opened; trying again tomorrow")
        return
    if days:
        try:
            log.info("purged %s questions older than %s days", store.purge(days), days)
        except Exception:
            log.exception("purging questions older than %s days failed; retrying tomorrow", days)
    if settings.admin.trash_days:
        try:
            purged = admin_of(state, store).purge_trash()
            log.info("emptied %s old entries from the document trash", purged)
        except Exception:
            log.exception("emptying the document trash failed; trying again tomorrow")


async def daily(state: State, first: float = FIRST_SECONDS, every: float = EVERY_SECONDS) -> None:
    """Run `once` after `first` seconds, then every `every` seconds, until cancelled."""
    await asyncio.sleep(first)
    while True:
        await asyncio.to_thread(once, state)
        await asyncio.sleep(every)
