"""A database that stops accepting connections: the API answers 503 with a problem document
and loses nothing; when the database is back, every acknowledged statement is there and the
ledger verifies. Caused for real on PostgreSQL (connections refused and cut mid-run)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.routes.deps import get_now
from ledger.receipt import Receipt
from ledger.verify import verify_database
from tests.conftest import PARTIES, POSTGRES_URL
from tests.factory import Chain, new_chain

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


JSON = {"Content-Type": "application/json"}


@pytest.fixture
def pg_chain(postgres_url: str) -> Iterator[Chain]:
    c = new_chain(postgres_url, *PARTIES)
    yield c
    c.ledger.close()


def _allow_connections(url: str, allowed: bool) -> None:
    name = make_url(url).database
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
    admin.dispose()


def test_database_unavailable_is_503_and_loses_nothing(pg_chain: Chain, tmp_path: Path) -> None:
    app = create_app(ApiSettings(home=tmp_path), ledger=pg_chain.ledger)
    app.dependency_overrides[get_now] = lambda: pg_chain.clock
    acknowledged: list[Receipt] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for sub in pg_chain.sale("mill", 3):
            response = client.post(
                "/v1/statements", content=json.dumps(sub.to_json()), headers=JSON
            )
            assert response.status_code == 201
            acknowledged.append(Receipt.from_json(response.json()))

        _allow_connections(pg_chain.url, False)
        try:
            refused = pg_chain.sale("mill", 2)
            for sub in refused:
                response = client.post(
                    "/v1/statements", content=json.dumps(sub.to_json()), headers=JSON
                )
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/problem+json")
                problem = response.json()
                assert problem["type"].endswith("/storage-unavailable")
                assert "Traceback" not in response.text
                assert response.headers.get("retry-after")
            assert client.get("/v1/ledger").status_code == 503
        finally:
            _allow_connections(pg_chain.url, True)

        # Back again: the refused statements were never written and can be submitted now.
        for sub in refused:
            response = client.post(
                "/v1/statements", content=json.dumps(sub.to_json()), headers=JSON
            )
            assert response.status_code == 201, response.text
            acknowledged.append(Receipt.from_json(response.json()))
    report = verify_database(pg_chain.url, operator_vkey=pg_chain.ledger.verifier.vkey)
    assert report.ok
    for receipt in acknowledged:
        record = pg_chain.ledger.record(receipt.seq)
        assert record is not None
        assert record.entry_hash == receipt.entry_hash
