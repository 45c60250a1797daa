"""Builders for contract scenarios: EPCIS delivery events and statement bodies.

Used by the tests, the demo and the settlement benchmark to write what real participants
would record: shipping and receiving ``ObjectEvent``s in the ledger form (valid for
``ledger.trace.epcis.parse_ledger_event``) carrying FairLedger's contract extension fields
(``contracts.deliveries.CONTRACT_NS``), and the bodies of the contract, sale and payment
kinds. Everything is deterministic: event ids derive from the arguments.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from contracts.deliveries import CONTRACT_NS
from contracts.entries import Entry
from contracts.terms import ContractTerms, terms_hash
from ledger.canonical import JSONObject, JSONValue

__all__ = [
    "EntryLog",
    "Reading",
    "accept_body",
    "decimal_text",
    "lot_id",
    "payment_confirm_body",
    "payment_sent_body",
    "propose_body",
    "receiving_event",
    "sale_body",
    "shipping_event",
    "terminate_body",
    "waive_body",
]

_NAMESPACE = uuid.UUID("6f1c3d2e-9a47-4b8e-8d0f-52a1f0c3e7b9")


class EntryLog:
    """Unsigned entries numbered from ``start``, for pure tests and benchmarks (settlement
    reads entries, not signatures). ``stamp`` is every entry's recorded and issued time."""

    def __init__(self, start: int = 1, stamp: str = "2026-11-22T10:00:00.000000Z") -> None:
        self.entries: list[Entry] = []
        self.next = start
        self.stamp = stamp

    def add(self, kind: str, author: str, body: JSONObject, *, stamp: str | None = None) -> int:
        """Append an entry; returns its seq."""
        seq = self.next
        when = stamp or self.stamp
        self.entries.append(Entry(seq, str(kind), author, when, when, body))
        self.next += 1
        return seq

    @property
    def last(self) -> int:
        return self.next - 1


def decimal_text(text: str) -> str:
    """``text`` as the ledger form's canonical decimal (``"2.50"`` → ``"2.5"``, ``"1.0"`` →
    ``"1"``), so the events built here are valid whatever spelling the caller used."""
    formatted = f"{Decimal(text).normalize():f}"
    return "0" if formatted == "-0" else formatted


def lot_id(gtin: str, lot: str) -> str:
    """The Digital Link normal form of lot ``lot`` of GTIN ``gtin`` (14 digits)."""
    return f"https://id.gs1.org/01/{gtin}/10/{lot}"


@dataclass(frozen=True, slots=True)
class Reading:
    """A sensor report: ``value`` or ``low``/``high`` (min/max) of ``kind`` in ``uom``."""

    kind: str = "Temperature"
    uom: str = "CEL"
    value: str | None = None
    low: str | None = None
    high: str | None = None

    def to_json(self) -> JSONObject:
        report: JSONObject = {"type": self.kind, "uom": self.uom}
        for name, text in (("value", self.value), ("minValue", self.low), ("maxValue", self.high)):
            if text is not None:
                report[name] = decimal_text(text)
        return report


def _event(
    step: str,
    *,
    lots: Sequence[tuple[str, str]],
    uom: str | None,
    on: date,
    at: str,
    offset: str,
    po: str | None,
    readings: Sequence[Reading],
    extensions: dict[str, JSONValue],
    salt: str,
) -> JSONObject:
    seed = f"{step}|{on}|{at}|{po}|{lots}|{salt}"
    quantities: list[JSONValue] = []
    for lot, quantity in lots:
        element: JSONObject = {"epcClass": lot, "quantity": decimal_text(quantity)}
        if uom is not None:
            element["uom"] = uom
        quantities.append(element)
    event: JSONObject = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{uuid.uuid5(_NAMESPACE, seed)}",
        "eventTime": f"{on.isoformat()}T{at}{offset}",
        "eventTimeZoneOffset": offset,
        "quantityList": quantities,
        "action": "OBSERVE",
        "bizStep": step,
        "disposition": "in_transit" if step == "shipping" else "in_progress",
    }
    if po is not None:
        event["bizTransactionList"] = [{"type": "po", "bizTransaction": po}]
    if readings:
        event["sensorElementList"] = [{"sensorReport": [r.to_json() for r in readings]}]
    if extensions:
        event["@context"] = [{"fl": CONTRACT_NS}]
        for name, value in extensions.items():
            event[f"fl:{name}"] = value
    return event


