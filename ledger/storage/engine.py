"""Database engines and migrations.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``, so a commit that
returned survives power loss, and write transactions start with ``BEGIN IMMEDIATE`` so that
appenders serialise on the database lock instead of failing on upgrade. PostgreSQL (psycopg 3)
serialises appenders with a transaction-scoped advisory lock (see ``store.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ledger.errors import LedgerNotInitializedError, StorageError, StorageUnavailableError

if TYPE_CHECKING:
    from alembic.config import Config

#: Connection execution option that marks a write transaction.
WRITE = "fairledger_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def default_home() -> Path:
    return Path(os.environ.get("FAIRLEDGER_HOME", Path.cwd() / ".fairledger"))


def default_database_url(home: Path | None = None) -> str:
    url = os.environ.get("FAIRLEDGER_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{(home or default_home()) / 'ledger.db'}"


def create_ledger_engine(url: str, *, create: bool = False, **kwargs: Any) -> Engine:
    """An engine configured for FairLedger's durability and locking rules.

    Only with ``create`` may a missing SQLite file (and its directory) be made; otherwise a
    missing file raises ``LedgerNotInitializedError``. Raises ``StorageError`` for a URL that
    names no supported database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"invalid database URL {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            elif not path.exists():
                raise LedgerNotInitializedError(f"no ledger at {url}: run `fairledger init` first")
        # Pooled connections stay open: closing the last connection to a WAL database
        # checkpoints the WAL, which would turn every commit into a full checkpoint.
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    raise StorageError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module: we issue BEGIN ourselves.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config() -> Config:
    """Alembic's configuration for the ledger's migrations. Alembic is imported here, not at
    module level: readers and auditors that never migrate do not pay for importing it."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "ledger.storage:migrations")
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (idempotent)."""
    from alembic import command

    config = alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StorageUnavailableError(
            f"cannot migrate the database: {getattr(exc, 'orig', None) or exc}"
        ) from exc


def is_migrated(engine: Engine) -> bool:
    try:
        return "records" in inspect(engine).get_table_names()
    except SQLAlchemyError as exc:
        raise StorageUnavailableError(
            f"cannot reach the database: {getattr(exc, 'orig', None) or exc}"
        ) from exc
