"""The FDA FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)(3)(ii)).

One column per Key Data Element of the Food Traceability Rule's critical tracking events
(21 CFR 1.1330 initial packing, 1.1340 shipping, 1.1345 receiving, 1.1350 transformation),
named after the rule's KDEs, plus the EPCIS eventID and the ledger seq that prove each row.
One row per critical tracking event and traceability lot it names, and one more per
transformation input ("food used"):

=====================================  ====================================================
recorded event                         rows
=====================================  ====================================================
commissioning (a lot code assigned)    Initial Packing, per lot
shipping                               Shipping, per lot (a pallet's contents expanded)
receiving                              Receiving, per lot, with the accepted quantity
TransformationEvent                    Transformation "new food" per output lot, and
                                       Transformation "food used" per input lot
=====================================  ====================================================

Events that are not critical tracking events (packing, observations, destruction) have no
rows; events declared erroneous have none either (their corrective events do). Quantities
are exact ``Decimal`` (decimal text in CSV). Location descriptions come from the participant
registry (display name, id, GLN); product descriptions from an optional GTIN → description
map, else the GTIN. Pure apart from the CSV writer's stream. The XLSX form needs
``openpyxl``, which ``ledger/`` may not import (DESIGN §1): it is ``api.spreadsheet``.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone
from decimal import Decimal
from typing import IO, Any, Final

from ledger.trace._syntax import parse_date_time
from ledger.trace.identifiers import parse_lot
from ledger.trace.provenance import Movement, TraceEventInfo
from ledger.trace.rules import location_gln, party_gln
from ledger.trace.units import add, format_quantity

__all__ = [
    "FSMA_COLUMNS",
    "FsmaRow",
    "fsma_rows",
    "write_fsma_csv",
]

#: The spreadsheet's columns, in order.
FSMA_COLUMNS: Final = (
    "Critical Tracking Event",
    "Transformation Role",
    "Traceability Lot Code",
    "Product Description",
    "Quantity",
    "Unit of Measure",
    "Location Description",
    "Location Identifier (GLN)",
    "Immediate Previous Source Location Description",
    "Immediate Subsequent Recipient Location Description",
    "Date",
    "Event Time",
    "Traceability Lot Code Source Location Description",
    "Traceability Lot Code Source Reference",
    "New Traceability Lot Code (Transformation Output)",
    "Reference Document Type",
    "Reference Document Number",
    "EPCIS Event ID",
    "Ledger Record Seq",
)

_DOCUMENT_TYPES: Final = {
    "po": "Purchase Order",
    "poc": "Purchase Order Confirmation",
    "desadv": "Despatch Advice (Advance Ship Notice)",
    "recadv": "Receiving Advice",
    "inv": "Invoice",
    "bol": "Bill of Lading",
    "prodorder": "Production Order",
    "cert": "Certificate",
    "rma": "Return Merchandise Authorization",
    "pedigree": "Pedigree",
    "testprd": "Test Procedure",
    "testres": "Test Result",
    "upevt": "Upstream EPCIS Event",
}
_CBV_BTT: Final = "https://ref.gs1.org/cbv/BTT-"


@dataclass(frozen=True, slots=True)
class FsmaRow:
    """One spreadsheet row; ``values()`` lists it in ``FSMA_COLUMNS`` order."""

    cte: str
    role: str
    lot_code: str
    product: str
    quantity: Decimal | None
    uom: str
    location: str
    location_gln: str
    previous_source: str
    subsequent_recipient: str
    date: str
    event_time: str
    lot_code_source: str
    lot_code_source_reference: str
    new_lot_codes: str
    document_type: str
    document_number: str
    event_id: str
    seq: int

    def values(self) -> tuple[object, ...]:
        return (
            self.cte,
            self.role,
            self.lot_code,
            self.product,
            self.quantity,
            self.uom,
            self.location,
            self.location_gln,
            self.previous_source,
            self.subsequent_recipient,
            self.date,
            self.event_time,
            self.lot_code_source,
            self.lot_code_source_reference,
            self.new_lot_codes,
            self.document_type,
            self.document_number,
            self.event_id,
            self.seq,
        )


def _describe(
    who: str | None, directory: Mapping[str, tuple[str, str | None]], location: str | None = None
) -> tuple[str, str]:
    """(description, GLN) of a participant or party, at a site when given."""
    site_gln = location_gln(location)
    if who is None:
        return ("", site_gln or "")
    if who in directory:
        name, gln = directory[who]
        text = f"{name} ({who})"
        if site_gln is not None:
            text += f", site GLN {site_gln}"
            if location is not None and "/254/" in location:
                text += f" sub-location {location.split('/254/', 1)[1]}"
        elif gln is not None:
            text += f", GLN {gln}"
        return text, site_gln or gln or ""
    gln = party_gln(who)
    if gln is not None:
        return f"party GLN {gln} (not registered on this ledger)", gln
    return who, ""


def _documents(event: Mapping[str, Any], seq: int) -> tuple[str, str]:
    items = event.get("bizTransactionList") or []
    if not items:
        return "FairLedger record (EPCIS event)", str(seq)
    types = []
    numbers = []
    for item in items:
        kind = item.get("type")
        if isinstance(kind, str) and kind.startswith(_CBV_BTT):
            kind = kind[len(_CBV_BTT) :]
        types.append(_DOCUMENT_TYPES.get(kind, kind) if kind else "Business Transaction")
        numbers.append(str(item.get("bizTransaction")))
    return "; ".join(types), "; ".join(numbers)


def _when(event: Mapping[str, Any]) -> tuple[str, str]:
    """(local date, local event time) from eventTime and eventTimeZoneOffset."""
    moment = parse_date_time(str(event["eventTime"]))
    offset = str(event.get("eventTimeZoneOffset", "+00:00"))
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    local = moment.astimezone(timezone(sign * timedelta(hours=int(hours), minutes=int(minutes))))
    return local.date().isoformat(), local.isoformat()


def _sum_by_lot(moves: Iterable[Movement], category: str) -> list[tuple[str, str, Decimal | None]]:
    totals: dict[tuple[str, str], Decimal | None] = {}
    for m in moves:
        if m.category != category:
            continue
        key = (m.lot, m.uom or "")
        current = totals.get(key, Decimal(0))
        totals[key] = None if current is None or m.quantity is None else add(current, m.quantity)
    return [(lot, uom, quantity) for (lot, uom), quantity in totals.items()]


@dataclass(frozen=True, slots=True)
class _EventContext:
    """The columns every row of one event shares."""

    location: str
    gln: str
    date: str
    moment: str
    document_type: str
    document_number: str
    event_id: str
    seq: int


def _row(
    ctx: _EventContext,
    sources: Mapping[str, TraceEventInfo],
    directory: Mapping[str, tuple[str, str | None]],
    products: Mapping[str, str],
    cte: str,
    lot: str,
    uom: str,
    quantity: Decimal | None,
    *,
    role: str = "",
    previous: str = "",
    following: str = "",
    new_lots: str = "",
) -> FsmaRow:
    parsed = parse_lot(lot)
    source = sources.get(lot)
    if source is not None:
        source_text, source_gln = _describe(source.author, directory, source.location)
        reference = f"GLN {source_gln}" if source_gln else (source.location or "")
    else:
        source_text, reference = "", ""
    return FsmaRow(
        cte=cte,
        role=role,
        lot_code=parsed.lot,
        product=products.get(parsed.gtin.value, f"GTIN {parsed.gtin.value}"),
        quantity=quantity,
        uom=uom,
        location=ctx.location,
        location_gln=ctx.gln,
        previous_source=previous,
        subsequent_recipient=following,
        date=ctx.date,
        event_time=ctx.moment,
        lot_code_source=source_text,
        lot_code_source_reference=reference,
        new_lot_codes=new_lots,
        document_type=ctx.document_type,
        document_number=ctx.document_number,
        event_id=ctx.event_id,
        seq=ctx.seq,
    )


def fsma_rows(
    events: Sequence[Any],
    movements: Mapping[int, Sequence[Movement]],
    sources: Mapping[str, TraceEventInfo],
    directory: Mapping[str, tuple[str, str | None]],
    products: Mapping[str, str],
    *,
    only_lots: Collection[str] | None = None,
) -> list[FsmaRow]:
    """The rows for recorded ``events`` (objects with ``seq``, ``author`` and ledger-form
    ``event``) given their counting ``movements``, each lot's code source (``lot_sources``)
    and the participant ``directory``; sorted by date, then record. Declarations and
    retracted events yield no rows; with ``only_lots``, only rows of those lots."""
    rows: list[FsmaRow] = []
    for recorded in sorted(events, key=lambda e: e.seq):
        event: Mapping[str, Any] = recorded.event
        moves = movements.get(recorded.seq, ())
        if "errorDeclaration" in event or not moves:
            continue
        site = None
        for key in ("bizLocation", "readPoint"):
            place = event.get(key)
            if isinstance(place, dict) and isinstance(place.get("id"), str):
                site = str(place["id"])
                break
        location, gln = _describe(recorded.author, directory, site)
        date, moment = _when(event)
        doc_type, doc_number = _documents(event, recorded.seq)
        ctx = _EventContext(
            location,
            gln,
            date,
            moment,
            doc_type,
            doc_number,
            str(event.get("eventID")),
            recorded.seq,
        )
        counterparty = {m.lot: m.counterparty for m in moves if m.counterparty is not None}

        wanted: list[tuple[str, str, str, Decimal | None, dict[str, str]]] = []
        for lot, uom, quantity in _sum_by_lot(moves, "commissioned"):
            wanted.append(("Initial Packing", lot, uom, quantity, {}))
        for lot, uom, quantity in _sum_by_lot(moves, "shipped"):
            following = _describe(counterparty.get(lot), directory)[0]
            wanted.append(("Shipping", lot, uom, quantity, {"following": following}))
        for lot, uom, quantity in _sum_by_lot(moves, "received"):
            previous = _describe(counterparty.get(lot), directory)[0]
            wanted.append(("Receiving", lot, uom, quantity, {"previous": previous}))
        produced = _sum_by_lot(moves, "produced")
        new_codes = "; ".join(parse_lot(lot).lot for lot, _, _ in produced)
        for lot, uom, quantity in produced:
            wanted.append(("Transformation", lot, uom, quantity, {"role": "New food"}))
        for lot, uom, quantity in _sum_by_lot(moves, "consumed"):
            extra = {"role": "Food used", "new_lots": new_codes}
            wanted.append(("Transformation", lot, uom, quantity, extra))
        for cte, lot, uom, quantity, extra in wanted:
            if only_lots is None or lot in only_lots:
                rows.append(
                    _row(ctx, sources, directory, products, cte, lot, uom, quantity, **extra)
                )
    rows.sort(key=lambda r: (r.date, r.seq))
    return rows


def _cell(value: object) -> object:
    if isinstance(value, Decimal):
        return format_quantity(value)
    return "" if value is None else value


def write_fsma_csv(rows: Iterable[FsmaRow], out: IO[str]) -> int:
    """Write the header and ``rows`` as CSV (RFC 4180, CRLF); returns the number of rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FSMA_COLUMNS)
    count = 0
    for fsma in rows:
        writer.writerow([_cell(v) for v in fsma.values()])
        count += 1
    return count
