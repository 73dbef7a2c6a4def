"""`rutinbot telegram`, `serve` and `calibrate`: the long-running front ends, and the
calibration of the confidence threshold on your own questions."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.root import _errors, _settings, cli, echo


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
