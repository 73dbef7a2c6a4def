"""Theme statuses and their Swedish names: the one definition every front end shows."""

from __future__ import annotations

THEME_STATUSES = ("open", "in_progress", "resolved", "wont_fix")
# Themes still being worked on: the default view everywhere, and what a reindex re-asks.
ACTIVE_STATUSES = ("open", "in_progress")
# What reviewers read, in running text; every front end shows the same words.
THEME_STATUS_SV = {
    "open": "öppen",
    "in_progress": "pågår",
    "resolved": "löst",
    "wont_fix": "åtgärdas inte",
}
