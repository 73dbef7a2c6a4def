"""Outbox: questions and feedback wait in a bounded queue and a thread writes them, in order."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy.exc as sa_exc

from bot.gaps.store import SqlRecorder
from bot.gaps.tables import utcnow
from bot.models import Answer

log = logging.getLogger(__name__)

CAPACITY = 10_000  # records held while the database is away: hours of a busy day's questions
BACKOFF_FIRST = 0.5  # seconds before the first retry; doubled after every failure
BACKOFF_MAX = 30.0
FLUSH_TIMEOUT = 10.0  # at shutdown, how long the queue may take to reach the database
FLUSH_RETRY = 0.2  # at shutdown, seconds between attempts: no backoff, the clock is running
WRITE_GRACE = 0.5  # how long a caller waits for its own write while the database keeps up

# The database is away, locked or restarting: worth retrying. Anything else (a constraint, a bad
# value) would fail the same way forever and must not hold up the records queued behind it.
TRANSIENT = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class Ticket:
    """A queued record: its question's id, and a future set True once written (False if not)."""

    record_id: str
    written: Future = field(compare=False, repr=False)


@dataclass(frozen=True)
class OutboxStats:
    """What the outbox did so far; `dropped` counts records refused while the queue was full."""

    pending: int
    written: int
    dropped: int
    failed: int  # refused by the database for good (never retried)
    retries: int


@dataclass(frozen=True)
class _Item:
    kind: str  # "question" or "feedback"; the only thing about a record that is ever logged
    ticket: Ticket
    at: datetime  # when it was asked or rated, not when the database took it
    args: tuple


class Outbox:
    """Where front ends record questions and feedback without waiting for the database.

    `record_question` and `record_feedback` only queue (a lock held for microseconds: safe on an
    event loop); one thread writes the queue in order, so a feedback waits behind its question.
    While the database is unreachable or locked the thread retries with backoff, and every
    write carries its own id and time, so a retry after an unknown outcome never writes twice.
    """

    def __init__(
        self,
        recorder: SqlRecorder,
        *,
        capacity: int = CAPACITY,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.recorder = recorder
        self.capacity = capacity
        self._backoff_first, self._backoff_max = backoff_first, backoff_max
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._flush_by = 0.0
        self._stalled = False  # the last write failed or is overdue: callers must not wait
        self._written = self._dropped = self._failed = self._retries = 0

    # What front ends call

    def record_question(self, channel: str, asker: str, question: str, answer: Answer) -> Ticket:
        """Queue a question; its record id is known at once, for the answer's buttons."""
        record_id = secrets.token_hex(6)
        return self._put("question", record_id, (channel, asker, question, answer))

    def record_feedback(self, record_id: str, helpful: bool) -> Ticket:
        """Queue feedback on a recorded (or still queued) question."""
        return self._put("feedback", record_id, (helpful,))

    async def settle(self, ticket: Ticket, grace: float = WRITE_GRACE) -> bool:
        """Wait up to `grace` for a ticket's write while the database keeps up; not at all while
        it is away. True when written, so a reviewer reading right after sees it."""
        if ticket.written.done() or self._stalled:
            return ticket.written.done() and ticket.written.result()
        try:
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(ticket.written)), grace
            )
        except TimeoutError:
            self._stalled = True  # the next callers go on at once until a write succeeds
            return False

    def stats(self) -> OutboxStats:
        with self._cond:
            return OutboxStats(
                len(self._queue), self._written, self._dropped, self._failed, self._retries
            )

    def close(self, timeout: float = FLUSH_TIMEOUT) -> int:
        """Write what is queued (for up to `timeout` seconds), then stop; returns how many
        records were left unwritten, which is logged."""
        with self._cond:
            self._closing = True
            self._flush_by = time.monotonic() + timeout
            self._cond.notify_all()  # cut a backoff short: try once more now
            thread = self._thread
        if thread is not None:
            thread.join(timeout + 1)
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
        for item in left:
            item.ticket.written.set_result(False)
        if left:
            log.error("%s records not written at shutdown: the database was unreachable", len(left))
        return len(left)

    # The writer

    def _put(self, kind: str, record_id: str, args: tuple) -> Ticket:
        ticket = Ticket(record_id, Future())
        item = _Item(kind, ticket, utcnow(), args)
        with self._cond:
            if self._closing or len(self._queue) >= self.capacity:
                self._dropped += 1
                dropped, closing = self._dropped, self._closing
                ticket.written.set_result(False)
            else:
                self._queue.append(item)
                self._cond.notify_all()
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="rutinbot-outbox", daemon=True
                    )
                    self._thread.start()
                return ticket
        if closing:
            log.warning("%s dropped: the outbox is closed (%s dropped so far)", kind, dropped)
        # Powers of ten: a long outage must not flood the log with one line a question.
        elif dropped == 10 ** (len(str(dropped)) - 1):
            log.warning(
                "record queue full (%s): %s %s dropped so far", self.capacity, dropped, kind
            )
        return ticket

    def _write(self, item: _Item) -> None:
        if item.kind == "question":
            self.recorder.record_question(
                *item.args, record_id=item.ticket.record_id, asked_at=item.at
            )
        else:
            self.recorder.record_feedback(item.ticket.record_id, *item.args, given_at=item.at)

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                item = self._queue[0]
            try:
                self._write(item)
                ok = True
            except TRANSIENT as err:
                failures += 1
                self._stalled = True
                delay = min(self._backoff_max, self._backoff_first * 2 ** (failures - 1))
                # The error's text holds the SQL parameters, i.e. the question: name its class.
                reason = type(getattr(err, "orig", None) or err).__name__
                if failures == 1:
                    log.warning(
                        "database unavailable (%s): %s records queued; retrying",
                        reason,
                        len(self._queue),
                    )
                else:
                    log.debug("database still unavailable (%s); retry in %.1fs", reason, delay)
                with self._cond:
                    self._retries += 1
                    if self._closing and time.monotonic() >= self._flush_by:
                        return
                    if not self._closing:
                        self._cond.wait(delay)
                    else:  # flushing at shutdown: retry briskly until the deadline
                        left = self._flush_by - time.monotonic()
                        self._cond.wait(max(0.0, min(delay, FLUSH_RETRY, left)))
                continue
            except Exception as err:  # one bad record must not stop the writer
                log.error(
                    "%s %s not recorded: %s",
                    item.kind,
                    item.ticket.record_id,
                    type(getattr(err, "orig", None) or err).__name__,
                )
                ok = False
            if failures:
                log.info("database back after %s failed attempts", failures)
                failures = 0
            with self._cond:
                self._stalled = False
                if not self._queue or self._queue[0] is not item:
                    return  # close() gave up waiting for this write and has reported it
                self._queue.popleft()
                if ok:
                    self._written += 1
                else:
                    self._failed += 1
            item.ticket.written.set_result(ok)
