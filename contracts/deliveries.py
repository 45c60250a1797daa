"""Deliveries from ``trace.event`` records: the adapter between EPCIS events and the rules.

DESIGN §4: a delivery is a shipping event by the supplier plus a receiving event by the buyer;
the receiving event may accept less than was shipped. This module reads, from the EPCIS 2.0
event in ledger form (``record.body["event"]``), exactly what settlement needs:

==========================  ==================================================================
what                        where it is read
==========================  ==================================================================
which events                ``ObjectEvent`` with ``bizStep`` ``shipping`` (author = supplier)
                            or ``receiving`` (author = buyer); events declared erroneous by an
                            ``errorDeclaration`` of the same author are ignored
lot, GTIN, quantity, unit   ``quantityList`` elements whose ``epcClass`` is a lot
                            (``https://id.gs1.org/01/<gtin>/10/<lot>``) with a ``quantity``;
                            ``uom`` (absent = each). Repeated lots in one event are summed
                            (what a receiving event lists is what was delivered)
pairing                     a receiving element pairs with the earliest unpaired shipping
                            element of the same lot, recorded before it by another party,
                            that shares a ``bizTransactionList`` entry of type ``po`` or
                            ``desadv`` (same type and id)
accepted / rejected         as the trace domain reads a receipt (``ledger.trace.rules``,
                            ``ledger.storage.trace``): accepted = delivered − rejected per
                            (lot, unit), where the rejected part is the receiving event's
                            ``fairledger:rejectedQuantityList`` entry for that lot and unit
                            (namespace ``ledger.trace.rules.FAIRLEDGER_NS``), never more
                            than was delivered; the delivery's rejected quantity is
                            shipped − accepted, so a short receipt and a refused part are
                            both unpaid
delivered on                the local calendar date of the receiving ``eventTime`` in its
                            ``eventTimeZoneOffset``
conditions                  ``sensorElementList`` reports of both events: ``value``,
                            ``minValue`` and ``maxValue`` each become a reading of measure
                            ``snake_case(type)`` (``Temperature`` → ``temperature``) in ``uom``
due date, force majeure,    FairLedger extension fields in namespace ``CONTRACT_NS`` under any
rejection reason, contract  prefix the event's ``@context`` declares for it: ``dueDate``
                            (``YYYY-MM-DD``, on either event; if both state one, the later
                            applies, so lateness is only what both parties' statements
                            support; none means not late), ``forceMajeure`` (``true`` on the
                            shipping event), ``rejectionReason`` (text, on the receiving
                            event; without it, the trace domain's
                            ``fairledger:rejectionReason``), ``contract`` (a contract id;
                            restricts the delivery to that contract)
==========================  ==================================================================

Two readers give the same ``TraceEvent``: ``read_event_reference`` validates the event with
``ledger.trace.epcis.parse_ledger_event`` and summarises it with ``ledger.trace.facts.
event_facts``; ``read_event`` reads the ledger form directly when every field it needs is
already in normal form (events are validated and normalised when appended, so this is the
common case and about a hundred times faster) and hands anything else to the reference
reader. ``tests/contracts/test_settlement_adapter.py`` checks that they agree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from contracts.entries import Entry
from contracts.facts import ConditionReading, Delivery
from ledger.canonical import JSONObject, JSONValue
from ledger.errors import LedgerError
from ledger.state import Kind
from ledger.trace.epcis import ObjectEvent, parse_ledger_event
from ledger.trace.errors import MalformedEventError
from ledger.trace.facts import event_facts
from ledger.trace.identifiers import normalize_lot
from ledger.trace.rules import (
    FAIRLEDGER_NS,
    REJECTED_QUANTITY_LIST,
    REJECTION_REASON,
    parse_trace_body,
)

__all__ = [
    "CONTRACT_NS",
    "LotQuantity",
    "MatchedDelivery",
    "TraceEvent",
    "delivery_fact",
    "match_deliveries",
    "read_event",
    "read_event_reference",
    "read_events",
]

#: Namespace of FairLedger's EPCIS extension fields for contracts.
CONTRACT_NS = "https://ns.fairledger.org/contract/"
_SHIPPING = "shipping"
_RECEIVING = "receiving"
_PAIRING_TYPES = frozenset({"po", "desadv"})
_LOT = re.compile(r"https://id\.gs1\.org/01/([0-9]{14})/10/.+", re.ASCII)
#: The ledger form's canonical decimal (``ledger.trace`` refuses any other spelling).
_DECIMAL = re.compile(r"0|-?(?:[1-9][0-9]*(?:\.[0-9]*[1-9])?|0\.[0-9]*[1-9])", re.ASCII)
_MAX_DECIMAL_CHARS = 40
_OFFSET = re.compile(r"([+-])([01][0-9]|2[0-3]):([0-5][0-9])", re.ASCII)
_MEASUREMENT = re.compile(r"[A-Z][A-Za-z0-9]*", re.ASCII)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_CBV_FORMS = ("urn:epcglobal:cbv:", "https://ref.gs1.org/cbv/", "cbv:", "http://ref.gs1.org/cbv/")


class LotQuantity(NamedTuple):
    """One lot of an event. For a receiving event ``quantity`` is what the receiver accepted
    (delivered − rejected) and ``rejected`` what it refused; elsewhere ``rejected`` is 0."""

    lot: str
    gtin: str
    quantity: Decimal
    uom: str | None
    rejected: Decimal = Decimal(0)


class TraceEvent(NamedTuple):
    """What settlement reads from one ``trace.event`` record (see the module docstring).
    (Named tuples, like the other values here: immutable and quick to build, a month holds
    hundreds of thousands of them.)

    ``declares`` is the ``eventID`` an error declaration retracts (None for other events);
    ``problems`` lists malformed extension values (the delivery is then reported unpriced).
    """

    seq: int
    author: str
    event_id: str
    biz_step: str | None
    delivered_on: date
    lots: tuple[LotQuantity, ...]
    transactions: tuple[tuple[str, str], ...]
    readings: tuple[ConditionReading, ...]
    due_on: date | None
    force_majeure: bool
    rejection_reason: str | None
    contract: str | None
    declares: str | None
    problems: tuple[str, ...]


# -- shared helpers ------------------------------------------------------------------------


def _measure(kind: str) -> str | None:
    return _CAMEL.sub("_", kind).lower() if _MEASUREMENT.fullmatch(kind) else None


@lru_cache(maxsize=256)
def _offset(text: str) -> timedelta | None:
    match = _OFFSET.fullmatch(text)
    if match is None:
        return None
    delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return -delta if match.group(1) == "-" else delta


def _local_date(utc: datetime, offset: timedelta) -> date:
    return (utc.replace(tzinfo=None) + offset).date()


def _sum_lots(lots: Sequence[LotQuantity]) -> tuple[LotQuantity, ...]:
    """Merge repeated (lot, uom) elements of one event; order of first appearance."""
    if len(lots) < 2:
        return tuple(lots)
    merged: dict[tuple[str, str | None], LotQuantity] = {}
    for item in lots:
        key = (item.lot, item.uom)
        seen = merged.get(key)
        merged[key] = (
            item
            if seen is None
            else LotQuantity(item.lot, item.gtin, seen.quantity + item.quantity, item.uom)
        )
    return tuple(merged.values())


#: Rejected quantities of a receipt by (lot, uom), and the trace domain's reason.
Rejections = tuple[dict[tuple[str, str | None], Decimal], str | None]
_NO_REJECTIONS: Rejections = ({}, None)


def _accept(lots: tuple[LotQuantity, ...], rejections: Rejections) -> tuple[LotQuantity, ...]:
    """Delivered lots (already summed per lot and unit) less what the receipt rejects, as
    ``ledger.storage.trace`` books a receipt: accepted = delivered − min(rejected, delivered);
    a rejection of a lot the event does not list by quantity changes nothing here."""
    refused = rejections[0]
    if not refused:
        return lots
    out = []
    for item in lots:
        rejected = refused.get((item.lot, item.uom))
        if rejected is None:
            out.append(item)
            continue
        rejected = min(rejected, item.quantity)
        out.append(LotQuantity(item.lot, item.gtin, item.quantity - rejected, item.uom, rejected))
    return tuple(out)


def _trace_extension_keys(event: Mapping[str, JSONValue], name: str) -> list[str]:
    """Keys of ``event`` that expand to ``FAIRLEDGER_NS + name`` under its ``@context``: the
    rule of ``ledger.trace.rules`` (a full IRI, a prefix the context maps to the namespace, or
    the prefix ``fairledger`` when the context does not map it elsewhere)."""
    prefixes: dict[str, str] = {}
    context = event.get("@context")
    for entry in context if isinstance(context, list) else []:
        if isinstance(entry, dict):
            prefixes.update({k: v for k, v in entry.items() if isinstance(v, str)})
    found = []
    for key in event:
        if key == FAIRLEDGER_NS + name:
            found.append(key)
            continue
        prefix, colon, local = key.partition(":")
        if colon and local == name:
            namespace = prefixes.get(prefix, FAIRLEDGER_NS if prefix == "fairledger" else None)
            if namespace == FAIRLEDGER_NS:
                found.append(key)
    return found


def _colon_keys(event: Mapping[str, JSONValue]) -> list[str]:
    """The keys of ``event`` holding a colon: every extension key does (a full IRI or a
    declared prefix); EPCIS's own keys hold none."""
    return [key for key in event if ":" in key]


