"""`rutinbot ask`, `chat` and `docs`: questions from the terminal, and the indexed documents."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from bot.cli.index import _index
from bot.cli.root import _errors, _login_name, _settings, cli, echo, log
from bot.config import Settings
from bot.errors import QuestionError, RutinbotError
from bot.safetext import clean_text

if TYPE_CHECKING:
    from bot.models import Answer
    from bot.search.encoders import Encoder


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
    """List indexed documents with chunk counts, dates and validity."""
    from bot.clock import swedish_today
    from bot.search import store

    settings = _settings(ctx)
    _, manifest = store.open_current(settings.paths.index)
    echo(f"Index built {manifest.built_at} with {manifest.encoder}")
    from bot.answer.calibration import in_use

    used = in_use(settings.paths.index, manifest.encoder, settings.answer.min_confidence)
    echo(f"Calibration: {used.description}")
    width = max((len(d.path) for d in manifest.documents), default=8)
    today = swedish_today().isoformat()
    valid = [_validity(d.valid_from, d.valid_to, today) for d in manifest.documents]
    span = max([5, *map(len, valid)])
    echo(f"{'document':<{width}}  {'date':<10}  chunks  {'valid':<{span}}  title")
    for d, v in zip(manifest.documents, valid, strict=True):
        echo(f"{d.path:<{width}}  {d.date or '-':<10}  {d.chunks:>6}  {v:<{span}}  {d.title}")
    for s in manifest.skipped:
        echo(f"skipped {s['path']}: {s['reason']}")


def _validity(valid_from: str | None, valid_to: str | None, today: str) -> str:
    """ "2025-01-01..2025-12-31 (expired)": the sidecar's galler_fran/galler_till, and whether
    the document is cited today (ISO dates compare as strings); "-" when neither is given."""
    if not valid_from and not valid_to:
        return "-"
    span = f"{valid_from or ''}..{valid_to or ''}"
    if valid_to and valid_to < today:
        return f"{span} (expired)"
    if valid_from and valid_from > today:
        return f"{span} (not yet valid)"
    return span
