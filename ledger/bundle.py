"""Offline proof bundles for one lot: the buyer's check (DESIGN §2, §7; issue 6).

A bundle lets anyone holding only the operator's vkey check where a lot came from, without
asking the ledger anything. Format ``fairledger-lot-bundle/v1``, one JSON object, written as
RFC 8785 canonical bytes (``ledger.canonical``)::

    {"format": "fairledger-lot-bundle/v1",
     "origin": "<ledger origin>",
     "lot": "<the lot, GS1 Digital Link normal form>",
     "checkpoint": "<C2SP signed note: the operator's signature, witness cosignatures>",
     "records": [{"record": {<record, DESIGN §2>}, "entry_hash": "<64 hex>",
                  "inclusion_proof": ["<64 hex>", ...]}, ...],          (ascending seq)
     "provenance": {<Provenance.to_json(), as of the checkpoint>}}

``records`` holds the genesis record; every ``trace.event`` record the provenance rests on
(the movements of each lot, the transformations linking them, the events retracted by an
error declaration and the declarations themselves); and every ``participant.register``,
``key.rotate`` and ``key.revoke`` record of each participant involved (the authors of those
records, the holders and counterparties the provenance names, and the operator). Every
inclusion proof is against the one checkpoint, and the provenance is as of that checkpoint
(``as_of_seq`` = its size - 1).

``verify_bundle`` checks, in this order, raising the first failure:

1. the document: at most ``MAX_BUNDLE_BYTES``, strict JSON (no duplicate keys, floats, huge
   integers or nesting beyond ``MAX_DEPTH``), exactly the members above with the right types
   (``MalformedBundleError``, ``field`` naming the member);
2. the checkpoint: the operator's signature (``SignatureError``/``CheckpointError``) and, if
   asked, valid cosignatures by at least ``min_witnesses`` of ``witnesses``
   (``CheckpointError``);
3. each record: its canonical form (RFC 8785) parses as a record (``RecordRuleError``), its
   leaf hash equals the entry hash the bundle gives (``ChainLinkError``), ``prev`` links the
   records of consecutive seqs (``ChainLinkError``), and its inclusion proof leads from that
   hash to the checkpoint's root (``InclusionProofError``);
4. the genesis record is there and names the operator's key and origin (the trust anchor);
5. replaying the records in seq order through ``ledger.state`` (the rules the ledger itself
   applies): each signature verifies with the key valid at that seq, the author's roles allow
   the kind, key records obey their rules, trace events were recorded by the party that
   performed them (``SignatureError``, ``RecordRuleError``);
6. the provenance: every seq it cites is in the bundle (``BundleIncompleteError``), and
   replaying the verified trace records through the ledger's own trace projection, in a
   private in-memory database, yields exactly the claimed provenance: lots, shares, links,
   movements, events, parties and corrections (``ProvenanceMismatchError`` naming the first
   member that differs, with both values).

Every ``VerificationError`` carries the ``seq`` at fault when there is one, ``expected`` and
``observed``, and ``field``: the path of the offending member in the bundle.

What a bundle cannot prove is absence: a record left out (say, a later revocation of a key,
or an error declaration retracting an event) is invisible to an offline check of this lot.
Records that the claimed provenance needs are caught (missing seqs, keys that no included
record makes valid); completeness of the whole log is the auditor's full check
(``ledger.verify``), which sees every record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledger import merkle
from ledger.canonical import MAX_SAFE_INTEGER, JSONObject, JSONValue, canonical_bytes
from ledger.errors import (
    ChainLinkError,
    CheckpointError,
    InclusionProofError,
    LedgerError,
    LedgerNotInitializedError,
    MalformedError,
    MalformedStatementError,
    RecordRuleError,
    SignatureError,
    VerificationError,
)
from ledger.keys import b64encode
from ledger.log import Ledger
from ledger.note import (
    CosignatureVerifier,
    Ed25519Verifier,
    NoteSignature,
    SignedCheckpoint,
    add_signature_lines,
    open_checkpoint,
    verify_cosignatures,
)
from ledger.state import STATE_KINDS, Kind, LedgerState, Participant, judge
from ledger.statement import PARTICIPANT_ID, Record, parse_timestamp
from ledger.storage.bundle import latest_cosigned_size, leaves, scratch_store
from ledger.storage.cosignatures import cosignature_lines
from ledger.storage.store import NewRecord, Reader
from ledger.storage.trace import TraceProjection, trace_back
from ledger.trace.errors import UnknownLotError
from ledger.trace.identifiers import normalize_lot
from ledger.trace.provenance import Provenance
from ledger.trace.rules import TRACE_VALIDATORS

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_BUNDLE_BYTES",
    "BundleIncompleteError",
    "MalformedBundleError",
    "ProvenanceMismatchError",
    "VerifiedLot",
    "build_bundle",
    "bundle_document",
    "needed_seqs",
    "proving_size",
    "verify_bundle",
]

BUNDLE_FORMAT: Final = "fairledger-lot-bundle/v1"
#: Larger documents are refused before parsing (a 200-record bundle is about 0.3 MiB).
MAX_BUNDLE_BYTES: Final = 64 * 2**20
#: Deeper JSON is refused; a statement may nest 32 levels (``ledger.canonical``) and sits
#: four levels down in a bundle.
MAX_DEPTH: Final = 40
#: An RFC 9162 inclusion proof in a tree of fewer than 2^64 leaves has at most 64 hashes.
MAX_PROOF: Final = 64
_MEMBERS: Final = frozenset({"format", "origin", "lot", "checkpoint", "records", "provenance"})
_ENTRY_MEMBERS: Final = frozenset({"record", "entry_hash", "inclusion_proof"})
_HEX: Final = frozenset("0123456789abcdef")
_SHOWN: Final = 160


class MalformedBundleError(MalformedError):
    """The bundle is not a ``fairledger-lot-bundle/v1`` document (bad JSON, wrong types,
    too large or too deep, missing or unknown members)."""

    code = "malformed-bundle"


class BundleIncompleteError(VerificationError):
    """A record the bundle's claims rest on is not in the bundle."""

    code = "bundle-incomplete"


