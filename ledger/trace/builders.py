"""Ledger-form EPCIS events for the common supply-chain steps.

Each builder writes the event the way ``ledger.trace.rules`` expects it to be recorded (the
performing party named where the rules look for it) and returns its ledger form, ready to
sign as ``trace_body(event)``. Parties and sites are given by GLN (13 digits); lots, SSCCs
and quantities in any accepted syntax (``Decimal``, ``int`` or a decimal string). Times are
aware ``datetime`` values: ``eventTime`` keeps the local offset.

==================  =====================================================================
builder             event
==================  =====================================================================
``commission``      ObjectEvent ADD commissioning at the producer's site (a harvest, a
                    new lot); ``harvest`` is the same
``pack``            AggregationEvent ADD packing: lots onto an SSCC
``unpack``          AggregationEvent DELETE unpacking: some or all lots off an SSCC
``ship``            ObjectEvent OBSERVE shipping from the shipper to the receiver: lots
                    and/or SSCCs (a shipped pallet moves its contents)
``receive``         ObjectEvent OBSERVE receiving, optionally rejecting part of the
                    delivery with a reason (``fairledger:rejectedQuantityList``)
``void_shipping``   ObjectEvent OBSERVE void_shipping: the shipper takes back goods it
                    shipped that will not be received
``transform``       TransformationEvent: inputs consumed, outputs produced
``destroy``         ObjectEvent DELETE destroying
``sell``            ObjectEvent OBSERVE retail_selling
``observe``         ObjectEvent OBSERVE (inspecting, storing...): a reference, no movement
``declare_error``   the error declaration of a recorded event (EPCIS 2.0 §7.4), naming the
                    corrective events that replace it
==================  =====================================================================

Every builder raises ``MalformedEventError`` (listing each bad field) when what it is given
does not make a valid event, e.g. a GLN with a wrong check digit.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from biip.checksums import gs1_standard_check_digit

from ledger.canonical import JSONObject
from ledger.trace._syntax import canonical_decimal
from ledger.trace.epcis import STANDARD_CONTEXT, parse_ledger_event, to_ledger_form
from ledger.trace.identifiers import DIGITAL_LINK_BASE, normalize_lot, normalize_sscc
from ledger.trace.rules import (
    FAIRLEDGER_CONTEXT,
    REJECTED_QUANTITY_LIST,
    REJECTION_REASON,
    party_id,
)

__all__ = [
    "Amount",
    "BizTransaction",
    "commission",
    "declare_error",
    "destroy",
    "harvest",
    "location_id",
    "lot_id",
    "observe",
    "pack",
    "receive",
    "sell",
    "ship",
    "trace_body",
    "transform",
    "unpack",
    "void_shipping",
    "with_check_digit",
]


@dataclass(frozen=True, slots=True)
class Amount:
    """``quantity`` of ``lot`` in ``uom`` (UN/ECE Rec 20; None counts pieces)."""

    lot: str
    quantity: Decimal | int | str
    uom: str | None = "KGM"

    def element(self) -> dict[str, Any]:
        out: dict[str, Any] = {"epcClass": self.lot, "quantity": Decimal(str(self.quantity))}
        if self.uom is not None:
            out["uom"] = self.uom
        return out

    def ledger_element(self) -> dict[str, Any]:
        """As written inside FairLedger extensions: normal-form lot, decimal string."""
        out: dict[str, Any] = {
            "epcClass": normalize_lot(self.lot),
            "quantity": _decimal_text(Decimal(str(self.quantity))),
        }
        if self.uom is not None:
            out["uom"] = self.uom
        return out


@dataclass(frozen=True, slots=True)
class BizTransaction:
    """A business document reference: CBV type (``po``, ``desadv``, ``inv``...) and id URI."""

    type: str | None
    id: str

    def element(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bizTransaction": self.id}
        if self.type is not None:
            out["type"] = self.type
        return out


def _decimal_text(value: Decimal) -> str:
    return canonical_decimal(value)


def with_check_digit(payload: str) -> str:
    """``payload`` (12 digits of a GLN, 13 of a GTIN-14, 17 of an SSCC) with its GS1 check
    digit appended (GS1 General Specifications §7.9.1)."""
    if not payload.isascii() or not payload.isdigit():
        raise ValueError(f"{payload!r} is not a string of digits")
    return payload + str(gs1_standard_check_digit(payload))


def lot_id(gtin: str, lot: str) -> str:
    """The normal form of lot ``lot`` of trade item ``gtin`` (check digit verified)."""
    return normalize_lot(f"{DIGITAL_LINK_BASE}/01/{gtin.zfill(14)}/10/{lot}")


def location_id(gln: str, extension: str | None = None) -> str:
    """The normal form of the site ``gln`` (optionally a sub-location)."""
    base = f"{DIGITAL_LINK_BASE}/414/{gln}"
    return base if extension is None else f"{base}/254/{extension}"


def trace_body(event: JSONObject) -> JSONObject:
    """The body of a ``trace.event`` statement carrying ``event``."""
    return {"event": event}


def _offset(when: datetime) -> str:
    delta = when.utcoffset()
    if delta is None:
        raise ValueError("event times must be timezone-aware")
    minutes = int(delta / timedelta(minutes=1))
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _base(kind: str, event_id: str, when: datetime, extra_context: bool = False) -> dict[str, Any]:
    context: list[Any] = [STANDARD_CONTEXT]
    if extra_context:
        context.append(dict(FAIRLEDGER_CONTEXT))
    return {
        "@context": context,
        "type": kind,
        "eventID": event_id,
        "eventTime": when.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": _offset(when),
    }


def _site(event: dict[str, Any], gln: str, extension: str | None) -> None:
    event["readPoint"] = {"id": location_id(gln, extension)}
    event["bizLocation"] = {"id": location_id(gln, extension)}


def _finish(event: dict[str, Any], biz_transactions: Sequence[BizTransaction]) -> JSONObject:
    if biz_transactions:
        event["bizTransactionList"] = [b.element() for b in biz_transactions]
    return to_ledger_form(event)


def commission(
    *,
    event_id: str,
    when: datetime,
    gln: str,
    lots: Sequence[Amount],
    site: str | None = None,
    biz_transactions: Sequence[BizTransaction] = (),
) -> JSONObject:
    """New lots come into existence at ``gln``'s site (ObjectEvent ADD commissioning)."""
    event = _base("ObjectEvent", event_id, when)
    event.update(
        {
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "quantityList": [a.element() for a in lots],
        }
    )
    _site(event, gln, site)
    return _finish(event, biz_transactions)


