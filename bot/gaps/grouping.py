"""Group new gaps into themes in the background of the process that records them."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from bot.gaps.themes import assign_themes

if TYPE_CHECKING:
    from bot.gaps.outbox import Ticket
    from bot.gaps.store import SqlRecorder
    from bot.search.encoders import Encoder

log = logging.getLogger(__name__)

WAIT_WRITTEN = 60.0  # seconds to wait for a queued record before grouping without it
# At most one run this often: a run weighs every open gap, so under a steady stream of
# questions back-to-back runs would take a core from answering (bench/load.py). Over 500 gaps a
# run takes 0.2-0.4 s with one new question, 3-7 s the first time after a restart, when the
# topic words of every question are encoded again (bench/themes.py --timing 500).
MIN_INTERVAL = 3.0


class ThemeJob:
    """One thread that, after a gap is written, puts every unthemed gap into a theme.

    Requests that arrive while a run is under way fold into one more run, so a burst of
    questions costs a run or two, not one each. Runs in this process are serialised here;
    runs in other processes by the database lock `assign_themes` takes.
    """

    def __init__(self, store: SqlRecorder, encoder: Encoder) -> None:
        self.store = store
        self.encoder = encoder
        self._waiting: deque[Ticket | None] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._busy = False
        self._last_start = -MIN_INTERVAL
        self.runs = 0  # completed runs, for tests and stats

    def after(self, ticket: Ticket | None = None) -> None:
        """Group once `ticket`'s record is written (at once when None). Never blocks."""
        with self._cond:
            if self._closing:
                return
            self._waiting.append(ticket)
            self._cond.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="rutinbot-themes", daemon=True
                )
                self._thread.start()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is waiting or running (tests, shutdown); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._waiting and not self._busy, timeout)

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closing:
                    self._cond.wait()
                if not self._waiting:
                    return
                # Let a burst gather; closing cuts the pause short, so the last gaps still run.
                pause = self._last_start + MIN_INTERVAL - time.monotonic()
                if pause > 0:
                    self._cond.wait_for(lambda: self._closing, pause)
                self._last_start = time.monotonic()
                tickets = list(self._waiting)
                self._waiting.clear()
                self._busy = True
            # The outbox writes in order: once the last record is in, so are the earlier ones.
            last = next((t for t in reversed(tickets) if t is not None), None)
            try:
                if last is not None and not last.written.result(timeout=WAIT_WRITTEN):
                    log.warning("gaps not grouped: a record could not be written")
                assign_themes(self.store, self.encoder)  # groups whatever is in, even so
                self.runs += 1
            except TimeoutError:
                log.warning("gaps not grouped yet: the database is behind; the next gap retries")
            except Exception as err:  # the next gap tries again; never stop the thread
                log.error("grouping gaps into themes failed: %s", type(err).__name__)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
