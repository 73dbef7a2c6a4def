"""Faults: the database away or locked while questions are recorded; Telegram 429, 5xx, timeouts.

The database faults are real: PostgreSQL behind a TCP proxy the test cuts and restores, and a
SQLite file another connection holds with BEGIN EXCLUSIVE. An event-loop ticker measures how long
the loop was blocked while records queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from conftest import PG_URL, pg_reachable, require
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from bot.gaps import engine as gaps_engine
from bot.gaps.outbox import Outbox, Ticket
from bot.gaps.store import SqlRecorder
from bot.gaps.tables import Feedback, Question
from bot.models import Answer, Citation

ANSWER = Answer(
    "x",
    True,
    0.8,
    (Citation("rutin.md", "Rutin", "Anmälan", 2, None, "text", None, 0.9, 7, 3),),
    "idx1",
)
SECRET = "Hemlig fråga om brukaren Ingrid"  # must never reach a log line
MAX_LAG = 0.5  # seconds the event loop may be held up while the database is away


# -- the faults -----------------------------------------------------------------------------------


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 that can cut every connection and refuse new ones."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open = True
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            if not self._open:
                _hang_up(client)  # the server is "down": the client sees the connection reset
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _hang_up(client)
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                _hang_up(s)
                with self._lock:
                    self._sockets.discard(s)

    def cut(self) -> None:
        """Every open connection dies and new ones are refused, as when the server goes away."""
        self._open = False
        with self._lock:
            sockets, self._sockets = set(self._sockets), set()
        for s in sockets:
            _hang_up(s)

    def restore(self) -> None:
        self._open = True

    def close(self) -> None:
        self.cut()
        self._server.close()


def _hang_up(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


@dataclass
class Fault:
    """A database behind `url` and a way to take it away and give it back."""

    url: str
    cut: Callable[[], None]
    restore: Callable[[], None]
    direct_url: str  # the same database without the fault, for checking what was written


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped after the test."""
    require(pg_reachable(), "PostgreSQL not reachable at 127.0.0.1:5432")
    name = f"rutinbot_faults_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def pg_fault(pg_database) -> Iterator[Fault]:
    """PostgreSQL reached through a proxy the test cuts and restores."""
    direct = make_url(pg_database)
    proxy = TcpProxy(direct.host, direct.port)
    url = direct.set(port=proxy.port).render_as_string(hide_password=False)
    try:
        yield Fault(url, proxy.cut, proxy.restore, pg_database)
    finally:
        proxy.close()


@pytest.fixture
def sqlite_fault(tmp_path, monkeypatch) -> Iterator[Fault]:
    """A SQLite file that another connection locks with BEGIN EXCLUSIVE."""
    monkeypatch.setattr(gaps_engine, "BUSY_TIMEOUT_MS", 200)  # fail fast, so retries are exercised
    path = tmp_path / "gaps.db"
    holder: dict[str, sqlite3.Connection] = {}

    def lock() -> None:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN EXCLUSIVE")
        holder["lock"] = connection

    def unlock() -> None:
        connection = holder.pop("lock")
        connection.execute("ROLLBACK")
        connection.close()

    url = f"sqlite:///{path}"
    yield Fault(url, lock, unlock, url)
    if "lock" in holder:
        unlock()


@pytest.fixture(params=["postgresql", "sqlite"])
def fault(request) -> Fault:
    return request.getfixturevalue("pg_fault" if request.param == "postgresql" else "sqlite_fault")


# -- helpers --------------------------------------------------------------------------------------


class LagMeter:
    """A ticker on the event loop: the longest it was late is how long the loop was blocked."""

    def __init__(self, every: float = 0.01) -> None:
        self.every, self.worst, self._task = every, 0.0, None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.every)
            self.worst = max(self.worst, loop.time() - started - self.every)

    def __enter__(self) -> LagMeter:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_exc: object) -> None:
        self._task.cancel()


def rows(url: str, table: type) -> list:
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(table)).all())
    finally:
        engine.dispose()


async def written(tickets: list[Ticket], timeout: float = 30) -> list[bool]:
    futures = [asyncio.wrap_future(t.written) for t in tickets]
    return await asyncio.wait_for(asyncio.gather(*futures), timeout)


def question(i: int) -> str:
    return f"{SECRET} nummer {i}"


# -- the database away or locked ------------------------------------------------------------------


