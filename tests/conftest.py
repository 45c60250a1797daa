"""Fixtures shared by every test package: ledgers on both backends.

SQLite runs everywhere. PostgreSQL runs against the server named by
``FAIRLEDGER_TEST_POSTGRES_URL`` (default: the local server that ``.ci/run`` installs and
starts), in a fresh database per test. Without a server the PostgreSQL cases are skipped on a
developer's machine, but with ``CI=true`` they fail: CI must never pass for lack of a server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.factory import Chain, new_chain

POSTGRES_URL = os.environ.get(
    "FAIRLEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres"
)
PARTIES = (
    ("farm-a", ("supplier",)),
    ("mill", ("supplier", "buyer")),
    ("auditor", ("auditor",)),
)


def _require_postgres() -> None:
    try:
        engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    _require_postgres()
    name = f"fl_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'database.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def chain(database_url: str) -> Iterator[Chain]:
    """A ledger on each backend with a farm (supplier), a mill (supplier and buyer) and an
    auditor registered."""
    c = new_chain(database_url, *PARTIES)
    yield c
    c.ledger.close()


@pytest.fixture
def sqlite_chain(tmp_path: Path) -> Iterator[Chain]:
    """The same parties on SQLite only: for tests that edit the database file directly."""
    c = new_chain(tmp_path / "ledger.db", *PARTIES)
    yield c
    c.ledger.close()
