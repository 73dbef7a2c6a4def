"""Document administration for admins: upload, replace, remove, restore, metadata, reindex, log.

Every action is the admin service's (bot/admin); these routes read the form, call it off the
event loop, and render its records or its errors (`err.sv`, with a 4xx).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.adapters.web import csrf
from bot.adapters.web.access import ADMINS, allow
from bot.adapters.web.auth import Session
from bot.adapters.web.deps import Admin, CsrfToken, CurrentUser, Pending, Store, Templates
from bot.adapters.web.pages import page
from bot.adapters.web.routers.documents import documents_page
from bot.admin.model import (
    Actor,
    AdminError,
    ConfirmReplaceError,
    DocState,
    DocumentInfo,
    DuplicateContentError,
    JobState,
    ReindexBusyError,
    UnknownDocumentError,
)
from bot.errors import RutinbotError

log = logging.getLogger(__name__)

UPLOAD_PATH = "/documents/upload"  # its body may be as large as an upload (limits.BodyLimit)
FILE_FIELD = "fil"
MAX_FORM_FIELDS = 10  # the upload form has two; a flood of parts is refused early
BAD_FORM = "Formuläret kunde inte läsas. Välj filen igen och skicka på nytt."
NO_FILE = "Välj en fil att ladda upp."
NO_DOCUMENT = "Dokumentet finns inte. Det kan redan vara borttaget eller bytt namn."
UPLOAD_GONE = "Uppladdningen finns inte längre. Ladda upp filen igen."
AUDIT_ROWS = 200
STATUS_OF_ADMIN_ERROR: tuple[tuple[type[AdminError], int], ...] = (
    (UnknownDocumentError, 404),
    (DuplicateContentError, 409),
    (ConfirmReplaceError, 409),
    (ReindexBusyError, 409),
)

# What the templates call the service's states and actions (app.py makes them globals).
LABELS = {
    "doc_state_sv": {
        DocState.INDEXED: "Indexerat",
        DocState.WAITING: "Väntar på indexering",
        DocState.SKIPPED: "Kunde inte läsas",
        DocState.REMOVED: "Borttaget, försvinner vid nästa indexering",
    },
    "job_state_sv": {
        JobState.IDLE: "Ingen omindexering har körts här ännu",
        JobState.RUNNING: "Pågår",
        JobState.DONE: "Klar",
        JobState.FAILED: "Misslyckades",
    },
    "phase_sv": {
        "reading": "Läser dokumenten",
        "embedding": "Bearbetar avsnitten",
        "publishing": "Byter till det nya indexet",
        "re-asking": "Prövar obesvarade frågor mot det nya indexet",
    },
    "action_sv": {
        "add": "Lade till",
        "replace": "Ersatte",
        "remove": "Tog bort",
        "restore": "Återställde",
        "metadata": "Ändrade uppgifter",
        "reindex": "Omindexering",
        "purge-trash": "Tömde papperskorgen",
    },
    "channel_sv": {
        "web": "webben",
        "telegram": "Telegram",
        "cli": "terminalen",
        "system": "systemet",
    },
}

router = APIRouter()


def eta_sv(seconds: float | None) -> str:
    """A reindex's time left as an admin reads it: "cirka 3 minuter", "under en minut"."""
    if seconds is None:
        return "beräknas"
    if seconds < 60:
        return "under en minut"
    minutes = round(seconds / 60)
    return "cirka 1 minut" if minutes == 1 else f"cirka {minutes} minuter"


def status_of(err: AdminError) -> int:
    return next((code for cls, code in STATUS_OF_ADMIN_ERROR if isinstance(err, cls)), 400)


def refuse(err: AdminError) -> HTTPException:
    """The service's refusal as the page shows it: its Swedish text, with its status."""
    return HTTPException(status_of(err), err.sv)


def actor(me: Session) -> Actor:
    return Actor("web", me.user)


def _documents_page(
    request: Request, service, store, templates, *, error: str, status: int
) -> Response:
    """The documents page again, with the upload's refusal over the form."""
    return documents_page(request, store, templates, service, upload_error=error, status=status)


def _find(service, name: str) -> DocumentInfo:
    if not name:
        raise HTTPException(400, "Välj ett dokument.")
    found = next((d for d in service.documents() if d.name == name), None)
    if found is None:
        raise HTTPException(404, NO_DOCUMENT)
    return found


