"""The ledger form: what is signed and hashed. One normal form, no floats, exact numbers,
and a faithful way back to EPCIS."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.canonical import canonical_bytes
from ledger.trace import (
    STANDARD_CONTEXT,
    MalformedEventError,
    ObjectEvent,
    dumps_epcis,
    error_declaration_mismatches,
    load_epcis_json,
    parse_epcis_document,
    parse_event,
    parse_ledger_event,
    to_epcis_form,
    to_ledger_form,
)
from ledger.trace._fields import XSD_DECIMAL
from tests.ledger.trace.events import EXAMPLE_CONTEXT, LOT, document, shipping_event
from tests.ledger.trace.schema import EXAMPLES_DIR, schema_errors

CONTEXT = document()["@context"]


def test_quantities_become_canonical_decimal_strings_and_back() -> None:
    event = shipping_event(
        quantityList=[
            {"epcClass": LOT, "quantity": Decimal("200.50"), "uom": "KGM"},
            {"epcClass": LOT.replace("998877", "2"), "quantity": Decimal("1E+2"), "uom": "KGM"},
            {"epcClass": LOT.replace("998877", "3"), "quantity": Decimal("0.000001")},
        ]
    )
    ledger: dict[str, Any] = to_ledger_form(event, context=CONTEXT)
    assert [q["quantity"] for q in ledger["quantityList"]] == ["200.5", "100", "0.000001"]
    epcis = to_epcis_form(ledger)
    assert [q["quantity"] for q in epcis["quantityList"]] == [
        Decimal("200.5"),
        100,
        Decimal("0.000001"),
    ]
    assert '"quantity": 0.000001' in dumps_epcis(epcis)


def test_floats_from_a_plain_json_parser_are_read_exactly() -> None:
    text = json.dumps(
        shipping_event(quantityList=[{"epcClass": LOT, "quantity": 0.1, "uom": "KGM"}]),
        default=str,
    )
    with_floats = json.loads(text)
    exact = load_epcis_json(text)
    assert isinstance(with_floats["quantityList"][0]["quantity"], float)
    assert isinstance(exact["quantityList"][0]["quantity"], Decimal)
    assert to_ledger_form(with_floats) == to_ledger_form(exact)
    ledger: dict[str, Any] = to_ledger_form(exact)
    assert ledger["quantityList"][0]["quantity"] == "0.1"


def test_extension_numbers_become_value_objects_and_come_back() -> None:
    raw = '{"example:t": 12.50, "example:big": 9007199254740993, "example:l": [1.5, {"x": 2e3}]}'
    extensions = load_epcis_json(raw)
    ledger = to_ledger_form(shipping_event(**extensions), context=CONTEXT)
    assert ledger["example:t"] == {"@value": "12.50", "@type": XSD_DECIMAL}
    assert ledger["example:big"] == {"@value": "9007199254740993", "@type": XSD_DECIMAL}
    assert ledger["example:l"] == [
        {"@value": "1.5", "@type": XSD_DECIMAL},
        {"x": {"@value": "2E+3", "@type": XSD_DECIMAL}},
    ]
    canonical_bytes(ledger)  # signable: no floats, no big integers
    text = dumps_epcis(to_epcis_form(ledger))
    assert '"example:t": 12.50' in text
    assert '"example:big": 9007199254740993' in text
    assert load_epcis_json(text)["example:l"] == [Decimal("1.5"), {"x": Decimal("2E+3")}]


def test_one_normal_form_whatever_the_identifier_syntax() -> None:
    """DESIGN §4: identifiers are normalised before hashing, so two spellings of one event
    hash the same."""
    urns = shipping_event(
        epcList=["urn:epc:id:sscc:0614141.1234567890"],
        bizLocation={"id": "urn:epc:id:sgln:4012345.00001.0"},
        bizStep="urn:epcglobal:cbv:bizstep:shipping",
        disposition="https://ref.gs1.org/cbv/Disp-in_transit",
    )
    links = shipping_event(
        epcList=["https://example.com/00/106141412345678908"],
        quantityList=[
            {
                "epcClass": "https://shop.example/01/4012345123456/10/998877",
                "quantity": Decimal("200.5"),
                "uom": "KGM",
            }
        ],
        readPoint={"id": "https://id.gs1.org/414/4012345000016"},
        bizLocation={"id": "http://id.gs1.org/414/4012345000016"},
        sourceList=[
            {
                "type": "urn:epcglobal:cbv:sdt:owning_party",
                "source": "https://id.gs1.org/417/4012345000009",
            }
        ],
        destinationList=[
            {"type": "owning_party", "destination": "urn:epc:id:sgln:0614141.00000.0"}
        ],
        bizTransactionList=[
            {"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "https://farm.example/po/1"}
        ],
    )
    a: dict[str, Any] = to_ledger_form(urns, context=CONTEXT)
    b: dict[str, Any] = to_ledger_form(links, context=CONTEXT)
    assert canonical_bytes(a) == canonical_bytes(b)
    assert a["epcList"] == ["https://id.gs1.org/00/106141412345678908"]
    assert a["bizStep"] == "shipping"
    assert a["disposition"] == "in_transit"


def test_context_keeps_only_non_standard_entries() -> None:
    own = {"ext1": "http://example.com/ext1/"}
    event = shipping_event(**{"@context": [STANDARD_CONTEXT, own], "bizStep": "ext1:milling"})
    ledger = to_ledger_form(event, context=CONTEXT)
    assert ledger["@context"] == [EXAMPLE_CONTEXT, own]
    assert ledger["bizStep"] == "http://example.com/ext1/milling"
    epcis = to_epcis_form(ledger)
    assert epcis["@context"] == [STANDARD_CONTEXT, EXAMPLE_CONTEXT, own]
    assert schema_errors(epcis) == []
    bare = to_ledger_form(shipping_event())
    assert "@context" not in bare
    assert to_epcis_form(bare)["@context"] == [STANDARD_CONTEXT]


def test_events_are_frozen() -> None:
    event = parse_event(shipping_event())
    assert isinstance(event, ObjectEvent)
    with pytest.raises(ValidationError):
        event.biz_step = "receiving"  # type: ignore[misc]


def test_ledger_form_is_a_fixed_point() -> None:
    ledger = to_ledger_form(shipping_event(), context=CONTEXT)
    assert parse_ledger_event(ledger).ledger_form() == ledger
    assert to_ledger_form(to_epcis_form(ledger)) == ledger


def _declaration_example() -> list[Any]:
    path = EXAMPLES_DIR / "gs1_ErrorDeclarationAndCorrectiveEvent.json"
    return parse_epcis_document(load_epcis_json(path.read_bytes()))


def test_error_declaration_matches_the_event_it_declares() -> None:
    declaration, corrective = _declaration_example()
    assert declaration.error_declaration is not None
    assert declaration.error_declaration.corrective_event_ids == (corrective.event_id,)
    original_form = declaration.ledger_form()
    original_form.pop("errorDeclaration")
    original = parse_ledger_event(original_form)
    assert error_declaration_mismatches(declaration, original) == []
    changed = parse_ledger_event({**original_form, "bizStep": "receiving"})
    [mismatch] = error_declaration_mismatches(declaration, changed)
    assert mismatch.path == "bizStep"
    assert error_declaration_mismatches(original, original)[0].path == "errorDeclaration"


def test_malformed_ledger_json_is_refused_not_crashed() -> None:
    for body in ({}, {"type": 1}, {"type": "ObjectEvent", "@context": "nope"}):
        with pytest.raises(MalformedEventError):
            parse_ledger_event(body)
