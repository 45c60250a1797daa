"""What the ledger needs from an EPCIS event, as one typed, frozen summary.

``event_facts(event)`` reads a validated event (already in normal form) and states:

* **custody**: whether lots come into, or leave, the stock of the party recording the event.
  This is the ledger's reading of EPCIS/CBV semantics, kept in one table
  (``ARRIVING_BIZ_STEPS`` / ``LEAVING_BIZ_STEPS``):

  ==============================================  ===========================================
  event                                           effect
  ==============================================  ===========================================
  ObjectEvent, bizStep commissioning,             ``ARRIVE``: ``quantityList``/``epcList`` in
  creating_class_instance, receiving,
  void_shipping (CBV 2.0 §7.1)
  ObjectEvent, bizStep shipping, destroying,      ``LEAVE``: ``quantityList``/``epcList`` out
  decommissioning, retail_selling
  ObjectEvent, other bizStep, action ADD / DELETE ``ARRIVE`` / ``LEAVE`` (EPCIS 2.0 §7.4:
                                                  objects created / ceasing to exist)
  TransformationEvent                             ``TRANSFORM``: inputs out, outputs in
  error declaration (any type)                    ``NONE``: it retracts; it moves nothing
  AggregationEvent, TransactionEvent,             ``NONE`` (containment, paperwork,
  AssociationEvent, other ObjectEvents            association, observation)
  ==============================================  ===========================================

  Objects shipped inside an SSCC are not expanded here: that needs the ledger's aggregation
  state, so ``ssccs`` and the aggregation fields are reported for the caller to resolve.
* **everything else the ledger keeps**: identifiers, parties and locations, business
  transactions, the error declaration, sensor readings (for condition clauses) and
  certification info.

Quantities are ``Decimal``; a quantity element without ``uom`` counts instances of its class
and has ``uom`` None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from ledger.trace._syntax import parse_date_time
from ledger.trace.epcis import (
    AggregationEvent,
    AssociationEvent,
    EpcisEvent,
    ObjectEvent,
    Place,
    QuantityElement,
    SensorElement,
    TransactionEvent,
    TransformationEvent,
)

__all__ = [
    "ARRIVING_BIZ_STEPS",
    "LEAVING_BIZ_STEPS",
    "BizTransactionFact",
    "CustodyEffect",
    "ErrorDeclarationFact",
    "EventFacts",
    "QuantityFact",
    "SensorReading",
    "SourceDestinationFact",
    "custody_effect",
    "custody_of",
    "event_facts",
    "quantity_fact",
    "ssccs_named",
]

#: bizSteps after which the objects are in the recording party's stock.
ARRIVING_BIZ_STEPS: Final = frozenset(
    {"commissioning", "creating_class_instance", "receiving", "void_shipping"}
)
#: bizSteps after which the objects have left the recording party's stock.
LEAVING_BIZ_STEPS: Final = frozenset(
    {"shipping", "destroying", "decommissioning", "retail_selling"}
)

_TRADE_ITEM = re.compile(r"https://id\.gs1\.org/01/([0-9]{14})(/10/.+)?", re.ASCII)
_SSCC = re.compile(r"https://id\.gs1\.org/00/([0-9]{18})", re.ASCII)


class CustodyEffect(StrEnum):
    """How an event changes the quantities the recording party holds."""

    ARRIVE = "arrive"
    LEAVE = "leave"
    TRANSFORM = "transform"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class QuantityFact:
    """One quantity element: ``epc_class`` in normal form; ``lot`` is the same string when
    the class is a lot (else None); ``gtin`` the 14 digits when it is a trade item class."""

    epc_class: str
    lot: str | None
    gtin: str | None
    quantity: Decimal | None
    uom: str | None


@dataclass(frozen=True, slots=True)
class SourceDestinationFact:
    """A source or destination (CBV 2.0 §7.4): ``type`` is ``owning_party``,
    ``possessing_party``, ``location`` or a user URI; ``id`` is in normal form."""

    type: str
    id: str


@dataclass(frozen=True, slots=True)
class BizTransactionFact:
    """A business transaction reference (CBV 2.0 §7.3): type (None if untyped) and id."""

    type: str | None
    id: str


@dataclass(frozen=True, slots=True)
class ErrorDeclarationFact:
    """EPCIS 2.0 §7.4 (ErrorDeclaration): the event with this ``eventID`` is declared erroneous at
    ``declaration_time``; ``corrective_event_ids`` name the events that count instead."""

    declared_event_id: str
    declaration_time: datetime
    reason: str | None
    corrective_event_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One sensor report (EPCIS 2.0 §7.3 (sensor data)), with its element's metadata folded in.

    ``time`` is the report's time, else the metadata's; ``start_time``/``end_time`` bound the
    period the report covers (from the metadata).  Numbers are ``Decimal``.
    """

    type: str
    value: Decimal | None
    min_value: Decimal | None
    max_value: Decimal | None
    mean_value: Decimal | None
    uom: str | None
    time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    device_id: str | None
    exception: str | None
    component: str | None
    string_value: str | None
    boolean_value: bool | None


