"""The client SDK end to end against the real app (in process, never the network): a supplier
records a delivery, the buyer confirms receipt, someone fetches the record and checks the
receipt; keys rotate and are revoked; server errors arrive as ``ApiError`` with the problem;
bad receipts and tampered records are caught on arrival."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.client import ApiError, Author, FairLedgerClient, registration_body
from api.routes.deps import get_now
from ledger.canonical import JSONObject
from ledger.errors import (
    CheckpointError,
    InclusionProofError,
    LedgerError,
    VerificationError,
)
from ledger.export import read_header
from ledger.keys import PrivateKey, save_private_key
from ledger.note import Ed25519Signer
from ledger.receipt import Receipt
from ledger.state import Kind
from tests.factory import ORIGIN, Chain, key_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

LOT = "urn:epc:class:lgtin:9506000.134352.WHEAT-2026-11"


@pytest.fixture
def server(chain: Chain, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ApiSettings(home=tmp_path), ledger=chain.ledger)
    app.dependency_overrides[get_now] = lambda: chain.clock
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def api(chain: Chain, server: TestClient) -> FairLedgerClient:
    return FairLedgerClient(
        "http://testserver", http=server, operator_vkey=chain.ledger.verifier.vkey
    )


def author(chain: Chain, who: str, key: PrivateKey | None = None) -> Author:
    return Author(who, key or chain.keys[who], ORIGIN, clock=lambda: chain.clock)


def shipping(event_id: str, quantity: str) -> JSONObject:
    return {
        "type": "ObjectEvent",
        "eventID": event_id,
        "eventTime": "2026-11-22T09:55:00Z",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "quantityList": [{"epcClass": LOT, "quantity": quantity, "uom": "KGM"}],
    }


def test_delivery_recorded_confirmed_and_proven(chain: Chain, api: FairLedgerClient) -> None:
    farm, mill = author(chain, "farm-a"), author(chain, "mill")

    shipped = api.submit(farm.trace_event(shipping("urn:uuid:ship-1", "1200")), confirm=True)
    chain.tick()
    received = dict(shipping("urn:uuid:recv-1", "1180"), bizStep="receiving")
    confirmed = api.submit(mill.trace_event(received), confirm=True)
    assert confirmed.seq == shipped.seq + 1

    record, latest = api.prove_record(shipped.seq)
    assert record.statement.author == "farm-a"
    assert record.statement.body["event"] == shipping("urn:uuid:ship-1", "1200")
    api.verify_receipt(shipped, record=record)
    first = api.verify_receipt(shipped)
    api.check_consistency(first, latest)
    assert latest.checkpoint.size == chain.ledger.size


def test_replay_returns_the_same_receipt(chain: Chain, api: FairLedgerClient) -> None:
    sub = author(chain, "mill").statement(Kind.SALE_REPORT, {"lot": LOT, "quantity": "3"})
    assert api.submit(sub) == api.submit(sub)


def test_operator_registers_and_participants_rotate_and_revoke(
    chain: Chain, api: FairLedgerClient, tmp_path: Path
) -> None:
    operator = author(chain, "operator")
    bakery_key = key_for("bakery")
    api.submit(
        operator.register(
            "bakery",
            display_name="Corner Bakery",
            roles=["buyer"],
            key=bakery_key,
            gln="9506000134352",
        )
    )
    save_private_key(tmp_path / "bakery.pem", bakery_key)
    bakery = Author.load(
        "bakery", tmp_path / "bakery.pem", ledger=ORIGIN, clock=lambda: chain.clock
    )
    info = api.participant("bakery")
    assert (info.display_name, info.roles, info.gln) == (
        "Corner Bakery",
        ["buyer"],
        "9506000134352",
    )

    new_key = key_for("bakery-2")
    rotated = api.submit(bakery.rotate_key(new_key))
    bakery2 = bakery.with_key(new_key)
    api.submit(bakery2.statement(Kind.SALE_REPORT, {"lot": LOT, "quantity": "1"}))
    with pytest.raises(ApiError) as stale:
        api.submit(bakery.statement(Kind.SALE_REPORT, {"lot": LOT, "quantity": "2"}))
    assert (stale.value.status, stale.value.code) == (422, "key-not-active")
    assert stale.value.field == "statement.key"

    revoked = api.submit(
        operator.revoke_key(new_key.public_key.key_id, reason="stolen", participant="bakery")
    )
    keys = api.participant("bakery").keys
    assert [(k.retired_seq, k.retired_how) for k in keys] == [
        (rotated.seq, "rotated"),
        (revoked.seq, "revoked"),
    ]
    assert [p.id for p in api.participants(page=2)] == [
        "auditor",
        "bakery",
        "farm-a",
        "mill",
        "operator",
    ]


def test_registration_body_from_a_request_made_elsewhere(chain: Chain) -> None:
    key = key_for("grocer")
    made_here = registration_body(ORIGIN, "grocer", display_name="Grocer", roles=["buyer"], key=key)
    from_request = registration_body(
        ORIGIN,
        "grocer",
        display_name="Grocer",
        roles=["buyer"],
        public_key=key.public_key,
        proof_of_possession=str(made_here["proof_of_possession"]),
    )
    assert made_here == from_request
    with pytest.raises(ValueError, match="proof_of_possession"):
        registration_body(
            ORIGIN, "grocer", display_name="G", roles=["buyer"], public_key=key.public_key
        )


def test_batch_receipts_and_rejection_index(chain: Chain, api: FairLedgerClient) -> None:
    mill = author(chain, "mill")
    subs = [mill.statement(Kind.SALE_REPORT, {"lot": LOT, "quantity": str(i)}) for i in range(4)]
    receipts = api.submit_batch(subs)
    assert [r.seq for r in receipts] == list(range(receipts[0].seq, receipts[0].seq + 4))
    size = chain.ledger.size
    bad = [*subs[:2], author(chain, "auditor").statement(Kind.SALE_REPORT, {"lot": LOT})]
    with pytest.raises(ApiError) as refused:
        api.submit_batch([mill.statement(Kind.SALE_REPORT, {"lot": LOT}), *bad])
    assert (refused.value.status, refused.value.code, refused.value.index) == (
        403,
        "wrong-author",
        3,
    )
    assert refused.value.problem["type"] == "https://fairledger.dev/problems/wrong-author"
    assert chain.ledger.size == size
    with pytest.raises(ValueError, match="1 to 1000"):
        api.submit_batch([])


def test_server_errors_become_api_errors(chain: Chain, api: FairLedgerClient) -> None:
    farm = author(chain, "farm-a")
    api.submit(farm.statement(Kind.SALE_REPORT, {"n": "1"}, nonce="fixed-nonce-1"))
    with pytest.raises(ApiError) as duplicate:
        api.submit(farm.statement(Kind.SALE_REPORT, {"n": "2"}, nonce="fixed-nonce-1"))
    error = duplicate.value
    assert isinstance(error, LedgerError)
    assert (error.status, error.code, error.field) == (409, "duplicate-nonce", "statement.nonce")
    assert "fixed-nonce-1" in str(error)
    with pytest.raises(ApiError) as missing:
        api.record(10_000)
    assert (missing.value.status, missing.value.code, missing.value.seq) == (
        404,
        "not-found",
        10_000,
    )
    with pytest.raises(ApiError) as bad_range:
        api.inclusion_proof(5, 2)
    assert bad_range.value.code == "invalid-range"


def test_reads_records_proofs_and_checkpoints(chain: Chain, api: FairLedgerClient) -> None:
    chain.ledger.append(chain.sale("mill", 30), now=chain.tick())
    records = list(api.iter_records(page=7))
    assert [r.seq for r in records] == list(range(34))
    assert records[10] == chain.ledger.record(10)
    page = api.records(30, 10)
    assert ([r.seq for r in page.records], page.next) == ([30, 31, 32, 33], None)
    signed = api.checkpoint()
    assert signed.checkpoint.size == 34
    assert api.inclusion_proof(3, 34) == chain.ledger.inclusion_proof(3, 34)
    assert api.consistency_proof(4, 34) == chain.ledger.consistency_proof(4, 34)
    info = api.ledger_info()
    assert (info.origin, info.size, info.operator) == (ORIGIN, 34, "operator")


def test_operator_key_is_trusted_on_first_use_when_not_pinned(
    chain: Chain, server: TestClient
) -> None:
    api = FairLedgerClient("http://testserver", http=server)
    assert api.verifier.vkey == chain.ledger.verifier.vkey
    api.submit(author(chain, "mill").statement(Kind.SALE_REPORT, {"lot": LOT}))


def test_receipt_under_another_operator_key_is_refused(chain: Chain, server: TestClient) -> None:
    impostor = Ed25519Signer(ORIGIN, PrivateKey.from_seed(b"i" * 32)).vkey
    api = FairLedgerClient("http://testserver", http=server, operator_vkey=impostor)
    with pytest.raises(VerificationError):
        api.submit(author(chain, "mill").statement(Kind.SALE_REPORT, {"lot": LOT}))
    with pytest.raises(CheckpointError):
        api.checkpoint()


def _tampering(
    server: TestClient, tamper: Callable[[str, dict[str, object]], None]
) -> httpx.MockTransport:
    """A transport that relays to the app and lets ``tamper`` edit JSON answers."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = server.request(
            request.method,
            request.url.path,
            params=request.url.params,
            content=request.content,
            headers={"Content-Type": "application/json"} if request.content else None,
        )
        if answer.headers.get("content-type") != "application/json":
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        data = answer.json()
        tamper(request.url.path, data)
        return httpx.Response(answer.status_code, json=data)

    return httpx.MockTransport(handle)


