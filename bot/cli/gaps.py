"""`rutinbot gaps`: the themes of unanswered questions, and what reviewers do with them."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.root import _errors, _login_name, _settings, cli, echo
from bot.gaps.statuses import ACTIVE_STATUSES, THEME_STATUSES


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
    from bot.gaps.records import GapsError
    from bot.gaps.report import nearest_passages
    from bot.gaps.store import create_recorder

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
    from bot.gaps.records import GapsError
    from bot.gaps.store import create_recorder

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
    from bot.gaps.records import GapsError
    from bot.gaps.store import create_recorder

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
