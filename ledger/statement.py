"""Statements, submissions and records (DESIGN §2, normative).

A *statement* is what an author signs; a *submission* pairs it with the signature; a *record*
is one leaf of the log, assigned ``seq``, ``prev`` and ``recorded_at`` by the ledger.

Objects here validate themselves when built, so a malformed statement cannot exist. They keep
the author's JSON exactly as signed: validation never rewrites a signed document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ledger import merkle
from ledger.canonical import (
    FAST_ENCODER,
    MAX_SAFE_INTEGER,
    JSONObject,
    JSONValue,
    canonical_bytes,
    parse_json,
)
from ledger.errors import CanonicalizationError, MalformedKeyError, MalformedStatementError
from ledger.keys import SIGNATURE_SIZE, PrivateKey, PublicKey, b64decode, b64encode

#: Domain prefix of every statement signature (DESIGN §2).
STATEMENT_DOMAIN = b"fairledger/statement/v1\n"
#: Domain prefix of proof-of-possession signatures by a key being registered or rotated in.
POSSESSION_DOMAIN = b"fairledger/key-possession/v1\n"

PARTICIPANT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}")
KEY_ID = re.compile(r"[0-9a-f]{64}")
NONCE = re.compile(r"[A-Za-z0-9._:~-]{8,64}")
KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
#: Origins are C2SP note key names: printable, no whitespace, no "+".
ORIGIN = re.compile(r"[\x21-\x2a\x2c-\x7e]{1,255}")
#: A UTF-8 lead byte of a code point at or above U+E000 (or an invalid byte).
_HIGH_CODE_POINT = re.compile(rb"[\xee-\xff]")
#: Parsed timestamps; a batch shares one recorded_at, so this saves most parses.
_timestamp_cache: dict[str, datetime] = {}
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
ZERO_HASH = "0" * 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
STATEMENT_FIELDS = frozenset({"ledger", "kind", "author", "key", "nonce", "issued_at", "body"})
RECORD_FIELDS = frozenset({"seq", "prev", "recorded_at", "statement", "signature"})


def parse_timestamp(value: JSONValue, *, field: str) -> datetime:
    """Parse an RFC 3339 UTC timestamp written with ``Z`` (e.g. ``2026-11-22T10:00:00Z``)."""
    if isinstance(value, str):
        cached = _timestamp_cache.get(value)
        if cached is not None:
            return cached
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise MalformedStatementError(
            f"{field} must be an RFC 3339 UTC timestamp like 2026-11-22T10:00:00Z, got {value!r}",
            field=field,
        )
    text = value[:-1]
    if "." in text:
        whole, fraction = text.split(".")
        text = f"{whole}.{fraction[:6].ljust(6, '0')}"
    try:
        moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError as exc:
        raise MalformedStatementError(
            f"{field} is not a real date/time: {value!r}", field=field
        ) from exc
    if len(_timestamp_cache) >= 4096:
        _timestamp_cache.clear()
    _timestamp_cache[value] = moment
    return moment


def format_timestamp(moment: datetime) -> str:
    """The ledger's own timestamp form: UTC, microseconds, ``Z`` (``recorded_at``)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def require_participant_id(value: JSONValue, *, field: str) -> str:
    if not isinstance(value, str) or not PARTICIPANT_ID.fullmatch(value):
        raise MalformedStatementError(
            f"{field} must match [a-z0-9][a-z0-9._-]{{1,62}}, got {value!r}", field=field
        )
    return value


def require_public_key(value: JSONValue, *, field: str) -> PublicKey:
    if not isinstance(value, str):
        raise MalformedStatementError(f"{field} must be a base64 string", field=field)
    try:
        return PublicKey.from_base64(value)
    except MalformedKeyError as exc:
        raise MalformedStatementError(f"{field}: {exc.message}", field=field) from exc


def decode_signature(value: JSONValue, *, field: str) -> bytes:
    """Decode a standard padded base64 Ed25519 signature (64 bytes)."""
    if not isinstance(value, str):
        raise MalformedStatementError(f"{field} must be a base64 string", field=field)
    try:
        raw = b64decode(value, what=field)
    except MalformedKeyError as exc:
        raise MalformedStatementError(exc.message, field=field) from exc
    if len(raw) != SIGNATURE_SIZE or b64encode(raw) != value:
        raise MalformedStatementError(
            f"{field} must be {SIGNATURE_SIZE} bytes in canonical padded base64", field=field
        )
    return raw


