"""The indexed documents, and the themes a reindex flagged as answered now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.adapters.web import views
from bot.adapters.web.access import REVIEWERS, allow
from bot.adapters.web.deps import SettingsDep, Store, Templates
from bot.adapters.web.pages import page
from bot.errors import IndexMismatchError, IndexMissingError

router = APIRouter()


@router.get("/documents", response_class=HTMLResponse)
@allow(REVIEWERS)
def documents(
    request: Request, settings: SettingsDep, store: Store, templates: Templates
) -> Response:
    from bot.search.store import open_current

    manifest, index_error = None, None
    try:
        _, manifest = open_current(settings.paths.index)
    except (IndexMissingError, IndexMismatchError) as err:
        index_error = err.sv
    built = views.parse_time(manifest.built_at) if manifest else None
    flagged = [t for t in store.themes() if t.answered_now]
    return page(
        templates,
        request,
        "documents.html",
        manifest=manifest,
        built=built,
        index_error=index_error,
        flagged=flagged,
    )
