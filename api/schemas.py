"""Request and response shapes of the HTTP API, named by role (``XCreate``, ``XPublic``,
``XList``), with the OpenAPI examples every path documents.

These models document the wire format and build read responses. Signed documents are never
parsed through them: ``POST /v1/statements`` reads the raw body with ``Submission.parse`` so the
statement's exact JSON (what its signature covers) is never re-serialised.

The examples are real: a statement signed by a fixed example key, and a checkpoint signed by
a fixed example operator key, so a reader can check them with the library.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger import merkle
from ledger.canonical import JSONObject
from ledger.keys import PrivateKey
from ledger.log import MAX_BATCH
from ledger.note import Checkpoint, Ed25519Signer, sign_checkpoint
from ledger.receipt import Receipt
from ledger.state import Kind
from ledger.statement import Record, Statement, sign_statement

# -- examples ------------------------------------------------------------------------------

EXAMPLE_ORIGIN = "ledger.example.coop/grain"
_EXAMPLE_TIME = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _example_key(name: str) -> PrivateKey:
    seed = hashlib.sha256(b"fairledger-openapi-example:" + name.encode()).digest()
    return PrivateKey.from_seed(seed)


_OPERATOR_KEY = _example_key("operator")
_FARM_KEY = _example_key("farm-hillside")
_OPERATOR_SIGNER = Ed25519Signer(EXAMPLE_ORIGIN, _OPERATOR_KEY)

EXAMPLE_EVENT: JSONObject = {
    "event": {
        "type": "ObjectEvent",
        "eventID": "ni:///sha-256;8e1c5f0a5d4e3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a?ver=CBV2.0",
        "eventTime": "2026-11-22T09:55:00Z",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "quantityList": [
            {
                "epcClass": "urn:epc:class:lgtin:9506000.134352.WHEAT-2026-11",
                "quantity": "1200",
                "uom": "KGM",
            }
        ],
    }
}

EXAMPLE_SUBMISSION = sign_statement(
    Statement.build(
        ledger=EXAMPLE_ORIGIN,
        kind=Kind.TRACE_EVENT,
        author="farm-hillside",
        key=_FARM_KEY.public_key.key_id,
        nonce="ship-2026-11-22-0001",
        issued_at=_EXAMPLE_TIME,
        body=EXAMPLE_EVENT,
    ),
    _FARM_KEY,
)
EXAMPLE_SUBMISSION_JSON: JSONObject = EXAMPLE_SUBMISSION.to_json()

_EXAMPLE_RECORD = Record.create(
    12, hashlib.sha256(b"record 11").hexdigest(), "2026-11-22T10:00:01.123456Z", EXAMPLE_SUBMISSION
)
_EXAMPLE_LEAVES = [hashlib.sha256(b"leaf %d" % i).digest() for i in range(12)] + [
    _EXAMPLE_RECORD.entry_hash
]
_EXAMPLE_ROOT = merkle.root_of(_EXAMPLE_LEAVES)
EXAMPLE_CHECKPOINT = sign_checkpoint(
    Checkpoint(EXAMPLE_ORIGIN, len(_EXAMPLE_LEAVES), _EXAMPLE_ROOT), _OPERATOR_SIGNER
)


def _example_reader(wanted: Any) -> list[bytes]:
    out = []
    for level, index in wanted:
        start, end = index << level, (index + 1) << level
        out.append(merkle.root_of(_EXAMPLE_LEAVES[start:end]))
    return out


EXAMPLE_RECEIPT = Receipt(
    12,
    _EXAMPLE_RECORD.entry_hash,
    EXAMPLE_CHECKPOINT,
    tuple(merkle.inclusion_proof(12, 13, _example_reader)),
)
EXAMPLE_RECEIPT_JSON: JSONObject = EXAMPLE_RECEIPT.to_json()
EXAMPLE_RECORD_JSON: JSONObject = {
    "seq": 12,
    "entry_hash": _EXAMPLE_RECORD.entry_hash.hex(),
    "record": _EXAMPLE_RECORD.to_json(),
}
EXAMPLE_EXPORT = (
    '{"format":"fairledger-export/v1","origin":"ledger.example.coop/grain",'
    f'"size":13,"vkey":"{_OPERATOR_SIGNER.vkey}"}}\n'
    '{"entry_hash":"…","record":{…},"seq":0}\n'
    '{"checkpoint":"ledger.example.coop/grain\\n1\\n…","size":1}\n'
)


def _examples(*values: object) -> dict[str, Any]:
    return {"examples": list(values)}


# -- documentation models of signed documents ----------------------------------------------


class StatementDoc(BaseModel):
    """What an author signs (DESIGN §2). Shown for documentation: the API reads the raw
    bytes, and the statement's signature covers their RFC 8785 canonical form."""

    model_config = ConfigDict(extra="forbid", title="Statement")

    ledger: str = Field(description="Origin of the ledger this statement is for.")
    kind: str = Field(description="Statement kind, e.g. trace.event.", examples=["trace.event"])
    author: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,62}$")
    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="Key id: hex SHA-256 of the key.")
    nonce: str = Field(pattern=r"^[A-Za-z0-9._:~-]{8,64}$")
    issued_at: str = Field(description="RFC 3339 UTC, e.g. 2026-11-22T10:00:00Z.")
    body: dict[str, Any]