@dataclass(frozen=True, slots=True)
class Statement:
    """A validated statement: the exact JSON object its author signed."""

    document: JSONObject
    ledger: str = field(init=False)
    kind: str = field(init=False)
    author: str = field(init=False)
    key: str = field(init=False)
    nonce: str = field(init=False)
    issued_at: datetime = field(init=False)
    body: JSONObject = field(init=False)
    #: JCS bytes of the statement, computed once when it is built (what is signed).
    canonical: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate(None)

    @classmethod
    def _with_canonical(cls, document: JSONObject, canonical: bytes) -> Statement:
        """Build from a document whose canonical bytes the caller has already proven (by
        re-encoding and comparing them with stored bytes); every field is still checked."""
        statement = object.__new__(cls)
        object.__setattr__(statement, "document", document)
        statement._validate(canonical)
        return statement

    @classmethod
    def from_canonical(cls, canonical: bytes) -> Statement:
        """Rebuild a statement from bytes already proven canonical (by ``Record.from_leaf``
        in a verification worker): decoded with the C parser, every field checked again.
        Raises ``MalformedStatementError`` if they are not a statement after all."""
        try:
            document = _LEAF_DECODER.decode(canonical.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise MalformedStatementError(f"statement is not valid JSON: {exc}") from exc
        if type(document) is not dict:
            raise MalformedStatementError("statement must be a JSON object", field="statement")
        return cls._with_canonical(document, canonical)

    @classmethod
    def elided(
        cls,
        ledger: str,
        kind: str,
        author: str,
        key: str,
        nonce: str,
        issued_at: str,
        issued_at_us: int,
    ) -> Statement:
        """The header of a statement whose full form was already validated and whose
        signature was already checked (by a verification worker), for replaying the rules
        that read no body (``LedgerState.check`` of a kind without body validators):
        ``body`` is empty, ``document`` holds the header only and ``canonical`` is empty.
        ``issued_at_us`` is ``issued_at`` as parsed, in microseconds since the Unix epoch.
        The caller vouches for the fields; such a statement is never signed, stored or
        served."""
        statement = object.__new__(cls)
        for name, value in (
            (
                "document",
                {
                    "ledger": ledger,
                    "kind": kind,
                    "author": author,
                    "key": key,
                    "nonce": nonce,
                    "issued_at": issued_at,
                },
            ),
            ("ledger", ledger),
            ("kind", kind),
            ("author", author),
            ("key", key),
            ("nonce", nonce),
            ("issued_at", _EPOCH + timedelta(microseconds=issued_at_us)),
            ("body", {}),
            ("canonical", b""),
        ):
            object.__setattr__(statement, name, value)
        return statement

    def _validate(self, canonical: bytes | None) -> None:
        doc = self.document
        if not isinstance(doc, dict):
            raise MalformedStatementError("statement must be a JSON object", field="statement")
        missing = STATEMENT_FIELDS - doc.keys()
        if missing:
            raise MalformedStatementError(
                f"statement is missing {', '.join(sorted(missing))}",
                field=f"statement.{min(missing)}",
            )
        unknown = doc.keys() - STATEMENT_FIELDS
        if unknown:
            raise MalformedStatementError(
                f"statement has unknown field(s) {', '.join(sorted(unknown))}",
                field=f"statement.{min(unknown)}",
            )
        ledger, kind, key, nonce, body = (
            doc["ledger"],
            doc["kind"],
            doc["key"],
            doc["nonce"],
            doc["body"],
        )
        if not isinstance(ledger, str) or not ORIGIN.fullmatch(ledger):
            raise MalformedStatementError(
                f"statement.ledger must be a ledger origin, got {ledger!r}",
                field="statement.ledger",
            )
        if not isinstance(kind, str) or not KIND.fullmatch(kind):
            raise MalformedStatementError(
                f"statement.kind must look like 'trace.event', got {kind!r}", field="statement.kind"
            )
        author = require_participant_id(doc["author"], field="statement.author")
        if not isinstance(key, str) or not KEY_ID.fullmatch(key):
            raise MalformedStatementError(
                "statement.key must be a key id: 64 lowercase hex digits", field="statement.key"
            )
        if not isinstance(nonce, str) or not NONCE.fullmatch(nonce):
            raise MalformedStatementError(
                "statement.nonce must be 8-64 characters from [A-Za-z0-9._:~-]",
                field="statement.nonce",
            )
        issued_at = parse_timestamp(doc["issued_at"], field="statement.issued_at")
        if not isinstance(body, dict):
            raise MalformedStatementError(
                "statement.body must be a JSON object", field="statement.body"
            )
        if canonical is None:
            try:
                canonical = canonical_bytes(doc)
            except CanonicalizationError as exc:
                raise MalformedStatementError(exc.message, field="statement") from exc
        for name, value in (
            ("ledger", ledger),
            ("kind", kind),
            ("author", author),
            ("key", key),
            ("nonce", nonce),
            ("issued_at", issued_at),
            ("body", body),
            ("canonical", canonical),
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def build(
        cls,
        *,
        ledger: str,
        kind: str,
        author: str,
        key: str,
        nonce: str,
        issued_at: datetime,
        body: JSONObject,
    ) -> Statement:
        return cls(
            {
                "ledger": ledger,
                "kind": str(kind),
                "author": author,
                "key": key,
                "nonce": nonce,
                "issued_at": format_timestamp(issued_at),
                "body": body,
            }
        )

    def signing_bytes(self) -> bytes:
        return STATEMENT_DOMAIN + self.canonical

    @property
    def issued_at_us(self) -> int:
        """``issued_at`` in microseconds since the Unix epoch (exact)."""
        return (self.issued_at - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class Submission:
    """A statement with its author's signature, as sent to the ledger."""

    statement: Statement
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.signature) != SIGNATURE_SIZE:
            raise MalformedStatementError("signature must be 64 bytes", field="signature")

    @classmethod
    def from_json(cls, value: JSONValue) -> Submission:
        """Validate a decoded ``{"statement": ..., "signature": ...}`` object."""
        if not isinstance(value, dict):
            raise MalformedStatementError("submission must be a JSON object", field="")
        unknown = value.keys() - {"statement", "signature"}
        if unknown:
            raise MalformedStatementError(
                f"submission has unknown field(s) {', '.join(sorted(unknown))}", field=min(unknown)
            )
        if "statement" not in value or "signature" not in value:
            missing = "statement" if "statement" not in value else "signature"
            raise MalformedStatementError(f"submission is missing {missing}", field=missing)
        document = value["statement"]
        if not isinstance(document, dict):
            raise MalformedStatementError("statement must be a JSON object", field="statement")
        return cls(Statement(document), decode_signature(value["signature"], field="signature"))

    @classmethod
    def parse(cls, data: bytes | str) -> Submission:
        """Parse submission JSON strictly (see ``canonical.parse_json``)."""
        try:
            value = parse_json(data)
        except CanonicalizationError as exc:
            raise MalformedStatementError(exc.message) from exc
        return cls.from_json(value)

    def to_json(self) -> JSONObject:
        return {"statement": self.statement.document, "signature": b64encode(self.signature)}

    def verify_signature(self, public_key: PublicKey) -> bool:
        return public_key.verify(self.signature, self.statement.signing_bytes())


def sign_statement(statement: Statement, key: PrivateKey) -> Submission:
    """Sign ``statement`` with ``key`` under the statement domain prefix."""
    return Submission(statement, key.sign(statement.signing_bytes()))


def possession_message(ledger: str, participant: str, public_key: PublicKey) -> bytes:
    """What a new key signs to prove possession (binds ledger, participant and key)."""
    return POSSESSION_DOMAIN + canonical_bytes(
        {"ledger": ledger, "participant": participant, "public_key": public_key.b64}
    )


def prove_possession(ledger: str, participant: str, key: PrivateKey) -> str:
    return b64encode(key.sign(possession_message(ledger, participant, key.public_key)))


def registration_body(
    ledger: str,
    participant: str,
    key: PrivateKey,
    *,
    display_name: str,
    roles: Sequence[str],
    gln: str | None = None,
) -> JSONObject:
    """The body of a ``participant.register`` statement (DESIGN §3) for ``participant``
    holding ``key``, with its proof of possession; the operator signs the statement."""
    body: JSONObject = {
        "participant": participant,
        "display_name": display_name,
        "roles": list(roles),
        "public_key": key.public_key.b64,
        "proof_of_possession": prove_possession(ledger, participant, key),
    }
    if gln is not None:
        body["gln"] = gln
    return body


def record_leaf(
    seq: int, prev: str, recorded_at: str, statement_canonical: bytes, signature_b64: str
) -> bytes:
    """JCS(record), spliced from the statement's canonical bytes.

    RFC 8785 sorts the record's keys as prev, recorded_at, seq, signature, statement (all
    ASCII), and the other values are ASCII strings and an integer, so splicing the already
    canonical statement bytes yields exactly ``canonical_bytes(record)``; a property test in
    ``tests/ledger/test_statement.py`` checks it.
    """
    return b"".join(
        (
            b'{"prev":"',
            prev.encode("ascii"),
            b'","recorded_at":"',
            recorded_at.encode("ascii"),
            b'","seq":',
            str(seq).encode("ascii"),
            b',"signature":"',
            signature_b64.encode("ascii"),
            b'","statement":',
            statement_canonical,
            b"}",
        )
    )


@dataclass(frozen=True, slots=True)
class Record:
    """One leaf of the log. ``leaf`` holds the exact bytes hashed."""

    seq: int
    prev: str
    recorded_at: str
    statement: Statement
    signature: bytes
    leaf: bytes
    #: RFC 9162 leaf hash of the canonical record (DESIGN §2), computed once.
    entry_hash: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entry_hash", merkle.leaf_hash(self.leaf))

    @property
    def submission(self) -> Submission:
        return Submission(self.statement, self.signature)

    @classmethod
    def create(cls, seq: int, prev: str, recorded_at: str, submission: Submission) -> Record:
        signature_b64 = b64encode(submission.signature)
        leaf = record_leaf(seq, prev, recorded_at, submission.statement.canonical, signature_b64)
        return cls(seq, prev, recorded_at, submission.statement, submission.signature, leaf)

    @classmethod
    def from_leaf(cls, leaf: bytes) -> Record:
        """Parse leaf bytes; raises ``MalformedStatementError`` unless they are canonical.

        Fast path (every record of a verification goes through here): decode with the C
        parser, re-encode the statement and splice the record back together; if the result
        is byte-identical to ``leaf``, the bytes are exactly our encoder's output of a
        well-typed document, hence canonical. Leaves holding any code point above U+D7FF
        (where Python's key order may differ from RFC 8785's) and every mismatch take the
        careful path, which canonicalises with the reference rules and names the problem.
        """
        if leaf.isascii() or not _HIGH_CODE_POINT.search(leaf):
            try:
                value = _LEAF_DECODER.decode(leaf.decode("utf-8"))
            except (ValueError, RecursionError):
                value = None
            if (
                type(value) is dict
                and value.keys() == RECORD_FIELDS
                and type(value["statement"]) is dict
                and type(value["seq"]) is int
                and type(value["prev"]) is str
                and type(value["recorded_at"]) is str
                and type(value["signature"]) is str
            ):
                statement_doc = value["statement"]
                try:
                    canonical = FAST_ENCODER.encode(statement_doc).encode("utf-8")
                except (UnicodeEncodeError, ValueError):
                    canonical = b""
                if canonical and leaf == record_leaf(
                    value["seq"],
                    value["prev"],
                    value["recorded_at"],
                    canonical,
                    value["signature"],
                ):
                    return cls._from_parts(
                        value, Statement._with_canonical(statement_doc, canonical), leaf
                    )
        return cls._careful_from_leaf(leaf)

    @classmethod
    def _from_parts(cls, value: JSONObject, statement: Statement, leaf: bytes) -> Record:
        seq, prev, recorded_at = value["seq"], value["prev"], value["recorded_at"]
        assert isinstance(seq, int)
        assert isinstance(prev, str)
        assert isinstance(recorded_at, str)
        if seq < 0:
            raise MalformedStatementError(f"record seq must be non-negative, got {seq}")
        if not KEY_ID.fullmatch(prev):
            raise MalformedStatementError("record prev must be 64 lowercase hex digits")
        parse_timestamp(recorded_at, field="recorded_at")
        signature = decode_signature(value["signature"], field="signature")
        return cls(seq, prev, recorded_at, statement, signature, leaf)

    @classmethod
    def _careful_from_leaf(cls, leaf: bytes) -> Record:
        try:
            value = parse_json(leaf)
        except CanonicalizationError as exc:
            raise MalformedStatementError(f"record is not valid JSON: {exc.message}") from exc
        record = cls.from_json(value)
        if record.leaf != leaf:
            raise MalformedStatementError("record bytes are not in RFC 8785 canonical form")
        return record

    @classmethod
    def from_json(cls, value: JSONValue) -> Record:
        if not isinstance(value, dict) or value.keys() != RECORD_FIELDS:
            raise MalformedStatementError(
                f"record must be an object with exactly {', '.join(sorted(RECORD_FIELDS))}"
            )
        seq, prev, recorded_at = value["seq"], value["prev"], value["recorded_at"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise MalformedStatementError(f"record seq must be a non-negative integer, got {seq!r}")
        if not isinstance(prev, str) or not KEY_ID.fullmatch(prev):
            raise MalformedStatementError("record prev must be 64 lowercase hex digits")
        parse_timestamp(recorded_at, field="recorded_at")
        assert isinstance(recorded_at, str)
        submission = Submission.from_json(
            {"statement": value["statement"], "signature": value["signature"]}
        )
        return cls.create(seq, prev, recorded_at, submission)

    def to_json(self) -> JSONObject:
        return {
            "seq": self.seq,
            "prev": self.prev,
            "recorded_at": self.recorded_at,
            "statement": self.statement.document,
            "signature": b64encode(self.signature),
        }


def _no_float(text: str) -> object:
    raise ValueError(f"{text} is not an integer")


def _safe_int(text: str) -> int:
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise ValueError(f"integer {text} is out of range")
    return value


#: Built once: ``json.loads`` with hooks would build a new decoder and scanner per call.
_LEAF_DECODER = json.JSONDecoder(
    parse_float=_no_float, parse_int=_safe_int, parse_constant=_no_float
)
