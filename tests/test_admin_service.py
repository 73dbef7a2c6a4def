"""AdminService: uploads, the trash, metadata, document states, the audit log, reindex state."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_settings, write_small_corpus
from test_gaps_store import pg_database  # noqa: F401  (fixture)

from bot.admin import jobs, launch
from bot.admin.audit import AuditLog
from bot.admin.documents import AdminService
from bot.admin.model import (
    Actor,
    BadUploadError,
    ConfirmReplaceError,
    DocState,
    DuplicateContentError,
    JobState,
    ReindexBusyError,
    ReindexSummary,
    UnknownDocumentError,
)
from bot.errors import RutinbotError
from bot.ingest.limits import CHUNK_BYTES
from bot.privacy import REDACTED_PNR

ANNA = Actor("web", "anna")
FACT = b"Nyckelrutin\n\nNyckelskapet oppnas med kod 4711 av nattpersonalen pa enheten.\n"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings(tmp_path):
    write_small_corpus(tmp_path / "knowledge")
    return make_settings(tmp_path, encoder={"num_threads": 1})


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def service(settings, clock):
    audit = AuditLog.from_settings(settings)
    yield AdminService(settings, audit, clock=clock)
    audit.close()


def _files(folder: Path) -> dict[str, bytes]:
    files = (p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}


def test_add_saves_the_bytes_under_the_nfc_name_and_audits_it(service, settings):
    added = service.add(ANNA, "Rutin a\u0308ldreomsorg.txt", io.BytesIO(FACT))

    path = settings.paths.knowledge / "Rutin äldreomsorg.txt"
    assert added.name == "Rutin äldreomsorg.txt" and not added.replaced
    assert path.read_bytes() == FACT and added.size == len(FACT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [p for p in settings.paths.knowledge.iterdir() if p.name.startswith(".")]
    entry = service.audit_log()[0]
    assert (entry.channel, entry.actor, entry.action, entry.result) == (
        "web",
        "anna",
        "add",
        f"ok; {len(FACT)} bytes",
    )
    assert entry.target == "Rutin äldreomsorg.txt"


@pytest.mark.parametrize(
    "name",
    [
        "../ut.txt",
        "mapp/ut.txt",
        "mapp\\ut.txt",
        "nul\x00.txt",
        "styr\x1b[2J.txt",
        "bidi\u202etxt.exe",
        ".dold.txt",
        "README.md",
        "readme-forst.txt",
        "rutin.txt.meta.toml",
        "program.exe",
        "utan-typ",
        "a" * 117 + ".txt" + "x",
        "a" * 121 + ".txt",
        "   ",
    ],
)
def test_names_the_indexer_would_never_read_are_refused(service, settings, name):
    before = _files(settings.paths.knowledge)

    with pytest.raises(BadUploadError) as caught:
        service.add(ANNA, name, FACT)

    assert caught.value.sv and caught.value.sv != caught.value.default_sv
    assert _files(settings.paths.knowledge) == before
    assert service.audit_log()[0].result.startswith("refused:")


class Endless(io.RawIOBase):
    """A stream that never ends, counting what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        buffer[:] = b"x" * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


@pytest.mark.parametrize(
    ("admin", "ingest"), [({"max_upload_mb": 0.5}, {}), ({}, {"max_file_mb": 0.5})]
)
def test_an_upload_over_the_limit_stops_while_it_is_read(tmp_path, admin, ingest):
    write_small_corpus(tmp_path / "knowledge")
    settings = make_settings(tmp_path, admin=admin, ingest=ingest)
    stream = Endless()

    with pytest.raises(BadUploadError, match=r"larger than the limit of 0\.5 MB") as caught:
        AdminService(settings).add(ANNA, "stor.txt", io.BufferedReader(stream))

    assert "0.5 MB" in caught.value.sv
    assert stream.read_bytes <= 512 * 1024 + 2 * max(CHUNK_BYTES, io.DEFAULT_BUFFER_SIZE)
    assert sorted(p.name for p in settings.paths.knowledge.iterdir()) == [
        "anhorigstod.txt",
        "rutin-lex-sarah.md",
    ]


def test_an_empty_file_is_refused(service, settings):
    with pytest.raises(BadUploadError, match="empty"):
        service.add(ANNA, "tom.txt", b"")
    assert not (settings.paths.knowledge / "tom.txt").exists()