class ProvenanceMismatchError(VerificationError):
    """The provenance rebuilt from the verified records differs from the one claimed."""

    code = "provenance-mismatch"


@dataclass(frozen=True, slots=True)
class VerifiedLot:
    """What ``verify_bundle`` proved: the provenance of ``lot`` rebuilt from records that
    are each included in ``checkpoint`` (signed by the operator of ``origin``, cosigned by
    the ``witnesses`` named, among those the caller trusts) and each signed by its author
    with the key valid at its seq. ``participants`` are those the key records registered;
    ``record_seqs`` the trace records, ``key_seqs`` genesis and the key records."""

    lot: str
    origin: str
    operator_vkey: str
    checkpoint: SignedCheckpoint
    witnesses: tuple[str, ...]
    provenance: Provenance
    participants: dict[str, Participant]
    record_seqs: tuple[int, ...]
    key_seqs: tuple[int, ...]

    @property
    def size(self) -> int:
        """Tree size of the checkpoint every record was proven against."""
        return self.checkpoint.checkpoint.size

    def to_json(self) -> JSONObject:
        participants: JSONObject = {
            pid: {
                "display_name": p.display_name,
                "roles": [str(r) for r in sorted(p.roles)],
                "gln": p.gln,
                "registered_seq": p.registered_seq,
            }
            for pid, p in sorted(self.participants.items())
        }
        return {
            "format": BUNDLE_FORMAT,
            "verified": True,
            "lot": self.lot,
            "origin": self.origin,
            "operator_vkey": self.operator_vkey,
            "checkpoint": {
                "size": self.size,
                "root": self.checkpoint.checkpoint.root.hex(),
                "note": self.checkpoint.text,
            },
            "witnesses": list(self.witnesses),
            "participants": participants,
            "record_seqs": list(self.record_seqs),
            "key_seqs": list(self.key_seqs),
            "provenance": self.provenance.to_json(),
        }


# -- building ----------------------------------------------------------------------------------


def build_bundle(
    source: Ledger | Reader,
    lot: str,
    *,
    checkpoint_size: int | None = None,
) -> bytes:
    """The proof bundle of ``lot`` (any lot syntax) as canonical (RFC 8785) JSON bytes.

    ``source`` is a ledger (read in one snapshot) or an open read transaction. The
    checkpoint is the one of ``checkpoint_size`` if given; otherwise the newest checkpoint
    that a witness cosigned, when it covers every record of the lot's current provenance,
    else the latest. Raises ``MalformedIdentifierError`` for a malformed lot,
    ``UnknownLotError`` for a lot no record names (up to that checkpoint),
    ``MalformedError`` for a ``checkpoint_size`` the ledger never signed, and
    ``StorageError`` if the database fails.
    """
    return canonical_bytes(bundle_document(source, lot, checkpoint_size=checkpoint_size))


