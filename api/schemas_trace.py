"""Response shapes of the traceability reads (``/v1/lots...``, ``/v1/exports/...``) and their
OpenAPI examples.

The routes serve the library's own ``to_json()`` forms (``ledger.trace.provenance``); these
models document them field for field (``extra="forbid"``, so a test that validates real
answers against them notices any drift). Quantities are exact decimal strings (``"1000"``,
``"12.5"``) and shares exact fractions (``"3/8"``), never floats.

The examples are real too: they are built from the library's result types (and, for the
EPCIS export, by the library's document builder from builder-made events), so they have
exactly the served shape.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.canonical import JSONObject
from ledger.trace import build_epcis_document, dumps_epcis
from ledger.trace.builders import Amount, commission, lot_id, ship, with_check_digit
from ledger.trace.fsma import FsmaRow, write_fsma_csv
from ledger.trace.provenance import (
    Balance,
    Correction,
    LotLink,
    LotSummary,
    Movement,
    Provenance,
    Recall,
    Stock,
    TracedLot,
    TraceEventInfo,
    Transit,
)

__all__ = [
    "EXAMPLE_EPCIS_DOCUMENT",
    "EXAMPLE_FSMA_CSV",
    "EXAMPLE_LOT",
    "EXAMPLE_LOT_SUMMARY",
    "EXAMPLE_PROVENANCE",
    "EXAMPLE_RECALL",
    "BalancePublic",
    "CorrectionPublic",
    "LotLinkPublic",
    "LotSummaryPublic",
    "MovementPublic",
    "PalletContentPublic",
    "ProvenancePublic",
    "RecallPublic",
    "StockPublic",
    "TraceEventPublic",
    "TracedLotPublic",
    "TransitPublic",
]

Quantity = str
_QUANTITY = "Exact decimal quantity, e.g. '1000' or '12.5'."
_SHARE = "Exact fraction such as '3/8', '1' or '0'; null when units do not allow it."


def _examples(value: Any) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [value]})


# -- examples: a farm's wheat milled into flour ----------------------------------------------

_GTIN_WHEAT = "09506000134352"
_GTIN_FLOUR = "09506000134376"
_FARM, _MILL = "farm-hillside", "mill-riverside"
_FARM_GLN, _MILL_GLN = with_check_digit("950600013436"), with_check_digit("950600013437")
_FARM_SITE = f"https://id.gs1.org/414/{_FARM_GLN}"
_MILL_SITE = f"https://id.gs1.org/414/{_MILL_GLN}"
_T = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
_ID = "urn:uuid:0e9b8a4c-1f0d-4c55-9a43-00000000"

#: The lot the examples are about, in the normal form every answer uses.
EXAMPLE_LOT = lot_id(_GTIN_WHEAT, "WHEAT-2026-11")
_FLOUR = lot_id(_GTIN_FLOUR, "FLOUR-0917")

_WHEAT_MOVES = (
    Movement(14, 0, EXAMPLE_LOT, _FARM, "in", "commissioned", Decimal(1200), "KGM", None, None),
    Movement(15, 0, EXAMPLE_LOT, _FARM, "out", "shipped", Decimal(1200), "KGM", _MILL, None),
    Movement(16, 0, EXAMPLE_LOT, _MILL, "in", "received", Decimal(1150), "KGM", _FARM, None),
    Movement(16, 1, EXAMPLE_LOT, _FARM, "in", "returned", Decimal(50), "KGM", _MILL, None),
    Movement(17, 0, EXAMPLE_LOT, _MILL, "out", "consumed", Decimal(1000), "KGM", None, None),
)
_FLOUR_MOVES = (
    Movement(17, 1, _FLOUR, _MILL, "in", "produced", Decimal(800), "KGM", None, None, _MILL_SITE),
)
_LINK = LotLink(
    17,
    EXAMPLE_LOT,
    _FLOUR,
    Decimal(1000),
    "KGM",
    Decimal(800),
    "KGM",
    Fraction(1),
    Fraction(1),
)
_EVENTS = (
    TraceEventInfo(
        14, _ID + "0014", "ObjectEvent", "commissioning", "ADD", _FARM, _T, _FARM_SITE
    ),
    TraceEventInfo(
        15, _ID + "0015", "ObjectEvent", "shipping", "OBSERVE", _FARM, _T, _FARM_SITE
    ),
    TraceEventInfo(
        16, _ID + "0016", "ObjectEvent", "receiving", "OBSERVE", _MILL, _T, _MILL_SITE
    ),
    TraceEventInfo(
        17, _ID + "0017", "TransformationEvent", "commissioning", None, _MILL, _T,
        _MILL_SITE,
    ),
)  # fmt: skip

_FARM_BALANCE = Balance(
    EXAMPLE_LOT,
    _FARM,
    "KGM",
    commissioned=Decimal(1200),
    shipped=Decimal(1200),
    returned=Decimal(50),
)
_MILL_BALANCE = Balance(EXAMPLE_LOT, _MILL, "KGM", received=Decimal(1150), consumed=Decimal(1000))

EXAMPLE_PROVENANCE: JSONObject = Provenance(
    _FLOUR,
    None,
    (
        TracedLot(_FLOUR, _GTIN_FLOUR, "FLOUR-0917", 0, Fraction(1), _FLOUR_MOVES, (17,)),
        TracedLot(
            EXAMPLE_LOT,
            _GTIN_WHEAT,
            "WHEAT-2026-11",
            1,
            Fraction(1),
            _WHEAT_MOVES,
            (14, 15, 16, 17),
        ),
    ),
    (_LINK,),
    _EVENTS,
    (
        Correction(
            13,
            _ID + "0013",
            18,
            "incorrect_data",
            (_ID + "0014",),
            (14,),
        ),
    ),
).to_json()

EXAMPLE_RECALL: JSONObject = Recall(
    EXAMPLE_LOT,
    (
        TracedLot(
            EXAMPLE_LOT,
            _GTIN_WHEAT,
            "WHEAT-2026-11",
            0,
            Fraction(1),
            (),
            (),
            (
                _FARM_BALANCE,
                _MILL_BALANCE,
            ),
        ),
        TracedLot(
            _FLOUR, _GTIN_FLOUR, "FLOUR-0917", 1, Fraction(1), (), (17,),
            (Balance(_FLOUR, _MILL, "KGM", produced=Decimal(800)),),
        ),
    ),
    (_LINK,),
    (
        Stock(EXAMPLE_LOT, "held", _FARM, "KGM", Decimal(50)),
        Stock(EXAMPLE_LOT, "held", _MILL, "KGM", Decimal(150)),
        Stock(_FLOUR, "held", _MILL, "KGM", Decimal(800)),
    ),
).to_json()  # fmt: skip

EXAMPLE_LOT_SUMMARY: JSONObject = LotSummary(
    EXAMPLE_LOT,
    _GTIN_WHEAT,
    "WHEAT-2026-11",
    14,
    (_FARM_BALANCE, _MILL_BALANCE),
    (Transit(EXAMPLE_LOT, _FARM, _MILL, "KGM", Decimal(1200), Decimal(1150), Decimal(50)),),
    (),
    (),
    (_LINK,),
    (14, 15, 16, 17),
    (13,),
).to_json()  # fmt: skip


def _epcis_example() -> dict[str, Any]:
    wheat = Amount(EXAMPLE_LOT, 1200)
    events = [
        commission(
            event_id="urn:uuid:0e9b8a4c-1f0d-4c55-9a43-000000000014",
            when=_T,
            gln=_FARM_GLN,
            lots=[wheat],
        ),
        ship(
            event_id="urn:uuid:0e9b8a4c-1f0d-4c55-9a43-000000000015",
            when=_T,
            shipper_gln=_FARM_GLN,
            receiver_gln=_MILL_GLN,
            lots=[wheat],
        ),
    ]
    document = build_epcis_document(
        events, _T, document_id="urn:uuid:0e9b8a4c-1f0d-4c55-9a43-00000000d0c1"
    )
    example: dict[str, Any] = json.loads(dumps_epcis(document))
    return example


#: An EPCIS 2.0 document as ``GET /v1/exports/epcis`` serves it (valid against the schema).
EXAMPLE_EPCIS_DOCUMENT = _epcis_example()

_EXAMPLE_FSMA_ROW = FsmaRow(
    cte="Shipping",
    role="",
    lot_code="WHEAT-2026-11",
    product=f"GTIN {_GTIN_WHEAT}",
    quantity=Decimal(1200),
    uom="KGM",
    location=f"Hillside Farm ({_FARM}), site GLN {_FARM_GLN}",
    location_gln=_FARM_GLN,
    previous_source="",
    subsequent_recipient=f"Riverside Mill ({_MILL}), GLN {_MILL_GLN}",
    date="2026-11-22",
    event_time="2026-11-22T10:00:00+01:00",
    lot_code_source=f"Hillside Farm ({_FARM}), site GLN {_FARM_GLN}",
    lot_code_source_reference=f"GLN {_FARM_GLN}",
    new_lot_codes="",
    document_type="FairLedger record (EPCIS event)",
    document_number="15",
    event_id=_ID + "0015",
    seq=15,
)


def _fsma_example() -> str:
    out = io.StringIO(newline="")
    write_fsma_csv([_EXAMPLE_FSMA_ROW], out)
    return out.getvalue()


#: The FSMA 204 spreadsheet as CSV (RFC 4180, CRLF): the KDE header and one shipping row.
EXAMPLE_FSMA_CSV = _fsma_example()


# -- models ---------------------------------------------------------------------------------


class BalancePublic(BaseModel):
    """What ``holder`` took in and gave out of ``lot`` in ``uom``; ``remaining`` = in − out,
    never negative (mass balance)."""

    model_config = ConfigDict(extra="forbid")

    lot: str
    holder: str = Field(description="Participant id.")
    uom: str | None = Field(description="UN/ECE Rec 20 unit (KGM, EA...); null: counted units.")
    commissioned: Quantity = Field(description=_QUANTITY)
    produced: Quantity
    received: Quantity
    returned: Quantity = Field(description="Rejected or voided deliveries come back.")
    shipped: Quantity
    consumed: Quantity
    destroyed: Quantity
    sold: Quantity
    remaining: Quantity


class TransitPublic(BaseModel):
    """A shipment pool: what ``shipper`` shipped of ``lot`` to ``receiver``, what was
    received and returned; ``open`` is still on its way."""

    model_config = ConfigDict(extra="forbid")

    lot: str
    shipper: str
    receiver: str | None = Field(description="Participant id or party URI; null if unnamed.")
    uom: str | None
    shipped: Quantity = Field(description=_QUANTITY)
    received: Quantity
    returned: Quantity
    open: Quantity


class PalletContentPublic(BaseModel):
    """``quantity`` of ``lot`` is packed on the logistic unit ``sscc`` (18 digits)."""

    model_config = ConfigDict(extra="forbid")

    sscc: str
    lot: str
    uom: str | None
    quantity: Quantity = Field(description=_QUANTITY)


class LotLinkPublic(BaseModel):
    """``input_lot`` went into ``output_lot`` through the transformation recorded at
    ``seq``. ``input_share``: the input's part of all the transformation's inputs;
    ``weight``: the part of the output lot's whole production that came from it this way."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    input_lot: str
    output_lot: str
    input_quantity: Quantity | None
    input_uom: str | None
    output_quantity: Quantity | None
    output_uom: str | None
    input_share: str | None = Field(description=_SHARE)
    weight: str | None = Field(description=_SHARE)


