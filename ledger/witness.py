"""Witnessing (DESIGN §2, §7): cosign a ledger's checkpoints only while they stay consistent,
and check witness cosignatures on the ledger's side.

The witness follows C2SP ``tlog-witness`` in spirit: it remembers, per log, the last checkpoint
it cosigned, and cosigns a newer one (``cosignature/v1``, C2SP ``tlog-cosignature``) only with
a valid RFC 9162 consistency proof from it. It refuses, raising ``ForkError`` with both signed
notes, a checkpoint that is smaller than the one it cosigned (a rollback), of the same size
with another root, or that the proof does not relate (a fork); ``refusal_evidence`` turns the
refusal into an evidence document (``ledger.evidence``). Its state file is written atomically
*before* a cosignature leaves the witness, so a crash can never make it forget what it signed.

The ledger's side (``check_submitted_cosignatures``) accepts cosignatures only from witness keys
it is configured to trust and only over a checkpoint it signed; unknown keys, bad signatures
and other checkpoints are refused with errors the API maps to problems::

    LedgerError
    ├── RejectedStatementError ── UnknownWitnessError      no trusted witness key signed
    │                           └ ConflictError ── CosignatureConflictError   another line
    └── VerificationError ─ SignatureError ── CosignatureInvalidError         does not verify
                          └ CheckpointError ─ UnknownCheckpointError          never signed

No clock (timestamps are parameters) and no network; only the state file is I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.auditor_state import write_atomic
from ledger.canonical import JSONObject, JSONValue, canonical_bytes, parse_json
from ledger.errors import (
    CheckpointError,
    ConflictError,
    ForkError,
    LedgerError,
    MalformedNoteError,
    RejectedStatementError,
    SignatureError,
    StorageError,
)
from ledger.evidence import build_evidence
from ledger.keys import b64encode
from ledger.note import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Verifier,
    Note,
    NoteSignature,
    SignedCheckpoint,
    open_checkpoint,
    parse_note,
)
from ledger.verify import verify_consistent_checkpoints

STATE_FORMAT = "fairledger-witness-state/v1"


class UnknownWitnessError(RejectedStatementError):
    """No cosignature line was made by a witness key the ledger trusts."""

    code = "unknown-witness"


class CosignatureConflictError(ConflictError):
    """The witness already cosigned this checkpoint with a different line."""

    code = "cosignature-conflict"


class CosignatureInvalidError(SignatureError):
    """A line by a trusted witness key does not verify over the checkpoint."""

    code = "cosignature-invalid"


class UnknownCheckpointError(CheckpointError):
    """The cosigned checkpoint is not one the ledger signed."""

    code = "checkpoint-unknown"


# -- the witness -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WitnessedLog:
    """What a witness remembers about one log: the operator-signed checkpoint it last
    cosigned, and its cosignature line."""

    vkey: str
    checkpoint: str
    cosignature: str
    timestamp: int

    @property
    def signed(self) -> SignedCheckpoint:
        return open_checkpoint(self.checkpoint, Ed25519Verifier.from_vkey(self.vkey))

    @property
    def size(self) -> int:
        return self.signed.checkpoint.size


@dataclass(frozen=True, slots=True)
class Cosigned:
    """A checkpoint the witness agreed to: the line, the note to submit (the checkpoint with
    the operator's signature and this cosignature) and the state to save first."""

    line: NoteSignature
    note: str
    state: WitnessedLog


class Witness:
    """A witness key and the operator key of the log it follows."""

    def __init__(self, signer: CosignatureSigner, operator: Ed25519Verifier) -> None:
        self.signer = signer
        self.operator = operator

    def cosign(
        self,
        previous: WitnessedLog | None,
        note: str,
        proof: Sequence[bytes],
        *,
        timestamp: int,
    ) -> Cosigned:
        """Cosign ``note`` (a checkpoint as served; other cosignatures are ignored) at
        ``timestamp`` (POSIX seconds) if it extends ``previous``, the last checkpoint this
        witness cosigned, by the consistency ``proof``.

        Raises ``SignatureError``/``CheckpointError``/``MalformedNoteError`` if the note is not
        a checkpoint the operator signed, and ``ForkError`` (both notes attached) for a
        rollback, another root at the same size, or a proof that fails.
        """
        signed = open_checkpoint(note, self.operator)
        operator_lines = tuple(
            s
            for s in signed.note.signatures
            if (s.name, s.key_id) == (self.operator.name, self.operator.key_id)
        )
        plain = Note(signed.note.body, operator_lines).text()
        if previous is not None:
            old, new = previous.signed.checkpoint, signed.checkpoint
            # The same checkpoint again may be cosigned again; anything else must extend the
            # last one cosigned: ForkError for a smaller size, another root at the same size
            # (DESIGN §2 policy) or a proof that fails (RFC 9162 §2.1.4.2).
            if (new.size, new.root) != (old.size, old.root):
                verify_consistent_checkpoints(previous.checkpoint, plain, proof, self.operator)
        line = self.signer.cosign(signed.checkpoint, timestamp)
        cosigned = Note(signed.note.body, (*operator_lines, line)).text()
        state = WitnessedLog(self.operator.vkey, plain, line.line(), timestamp)
        return Cosigned(line, cosigned, state)


def refusal_evidence(
    operator: Ed25519Verifier,
    previous: WitnessedLog,
    presented: str,
    proof: Sequence[bytes],
    error: ForkError,
) -> JSONObject:
    """Evidence of why the witness refused: its cosigned checkpoint, the presented one and
    the failed proof."""
    old = previous.size
    try:
        new: int | None = open_checkpoint(presented, operator).checkpoint.size
    except LedgerError:
        new = None
    kind = "rollback" if new is not None and new < old else "fork"
    return build_evidence(
        kind,
        error.message,
        operator=operator,
        verified=previous.checkpoint,
        presented=presented,
        consistency=None if new is None or new < old else (old, new, proof, error.message),
        findings=[error],
    )


class WitnessStateFile:
    """The witness's memory: one entry per log, keyed by origin and operator key id (of the
    vkey the witness was told to follow), written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, JSONValue]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(f"cannot read witness state {self.path}: {exc.strerror}") from exc
        try:
            doc = parse_json(data)
        except LedgerError as exc:
            raise StorageError(f"witness state {self.path} is not JSON: {exc.message}") from exc
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            raise StorageError(f"{self.path} is not a witness state ({STATE_FORMAT})")
        logs = doc.get("logs")
        if not isinstance(logs, dict):
            raise StorageError(f"witness state {self.path} has no logs")
        return dict(logs)

    @staticmethod
    def _key(vkey: str) -> str:
        verifier = Ed25519Verifier.from_vkey(vkey)
        return f"{verifier.name} {verifier.public_key.key_id}"

    def load(self, vkey: str) -> WitnessedLog | None:
        """The last checkpoint cosigned for the log with operator ``vkey``, or None.
        Raises ``StorageError`` if the entry does not hold together."""
        entry = self._read().get(self._key(vkey))
        if entry is None:
            return None
        if not isinstance(entry, dict):
            raise StorageError("witness state entry is not an object")
        checkpoint, line, timestamp = (
            entry.get("checkpoint"),
            entry.get("cosignature"),
            entry.get("timestamp"),
        )
        if (
            entry.get("vkey") != vkey
            or not isinstance(checkpoint, str)
            or not isinstance(line, str)
            or not isinstance(timestamp, int)
        ):
            raise StorageError(f"witness state entry for {self._key(vkey)!r} is malformed")
        log = WitnessedLog(vkey, checkpoint, line, timestamp)
        try:
            log.signed  # noqa: B018 - validates the saved checkpoint against the vkey
        except LedgerError as exc:
            raise StorageError(f"witness state holds a bad checkpoint: {exc.message}") from exc
        return log

    def save(self, log: WitnessedLog) -> None:
        """Record ``log`` as the last cosigned checkpoint, atomically and durably."""
        logs = self._read()
        signed = log.signed
        logs[self._key(log.vkey)] = {
            "vkey": log.vkey,
            "size": signed.checkpoint.size,
            "root": b64encode(signed.checkpoint.root),
            "checkpoint": log.checkpoint,
            "cosignature": log.cosignature,
            "timestamp": log.timestamp,
        }
        write_atomic(self.path, canonical_bytes({"format": STATE_FORMAT, "logs": logs}) + b"\n")


# -- the ledger's side -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmittedCosignature:
    """A verified cosignature on a checkpoint the ledger signed."""

    witness: CosignatureVerifier
    signature: NoteSignature
    timestamp: int


def parse_submission(text: str, size: int | None) -> tuple[int, str | None, list[NoteSignature]]:
    """Split a submission into (checkpoint size, checkpoint body or None, signature lines).

    A cosigned checkpoint note names its own size (a ``size`` given too must agree); bare
    signature lines need ``size``. Raises ``MalformedNoteError``.
    """
    if "\n\n" in text:
        note = parse_note(text)
        checkpoint = Checkpoint.from_body(note.body)
        if size is not None and size != checkpoint.size:
            raise MalformedNoteError(
                f"the note is a checkpoint of size {checkpoint.size}, not {size}", field="size"
            )
        return checkpoint.size, note.body, list(note.signatures)
    lines = [line for line in text.split("\n") if line]
    if not lines:
        raise MalformedNoteError("send a cosigned checkpoint note or cosignature lines")
    if size is None:
        raise MalformedNoteError(
            "bare cosignature lines need the size of the checkpoint they sign", field="size"
        )
    return size, None, [NoteSignature.from_line(line) for line in lines]


def check_submitted_cosignatures(
    stored_note: str,
    submitted_body: str | None,
    lines: Sequence[NoteSignature],
    trusted: Sequence[CosignatureVerifier],
) -> list[SubmittedCosignature]:
    """Check cosignature lines against the checkpoint the ledger signed (``stored_note``).

    Lines by keys that are not trusted witnesses (the operator's own, say) are ignored.
    Raises ``UnknownCheckpointError`` if ``submitted_body`` is not the stored checkpoint's
    body, ``UnknownWitnessError`` if no line is by a trusted witness, and
    ``CosignatureInvalidError`` if a trusted witness's line does not verify.
    """
    body = parse_note(stored_note).body
    if submitted_body is not None and submitted_body != body:
        stored = Checkpoint.from_body(body)
        try:
            observed = b64encode(Checkpoint.from_body(submitted_body).root)
        except LedgerError:
            observed = "a body that is not a checkpoint"
        raise UnknownCheckpointError(
            f"the ledger signed another checkpoint at size {stored.size}",
            seq=stored.size - 1 if stored.size else None,
            expected=b64encode(stored.root),
            observed=observed,
        )
    known = {(w.name, w.key_id): w for w in trusted}
    message = body.encode("utf-8")
    accepted: list[SubmittedCosignature] = []
    for line in dict.fromkeys(lines):
        witness = known.get((line.name, line.key_id))
        if witness is None:
            continue
        if not witness.verify(message, line.blob):
            raise CosignatureInvalidError(
                f"cosignature by witness {line.label} does not verify over this checkpoint",
                expected="a cosignature/v1 signature over the checkpoint body",
                observed=line.line().rstrip("\n"),
            )
        accepted.append(SubmittedCosignature(witness, line, witness.timestamp_of(line.blob)))
    if not accepted:
        raise UnknownWitnessError(
            "no cosignature by a witness this ledger trusts: "
            + (", ".join(s.label for s in lines) or "no lines")
            + " (trusted: "
            + (", ".join(f"{w.name}+{w.key_id.hex()}" for w in trusted) or "none")
            + ")"
        )
    return accepted


__all__ = [
    "STATE_FORMAT",
    "CosignatureConflictError",
    "CosignatureInvalidError",
    "Cosigned",
    "SubmittedCosignature",
    "UnknownCheckpointError",
    "UnknownWitnessError",
    "Witness",
    "WitnessStateFile",
    "WitnessedLog",
    "check_submitted_cosignatures",
    "parse_submission",
    "refusal_evidence",
]
