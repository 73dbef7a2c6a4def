"""Swedish time: the zone dates and times are shown in, and the day a document's validity is
judged by."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _swedish_zone() -> tzinfo:
    try:
        return ZoneInfo("Europe/Stockholm")
    except ZoneInfoNotFoundError:  # no time-zone database on the machine: say it is UTC
        return UTC


SWEDISH_TIME = _swedish_zone()


def swedish_today() -> date:
    """Today's date in Sweden."""
    return datetime.now(SWEDISH_TIME).date()