#: A harvest is the commissioning of the harvested lot at the farm.
harvest = commission


def pack(
    *, event_id: str, when: datetime, gln: str, sscc: str, lots: Sequence[Amount]
) -> JSONObject:
    """Lots packed onto the logistic unit ``sscc`` at ``gln`` (AggregationEvent ADD)."""
    event = _base("AggregationEvent", event_id, when)
    event.update(
        {
            "parentID": normalize_sscc(sscc),
            "childQuantityList": [a.element() for a in lots],
            "action": "ADD",
            "bizStep": "packing",
            "disposition": "in_progress",
        }
    )
    _site(event, gln, None)
    return to_ledger_form(event)


def unpack(
    *,
    event_id: str,
    when: datetime,
    gln: str,
    sscc: str,
    lots: Sequence[Amount] = (),
) -> JSONObject:
    """Lots taken off ``sscc`` at ``gln`` (AggregationEvent DELETE); all of them when
    ``lots`` is empty."""
    event = _base("AggregationEvent", event_id, when)
    event.update({"parentID": normalize_sscc(sscc), "action": "DELETE", "bizStep": "unpacking"})
    if lots:
        event["childQuantityList"] = [a.element() for a in lots]
    _site(event, gln, None)
    return to_ledger_form(event)


def _parties(event: dict[str, Any], source_gln: str | None, destination_gln: str | None) -> None:
    if source_gln is not None:
        event["sourceList"] = [{"type": "owning_party", "source": party_id(source_gln)}]
    if destination_gln is not None:
        event["destinationList"] = [
            {"type": "owning_party", "destination": party_id(destination_gln)}
        ]


def _goods(event: dict[str, Any], lots: Sequence[Amount], ssccs: Sequence[str]) -> None:
    if not lots and not ssccs:
        raise ValueError("name at least one lot or SSCC")
    if lots:
        event["quantityList"] = [a.element() for a in lots]
    if ssccs:
        event["epcList"] = [normalize_sscc(s) for s in ssccs]


def ship(
    *,
    event_id: str,
    when: datetime,
    shipper_gln: str,
    receiver_gln: str | None,
    lots: Sequence[Amount] = (),
    ssccs: Sequence[str] = (),
    biz_transactions: Sequence[BizTransaction] = (),
) -> JSONObject:
    """The shipper sends lots and/or pallets to the receiver (None: a destination off the
    ledger's map). Recorded by the shipper."""
    event = _base("ObjectEvent", event_id, when)
    event.update({"action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit"})
    _goods(event, lots, ssccs)
    _site(event, shipper_gln, None)
    _parties(event, shipper_gln, receiver_gln)
    return _finish(event, biz_transactions)


