"""The reviewer web page: FastAPI routes over the gaps store, rendered server-side in Swedish."""

from __future__ import annotations

import http
import ipaddress
import logging
import secrets
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from bot.adapters.web import csrf, views
from bot.adapters.web.auth import LoginLimiter, Session, Sessions, Users, load_users
from bot.errors import ConfigError, IndexMismatchError, IndexMissingError, RutinbotError
from bot.gaps.report import nearest_passages, questions_csv, render, summaries
from bot.gaps.tables import THEME_STATUSES

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.gaps.store import SqlRecorder

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "rutinbot_session"
ACTIVE = ("open", "in_progress")
CHART_WEEKS = 8
PASSAGES = 5
MAX_NOTE = 2000
SV_STATUS = {
    400: "Felaktig begäran.",
    401: "Du är inte inloggad.",
    403: "Åtkomst nekad.",
    404: "Sidan finns inte.",
    405: "Metoden stöds inte här.",
    429: "För många försök. Vänta en stund och försök igen.",
    500: "Något gick fel. Försök igen om en stund, eller kontakta administratören.",
}
FORM_EXPIRED = (
    "Formuläret har gått ut eller kom inte från den här sidan. Ladda om sidan och försök igen. "
    "Händer det varje gång: sidan måste nås över https, eller med secure_cookies = false "
    "(se docs/web.md)."
)


class LoginRequired(Exception):
    """No live session: HTML pages redirect to the login form, everything else gets 401."""


def reviewer(request: Request) -> Session:
    """The logged-in reviewer's session; every route but /login and /static depends on it."""
    session = request.app.state.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired
    return session


Reviewer = Annotated[Session, Depends(reviewer)]
CsrfToken = Annotated[str, Form(alias=csrf.FIELD)]


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never "//host" or "https://…" (an open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _set_cookie(response: Response, request: Request, name: str, value: str, **kw) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=request.app.state.settings.web.secure_cookies,
        samesite=kw.pop("samesite", "lax"),
        **kw,
    )


