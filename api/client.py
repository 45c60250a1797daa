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

import hashlib
import json
import queue
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import httpx

from api.schemas import ParticipantList, ParticipantPublic
from api.schemas_contracts import (
    ContractList,
    ContractPublic,
    ContractSummary,
    FairnessPublic,
    PaymentsAuditPublic,
    SettlementList,
)
from api.schemas_trace import ProvenancePublic
from api.signing import RequestSigner
from ledger import merkle
from ledger.canonical import JSONObject, JSONValue, canonical_bytes, parse_json
from ledger.errors import (
    CanonicalizationError,
    InclusionProofError,
    LedgerError,
    MalformedError,
)
from ledger.keys import PrivateKey, PublicKey, load_private_key
from ledger.log import MAX_BATCH
from ledger.note import (
    Checkpoint,
    CosignatureVerifier,
    Ed25519Verifier,
    SignedCheckpoint,
    open_checkpoint,
    parse_note,
    verify_cosignatures,
)
from ledger.receipt import Receipt
from ledger.state import Kind
from ledger.statement import Record, Statement, Submission, prove_possession, sign_statement
from ledger.verify import RecordSource

__all__ = [
    "ApiError",
    "Author",
    "CosignatureReceipt",
    "FairLedgerClient",
    "LedgerInfo",
    "RecordPage",
    "RequestSigner",
    "registration_body",
    "split_record_page",
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


@dataclass(frozen=True, slots=True)
class CosignatureReceipt:
    """The server's answer to a cosignature: the checkpoint size, the witnesses whose
    cosignatures it now holds (``stored`` now, ``already_stored`` before), and the checkpoint
    with every cosignature it holds."""

    size: int
    stored: list[str]
    already_stored: list[str]
    checkpoint: str


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
        content_type: str = "application/json",
    ) -> httpx.Response:
        headers = {"Content-Type": content_type} if body is not None else {}
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

    def checkpoint_text(self) -> str:
        """``GET /v1/checkpoint`` as served (a signed note with its cosignatures), unchecked."""
        return self._send("GET", "/v1/checkpoint").text

    def checkpoint(
        self, *, require_witnesses: Sequence[str] = (), k: int | None = None
    ) -> SignedCheckpoint:
        """The latest checkpoint, its operator signature verified.

        With ``require_witnesses`` (cosignature/v1 vkeys of witnesses you trust), at least
        ``k`` of them (default: all) must have validly cosigned it: raises
        ``CheckpointError`` if fewer did and ``SignatureError`` if a cosignature by one of
        them does not verify; ``MalformedKeyError`` for a vkey that is not a witness key.
        """
        signed = open_checkpoint(self.checkpoint_text(), self.verifier)
        if require_witnesses:
            witnesses = [CosignatureVerifier.from_vkey(v) for v in require_witnesses]
            required = len(witnesses) if k is None else k
            if not 0 <= required <= len(witnesses):
                raise ValueError(f"k must be in 0..{len(witnesses)}, got {required}")
            verify_cosignatures(signed, witnesses, required=required)
        elif k:
            raise ValueError("k witnesses required but no witness keys given")
        return signed

    def submit_cosignature(self, cosigned: str, *, size: int | None = None) -> CosignatureReceipt:
        """``POST /v1/checkpoint/cosignatures``: a cosigned checkpoint note (the checkpoint
        as the ledger signed it plus cosignature lines), or bare cosignature lines with the
        ``size`` of the checkpoint they sign. Raises ``ApiError`` if the server refuses."""
        params: dict[str, int | str] | None = None if size is None else {"size": size}
        data = self._json(
            "POST",
            "/v1/checkpoint/cosignatures",
            params=params,
            body=cosigned.encode("utf-8"),
            content_type="text/plain; charset=utf-8",
        )
        stored, already = data.get("stored"), data.get("already_stored")
        if not isinstance(stored, list) or not isinstance(already, list):
            raise MalformedError("server sent a cosignature answer without witness lists")
        return CosignatureReceipt(
            size=_integer(data.get("size"), "size"),
            stored=[_string(n, "witness") for n in stored],
            already_stored=[_string(n, "witness") for n in already],
            checkpoint=_string(data.get("checkpoint"), "checkpoint"),
        )

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

    def served_entry_hash(self, seq: int) -> bytes:
        """The leaf hash of the record bytes the server serves at ``seq``, whatever seq or
        entry hash it claims for them (for evidence: what the ledger holds there)."""
        data = self._json("GET", f"/v1/records/{seq}")
        return Record.from_json(data.get("record")).entry_hash

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

    def record_pages(self, start: int, end: int, *, page: int = 1000) -> Iterator[list[RawRecord]]:
        """Records ``start..end-1`` as served, a page per request, each as
        ``(seq, leaf bytes, entry hash)`` exactly as sent (``split_record_page``): nothing is
        checked here, so an auditor sees what the server said. Stops early if the server
        has no more records."""
        cursor = start
        while cursor < end:
            body = self._send(
                "GET", "/v1/records", params={"start": cursor, "limit": min(page, end - cursor)}
            ).content
            items, _following = split_record_page(body)
            items = [item for item in items if item[0] < end]
            if not items:
                return
            yield items
            # A server that sends seqs out of order still moves the cursor forward.
            cursor = max(cursor + len(items), items[-1][0] + 1)

    def audit_source(self, start: int, checkpoint: str, *, prefetch: bool = False) -> RecordSource:
        """A ``ledger.verify`` source over this server: records ``start`` up to the size of
        ``checkpoint`` (a note as served, checked by the audit), and consistency proofs.

        With ``prefetch``, a background thread fetches the next pages while the audit checks
        the current one (use it with a network client, not one bound to an event loop in
        this thread). ``close()`` the source when done."""
        try:
            size = Checkpoint.from_body(parse_note(checkpoint).body).size
        except LedgerError as exc:
            raise MalformedError(f"server sent a checkpoint that does not parse: {exc}") from exc
        pages: Iterator[list[RawRecord]] = self.record_pages(start, size)
        stop = threading.Event()
        if prefetch:
            pages = _prefetched(pages, stop)

        def chunks() -> Iterator[list[tuple[int, bytes, bytes | None, bool]]]:
            for items in pages:
                yield [(seq, leaf, entry, False) for seq, leaf, entry in items]

        return RecordSource(
            None,
            size,
            chunks(),
            {size: checkpoint},
            start=start,
            consistency_proof=self.consistency_proof,
            close=stop.set,
            description=str(self._http.base_url),
        )

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

    def provenance(self, lot: str, *, signer: RequestSigner | None = None) -> ProvenancePublic:
        """``GET /v1/lots/provenance``: trace ``lot`` back (any GS1 lot syntax): every upstream
        lot with its share, holders, movements and the records proving each step. Raises
        ``ApiError`` (``unknown-lot``, ``malformed-identifier``...). ``signer`` when
        provenance is not public."""
        return ProvenancePublic.model_validate(
            self._json("GET", "/v1/lots/provenance", params={"lot": lot}, signer=signer)
        )

    def lot_bundle(self, lot: str, *, signer: RequestSigner | None = None) -> bytes:
        """``GET /v1/lots/bundle``: the offline proof bundle of ``lot``, as served; check it
        with ``ledger.bundle.verify_bundle``. ``signer`` when provenance is not public."""
        return self._send("GET", "/v1/lots/bundle", params={"lot": lot}, signer=signer).content

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

    # -- commercial reads (RFC 9421-signed) ------------------------------------------------

    def contracts(self, signer: RequestSigner, *, page: int = 100) -> list[ContractSummary]:
        """Every contract ``signer`` may see (``GET /v1/contracts``, all pages)."""
        found: list[ContractSummary] = []
        cursor: str | None = None
        while True:
            params: dict[str, int | str] = {"limit": page}
            if cursor is not None:
                params["cursor"] = cursor
            batch = ContractList.model_validate(
                self._json("GET", "/v1/contracts", params=params, signer=signer)
            )
            found.extend(batch.contracts)
            if batch.next is None:
                return found
            cursor = batch.next

    def contract(self, contract_id: str, signer: RequestSigner) -> ContractPublic:
        """``GET /v1/contracts/{id}``: versions, acceptances, state and obligations."""
        return ContractPublic.model_validate(
            self._json("GET", f"/v1/contracts/{contract_id}", signer=signer)
        )

    def settlements(self, contract_id: str, period: str, signer: RequestSigner) -> SettlementList:
        """``GET /v1/contracts/{id}/settlements?period=``: the recorded statements; each
        ``statement_hash`` is checked against the body received."""
        listed = SettlementList.model_validate(
            self._json(
                "GET",
                f"/v1/contracts/{contract_id}/settlements",
                params={"period": period},
                signer=signer,
            )
        )
        for item in listed.statements:
            digest = hashlib.sha256(canonical_bytes(item.statement)).hexdigest()
            if digest != item.statement_hash:
                raise MalformedError(
                    f"statement seq {item.seq}: served hash {item.statement_hash} does not "
                    f"match its body ({digest})"
                )
        return listed

    def payments_audit(
        self,
        signer: RequestSigner,
        *,
        period: str | None = None,
        participant: str | None = None,
        as_of: str | None = None,
    ) -> PaymentsAuditPublic:
        """``GET /v1/audit/payments`` (a non-auditor sees only its own rows)."""
        params = {
            name: value
            for name, value in (("period", period), ("participant", participant), ("as_of", as_of))
            if value is not None
        }
        return PaymentsAuditPublic.model_validate(
            self._json("GET", "/v1/audit/payments", params=params, signer=signer)
        )

    def fairness(
        self, signer: RequestSigner, *, period: str | None = None, participant: str | None = None
    ) -> FairnessPublic:
        """``GET /v1/audit/fairness``."""
        params = {
            name: value
            for name, value in (("period", period), ("participant", participant))
            if value is not None
        }
        return FairnessPublic.model_validate(
            self._json("GET", "/v1/audit/fairness", params=params, signer=signer)
        )


