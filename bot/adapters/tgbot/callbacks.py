"""What answer buttons need later, in a bounded, expiring store keyed by short ids.

Callback data is limited to 64 bytes, so a button carries only an action and an 8-character
id ("fb:+:Ab3_x9Qz"); the answer it belongs to stays in the ask service. Nothing else about
users is kept, and after a restart old ids are simply unknown.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

HELPFUL = "fb:+"
UNHELPFUL = "fb:-"
MORE = "more"
SECTION = "sec"
ACTIONS = (HELPFUL, UNHELPFUL, MORE, SECTION)


@dataclass
class Pending:
    """One answer message's buttons: which answer they act on and which are still live.

    The answer itself (its redacted question, citations and owner) is kept by the ask service;
    this only holds what Telegram's buttons need beyond it.
    """

    record_id: str
    shown: int  # passages shown up to and including this message
    section: int | None  # citation number whose section "Visa hela avsnittet" shows
    feedback: bool = True  # 👍/👎 still offered
    more: bool = True  # "Fler källor" still offered
    asker: int | None = None  # the Telegram user whose answer it is; only they may press


def encode(action: str, key: str) -> str:
    return f"{action}:{key}"


def decode(data: str | None) -> tuple[str, str] | None:
    """(action, key) from callback data, or None for data this bot did not make."""
    if not data:
        return None
    action, _, key = data.rpartition(":")
    if action not in ACTIONS or not key:
        return None
    return action, key


class ButtonStore:
    """`Pending` entries that expire `ttl` seconds after they were made; the oldest go first."""

    def __init__(
        self,
        max_items: int = 5000,
        ttl: float = 48 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_items = max_items
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, Pending]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Pending) -> str:
        with self._lock:
            self._expire()
            key = secrets.token_urlsafe(6)  # 8 url-safe characters
            while key in self._items:
                key = secrets.token_urlsafe(6)
            self._items[key] = (self._clock(), item)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
            return key

    def get(self, key: str) -> Pending | None:
        with self._lock:
            self._expire()
            entry = self._items.get(key)
            return entry[1] if entry else None

    def _expire(self) -> None:
        # Entries are kept in the order they were made, so the stale ones are at the front.
        now = self._clock()
        while self._items:
            key, (stamp, _) = next(iter(self._items.items()))
            if now - stamp < self.ttl:
                break
            del self._items[key]
