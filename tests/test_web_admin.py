"""Document administration on the web page, over HTTP: the real app, admin service, audit log,
SQLite store and knowledge folder. Uploads, replace with confirmation, remove and restore,
metadata, the reindex page and the audit log; refusals (CSRF, names, duplicates, bad or
oversized bodies) in Swedish with a 4xx, and nothing saved."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import select
import socket
import time
from pathlib import Path

import pytest
from conftest import make_settings, serving, write_small_corpus
from fastapi.testclient import TestClient

from bot.adapters.web.app import create_app
from bot.adapters.web.auth import hash_password
from bot.adapters.web.deps import get_store
from bot.adapters.web.limits import FORM_BODY_LIMIT, MB
from bot.adapters.web.pages import SESSION_COOKIE
from bot.adapters.web.uploads import PendingUploads
from bot.admin import jobs
from bot.admin.model import JobState, ReindexSummary
from bot.gaps.store import SqlRecorder
from bot.ingest.metadata import read_sidecar, sidecar_path

PASSWORD = "korrekt-häst-batteri"
ACCOUNTS = {"sara": "staff", "anna": "reviewer", "adam": "admin"}
NEW_ROUTINE = (
    "# Rutin för nyckelhantering\n\nNycklar till hemtjänstens brukare förvaras i nyckelskåpet på "
    "enhet Lönnen. Nyckelansvarig nås på 0701-234 567.\n"
)
REINDEX_WAIT = 180.0  # seconds: a reindex of a few small documents in a process of its own


@pytest.fixture
def site(tmp_path):
    """The app over a small knowledge folder (no index yet) and its own SQLite store."""
    knowledge = write_small_corpus(tmp_path / "knowledge")
    settings = make_settings(tmp_path, encoder={"num_threads": 1}, admin={"max_upload_mb": 2})
    store = SqlRecorder(f"sqlite:///{tmp_path / 'gaps.db'}", key_file=tmp_path / "key")
    users = {name: hash_password(PASSWORD) for name in ACCOUNTS}
    app = create_app(settings, users=users, roles=dict(ACCOUNTS))
    app.dependency_overrides[get_store] = lambda: store
    try:
        yield app, knowledge, settings
    finally:
        if app.state.admin is not None:  # no reindex process outlives its test
            wait_for_reindex(app, REINDEX_WAIT)
        store.close()


def wait_for_reindex(app, timeout: float) -> None:
    service = app.state.admin
    deadline = time.monotonic() + timeout
    while service.status().state == JobState.RUNNING:
        assert time.monotonic() < deadline, "the reindex did not finish"
        time.sleep(0.2)


def client_for(app, user: str) -> TestClient:
    """A logged-in client. Not entered as a context: that would run the app's shutdown (and
    drop its pending uploads) when a second client of the same app closes."""
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    data = {"username": user, "password": PASSWORD, "csrf": token}
    assert client.post("/login", data=data).status_code == 303
    return client


def csrf_of(client: TestClient) -> str:
    page = client.get("/documents/trash")  # any admin page: its logout form carries the token
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


@pytest.fixture
def admin(site):
    with client_for(site[0], "adam") as client:
        yield client


def upload(client: TestClient, name: str, content: bytes, token: str | None = None):
    token = csrf_of(client) if token is None else token
    return client.post(
        "/documents/upload",
        data={"csrf": token},
        files={"fil": (name, content, "application/octet-stream")},
        headers={"accept": "text/html"},
    )


def folder_state(folder: Path) -> dict[str, bytes]:
    """Every file under the folder, with its bytes: what "nothing saved" compares."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def pending_files(settings) -> list[Path]:
    return sorted((settings.paths.data / "uploads").glob("*"))


