"""What the templates show, computed from the store's results: labels, trends and chart bars."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.clock import SWEDISH_TIME
from bot.gaps.tables import THEME_STATUS_SV

if TYPE_CHECKING:
    from bot.gaps.records import Gap, WeekCount

STATUS_SV = {status: label.capitalize() for status, label in THEME_STATUS_SV.items()}
REASON_SV = {"unanswered": "Obesvarad", "unhelpful": "Hjälpte inte"}
EVENT_SV = {
    "status": "Status ändrad",
    "merge": "Sammanslagen",
    "move": "Fråga flyttad",
    "answered_now": "Besvaras nu",
}
TREND_WEEKS = 4

# Chart geometry, in SVG user units (the SVG scales to the width of the screen).
CHART_W, CHART_H, CHART_TOP, CHART_BOTTOM = 640, 220, 28, 36
TREND_W, TREND_H = 52, 18


def local(moment: datetime | None) -> str:
    """A stored UTC time as reviewers in Sweden read it ("2026-11-22 15:05")."""
    if moment is None:
        return "–"
    shown = moment.astimezone(SWEDISH_TIME).strftime("%Y-%m-%d %H:%M")
    return shown if SWEDISH_TIME is not UTC else shown + " UTC"


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    kind: str  # css class: "answered", "unanswered" or "trend"
    label: str  # shown on hover and read by screen readers


@dataclass(frozen=True)
class Trend:
    counts: tuple[int, ...]  # questions per week, oldest first
    bars: tuple[Bar, ...]

    @property
    def label(self) -> str:
        return "Frågor per vecka, äldst först: " + ", ".join(map(str, self.counts))


def trends(gaps: Iterable[Gap], today: date, weeks: int = TREND_WEEKS) -> dict[int, Trend]:
    """Per theme id: its gap questions in each of the last `weeks` weeks, as small bars."""
    first = monday(today) - timedelta(weeks=weeks - 1)
    per_theme: dict[int, Counter] = {}
    for g in gaps:
        if g.theme_id is not None:
            per_theme.setdefault(g.theme_id, Counter())[monday(g.time.date())] += 1
    out = {}
    for theme_id, counter in per_theme.items():
        counts = tuple(counter[first + timedelta(weeks=i)] for i in range(weeks))
        out[theme_id] = _trend(counts)
    return out


def _trend(counts: tuple[int, ...]) -> Trend:
    top = max(max(counts), 1)
    step = TREND_W / len(counts)
    bars = []
    for i, n in enumerate(counts):
        h = max(1.0, (TREND_H - 2) * n / top) if n else 1.0  # an empty week shows as a line
        bars.append(Bar(i * step + 1, TREND_H - h, step - 2, h, n, "trend", str(n)))
    return Trend(counts, tuple(bars))


def empty_trend() -> Trend:
    return _trend((0,) * TREND_WEEKS)


@dataclass(frozen=True)
class WeekChart:
    bars: tuple[Bar, ...]
    labels: tuple[tuple[float, str], ...]  # x, "v. 47"
    top: int  # the value of the tallest bar's height
    width: int = CHART_W
    height: int = CHART_H
    baseline: float = CHART_H - CHART_BOTTOM
    helpful: int = 0
    unhelpful: int = 0
    answered: int = 0
    unanswered: int = 0

    @property
    def helpful_share(self) -> int | None:
        """Percent of rated answers marked helpful, or None when none were rated."""
        rated = self.helpful + self.unhelpful
        return round(100 * self.helpful / rated) if rated else None

    @property
    def label(self) -> str:
        return (
            f"Besvarade och obesvarade frågor per vecka: {self.answered} besvarade, "
            f"{self.unanswered} obesvarade"
        )


def week_chart(weeks: Sequence[WeekCount]) -> WeekChart:
    """Two bars a week, answered beside unanswered, scaled to the busiest week."""
    top = max([max(w.answered, w.unanswered) for w in weeks] + [1])
    usable = CHART_H - CHART_TOP - CHART_BOTTOM
    group = CHART_W / max(len(weeks), 1)
    bar_w = group * 0.36
    bars, labels = [], []
    for i, w in enumerate(weeks):
        x0 = i * group + group * 0.12
        week_no = w.week.isocalendar().week
        for j, (kind, n, word) in enumerate(
            (("answered", w.answered, "besvarade"), ("unanswered", w.unanswered, "obesvarade"))
        ):
            h = usable * n / top
            y = CHART_H - CHART_BOTTOM - h
            label = f"Vecka {week_no}: {n} {word}"
            bars.append(
                Bar(
                    round(x0 + j * bar_w, 1),
                    round(y, 1),
                    round(bar_w, 1),
                    round(h, 1),
                    n,
                    kind,
                    label,
                )
            )
        labels.append((round(i * group + group / 2, 1), f"v. {week_no}"))
    return WeekChart(
        bars=tuple(bars),
        labels=tuple(labels),
        top=top,
        helpful=sum(w.helpful for w in weeks),
        unhelpful=sum(w.unhelpful for w in weeks),
        answered=sum(w.answered for w in weeks),
        unanswered=sum(w.unanswered for w in weeks),
    )


def parse_time(value: str | None) -> datetime | None:
    """The index manifest's ISO build time as an aware UTC datetime (None if absent or odd)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
