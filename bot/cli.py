"""Command line: `rutinbot index | ask | chat | docs | telegram | gaps | serve`."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from bot import __version__
from bot.admin.model import Actor, JobState, ReindexSummary
from bot.config import Settings, load
from bot.errors import QuestionError, RutinbotError
from bot.gaps.statuses import ACTIVE_STATUSES, THEME_STATUSES
from bot.safetext import clean_text, for_terminal

if TYPE_CHECKING:
    from bot.admin.jobs import Progress
    from bot.models import Answer
    from bot.search.encoders import Encoder

log = logging.getLogger("bot")

EXIT_UNEXPECTED = 70  # EX_SOFTWARE: an internal error, as opposed to bad input (2) or index (3)
EXIT_OS_ERROR = 74  # EX_IOERR: a file or folder the system refused (permissions, disk full)


def _errors(func: Callable) -> Callable:
    """Translate the domain errors once: a one-line English message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RutinbotError as err:
            _fail(err)

    return wrapper


def _fail(err: RutinbotError) -> NoReturn:
    echo(f"Error: {err}", err=True)
    sys.exit(err.exit_code)


class _Cli(click.Group):
    """The root command: whatever escapes a command ends as one line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RutinbotError as err:
            _fail(err)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise  # click's own: usage errors, --help, Ctrl-C at a prompt, exit codes
        except KeyboardInterrupt:
            echo("Interrupted.", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # The reader went away (`rutinbot docs | head`): nothing to say, and nowhere to.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except OSError as err:  # the machine said no: a path, a permission, a full disk
            log.debug("operating-system error", exc_info=True)
            path = f": {err.filename}" if err.filename else ""
            echo(f"Error: {err.strerror or type(err).__name__}{path}{_origin(err)}", err=True)
            sys.exit(EXIT_OS_ERROR)
        except Exception as err:  # a bug, or a failure nobody translated yet
            # Only the kind and the place, never the message: it may quote a question.
            log.debug("unexpected error", exc_info=True)
            where = _origin(err)
            echo(
                f"Error: unexpected {type(err).__name__}{where}; this is a bug. "
                "Rerun with -v for the details (the log at debug level has the traceback).",
                err=True,
            )
            sys.exit(EXIT_UNEXPECTED)


def _origin(err: BaseException) -> str:
    """' in bot/x.py:12': the innermost frame of our own code the error passed through."""
    tb, where = err.__traceback__, ""
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if "bot" in path.parts:
            parts = path.parts[path.parts.index("bot") :]
            where = f" in {'/'.join(parts)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def echo(text: str = "", err: bool = False) -> None:
    """Print to the terminal: nothing stored or typed can send it control sequences."""
    click.echo(for_terminal(text), err=err)


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


@click.group(cls=_Cli)
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
    settings: Settings,
    full: bool,
    encoder: Encoder | None = None,
    *,
    reask: bool = True,
    actor: Actor | None = None,
) -> None:
    """Build the index, writing its progress to <index>/reindex.json for every front end to
    read; runs again when a change was queued meanwhile; the run goes to the audit log."""
    from bot.admin.audit import AuditLog
    from bot.admin.jobs import Progress, combine

    actor = actor or Actor("cli", f"cli:{_login_name() or 'okänd'}")
    progress = Progress.claim(settings.paths.index, actor.name)
    result = "failed"
    earlier: ReindexSummary | None = None  # the runs before a follow-up: one summary for all
    try:
        while True:
            try:
                encoder = encoder or _load_encoder(settings)  # once, also for a follow-up run
                summary = _index_once(settings, full, encoder, reask, progress)
                summary = combine(earlier, summary)
                earlier = summary
            except RutinbotError as err:
                if progress.fail(str(err), err.sv):
                    progress.again()
                    continue
                result = f"failed: {err}"
                raise
            if progress.finish(summary):
                progress.again()
                continue
            result = (
                f"ok: {len(summary.added)} added, {len(summary.replaced)} replaced, "
                f"{len(summary.removed)} removed, {len(summary.skipped)} skipped"
            )
            return
    except BaseException as err:
        if progress.status.state is JobState.RUNNING:  # not a domain error: a bug, a signal
            progress.fail(f"unexpected {type(err).__name__}", RutinbotError.default_sv)
            result = f"failed: unexpected {type(err).__name__}"
        raise
    finally:
        with AuditLog.from_settings(settings) as audit:
            audit.record(actor, "reindex", "", result)


def _load_encoder(settings: Settings) -> Encoder:
    from bot.search.encoders import load_encoder

    return load_encoder(settings.encoder)


def _index_once(
    settings: Settings, full: bool, encoder: Encoder, reask: bool, progress: Progress
) -> ReindexSummary:
    from bot.search.indexer import build_index

    report = build_index(settings, encoder, full=full, progress=progress)
    for path, reason in report.skipped:
        echo(f"skipped {path}: {reason}", err=True)
    for path in report.removed_documents:
        echo(f"removed {path}", err=True)
    echo(
        f"Indexed {report.documents} documents ({report.unchanged_documents} unchanged), "
        f"{report.chunks} chunks: {report.embedded} embedded, {report.reused} reused, "
        f"{report.duplicates} marked as repeats; {len(report.skipped)} skipped; "
        f"{report.seconds:.1f}s."
    )
    answered = None
    if reask:
        progress("re-asking", 0, 1)
        answered = _reask(settings, encoder)
    return ReindexSummary(
        added=tuple(report.added),
        replaced=tuple(report.replaced),
        removed=tuple(report.removed_documents),
        skipped=tuple(report.skipped),
        unchanged=report.unchanged_documents,
        passages=report.chunks,
        seconds=round(report.seconds, 1),
        answered_now=answered,
    )


def _reask(settings: Settings, encoder: Encoder) -> int | None:
    """Ask the open gap questions again; a database that fails must not fail the index."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.answer.core import Answerer
    from bot.gaps.reask import reask_gaps
    from bot.gaps.store import create_recorder

    try:
        with create_recorder(settings) as recorder:
            if not recorder.gaps(limit=1):
                return 0
            result = reask_gaps(recorder, Answerer(settings, encoder))
    except (RutinbotError, SQLAlchemyError) as err:
        echo(f"Warning: open gap questions were not re-asked: {err}", err=True)
        return None
    echo(
        f"Re-asked {result.asked} open gap questions: {result.answered} answered now; "
        f'{result.themes_flagged} themes newly flagged "besvaras nu" '
        "(`rutinbot gaps` lists them)."
    )
    return result.answered