def test_the_same_content_under_another_name_is_recognised(service, settings):
    existing = (settings.paths.knowledge / "anhorigstod.txt").read_bytes()

    with pytest.raises(DuplicateContentError) as caught:
        service.add(ANNA, "kopia.txt", existing)

    assert caught.value.existing == "anhorigstod.txt"
    assert caught.value.sv == "Dokumentet finns redan som anhorigstod.txt."
    assert not (settings.paths.knowledge / "kopia.txt").exists()


def test_an_existing_name_asks_first_and_replacing_keeps_the_metadata(service, settings):
    folder = settings.paths.knowledge
    service.set_metadata(ANNA, "anhorigstod.txt", title="Anhörigstöd", owner="Enhetschef")
    sidecar = (folder / "anhorigstod.txt.meta.toml").read_bytes()

    with pytest.raises(ConfirmReplaceError) as caught:
        service.add(ANNA, "anhorigstod.txt", FACT)
    assert caught.value.name == "anhorigstod.txt"
    assert (folder / "anhorigstod.txt").read_bytes() != FACT

    added = service.add(ANNA, "anhorigstod.txt", FACT, replace=True)

    assert added.replaced
    assert (folder / "anhorigstod.txt").read_bytes() == FACT
    assert (folder / "anhorigstod.txt.meta.toml").read_bytes() == sidecar
    assert service.audit_log()[0].action == "replace"


def test_a_name_that_is_a_link_is_never_written_through(service, settings, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"untouched")
    (settings.paths.knowledge / "lank.txt").symlink_to(outside)

    for replace in (False, True):
        with pytest.raises(BadUploadError, match="link"):
            service.add(ANNA, "lank.txt", FACT, replace=replace)

    assert outside.read_bytes() == b"untouched"
    assert (settings.paths.knowledge / "lank.txt").is_symlink()


def test_remove_moves_document_and_sidecar_to_a_private_trash_and_restore_brings_them_back(
    service, settings, clock
):
    folder = settings.paths.knowledge
    service.set_metadata(ANNA, "anhorigstod.txt", owner="Enhetschef")
    original = (folder / "anhorigstod.txt").read_bytes()

    entry = service.remove(ANNA, "anhorigstod.txt")

    assert not (folder / "anhorigstod.txt").exists()
    assert not (folder / "anhorigstod.txt.meta.toml").exists()
    where = settings.paths.data / "trash" / entry.id
    assert stat.S_IMODE((settings.paths.data / "trash").stat().st_mode) == 0o700
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    saved = json.loads((where / "entry.json").read_text(encoding="utf-8"))
    assert saved["name"] == "anhorigstod.txt" and saved["removed_by"] == "anna"
    assert len(entry.id) <= 32 and entry.id.replace("-", "").isalnum()
    assert service.trash() == [entry]
    assert entry.removed_at == clock.now

    assert service.restore(ANNA, entry.id) == "anhorigstod.txt"

    assert (folder / "anhorigstod.txt").read_bytes() == original
    assert "Enhetschef" in (folder / "anhorigstod.txt.meta.toml").read_text(encoding="utf-8")
    assert service.trash() == []
    assert [e.action for e in service.audit_log(3)] == ["restore", "remove", "metadata"]


def test_restore_refuses_when_the_name_was_taken_since(service, settings):
    entry = service.remove(ANNA, "anhorigstod.txt")
    service.add(ANNA, "anhorigstod.txt", FACT)

    with pytest.raises(ConfirmReplaceError):
        service.restore(ANNA, entry.id)

    assert (settings.paths.knowledge / "anhorigstod.txt").read_bytes() == FACT
    assert [e.id for e in service.trash()] == [entry.id]


def test_restore_never_goes_through_a_folder_that_became_a_link(service, settings, tmp_path):
    folder = settings.paths.knowledge
    (folder / "avdelning").mkdir()
    (folder / "avdelning" / "rutin.txt").write_bytes(FACT)
    entry = service.remove(ANNA, "avdelning/rutin.txt")
    outside = tmp_path / "utanfor"
    outside.mkdir()
    (folder / "avdelning").rmdir()
    (folder / "avdelning").symlink_to(outside)  # swapped for a link out since the removal

    with pytest.raises(UnknownDocumentError):
        service.restore(ANNA, entry.id)

    assert list(outside.iterdir()) == []
    assert [e.id for e in service.trash()] == [entry.id]  # still there to restore later


