"""Themes for reviewers: a plain-text table, CSV, JSON or Markdown."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.gaps.store import SqlRecorder

FORMATS = ("table", "csv", "json", "markdown")
EXAMPLES = 3
COLUMNS = ("id", "status", "count", "first_seen", "last_seen", "name", "examples")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ThemeSummary:
    """One theme as the report shows it: its gap questions counted, dated and exemplified."""

    id: int
    name: str
    status: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    examples: tuple[str, ...]

    def cells(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "count": self.count,
            "first_seen": _date(self.first_seen),
            "last_seen": _date(self.last_seen),
            "name": self.name,
            "examples": " | ".join(self.examples),
        }


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def summaries(store: SqlRecorder, statuses: tuple[str, ...] | None = None) -> list[ThemeSummary]:
    """Themes (with one of these statuses, or all) and their gaps, oldest theme first."""
    rows = []
    for theme in store.themes():
        if statuses is not None and theme.status not in statuses:
            continue
        gaps = store.gaps(theme_id=theme.id)
        rows.append(
            ThemeSummary(
                id=theme.id,
                name=theme.name,
                status=theme.status,
                count=len(gaps),
                first_seen=gaps[0].time if gaps else None,
                last_seen=gaps[-1].time if gaps else None,
                examples=tuple(g.question for g in gaps[-EXAMPLES:]),  # the newest
            )
        )
    return rows


def safe_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: formulas would run when the CSV is opened."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render(rows: list[ThemeSummary], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [r.cells() | {"examples": list(r.examples)} for r in rows], indent=2, ensure_ascii=False
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([safe_cell(v) for v in r.cells().values()])
        return out.getvalue().rstrip("\n")
    if fmt == "markdown":
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for r in rows:
            cells = (_markdown(v) for v in r.cells().values())
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)
    if fmt == "table":
        return _table(rows)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _markdown(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(rows: list[ThemeSummary]) -> str:
    if not rows:
        return "No themes."
    lines = []
    for r in rows:
        seen = f"{_date(r.first_seen)} – {_date(r.last_seen)}" if r.count else "no questions"
        lines.append(f"#{r.id} [{r.status}] {r.count} questions, {seen}")
        lines.append(f"  {r.name}")
        lines.extend(f"  - {e}" for e in r.examples)
    return "\n".join(lines)
