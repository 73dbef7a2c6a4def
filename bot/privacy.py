"""Privacy helpers: redact personnummer before anything is stored; pseudonymous asker ids."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

HASH_KEY_ENV = "RUTINBOT_HASH_KEY"
REDACTED_PNR = "[PERSONNUMMER]"

# Personnummer and samordningsnummer (day + 60) as people type them: 850312-1234, 850312+1234,
# 19850312-1234, 198503121234, 8503121234, 850312 1234. The date parts are checked so that
# most other numbers survive; the check digit is not, because a mistyped personnummer is just as
# personal. Erring towards redaction is deliberate: a phone number that looks like one goes too.
_PNR = re.compile(
    r"(?<!\d)"
    r"(?:(?:18|19|20)?\d{2})"  # year, with or without century
    r"(?:0[1-9]|1[0-2])"  # month
    r"(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])"  # day, or day + 60 for samordningsnummer
    r"(?:\s?[-+–]\s?|\s)?"  # separator: - or + (100 years or older), a space, or none
    r"\d{4}"
    r"(?!\d)"
)


def redact(text: str) -> str:
    """The text with every personnummer and samordningsnummer replaced by [PERSONNUMMER]."""
    return _PNR.sub(REDACTED_PNR, text)


def pseudonym(user_id: int | str, key: bytes) -> str:
    """A stable pseudonym for a user: HMAC-SHA256 of the id, so the id can't be read back."""
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]


def hash_key(key_file: Path) -> bytes:
    """The pseudonym key: $RUTINBOT_HASH_KEY, else a random key kept in `key_file`."""
    env = os.environ.get(HASH_KEY_ENV)
    if env:
        return env.encode()
    if key_file.is_file():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    # Create the file exclusively: two processes starting at once must not pick different keys.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    log.warning(
        "%s is not set: generated a pseudonym key in %s (back it up, or set the variable)",
        HASH_KEY_ENV,
        key_file,
    )
    return key
