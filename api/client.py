"""The FairLedger client SDK: sign statements, submit them, keep and check receipts.

Two halves, as in python-tuf: ``Author`` does no I/O (it builds and signs statements with a
participant key), and ``FairLedgerClient`` talks HTTP (``httpx``) and checks everything the
server returns that can be checked:

* every receipt is verified on arrival against the operator's verifier key: the checkpoint's
  signature and the inclusion proof (``Receipt.verify``); a bad receipt raises a
  ``VerificationError``. Pin the key (``operator_vkey=``, as printed by ``fairledger init``);
  without a pin it is fetched once from ``GET /v1/ledger`` and trusted on first use;
* records are checked against the entry hash served with them, checkpoints against the
  operator key, and ``prove_record`` checks a record's inclusion in the latest checkpoint.

Errors answered by the server become ``ApiError`` (a ``LedgerError``) carrying the RFC 9457
problem document; its ``code`` is the problem's code (``bad-signature``, ``not-found``...).

Example (a supplier records a delivery)::

    farm = Author.load("farm-a", Path("keys/farm-a.pem"), ledger=origin)
    with FairLedgerClient("https://ledger.example.coop", operator_vkey=vkey) as api:
        receipt = api.submit(farm.trace_event({"type": "ObjectEvent", ...}))
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import httpx

from api.auth import RequestSigner
from api.schemas import ParticipantList, ParticipantPublic
from ledger import merkle
from ledger.canonical import JSONObject, JSONValue, parse_json
from ledger.errors import (
    CanonicalizationError,
    InclusionProofError,
    LedgerError,
    MalformedError,
)
from ledger.keys import PrivateKey, PublicKey, load_private_key
from ledger.log import MAX_BATCH
from ledger.note import Ed25519Verifier, SignedCheckpoint, open_checkpoint
from ledger.receipt import Receipt
from ledger.state import Kind
from ledger.statement import Record, Statement, Submission, prove_possession, sign_statement

__all__ = [
    "ApiError",
    "Author",
    "FairLedgerClient",
    "LedgerInfo",
    "RecordPage",
    "RequestSigner",
    "registration_body",
]

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(UTC)


class ApiError(LedgerError):
    """The server refused a request (``problem`` is its RFC 9457 document and ``status`` the
    HTTP status) or could not be reached (``status`` 0)."""

    code = "api-error"

    def __init__(self, problem: dict[str, Any], *, status: int) -> None:
        detail = problem.get("detail") or problem.get("title") or f"HTTP {status}"
        found = problem.get("field")
        super().__init__(str(detail), field=found if isinstance(found, str) else None)
        self.problem = problem
        self.status = status
        code = problem.get("code")
        if not isinstance(code, str):
            code = str(problem.get("type", "")).rstrip("/").rsplit("/", 1)[-1] or "api-error"
        self.code = code
        index, seq = problem.get("index"), problem.get("seq")
        self.index = index if isinstance(index, int) else None
        self.seq = seq if isinstance(seq, int) else None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


# -- building statements (no I/O) ----------------------------------------------------------


def registration_body(
    ledger: str,
    participant: str,
    *,
    display_name: str,
    roles: Sequence[str],
    key: PrivateKey | None = None,
    public_key: PublicKey | None = None,
    proof_of_possession: str | None = None,
    gln: str | None = None,
) -> JSONObject:
    """The body of a ``participant.register`` statement. Give the new participant's ``key``
    (the proof of possession is made here) or its ``public_key`` and the
    ``proof_of_possession`` it made itself (``fairledger keygen --ledger``)."""
    if key is not None:
        public_key = key.public_key
        proof_of_possession = prove_possession(ledger, participant, key)
    if public_key is None or proof_of_possession is None:
        raise ValueError("give key, or public_key with proof_of_possession")
    body: JSONObject = {
        "participant": participant,
        "display_name": display_name,
        "roles": list(roles),
        "public_key": public_key.b64,
        "proof_of_possession": proof_of_possession,
    }
    if gln is not None:
        body["gln"] = gln
    return body


@dataclass(frozen=True)
class Author:
    """A participant that signs statements for one ledger with one key. No I/O."""

    participant: str
    key: PrivateKey = field(repr=False)
    ledger: str
    clock: Clock = field(default=_system_clock, repr=False, compare=False)

    @classmethod
    def load(
        cls,
        participant: str,
        path: Path,
        *,
        ledger: str,
        passphrase: bytes | None = None,
        clock: Clock = _system_clock,
    ) -> Author:
        """Read the participant's PKCS#8 PEM key file; raises ``MalformedKeyError``."""
        return cls(participant, load_private_key(path, passphrase), ledger, clock)

    @property
    def key_id(self) -> str:
        return self.key.public_key.key_id

    def with_key(self, key: PrivateKey) -> Author:
        """The same author signing with ``key`` (after a ``key.rotate`` was recorded)."""
        return replace(self, key=key)

    def request_signer(self) -> RequestSigner:
        """An RFC 9421 signer for HTTP requests made as this participant."""
        return RequestSigner(self.key, clock=self.clock)

    def statement(
        self,
        kind: str,
        body: JSONObject,
        *,
        nonce: str | None = None,
        issued_at: datetime | None = None,
    ) -> Submission:
        """Build and sign a statement of any kind (a random nonce unless given)."""
        statement = Statement.build(
            ledger=self.ledger,
            kind=kind,
            author=self.participant,
            key=self.key_id,
            nonce=nonce or secrets.token_hex(16),
            issued_at=issued_at or self.clock(),
            body=body,
        )
        return sign_statement(statement, self.key)

    def register(
        self,
        participant: str,
        *,
        display_name: str,
        roles: Sequence[str],
        key: PrivateKey | None = None,
        public_key: PublicKey | None = None,
        proof_of_possession: str | None = None,
        gln: str | None = None,
        nonce: str | None = None,
    ) -> Submission:
        """``participant.register`` (the operator registers a participant and its key)."""
        body = registration_body(
            self.ledger,
            participant,
            display_name=display_name,
            roles=roles,
            key=key,
            public_key=public_key,
            proof_of_possession=proof_of_possession,
            gln=gln,
        )
        return self.statement(Kind.REGISTER, body, nonce=nonce)

    def rotate_key(self, new_key: PrivateKey, *, nonce: str | None = None) -> Submission:
        """``key.rotate`` to ``new_key``, signed by the current key, with the new key's proof
        of possession. Once recorded, sign with ``with_key(new_key)``."""
        body: JSONObject = {
            "new_public_key": new_key.public_key.b64,
            "proof_of_possession": prove_possession(self.ledger, self.participant, new_key),
        }
        return self.statement(Kind.KEY_ROTATE, body, nonce=nonce)

    def revoke_key(
        self,
        key_id: str,
        *,
        reason: str,
        participant: str | None = None,
        nonce: str | None = None,
    ) -> Submission:
        """``key.revoke`` of ``key_id`` (of ``participant``, default this author; the
        operator may revoke anyone's key)."""
        body: JSONObject = {
            "participant": participant or self.participant,
            "key": key_id,
            "reason": reason,
        }
        return self.statement(Kind.KEY_REVOKE, body, nonce=nonce)

    def trace_event(self, event: JSONObject, *, nonce: str | None = None) -> Submission:
        """``trace.event`` carrying one EPCIS 2.0 event as ``{"event": event}``."""
        return self.statement(Kind.TRACE_EVENT, {"event": event}, nonce=nonce)