def _extensions(
    event: Mapping[str, JSONValue], candidates: list[str] | None = None
) -> tuple[dict[str, JSONValue], list[str]]:
    """FairLedger contract extension fields by local name (``dueDate``...); ``candidates``
    are ``_colon_keys(event)`` when the caller has them already."""
    if candidates is None:
        candidates = _colon_keys(event)
    if not candidates:
        return {}, []
    prefixes: tuple[str, ...] = (CONTRACT_NS,)
    context = event.get("@context")
    if isinstance(context, list):
        for entry in context:
            if isinstance(entry, dict):
                prefixes += tuple(f"{k}:" for k, v in entry.items() if v == CONTRACT_NS)
    found: dict[str, JSONValue] = {}
    problems: list[str] = []
    for key in candidates:
        if not key.startswith(prefixes):
            continue
        value = event[key]
        for prefix in prefixes:
            if key.startswith(prefix):
                name = key[len(prefix) :]
                if name in found:
                    problems.append(f"extension {name} is given twice")
                found[name] = value
                break
    return found, problems


@lru_cache(maxsize=4096)
def _calendar_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


_NO_FIELDS: tuple[date | None, bool, str | None, str | None, tuple[str, ...]] = (
    None,
    False,
    None,
    None,
    (),
)


def _contract_fields(
    event: Mapping[str, JSONValue], candidates: list[str] | None = None
) -> tuple[date | None, bool, str | None, str | None, tuple[str, ...]]:
    found, problems = _extensions(event, candidates)
    if not found and not problems:
        return _NO_FIELDS
    due: date | None = None
    raw_due = found.get("dueDate")
    if raw_due is not None:
        if isinstance(raw_due, str) and _ISO_DATE.fullmatch(raw_due):
            due = _calendar_date(raw_due)
            if due is None:
                problems.append(f"dueDate {raw_due!r} is not a calendar date")
        else:
            problems.append(f"dueDate must be a YYYY-MM-DD string, got {raw_due!r}")
    majeure = found.get("forceMajeure", False)
    if not isinstance(majeure, bool):
        problems.append(f"forceMajeure must be true or false, got {majeure!r}")
        majeure = False
    reason = found.get("rejectionReason")
    if reason is not None and not (isinstance(reason, str) and reason):
        problems.append("rejectionReason must be a non-empty string")
        reason = None
    contract = found.get("contract")
    if contract is not None and not (isinstance(contract, str) and contract):
        problems.append("contract must be a contract id string")
        contract = None
    return (
        due,
        majeure,
        reason if isinstance(reason, str) else None,
        contract if isinstance(contract, str) else None,
        tuple(problems),
    )


