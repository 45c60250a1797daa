"""The FDA FSMA 204 electronic sortable spreadsheet: one column per KDE, one row per critical
tracking event and lot plus one per transformation input, as CSV (the XLSX form is
``api.spreadsheet``, tested with the HTTP export in tests/api/test_app_exports.py)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from ledger.trace.fsma import FSMA_COLUMNS, FsmaRow, write_fsma_csv
from ledger.trace.service import export_fsma
from tests.ledger.trace.test_ledger_chain import GTIN_BREAD, TraceChain
from tests.ledger.trace.test_scenario_bakery import (
    FLOUR,
    LOAVES,
    SCENARIO_CAST,
    WHEAT_A,
    Scenario,
    bakery_scenario,
)

#: Rows the bakery scenario yields: 2 initial packings, 7 shipments (one per lot and
#: event), 6 receipts, the corrected milling (1 new food + 2 inputs) and the baking (1 new
#: food + the flour; salt is no traceability lot). The retracted milling yields none.
EXPECTED = Counter(
    {
        ("Initial Packing", ""): 2,
        ("Shipping", ""): 7,
        ("Receiving", ""): 6,
        ("Transformation", "New food"): 2,
        ("Transformation", "Food used"): 3,
    }
)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TraceChain, Scenario]]:
    tc = TraceChain.create(tmp_path_factory.mktemp("fsma") / "fsma.db", SCENARIO_CAST)
    scenario = bakery_scenario(tc)
    yield tc, scenario
    tc.close()


@pytest.fixture(scope="module")
def rows(story: tuple[TraceChain, Scenario]) -> list[FsmaRow]:
    tc, _ = story
    return export_fsma(tc.ledger, products={GTIN_BREAD: "Sourdough loaf 800 g"})


def test_one_row_per_event_and_lot_and_per_transformation_input(
    story: tuple[TraceChain, Scenario], rows: list[FsmaRow]
) -> None:
    _, scenario = story
    assert Counter((r.cte, r.role) for r in rows) == EXPECTED
    assert scenario.seqs["mill-wrong"] not in {r.seq for r in rows}
    assert scenario.seqs["mill-declare"] not in {r.seq for r in rows}
    assert [(r.date, r.seq) for r in rows] == sorted((r.date, r.seq) for r in rows)


def test_the_key_data_elements_of_each_critical_tracking_event(
    story: tuple[TraceChain, Scenario], rows: list[FsmaRow]
) -> None:
    tc, scenario = story
    s = scenario.seqs
    by_seq = {(r.seq, r.role): r for r in rows}
    packing = by_seq[(s["harvest-a"], "")]
    assert (packing.cte, packing.lot_code, packing.quantity, packing.uom) == (
        "Initial Packing",
        "FARM-A-24",
        Decimal(1000),
        "KGM",
    )
    assert tc.gln("farm-a") in packing.location
    assert packing.location_gln == tc.gln("farm-a")
    assert packing.product == "GTIN 09506000134352"
    receipt = by_seq[(s["receive-1"], "")]
    assert (receipt.cte, receipt.quantity) == ("Receiving", Decimal(400))  # 500 less 100
    assert "Farm A (farm-a)" in receipt.previous_source
    assert "Farm A (farm-a)" in receipt.lot_code_source
    assert receipt.lot_code_source_reference == f"GLN {tc.gln('farm-a')}"
    assert (receipt.document_type, receipt.document_number) == (
        "FairLedger record (EPCIS event)",
        str(s["receive-1"]),
    )
    shipment = by_seq[(s["ship-cafe"], "")]
    assert "Cafe (cafe)" in shipment.subsequent_recipient
    assert shipment.product == "Sourdough loaf 800 g"
    used = [r for r in rows if r.seq == s["mill-fixed"] and r.role == "Food used"]
    assert {(r.lot_code, r.quantity) for r in used} == {
        ("FARM-A-24", Decimal(900)),
        ("FARM-B-24", Decimal(600)),
    }
    assert {r.new_lot_codes for r in used} == {"MILL-0917"}
    assert all(len(r.date) == 10 for r in rows)
    datetime.fromisoformat(rows[0].event_time)


def test_csv_has_one_column_per_kde(rows: list[FsmaRow]) -> None:
    text = io.StringIO(newline="")
    assert write_fsma_csv(rows, text) == len(rows)
    table = list(csv.reader(io.StringIO(text.getvalue())))
    assert tuple(table[0]) == FSMA_COLUMNS
    assert len(table) == len(rows) + 1
    assert all(len(line) == len(FSMA_COLUMNS) for line in table)
    quantity = FSMA_COLUMNS.index("Quantity")
    assert {line[quantity] for line in table[1:]} >= {"1000", "400", "2000"}
    assert "\r\n" in text.getvalue()


def test_a_lot_or_a_date_range_narrows_the_rows(
    story: tuple[TraceChain, Scenario], rows: list[FsmaRow]
) -> None:
    tc, scenario = story
    flour = export_fsma(tc.ledger, lot=FLOUR)
    lots = {r.lot_code for r in flour}
    assert lots == {"FARM-A-24", "FARM-B-24", "MILL-0917"}  # the loaves are downstream
    wheat = export_fsma(tc.ledger, lot=WHEAT_A)
    assert {r.lot_code for r in wheat} == {"FARM-A-24"}
    loaves = export_fsma(tc.ledger, lot=LOAVES)
    assert len(loaves) == len(rows)
    record = tc.ledger.record(scenario.seqs["bake"])
    assert record is not None
    event = record.statement.body["event"]
    assert isinstance(event, dict)
    bake_time = datetime.fromisoformat(str(event["eventTime"]))
    before = export_fsma(tc.ledger, until=bake_time)
    assert before
    assert all(r.seq < scenario.seqs["bake"] for r in before)
