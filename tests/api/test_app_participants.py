"""``GET /v1/participants`` and ``GET /v1/participants/{id}``: roles, GLN and every key with
its validity interval, cursor paging, 404 and 400 problems."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.problems import PROBLEM_BASE
from ledger.state import Kind
from ledger.statement import prove_possession
from tests.factory import ORIGIN, Chain, key_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client(chain: Chain, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings(home=tmp_path), ledger=chain.ledger)) as c:
        yield c


def test_participant_with_roles_and_key(chain: Chain, client: TestClient) -> None:
    data = client.get("/v1/participants/mill").json()
    assert data["id"] == "mill"
    assert data["display_name"] == "Mill"
    assert data["roles"] == ["buyer", "supplier"]
    assert data["gln"] is None
    assert data["registered_seq"] == 2
    key = chain.keys["mill"].public_key
    assert data["keys"] == [
        {
            "key_id": key.key_id,
            "public_key": key.b64,
            "added_seq": 2,
            "retired_seq": None,
            "retired_how": None,
            "retired_reason": None,
            "active": True,
        }
    ]


def test_rotated_and_revoked_keys_show_when_and_how(chain: Chain, client: TestClient) -> None:
    new = key_for("farm-a-2")
    rotate = chain.statement(
        "farm-a",
        Kind.KEY_ROTATE,
        {
            "new_public_key": new.public_key.b64,
            "proof_of_possession": prove_possession(ORIGIN, "farm-a", new),
        },
    )
    rotated_at = chain.ledger.submit(rotate, now=chain.tick()).receipt.seq
    revoke = chain.statement(
        "farm-a",
        Kind.KEY_REVOKE,
        {"participant": "farm-a", "key": new.public_key.key_id, "reason": "lost"},
        key=new,
    )
    revoked_at = chain.ledger.submit(revoke, now=chain.tick()).receipt.seq
    keys = client.get("/v1/participants/farm-a").json()["keys"]
    assert [(k["added_seq"], k["retired_seq"], k["retired_how"], k["active"]) for k in keys] == [
        (1, rotated_at, "rotated", False),
        (rotated_at, revoked_at, "revoked", False),
    ]
    assert keys[1]["retired_reason"] == "lost"


def test_participants_page_through_every_participant(client: TestClient) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/v1/participants", params=params).json()
        seen.extend(p["id"] for p in page["participants"])
        if page["next"] is None:
            break
        params["cursor"] = page["next"]
    assert seen == ["auditor", "farm-a", "mill", "operator"]
    everyone = client.get("/v1/participants").json()
    assert [p["id"] for p in everyone["participants"]] == seen
    assert everyone["next"] is None
    operator = everyone["participants"][-1]
    assert operator["roles"] == ["operator"]
    assert operator["keys"][0]["added_seq"] == 0


def test_unknown_participant_is_404(client: TestClient) -> None:
    response = client.get("/v1/participants/nobody")
    assert response.status_code == 404
    assert response.json()["type"] == PROBLEM_BASE + "not-found"


@pytest.mark.parametrize("pid", ["UPPER", "a", "x" * 64, "-lead", "sp%20ace"])
def test_malformed_participant_id_is_400(pid: str, client: TestClient) -> None:
    response = client.get(f"/v1/participants/{pid}")
    assert response.status_code == 400
    assert response.json()["field"] == "path.id"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 5000}, "query.limit"),
        ({"cursor": "NOT VALID"}, "query.cursor"),
        ({"cursor": "z" * 100}, "query.cursor"),
    ],
)
def test_absurd_paging_is_400(params: dict[str, Any], field: str, client: TestClient) -> None:
    response = client.get("/v1/participants", params=params)
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEM_BASE + "invalid-request"
    assert response.json()["field"] == field
