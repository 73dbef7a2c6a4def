"""`rutinbot telegram` as operators run it: token from the environment, one-line errors."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_bot_api import TOKEN, FakeBotAPI
from telegram_harness import wait_answer

from bot.adapters.tgbot.app import read_webhook_secret
from bot.cli import cli
from bot.config import parse
from bot.errors import ConfigError

USER = 7001
QUESTION = "Vem ska jag rapportera lex Sarah till?"


def write_config(path: Path, settings, api: FakeBotAPI) -> Path:
    path.write_text(
        f'[paths]\nknowledge = "{settings.paths.knowledge}"\nindex = "{settings.paths.index}"\n'
        f'data = "{path.parent / "data"}"\n'
        "[encoder]\nnum_threads = 2\n"
        f'[telegram]\nstaff = [{USER}]\nbase_url = "{api.base_url}"\n'
        f'base_file_url = "{api.base_file_url}"\n',
        encoding="utf-8",
    )
    return path


def rutinbot(*args: str, token: str | None, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    command = [sys.executable, "-m", "bot", *args]
    return subprocess.Popen(command, env=env, text=True, stderr=subprocess.PIPE, **kwargs)


def test_missing_token_is_a_one_line_error(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[telegram]\nstaff = [1]\n", encoding="utf-8")
    args = ["--config", str(config), "telegram"]
    result = CliRunner().invoke(cli, args, env={"TELEGRAM_BOT_TOKEN": ""})
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token "
        "(see docs/telegram.md)"
    ]


def test_rejected_token_is_a_one_line_error(answerer, sample_settings, tmp_path):
    with FakeBotAPI() as api:
        config = write_config(tmp_path / "config.toml", sample_settings, api)
        process = rutinbot("--config", str(config), "telegram", token="123:not-the-right-one")
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    errors = [line for line in stderr.splitlines() if "Error" in line or "Traceback" in line]
    assert errors == [
        "Error: Telegram rejected the bot token in TELEGRAM_BOT_TOKEN: check it with @BotFather"
    ]
    assert "not-the-right-one" not in stderr


def test_cli_bot_answers_and_its_verbose_logs_hold_neither_token_nor_question(
    answerer, sample_settings, tmp_path
):
    with FakeBotAPI() as api:
        config = write_config(tmp_path / "config.toml", sample_settings, api)
        process = rutinbot("-v", "--config", str(config), "telegram", token=TOKEN)
        try:
            while not api.polls:  # started, unless it failed
                assert process.poll() is None, process.communicate()[1]
                time.sleep(0.05)
            api.send(USER, QUESTION)
            parts = wait_answer(api, USER)
            assert parts[0].result["text"].startswith(("Det här säger", "Jag hittar"))
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "running as @rutinbot_test_bot (polling)" in stderr
    assert "answered=" in stderr  # it did log the update, by id
    assert TOKEN not in stderr and TOKEN.split(":")[1] not in stderr
    assert "lex Sarah" not in stderr and "rapportera" not in stderr
    assert "Traceback" not in stderr
    with sqlite3.connect(tmp_path / "data" / "rutinbot.db") as db:  # the bot's SQL store
        (asked,) = db.execute(
            "SELECT count(*) FROM questions WHERE channel = 'telegram'"
        ).fetchone()
    assert asked == 1


def test_webhook_mode_needs_a_url(tmp_path):
    with pytest.raises(ConfigError, match="webhook_url"):
        parse({"telegram": {"mode": "webhook"}}, tmp_path)


def test_webhook_secret_from_environment(monkeypatch):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "abc_DEF-123")
    assert read_webhook_secret() == "abc_DEF-123"
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "not allowed!")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        read_webhook_secret()
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET")
    first, second = read_webhook_secret(), read_webhook_secret()
    assert first != second and len(first) >= 32  # random, registered anew at each start
