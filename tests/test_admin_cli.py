"""`rutinbot index --check`, progress and audit of `rutinbot index`, and `rutinbot admin`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_small_corpus
from test_cli import run, write_config

from bot.admin import jobs, launch
from bot.admin.audit import AuditLog
from bot.admin.model import JobState
from bot.config import load

FACT = "Nyckelrutin\n\nNyckelskåpet öppnas med kod 4711 av nattpersonalen.\n"


@pytest.fixture
def config(tmp_path) -> Path:
    """A config.toml beside the small corpus, with no index built yet."""
    knowledge = write_small_corpus(tmp_path / "corpus" / "knowledge")
    return write_config(knowledge.parent, knowledge, knowledge.parent / "embeddings")


def _tree(folder: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry under `folder`: its mode and its bytes (or a link's target)."""
    if not folder.exists():
        return {}
    out: dict[str, tuple[int, bytes | str]] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            info = path.lstat()
            if path.is_symlink():
                content: bytes | str = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                content = path.read_bytes()
            else:
                content = ""
            out[path.relative_to(folder).as_posix()] = (info.st_mode, content)
    return out


def test_index_check_lists_the_changes_and_writes_nothing(config):
    settings = load(config)
    assert run(config, "index", "--no-reask").exit_code == 0
    knowledge, index = settings.paths.knowledge, settings.paths.index
    (knowledge / "ny.txt").write_text(FACT, encoding="utf-8")
    (knowledge / "anhorigstod.txt").unlink()
    with (knowledge / "rutin-lex-sarah.md").open("a", encoding="utf-8") as fh:
        fh.write("\nEn rad till.\n")
    (knowledge / "bild.png").write_bytes(b"\x89PNG")
    before = (_tree(knowledge), _tree(index), _tree(settings.paths.data))

    result = run(config, "index", "--check")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "new        ny.txt" in lines
    assert "changed    rutin-lex-sarah.md" in lines
    assert "removed    anhorigstod.txt" in lines
    assert any(line.startswith("unreadable bild.png: unsupported file type") for line in lines)
    assert lines[-1].startswith("1 new, 1 changed, 1 removed, 1 unreadable, 0 unchanged")
    assert (_tree(knowledge), _tree(index), _tree(settings.paths.data)) == before


def test_index_check_without_an_index_lists_everything_as_new_and_creates_nothing(
    config,
):
    settings = load(config)

    result = run(config, "index", "--check")

    assert result.exit_code == 0, result.output
    assert "new        anhorigstod.txt" in result.stdout
    assert "new        rutin-lex-sarah.md" in result.stdout
    assert not settings.paths.index.exists() and not settings.paths.data.exists()


def test_index_writes_its_progress_and_summary_and_audits_the_run(config):
    settings = load(config)

    result = run(config, "index", "--no-reask")

    assert result.exit_code == 0, result.output
    path = settings.paths.index / jobs.PROGRESS_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["state"] == "done" and saved["pid"] == os.getpid()  # CliRunner: in-process
    status = jobs.read_status(settings.paths.index)
    assert status.summary is not None
    assert status.summary.added == ("anhorigstod.txt", "rutin-lex-sarah.md")
    assert status.summary.passages > 0 and status.summary.answered_now is None
    assert status.documents_read == status.documents_total == 2
    assert status.passages_embedded == status.passages_total > 0
    assert status.started_by and status.started_by.startswith("cli:")
    with AuditLog.from_settings(settings) as audit:
        entry = audit.entries(1)[0]
    assert (entry.channel, entry.action) == ("cli", "reindex")
    assert entry.result.startswith("ok: 2 added, 0 replaced, 0 removed")


def test_index_refuses_while_another_runs_and_leaves_its_progress_alone(config):
    settings = load(config)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        jobs.write_status(settings.paths.index, jobs.started("web-anna", sleeper.pid))
        before = (settings.paths.index / jobs.PROGRESS_NAME).read_bytes()

        result = run(config, "index")

        assert result.exit_code == 2
        assert result.stderr.startswith("Error: a reindex is already running, started by web-anna")
        assert (settings.paths.index / jobs.PROGRESS_NAME).read_bytes() == before
        assert not (settings.paths.index / "current").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_follow_up_queued_before_the_end_makes_the_job_run_again(config):
    settings = load(config)
    settings.paths.index.mkdir(parents=True)
    jobs.queue_follow_up(settings.paths.index, "anna")

    result = run(config, "index", "--no-reask")

    assert result.exit_code == 0, result.output
    assert result.stdout.count("Indexed 2 documents") == 2
    assert "Indexed 2 documents (2 unchanged)" in result.stdout
    assert not (settings.paths.index / jobs.FOLLOW_UP_NAME).exists()
    assert jobs.read_status(settings.paths.index).state is JobState.DONE


def test_admin_commands_add_remove_restore_meta_and_log(config, tmp_path):
    settings = load(config)
    upload = tmp_path / "nyckelrutin.txt"
    upload.write_text(FACT, encoding="utf-8")

    added = run(config, "admin", "add", str(upload))
    again = run(config, "admin", "add", str(upload), "--name", "kopia.txt")
    meta = run(
        config,
        "admin",
        "meta",
        "nyckelrutin.txt",
        "--owner",
        "MAS",
        "--valid-to",
        "2027-01-31",
    )
    bad = run(config, "admin", "meta", "nyckelrutin.txt", "--valid-to", "31/1")
    removed = run(config, "admin", "remove", "nyckelrutin.txt")
    trash_id = removed.stdout.split(" as ")[1].split(" ")[0]
    listed = run(config, "admin", "trash")
    restored = run(config, "admin", "restore", trash_id)
    docs = run(config, "admin", "docs")
    log = run(config, "admin", "log")

    assert added.exit_code == 0 and "Added nyckelrutin.txt" in added.stdout
    assert again.exit_code == 2
    assert again.stderr.strip() == (
        "Error: the same content is already in the knowledge folder as nyckelrutin.txt"
    )
    assert meta.exit_code == 0 and "owner MAS" in meta.stdout and "2027-01-31" in meta.stdout
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: ")
    assert len(bad.stderr.splitlines()) == 1
    assert removed.exit_code == 0
    assert trash_id in listed.stdout and "nyckelrutin.txt" in listed.stdout
    assert restored.exit_code == 0
    assert (settings.paths.knowledge / "nyckelrutin.txt").read_text(encoding="utf-8") == FACT
    assert "nyckelrutin.txt.meta.toml" in os.listdir(settings.paths.knowledge)
    assert "waiting" in next(x for x in docs.stdout.splitlines() if "nyckelrutin" in x)
    actions = [line.split()[4] for line in log.stdout.splitlines()]
    assert actions[:6] == ["restore", "remove", "metadata", "metadata", "add", "add"]


def test_admin_reindex_waits_for_the_job_process_and_reports_it(config):
    result = run(config, "admin", "reindex", "--wait")

    assert result.exit_code == 0, result.output
    assert "Reindex started (process" in result.stdout
    assert "is done: 2 added, 0 replaced, 0 removed" in result.stdout
    status = run(config, "admin", "status")
    assert "The last reindex by cli:" in status.stdout
    settings = load(config)
    log = (settings.paths.data / launch.LOG_NAME).read_text(encoding="utf-8")
    assert "Indexed 2 documents" in log


@pytest.mark.parametrize("args", [["admin", "restore", "nope"], ["admin", "remove", "x.txt"]])
def test_admin_errors_are_one_line_with_exit_code_2(config, args):
    result = run(config, *args)

    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: ")
