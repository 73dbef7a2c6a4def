"""The authorisation matrix, derived from what is registered: every Telegram handler and every
web route, for every role and for strangers, including forged buttons and missing sessions.

Nothing here lists the commands, buttons or routes: they are read from the real application
(`build_application`, `create_app`), so a new one is covered, and one without a declaration of
its allowed roles fails.
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import pytest
from conftest import make_settings
from fake_bot_api import FakeBotAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, TypeHandler
from telegram_harness import running_bot, settings_for, sql_recorder, wait_answer

from bot.adapters.tgbot import admin, callbacks, reviewers
from bot.adapters.tgbot import texts as bot_texts
from bot.adapters.tgbot.access import Role, allowed_roles, handler_for
from bot.adapters.web import access as web_access
from bot.adapters.web.app import create_app
from bot.adapters.web.auth import hash_password
from bot.adapters.web.deps import get_ask_service, get_store
from bot.adapters.web.pages import SESSION_COOKIE, SV_STATUS
from bot.adapters.web.routers import admin as web_admin
from bot.gaps.tables import Feedback
from bot.models import Answer

STRANGER, STAFF, REVIEWER, ADMIN = 4901, 4101, 4201, 4301
USERS = {Role.NONE: STRANGER, Role.STAFF: STAFF, Role.REVIEWER: REVIEWER, Role.ADMIN: ADMIN}
QUESTION = "Vem ska medarbetare rapportera missförhållanden till?"
UNANSWERED = Answer("x", False, 0.1, (), "idx")
REFUSALS = {
    bot_texts.REFUSED_TOAST,
    bot_texts.REVIEWERS_ONLY,
    bot_texts.REVIEWERS_ONLY_TOAST,
    bot_texts.ADMINS_ONLY,
    bot_texts.ADMINS_ONLY_TOAST,
}
# Message kinds sent to find the message handlers; a handler none of them reaches fails
# `test_every_telegram_handler_is_reached_by_a_probe`, asking for a probe here.
MESSAGE_PROBES = {
    "text": {"text": QUESTION},
    "unknown command": {"text": "/finnsinte"},
    "photo": {"photo": [{"file_id": "p1", "file_unique_id": "up1", "width": 9, "height": 9}]},
    "voice": {"voice": {"file_id": "v1", "file_unique_id": "uv1", "duration": 3}},
    "document": {"document": {"file_id": "d1", "file_unique_id": "ud1", "file_name": "a.pdf"}},
}


def _write_corpus(folder: Path) -> None:
    folder.mkdir()
    (folder / "lex-sarah.md").write_text(
        "---\ntitle: Rutin för lex Sarah\ndate: 2024-03-01\n---\n# Rapportering\n\n"
        "Medarbetare ska genast rapportera missförhållanden till sin närmaste chef. Chefen "
        "ansvarar för att rapporten utreds.\n\n# Anmälan\n\nAllvarliga missförhållanden "
        "anmäls till IVO inom två veckor.\n",
        encoding="utf-8",
    )


# -- Telegram -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api():
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def small_answerer(tmp_path_factory, encoder):
    from bot.answer.core import Answerer
    from bot.search.indexer import build_index

    base = tmp_path_factory.mktemp("authz")
    _write_corpus(base / "knowledge")
    # One passage an answer, so "Fler källor" is offered too: every answer button is shown.
    settings = make_settings(base, encoder={"num_threads": 1}, answer={"citations": 1})
    build_index(settings, encoder)
    return settings, Answerer(settings, encoder)


@pytest.fixture(scope="module")
def recorder(tmp_path_factory):
    with sql_recorder(tmp_path_factory.mktemp("authz-gaps")) as recorder:
        yield recorder


@pytest.fixture(scope="module")
def application(api, small_answerer, recorder):
    settings, answerer = small_answerer
    settings = settings_for(
        settings, api, staff=(STAFF,), reviewers=(REVIEWER,), admins=(ADMIN,), allowed_chats=()
    )
    with running_bot(settings, answerer, recorder) as application:
        api.wait_polls()
        yield application


def _guarded(application) -> list:
    """Every registered handler but the gate (group -1), which is what enforces the rest."""
    return [h for group, hs in application.handlers.items() if group >= 0 for h in hs]


def test_every_telegram_handler_declares_its_roles(application):
    gate = application.handlers[-1]
    assert len(gate) == 1 and isinstance(gate[0], TypeHandler)
    assert allowed_roles(gate[0].callback) == frozenset(Role)
    handlers = _guarded(application)
    assert any(isinstance(h, CommandHandler) for h in handlers)
    undeclared = [h.callback.__name__ for h in handlers if allowed_roles(h.callback) is None]
    assert undeclared == []
    for handler in handlers:
        assert Role.NONE not in allowed_roles(handler.callback)  # strangers reach no handler


def test_the_declared_policy_keeps_gaps_to_reviewers_and_documents_to_admins(application):
    """The declarations themselves: the matrix tests check that they are enforced."""
    for handler in _guarded(application):
        roles = allowed_roles(handler.callback)
        if handler.callback.__module__ == reviewers.__name__:  # gap themes and their questions
            assert roles == frozenset({Role.REVIEWER, Role.ADMIN}), handler.callback.__name__
        elif (
            handler.callback.__module__ == admin.__name__ and handler.callback is not admin.document
        ):
            assert roles == frozenset({Role.ADMIN}), handler.callback.__name__  # documents
        else:  # answers; and files, which staff and reviewers get explained to them
            assert roles == frozenset({Role.STAFF, Role.REVIEWER, Role.ADMIN})


def _message(api: FakeBotAPI, user: int, content: dict) -> dict:
    content = dict(content)
    text = content.pop("text", None)
    return api.message(user, text, **content)


def _reply(api: FakeBotAPI, application, user: int, content: dict) -> tuple[object, str]:
    """Send a message; returns the handler that takes it and the bot's first reply."""
    update = _message(api, user, content)
    target = _target(application, update)
    before = len(api.sent(user))
    api.push(update)
    first = api.wait_sent(user, before + 1, timeout=30)[before]
    text = first.result.get("text") or first.result.get("caption", "")
    if update["message"].get("text") == QUESTION and not is_refusal(text, user):
        wait_answer(api, user, before)  # let the whole answer arrive before the next probe
    return target, text


