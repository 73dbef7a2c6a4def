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


def test_index_reasks_open_gaps_and_flags_what_new_documents_answer(config, small_corpus, encoder):
    from bot.answer.core import Answerer

    settings = load(config)
    routine = small_corpus / "rutin-lex-sarah.md"
    held_back = routine.read_text(encoding="utf-8")
    routine.unlink()  # the routine that answers the question is not written yet
    cli_run = CliRunner().invoke
    first = cli_run(cli, ["--config", str(config), "index"])
    assert first.exit_code == 0, first.output
    assert "Re-asked" not in first.output  # no gaps yet: nothing to re-ask

    question = "vem ska jag rapportera missförhållanden till"
    answer = Answerer(settings, encoder).answer(question)
    assert not answer.answered  # the precondition: today's documents don't answer it
    with SqlRecorder(settings.database_url, key_file=settings.paths.data / "k") as recorder:
        recorder.record_question("telegram", "1", question, answer)
    assert run(config).exit_code == 0  # groups it into theme 1

    routine.write_text(held_back, encoding="utf-8")
    second = cli_run(cli, ["--config", str(config), "index"])
    assert second.exit_code == 0, second.output
    assert (
        'Re-asked 1 open gap questions: 1 answered now; 1 themes newly flagged "besvaras nu"'
        in second.output
    )
    shown = run(config, "show", "1")
    assert '"besvaras nu"' in shown.output and "1 of 1 questions" in shown.output
    assert "(answered now)" in shown.output
    [row] = json.loads(run(config, "--format", "json").output)
    assert row["answered_now"] is True
    # Nearest: what it was cited with when asked; answered now: the routine written since.
    assert [p["document"] for p in row["nearest_passages"]] == ["anhorigstod.txt"]
    with SqlRecorder(settings.database_url, key_file=settings.paths.data / "k") as recorder:
        [gap] = recorder.gaps()
    assert gap.answered_now_citations[0]["document"] == "rutin-lex-sarah.md"


def test_status_merge_and_move_are_recorded_in_the_history(config):
    [lex, _] = ask(config, "hur rapporterar jag lex sarah", "färdtjänst ansökan")
    run(config)  # two themes: 1 and 2
    assert (
        run(config, "status", "1", "in_progress", "--note", "Utreds", "--by", "anna").exit_code == 0
    )
    moved = run(config, "move", lex, "2", "--by", "berit")
    assert moved.exit_code == 0, moved.output
    shown = run(config, "show", "2").output
    assert lex in shown and "berit  move" in shown
    merged = run(config, "merge", "2", "1", "--by", "cecilia")
    assert merged.exit_code == 0 and "2 questions moved" in merged.output
    history = run(config, "show", "1").output.split("History:")[1]
    assert "anna  status -> in_progress: Utreds" in history and "cecilia  merge #2" in history
    assert "no theme with id 2" in run(config, "show", "2").output
    bad = run(config, "status", "1", "done")
    assert bad.exit_code == 2 and "'done' is not one of" in bad.output
