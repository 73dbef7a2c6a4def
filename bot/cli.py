"""Command line: `rutinbot index | ask | chat | docs | telegram | gaps | serve`."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot import __version__
from bot.config import Settings, load
from bot.errors import RutinbotError

if TYPE_CHECKING:
    from bot.search.encoders import Encoder

log = logging.getLogger("bot")


def _errors(func: Callable) -> Callable:
    """Translate the domain errors once: a one-line English message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RutinbotError as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(err.exit_code)

    return wrapper


def _login_name() -> str:
    """Who changes a theme from the CLI, unless --by names someone else."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return ""


def _settings(ctx: click.Context) -> Settings:
    if ctx.obj is None:
        ctx.obj = load(ctx.find_root().params.get("config_path"))
    return ctx.obj


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="RUTINBOT_CONFIG",
    help="config.toml to use (default: ./config.toml, else built-in defaults).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more (never questions or tokens).")
@click.version_option(__version__, prog_name="rutinbot")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """rutinbot: cited answers from the municipality's own routines and decisions."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore", "bm25s", "faiss", "sentence_transformers", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # httpx logs URLs with the bot token


def _index(
    settings: Settings, full: bool, encoder: Encoder | None = None, *, reask: bool = True
) -> None:
    from bot.search.encoders import load_encoder
    from bot.search.indexer import build_index

    encoder = encoder or load_encoder(settings.encoder)
    report = build_index(settings, encoder, full=full)
    for path, reason in report.skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    for path in report.removed_documents:
        click.echo(f"removed {path}", err=True)
    click.echo(
        f"Indexed {report.documents} documents ({report.unchanged_documents} unchanged), "
        f"{report.chunks} chunks: {report.embedded} embedded, {report.reused} reused, "
        f"{report.duplicates} marked as repeats; {len(report.skipped)} skipped; "
        f"{report.seconds:.1f}s."
    )
    if reask:
        _reask(settings, encoder)


def _reask(settings: Settings, encoder: Encoder) -> None:
    """Ask the open gap questions again; a database that fails must not fail the index."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.answer.core import Answerer
    from bot.gaps.reask import reask_gaps
    from bot.gaps.store import create_recorder

    try:
        with create_recorder(settings) as recorder:
            if not recorder.gaps(limit=1):
                return
            result = reask_gaps(recorder, Answerer(settings, encoder))
    except (RutinbotError, SQLAlchemyError) as err:
        click.echo(f"Warning: open gap questions were not re-asked: {err}", err=True)
        return
    click.echo(
        f"Re-asked {result.asked} open gap questions: {result.answered} answered now; "
        f'{result.themes_flagged} themes newly flagged "besvaras nu" '
        "(`rutinbot gaps` lists them)."
    )


@cli.command("index")
@click.option("--full", is_flag=True, help="Re-read and re-embed everything.")
@click.option(
    "--no-reask", is_flag=True, help="Don't re-ask open gap questions against the new index."
)
@click.pass_context
@_errors
def index_cmd(ctx: click.Context, full: bool, no_reask: bool) -> None:
    """Index the knowledge folder (only new or changed text is embedded).

    Then every open gap question is asked again, and themes the new documents now answer are
    flagged "besvaras nu" for a reviewer to confirm.
    """
    _index(_settings(ctx), full, reask=not no_reask)


@cli.command("ask")
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.option("-n", "--citations", type=click.IntRange(1, 50), default=None)
@click.pass_context
@_errors
def ask_cmd(ctx: click.Context, question: str | None, as_json: bool, citations: int | None):
    """Answer QUESTION, or with no argument one question per line from standard input."""
    from bot.adapters.text import render
    from bot.answer.core import Answerer

    answerer = Answerer(_settings(ctx))
    questions = [question] if question is not None else (ln.rstrip("\n") for ln in sys.stdin)
    for q in questions:
        if question is None and not q.strip():
            continue
        try:
            answer = answerer.answer(q, limit=citations)
        except RutinbotError as err:
            if not as_json:
                raise
            # Same keys as an answer, so a script reading the stream needs no special case.
            failed = {"question": q, "answered": False, "citations": [], "error": str(err)}
            click.echo(json.dumps(failed, ensure_ascii=False))
            continue
        if as_json:
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            click.echo(render(answer, color=sys.stdout.isatty()))


@cli.command("chat")
@click.pass_context
@_errors
def chat_cmd(ctx: click.Context) -> None:
    """Chat in the terminal (builds the index first if there is none)."""
    from bot.adapters.chat import run_chat
    from bot.answer.core import Answerer
    from bot.search import store
    from bot.search.encoders import load_encoder

    settings = _settings(ctx)
    encoder = load_encoder(settings.encoder)  # once, for indexing and answering
    if store.current_dir(settings.paths.index) is None:
        click.echo("No index yet: building it first (a few minutes on two cores).", err=True)
        _index(settings, full=False, encoder=encoder, reask=False)
    answerer = Answerer(settings, encoder)
    interactive = sys.stdin.isatty()
    run_chat(
        answerer,
        read=input if interactive else _line_reader(),
        color=sys.stdout.isatty(),
    )


def _line_reader() -> Callable[[str], str]:
    def read(prompt: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line

    return read


@cli.command("docs")
@click.pass_context
@_errors
def docs_cmd(ctx: click.Context) -> None:
    """List indexed documents with chunk counts and dates."""
    from bot.search import store

    settings = _settings(ctx)
    _, manifest = store.open_current(settings.paths.index)
    click.echo(f"Index built {manifest.built_at} with {manifest.encoder}")
    width = max((len(d.path) for d in manifest.documents), default=8)
    click.echo(f"{'document':<{width}}  {'date':<10}  chunks  title")
    for d in manifest.documents:
        click.echo(f"{d.path:<{width}}  {d.date or '-':<10}  {d.chunks:>6}  {d.title}")
    for s in manifest.skipped:
        click.echo(f"skipped {s['path']}: {s['reason']}")


@cli.command("telegram")
@click.pass_context
@_errors
def telegram_cmd(ctx: click.Context) -> None:
    """Run the Telegram bot (token from TELEGRAM_BOT_TOKEN; see docs/telegram.md)."""
    from bot.adapters.tgbot.app import read_token, run
    from bot.answer.core import Answerer
    from bot.gaps.store import create_recorder

    settings = _settings(ctx)
    token = read_token()  # before loading the model, so a missing token fails at once
    with create_recorder(settings) as recorder:  # questions, feedback and gaps: SQL store
        run(settings, Answerer(settings), recorder, token)


@cli.group("gaps", invoke_without_command=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "markdown"]),
    default="table",
    show_default=True,
)
@click.option("--all", "show_all", is_flag=True, help="Include resolved and won't-fix themes.")
@click.pass_context
@_errors
def gaps_cmd(ctx: click.Context, fmt: str, show_all: bool) -> None:
    """List themes of unanswered or unhelpful questions (grouping new ones first)."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.gaps.report import render, summaries
    from bot.gaps.store import create_recorder
    from bot.gaps.themes import assign_themes

    settings = _settings(ctx)
    with create_recorder(settings) as recorder:
        if recorder.gaps(unthemed=True, limit=1):  # load the model only when there is work
            from bot.search.encoders import load_encoder

            assign_themes(recorder, load_encoder(settings.encoder))
        rows = summaries(recorder, None if show_all else ("open", "in_progress"))
    click.echo(render(rows, fmt))


