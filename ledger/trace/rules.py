"""The ``trace.event`` statement: its body, who may record it, and how a receipt rejects goods.

Pure functions of the statement and the ledger state (participants and their GLNs); no
database. Quantity rules that need the history (mass balance, receipts against shipments,
error declarations against the declared event) are checked by the trace projection
(``ledger.storage.trace``) inside the same append transaction.

**Body** (DESIGN §3). ``{"event": <one EPCIS 2.0 event in ledger form>}`` and nothing else:
exactly what ``ledger.trace.epcis.to_ledger_form`` produces, with an ``eventID``. A body in
any other form is refused with ``MalformedTraceEventError`` listing every deviation by its
path from the statement (``statement.body.event.quantityList[0].epcClass``).

**Who may record what.** The author must be registered with a GLN; its party is
``https://id.gs1.org/417/<gln>`` and its locations are ``https://id.gs1.org/414/<gln>``
(with any ``/254/<extension>`` sub-location). It must be the party that performed the event:

=====================================  ====================================================
event                                  recorded by
=====================================  ====================================================
bizStep shipping, departing,           the shipper: the ``possessing_party`` named in
void_shipping                          ``sourceList``, else the ``owning_party`` there
bizStep receiving, arriving,           the receiver: the ``possessing_party`` named in
accepting                              ``destinationList``, else the ``owning_party`` there
TransactionEvent                       the custody party of either side, when one is named
anything else (commissioning,          the party whose GLN is the ``bizLocation`` (else the
transformation, packing, destroying)   ``readPoint``): a processor records at its own site
=====================================  ====================================================

When the rule's party list is empty the location rule applies; a location that is not a GLN
(say a ``geo:`` URI), or no location at all, leaves the event attributed to its signer. A
statement signed by another participant is refused with ``UnauthorizedKindError``
(code ``wrong-author``) whose ``field`` points at the party or location it contradicts.
Possession decides custody: the possessing party's stock is what changes.

**Rejections.** A receiving ``ObjectEvent`` lists in ``quantityList`` (and through the SSCCs
in ``epcList``) what was delivered; the part it refuses is stated with two extension fields
in the FairLedger namespace ``https://fairledger.dev/ns/epcis/`` (prefix ``fairledger``)::

    "fairledger:rejectedQuantityList": [
        {"epcClass": "https://id.gs1.org/01/09506000134352/10/W-1", "quantity": "50",
         "uom": "KGM"}],
    "fairledger:rejectionReason": "damaged"

Accepted = delivered − rejected, per lot and unit. Each entry names a lot in normal form once,
with a positive canonical decimal quantity; the reason (a CBV 2.0 disposition name such as
``damaged``, ``expired`` or ``non_conformant`` is recommended) is required with the list and
forbidden without it, and both are allowed on receiving events only. Rejected goods go back
to the shipper's stock.

**Corrections** use EPCIS ``errorDeclaration`` (EPCIS 2.0 §7.4): the declaration repeats the
event it retracts. The same rules apply to it, and the projection also requires that the
declared event exists, was recorded by the same author and matches the declaration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from ledger.canonical import JSONObject, JSONValue
from ledger.errors import MalformedStatementError, UnauthorizedKindError
from ledger.state import BodyValidator, Kind, LedgerState, Participant
from ledger.statement import Statement
from ledger.trace._fast import fast_facts
from ledger.trace._syntax import json_path, parse_canonical_decimal
from ledger.trace.epcis import EpcisEvent, parse_ledger_event
from ledger.trace.errors import (
    FieldError,
    MalformedEventError,
    MalformedIdentifierError,
    MalformedTraceEventError,
)
from ledger.trace.facts import EventFacts, SourceDestinationFact, event_facts
from ledger.trace.identifiers import DIGITAL_LINK_BASE, normalize_lot

__all__ = [
    "FAIRLEDGER_CONTEXT",
    "FAIRLEDGER_NS",
    "RECEIVER_STEPS",
    "REJECTED_QUANTITY_LIST",
    "REJECTION_REASON",
    "SHIPPER_STEPS",
    "TRACE_VALIDATORS",
    "Rejection",
    "TraceEvent",
    "custody_party",
    "location_gln",
    "parse_trace_body",
    "party_gln",
    "party_id",
    "performer_error",
    "trace_event_of",
    "validate_trace_event",
]

#: The FairLedger EPCIS extension namespace and the ``@context`` entry that declares it.
FAIRLEDGER_NS: Final = "https://fairledger.dev/ns/epcis/"
FAIRLEDGER_CONTEXT: Final[JSONObject] = {"fairledger": FAIRLEDGER_NS}
REJECTED_QUANTITY_LIST: Final = "rejectedQuantityList"
REJECTION_REASON: Final = "rejectionReason"

#: bizSteps recorded by the shipper (the source side).
SHIPPER_STEPS: Final = frozenset({"shipping", "departing", "void_shipping"})
#: bizSteps recorded by the receiver (the destination side).
RECEIVER_STEPS: Final = frozenset({"receiving", "arriving", "accepting"})

_PARTY = re.compile(re.escape(DIGITAL_LINK_BASE) + r"/417/([0-9]{13})", re.ASCII)
_LOCATION = re.compile(re.escape(DIGITAL_LINK_BASE) + r"/414/([0-9]{13})(?:/254/.+)?", re.ASCII)
_UOM = re.compile(r"[A-Z0-9]{2,3}", re.ASCII)
_MAX_REASON = 200
_CACHE_SIZE = 4096
#: Parsed bodies by the statement's canonical bytes: the ledger pre-validates every statement
#: outside its append lock, then the validator and the projection read it again under the
#: lock, and parsing is a pure function of those bytes. Sized for the statements in flight
#: (a few batches of up to 1,000), about 6 KB each.
_parsed: dict[bytes, TraceEvent] = {}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Part of a delivery the receiver refused: ``quantity`` of ``lot`` in ``uom``."""

    lot: str
    quantity: Decimal
    uom: str | None
    path: str


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """A valid ``trace.event`` body: the event, its facts, and the receipt's rejections.

    ``event`` (the validated model) is built on first use when the body was read by the fast
    path (``ledger.trace._fast``), which proves the body valid without building it.
    """

    parsed: EpcisEvent | None = field(compare=False, repr=False)
    facts: EventFacts
    form: JSONObject
    rejections: tuple[Rejection, ...]
    rejection_reason: str | None

    @property
    def event(self) -> EpcisEvent:
        """The validated EPCIS event model of ``form``."""
        if self.parsed is None:
            # ``form`` is known valid and in normal form: only the model is wanted.
            object.__setattr__(
                self, "parsed", parse_ledger_event(self.form, require_normal_form=False)
            )
        assert self.parsed is not None
        return self.parsed


