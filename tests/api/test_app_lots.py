"""``GET /v1/lots``, ``/v1/lots/provenance``, ``/v1/lots/recall`` through the real app, over
the multi-tier bakery scenario (two farms → mill → bakery → retailer and café, with pallets,
a split shipment, a partial rejection and a correction by errorDeclaration).

Every answer validates against its documented response model and equals the library's own
answer; lots are accepted as LGTIN URNs and GS1 Digital Links; malformed and unknown lots,
absurd ``as_of_seq`` values and unsigned requests (when provenance is not public) get the
problem documents they are documented with."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.problems import PROBLEM_BASE
from api.routes.deps import get_now
from api.schemas_trace import LotSummaryPublic, ProvenancePublic, RecallPublic
from api.signing import RequestSigner
from ledger.trace.service import provenance, recall, summary
from tests.ledger.trace.test_ledger_chain import GTIN_WHEAT, TraceChain
from tests.ledger.trace.test_scenario_bakery import (
    FLOUR,
    LOAVES,
    SCENARIO_CAST,
    WHEAT_A,
    WHEAT_B,
    Scenario,
    bakery_scenario,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

#: WHEAT_A as an LGTIN URN: company prefix 9506000, item reference (indicator 0) 13435.
WHEAT_A_URN = "urn:epc:class:lgtin:9506000.013435.FARM-A-24"
UNKNOWN_LOT = "https://id.gs1.org/01/09506000134352/10/NEVER-RECORDED"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TraceChain, Scenario]]:
    tc = TraceChain.create(tmp_path_factory.mktemp("lots") / "lots.db", SCENARIO_CAST)
    scenario = bakery_scenario(tc)
    yield tc, scenario
    tc.close()


def _client(tc: TraceChain, home: Path, **settings: Any) -> TestClient:
    app = create_app(ApiSettings(home=home, **settings), ledger=tc.ledger)
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
    assert doc["status"] == status
    assert "Traceback" not in response.text
    return doc


# -- answers ---------------------------------------------------------------------------------


def test_urn_and_digital_link_name_the_same_lot(client: TestClient) -> None:
    assert WHEAT_A.startswith(f"https://id.gs1.org/01/{GTIN_WHEAT}/10/")
    by_link = client.get("/v1/lots", params={"lot": WHEAT_A})
    by_urn = client.get("/v1/lots", params={"lot": WHEAT_A_URN})
    assert by_link.status_code == by_urn.status_code == 200
    assert by_link.json() == by_urn.json()
    assert by_urn.json()["lot"] == WHEAT_A


def test_lot_summary_is_the_projection_s_view(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    tc, scenario = story
    response = client.get("/v1/lots", params={"lot": WHEAT_A})
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    LotSummaryPublic.model_validate(data)
    assert data == summary(tc.ledger, WHEAT_A).to_json()
    balances = {(b["holder"], b["uom"]): b for b in data["balances"]}
    # Farm A harvested 1000 kg and shipped two pallets of 500; 100 kg came back rejected.
    farm = balances[("farm-a", "KGM")]
    assert (farm["commissioned"], farm["shipped"], farm["returned"]) == ("1000", "1000", "100")
    assert farm["remaining"] == "100"
    # The mill accepted 900 kg and milled all of it (the corrected transformation).
    assert balances[("mill", "KGM")]["remaining"] == "0"
    assert scenario.seqs["harvest-a"] == data["first_seq"]
    assert scenario.seqs["mill-wrong"] in data["voided_seqs"]
    assert [link["output_lot"] for link in data["outputs"]] == [FLOUR]


def test_provenance_of_the_loaves_reaches_both_farms(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    tc, scenario = story
    response = client.get("/v1/lots/provenance", params={"lot": LOAVES})
    assert response.status_code == 200
    data = response.json()
    ProvenancePublic.model_validate(data)
    assert data == provenance(tc.ledger, LOAVES).to_json()
    shares = {lot["lot"]: lot["share"] for lot in data["lots"]}
    assert shares == {LOAVES: "1", FLOUR: "50/51", WHEAT_A: "10/17", WHEAT_B: "20/51"}
    assert {"farm-a", "farm-b", "mill", "bakery"} <= set(data["parties"])
    assert scenario.seqs["mill-fixed"] in data["seqs"]
    assert scenario.seqs["mill-wrong"] not in data["seqs"]
    [correction] = data["corrections"]
    assert correction["seq"] == scenario.seqs["mill-wrong"]
    assert correction["corrective_seqs"] == [scenario.seqs["mill-fixed"]]


def test_provenance_as_of_a_seq_is_what_the_ledger_said_then(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    tc, scenario = story
    before_fix = scenario.seqs["mill-wrong"]
    response = client.get("/v1/lots/provenance", params={"lot": FLOUR, "as_of_seq": before_fix})
    assert response.status_code == 200
    data = response.json()
    ProvenancePublic.model_validate(data)
    assert data["as_of_seq"] == before_fix
    assert data == provenance(tc.ledger, FLOUR, as_of_seq=before_fix).to_json()
    # Then, the wrong milling (900 + 500 kg) still counted and no correction existed.
    assert [link["seq"] for link in data["links"]] == [before_fix, before_fix]
    assert data["corrections"] == []
    shares = {lot["lot"]: lot["share"] for lot in data["lots"]}
    assert shares[WHEAT_A] == "9/14"


def test_recall_from_farm_a_finds_everyone_still_holding_some(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    tc, _ = story
    response = client.get("/v1/lots/recall", params={"lot": WHEAT_A_URN})
    assert response.status_code == 200
    data = response.json()
    RecallPublic.model_validate(data)
    assert data == recall(tc.ledger, WHEAT_A).to_json()
    assert [lot["lot"] for lot in data["lots"]] == [WHEAT_A, FLOUR, LOAVES]
    places = {(s["lot"], s["status"], s["holder"]): s["quantity"] for s in data["stock"]}
    assert places[(WHEAT_A, "held", "farm-a")] == "100"
    assert places[(LOAVES, "held", "retailer")] == "900"
    assert places[(LOAVES, "in_transit", "cafe")] == "500"
    assert set(data["holders"]) >= {"farm-a", "bakery", "retailer", "cafe"}


# -- refusals --------------------------------------------------------------------------------

PATHS = ("/v1/lots", "/v1/lots/provenance", "/v1/lots/recall")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "lot",
    [
        "junk",
        "https://id.gs1.org/01/09506000134353/10/W-1",  # GTIN check digit
        "https://id.gs1.org/00/395061110000001011",  # an SSCC, not a lot
        "urn:epc:class:lgtin:9506000.013435",  # no lot number
    ],
)
def test_a_malformed_lot_is_400_naming_the_field(client: TestClient, path: str, lot: str) -> None:
    doc = _problem(client.get(path, params={"lot": lot}), 400, "malformed-identifier")
    assert doc["field"] == "query.lot"
    assert doc["detail"].startswith("query.lot: ")


@pytest.mark.parametrize("path", PATHS)
def test_an_unknown_lot_is_404(client: TestClient, path: str) -> None:
    doc = _problem(client.get(path, params={"lot": UNKNOWN_LOT}), 404, "unknown-lot")
    assert doc["field"] == "query.lot"
    assert UNKNOWN_LOT in doc["detail"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("params", [{}, {"lot": ""}, {"lot": "x" * 513}])
def test_a_missing_or_absurd_lot_parameter_is_400(
    client: TestClient, path: str, params: dict[str, str]
) -> None:
    doc = _problem(client.get(path, params=params), 400, "invalid-request")
    assert doc["field"] == "query.lot"


def test_a_lot_recorded_only_later_is_unknown_as_of_before(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    _, scenario = story
    params = {"lot": LOAVES, "as_of_seq": scenario.seqs["harvest-a"]}
    doc = _problem(client.get("/v1/lots/provenance", params=params), 404, "unknown-lot")
    assert doc["field"] == "query.lot"


@pytest.mark.parametrize("as_of", ["-1", "x", "9007199254740992"])
def test_an_out_of_range_as_of_seq_is_400(client: TestClient, as_of: str) -> None:
    params = {"lot": LOAVES, "as_of_seq": as_of}
    doc = _problem(client.get("/v1/lots/provenance", params=params), 400, "invalid-request")
    assert doc["field"] == "query.as_of_seq"


def test_an_as_of_seq_past_the_head_is_400(
    story: tuple[TraceChain, Scenario], client: TestClient
) -> None:
    size = story[0].ledger.size
    params = {"lot": LOAVES, "as_of_seq": str(size)}
    doc = _problem(client.get("/v1/lots/provenance", params=params), 400, "invalid-request")
    assert doc["field"] == "query.as_of_seq"
    assert str(size - 1) in doc["detail"]
    last = client.get("/v1/lots/provenance", params={"lot": LOAVES, "as_of_seq": size - 1})
    assert last.status_code == 200


# -- access ----------------------------------------------------------------------------------


@pytest.fixture
def private(story: tuple[TraceChain, Scenario], tmp_path: Path) -> Iterator[TestClient]:
    with _client(story[0], tmp_path, public_provenance=False) as c:
        yield c


def _signer(tc: TraceChain, name: str) -> RequestSigner:
    clock: datetime = tc.chain.clock
    return RequestSigner(tc.chain.keys[name], clock=lambda: clock)


@pytest.mark.parametrize("path", PATHS)
def test_private_provenance_refuses_unsigned_reads(private: TestClient, path: str) -> None:
    response = private.get(path, params={"lot": LOAVES})
    _problem(response, 401, "request-signature-missing")
    assert "Accept-Signature" in response.headers


@pytest.mark.parametrize("path", PATHS)
def test_private_provenance_serves_a_registered_participant(
    story: tuple[TraceChain, Scenario], private: TestClient, path: str
) -> None:
    tc, _ = story
    request = private.build_request("GET", path, params={"lot": LOAVES})
    response = private.send(_signer(tc, "cafe").sign(request))
    assert response.status_code == 200, response.text
    assert response.json()["lot"] == LOAVES


def test_private_provenance_refuses_a_bad_signature(
    story: tuple[TraceChain, Scenario], private: TestClient
) -> None:
    tc, _ = story
    request = private.build_request("GET", "/v1/lots", params={"lot": LOAVES})
    signed = _signer(tc, "cafe").sign(request)
    tampered = private.build_request(
        "GET", "/v1/lots", params={"lot": WHEAT_A}, headers=dict(signed.headers)
    )
    _problem(private.send(tampered), 401, "request-signature-invalid")


def test_openapi_documents_the_trace_reads_and_their_failures(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (*PATHS, "/v1/exports/epcis", "/v1/exports/fsma204"):
        responses = paths[path]["get"]["responses"]
        assert set(responses) >= {"200", "400", "401", "404", "default"}, path
        examples = responses["404"]["content"]["application/problem+json"]["examples"]
        assert "unknown-lot" in examples
        assert (
            "malformed-identifier"
            in responses["400"]["content"]["application/problem+json"]["examples"]
        )