RawRecord = tuple[int, bytes, bytes]

_PAGE_HEAD = re.compile(rb'\{"next":(null|[0-9]+),"records":\[')
_ITEM_HEAD = re.compile(rb'\{"entry_hash":"([0-9a-f]{64})","record":')
_ITEM_TAIL = re.compile(rb',"seq":([0-9]+)\}')
_NEXT_ITEM = b',{"entry_hash":"'
#: Finds where a record object ends when the quick cut does not fit (see ``_split_fast``).
_SCANNER = json.JSONDecoder()


def _prefetched(
    pages: Iterator[list[RawRecord]], stop: threading.Event
) -> Iterator[list[RawRecord]]:
    """``pages``, fetched up to two ahead by a daemon thread; its errors are raised here, in
    order. Setting ``stop`` ends the thread at its next page."""
    ready: queue.Queue[list[RawRecord] | BaseException | None] = queue.Queue(maxsize=2)

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        ready.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, not swallowed
            ready.put(exc)

    threading.Thread(target=fetch, name="fairledger-prefetch", daemon=True).start()
    while True:
        item = ready.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def split_record_page(body: bytes) -> tuple[list[RawRecord], int | None]:
    """Split a ``GET /v1/records`` page into ``(seq, leaf bytes, entry hash)`` items and the
    next page's start, keeping each record's bytes exactly as the server sent them.

    Pages in the server's own layout are cut without re-encoding; anything else is parsed
    strictly and each record canonicalised. Raises ``MalformedError`` for a page that is not
    a record page. Nothing is verified here: the audit checks every leaf and hash.
    """
    head = _PAGE_HEAD.match(body)
    if head is not None and body.endswith(b"]}"):
        try:
            following = head.group(1)
            return _split_fast(body, head.end()), (None if following == b"null" else int(following))
        except (ValueError, RecursionError):
            pass  # not in the expected layout: take the careful path
    try:
        value = parse_json(body)
    except CanonicalizationError as exc:
        raise MalformedError(f"server sent an invalid record page: {exc.message}") from exc
    page = _object(value, "a record page")
    items = page.get("records")
    if not isinstance(items, list):
        raise MalformedError("server sent a record page without records")
    out: list[RawRecord] = []
    for item in items:
        entry = _object(item, "a record")
        try:
            leaf = canonical_bytes(entry.get("record"))
            digest = bytes.fromhex(_string(entry.get("entry_hash"), "entry_hash"))
        except (LedgerError, ValueError) as exc:
            raise MalformedError(f"server sent a malformed record: {exc}") from exc
        out.append((_integer(entry.get("seq"), "seq"), leaf, digest))
    following = page.get("next")
    return out, None if following is None else _integer(following, "next")


