"""Accounts (scrypt hashes and roles in a TOML file) and server-side sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters.web.access import ACCOUNT_ROLES, WebRole
from bot.errors import ConfigError
from bot.filemodes import private_folder, tighten_existing

if TYPE_CHECKING:
    from bot.adapters.web.conversation import Turn

# scrypt at n=2**14, r=8 takes ~16 MB and ~50 ms: slow enough to make guessing expensive, fast
# enough for a login. The parameters are stored in each hash, so they can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES = 2**14, 8, 1, 32
MIN_PASSWORD = 10
USER_NAME = re.compile(r"^[\w.@-]{1,64}$")
USERS_HEADER = (
    "# Accounts for the rutinbot web page, written by `rutinbot serve --add-user NAME --role R`.\n"
    "# Only scrypt hashes are stored here; keep the file readable by the service alone.\n"
    "# [roles]: staff (chat only), reviewer (chat and gaps), admin; a name not listed is a\n"
    "# reviewer (accounts made before roles existed).\n"
)
DEFAULT_ROLE = WebRole.REVIEWER
ROLE_NAMES = tuple(r.value for r in ACCOUNT_ROLES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash as "scrypt$n$r$p$salt$key" (base64), parameters included."""
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches the hash; False (never an exception) for a malformed hash."""
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=2 * 128 * int(r) * (int(n) + int(p) + 2),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Compared against when the user name is unknown, so a login takes as long either way and its
# timing does not tell which names exist.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def _read_accounts(path: Path) -> dict:
    tighten_existing(path)  # password hashes: the service's alone
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    if set(data) - {"users", "roles"}:
        raise ConfigError(f'{path}: expected only a [users] table of name = "scrypt$…" lines')
    return data


def load_users(path: Path) -> dict[str, str]:
    """User name -> password hash from the users file; empty if the file does not exist."""
    users = _read_accounts(path).get("users", {})
    if not isinstance(users, dict):
        raise ConfigError(f'{path}: expected only a [users] table of name = "scrypt$…" lines')
    for name, encoded in users.items():
        if not isinstance(encoded, str) or not encoded.startswith("scrypt$"):
            raise ConfigError(f"{path}: the hash of user {name!r} is not a scrypt hash")
    return users


def load_roles(path: Path) -> dict[str, WebRole]:
    """User name -> role from the [roles] table; a user missing there is a reviewer."""
    roles = _read_accounts(path).get("roles", {})
    if not isinstance(roles, dict):
        raise ConfigError(f'{path}: [roles] must be a table of name = "staff|reviewer|admin"')
    for name, role in roles.items():
        if role not in ROLE_NAMES:
            raise ConfigError(
                f"{path}: the role of user {name!r} must be one of {', '.join(ROLE_NAMES)}"
            )
    return {name: WebRole(role) for name, role in roles.items()}


def check_role(role: str) -> WebRole:
    if role not in ROLE_NAMES:
        raise ConfigError(f"role {role!r}: use one of {', '.join(ROLE_NAMES)}")
    return WebRole(role)


def save_user(path: Path, name: str, password: str, role: str | None = None) -> None:
    """Add a user to the users file, or give an existing one a new password (and role).

    Without a role, an existing user keeps hers and a new one becomes a reviewer.
    """
    if not USER_NAME.match(name):
        raise ConfigError(
            f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', no spaces"
        )
    chosen = check_role(role) if role is not None else None
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password must have at least {MIN_PASSWORD} characters")
    users = load_users(path) | {name: hash_password(password)}
    roles = load_roles(path)
    roles[name] = chosen or roles.get(name, DEFAULT_ROLE)
    lines = [USERS_HEADER, "[users]"]
    # json.dumps writes a valid TOML basic string for any name and hash.
    lines += [f"{json.dumps(n, ensure_ascii=False)} = {json.dumps(h)}" for n, h in users.items()]
    lines += ["", "[roles]"]
    lines += [
        f"{json.dumps(n, ensure_ascii=False)} = {json.dumps(str(r))}"
        for n, r in roles.items()
        if n in users
    ]
    if not path.parent.is_dir():
        private_folder(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)  # readers see the old file or the new one, never half of it


class Users:
    """The accounts the page accepts, read once at start."""

    def __init__(self, hashes: dict[str, str], roles: dict[str, WebRole] | None = None) -> None:
        self._hashes = dict(hashes)
        self._roles = {name: WebRole(role) for name, role in (roles or {}).items()}

    def role(self, name: str) -> WebRole:
        return self._roles.get(name, DEFAULT_ROLE)

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, name: object) -> bool:
        return name in self._hashes

    def check(self, name: str, password: str) -> bool:
        encoded = self._hashes.get(name)
        ok = verify_password(password, encoded or _DUMMY_HASH)
        return ok and encoded is not None


@dataclass
class Session:
    """One logged-in account: whose session it is, her role, its CSRF token, messages to show
    next, and her chat so far (gone with the session, at logout or expiry)."""

    id: str
    user: str
    csrf: str
    last_seen: float
    role: WebRole = DEFAULT_ROLE
    flashes: list[str] = field(default_factory=list)
    chat: list[Turn] = field(default_factory=list)  # bounded by conversation.add_turn


class Sessions:
    """Server-side sessions keyed by a random id; a cookie holds only the id.

    In memory: a restart logs everyone out, which is acceptable for a handful of reviewers
    and means no session secret has to be stored anywhere.
    """

    def __init__(self, idle_seconds: float, clock=time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str, role: WebRole = DEFAULT_ROLE) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            user=user,
            csrf=secrets.token_urlsafe(32),
            last_seen=self._clock(),
            role=role,
        )
        with self._lock:
            self._expire()
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (its idle timer restarted), or None."""
        if not session_id:
            return None
        with self._lock:
            self._expire()
            session = self._sessions.get(session_id)
            if session is not None:
                session.last_seen = self._clock()
            return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _expire(self) -> None:
        cutoff = self._clock() - self.idle_seconds
        for sid in [sid for sid, s in self._sessions.items() if s.last_seen < cutoff]:
            del self._sessions[sid]
