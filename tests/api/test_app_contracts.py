"""Commercial reads through the real app: ``GET /v1/contracts``, ``/v1/contracts/{id}``,
``/v1/contracts/{id}/settlements``, ``/v1/audit/payments`` and ``/v1/audit/fairness``.

One ledger per module (built with the contract scenario builders): the sample contract
between roastery-nord (buyer) and finca-aurora and finca-brisa (suppliers), July delivered,
settled and recorded; roastery-nord paid aurora late and has not paid brisa. audit.example is
an auditor; stranger is a supplier and buyer outside the contract; inspector's key was
revoked. The app's clock and every signer's are the chain's clock.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import count

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.client import ApiError, FairLedgerClient
from api.problems import PROBLEM_BASE
from api.routes.deps import get_now
from api.signing import RequestSigner
from contracts.scenario import payment_confirm_body, payment_sent_body
from ledger.canonical import JSONObject, canonical_bytes
from ledger.keys import PrivateKey
from ledger.state import Kind
from tests.contracts.test_lifecycle import (
    AUDITOR,
    AURORA,
    BRISA,
    BUYER,
    CONTRACT,
    contract_chain,
    submit,
)
from tests.contracts.test_settlement_ledger import settled_july
from tests.factory import Chain

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.xdist_group("api-contracts")

STRANGER, REVOKED = "stranger", "inspector"
AURORA_DEBT = f"{CONTRACT}/2026-07/{BUYER}/{AURORA}"
BRISA_DEBT = f"{CONTRACT}/2026-07/{BUYER}/{BRISA}"
PATHS = (
    "/v1/contracts",
    f"/v1/contracts/{CONTRACT}",
    f"/v1/contracts/{CONTRACT}/settlements?period=2026-07",
    "/v1/audit/payments",
    "/v1/audit/fairness",
)
#: Who reads a contract: the operator, auditors and its parties; the stranger gets 404.
READERS = ("operator", AUDITOR, BUYER, AURORA, BRISA)


class World:
    def __init__(self, chain: Chain, settlement_seq: int, app: FastAPI) -> None:
        self.chain = chain
        self.settlement_seq = settlement_seq
        self.app = app


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("contracts-api")
    chain = contract_chain(home / "ledger.db")
    seq = settled_july(chain)
    sent = submit(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body([(AURORA_DEBT, "420.00")], sent_on=date(2026, 9, 14)),
    )
    submit(
        chain,
        AURORA,
        Kind.PAYMENT_CONFIRM,
        payment_confirm_body(sent, received_on=date(2026, 9, 15)),
    )
    revoke: JSONObject = {
        "participant": REVOKED,
        "key": chain.keys[REVOKED].public_key.key_id,
        "reason": "lost laptop",
    }
    chain.ledger.submit(chain.statement("operator", Kind.KEY_REVOKE, revoke), now=chain.tick())
    app = create_app(ApiSettings(home=home), ledger=chain.ledger)
    app.dependency_overrides[get_now] = lambda: chain.clock
    yield World(chain, seq, app)
    chain.ledger.close()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app) as c:
        yield c


_nonces = count(1)


def signer(
    world: World, who: str, *, key: PrivateKey | None = None, skew: int = 0
) -> RequestSigner:
    chain = world.chain
    return RequestSigner(
        key or chain.keys[who],
        clock=lambda: chain.clock + timedelta(seconds=skew),
        nonce=lambda: f"contracts-{next(_nonces):06d}",
    )


def get(client: TestClient, path: str, by: RequestSigner | None) -> httpx.Response:
    request = client.build_request("GET", path)
    if by is not None:
        by.sign(request)
    response: httpx.Response = client.send(request)
    return response


def problem(response: httpx.Response, status: int, code: str) -> JSONObject:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc: JSONObject = response.json()
    assert doc["type"] == PROBLEM_BASE + code
    assert "Traceback" not in response.text
    return doc


# -- the authorization matrix --------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("who", [*READERS, STRANGER])
def test_signed_participants(world: World, client: TestClient, path: str, who: str) -> None:
    response = get(client, path, signer(world, who))
    if who == STRANGER and path.startswith(f"/v1/contracts/{CONTRACT}"):
        doc = problem(response, 404, "not-found")
        assert doc["detail"] == f"no contract {CONTRACT}"
    else:
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", PATHS)
def test_unsigned_request_is_401(client: TestClient, path: str) -> None:
    problem(get(client, path, None), 401, "request-signature-missing")


@pytest.mark.parametrize("path", PATHS)
def test_revoked_key_is_401(world: World, client: TestClient, path: str) -> None:
    doc = problem(get(client, path, signer(world, REVOKED)), 401, "request-key-not-active")
    assert "revoked" in str(doc["detail"])


@pytest.mark.parametrize("path", PATHS)
def test_unknown_key_is_401(world: World, client: TestClient, path: str) -> None:
    nobody = signer(world, "nobody", key=PrivateKey.from_seed(b"n" * 32))
    problem(get(client, path, nobody), 401, "request-key-unknown")


@pytest.mark.parametrize("path", PATHS)
def test_stale_and_future_signatures_are_401(world: World, client: TestClient, path: str) -> None:
    problem(get(client, path, signer(world, AUDITOR, skew=-3600)), 401, "request-signature-stale")
    problem(get(client, path, signer(world, AUDITOR, skew=3600)), 401, "request-signature-stale")


@pytest.mark.parametrize("path", PATHS)
def test_replayed_signature_is_401(world: World, client: TestClient, path: str) -> None:
    request = client.build_request("GET", path)
    signer(world, BUYER).sign(request)
    assert client.send(request).status_code == 200
    problem(client.send(request), 401, "request-signature-replayed")


@pytest.mark.parametrize("path", PATHS)
def test_signature_over_another_request_is_401(world: World, client: TestClient, path: str) -> None:
    request = client.build_request("GET", "/v1/contracts?limit=7")
    signer(world, BUYER).sign(request)
    forged = client.build_request("GET", path, headers=dict(request.headers))
    problem(client.send(forged), 401, "request-signature-invalid")


# -- GET /v1/contracts ---------------------------------------------------------------------


@pytest.mark.parametrize(("who", "expected"), [(r, [CONTRACT]) for r in READERS] + [(STRANGER, [])])
def test_list_shows_only_visible_contracts(
    world: World, client: TestClient, who: str, expected: list[str]
) -> None:
    body = get(client, "/v1/contracts", signer(world, who)).json()
    assert [c["contract_id"] for c in body["contracts"]] == expected
    assert body["next"] is None


def test_list_entry_names_state_and_parties(world: World, client: TestClient) -> None:
    (entry,) = get(client, "/v1/contracts", signer(world, AURORA)).json()["contracts"]
    assert entry["status"] == "active"
    assert (entry["binding_version"], entry["latest_version"]) == (1, 1)
    assert {p["party"]: p["roles"] for p in entry["parties"]} == {
        AUDITOR: ["auditor"],
        AURORA: ["supplier"],
        BRISA: ["supplier"],
        BUYER: ["buyer"],
    }


def test_list_pages_with_a_cursor(world: World, client: TestClient) -> None:
    first = get(client, "/v1/contracts?limit=1", signer(world, AUDITOR)).json()
    assert [c["contract_id"] for c in first["contracts"]] == [CONTRACT]
    assert first["next"] is None  # one contract: no following page
    after = get(client, f"/v1/contracts?cursor={CONTRACT}", signer(world, AUDITOR)).json()
    assert after == {"contracts": [], "next": None}


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=ten", "cursor=NOT%20AN%20ID", "cursor="]
)
def test_absurd_paging_is_400(world: World, client: TestClient, query: str) -> None:
    problem(get(client, f"/v1/contracts?{query}", signer(world, AUDITOR)), 400, "invalid-request")


# -- GET /v1/contracts/{id} ----------------------------------------------------------------


def test_contract_detail(world: World, client: TestClient) -> None:
    body = get(client, f"/v1/contracts/{CONTRACT}", signer(world, BRISA)).json()
    assert body["contract_id"] == CONTRACT
    assert body["status"] == "active"
    (version,) = body["versions"]
    assert version["status"] == "binding"
    assert [a["party"] for a in version["accepted"]] == [BUYER, AURORA, BRISA]
    assert version["terms"]["contract_id"] == CONTRACT
    assert len(version["terms_hash"]) == 64
    states = {o["id"]: (o["state"], o["paid"]) for o in body["obligations"]}
    assert states == {AURORA_DEBT: ("paid", "420.00"), BRISA_DEBT: ("late", "0.00")}


def test_unknown_and_hidden_contracts_answer_alike(world: World, client: TestClient) -> None:
    hidden = problem(
        get(client, f"/v1/contracts/{CONTRACT}", signer(world, STRANGER)), 404, "not-found"
    )
    unknown = problem(
        get(client, "/v1/contracts/no-such-contract", signer(world, STRANGER)), 404, "not-found"
    )
    assert {k: v for k, v in hidden.items() if k not in ("detail", "instance")} == {
        k: v for k, v in unknown.items() if k not in ("detail", "instance")
    }
    assert unknown["detail"] == "no contract no-such-contract"


def test_malformed_contract_id_is_400(world: World, client: TestClient) -> None:
    problem(get(client, "/v1/contracts/UPPER-CASE", signer(world, AUDITOR)), 400, "invalid-request")


# -- GET /v1/contracts/{id}/settlements ----------------------------------------------------


def test_settlements_of_a_month(world: World, client: TestClient) -> None:
    path = f"/v1/contracts/{CONTRACT}/settlements?period=2026-07"
    body = get(client, path, signer(world, AURORA)).json()
    assert (body["contract_id"], body["period"]) == (CONTRACT, "2026-07")
    assert body["in_force_seq"] == world.settlement_seq
    (recorded,) = body["statements"]
    assert recorded["seq"] == world.settlement_seq
    statement = recorded["statement"]
    assert (statement["contract_id"], statement["period"]) == (CONTRACT, "2026-07")
    assert recorded["statement_hash"] == hashlib.sha256(canonical_bytes(statement)).hexdigest()
    assert [line["net"] for line in statement["deliveries"]] == ["420.00", "400.00"]


def test_a_month_without_statement_is_empty(world: World, client: TestClient) -> None:
    path = f"/v1/contracts/{CONTRACT}/settlements?period=2026-08"
    body = get(client, path, signer(world, BUYER)).json()
    assert body == {
        "contract_id": CONTRACT,
        "period": "2026-08",
        "in_force_seq": None,
        "statements": [],
    }


@pytest.mark.parametrize("query", ["period=2026-13", "period=2026-7", "period=july", ""])
def test_invalid_or_missing_period_is_400(world: World, client: TestClient, query: str) -> None:
    path = f"/v1/contracts/{CONTRACT}/settlements?{query}"
    doc = problem(get(client, path, signer(world, BUYER)), 400, "invalid-request")
    assert doc["field"] == "query.period"


# -- GET /v1/audit/payments ----------------------------------------------------------------


def _obligations(body: JSONObject) -> dict[str, tuple[object, ...]]:
    rows = body["obligations"]
    assert isinstance(rows, list)
    return {
        str(r["obligation"]): (r["state"], r["outstanding"], r["days_late"])
        for r in rows
        if isinstance(r, dict)
    }


def test_payments_audit_for_auditors_covers_everyone(world: World, client: TestClient) -> None:
    body = get(client, "/v1/audit/payments", signer(world, AUDITOR)).json()
    assert body["as_of"] == world.chain.clock.date().isoformat()
    late_days = (world.chain.clock.date() - date(2026, 8, 30)).days
    assert _obligations(body) == {
        AURORA_DEBT: ("paid", "0.00", 16),
        BRISA_DEBT: ("late", "400.00", late_days),
    }
    assert {(p["party"], p["role"]) for p in body["parties"]} == {
        (BUYER, "payer"),
        (AURORA, "payee"),
        (BRISA, "payee"),
    }
    (practice,) = body["practices"]
    assert (practice["payer"], practice["invoices"], practice["paid"]) == (BUYER, 2, 1)


def test_payments_audit_for_a_party_shows_its_own_rows(world: World, client: TestClient) -> None:
    body = get(client, "/v1/audit/payments", signer(world, AURORA)).json()
    assert list(_obligations(body)) == [AURORA_DEBT]
    assert [(p["party"], p["role"]) for p in body["parties"]] == [(AURORA, "payee")]
    assert body["practices"] == []
    stranger = get(client, "/v1/audit/payments", signer(world, STRANGER)).json()
    assert (stranger["obligations"], stranger["parties"], stranger["practices"]) == ([], [], [])


def test_payments_audit_filters(world: World, client: TestClient) -> None:
    by = get(client, f"/v1/audit/payments?participant={BRISA}", signer(world, AUDITOR)).json()
    assert list(_obligations(by)) == [BRISA_DEBT]
    august = get(client, "/v1/audit/payments?period=2026-08", signer(world, AUDITOR)).json()
    assert august["obligations"] == []
    # issued 2026-07-31, due 2026-08-30: on 2026-08-15 both are due and nothing is late
    early = get(client, "/v1/audit/payments?as_of=2026-08-15", signer(world, AUDITOR)).json()
    assert sorted(_obligations(early).values()) == [("due", "400.00", 0), ("due", "420.00", 0)]


def test_another_participants_rows_are_403(world: World, client: TestClient) -> None:
    for path in ("/v1/audit/payments", "/v1/audit/fairness"):
        doc = problem(
            get(client, f"{path}?participant={BRISA}", signer(world, AURORA)), 403, "forbidden"
        )
        assert BRISA in str(doc["detail"])
        own = get(client, f"{path}?participant={AURORA}", signer(world, AURORA))
        assert own.status_code == 200


@pytest.mark.parametrize(
    "query", ["period=2026-00", "participant=Not!", "as_of=2026-02-30", "as_of=yesterday"]
)
def test_invalid_audit_parameters_are_400(world: World, client: TestClient, query: str) -> None:
    for path in ("/v1/audit/payments", "/v1/audit/fairness"):
        if query.startswith("as_of") and path.endswith("fairness"):
            continue
        problem(get(client, f"{path}?{query}", signer(world, AUDITOR)), 400, "invalid-request")


# -- GET /v1/audit/fairness ----------------------------------------------------------------


def test_fairness_for_auditors(world: World, client: TestClient) -> None:
    body = get(client, "/v1/audit/fairness", signer(world, AUDITOR)).json()
    (share,) = body["producer_shares"]
    assert (share["contract_id"], share["period"]) == (CONTRACT, "2026-07")
    assert share["producer_goods"] == "820.00"
    (distribution,) = body["value_distribution"]
    values = {p["party"]: p["value"] for p in distribution["participants"]}
    assert values == {AURORA: "420.00", BRISA: "400.00", BUYER: "-820.00"}
    assert distribution["gini"]["exact"]


def test_fairness_for_a_party_shows_its_own_value(world: World, client: TestClient) -> None:
    full = get(client, "/v1/audit/fairness", signer(world, AUDITOR)).json()
    mine = get(client, "/v1/audit/fairness", signer(world, AURORA)).json()
    assert mine["producer_shares"] == full["producer_shares"]
    (distribution,) = mine["value_distribution"]
    (whole,) = full["value_distribution"]
    assert distribution["gini"] == whole["gini"]
    assert distribution["participants"] == [
        p for p in whole["participants"] if p["party"] == AURORA
    ]
    outsider = get(client, "/v1/audit/fairness", signer(world, STRANGER)).json()
    assert outsider["producer_shares"] == []
    assert [d["participants"] for d in outsider["value_distribution"]] == [[]]


def test_fairness_period_filter(world: World, client: TestClient) -> None:
    body = get(client, "/v1/audit/fairness?period=2026-08", signer(world, AUDITOR)).json()
    assert body["producer_shares"] == []
    assert body["value_distribution"] == []


# -- the client SDK ------------------------------------------------------------------------


def test_client_reads_contracts(world: World, client: TestClient) -> None:
    api = FairLedgerClient("http://testserver", http=client)
    aurora = signer(world, AURORA)
    assert [c.contract_id for c in api.contracts(aurora)] == [CONTRACT]
    contract = api.contract(CONTRACT, aurora)
    assert {o.id: o.state for o in contract.obligations}[AURORA_DEBT] == "paid"
    listed = api.settlements(CONTRACT, "2026-07", aurora)
    assert listed.in_force_seq == world.settlement_seq
    audit = api.payments_audit(aurora, period="2026-07")
    assert [row["obligation"] for row in audit.obligations] == [AURORA_DEBT]
    report = api.fairness(signer(world, AUDITOR), period="2026-07")
    assert [s["contract_id"] for s in report.producer_shares] == [CONTRACT]
    with pytest.raises(ApiError) as caught:
        api.contract(CONTRACT, signer(world, STRANGER))
    assert caught.value.code == "not-found"


def test_openapi_documents_every_response_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/contracts",
        "/v1/contracts/{id}",
        "/v1/contracts/{id}/settlements",
        "/v1/audit/payments",
        "/v1/audit/fairness",
    ):
        responses = spec["paths"][path]["get"]["responses"]
        assert "example" in responses["200"]["content"]["application/json"]
        assert "request-signature-missing" in str(responses["401"])
        for status, entry in responses.items():
            if status != "200":
                content = entry["content"]["application/problem+json"]
                assert content["examples"], (path, status)