class MovementPublic(BaseModel):
    """One effect of record ``seq`` on ``lot``: ``in``/``out`` of ``holder``'s stock by
    ``category``, or ``none`` (packed, unpacked, rejected, observed...)."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    index: int
    lot: str
    holder: str
    effect: str = Field(description="in, out or none.")
    category: str
    quantity: Quantity | None
    uom: str | None
    counterparty: str | None
    sscc: str | None
    location: str | None


class TracedLotPublic(BaseModel):
    """One lot of a provenance or recall answer: its ``depth`` (transformations from the
    queried lot), ``share`` (of the queried lot that came from it, or of it that came from
    the queried lot), who holds it, and ``seqs``, the records proving its steps."""

    model_config = ConfigDict(extra="forbid")

    lot: str = Field(description="GS1 Digital Link normal form of the lot.")
    gtin: str
    lot_number: str
    depth: int
    share: str | None = Field(description=_SHARE)
    producers: list[str]
    balances: list[BalancePublic]
    movements: list[MovementPublic] = Field(description="Counting movements (trace back).")
    parties: list[str]
    locations: list[str]
    seqs: list[int]


class TraceEventPublic(BaseModel):
    """A recorded EPCIS event as the projection indexes it."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    event_id: str
    event_type: str
    biz_step: str | None
    action: str | None
    author: str
    event_time: str
    location: str | None
    voided_by: int | None = Field(description="Seq of the declaration that retracted it.")


