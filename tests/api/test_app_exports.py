"""``GET /v1/exports/epcis`` and ``GET /v1/exports/fsma204`` through the real app, over the
multi-tier bakery scenario.

The EPCIS document validates against the official EPCIS 2.0 schema (format checking on) for
every selection; the FSMA 204 spreadsheet parses back, as CSV and as XLSX, to exactly the
library's rows; filters narrow the selection; bad filters get the documented problems."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.problems import PROBLEM_BASE
from api.routes.deps import get_now
from api.schemas_trace import EXAMPLE_EPCIS_DOCUMENT, EXAMPLE_FSMA_CSV
from api.signing import RequestSigner
from api.spreadsheet import XLSX_MEDIA_TYPE, write_fsma_xlsx
from ledger.trace import dumps_epcis, load_epcis_json, parse_epcis_document
from ledger.trace.fsma import FSMA_COLUMNS, FsmaRow
from ledger.trace.rules import party_id
from ledger.trace.service import export_epcis, export_fsma
from tests.ledger.trace.schema import schema_errors
from tests.ledger.trace.test_ledger_chain import GTIN_BREAD, TraceChain
from tests.ledger.trace.test_scenario_bakery import (
    FLOUR,
    LOAVES,
    SCENARIO_CAST,
    WHEAT_B,
    Scenario,
    bakery_scenario,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

PRODUCTS = {GTIN_BREAD: "Sourdough loaf 800 g"}
EPCIS = "/v1/exports/epcis"
FSMA = "/v1/exports/fsma204"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TraceChain, Scenario]]:
    tc = TraceChain.create(tmp_path_factory.mktemp("exports") / "exports.db", SCENARIO_CAST)
    scenario = bakery_scenario(tc)
    yield tc, scenario
    tc.close()


def _client(tc: TraceChain, home: Path, **settings: Any) -> TestClient:
    app = create_app(ApiSettings(home=home, product_names=PRODUCTS, **settings), ledger=tc.ledger)
    app.dependency_overrides[get_now] = lambda: tc.chain.clock
    return TestClient(app)


@pytest.fixture
def client(story: tuple[TraceChain, Scenario], tmp_path: Path) -> Iterator[TestClient]:
    with _client(story[0], tmp_path) as c:
        yield c


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc: dict[str, Any] = response.json()
    assert doc["type"] == PROBLEM_BASE + code
    return doc


def _document(response: httpx.Response) -> dict[str, Any]:
    """The served document, read with exact numbers, after checking it against the schema."""
    assert response.status_code == 200, response.text
    document: dict[str, Any] = load_epcis_json(response.content)
    assert schema_errors(document) == []
    parse_epcis_document(document)
    return document


def _ids(document: dict[str, Any]) -> list[str]:
    return [str(e["eventID"]) for e in document["epcisBody"]["eventList"]]


def _event_id(tc: TraceChain, seq: int) -> str:
    record = tc.ledger.record(seq)
    assert record is not None
    event = record.statement.body["event"]
    assert isinstance(event, dict)
    return str(event["eventID"])


# -- EPCIS -----------------------------------------------------------------------------------


def test_the_whole_ledger_exports_as_one_valid_json_ld_document(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    tc, scenario = story
    response = client.get(EPCIS)
    assert response.headers["content-type"] == "application/ld+json"
    document = _document(response)
    assert document == load_epcis_json(
        dumps_epcis(
            export_epcis(tc.ledger, created_at=tc.chain.clock, document_id=document.get("id"))
        )
    )
    assert len(_ids(document)) == len(scenario.seqs)
    assert _ids(document).count(scenario.wrong_event_id) == 2  # the event and its retraction


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("application/json", "application/json"),
        ("application/ld+json", "application/ld+json"),
        ("application/ld+json, application/json;q=0.5", "application/ld+json"),
        ("*/*", "application/ld+json"),
    ],
)
def test_the_media_type_follows_the_accept_header(
    client: TestClient, accept: str, media: str
) -> None:
    response = client.get(EPCIS, params={"lot": WHEAT_B}, headers={"Accept": accept})
    assert response.headers["content-type"] == media
    _document(response)


def test_a_lot_exports_its_provenance_with_its_corrections(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    tc, scenario = story
    document = _document(client.get(EPCIS, params={"lot": FLOUR}))
    s = scenario.seqs
    # Everything upstream of the flour and the flour's own movements; nothing of the loaves.
    assert _event_id(tc, s["mill-declare"]) in _ids(document)
    assert _event_id(tc, s["mill-fixed"]) in _ids(document)
    assert _event_id(tc, s["harvest-b"]) in _ids(document)
    assert _event_id(tc, s["bake"]) in _ids(document)  # consumes the flour
    assert _event_id(tc, s["ship-cafe"]) not in _ids(document)


def test_a_party_exports_its_records_and_those_naming_it(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    tc, scenario = story
    s = scenario.seqs
    ids = set(_ids(_document(client.get(EPCIS, params={"party": "farm-b"}))))
    assert ids == {_event_id(tc, s[n]) for n in ("harvest-b", "ship-b", "receive-b")}
    # A participant's party URI (PGLN, in any GS1 syntax) selects the same records.
    by_uri = client.get(EPCIS, params={"party": party_id(tc.gln("farm-b"))})
    assert set(_ids(_document(by_uri))) == ids
    urn = f"urn:epc:id:pgln:{tc.gln('farm-b')[:7]}.{tc.gln('farm-b')[7:12]}"
    assert set(_ids(_document(client.get(EPCIS, params={"party": urn})))) == ids
    # A party no participant holds is named only as the other side of an event: none here.
    stranger = party_id("9506000134369")
    assert stranger not in {party_id(g) for g in tc.glns.values()}
    assert _ids(_document(client.get(EPCIS, params={"party": stranger}))) == []


def test_since_and_until_split_the_ledger_in_two(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    tc, scenario = story
    everything = _ids(_document(client.get(EPCIS)))
    event = tc.ledger.record(scenario.seqs["bake"])
    assert event is not None
    body = event.statement.body["event"]
    assert isinstance(body, dict)
    moment = str(body["eventTime"])
    before = _ids(_document(client.get(EPCIS, params={"until": moment})))
    after = _ids(_document(client.get(EPCIS, params={"since": moment})))
    assert before
    assert after
    assert sorted(before + after) == sorted(everything)
    assert _event_id(tc, scenario.seqs["bake"]) in after
    # A naive time is UTC.
    naive = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(UTC)
    local = naive.replace(tzinfo=None).isoformat()
    assert _ids(_document(client.get(EPCIS, params={"until": local}))) == before


def test_combined_filters_intersect(story: tuple[TraceChain, Scenario], client: TestClient) -> None:
    tc, scenario = story
    ids = _ids(_document(client.get(EPCIS, params={"lot": LOAVES, "party": "farm-b"})))
    s = scenario.seqs
    assert set(ids) == {_event_id(tc, s[n]) for n in ("harvest-b", "ship-b", "receive-b")}


def test_the_documented_epcis_example_is_schema_valid() -> None:
    assert schema_errors(EXAMPLE_EPCIS_DOCUMENT) == []
    assert len(parse_epcis_document(EXAMPLE_EPCIS_DOCUMENT)) == 2


# -- FSMA 204 --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows(story: tuple[TraceChain, Scenario]) -> list[FsmaRow]:
    return export_fsma(story[0].ledger, products=PRODUCTS)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def test_fsma_csv_is_the_default_and_parses_back_to_the_library_rows(
    client: TestClient, rows: list[FsmaRow]
) -> None:
    response = client.get(FSMA)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="fsma204.csv"' in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert tuple(table[0]) == FSMA_COLUMNS
    assert table[1:] == [[_text(v) for v in row.values()] for row in rows]
    assert any("Sourdough loaf 800 g" in line for line in table[1:])
    assert b"\r\n" in response.content


def test_fsma_xlsx_parses_back_to_the_library_rows(client: TestClient, rows: list[FsmaRow]) -> None:
    response = client.get(FSMA, params={"format": "xlsx"})
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX_MEDIA_TYPE
    assert 'filename="fsma204.xlsx"' in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(table[0]) == FSMA_COLUMNS
    assert len(table) == len(rows) + 1
    quantity = FSMA_COLUMNS.index("Quantity")
    seq = FSMA_COLUMNS.index("Ledger Record Seq")
    for line, row in zip(table[1:], rows, strict=True):
        assert Decimal(str(line[quantity])) == row.quantity
        assert line[seq] == row.seq
        assert [_text(v) for i, v in enumerate(line) if i != quantity] == [
            _text(v) for i, v in enumerate(row.values()) if i != quantity
        ]


def test_the_xlsx_writer_makes_one_sortable_sheet_with_exact_numbers(
    rows: list[FsmaRow],
) -> None:
    out = io.BytesIO()
    assert write_fsma_xlsx(rows, out) == len(rows)
    book = load_workbook(io.BytesIO(out.getvalue()))
    assert book.sheetnames == ["FSMA 204"]
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == sheet.dimensions
    assert all(cell.font.bold for cell in sheet[1])
    quantity = FSMA_COLUMNS.index("Quantity")
    values = [line[quantity] for line in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(Decimal(str(v)) for v in values) == sorted(
        r.quantity for r in rows if r.quantity is not None
    )


def test_fsma_for_a_lot_or_a_date_range(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    tc, _ = story
    response = client.get(FSMA, params={"lot": FLOUR})
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    expected = export_fsma(tc.ledger, lot=FLOUR, products=PRODUCTS)
    assert table[1:] == [[_text(v) for v in row.values()] for row in expected]
    code = FSMA_COLUMNS.index("Traceability Lot Code")
    assert {line[code] for line in table[1:]} == {"FARM-A-24", "FARM-B-24", "MILL-0917"}
    empty = client.get(FSMA, params={"until": "2000-01-01T00:00:00Z"})
    assert empty.content.decode("utf-8") == ",".join(FSMA_COLUMNS) + "\r\n"


def test_the_documented_fsma_example_has_every_kde_column() -> None:
    table = list(csv.reader(io.StringIO(EXAMPLE_FSMA_CSV, newline="")))
    assert tuple(table[0]) == FSMA_COLUMNS
    assert len(table) == 2
    assert len(table[1]) == len(FSMA_COLUMNS)


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [EPCIS, FSMA])
def test_a_malformed_lot_is_400(client: TestClient, path: str) -> None:
    doc = _problem(
        client.get(path, params={"lot": "urn:epc:class:lgtin:1"}), 400, "malformed-identifier"
    )
    assert doc["field"] == "query.lot"


@pytest.mark.parametrize("path", [EPCIS, FSMA])
def test_an_unknown_lot_is_404(client: TestClient, path: str) -> None:
    lot = "https://id.gs1.org/01/09506000134352/10/NOT-HERE"
    doc = _problem(client.get(path, params={"lot": lot}), 404, "unknown-lot")
    assert doc["field"] == "query.lot"


@pytest.mark.parametrize("path", [EPCIS, FSMA])
def test_an_unknown_participant_is_404(client: TestClient, path: str) -> None:
    doc = _problem(client.get(path, params={"party": "nobody"}), 404, "not-found")
    assert doc["field"] == "query.party"
    assert "nobody" in doc["detail"]


@pytest.mark.parametrize("path", [EPCIS, FSMA])
def test_a_malformed_party_uri_is_400(client: TestClient, path: str) -> None:
    party = "https://id.gs1.org/417/9506000134368"  # GLN check digit
    doc = _problem(client.get(path, params={"party": party}), 400, "malformed-identifier")
    assert doc["field"] == "query.party"


@pytest.mark.parametrize("path", [EPCIS, FSMA])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-12-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "query.until"),
        ({"since": "2026-11-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "query.until"),
        ({"since": "yesterday"}, "query.since"),
        ({"until": "2026-13-01"}, "query.until"),
        ({"lot": ""}, "query.lot"),
    ],
)
def test_bad_filters_are_400(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    doc = _problem(client.get(path, params=params), 400, "invalid-request")
    assert doc["field"] == field


def test_an_unknown_spreadsheet_format_is_400(client: TestClient) -> None:
    doc = _problem(client.get(FSMA, params={"format": "ods"}), 400, "invalid-request")
    assert doc["field"] == "query.format"


@pytest.mark.parametrize("path", [EPCIS, FSMA])
def test_private_exports_need_a_participant_signature(
    story: tuple[TraceChain, Scenario], tmp_path: Path, path: str
) -> None:
    tc, _ = story
    with _client(tc, tmp_path, public_provenance=False) as private:
        _problem(private.get(path, params={"party": "farm-b"}), 401, "request-signature-missing")
        clock = tc.chain.clock
        signer = RequestSigner(tc.chain.keys["retailer"], clock=lambda: clock)
        request = private.build_request("GET", path, params={"party": "farm-b"})
        response = private.send(signer.sign(request))
        assert response.status_code == 200, response.text
