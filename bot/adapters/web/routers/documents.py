"""The documents page: the index's documents and the themes a reindex flagged as answered now.

Reviewers read it; admins also get the administration (routers/admin.py has their actions).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.adapters.web import views
from bot.adapters.web.access import REVIEWERS, WebRole, allow
from bot.adapters.web.deps import CurrentUser, SettingsDep, Store, Templates, get_admin_service
from bot.adapters.web.pages import page
from bot.errors import IndexMismatchError, IndexMissingError, RutinbotError

log = logging.getLogger(__name__)

ACCEPT_SV = "PDF, Word (DOCX), text, Markdown eller HTML"

router = APIRouter()


@router.get("/documents", response_class=HTMLResponse)
@allow(REVIEWERS)
def documents(
    request: Request, me: CurrentUser, settings: SettingsDep, store: Store, templates: Templates
) -> Response:
    if me.role == WebRole.ADMIN:
        return documents_page(request, store, templates, get_admin_service(request, store))
    from bot.search.store import open_current

    manifest, index_error = None, None
    try:
        _, manifest = open_current(settings.paths.index)
    except (IndexMissingError, IndexMismatchError) as err:
        index_error = err.sv
    built = views.parse_time(manifest.built_at) if manifest else None
    return page(
        templates,
        request,
        "documents.html",
        manifest=manifest,
        built=built,
        index_error=index_error,
        flagged=_flagged(store),
    )


def documents_page(
    request: Request,
    store,
    templates,
    service,
    *,
    upload_error: str | None = None,
    status: int = 200,
) -> Response:
    """The admin's view: every document with its state, the upload form and the last reindex."""
    from bot.ingest.readers import SUPPORTED

    settings = request.app.state.settings
    job = service.status()
    docs, docs_error = [], None
    try:
        docs = service.documents()
    except RutinbotError as err:  # e.g. no knowledge folder yet: the first upload creates it
        log.warning("the documents could not be listed: %s", err)
        docs_error = err.sv
    max_mb = min(settings.admin.max_upload_mb, settings.ingest.max_file_mb)
    return page(
        templates,
        request,
        "documents.html",
        status,
        admin=True,
        docs=docs,
        docs_error=docs_error,
        job=job,
        built=job.finished_at,
        upload_error=upload_error,
        accept=",".join(SUPPORTED),
        accept_sv=ACCEPT_SV,
        max_mb=f"{max_mb:g}",
        flagged=_flagged(store),
    )


def _flagged(store) -> list:
    return [t for t in store.themes() if t.answered_now]