def test_records_wait_out_a_fault_without_blocking_the_loop_and_land_once(fault, tmp_path, caplog):
    """While the database is away the loop stays responsive and records queue; when it is back
    every question and feedback is written exactly once, feedback after its question, each with
    the time it was given."""
    caplog.set_level(logging.DEBUG, logger="bot")
    recorder = SqlRecorder(fault.url, key_file=tmp_path / "k")
    outbox = Outbox(recorder, backoff_first=0.05, backoff_max=0.4)

    async def scenario() -> tuple[list[Ticket], list[tuple[Ticket, bool]], float, float]:
        questions, feedback = [], []
        before = outbox.record_question("test", "u0", question(0), ANSWER)
        assert await outbox.settle(before, grace=10), "a healthy database is written at once"
        questions.append(before)
        with LagMeter() as lag:
            fault.cut()
            cut_at = time.time()
            feedback.append((outbox.record_feedback(before.record_id, False), False))
            for i in range(1, 31):
                ticket = outbox.record_question("test", f"u{i % 4}", question(i), ANSWER)
                await outbox.settle(ticket)  # as a handler does: never long while it is away
                questions.append(ticket)
                if i % 3 == 0:  # feedback on a question that is itself still queued
                    helpful = i % 2 == 0
                    feedback.append((outbox.record_feedback(ticket.record_id, helpful), helpful))
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)  # long enough for several retries
            stats = outbox.stats()
            assert stats.pending == 31 + 10 and stats.written == 1 and stats.retries >= 2
            assert not any(t.written.done() for t in questions[1:])
            fault.restore()
            assert all(await written(questions + [t for t, _ in feedback]))
        return questions, feedback, lag.worst, cut_at

    questions, feedback, lag, cut_at = asyncio.run(scenario())
    print(f"event loop lag during the fault: {lag:.4f}s")
    assert lag < MAX_LAG, f"the event loop was blocked for {lag:.3f}s"
    assert outbox.close() == 0
    recorder.close()

    stored = rows(fault.direct_url, Question)
    assert sorted(q.id for q in stored) == sorted(t.record_id for t in questions)
    asked = {q.id: q.asked_at for q in stored}
    assert all(asked[t.record_id].timestamp() < cut_at + 2 for t in questions)  # asked, not written
    rated = rows(fault.direct_url, Feedback)
    assert sorted((f.question_id, f.helpful) for f in rated) == sorted(
        (t.record_id, helpful) for t, helpful in feedback
    )
    assert all(f.given_at >= asked[f.question_id] for f in rated)
    stats = outbox.stats()
    assert (stats.written, stats.dropped, stats.failed) == (len(stored) + len(rated), 0, 0)
    assert "database unavailable" in caplog.text and "database back" in caplog.text
    assert SECRET not in caplog.text  # the error's own text carries the SQL parameters


