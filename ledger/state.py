"""Participants, keys and authorship rules: the state every record is judged against.

One ``LedgerState`` implementation serves both sides: the appender consults it before a
statement is accepted, and the verifier replays every record through it, so the two can never
disagree about what was allowed (DESIGN §3). The state is a pure function of the record
prefix; it does no I/O.

Key validity (DESIGN §3): a key registered or rotated in by the record at seq ``a`` may sign
records ``a+1, a+2, ...``; the record at seq ``r`` that rotates it out or revokes it is the last
it may sign ("the key signs nothing from the next record on"). The genesis key signs seq 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ledger.canonical import JSONObject, JSONValue
from ledger.errors import (
    ConflictError,
    KeyNotActiveError,
    MalformedStatementError,
    RejectedStatementError,
    SignatureRejectedError,
    UnauthorizedKindError,
    UnknownKeyError,
    WrongLedgerError,
)
from ledger.keys import PublicKey
from ledger.statement import (
    ORIGIN,
    Statement,
    decode_signature,
    parse_timestamp,
    possession_message,
    require_participant_id,
    require_public_key,
)

#: How far ``issued_at`` may run ahead of ``recorded_at`` (clock skew between parties).
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_TEXT = 200


class Role(StrEnum):
    OPERATOR = "operator"
    SUPPLIER = "supplier"
    BUYER = "buyer"
    AUDITOR = "auditor"


class Kind(StrEnum):
    GENESIS = "ledger.genesis"
    REGISTER = "participant.register"
    KEY_ROTATE = "key.rotate"
    KEY_REVOKE = "key.revoke"
    TRACE_EVENT = "trace.event"
    SALE_REPORT = "sale.report"
    CONTRACT_PROPOSE = "contract.propose"
    CONTRACT_ACCEPT = "contract.accept"
    CONTRACT_TERMINATE = "contract.terminate"
    SETTLEMENT = "settlement.statement"
    PAYMENT_SENT = "payment.sent"
    PAYMENT_CONFIRM = "payment.confirm"


_TRADING = frozenset({Role.SUPPLIER, Role.BUYER})
_ANYONE = frozenset(Role)

#: Which roles may author each kind (DESIGN §3). Finer rules (the shipper ships, each named
#: party accepts, ...) belong to the domain validators registered for a kind.
KIND_ROLES: dict[Kind, frozenset[Role]] = {
    Kind.GENESIS: frozenset({Role.OPERATOR}),
    Kind.REGISTER: frozenset({Role.OPERATOR}),
    Kind.KEY_ROTATE: _ANYONE,
    Kind.KEY_REVOKE: _ANYONE,
    Kind.TRACE_EVENT: _TRADING,
    Kind.SALE_REPORT: _TRADING,
    Kind.CONTRACT_PROPOSE: _TRADING,
    Kind.CONTRACT_ACCEPT: _TRADING,
    Kind.CONTRACT_TERMINATE: _TRADING,
    Kind.SETTLEMENT: frozenset({Role.OPERATOR}),
    Kind.PAYMENT_SENT: _TRADING,
    Kind.PAYMENT_CONFIRM: _TRADING,
}

#: Kinds whose records change participants or keys; the appender catches up on these only.
STATE_KINDS = frozenset({Kind.GENESIS, Kind.REGISTER, Kind.KEY_ROTATE, Kind.KEY_REVOKE})
REGISTRABLE_ROLES = frozenset({Role.SUPPLIER, Role.BUYER, Role.AUDITOR})


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    display_name: str
    roles: frozenset[Role]
    registered_seq: int
    gln: str | None = None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    participant: str
    public_key: PublicKey
    added_seq: int
    retired_seq: int | None = None
    retired_how: str | None = None  # "rotated" or "revoked"
    retired_reason: str | None = None

    def active_at(self, seq: int) -> bool:
        if seq <= self.added_seq and not (self.added_seq == seq == 0):
            return False
        return self.retired_seq is None or seq <= self.retired_seq


def _text(body: JSONObject, name: str, *, kind: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise MalformedStatementError(
            f"{kind} body.{name} must be a non-empty string of at most {MAX_TEXT} characters",
            field=f"statement.body.{name}",
        )
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise MalformedStatementError(
            f"{kind} body.{name} contains control characters", field=f"statement.body.{name}"
        )
    return value


def _exact_fields(body: JSONObject, required: set[str], optional: set[str], kind: str) -> None:
    missing = required - body.keys()
    if missing:
        name = min(missing)
        raise MalformedStatementError(
            f"{kind} body is missing {name}", field=f"statement.body.{name}"
        )
    unknown = body.keys() - required - optional
    if unknown:
        name = min(unknown)
        raise MalformedStatementError(
            f"{kind} body has unknown field {name}", field=f"statement.body.{name}"
        )


def _gln(value: JSONValue) -> str:
    if not isinstance(value, str) or len(value) != 13 or not value.isascii() or not value.isdigit():
        raise MalformedStatementError("gln must be 13 digits", field="statement.body.gln")
    digits = [int(ch) for ch in value]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10
    if check != digits[12]:
        raise MalformedStatementError(
            f"gln {value} has check digit {digits[12]}, expected {check}",
            field="statement.body.gln",
        )
    return value


BodyValidator = Callable[["LedgerState", int, Statement], None]


@dataclass
class LedgerState:
    """Participants and keys as of some record prefix; ``size`` records have been applied."""

    origin: str | None = None
    operator: str | None = None
    size: int = 0
    last_recorded_at: str | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    keys: dict[str, KeyInfo] = field(default_factory=dict)

    def copy(self) -> LedgerState:
        return LedgerState(
            self.origin,
            self.operator,
            self.size,
            self.last_recorded_at,
            dict(self.participants),
            dict(self.keys),
        )

    # -- judging ---------------------------------------------------------------------------

    def signer_key(self, seq: int, statement: Statement) -> PublicKey:
        """The public key that must have signed ``statement`` at ``seq``.

        Raises ``UnknownKeyError`` if the key id is not the author's, ``KeyNotActiveError`` if
        it was rotated out or revoked before ``seq``.
        """
        if seq == 0:
            return self._genesis_key(statement)
        info = self.keys.get(statement.key)
        if info is None or info.participant != statement.author:
            raise UnknownKeyError(
                f"key {statement.key[:16]}… is not a registered key of {statement.author}",
                field="statement.key",
            )
        if not info.active_at(seq):
            raise KeyNotActiveError(
                f"key {statement.key[:16]}… of {statement.author} was {info.retired_how} "
                f"at seq {info.retired_seq} and may not sign seq {seq}",
                field="statement.key",
            )
        return info.public_key

    def check(
        self,
        seq: int,
        statement: Statement,
        recorded_at: datetime,
        validators: dict[str, BodyValidator] | None = None,
    ) -> None:
        """Raise a ``RejectedStatementError`` (or ``MalformedStatementError``) if ``statement``
        may not become record ``seq``. The signature itself is checked by the caller against
        ``signer_key``."""
        if seq == 0:
            if statement.kind != Kind.GENESIS:
                raise ConflictError("record 0 must be the ledger.genesis statement")
        else:
            if statement.ledger != self.origin:
                raise WrongLedgerError(
                    f"statement is for ledger {statement.ledger!r}, this is {self.origin!r}",
                    field="statement.ledger",
                )
            author = self.participants.get(statement.author)
            if author is None:
                raise UnknownKeyError(
                    f"{statement.author} is not a registered participant", field="statement.author"
                )
            try:
                kind = Kind(statement.kind)
            except ValueError:
                raise MalformedStatementError(
                    f"unknown statement kind {statement.kind!r}", field="statement.kind"
                ) from None
            if not (author.roles & KIND_ROLES[kind]):
                allowed = ", ".join(sorted(KIND_ROLES[kind]))
                raise UnauthorizedKindError(
                    f"{statement.author} (roles {', '.join(sorted(author.roles))}) may not sign "
                    f"{kind}; it needs one of: {allowed}",
                    field="statement.kind",
                )
        if statement.issued_at > recorded_at + MAX_CLOCK_SKEW:
            raise MalformedStatementError(
                f"statement.issued_at {statement.document['issued_at']} is more than "
                f"{int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes in the future",
                field="statement.issued_at",
            )
        core = _CORE_VALIDATORS.get(statement.kind)
        if core is not None:
            core(self, seq, statement)
        extra = (validators or {}).get(statement.kind)
        if extra is not None:
            extra(self, seq, statement)

    # -- applying --------------------------------------------------------------------------

    def apply(self, seq: int, statement: Statement, recorded_at: str) -> None:
        """Advance the state past record ``seq`` (assumed checked)."""
        body = statement.body
        kind = statement.kind
        if kind == Kind.GENESIS:
            key = require_public_key(body["public_key"], field="statement.body.public_key")
            operator = str(body["operator"])
            self.origin = str(body["origin"])
            self.operator = operator
            self.participants[operator] = Participant(
                operator, operator, frozenset({Role.OPERATOR}), 0
            )
            self.keys[key.key_id] = KeyInfo(key.key_id, operator, key, 0)
        elif kind == Kind.REGISTER:
            key = require_public_key(body["public_key"], field="statement.body.public_key")
            pid = str(body["participant"])
            roles = body["roles"]
            assert isinstance(roles, list)
            gln = body.get("gln")
            self.participants[pid] = Participant(
                pid,
                str(body["display_name"]),
                frozenset(Role(str(r)) for r in roles),
                seq,
                str(gln) if gln is not None else None,
            )
            self.keys[key.key_id] = KeyInfo(key.key_id, pid, key, seq)
        elif kind == Kind.KEY_ROTATE:
            new = require_public_key(body["new_public_key"], field="statement.body.new_public_key")
            old = self.keys[statement.key]
            self.keys[old.key_id] = replace(old, retired_seq=seq, retired_how="rotated")
            self.keys[new.key_id] = KeyInfo(new.key_id, statement.author, new, seq)
        elif kind == Kind.KEY_REVOKE:
            info = self.keys[str(body["key"])]
            self.keys[info.key_id] = replace(
                info, retired_seq=seq, retired_how="revoked", retired_reason=str(body["reason"])
            )
        self.size = seq + 1
        self.last_recorded_at = recorded_at

    def _genesis_key(self, statement: Statement) -> PublicKey:
        key = require_public_key(
            statement.body.get("public_key"), field="statement.body.public_key"
        )
        if key.key_id != statement.key:
            raise UnknownKeyError(
                "genesis must be signed by the operator key it names", field="statement.key"
            )
        return key

    def active_keys(self, participant: str, seq: int) -> list[KeyInfo]:
        return [k for k in self.keys.values() if k.participant == participant and k.active_at(seq)]


# -- core body validators (DESIGN §3) -------------------------------------------------------


def _validate_genesis(state: LedgerState, seq: int, statement: Statement) -> None:
    body = statement.body
    _exact_fields(body, {"origin", "operator", "public_key", "created_at"}, set(), "ledger.genesis")
    origin = body["origin"]
    if not isinstance(origin, str) or not ORIGIN.fullmatch(origin):
        raise MalformedStatementError(
            "genesis origin must be printable ASCII without spaces or '+'",
            field="statement.body.origin",
        )
    if statement.ledger != origin:
        raise WrongLedgerError(
            "genesis statement.ledger must equal body.origin", field="statement.ledger"
        )
    operator = require_participant_id(body["operator"], field="statement.body.operator")
    if statement.author != operator:
        raise UnauthorizedKindError("genesis must be authored by the operator it names")
    parse_timestamp(body["created_at"], field="statement.body.created_at")
    state._genesis_key(statement)
    if seq != 0 or state.size != 0:
        raise ConflictError("the ledger already has a genesis record")


def _validate_register(state: LedgerState, seq: int, statement: Statement) -> None:
    body = statement.body
    kind = Kind.REGISTER
    _exact_fields(
        body,
        {"participant", "display_name", "roles", "public_key", "proof_of_possession"},
        {"gln"},
        kind,
    )
    pid = require_participant_id(body["participant"], field="statement.body.participant")
    _text(body, "display_name", kind=kind)
    roles = body["roles"]
    if (
        not isinstance(roles, list)
        or not roles
        or len(set(map(str, roles))) != len(roles)
        or not all(isinstance(r, str) and r in REGISTRABLE_ROLES for r in roles)
    ):
        raise MalformedStatementError(
            "roles must be a non-empty list of distinct values from: auditor, buyer, supplier",
            field="statement.body.roles",
        )
    if "gln" in body:
        gln = _gln(body["gln"])
        # One GLN, one party: trace events are attributed by GLN (DESIGN §4), so a second
        # participant claiming it could record as the first.
        for other in state.participants.values():
            if other.gln == gln and other.id != pid:
                raise ConflictError(
                    f"GLN {gln} is already registered to participant {other.id} (seq "
                    f"{other.registered_seq}); {pid} may not claim it",
                    field="statement.body.gln",
                )
    key = require_public_key(body["public_key"], field="statement.body.public_key")
    pop = decode_signature(body["proof_of_possession"], field="statement.body.proof_of_possession")
    if not key.verify(pop, possession_message(statement.ledger, pid, key)):
        raise SignatureRejectedError(
            "proof_of_possession is not a signature by the new key over "
            "(ledger, participant, public_key)",
            field="statement.body.proof_of_possession",
        )
    if pid in state.participants:
        raise ConflictError(
            f"participant {pid} is already registered", field="statement.body.participant"
        )
    if key.key_id in state.keys:
        raise ConflictError(
            "that public key is already registered", field="statement.body.public_key"
        )


def _validate_rotate(state: LedgerState, seq: int, statement: Statement) -> None:
    body = statement.body
    _exact_fields(body, {"new_public_key", "proof_of_possession"}, set(), Kind.KEY_ROTATE)
    key = require_public_key(body["new_public_key"], field="statement.body.new_public_key")
    pop = decode_signature(body["proof_of_possession"], field="statement.body.proof_of_possession")
    if not key.verify(pop, possession_message(statement.ledger, statement.author, key)):
        raise SignatureRejectedError(
            "proof_of_possession is not a signature by the new key",
            field="statement.body.proof_of_possession",
        )
    if key.key_id in state.keys:
        raise ConflictError(
            "the new key is already registered", field="statement.body.new_public_key"
        )


def _validate_revoke(state: LedgerState, seq: int, statement: Statement) -> None:
    body = statement.body
    _exact_fields(body, {"participant", "key", "reason"}, set(), Kind.KEY_REVOKE)
    pid = require_participant_id(body["participant"], field="statement.body.participant")
    _text(body, "reason", kind=Kind.KEY_REVOKE)
    info = state.keys.get(str(body["key"]))
    if info is None or info.participant != pid:
        raise UnknownKeyError(f"{body['key']!r} is not a key of {pid}", field="statement.body.key")
    if statement.author not in (pid, state.operator):
        raise UnauthorizedKindError(
            f"only {pid} or the operator may revoke {pid}'s keys", field="statement.author"
        )
    if info.retired_seq is not None:
        raise ConflictError(
            f"key was already {info.retired_how} at seq {info.retired_seq}",
            field="statement.body.key",
        )


_CORE_VALIDATORS: dict[str, BodyValidator] = {
    Kind.GENESIS: _validate_genesis,
    Kind.REGISTER: _validate_register,
    Kind.KEY_ROTATE: _validate_rotate,
    Kind.KEY_REVOKE: _validate_revoke,
}


def judge(
    state: LedgerState,
    seq: int,
    statement: Statement,
    signature: bytes,
    recorded_at: datetime,
    validators: dict[str, BodyValidator] | None = None,
    *,
    signature_checked: bool = False,
) -> None:
    """Check everything about record ``seq`` that depends on the state, including its
    signature unless ``signature_checked``. Raises ``RejectedStatementError`` or
    ``MalformedStatementError``."""
    key = state.signer_key(seq, statement)
    if not signature_checked and not key.verify(signature, statement.signing_bytes()):
        raise SignatureRejectedError(
            f"signature does not verify with key {statement.key[:16]}… of {statement.author}",
            field="signature",
        )
    state.check(seq, statement, recorded_at, validators)


__all__ = [
    "KIND_ROLES",
    "STATE_KINDS",
    "BodyValidator",
    "KeyInfo",
    "Kind",
    "LedgerState",
    "Participant",
    "RejectedStatementError",
    "Role",
    "judge",
]
