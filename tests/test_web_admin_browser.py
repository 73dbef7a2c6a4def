"""An admin's document work in headless Chromium against a real uvicorn server, index, encoder,
ask service, admin service (its reindex in a process of its own) and SQLite store.

The admin uploads a DOCX holding a fact no other document has and follows the reindex on the
progress page; a staff member, in her own browser session, asks about it and gets it cited;
the admin removes it, the reindex runs again, and the fact is no longer cited. Staff and
reviewers get 403 on every admin page and action.
"""

from __future__ import annotations

import io
import shutil
import time
import zipfile

import pytest
from conftest import ROOT, make_settings, serving, write_small_corpus
from test_web_browser import browser  # noqa: F401 (a fixture)

from bot.adapters.web.app import create_app
from bot.adapters.web.auth import hash_password
from bot.adapters.web.deps import get_ask_service, get_store
from bot.adapters.web.routers import admin as web_admin
from bot.admin.model import JobState
from bot.gaps.store import SqlRecorder

PASSWORD = "korrekt-häst-batteri"
ACCOUNTS = {"sara": "staff", "anna": "reviewer", "adam": "admin"}
ARTIFACT = ROOT / "tests" / "artifacts" / "documents-admin.png"
DOCX_NAME = "jour-blaklockan.docx"
PHONE = "0708-55 31 90"  # invented: in no other document
QUESTION = "Vilket telefonnummer har jouren på enhet Blåklockan?"
REINDEX_WAIT = 240_000  # ms: a reindex in a process of its own, on two shared cores
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def minimal_docx(paragraphs: list[tuple[str, str | None]]) -> bytes:
    """A DOCX with just the parts Word needs: content types, the package relation and
    word/document.xml with these (text, paragraph style) paragraphs."""

    def paragraph(text: str, style: str | None) -> str:
        props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        return f'<w:p>{props}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'

    body = "".join(paragraph(text, style) for text, style in paragraphs)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{_W}"><w:body>{body}</w:body></w:document>'
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", types)
        package.writestr("_rels/.rels", rels)
        package.writestr("word/document.xml", document)
    return out.getvalue()


ROUTINE = minimal_docx(
    [
        ("Rutin för jouren på enhet Blåklockan", "Heading1"),
        (
            f"Jouren på enhet Blåklockan nås på telefonnummer {PHONE}. Jourtelefonen är "
            "bemannad dygnet runt av en sjuksköterska från Blåklockan.",
            None,
        ),
        ("Larm utanför kontorstid", "Heading2"),
        (
            "Utanför kontorstid ringer personalen jourtelefonen på Blåklockan och "
            "dokumenterar samtalet i journalen samma dag.",
            None,
        ),
    ]
)


@pytest.fixture
def admin_server(tmp_path, encoder):

    from bot.answer.core import Answerer
    from bot.asking import AskService
    from bot.gaps.outbox import Outbox
    from bot.search.indexer import build_index

    write_small_corpus(tmp_path / "knowledge")
    settings = make_settings(tmp_path, encoder={"num_threads": 1}, answer={"citations": 3})
    build_index(settings, encoder)
    store = SqlRecorder(f"sqlite:///{tmp_path / 'gaps.db'}", key_file=tmp_path / "key")
    outbox = Outbox(store)
    # The chat follows the index the admin's reindex publishes: no restart between.
    service = AskService(Answerer(settings, encoder), outbox)
    users = {name: hash_password(PASSWORD) for name in ACCOUNTS}
    app = create_app(settings, users=users, roles=dict(ACCOUNTS))
    app.dependency_overrides[get_store] = lambda: store
    app.dependency_overrides[get_ask_service] = lambda: service
    try:
        with serving(app) as url:
            yield url, app, settings
            admin = app.state.admin
            deadline = time.monotonic() + REINDEX_WAIT / 1000
            while admin is not None and admin.status().state == JobState.RUNNING:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    finally:
        outbox.close()
        store.close()


def _log_in(context, base: str, user: str):
    page = context.new_page()
    page.goto(base + "/login")
    page.get_by_label("Användarnamn").fill(user)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()
    return page


def _wait_for_reindex(page, base: str) -> str:
    """On the progress page, which reloads itself while the reindex runs: its summary."""
    page.wait_for_url(base + "/documents/reindex")
    page.wait_for_selector("p.job.done, p.error", timeout=REINDEX_WAIT)
    summary = page.locator("main").inner_text()
    assert "Klar" in summary, summary
    return summary