@cli.command("index")
@click.option("--full", is_flag=True, help="Re-read and re-embed everything.")
@click.option(
    "--no-reask", is_flag=True, help="Don't re-ask open gap questions against the new index."
)
@click.option(
    "--check", is_flag=True, help="Only list what would change (new, changed, removed, unreadable)."
)
@click.option("--by", default=None, hidden=True, help="Who started it (the admin service).")
@click.option(
    "--channel", type=click.Choice(["cli", "web", "telegram"]), default="cli", hidden=True
)
@click.pass_context
@_errors
def index_cmd(
    ctx: click.Context, full: bool, no_reask: bool, check: bool, by: str | None, channel: str
) -> None:
    """Index the knowledge folder (only new or changed text is embedded).

    Then every open gap question is asked again, and themes the new documents now answer are
    flagged "besvaras nu" for a reviewer to confirm. Progress is written to reindex.json in
    the index folder, where the web page and Telegram read it. --check writes nothing.
    """
    settings = _settings(ctx)
    if check:
        _check(settings)
        return
    actor = Actor(channel, by) if by else None
    _index(settings, full, reask=not no_reask, actor=actor)


def _check(settings: Settings) -> None:
    from bot.search.indexer import plan_changes

    plan = plan_changes(settings)
    for name in plan.new:
        echo(f"new        {name}")
    for name in plan.changed:
        echo(f"changed    {name}")
    for name in plan.removed:
        echo(f"removed    {name}")
    for name, reason in plan.unreadable:
        echo(f"unreadable {name}: {reason}")
    echo(
        f"{len(plan.new)} new, {len(plan.changed)} changed, {len(plan.removed)} removed, "
        f"{len(plan.unreadable)} unreadable, {plan.unchanged} unchanged"
        + ("; nothing to do." if plan.empty else "; `rutinbot index` applies it.")
    )


