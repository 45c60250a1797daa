"""Evidence of operator misbehaviour, as portable JSON (DESIGN §7).

When an auditor, a witness or a receipt holder finds that the ledger contradicts something the
operator signed, it writes an evidence document anyone holding the operator's vkey can re-check
(``check_evidence``) without trusting the finder::

    {"format": "fairledger-evidence/v1",
     "kind": "fork" | "rollback" | "omission" | "no-proof" | "inconsistent-records"
             | "bad-checkpoint" | "findings",
     "summary": "<one line>",
     "origin": "<origin>", "operator_vkey": "<vkey>",
     "verified_checkpoint": "<signed note>" | null,    what the finder had verified before
     "presented_checkpoint": "<signed note>" | null,   what the ledger presents now
     "consistency_proof": {"old_size", "new_size", "proof": ["<hex>", ...], "error"} | null,
     "inclusion_proof": {"seq", "size", "entry_hash", "proof": [...], "error"} | null,
     "receipt": {...} | null,                         for omissions: the receipt as issued
     "record": {"seq", "entry_hash" | null, "error"} | null,   what the ledger serves at seq
     "findings": [{"type", "seq", "message", "expected", "observed"}, ...]}

What each kind proves on its own, given the vkey:

* ``rollback``: two operator-signed checkpoints, the presented one smaller than the verified
  one; an append-only log never shrinks;
* ``fork``: two operator-signed checkpoints of one size with different roots, or two of
  different sizes and the consistency proof the ledger served for them, which fails (anyone
  can ask the ledger for that proof again: if the trees forked, no valid one exists);
* ``omission``: a receipt (operator-signed checkpoint plus inclusion proof of the entry) and a
  newer operator-signed checkpoint under which the ledger cannot or will not prove the entry;
* ``no-proof``: the ledger refused or failed to prove a newer signed checkpoint consistent
  with one verified before (ask it again: an honest ledger always can);
* ``inconsistent-records``/``findings``/``bad-checkpoint``: the records or notes served did not
  match; the findings say where (re-checking these needs the records themselves).

No I/O besides ``write_evidence``; no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ledger import merkle
from ledger.auditor_state import write_atomic
from ledger.canonical import JSONObject, JSONValue, canonical_bytes
from ledger.errors import (
    ConsistencyProofError,
    ForkError,
    InclusionProofError,
    LedgerError,
    MalformedError,
    VerificationError,
)
from ledger.note import Ed25519Verifier, SignedCheckpoint, open_checkpoint
from ledger.receipt import Receipt

FORMAT = "fairledger-evidence/v1"
KINDS = frozenset(
    {
        "fork",
        "rollback",
        "omission",
        "no-proof",
        "inconsistent-records",
        "bad-checkpoint",
        "findings",
    }
)


def finding_json(error: VerificationError) -> JSONObject:
    """One finding as evidence and reports show it."""
    doc: JSONObject = {
        "type": error.code,
        "seq": error.seq,
        "message": error.message,
        "expected": error.expected,
        "observed": error.observed,
    }
    if isinstance(error, ForkError):
        doc["checkpoints"] = list(error.checkpoints)
    return doc


def build_evidence(
    kind: str,
    summary: str,
    *,
    operator: Ed25519Verifier,
    verified: str | None = None,
    presented: str | None = None,
    consistency: tuple[int, int, Sequence[bytes], str | None] | None = None,
    inclusion: tuple[int, int, bytes, Sequence[bytes], str | None] | None = None,
    receipt: Receipt | None = None,
    record: JSONObject | None = None,
    findings: Sequence[VerificationError] = (),
) -> JSONObject:
    """An evidence document. ``consistency`` is (old size, new size, proof, error or None);
    ``inclusion`` is (seq, tree size, entry hash, proof, error or None)."""
    if kind not in KINDS:
        raise ValueError(f"unknown evidence kind {kind!r}")
    doc: JSONObject = {
        "format": FORMAT,
        "kind": kind,
        "summary": summary,
        "origin": operator.name,
        "operator_vkey": operator.vkey,
        "verified_checkpoint": verified,
        "presented_checkpoint": presented,
        "consistency_proof": None,
        "inclusion_proof": None,
        "receipt": receipt.to_json() if receipt is not None else None,
        "record": record,
        "findings": [finding_json(f) for f in findings],
    }
    if consistency is not None:
        old, new, proof, error = consistency
        doc["consistency_proof"] = {
            "old_size": old,
            "new_size": new,
            "proof": [h.hex() for h in proof],
            "error": error,
        }
    if inclusion is not None:
        seq, size, entry, proof, error = inclusion
        doc["inclusion_proof"] = {
            "seq": seq,
            "size": size,
            "entry_hash": entry.hex(),
            "proof": [h.hex() for h in proof],
            "error": error,
        }
    return doc


def write_evidence(path: Path, evidence: JSONObject) -> None:
    """Write an evidence document atomically (canonical JSON). Raises ``StorageError``."""
    write_atomic(path, canonical_bytes(evidence) + b"\n")


def _hashes(value: JSONValue) -> list[bytes]:
    if not isinstance(value, list):
        raise MalformedError("evidence proof must be a list of hex hashes")
    try:
        return [bytes.fromhex(str(h)) for h in value]
    except ValueError as exc:
        raise MalformedError("evidence proof holds a value that is not hex") from exc


def _note(doc: JSONObject, name: str, operator: Ed25519Verifier) -> SignedCheckpoint:
    value = doc.get(name)
    if not isinstance(value, str):
        raise MalformedError(f"evidence has no {name}")
    return open_checkpoint(value, operator)


def check_evidence(doc: JSONValue, operator_vkey: str) -> str:
    """Re-check an evidence document with only the operator's vkey; returns what it proves.

    Raises ``MalformedError`` for a document that is not evidence, ``SignatureError`` or
    ``CheckpointError`` if a checkpoint in it is not the operator's, and
    ``VerificationError`` if it does not show what its kind claims (e.g. the proof verifies
    after all). Kinds that need the records (``findings``...) are checked for their
    checkpoints' signatures only.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise MalformedError(f"not a FairLedger evidence document ({FORMAT})")
    operator = Ed25519Verifier.from_vkey(operator_vkey)
    kind = doc.get("kind")
    if kind == "rollback":
        old = _note(doc, "verified_checkpoint", operator).checkpoint
        new = _note(doc, "presented_checkpoint", operator).checkpoint
        if new.size >= old.size:
            raise VerificationError(
                "not a rollback: the presented checkpoint is not smaller",
                expected=f"< {old.size}",
                observed=str(new.size),
            )
        return f"rollback: the operator signed size {old.size} and later presented size {new.size}"
    if kind == "fork":
        old = _note(doc, "verified_checkpoint", operator).checkpoint
        new = _note(doc, "presented_checkpoint", operator).checkpoint
        if old.size == new.size:
            if old.root == new.root:
                raise VerificationError("not a fork: both checkpoints have the same root")
            return f"fork: two different roots signed for size {old.size}"
        small, large = (old, new) if old.size < new.size else (new, old)
        proof_doc = doc.get("consistency_proof")
        if not isinstance(proof_doc, dict):
            raise MalformedError("fork evidence between two sizes needs the consistency proof")
        try:
            merkle.verify_consistency(
                small.size, large.size, small.root, large.root, _hashes(proof_doc.get("proof"))
            )
        except ConsistencyProofError as exc:
            return (
                f"fork: the consistency proof from size {small.size} to {large.size} fails "
                f"({exc.message})"
            )
        raise VerificationError("not a fork: the consistency proof verifies")
    if kind == "omission":
        receipt_doc = doc.get("receipt")
        receipt = Receipt.from_json(receipt_doc)
        receipt.verify(operator)
        newer = _note(doc, "presented_checkpoint", operator).checkpoint
        return _check_omission(doc, receipt, newer.size, newer.root)
    if kind == "bad-checkpoint":
        if isinstance(doc.get("verified_checkpoint"), str):
            _note(doc, "verified_checkpoint", operator)
        try:
            _note(doc, "presented_checkpoint", operator)
        except MalformedError:
            return "bad-checkpoint: the ledger presented no checkpoint at all"
        except VerificationError as exc:
            return f"bad-checkpoint: the presented checkpoint is not the operator's ({exc})"
        raise VerificationError("not a bad checkpoint: the presented one is the operator's")
    if kind in KINDS:
        for name in ("verified_checkpoint", "presented_checkpoint"):
            if isinstance(doc.get(name), str):
                _note(doc, name, operator)
        findings = doc.get("findings")
        count = len(findings) if isinstance(findings, list) else 0
        return f"{kind}: {count} finding(s) against operator-signed checkpoints"
    raise MalformedError(f"unknown evidence kind {kind!r}")