@gaps_cmd.command("show")
@click.argument("theme_id", type=int)
@click.pass_context
@_errors
def gaps_show_cmd(ctx: click.Context, theme_id: int) -> None:
    """Show one theme: its questions, nearest passages and history."""
    from bot.gaps.report import nearest_passages
    from bot.gaps.store import GapsError, create_recorder

    with create_recorder(_settings(ctx)) as recorder:
        theme = recorder.theme(theme_id)
        if theme is None:
            raise GapsError(f"no theme with id {theme_id}; `rutinbot gaps` lists them")
        gaps = recorder.gaps(theme_id=theme_id)
        history = recorder.theme_events(theme_id)
    click.echo(f"#{theme.id} [{theme.status}] {theme.name}")
    if theme.answered_now:
        now = sum(g.answered_now for g in gaps)
        when = f" (flagged {theme.answered_now_at:%Y-%m-%d %H:%M})" if theme.answered_now_at else ""
        click.echo(
            f'"besvaras nu"{when}: the current index answers {now} of {len(gaps)} questions; '
            "check the answers and resolve the theme."
        )
    if theme.note:
        by = f" ({theme.changed_by})" if theme.changed_by else ""
        click.echo(f"Note{by}: {theme.note}")
    click.echo("Questions:")
    for g in gaps:
        mark = "  (answered now)" if g.answered_now else ""
        click.echo(f"  {g.record_id}  {g.time:%Y-%m-%d %H:%M}  {g.reason:<10}  {g.question}{mark}")
    passages = nearest_passages(gaps)
    if passages:
        click.echo("Nearest passages:")
        for p in passages:
            click.echo(f"  {p.label()}  (score {p.score:.2f}, {p.count} questions)")
    if history:
        click.echo("History:")
        for e in history:
            what = (
                e.kind
                + (f" -> {e.status}" if e.status else "")
                + (f" {e.detail}" if e.detail else "")
            )
            note = f": {e.note}" if e.note else ""
            click.echo(f"  {e.at:%Y-%m-%d %H:%M}  {e.by or '-'}  {what}{note}")