@dataclass(frozen=True, slots=True)
class EventFacts:
    """The typed summary of one event (see the module docstring for custody rules).

    ``quantities_in``/``epcs_in`` enter the recording party's stock, ``quantities_out``/
    ``epcs_out`` leave it.  The raw lists (``quantities``, ``epcs``, inputs, outputs) are
    reported as well, whatever the custody effect.
    """

    event_id: str
    event_type: str
    action: str | None
    event_time: datetime
    event_time_zone_offset: str
    record_time: datetime | None
    biz_step: str | None
    disposition: str | None
    custody: CustodyEffect
    quantities_in: tuple[QuantityFact, ...]
    quantities_out: tuple[QuantityFact, ...]
    epcs_in: tuple[str, ...]
    epcs_out: tuple[str, ...]
    epcs: tuple[str, ...]
    quantities: tuple[QuantityFact, ...]
    input_epcs: tuple[str, ...]
    input_quantities: tuple[QuantityFact, ...]
    output_epcs: tuple[str, ...]
    output_quantities: tuple[QuantityFact, ...]
    parent_id: str | None
    parent_sscc: str | None
    ssccs: tuple[str, ...]
    transformation_id: str | None
    read_point: str | None
    biz_location: str | None
    sources: tuple[SourceDestinationFact, ...]
    destinations: tuple[SourceDestinationFact, ...]
    biz_transactions: tuple[BizTransactionFact, ...]
    error_declaration: ErrorDeclarationFact | None
    sensor_readings: tuple[SensorReading, ...]
    certification_info: tuple[str, ...]
    persistent_disposition_set: tuple[str, ...]
    persistent_disposition_unset: tuple[str, ...]

    @property
    def affects_custody(self) -> bool:
        """False for aggregation, transaction, association events and error declarations."""
        return self.custody is not CustodyEffect.NONE

    @property
    def lots_in(self) -> tuple[QuantityFact, ...]:
        """``quantities_in`` restricted to lots."""
        return tuple(q for q in self.quantities_in if q.lot is not None)

    @property
    def lots_out(self) -> tuple[QuantityFact, ...]:
        """``quantities_out`` restricted to lots."""
        return tuple(q for q in self.quantities_out if q.lot is not None)

    def parties(self, role: str) -> tuple[str, ...]:
        """Source then destination ids of the given type (e.g. ``"owning_party"``)."""
        return tuple(s.id for s in (*self.sources, *self.destinations) if s.type == role)


def quantity_fact(epc_class: str, quantity: Decimal | None, uom: str | None) -> QuantityFact:
    """The ``QuantityFact`` of a quantity element whose ``epc_class`` is in normal form."""
    match = _TRADE_ITEM.fullmatch(epc_class)
    return QuantityFact(
        epc_class=epc_class,
        lot=epc_class if match and match.group(2) else None,
        gtin=match.group(1) if match else None,
        quantity=quantity,
        uom=uom,
    )


def _quantity(element: QuantityElement) -> QuantityFact:
    return quantity_fact(element.epc_class, element.quantity, element.uom)


def _quantities(elements: tuple[QuantityElement, ...] | None) -> tuple[QuantityFact, ...]:
    return tuple(_quantity(e) for e in elements or ())


def _sscc(identifier: str | None) -> str | None:
    match = _SSCC.fullmatch(identifier or "")
    return match.group(1) if match else None


def ssccs_named(named: tuple[str | None, ...]) -> tuple[str, ...]:
    """The SSCC digits of the identifiers in ``named`` (normal form), first mention first."""
    return tuple(dict.fromkeys(s for s in map(_sscc, named) if s is not None))


def _time(text: str | None) -> datetime | None:
    return parse_date_time(text) if text is not None else None


def _readings(elements: tuple[SensorElement, ...] | None) -> tuple[SensorReading, ...]:
    readings = []
    for element in elements or ():
        meta = element.sensor_metadata
        for report in element.sensor_report:
            readings.append(
                SensorReading(
                    type=report.type,
                    value=report.value,
                    min_value=report.min_value,
                    max_value=report.max_value,
                    mean_value=report.mean_value,
                    uom=report.uom,
                    time=_time(report.time or (meta.time if meta else None)),
                    start_time=_time(meta.start_time if meta else None),
                    end_time=_time(meta.end_time if meta else None),
                    device_id=report.device_id or (meta.device_id if meta else None),
                    exception=report.exception,
                    component=report.component,
                    string_value=report.string_value,
                    boolean_value=report.boolean_value,
                )
            )
    return tuple(readings)


def custody_of(
    event_type: str, biz_step: str | None, action: str | None, declared: bool
) -> CustodyEffect:
    """The custody effect of an event of ``event_type`` with ``biz_step`` and ``action``
    (``declared``: it carries an error declaration), by the module docstring's table."""
    if declared:
        return CustodyEffect.NONE
    if event_type == "TransformationEvent":
        return CustodyEffect.TRANSFORM
    if event_type == "ObjectEvent":
        if biz_step in ARRIVING_BIZ_STEPS:
            return CustodyEffect.ARRIVE
        if biz_step in LEAVING_BIZ_STEPS:
            return CustodyEffect.LEAVE
        if action == "ADD":
            return CustodyEffect.ARRIVE
        if action == "DELETE":
            return CustodyEffect.LEAVE
    return CustodyEffect.NONE


