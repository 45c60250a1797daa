"""The verification verdict of a provenance page, kept valid as the ledger grows (issue 6).

A page's verdict comes from building the lot's proof bundle and verifying it as a buyer would
(``ledger.bundle``): a few hundred milliseconds for a large lot. On a busy ledger every append
makes a new checkpoint, so a verdict keyed on the latest checkpoint alone would be recomputed
on nearly every view. Transparency logs avoid that the way an auditor does (DESIGN §7): once a
lot's records are proven by inclusion proofs against a signed checkpoint A, a newer signed
checkpoint B only needs

1. the operator's signature on B (and the trusted witnesses' cosignatures on it), and
2. an RFC 9162 consistency proof from A to B (``ledger.merkle``, O(log n) stored hashes),

because B's tree then extends A's without changing any leaf, so every record proven at A is in
B too. This holds only while the lot's provenance is unchanged: a new record that the
provenance rests on (a movement of any lot in it, a transformation, a correction) is not
proven at A, so the bundle is built and verified again from scratch.

Per lot, ``VerificationCache`` keeps the *anchor* — the checkpoint A the bundle was verified
against, the provenance the page showed then, and that verdict — plus the last verdict shown
and the ledger state it was shown for. On a view:

* same ledger state as the last view (latest checkpoint, newest cosigned checkpoint and its
  cosignature count): the last verdict, as is;
* otherwise, if the anchor was fully verified, the provenance read for this page equals the
  anchored one (so every record it rests on is below A's size) and the checkpoint the bundle
  would use now (the newest cosigned one when it covers the lot, else the latest) is at
  least as large as A: verify that checkpoint's signatures and the consistency proof A → B.
  The page then names both: "records proven at A, and A is consistent with B";
* otherwise: build and verify the bundle (a new anchor).

A failed verdict is never kept: it is recomputed on every view. A failed consistency check is
shown as a failure, never answered by re-verifying from scratch, since a ledger whose new
checkpoint does not extend the one a lot was verified at has rewritten history.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from api.problems import spec_for
from api.routes.deps import ApiSettings
from ledger import merkle
from ledger.bundle import build_bundle, needed_seqs, proving_size, verify_bundle
from ledger.errors import LedgerError, VerificationError
from ledger.log import Ledger
from ledger.note import (
    Checkpoint,
    NoteSignature,
    add_signature_lines,
    open_checkpoint,
    verify_cosignatures,
)
from ledger.storage.bundle import latest_cosigned_size
from ledger.storage.cosignatures import cosignature_lines
from ledger.storage.store import Reader
from ledger.trace.provenance import Provenance

__all__ = [
    "VerificationCache",
    "VerificationView",
    "lot_verification",
    "verification_cache",
]

#: Lots whose verdicts one app keeps (least recently viewed out).
CACHE_SIZE: Final = 256


@dataclass(frozen=True, slots=True)
class VerificationView:
    """The verification status shown on a page: ``css`` is ``verified``, ``partial`` (the
    proofs hold but some records on the page are newer than the checkpoint) or ``failed``.

    ``checkpoint_size``/``root_prefix`` name the newest checkpoint the page is verified at.
    When the inclusion proofs were checked against an older checkpoint that the newer one was
    then proven consistent with, ``proofs_size``/``proofs_root_prefix`` name that older one;
    otherwise ``proofs_size`` is None (the proofs are against ``checkpoint_size``)."""

    css: str
    badge: str
    summary: str
    checkpoint_size: int | None
    root_prefix: str
    operator: str
    operator_key: str
    witnesses: tuple[str, ...]
    proven: int
    records: int
    problem: str | None
    proofs_size: int | None = None
    proofs_root_prefix: str = ""


@dataclass(frozen=True, slots=True)
class _Anchor:
    """A lot's verdict from a full bundle verification: ``checkpoint`` is the one every
    inclusion proof was checked against (its operator signature verified), ``provenance``
    what the page showed in the same read, ``view`` the verdict then."""

    checkpoint: Checkpoint
    provenance: Provenance
    view: VerificationView


@dataclass(frozen=True, slots=True)
class _Entry:
    anchor: _Anchor
    state: tuple[object, ...]
    view: VerificationView


class VerificationCache:
    """Per lot (and per operator key and trusted witnesses), the anchor of its last full
    verification and the last verdict shown with the ledger state it was shown for. Only
    passing verdicts are kept. Bounded (least recently used out), safe across threads."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[object, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, key: tuple[object, ...]) -> _Entry | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def keep(self, key: tuple[object, ...], entry: _Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def verification_cache(app: Any) -> VerificationCache:
    """The app's verification cache (made on first use, kept in ``app.state``)."""
    state = app.state
    cache = getattr(state, "web_verifications", None)
    if not isinstance(cache, VerificationCache):
        cache = state.web_verifications = VerificationCache()
    return cache


