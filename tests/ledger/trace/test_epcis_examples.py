"""GS1's published EPCIS 2.0 examples (DESIGN §4: they import cleanly) against the official
schema: what the schema accepts we parse, what it refuses we refuse, and what we emit it
accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.canonical import canonical_bytes, parse_json
from ledger.trace import (
    MalformedEventError,
    build_epcis_document,
    dumps_epcis,
    load_epcis_json,
    parse_epcis_document,
    parse_ledger_event,
    to_epcis_form,
    to_ledger_form,
)
from tests.ledger.trace.schema import (
    SCHEMA_INVALID_EXAMPLES,
    event_schema_errors,
    example_paths,
    load_example,
    schema_errors,
)

CREATED_AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ALL = example_paths()
VALID = [p for p in ALL if p.name not in SCHEMA_INVALID_EXAMPLES]
INVALID = [p for p in ALL if p.name in SCHEMA_INVALID_EXAMPLES]


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _events(document: dict[str, Any]) -> list[Any]:
    events: list[Any] = document["epcisBody"]["eventList"]
    return events


def test_there_are_examples_of_both_verdicts() -> None:
    assert len(VALID) >= 14
    assert INVALID


@pytest.mark.parametrize("path", ALL, ids=_ids(ALL))
def test_schema_verdicts_are_known(path: Path) -> None:
    """Guards the VALID/INVALID split below against a changed schema or example."""
    errors = schema_errors(load_example(path))
    assert bool(errors) == (path.name in SCHEMA_INVALID_EXAMPLES), errors


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_schema_valid_example_parses(path: Path) -> None:
    document = load_epcis_json(path.read_bytes())
    events = parse_epcis_document(document)
    assert [e.type for e in events] == [raw["type"] for raw in _events(document)]
    for event, raw in zip(events, _events(document), strict=True):
        if "eventID" in raw:
            assert event.event_id == raw["eventID"]
        else:  # assigned from the content, RFC 6920
            assert event.event_id.startswith("ni:///sha-256;")


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_schema_invalid_example_is_refused(path: Path) -> None:
    with pytest.raises(MalformedEventError) as caught:
        parse_epcis_document(load_epcis_json(path.read_bytes()))
    paths = {e.path for e in caught.value.errors}
    assert paths == {
        "epcisBody.eventList[0].bizStep",
        "epcisBody.eventList[0].persistentDisposition.set[0]",
    }


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_export_of_parsed_example_is_schema_valid(path: Path) -> None:
    events = parse_epcis_document(load_epcis_json(path.read_bytes()))
    document = build_epcis_document(events, CREATED_AT, document_id="urn:uuid:0-0")
    assert schema_errors(document) == []
    # The export imports again to the very same ledger forms.
    again = parse_epcis_document(load_epcis_json(dumps_epcis(document, indent=2)))
    assert [e.ledger_form() for e in again] == [e.ledger_form() for e in events]


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_epcis_form_of_ledger_form_is_schema_valid(path: Path) -> None:
    for event in parse_epcis_document(load_epcis_json(path.read_bytes())):
        ledger = event.ledger_form()
        epcis = to_epcis_form(ledger)
        assert schema_errors(epcis) == []
        assert event_schema_errors(epcis) == []
        # The ledger form is a fixed point, signable, and accepted as a statement body.
        assert to_ledger_form(epcis) == ledger
        assert parse_ledger_event(ledger).ledger_form() == ledger
        assert parse_json(canonical_bytes(ledger)) == ledger


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_events_with_ids_convert_one_by_one(path: Path) -> None:
    document = load_epcis_json(path.read_bytes())
    for raw in _events(document):
        if "eventID" not in raw:
            with pytest.raises(MalformedEventError, match="eventID"):
                to_ledger_form(raw, context=document.get("@context"))
            continue
        ledger = to_ledger_form(raw, context=document.get("@context"))
        assert schema_errors(to_epcis_form(ledger)) == []


def test_ledger_form_of_digital_link_example_equals_urn_example() -> None:
    """GS1 publishes 9.6.2 twice, with URNs and with Digital Links; the lot quantity of
    the URN version and the location fields normalise identically."""
    urn = parse_epcis_document(load_example(ALL[0].parent / "gs1_Example_9.6.2-ObjectEvent.json"))[
        0
    ].ledger_form()
    link = parse_epcis_document(
        load_example(ALL[0].parent / "gs1_Example_9.6.2-ObjectEventWithDigitalLink.json")
    )[0].ledger_form()
    for field in ("readPoint", "bizLocation", "sourceList", "destinationList", "bizStep"):
        assert urn[field] == link[field]