def _ask(page, base: str) -> str:
    """Ask the question in the staff chat; the newest answer's text, sources included."""
    page.goto(base + "/fraga")
    page.get_by_label("Din fråga").fill(QUESTION)
    page.get_by_role("button", name="Fråga", exact=True).click()
    page.wait_for_url(base + "/fraga#svar-*")
    return page.locator("article.turn").first.inner_text()


def test_an_admin_adds_and_removes_a_routine_and_staff_see_it_come_and_go(
    browser,  # noqa: F811
    admin_server,
    tmp_path,
):
    base, app, settings = admin_server
    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    admin_context.on("request", lambda r: requested.append(r.url))
    admin = _log_in(admin_context, base, "adam")

    # Before: nothing in the documents knows the number.
    staff = _log_in(browser.new_context(viewport={"width": 390, "height": 844}), base, "sara")
    assert PHONE not in _ask(staff, base)

    # Upload the DOCX on the documents page; the reindex starts by itself.
    admin.goto(base + "/documents")
    admin.set_input_files(
        "#fil",
        files=[
            {
                "name": DOCX_NAME,
                "mimeType": "application/vnd.openxmlformats-officedocument."
                "wordprocessingml.document",
                "buffer": ROUTINE,
            }
        ],
    )
    admin.get_by_role("button", name="Ladda upp").click()
    summary = _wait_for_reindex(admin, base)
    assert "Tillagda" in summary and DOCX_NAME in summary
    assert (settings.paths.knowledge / DOCX_NAME).read_bytes() == ROUTINE

    admin.goto(base + "/documents")
    row = admin.locator("tr", has_text=DOCX_NAME)
    assert "Indexerat" in row.inner_text()
    # Readable on a phone too: nothing wider than the screen; the screenshot is kept.
    admin.set_viewport_size({"width": 390, "height": 844})
    assert admin.evaluate("document.documentElement.scrollWidth") <= 390
    shot = tmp_path / "documents-admin.png"
    admin.screenshot(path=str(shot), full_page=True)
    ARTIFACT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACT)
    admin.set_viewport_size({"width": 1280, "height": 900})

    # Staff, in her own session, now get the number cited from the new routine.
    answer = _ask(staff, base)
    assert PHONE in answer
    assert "Rutin för jouren på enhet Blåklockan" in answer or DOCX_NAME in answer

    # The admin removes it (with a confirmation), and the reindex runs again.
    row.get_by_role("link", name="Ta bort").click()
    admin.wait_for_url(base + "/documents/remove?*")
    assert "Vill du ta bort" in admin.locator("main").inner_text()
    admin.get_by_role("button", name="Ta bort").click()
    summary = _wait_for_reindex(admin, base)
    assert "Borttagna" in summary and DOCX_NAME in summary
    assert not (settings.paths.knowledge / DOCX_NAME).exists()

    answer = _ask(staff, base)
    assert PHONE not in answer and DOCX_NAME not in answer
    assert "Rutin för jouren på enhet Blåklockan" not in answer

    # The audit log names who did what.
    admin.goto(base + "/documents/log")
    log_text = admin.locator("table.audit").inner_text()
    assert "Lade till" in log_text and "Tog bort" in log_text and "adam" in log_text
    assert requested and all(url.startswith(base + "/") for url in requested)
    # The progress page reloaded itself (a <meta> refresh, no script) while the runs went on:
    # a reindex takes a new process seconds to start, so each wait saw it running at least once.
    assert requested.count(base + "/documents/reindex") >= 4

    # A reviewer and a staff member get 403 on every admin page and action.
    reviewer = _log_in(browser.new_context(), base, "anna")
    for page in (staff, reviewer):
        for route in _admin_routes(app):
            path = route.path.format(**{name: "x" for name in route.param_convertors})
            for method in route.methods:
                if method == "GET":
                    response = page.request.get(base + path)
                else:
                    response = page.request.post(base + path, form={"csrf": "x"})
                assert response.status == 403, (method, path)
    assert admin.request.get(base + "/documents/log").status == 200  # the admin still may


def _admin_routes(app) -> list:
    from fastapi.routing import APIRoute

    found = []
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        if hasattr(route, "original_router"):
            pending += route.original_router.routes
        elif isinstance(route, APIRoute) and route.endpoint.__module__ == web_admin.__name__:
            found.append(route)
    assert len(found) >= 10
    return found