@pytest.mark.parametrize("bad", ["../../etc", "nope", "20261101T120000-zzzzzzzz", ""])
def test_unknown_names_and_trash_ids_are_refused(service, bad):
    with pytest.raises(UnknownDocumentError):
        service.remove(ANNA, bad or "finns-inte.txt")
    with pytest.raises(UnknownDocumentError):
        service.restore(ANNA, bad)


def test_purge_empties_only_entries_older_than_trash_days(tmp_path, clock):
    write_small_corpus(tmp_path / "knowledge")
    settings = make_settings(tmp_path, admin={"trash_days": 30})
    service = AdminService(settings, clock=clock)
    old = service.remove(ANNA, "anhorigstod.txt")
    clock.now += timedelta(days=20)
    recent = service.remove(ANNA, "rutin-lex-sarah.md")
    clock.now += timedelta(days=11)

    assert service.purge_trash() == 1

    assert service.trash() == [recent]
    assert not (settings.paths.data / "trash" / old.id).exists()
    assert service.audit_log()[0].action == "purge-trash"

    keep = AdminService(make_settings(tmp_path, admin={"trash_days": 0}), clock=clock)
    clock.now += timedelta(days=3000)
    assert keep.purge_trash() == 0
    assert keep.trash() == [recent]


def test_metadata_is_written_to_the_sidecar_and_empty_clears_a_key(service, settings):
    info = service.set_metadata(
        ANNA,
        "anhorigstod.txt",
        title="Anhörigombud",
        date="2025-02-01",
        owner="Enhetschef",
        valid_from="2025-01-01",
        valid_to="2026-12-31",
    )
    assert (info.title, info.date, info.owner, info.valid_from, info.valid_to) == (
        "Anhörigombud",
        "2025-02-01",
        "Enhetschef",
        "2025-01-01",
        "2026-12-31",
    )

    info = service.set_metadata(ANNA, "anhorigstod.txt", owner="", valid_to="")

    assert (info.owner, info.valid_to, info.valid_from) == (None, None, "2025-01-01")
    sidecar = (settings.paths.knowledge / "anhorigstod.txt.meta.toml").read_text("utf-8")
    assert "ansvarig" not in sidecar and "galler_fran" in sidecar


def test_bad_metadata_is_refused_in_swedish(service):
    with pytest.raises(Exception) as caught:
        service.set_metadata(ANNA, "anhorigstod.txt", valid_from="2025-13-01")
    assert "ÅÅÅÅ-MM-DD" in caught.value.sv
    assert service.audit_log()[0].result.startswith("refused:")


def test_documents_join_the_folder_with_the_index(service, settings, encoder):
    from bot.search.indexer import build_index

    folder = settings.paths.knowledge
    (folder / "trasig.pdf").write_bytes(b"%PDF-1.4 not really")
    build_index(settings, encoder)
    service.add(ANNA, "ny.txt", FACT)
    (folder / "anhorigstod.txt").unlink()
    service.set_metadata(ANNA, "rutin-lex-sarah.md", owner="MAS")

    docs = {d.name: d for d in service.documents()}

    assert docs["anhorigstod.txt"].state is DocState.REMOVED
    assert docs["ny.txt"].state is DocState.WAITING and docs["ny.txt"].chunks is None
    assert docs["trasig.pdf"].state is DocState.SKIPPED and docs["trasig.pdf"].reason
    # a changed sidecar is a changed document: waiting until the next index
    assert docs["rutin-lex-sarah.md"].state is DocState.WAITING
    assert docs["rutin-lex-sarah.md"].owner == "MAS"

    build_index(settings, encoder)
    docs = {d.name: d for d in service.documents()}
    assert "anhorigstod.txt" not in docs
    assert docs["ny.txt"].state is DocState.INDEXED and docs["ny.txt"].chunks
    assert docs["rutin-lex-sarah.md"].title == "Rutin för lex Sarah"
    assert docs["rutin-lex-sarah.md"].size == (folder / "rutin-lex-sarah.md").stat().st_size

    plan = service.check()
    assert plan.empty is False or plan.unreadable  # the broken PDF stays unreadable
    assert [n for n, _ in plan.unreadable] == ["trasig.pdf"] and plan.unchanged == 2