def _check_omission(doc: JSONObject, receipt: Receipt, size: int, root: bytes) -> str:
    record = doc.get("record")
    if isinstance(record, dict):
        served = record.get("entry_hash")
        if served is None or served != receipt.entry_hash.hex():
            return (
                f"omission: the ledger serves {'no record' if served is None else 'another record'}"
                f" at seq {receipt.seq}, which the operator's receipt commits to"
            )
    proof_doc = doc.get("inclusion_proof")
    if isinstance(proof_doc, dict):
        try:
            merkle.verify_inclusion(
                receipt.entry_hash, receipt.seq, size, _hashes(proof_doc.get("proof")), root
            )
        except InclusionProofError as exc:
            return f"omission: the entry is not proven in the newer tree ({exc.message})"
    if receipt.seq >= size:
        return f"omission: the newer checkpoint (size {size}) no longer covers seq {receipt.seq}"
    proof_doc = doc.get("consistency_proof")
    if isinstance(proof_doc, dict):
        operator = Ed25519Verifier.from_vkey(str(doc["operator_vkey"]))
        signed = open_checkpoint(receipt.checkpoint, operator)
        try:
            merkle.verify_consistency(
                signed.checkpoint.size,
                size,
                signed.checkpoint.root,
                root,
                _hashes(proof_doc.get("proof")),
            )
        except (ConsistencyProofError, LedgerError) as exc:
            return f"omission: the receipt's checkpoint does not extend to the newer one ({exc})"
    raise VerificationError("not an omission: the ledger proves the receipt's entry")


__all__ = ["FORMAT", "build_evidence", "check_evidence", "finding_json", "write_evidence"]