def test_tampered_receipt_is_refused(chain: Chain, server: TestClient) -> None:
    def swap_proof(path: str, data: dict[str, object]) -> None:
        if path == "/v1/statements":
            data["entry_hash"] = "00" * 32

    transport = _tampering(server, swap_proof)
    with FairLedgerClient(
        "http://testserver", transport=transport, operator_vkey=chain.ledger.verifier.vkey
    ) as api:
        with pytest.raises(InclusionProofError):
            api.submit(author(chain, "mill").statement(Kind.SALE_REPORT, {"lot": LOT}))
        assert api.ledger_info().size == chain.ledger.size


def test_tampered_record_is_refused(chain: Chain, server: TestClient) -> None:
    def edit_record(path: str, data: dict[str, object]) -> None:
        if path.startswith("/v1/records/"):
            record = data["record"]
            assert isinstance(record, dict)
            record["recorded_at"] = "2026-11-22T10:00:00.000000Z"

    transport = _tampering(server, edit_record)
    with (
        FairLedgerClient("http://testserver", transport=transport) as api,
        pytest.raises(InclusionProofError),
    ):
        api.record(2)


def test_confirm_catches_a_record_that_is_not_ours(chain: Chain, server: TestClient) -> None:
    def point_elsewhere(path: str, data: dict[str, object]) -> None:
        if path == "/v1/statements":
            receipt = chain.ledger.receipt(1)
            data.update(receipt.to_json())

    api = FairLedgerClient(
        "http://testserver",
        transport=_tampering(server, point_elsewhere),
        operator_vkey=chain.ledger.verifier.vkey,
    )
    sub = author(chain, "mill").statement(Kind.SALE_REPORT, {"lot": LOT})
    with pytest.raises(InclusionProofError, match="not the submitted statement"):
        api.submit(sub, confirm=True)