@cli.command("ask")
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.option("-n", "--citations", type=click.IntRange(1, 50), default=None)
@click.option(
    "--record", is_flag=True, help="Record the questions (redacted) in the gaps database."
)
@click.pass_context
@_errors
def ask_cmd(
    ctx: click.Context, question: str | None, as_json: bool, citations: int | None, record: bool
):
    """Answer QUESTION, or with no argument one question per line from standard input.

    Questions are redacted and answered as every front end does. A batch gives exactly one
    answer per input line, in order: a line that cannot be asked (empty, too long, not text)
    gets an error in its place and the batch goes on.
    """
    from bot.adapters.text import render

    with _ask_service(_settings(ctx), record) as asking:

        def answer_of(text: str):
            asked = asking.ask(
                text, channel="cli", asker=_login_name(), record=record, limit=citations
            )
            return asked.answer

        if question is not None:  # one question: a bad one is an error of the command (exit 2)
            answer = answer_of(question)
            _write(_json_line(answer.to_json()) if as_json else render(answer, color=_color()))
            return
        _ask_batch(answer_of, as_json)


@contextmanager
def _ask_service(settings: Settings, record: bool, encoder: Encoder | None = None):
    """The ask service for the terminal; with `record`, writing to the gaps database and
    grouping new gaps into themes, flushed before the command ends."""
    from bot.answer.core import Answerer
    from bot.asking import AskService

    answerer = Answerer(settings, encoder)
    if not record:
        yield AskService(answerer)
        return
    from bot.gaps.grouping import ThemeJob
    from bot.gaps.outbox import Outbox
    from bot.gaps.store import create_recorder

    with create_recorder(settings) as recorder:
        outbox = Outbox(recorder)
        themes = ThemeJob(recorder, answerer.encoder)
        try:
            yield AskService(answerer, outbox, themes=themes)
        finally:
            outbox.close()
            themes.close()


def _ask_batch(answer_of: Callable[[str], Answer], as_json: bool) -> None:
    from bot.adapters.text import render

    for line in _stdin_lines():
        try:
            answer = answer_of(line)
        except QuestionError as err:
            _write(_failed(line, err, as_json))
            continue
        except RutinbotError:
            raise  # the index or the encoder: no later line can be answered either
        except Exception as err:  # a bug this line set off: the rest of the batch goes on
            log.debug("unexpected error on a batch line", exc_info=True)
            bug = QuestionError(f"unexpected {type(err).__name__}; rerun with -v for details")
            _write(_failed(line, bug, as_json))
            continue
        _write(_json_line(answer.to_json()) if as_json else render(answer, color=_color()) + "\n")


def _failed(line: str, err: QuestionError, as_json: bool) -> str:
    if not as_json:
        return f"Fel: {err.sv}\n\n"
    # Same keys as an answer, so a script reading the stream needs no special case.
    return _json_line({"question": line, "answered": False, "citations": [], "error": str(err)})


def _stdin_lines() -> Iterator[str]:
    """Standard input as lines of text, whatever the locale: bytes decoded as UTF-8, with
    undecodable bytes replaced, so one bad line never ends the batch."""
    for raw in sys.stdin.buffer:
        yield clean_text(raw.rstrip(b"\r\n").decode("utf-8", errors="replace"))