def _event_of(entry: Entry) -> JSONObject | None:
    if entry.kind != Kind.TRACE_EVENT:
        return None
    event = entry.body.get("event")
    return event if isinstance(event, dict) else None


# -- the reference reader ------------------------------------------------------------------


def read_event_reference(entry: Entry) -> TraceEvent | None:
    """Read a ``trace.event`` through ``parse_ledger_event`` and ``event_facts``.

    Returns None for events settlement does not use (and for events that fail validation:
    they could not have been appended by a ledger running the traceability validator).
    """
    raw = _event_of(entry)
    if raw is None:
        return None
    try:
        event = parse_ledger_event(raw, require_normal_form=False)
    except MalformedEventError:
        return None
    facts = event_facts(event)
    declares = facts.error_declaration.declared_event_id if facts.error_declaration else None
    if declares is None and not (
        isinstance(event, ObjectEvent) and facts.biz_step in (_SHIPPING, _RECEIVING)
    ):
        return None
    offset = _offset(facts.event_time_zone_offset)
    if offset is None:  # pragma: no cover - the EPCIS model validates the offset
        return None
    delivered_on = _local_date(facts.event_time, offset)
    if declares is not None:
        return TraceEvent(
            entry.seq, entry.author, facts.event_id, None, delivered_on,
            (), (), (), None, False, None, None, declares, (),
        )  # fmt: skip
    lots = tuple(
        LotQuantity(q.lot, q.gtin, q.quantity, q.uom)
        for q in facts.quantities
        if q.lot is not None and q.gtin is not None and q.quantity is not None
    )
    readings: list[ConditionReading] = []
    for reading in facts.sensor_readings:
        measure = _measure(reading.type)
        if measure is None or reading.uom is None:
            continue
        for value in (reading.value, reading.min_value, reading.max_value):
            if value is not None:
                readings.append(ConditionReading(measure, value, reading.uom))
    rejections = _NO_REJECTIONS
    if _trace_extension_keys(raw, REJECTED_QUANTITY_LIST) or _trace_extension_keys(
        raw, REJECTION_REASON
    ):
        # The trace domain's own reading of the receipt (in the ledger form the event
        # normalises to); an event it refuses could not have been appended.
        try:
            trace = parse_trace_body({"event": event.ledger_form()})
        except LedgerError:
            return None
        refused: dict[tuple[str, str | None], Decimal] = {
            (r.lot, r.uom): r.quantity for r in trace.rejections
        }
        rejections = (refused, trace.rejection_reason)
    due, majeure, reason, contract, problems = _contract_fields(raw)
    return TraceEvent(
        seq=entry.seq,
        author=entry.author,
        event_id=facts.event_id,
        biz_step=facts.biz_step,
        delivered_on=delivered_on,
        lots=_accept(_sum_lots(lots), rejections),
        transactions=tuple(
            (t.type, t.id) for t in facts.biz_transactions if t.type in _PAIRING_TYPES
        ),
        readings=tuple(readings),
        due_on=due,
        force_majeure=majeure,
        rejection_reason=reason or rejections[1],
        contract=contract,
        declares=declares,
        problems=problems,
    )


