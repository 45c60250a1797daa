"""EventFacts: the custody reading of each event and the fields the ledger keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.trace import (
    CustodyEffect,
    EpcisEvent,
    event_facts,
    load_epcis_json,
    parse_epcis_document,
    parse_event,
)
from tests.ledger.trace.events import LOT, shipping_event
from tests.ledger.trace.schema import EXAMPLES_DIR

SSCC_URN = "urn:epc:id:sscc:0614141.1234567890"
SSCC = "106141412345678908"


def _example(name: str) -> list[EpcisEvent]:
    path: Path = EXAMPLES_DIR / name
    return parse_epcis_document(load_epcis_json(path.read_bytes()))


@pytest.mark.parametrize(
    ("biz_step", "action", "custody"),
    [
        ("commissioning", "ADD", CustodyEffect.ARRIVE),
        ("receiving", "OBSERVE", CustodyEffect.ARRIVE),
        ("receiving", "ADD", CustodyEffect.ARRIVE),
        ("void_shipping", "OBSERVE", CustodyEffect.ARRIVE),
        ("shipping", "OBSERVE", CustodyEffect.LEAVE),
        ("destroying", "OBSERVE", CustodyEffect.LEAVE),
        ("retail_selling", "OBSERVE", CustodyEffect.LEAVE),
        ("decommissioning", "DELETE", CustodyEffect.LEAVE),
        ("inspecting", "OBSERVE", CustodyEffect.NONE),
        ("storing", "ADD", CustodyEffect.ARRIVE),
        ("https://example.com/bizstep/milling", "DELETE", CustodyEffect.LEAVE),
        (None, "OBSERVE", CustodyEffect.NONE),
    ],
)
def test_object_event_custody(biz_step: str | None, action: str, custody: CustodyEffect) -> None:
    event = shipping_event(action=action)
    if biz_step is None:
        del event["bizStep"]
    else:
        event["bizStep"] = biz_step
    facts = event_facts(parse_event(event))
    assert facts.custody is custody
    moved = (facts.quantities_in, facts.quantities_out)
    if custody is CustodyEffect.ARRIVE:
        assert moved == (facts.quantities, ())
    elif custody is CustodyEffect.LEAVE:
        assert moved == ((), facts.quantities)
    else:
        assert moved == ((), ())
        assert not facts.affects_custody


def test_shipping_facts() -> None:
    facts = event_facts(parse_event(shipping_event(epcList=[SSCC_URN])))
    assert facts.event_time == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    [lot] = facts.lots_out
    assert (lot.lot, lot.gtin, lot.quantity, lot.uom) == (
        LOT,
        "04012345123456",
        Decimal("200.5"),
        "KGM",
    )
    assert facts.epcs_out == (f"https://id.gs1.org/00/{SSCC}",)
    assert facts.ssccs == (SSCC,)
    assert facts.parties("owning_party") == (
        "https://id.gs1.org/417/4012345000009",
        "https://id.gs1.org/417/0614141000005",
    )
    assert facts.read_point == "https://id.gs1.org/414/4012345000016"
    assert [(b.type, b.id) for b in facts.biz_transactions] == [("po", "https://farm.example/po/1")]


def test_gtin_level_quantities_are_not_lots() -> None:
    [transformation] = _example("gs1_Example_9.6.4-TransformationEvent.json")
    facts = event_facts(transformation)
    assert facts.custody is CustodyEffect.TRANSFORM
    assert [q.gtin for q in facts.quantities_out] == [
        "04012345111118",
        "00614141777778",
        "04012345666663",
    ]
    assert [q.lot is not None for q in facts.quantities_out] == [True, True, False]
    assert len(facts.lots_out) == 2
    assert facts.quantities_in == ()  # outputs are listed by EPC only
    assert len(facts.epcs_in) == 4
    assert facts.epcs_out == facts.input_epcs


def test_aggregation_reports_the_pallet() -> None:
    [aggregation] = _example("gs1_Example_9.6.3-AggregationEvent.json")
    facts = event_facts(aggregation)
    assert facts.custody is CustodyEffect.NONE
    assert facts.parent_sscc == SSCC
    assert facts.ssccs == (SSCC,)
    assert len(facts.epcs) == 2
    assert [q.quantity for q in facts.quantities] == [Decimal("10"), Decimal("200.5")]


def test_error_declaration_moves_nothing_and_names_its_corrections() -> None:
    declaration, corrective = _example("gs1_ErrorDeclarationAndCorrectiveEvent.json")
    facts = event_facts(declaration)
    assert facts.custody is CustodyEffect.NONE
    assert facts.error_declaration is not None
    assert facts.error_declaration.declared_event_id == declaration.event_id
    assert facts.error_declaration.reason == "incorrect_data"
    assert facts.error_declaration.corrective_event_ids == (corrective.event_id,)
    assert facts.error_declaration.declaration_time == datetime(2020, 1, 14, 23, 0, tzinfo=UTC)
    assert event_facts(corrective).custody is CustodyEffect.TRANSFORM


def test_association_and_transaction_events_do_not_affect_custody() -> None:
    [association] = _example("gs1_AssociationEvent-a.json")
    assert not event_facts(association).affects_custody
    for event in _example("gs1_Example-TransactionEvents-2020_07_03y.json"):
        assert not event_facts(event).affects_custody


def test_sensor_readings_and_certification() -> None:
    [event] = _example("gs1_object_event_all_possible_fields.json")
    facts = event_facts(event)
    [reading] = facts.sensor_readings
    assert reading.type == "Temperature"
    assert (reading.value, reading.min_value, reading.max_value) == (
        Decimal("26"),
        Decimal("26"),
        Decimal("26.2"),
    )
    assert reading.uom == "CEL"
    assert reading.start_time == datetime(2019, 4, 2, 12, 55, 1, tzinfo=UTC)
    assert facts.certification_info == (
        "https://accreditation-council.example.org/certificate/ABC12345",
    )
    assert facts.persistent_disposition_set == ("completeness_verified",)
    assert facts.persistent_disposition_unset == ("completeness_inferred",)
