"""What routes depend on (FastAPI `Depends`): settings, store, the ask and admin services, the
user."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Form, Request
from fastapi.templating import Jinja2Templates
from starlette.datastructures import State

from bot.adapters.web import csrf
from bot.adapters.web.auth import Session
from bot.adapters.web.pages import SESSION_COOKIE, LoginRequired
from bot.adapters.web.uploads import PendingUploads
from bot.asking import AskService
from bot.config import Settings
from bot.errors import RutinbotError
from bot.gaps.store import SqlRecorder

if TYPE_CHECKING:
    from bot.admin.documents import AdminService
    from bot.gaps.grouping import ThemeJob
    from bot.gaps.outbox import Outbox

log = logging.getLogger(__name__)

LOAD_WAIT = 120.0  # seconds a first question waits for the encoder and index to load


class AskLoader:
    """Builds the ask service (encoder, index, outbox, theme job) once, in a thread of its own
    started with the app, so no request pays for loading the model and none blocks the loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: SqlRecorder | None = None
        self._done = threading.Event()
        self._service: AskService | None = None
        self._error: RutinbotError | None = None
        self._outbox: Outbox | None = None
        self._themes: ThemeJob | None = None
        self._started = False
        self._lock = threading.Lock()

    def start(self, store: SqlRecorder) -> None:
        """Begin loading, recording into `store` (the first call's store; later calls wait)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self.store = store
        threading.Thread(target=self._load, name="rutinbot-ask-load", daemon=True).start()

    def _load(self) -> None:
        store = self.store
        try:
            if store is None:
                raise RutinbotError("the chat was started without a store")
            from bot.answer.core import Answerer
            from bot.asking import AskService
            from bot.gaps.grouping import ThemeJob
            from bot.gaps.outbox import Outbox

            answerer = Answerer(self.settings)
            self._outbox = Outbox(store)
            self._themes = ThemeJob(store, answerer.encoder)
            self._service = AskService(answerer, self._outbox, themes=self._themes)
            log.info("chat ready: encoder %s loaded", answerer.encoder.name)
        except RutinbotError as err:
            log.error("the chat cannot answer: %s", err)
            self._error = err
        except Exception as err:  # never leave a waiting request hanging
            log.error("loading the chat failed", exc_info=err)
            self._error = RutinbotError(f"loading the chat failed: {type(err).__name__}")
        finally:
            self._done.set()

    def get(self, store: SqlRecorder, timeout: float = LOAD_WAIT) -> AskService:
        """The service; waits for the load (call it off the event loop). Raises its error."""
        self.start(store)
        if not self._done.wait(timeout):
            raise RutinbotError("the chat is still loading")
        if self._error is not None:
            raise self._error
        if self._service is None:  # loaded without an error, yet nothing built: never expected
            raise RutinbotError("the chat failed to load")
        return self._service

    def close(self) -> None:
        if self._themes is not None:
            self._themes.close()
        if self._outbox is not None:
            self._outbox.close()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> SqlRecorder:
    """The gaps store: the one given to create_app, else the configured one, opened once."""
    return store_of(request.app.state)


def store_of(state: State) -> SqlRecorder:
    """The app's store (see get_store), for work outside a request."""
    if state.store is None:
        with state.store_lock:
            if state.store is None:
                from bot.gaps.store import create_recorder

                state.store = state.own_store = create_recorder(state.settings)
    return state.store


def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def get_ask_service(
    request: Request, store: Annotated[SqlRecorder, Depends(get_store)]
) -> AskService:
    """The ask service, recording into the store. A sync dependency, so FastAPI runs it in a
    worker thread: waiting for the encoder never blocks the event loop."""
    return request.app.state.asking.get(store)


def get_admin_service(
    request: Request, store: Annotated[SqlRecorder, Depends(get_store)]
) -> AdminService:
    """The document administration service, one per app, auditing into the gaps store."""
    return admin_of(request.app.state, store)


def admin_of(state: State, store: SqlRecorder) -> AdminService:
    """The app's admin service (see get_admin_service), for work outside a request."""
    if state.admin is None:
        with state.admin_lock:
            if state.admin is None:
                from bot.admin.audit import AuditLog
                from bot.admin.documents import AdminService

                state.admin = AdminService(state.settings, audit=AuditLog(store.engine))
    return state.admin


def get_pending_uploads(request: Request) -> PendingUploads:
    """Uploads waiting for an admin's "Ersätt" (uploads.py), one store per app."""
    return request.app.state.pending_uploads


def current_user(request: Request) -> Session:
    """The logged-in account's session; LoginRequired (to the login form) when there is none."""
    session = request.app.state.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired
    return session


CurrentUser = Annotated[Session, Depends(current_user)]
Asking = Annotated[AskService, Depends(get_ask_service)]
# A string: the admin service is imported when first used, not by every page of the app.
Admin = Annotated["AdminService", Depends(get_admin_service)]
Pending = Annotated[PendingUploads, Depends(get_pending_uploads)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Store = Annotated[SqlRecorder, Depends(get_store)]
Templates = Annotated[Jinja2Templates, Depends(get_templates)]
CsrfToken = Annotated[str, Form(alias=csrf.FIELD)]