def is_refusal(text: str, user: int) -> bool:
    """Whether the bot's reply (as the chat shows it, tags parsed) is one of its refusals."""
    stranger = re.sub(r"<[^>]+>", "", bot_texts.REFUSED.format(user_id=user))
    return text in REFUSALS or text == stranger


def _target(application, update: dict):
    parsed = Update.de_json({"update_id": 0, **update}, application.bot)
    return handler_for(parsed, application.handlers[0])


_query_ids = itertools.count(10_000)


def _press(api: FakeBotAPI, application, user: int, message: dict, data: str) -> tuple[object, str]:
    """Press a button with this data under a message; returns its handler and the toast."""
    query_id = str(next(_query_ids))
    query = {
        "id": query_id,
        "from": api.user(user),
        "chat_instance": str(message["chat"]["id"]),
        "message": message,
        "data": data,
    }
    target = _target(application, {"callback_query": query})
    api.push({"callback_query": query})
    answer = api.wait(
        lambda calls: next(
            (
                c
                for c in calls
                if c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query_id
            ),
            None,
        ),
        timeout=30,
    )
    return target, answer.params.get("text") or ""


def _answer_message(api: FakeBotAPI, user: int) -> dict:
    """Ask a question as `user`; the answer's message with its buttons, as the bot sent it."""
    before = len(api.sent(user))
    api.send(user, QUESTION)
    last = wait_answer(api, user, before, timeout=30)[-1]
    return api.messages[(user, last.result["message_id"])]