class SubmissionCreate(BaseModel):
    """A signed statement: Ed25519 over ``fairledger/statement/v1\\n`` + JCS(statement)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_examples(EXAMPLE_SUBMISSION_JSON))

    statement: StatementDoc
    signature: str = Field(description="Standard padded base64 of the 64-byte signature.")


class BatchCreate(BaseModel):
    """Up to 1000 submissions, appended all-or-nothing."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=_examples({"submissions": [EXAMPLE_SUBMISSION_JSON]})
    )

    submissions: list[SubmissionCreate] = Field(min_length=1, max_length=MAX_BATCH)


class RecordDoc(BaseModel):
    """One leaf of the log; its RFC 8785 bytes are the Merkle leaf."""

    model_config = ConfigDict(title="Record")

    seq: int
    prev: str
    recorded_at: str
    statement: StatementDoc
    signature: str


# -- responses -----------------------------------------------------------------------------


class ReceiptPublic(BaseModel):
    """Portable evidence of acceptance: a checkpoint signed after the record was committed
    and the record's inclusion proof against it."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_RECEIPT_JSON))

    seq: int
    entry_hash: str
    checkpoint: str = Field(description="C2SP tlog-checkpoint signed note.")
    inclusion_proof: list[str]


class ReceiptList(BaseModel):
    model_config = ConfigDict(json_schema_extra=_examples({"receipts": [EXAMPLE_RECEIPT_JSON]}))

    receipts: list[ReceiptPublic]


class RecordPublic(BaseModel):
    """A record with its RFC 9162 entry hash (the export file's record line)."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_RECORD_JSON))

    seq: int
    entry_hash: str
    record: RecordDoc


class RecordList(BaseModel):
    """A page of records; ``next`` is the ``start`` of the next page, or null at the end."""

    model_config = ConfigDict(
        json_schema_extra=_examples({"records": [EXAMPLE_RECORD_JSON], "next": 13})
    )

    records: list[RecordPublic]
    next: int | None


EXAMPLE_LEDGER: JSONObject = {
    "origin": EXAMPLE_ORIGIN,
    "operator": "operator",
    "vkey": _OPERATOR_SIGNER.vkey,
    "public_key": _OPERATOR_KEY.public_key.b64,
    "size": 13,
    "checkpoint": EXAMPLE_CHECKPOINT,
}


class LedgerPublic(BaseModel):
    """Who runs this ledger, its size and its latest signed checkpoint."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_LEDGER))

    origin: str
    operator: str
    vkey: str = Field(description="The operator's C2SP signed-note verifier key.")
    public_key: str
    size: int
    checkpoint: str


EXAMPLE_INCLUSION: JSONObject = {
    "seq": 12,
    "size": 13,
    "proof": [h.hex() for h in EXAMPLE_RECEIPT.inclusion_proof],
}


class InclusionProofPublic(BaseModel):
    """RFC 9162 §2.1.3 inclusion proof of record ``seq`` in the tree of ``size``."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_INCLUSION))

    seq: int
    size: int
    proof: list[str]


EXAMPLE_CONSISTENCY: JSONObject = {
    "old": 8,
    "new": 13,
    "proof": [merkle.root_of(_EXAMPLE_LEAVES[8:12]).hex(), _EXAMPLE_RECORD.entry_hash.hex()],
}


class ConsistencyProofPublic(BaseModel):
    """RFC 9162 §2.1.4 consistency proof between tree sizes ``old`` and ``new``."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_CONSISTENCY))

    old: int
    new: int
    proof: list[str]


EXAMPLE_PARTICIPANT: JSONObject = {
    "id": "farm-hillside",
    "display_name": "Hillside Farm",
    "roles": ["supplier"],
    "gln": "9506000134369",
    "registered_seq": 2,
    "keys": [
        {
            "key_id": _FARM_KEY.public_key.key_id,
            "public_key": _FARM_KEY.public_key.b64,
            "added_seq": 2,
            "retired_seq": None,
            "retired_how": None,
            "retired_reason": None,
            "active": True,
        }
    ],
}
EXAMPLE_PARTICIPANTS: JSONObject = {"participants": [EXAMPLE_PARTICIPANT], "next": "farm-hillside"}


class KeyPublic(BaseModel):
    """A participant key and its validity: it may sign records after ``added_seq`` up to
    and including ``retired_seq``."""

    key_id: str
    public_key: str
    added_seq: int
    retired_seq: int | None
    retired_how: str | None = Field(description="rotated or revoked")
    retired_reason: str | None
    active: bool


class ParticipantPublic(BaseModel):
    """A registered participant, its roles and every key it has had."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_PARTICIPANT))

    id: str
    display_name: str
    roles: list[str]
    gln: str | None
    registered_seq: int
    keys: list[KeyPublic]


class ParticipantList(BaseModel):
    """A page of participants in id order; ``next`` is the ``cursor`` of the next page."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_PARTICIPANTS))

    participants: list[ParticipantPublic]
    next: str | None


class Problem(BaseModel):
    """RFC 9457 problem details, with FairLedger's extensions."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable URI per failure, https://fairledger.dev/problems/…")
    title: str
    status: int
    detail: str
    code: str = Field(description="The last path segment of type.")
    instance: str | None = None
    field: str | None = Field(default=None, description="The input field at fault.")
    index: int | None = Field(default=None, description="Position in a batch.")
    seq: int | None = Field(default=None, description="The record at fault.")


def json_example(value: object, description: str) -> dict[str, Any]:
    """An OpenAPI response entry with one JSON example."""
    return {"description": description, "content": {"application/json": {"example": value}}}
