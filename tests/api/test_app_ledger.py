"""``GET /v1/ledger``, ``GET /v1/checkpoint``, opening the ledger from settings, and the
problems every path can produce: unknown paths and methods, storage failures and unexpected
exceptions (never a stack trace, SQL or database message)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.problems import PROBLEM_BASE
from ledger.errors import (
    LedgerNotInitializedError,
    MalformedKeyError,
    StorageError,
    StorageUnavailableError,
)
from ledger.keys import save_private_key
from ledger.note import Ed25519Verifier, open_checkpoint
from ledger.state import Kind
from ledger.statement import prove_possession
from tests.factory import ORIGIN, Chain, key_for, new_chain

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SECRET = "SELECT leaf FROM records WHERE seq = 7 -- /srv/secret/ledger.db"


@pytest.fixture
def client(chain: Chain, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ApiSettings(home=tmp_path), ledger=chain.ledger)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_ledger_names_origin_operator_vkey_and_size(chain: Chain, client: TestClient) -> None:
    data = client.get("/v1/ledger").json()
    assert data["origin"] == ORIGIN
    assert data["operator"] == "operator"
    assert data["vkey"] == chain.ledger.verifier.vkey
    assert data["public_key"] == chain.operator.public_key.b64
    assert data["size"] == chain.ledger.size == 4
    signed = open_checkpoint(data["checkpoint"], Ed25519Verifier.from_vkey(data["vkey"]))
    assert signed.checkpoint.size == 4


def test_checkpoint_is_a_plain_text_signed_note(chain: Chain, client: TestClient) -> None:
    chain.ledger.append(chain.sale("mill", 2), now=chain.tick())
    response = client.get("/v1/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    signed = open_checkpoint(response.text, chain.ledger.verifier)
    assert signed.checkpoint.size == 6
    assert signed.checkpoint.root == chain.ledger.root(6)


def test_unknown_path_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE + "not-found"


def test_wrong_method_is_a_405_problem_with_allow(client: TestClient) -> None:
    response = client.delete("/v1/ledger")
    assert response.status_code == 405
    assert response.json()["type"] == PROBLEM_BASE + "method-not-allowed"
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RuntimeError(SECRET), 500, "internal-error"),
        (ZeroDivisionError(), 500, "internal-error"),
        (StorageError("database error: " + SECRET), 500, "storage-error"),
        (StorageUnavailableError("database unavailable: " + SECRET), 503, "storage-unavailable"),
        (LedgerNotInitializedError(SECRET), 503, "not-initialized"),
    ],
    ids=["runtime", "zero-division", "storage", "unavailable", "not-initialized"],
)
@pytest.mark.parametrize("path", ["/v1/checkpoint", "/v1/statements"])
def test_failures_never_leak_internals(
    error: Exception,
    status: int,
    code: str,
    path: str,
    chain: Chain,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(chain.ledger, "latest_checkpoint", fail)
    monkeypatch.setattr(chain.ledger, "submit", fail)
    monkeypatch.setattr(chain.ledger, "submit_nowait", fail)
    if path == "/v1/statements":
        body = chain.sale("mill")[0].to_json()
        response = client.post(path, json=body)
    else:
        response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    doc = response.json()
    assert doc["type"] == PROBLEM_BASE + code
    assert doc["status"] == status
    assert "SELECT" not in response.text
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert "File " not in response.text
    if status == 503:
        assert response.headers["retry-after"] == "1"


def test_app_opens_the_ledger_from_settings_and_closes_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    chain = new_chain(home / "ledger.db", ("farm-a", ("supplier",)))
    chain.ledger.close()
    save_private_key(home / "keys" / "operator.pem", chain.operator)
    app = create_app(ApiSettings(home=home))
    with TestClient(app) as client:
        assert client.get("/v1/ledger").json()["size"] == 2
        new = key_for("farm-a-next")
        rotate = chain.statement(
            "farm-a",
            Kind.KEY_ROTATE,
            {
                "new_public_key": new.public_key.b64,
                "proof_of_possession": prove_possession(ORIGIN, "farm-a", new),
            },
        )
        assert client.post("/v1/statements", json=rotate.to_json()).status_code == 201
        # The served app applies every domain's rules: a sale report must be well formed.
        chain.keys["farm-a"] = new
        malformed = chain.statement("farm-a", Kind.SALE_REPORT, {"lot": "LOT-0"})
        refused = client.post("/v1/statements", json=malformed.to_json())
        assert refused.status_code == 400, refused.text
        assert client.get("/v1/ledger").json()["size"] == 3


def test_app_needs_the_operator_key(tmp_path: Path) -> None:
    chain = new_chain(tmp_path / "ledger.db")
    chain.ledger.close()
    with pytest.raises(MalformedKeyError):
        create_app(ApiSettings(home=tmp_path))


def test_app_needs_a_ledger(tmp_path: Path) -> None:
    save_private_key(tmp_path / "keys" / "operator.pem", key_for("operator"))
    with pytest.raises(LedgerNotInitializedError):
        create_app(ApiSettings(home=tmp_path))
