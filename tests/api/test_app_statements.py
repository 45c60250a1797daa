"""``POST /v1/statements`` through the real app: receipts, replays, group commit, every
rejection as a problem document, and hostile bodies. Every refusal writes nothing."""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import Message, Scope

from api.app import ApiSettings, create_app
from api.problems import PROBLEM_BASE
from api.routes.deps import get_now
from ledger.keys import PrivateKey
from ledger.log import AppendResult
from ledger.note import open_checkpoint
from ledger.receipt import Receipt
from ledger.state import Kind
from ledger.statement import Submission
from ledger.storage.store import WriteTx
from tests.factory import Chain, key_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(chain: Chain, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ApiSettings(home=tmp_path, max_body_bytes=64 * 1024), ledger=chain.ledger)
    app.dependency_overrides[get_now] = lambda: chain.clock
    with TestClient(app) as c:
        yield c


def post(client: TestClient, body: bytes | str, **headers: str) -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    response: httpx.Response = client.post(
        "/v1/statements", content=data, headers={**JSON, **headers}
    )
    return response


def post_sub(client: TestClient, sub: Submission) -> httpx.Response:
    return post(client, json.dumps(sub.to_json()))


def assert_problem(
    response: httpx.Response, status: int, code: str, **extensions: object
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc: dict[str, Any] = response.json()
    assert doc["type"] == PROBLEM_BASE + code
    assert doc["code"] == code
    assert doc["status"] == status
    assert doc["title"]
    assert doc["detail"]
    for name, value in extensions.items():
        assert doc.get(name) == value, (name, doc)
    assert "Traceback" not in response.text
    assert "SELECT" not in response.text.upper()
    return doc


def test_submit_answers_201_with_a_verifying_receipt(chain: Chain, client: TestClient) -> None:
    sub = chain.statement("farm-a", Kind.TRACE_EVENT, {"event": {"type": "ObjectEvent"}})
    response = post_sub(client, sub)
    assert response.status_code == 201
    receipt = Receipt.from_json(response.json())
    assert response.headers["location"] == f"/v1/records/{receipt.seq}"
    record = chain.ledger.record(receipt.seq)
    assert record is not None
    assert record.submission == sub
    receipt.verify(chain.ledger.verifier, leaf=record.leaf)


def test_replay_answers_200_with_the_identical_receipt(chain: Chain, client: TestClient) -> None:
    [sub] = chain.sale("mill")
    first = post_sub(client, sub)
    size = chain.ledger.size
    chain.tick()
    again = post_sub(client, sub)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.content == first.content
    assert chain.ledger.size == size


def test_the_statement_is_stored_byte_for_byte_as_signed(chain: Chain, client: TestClient) -> None:
    # Keys out of order and extra whitespace: the signature covers the canonical form, and
    # the server must verify that, not a re-serialisation of its own.
    sub = chain.statement("farm-a", Kind.SALE_REPORT, {"z": "1", "a": ["é", "\u2028"]})
    doc = sub.to_json()
    body = json.dumps({"signature": doc["signature"], "statement": doc["statement"]}, indent=3)
    response = post(client, body)
    assert response.status_code == 201, response.text
    record = chain.ledger.record(response.json()["seq"])
    assert record is not None
    assert record.statement.canonical == sub.statement.canonical


# -- rejections ------------------------------------------------------------------------------


def _wrong_key(chain: Chain) -> Submission:
    return chain.statement("farm-a", Kind.SALE_REPORT, {}, key=chain.keys["mill"])


def _bad_signature(chain: Chain) -> Submission:
    good = chain.sale("farm-a")[0]
    return Submission(good.statement, bytes(64))


def _revoked(chain: Chain) -> Submission:
    key_id = chain.keys["farm-a"].public_key.key_id
    revoke = chain.statement(
        "farm-a",
        Kind.KEY_REVOKE,
        {"participant": "farm-a", "key": key_id, "reason": "laptop stolen"},
    )
    chain.ledger.submit(revoke, now=chain.tick())
    return chain.sale("farm-a")[0]


def _wrong_author(chain: Chain) -> Submission:
    body = chain.register_body("intruder", ["supplier"])
    return chain.statement("farm-a", Kind.REGISTER, body)


def _wrong_ledger(chain: Chain) -> Submission:
    return chain.statement("farm-a", Kind.SALE_REPORT, {}, ledger="other.example/ledger")


def _duplicate_nonce(chain: Chain) -> Submission:
    chain.ledger.submit(
        chain.statement("farm-a", Kind.SALE_REPORT, {"n": 1}, nonce="nonce-0001"),
        now=chain.tick(),
    )
    return chain.statement("farm-a", Kind.SALE_REPORT, {"n": 2}, nonce="nonce-0001")


def _conflict(chain: Chain) -> Submission:
    body = chain.register_body("mill", ["buyer"], key=key_for("mill-2"))
    return chain.statement("operator", Kind.REGISTER, body)


def _unknown_author(chain: Chain) -> Submission:
    return chain.statement("stranger", Kind.SALE_REPORT, {}, key=PrivateKey.from_seed(b"s" * 32))


def _bad_body(chain: Chain) -> Submission:
    return chain.statement("operator", Kind.REGISTER, {"participant": "x"})


REJECTIONS: dict[str, tuple[Callable[[Chain], Submission], int, str, str | None]] = {
    "bad-signature": (_bad_signature, 422, "bad-signature", "signature"),
    "key-of-someone-else": (_wrong_key, 422, "unknown-key", "statement.key"),
    "unregistered-author": (_unknown_author, 422, "unknown-key", "statement.key"),
    "revoked-key": (_revoked, 422, "key-not-active", "statement.key"),
    "author-may-not-sign-kind": (_wrong_author, 403, "wrong-author", "statement.kind"),
    "other-ledger": (_wrong_ledger, 422, "wrong-ledger", "statement.ledger"),
    "nonce-reused": (_duplicate_nonce, 409, "duplicate-nonce", "statement.nonce"),
    "participant-exists": (_conflict, 409, "conflict", "statement.body.participant"),
    "register-body-incomplete": (
        _bad_body,
        400,
        "malformed-statement",
        "statement.body.display_name",
    ),
}


@pytest.mark.parametrize("case", REJECTIONS, ids=list(REJECTIONS))
def test_rejection_is_a_problem_and_writes_nothing(
    case: str, chain: Chain, client: TestClient
) -> None:
    make, status, code, field = REJECTIONS[case]
    sub = make(chain)
    size = chain.ledger.size
    doc = assert_problem(post_sub(client, sub), status, code, field=field)
    assert doc["instance"] == "/v1/statements"
    assert chain.ledger.size == size


# -- hostile bodies --------------------------------------------------------------------------


def _valid(chain: Chain) -> dict[str, Any]:
    return chain.sale("farm-a")[0].to_json()


HOSTILE: dict[str, Callable[[Chain], bytes]] = {
    "not-json": lambda c: b"{not json",
    "empty": lambda c: b"",
    "array": lambda c: b"[]",
    "bad-utf8": lambda c: b'{"statement": "\xff\xfe", "signature": ""}',
    "duplicate-key": lambda c: json.dumps(_valid(c))[:-1].encode() + b', "signature": "x"}',
    "float-in-body": lambda c: (
        json.dumps(_valid(c)).replace('"quantity": "1"', '"q": 1.5').encode()
    ),
    "nan": lambda c: json.dumps(_valid(c)).replace('"quantity": "1"', '"q": NaN').encode(),
    "huge-int": lambda c: (
        json.dumps(_valid(c)).replace('"quantity": "1"', '"q": ' + "9" * 40).encode()
    ),
    "lone-surrogate": lambda c: (
        json.dumps(_valid(c)).replace('"quantity": "1"', '"q": "\\ud800"').encode()
    ),
    "unknown-submission-field": lambda c: json.dumps({**_valid(c), "extra": 1}).encode(),
    "unknown-statement-field": lambda c: json.dumps(
        {**_valid(c), "statement": {**_valid(c)["statement"], "extra": 1}}
    ).encode(),
    "missing-signature": lambda c: json.dumps({"statement": _valid(c)["statement"]}).encode(),
    "signature-not-base64": lambda c: json.dumps({**_valid(c), "signature": "!!"}).encode(),
    "statement-not-object": lambda c: b'{"statement": [], "signature": ""}',
    "deep-nesting": lambda c: b'{"statement": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "kind-wrong-type": lambda c: json.dumps(
        {**_valid(c), "statement": {**_valid(c)["statement"], "kind": 7}}
    ).encode(),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_body_is_refused_with_400(case: str, chain: Chain, client: TestClient) -> None:
    body = HOSTILE[case](chain)
    size = chain.ledger.size
    response = post(client, body)
    assert response.status_code == 400, response.text
    doc = response.json()
    assert doc["type"].startswith(PROBLEM_BASE)
    assert doc["code"] in {"malformed-statement", "not-canonical"}
    assert chain.ledger.size == size


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", ""],
)
def test_wrong_content_type_is_415(content_type: str, chain: Chain, client: TestClient) -> None:
    body = json.dumps(_valid(chain)).encode()
    size = chain.ledger.size
    response = client.post("/v1/statements", content=body, headers={"Content-Type": content_type})
    assert_problem(response, 415, "unsupported-media-type")
    assert chain.ledger.size == size