def test_a_full_queue_drops_and_counts_and_shutdown_logs_what_is_left(
    sqlite_fault, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    recorder = SqlRecorder(sqlite_fault.url, key_file=tmp_path / "k")
    outbox = Outbox(recorder, capacity=3, backoff_first=0.05, backoff_max=0.2)
    sqlite_fault.cut()
    tickets = [outbox.record_question("test", "u", question(i), ANSWER) for i in range(5)]
    late = outbox.record_feedback(tickets[0].record_id, True)
    assert [t.written.done() for t in tickets] == [False] * 3 + [True] * 2
    assert late.written.result(0) is False  # dropped too: the queue is still full
    assert outbox.stats().dropped == 3
    assert "record queue full (3): 1 question dropped" in caplog.text

    assert outbox.close(timeout=0.5) == 3  # still locked: nothing could be written
    assert "3 records not written at shutdown" in caplog.text
    assert SECRET not in caplog.text
    sqlite_fault.restore()
    assert rows(sqlite_fault.url, Question) == []
    recorder.close()


def test_shutdown_flushes_the_queue_when_the_database_comes_back(sqlite_fault, tmp_path):
    recorder = SqlRecorder(sqlite_fault.url, key_file=tmp_path / "k")
    outbox = Outbox(recorder, backoff_first=5.0, backoff_max=5.0)  # close must not wait these out
    sqlite_fault.cut()
    tickets = [outbox.record_question("test", "u", question(i), ANSWER) for i in range(3)]
    feedback = outbox.record_feedback(tickets[1].record_id, False)
    time.sleep(0.5)
    threading.Timer(0.3, sqlite_fault.restore).start()
    started = time.monotonic()
    assert outbox.close(timeout=10) == 0
    assert time.monotonic() - started < 3
    assert all(t.written.result(0) for t in [*tickets, feedback])
    assert len(rows(sqlite_fault.url, Question)) == 3
    assert len(rows(sqlite_fault.url, Feedback)) == 1
    recorder.close()


def test_a_record_the_database_refuses_for_good_does_not_hold_up_the_rest(pg_database, tmp_path):
    recorder = SqlRecorder(pg_database, key_file=tmp_path / "k")
    outbox = Outbox(recorder, backoff_first=0.05)
    bad = outbox.record_question("x" * 40, "u", question(1), ANSWER)  # channel holds 32
    good = outbox.record_question("test", "u", question(2), ANSWER)
    assert good.written.result(10) is True
    assert bad.written.result(0) is False
    assert outbox.stats().failed == 1
    assert [q.id for q in rows(pg_database, Question)] == [good.record_id]
    outbox.close()
    recorder.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_write_retried_after_it_committed_is_not_doubled(backend, request, tmp_path):
    """A connection cut after COMMIT but before its acknowledgement: the retry finds the row."""
    url = (
        request.getfixturevalue("pg_database")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'gaps.db'}"
    )
    from bot.gaps.tables import utcnow

    at = utcnow()
    with SqlRecorder(url, key_file=tmp_path / "k") as recorder:
        for _ in range(2):
            recorder.record_question("test", "u", question(1), ANSWER, record_id="r1", asked_at=at)
            recorder.record_feedback("r1", True, given_at=at)
        recorder.record_feedback("r1", False)  # a second opinion without an id is its own row
        assert [q.asked_at for q in rows(url, Question)] == [at]
        assert sorted(f.helpful for f in rows(url, Feedback)) == [False, True]


def test_outbox_logs_never_hold_the_question(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    recorder = SqlRecorder(f"sqlite:///{tmp_path / 'gaps.db'}", key_file=tmp_path / "k")
    outbox = Outbox(recorder)
    assert outbox.record_question("test", "u", question(1), ANSWER).written.result(10)
    outbox.close()
    recorder.close()
    assert SECRET not in caplog.text


# -- the Telegram bot through both kinds of fault -------------------------------------------------

STAFF = (4101, 4102, 4103, 4104, 4105, 4106, 4107, 4108)
LEX_SARAH = "Vem ska jag rapportera missförhållanden enligt lex Sarah till?"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, encoder):
    """Settings and answerer for a one-document corpus (indexed in seconds)."""
    from conftest import make_settings

    from bot.answer.core import Answerer
    from bot.search.indexer import build_index

    base = tmp_path_factory.mktemp("tiny")
    (base / "knowledge").mkdir()
    (base / "knowledge" / "rutin-lex-sarah.md").write_text(
        "---\ntitle: Rutin för lex Sarah\ndate: 2024-03-01\n---\n# Rapportering\n\n"
        "Medarbetare ska genast rapportera missförhållanden eller påtaglig risk för "
        "missförhållanden till sin närmaste chef. Chefen ansvarar för att rapporten utreds.\n",
        encoding="utf-8",
    )
    settings = make_settings(base, encoder={"num_threads": 1})
    build_index(settings, encoder)
    return settings, Answerer(settings, encoder)


@pytest.fixture(scope="module")
def api():
    from fake_bot_api import FakeBotAPI

    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def tg(api, tiny, tmp_path_factory):
    """The real bot on the fake Bot API, recording into a SQLite file: (application, path)."""
    from telegram_harness import running_bot, settings_for, sql_recorder

    settings, answerer = tiny
    folder = tmp_path_factory.mktemp("records")
    with (
        sql_recorder(folder) as recorder,
        running_bot(settings_for(settings, api, staff=STAFF), answerer, recorder) as application,
    ):
        api.wait_polls()
        yield application, recorder, folder / "gaps.db"


def _delivered(api) -> list[int]:
    """Update ids in the order the bot received them (polls it gave up on do not count)."""
    return [
        u["update_id"]
        for c in api.calls_of("getUpdates")
        if c.ok and not c.unheard
        for u in c.result
    ]


def _helps(api, user: int) -> list:
    return [c for c in api.sent(user) if "/kallor" in c.result.get("text", "")]


