"""`rutinbot admin`: the admin service from a shell (add, remove, restore, trash, meta, log,
reindex, status). Errors go through the root command's translation (one line, exit code)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from bot.admin.model import Actor, JobState, ReindexStatus

WAIT_POLL_SECONDS = 0.5


def _root():
    from bot.cli import root  # the root module registers this group: imported late

    return root


def _actor() -> Actor:
    return Actor("cli", f"cli:{_root()._login_name() or 'okänd'}")


def _service(ctx: click.Context):
    from bot.admin.documents import AdminService

    return AdminService(_root()._settings(ctx))


def _echo(text: str = "", err: bool = False) -> None:
    _root().echo(text, err=err)


@click.group("admin", invoke_without_command=True)
@click.pass_context
def admin_group(ctx: click.Context) -> None:
    """Manage the documents: add, replace, remove, restore, metadata, reindex, audit log.

    Every action is written to the audit log as done by cli:<your login name>; it changes the
    knowledge folder only: run `rutinbot admin reindex` (or `rutinbot index`) after it.
    """
    _root()._settings(ctx)  # a bad config stops every admin command before anything else
    if ctx.invoked_subcommand is None:
        _echo(ctx.get_help())


@admin_group.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace a document of the same name.")
@click.option("--name", default=None, help="Save it under this name (default: FILE's name).")
@click.pass_context
def add_cmd(ctx: click.Context, file: Path, replace: bool, name: str | None) -> None:
    """Copy FILE into the knowledge folder (checked as an upload is)."""
    with file.open("rb") as stream:
        added = _service(ctx).add(_actor(), name or file.name, stream, replace=replace)
    verb = "Replaced" if added.replaced else "Added"
    _echo(f"{verb} {added.name} ({added.size} bytes); run `rutinbot admin reindex` to index it.")


@admin_group.command("remove")
@click.argument("name")
@click.pass_context
def remove_cmd(ctx: click.Context, name: str) -> None:
    """Move document NAME (as `rutinbot admin docs` lists it) to the trash."""
    entry = _service(ctx).remove(_actor(), name)
    _echo(f"Moved {entry.name} to the trash as {entry.id} (`rutinbot admin restore {entry.id}`).")


@admin_group.command("restore")
@click.argument("trash_id")
@click.pass_context
def restore_cmd(ctx: click.Context, trash_id: str) -> None:
    """Put trash entry TRASH_ID back in the knowledge folder."""
    name = _service(ctx).restore(_actor(), trash_id)
    _echo(f"Restored {name}; run `rutinbot admin reindex` to index it again.")


@admin_group.command("trash")
@click.pass_context
def trash_cmd(ctx: click.Context) -> None:
    """List the trash, newest first."""
    service = _service(ctx)
    entries = service.trash()
    days = service.settings.admin.trash_days
    _echo(f"{len(entries)} in the trash" + (f" (emptied after {days} days)." if days else "."))
    for e in entries:
        _echo(f"{e.id}  {e.removed_at:%Y-%m-%d %H:%M}  {e.removed_by}  {e.name}")


@admin_group.command("docs")
@click.pass_context
def docs_cmd(ctx: click.Context) -> None:
    """List the documents with their state: indexed, waiting, skipped or removed."""
    docs = _service(ctx).documents()
    width = max((len(d.name) for d in docs), default=8)
    _echo(f"{'document':<{width}}  {'state':<8}  {'date':<10}  chunks  title")
    for d in docs:
        chunks = "-" if d.chunks is None else str(d.chunks)
        reason = f"  ({d.reason})" if d.reason else ""
        _echo(
            f"{d.name:<{width}}  {d.state.value:<8}  {d.date or '-':<10}  {chunks:>6}  "
            f"{d.title}{reason}"
        )


@admin_group.command("meta")
@click.argument("name")
@click.option("--title", default=None)
@click.option("--date", default=None, help="YYYY, YYYY-MM or YYYY-MM-DD.")
@click.option("--owner", default=None, help='Who answers for it ("ansvarig").')
@click.option("--valid-from", default=None, help='YYYY-MM-DD ("gäller från").')
@click.option("--valid-to", default=None, help='YYYY-MM-DD ("gäller till").')
@click.pass_context
def meta_cmd(
    ctx: click.Context,
    name: str,
    title: str | None,
    date: str | None,
    owner: str | None,
    valid_from: str | None,
    valid_to: str | None,
) -> None:
    """Set document NAME's metadata; an option given as "" clears that key."""
    if all(v is None for v in (title, date, owner, valid_from, valid_to)):
        raise click.UsageError(
            "give at least one of --title --date --owner --valid-from --valid-to"
        )
    d = _service(ctx).set_metadata(
        _actor(),
        name,
        title=title,
        date=date,
        owner=owner,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    valid = f"{d.valid_from or '…'} – {d.valid_to or '…'}"
    _echo(f"{d.name}: {d.title} ({d.date or 'no date'}), owner {d.owner or '-'}, valid {valid}.")


@admin_group.command("log")
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.pass_context
def log_cmd(ctx: click.Context, limit: int) -> None:
    """The audit log, newest first."""
    entries = _service(ctx).audit_log(limit)
    if not entries:
        _echo("No admin actions recorded yet.")
    for e in entries:
        when = f"{e.at:%Y-%m-%d %H:%M:%S}"
        _echo(f"{when}  {e.channel:<8}  {e.actor}  {e.action}  {e.target}  {e.result}")


def describe(status: ReindexStatus) -> str:
    """One line on a run, in English."""
    who = f" by {status.started_by}" if status.started_by else ""
    if status.state is JobState.IDLE:
        return "No reindex has run here yet."
    if status.state is JobState.RUNNING:
        eta = f", about {status.eta_seconds:.0f}s left" if status.eta_seconds is not None else ""
        return (
            f"Reindexing{who}: {status.phase or 'starting'}, documents {status.documents_read}/"
            f"{status.documents_total}, passages {status.passages_embedded}/"
            f"{status.passages_total}{eta}."
            + (" Another run is queued." if status.follow_up else "")
        )
    if status.state is JobState.FAILED:
        return f"The last reindex{who} failed: {status.error}"
    s = status.summary
    if s is None:
        return f"The last reindex{who} is done."
    skipped = "".join(f"\n  skipped {p}: {r}" for p, r in s.skipped)
    answered = "" if s.answered_now is None else f"; {s.answered_now} gap questions answered now"
    return (
        f"The last reindex{who} is done: {len(s.added)} added, {len(s.replaced)} replaced, "
        f"{len(s.removed)} removed, {len(s.skipped)} skipped, {s.unchanged} unchanged; "
        f"{s.passages} passages in {s.seconds:.1f}s{answered}.{skipped}"
    )


@admin_group.command("status")
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """How the current or last reindex is doing (started here, on the web or in Telegram)."""
    _echo(describe(_service(ctx).status()))


@admin_group.command("reindex")
@click.option("--wait", is_flag=True, help="Follow its progress until it ends.")
@click.pass_context
def reindex_cmd(ctx: click.Context, wait: bool) -> None:
    """Start a reindex in the background (as the web page and Telegram do)."""
    service = _service(ctx)
    status = service.reindex(_actor())
    _echo(f"Reindex started (process {status.pid}); `rutinbot admin status` follows it.")
    if not wait:
        return
    shown = ""
    while status.state is JobState.RUNNING:
        time.sleep(WAIT_POLL_SECONDS)
        status = service.status()
        line = describe(status)
        if status.state is JobState.RUNNING and line != shown:
            _echo(line, err=True)
            shown = line
    _echo(describe(status))
    if status.state is JobState.FAILED:
        ctx.exit(1)