def test_json_with_utf8_charset_is_accepted(chain: Chain, client: TestClient) -> None:
    body = json.dumps(_valid(chain))
    response = post(client, body, **{"Content-Type": "application/json; charset=UTF-8"})
    assert response.status_code == 201


def test_oversize_body_with_content_length_is_413(chain: Chain, client: TestClient) -> None:
    size = chain.ledger.size
    response = post(client, b" " * (64 * 1024 + 1))
    assert_problem(response, 413, "payload-too-large")
    assert chain.ledger.size == size


def test_oversize_chunked_body_is_413(chain: Chain, client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b" " * 16384

    size = chain.ledger.size
    response = client.post("/v1/statements", content=chunks(), headers=JSON)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")
    assert chain.ledger.size == size


def test_body_limit_stops_reading_a_stream_at_the_limit(chain: Chain, tmp_path: Path) -> None:
    """At the ASGI level (the test client buffers bodies): a 16 MB chunked upload is cut
    off after the chunk that crosses the 64 KiB limit."""
    app = create_app(ApiSettings(home=tmp_path, max_body_bytes=64 * 1024), ledger=chain.ledger)
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b" " * 16384, "more_body": pulled < 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/statements",
        "raw_path": b"/v1/statements",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
    }
    size = chain.ledger.size
    anyio.run(app, scope, receive, send)
    assert pulled == 5
    assert sent[0]["status"] == 413
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:]))["code"] == (
        "payload-too-large"
    )
    assert chain.ledger.size == size


