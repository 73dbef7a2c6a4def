"""The web app alone (no Telegram bot) deletes old questions and empties old trash daily."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from conftest import make_settings, write_small_corpus

from bot.adapters.web import housekeeping
from bot.adapters.web.app import create_app
from bot.adapters.web.auth import hash_password
from bot.adapters.web.deps import store_of
from bot.admin.documents import AdminService
from bot.admin.model import Actor
from bot.models import Answer

UNANSWERED = Answer("x", False, 0.12, (), "idx1")


def _app(tmp_path, **changes):
    write_small_corpus(tmp_path / "knowledge")
    settings = make_settings(tmp_path, **changes)
    return create_app(settings, users={"adam": hash_password("x" * 12)}, roles={"adam": "admin"})


def _backdate(store, record_id: str, days: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE questions SET asked_at = :at WHERE id = :id"),
            {"at": datetime.now(UTC) - timedelta(days=days), "id": record_id},
        )


def test_one_round_deletes_old_questions_and_old_trash_only(tmp_path):
    app = _app(tmp_path, database={"retention_days": 30}, admin={"trash_days": 30})
    store = store_of(app.state)
    old = store.record_question("web", "adam", "gammal fråga", UNANSWERED)
    new = store.record_question("web", "adam", "ny fråga", UNANSWERED)
    _backdate(store, old, days=31)
    settings = app.state.settings
    long_ago = AdminService(settings, clock=lambda: datetime.now(UTC) - timedelta(days=40))
    stale = long_ago.remove(Actor("web", "adam"), "anhorigstod.txt")
    recent = AdminService(settings).remove(Actor("web", "adam"), "rutin-lex-sarah.md")

    housekeeping.once(app.state)

    assert [g.record_id for g in store.gaps()] == [new]
    assert [e.id for e in app.state.admin.trash()] == [recent.id]
    assert stale.id not in {e.id for e in app.state.admin.trash()}
    store.close()


def test_nothing_is_deleted_when_both_are_kept_for_ever(tmp_path):
    app = _app(tmp_path, database={"retention_days": 0}, admin={"trash_days": 0})
    store = store_of(app.state)
    old = store.record_question("web", "adam", "gammal fråga", UNANSWERED)
    _backdate(store, old, days=3650)
    settings = app.state.settings
    long_ago = AdminService(settings, clock=lambda: datetime.now(UTC) - timedelta(days=3650))
    entry = long_ago.remove(Actor("web", "adam"), "anhorigstod.txt")

    housekeeping.once(app.state)

    assert [g.record_id for g in store.gaps()] == [old]
    assert [e.id for e in AdminService(settings).trash()] == [entry.id]
    store.close()


def test_the_daily_task_runs_a_round_and_stops_when_cancelled(tmp_path):
    app = _app(tmp_path, database={"retention_days": 30}, admin={"trash_days": 30})
    store = store_of(app.state)
    old = store.record_question("web", "adam", "gammal fråga", UNANSWERED)
    _backdate(store, old, days=31)

    async def run() -> None:
        task = asyncio.create_task(housekeeping.daily(app.state, first=0, every=3600))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if not store.gaps():
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()

    asyncio.run(run())
    assert store.gaps() == []
    store.close()
