"""EPCIS documents: exact JSON text, export with the standard context, query documents,
event ids within a document, master data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.trace import (
    STANDARD_CONTEXT,
    MalformedEventError,
    build_epcis_document,
    dumps_epcis,
    load_epcis_json,
    parse_epcis_document,
    parse_event,
    to_ledger_form,
)
from tests.ledger.trace.events import EXAMPLE_CONTEXT, document, mutated, shipping_event
from tests.ledger.trace.schema import example_paths, schema_errors

CREATED_AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"a": 1, "a": 2}', "duplicate object key 'a'"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": ', "invalid JSON at line 1"),
        (b'{"a": "\xff"}', "invalid UTF-8"),
    ],
)
def test_load_epcis_json_refuses_bad_text(text: str | bytes, words: str) -> None:
    with pytest.raises(MalformedEventError, match=words):
        load_epcis_json(text)


def test_load_and_dump_keep_numbers_exact() -> None:
    data = load_epcis_json('{"q": 0.10000000000000000001, "n": 3, "e": 1E+3}')
    assert data == {"q": Decimal("0.10000000000000000001"), "n": 3, "e": Decimal("1E+3")}
    assert dumps_epcis(data) == '{"q": 0.10000000000000000001, "n": 3, "e": 1E+3}'
    pretty = dumps_epcis({"a": [1, {"b": None}], "c": [], "d": {}}, indent=2)
    assert json.loads(pretty) == {"a": [1, {"b": None}], "c": [], "d": {}}
    for bad in (Decimal("NaN"), {1: 2}, object()):
        with pytest.raises(ValueError, match=r"finite|string|JSON value"):
            dumps_epcis(bad)


def test_export_has_the_standard_envelope() -> None:
    events = parse_epcis_document(document())
    exported = build_epcis_document(events, CREATED_AT, document_id="urn:uuid:1-2")
    assert exported["@context"] == [STANDARD_CONTEXT, EXAMPLE_CONTEXT]
    assert exported["type"] == "EPCISDocument"
    assert exported["schemaVersion"] == "2.0"
    assert exported["creationDate"] == "2026-11-22T10:00:00Z"
    assert exported["id"] == "urn:uuid:1-2"
    assert "@context" not in exported["epcisBody"]["eventList"][0]  # hoisted
    assert schema_errors(exported) == []


def test_export_accepts_ledger_forms_and_keeps_differing_contexts_on_events() -> None:
    ours = to_ledger_form(shipping_event(), context=[{"example": "https://a.example/"}])
    theirs = to_ledger_form(
        shipping_event(eventID="urn:uuid:2"), context=[{"example": "https://b.example/"}]
    )
    exported = build_epcis_document([ours, theirs], CREATED_AT)
    first, second = exported["epcisBody"]["eventList"]
    assert exported["@context"] == [STANDARD_CONTEXT]
    assert first["@context"] == [STANDARD_CONTEXT, {"example": "https://a.example/"}]
    assert second["@context"] == [STANDARD_CONTEXT, {"example": "https://b.example/"}]
    assert schema_errors(exported) == []
    # Each event keeps its meaning when imported again.
    again = parse_epcis_document(load_epcis_json(dumps_epcis(exported)))
    assert [e.ledger_form() for e in again] == [ours, theirs]


def test_export_refuses_naive_times_and_non_uri_ids() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_epcis_document([], datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="not an absolute URI"):
        build_epcis_document([], CREATED_AT, document_id="doc 1")
    assert schema_errors(build_epcis_document([], CREATED_AT)) == []


def _query_document(events: list[Any]) -> dict[str, Any]:
    return {
        "@context": [STANDARD_CONTEXT, EXAMPLE_CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-22T10:05:00Z",
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": events},
            }
        },
    }


def test_query_documents_import_like_documents() -> None:
    query = _query_document([shipping_event()])
    assert schema_errors(query) == []
    [event] = parse_epcis_document(query)
    assert event.ledger_form() == parse_epcis_document(document())[0].ledger_form()
    broken = mutated(
        query, ("epcisBody", "queryResults", "resultsBody", "eventList", 0, "action"), "GO"
    )
    assert schema_errors(broken)
    with pytest.raises(MalformedEventError) as caught:
        parse_epcis_document(broken)
    assert [e.path for e in caught.value.errors] == [
        "epcisBody.queryResults.resultsBody.eventList[0].action"
    ]
    missing = mutated(query, ("epcisBody", "queryResults", "queryName"), "x")
    del missing["epcisBody"]["queryResults"]["queryName"]
    with pytest.raises(MalformedEventError, match="queryName: required"):
        parse_epcis_document(missing)


def test_an_event_id_names_one_event_plus_its_error_declaration() -> None:
    event = shipping_event()
    declaration = shipping_event(
        errorDeclaration={"declarationTime": "2026-11-23T08:00:00Z", "reason": "did_not_occur"}
    )
    assert len(parse_epcis_document(document(event, declaration))) == 2
    with pytest.raises(MalformedEventError) as caught:
        parse_epcis_document(document(event, shipping_event(bizStep="receiving")))
    [error] = caught.value.errors
    assert error.path == "epcisBody.eventList[1].eventID"
    assert "another event" in error.message


def test_assigned_event_ids_come_from_the_content() -> None:
    without_id = shipping_event()
    del without_id["eventID"]
    first = parse_epcis_document(document(without_id))[0].event_id
    assert first == parse_epcis_document(document(without_id))[0].event_id
    assert first.startswith("ni:///sha-256;")
    other = dict(without_id, bizStep="receiving")
    assert parse_epcis_document(document(other))[0].event_id != first
    with pytest.raises(MalformedEventError, match="names another event"):
        parse_epcis_document(document(without_id, dict(without_id)))


def test_master_data_is_checked() -> None:
    header = {
        "epcisMasterData": {
            "vocabularyList": [
                {
                    "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                    "vocabularyElementList": [
                        {
                            "id": "urn:epc:id:sgln:4012345.00001.0",
                            "attributes": [
                                {"id": "urn:epcglobal:cbv:mda#name", "attribute": "Farm"}
                            ],
                            "children": ["urn:epc:id:sgln:4012345.00001.1"],
                        }
                    ],
                }
            ]
        }
    }
    good = dict(document(), epcisHeader=header)
    assert schema_errors(good) == []
    assert len(parse_epcis_document(good)) == 1
    bad = mutated(good, ("epcisHeader", "epcisMasterData", "vocabularyList", 0, "type"), "loc")
    bad = mutated(
        bad,
        (
            "epcisHeader",
            "epcisMasterData",
            "vocabularyList",
            0,
            "vocabularyElementList",
            0,
            "attributes",
            0,
        ),
        {"attribute": True},
    )
    assert schema_errors(bad)
    with pytest.raises(MalformedEventError) as caught:
        parse_epcis_document(bad)
    prefix = "epcisHeader.epcisMasterData.vocabularyList[0]"
    assert [e.path for e in caught.value.errors] == [
        f"{prefix}.type",
        f"{prefix}.vocabularyElementList[0].attributes[0].id",
        f"{prefix}.vocabularyElementList[0].attributes[0].attribute",
    ]


def test_events_inherit_the_document_context() -> None:
    event = shipping_event(bizStep="example:milling")
    [parsed] = parse_epcis_document(document(event))
    assert parsed.biz_step == "https://ns.example.com/epcis/milling"  # type: ignore[attr-defined]
    with pytest.raises(MalformedEventError, match="authority"):
        parse_event(event)  # alone, "example:" is not a declared prefix


def test_every_example_has_a_json_text_round_trip() -> None:
    for path in example_paths():
        data = load_epcis_json(path.read_bytes())
        assert load_epcis_json(dumps_epcis(data, indent=4)) == data
