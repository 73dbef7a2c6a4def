"""Logging in and out: the login form, its limit, the session cookie and where a user lands."""

from __future__ import annotations

import logging
import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.adapters.web import csrf
from bot.adapters.web.access import EVERYONE, MEMBERS, WebRole, allow
from bot.adapters.web.clients import client_address
from bot.adapters.web.deps import CsrfToken, CurrentUser, get_settings
from bot.adapters.web.pages import SESSION_COOKIE, page

log = logging.getLogger(__name__)

KNOWN_COOKIE = "rutinbot_known"  # a browser that has logged in as this name before
KNOWN_DAYS = 90
FORM_EXPIRED = (
    "Formuläret har gått ut eller kom inte från den här sidan. Ladda om sidan och försök igen. "
    "Händer det varje gång: sidan måste nås över https, eller med secure_cookies = false "
    "(se docs/web.md)."
)

router = APIRouter()


def address_of(request: Request) -> str:
    """The client's address, through the configured trusted proxies only."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers, request.app.state.trusted_proxies)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never "//host" or "https://…" (an open redirect), never a
    control character (a header split). Empty when there is none: the role's home page then."""
    if (
        target
        and target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and target.isprintable()
        and "\\" not in target
    ):
        return target
    return ""


def home_of(role: WebRole) -> str:
    """Where an account lands after login when it asked for no page: staff chat, others review."""
    return "/fraga" if role == WebRole.STAFF else "/"


def _set_cookie(response: Response, request: Request, name: str, value: str, **kw) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=get_settings(request).web.secure_cookies,
        samesite=kw.pop("samesite", "lax"),
        **kw,
    )


def login_form(
    request: Request, status_code: int = 200, next_page: str | None = None, **context
) -> Response:
    templates = request.app.state.templates
    token = secrets.token_urlsafe(32)
    next_page = _safe_next(next_page or request.query_params.get("next"))
    response = page(
        templates,
        request,
        "login.html",
        status_code,
        csrf_token=token,
        next=next_page,
        **context,
    )
    _set_cookie(response, request, csrf.LOGIN_COOKIE, token, path="/login", samesite="strict")
    return response


@router.get("/login", response_class=HTMLResponse)
@allow(EVERYONE)
def loginpage(request: Request) -> Response:
    session = request.app.state.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        return RedirectResponse(home_of(session.role), status_code=303)
    logged_out = request.query_params.get("utloggad") is not None
    return login_form(request, info="Du är utloggad." if logged_out else None)


@router.post("/login")
@allow(EVERYONE)
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    token: CsrfToken = "",
    next_page: Annotated[str, Form(alias="next")] = "",
) -> Response:
    if not csrf.tokens_match(token, request.cookies.get(csrf.LOGIN_COOKIE)):
        return login_form(request, 403, error=FORM_EXPIRED, username=username, next_page=next_page)
    state = request.app.state
    address = address_of(request)
    wait = state.limiter.wait(username, address, request.cookies.get(KNOWN_COOKIE))
    if wait > 0:
        who = repr(username) if username in state.users else "an unknown user"
        log.warning("login for %s from %s refused: too many failures", who, address)
        minutes = math.ceil(wait / 60)
        when = "en minut" if minutes == 1 else f"{minutes} minuter"
        message = f"För många misslyckade inloggningar. Försök igen om {when}."
        response = login_form(request, 429, error=message, username=username, next_page=next_page)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    if not state.users.check(username, password):
        state.limiter.failed(username, address)
        # An unknown name is not logged: it is often a password typed in the wrong field.
        who = repr(username) if username in state.users else "an unknown user"
        log.info("failed login for %s from %s", who, address)
        message = "Fel användarnamn eller lösenord."
        return login_form(request, 401, error=message, username=username, next_page=next_page)
    known = state.limiter.succeeded(username, address)
    role = state.users.role(username)
    session = state.sessions.create(username, role)  # a new id at every login: no fixation
    log.info("%s %r logged in from %s", role, username, address)
    # The site root is no particular page: each role starts on its own.
    target = _safe_next(next_page)
    response = RedirectResponse(
        target if target not in ("", "/") else home_of(role), status_code=303
    )
    _set_cookie(response, request, SESSION_COOKIE, session.id, path="/")
    _set_cookie(
        response,
        request,
        KNOWN_COOKIE,
        known,
        path="/login",
        samesite="strict",
        max_age=KNOWN_DAYS * 86400,
    )
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
@allow(MEMBERS)
def logout(
    request: Request,
    me: CurrentUser,
    token: CsrfToken = "",
) -> Response:
    csrf.check(token, me.csrf)
    request.app.state.sessions.drop(me.id)
    log.info("%s %r logged out", me.role, me.user)
    response = RedirectResponse("/login?utloggad", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
