"""Receipts: portable evidence that the ledger accepted a statement (DESIGN §2).

A receipt is ``{"seq", "entry_hash", "checkpoint", "inclusion_proof"}``: a checkpoint signed
after the record was committed, plus the record's inclusion proof against it. Checking one
needs only the operator's vkey. Receipts validate their shape when built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger import merkle
from ledger.canonical import JSONObject, JSONValue
from ledger.errors import InclusionProofError, MalformedStatementError
from ledger.note import Ed25519Verifier, SignedCheckpoint, open_checkpoint

_HEX32 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Receipt:
    seq: int
    entry_hash: bytes
    checkpoint: str
    inclusion_proof: tuple[bytes, ...]

    def to_json(self) -> JSONObject:
        return {
            "seq": self.seq,
            "entry_hash": self.entry_hash.hex(),
            "checkpoint": self.checkpoint,
            "inclusion_proof": [h.hex() for h in self.inclusion_proof],
        }

    @classmethod
    def from_json(cls, value: JSONValue) -> Receipt:
        """Validate a decoded receipt; raises ``MalformedStatementError`` naming the field."""
        if not isinstance(value, dict):
            raise MalformedStatementError("receipt must be a JSON object")
        seq = value.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise MalformedStatementError("receipt seq must be a non-negative integer", field="seq")
        entry = value.get("entry_hash")
        if not isinstance(entry, str) or not _HEX32.fullmatch(entry):
            raise MalformedStatementError(
                "receipt entry_hash must be 64 hex digits", field="entry_hash"
            )
        note = value.get("checkpoint")
        if not isinstance(note, str):
            raise MalformedStatementError("receipt checkpoint must be a string", field="checkpoint")
        proof = value.get("inclusion_proof")
        if not isinstance(proof, list) or not all(
            isinstance(h, str) and _HEX32.fullmatch(h) for h in proof
        ):
            raise MalformedStatementError(
                "receipt inclusion_proof must be a list of 64-hex-digit hashes",
                field="inclusion_proof",
            )
        return cls(seq, bytes.fromhex(entry), note, tuple(bytes.fromhex(str(h)) for h in proof))

    def verify(self, operator: Ed25519Verifier, *, leaf: bytes | None = None) -> SignedCheckpoint:
        """Check the checkpoint signature and the inclusion proof (and, if given, that
        ``leaf`` is the record the receipt is for). Returns the verified checkpoint.

        Raises ``SignatureError``/``CheckpointError``/``MalformedNoteError`` for a bad
        checkpoint and ``InclusionProofError`` for a proof that does not reach its root.
        """
        signed = open_checkpoint(self.checkpoint, operator)
        if leaf is not None and merkle.leaf_hash(leaf) != self.entry_hash:
            raise InclusionProofError(
                "record bytes do not match the receipt's entry hash",
                seq=self.seq,
                expected=self.entry_hash.hex(),
                observed=merkle.leaf_hash(leaf).hex(),
            )
        cp = signed.checkpoint
        # Raises InclusionProofError already carrying seq (the leaf index), expected, observed.
        merkle.verify_inclusion(self.entry_hash, self.seq, cp.size, self.inclusion_proof, cp.root)
        return signed