# Characters a JSON encoder may leave raw that a terminal or a line splitter treats as special:
# C1 controls, the Unicode line separators and bidi overrides (C0 controls are always escaped).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _json_line(data: dict) -> str:
    text = json.dumps(data, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def _write(text: str) -> None:
    """UTF-8 bytes to standard output under any locale, flushed so a pipe sees each answer."""
    sys.stdout.buffer.write(text.encode("utf-8", errors="replace"))
    sys.stdout.buffer.flush()


def _color() -> bool:
    return sys.stdout.isatty()


@cli.command("chat")
@click.option(
    "--no-record", "no_record", is_flag=True, help="Do not record questions in the gaps database."
)
@click.pass_context
@_errors
def chat_cmd(ctx: click.Context, no_record: bool) -> None:
    """Chat in the terminal (builds the index first if there is none).

    Questions are recorded, redacted and under a keyed hash of your login name, so the ones
    the documents don't answer become gaps; --no-record turns that off.
    """
    from bot.adapters.chat import run_chat
    from bot.search import store
    from bot.search.encoders import load_encoder

    settings = _settings(ctx)
    encoder = load_encoder(settings.encoder)  # once, for indexing and answering
    if store.current_dir(settings.paths.index) is None:
        echo("No index yet: building it first (a few minutes on two cores).", err=True)
        _index(settings, full=False, encoder=encoder, reask=False)
    interactive = sys.stdin.isatty()
    with _ask_service(settings, not no_record, encoder) as asking:
        run_chat(
            asking,
            read=_terminal_reader if interactive else _line_reader(),
            color=sys.stdout.isatty(),
            asker=_login_name(),
            record=not no_record,
        )


def _line_reader() -> Callable[[str], str]:
    """Questions from a pipe: UTF-8 whatever the locale, undecodable bytes replaced."""

    def read(prompt: str) -> str:
        line = sys.stdin.buffer.readline()
        if not line:
            raise EOFError
        return line.decode("utf-8", errors="replace")

    return read


def _terminal_reader(prompt: str) -> str:
    """A line typed at the terminal; bytes the terminal's encoding can't decode are dropped
    instead of ending the chat."""
    try:
        return input(prompt)
    except UnicodeDecodeError:
        return "\ufffd"


@cli.command("docs")
@click.pass_context
@_errors
def docs_cmd(ctx: click.Context) -> None:
    """List indexed documents with chunk counts and dates."""
    from bot.search import store

    settings = _settings(ctx)
    _, manifest = store.open_current(settings.paths.index)
    echo(f"Index built {manifest.built_at} with {manifest.encoder}")
    from bot.answer.calibration import in_use

    used = in_use(settings.paths.index, manifest.encoder, settings.answer.min_confidence)
    echo(f"Calibration: {used.description}")
    width = max((len(d.path) for d in manifest.documents), default=8)
    echo(f"{'document':<{width}}  {'date':<10}  chunks  title")
    for d in manifest.documents:
        echo(f"{d.path:<{width}}  {d.date or '-':<10}  {d.chunks:>6}  {d.title}")
    for s in manifest.skipped:
        echo(f"skipped {s['path']}: {s['reason']}")


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
        rows = summaries(recorder, None if show_all else ACTIVE_STATUSES)
    echo(render(rows, fmt))


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
    echo(f"#{theme.id} [{theme.status}] {theme.name}")
    if theme.answered_now:
        now = sum(g.answered_now for g in gaps)
        when = f" (flagged {theme.answered_now_at:%Y-%m-%d %H:%M})" if theme.answered_now_at else ""
        echo(
            f'"besvaras nu"{when}: the current index answers {now} of {len(gaps)} questions; '
            "check the answers and resolve the theme."
        )
    if theme.note:
        by = f" ({theme.changed_by})" if theme.changed_by else ""
        echo(f"Note{by}: {theme.note}")
    echo("Questions:")
    for g in gaps:
        mark = "  (answered now)" if g.answered_now else ""
        echo(f"  {g.record_id}  {g.time:%Y-%m-%d %H:%M}  {g.reason:<10}  {g.question}{mark}")
        if g.reason == "unanswered":  # numbered for `rutinbot gaps answered ID N`
            for n, c in enumerate(g.citations, start=1):
                marked = "  <- answered it (marked)" if g.marked_passage == n else ""
                where = " > ".join(str(x) for x in (c.get("document"), c.get("section")) if x)
                echo(f"      {n}. {where} (score {float(c.get('score', 0)):.2f}){marked}")
    passages = nearest_passages(gaps)
    if passages:
        echo("Nearest passages:")
        for p in passages:
            echo(f"  {p.label()}  (score {p.score:.2f}, {p.count} questions)")
    if history:
        echo("History:")
        for e in history:
            what = (
                e.kind
                + (f" -> {e.status}" if e.status else "")
                + (f" {e.detail}" if e.detail else "")
            )
            note = f": {e.note}" if e.note else ""
            echo(f"  {e.at:%Y-%m-%d %H:%M}  {e.by or '-'}  {what}{note}")


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
    echo(f"Theme {theme.id} resolved ({theme.questions} questions).")


@gaps_cmd.command("status")
@click.argument("theme_id", type=int)
@click.argument("status", type=click.Choice(THEME_STATUSES))
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
    echo(f"Theme {theme.id} is now {theme.status}.")


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
    echo(f"Merged theme {theme_id} into {into} ({moved} questions moved).")


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
    echo(f"Moved question {question_id} to theme {theme_id}.")


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
    echo(f"Deleted question {question_id}.")


@gaps_cmd.command("answered")
@click.argument("question_id")
@click.argument("passage", type=click.IntRange(1, None), required=False)
@click.option("--undo", is_flag=True, help="Take the mark off again.")
@click.option("--by", default=_login_name, show_default="your login name", help="Who marked it.")
@click.pass_context
@_errors
def gaps_answered_cmd(
    ctx: click.Context, question_id: str, passage: int | None, undo: bool, by: str
) -> None:
    """Mark a refused question as answered by its nearest passage PASSAGE (as numbered by
    `rutinbot gaps show`); --undo takes the mark off."""
    from bot.gaps.outcomes import passage_text
    from bot.gaps.store import GapsError, create_recorder

    settings = _settings(ctx)
    with create_recorder(settings) as recorder:
        if undo:
            if not recorder.unmark_answered(question_id):
                raise GapsError(f"question {question_id} was not marked")
            echo(f"Question {question_id} is no longer marked answered.")
            return
        if passage is None:
            raise click.UsageError("give the passage number, or --undo")
        question = recorder.question(question_id)
        cited = (
            question.citations[passage - 1]
            if question is not None and len(question.citations) >= passage
            else {}
        )
        chunk = cited.get("chunk_id")
        quote = (
            passage_text(settings.paths.index, question.index_id, chunk)
            if question is not None and isinstance(chunk, int)
            else None
        )
        citation = recorder.mark_answered(question_id, passage, by=by, quote=quote)
    where = " > ".join(str(x) for x in (citation.get("document"), citation.get("section")) if x)
    echo(f"Question {question_id} marked answered by passage {passage}: {where}.")
    if quote is None:
        echo("Its text is no longer in the index: the question is left out of export-labelled.")


@gaps_cmd.command("outcomes")
@click.pass_context
@_errors
def gaps_outcomes_cmd(ctx: click.Context) -> None:
    """Outcomes by confidence band, and the threshold reviewers' labels imply."""
    from bot.gaps.outcomes import outcomes, report_lines
    from bot.gaps.store import create_recorder

    settings = _settings(ctx)
    with create_recorder(settings) as recorder:
        report = outcomes(recorder.labelled(), settings.answer.min_confidence)
    for line in report_lines(report):
        echo(line)


@gaps_cmd.command("export-labelled")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.pass_context
@_errors
def gaps_export_labelled_cmd(ctx: click.Context, file: Path) -> None:
    """Write the labelled questions to FILE in the dev.jsonl format, for `rutinbot calibrate`."""
    from bot.filemodes import private_file
    from bot.gaps.outcomes import labelled_lines
    from bot.gaps.store import create_recorder

    settings = _settings(ctx)
    with create_recorder(settings) as recorder:
        export = labelled_lines(recorder.labelled(), settings.paths.index)
    # Redacted, but still what staff asked: 0600, like the database it comes from.
    private_file(file).write_text("".join(line + "\n" for line in export.lines), encoding="utf-8")
    echo(
        f"Wrote {len(export.lines)} labelled questions to {file} ({export.answerable} answerable, "
        f"{export.unanswerable} not)."
        + (
            f" Left out {export.skipped} whose passage is no longer in the index."
            if export.skipped
            else ""
        )
    )


@gaps_cmd.command("purge")
@click.pass_context
@_errors
def gaps_purge_cmd(ctx: click.Context) -> None:
    """Delete questions older than [database] retention_days."""
    from bot.gaps.store import KEY_NAME, SqlRecorder

    settings = _settings(ctx)
    days = settings.database.retention_days
    if not days:
        echo("[database] retention_days is 0: questions are kept; nothing purged.")
        return
    # Not create_recorder: it purges on open, and then this could only ever report 0.
    with SqlRecorder(settings.database_url, key_file=settings.paths.data / KEY_NAME) as recorder:
        purged = recorder.purge(days)
    echo(f"Purged {purged} questions older than {days} days.")


@cli.command("serve")
@click.option("--add-user", "add_user", metavar="NAME", help="Add an account (or set a password).")
@click.option(
    "--role",
    type=click.Choice(["staff", "reviewer", "admin"]),
    default=None,
    help="With --add-user: staff (chat only), reviewer (chat and gaps) or admin. "
    "Default: reviewer, or the account's current role.",
)
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default: [web] port.")
@click.pass_context
@_errors
def serve_cmd(
    ctx: click.Context, add_user: str | None, role: str | None, host: str | None, port: int | None
):
    """Serve the staff chat and the reviewer web page for knowledge gaps (see docs/web.md)."""
    settings = _settings(ctx)
    if role is not None and add_user is None:
        raise click.UsageError("--role goes with --add-user NAME")
    if add_user is not None:
        from bot.adapters.web.auth import save_user

        path = settings.web.users_path(settings.paths)
        password = click.prompt(
            f"Password for {add_user}", hide_input=True, confirmation_prompt=True
        )
        save_user(path, add_user, password, role)
        from bot.adapters.web.auth import load_roles

        echo(f"Saved {load_roles(path)[add_user]} {add_user!r} in {path}.")
        return
    from bot.adapters.web.app import run

    run(settings, host=host, port=port)


@cli.command("calibrate")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--write", is_flag=True, help="Save the threshold (and a refit) for this index.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True)
@click.pass_context
@_errors
def calibrate_cmd(ctx: click.Context, questions: Path, write: bool, folds: int) -> None:
    """Check the calibration on your own labelled QUESTIONS (one JSON object a line: question,
    answerable, quote), by k-fold cross-validation. --write sets the threshold (from 30
    questions) and refits the model (from 150) in a file beside the index folders; the
    shipped calibration is never changed."""
    from bot.answer import calibration
    from bot.answer.core import Answerer

    settings = _settings(ctx)
    labelled = calibration.read_questions(questions)
    answerer = Answerer(settings)
    echo(f"Calibration in use: {answerer.calibration_description}")
    report = calibration.evaluate(answerer, labelled, folds)
    for line in calibration.report_lines(report):
        echo(line)
    if write:
        deployment = calibration.deployment_from(report, answerer.encoder.name)
        path = calibration.save_deployment(settings.paths.index, deployment)
        echo(f"Wrote {path}: {deployment.describe()}")


def _register_admin() -> None:
    from bot.admin.cli import admin_group

    cli.add_command(admin_group)


_register_admin()


def main() -> None:
    cli(prog_name="rutinbot")