def _split_fast(body: bytes, pos: int) -> list[RawRecord]:
    """Items ``{"entry_hash":"<hex>","record":<leaf>,"seq":<n>}``, comma-separated, then
    ``]}``. Each leaf is first cut where the next item begins; the cut is kept only if the
    leaf hashes to the entry hash sent with it (a statement body may contain the separator
    text, and a dishonest server may send any hash), otherwise the leaf's end is found by
    scanning its JSON."""
    out: list[RawRecord] = []
    last = len(body) - 2  # where "]}" starts
    if pos == last:
        return out
    while True:
        head = _ITEM_HEAD.match(body, pos)
        if head is None:
            raise ValueError("not a record line")
        start = head.end()
        entry = bytes.fromhex(head.group(1).decode("ascii"))
        cut = body.find(_NEXT_ITEM, start)
        stop = last if cut < 0 else cut
        mark = body.rfind(b',"seq":', start, stop)
        tail = _ITEM_TAIL.fullmatch(body, mark, stop) if mark >= 0 else None
        if tail is not None and merkle.leaf_hash(body[start:mark]) == entry:
            leaf = body[start:mark]
        else:
            text = body[start:].decode("utf-8")
            _value, end = _SCANNER.raw_decode(text)
            leaf = text[:end].encode("utf-8")
            tail = _ITEM_TAIL.match(body, start + len(leaf))
            if tail is None:
                raise ValueError("not a record line")
            stop = tail.end()
        out.append((int(tail.group(1)), leaf, entry))
        pos = stop
        if pos == last:
            return out
        if body[pos : pos + 1] != b",":
            raise ValueError("not a record page")
        pos += 1


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