def test_unreachable_server_is_an_api_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    transport = httpx.MockTransport(refuse)
    with (
        FairLedgerClient("http://ledger.invalid", transport=transport) as api,
        pytest.raises(ApiError) as failed,
    ):
        api.ledger_info()
    assert (failed.value.status, failed.value.code) == (0, "unreachable")


def test_non_problem_error_body_still_raises(chain: Chain) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    transport = httpx.MockTransport(broken)
    with (
        FairLedgerClient("http://x.invalid", transport=transport) as api,
        pytest.raises(ApiError) as failed,
    ):
        api.checkpoint()
    assert failed.value.status == 502
    assert "bad gateway" in failed.value.message


def test_signed_export_through_the_sdk(chain: Chain, api: FairLedgerClient) -> None:
    out = io.BytesIO()
    written = api.export(author(chain, "auditor").request_signer(), out)
    lines = out.getvalue().splitlines()
    assert written == len(out.getvalue())
    assert read_header(lines[0])["size"] == chain.ledger.size
    with pytest.raises(ApiError) as refused:
        api.export(author(chain, "farm-a").request_signer(), io.BytesIO())
    assert (refused.value.status, refused.value.code) == (403, "forbidden")


def test_receipt_json_round_trips(chain: Chain, api: FairLedgerClient) -> None:
    receipt = api.submit(author(chain, "mill").statement(Kind.SALE_REPORT, {"lot": LOT}))
    kept = json.dumps(receipt.to_json())
    assert Receipt.from_json(json.loads(kept)) == receipt