# -- talking to the server -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerInfo:
    origin: str
    operator: str
    vkey: str
    public_key: str
    size: int
    checkpoint: str


@dataclass(frozen=True, slots=True)
class RecordPage:
    records: list[Record]
    next: int | None


def _string(value: JSONValue, name: str) -> str:
    if not isinstance(value, str):
        raise MalformedError(f"server sent a non-string {name}")
    return value


def _integer(value: JSONValue, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedError(f"server sent a non-integer {name}")
    return value


def _object(value: JSONValue, what: str) -> JSONObject:
    if not isinstance(value, dict):
        raise MalformedError(f"server sent {what} that is not a JSON object")
    return value


def _hashes(value: JSONValue) -> list[bytes]:
    if not isinstance(value, list):
        raise MalformedError("server sent a proof that is not a list")
    try:
        hashes = [bytes.fromhex(_string(h, "hash")) for h in value]
    except ValueError as exc:
        raise MalformedError("server sent a proof hash that is not hex") from exc
    if any(len(h) != 32 for h in hashes):
        raise MalformedError("server sent a proof hash that is not 32 bytes")
    return hashes


class FairLedgerClient:
    """A typed client for one FairLedger server.

    ``transport`` replaces the network (e.g. ``httpx.MockTransport``); ``http`` is an
    already configured ``httpx.Client`` to use instead (e.g. FastAPI's ``TestClient``).
    ``operator_vkey`` pins the operator's key; prefer it to trust on first use.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        operator_vkey: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._owns_http = http is None
        self._http = http or httpx.Client(base_url=base_url, transport=transport, timeout=timeout)
        self._verifier = Ed25519Verifier.from_vkey(operator_vkey) if operator_vkey else None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> FairLedgerClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, int | str] | None = None,
        body: bytes | None = None,
        signer: RequestSigner | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = self._http.build_request(
            method, path, params=params, content=body, headers=headers
        )
        if signer is not None:
            signer.sign(request)
        try:
            response = self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise ApiError(
                {"code": "unreachable", "title": "Server unreachable", "detail": str(exc)},
                status=0,
            ) from exc
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            raise ApiError(self._problem(response), status=response.status_code)
        return response

    @staticmethod
    def _problem(response: httpx.Response) -> dict[str, Any]:
        try:
            value = parse_json(response.content)
        except CanonicalizationError:
            value = None
        if isinstance(value, dict):
            return dict(value)
        return {"title": response.reason_phrase, "detail": response.text[:500]}

    def _json(self, method: str, path: str, **kwargs: Any) -> JSONObject:
        response = self._send(method, path, **kwargs)
        try:
            return _object(parse_json(response.content), f"{method} {path}")
        except CanonicalizationError as exc:
            raise MalformedError(f"server sent invalid JSON: {exc.message}") from exc

    # -- the ledger and its operator key ---------------------------------------------------

    def ledger_info(self) -> LedgerInfo:
        """``GET /v1/ledger``: origin, operator, vkey, size, latest checkpoint (unchecked)."""
        data = self._json("GET", "/v1/ledger")
        return LedgerInfo(
            origin=_string(data.get("origin"), "origin"),
            operator=_string(data.get("operator"), "operator"),
            vkey=_string(data.get("vkey"), "vkey"),
            public_key=_string(data.get("public_key"), "public_key"),
            size=_integer(data.get("size"), "size"),
            checkpoint=_string(data.get("checkpoint"), "checkpoint"),
        )

    @property
    def verifier(self) -> Ed25519Verifier:
        """The operator's verifier: pinned, or fetched once from ``/v1/ledger``."""
        if self._verifier is None:
            self._verifier = Ed25519Verifier.from_vkey(self.ledger_info().vkey)
        return self._verifier

    def checkpoint(self) -> SignedCheckpoint:
        """The latest checkpoint, its operator signature verified."""
        return open_checkpoint(self._send("GET", "/v1/checkpoint").text, self.verifier)

    # -- appending -------------------------------------------------------------------------

    def submit(self, submission: Submission, *, confirm: bool = False) -> Receipt:
        """Submit one signed statement and return its verified receipt (the original one for
        a replay). With ``confirm``, also fetch the record and check it holds exactly this
        signed statement and hashes to the receipt's entry hash."""
        data = self._json("POST", "/v1/statements", body=_submission_bytes(submission))
        receipt = Receipt.from_json(data)
        self.verify_receipt(receipt)
        if confirm:
            self._confirm(submission, receipt)
        return receipt

    def submit_batch(self, submissions: Sequence[Submission]) -> list[Receipt]:
        """Submit up to 1000 statements all-or-nothing; every receipt is verified.

        Raises ``ApiError`` (with ``index`` naming the refused submission) if any is refused.
        """
        if not 1 <= len(submissions) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} submissions")
        body = b'{"submissions":[' + b",".join(_submission_bytes(s) for s in submissions) + b"]}"
        data = self._json("POST", "/v1/statements/batch", body=body)
        items = data.get("receipts")
        if not isinstance(items, list) or len(items) != len(submissions):
            raise MalformedError("server sent a batch answer without one receipt per submission")
        receipts = [Receipt.from_json(item) for item in items]
        for receipt in receipts:
            self.verify_receipt(receipt)
        return receipts

    def verify_receipt(self, receipt: Receipt, *, record: Record | None = None) -> SignedCheckpoint:
        """Check a receipt against the operator key (and, if given, that ``record`` is the
        record it is for). Raises ``VerificationError`` subclasses on a bad receipt."""
        return receipt.verify(self.verifier, leaf=None if record is None else record.leaf)

    def _confirm(self, submission: Submission, receipt: Receipt) -> None:
        record = self.record(receipt.seq)
        if (
            record.statement.canonical != submission.statement.canonical
            or record.signature != submission.signature
        ):
            raise InclusionProofError(
                "the record at the receipt's seq is not the submitted statement",
                seq=receipt.seq,
                expected=submission.statement.nonce,
                observed=record.statement.nonce,
            )
        self.verify_receipt(receipt, record=record)

    # -- reading ---------------------------------------------------------------------------

    def record(self, seq: int) -> Record:
        """Record ``seq``, checked against the entry hash served with it."""
        return _record(self._json("GET", f"/v1/records/{seq}"), seq)

    def records(self, start: int = 0, limit: int = 100) -> RecordPage:
        """One page of records from ``start``; ``next`` is the following page's start."""
        data = self._json("GET", "/v1/records", params={"start": start, "limit": limit})
        items = data.get("records")
        if not isinstance(items, list):
            raise MalformedError("server sent a record page without records")
        following = data.get("next")
        records = [_record(_object(item, "a record"), None) for item in items]
        return RecordPage(records, None if following is None else _integer(following, "next"))

    def iter_records(self, start: int = 0, *, page: int = 1000) -> Iterator[Record]:
        """Every record from ``start`` on, a page per request."""
        cursor: int | None = start
        while cursor is not None:
            found = self.records(cursor, page)
            yield from found.records
            cursor = found.next

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        data = self._json("GET", "/v1/proofs/inclusion", params={"seq": seq, "size": size})
        return _hashes(data.get("proof"))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        data = self._json("GET", "/v1/proofs/consistency", params={"old": old, "new": new})
        return _hashes(data.get("proof"))

    def prove_record(self, seq: int) -> tuple[Record, SignedCheckpoint]:
        """Fetch record ``seq`` and prove it is in the latest signed checkpoint.

        Raises ``InclusionProofError`` if the proof does not lead to the checkpoint's root.
        """
        record = self.record(seq)
        signed = self.checkpoint()
        cp = signed.checkpoint
        proof = self.inclusion_proof(seq, cp.size)
        merkle.verify_inclusion(record.entry_hash, seq, cp.size, proof, cp.root)
        return record, signed

    def check_consistency(self, old: SignedCheckpoint, new: SignedCheckpoint) -> None:
        """Prove ``new`` extends ``old`` (both already verified); raises
        ``ConsistencyProofError`` for a rewritten or forked history."""
        a, b = old.checkpoint, new.checkpoint
        proof = self.consistency_proof(a.size, b.size)
        merkle.verify_consistency(a.size, b.size, a.root, b.root, proof)

    def participant(self, participant: str) -> ParticipantPublic:
        return ParticipantPublic.model_validate(
            self._json("GET", f"/v1/participants/{participant}")
        )

    def participants(self, *, page: int = 1000) -> list[ParticipantPublic]:
        """Every participant, in id order."""
        found: list[ParticipantPublic] = []
        cursor: str | None = None
        while True:
            params: dict[str, int | str] = {"limit": page}
            if cursor is not None:
                params["cursor"] = cursor
            batch = ParticipantList.model_validate(
                self._json("GET", "/v1/participants", params=params)
            )
            found.extend(batch.participants)
            if batch.next is None:
                return found
            cursor = batch.next

    def export(self, signer: RequestSigner, out: BinaryIO) -> int:
        """Stream ``GET /v1/export`` (signed as ``signer``: an auditor or the operator) into
        ``out``; returns the number of bytes written."""
        response = self._send("GET", "/v1/export", signer=signer, stream=True)
        written = 0
        try:
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
        finally:
            response.close()
        return written


def _submission_bytes(submission: Submission) -> bytes:
    """The submission as JSON whose statement is its exact canonical bytes."""
    signature = submission.to_json()["signature"]
    assert isinstance(signature, str)
    return (
        b'{"signature":"'
        + signature.encode("ascii")
        + b'","statement":'
        + submission.statement.canonical
        + b"}"
    )


def _record(data: JSONObject, seq: int | None) -> Record:
    record = Record.from_json(data.get("record"))
    entry = _string(data.get("entry_hash"), "entry_hash")
    if seq is not None and record.seq != seq:
        raise MalformedError(f"asked for record {seq}, the server sent record {record.seq}")
    if record.entry_hash.hex() != entry:
        raise InclusionProofError(
            "record does not hash to the entry hash served with it",
            seq=record.seq,
            expected=entry,
            observed=record.entry_hash.hex(),
        )
    return record
