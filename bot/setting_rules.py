"""What each setting accepts, declared beside it with `setting(...)` and checked in one place."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RULE = "rule"  # the dataclass field metadata key that holds a setting's Rule

# Telegram delivers webhooks to these ports only (Bot API, setWebhook).
WEBHOOK_PORTS = (443, 80, 88, 8443)

_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")
# Any control character, tab and newline included: no setting is a multi-line text, and a
# NUL in a path is a ValueError deep inside the first open(). Bidi overrides, so that a value
# echoed in an error message reads as it is stored.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _http_url(value: str) -> str | None:
    return _url_problem(value, ("http", "https"))


def _webhook_url(value: str) -> str | None:
    problem = _url_problem(value, ("https",))
    if problem is None and urlsplit(value).port not in (None, *WEBHOOK_PORTS):
        return "a port Telegram delivers webhooks to (443, 80, 88 or 8443)"
    return problem


def _url_problem(value: str, schemes: tuple[str, ...]) -> str | None:
    what = " or ".join(f"{s}://" for s in schemes)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return f"a URL starting with {what} and a host"
    if parts.scheme not in schemes or not parts.hostname or " " in value:
        return f"a URL starting with {what} and a host"
    return None


def _host(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if len(value) > 253 or not _HOSTNAME.fullmatch(value):
            return "an IP address or a host name"
    return None


def _network(value: str) -> str | None:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return 'an IP address or CIDR range (e.g. "127.0.0.1" or "10.0.0.0/24")'
    return None


# Forms a string setting can take, by name; each returns what it accepts when the value fails.
FORMS = {
    "http_url": _http_url,
    "webhook_url": _webhook_url,
    "host": _host,
    "network": _network,
}


@dataclass(frozen=True)
class Rule:
    """The values one setting accepts. Numbers need `lo` and `hi`; a test enforces it."""

    lo: float | None = None
    hi: float | None = None
    above: bool = False  # `lo` itself is refused: a size or a time that must be more than zero
    choices: tuple[str, ...] = ()
    form: str = ""  # a key of FORMS; an empty string is accepted unless `required`
    required: bool = False  # an empty string is refused
    max_len: int = 2000  # characters of a string or path

    def __post_init__(self) -> None:
        if self.form and self.form not in FORMS:  # a typo in bot/config.py fails at import
            raise ValueError(f"unknown setting form {self.form!r}; known: {', '.join(FORMS)}")

    def accepts(self, integer: bool) -> str:
        """What this rule accepts, for a message: 'an integer from 1 to 50'."""
        kind = "an integer" if integer else "a number"
        lo, hi = _number(self.lo), _number(self.hi)
        if self.above:
            return f"{kind} above {lo} and at most {hi}"
        return f"{kind} from {lo} to {hi}"

    def number_problem(self, value: float, integer: bool) -> str | None:
        """What the rule accepts, when `value` is not accepted; None when it is."""
        if self.lo is None or self.hi is None:
            return "a declared range (this setting has none: a bug in bot/config.py)"
        too_low = value < self.lo or (self.above and value == self.lo)
        if not math.isfinite(value) or too_low or value > self.hi:
            return self.accepts(integer)
        return None

    def text_problem(self, value: str) -> str | None:
        """What the rule accepts, when the string `value` is not accepted; None when it is."""
        if _CONTROL.search(value) or len(value) > self.max_len:
            return f"text of at most {self.max_len} characters without control characters"
        if self.choices:
            return None if value in self.choices else f"one of {', '.join(self.choices)}"
        if not value:
            return "a value, not an empty string" if self.required else None
        if self.form:
            return FORMS[self.form](value)
        if self.required and not value.strip():
            return "a value, not blank space"
        return None


def setting(
    default: Any = dataclasses.MISSING,
    lo: float | None = None,
    hi: float | None = None,
    *,
    above: bool = False,
    choices: tuple[str, ...] = (),
    form: str = "",
    required: bool = False,
    max_len: int = 2000,
    repr: bool = True,
) -> Any:
    """A settings field with the values it accepts: `setting(700, 100, 20_000)`."""
    rule = Rule(lo, hi, above, choices, form, required, max_len)
    return field(default=default, repr=repr, metadata={RULE: rule})


def rule_of(f: dataclasses.Field) -> Rule:
    """The declared rule of a field; a field without one gets the rule for plain text."""
    return f.metadata.get(RULE, Rule())


def path_problem(value: Path) -> str | None:
    """A path must be printable text too: a NUL or newline in it cannot name a real folder."""
    text = str(value)
    if _CONTROL.search(text) or len(text) > 4096:
        return "a path of at most 4096 characters without control characters"
    return None


def _number(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else str(value)


def printable(text: str) -> str:
    """`text` for a one-line message: control and format characters shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