def test_an_admin_uploads_a_document_and_a_reindex_starts(site, admin):
    app, knowledge, _ = site
    response = upload(admin, "nyckelrutin.md", NEW_ROUTINE.encode())
    assert response.status_code == 303 and response.headers["location"] == "/documents/reindex"
    assert (knowledge / "nyckelrutin.md").read_text(encoding="utf-8") == NEW_ROUTINE
    progress = admin.get("/documents/reindex")
    assert "”nyckelrutin.md” är sparat. Omindexeringen har startat." in progress.text
    assert app.state.admin.status().started_by == "adam"
    wait_for_reindex(app, REINDEX_WAIT)
    done = admin.get("/documents/reindex")
    assert done.status_code == 200 and 'http-equiv="refresh"' not in done.text
    assert "Klar" in done.text and "nyckelrutin.md" in done.text
    listing = admin.get("/documents")
    row = re.search(r"<tr class=\"state-(\w+)\">\s*<td[^>]*>nyckelrutin.md</td>", listing.text)
    assert row and row.group(1) == "indexed"
    assert 'enctype="multipart/form-data"' in listing.text


def test_the_progress_page_refreshes_itself_while_a_reindex_runs_then_shows_the_summary(
    site, admin
):
    """A reindex started elsewhere (here: a status as `rutinbot index` in a terminal writes
    it, its process this one) is shown with its progress; a second start is told who runs it;
    an upload meanwhile is saved and queued; the finished run shows its summary."""
    app, knowledge, settings = site
    root = settings.paths.index
    running = jobs.started("cli:ulla", os.getpid())
    jobs.write_status(
        root,
        dataclasses.replace(
            running,
            phase="embedding",
            documents_read=5,
            documents_total=5,
            passages_embedded=40,
            passages_total=120,
            eta_seconds=130,
        ),
    )
    page = admin.get("/documents/reindex").text
    assert '<meta http-equiv="refresh" content="2">' in page
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Pågår: Bearbetar avsnitten" in text
    assert "Dokument lästa 5 av 5" in text and "Avsnitt klara 40 av 120" in text
    assert "Tid kvar cirka 2 minuter" in text and "cli:ulla" in text
    assert 'http-equiv="refresh"' not in admin.get("/documents").text  # only the progress page

    again = admin.post("/documents/reindex", data={"csrf": csrf_of(admin)})
    assert again.status_code == 303
    told = admin.get("/documents/reindex").text
    assert "En omindexering pågår redan, startad av cli:ulla" in told
    assert "40 av 120 passager klara" in told

    saved = upload(admin, "nyckelrutin.md", NEW_ROUTINE.encode())
    assert saved.status_code == 303 and (knowledge / "nyckelrutin.md").exists()
    assert "Omindexeringen har startat" in admin.get("/documents/reindex").text
    assert app.state.admin.status().follow_up  # taken up when the running one ends

    summary = ReindexSummary(
        added=("nyckelrutin.md",),
        replaced=("anhorigstod.txt",),
        skipped=(("trasig.pdf", "the PDF is encrypted"),),
        passages=9,
        answered_now=2,
    )
    jobs.write_status(
        root,
        dataclasses.replace(
            running, state=JobState.DONE, finished_at=running.started_at, summary=summary
        ),
    )
    (root / jobs.FOLLOW_UP_NAME).unlink(missing_ok=True)  # nobody runs here to take it up
    done = admin.get("/documents/reindex").text
    assert 'http-equiv="refresh"' not in done
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", done))
    assert "Tillagda 1" in text and "Ersatta 1" in text and "Kunde inte läsas 1" in text
    assert "trasig.pdf : the PDF is encrypted" in text
    assert "2 tidigare obesvarade frågor besvaras nu" in text

    jobs.write_status(
        root,
        dataclasses.replace(
            running, state=JobState.FAILED, error="boom", error_sv="Indexet kunde inte byggas."
        ),
    )
    failed = admin.get("/documents/reindex")
    assert "Omindexeringen misslyckades: Indexet kunde inte byggas." in failed.text
    assert "Traceback" not in failed.text


