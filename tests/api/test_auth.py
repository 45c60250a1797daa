"""RFC 9421 request signatures: the authorization matrix of ``GET /v1/export`` and every way
a signature is refused. The server's clock and the signer's are the chain's clock."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import count
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from http_message_signatures import HTTPMessageSigner
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.auth import NonceCache, SignedParticipant
from api.problems import PROBLEM_BASE, BusyError
from api.routes.deps import get_now
from api.signing import SIGNED_COMPONENTS, Ed25519Algorithm, RequestSigner, _OneKey
from ledger.canonical import JSONObject
from ledger.export import FORMAT, read_header
from ledger.keys import PrivateKey
from ledger.state import Kind
from ledger.statement import prove_possession
from ledger.verify import audit_export
from tests.factory import ORIGIN, T0, Chain, key_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def make_app(chain: Chain, home: Path, *, replay_cache_size: int = 100_000) -> FastAPI:
    settings = ApiSettings(home=home, replay_cache_size=replay_cache_size)
    app = create_app(settings, ledger=chain.ledger)
    app.dependency_overrides[get_now] = lambda: chain.clock

    @app.post("/test/signed-echo")
    async def signed_echo(signer: SignedParticipant) -> dict[str, str]:
        """Echo the signer (a body-carrying route to test content-digest)."""
        return {"participant": signer.participant}

    return app


@pytest.fixture
def app(chain: Chain, tmp_path: Path) -> FastAPI:
    return make_app(chain, tmp_path)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


_nonces = count(1)


def signer_for(
    chain: Chain, who: str, *, key: PrivateKey | None = None, skew: int = 0
) -> RequestSigner:
    return RequestSigner(
        key or chain.keys[who],
        clock=lambda: chain.clock + timedelta(seconds=skew),
        nonce=lambda: f"nonce-{next(_nonces):06d}",
    )


def signed_get(
    client: TestClient, signer: RequestSigner, path: str = "/v1/export"
) -> httpx.Response:
    request = client.build_request("GET", path)
    signer.sign(request)
    response: httpx.Response = client.send(request)
    return response


def assert_401(response: httpx.Response, code: str, because: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc = response.json()
    assert doc["type"] == PROBLEM_BASE + code
    assert because in doc["detail"]
    assert "ed25519" in response.headers["accept-signature"]


# -- the matrix --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["auditor", "operator"])
def test_auditor_and_operator_may_export(
    who: str, chain: Chain, client: TestClient, tmp_path: Path
) -> None:
    chain.ledger.append(chain.sale("mill", 3), now=chain.tick())
    response = signed_get(client, signer_for(chain, who))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/jsonl"
    lines = response.content.splitlines()
    header = read_header(lines[0])
    assert header["format"] == FORMAT
    assert header["size"] == chain.ledger.size == 7
    path = tmp_path / "export.jsonl"
    path.write_bytes(response.content)
    report = audit_export(path, operator_vkey=chain.ledger.verifier.vkey, parallel=False)
    assert report.ok, report.findings
    assert report.records_checked == 7


@pytest.mark.parametrize("who", ["farm-a", "mill"])
def test_suppliers_and_buyers_are_403(who: str, chain: Chain, client: TestClient) -> None:
    response = signed_get(client, signer_for(chain, who))
    assert response.status_code == 403
    doc = response.json()
    assert doc["type"] == PROBLEM_BASE + "forbidden"
    assert who in doc["detail"]


def test_unsigned_is_401(client: TestClient) -> None:
    assert_401(client.get("/v1/export"), "request-signature-missing")


def test_bad_signature_is_401(chain: Chain, client: TestClient) -> None:
    request = client.build_request("GET", "/v1/export")
    signer_for(chain, "auditor").sign(request)
    label, _, value = request.headers["signature"].partition("=:")
    flipped = ("A" if value[0] != "A" else "B") + value[1:]
    request.headers["signature"] = f"{label}=:{flipped}"
    assert_401(client.send(request), "request-signature-invalid", "does not verify")


def test_signature_by_another_key_under_the_auditors_keyid_is_401(
    chain: Chain, client: TestClient
) -> None:
    forger = PrivateKey.from_seed(b"f" * 32)
    signer = signer_for(chain, "auditor", key=forger)
    signer.key_id = chain.keys["auditor"].public_key.key_id
    assert_401(signed_get(client, signer), "request-signature-invalid", "does not verify")


def test_signature_for_another_path_is_401(chain: Chain, client: TestClient) -> None:
    other = client.build_request("GET", "/v1/ledger")
    signer_for(chain, "auditor").sign(other)
    request = client.build_request("GET", "/v1/export")
    for name in ("signature", "signature-input"):
        request.headers[name] = other.headers[name]
    assert_401(client.send(request), "request-signature-invalid")


@pytest.mark.parametrize("skew", [-301, -3600, 31, 3600])
def test_stale_or_future_created_is_401(skew: int, chain: Chain, client: TestClient) -> None:
    assert_401(
        signed_get(client, signer_for(chain, "auditor", skew=skew)), "request-signature-stale"
    )


@pytest.mark.parametrize("skew", [-300, -1, 30])
def test_created_inside_the_window_is_accepted(skew: int, chain: Chain, client: TestClient) -> None:
    assert signed_get(client, signer_for(chain, "auditor", skew=skew)).status_code == 200


def test_replayed_nonce_is_401(chain: Chain, client: TestClient) -> None:
    request = client.build_request("GET", "/v1/export")
    signer_for(chain, "auditor").sign(request)
    first = client.send(request)
    assert first.status_code == 200
    again = client.build_request("GET", "/v1/export", headers=dict(request.headers))
    assert_401(client.send(again), "request-signature-replayed")


def test_same_nonce_with_another_key_is_not_a_replay(chain: Chain, client: TestClient) -> None:
    def fixed() -> str:
        return "shared-nonce-1"

    auditor = RequestSigner(chain.keys["auditor"], clock=lambda: chain.clock, nonce=fixed)
    operator = RequestSigner(chain.operator, clock=lambda: chain.clock, nonce=fixed)
    assert signed_get(client, auditor).status_code == 200
    assert signed_get(client, operator).status_code == 200


@pytest.mark.parametrize("how", ["revoked", "rotated"])
def test_retired_key_is_401(how: str, chain: Chain, client: TestClient) -> None:
    old = chain.keys["auditor"]
    if how == "revoked":
        body: JSONObject = {
            "participant": "auditor",
            "key": old.public_key.key_id,
            "reason": "lost laptop",
        }
        chain.ledger.submit(chain.statement("operator", Kind.KEY_REVOKE, body), now=chain.tick())
    else:
        new = key_for("auditor-2")
        body = {
            "new_public_key": new.public_key.b64,
            "proof_of_possession": prove_possession(ORIGIN, "auditor", new),
        }
        chain.ledger.submit(chain.statement("auditor", Kind.KEY_ROTATE, body), now=chain.tick())
        assert signed_get(client, signer_for(chain, "auditor", key=new)).status_code == 200
    assert_401(signed_get(client, signer_for(chain, "auditor", key=old)), "request-key-not-active")


def test_unregistered_key_is_401(chain: Chain, client: TestClient) -> None:
    stranger = signer_for(chain, "x", key=PrivateKey.from_seed(b"x" * 32))
    assert_401(signed_get(client, stranger), "request-key-unknown")


# -- what a signature must contain ---------------------------------------------------------


def _sign_raw(
    chain: Chain,
    client: TestClient,
    *,
    components: tuple[str, ...] = SIGNED_COMPONENTS,
    nonce: str | None = "raw-nonce-0001",
    include_created: bool = True,
) -> httpx.Response:
    key = chain.keys["auditor"]
    request = client.build_request("GET", "/v1/export")
    signer = HTTPMessageSigner(signature_algorithm=Ed25519Algorithm, key_resolver=_OneKey(key))
    signer.sign(
        request,
        key_id=key.public_key.key_id,
        created=chain.clock,
        nonce=nonce,
        covered_component_ids=components,
    )
    if not include_created:
        request.headers["signature-input"] = request.headers["signature-input"].replace(
            f";created={int(chain.clock.timestamp())}", ""
        )
    response: httpx.Response = client.send(request)
    return response


def test_raw_signature_with_every_part_is_accepted(chain: Chain, client: TestClient) -> None:
    assert _sign_raw(chain, client).status_code == 200


def test_signature_without_nonce_is_401(chain: Chain, client: TestClient) -> None:
    assert_401(_sign_raw(chain, client, nonce=None), "request-signature-invalid", "nonce")


def test_signature_with_a_short_nonce_is_401(chain: Chain, client: TestClient) -> None:
    assert_401(_sign_raw(chain, client, nonce="abc"), "request-signature-invalid", "nonce")


def test_signature_without_created_is_401(chain: Chain, client: TestClient) -> None:
    assert_401(_sign_raw(chain, client, include_created=False), "request-signature-stale")


@pytest.mark.parametrize("missing", ["@method", "@path", "@query"])
def test_signature_must_cover_method_path_and_query(
    missing: str, chain: Chain, client: TestClient
) -> None:
    components = tuple(c for c in SIGNED_COMPONENTS if c != missing)
    response = _sign_raw(chain, client, components=components)
    assert_401(response, "request-signature-invalid", missing)


def test_signature_covering_target_uri_too_is_accepted(chain: Chain, client: TestClient) -> None:
    components = (*SIGNED_COMPONENTS, "@target-uri")
    assert _sign_raw(chain, client, components=components).status_code == 200


@pytest.mark.parametrize(
    "mangle",
    [
        lambda v: v.replace('alg="ed25519"', 'alg="hmac-sha256"'),
        lambda v: v + ';foo="bar"',
        lambda v: "garbage(",
    ],
    ids=["other-algorithm", "unknown-parameter", "unparseable"],
)
def test_malformed_signature_input_is_401(
    mangle: Callable[[str], str], chain: Chain, client: TestClient
) -> None:
    request = client.build_request("GET", "/v1/export")
    signer_for(chain, "auditor").sign(request)
    request.headers["signature-input"] = mangle(request.headers["signature-input"])
    assert_401(client.send(request), "request-signature-invalid")


# -- bodies --------------------------------------------------------------------------------


def test_body_is_bound_by_content_digest(chain: Chain, client: TestClient) -> None:
    request = client.build_request(
        "POST",
        "/test/signed-echo",
        content=b'{"a": 1}',
        headers={"Content-Type": "application/json"},
    )
    signer_for(chain, "mill").sign(request)
    assert "content-digest" in request.headers["signature-input"]
    response = client.send(request)
    assert response.json() == {"participant": "mill"}

    tampered = client.build_request(
        "POST", "/test/signed-echo", content=b'{"a": 2}', headers=dict(request.headers)
    )
    assert_401(client.send(tampered), "request-signature-invalid", "Content-Digest")


def test_body_without_a_signed_digest_is_401(chain: Chain, client: TestClient) -> None:
    key = chain.keys["mill"]
    request = client.build_request("POST", "/test/signed-echo", content=b"{}")
    HTTPMessageSigner(signature_algorithm=Ed25519Algorithm, key_resolver=_OneKey(key)).sign(
        request,
        key_id=key.public_key.key_id,
        created=chain.clock,
        nonce="no-digest-0001",
        covered_component_ids=SIGNED_COMPONENTS,
    )
    assert_401(client.send(request), "request-signature-invalid", "Content-Digest")


# -- the replay cache ----------------------------------------------------------------------


def test_full_replay_cache_refuses_with_503(chain: Chain, tmp_path: Path) -> None:
    with TestClient(make_app(chain, tmp_path, replay_cache_size=2)) as client:
        for _ in range(2):
            assert signed_get(client, signer_for(chain, "auditor")).status_code == 200
        response = signed_get(client, signer_for(chain, "auditor"))
        assert response.status_code == 503
        assert response.json()["type"] == PROBLEM_BASE + "busy"
        assert response.headers["retry-after"] == "1"
        chain.tick(400)  # the remembered nonces can no longer be replayed: they are dropped
        assert signed_get(client, signer_for(chain, "auditor")).status_code == 200


def test_nonce_cache_forgets_only_after_the_window() -> None:
    cache = NonceCache(capacity=3)
    keep = timedelta(seconds=330)
    assert cache.add("k", "n1", now=T0, keep=keep)
    assert not cache.add("k", "n1", now=T0 + timedelta(seconds=329), keep=keep)
    assert cache.add("k2", "n1", now=T0, keep=keep)
    assert cache.add("k", "n2", now=T0, keep=keep)
    with pytest.raises(BusyError):
        cache.add("k", "n3", now=T0, keep=keep)
    assert cache.add("k", "n1", now=T0 + keep, keep=keep)
    assert len(cache) == 1


def test_export_streams_a_large_ledger(chain: Chain, client: TestClient) -> None:
    for _ in range(3):
        chain.ledger.append(chain.sale("mill", 1000), now=chain.tick())
    response = signed_get(client, signer_for(chain, "auditor"))
    out = io.BytesIO(response.content)
    lines = out.getvalue().splitlines()
    assert read_header(lines[0])["size"] == 3004
    assert sum(line.startswith(b'{"entry_hash":') for line in lines) == 3004