# -- the fast reader -----------------------------------------------------------------------


class _NotNormalError(Exception):
    """The fast reader met something it does not read itself."""


@lru_cache(maxsize=1 << 16)
def _normal_decimal(value: str) -> Decimal | None:
    """``value`` as a Decimal if it is a decimal in the ledger's normal form (remembered:
    quantities and readings repeat), else None."""
    if len(value) > _MAX_DECIMAL_CHARS or not _DECIMAL.fullmatch(value):
        return None
    return Decimal(value)


def _decimal(value: JSONValue, *, positive: bool = False) -> Decimal:
    if not isinstance(value, str):
        raise _NotNormalError
    number = _normal_decimal(value)
    if number is None or (positive and (value == "0" or value.startswith("-"))):
        raise _NotNormalError
    return number


def _fast_lots(value: JSONValue) -> list[LotQuantity]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _NotNormalError
    lots = []
    for element in value:
        if not isinstance(element, dict):
            raise _NotNormalError
        epc_class = element.get("epcClass")
        if not isinstance(epc_class, str):
            raise _NotNormalError
        match = _LOT.fullmatch(epc_class)
        if match is None:
            if epc_class.startswith(("urn:", "(")) or "id.gs1.org" not in epc_class:
                raise _NotNormalError  # another identifier form: let the parser decide
            continue  # a GTIN class in normal form: not a lot
        quantity = element.get("quantity")
        if quantity is None:
            continue
        uom = element.get("uom")
        if uom is not None and not isinstance(uom, str):
            raise _NotNormalError
        lots.append(LotQuantity(epc_class, match.group(1), _decimal(quantity, positive=True), uom))
    return lots