def _same_provenance(a: Provenance, b: Provenance) -> bool:
    """Same lot, lots, shares, links, movements, events and corrections (``as_of_seq``, the
    bound the answer was read with, aside)."""
    return (a.lot, a.lots, a.links, a.events, a.corrections) == (
        b.lot,
        b.lots,
        b.links,
        b.events,
        b.corrections,
    )


def _consistency_proof(reader: Reader, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 consistency proof between two stored tree sizes, read in ``reader``'s
    snapshot (O(log n) stored hashes, one query)."""
    return merkle.consistency_proof(old_size, new_size, reader.nodes)


def _plural(n: int, word: str, suffix: str = "s") -> str:
    return f"{n} {word}{'' if n == 1 else suffix}"


def _cosigned_by(witnesses: Sequence[str]) -> str:
    if not witnesses:
        return ""
    return f" and cosigned by {_plural(len(witnesses), 'witness', 'es')}"


def _failed(problem: str, records: int, operator: str, key: str) -> VerificationView:
    return VerificationView(
        css="failed",
        badge="Verification failed",
        summary="The ledger's proofs for this lot do not check out. Do not rely on this page.",
        checkpoint_size=None,
        root_prefix="",
        operator=operator,
        operator_key=key,
        witnesses=(),
        proven=0,
        records=records,
        problem=problem,
    )


def _problem(exc: LedgerError) -> str:
    """What failed, for the page: a verification failure's own message (it names the proof,
    record or signature), else the problem type's fixed detail (never storage internals)."""
    if isinstance(exc, VerificationError):
        return exc.message
    _, spec = spec_for(exc)
    return spec.detail or exc.message


def _verify_bundle(
    ledger: Ledger, reader: Reader, provenance: Provenance, settings: ApiSettings
) -> tuple[VerificationView, _Anchor | None]:
    """Build the lot's proof bundle and verify it as a buyer would, with the operator's vkey
    and the trusted witnesses' keys only; the anchor is None when it failed."""
    operator = ledger.operator_id
    key = ledger.verifier.key_id.hex()
    shown = set(provenance.seqs)
    try:
        bundle = build_bundle(reader, provenance.lot)
        verified = verify_bundle(
            bundle, ledger.verifier, witnesses=settings.witness_verifiers, min_witnesses=0
        )
    except LedgerError as exc:
        return _failed(_problem(exc), len(shown), operator, key), None
    checkpoint = verified.checkpoint.checkpoint
    proven = set(verified.record_seqs)
    unproven = sorted(shown - proven)
    witnesses = tuple(verified.witnesses)
    if unproven:
        listed = ", ".join(str(s) for s in unproven[:10]) + (" …" if len(unproven) > 10 else "")
        css, badge = "partial", "Partly verified"
        summary = (
            f"{len(shown & proven)} of the {len(shown)} records on this page are proven by the "
            f"checkpoint of size {checkpoint.size}; the others (seq {listed}) are newer than "
            "it and are not proven yet."
        )
    else:
        css, badge = "verified", "Verified"
        summary = (
            f"All {len(shown)} records on this page are included in the ledger's checkpoint "
            f"of size {checkpoint.size}, signed by the operator{_cosigned_by(witnesses)}; every "
            "signature and every inclusion proof verifies."
        )
    view = VerificationView(
        css=css,
        badge=badge,
        summary=summary,
        checkpoint_size=checkpoint.size,
        root_prefix=checkpoint.root.hex()[:16],
        operator=operator,
        operator_key=key,
        witnesses=witnesses,
        proven=len(shown & proven),
        records=len(shown),
        problem=None,
    )
    return view, _Anchor(checkpoint, provenance, view)