def _button_data(api, application, recorder) -> dict[str, str]:
    """Every kind of button the bot shows, found by using it as a reviewer would:
    kind -> callback data. Answer buttons are keyed by action, reviewer buttons by their data
    with the theme id taken out."""
    theme_id = recorder.add_theme("Semesterplanering")
    qid = recorder.record_question("telegram", "1", "Vem planerar semestern?", UNANSWERED)
    recorder.assign_theme([qid], theme_id)
    seen: dict[str, str] = {}
    for data in buttons_of(_answer_message(api, REVIEWER)):
        decoded = callbacks.decode(data)
        seen[decoded[0] if decoded else data] = data
    before = len(api.sent(REVIEWER))
    api.send(REVIEWER, "/luckor")
    listing = api.wait_sent(REVIEWER, before + 1, timeout=30)[before]
    message = api.messages[(REVIEWER, listing.result["message_id"])]
    pending = [d for d in buttons_of(message)]
    while pending:  # open a theme, resolve it, reopen it, go back: each shows new buttons
        data = pending.pop()
        kind = re.sub(r":\d+$", ":ID", data)
        if kind in seen:
            continue
        seen[kind] = data
        _press(api, application, REVIEWER, message, data)
        message = api.messages[(REVIEWER, message["message_id"])]
        pending += [d for d in buttons_of(message) if re.sub(r":\d+$", ":ID", d) not in seen]
    return seen


BROKEN_PDFS = 9  # more than a page of /dokument and /tabort: their ◀ ▶ are shown


@pytest.fixture(scope="module")
def admin_kinds(api, application, small_answerer) -> dict[str, str]:
    """Every kind of document-admin button, found by using them as an admin would: kind
    ("adm:<action>:ID") -> callback data. Nothing is removed or replaced through a button:
    confirmations are answered "Nej"/"Avbryt", which uses their data up."""
    settings, _ = small_answerer
    # Unreadable, so skipped by every reindex (the index the answers come from stays as it is).
    for n in range(BROKEN_PDFS):
        (settings.paths.knowledge / f"trasig-{n}.pdf").write_bytes(f"%PDF-1.4 trasig {n}".encode())
    from bot.admin.model import Actor

    desk = application.bot_data["admin"]
    desk.service.remove(Actor("cli", "cli:test"), f"trasig-{BROKEN_PDFS - 1}.pdf")  # in the trash
    seen: dict[str, str] = {}

    def shown(message: dict) -> dict:
        message = api.messages[(ADMIN, message["message_id"])]
        for data in buttons_of(message):
            seen.setdefault(re.sub(r":[^:]+$", ":ID", data), data)
        return message

    def reply(text: str | None = None, **content: object) -> dict:
        before = len(api.sent(ADMIN))
        api.send(ADMIN, text, **content)
        sent = api.wait_sent(ADMIN, before + 1, timeout=30)[before]
        return api.messages[(ADMIN, sent.result["message_id"])]

    def tap(message: dict, action: str) -> dict:
        data = next(d for d in buttons_of(message) if callbacks.parse_admin(d)[0] == action)
        _press(api, application, ADMIN, message, data)
        return shown(message)

    tap(shown(reply("/dokument")), callbacks.DOCS_PAGE)  # ▶, then ◀
    picks = tap(shown(reply("/tabort")), callbacks.PICK_PAGE)
    tap(tap(picks, callbacks.PICK), callbacks.CANCEL)  # "Ta bort X?" Ja/Nej, then Nej
    document = api.user_file("lex-sarah.md", b"# Ny version\n\nEn annan text.\n")
    tap(shown(reply(document=document)), callbacks.CANCEL)  # "Ersätta?" Ersätt/Avbryt: Avbryt
    shown(reply("/papperskorg"))  # a restore button
    return seen


def buttons_of(message: dict) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def _message_probes(application) -> dict[str, dict]:
    """Every command any CommandHandler takes, and the message kinds above."""
    probes = {
        f"/{c}": {"text": f"/{c}"}
        for h in _guarded(application)
        for c in getattr(h, "commands", ())
    }
    return probes | MESSAGE_PROBES