@gaps_cmd.command("resolve")
@click.argument("theme_id", type=int)
@click.option("--note", required=True, help="What was done, e.g. which routine now answers it.")
@click.option("--by", default=_login_name, show_default="your login name", help="Who resolved it.")
@click.pass_context
@_errors
def gaps_resolve_cmd(ctx: click.Context, theme_id: int, note: str, by: str) -> None:
    """Mark a theme resolved, with a note."""
    from bot.gaps.store import create_recorder

    with create_recorder(_settings(ctx)) as recorder:
        theme = recorder.set_theme_status(theme_id, "resolved", note=note, by=by)
    click.echo(f"Theme {theme.id} resolved ({theme.questions} questions).")


@gaps_cmd.command("status")
@click.argument("theme_id", type=int)
@click.argument("status", type=click.Choice(["open", "in_progress", "resolved", "wont_fix"]))
@click.option("--note", default=None, help="Replaces the theme's note.")
@click.option(
    "--by", default=_login_name, show_default="your login name", help="Who made the change."
)
@click.pass_context
@_errors
def gaps_status_cmd(
    ctx: click.Context, theme_id: int, status: str, note: str | None, by: str
) -> None:
    """Set a theme's status: open, in_progress, resolved or wont_fix."""
    from bot.gaps.store import create_recorder

    with create_recorder(_settings(ctx)) as recorder:
        theme = recorder.set_theme_status(theme_id, status, note=note, by=by)
    click.echo(f"Theme {theme.id} is now {theme.status}.")


@gaps_cmd.command("merge")
@click.argument("theme_id", type=int)
@click.argument("into", type=int)
@click.option("--by", default=_login_name, show_default="your login name", help="Who merged them.")
@click.pass_context
@_errors
def gaps_merge_cmd(ctx: click.Context, theme_id: int, into: int, by: str) -> None:
    """Merge theme THEME_ID into theme INTO (which keeps its id, status and note)."""
    from bot.gaps.store import create_recorder
    from bot.gaps.themes import merge_themes
    from bot.search.encoders import load_encoder

    settings = _settings(ctx)
    with create_recorder(settings) as recorder:
        moved = merge_themes(recorder, theme_id, into, load_encoder(settings.encoder), by=by)
    click.echo(f"Merged theme {theme_id} into {into} ({moved} questions moved).")


@gaps_cmd.command("move")
@click.argument("question_id")
@click.argument("theme_id", type=int)
@click.option("--by", default=_login_name, show_default="your login name", help="Who moved it.")
@click.pass_context
@_errors
def gaps_move_cmd(ctx: click.Context, question_id: str, theme_id: int, by: str) -> None:
    """Move one question into another theme."""
    from bot.gaps.store import create_recorder
    from bot.gaps.themes import move_question
    from bot.search.encoders import load_encoder

    settings = _settings(ctx)
    with create_recorder(settings) as recorder:
        move_question(recorder, question_id, theme_id, load_encoder(settings.encoder), by=by)
    click.echo(f"Moved question {question_id} to theme {theme_id}.")


@gaps_cmd.command("delete-question")
@click.argument("question_id")
@click.pass_context
@_errors
def gaps_delete_question_cmd(ctx: click.Context, question_id: str) -> None:
    """Delete one recorded question and its feedback."""
    from bot.gaps.store import GapsError, create_recorder

    with create_recorder(_settings(ctx)) as recorder:
        if not recorder.delete_question(question_id):
            raise GapsError(f"no question with id {question_id}; `rutinbot gaps show` lists them")
    click.echo(f"Deleted question {question_id}.")


@gaps_cmd.command("purge")
@click.pass_context
@_errors
def gaps_purge_cmd(ctx: click.Context) -> None:
    """Delete questions older than [database] retention_days."""
    from bot.gaps.store import KEY_NAME, SqlRecorder

    settings = _settings(ctx)
    days = settings.database.retention_days
    if not days:
        click.echo("[database] retention_days is 0: questions are kept; nothing purged.")
        return
    # Not create_recorder: it purges on open, and then this could only ever report 0.
    with SqlRecorder(settings.database_url, key_file=settings.paths.data / KEY_NAME) as recorder:
        purged = recorder.purge(days)
    click.echo(f"Purged {purged} questions older than {days} days.")


@cli.command("serve")
@click.option("--add-user", "add_user", metavar="NAME", help="Add a reviewer (or set a password).")
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default: [web] port.")
@click.pass_context
@_errors
def serve_cmd(ctx: click.Context, add_user: str | None, host: str | None, port: int | None):
    """Serve the reviewer web page for knowledge gaps (see docs/web.md)."""
    settings = _settings(ctx)
    if add_user is not None:
        from bot.adapters.web.auth import save_user

        path = settings.web.users_path(settings.paths)
        password = click.prompt(
            f"Password for {add_user}", hide_input=True, confirmation_prompt=True
        )
        save_user(path, add_user, password)
        click.echo(f"Saved reviewer {add_user!r} in {path}.")
        return
    from bot.adapters.web.app import run

    run(settings, host=host, port=port)


def main() -> None:
    cli(prog_name="rutinbot")
