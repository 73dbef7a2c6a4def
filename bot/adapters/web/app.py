"""The web app: `create_app` wires the routers, the shared state and the app-wide role check."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from bot.adapters.web import housekeeping, views
from bot.adapters.web.access import WebRole, allowed_roles
from bot.adapters.web.auth import Sessions, Users, load_roles, load_users
from bot.adapters.web.clients import trusted_networks
from bot.adapters.web.deps import AskLoader, current_user
from bot.adapters.web.limits import (
    FORM_BODY_LIMIT,
    MB,
    BodyCap,
    BodyLimit,
    LoginLimiter,
    upload_cap,
)
from bot.adapters.web.pages import add_error_pages, add_security_headers
from bot.adapters.web.routers import admin, auth, chat, documents, gaps
from bot.adapters.web.uploads import PendingUploads
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


def authorise(request: Request) -> None:
    """Runs before every route (an app dependency): only the roles it declared get through.

    A route that declared none is refused to everyone, so a new route fails closed.
    """
    route = request.scope.get("route")
    roles = allowed_roles(getattr(route, "endpoint", None))
    if roles is None:
        log.error("route %s declares no allowed roles: refused", request.url.path)
        raise HTTPException(403)
    if WebRole.STRANGER in roles:
        return
    session = current_user(request)  # no session means a stranger: to the login form
    if session.role not in roles:
        log.info("%s refused to a %s account", request.url.path, session.role)
        raise HTTPException(403)


def create_app(
    settings: Settings,
    *,
    users: dict[str, str] | None = None,
    roles: dict[str, WebRole] | None = None,
) -> FastAPI:
    """The web app for the configured accounts (or these, with their roles). The store, the
    settings and the ask service come through dependencies (deps.py), which tests override."""
    path = settings.web.users_path(settings.paths)
    if users is None:
        users = load_users(path)
        roles = load_roles(path) if roles is None else roles
    if not users:
        raise ConfigError(
            f"no accounts in {path}; add one with `rutinbot serve --add-user NAME --role ROLE`"
        )
    asking = AskLoader(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The encoder and index load in a thread of their own when the chat page is first
        # opened (routers/chat.py), not here: the reviewer pages never pay for a model.
        chores = asyncio.create_task(housekeeping.daily(app.state))
        yield
        chores.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await chores
        asking.close()
        app.state.pending_uploads.close()
        if app.state.own_store is not None:
            app.state.own_store.close()

    web = settings.web
    trusted = trusted_networks(web.trusted_proxies)
    app = FastAPI(
        title="rutinbot",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        dependencies=[Depends(authorise)],
    )
    app.state.trusted_proxies = trusted
    app.state.settings = settings
    # The configured store is opened at first use (deps.get_store), or by `run` at start;
    # tests that override `get_store` open none.
    app.state.store = None
    app.state.own_store = None
    app.state.store_lock = threading.Lock()
    app.state.asking = asking
    # The document administration service is built at its first use (deps.get_admin_service).
    app.state.admin = None
    app.state.admin_lock = threading.Lock()
    app.state.pending_uploads = PendingUploads(settings.paths.data / "uploads")
    app.state.users = Users(users, roles)
    app.state.sessions = Sessions(idle_seconds=web.session_minutes * 60)
    app.state.limiter = LoginLimiter(web.login_attempts, web.login_window_minutes * 60)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.trim_blocks = templates.env.lstrip_blocks = True
    templates.env.filters["local"] = views.local
    templates.env.globals.update(
        status_sv=views.STATUS_SV, reason_sv=views.REASON_SV, event_sv=views.EVENT_SV
    )
    templates.env.globals.update(admin.LABELS)
    templates.env.filters["eta"] = admin.eta_sv
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    add_error_pages(app, templates)
    # An upload may be as large as the admin service accepts, and no larger; every other
    # request is a small form. Counted while the body arrives, not after.
    upload_limit = int(min(settings.admin.max_upload_mb, settings.ingest.max_file_mb) * MB)
    app.add_middleware(
        BodyLimit,
        default=BodyCap(FORM_BODY_LIMIT),
        paths={admin.UPLOAD_PATH: upload_cap(upload_limit)},
    )
    # Added after the body limit, so it wraps it: the limit's refusal is raised straight into
    # the route's form parsing, not through this middleware's own task group.
    add_security_headers(app)
    for router in (auth.router, chat.router, gaps.router, documents.router, admin.router):
        app.include_router(router)
    return app


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

    from bot.gaps.store import create_recorder

    app = create_app(settings)
    # Opened now, not at the first request: a database that cannot be reached fails the start.
    app.state.store = app.state.own_store = create_recorder(settings)
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
    log.info("staff chat and reviewer page on http://%s:%s/", host, port)
    # Forwarded headers are read by the app, from [web] trusted_proxies only (address_of).
    # No access log: a request line can carry a question (/fraga?q=…); the app logs what it
    # needs itself, without question text.
    uvicorn.run(
        app, host=host, port=port, proxy_headers=False, server_header=False, access_log=False
    )