def _reindex_after(me: Session, service, done: str) -> Response:
    """A change was saved: start (or queue) the reindex that brings it into the answers."""
    try:
        service.reindex_after_change(actor(me))
        me.flashes.append(f"{done} Omindexeringen har startat.")
    except RutinbotError as err:  # saved all the same: say so, and why no reindex started
        log.warning("reindex after a web change did not start: %s", err)
        me.flashes.append(f"{done} {err.sv}")
    return RedirectResponse("/documents/reindex", status_code=303)


async def _read_form(request: Request) -> FormData:
    try:
        return await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    except StarletteHTTPException as err:  # Starlette's own, for a multipart it cannot parse
        if err.status_code == 413:  # the body limit (limits.BodyLimit): its own Swedish text
            raise
        raise HTTPException(400, BAD_FORM) from None  # Starlette's English reason stays out


@router.post(UPLOAD_PATH)
@allow(ADMINS)
async def upload(
    request: Request,
    me: CurrentUser,
    service: Admin,
    pending: Pending,
    store: Store,
    templates: Templates,
) -> Response:
    """A new document (multipart). An existing name asks first; anything refused saves nothing."""
    form = await _read_form(request)
    try:
        sent = form.get(csrf.FIELD)
        csrf.check(sent if isinstance(sent, str) else None, me.csrf)
        file = form.get(FILE_FIELD)
        if not isinstance(file, UploadFile) or not file.filename:
            return await run_in_threadpool(
                _documents_page, request, service, store, templates, error=NO_FILE, status=400
            )
        try:
            added = await run_in_threadpool(service.add, actor(me), file.filename, file.file)
        except ConfirmReplaceError as err:
            await file.seek(0)
            kept = await run_in_threadpool(pending.keep, me.id, err.name, file.file)
            return RedirectResponse(f"/documents/replace/{kept.id}", status_code=303)
        except AdminError as err:
            log.info("web upload by %r refused: %s", me.user, type(err).__name__)
            return await run_in_threadpool(
                _documents_page,
                request,
                service,
                store,
                templates,
                error=err.sv,
                status=status_of(err),
            )
    finally:
        await form.close()
    log.info("web upload by %r saved (%s bytes)", me.user, added.size)
    return await run_in_threadpool(_reindex_after, me, service, f"”{added.name}” är sparat.")


@router.get("/documents/replace/{upload_id}", response_class=HTMLResponse)
@allow(ADMINS)
def replace_page(
    request: Request, upload_id: str, me: CurrentUser, pending: Pending, templates: Templates
) -> Response:
    kept = pending.get(me.id, upload_id)
    if kept is None:
        raise HTTPException(404, UPLOAD_GONE)
    return page(templates, request, "admin_replace.html", upload=kept)


@router.post("/documents/replace/{upload_id}")
@allow(ADMINS)
def replace(
    upload_id: str,
    me: CurrentUser,
    service: Admin,
    pending: Pending,
    token: CsrfToken = "",
    answer: Annotated[str, Form(alias="svar")] = "",
) -> Response:
    """ "Ersätt" replaces the document with the kept upload; "Avbryt" drops the upload."""
    csrf.check(token, me.csrf)
    kept = pending.get(me.id, upload_id)
    if kept is None:
        raise HTTPException(404, UPLOAD_GONE)
    if answer != "ersatt":
        pending.discard(upload_id)
        me.flashes.append(f"Inget ändrades: ”{kept.name}” finns kvar som förut.")
        return RedirectResponse("/documents", status_code=303)
    try:
        with kept.path.open("rb") as stream:
            added = service.add(actor(me), kept.name, stream, replace=True)
    except AdminError as err:
        pending.discard(upload_id)
        raise refuse(err) from None
    pending.discard(upload_id)
    log.info("web upload by %r replaced a document", me.user)
    return _reindex_after(me, service, f"”{added.name}” är ersatt.")


@router.get("/documents/remove", response_class=HTMLResponse)
@allow(ADMINS)
def remove_page(request: Request, service: Admin, templates: Templates, namn: str = "") -> Response:
    return page(templates, request, "admin_remove.html", doc=_find(service, namn))


@router.post("/documents/remove")
@allow(ADMINS)
def remove(
    me: CurrentUser,
    service: Admin,
    token: CsrfToken = "",
    name: Annotated[str, Form(alias="namn")] = "",
) -> Response:
    csrf.check(token, me.csrf)
    if not name:
        raise HTTPException(400, "Välj ett dokument.")
    try:
        entry = service.remove(actor(me), name)
    except AdminError as err:
        raise refuse(err) from None
    log.info("web remove by %r: trash entry %s", me.user, entry.id)
    return _reindex_after(me, service, f"”{entry.name}” är flyttat till papperskorgen.")