def party_id(gln: str) -> str:
    """The party (PGLN) normal form of a 13-digit GLN."""
    return f"{DIGITAL_LINK_BASE}/417/{gln}"


def party_gln(party: str) -> str | None:
    """The GLN of a party in normal form, or None for a party that is not a PGLN."""
    match = _PARTY.fullmatch(party)
    return match.group(1) if match else None


def location_gln(location: str | None) -> str | None:
    """The GLN of a location in normal form (ignoring a ``/254/`` extension), else None."""
    match = _LOCATION.fullmatch(location or "")
    return match.group(1) if match else None


def custody_party(
    entries: tuple[SourceDestinationFact, ...],
) -> tuple[int, SourceDestinationFact] | None:
    """The party whose stock an event changes on one side: the first ``possessing_party``,
    else the first ``owning_party``, with its index in the list; None if neither is named."""
    for wanted in ("possessing_party", "owning_party"):
        for index, entry in enumerate(entries):
            if entry.type == wanted:
                return index, entry
    return None


def _event_path(path: str) -> str:
    if not path:
        return "statement.body.event"
    return "statement.body.event" + (path if path.startswith("[") else "." + path)


def _extension_keys(form: JSONObject, name: str) -> list[str]:
    """Keys of ``form`` that expand to ``FAIRLEDGER_NS + name`` under the event's context."""
    prefixes: dict[str, str] = {}
    context = form.get("@context")
    for entry in context if isinstance(context, list) else []:
        if isinstance(entry, dict):
            prefixes.update({k: v for k, v in entry.items() if isinstance(v, str)})
    found = []
    for key in form:
        if key == FAIRLEDGER_NS + name:
            found.append(key)
            continue
        prefix, colon, local = key.partition(":")
        if not colon or local != name:
            continue
        namespace = prefixes.get(prefix, FAIRLEDGER_NS if prefix == "fairledger" else None)
        if namespace == FAIRLEDGER_NS:
            found.append(key)
    return found