def _extend(
    ledger: Ledger,
    reader: Reader,
    anchor: _Anchor,
    size: int,
    latest: tuple[int, bytes, str],
    settings: ApiSettings,
) -> VerificationView:
    """The anchor's verdict carried to the checkpoint of ``size`` (``latest`` is the latest
    stored checkpoint, read already): its operator signature, the trusted witnesses'
    cosignatures and the consistency proof from the anchor's checkpoint to it are checked
    here; the records were proven at the anchor."""
    old = anchor.checkpoint
    view = anchor.view
    operator = view.operator
    key = view.operator_key
    try:
        stored = latest if latest[0] == size else reader.checkpoint(size)
        if stored is None:  # the caller picked a size the ledger reported: cannot happen
            return _failed(f"no checkpoint of size {size}", view.records, operator, key)
        note = stored[2]
        lines = cosignature_lines(reader, size)
        if lines:
            note = add_signature_lines(note, [NoteSignature.from_line(line) for line in lines])
        signed = open_checkpoint(note, ledger.verifier)
        witnesses = tuple(verify_cosignatures(signed, settings.witness_verifiers, required=0))
        new = signed.checkpoint
        proof = _consistency_proof(reader, old.size, new.size) if new.size >= old.size else []
        merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
    except LedgerError as exc:
        return _failed(
            f"the checkpoint of size {size} does not extend the checkpoint of size {old.size} "
            f"that this lot's records were proven against: {_problem(exc)}",
            view.records,
            operator,
            key,
        )
    if new.size == old.size:
        summary = (
            f"All {view.records} records on this page are included in the ledger's checkpoint "
            f"of size {new.size}, signed by the operator{_cosigned_by(witnesses)}; every "
            "signature and every inclusion proof verifies."
        )
        proofs_size, proofs_root = None, ""
    else:
        summary = (
            f"All {view.records} records on this page are included in the ledger's checkpoint "
            f"of size {old.size}: every signature and every inclusion proof verifies against "
            f"it. The newer checkpoint of size {new.size}, signed by the operator"
            f"{_cosigned_by(witnesses)}, is proven consistent with it (its tree extends that "
            "one without changing it), so these records are in it too."
        )
        proofs_size, proofs_root = old.size, old.root.hex()[:16]
    return VerificationView(
        css="verified",
        badge="Verified",
        summary=summary,
        checkpoint_size=new.size,
        root_prefix=new.root.hex()[:16],
        operator=operator,
        operator_key=key,
        witnesses=witnesses,
        proven=view.proven,
        records=view.records,
        problem=None,
        proofs_size=proofs_size,
        proofs_root_prefix=proofs_root,
    )


def lot_verification(
    ledger: Ledger,
    reader: Reader,
    provenance: Provenance,
    settings: ApiSettings,
    cache: VerificationCache | None,
) -> VerificationView:
    """The verdict on the lot's records for a page showing ``provenance`` (read in
    ``reader``'s snapshot): from ``cache`` when the ledger state is the one it was computed
    for, carried forward by a consistency proof when only unrelated records were appended
    since the lot was verified, else from a freshly built and verified bundle (see the
    module docstring)."""
    latest = reader.checkpoint()
    if cache is None or latest is None:
        return _verify_bundle(ledger, reader, provenance, settings)[0]
    lot_key = (
        ledger.origin,
        ledger.verifier.vkey,
        tuple(sorted(settings.trusted_witnesses)),
        provenance.lot,
    )
    cosigned = latest_cosigned_size(reader)
    lines = 0 if cosigned is None else len(cosignature_lines(reader, cosigned))
    state = (latest[0], bytes(latest[1]), cosigned, lines)
    entry = cache.lookup(lot_key)
    if entry is not None:
        if entry.state == state:
            return entry.view
        anchor = entry.anchor
        newest = max(needed_seqs(provenance), default=0)
        size = proving_size(latest[0], cosigned, newest)
        if (
            anchor.view.css == "verified"
            and newest < anchor.checkpoint.size <= size
            and _same_provenance(anchor.provenance, provenance)
        ):
            view = _extend(ledger, reader, anchor, size, latest, settings)
            if view.css != "failed":
                cache.keep(lot_key, _Entry(anchor, state, view))
            return view
    view, fresh = _verify_bundle(ledger, reader, provenance, settings)
    if fresh is not None and view.css != "failed":
        cache.keep(lot_key, _Entry(fresh, state, view))
    return view