@router.get("/documents/trash", response_class=HTMLResponse)
@allow(ADMINS)
def trash_page(request: Request, service: Admin, templates: Templates) -> Response:
    return page(templates, request, "admin_trash.html", entries=service.trash())


@router.post("/documents/trash/{trash_id}/restore")
@allow(ADMINS)
def restore(trash_id: str, me: CurrentUser, service: Admin, token: CsrfToken = "") -> Response:
    csrf.check(token, me.csrf)
    try:
        name = service.restore(actor(me), trash_id)
    except AdminError as err:
        raise refuse(err) from None
    log.info("web restore by %r: trash entry %s", me.user, trash_id)
    return _reindex_after(me, service, f"”{name}” är återställt.")


@router.get("/documents/metadata", response_class=HTMLResponse)
@allow(ADMINS)
def metadata_page(
    request: Request, service: Admin, templates: Templates, namn: str = ""
) -> Response:
    doc = _find(service, namn)
    return page(templates, request, "admin_metadata.html", doc=doc, values=_values_of(doc))


def _values_of(doc: DocumentInfo) -> dict[str, str]:
    return {
        "titel": doc.title or "",
        "datum": doc.date or "",
        "ansvarig": doc.owner or "",
        "galler_fran": doc.valid_from or "",
        "galler_till": doc.valid_to or "",
    }


@router.post("/documents/metadata")
@allow(ADMINS)
def save_metadata(
    request: Request,
    me: CurrentUser,
    service: Admin,
    templates: Templates,
    token: CsrfToken = "",
    name: Annotated[str, Form(alias="namn")] = "",
    title: Annotated[str, Form(alias="titel")] = "",
    date: Annotated[str, Form(alias="datum")] = "",
    owner: Annotated[str, Form(alias="ansvarig")] = "",
    valid_from: Annotated[str, Form(alias="galler_fran")] = "",
    valid_to: Annotated[str, Form(alias="galler_till")] = "",
) -> Response:
    csrf.check(token, me.csrf)
    doc = _find(service, name)
    values = {
        "titel": title.strip(),
        "datum": date.strip(),
        "ansvarig": owner.strip(),
        "galler_fran": valid_from.strip(),
        "galler_till": valid_to.strip(),
    }
    shown = _values_of(doc)
    # Title and date may come from the document itself: left as shown, they are not pinned in
    # the sidecar (None leaves a key as it is); cleared, the document's own apply again.
    try:
        service.set_metadata(
            actor(me),
            doc.name,
            title=None if values["titel"] == shown["titel"] else values["titel"],
            date=None if values["datum"] == shown["datum"] else values["datum"],
            owner=values["ansvarig"],
            valid_from=values["galler_fran"],
            valid_to=values["galler_till"],
        )
    except AdminError as err:  # the form again, as she typed it, with the reason
        return page(
            templates,
            request,
            "admin_metadata.html",
            status_of(err),
            doc=doc,
            values=values,
            error=err.sv,
        )
    log.info("web metadata change by %r", me.user)
    return _reindex_after(me, service, f"Uppgifterna för ”{doc.name}” är sparade.")


@router.get("/documents/reindex", response_class=HTMLResponse)
@allow(ADMINS)
def reindex_page(request: Request, service: Admin, templates: Templates) -> Response:
    """Progress while a reindex runs (the page reloads itself every 2 s), then its summary."""
    job = service.status()
    return page(
        templates, request, "admin_reindex.html", job=job, running=job.state == JobState.RUNNING
    )


@router.post("/documents/reindex")
@allow(ADMINS)
def reindex(me: CurrentUser, service: Admin, token: CsrfToken = "") -> Response:
    csrf.check(token, me.csrf)
    try:
        service.reindex(actor(me))
    except ReindexBusyError as err:  # not a failure: she is shown the one that runs
        me.flashes.append(err.sv)
    except AdminError as err:
        raise refuse(err) from None
    else:
        log.info("web reindex started by %r", me.user)
        me.flashes.append("Omindexeringen har startat.")
    return RedirectResponse("/documents/reindex", status_code=303)


@router.get("/documents/log", response_class=HTMLResponse)
@allow(ADMINS)
def audit_page(request: Request, service: Admin, templates: Templates) -> Response:
    return page(templates, request, "admin_log.html", entries=service.audit_log(limit=AUDIT_ROWS))