def _rejections(
    form: JSONObject, facts: EventFacts, errors: list[FieldError]
) -> tuple[tuple[Rejection, ...], str | None]:
    if not any(":" in key for key in form):  # no extension field, so no rejection
        return (), None
    list_keys = _extension_keys(form, REJECTED_QUANTITY_LIST)
    reason_keys = _extension_keys(form, REJECTION_REASON)
    for keys in (list_keys, reason_keys):
        for key in keys[1:]:
            errors.append(FieldError(_event_path(json_path((key,))), "given twice"))
    if not list_keys and not reason_keys:
        return (), None
    where = list_keys[0] if list_keys else reason_keys[0]
    if not (facts.event_type == "ObjectEvent" and facts.biz_step == "receiving"):
        errors.append(
            FieldError(
                _event_path(json_path((where,))),
                "a rejection belongs on a receiving ObjectEvent (bizStep receiving)",
            )
        )
        return (), None
    if not list_keys or not reason_keys:
        missing = REJECTION_REASON if list_keys else REJECTED_QUANTITY_LIST
        errors.append(
            FieldError(
                _event_path(json_path((where,))),
                f"a rejection needs both fairledger:{REJECTED_QUANTITY_LIST} and "
                f"fairledger:{REJECTION_REASON}; fairledger:{missing} is missing",
            )
        )
        return (), None
    reason = form[reason_keys[0]]
    reason_path = _event_path(json_path((reason_keys[0],)))
    if (
        not isinstance(reason, str)
        or not reason.strip()
        or len(reason) > _MAX_REASON
        or any(ord(ch) < 0x20 for ch in reason)
    ):
        errors.append(
            FieldError(
                reason_path,
                f"must say why, as a non-empty single-line string of at most {_MAX_REASON} "
                "characters (e.g. a CBV disposition such as 'damaged')",
            )
        )
    items = form[list_keys[0]]
    base = (list_keys[0],)
    if not isinstance(items, list) or not items:
        errors.append(FieldError(_event_path(json_path(base)), "must be a non-empty JSON array"))
        return (), None
    out: list[Rejection] = []
    seen: set[tuple[str, str | None]] = set()
    for index, item in enumerate(items):
        out_item = _rejection(item, (*base, index), errors)
        if out_item is None:
            continue
        lot_unit = (out_item.lot, out_item.uom)
        if lot_unit in seen:
            errors.append(
                FieldError(out_item.path, "names the same lot and unit as an earlier entry")
            )
        seen.add(lot_unit)
        out.append(out_item)
    return tuple(out), reason if isinstance(reason, str) else None


def _rejection(
    item: JSONValue, where: tuple[str | int, ...], errors: list[FieldError]
) -> Rejection | None:
    path = _event_path(json_path(where))
    if not isinstance(item, dict):
        errors.append(FieldError(path, "must be an object with epcClass, quantity and uom"))
        return None
    unknown = set(item) - {"epcClass", "quantity", "uom"}
    for key in sorted(unknown):
        errors.append(FieldError(_event_path(json_path((*where, key))), "is not allowed here"))
    lot = item.get("epcClass")
    quantity_text = item.get("quantity")
    uom = item.get("uom")
    start = len(errors)
    if not isinstance(lot, str):
        errors.append(FieldError(_event_path(json_path((*where, "epcClass"))), "a lot is required"))
    else:
        try:
            normal = normalize_lot(lot)
        except MalformedIdentifierError as exc:
            errors.append(FieldError(_event_path(json_path((*where, "epcClass"))), exc.message))
        else:
            if normal != lot:
                errors.append(
                    FieldError(
                        _event_path(json_path((*where, "epcClass"))),
                        f"not in ledger normal form; expected {normal!r}",
                    )
                )
    quantity: Decimal | None = None
    if not isinstance(quantity_text, str):
        errors.append(
            FieldError(
                _event_path(json_path((*where, "quantity"))),
                "a quantity is required, as a decimal string such as '12.5'",
            )
        )
    else:
        try:
            quantity = parse_canonical_decimal(quantity_text)
        except ValueError as exc:
            errors.append(FieldError(_event_path(json_path((*where, "quantity"))), str(exc)))
        else:
            if quantity <= 0:
                errors.append(
                    FieldError(_event_path(json_path((*where, "quantity"))), "must be positive")
                )
    if uom is not None and (not isinstance(uom, str) or not _UOM.fullmatch(uom)):
        errors.append(
            FieldError(
                _event_path(json_path((*where, "uom"))),
                "must be a UN/ECE Rec 20 unit code such as 'KGM'",
            )
        )
    if len(errors) != start or quantity is None or not isinstance(lot, str):
        return None
    return Rejection(lot, quantity, uom if isinstance(uom, str) else None, path)