def test_bot_answers_and_takes_feedback_while_the_database_is_locked(api, tg):
    """BEGIN EXCLUSIVE elsewhere: the SQLite busy timeout is 5 s, yet the answer and the 👍 toast
    come at once; question and feedback land exactly once when the lock goes."""
    from telegram_harness import press_and_wait, recorded, wait_answer

    application, recorder, path = tg
    user = STAFF[0]
    lock = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        asked = time.monotonic()
        api.send(user, LEX_SARAH)
        parts = wait_answer(api, user)
        assert parts[-1].at - asked < 3.0, "the answer waited for the database"
        pressed = time.monotonic()
        _, toast = press_and_wait(api, user, parts[-1], "👍 Hjälpte")
        assert toast.at - pressed < 2.0
        assert application.bot_data["services"].outbox.stats().pending == 2
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    deadline = time.monotonic() + 30
    while application.bot_data["services"].outbox.stats().pending:
        assert time.monotonic() < deadline, "the queue was not written after the lock went"
        time.sleep(0.1)
    [question] = [q for q in recorded(recorder) if q.text == LEX_SARAH]
    assert [(f.question_id, f.helpful) for f in recorded(recorder, Feedback)] == [
        (question.id, True)
    ]


def test_polling_backs_off_429_and_502_and_loses_or_doubles_no_update(api, tg):
    from telegram_harness import settle

    users = STAFF[1:4]
    api.fail_next("getUpdates", 429, retry_after=2)
    api.fail_next("getUpdates", 502, retry_after=None)
    api.drop_polls()  # end the poll waiting now, so the updates come after both failures
    ids = [api.push(api.message(user, "/help")) for user in users]
    for user in users:
        api.wait_sent(user, timeout=30)
    settle(1.0)
    for user in users:
        assert len(api.sent(user)) == 1, "an update was answered twice"
    assert [i for i in _delivered(api) if i in ids] == ids  # each once, in order
    polls = api.calls_of("getUpdates")
    dropped = max(i for i, c in enumerate(polls) if c.status == 0)
    assert [c.status for c in polls[dropped:]][:4] == [0, 429, 502, 200]
    for status, pause in ((429, 2.0), (502, 1.0)):
        failed = next(i for i, c in enumerate(polls) if i > dropped and c.status == status)
        assert polls[failed + 1].at - polls[failed].at >= pause, f"no back-off after {status}"


def test_a_send_answered_with_502_is_retried_and_arrives_once(api, tg):
    from telegram_harness import settle

    user = STAFF[4]
    api.fail_next("sendMessage", 502, retry_after=None)
    api.send(user, "/help")
    api.wait_sent(user)
    settle(1.0)
    attempts = [c for c in api.calls_of("sendMessage") if int(c.params["chat_id"]) == user]
    assert [c.status for c in attempts] == [502, 200]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert len(api.sent(user)) == 1


def test_a_send_beyond_the_read_timeout_is_not_sent_twice(api, tg):
    """Telegram delivers a message the bot stopped waiting for: resending would double it."""
    from telegram_harness import settle

    user = STAFF[5]
    api.delay_next("sendMessage", 6.5)  # python-telegram-bot's read timeout is 5 s
    api.send(user, "/help")
    late = api.wait(lambda calls: [c for c in api.sent(user, calls) if c.unheard], timeout=20)
    assert len(late) == 1
    api.send(user, "/om")  # the bot goes on with the next update
    api.wait(
        lambda calls: any("Version" in c.result.get("text", "") for c in api.sent(user, calls))
    )
    settle(1.0)
    assert len(_helps(api, user)) == 1
    # The help did arrive: no "Något gick fel" after it.
    assert not [c for c in api.sent(user) if "Något gick fel" in c.params.get("text", "")]


def test_a_poll_beyond_the_read_timeout_is_repeated_and_no_update_is_lost(api, tg):
    """getUpdates answered after the bot gave up on it (10 s long poll + 5 s read timeout)."""
    from telegram_harness import settle

    user = STAFF[6]
    first = api.push(api.message(user, "/help"))
    api.wait_sent(user)
    api.delay_next("getUpdates", 16.0)
    api.drop_polls()  # end the poll waiting now: the bot's next one is the delayed one
    second = api.push(api.message(user, "/om"))
    sent = api.wait_sent(user, 2, timeout=40)
    settle(1.0)
    assert len(api.sent(user)) == 2
    assert [i for i in _delivered(api) if i in (first, second)] == [first, second]
    assert [c for c in api.calls_of("getUpdates") if c.unheard], "the delayed poll was not made"
    assert sent[1].at - sent[0].at > 10