def bundle_document(
    source: Ledger | Reader, lot: str, *, checkpoint_size: int | None = None
) -> JSONObject:
    """``build_bundle`` as a JSON object (same checkpoint choice, same errors)."""
    if isinstance(source, Ledger):
        with source.store.read() as reader:
            return _build(reader, lot, checkpoint_size)
    return _build(source, lot, checkpoint_size)


def needed_seqs(found: Provenance) -> set[int]:
    """Every trace record ``found`` cites or was derived from (corrections included): the
    records a bundle of it proves."""
    seqs = set(found.seqs)
    seqs.update(e.seq for e in found.events)
    for c in found.corrections:
        seqs.add(c.seq)
        seqs.add(c.declared_by)
        seqs.update(c.corrective_seqs)
    return seqs


def proving_size(latest_size: int, cosigned: int | None, newest: int) -> int:
    """The size of the checkpoint a lot's bundle is proven against: the newest
    witness-cosigned checkpoint when it covers ``newest`` (the lot's newest needed record),
    else the latest one."""
    if cosigned is not None and cosigned < latest_size and newest < cosigned:
        return cosigned
    return latest_size


def _build(reader: Reader, lot: str, checkpoint_size: int | None) -> JSONObject:
    root_lot = normalize_lot(lot)
    latest = reader.checkpoint(checkpoint_size)
    if latest is None:
        if checkpoint_size is not None:
            raise MalformedError(
                f"the ledger signed no checkpoint of size {checkpoint_size}",
                field="checkpoint_size",
            )
        raise LedgerNotInitializedError("the ledger has no checkpoint")
    size, _root, note = latest
    found = trace_back(reader, root_lot, as_of_seq=size - 1)
    needed = needed_seqs(found)
    if checkpoint_size is None:
        cosigned = latest_cosigned_size(reader)
        if cosigned is not None and proving_size(size, cosigned, max(needed, default=0)) != size:
            older = reader.checkpoint(cosigned)
            if older is not None:
                try:
                    found = trace_back(reader, root_lot, as_of_seq=cosigned - 1)
                except UnknownLotError:
                    pass
                else:
                    size, _root, note = older
                    needed = needed_seqs(found)
    lines = cosignature_lines(reader, size)
    if lines:
        note = add_signature_lines(note, [NoteSignature.from_line(line) for line in lines])

    stored = leaves(reader, needed | {0})
    loaded = {seq: Record.from_leaf(stored[seq][1]) for seq in sorted(needed | {0})}
    genesis = loaded[0]
    operator = genesis.statement.author
    involved = {operator}
    involved.update(r.statement.author for r in loaded.values())
    for traced in found.lots:
        for m in traced.movements:
            for party in (m.holder, m.counterparty):
                if party is not None and PARTICIPANT_ID.fullmatch(party):
                    involved.add(party)
    key_seqs: set[int] = set()
    for state_record in reader.records_of_kinds(0, [str(k) for k in STATE_KINDS]):
        if state_record.seq >= size:
            continue
        statement = Record.from_leaf(state_record.leaf).statement
        body = statement.body
        subject = statement.author if statement.kind == Kind.KEY_ROTATE else body.get("participant")
        if statement.kind == Kind.GENESIS or subject in involved:
            key_seqs.add(state_record.seq)
    stored.update(leaves(reader, key_seqs - stored.keys()))

    seqs = sorted(needed | key_seqs | {0})
    proofs = _inclusion_proofs(reader, seqs, size)
    entries: list[JSONValue] = []
    for seq in seqs:
        entry_hash, leaf = stored[seq]
        record = loaded.get(seq) or Record.from_leaf(leaf)
        entries.append(
            {
                "record": record.to_json(),
                "entry_hash": entry_hash.hex(),
                "inclusion_proof": [h.hex() for h in proofs[seq]],
            }
        )
    return {
        "format": BUNDLE_FORMAT,
        "origin": str(genesis.statement.body["origin"]),
        "lot": root_lot,
        "checkpoint": note,
        "records": entries,
        "provenance": found.to_json(),
    }


