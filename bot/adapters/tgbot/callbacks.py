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
from typing import Generic, TypeVar

HELPFUL = "fb:+"
UNHELPFUL = "fb:-"
MORE = "more"
SECTION = "sec"
ACTIONS = (HELPFUL, UNHELPFUL, MORE, SECTION)
T = TypeVar("T")


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


class KeyedStore(Generic[T]):
    """Items that expire `ttl` seconds after they were made, under random 8-character keys;
    beyond `max_items` the oldest go first."""

    def __init__(
        self,
        max_items: int = 5000,
        ttl: float = 48 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_items = max_items
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> str:
        with self._lock:
            self._expire()
            key = secrets.token_urlsafe(6)  # 8 url-safe characters
            while key in self._items:
                key = secrets.token_urlsafe(6)
            self._items[key] = (self._clock(), item)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
            return key

    def get(self, key: str) -> T | None:
        with self._lock:
            self._expire()
            entry = self._items.get(key)
            return entry[1] if entry else None

    def take(self, key: str) -> T | None:
        """The item, removed: a second press of a one-time button finds nothing."""
        with self._lock:
            self._expire()
            entry = self._items.pop(key, None)
            return entry[1] if entry else None

    def _expire(self) -> None:
        # Entries are kept in the order they were made, so the stale ones are at the front.
        now = self._clock()
        while self._items:
            key, (stamp, _) = next(iter(self._items.items()))
            if now - stamp < self.ttl:
                break
            del self._items[key]


class ButtonStore(KeyedStore[Pending]):
    """The answer buttons' `Pending` entries."""


# -- document administration ------------------------------------------------------------------
# "adm:<action>:<argument>": a page number, or the key of a `Choice` in the admin store, whose
# entries are made for one admin and die with the bot or after ADMIN_TTL.

ADMIN_PREFIX = "adm"
ADMIN_PATTERN = r"^adm:"
DOCS_PAGE = "dp"  # /dokument, page N
PICK_PAGE = "pp"  # /tabort's list of documents, page N
PICK = "pk"  # a document in that list: ask "Ta bort X?"
REMOVE = "rm"  # yes, remove it
REPLACE = "rp"  # yes, replace it with the file just sent
RESTORE = "rs"  # restore a document from the trash
CANCEL = "no"  # no: forget the choice
PAGED = (DOCS_PAGE, PICK_PAGE)
CHOSEN = (PICK, REMOVE, REPLACE, RESTORE, CANCEL)
ADMIN_TTL = 3600.0  # seconds a confirmation stays valid


@dataclass(frozen=True)
class Choice:
    """What an admin button acts on, for the admin it was shown to."""

    user_id: int
    name: str  # a document's name, or a trash entry's id for RESTORE
    file_id: str | None = None  # REPLACE: the Telegram file to download again


def admin_data(action: str, argument: str | int) -> str:
    return f"{ADMIN_PREFIX}:{action}:{argument}"


def parse_admin(data: str | None) -> tuple[str, str] | None:
    """(action, argument) from admin callback data, or None for data this bot did not make."""
    prefix, _, rest = (data or "").partition(":")
    action, _, argument = rest.partition(":")
    if prefix != ADMIN_PREFIX or not argument:
        return None
    if action in PAGED and argument.isdigit() and len(argument) <= 6:
        return action, argument
    if action in CHOSEN and ":" not in argument:
        return action, argument
    return None
