"""`rutinbot index` (and --check): build the index, then re-ask the open gap questions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.admin.model import Actor, JobState, ReindexSummary
from bot.cli.root import _errors, _login_name, _settings, cli, echo
from bot.config import Settings
from bot.errors import RutinbotError

if TYPE_CHECKING:
    from bot.admin.jobs import Progress
    from bot.search.encoders import Encoder


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
    from bot.search.planning import plan_changes

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
