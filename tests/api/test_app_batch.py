"""``POST /v1/statements/batch``: all-or-nothing appends; a refusal names its index."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.problems import PROBLEM_BASE
from api.routes.deps import get_now
from ledger.receipt import Receipt
from ledger.state import Kind
from ledger.statement import Submission
from tests.factory import Chain

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client(chain: Chain, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ApiSettings(home=tmp_path), ledger=chain.ledger)
    app.dependency_overrides[get_now] = lambda: chain.clock
    with TestClient(app) as c:
        yield c


def post_batch(client: TestClient, body: object) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response: httpx.Response = client.post(
        "/v1/statements/batch", content=data, headers={"Content-Type": "application/json"}
    )
    return response


def batch(*subs: Submission) -> dict[str, Any]:
    return {"submissions": [s.to_json() for s in subs]}


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc: dict[str, Any] = response.json()
    assert doc["type"] == PROBLEM_BASE + code
    return doc


def test_batch_answers_201_with_one_verifying_receipt_each(
    chain: Chain, client: TestClient
) -> None:
    subs = chain.sale("mill", 5)
    size = chain.ledger.size
    response = post_batch(client, batch(*subs))
    assert response.status_code == 201
    receipts = [Receipt.from_json(r) for r in response.json()["receipts"]]
    assert [r.seq for r in receipts] == list(range(size, size + 5))
    for receipt, sub in zip(receipts, subs, strict=True):
        record = chain.ledger.record(receipt.seq)
        assert record is not None
        assert record.submission == sub
        receipt.verify(chain.ledger.verifier, leaf=record.leaf)


def test_batch_replay_answers_200_with_the_same_receipts(chain: Chain, client: TestClient) -> None:
    subs = chain.sale("mill", 3)
    first = post_batch(client, batch(*subs))
    chain.tick()
    again = post_batch(client, batch(*subs))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_batch_may_register_a_key_and_use_it(chain: Chain, client: TestClient) -> None:
    register = chain.statement("operator", Kind.REGISTER, chain.register_body("bakery", ["buyer"]))
    sale = chain.sale("bakery")[0]
    assert post_batch(client, batch(register, sale)).status_code == 201


@pytest.mark.parametrize("bad_at", [0, 2, 4])
def test_one_rejection_writes_nothing_and_names_its_index(
    bad_at: int, chain: Chain, client: TestClient
) -> None:
    subs = chain.sale("mill", 5)
    subs[bad_at] = Submission(subs[bad_at].statement, bytes(64))
    size = chain.ledger.size
    doc = problem(post_batch(client, batch(*subs)), 422, "bad-signature")
    assert doc["index"] == bad_at
    assert doc["field"] == "signature"
    assert chain.ledger.size == size


def test_unauthorized_member_is_403_with_its_index(chain: Chain, client: TestClient) -> None:
    subs = chain.sale("mill", 3)
    subs.append(chain.statement("auditor", Kind.SALE_REPORT, {"lot": "X"}))
    size = chain.ledger.size
    doc = problem(post_batch(client, batch(*subs)), 403, "wrong-author")
    assert doc["index"] == 3
    assert chain.ledger.size == size


def test_member_that_does_not_parse_names_its_index(chain: Chain, client: TestClient) -> None:
    docs = batch(*chain.sale("mill", 3))
    docs["submissions"][1]["statement"]["nonce"] = "short"
    size = chain.ledger.size
    doc = problem(post_batch(client, docs), 400, "malformed-statement")
    assert doc["index"] == 1
    assert doc["field"] == "statement.nonce"
    assert chain.ledger.size == size


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"submissions": []}, "submissions"),
        ({"submissions": {}}, "submissions"),
        ({}, "submissions"),
        ({"submissions": [], "extra": True}, "extra"),
        ([], ""),
    ],
    ids=["empty", "not-a-list", "missing", "unknown-field", "not-an-object"],
)
def test_malformed_batch_is_400(body: object, field: str, chain: Chain, client: TestClient) -> None:
    size = chain.ledger.size
    doc = problem(post_batch(client, body), 400, "malformed-statement")
    assert doc.get("field", "") == field
    assert chain.ledger.size == size


def test_batch_of_1001_is_refused(chain: Chain, client: TestClient) -> None:
    one = chain.sale("mill")[0].to_json()
    size = chain.ledger.size
    doc = problem(post_batch(client, {"submissions": [one] * 1001}), 400, "malformed-statement")
    assert doc["field"] == "submissions"
    assert chain.ledger.size == size


@pytest.mark.parametrize(
    "body",
    [b'{"submissions": [], "submissions": []}', b'{"submissions": [1.5]}', b"\xff"],
    ids=["duplicate-key", "float", "bad-utf8"],
)
def test_batch_json_is_parsed_strictly(body: bytes, chain: Chain, client: TestClient) -> None:
    size = chain.ledger.size
    problem(post_batch(client, body), 400, "malformed-statement")
    assert chain.ledger.size == size


def test_batch_wrong_content_type_is_415(chain: Chain, client: TestClient) -> None:
    response = client.post(
        "/v1/statements/batch",
        content=json.dumps(batch(*chain.sale("mill"))),
        headers={"Content-Type": "text/json"},
    )
    problem(response, 415, "unsupported-media-type")