def create_app(
    settings: Settings, store: SqlRecorder | None = None, *, users: dict[str, str] | None = None
) -> FastAPI:
    """The web app over `store` (default: the configured database), for the configured users."""
    path = settings.web.users_path(settings.paths)
    if users is None:
        users = load_users(path)
    if not users:
        raise ConfigError(
            f"no reviewer accounts in {path}; add one with `rutinbot serve --add-user NAME`"
        )
    own_store = store is None
    if store is None:
        from bot.gaps.store import create_recorder

        store = create_recorder(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        if own_store:
            store.close()

    app = FastAPI(
        title="rutinbot", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    web = settings.web
    app.state.settings = settings
    app.state.store = store
    app.state.users = Users(users)
    app.state.sessions = Sessions(idle_seconds=web.session_minutes * 60)
    app.state.limiter = LoginLimiter(web.login_attempts, web.login_window_minutes * 60)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.trim_blocks = templates.env.lstrip_blocks = True
    templates.env.filters["local"] = views.local
    templates.env.globals.update(
        status_sv=views.STATUS_SV, reason_sv=views.REASON_SV, event_sv=views.EVENT_SV
    )
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _add_error_pages(app, templates)
    _add_security_headers(app)
    app.include_router(_public_routes(templates))
    app.include_router(_reviewer_routes(templates, settings, store))
    return app


def _page(templates, request: Request, name: str, status_code: int = 200, **context):
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


def _add_error_pages(app: FastAPI, templates) -> None:
    """Errors are translated here, once: a Swedish page for a browser, short text otherwise."""

    def error(request: Request, status: int, message: str) -> Response:
        if request.method == "GET" or "text/html" in request.headers.get("accept", ""):
            return _page(templates, request, "error.html", status, message=message)
        return PlainTextResponse(message, status_code=status)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if _wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return PlainTextResponse(SV_STATUS[401], status_code=401)

    @app.exception_handler(RutinbotError)
    async def domain_error(request: Request, exc: RutinbotError) -> Response:
        log.warning("request %s %s failed: %s", request.method, request.url.path, exc)
        return error(request, 400, exc.sv)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail
        if not isinstance(detail, str) or detail == http.HTTPStatus(exc.status_code).phrase:
            detail = SV_STATUS.get(exc.status_code, SV_STATUS[500])  # Starlette's English
        return error(request, exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, _exc: RequestValidationError) -> Response:
        return error(request, 400, SV_STATUS[400])


def _add_security_headers(app: FastAPI) -> None:
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


def _public_routes(templates) -> APIRouter:
    router = APIRouter()

    def login_form(
        request: Request, status_code: int = 200, next_page: str | None = None, **context
    ) -> Response:
        token = secrets.token_urlsafe(32)
        next_page = _safe_next(next_page or request.query_params.get("next"))
        response = _page(
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
    def login_page(request: Request) -> Response:
        if request.app.state.sessions.get(request.cookies.get(SESSION_COOKIE)):
            return RedirectResponse("/", status_code=303)
        logged_out = request.query_params.get("utloggad") is not None
        return login_form(request, info="Du är utloggad." if logged_out else None)

    @router.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        token: CsrfToken = "",
        next_page: Annotated[str, Form(alias="next")] = "/",
    ) -> Response:
        if not csrf.tokens_match(token, request.cookies.get(csrf.LOGIN_COOKIE)):
            return login_form(
                request, 403, error=FORM_EXPIRED, username=username, next_page=next_page
            )
        state = request.app.state
        address = request.client.host if request.client else "-"
        if state.limiter.blocked(username, address):
            who = repr(username) if username in state.users else "an unknown user"
            log.warning("login for %s from %s refused: too many failures", who, address)
            minutes = state.settings.web.login_window_minutes
            message = f"För många misslyckade inloggningar. Försök igen om {minutes} minuter."
            return login_form(request, 429, error=message, username=username, next_page=next_page)
        if not state.users.check(username, password):
            state.limiter.failed(username, address)
            # An unknown name is not logged: it is often a password typed in the wrong field.
            who = repr(username) if username in state.users else "an unknown user"
            log.info("failed login for %s from %s", who, address)
            message = "Fel användarnamn eller lösenord."
            return login_form(request, 401, error=message, username=username, next_page=next_page)
        state.limiter.succeeded(username, address)
        session = state.sessions.create(username)  # a new id at every login: no fixation
        log.info("reviewer %r logged in from %s", username, address)
        response = RedirectResponse(_safe_next(next_page), status_code=303)
        _set_cookie(response, request, SESSION_COOKIE, session.id, path="/")
        response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
        return response

    return router


def _reviewer_routes(templates, settings: Settings, store: SqlRecorder) -> APIRouter:
    # The dependency on the router, not on each route: a new route cannot forget it.
    router = APIRouter(dependencies=[Depends(reviewer)])

    def theme_or_404(theme_id: int):
        theme = store.theme(theme_id)
        if theme is None:
            raise HTTPException(404, "Temat finns inte. Det kan ha slagits ihop med ett annat.")
        return theme

    @router.post("/logout")
    def logout(
        request: Request,
        me: Reviewer,
        token: CsrfToken = "",
    ) -> Response:
        csrf.check(token, me.csrf)
        request.app.state.sessions.drop(me.id)
        log.info("reviewer %r logged out", me.user)
        response = RedirectResponse("/login?utloggad", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request, visa: str = "") -> Response:
        show_all = visa == "alla"
        rows = summaries(store, None if show_all else ACTIVE)
        rows.sort(key=lambda r: (r.status not in ACTIVE, -r.count, r.id))
        today = datetime.now(UTC).date()
        since = views.monday(today) - timedelta(weeks=views.TREND_WEEKS - 1)
        start = datetime(since.year, since.month, since.day, tzinfo=UTC)
        trends = views.trends(store.gaps(start), today)
        return _page(
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
    def theme_page(request: Request, theme_id: int) -> Response:
        theme = theme_or_404(theme_id)
        gaps = store.gaps(theme_id=theme_id)
        return _page(
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
    def change_status(
        theme_id: int,
        me: Reviewer,
        token: CsrfToken = "",
        status: Annotated[str, Form()] = "",
        note: Annotated[str, Form()] = "",
    ) -> Response:
        csrf.check(token, me.csrf)
        if status not in THEME_STATUSES:
            raise HTTPException(400, "Välj en av statusarna i listan.")
        if len(note) > MAX_NOTE:
            raise HTTPException(400, f"Anteckningen får vara högst {MAX_NOTE} tecken.")
        theme_or_404(theme_id)
        store.set_theme_status(theme_id, status, note=note.strip() or None, by=me.user)
        log.info("reviewer %r set theme %s to %s", me.user, theme_id, status)
        me.flashes.append(f"Status ändrad till ”{views.STATUS_SV[status]}”.")
        return RedirectResponse(f"/themes/{theme_id}", status_code=303)

    @router.post("/themes/{theme_id}/merge")
    def merge(
        theme_id: int,
        me: Reviewer,
        token: CsrfToken = "",
        into: Annotated[int, Form()] = 0,
    ) -> Response:
        csrf.check(token, me.csrf)
        theme_or_404(theme_id)
        target = theme_or_404(into)
        if target.id == theme_id:
            raise HTTPException(400, "Ett tema kan inte slås ihop med sig självt.")
        moved = store.merge_theme(theme_id, into, by=me.user)
        log.info("reviewer %r merged theme %s into %s", me.user, theme_id, into)
        me.flashes.append(f"Tema #{theme_id} slogs ihop med det här temat ({moved} frågor).")
        return RedirectResponse(f"/themes/{into}", status_code=303)

    @router.post("/questions/{question_id}/delete")
    def delete_question(
        question_id: str,
        me: Reviewer,
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

    @router.get("/documents", response_class=HTMLResponse)
    def documents(request: Request) -> Response:
        from bot.search.store import open_current

        manifest, index_error = None, None
        try:
            _, manifest = open_current(settings.paths.index)
        except (IndexMissingError, IndexMismatchError) as err:
            index_error = err.sv
        built = views.parse_time(manifest.built_at) if manifest else None
        flagged = [t for t in store.themes() if t.answered_now]
        return _page(
            templates,
            request,
            "documents.html",
            manifest=manifest,
            built=built,
            index_error=index_error,
            flagged=flagged,
        )

    @router.get("/export/themes.csv")
    def export_themes() -> Response:
        return _csv(render(summaries(store, None), "csv"), "teman")

    @router.get("/export/questions.csv")
    def export_questions(tema: int | None = None) -> Response:
        gaps = store.gaps(theme_id=tema)
        name = "fragor" if tema is None else f"fragor-tema-{tema}"
        return _csv(questions_csv(gaps), name)

    return router


def _csv(text: str, name: str) -> Response:
    # A byte-order mark, so Excel opens the UTF-8 file with å, ä and ö intact.
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return Response(
        "\ufeff" + text + "\n",
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rutinbot-{name}-{day}.csv"'},
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the page with uvicorn until interrupted."""
    import uvicorn

    app = create_app(settings)
    host = host or settings.web.host
    port = port or settings.web.port
    if not _loopback(host):
        if settings.web.secure_cookies:
            log.warning(
                "listening on %s: browsers on other machines keep the session cookie only over "
                "https, so put an https reverse proxy in front (docs/web.md)",
                host,
            )
        else:
            log.warning(
                "listening on %s with secure_cookies = false: sessions travel in clear", host
            )
    log.info("reviewer page on http://%s:%s/", host, port)
    uvicorn.run(app, host=host, port=port, proxy_headers=True, server_header=False)