class CorrectionPublic(BaseModel):
    """The event at ``seq`` was declared erroneous at ``declared_by`` (EPCIS
    errorDeclaration); the corrective events count instead."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    event_id: str
    declared_by: int
    reason: str | None
    corrective_event_ids: list[str]
    corrective_seqs: list[int]


class ProvenancePublic(BaseModel):
    """Trace back: every upstream lot (the queried lot first, share 1), the transformation
    links, events, corrections, parties and locations, and every record the answer rests
    on (``seqs``)."""

    model_config = _examples(EXAMPLE_PROVENANCE)

    lot: str
    as_of_seq: int | None = Field(description="Only records up to this seq count; null: all.")
    lots: list[TracedLotPublic]
    links: list[LotLinkPublic]
    events: list[TraceEventPublic]
    corrections: list[CorrectionPublic]
    parties: list[str]
    locations: list[str]
    seqs: list[int]


class StockPublic(BaseModel):
    """Where some of a downstream lot is now: ``held`` by ``holder`` or ``in_transit`` from
    ``shipper`` to ``holder``."""

    model_config = ConfigDict(extra="forbid")

    lot: str
    status: str = Field(description="held or in_transit.")
    holder: str | None
    shipper: str | None
    uom: str | None
    quantity: Quantity = Field(description=_QUANTITY)


class RecallPublic(BaseModel):
    """Trace forward: every downstream lot (the queried lot first), the links, and everyone
    still holding some of them (``stock``, remaining quantities above zero)."""

    model_config = _examples(EXAMPLE_RECALL)

    lot: str
    lots: list[TracedLotPublic]
    links: list[LotLinkPublic]
    stock: list[StockPublic]
    holders: list[str]
    seqs: list[int]


class LotSummaryPublic(BaseModel):
    """One lot now: balances per holder, shipments, pallets, direct inputs and outputs, and
    the records naming it (``event_seqs`` counting, ``voided_seqs`` retracted)."""

    model_config = _examples(EXAMPLE_LOT_SUMMARY)

    lot: str
    gtin: str
    lot_number: str
    first_seq: int
    balances: list[BalancePublic]
    transits: list[TransitPublic]
    pallets: list[PalletContentPublic]
    inputs: list[LotLinkPublic]
    outputs: list[LotLinkPublic]
    event_seqs: list[int]
    voided_seqs: list[int]
