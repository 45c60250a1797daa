"""EPCIS 2.0 exports of recorded events: valid against the official schema (format checking
on), the right selection for a lot, a party or a time range, and a faithful round trip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.trace import dumps_epcis, load_epcis_json, parse_epcis_document
from ledger.trace.service import export_epcis
from tests.ledger.trace.schema import schema_errors
from tests.ledger.trace.test_ledger_chain import TraceChain
from tests.ledger.trace.test_scenario_bakery import (
    LOAVES,
    SCENARIO_CAST,
    WHEAT_B,
    Scenario,
    bakery_scenario,
)

CREATED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TraceChain, Scenario]]:
    tc = TraceChain.create(tmp_path_factory.mktemp("exports") / "epcis.db", SCENARIO_CAST)
    scenario = bakery_scenario(tc)
    yield tc, scenario
    tc.close()


def _event_id_at(tc: TraceChain, seq: int) -> str:
    record = tc.ledger.record(seq)
    assert record is not None
    event = record.statement.body["event"]
    assert isinstance(event, dict)
    return str(event["eventID"])


def _ids(document: dict[str, Any]) -> list[str]:
    return [str(e["eventID"]) for e in document["epcisBody"]["eventList"]]


def _valid(document: dict[str, Any]) -> None:
    assert schema_errors(document) == []
    # Through JSON text with exact numbers, as a consumer reads it.
    parse_epcis_document(load_epcis_json(dumps_epcis(document, indent=2)))


def test_the_whole_ledger_exports_as_one_valid_document(
    story: tuple[TraceChain, Scenario],
) -> None:
    tc, scenario = story
    document = export_epcis(tc.ledger, created_at=CREATED, document_id="urn:uuid:0-0-0-0-1")
    _valid(document)
    assert document["type"] == "EPCISDocument"
    assert document["creationDate"] == "2026-12-01T09:00:00Z"
    events = document["epcisBody"]["eventList"]
    assert len(events) == len(scenario.seqs)
    # The retracted event travels with its error declaration (same eventID).
    assert _ids(document).count(scenario.wrong_event_id) == 2
    assert any("errorDeclaration" in e for e in events)
    # The rejection extension is exported as recorded, and is schema-valid.
    assert any("fairledger:rejectedQuantityList" in e for e in events)


def test_the_export_of_a_lot_is_its_provenance_with_its_corrections(
    story: tuple[TraceChain, Scenario],
) -> None:
    tc, scenario = story
    document = export_epcis(tc.ledger, created_at=CREATED, lot=LOAVES)
    _valid(document)
    expected = set(scenario.seqs.values())
    assert set(_ids(document)) == {_event_id_at(tc, seq) for seq in expected}
    parsed = parse_epcis_document(document)
    assert len(parsed) == len(scenario.seqs)


def test_the_export_of_a_party_is_what_it_recorded_or_received_from_it(
    story: tuple[TraceChain, Scenario],
) -> None:
    tc, scenario = story
    document = export_epcis(tc.ledger, created_at=CREATED, party="farm-b")
    _valid(document)
    s = scenario.seqs
    wanted = {s["harvest-b"], s["ship-b"], s["receive-b"]}
    assert set(_ids(document)) == {_event_id_at(tc, seq) for seq in wanted}


def test_a_time_range_selects_by_event_time(story: tuple[TraceChain, Scenario]) -> None:
    tc, _ = story
    everything = export_epcis(tc.ledger, created_at=CREATED)
    times = sorted(
        datetime.fromisoformat(e["eventTime"]) for e in everything["epcisBody"]["eventList"]
    )
    middle = times[len(times) // 2]
    early = export_epcis(tc.ledger, created_at=CREATED, until=middle)
    late = export_epcis(tc.ledger, created_at=CREATED, since=middle)
    _valid(early)
    _valid(late)
    assert len(early["epcisBody"]["eventList"]) + len(late["epcisBody"]["eventList"]) == len(times)
    assert all(
        datetime.fromisoformat(e["eventTime"]) < middle for e in early["epcisBody"]["eventList"]
    )
    empty = export_epcis(tc.ledger, created_at=CREATED, since=times[-1] + timedelta(days=1))
    assert empty["epcisBody"]["eventList"] == []
    _valid(empty)
    both = export_epcis(tc.ledger, created_at=CREATED, lot=WHEAT_B, party="farm-b")
    assert 0 < len(both["epcisBody"]["eventList"]) <= 3


def test_the_export_does_not_read_shared_material(story: tuple[TraceChain, Scenario]) -> None:
    """The runtime never opens the schema files (only tests do)."""
    tc, _ = story
    import builtins

    real_open = builtins.open
    opened: list[str] = []

    def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    builtins.open = spy
    try:
        export_epcis(tc.ledger, created_at=CREATED, lot=LOAVES)
    finally:
        builtins.open = real_open
    assert not [name for name in opened if "shared" in name or "epcis" in Path(name).parts]
