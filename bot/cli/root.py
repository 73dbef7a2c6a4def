"""The root command `rutinbot`: its options, the error translation every command shares
(one line, an exit code), and the registration of the command modules."""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from bot import __version__
from bot.config import Settings, load
from bot.errors import RutinbotError
from bot.safetext import for_terminal

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


# The modules whose commands register on `cli` when imported; they import this module, so
# this one imports them only in register_commands(), never at its top.
_COMMAND_MODULES = ("index", "asking", "gaps", "serving")


def register_commands() -> None:
    """Add every command to `cli`: `import bot.cli` calls it, so `from bot.cli import cli`
    is the whole command line."""
    for name in _COMMAND_MODULES:
        importlib.import_module(f"bot.cli.{name}")
    _register_admin()


def _register_admin() -> None:
    from bot.admin.cli import admin_group

    cli.add_command(admin_group)


def main() -> None:
    register_commands()  # done already by `import bot.cli`; again is a no-op
    cli(prog_name="rutinbot")