def custody_effect(event: EpcisEvent) -> CustodyEffect:
    """The custody effect of ``event`` according to the table in the module docstring."""
    return custody_of(
        event.type,
        getattr(event, "biz_step", None),
        getattr(event, "action", None),
        event.error_declaration is not None,
    )


def _place(place: Place | None) -> str | None:
    return place.id if place is not None else None


def event_facts(event: EpcisEvent) -> EventFacts:
    """Summarise a validated event. Never raises for an event that passed validation."""
    epcs: tuple[str, ...] = ()
    quantities: tuple[QuantityFact, ...] = ()
    input_epcs: tuple[str, ...] = ()
    output_epcs: tuple[str, ...] = ()
    inputs: tuple[QuantityFact, ...] = ()
    outputs: tuple[QuantityFact, ...] = ()
    parent_id: str | None = None
    transformation_id: str | None = None
    action: str | None = None
    set_: tuple[str, ...] = ()
    unset: tuple[str, ...] = ()
    if isinstance(event, ObjectEvent | TransactionEvent):
        epcs = event.epc_list or ()
        quantities = _quantities(event.quantity_list)
        action = event.action
    if isinstance(event, TransactionEvent):
        parent_id = event.parent_id
    if isinstance(event, AggregationEvent | AssociationEvent):
        epcs = event.child_epcs or ()
        quantities = _quantities(event.child_quantity_list)
        parent_id = event.parent_id
        action = event.action
    if isinstance(event, TransformationEvent):
        input_epcs = event.input_epc_list or ()
        output_epcs = event.output_epc_list or ()
        inputs = _quantities(event.input_quantity_list)
        outputs = _quantities(event.output_quantity_list)
        transformation_id = event.transformation_id
    if isinstance(event, ObjectEvent | TransformationEvent) and event.persistent_disposition:
        set_ = event.persistent_disposition.set_ or ()
        unset = event.persistent_disposition.unset or ()

    custody = custody_effect(event)
    quantities_in: tuple[QuantityFact, ...] = ()
    quantities_out: tuple[QuantityFact, ...] = ()
    epcs_in: tuple[str, ...] = ()
    epcs_out: tuple[str, ...] = ()
    if custody is CustodyEffect.ARRIVE:
        quantities_in, epcs_in = quantities, epcs
    elif custody is CustodyEffect.LEAVE:
        quantities_out, epcs_out = quantities, epcs
    elif custody is CustodyEffect.TRANSFORM:
        quantities_in, epcs_in = outputs, output_epcs
        quantities_out, epcs_out = inputs, input_epcs

    ssccs = ssccs_named((parent_id, *epcs, *input_epcs, *output_epcs))
    declaration = event.error_declaration
    certification = event.certification_info
    return EventFacts(
        event_id=event.event_id,
        event_type=event.type,
        action=action,
        event_time=event.event_time_utc,
        event_time_zone_offset=event.event_time_zone_offset,
        record_time=_time(event.record_time),
        biz_step=getattr(event, "biz_step", None),
        disposition=getattr(event, "disposition", None),
        custody=custody,
        quantities_in=quantities_in,
        quantities_out=quantities_out,
        epcs_in=epcs_in,
        epcs_out=epcs_out,
        epcs=epcs,
        quantities=quantities,
        input_epcs=input_epcs,
        input_quantities=inputs,
        output_epcs=output_epcs,
        output_quantities=outputs,
        parent_id=parent_id,
        parent_sscc=_sscc(parent_id),
        ssccs=ssccs,
        transformation_id=transformation_id,
        read_point=_place(getattr(event, "read_point", None)),
        biz_location=_place(getattr(event, "biz_location", None)),
        sources=tuple(
            SourceDestinationFact(s.type, s.source)
            for s in getattr(event, "source_list", None) or ()
        ),
        destinations=tuple(
            SourceDestinationFact(d.type, d.destination)
            for d in getattr(event, "destination_list", None) or ()
        ),
        biz_transactions=tuple(
            BizTransactionFact(b.type, b.biz_transaction)
            for b in getattr(event, "biz_transaction_list", None) or ()
        ),
        error_declaration=None
        if declaration is None
        else ErrorDeclarationFact(
            declared_event_id=event.event_id,
            declaration_time=parse_date_time(declaration.declaration_time),
            reason=declaration.reason,
            corrective_event_ids=declaration.corrective_event_ids or (),
        ),
        sensor_readings=_readings(getattr(event, "sensor_element_list", None)),
        certification_info=(certification,)
        if isinstance(certification, str)
        else tuple(certification or ()),
        persistent_disposition_set=set_,
        persistent_disposition_unset=unset,
    )