def _fast_readings(value: JSONValue) -> list[ConditionReading]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _NotNormalError
    readings = []
    for element in value:
        reports = element.get("sensorReport") if isinstance(element, dict) else None
        if not isinstance(reports, list):
            raise _NotNormalError
        for report in reports:
            if not isinstance(report, dict) or not isinstance(report.get("type"), str):
                raise _NotNormalError
            kind = report["type"]
            assert isinstance(kind, str)
            if ":" in kind and kind.startswith(("gs1:", "https://gs1.org/", "http://gs1.org/")):
                raise _NotNormalError
            uom = report.get("uom")
            measure = _measure(kind)
            if measure is None or uom is None:
                continue
            if not isinstance(uom, str):
                raise _NotNormalError
            for name in ("value", "minValue", "maxValue"):
                if name in report:
                    readings.append(ConditionReading(measure, _decimal(report[name]), uom))
    return readings


def _fast_transactions(value: JSONValue) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _NotNormalError
    found = []
    for element in value:
        if not isinstance(element, dict):
            raise _NotNormalError
        kind, ident = element.get("type"), element.get("bizTransaction")
        if not isinstance(ident, str) or not (kind is None or isinstance(kind, str)):
            raise _NotNormalError
        if kind in _PAIRING_TYPES:
            found.append((kind, ident))
        elif isinstance(kind, str) and kind.startswith(_CBV_FORMS):
            raise _NotNormalError
    return tuple(found)


_UOM = re.compile(r"[A-Z0-9]{2,3}", re.ASCII)
_MAX_REASON = 200
_REJECTION_NAMES = (REJECTED_QUANTITY_LIST, REJECTION_REASON)


@lru_cache(maxsize=4096)
def _normal_lot(text: str) -> bool:
    try:
        return normalize_lot(text) == text
    except LedgerError:
        return False


def _fast_rejections(raw: JSONObject, step: object, candidates: list[str]) -> Rejections:
    """The receipt's rejections when they are exactly as ``ledger.trace.rules`` accepts them
    (else ``_NotNormalError``: the reference reader asks the trace domain). ``candidates``
    are ``_colon_keys(raw)``: a trace extension key holds a colon too."""
    for key in candidates:
        if key.endswith(_REJECTION_NAMES):
            break
    else:
        return _NO_REJECTIONS
    list_keys = _trace_extension_keys(raw, REJECTED_QUANTITY_LIST)
    reason_keys = _trace_extension_keys(raw, REJECTION_REASON)
    if not list_keys and not reason_keys:
        return _NO_REJECTIONS
    if step != _RECEIVING or len(list_keys) != 1 or len(reason_keys) != 1:
        raise _NotNormalError
    reason, items = raw[reason_keys[0]], raw[list_keys[0]]
    if (
        not isinstance(reason, str)
        or not reason.strip()
        or len(reason) > _MAX_REASON
        or any(ord(ch) < 0x20 for ch in reason)
        or not isinstance(items, list)
        or not items
    ):
        raise _NotNormalError
    refused: dict[tuple[str, str | None], Decimal] = {}
    for item in items:
        if not isinstance(item, dict) or not item.keys() <= {"epcClass", "quantity", "uom"}:
            raise _NotNormalError
        lot, uom = item.get("epcClass"), item.get("uom")
        if not isinstance(lot, str) or _LOT.fullmatch(lot) is None or not _normal_lot(lot):
            raise _NotNormalError
        if uom is not None and not (isinstance(uom, str) and _UOM.fullmatch(uom)):
            raise _NotNormalError
        if (lot, uom) in refused:
            raise _NotNormalError
        refused[(lot, uom)] = _decimal(item.get("quantity"), positive=True)
    return refused, reason


