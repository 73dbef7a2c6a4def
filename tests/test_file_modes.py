"""Private files: the data folder, the SQLite database with -wal/-shm, keys and accounts."""

from __future__ import annotations

import logging
import os
import stat
import sys

import pytest
from click.testing import CliRunner
from conftest import make_settings

from bot.adapters.web.auth import load_users, save_user
from bot.cli import cli
from bot.errors import ConfigError
from bot.gaps.store import KEY_NAME, SqlRecorder, create_db_engine, create_recorder
from bot.models import Answer

UNANSWERED = Answer("x", False, 0.1, (), "idx")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def _usual_umask():
    """The common 022 umask, under which files would otherwise be readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv("RUTINBOT_HASH_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)


def test_new_data_folder_database_wal_shm_and_key_are_owner_only(tmp_path):
    data = tmp_path / "data"
    db = data / "rutinbot.db"
    with SqlRecorder(f"sqlite:///{db}", key_file=data / KEY_NAME) as recorder:
        recorder.record_question("cli", "anna", "Hur gör jag en orosanmälan?", UNANSWERED)
        theme = recorder.add_theme("Orosanmälan")
        recorder.set_theme_status(theme, "in_progress", by="anna")
        wal, shm = db.with_name("rutinbot.db-wal"), db.with_name("rutinbot.db-shm")
        assert wal.exists() and shm.exists()  # written to, while the engine is open
        assert mode(data) == 0o700
        for path in (db, wal, shm, data / KEY_NAME):
            assert mode(path) == 0o600, path


def test_too_open_files_are_tightened_on_open_with_a_log_line(tmp_path, caplog):
    data = tmp_path / "data"
    db = data / "rutinbot.db"
    with SqlRecorder(f"sqlite:///{db}", key_file=data / KEY_NAME) as recorder:
        recorder.record_question("cli", "anna", "En fråga", UNANSWERED)
    # As an earlier version (or a careless copy) left them: readable by everyone.
    os.chmod(data, 0o755)
    for path in (db, data / KEY_NAME, db.with_name("rutinbot.db-wal")):
        if not path.exists():
            path.write_bytes(b"")
        os.chmod(path, 0o644)
    caplog.set_level(logging.WARNING)
    settings = make_settings(tmp_path, paths={"data": "data"}, database={"retention_days": 0})
    with create_recorder(settings) as recorder:
        recorder.record_question("telegram", "7", "Ännu en fråga", UNANSWERED)
        assert mode(data) == 0o700
        for path in (db, db.with_name("rutinbot.db-wal"), data / KEY_NAME):
            assert mode(path) == 0o600, path
    assert caplog.text.count("tightened to owner only") >= 4
    assert "fråga" not in caplog.text


def test_reviewer_accounts_file_and_its_folder_are_private(tmp_path, caplog):
    path = tmp_path / "konton" / "reviewers.toml"
    save_user(path, "anna", "ett långt lösenord")
    assert mode(path.parent) == 0o700 and mode(path) == 0o600
    os.chmod(path, 0o664)
    caplog.set_level(logging.WARNING)
    assert set(load_users(path)) == {"anna"}
    assert mode(path) == 0o600 and "reviewers.toml" in caplog.text


def test_a_database_given_in_an_existing_shared_folder_leaves_the_folder_alone(tmp_path):
    """Only a folder rutinbot creates is made private: a configured path's parent may be shared."""
    os.chmod(tmp_path, 0o755)
    engine = create_db_engine(f"sqlite:///{tmp_path / 'egen.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    engine.dispose()
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "egen.db") == 0o600


def test_postgres_without_its_driver_names_the_install_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on an install without the extra
    with pytest.raises(ConfigError, match=r"pip install 'rutinbot\[postgres\]'"):
        create_db_engine("postgresql+psycopg://rutinbot@127.0.0.1/test")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://rutinbot@127.0.0.1/test")
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "gaps"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "rutinbot[postgres]" in lines[0], result.output
    assert "Traceback" not in result.output
