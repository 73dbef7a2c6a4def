"""A staff member's chat in headless Chromium against a real uvicorn server, index, encoder,
ask service and SQLite store; then a reviewer sees her unanswered question grouped, with no CLI
command run, and staff are refused on the reviewer pages."""

from __future__ import annotations

import shutil

import pytest
from conftest import ROOT, make_settings, serving
from test_web_browser import browser  # noqa: F401 (a fixture)
from test_web_chat import ACCOUNTS, PASSWORD, _write_corpus

from bot.adapters.web.app import create_app
from bot.adapters.web.auth import hash_password
from bot.adapters.web.deps import get_ask_service, get_store
from bot.gaps.store import SqlRecorder

ARTIFACT = ROOT / "tests" / "artifacts" / "chat.png"
ANSWERABLE = "Vem ska medarbetare rapportera missförhållanden till?"
UNANSWERABLE = "Hur många semesterdagar får en kock i Kiruna?"


@pytest.fixture
def chat_server(tmp_path, encoder):

    from bot.answer.core import Answerer
    from bot.asking import AskService
    from bot.gaps.grouping import ThemeJob
    from bot.gaps.outbox import Outbox
    from bot.search.indexer import build_index

    _write_corpus(tmp_path / "knowledge")
    settings = make_settings(tmp_path, encoder={"num_threads": 1}, answer={"citations": 1})
    build_index(settings, encoder)
    store = SqlRecorder(f"sqlite:///{tmp_path / 'gaps.db'}", key_file=tmp_path / "key")
    outbox = Outbox(store)
    themes = ThemeJob(store, encoder)
    service = AskService(Answerer(settings, encoder), outbox, themes=themes)
    users = {name: hash_password(PASSWORD) for name in ACCOUNTS}
    app = create_app(settings, users=users, roles=dict(ACCOUNTS))
    app.dependency_overrides[get_store] = lambda: store
    app.dependency_overrides[get_ask_service] = lambda: service
    try:
        with serving(app) as url:
            yield url, store, themes
    finally:
        themes.close()
        outbox.close()
        store.close()


def _log_in(page, base: str, user: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Användarnamn").fill(user)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()


def test_staff_chat_in_the_browser_and_the_gap_on_the_reviewer_overview(
    browser,  # noqa: F811
    chat_server,
    tmp_path,
):
    base, store, themes = chat_server
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    _log_in(page, base, "sara")
    page.wait_for_url(base + "/fraga")  # staff start in the chat

    # An answerable question: led by the marked sentence and its source.
    page.get_by_label("Din fråga").fill(ANSWERABLE)
    page.get_by_role("button", name="Fråga", exact=True).click()
    page.wait_for_url(base + "/fraga#svar-*")
    answer = page.locator("article.turn").first
    lead = answer.locator(".lead-sentence mark").inner_text()
    assert "rapportera missförhållanden till sin närmaste chef" in lead
    assert "Rutin för lex Sarah" in answer.locator(".card.lead .source").inner_text()
    assert answer.locator(".card").count() == 1

    # "Fler källor" and "Visa hela avsnittet" under it.
    answer.get_by_role("button", name="Fler källor").click()
    page.wait_for_load_state()
    answer = page.locator("article.turn").first
    assert answer.locator(".card").count() == 2
    answer.get_by_role("button", name="Visa hela avsnittet").click()
    page.wait_for_load_state()
    whole = page.locator("article.turn").first.locator(".whole")
    assert "Chefen ansvarar för att rapporten utreds." in whole.inner_text()

    # An unanswerable one: the honest refusal and the nearest passages; then 👎.
    page.get_by_label("Din fråga").fill(UNANSWERABLE)
    page.get_by_role("button", name="Fråga", exact=True).click()
    page.wait_for_load_state()
    refused = page.locator("article.turn").first
    assert "Jag hittar inget säkert svar" in refused.locator(".verdict").inner_text()
    assert refused.locator(".card").count() >= 1
    assert UNANSWERABLE in refused.locator(".asked").inner_text()
    page.locator("article.turn").nth(1).get_by_role("button", name="👎 Hjälpte inte").click()
    page.wait_for_load_state()
    assert "Tack!" in page.locator("article.turn").nth(1).inner_text()

    # Readable on a phone: nothing wider than the screen; the screenshot is kept.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACT)
    assert shot.stat().st_size > 10_000

    # Staff are refused on every reviewer page.
    for path in ("/", "/documents", "/themes/1", "/export/themes.csv"):
        assert page.request.get(base + path).status == 403, path

    # A reviewer sees both gaps (unanswered, and 👎) grouped into themes on the overview, with
    # no CLI command run in between.
    assert themes.wait_idle(60)
    reviewer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _log_in(reviewer, base, "anna")
    reviewer.wait_for_url(base + "/")
    links = reviewer.locator("table tbody tr a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs and all(h.startswith("/themes/") for h in hrefs)
    seen = ""
    for href in hrefs:
        reviewer.goto(base + href)
        seen += reviewer.locator(".questions").inner_text()
    assert UNANSWERABLE in seen and ANSWERABLE in seen
    assert all(g.theme_id is not None for g in store.gaps())

    # Everything came from the app itself: no CDN, no other host.
    assert requested and all(url.startswith(base + "/") for url in requested)
    context.close()
