"""Malformed EPCIS input is refused, every problem is reported, and each report names the
bad field by its JSON path.

``SCHEMA_INVALID`` mutations are refused by the official schema too (checked here, so the
two stay in step); ``LEDGER_RULES`` are schema-valid but break a rule of this ledger.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger.trace import (
    MalformedEventError,
    parse_epcis_document,
    parse_event,
    parse_ledger_event,
    to_ledger_form,
)
from tests.ledger.trace.events import DELETE, Path, document, mutated, shipping_event
from tests.ledger.trace.schema import schema_errors

E: Path = ("epcisBody", "eventList", 0)
E0 = "epcisBody.eventList[0]"

# (name, path to change, new value, path of the expected error)
SCHEMA_INVALID: list[tuple[str, Path, object, str]] = [
    ("missing eventTime", (*E, "eventTime"), DELETE, f"{E0}.eventTime"),
    ("bare unknown bizStep", (*E, "bizStep"), "milling", f"{E0}.bizStep"),
    (
        "quantity as string",
        (*E, "quantityList", 0, "quantity"),
        "200",
        f"{E0}.quantityList[0].quantity",
    ),
    ("number as offset", (*E, "eventTimeZoneOffset"), Decimal("1.5"), f"{E0}.eventTimeZoneOffset"),
    ("number as action", (*E, "action"), Decimal("1.0"), f"{E0}.action"),
    ("unknown action", (*E, "action"), "MOVE", f"{E0}.action"),
    ("unknown event type", (*E, "type"), "FooEvent", f"{E0}.type"),
    ("un-namespaced extension", (*E, "myField"), "x", f"{E0}.myField"),
    ("null field", (*E, "disposition"), None, f"{E0}.disposition"),
    ("epc not a uri", (*E, "epcList"), ["not a uri"], f"{E0}.epcList[0]"),
    (
        "duplicate epcs",
        (*E, "epcList"),
        ["urn:epc:id:sgtin:0614141.107346.2017"] * 2,
        f"{E0}.epcList[1]",
    ),
    ("ilmd without ADD", (*E, "ilmd"), {"example:batch": "X"}, f"{E0}.ilmd"),
    ("no objects", (*E, "quantityList"), DELETE, E0),
    ("lower-case uom", (*E, "quantityList", 0, "uom"), "kg", f"{E0}.quantityList[0].uom"),
    (
        "extension in quantity",
        (*E, "quantityList", 0, "example:x"),
        1,
        f'{E0}.quantityList[0]["example:x"]',
    ),
    ("source without type", (*E, "sourceList", 0, "type"), DELETE, f"{E0}.sourceList[0].type"),
    ("impossible month", (*E, "eventTime"), "2026-13-01T00:00:00Z", f"{E0}.eventTime"),
    ("time without offset", (*E, "eventTime"), "2026-11-22T10:00:00", f"{E0}.eventTime"),
    ("offset beyond 14h", (*E, "eventTimeZoneOffset"), "+15:00", f"{E0}.eventTimeZoneOffset"),
    ("read point without id", (*E, "readPoint"), {}, f"{E0}.readPoint.id"),
    (
        "transaction without id",
        (*E, "bizTransactionList", 0),
        {"type": "po"},
        f"{E0}.bizTransactionList[0].bizTransaction",
    ),
    (
        "unknown transaction type",
        (*E, "bizTransactionList", 0, "type"),
        "order",
        f"{E0}.bizTransactionList[0].type",
    ),
    (
        "empty persistent disposition",
        (*E, "persistentDisposition"),
        {},
        f"{E0}.persistentDisposition",
    ),
    (
        "empty sensor report",
        (*E, "sensorElementList"),
        [{"sensorReport": []}],
        f"{E0}.sensorElementList[0].sensorReport",
    ),
    (
        "unknown measurement",
        (*E, "sensorElementList"),
        [{"sensorReport": [{"type": "Temp"}]}],
        f"{E0}.sensorElementList[0].sensorReport[0].type",
    ),
    (
        "not hex",
        (*E, "sensorElementList"),
        [{"sensorReport": [{"type": "Mass", "hexBinaryValue": "zz"}]}],
        f"{E0}.sensorElementList[0].sensorReport[0].hexBinaryValue",
    ),
    ("certification not uri", (*E, "certificationInfo"), 5, f"{E0}.certificationInfo"),
    (
        "declaration without time",
        (*E, "errorDeclaration"),
        {},
        f"{E0}.errorDeclaration.declarationTime",
    ),
    (
        "unknown error reason",
        (*E, "errorDeclaration"),
        {"declarationTime": "2026-11-23T00:00:00Z", "reason": "oops"},
        f"{E0}.errorDeclaration.reason",
    ),
    ("missing creationDate", ("creationDate",), DELETE, "creationDate"),
    ("missing context", ("@context",), DELETE, '["@context"]'),
    ("wrong document type", ("type",), "EPCISDoc", "type"),
    ("bad schemaVersion", ("schemaVersion",), "two", "schemaVersion"),
    ("un-namespaced document field", ("note",), "x", "note"),
    ("event list not array", ("epcisBody", "eventList"), {}, "epcisBody.eventList"),
    ("event not object", (*E,), "ObjectEvent", E0),
]

# (name, path to change, new value, path of the expected error): schema-valid, ledger-invalid.
LEDGER_RULES: list[tuple[str, Path, object, str]] = [
    (
        "bad gtin check digit",
        (*E, "quantityList", 0, "epcClass"),
        "https://id.gs1.org/01/04012345123457/10/1",
        f"{E0}.quantityList[0].epcClass",
    ),
    (
        "bad gln check digit",
        (*E, "readPoint", "id"),
        "https://id.gs1.org/414/4012345000017",
        f"{E0}.readPoint.id",
    ),
    (
        "lot as an epc",
        (*E, "epcList"),
        ["urn:epc:class:lgtin:4012345.012345.1"],
        f"{E0}.epcList[0]",
    ),
    ("zero quantity", (*E, "quantityList", 0, "quantity"), 0, f"{E0}.quantityList[0].quantity"),
    (
        "negative quantity",
        (*E, "quantityList", 0, "quantity"),
        Decimal("-1.5"),
        f"{E0}.quantityList[0].quantity",
    ),
    ("undeclared prefix bizStep", (*E, "bizStep"), "foo:milling", f"{E0}.bizStep"),
    ("extended event type", (*E, "type"), "example:SpecialEvent", f"{E0}.type"),
    (
        "sensor uom not rec 20",
        (*E, "sensorElementList"),
        [{"sensorReport": [{"type": "Temperature", "value": 4, "uom": "Cel"}]}],
        f"{E0}.sensorElementList[0].sensorReport[0].uom",
    ),
    (
        "aggregation ADD without parent",
        (*E,),
        {
            **shipping_event(),
            "type": "AggregationEvent",
            "action": "ADD",
            "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017"],
            "quantityList": DELETE,
        },
        f"{E0}.parentID",
    ),
    (
        "party given an extension",
        (*E, "sourceList", 0, "source"),
        "urn:epc:id:sgln:0012345.11111.400",
        f"{E0}.sourceList[0].source",
    ),
]


def _errors(data: dict[str, Any], **options: Any) -> list[tuple[str, str]]:
    with pytest.raises(MalformedEventError) as caught:
        parse_epcis_document(data, **options)
    assert caught.value.code == "malformed-event"
    return [(e.path, e.message) for e in caught.value.errors]


def _strip_deletes(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_deletes(v) for k, v in value.items() if v is not DELETE}
    return value


def test_the_base_document_is_valid_for_both() -> None:
    assert schema_errors(document()) == []
    assert len(parse_epcis_document(document())) == 1


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [c[1:] for c in SCHEMA_INVALID],
    ids=[c[0] for c in SCHEMA_INVALID],
)
def test_schema_invalid_input_is_refused_at_its_path(
    path: Path, value: object, expected: str
) -> None:
    data = mutated(document(), path, _strip_deletes(value))
    assert schema_errors(data), "the mutation must break the official schema"
    errors = _errors(data)
    assert expected in [p for p, _ in errors], errors


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [c[1:] for c in LEDGER_RULES],
    ids=[c[0] for c in LEDGER_RULES],
)
def test_ledger_rules_refuse_schema_valid_input(path: Path, value: object, expected: str) -> None:
    data = mutated(document(), path, _strip_deletes(value))
    assert schema_errors(data) == [], "the mutation is valid EPCIS"
    errors = _errors(data)
    assert expected in [p for p, _ in errors], errors


def test_missing_event_id_is_refused_unless_assigned() -> None:
    data = mutated(document(), (*E, "eventID"), DELETE)
    assert schema_errors(data) == []
    errors = _errors(data, assign_missing_event_ids=False)
    assert errors == [(f"{E0}.eventID", errors[0][1])]
    assert "eventID" in errors[0][1]
    with pytest.raises(MalformedEventError, match="eventID"):
        parse_event(shipping_event(eventID=DELETE) | {})  # DELETE is not a URI either
    event = parse_epcis_document(data)[0]
    assert event.event_id == parse_epcis_document(data)[0].event_id  # deterministic


def test_every_error_in_a_document_is_reported() -> None:
    bad_quantity = mutated(shipping_event(), ("quantityList", 0, "quantity"), "12")
    two_faults = shipping_event(bizStep="milling", eventTimeZoneOffset="1h")
    data = document(bad_quantity, shipping_event(), two_faults)
    data["schemaVersion"] = 2
    paths = [p for p, _ in _errors(data)]
    assert paths == [
        "schemaVersion",
        "epcisBody.eventList[0].quantityList[0].quantity",
        "epcisBody.eventList[2].eventTimeZoneOffset",
        "epcisBody.eventList[2].bizStep",
    ]


def test_messages_say_what_is_wrong() -> None:
    data = document(shipping_event(myField="x", quantityList=[{"epcClass": 5}]))
    messages = dict(_errors(data))
    assert (
        "extension fields must be namespaced, e.g. 'example:myField'" in messages[f"{E0}.myField"]
    )
    assert messages[f"{E0}.quantityList[0].epcClass"] == "a URI must be a string, got a number"


def test_a_standalone_event_reports_paths_from_its_root() -> None:
    with pytest.raises(MalformedEventError) as caught:
        to_ledger_form(shipping_event(quantityList=[{"epcClass": "urn:x:y", "quantity": True}]))
    assert [e.path for e in caught.value.errors] == ["quantityList[0].quantity"]
    assert caught.value.field == "quantityList[0].quantity"
    with pytest.raises(MalformedEventError, match="JSON object"):
        parse_event([])  # type: ignore[arg-type]


def test_ledger_form_must_be_normal_and_float_free() -> None:
    ledger = to_ledger_form(shipping_event(), context=document()["@context"])
    not_normal = dict(ledger, bizStep="urn:epcglobal:cbv:bizstep:shipping")
    with pytest.raises(MalformedEventError) as caught:
        parse_ledger_event(not_normal)
    assert [(e.path, e.message) for e in caught.value.errors] == [
        ("bizStep", 'not in ledger normal form; expected "shipping"')
    ]
    numeric = mutated(ledger, ("quantityList", 0, "quantity"), Decimal("200.5"))
    with pytest.raises(MalformedEventError, match="decimal strings"):
        parse_ledger_event(numeric)
    padded = mutated(ledger, ("quantityList", 0, "quantity"), "200.50")
    with pytest.raises(MalformedEventError, match=r"expected '200\.5'"):
        parse_ledger_event(padded)
    floating = mutated(ledger, ("example:note",), Decimal("0.5"))
    with pytest.raises(MalformedEventError, match="no floating-point"):
        parse_ledger_event(floating)
    # Lenient parsing still normalises, so exports work from older, non-normal forms.
    assert parse_ledger_event(not_normal, require_normal_form=False).ledger_form() == ledger
