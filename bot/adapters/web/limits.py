"""Limits: logins per address and per user name (capped back-off), and request body sizes."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An office behind one NAT address shares it, so an address may fail more often than one name.
ADDRESS_SHARE = 2
# After `attempts` failures for a name (from anywhere) each further one doubles its pause, from
# BACKOFF_BASE up to BACKOFF_CAP: guessing one reviewer's password from many addresses stays
# slow, yet a stranger who types her name wrongly on purpose locks her out for minutes at most,
# and never in a browser she has logged in from before (a "known browser" cookie).
BACKOFF_BASE = 15.0
BACKOFF_CAP = 300.0
MAX_TRACKED = 10_000  # names and addresses remembered at once: attacker-chosen, so bounded
MAX_KNOWN = 1_000  # known-browser tokens


class LoginLimiter:
    """Failed logins counted per address and per user name; both must allow an attempt."""

    def __init__(
        self,
        attempts: int,
        window: float,
        clock=time.monotonic,
        *,
        address_attempts: int | None = None,
    ) -> None:
        self.attempts = attempts
        self.address_attempts = address_attempts or attempts * ADDRESS_SHARE
        self.window = window
        self._clock = clock
        self._names: OrderedDict[str, deque[float]] = OrderedDict()
        self._addresses: OrderedDict[str, deque[float]] = OrderedDict()
        self._known: OrderedDict[str, str] = OrderedDict()  # token -> name
        self._lock = threading.Lock()

    def _recent(self, table: OrderedDict[str, deque[float]], key: str) -> deque[float]:
        failures = table.get(key)
        if failures is None:
            return deque()
        cutoff = self._clock() - max(self.window, BACKOFF_CAP)
        while failures and failures[0] < cutoff:
            failures.popleft()
        if not failures:
            del table[key]
        return failures

    def _name_wait(self, name: str) -> float:
        failures = self._recent(self._names, name)
        in_window = [t for t in failures if t >= self._clock() - self.window]
        over = len(in_window) - self.attempts
        if over < 0:
            return 0.0
        pause = min(BACKOFF_BASE * 2**over, BACKOFF_CAP)
        return max(0.0, in_window[-1] + pause - self._clock())

    def _address_wait(self, address: str) -> float:
        now = self._clock()
        in_window = [t for t in self._recent(self._addresses, address) if t >= now - self.window]
        if len(in_window) < self.address_attempts:
            return 0.0
        # Blocked until enough of its failures have left the window.
        return max(0.0, in_window[-self.address_attempts] + self.window - now)

    def wait(self, user: str, address: str, known: str | None = None) -> float:
        """Seconds before this name may try again from this address (0: it may now)."""
        name = user.casefold()
        with self._lock:
            by_address = self._address_wait(address)
            if known is not None and self._known.get(known) == name:
                return by_address  # her own browser: a stranger's failures don't lock her out
            return max(by_address, self._name_wait(name))

    def blocked(self, user: str, address: str, known: str | None = None) -> bool:
        return self.wait(user, address, known) > 0

    def failed(self, user: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for table, key in ((self._names, user.casefold()), (self._addresses, address)):
                self._recent(table, key)
                table.setdefault(key, deque()).append(now)
                table.move_to_end(key)
                while len(table) > MAX_TRACKED:
                    table.popitem(last=False)

    def succeeded(self, user: str, address: str) -> str:
        """Forget the name's failures; returns a token that marks this browser as hers."""
        name = user.casefold()
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._names.pop(name, None)
            self._known[token] = name
            while len(self._known) > MAX_KNOWN:
                self._known.popitem(last=False)
        return token


MB = 1024 * 1024
# Every form but an upload is a few kilobytes; without a limit any POST, even the login form's,
# could make the server spool gigabytes of "file" to its temporary folder.
FORM_BODY_LIMIT = 1 * MB
MULTIPART_OVERHEAD = 1 * MB  # an upload's body: the file plus part headers and the CSRF field
FORM_TOO_LARGE = "Formuläret är för stort."


@dataclass(frozen=True)
class BodyCap:
    """The most a request body may hold on some path, and the Swedish refusal past it."""

    limit: int  # bytes
    message: str = FORM_TOO_LARGE


def upload_cap(file_limit: int) -> BodyCap:
    """An upload route's cap: the largest file it accepts, plus the form around it."""
    shown = f"{file_limit / MB:.0f}" if file_limit >= MB else f"{file_limit / MB:.1f}"
    return BodyCap(
        file_limit + MULTIPART_OVERHEAD,
        f"Filen är för stor. Högst {shown} MB kan laddas upp.",
    )


class BodyLimit:
    """ASGI middleware: a request body over its path's cap is refused while it is received.

    A declared Content-Length over the cap is refused at the first read, before any byte of
    the body; a body sent without one (chunked) is counted as it arrives and refused as soon as
    it passes the cap. The refusal (413) is raised from `receive`, inside the route's form
    parsing, so the route never runs and the app's error pages render it in Swedish.
    """

    def __init__(
        self, app: ASGIApp, default: BodyCap, paths: Mapping[str, BodyCap] | None = None
    ) -> None:
        self.app = app
        self.default = default
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.paths.get(scope["path"], self.default)
        declared = _content_length(scope)
        received = 0

        async def limited() -> Message:
            nonlocal received
            if declared is not None and declared > cap.limit:
                raise HTTPException(413, cap.message)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap.limit:
                    raise HTTPException(413, cap.message)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
