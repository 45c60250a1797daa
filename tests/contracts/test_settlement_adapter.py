"""The delivery adapter: what settlement reads from ``trace.event`` records.

The fast reader (ledger form read directly) must agree with the reference reader
(``parse_ledger_event`` + ``event_facts``) on every event, in normal form or not; pairing,
dates, error declarations and FairLedger's extension fields behave as documented in
``contracts/deliveries.py``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.bodies import SaleReportBody
from contracts.deliveries import (
    CONTRACT_NS,
    match_deliveries,
    read_event,
    read_event_reference,
    read_events,
)
from contracts.entries import Entry
from contracts.facts import ConditionReading
from contracts.provenance import ProvenanceGraph
from contracts.scenario import (
    EntryLog,
    Reading,
    decimal_text,
    lot_id,
    receiving_event,
    shipping_event,
)
from contracts.settlement import settle
from ledger.canonical import JSONObject
from ledger.errors import LedgerError
from ledger.state import Kind
from ledger.trace.identifiers import normalize_lot
from ledger.trace.rules import FAIRLEDGER_NS
from tests.contracts.samples import GTIN_BERRIES
from tests.contracts.test_settlement_worked import (
    AURORA,
    BRISA,
    BUYER,
    CONTRACT,
    contract_log,
    deliver,
    line,
)

LOT = lot_id(GTIN_BERRIES, "B-1")
PO = "https://roastery-nord.example/po/1"


def entry(event: JSONObject, seq: int = 5, author: str = BUYER) -> Entry:
    return Entry(seq, Kind.TRACE_EVENT, author, "", "2026-11-22T10:00:00Z", {"event": event})


readings = st.lists(
    st.builds(
        Reading,
        kind=st.sampled_from(["Temperature", "RelativeHumidity"]),
        uom=st.sampled_from(["CEL", "P1"]),
        value=st.none() | st.decimals(-20, 40, places=1).map(str),
        low=st.none() | st.decimals(-20, 40, places=2).map(str),
        high=st.none() | st.decimals(-20, 40, places=2).map(str),
    ),
    max_size=3,
)


def _add_trace_rejection(draw: st.DrawFn, event: JSONObject, lot: str, quantity: str) -> None:
    """Maybe refuse part of the event's goods the trace domain's way
    (``fairledger:rejectedQuantityList``), validly or not."""
    how = draw(
        st.sampled_from(
            ["none", "none", "part", "all", "more", "other-lot", "urn", "no-reason", "iri"]
        )
    )
    if how == "none":
        return
    refused = {
        "part": decimal_text(str(Decimal(quantity) / 4)),
        "all": quantity,
        "more": decimal_text(str(Decimal(quantity) + 1)),
    }.get(how, "1")
    rejected_lot = {
        "other-lot": lot_id(GTIN_BERRIES, "OTHER"),
        "urn": "urn:epc:class:lgtin:7612345.000002." + lot.rsplit("/", 1)[-1],
    }.get(how, lot)
    element: JSONObject = {"epcClass": rejected_lot, "quantity": refused}
    quantities = event["quantityList"]
    assert isinstance(quantities, list)
    assert isinstance(quantities[0], dict)
    if "uom" in quantities[0]:
        element["uom"] = quantities[0]["uom"]
    context = event.setdefault("@context", [])
    assert isinstance(context, list)
    context.append({"fairledger": FAIRLEDGER_NS})
    prefix = FAIRLEDGER_NS if how == "iri" else "fairledger:"
    event[f"{prefix}rejectedQuantityList"] = [element]
    if how != "no-reason":
        event[f"{prefix}rejectionReason"] = "damaged"


@st.composite
def events(draw: st.DrawFn) -> JSONObject:
    lot = lot_id(GTIN_BERRIES, draw(st.from_regex(r"[A-Z0-9]{1,8}", fullmatch=True)))
    quantity = str(draw(st.decimals(min_value="0.1", max_value=5000, places=1)))
    on = draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)))
    common: dict[str, Any] = {
        "on": on,
        "po": draw(st.none() | st.just(PO)),
        "uom": draw(st.sampled_from([None, "KGM", "LBR"])),
        "readings": draw(readings),
        "at": draw(st.sampled_from(["00:30:00.000", "12:00:00.123456", "23:59:59.9"])),
        "offset": draw(st.sampled_from(["+00:00", "+14:00", "-12:00", "+05:30"])),
        "contract": draw(st.none() | st.just(CONTRACT)),
        "due": draw(st.none() | st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))),
    }
    if draw(st.booleans()):
        event = shipping_event(lot, quantity, force_majeure=draw(st.booleans()), **common)
    else:
        event = receiving_event(
            lot, quantity, rejection_reason=draw(st.none() | st.just("wet")), **common
        )
    _add_trace_rejection(draw, event, lot, quantity)
    variant = draw(
        st.sampled_from(
            [
                "plain",
                "urn-lot",
                "urn-step",
                "declared",
                "other-step",
                "transformation",
                "prefix",
                "not-canonical",
            ]
        )
    )
    if variant == "urn-lot":
        quantities = event["quantityList"]
        assert isinstance(quantities, list)
        assert isinstance(quantities[0], dict)
        quantities[0]["epcClass"] = "urn:epc:class:lgtin:7612345.000002." + lot.rsplit("/", 1)[-1]
    elif variant == "not-canonical":  # "1.50": the parser refuses it, so must the fast path
        quantities = event["quantityList"]
        assert isinstance(quantities, list)
        assert isinstance(quantities[0], dict)
        text = str(quantities[0]["quantity"])
        quantities[0]["quantity"] = text + ("0" if "." in text else ".0")
    elif variant == "urn-step":
        event["bizStep"] = f"urn:epcglobal:cbv:bizstep:{event['bizStep']}"
    elif variant == "declared":
        event["errorDeclaration"] = {
            "declarationTime": "2026-12-01T00:00:00Z",
            "reason": "incorrect_data",
        }
    elif variant == "other-step":
        event["bizStep"] = draw(st.sampled_from(["inspecting", "https://example.com/steps/qa"]))
    elif variant == "transformation":
        event = {
            "type": "TransformationEvent",
            "eventID": event["eventID"],
            "eventTime": event["eventTime"],
            "eventTimeZoneOffset": event["eventTimeZoneOffset"],
            "inputQuantityList": event["quantityList"],
        }
    elif variant == "prefix" and "@context" in event:
        renamed: JSONObject = {"@context": [{"contract": CONTRACT_NS}]}
        for key, value in event.items():
            if key != "@context":
                renamed[key.replace("fl:", "contract:")] = value
        event = renamed
    return event


@settings(max_examples=300, deadline=None)
@given(event=events())
def test_fast_reader_agrees_with_the_reference_reader(event: JSONObject) -> None:
    assert read_event(entry(event)) == read_event_reference(entry(event))


def test_what_is_read_from_a_receiving_event() -> None:
    """23:30 on 31 July at UTC−02:00 is 1 August in UTC but 31 July where it happened."""
    event = receiving_event(
        LOT,
        "80",
        on=date(2026, 7, 31),
        at="23:30:00.000",
        offset="-02:00",
        po=PO,
        due=date(2026, 7, 20),
        rejection_reason="bruised",
        readings=(
            Reading(value="3.5"),
            Reading(low="1", high="5.5"),
            Reading(kind="https://example.com/sensor/x", value="9"),
        ),
    )
    read = read_event(entry(event))
    assert read is not None
    assert read.delivered_on == date(2026, 7, 31)
    assert [(q.lot, q.gtin, q.quantity, q.uom) for q in read.lots] == [
        (LOT, GTIN_BERRIES, Decimal("80"), "KGM")
    ]
    assert read.transactions == (("po", PO),)
    assert read.readings == (
        ConditionReading("temperature", Decimal("3.5"), "CEL"),
        ConditionReading("temperature", Decimal("1"), "CEL"),
        ConditionReading("temperature", Decimal("5.5"), "CEL"),
    )
    assert (read.due_on, read.rejection_reason, read.problems) == (
        date(2026, 7, 20),
        "bruised",
        (),
    )


def test_malformed_extension_fields_are_reported() -> None:
    event = receiving_event(LOT, "80", on=date(2026, 7, 31), po=PO)
    event["@context"] = [{"fl": CONTRACT_NS}]
    event["fl:dueDate"] = "31 July"
    event["fl:forceMajeure"] = "yes"
    read = read_event(entry(event))
    assert read is not None
    assert read.problems == (
        "dueDate must be a YYYY-MM-DD string, got '31 July'",
        "forceMajeure must be true or false, got 'yes'",
    )
    assert read == read_event_reference(entry(event))


def test_pairing() -> None:
    """A receipt pairs with the earliest unpaired shipment of its lot, by another party,
    recorded before it, sharing a purchase order; the rest is not a delivery."""
    on = date(2026, 7, 3)
    log = EntryLog()
    first = log.add(Kind.TRACE_EVENT, AURORA, {"event": shipping_event(LOT, "100", on=on, po=PO)})
    second = log.add(
        Kind.TRACE_EVENT, BRISA, {"event": shipping_event(LOT, "50", on=on, po=PO, salt="2")}
    )
    log.add(
        Kind.TRACE_EVENT,
        AURORA,
        {"event": shipping_event(LOT, "70", on=on, po="https://x.example/po/9")},
    )
    one = log.add(Kind.TRACE_EVENT, BUYER, {"event": receiving_event(LOT, "90", on=on, po=PO)})
    two = log.add(
        Kind.TRACE_EVENT, BUYER, {"event": receiving_event(LOT, "50", on=on, po=PO, salt="2")}
    )
    log.add(
        Kind.TRACE_EVENT, BUYER, {"event": receiving_event(LOT, "10", on=on, po=PO, salt="3")}
    )  # nothing left
    log.add(Kind.TRACE_EVENT, BUYER, {"event": receiving_event(LOT, "10", on=on, po=None)})
    matched = match_deliveries(read_events(reversed(log.entries)))
    assert [(m.seqs, m.supplier, m.shipped, m.received) for m in matched] == [
        ((first, one), AURORA, Decimal("100"), Decimal("90")),
        ((second, two), BRISA, Decimal("50"), Decimal("50")),
    ]


def test_due_date_is_the_later_one_stated() -> None:
    log = EntryLog()
    on = date(2026, 7, 10)
    log.add(
        Kind.TRACE_EVENT,
        AURORA,
        {"event": shipping_event(LOT, "1", on=on, po=PO, due=date(2026, 7, 5))},
    )
    log.add(
        Kind.TRACE_EVENT,
        BUYER,
        {"event": receiving_event(LOT, "1", on=on, po=PO, due=date(2026, 7, 1))},
    )
    (delivery,) = match_deliveries(read_events(log.entries))
    assert delivery.due_on == date(2026, 7, 5)


def test_a_receipt_declared_erroneous_is_replaced_by_its_correction() -> None:
    """The roastery first records receiving 60 kg, declares that event erroneous and records
    the corrected receipt of 80 kg: settlement prices 80 × 4.20 = 336.00."""
    log = contract_log()
    on = date(2026, 7, 8)
    ship = log.add(Kind.TRACE_EVENT, AURORA, {"event": shipping_event(LOT, "100", on=on, po=PO)})
    wrong = receiving_event(LOT, "60", on=on, po=PO)
    log.add(Kind.TRACE_EVENT, BUYER, {"event": wrong})
    corrected = receiving_event(LOT, "80", on=on, po=PO, salt="fixed")
    declared = dict(wrong)
    declared["errorDeclaration"] = {
        "declarationTime": "2026-07-09T08:00:00Z",
        "reason": "incorrect_data",
        "correctiveEventIDs": [corrected["eventID"]],
    }
    log.add(Kind.TRACE_EVENT, BUYER, {"event": declared})
    fixed = log.add(Kind.TRACE_EVENT, BUYER, {"event": corrected})
    statement = settle(CONTRACT, "2026-07", log.last, log.entries, ProvenanceGraph())
    assert line(statement, LOT)["accepted"] == "80"
    assert line(statement, LOT)["net"] == "336.00"
    assert line(statement, LOT)["seqs"] == [ship, fixed]
    # As of before the declaration, the first receipt stood.
    before = settle(CONTRACT, "2026-07", fixed - 2, log.entries, ProvenanceGraph())
    assert line(before, LOT)["accepted"] == "60"


def test_a_delivery_naming_another_contract_is_not_this_ones() -> None:
    log = contract_log()
    deliver(log, AURORA, LOT, "10", "10", on=date(2026, 7, 1))
    other = lot_id(GTIN_BERRIES, "B-2")
    po = "https://roastery-nord.example/po/other"
    log.add(
        Kind.TRACE_EVENT, AURORA, {"event": shipping_event(other, "5", on=date(2026, 7, 2), po=po)}
    )
    log.add(
        Kind.TRACE_EVENT,
        BUYER,
        {
            "event": receiving_event(
                other, "5", on=date(2026, 7, 2), po=po, contract="another-contract"
            )
        },
    )
    statement = settle(CONTRACT, "2026-07", log.last, log.entries, ProvenanceGraph())
    assert [d.delivery.lot for d in statement.deliveries] == [LOT]


def test_malformed_delivery_fields_make_it_unpriced() -> None:
    log = contract_log()
    event = receiving_event(LOT, "10", on=date(2026, 7, 1), po=PO)
    event["@context"] = [{"fl": CONTRACT_NS}]
    event["fl:dueDate"] = "2026-02-30"
    log.add(
        Kind.TRACE_EVENT, AURORA, {"event": shipping_event(LOT, "10", on=date(2026, 7, 1), po=PO)}
    )
    log.add(Kind.TRACE_EVENT, BUYER, {"event": event})
    statement = settle(CONTRACT, "2026-07", log.last, log.entries, ProvenanceGraph())
    assert statement.deliveries == ()
    assert [u.reason for u in statement.unpriced] == ["dueDate '2026-02-30' is not a calendar date"]


@settings(max_examples=200, deadline=None)
@given(
    gtin=st.from_regex(r"[0-9]{13}", fullmatch=True),
    lot=st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True),
)
def test_the_plain_lot_shortcut_agrees_with_normalize_lot(gtin: str, lot: str) -> None:
    """Sale reports skip the full identifier parser for plain lots; same verdict either way."""
    check = (
        10 - sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(gtin))) % 10
    ) % 10
    for digits in (gtin + str(check), gtin + str((check + 1) % 10)):
        text = lot_id(digits, lot)
        try:
            expected: str | None = normalize_lot(text)
        except LedgerError:
            expected = None
        body = {
            "lot": text,
            "period": "2026-07",
            "quantity": "1",
            "revenue": {"amount": "1.00", "currency": "EUR"},
        }
        try:
            accepted: str | None = SaleReportBody.model_validate(body).lot
        except ValueError:
            accepted = None
        assert accepted == (expected if expected == text else None)


@pytest.mark.parametrize("kind", [Kind.SALE_REPORT, Kind.CONTRACT_ACCEPT])
def test_other_kinds_are_not_events(kind: str) -> None:
    other = Entry(3, kind, BUYER, "", "2026-11-22T10:00:00Z", {"event": {}})
    assert read_event(other) is None
    assert read_event_reference(other) is None
