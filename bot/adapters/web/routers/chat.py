"""The staff chat at /fraga: ask, page, open a section and rate, all as plain forms (POST)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.adapters import text as answer_text
from bot.adapters.web import csrf
from bot.adapters.web.access import MEMBERS, allow
from bot.adapters.web.conversation import Turn, add_turn, cards, find_turn
from bot.adapters.web.deps import Asking, CsrfToken, CurrentUser, Store, get_ask_service
from bot.adapters.web.pages import page
from bot.errors import QuestionError
from bot.safetext import clean_text

log = logging.getLogger(__name__)

CHANNEL = "web"
MAX_PREFILL = 1000  # characters of ?q= put into the form; the core checks the real limit
GONE = "Svaret finns inte längre i den här sessionen. Ställ frågan igen."

router = APIRouter()


def _chat_page(
    request: Request, me, status_code: int = 200, *, draft: str = "", error: str | None = None
) -> Response:
    return page(
        request.app.state.templates,
        request,
        "chat.html",
        status_code,
        turns=list(reversed(me.chat)),  # newest first: it is what the phone shows without scrolling
        draft=draft,
        error=error,
        answered_header=answer_text.ANSWERED,
        refused_header=answer_text.NOT_ANSWERED,
    )


def _back(turn: Turn) -> RedirectResponse:
    # Post/redirect/get: a reload shows the page again instead of sending the form twice.
    return RedirectResponse(f"/fraga#svar-{turn.record_id}", status_code=303)


def _turn(me, record_id: str) -> Turn:
    """The turn in this session's chat; a record of another session or user is not found."""
    turn = find_turn(me.chat, record_id)
    if turn is None:
        raise HTTPException(404, GONE)
    return turn


@router.get("/fraga", response_class=HTMLResponse)
@allow(MEMBERS)
def chat_page(request: Request, me: CurrentUser, store: Store, q: str = "") -> Response:
    """The chat; `?q=` only fills in the form (a link must never ask, nor record, by itself)."""
    if get_ask_service not in request.app.dependency_overrides:
        request.app.state.asking.start(store)  # load the encoder now, while she types
    return _chat_page(request, me, draft=clean_text(q)[:MAX_PREFILL])


@router.post("/fraga")
@allow(MEMBERS)
def ask(
    request: Request,
    me: CurrentUser,
    asking: Asking,
    token: CsrfToken = "",
    question: Annotated[str, Form(alias="fraga")] = "",
) -> Response:
    """A question, answered by the core (checked, redacted, answered, recorded) in a worker
    thread: a sync route, so the encoder never runs on the event loop."""
    csrf.check(token, me.csrf)
    try:
        asked = asking.ask(question, channel=CHANNEL, asker=me.user)
    except QuestionError as err:
        draft = clean_text(question)[:MAX_PREFILL]
        return _chat_page(request, me, 400, draft=draft, error=err.sv)
    shown = asked.answer.citations[: asked.shown]
    turn = Turn(
        record_id=asked.record_id,
        question=asked.question_redacted,
        answered=asked.answer.answered,
        cards=cards(shown),
        shown=len(shown),
        more=asked.more,
    )
    add_turn(me.chat, turn)
    log.info("web question answered=%s with %d passages", asked.answer.answered, len(shown))
    return _back(turn)


@router.post("/fraga/{record_id}/fler")
@allow(MEMBERS)
def more(record_id: str, me: CurrentUser, asking: Asking, token: CsrfToken = "") -> Response:
    """ "Fler källor": the next passages of the same (redacted) question."""
    csrf.check(token, me.csrf)
    turn = _turn(me, record_id)
    if turn.more:
        answer = asking.more(record_id, me.user, turn.shown, channel=CHANNEL)
        turn.cards += cards(answer.citations, first=turn.shown + 1)
        turn.shown += len(answer.citations)
        turn.more = bool(answer.citations) and asking.has_more(answer)
        turn.no_more = not answer.citations
    return _back(turn)


@router.post("/fraga/{record_id}/avsnitt")
@allow(MEMBERS)
def section(
    record_id: str,
    me: CurrentUser,
    asking: Asking,
    token: CsrfToken = "",
    number: Annotated[int, Form(alias="nr", ge=1)] = 1,
) -> Response:
    """ "Visa hela avsnittet": the whole section a passage comes from."""
    csrf.check(token, me.csrf)
    turn = _turn(me, record_id)
    turn.section = asking.section(record_id, me.user, number, channel=CHANNEL)
    return _back(turn)


@router.post("/fraga/{record_id}/omdome")
@allow(MEMBERS)
def feedback(
    record_id: str,
    me: CurrentUser,
    asking: Asking,
    token: CsrfToken = "",
    helpful: Annotated[str, Form(alias="hjalpte")] = "",
) -> Response:
    """👍 / 👎, once per answer; 👎 makes the answer a knowledge gap (in the core)."""
    csrf.check(token, me.csrf)
    if helpful not in ("ja", "nej"):
        raise HTTPException(400, "Välj 👍 Hjälpte eller 👎 Hjälpte inte.")
    turn = _turn(me, record_id)
    if turn.feedback is None:
        asking.feedback(record_id, me.user, helpful == "ja", channel=CHANNEL)
        turn.feedback = helpful == "ja"
    return _back(turn)