def _fast(entry: Entry, raw: JSONObject) -> TraceEvent | None:
    declaration = raw.get("errorDeclaration")
    step = raw.get("bizStep")
    if declaration is None:
        if raw.get("type") != "ObjectEvent":
            return None
        if step not in (_SHIPPING, _RECEIVING):
            if isinstance(step, str) and step.startswith(_CBV_FORMS):
                raise _NotNormalError  # a CBV URI the parser would shorten
            return None
    else:
        raise _NotNormalError  # rare: error declarations go through the full parser
    event_id, when, zone = raw.get("eventID"), raw.get("eventTime"), raw.get("eventTimeZoneOffset")
    if not isinstance(event_id, str) or not isinstance(when, str) or not isinstance(zone, str):
        raise _NotNormalError
    offset = _offset(zone)
    if offset is None:
        raise _NotNormalError
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        raise _NotNormalError from None
    if moment.tzinfo is None or "T" not in when:
        raise _NotNormalError
    own = moment.utcoffset()
    if own == offset:  # written in its own zone (the common case): the local date is as read
        delivered_on = moment.date()
    else:
        delivered_on = _local_date(moment - (own or timedelta(0)), offset)
    candidates = _colon_keys(raw)
    rejections = _fast_rejections(raw, step, candidates)
    due, majeure, reason, contract, problems = _contract_fields(raw, candidates)
    return TraceEvent(
        entry.seq,
        entry.author,
        event_id,
        step if isinstance(step, str) else None,
        delivered_on,
        _accept(_sum_lots(_fast_lots(raw.get("quantityList"))), rejections),
        _fast_transactions(raw.get("bizTransactionList")),
        tuple(_fast_readings(raw.get("sensorElementList"))),
        due,
        majeure,
        reason or rejections[1],
        contract,
        None,
        problems,
    )


def read_event(entry: Entry) -> TraceEvent | None:
    """Read a ``trace.event`` record as ``read_event_reference`` does, directly from the
    ledger form when it is in normal form. None for records settlement does not use."""
    raw = _event_of(entry)
    if raw is None:
        return None
    try:
        return _fast(entry, raw)
    except (_NotNormalError, ValueError, ArithmeticError):
        return read_event_reference(entry)


def read_events(entries: Iterable[Entry]) -> list[TraceEvent]:
    """The shipping, receiving and error-declaring events among ``entries``."""
    events = []
    for entry in entries:
        if entry.kind == Kind.TRACE_EVENT:
            event = read_event(entry)
            if event is not None:
                events.append(event)
    return events


# -- pairing -------------------------------------------------------------------------------


class MatchedDelivery(NamedTuple):
    """One lot shipped by ``supplier`` and received by ``buyer`` (see the module docstring):
    ``received`` is the quantity the buyer accepted (delivered less what its receipt
    rejected)."""

    delivery_id: str
    supplier: str
    buyer: str
    lot: str
    gtin: str
    uom: str | None
    shipped: Decimal
    received: Decimal
    due_on: date | None
    delivered_on: date
    force_majeure: bool
    rejection_reason: str | None
    contract: str | None
    readings: tuple[ConditionReading, ...]
    seqs: tuple[int, int]
    problems: tuple[str, ...]


