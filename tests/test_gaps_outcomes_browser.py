"""In real Chromium: a reviewer marks a refused question answered, then reads /utfall."""

from __future__ import annotations

from test_web_browser import PASSWORD, browser, server  # noqa: F401  (fixtures)


def test_reviewer_marks_a_passage_and_reads_the_outcome_report(browser, server, tmp_path):  # noqa: F811
    base, store, theme_id = server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base + "/login")
    page.get_by_label("Användarnamn").fill("anna")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(base + "/")

    page.goto(f"{base}/themes/{theme_id}")
    first = page.locator("ul.questions > li").first
    first.locator("details.nearest summary").click()
    first.get_by_role("button", name="Svarade på frågan").click()
    page.wait_for_url(f"{base}/themes/{theme_id}")
    assert "Markerat" in page.content()
    marked = page.locator("ul.questions > li").first
    assert marked.get_by_text("✓ Svarade på frågan").is_visible()  # open, marked
    assert sum(g.marked_passage == 1 for g in store.gaps(theme_id=theme_id)) == 1
    page.screenshot(path=str(tmp_path / "theme.png"), full_page=True)

    page.goto(base + "/")
    page.get_by_role("link", name="Utfall per säkerhet").click()
    page.wait_for_url(base + "/utfall")
    row = page.locator("tr", has=page.get_by_text("0.1–0.2", exact=True))
    cells = [c.strip() for c in row.locator("td.num").all_inner_texts()]
    assert cells == ["0", "0", "1", "1", "1"]  # two refused at 0.12: one marked, one not
    assert "För få exempel" in page.content()
    page.screenshot(path=str(tmp_path / "utfall.png"), full_page=True)
    context.close()
