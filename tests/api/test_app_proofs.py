"""``GET /v1/proofs/inclusion`` and ``GET /v1/proofs/consistency``: RFC 9162 proofs that
verify against the ledger's own roots; ranges the tree does not have are 400 problems."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.problems import PROBLEM_BASE
from ledger import merkle
from tests.factory import Chain

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SIZE = 13


@pytest.fixture
def client(chain: Chain, tmp_path: Path) -> Iterator[TestClient]:
    chain.ledger.append(chain.sale("mill", SIZE - 4), now=chain.tick())
    with TestClient(create_app(ApiSettings(home=tmp_path), ledger=chain.ledger)) as c:
        yield c


@pytest.mark.parametrize(("seq", "size"), [(0, 1), (0, SIZE), (7, 8), (12, SIZE), (5, 9)])
def test_inclusion_proof_verifies(seq: int, size: int, chain: Chain, client: TestClient) -> None:
    data = client.get("/v1/proofs/inclusion", params={"seq": seq, "size": size}).json()
    assert (data["seq"], data["size"]) == (seq, size)
    record = chain.ledger.record(seq)
    assert record is not None
    proof = [bytes.fromhex(h) for h in data["proof"]]
    merkle.verify_inclusion(record.entry_hash, seq, size, proof, chain.ledger.root(size))


@pytest.mark.parametrize(("old", "new"), [(0, SIZE), (1, SIZE), (5, 9), (8, SIZE), (SIZE, SIZE)])
def test_consistency_proof_verifies(old: int, new: int, chain: Chain, client: TestClient) -> None:
    data = client.get("/v1/proofs/consistency", params={"old": old, "new": new}).json()
    assert (data["old"], data["new"]) == (old, new)
    proof = [bytes.fromhex(h) for h in data["proof"]]
    ledger = chain.ledger
    merkle.verify_consistency(old, new, ledger.root(old), ledger.root(new), proof)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("inclusion", {"seq": SIZE, "size": SIZE}),
        ("inclusion", {"seq": 3, "size": SIZE + 1}),
        ("inclusion", {"seq": 5, "size": 3}),
        ("inclusion", {"seq": 0, "size": 0}),
        ("consistency", {"old": 5, "new": 3}),
        ("consistency", {"old": 1, "new": SIZE + 1}),
    ],
)
def test_range_the_tree_does_not_have_is_400(
    path: str, params: dict[str, int], client: TestClient
) -> None:
    response = client.get(f"/v1/proofs/{path}", params=params)
    assert response.status_code == 400
    doc = response.json()
    assert doc["type"] == PROBLEM_BASE + "invalid-range"
    assert str(SIZE) in doc["detail"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("inclusion", {"seq": -1, "size": 3}, "query.seq"),
        ("inclusion", {"seq": 1}, "query.size"),
        ("inclusion", {"seq": 1, "size": 10**40}, "query.size"),
        ("consistency", {"old": "a", "new": 3}, "query.old"),
        ("consistency", {"old": 1, "new": 2**62}, "query.new"),
    ],
)
def test_absurd_values_are_400(
    path: str, params: dict[str, Any], field: str, client: TestClient
) -> None:
    response = client.get(f"/v1/proofs/{path}", params=params)
    assert response.status_code == 400
    doc = response.json()
    assert doc["type"] == PROBLEM_BASE + "invalid-request"
    assert doc["field"] == field
