"""Database engines for the gaps store: SQLite set up so several processes write safely.

A SQLite file gets a busy timeout, WAL, foreign keys and write transactions that take their
lock up front; a server URL (PostgreSQL) gets a pre-pinged pool and a plain error when its
driver is not installed. The store, the migrations and the audit log all open engines here.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from bot.errors import ConfigError
from bot.filemodes import private_folder, private_sqlite

BUSY_TIMEOUT_MS = 5000  # how long a SQLite writer waits for another process's transaction


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets settings that let several processes write safely."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _server_engine(parsed)
    memory = parsed.database in (None, "", ":memory:")
    if parsed.database and not memory:
        database = Path(parsed.database).expanduser()
        if not database.parent.is_dir():
            private_folder(database.parent)
        private_sqlite(database)  # 0600 before SQLite opens it: -wal and -shm take its mode
    engine = sa.create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        poolclass=StaticPool if memory else None,  # one connection, or each sees an empty db
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _server_engine(parsed) -> Engine:
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except ModuleNotFoundError as err:  # the driver is an install extra, not a core dependency
        raise ConfigError(
            f"[database] url needs the {err.name} driver: install it with "
            "`pip install 'rutinbot[postgres]'` and use a postgresql+psycopg:// URL"
        ) from None


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Take transactions out of the sqlite3 module's hands, so _sqlite_begin decides how they start.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")  # readers don't block the writer, nor it them
    cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, and much faster
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # A deferred transaction that reads and then writes can't wait for another writer: SQLite
    # fails it with "database is locked" at once, whatever busy_timeout says. Taking the write
    # lock up front makes it wait its turn instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
