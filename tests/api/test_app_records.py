"""``GET /v1/records/{seq}`` and ``GET /v1/records``: records with their entry hashes,
cursor paging, and refusal of absurd paging values."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.problems import PROBLEM_BASE
from api.routes.deps import get_now
from ledger import merkle
from ledger.canonical import canonical_bytes
from ledger.statement import Record
from tests.factory import Chain

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client(chain: Chain, tmp_path: Path) -> Iterator[TestClient]:
    chain.ledger.append(chain.sale("mill", 7), now=chain.tick())  # 4 + 7 = 11 records
    app = create_app(ApiSettings(home=tmp_path), ledger=chain.ledger)
    app.dependency_overrides[get_now] = lambda: chain.clock
    with TestClient(app) as c:
        yield c


def test_record_is_the_exact_leaf_with_its_entry_hash(chain: Chain, client: TestClient) -> None:
    response = client.get("/v1/records/5")
    assert response.status_code == 200
    data = response.json()
    assert data["seq"] == 5
    stored = chain.ledger.record(5)
    assert stored is not None
    assert canonical_bytes(data["record"]) == stored.leaf
    assert data["entry_hash"] == merkle.leaf_hash(stored.leaf).hex()
    assert Record.from_json(data["record"]) == stored


def test_unknown_record_is_404_naming_the_seq(client: TestClient) -> None:
    response = client.get("/v1/records/11")
    assert response.status_code == 404
    doc = response.json()
    assert doc["type"] == PROBLEM_BASE + "not-found"
    assert doc["seq"] == 11
    assert "11 records" in doc["detail"]


def test_pages_follow_the_next_cursor_to_the_end(chain: Chain, client: TestClient) -> None:
    seen: list[int] = []
    start: int | None = 0
    pages = 0
    while start is not None:
        page = client.get("/v1/records", params={"start": start, "limit": 4}).json()
        seen.extend(r["seq"] for r in page["records"])
        start = page["next"]
        pages += 1
    assert seen == list(range(11))
    assert pages == 3
    for seq in seen:
        stored = chain.ledger.record(seq)
        assert stored is not None


def test_page_that_ends_exactly_at_the_head_has_no_next(client: TestClient) -> None:
    page = client.get("/v1/records", params={"start": 7, "limit": 4}).json()
    assert [r["seq"] for r in page["records"]] == [7, 8, 9, 10]
    assert page["next"] is None


def test_defaults_and_past_the_end(client: TestClient) -> None:
    assert len(client.get("/v1/records").json()["records"]) == 11
    assert client.get("/v1/records", params={"start": 500}).json() == {
        "next": None,
        "records": [],
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 1001}, "query.limit"),
        ({"limit": 10**30}, "query.limit"),
        ({"limit": -5}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"start": -1}, "query.start"),
        ({"start": 2**60}, "query.start"),
        ({"start": "1e3"}, "query.start"),
        ({"start": "9" * 5000}, "query.start"),
    ],
)
def test_absurd_paging_values_are_400(
    params: dict[str, Any], field: str, client: TestClient
) -> None:
    response = client.get("/v1/records", params=params)
    assert response.status_code == 400
    doc = response.json()
    assert doc["type"] == PROBLEM_BASE + "invalid-request"
    assert doc["field"] == field
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("seq", ["-1", "x", str(2**64), "1.5"])
def test_bad_record_seq_is_400(seq: str, client: TestClient) -> None:
    response = client.get(f"/v1/records/{seq}")
    assert response.status_code == 400
    assert response.json()["field"] == "path.seq"
