"""CSRF checks: every form that changes something carries a token the attacker's page can't know."""

from __future__ import annotations

import hmac

from fastapi import HTTPException

FIELD = "csrf"  # the hidden form field every POST form carries
LOGIN_COOKIE = "rutinbot_login"  # before login there is no session: a double-submit cookie


def tokens_match(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison that is False when either token is missing."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def check(sent: str | None, expected: str | None) -> None:
    """Refuse the request with 403 unless the form's token is the session's."""
    if not tokens_match(sent, expected):
        raise HTTPException(403, "Formuläret har gått ut eller kom inte från den här sidan.")