def test_body_at_the_limit_is_read(chain: Chain, client: TestClient) -> None:
    body = json.dumps(_valid(chain)).encode()
    padded = body + b" " * (64 * 1024 - len(body))
    assert post(client, padded).status_code == 201


# -- concurrency -----------------------------------------------------------------------------


def test_concurrent_posts_are_group_committed(chain: Chain, client: TestClient) -> None:
    """N requests from N threads: the first commit is held until every request has been
    queued (``ledger.submit_nowait``), so the others queue behind it and commit together."""
    ledger = chain.ledger
    n = 16
    subs = chain.sale("mill", n)
    entered = 0
    everyone_in = threading.Event()
    lock = threading.Lock()
    real_submit = ledger.submit_nowait
    real_write = ledger.store.write

    def counting_submit(
        sub: Submission, *, now: Any, done: Callable[[AppendResult | Exception], None]
    ) -> None:
        nonlocal entered
        real_submit(sub, now=now, done=done)
        with lock:
            entered += 1
            if entered == n:
                everyone_in.set()

    def held_write() -> AbstractContextManager[WriteTx]:
        assert everyone_in.wait(timeout=30), "requests did not arrive concurrently"
        return real_write()

    with ledger.store.read() as tx:
        checkpoints_before = len(tx.checkpoints())
    size = ledger.size
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ledger, "submit_nowait", counting_submit)
        mp.setattr(ledger.store, "write", held_write)
        with ThreadPoolExecutor(max_workers=n) as pool:
            responses = list(pool.map(lambda s: post_sub(client, s), subs))
    assert [r.status_code for r in responses] == [201] * n
    assert ledger.size == size + n
    with ledger.store.read() as tx:
        checkpoints_added = len(tx.checkpoints()) - checkpoints_before
    assert 1 <= checkpoints_added < n
    seqs = set()
    for response, sub in zip(responses, subs, strict=True):
        receipt = Receipt.from_json(response.json())
        record = ledger.record(receipt.seq)
        assert record is not None
        assert record.submission == sub
        receipt.verify(ledger.verifier, leaf=record.leaf)
        seqs.add(receipt.seq)
    assert seqs == set(range(size, size + n))
    latest = open_checkpoint(ledger.latest_checkpoint(), ledger.verifier)
    assert latest.checkpoint.size == size + n