def shipping_event(
    lot: str,
    quantity: str,
    *,
    on: date,
    po: str | None,
    uom: str | None = "KGM",
    due: date | None = None,
    force_majeure: bool = False,
    readings: Sequence[Reading] = (),
    contract: str | None = None,
    at: str = "08:00:00.000",
    offset: str = "+00:00",
    more_lots: Sequence[tuple[str, str]] = (),
    salt: str = "",
) -> JSONObject:
    """A supplier's shipping event (the ``event`` of a ``trace.event`` body)."""
    extensions: dict[str, JSONValue] = {}
    if due is not None:
        extensions["dueDate"] = due.isoformat()
    if force_majeure:
        extensions["forceMajeure"] = True
    if contract is not None:
        extensions["contract"] = contract
    return _event(
        "shipping",
        lots=[(lot, quantity), *more_lots],
        uom=uom,
        on=on,
        at=at,
        offset=offset,
        po=po,
        readings=readings,
        extensions=extensions,
        salt=salt,
    )


def receiving_event(
    lot: str,
    quantity: str,
    *,
    on: date,
    po: str | None,
    uom: str | None = "KGM",
    due: date | None = None,
    rejection_reason: str | None = None,
    readings: Sequence[Reading] = (),
    contract: str | None = None,
    at: str = "16:00:00.000",
    offset: str = "+00:00",
    salt: str = "",
) -> JSONObject:
    """A buyer's receiving event; ``quantity`` is what it accepts."""
    extensions: dict[str, JSONValue] = {}
    if due is not None:
        extensions["dueDate"] = due.isoformat()
    if rejection_reason is not None:
        extensions["rejectionReason"] = rejection_reason
    if contract is not None:
        extensions["contract"] = contract
    return _event(
        "receiving",
        lots=[(lot, quantity)],
        uom=uom,
        on=on,
        at=at,
        offset=offset,
        po=po,
        readings=readings,
        extensions=extensions,
        salt=salt,
    )


def propose_body(terms: ContractTerms, version: int = 1) -> JSONObject:
    return {
        "contract_id": terms.contract_id,
        "version": version,
        "terms": terms.model_dump(mode="json"),
    }


def accept_body(terms: ContractTerms, version: int = 1) -> JSONObject:
    return {"contract_id": terms.contract_id, "version": version, "terms_hash": terms_hash(terms)}


def terminate_body(
    contract_id: str,
    *,
    ground: str,
    effective_on: date,
    reason: str = "terminated under the terms",
    delivery: tuple[int, int, str] | None = None,
) -> JSONObject:
    body: JSONObject = {
        "contract_id": contract_id,
        "ground": ground,
        "reason": reason,
        "effective_on": effective_on.isoformat(),
    }
    if delivery is not None:
        shipping, receiving, lot = delivery
        body["delivery"] = {"shipping": shipping, "receiving": receiving, "lot": lot}
    return body


def sale_body(
    lot: str, period: str, quantity: str, revenue: str, currency: str = "EUR", uom: str = "KGM"
) -> JSONObject:
    return {
        "lot": lot,
        "period": period,
        "quantity": quantity,
        "uom": uom,
        "revenue": {"amount": revenue, "currency": currency},
    }


def payment_sent_body(
    parts: Sequence[tuple[str, str]], *, sent_on: date, currency: str = "EUR"
) -> JSONObject:
    """``parts`` are ``(obligation id, amount)``; the total is their sum."""
    total = sum((Decimal(amount) for _, amount in parts), Decimal(0))
    return {
        "obligations": [{"obligation": oid, "amount": amount} for oid, amount in parts],
        "amount": {"amount": f"{total:f}", "currency": currency},
        "sent_on": sent_on.isoformat(),
    }


def payment_confirm_body(
    payment_seq: int, *, received_on: date | None = None, disputed: str | None = None
) -> JSONObject:
    """``received`` on ``received_on``, or ``disputed`` with that reason."""
    if disputed is not None:
        return {"outcome": "disputed", "payment": payment_seq, "reason": disputed}
    assert received_on is not None
    return {"outcome": "received", "payment": payment_seq, "received_on": received_on.isoformat()}


def waive_body(obligation: str, reason: str) -> JSONObject:
    return {"outcome": "waived", "obligation": obligation, "reason": reason}