def test_check_tells_an_unreadable_file_from_one_changed_since_by_content(
    service, settings, encoder
):
    from bot.search.indexer import build_index

    folder = settings.paths.knowledge
    (folder / "trasig.pdf").write_bytes(b"%PDF-1.4 not really")
    build_index(settings, encoder)
    assert [n for n, _ in service.check().unreadable] == ["trasig.pdf"]

    # Changed within the second the index was built in: a time to the second can't tell.
    (folder / "trasig.pdf").write_bytes(b"%PDF-1.4 still not, but other bytes")
    plan = service.check()

    assert plan.new == ("trasig.pdf",) and plan.unreadable == ()


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return request.getfixturevalue("pg_database")


def test_audit_log_keeps_every_action_redacted_on_both_stores(settings, audit_url):
    with AuditLog(audit_url) as audit:
        service = AdminService(settings, audit)
        service.add(Actor("telegram", "telegram:42"), "beslut 19850312-1234.txt", FACT)
        service.remove(Actor("cli", "cli:root"), "beslut 19850312-1234.txt")
        entries = service.audit_log(2)
        more = audit.entries(500)

    assert [(e.channel, e.actor, e.action) for e in entries] == [
        ("cli", "cli:root", "remove"),
        ("telegram", "telegram:42", "add"),
    ]
    assert all("19850312" not in e.target and REDACTED_PNR in e.target for e in entries)
    assert all(e.at.tzinfo is not None for e in entries)
    assert len(more) >= 2


def test_an_audit_store_that_is_down_never_stops_the_action(settings, caplog):
    dead = AuditLog("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    service = AdminService(settings, dead)

    with caplog.at_level(logging.ERROR, logger="bot.admin.audit"):
        added = service.add(ANNA, "hemlig-rutin.txt", FACT)

    assert (settings.paths.knowledge / added.name).read_bytes() == FACT
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.admin.audit"]
    assert lines and "audit log could not record" in lines[0]
    assert not any("hemlig" in line for line in lines)
    with pytest.raises(RutinbotError) as caught:
        service.audit_log()
    assert caught.value.sv.startswith("Händelseloggen kan inte läsas")


def test_a_second_reindex_is_told_who_started_the_first_and_how_far_it_is(service, settings):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = datetime(2026, 11, 29, 13, 2, tzinfo=UTC)
        status = dataclasses.replace(
            jobs.started("anna", sleeper.pid),
            started_at=started,
            passages_embedded=40,
            passages_total=120,
        )
        jobs.write_status(settings.paths.index, status)

        with pytest.raises(ReindexBusyError) as caught:
            service.reindex(Actor("telegram", "telegram:7"))

        local = started.astimezone().strftime("%H:%M")
        assert caught.value.sv == (
            f"En omindexering pågår redan, startad av anna kl {local}: 40 av 120 passager klara."
        )
        assert caught.value.status.state is JobState.RUNNING
        assert service.audit_log()[0].result.startswith("refused:")

        queued = service.reindex_after_change(ANNA)
        assert queued.follow_up and queued.state is JobState.RUNNING
        assert service.status().follow_up
    finally:
        sleeper.kill()
        sleeper.wait()

    gone = service.status()
    assert gone.state is JobState.FAILED and "avbröts" in (gone.error_sv or "")
    assert os.stat(settings.paths.index / jobs.PROGRESS_NAME).st_mode & 0o077 == 0


def test_a_run_finishing_takes_up_the_follow_up_queued_meanwhile(settings):
    root = settings.paths.index
    progress = jobs.Progress.claim(root, "anna")
    with jobs.start_lock(root):
        jobs.queue_follow_up(root, "bertil")

    assert progress.finish(ReindexSummary()) is True  # run again
    assert jobs.read_status(root).state is JobState.RUNNING
    assert progress.finish(ReindexSummary(passages=3)) is False
    done = jobs.read_status(root)
    assert done.state is JobState.DONE and done.summary.passages == 3 and not done.follow_up


def test_settings_not_read_from_a_file_reach_the_job_process_unchanged(tmp_path):
    from bot.config import load

    write_small_corpus(tmp_path / "knowledge")
    settings = make_settings(
        tmp_path,
        admin={"trash_days": 7},
        telegram={"admins": [42], "allowed_chats": [-100]},
        retrieval={"fusion": "rrf"},
        web={"trusted_proxies": ["127.0.0.1"], "secure_cookies": False},
    )

    path = launch.snapshot_settings(settings)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent == settings.paths.data
    assert dataclasses.replace(load(path), source=None) == settings
