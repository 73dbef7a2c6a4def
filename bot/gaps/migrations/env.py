"""Alembic environment for the gaps tables; run through bot.gaps.migrate, not the alembic CLI.

A new revision after changing bot/gaps/tables.py:
    python -c "from alembic import command; from bot.gaps.migrate import alembic_config as c; \
command.revision(c('sqlite:///scratch.db'), 'what changed', autogenerate=True)"
(upgrade scratch.db to head first), then read and edit the generated file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from bot.gaps.tables import TABLES

config = context.config
target_metadata = TABLES[0].metadata
OWN_TABLES = {t.name for t in TABLES}
# Any constant: serialises processes that open a PostgreSQL database for the first time at once.
PG_LOCK_ID = 0x72757469


def include_name(name, type_, parent_names) -> bool:
    # The database may hold other tables (another app, a future module): leave them alone.
    return type_ != "table" or name in OWN_TABLES


def run_migrations(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things
        transactional_ddl=True,  # SQLite and PostgreSQL both roll DDL back
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_LOCK_ID})
        context.run_migrations()


def run_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from bot.gaps.engine import create_db_engine

        url = config.get_main_option("sqlalchemy.url")
        if not url:  # the alembic CLI without bot.gaps.migrate.alembic_config
            raise SystemExit("no database URL: run migrations through bot.gaps.migrate")
        engine = create_db_engine(url)
        try:
            with engine.connect() as connection:
                run_migrations(connection)
        finally:
            engine.dispose()
    else:
        with engine.connect() as connection:
            run_migrations(connection)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; pass a database URL")
run_online()