def test_every_telegram_handler_is_reached_by_a_probe(api, application, recorder, admin_kinds):
    reached = set()
    for content in _message_probes(application).values():
        reached.add(_target(application, _message(api, STAFF, content)))
    kinds = _button_data(api, application, recorder) | admin_kinds
    assert set(callbacks.ACTIONS) <= set(kinds)  # every answer button was shown
    shown = {reviewers.parse(d)[0] for d in kinds.values() if reviewers.parse(d)}
    assert shown == {reviewers.LIST, reviewers.OPEN, reviewers.RESOLVE, reviewers.REOPEN}
    shown = {callbacks.parse_admin(d)[0] for d in kinds.values() if callbacks.parse_admin(d)}
    assert shown == {*callbacks.PAGED, *callbacks.CHOSEN}  # every document-admin button
    for data in kinds.values():
        query = {
            "id": "1",
            "from": api.user(REVIEWER),
            "chat_instance": "1",
            "message": {"message_id": 1, "date": 0, "chat": {"id": REVIEWER, "type": "private"}},
            "data": data,
        }
        reached.add(_target(application, {"callback_query": query}))
    missing = [h.callback.__name__ for h in _guarded(application) if h not in reached]
    assert missing == [], "add a probe for these handlers"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
def test_every_command_and_message_kind_reaches_only_its_allowed_roles(api, application, role):
    user = USERS[role]
    for name, content in _message_probes(application).items():
        target, reply = _reply(api, application, user, content)
        allowed = role in allowed_roles(target.callback)
        assert is_refusal(reply, user) is not allowed, (role.name, name, reply[:80])


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
def test_every_button_reaches_only_its_allowed_roles(api, application, recorder, admin_kinds, role):
    kinds = _button_data(api, application, recorder) | admin_kinds
    user = USERS[role]
    # Their own answer to press answer buttons under (a stranger gets none: staff's is used).
    message = _answer_message(api, user if role is not Role.NONE else STAFF)
    if role is Role.NONE:
        message = {**message, "chat": {"id": STRANGER, "type": "private"}}
    own = {callbacks.decode(d)[0]: d for d in buttons_of(message) if callbacks.decode(d)}
    for kind, data in sorted(kinds.items()):
        data = own.get(kind, data)  # an answer button: the key of their own answer
        target, toast = _press(api, application, user, message, data)
        allowed = role in allowed_roles(target.callback)
        assert (toast in REFUSALS) is not allowed, (role.name, kind, toast)
        message = api.messages.get((message["chat"]["id"], message["message_id"]), message)


def test_a_button_of_another_users_answer_is_refused_and_records_nothing(
    api, application, recorder
):
    theirs = _answer_message(api, ADMIN)
    keys = {callbacks.decode(d)[0]: d for d in buttons_of(theirs)}
    feedback_before = len(_rows(recorder, Feedback))
    sent_before = len(api.sent(STAFF))
    mine = _answer_message(api, STAFF)
    for action in (callbacks.HELPFUL, callbacks.UNHELPFUL, callbacks.MORE, callbacks.SECTION):
        # Forged: the admin's answer id, pressed by staff under staff's own message.
        _, toast = _press(api, application, STAFF, mine, keys[action])
        assert toast == bot_texts.EXPIRED
    time.sleep(0.3)
    assert len(_rows(recorder, Feedback)) == feedback_before
    assert len(api.sent(STAFF)) == sent_before + len(wait_answer(api, STAFF, sent_before))
    assert api.messages[(ADMIN, theirs["message_id"])]["reply_markup"] == theirs["reply_markup"]


def test_a_reviewer_action_sent_by_staff_changes_nothing(api, application, recorder):
    theme_id = recorder.add_theme("Nattfasta")
    mine = _answer_message(api, STAFF)
    for action in (reviewers.RESOLVE, reviewers.OPEN, reviewers.LIST):
        data = reviewers.data(action, None if action == reviewers.LIST else theme_id)
        target, toast = _press(api, application, STAFF, mine, data)
        assert isinstance(target, CallbackQueryHandler) and toast == bot_texts.REVIEWERS_ONLY_TOAST
    assert recorder.theme(theme_id).status == "open"
    assert api.messages[(STAFF, mine["message_id"])]["text"] == mine["text"]  # not edited


def _rows(recorder, table) -> list:
    from sqlmodel import Session, select

    with Session(recorder.engine) as session:
        return list(session.exec(select(table)).all())


# -- the web page ---------------------------------------------------------------------------------