def _inclusion_proofs(reader: Reader, seqs: Sequence[int], size: int) -> dict[int, list[bytes]]:
    """Inclusion proofs of ``seqs`` in the tree of ``size``, reading every node they need
    in one batched query instead of one per proof."""
    wanted: dict[tuple[int, int], bytes] = {}

    def note_wanted(nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        for node in nodes:
            wanted[node] = b""
        return [bytes(merkle.HASH_SIZE)] * len(nodes)

    for seq in seqs:
        merkle.inclusion_proof(seq, size, note_wanted)
    order = sorted(wanted)
    wanted.update(zip(order, reader.nodes(order), strict=True))

    def cached(nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        return [wanted[node] for node in nodes]

    return {seq: merkle.inclusion_proof(seq, size, cached) for seq in seqs}


# -- parsing -----------------------------------------------------------------------------------


def _malformed(message: str, field: str) -> MalformedBundleError:
    return MalformedBundleError(f"{field}: {message}" if field else message, field=field or None)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate object key {key[:40]!r}")
        result[key] = value
    return result


def _no_float(text: str) -> Any:
    raise ValueError(f"number {text[:40]} is not an integer")


def _safe_int(text: str) -> int:
    if len(text.lstrip("-")) > 16:
        raise ValueError(f"integer {text[:20]} is outside ±(2^53-1)")
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise ValueError(f"integer {text} is outside ±(2^53-1)")
    return value


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_no_duplicates,
    parse_float=_no_float,
    parse_int=_safe_int,
    parse_constant=_no_float,
)


def _too_deep(value: object) -> bool:
    """True if ``value`` nests deeper than ``MAX_DEPTH`` (walked level by level, containers
    only, so that no recursion limit is ever near)."""
    level = [value]
    depth = 0
    while level:
        if depth > MAX_DEPTH:
            return True
        below: list[object] = []
        for item in level:
            children: Iterable[object] = item.values() if isinstance(item, dict) else item  # type: ignore[assignment]
            below.extend(c for c in children if type(c) is dict or type(c) is list)
        level = below
        depth += 1
    return False


def _parse(data: object) -> dict[str, Any]:
    """Decode a bundle strictly; raises ``MalformedBundleError``."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _malformed(f"text has a lone surrogate at {exc.start}", "") from exc
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raise _malformed(f"a bundle is bytes or text, not {type(data).__name__}", "")
    if len(raw) > MAX_BUNDLE_BYTES:
        raise _malformed(f"bundle is {len(raw)} bytes, at most {MAX_BUNDLE_BYTES} accepted", "")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed(f"bundle is not UTF-8 (byte {exc.start})", "") from exc
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _malformed(
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", ""
        ) from exc
    except RecursionError as exc:
        raise _malformed(f"JSON nests deeper than {MAX_DEPTH} levels", "") from exc
    except ValueError as exc:
        raise _malformed(f"not acceptable JSON: {exc}", "") from exc
    if _too_deep(value):
        raise _malformed(f"JSON nests deeper than {MAX_DEPTH} levels", "")
    if not isinstance(value, dict):
        raise _malformed("a bundle is a JSON object", "")
    missing = _MEMBERS - value.keys()
    if missing:
        name = min(missing)
        raise _malformed("missing", name)
    unknown = value.keys() - _MEMBERS
    if unknown:
        raise _malformed("unknown member", min(unknown))
    if value["format"] != BUNDLE_FORMAT:
        raise _malformed(f"expected {BUNDLE_FORMAT!r}, got {_show(value['format'])}", "format")
    for name in ("origin", "lot", "checkpoint"):
        if not isinstance(value[name], str):
            raise _malformed("must be a string", name)
    if not isinstance(value["records"], list) or not value["records"]:
        raise _malformed("must be a non-empty list", "records")
    if not isinstance(value["provenance"], dict):
        raise _malformed("must be an object", "provenance")
    for index, entry in enumerate(value["records"]):
        _check_entry(entry, f"records[{index}]")
    return value


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)


def _check_entry(entry: object, field: str) -> None:
    if not isinstance(entry, dict):
        raise _malformed("must be an object", field)
    missing = _ENTRY_MEMBERS - entry.keys()
    if missing:
        raise _malformed("missing", f"{field}.{min(missing)}")
    unknown = entry.keys() - _ENTRY_MEMBERS
    if unknown:
        raise _malformed("unknown member", f"{field}.{min(unknown)}")
    if not isinstance(entry["record"], dict):
        raise _malformed("must be an object", f"{field}.record")
    if not _is_hash(entry["entry_hash"]):
        raise _malformed("must be 64 lowercase hex digits", f"{field}.entry_hash")
    proof = entry["inclusion_proof"]
    if not isinstance(proof, list) or len(proof) > MAX_PROOF:
        raise _malformed(
            f"must be a list of at most {MAX_PROOF} hashes", f"{field}.inclusion_proof"
        )
    for i, h in enumerate(proof):
        if not _is_hash(h):
            raise _malformed("must be 64 lowercase hex digits", f"{field}.inclusion_proof[{i}]")


def _show(value: object) -> str:
    try:
        text = canonical_bytes(value).decode("utf-8")
    except LedgerError:
        text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


# -- verifying ---------------------------------------------------------------------------------


def _failure(
    cls: type[VerificationError],
    message: str,
    *,
    field: str,
    seq: int | None = None,
    expected: str | None = None,
    observed: str | None = None,
) -> VerificationError:
    error = cls(f"{field}: {message}", seq=seq, expected=expected, observed=observed)
    error.field = field
    return error


def _relabel(error: VerificationError, field: str) -> VerificationError:
    """``error`` re-raised as its own class with ``field`` named in its message."""
    message = error.message
    prefix = f"seq {error.seq}: " if error.seq is not None else ""
    core = message[len(prefix) :] if message.startswith(prefix) else message
    suffix = f" (expected {error.expected}, observed {error.observed})"
    if error.expected is not None or error.observed is not None:
        core = core.removesuffix(suffix)
    return _failure(
        type(error),
        core,
        field=field,
        seq=error.seq,
        expected=error.expected,
        observed=error.observed,
    )


def _operator(vkey: str | Ed25519Verifier) -> Ed25519Verifier:
    if isinstance(vkey, Ed25519Verifier):
        return vkey
    if not isinstance(vkey, str):
        raise MalformedError("the operator vkey must be a string", field="vkey")
    return Ed25519Verifier.from_vkey(vkey.strip())


def _witnesses(witnesses: Sequence[str | CosignatureVerifier]) -> list[CosignatureVerifier]:
    out = []
    for w in witnesses:
        if isinstance(w, CosignatureVerifier):
            out.append(w)
        elif isinstance(w, str):
            out.append(CosignatureVerifier.from_vkey(w.strip()))
        else:
            raise MalformedError("a witness vkey must be a string", field="witnesses")
    return out


def verify_bundle(
    bundle: bytes | str,
    operator_vkey: str | Ed25519Verifier,
    *,
    witnesses: Sequence[str | CosignatureVerifier] = (),
    min_witnesses: int = 0,
) -> VerifiedLot:
    """Check a lot bundle offline with only the operator's vkey (and, optionally, witness
    cosignature/v1 vkeys of which at least ``min_witnesses`` must have cosigned); returns
    the verified provenance (see the module docstring for every check, in order).

    Raises ``MalformedBundleError`` for a document that is not a bundle,
    ``MalformedKeyError`` for an unusable vkey, ``MalformedError`` for a negative
    ``min_witnesses`` or more than there are witnesses, and a ``VerificationError``
    (``SignatureError``, ``CheckpointError``, ``ChainLinkError``, ``InclusionProofError``,
    ``RecordRuleError``, ``BundleIncompleteError``, ``ProvenanceMismatchError``) naming the
    seq, the bundle member (``field``), what was expected and what was found. Never raises
    anything but ``LedgerError``.
    """
    operator = _operator(operator_vkey)
    trusted = _witnesses(witnesses)
    if isinstance(min_witnesses, bool) or not isinstance(min_witnesses, int):
        raise MalformedError("min_witnesses must be an integer", field="min_witnesses")
    if not 0 <= min_witnesses <= len(trusted):
        raise MalformedError(
            f"min_witnesses must be between 0 and the {len(trusted)} witness key(s) given, "
            f"got {min_witnesses}",
            field="min_witnesses",
        )
    document = _parse(bundle)

    # 2. The checkpoint: the operator's signature, then the witnesses.
    try:
        signed = open_checkpoint(document["checkpoint"], operator)
    except VerificationError as exc:
        raise _relabel(exc, "checkpoint") from exc
    except MalformedError as exc:
        raise _malformed(exc.message, "checkpoint") from exc
    try:
        named = verify_cosignatures(signed, trusted, required=min_witnesses)
    except VerificationError as exc:
        raise _relabel(exc, "checkpoint") from exc
    except MalformedError as exc:
        raise _malformed(exc.message, "checkpoint") from exc
    checkpoint = signed.checkpoint
    if document["origin"] != checkpoint.origin:
        raise _failure(
            CheckpointError,
            "the bundle's origin is not the checkpoint's",
            field="origin",
            expected=checkpoint.origin,
            observed=_show(document["origin"]),
        )

    # 3. Each record: canonical form, entry hash, link, inclusion proof.
    records = _verified_records(document["records"], checkpoint.size, checkpoint.root)

    # 4. The trust anchor.
    genesis = records[0][1]
    if genesis.seq != 0:
        raise _failure(
            BundleIncompleteError,
            "the genesis record (seq 0), the trust anchor, is missing",
            field="records[0]",
            seq=0,
            observed=f"first record is seq {genesis.seq}",
        )
    _check_anchor(genesis, operator)

    # 5 and 6. Replay the rules, and the trace projection in a private database.
    lot = document["lot"]
    if _normal_or_none(lot) != lot:
        raise _malformed("must be a lot in GS1 Digital Link normal form", "lot")
    claimed = document["provenance"]
    trace_seqs = {r.seq for _i, r in records if r.statement.kind == Kind.TRACE_EVENT}
    _check_cited(claimed, trace_seqs)
    state, rebuilt = _replay(records, lot, checkpoint.size - 1)
    expected = rebuilt.to_json()
    # Canonical bytes first (fast, and 1 differs from true there); walk only on a mismatch.
    same = _canonical_or_none(claimed) == canonical_bytes(expected)
    difference = None if same else _first_difference(expected, claimed, "provenance")
    if not same and difference is None:  # unreachable in practice: the walk is as strict
        difference = ("provenance", "the rebuilt provenance", "another document", None)
    if difference is not None:
        path, want, got, seq = difference
        raise _failure(
            ProvenanceMismatchError,
            "the provenance rebuilt from the verified records differs from the claimed one",
            field=path,
            seq=seq,
            expected=want,
            observed=got,
        )
    return VerifiedLot(
        lot=lot,
        origin=checkpoint.origin,
        operator_vkey=operator.vkey,
        checkpoint=signed,
        witnesses=tuple(named),
        provenance=rebuilt,
        participants=dict(state.participants),
        record_seqs=tuple(sorted(trace_seqs)),
        key_seqs=tuple(r.seq for _i, r in records if r.statement.kind in STATE_KINDS),
    )


def _canonical_or_none(value: object) -> bytes | None:
    try:
        return canonical_bytes(value)
    except LedgerError:
        return None


def _normal_or_none(lot: str) -> str | None:
    """``normalize_lot``, or None for a malformed lot."""
    try:
        return normalize_lot(lot)
    except LedgerError:
        return None


def _verified_records(
    entries: list[dict[str, Any]], size: int, root: bytes
) -> list[tuple[int, Record]]:
    """Parse each record and check its entry hash, ``prev`` link and inclusion proof."""
    out: list[tuple[int, Record]] = []
    previous: Record | None = None
    for index, entry in enumerate(entries):
        field = f"records[{index}]"
        value = entry["record"]
        claimed_seq = value.get("seq")
        seq_hint = claimed_seq if type(claimed_seq) is int and claimed_seq >= 0 else None
        try:
            record = Record.from_json(value)
        except MalformedStatementError as exc:
            where = f"{field}.record" + (f".{exc.field}" if exc.field else "")
            raise _failure(
                RecordRuleError,
                f"not a well-formed record: {exc.message}",
                field=where,
                seq=seq_hint,
            ) from exc
        seq = record.seq
        if previous is not None and seq <= previous.seq:
            raise _malformed(
                f"records must be in ascending seq order without repeats: seq {seq} follows "
                f"seq {previous.seq}",
                f"{field}.record.seq",
            )
        claimed = entry["entry_hash"]
        computed = record.entry_hash.hex()
        if computed != claimed:
            raise _failure(
                ChainLinkError,
                "the record's canonical bytes do not hash to its entry hash",
                field=f"{field}.entry_hash",
                seq=seq,
                expected=claimed,
                observed=computed,
            )
        if previous is not None and previous.seq == seq - 1:
            if record.prev != previous.entry_hash.hex():
                raise _failure(
                    ChainLinkError,
                    "prev is not the entry hash of the record before it",
                    field=f"{field}.record.prev",
                    seq=seq,
                    expected=previous.entry_hash.hex(),
                    observed=record.prev,
                )
            if record.recorded_at < previous.recorded_at:
                raise _failure(
                    RecordRuleError,
                    "recorded_at goes backwards",
                    field=f"{field}.record.recorded_at",
                    seq=seq,
                    expected=f">= {previous.recorded_at}",
                    observed=record.recorded_at,
                )
        proof = [bytes.fromhex(h) for h in entry["inclusion_proof"]]
        try:
            merkle.verify_inclusion(record.entry_hash, seq, size, proof, root)
        except InclusionProofError as exc:
            raise _relabel(exc, f"{field}.inclusion_proof") from exc
        out.append((index, record))
        previous = record
    return out


def _check_anchor(genesis: Record, operator: Ed25519Verifier) -> None:
    statement = genesis.statement
    body = statement.body
    if statement.kind != Kind.GENESIS:
        raise _failure(
            RecordRuleError,
            "record 0 is not the ledger.genesis statement",
            field="records[0].record.statement.kind",
            seq=0,
            expected=str(Kind.GENESIS),
            observed=statement.kind,
        )
    if body.get("public_key") != operator.public_key.b64:
        raise _failure(
            RecordRuleError,
            "the genesis record names another operator key than the trusted vkey",
            field="records[0].record.statement.body.public_key",
            seq=0,
            expected=operator.public_key.b64,
            observed=_show(body.get("public_key")),
        )
    if body.get("origin") != operator.name:
        raise _failure(
            RecordRuleError,
            "the genesis record names another origin than the trusted vkey",
            field="records[0].record.statement.body.origin",
            seq=0,
            expected=operator.name,
            observed=_show(body.get("origin")),
        )


def _cited(claimed: dict[str, Any]) -> Iterator[tuple[int, str]]:
    """Every (seq, path) the claimed provenance cites; ill-typed parts are skipped here (the
    comparison with the rebuilt provenance reports them)."""

    def ints(value: object, path: str) -> Iterator[tuple[int, str]]:
        if type(value) is int:
            yield value, path
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if type(item) is int:
                    yield item, f"{path}[{i}]"

    def items(name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        value = claimed.get(name)
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield i, item

    base = "provenance"
    yield from ints(claimed.get("seqs"), f"{base}.seqs")
    for i, traced in items("lots"):
        yield from ints(traced.get("seqs"), f"{base}.lots[{i}].seqs")
        movements = traced.get("movements")
        if isinstance(movements, list):
            for j, move in enumerate(movements):
                if isinstance(move, dict):
                    yield from ints(move.get("seq"), f"{base}.lots[{i}].movements[{j}].seq")
    for name in ("links", "events"):
        for i, item in items(name):
            yield from ints(item.get("seq"), f"{base}.{name}[{i}].seq")
    for i, item in items("corrections"):
        for member in ("seq", "declared_by", "corrective_seqs"):
            yield from ints(item.get(member), f"{base}.corrections[{i}].{member}")


def _check_cited(claimed: dict[str, Any], trace_seqs: set[int]) -> None:
    for seq, path in _cited(claimed):
        if seq not in trace_seqs:
            raise _failure(
                BundleIncompleteError,
                "the provenance cites a trace record that is not in the bundle",
                field=path,
                seq=seq,
                expected=f"a trace.event record at seq {seq}",
                observed="none",
            )


def _replay(
    records: list[tuple[int, Record]], lot: str, as_of_seq: int
) -> tuple[LedgerState, Provenance]:
    """Judge every record against the state its predecessors in the bundle built, and run
    the trace records through the trace projection of a private in-memory database; returns
    the final state and the provenance of ``lot`` that database answers."""
    state = LedgerState()
    store = scratch_store()
    try:
        with store.write() as tx:
            tx.insert_batch(
                [
                    NewRecord(
                        r.seq,
                        r.entry_hash,
                        r.leaf,
                        r.statement.kind,
                        r.statement.author,
                        r.statement.nonce,
                        r.statement.key,
                    )
                    for _i, r in records
                ],
                [],
                None,
            )
            batch = TraceProjection().start(tx)
            for index, record in records:
                _judge(state, index, record)
                if record.statement.kind == Kind.TRACE_EVENT:
                    batch.stage(record, state)
            batch.flush()
        with store.read() as reader:
            try:
                rebuilt = trace_back(reader, lot, as_of_seq=as_of_seq)
            except UnknownLotError as exc:
                raise _failure(
                    BundleIncompleteError,
                    "no verified record of the bundle names the lot",
                    field="lot",
                    expected=f"trace records of {lot}",
                    observed="none",
                ) from exc
    except LedgerError:
        raise
    except Exception as exc:  # a replay that cannot even run is the bundle's fault
        raise _failure(
            BundleIncompleteError,
            f"the provenance cannot be rebuilt from the bundle's records ({type(exc).__name__})",
            field="records",
        ) from exc
    finally:
        store.dispose()
    return state, rebuilt


def _judge(state: LedgerState, index: int, record: Record) -> None:
    field = f"records[{index}].record"
    seq = record.seq
    statement = record.statement
    kind = statement.kind
    if kind not in STATE_KINDS and kind != Kind.TRACE_EVENT:
        raise _malformed(
            f"a lot bundle holds key records and trace events, not {kind}",
            f"{field}.statement.kind",
        )
    try:
        recorded_at = parse_timestamp(record.recorded_at, field="recorded_at")
        judge(state, seq, statement, record.signature, recorded_at, TRACE_VALIDATORS)
    except LedgerError as exc:
        where = f"{field}.{exc.field}" if exc.field else field
        if exc.code == "bad-signature" and exc.field == "signature":
            raise _failure(
                SignatureError,
                f"signature by {statement.author} does not verify with key {statement.key[:16]}…",
                field=where,
                seq=seq,
                expected="a signature by the key valid at this seq",
                observed=b64encode(record.signature),
            ) from exc
        hint = ""
        if exc.code in ("unknown-key", "key-not-active"):
            hint = " (the bundle holds no key record that lets this key sign here)"
        raise _failure(
            RecordRuleError, f"{exc.code}: {exc.message}{hint}", field=where, seq=seq
        ) from exc
    if kind in STATE_KINDS:
        try:
            state.apply(seq, statement, record.recorded_at)
        except (LedgerError, KeyError, ValueError, AssertionError) as exc:
            raise _failure(
                RecordRuleError, f"key record cannot be applied: {exc}", field=field, seq=seq
            ) from exc


def _first_difference(
    expected: object, observed: object, path: str, seq: int | None = None
) -> tuple[str, str, str, int | None] | None:
    """The first place (depth first, in the expected document's order) where ``observed``
    differs from ``expected``: (path, expected, observed, nearest enclosing seq)."""
    if isinstance(expected, dict):
        own = expected.get("seq")
        if type(own) is int:
            seq = own
        if not isinstance(observed, dict):
            return path, _show(expected), _show(observed), seq
        for key, want in expected.items():
            if key not in observed:
                return f"{path}.{key}", _show(want), "missing", seq
            found = _first_difference(want, observed[key], f"{path}.{key}", seq)
            if found is not None:
                return found
        for key in observed:
            if key not in expected:
                return f"{path}.{key}", "absent", _show(observed[key]), seq
        return None
    if isinstance(expected, list):
        if not isinstance(observed, list):
            return path, _show(expected), _show(observed), seq
        for i, want in enumerate(expected):
            if i >= len(observed):
                return f"{path}[{i}]", _show(want), "missing", seq
            found = _first_difference(want, observed[i], f"{path}[{i}]", seq)
            if found is not None:
                return found
        if len(observed) > len(expected):
            return f"{path}[{len(expected)}]", "absent", _show(observed[len(expected)]), seq
        return None
    if type(expected) is not type(observed) or expected != observed:
        return path, _show(expected), _show(observed), seq
    return None
