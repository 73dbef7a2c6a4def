"""Responses every page shares: the page frame, Swedish error pages and security headers."""

from __future__ import annotations

import http
import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.asking import UnknownAnswerError
from bot.errors import (
    EncoderError,
    IndexMismatchError,
    IndexMissingError,
    QuestionError,
    RutinbotError,
)

log = logging.getLogger(__name__)

SESSION_COOKIE = "rutinbot_session"
SV_STATUS = {
    400: "Felaktig begäran.",
    401: "Du är inte inloggad.",
    403: "Åtkomst nekad.",
    404: "Sidan finns inte.",
    405: "Metoden stöds inte här.",
    429: "För många försök. Vänta en stund och försök igen.",
    500: "Något gick fel. Försök igen om en stund, eller kontakta administratören.",
    503: "Tjänsten kan inte svara just nu. Försök igen om en stund, eller kontakta "
    "administratören.",
}
# A domain error's HTTP status, by class (the first match in order); any other is a 400 (a
# request the domain refused). Crashes (not domain errors) get the Swedish 500 page.
STATUS_OF_ERROR: tuple[tuple[type[RutinbotError], int], ...] = (
    (QuestionError, 400),
    (UnknownAnswerError, 404),
    (IndexMissingError, 503),
    (IndexMismatchError, 503),
    (EncoderError, 503),
)


class LoginRequired(Exception):
    """No live session: HTML pages redirect to the login form, everything else gets 401."""


def browser(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def wants_html(request: Request) -> bool:
    return request.method == "GET" and browser(request)


def page(templates, request: Request, name: str, status_code: int = 200, **context):
    session = request.app.state.sessions.get(request.cookies.get(SESSION_COOKIE))
    flashes = []
    if session is not None:
        flashes, session.flashes = session.flashes, []
    return templates.TemplateResponse(
        request,
        name,
        {"me": session, "flashes": flashes, **context},
        status_code=status_code,
    )


def add_error_pages(app: FastAPI, templates) -> None:
    """Errors are translated here, once: a Swedish page for a browser, short text otherwise."""

    def error(request: Request, status: int, message: str, headers=None) -> Response:
        # A browser gets the page; scripts and curl get the same Swedish sentence as text.
        if browser(request):
            response = page(templates, request, "error.html", status, message=message)
        else:
            response = PlainTextResponse(message, status_code=status)
        response.headers.update(headers or {})
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return error(request, 401, SV_STATUS[401])

    @app.exception_handler(RutinbotError)
    async def domain_error(request: Request, exc: RutinbotError) -> Response:
        status = next((code for cls, code in STATUS_OF_ERROR if isinstance(exc, cls)), 400)
        log.warning("request %s %s failed (%s): %s", request.method, request.url.path, status, exc)
        return error(request, status, exc.sv)

    # Starlette's own class: its 404 for an unknown page and 405 come as that, not FastAPI's.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail
        if not isinstance(detail, str) or detail == http.HTTPStatus(exc.status_code).phrase:
            detail = SV_STATUS.get(exc.status_code, SV_STATUS[500])  # Starlette's English
        return error(request, exc.status_code, detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, _exc: RequestValidationError) -> Response:
        return error(request, 400, SV_STATUS[400])

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        # The traceback is logged (by path, never a form's text); the reviewer sees Swedish.
        log.error("request %s %s failed", request.method, request.url.path, exc_info=exc)
        try:
            return error(request, 500, SV_STATUS[500])
        except Exception:  # the error page itself failed: plain text is all that is left
            return PlainTextResponse(SV_STATUS[500], status_code=500)


def add_security_headers(app: FastAPI) -> None:
    # No scripts at all; styles and images only from this app; no framing (clickjacking).
    policy = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"  # questions stay off shared caches
        return response
