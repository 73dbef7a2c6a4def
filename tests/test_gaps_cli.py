"""`rutinbot gaps`, driven through click's CliRunner against a SQLite file in tmp_path."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_gaps_store import UNANSWERED, backdate

from bot.cli import cli
from bot.config import load
from bot.gaps.store import SqlRecorder


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f"[paths]\nknowledge = '{tmp_path / 'knowledge'}'\nindex = '{tmp_path / 'embeddings'}'\n"
        f"data = '{tmp_path / 'data'}'\n\n[encoder]\nnum_threads = 2\n\n"
        f"[database]\nurl = 'sqlite:///{tmp_path / 'gaps.db'}'\nretention_days = 30\n",
        encoding="utf-8",
    )
    return path


def ask(config: Path, *questions: str) -> list[str]:
    settings = load(config)
    with SqlRecorder(settings.database_url, key_file=settings.paths.data / "k") as recorder:
        return [recorder.record_question("web", "1", q, UNANSWERED) for q in questions]


def run(config: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config), "gaps", *args])


def test_gaps_groups_questions_and_lists_themes_as_json(config):
    ask(config, "hur rapporterar jag lex sarah", "vem ska lex sarah rapport skickas till")
    ask(config, "färdtjänst ansökan")
    result = run(config, "--format", "json")
    assert result.exit_code == 0, result.output
    themes = json.loads(result.output)
    assert sorted(t["count"] for t in themes) == [1, 2]
    assert all(t["first_seen"] and t["last_seen"] and t["examples"] for t in themes)
    assert json.loads(run(config, "--format", "json").output) == themes  # stable on rerun


def test_gaps_table_and_markdown_and_csv(config):
    ask(config, '=HYPERLINK("http://evil.example","x")')
    table = run(config)
    assert table.exit_code == 0 and "#1 [open] 1 questions" in table.output
    assert run(config, "--format", "markdown").output.startswith("| id |")
    [row] = csv.DictReader(io.StringIO(run(config, "--format", "csv").output))
    assert row["examples"].startswith("'=HYPERLINK")


def test_gaps_with_no_questions_does_not_need_the_model(config):
    result = run(config)
    assert result.exit_code == 0 and result.output.strip() == "No themes."


def test_show_and_resolve_a_theme(config):
    [qid] = ask(config, "färdtjänst ansökan")
    run(config)
    shown = run(config, "show", "1")
    assert shown.exit_code == 0 and qid in shown.output and "färdtjänst ansökan" in shown.output
    resolved = run(config, "resolve", "1", "--note", "Rutin skriven", "--by", "anna")
    assert resolved.exit_code == 0 and "Theme 1 resolved" in resolved.output
    assert "Note (anna): Rutin skriven" in run(config, "show", "1").output
    assert run(config).output.strip() == "No themes."  # resolved themes are hidden by default
    assert "#1 [resolved]" in run(config, "--all").output


def test_delete_question_and_purge(config):
    gone, old, _ = ask(config, "glöm mig", "gammal fråga", "ny fråga")
    result = run(config, "delete-question", gone)
    assert result.exit_code == 0 and f"Deleted question {gone}" in result.output
    backdate(load(config).database_url, old, days=40)
    purged = run(config, "purge")
    assert purged.exit_code == 0 and "Purged 1 questions older than 30 days" in purged.output
    assert "ny fråga" in run(config).output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "99"), "Error: no theme with id 99"),
        (("resolve", "99", "--note", "x"), "Error: no theme with id 99"),
        (("delete-question", "nope"), "Error: no question with id nope"),
    ],
)
def test_errors_are_one_line_with_exit_code_1(config, args, message):
    result = run(config, *args)
    assert result.exit_code == 1
    assert result.output.strip().startswith(message) and len(result.output.splitlines()) == 1
