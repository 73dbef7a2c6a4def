"""The knowledge-gap pages for reviewers: the overview, a theme and its actions, CSV exports."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.adapters.web import csrf, views
from bot.adapters.web.access import REVIEWERS, allow
from bot.adapters.web.deps import CsrfToken, CurrentUser, SettingsDep, Store, Templates
from bot.adapters.web.pages import page
from bot.gaps.outcomes import MAX_BOLD, MIN_EXAMPLES, outcomes, passage_text
from bot.gaps.records import GapsError
from bot.gaps.report import nearest_passages, questions_csv, render, summaries
from bot.gaps.statuses import ACTIVE_STATUSES
from bot.gaps.tables import THEME_STATUSES

log = logging.getLogger(__name__)

CHART_WEEKS = 8
PASSAGES = 5
MAX_NOTE = 2000

# Each route declares its roles with @allow; `authorise` (an app dependency) enforces them.
router = APIRouter()


def theme_or_404(store, theme_id: int):
    theme = store.theme(theme_id)
    if theme is None:
        raise HTTPException(404, "Temat finns inte. Det kan ha slagits ihop med ett annat.")
    return theme


@router.get("/", response_class=HTMLResponse)
@allow(REVIEWERS)
def overview(request: Request, store: Store, templates: Templates, visa: str = "") -> Response:
    show_all = visa == "alla"
    rows = summaries(store, None if show_all else ACTIVE_STATUSES)
    rows.sort(key=lambda r: (r.status not in ACTIVE_STATUSES, -r.count, r.id))
    today = datetime.now(UTC).date()
    since = views.monday(today) - timedelta(weeks=views.TREND_WEEKS - 1)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    trends = views.trends(store.gaps(start), today)
    return page(
        templates,
        request,
        "overview.html",
        rows=rows,
        trends=trends,
        empty_trend=views.empty_trend(),
        chart=views.week_chart(store.weekly(CHART_WEEKS)),
        show_all=show_all,
    )


@router.get("/themes/{theme_id}", response_class=HTMLResponse)
@allow(REVIEWERS)
def themepage(request: Request, theme_id: int, store: Store, templates: Templates) -> Response:
    theme = theme_or_404(store, theme_id)
    gaps = store.gaps(theme_id=theme_id)
    return page(
        templates,
        request,
        "theme.html",
        theme=theme,
        gaps=list(reversed(gaps)),  # newest first
        passages=nearest_passages(gaps, limit=PASSAGES),
        events=list(reversed(store.theme_events(theme_id))),
        others=[t for t in store.themes() if t.id != theme_id],
        statuses=THEME_STATUSES,
    )


@router.post("/themes/{theme_id}/status")
@allow(REVIEWERS)
def change_status(
    theme_id: int,
    me: CurrentUser,
    store: Store,
    token: CsrfToken = "",
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    csrf.check(token, me.csrf)
    if status not in THEME_STATUSES:
        raise HTTPException(400, "Välj en av statusarna i listan.")
    if len(note) > MAX_NOTE:
        raise HTTPException(400, f"Anteckningen får vara högst {MAX_NOTE} tecken.")
    theme_or_404(store, theme_id)
    store.set_theme_status(theme_id, status, note=note.strip() or None, by=me.user)
    log.info("reviewer %r set theme %s to %s", me.user, theme_id, status)
    me.flashes.append(f"Status ändrad till ”{views.STATUS_SV[status]}”.")
    return RedirectResponse(f"/themes/{theme_id}", status_code=303)


@router.post("/themes/{theme_id}/merge")
@allow(REVIEWERS)
def merge(
    theme_id: int,
    me: CurrentUser,
    store: Store,
    token: CsrfToken = "",
    into: Annotated[int, Form()] = 0,
) -> Response:
    csrf.check(token, me.csrf)
    theme_or_404(store, theme_id)
    target = theme_or_404(store, into)
    if target.id == theme_id:
        raise HTTPException(400, "Ett tema kan inte slås ihop med sig självt.")
    moved = store.merge_theme(theme_id, into, by=me.user)
    log.info("reviewer %r merged theme %s into %s", me.user, theme_id, into)
    me.flashes.append(f"Tema #{theme_id} slogs ihop med det här temat ({moved} frågor).")
    return RedirectResponse(f"/themes/{into}", status_code=303)


@router.post("/questions/{question_id}/delete")
@allow(REVIEWERS)
def delete_question(
    question_id: str,
    me: CurrentUser,
    store: Store,
    token: CsrfToken = "",
    theme_id: Annotated[int | None, Form()] = None,
) -> Response:
    csrf.check(token, me.csrf)
    if not store.delete_question(question_id):
        raise HTTPException(404, "Frågan finns inte, den kan redan vara borttagen.")
    log.info("reviewer %r deleted question %s", me.user, question_id)
    me.flashes.append("Frågan är borttagen.")
    back = f"/themes/{theme_id}" if theme_id is not None else "/"
    return RedirectResponse(back, status_code=303)


@router.post("/questions/{question_id}/answered")
@allow(REVIEWERS)
def mark_answered(
    question_id: str,
    me: CurrentUser,
    store: Store,
    settings: SettingsDep,
    token: CsrfToken = "",
    passage: Annotated[int | None, Form()] = None,
    undo: Annotated[str, Form(alias="angra")] = "",
    theme_id: Annotated[int | None, Form()] = None,
) -> Response:
    """A reviewer found that one of a refused question's nearest passages did answer it."""
    csrf.check(token, me.csrf)
    question = store.question(question_id)
    if question is None:
        raise HTTPException(404, "Frågan finns inte, den kan ha tagits bort.")
    back = f"/themes/{theme_id}" if theme_id is not None else "/"
    if undo:
        store.unmark_answered(question_id)
        log.info("reviewer %r unmarked question %s", me.user, question_id)
        me.flashes.append("Markeringen är borttagen.")
        return RedirectResponse(back, status_code=303)
    if passage is None or not 1 <= passage <= len(question.citations):
        raise HTTPException(400, "Välj ett av frågans närmaste avsnitt.")
    chunk = question.citations[passage - 1].get("chunk_id")
    quote = (
        passage_text(settings.paths.index, question.index_id, chunk)
        if isinstance(chunk, int)
        else None
    )
    try:
        store.mark_answered(question_id, passage, by=me.user, quote=quote)
    except GapsError:  # answered meanwhile, or never refused: the form was not for it
        raise HTTPException(400, "Bara en fråga som inte besvarades kan markeras.") from None
    log.info("reviewer %r marked question %s answered by passage %s", me.user, question_id, passage)
    me.flashes.append("Markerat: avsnittet svarade på frågan.")
    return RedirectResponse(back, status_code=303)


@router.get("/utfall", response_class=HTMLResponse)
@allow(REVIEWERS)
def outcome_page(
    request: Request, store: Store, settings: SettingsDep, templates: Templates
) -> Response:
    report = outcomes(store.labelled(), settings.answer.min_confidence)
    return page(
        templates,
        request,
        "outcomes.html",
        report=report,
        min_examples=MIN_EXAMPLES,
        max_bold=round(MAX_BOLD * 100),
    )


@router.get("/export/themes.csv")
@allow(REVIEWERS)
def export_themes(store: Store) -> Response:
    return _csv(render(summaries(store, None), "csv"), "teman")


@router.get("/export/questions.csv")
@allow(REVIEWERS)
def export_questions(store: Store, tema: int | None = None) -> Response:
    gaps = store.gaps(theme_id=tema)
    name = "fragor" if tema is None else f"fragor-tema-{tema}"
    return _csv(questions_csv(gaps), name)


def _csv(text: str, name: str) -> Response:
    # A byte-order mark, so Excel opens the UTF-8 file with å, ä and ö intact.
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return Response(
        "\ufeff" + text + "\n",
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rutinbot-{name}-{day}.csv"'},
    )
