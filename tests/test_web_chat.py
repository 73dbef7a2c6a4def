"""The staff chat at /fraga on a real index, encoder, ask service and SQLite store: roles,
redaction, recording, paging, sections, feedback and who may touch which answer."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_settings
from fastapi.testclient import TestClient

from bot.adapters.web.access import WebRole
from bot.adapters.web.app import create_app
from bot.adapters.web.auth import hash_password, load_roles, load_users, save_user
from bot.adapters.web.conversation import MAX_TURNS
from bot.adapters.web.deps import get_ask_service, get_store
from bot.adapters.web.pages import SESSION_COOKIE
from bot.cli import cli
from bot.errors import ConfigError
from bot.gaps.store import SqlRecorder

PASSWORD = "korrekt-häst-batteri"
PNR = "19121212-1212"
ANSWERABLE = f"Vem ska medarbetare rapportera missförhållanden till? Gäller {PNR}"
UNANSWERABLE = "Hur många semesterdagar får en kock i Kiruna?"
ACCOUNTS = {"sara": WebRole.STAFF, "anna": WebRole.REVIEWER, "adam": WebRole.ADMIN}


def _write_corpus(folder: Path) -> None:
    folder.mkdir()
    (folder / "lex-sarah.md").write_text(
        "---\ntitle: Rutin för lex Sarah\ndate: 2024-03-01\n---\n# Rapportering\n\n"
        "Medarbetare ska genast rapportera missförhållanden till sin närmaste chef. Chefen "
        "ansvarar för att rapporten utreds.\n\n# Anmälan\n\nAllvarliga missförhållanden "
        "anmäls till IVO inom två veckor.\n",
        encoding="utf-8",
    )
    (folder / "anhorigstod.md").write_text(
        "---\ntitle: Anhörigstöd\ndate: 2023-05-02\n---\n# Anhörigombud\n\nVarje enhet utser "
        "ett anhörigombud som håller anhörigperspektivet levande och sprider information om "
        "anhörigstöd till kollegor.\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, encoder):
    from bot.answer.core import Answerer
    from bot.search.indexer import build_index

    base = tmp_path_factory.mktemp("webchat")
    _write_corpus(base / "knowledge")
    # One passage a page, so "Fler källor" has something to give on a two-document corpus.
    settings = make_settings(base, encoder={"num_threads": 1}, answer={"citations": 1})
    build_index(settings, encoder)
    return settings, Answerer(settings, encoder)


@pytest.fixture
def store(tmp_path):
    with SqlRecorder(f"sqlite:///{tmp_path / 'gaps.db'}", key_file=tmp_path / "key") as recorder:
        yield recorder


@pytest.fixture
def service(indexed, store, encoder):
    from bot.asking import AskService
    from bot.gaps.grouping import ThemeJob
    from bot.gaps.outbox import Outbox

    _, answerer = indexed
    outbox = Outbox(store)
    themes = ThemeJob(store, encoder)
    yield AskService(answerer, outbox, themes=themes)
    themes.close()
    outbox.close()


@pytest.fixture
def app(indexed, store, service):
    settings, _ = indexed
    users = {name: hash_password(PASSWORD) for name in ACCOUNTS}
    app = create_app(settings, users=users, roles=dict(ACCOUNTS))
    app.dependency_overrides[get_store] = lambda: store
    app.dependency_overrides[get_ask_service] = lambda: service
    return app


def _client(app) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def _log_in(client: TestClient, user: str, next_page: str | None = None):
    page = client.get("/login" + (f"?next={next_page}" if next_page else ""))
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    data = {"username": user, "password": PASSWORD, "csrf": token}
    if next_page is not None:
        data["next"] = re.search(r'name="next" value="([^"]*)"', page.text).group(1)
    return client.post("/login", data=data)


def _csrf(client: TestClient) -> str:
    return client.app.state.sessions.get(client.cookies.get(SESSION_COOKIE)).csrf


def _ask(client: TestClient, question: str) -> tuple[str, str]:
    """Ask through the form; returns the record id of the new answer and the chat page."""
    response = client.post("/fraga", data={"csrf": _csrf(client), "fraga": question})
    assert response.status_code == 303, response.text[:300]
    record_id = response.headers["location"].rpartition("#svar-")[2]
    return record_id, client.get("/fraga").text


def _turn_html(page: str, record_id: str) -> str:
    start = page.index(f'id="svar-{record_id}"')
    end = page.find("<article", start)
    return page[start : end if end != -1 else len(page)]


def _recorded(store: SqlRecorder, record_id: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while (row := store.question(record_id)) is None:
        assert time.monotonic() < deadline, "the question was never recorded"
        time.sleep(0.05)
    return row


@pytest.mark.parametrize(
    ("user", "home"), [("sara", "/fraga"), ("anna", "/"), ("adam", "/")], ids=str
)
def test_after_login_each_role_lands_on_its_own_page(app, user, home):
    with _client(app) as client:
        assert _log_in(client, user).headers["location"] == home
        assert client.get("/login").headers["location"] == home  # already logged in


def test_after_login_the_page_asked_for_opens_when_it_is_local(app):
    with _client(app) as client:
        assert _log_in(client, "sara", "/fraga%3Fq%3Dhej").headers["location"] == "/fraga?q=hej"
    for evil in (
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/a%0d%0aSet-Cookie:x",
    ):
        with _client(app) as client:
            assert _log_in(client, "anna", evil).headers["location"] == "/"


def test_an_answerable_question_is_answered_redacted_recorded_and_leads_with_its_sentence(
    app, store
):
    with _client(app) as client:
        _log_in(client, "sara")
        record_id, page = _ask(client, ANSWERABLE)
    turn = _turn_html(page, record_id)
    assert PNR not in page  # the page shows the question as redacted and recorded
    assert "Det här säger dokumenten:" in turn
    lead = re.search(r'class="lead-sentence"><mark>([^<]+)</mark>', turn).group(1)
    assert "rapportera missförhållanden till sin närmaste chef" in lead
    assert "Rutin för lex Sarah" in turn and "Rapportering" in turn and "2024-03-01" in turn
    row = _recorded(store, record_id)
    assert row.channel == "web" and PNR not in row.text and row.answered
    assert row.asker == store.pseudonym("sara") and "sara" not in row.asker


def test_an_unanswerable_question_gets_the_honest_refusal_with_the_nearest_passages(app, store):
    with _client(app) as client:
        _log_in(client, "sara")
        record_id, page = _ask(client, UNANSWERABLE)
    turn = _turn_html(page, record_id)
    assert "Jag hittar inget säkert svar" in turn
    assert turn.count('class="card') >= 1  # the nearest passage, shown to be read critically
    assert not _recorded(store, record_id).answered


def test_more_sources_section_and_thumbs_down_act_on_the_answer(app, store, service):
    with _client(app) as client:
        _log_in(client, "sara")
        record_id, page = _ask(client, ANSWERABLE)
        assert _turn_html(page, record_id).count('class="card') == 1
        token = _csrf(client)
        assert client.post(f"/fraga/{record_id}/fler", data={"csrf": token}).status_code == 303
        page = client.get("/fraga").text
        assert _turn_html(page, record_id).count('class="card') == 2
        assert client.post(f"/fraga/{record_id}/avsnitt", data={"csrf": token}).status_code == 303
        whole = _turn_html(client.get("/fraga").text, record_id)
        assert 'class="whole"' in whole and "Chefen ansvarar för att rapporten utreds." in whole
        vote = {"csrf": token, "hjalpte": "nej"}
        assert client.post(f"/fraga/{record_id}/omdome", data=vote).status_code == 303
        assert client.post(f"/fraga/{record_id}/omdome", data=vote).status_code == 303  # twice
        turn = _turn_html(client.get("/fraga").text, record_id)
    assert "👎 Hjälpte inte" not in turn and "Tack!" in turn
    _recorded(store, record_id)
    deadline = time.monotonic() + 30
    while not store.has_feedback(record_id):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    service.themes.wait_idle()
    assert store.question(record_id).theme_id is not None  # 👎 made it a gap, grouped


def test_another_users_answer_cannot_be_paged_opened_or_rated(app, store):
    with _client(app) as theirs, _client(app) as mine:
        _log_in(theirs, "anna")
        record_id, _ = _ask(theirs, ANSWERABLE)
        _log_in(mine, "sara")
        token = _csrf(mine)
        for action, extra in (
            ("fler", {}),
            ("avsnitt", {"nr": "1"}),
            ("omdome", {"hjalpte": "nej"}),
        ):
            response = mine.post(f"/fraga/{record_id}/{action}", data={"csrf": token, **extra})
            assert response.status_code == 404, action
            assert "Svaret finns inte längre" in response.text
        assert mine.post("/fraga/finnsinte/fler", data={"csrf": token}).status_code == 404
        _recorded(store, record_id)
    time.sleep(0.2)
    assert not store.has_feedback(record_id)


def test_a_link_with_a_question_only_fills_in_the_form(app, store):
    with _client(app) as client:
        _log_in(client, "sara")
        page = client.get("/fraga", params={"q": "Vad gör ett anhörigombud?\x1b[31m"})
        assert page.status_code == 200
        assert re.search(r"<textarea[^>]*>Vad gör ett anhörigombud\?\[31m</textarea>", page.text)
        assert "svar-" not in page.text
    assert store.gaps() == [] and store.weekly(1)[-1].answered == 0


def test_a_question_that_cannot_be_asked_is_a_400_page_with_the_text_kept(app):
    with _client(app) as client:
        _log_in(client, "sara")
        page = client.post("/fraga", data={"csrf": _csrf(client), "fraga": "   ?!  "})
        assert page.status_code == 400 and 'role="alert"' in page.text
        forged = client.post("/fraga", data={"csrf": "gissad", "fraga": ANSWERABLE})
        assert forged.status_code == 403


def test_the_conversation_is_bounded_per_session_and_gone_at_logout(app):
    with _client(app) as client:
        _log_in(client, "sara")
        session = client.app.state.sessions.get(client.cookies.get(SESSION_COOKIE))
        for _ in range(MAX_TURNS + 2):
            _ask(client, "Vad gör ett anhörigombud?")
        assert len(session.chat) == MAX_TURNS
        client.post("/logout", data={"csrf": session.csrf})
        _log_in(client, "sara")
        assert "svar-" not in client.get("/fraga").text


@pytest.mark.parametrize(
    "path", ["/", "/documents", "/themes/1", "/export/themes.csv", "/export/questions.csv"]
)
def test_staff_are_refused_on_every_reviewer_page(app, path):
    with _client(app) as client:
        _log_in(client, "sara")
        response = client.get(path, headers={"accept": "text/html"})
    assert response.status_code == 403 and "Åtkomst nekad" in response.text


@pytest.mark.parametrize("question", [ANSWERABLE, f"{UNANSWERABLE} {PNR}"], ids=["answered", "gap"])
def test_the_same_question_gets_the_same_answer_and_record_from_web_and_terminal(
    app, store, service, question
):
    """The terminal chat (`run_chat`, as `rutinbot chat` runs it) and the web chat, one service."""
    import io

    from sqlmodel import Session, select

    from bot.adapters.chat import run_chat
    from bot.gaps.tables import Question

    with _client(app) as client:
        _log_in(client, "sara")
        web_id, page = _ask(client, question)
    lines = iter([question, "avsluta"])
    out = io.StringIO()
    run_chat(service, lambda _prompt: next(lines), out, asker="sara")
    _recorded(store, web_id)
    deadline = time.monotonic() + 30
    while True:
        with Session(store.engine) as session:
            rows = {r.channel: r for r in session.exec(select(Question)).all()}
        if "terminal" in rows or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    web, terminal = rows["web"], rows["terminal"]
    assert PNR not in web.text and web.text == terminal.text
    assert (web.answered, web.confidence, web.citations, web.asker) == (
        terminal.answered,
        terminal.confidence,
        terminal.citations,
        terminal.asker,
    )
    turn = _turn_html(page, web_id)
    for citation in web.citations[:1]:
        assert citation["document"] in turn and citation["document"] in out.getvalue()
    assert web.text in turn


def test_roles_are_saved_and_accounts_without_one_stay_reviewers(tmp_path):
    path = tmp_path / "reviewers.toml"
    path.write_text(f'[users]\nanna = "{hash_password(PASSWORD)}"\n', encoding="utf-8")
    assert load_roles(path) == {}  # an account from before roles: a reviewer (Users.role)
    save_user(path, "sara", PASSWORD, "staff")
    save_user(path, "anna", PASSWORD + "2")  # a new password keeps her role
    assert load_roles(path) == {"sara": WebRole.STAFF, "anna": WebRole.REVIEWER}
    save_user(path, "anna", PASSWORD, "admin")
    assert load_roles(path)["anna"] is WebRole.ADMIN and set(load_users(path)) == {"anna", "sara"}
    with pytest.raises(ConfigError, match="role"):
        save_user(path, "eve", PASSWORD, "superuser")
    path.write_text(path.read_text(encoding="utf-8").replace('"staff"', '"root"'))
    with pytest.raises(ConfigError, match="sara"):
        load_roles(path)


def test_serve_add_user_takes_a_role(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "serve", "--add-user", "sara", "--role", "staff"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Saved staff 'sara'" in result.output
    assert load_roles(tmp_path / "data" / "reviewers.toml") == {"sara": WebRole.STAFF}
    bad = CliRunner().invoke(cli, ["--config", str(config), "serve", "--role", "admin"])
    assert bad.exit_code == 2


def test_without_an_override_the_app_loads_the_service_once_off_the_request_path(indexed, store):
    """The real wiring: opening the chat starts loading (encoder, index, outbox, theme job) in a
    thread; the question is answered, recorded, and its gap grouped without any CLI command."""
    settings, _ = indexed
    app = create_app(settings, users={"sara": hash_password(PASSWORD)}, roles={"sara": "staff"})
    app.dependency_overrides[get_store] = lambda: store
    loader = app.state.asking
    with _client(app) as client:
        _log_in(client, "sara")
        client.get("/fraga")
        assert loader._started  # loading began when the page was opened, before any question
        record_id, page = _ask(client, UNANSWERABLE)
        service = loader.get(store)
        assert loader.get(store) is service  # built once
        assert "Jag hittar inget säkert svar" in _turn_html(page, record_id)
        assert service.themes.wait_idle(60)
        assert _recorded(store, record_id).theme_id is not None


def test_without_an_index_the_chat_says_so_with_503(tmp_path, store):
    app = create_app(make_settings(tmp_path), users={"sara": hash_password(PASSWORD)})
    app.dependency_overrides[get_store] = lambda: store
    with _client(app) as client:
        _log_in(client, "sara")
        response = client.post(
            "/fraga",
            data={"csrf": _csrf(client), "fraga": ANSWERABLE},
            headers={"accept": "text/html"},
        )
    assert response.status_code == 503 and "indexerad" in response.text
    assert store.gaps() == []


def test_serve_writes_no_access_log(monkeypatch, tmp_path):
    """uvicorn's access log would hold /fraga?q=… request lines: it is turned off."""
    import uvicorn

    from bot.adapters.web.app import run

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    save_user(tmp_path / "data" / "reviewers.toml", "sara", PASSWORD, "staff")
    run(make_settings(tmp_path))
    assert seen["access_log"] is False and seen["host"] == "127.0.0.1"
