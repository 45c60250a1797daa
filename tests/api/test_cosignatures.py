"""``POST /v1/checkpoint/cosignatures`` through the real app on both backends: a trusted
witness's cosignature is verified, stored append-only and served by ``GET /v1/checkpoint``;
unknown witnesses, bad signatures, checkpoints the ledger never signed and conflicting lines
are refused with their problems; clients can demand k of n witnesses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.client import ApiError, FairLedgerClient
from api.problems import PROBLEM_BASE
from ledger.errors import CheckpointError, MalformedKeyError, SignatureError
from ledger.note import (
    Checkpoint,
    CosignatureSigner,
    NoteSignature,
    add_signature_lines,
    open_checkpoint,
    parse_note,
)
from tests.factory import ORIGIN, Chain, key_for
from tests.ledger.forks import BASE, serve

T = 1_795_341_600
W1 = CosignatureSigner("witness-one.example", key_for("witness-1"))
W2 = CosignatureSigner("witness-two.example", key_for("witness-2"))
W3 = CosignatureSigner("witness-three.example", key_for("witness-3"))
STRANGER = CosignatureSigner("stranger.example", key_for("stranger"))
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


@pytest.fixture
def server(chain: Chain, tmp_path: Path) -> Iterator[httpx.Client]:
    chain.ledger.append(chain.sale("mill", 3), now=chain.tick())
    with serve(chain, tmp_path, witnesses=[W1.vkey, W2.vkey]) as client:
        yield client


@pytest.fixture
def api(chain: Chain, server: httpx.Client) -> FairLedgerClient:
    return FairLedgerClient(BASE, http=server, operator_vkey=chain.ledger.verifier.vkey)


def cosigned(
    chain: Chain, signer: CosignatureSigner, *, size: int | None = None, at: int = T
) -> str:
    note = chain.ledger.latest_checkpoint() if size is None else chain.ledger.checkpoint_at(size)
    assert note is not None
    line = signer.cosign(Checkpoint.from_body(parse_note(note).body), at)
    return add_signature_lines(note, [line])


def post(server: httpx.Client, body: str, **params: int) -> httpx.Response:
    return server.post(
        "/v1/checkpoint/cosignatures", content=body.encode(), headers=TEXT, params=params
    )


def problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc: dict[str, object] = response.json()
    assert doc["type"] == PROBLEM_BASE + code
    return doc


def test_valid_cosignature_is_stored_and_served(chain: Chain, server: httpx.Client) -> None:
    response = post(server, cosigned(chain, W1))
    assert response.status_code == 201, response.text
    data = response.json()
    assert (data["size"], data["stored"], data["already_stored"]) == (7, [W1.name], [])
    served = server.get("/v1/checkpoint").text
    assert served == data["checkpoint"]
    signed = open_checkpoint(served, chain.ledger.verifier)
    assert [s.name for s in signed.note.signatures] == [ORIGIN, W1.name]


def test_duplicate_is_idempotent_and_a_different_line_conflicts(
    chain: Chain, server: httpx.Client
) -> None:
    body = cosigned(chain, W1)
    assert post(server, body).status_code == 201
    again = post(server, body)
    assert again.status_code == 200
    assert (again.json()["stored"], again.json()["already_stored"]) == ([], [W1.name])
    problem(post(server, cosigned(chain, W1, at=T + 1)), 409, "cosignature-conflict")
    lines = parse_note(server.get("/v1/checkpoint").text).signatures
    assert [s.name for s in lines] == [ORIGIN, W1.name]


def test_unknown_witness_is_refused(chain: Chain, server: httpx.Client) -> None:
    doc = problem(post(server, cosigned(chain, STRANGER)), 403, "unknown-witness")
    assert STRANGER.name in str(doc["detail"])
    assert server.get("/v1/checkpoint").text == chain.ledger.latest_checkpoint()


def test_bad_signature_is_refused(chain: Chain, server: httpx.Client) -> None:
    good = cosigned(chain, W1)
    note = parse_note(good)
    line = note.signatures[-1]
    flipped = NoteSignature(line.name, line.key_id, line.blob[:-1] + bytes([line.blob[-1] ^ 1]))
    body = note.body + "\n" + note.signatures[0].line() + flipped.line()
    problem(post(server, body), 422, "cosignature-invalid")
    older = cosigned(chain, W1, size=4)  # valid, but over another checkpoint
    stolen = parse_note(older).signatures[-1]
    problem(
        post(server, add_signature_lines(chain.ledger.latest_checkpoint(), [stolen])),
        422,
        "cosignature-invalid",
    )


def test_wrong_checkpoint_is_refused(chain: Chain, server: httpx.Client) -> None:
    never = Checkpoint(ORIGIN, 7, bytes(32))
    line = W1.cosign(never, T)
    body = never.body() + "\n" + line.line()
    doc = problem(post(server, body), 422, "checkpoint-unknown")
    assert doc["observed"] == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    beyond = Checkpoint(ORIGIN, 99, bytes(32))
    problem(
        post(server, beyond.body() + "\n" + W1.cosign(beyond, T).line()), 422, "checkpoint-unknown"
    )


def test_bare_lines_with_a_size(chain: Chain, server: httpx.Client) -> None:
    note = chain.ledger.checkpoint_at(3)
    assert note is not None
    line = W2.cosign(Checkpoint.from_body(parse_note(note).body), T).line()
    problem(post(server, line), 400, "malformed-note")
    response = post(server, line, size=3)
    assert response.status_code == 201
    assert response.json()["checkpoint"] == add_signature_lines(
        note, [NoteSignature.from_line(line)]
    )
    assert server.get("/v1/checkpoint").text == chain.ledger.latest_checkpoint()  # size 7


def test_only_plain_text_utf8(chain: Chain, server: httpx.Client) -> None:
    body = cosigned(chain, W1).encode()
    problem(
        server.post(
            "/v1/checkpoint/cosignatures",
            content=body,
            headers={"Content-Type": "application/json"},
        ),
        415,
        "unsupported-media-type",
    )
    problem(
        server.post(
            "/v1/checkpoint/cosignatures",
            content=b"\xff\xfe",
            headers=TEXT,
        ),
        400,
        "malformed-note",
    )


def test_cosignatures_are_append_only(chain: Chain, server: httpx.Client) -> None:
    assert post(server, cosigned(chain, W1)).status_code == 201
    engine = chain.ledger.store.engine
    for statement in ("UPDATE cosignatures SET timestamp = 0", "DELETE FROM cosignatures"):
        with pytest.raises(SQLAlchemyError), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cosignatures")).scalar_one() == 1


def test_client_requires_k_of_n_witnesses(chain: Chain, api: FairLedgerClient) -> None:
    assert api.submit_cosignature(cosigned(chain, W1)).stored == [W1.name]
    witnesses = [W1.vkey, W2.vkey, W3.vkey]
    signed = api.checkpoint(require_witnesses=witnesses, k=1)
    assert signed.checkpoint.size == 7
    with pytest.raises(CheckpointError, match="1 of 3 witnesses, 2 required"):
        api.checkpoint(require_witnesses=witnesses, k=2)
    with pytest.raises(CheckpointError):
        api.checkpoint(require_witnesses=[W1.vkey, W2.vkey])  # default: all of them
    receipt = api.submit_cosignature(cosigned(chain, W2))
    assert receipt.stored == [W2.name]
    api.checkpoint(require_witnesses=witnesses, k=2)
    api.checkpoint(require_witnesses=[W1.vkey, W2.vkey])
    with pytest.raises(MalformedKeyError):
        api.checkpoint(require_witnesses=[chain.ledger.verifier.vkey], k=1)
    with pytest.raises(ValueError, match="k must be"):
        api.checkpoint(require_witnesses=witnesses, k=4)


def test_client_refuses_a_bad_cosignature_by_a_required_witness(chain: Chain) -> None:
    note = cosigned(chain, W1)
    parsed = parse_note(note)
    bad = parsed.signatures[-1]
    forged = NoteSignature(bad.name, bad.key_id, bad.blob[:8] + bytes(64))
    served = parsed.body + "\n" + parsed.signatures[0].line() + forged.line()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=served)

    with FairLedgerClient(
        BASE, transport=httpx.MockTransport(handler), operator_vkey=chain.ledger.verifier.vkey
    ) as client:
        assert client.checkpoint().checkpoint.size == chain.ledger.size  # none required
        with pytest.raises(SignatureError):
            client.checkpoint(require_witnesses=[W1.vkey], k=1)


def test_client_reports_refusals_as_api_errors(chain: Chain, api: FairLedgerClient) -> None:
    with pytest.raises(ApiError) as info:
        api.submit_cosignature(cosigned(chain, STRANGER))
    assert (info.value.status, info.value.code) == (403, "unknown-witness")


def test_untrusted_witness_setting_is_refused(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from api.app import ApiSettings

    with pytest.raises(ValidationError):
        ApiSettings(home=tmp_path, trusted_witnesses=["not a vkey"])
    operator_vkey = "test.fairledger.example/ledger+abcdef01+" + "A" * 44  # malformed on purpose
    with pytest.raises(ValidationError):
        ApiSettings(home=tmp_path, trusted_witnesses=[operator_vkey])


def test_documented_in_openapi(server: httpx.Client) -> None:
    paths = server.get("/openapi.json").json()["paths"]
    operation = paths["/v1/checkpoint/cosignatures"]["post"]
    assert "text/plain" in operation["requestBody"]["content"]
    assert {"201", "200", "403", "409", "422"} <= set(operation["responses"])


def test_openapi_example_is_a_real_cosigned_checkpoint() -> None:
    from api.routes.cosignatures import EXAMPLE_COSIGNED, EXAMPLE_WITNESS_VKEY
    from api.schemas import EXAMPLE_LEDGER
    from ledger.note import CosignatureVerifier, Ed25519Verifier, verify_cosignatures

    signed = open_checkpoint(
        EXAMPLE_COSIGNED, Ed25519Verifier.from_vkey(str(EXAMPLE_LEDGER["vkey"]))
    )
    witness = CosignatureVerifier.from_vkey(EXAMPLE_WITNESS_VKEY)
    assert verify_cosignatures(signed, [witness], required=1) == [witness.name]
