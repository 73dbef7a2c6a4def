"""Themes for reviewers: a plain-text table, CSV, JSON or Markdown."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from bot.gaps.records import Gap
    from bot.gaps.store import SqlRecorder

FORMATS = ("table", "csv", "json", "markdown")
EXAMPLES = 3
PASSAGES = 3
COLUMNS = (
    "id",
    "status",
    "count",
    "first_seen",
    "last_seen",
    "answered_now",
    "name",
    "examples",
    "nearest_passages",
)
QUESTION_COLUMNS = ("id", "time", "channel", "reason", "confidence", "theme", "question")


@dataclass(frozen=True)
class Passage:
    """A passage the search found nearest to a theme's questions, though not close enough."""

    document: str
    section: str | None
    page: int | None
    chunk_id: int
    score: float  # the best score it had for any of the questions
    count: int  # how many of the questions had it among their citations

    def label(self) -> str:
        where = self.document + (f" › {self.section}" if self.section else "")
        return where + (f" (s. {self.page})" if self.page else "")


def nearest_passages(gaps: Iterable[Gap], limit: int = PASSAGES) -> list[Passage]:
    """The passages cited most often for these questions, then by best score.

    Citations are stored per question with the index they came from; a passage is identified
    by document and section, which survive a reindex, so citations from different indexes add up.
    """
    found: dict[tuple, dict] = {}
    for gap in gaps:
        seen = set()
        for c in gap.citations:
            key = (c.get("document"), c.get("section"))
            entry = found.setdefault(key, {"citation": c, "score": float(c["score"]), "count": 0})
            if key not in seen:  # a question citing two chunks of one section counts once
                seen.add(key)
                entry["count"] += 1
            if float(c["score"]) > entry["score"]:
                entry["citation"], entry["score"] = c, float(c["score"])
    ranked = sorted(found.values(), key=lambda e: (-e["count"], -e["score"]))
    return [
        Passage(
            document=e["citation"]["document"],
            section=e["citation"].get("section"),
            page=e["citation"].get("page"),
            chunk_id=e["citation"]["chunk_id"],
            score=e["score"],
            count=e["count"],
        )
        for e in ranked[:limit]
    ]


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
    answered_now: bool = False
    passages: tuple[Passage, ...] = ()

    def cells(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "count": self.count,
            "first_seen": _date(self.first_seen),
            "last_seen": _date(self.last_seen),
            "answered_now": "yes" if self.answered_now else "",
            "name": self.name,
            "examples": " | ".join(self.examples),
            "nearest_passages": " | ".join(p.label() for p in self.passages),
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
                answered_now=theme.answered_now,
                passages=tuple(nearest_passages(gaps)),
            )
        )
    return rows


def safe_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: formulas would run when the CSV is opened."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue().rstrip("\n")


def questions_csv(gaps: Iterable[Gap]) -> str:
    """Gap questions as formula-safe CSV, one row each."""
    return _csv(
        QUESTION_COLUMNS,
        (
            (
                g.record_id,
                _date(g.time),
                g.channel,
                g.reason,
                f"{g.confidence:.2f}",
                g.theme_id if g.theme_id is not None else "",
                g.question,
            )
            for g in gaps
        ),
    )


def render(rows: list[ThemeSummary], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [
                r.cells()
                | {
                    "answered_now": r.answered_now,
                    "examples": list(r.examples),
                    "nearest_passages": [asdict(p) for p in r.passages],
                }
                for r in rows
            ],
            indent=2,
            ensure_ascii=False,
        )
    if fmt == "csv":
        return _csv(COLUMNS, (r.cells().values() for r in rows))
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
        flag = ' · "besvaras nu": the new index answers it' if r.answered_now else ""
        lines.append(f"#{r.id} [{r.status}] {r.count} questions, {seen}{flag}")
        lines.append(f"  {r.name}")
        lines.extend(f"  - {e}" for e in r.examples)
        lines.extend(f"  nearest: {p.label()}" for p in r.passages)
    return "\n".join(lines)
