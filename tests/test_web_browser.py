"""The reviewer's whole visit in headless Chromium, against a real uvicorn server and SQLite store.

Debian's /usr/bin/chromium driven by Playwright; nothing downloads a browser. Without one the
test skips locally and fails under RUTINBOT_REQUIRE_ALL=1 (.ci/run installs it).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, make_settings, require, serving

from bot.adapters.web.app import create_app
from bot.adapters.web.auth import hash_password
from bot.adapters.web.deps import get_store
from bot.gaps.store import SqlRecorder
from bot.models import Answer, Citation

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium phones home, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACT = ROOT / "tests" / "artifacts" / "overview.png"
PASSWORD = "korrekt-häst-batteri"
THEME = "Lex Sarah utanför kontorstid"
QUESTION = "Hur anmäler jag lex Sarah på helgen när chefen är ledig?"
NEAR = Citation("rutin-lex-sarah.md", "Rutin", "Anmälan till IVO", 2, None, "t", None, 0.41, 7, 3)
UNANSWERED = Answer("x", False, 0.12, (NEAR,), "idx1")
ANSWERED = Answer("x", True, 0.9, (NEAR,), "idx1")


@pytest.fixture
def server(tmp_path):
    """The page on a free 127.0.0.1 port, in a thread; yields its base URL and the store."""
    store = SqlRecorder(f"sqlite:///{tmp_path / 'gaps.db'}", key_file=tmp_path / "key")
    theme = store.add_theme(THEME)
    ids = [
        store.record_question("telegram", "u1", q, UNANSWERED)
        for q in (QUESTION, "Vem tar emot lex Sarah-rapporter en lördag?")
    ]
    store.assign_theme(ids, theme)
    store.record_feedback(store.record_question("cli", "u2", "Vad är lex Sarah?", ANSWERED), True)
    # The defaults, secure cookies included: browsers keep Secure cookies from http://127.0.0.1.
    settings = make_settings(tmp_path)
    app = create_app(settings, users={"anna": hash_password(PASSWORD)})
    app.dependency_overrides[get_store] = lambda: store
    try:
        with serving(app) as url:
            yield url, store, theme
    finally:
        store.close()


@pytest.fixture
def browser():
    require(
        CHROMIUM.exists() and importlib.util.find_spec("playwright") is not None,
        f"needs {CHROMIUM} (apt-get install chromium) and playwright (the dev extra)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _csv(download) -> list[dict]:
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_reviewer_logs_in_resolves_a_theme_exports_and_logs_out(browser, server, tmp_path):
    base, store, theme_id = server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))

    # Logged out, the page sends the browser to the login form.
    page.goto(base + "/")
    assert page.url.startswith(base + "/login")
    page.get_by_label("Användarnamn").fill("anna")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(base + "/")

    # The overview: the seeded theme with its count, the weekly chart, the 👍 share.
    assert page.get_by_role("heading", name="Kunskapsluckor").is_visible()
    link = page.get_by_role("link", name=f"#{theme_id} {THEME}")
    assert link.is_visible()
    row = page.locator("tr", has=link)
    assert row.locator("td.num").inner_text() == "2"
    assert row.get_by_text("Öppen").is_visible()
    assert page.locator("svg rect.unanswered").count() == 8
    assert "👍 100 %" in page.locator(".feedback").inner_text()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"
    shot = tmp_path / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACT)
    assert shot.stat().st_size > 10_000

    # Readable on a phone: nothing wider than the screen.
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(base + "/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(ARTIFACT.with_name("overview-phone.png")), full_page=True)
    phone.goto(f"{base}/themes/{theme_id}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(ARTIFACT.with_name("theme-phone.png")), full_page=True)
    phone.close()

    # A theme: its questions (time, channel) and the nearest passage.
    link.click()
    page.wait_for_url(f"{base}/themes/{theme_id}")
    assert page.get_by_text(QUESTION).is_visible()
    assert "telegram" in page.locator(".questions").inner_text()
    assert "rutin-lex-sarah.md" in page.get_by_role("region", name="Närmaste avsnitt").inner_text()
    assert "Anmälan till IVO" in page.get_by_role("region", name="Närmaste avsnitt").inner_text()

    # Delete a question (behind a "Ta bort…" disclosure, as there is no confirm dialog).
    page.locator("li", has_text="Vem tar emot lex Sarah").get_by_text("Ta bort…").click()
    page.get_by_role("button", name="Ta bort frågan").click()
    page.wait_for_url(f"{base}/themes/{theme_id}")
    assert page.get_by_role("status").inner_text() == "Frågan är borttagen."
    assert page.get_by_text("Vem tar emot lex Sarah").count() == 0
    assert store.theme(theme_id).questions == 1

    # Resolve it with a note; the history says who.
    page.get_by_label("Status", exact=True).select_option(label="Löst")
    page.get_by_label("Anteckning").fill("Ny rutin för helger, avsnitt 3")
    page.get_by_role("button", name="Spara status").click()
    page.wait_for_url(f"{base}/themes/{theme_id}")
    assert page.get_by_role("status").inner_text() == "Status ändrad till ”Löst”."
    history = page.locator(".history").inner_text()
    assert "Löst" in history and "anna" in history and "Ny rutin för helger, avsnitt 3" in history
    info = store.theme(theme_id)
    assert (info.status, info.changed_by, info.note) == (
        "resolved",
        "anna",
        "Ny rutin för helger, avsnitt 3",
    )

    # Export both CSVs and check their rows.
    with page.expect_download() as themes_download:
        page.get_by_role("link", name="Teman (CSV)").click()
    [theme_row] = _csv(themes_download.value)
    assert (theme_row["id"], theme_row["status"], theme_row["count"]) == (
        str(theme_id),
        "resolved",
        "1",
    )
    assert themes_download.value.suggested_filename.startswith("rutinbot-teman-")
    with page.expect_download() as questions_download:
        page.get_by_role("link", name="Frågor (CSV)").click()
    questions = _csv(questions_download.value)
    assert [r["question"] for r in questions] == [QUESTION]
    assert {r["theme"] for r in questions} == {str(theme_id)}

    # Log out; the old session cookie is refused from then on, not just forgotten.
    [old] = [c for c in context.cookies() if c["name"] == "rutinbot_session"]
    assert old["httpOnly"] and old["secure"] and old["sameSite"] == "Lax"
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url(base + "/login?utloggad")
    assert page.get_by_text("Du är utloggad.").is_visible()
    assert page.request.get(base + "/export/themes.csv").status == 401
    context.add_cookies([old])
    assert page.request.get(base + "/export/themes.csv").status == 401
    page.goto(base + "/")
    assert page.url.startswith(base + "/login")

    # Everything came from the app itself: no CDN, no other host.
    assert requested and all(url.startswith(base + "/") for url in requested)
    context.close()
