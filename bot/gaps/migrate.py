"""Schema migrations with Alembic, run from code: a deployed database is upgraded on open."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# alembic.context is one module-level proxy: two threads migrating at once would share it.
_ALEMBIC_LOCK = threading.Lock()


def alembic_config(target: str | Engine) -> Config:
    """An Alembic config built in code: no alembic.ini, scripts inside this package.

    `target` is a URL, or an engine whose connection is reused (so an in-memory SQLite database
    and the store's own connection settings are migrated, not a second database).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if isinstance(target, Engine):
        config.attributes["engine"] = target
        url = target.url.render_as_string(hide_password=False)
    else:
        url = target
    # ConfigParser treats % as interpolation; a URL-encoded password may contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(target: str | Engine, revision: str = "head") -> None:
    """Migrate the database at `target` (a URL or an engine) to `revision`; safe to repeat."""
    with _ALEMBIC_LOCK:
        before = current(target)
        command.upgrade(alembic_config(target), revision)
        after = current(target)
    if after != before:  # Alembic's own chatter is silenced by the CLI; this is what matters
        log.info("gaps database upgraded from revision %s to %s", before or "(empty)", after)


def current(target: str | Engine) -> str | None:
    """The database's current revision, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    engine = target if isinstance(target, Engine) else _engine(target)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if engine is not target:
            engine.dispose()


def head() -> str | None:
    """The newest revision the package ships (None only for a package without migrations)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _engine(url: str) -> Engine:
    from bot.gaps.engine import create_db_engine

    return create_db_engine(url)