PASSWORD = "korrekt-häst-batteri"
WebRole = web_access.WebRole
# Accounts by role; the other identities have no live session.
ACCOUNTS = {"sara": WebRole.STAFF, "anna": WebRole.REVIEWER, "adam": WebRole.ADMIN}
ACCOUNT_OF = {str(role): name for name, role in ACCOUNTS.items()}
IDENTITIES = ("no session", "forged session", "expired session", *ACCOUNT_OF)


@pytest.fixture
def web(tmp_path, small_answerer):
    from bot.asking import AskService
    from bot.gaps.outbox import Outbox

    store = sql_recorder(tmp_path)
    theme_id = store.add_theme("Lex Sarah")
    qid = store.record_question("telegram", "u1", "Hur anmäler jag?", UNANSWERED)
    store.assign_theme([qid], theme_id)
    users = {name: hash_password(PASSWORD) for name in ACCOUNTS}
    app = create_app(make_settings(tmp_path), users=users, roles=dict(ACCOUNTS))
    app.dependency_overrides[get_store] = lambda: store
    outbox = Outbox(store)
    service = AskService(small_answerer[1], outbox)
    app.dependency_overrides[get_ask_service] = lambda: service
    # A recorded answer of the admin's: the chat routes are tried on someone else's answer.
    record_id = service.ask(QUESTION, channel="web", asker="adam").record_id
    examples = {"theme_id": str(theme_id), "question_id": qid, "record_id": record_id}
    yield app, examples
    if app.state.admin is not None:  # an admin's reindex (a process of its own) ends first
        deadline = time.monotonic() + 120
        while app.state.admin.status().state == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
    outbox.close()
    store.close()