def _pair(
    shipping: TraceEvent, ship: LotQuantity, receiving: TraceEvent, got: LotQuantity
) -> MatchedDelivery:
    problems = list(shipping.problems) + list(receiving.problems)
    if ship.uom != got.uom:
        problems.append(f"shipped in {ship.uom or 'each'}, received in {got.uom or 'each'}")
    if shipping.contract and receiving.contract and shipping.contract != receiving.contract:
        problems.append(
            f"the shipping event names contract {shipping.contract}, the receiving event "
            f"{receiving.contract}"
        )
    dues = [day for day in (shipping.due_on, receiving.due_on) if day is not None]
    return MatchedDelivery(
        delivery_id=f"{receiving.seq}:{got.lot}",
        supplier=shipping.author,
        buyer=receiving.author,
        lot=got.lot,
        gtin=got.gtin,
        uom=got.uom,
        shipped=ship.quantity,
        received=got.quantity,
        due_on=max(dues) if dues else None,
        delivered_on=receiving.delivered_on,
        force_majeure=shipping.force_majeure,
        rejection_reason=receiving.rejection_reason,
        contract=receiving.contract or shipping.contract,
        readings=shipping.readings + receiving.readings,
        seqs=(shipping.seq, receiving.seq),
        problems=tuple(problems),
    )


def match_deliveries(
    events: Iterable[TraceEvent], *, within: tuple[date, date] | None = None
) -> list[MatchedDelivery]:
    """Pair receiving with shipping elements (see the module docstring), in receiving order.

    Deterministic and independent of the order of ``events``: everything is keyed and sorted
    by seq. Receiving elements without a shipping partner are not deliveries and are dropped.
    With ``within`` (first and last day), only deliveries delivered in that range are returned;
    every receipt still takes its shipment, so the pairing is the same.
    """
    ordered = sorted(events, key=lambda event: event.seq)
    retracted = {(e.author, e.declares) for e in ordered if e.declares is not None}
    live = [e for e in ordered if e.declares is None and (e.author, e.event_id) not in retracted]
    shipped: dict[tuple[str, tuple[str, str]], list[tuple[TraceEvent, LotQuantity]]] = defaultdict(
        list
    )
    for event in live:
        if event.biz_step == _SHIPPING:
            for item in event.lots:
                for transaction in event.transactions:
                    shipped[(item.lot, transaction)].append((event, item))
    used: set[tuple[int, str, str | None]] = set()
    deliveries = []
    for event in live:
        if event.biz_step != _RECEIVING:
            continue
        for item in event.lots:
            best: tuple[TraceEvent, LotQuantity] | None = None
            for transaction in event.transactions:
                for candidate, ship in shipped.get((item.lot, transaction), ()):
                    if candidate.seq >= event.seq or candidate.author == event.author:
                        continue
                    if (candidate.seq, ship.lot, ship.uom) in used:
                        continue
                    if best is None or candidate.seq < best[0].seq:
                        best = (candidate, ship)
                    break
            if best is None:
                continue
            used.add((best[0].seq, best[1].lot, best[1].uom))
            if within is None or within[0] <= event.delivered_on <= within[1]:
                deliveries.append(_pair(best[0], best[1], event, item))
    return deliveries


def delivery_fact(delivery: MatchedDelivery, unit: str) -> Delivery:
    """The rules' ``Delivery`` for a matched delivery priced per ``unit``: quantity is what
    was shipped (or received, if more), accepted what was received, rejected the rest; a
    delivery without a due date is due on the day it was delivered (never late)."""
    quantity = max(delivery.shipped, delivery.received)
    return Delivery(
        delivery_id=delivery.delivery_id,
        gtin=delivery.gtin,
        unit=unit,
        quantity=quantity,
        accepted=delivery.received,
        rejected=quantity - delivery.received,
        due=delivery.due_on or delivery.delivered_on,
        delivered=delivery.delivered_on,
        readings=delivery.readings,
        force_majeure=delivery.force_majeure,
    )