ACTIONS = {
    "upload": lambda c, t: c.post(
        "/documents/upload", data=t, files={"fil": ("ny.md", NEW_ROUTINE.encode(), "text/plain")}
    ),
    "remove": lambda c, t: c.post("/documents/remove", data={"namn": "anhorigstod.txt"} | t),
    "metadata": lambda c, t: c.post(
        "/documents/metadata", data={"namn": "anhorigstod.txt", "ansvarig": "Ulla"} | t
    ),
    "reindex": lambda c, t: c.post("/documents/reindex", data=t),
    "restore": lambda c, t: c.post("/documents/trash/abc/restore", data=t),
    "replace": lambda c, t: c.post("/documents/replace/abc", data={"svar": "ersatt"} | t),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_admin_action_without_the_session_token_is_refused(site, admin, action):
    app, knowledge, _ = site
    before = folder_state(knowledge)
    for token in ({}, {"csrf": "gissat"}):
        response = ACTIONS[action](admin, token)
        assert response.status_code == 403
        assert "Formuläret har gått ut" in response.text
    assert folder_state(knowledge) == before
    service = app.state.admin
    assert service is None or service.status().state == JobState.IDLE
    assert service is None or service.audit_log() == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (".hidden.pdf", "Filnamnet går inte att använda: dolda filer"),
        ("README.md", "Filnamnet går inte att använda: dolda filer, README-filer"),
        ("x.meta.toml", "Filnamnet går inte att använda: dolda filer, README-filer och .meta"),
        ("evil.exe", "Filtypen .exe kan inte läsas in."),
        ("../a.pdf", "Filnamnet går inte att använda: det får inte innehålla /"),
    ],
)
def test_a_name_the_indexer_would_not_read_is_refused_in_swedish(site, admin, name, reason):
    app, knowledge, settings = site
    before = folder_state(knowledge)
    response = upload(admin, name, b"%PDF-1.4 innehall")
    assert response.status_code == 400
    assert reason in response.text
    assert 'role="alert"' in response.text and "Traceback" not in response.text
    assert folder_state(knowledge) == before and pending_files(settings) == []
    assert app.state.admin.status().state == JobState.IDLE  # nothing saved, nothing to index
    entry = app.state.admin.audit_log()[0]
    assert (entry.action, entry.actor) == ("add", "adam") and entry.result.startswith("refused")


def test_the_same_content_under_another_name_is_recognised(site, admin):
    _, knowledge, _ = site
    before = folder_state(knowledge)
    same = (knowledge / "anhorigstod.txt").read_bytes()
    response = upload(admin, "kopia-av-anhorigstod.txt", same)
    assert response.status_code == 409
    assert "Dokumentet finns redan som anhorigstod.txt." in response.text
    assert folder_state(knowledge) == before


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"annat": ("ny.md", b"x", "text/plain")}, "Välj en fil att ladda upp."),
        ({"fil": ("", b"", "application/octet-stream")}, "Välj en fil att ladda upp."),
        ({"fil": ("tom.md", b"", "text/markdown")}, "Filen är tom."),
    ],
    ids=["no file field", "no file chosen", "empty file"],
)
def test_an_upload_without_a_file_is_refused_in_swedish(site, admin, files, message):
    _, knowledge, settings = site
    before = folder_state(knowledge)
    response = admin.post(
        "/documents/upload",
        data={"csrf": csrf_of(admin)},
        files=files,
        headers={"accept": "text/html"},
    )
    assert response.status_code == 400 and message in response.text
    assert folder_state(knowledge) == before and pending_files(settings) == []


@pytest.mark.parametrize(
    ("content_type", "cut", "message"),
    [
        ("multipart/form-data", None, "Formuläret kunde inte läsas"),
        # The unfinished part is dropped by the parser: no file arrived.
        ("multipart/form-data; boundary=grans", -12, "Välj en fil att ladda upp."),
    ],
    ids=["no boundary", "cut short"],
)
def test_a_broken_multipart_body_is_refused_in_swedish(site, admin, content_type, cut, message):
    _, knowledge, _ = site
    before = folder_state(knowledge)
    token = csrf_of(admin)
    body = (
        f'--grans\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
        '--grans\r\nContent-Disposition: form-data; name="fil"; filename="a.md"\r\n\r\n'
        "en rutin\r\n--grans--\r\n"
    ).encode()
    response = admin.post(
        "/documents/upload",
        content=body[:cut],
        headers={"content-type": content_type, "accept": "text/html"},
    )
    assert response.status_code == 400
    assert message in response.text and "boundary" not in response.text
    assert folder_state(knowledge) == before