def receive(
    *,
    event_id: str,
    when: datetime,
    receiver_gln: str,
    shipper_gln: str | None,
    lots: Sequence[Amount] = (),
    ssccs: Sequence[str] = (),
    rejected: Sequence[Amount] = (),
    reason: str | None = None,
    biz_transactions: Sequence[BizTransaction] = (),
) -> JSONObject:
    """The receiver takes delivery of lots and/or pallets from the shipper, refusing the
    ``rejected`` part for ``reason`` (accepted = delivered − rejected)."""
    if bool(rejected) != (reason is not None):
        raise ValueError("a rejection needs both rejected quantities and a reason")
    event = _base("ObjectEvent", event_id, when, extra_context=bool(rejected))
    event.update({"action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress"})
    _goods(event, lots, ssccs)
    _site(event, receiver_gln, None)
    _parties(event, shipper_gln, receiver_gln)
    if rejected:
        event[f"fairledger:{REJECTED_QUANTITY_LIST}"] = [a.ledger_element() for a in rejected]
        event[f"fairledger:{REJECTION_REASON}"] = reason
    return _finish(event, biz_transactions)


def void_shipping(
    *,
    event_id: str,
    when: datetime,
    shipper_gln: str,
    receiver_gln: str | None,
    lots: Sequence[Amount] = (),
    ssccs: Sequence[str] = (),
) -> JSONObject:
    """The shipper declares goods it shipped to ``receiver_gln`` not shipped after all (or
    returned unreceived): they come back into its stock."""
    event = _base("ObjectEvent", event_id, when)
    event.update({"action": "OBSERVE", "bizStep": "void_shipping", "disposition": "returned"})
    _goods(event, lots, ssccs)
    _site(event, shipper_gln, None)
    _parties(event, shipper_gln, receiver_gln)
    return to_ledger_form(event)


def transform(
    *,
    event_id: str,
    when: datetime,
    gln: str,
    inputs: Sequence[Amount],
    outputs: Sequence[Amount],
    input_ssccs: Sequence[str] = (),
    transformation_id: str | None = None,
    biz_transactions: Sequence[BizTransaction] = (),
) -> JSONObject:
    """The processor at ``gln`` consumes ``inputs`` (and the contents of ``input_ssccs``)
    and produces ``outputs`` (TransformationEvent)."""
    event = _base("TransformationEvent", event_id, when)
    if inputs:
        event["inputQuantityList"] = [a.element() for a in inputs]
    if input_ssccs:
        event["inputEPCList"] = [normalize_sscc(s) for s in input_ssccs]
    event["outputQuantityList"] = [a.element() for a in outputs]
    if transformation_id is not None:
        event["transformationID"] = transformation_id
    event["bizStep"] = "commissioning"
    event["disposition"] = "active"
    _site(event, gln, None)
    return _finish(event, biz_transactions)


def destroy(*, event_id: str, when: datetime, gln: str, lots: Sequence[Amount]) -> JSONObject:
    """Lots destroyed at ``gln`` (ObjectEvent DELETE destroying)."""
    event = _base("ObjectEvent", event_id, when)
    event.update(
        {
            "action": "DELETE",
            "bizStep": "destroying",
            "disposition": "destroyed",
            "quantityList": [a.element() for a in lots],
        }
    )
    _site(event, gln, None)
    return to_ledger_form(event)


def sell(*, event_id: str, when: datetime, gln: str, lots: Sequence[Amount]) -> JSONObject:
    """Lots sold to consumers at ``gln`` (ObjectEvent OBSERVE retail_selling)."""
    event = _base("ObjectEvent", event_id, when)
    event.update(
        {
            "action": "OBSERVE",
            "bizStep": "retail_selling",
            "disposition": "retail_sold",
            "quantityList": [a.element() for a in lots],
        }
    )
    _site(event, gln, None)
    return to_ledger_form(event)


def observe(
    *,
    event_id: str,
    when: datetime,
    gln: str,
    lots: Sequence[Amount],
    biz_step: str = "inspecting",
) -> JSONObject:
    """Lots observed at ``gln`` (ObjectEvent OBSERVE, e.g. inspecting or storing): no
    change of stock, a reference in the lots' history."""
    event = _base("ObjectEvent", event_id, when)
    event.update(
        {"action": "OBSERVE", "bizStep": biz_step, "quantityList": [a.element() for a in lots]}
    )
    _site(event, gln, None)
    return to_ledger_form(event)


def declare_error(
    original: JSONObject,
    *,
    when: datetime,
    reason: str = "incorrect_data",
    corrective_event_ids: Sequence[str] = (),
) -> JSONObject:
    """The error declaration of the recorded event ``original`` (its ledger form): the same
    event with ``errorDeclaration`` added, naming the ``corrective_event_ids`` that replace
    it (EPCIS 2.0 §7.4). Sign it as the original's author."""
    event = copy.deepcopy(original)
    declaration: dict[str, Any] = {
        "declarationTime": when.isoformat(timespec="milliseconds"),
        "reason": reason,
    }
    if corrective_event_ids:
        declaration["correctiveEventIDs"] = list(corrective_event_ids)
    event["errorDeclaration"] = declaration
    event.pop("recordTime", None)
    return parse_ledger_event(event, require_normal_form=False).ledger_form()