def web_routes(routes) -> list:
    """Every route and mount, also inside included routers."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):
            found += web_routes(route.original_router.routes)
        else:
            found.append(route)
    return found


def _roles_of(route) -> frozenset | None:
    if isinstance(route, Mount):
        return web_access.MOUNTS.get(route.path)
    return web_access.allowed_roles(getattr(route, "endpoint", None))


def test_every_route_and_mount_declares_its_roles(web):
    app, _ = web
    routes = web_routes(app.routes)
    assert any(isinstance(r, APIRoute) for r in routes) and any(
        isinstance(r, Mount) for r in routes
    )
    undeclared = [getattr(r, "path", r) for r in routes if _roles_of(r) is None]
    assert undeclared == []


def test_the_declared_policy_opens_only_the_login_form_and_static_files(web):
    app, _ = web
    public = set()
    for route in web_routes(app.routes):
        if web_access.WebRole.STRANGER in _roles_of(route):
            public |= {(route.path, m) for m in getattr(route, "methods", None) or {"*"}}
    assert public == {("/login", "GET"), ("/login", "POST"), ("/static", "*")}


def test_the_declared_policy_gives_staff_the_chat_reviewers_the_gaps_and_admins_documents(web):
    app, _ = web
    admin_routes = 0
    for route in web_routes(app.routes):
        if isinstance(route, Mount) or route.path == "/login":
            continue
        roles = _roles_of(route)
        if route.path.startswith("/fraga") or route.path == "/logout":
            assert roles == web_access.MEMBERS, route.path
        elif route.endpoint.__module__ == web_admin.__name__:  # document administration
            assert roles == web_access.ADMINS, route.path
            admin_routes += 1
        else:
            assert roles == web_access.REVIEWERS, route.path  # every gap page and action
    assert admin_routes >= 10  # upload, replace, remove, trash, metadata, reindex, log


def _admin_routes(app) -> list:
    return [
        r
        for r in web_routes(app.routes)
        if isinstance(r, APIRoute) and r.endpoint.__module__ == web_admin.__name__
    ]


@pytest.mark.parametrize("identity", ["staff", "reviewer"])
def test_every_admin_route_is_refused_to_staff_and_reviewers_and_changes_nothing(
    web, tmp_path, identity
):
    """GET and POST, with the account's own valid form token: 403 "Åtkomst nekad", no file
    saved, moved or edited, no reindex started, nothing in the audit log."""
    app, _ = web
    knowledge = app.state.settings.paths.knowledge
    knowledge.mkdir(parents=True, exist_ok=True)
    (knowledge / "rutin.md").write_text("# Rutin\n\nEn rutin.\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "rutin" in p.name}
    routes = _admin_routes(app)
    assert routes
    client, token = _client_as(app, identity)
    try:
        for route in routes:
            path = route.path.format(**{name: "abc" for name in route.param_convertors})
            for method in sorted(route.methods):
                form = {
                    "csrf": token,
                    "namn": "rutin.md",
                    "svar": "ersatt",
                    "ansvarig": "Någon",
                }
                files = {"fil": ("rutin.md", b"# Annan\n", "text/markdown")}
                response = client.request(
                    method,
                    path + ("?namn=rutin.md" if method == "GET" else ""),
                    data=form if method == "POST" else None,
                    files=files if method == "POST" and path == web_admin.UPLOAD_PATH else None,
                    headers={"accept": "text/html"},
                )
                assert response.status_code == 403, (identity, method, path)
                assert SV_STATUS[403] in response.text, (identity, method, path)
                assert "rutin.md" not in response.text
    finally:
        client.__exit__(None, None, None)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "rutin" in p.name}
    assert after == before
    assert app.state.admin is None  # the admin service was never even built
    assert not (app.state.settings.paths.index / "reindex.json").exists()


def test_an_undeclared_route_is_refused_to_everyone(web):
    app, _ = web

    @app.get("/ny-sida")
    def new_page() -> str:  # a route someone forgot to declare
        return "hemligt"

    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        _log_in(client)
        page = client.get("/ny-sida", headers={"accept": "text/html"})
    assert page.status_code == 403 and "hemligt" not in page.text and "Åtkomst nekad" in page.text


def _log_in(client: TestClient, user: str = "anna") -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    data = {"username": user, "password": PASSWORD, "csrf": token}
    assert client.post("/login", data=data).status_code == 303


def _client_as(app, identity: str) -> tuple[TestClient, str]:
    """A client with this identity, and the form token it can send."""
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    client.__enter__()
    if identity == "forged session":
        client.cookies.set(SESSION_COOKIE, "gissad-" + "x" * 40, domain="testserver.local")
    if identity == "expired session" or identity in ACCOUNT_OF:
        _log_in(client, ACCOUNT_OF.get(identity, "anna"))
        session = app.state.sessions.get(client.cookies.get(SESSION_COOKIE))
        if identity == "expired session":
            session.last_seen -= app.state.sessions.idle_seconds + 1
        return client, session.csrf
    page = client.get("/login")  # what a stranger can have: the login form's token
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


@pytest.mark.parametrize("identity", IDENTITIES)
def test_every_route_lets_through_only_its_allowed_roles(web, identity):
    app, examples = web
    role = WebRole(identity) if identity in ACCOUNT_OF else WebRole.STRANGER
    for route in web_routes(app.routes):
        if isinstance(route, Mount):
            continue  # static files: public, checked below
        path = route.path.format(
            **{name: examples.get(name, "1") for name in route.param_convertors}
        )
        for method, accept in itertools.product(sorted(route.methods), ("text/html", "*/*")):
            client, token = _client_as(app, identity)  # afresh: a post may log in or out
            form = {
                "csrf": token,
                "username": "anna",
                "password": PASSWORD,
                "status": "open",
                "fraga": "Vem tar emot rapporten?",
                "hjalpte": "nej",
            }
            response = client.request(
                method, path, data=form if method == "POST" else None, headers={"accept": accept}
            )
            client.__exit__(None, None, None)
            location = response.headers.get("location", "")
            # 403 with "Åtkomst nekad" is the refusal; a form's stale token (also 403, another
            # message) is checked inside the route, so the request got through to it.
            refused = (
                response.status_code == 401
                or location.startswith("/login?next=")
                or (response.status_code == 403 and SV_STATUS[403] in response.text)
            )
            allowed = role in _roles_of(route)
            assert refused is not allowed, (identity, method, path, accept, response.status_code)
            if refused:
                assert "Lex Sarah" not in response.text and "Hur anmäler" not in response.text
            if path.startswith("/fraga/") and method == "POST" and not refused:
                # Through the gate, but the admin's answer is not this session's: not found.
                assert response.status_code in (403, 404), (identity, path)
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/static/style.css").status_code == 200