def test_an_oversized_upload_is_refused_in_swedish_and_nothing_is_saved(site, admin):
    """2 MB allowed here: a larger body gets the Swedish 413 page; just over the file limit
    but inside the body's allowance, the service's own refusal."""
    _, knowledge, settings = site
    before = folder_state(knowledge)
    token = csrf_of(admin)
    big = upload(admin, "stor.md", b"a" * (4 * MB), token=token)
    assert big.status_code == 413
    assert "Filen är för stor. Högst 2 MB kan laddas upp." in big.text
    over = upload(admin, "stor.md", b"a" * (2 * MB + 10), token=token)
    assert over.status_code == 400 and "Filen är för stor" in over.text
    assert folder_state(knowledge) == before and pending_files(settings) == []


@pytest.fixture
def served(site):
    """The same app on a real uvicorn server (127.0.0.1, a free port), in a thread."""
    with serving(site[0]) as url:
        yield int(url.rsplit(":", 1)[1])


def _raw_upload(port: int, cookie: str, token: str, *, declared: int | None) -> tuple[bytes, int]:
    """Send an upload of up to 64 MB, chunked or with a declared length, stopping as soon as
    the server answers; returns its answer and how many bytes of file were sent by then."""
    head = (
        f'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
        '--b\r\nContent-Disposition: form-data; name="fil"; filename="stor.md"\r\n\r\n'
    ).encode()
    framing = f"Content-Length: {declared}" if declared else "Transfer-Encoding: chunked"
    request = (
        "POST /documents/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n"
        f"Cookie: {SESSION_COOKIE}={cookie}\r\n"
        f"Content-Type: multipart/form-data; boundary=b\r\n{framing}\r\n\r\n"
    ).encode()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        conn.sendall(head if declared else b"%x\r\n%s\r\n" % (len(head), head))
        piece = b"a" * (256 * 1024)
        while sent < 64 * MB:
            readable, _, _ = select.select([conn], [], [], 0)
            if readable:
                break
            try:
                conn.sendall(piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        answer = b""
        with contextlib.suppress(OSError):
            while b"</html>" not in answer and (chunk := conn.recv(65536)):
                answer += chunk
    return answer, sent


@pytest.mark.parametrize("declared", [None, 64 * MB], ids=["chunked", "declared length"])
def test_an_oversized_upload_is_refused_while_it_is_received(site, served, declared):
    """On a real server: the 413 comes while the client is still sending, long before 64 MB
    (a declared length at once, a chunked body a little past the 3 MB allowance)."""
    app, knowledge, settings = site
    before = folder_state(knowledge)
    with contextlib.closing(client_for(app, "adam")) as admin:
        cookie, token = admin.cookies.get(SESSION_COOKIE), csrf_of(admin)
    answer, sent = _raw_upload(served, cookie, token, declared=declared)
    assert answer.startswith(b"HTTP/1.1 413")
    assert "Filen är för stor. Högst 2 MB kan laddas upp.".encode() in answer
    assert sent < 16 * MB
    assert folder_state(knowledge) == before and pending_files(settings) == []


def test_other_forms_have_a_small_body_limit_even_before_login(site):
    app, _, _ = site
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        response = client.post(
            "/login",
            content=b"username=" + b"a" * (FORM_BODY_LIMIT + 1),
            headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
        )
    assert response.status_code == 413 and "Formuläret är för stort." in response.text


def test_an_existing_name_asks_first_then_replaces_and_keeps_the_metadata(site, admin):
    app, knowledge, settings = site
    original = (knowledge / "anhorigstod.txt").read_bytes()
    meta = admin.post(
        "/documents/metadata",
        data={"csrf": csrf_of(admin), "namn": "anhorigstod.txt", "ansvarig": "Ulla Ek"},
    )
    assert meta.status_code == 303
    new = b"Anhorigombud\n\nVarje enhet har tva anhorigombud sedan 2026.\n"
    asked = upload(admin, "anhorigstod.txt", new)
    assert asked.status_code == 303
    confirm_url = asked.headers["location"]
    assert confirm_url.startswith("/documents/replace/")
    assert (knowledge / "anhorigstod.txt").read_bytes() == original  # not yet
    page = admin.get(confirm_url)
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", "", page.text)
    assert "Det finns redan ett dokument som heter anhorigstod.txt. Ersätta det?" in text
    assert len(pending_files(settings)) == 1
    kept = pending_files(settings)[0]
    assert oct(kept.stat().st_mode & 0o777) == "0o600" and "anhorigstod" not in kept.name

    # Another session of the same account cannot see or confirm it.
    with contextlib.closing(client_for(app, "adam")) as other:
        assert other.get(confirm_url).status_code == 404
        refused = other.post(confirm_url, data={"csrf": csrf_of(other), "svar": "ersatt"})
        assert refused.status_code == 404
    assert (knowledge / "anhorigstod.txt").read_bytes() == original

    done = admin.post(confirm_url, data={"csrf": csrf_of(admin), "svar": "ersatt"})
    assert done.status_code == 303 and done.headers["location"] == "/documents/reindex"
    assert (knowledge / "anhorigstod.txt").read_bytes() == new
    assert read_sidecar(knowledge / "anhorigstod.txt").get("ansvarig") == "Ulla Ek"
    assert pending_files(settings) == []
    assert admin.get(confirm_url).status_code == 404  # used up
    assert "”anhorigstod.txt” är ersatt." in admin.get("/documents/reindex").text


def test_cancelling_a_replace_changes_nothing_and_drops_the_upload(site, admin):
    _, knowledge, settings = site
    before = folder_state(knowledge)
    asked = upload(admin, "anhorigstod.txt", b"En annan text om anhorigombud.\n")
    url = asked.headers["location"]
    cancelled = admin.post(url, data={"csrf": csrf_of(admin), "svar": "avbryt"})
    assert cancelled.status_code == 303 and cancelled.headers["location"] == "/documents"
    assert "finns kvar som förut" in admin.get("/documents").text
    assert folder_state(knowledge) == before and pending_files(settings) == []


def test_metadata_edit_round_trip(site, admin):
    _, knowledge, _ = site
    form = admin.get("/documents/metadata?namn=anhorigstod.txt")
    assert form.status_code == 200 and 'name="galler_fran"' in form.text
    values = {
        "titel": "Anhörigstöd i hemtjänsten",
        "datum": "2026-01-15",
        "ansvarig": "Ulla Ek",
        "galler_fran": "2026-02-01",
        "galler_till": "2027-01-31",
    }
    saved = admin.post(
        "/documents/metadata", data={"csrf": csrf_of(admin), "namn": "anhorigstod.txt"} | values
    )
    assert saved.status_code == 303
    side = read_sidecar(knowledge / "anhorigstod.txt")
    assert side == {
        "title": values["titel"],
        "date": values["datum"],
        "ansvarig": values["ansvarig"],
        "galler_fran": values["galler_fran"],
        "galler_till": values["galler_till"],
    }
    again = admin.get("/documents/metadata?namn=anhorigstod.txt").text
    for value in values.values():
        assert f'value="{value}"' in again
    listing = admin.get("/documents").text
    assert "Ulla Ek" in listing and "från 2026-02-01 till 2027-01-31" in listing
    # Clearing a field removes the key.
    cleared = admin.post(
        "/documents/metadata",
        data={"csrf": csrf_of(admin), "namn": "anhorigstod.txt"} | values | {"ansvarig": ""},
    )
    assert cleared.status_code == 303
    assert "ansvarig" not in read_sidecar(knowledge / "anhorigstod.txt")


def test_saving_the_form_unchanged_does_not_pin_the_documents_own_title(site, admin):
    """Title and date shown come from the document (or its name) while no sidecar sets them;
    sent back unchanged, they are not written into the sidecar."""
    _, knowledge, _ = site
    form = admin.get("/documents/metadata?namn=rutin-lex-sarah.md").text
    shown = {
        field: re.search(rf'name="{field}"[^>]* value="([^"]*)"', form).group(1)
        for field in ("titel", "datum")
    }
    assert shown["titel"]
    saved = admin.post(
        "/documents/metadata",
        data={"csrf": csrf_of(admin), "namn": "rutin-lex-sarah.md", "ansvarig": "Per Ek"} | shown,
    )
    assert saved.status_code == 303
    assert read_sidecar(knowledge / "rutin-lex-sarah.md") == {"ansvarig": "Per Ek"}


def test_a_bad_date_keeps_the_form_with_the_reason(site, admin):
    _, knowledge, _ = site
    before = folder_state(knowledge)
    response = admin.post(
        "/documents/metadata",
        data={"csrf": csrf_of(admin), "namn": "anhorigstod.txt", "galler_fran": "snart"},
    )
    assert response.status_code == 400 and 'role="alert"' in response.text
    assert 'value="snart"' in response.text  # as she typed it
    assert folder_state(knowledge) == before
    assert not sidecar_path(knowledge / "anhorigstod.txt").exists()


def test_remove_asks_first_then_goes_to_the_trash_and_restores(site, admin):
    app, knowledge, _ = site
    confirm = admin.get("/documents/remove?namn=anhorigstod.txt")
    assert confirm.status_code == 200
    assert "Vill du ta bort" in confirm.text
    assert 'name="namn" value="anhorigstod.txt"' in confirm.text
    assert (knowledge / "anhorigstod.txt").exists()  # asking removes nothing
    assert admin.get("/documents/remove?namn=finns-inte.pdf").status_code == 404
    removed = admin.post(
        "/documents/remove", data={"csrf": csrf_of(admin), "namn": "anhorigstod.txt"}
    )
    assert removed.status_code == 303 and not (knowledge / "anhorigstod.txt").exists()
    trash = admin.get("/documents/trash")
    assert "anhorigstod.txt" in trash.text and "adam" in trash.text
    trash_id = re.search(r'action="/documents/trash/([^/]+)/restore"', trash.text).group(1)
    wait_for_reindex(app, REINDEX_WAIT)
    restored = admin.post(f"/documents/trash/{trash_id}/restore", data={"csrf": csrf_of(admin)})
    assert restored.status_code == 303 and (knowledge / "anhorigstod.txt").exists()
    assert "Papperskorgen är tom." in admin.get("/documents/trash").text
    gone = admin.post(f"/documents/trash/{trash_id}/restore", data={"csrf": csrf_of(admin)})
    assert gone.status_code == 404 and "Traceback" not in gone.text


def test_the_audit_log_shows_who_did_what_and_when(admin):
    upload(admin, "nyckelrutin.md", NEW_ROUTINE.encode())
    upload(admin, "evil.exe", b"MZ")
    admin.post("/documents/remove", data={"csrf": csrf_of(admin), "namn": "nyckelrutin.md"})
    page = admin.get("/documents/log")
    assert page.status_code == 200
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", page.text, flags=re.S) if "<td" in r]
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in rows]
    assert any(
        "adam" in c and "Lade till" in c and "nyckelrutin.md" in c and "Klart" in c for c in cells
    )
    assert any("Tog bort" in c and "nyckelrutin.md" in c for c in cells)
    assert any("evil.exe" in c and "Nekades" in c and "not read" in c for c in cells)
    assert any("Omindexering" in c for c in cells)
    assert all(re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", c) for c in cells)


def test_reviewers_read_the_documents_page_and_staff_never(site):
    app, _, _ = site
    with contextlib.closing(client_for(app, "anna")) as reviewer:
        page = reviewer.get("/documents")
        assert page.status_code == 200
        assert "Ladda upp" not in page.text and "/documents/remove" not in page.text
        assert reviewer.get("/documents/log").status_code == 403
    with contextlib.closing(client_for(app, "sara")) as staff:
        assert staff.get("/documents").status_code == 403


def test_pending_uploads_are_private_per_session_bounded_and_expire(tmp_path):
    now = [0.0]
    pending = PendingUploads(tmp_path / "uploads", ttl=60, per_session=2, clock=lambda: now[0])
    first = pending.keep("s1", "a.pdf", io.BytesIO(b"ett"))
    now[0] = 1
    second = pending.keep("s1", "b.pdf", io.BytesIO(b"tva"))
    assert oct((tmp_path / "uploads").stat().st_mode & 0o777) == "0o700"
    assert first.path.read_bytes() == b"ett" and first.size == 3
    assert pending.get("s2", first.id) is None  # another session's
    now[0] = 2
    third = pending.keep("s1", "c.pdf", io.BytesIO(b"tre"))
    assert pending.get("s1", first.id) is None and not first.path.exists()  # oldest pushed out
    assert pending.get("s1", second.id) == second and pending.get("s1", third.id) == third
    now[0] = 62
    assert pending.get("s1", second.id) is None and not second.path.exists()  # expired
    assert pending.get("s1", third.id) == third
    pending.close()
    assert list((tmp_path / "uploads").iterdir()) == []