def parse_trace_body(body: JSONObject, *, fast: bool = True) -> TraceEvent:
    """Validate a ``trace.event`` body (see the module docstring).

    Raises ``MalformedStatementError`` for a body that is not ``{"event": {...}}`` and
    ``MalformedTraceEventError`` (a subclass) listing every problem of the event.

    ``fast`` (the default) first tries ``ledger.trace._fast``, which reads an event already
    in normal form without the pydantic models and leaves everything else (every error
    included) to them; ``fast=False`` is the reference path, with the same results.
    """
    missing = {"event"} - body.keys()
    if missing:
        raise MalformedStatementError(
            "a trace.event body is {\"event\": <EPCIS event>}; 'event' is missing",
            field="statement.body.event",
        )
    unknown = sorted(body.keys() - {"event"})
    if unknown:
        raise MalformedStatementError(
            f"a trace.event body holds only 'event'; {unknown[0]!r} is not allowed",
            field=f"statement.body.{unknown[0]}",
        )
    form = body["event"]
    if not isinstance(form, dict):
        raise MalformedTraceEventError(
            [FieldError("statement.body.event", "must be one EPCIS event (a JSON object)")]
        )
    event: EpcisEvent | None = None
    facts = fast_facts(form) if fast else None
    if facts is None:
        try:
            event = parse_ledger_event(form)
        except MalformedEventError as exc:
            raise MalformedTraceEventError(
                [FieldError(_event_path(e.path), e.message) for e in exc.errors]
            ) from exc
        facts = event_facts(event)
    errors: list[FieldError] = []
    rejections, reason = _rejections(form, facts, errors)
    if errors:
        raise MalformedTraceEventError(errors)
    return TraceEvent(event, facts, form, rejections, reason)


def trace_event_of(statement: Statement) -> TraceEvent:
    """``parse_trace_body`` of a statement's body, remembered by the statement's bytes."""
    found = _parsed.get(statement.canonical)
    if found is not None:
        return found
    trace = parse_trace_body(statement.body)
    if len(_parsed) >= _CACHE_SIZE:
        _parsed.clear()
    _parsed[statement.canonical] = trace
    return trace


def _party_rule(
    participant: Participant, own: str, side: str, entries: tuple[SourceDestinationFact, ...]
) -> UnauthorizedKindError | bool | None:
    """True if the side names a custody party that is ``own``; an error if it names
    another; None if it names none."""
    found = custody_party(entries)
    if found is None:
        return None
    index, entry = found
    if entry.id == own:
        return True
    list_name, key = (
        ("sourceList", "source") if side == "source" else ("destinationList", "destination")
    )
    role = "shipper" if side == "source" else "receiver"
    return UnauthorizedKindError(
        f"{participant.id} (GLN {participant.gln}) may not record this event: it is recorded by "
        f"the {role}, and {list_name}[{index}] names {entry.id} as {entry.type}",
        field=_event_path(f"{list_name}[{index}].{key}"),
    )


def performer_error(participant: Participant, trace: TraceEvent) -> UnauthorizedKindError | None:
    """Why ``participant`` may not record ``trace`` (see the module docstring), or None."""
    gln = participant.gln
    if gln is None:
        return UnauthorizedKindError(
            f"{participant.id} has no registered GLN: trace events are recorded by the party "
            "that performed them, identified by its GLN (register it with one)",
            field="statement.author",
        )
    own = party_id(gln)
    facts = trace.facts
    sides: tuple[str, ...] = ()
    if facts.biz_step in SHIPPER_STEPS:
        sides = ("source",)
    elif facts.biz_step in RECEIVER_STEPS:
        sides = ("destination",)
    elif facts.event_type == "TransactionEvent":
        sides = ("source", "destination")
    first_error: UnauthorizedKindError | None = None
    named = False
    for side in sides:
        entries = facts.sources if side == "source" else facts.destinations
        verdict = _party_rule(participant, own, side, entries)
        if verdict is True:
            return None
        if isinstance(verdict, UnauthorizedKindError):
            named = True
            first_error = first_error or verdict
    if named:
        return first_error
    for name, location in (("bizLocation", facts.biz_location), ("readPoint", facts.read_point)):
        if location is None:
            continue
        site = location_gln(location)
        if site is None or site == gln:
            return None
        return UnauthorizedKindError(
            f"{participant.id} (GLN {gln}) may not record this event: it happened at "
            f"{location} (GLN {site}), and only the party with that GLN records events there",
            field=_event_path(f"{name}.id"),
        )
    return None


def validate_trace_event(state: LedgerState, seq: int, statement: Statement) -> None:
    """The ``trace.event`` body validator (a ``BodyValidator``; pure).

    Raises ``MalformedStatementError``/``MalformedTraceEventError`` for a body that is not one
    valid ledger-form event, and ``UnauthorizedKindError`` (code ``wrong-author``) when the
    author did not perform the event.
    """
    trace = trace_event_of(statement)
    participant = state.participants.get(statement.author)
    if participant is None:  # judge refuses unknown authors first; kept for direct callers
        raise UnauthorizedKindError(
            f"{statement.author} is not a registered participant", field="statement.author"
        )
    error = performer_error(participant, trace)
    if error is not None:
        raise error


#: Domain validators to pass as ``Ledger(..., validators=TRACE_VALIDATORS)``.
TRACE_VALIDATORS: Final[dict[str, BodyValidator]] = {Kind.TRACE_EVENT: validate_trace_event}
