"""``GET /v1/lots/bundle`` through the real app: the bundle is a download that verifies
offline with the vkey ``GET /v1/ledger`` serves, carries the witness cosignatures posted to
``POST /v1/checkpoint/cosignatures``, equals the library's bundle, and malformed, unknown and
unsigned (when provenance is private) requests get their documented problems."""

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
from api.client import ApiError, FairLedgerClient
from api.problems import PROBLEM_BASE
from api.routes.bundle import bundle_filename
from api.routes.deps import get_now
from api.signing import RequestSigner
from ledger.bundle import build_bundle, verify_bundle
from ledger.note import Checkpoint, add_signature_lines, parse_note
from tests.ledger.test_bundle import OTHER_WITNESS, WITNESS, Story, build_story
from tests.ledger.trace.test_scenario_bakery import FLOUR, LOAVES, WHEAT_A

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

#: WHEAT_A as an LGTIN URN.
WHEAT_A_URN = "urn:epc:class:lgtin:9506000.013435.FARM-A-24"
PATH = "/v1/lots/bundle"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    built = build_story(tmp_path_factory.mktemp("api-bundle") / "ledger.db")
    yield built
    built.tc.close()


def _client(s: Story, home: Path, **settings: Any) -> TestClient:
    app = create_app(ApiSettings(home=home, **settings), ledger=s.ledger)
    app.dependency_overrides[get_now] = lambda: s.tc.chain.clock
    return TestClient(app)


@pytest.fixture
def client(story: Story, tmp_path: Path) -> Iterator[TestClient]:
    with _client(story, tmp_path, trusted_witnesses=[WITNESS.vkey, OTHER_WITNESS.vkey]) as c:
        yield c


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc: dict[str, Any] = response.json()
    assert doc["type"] == PROBLEM_BASE + code
    assert doc["status"] == status
    assert "Traceback" not in response.text
    return doc


def test_the_bundle_is_a_download_that_verifies_offline(story: Story, client: TestClient) -> None:
    response = client.get(PATH, params={"lot": LOAVES})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="{bundle_filename(LOAVES)}"'
    assert disposition.endswith('BAKE-0920.bundle.json"')
    vkey = client.get("/v1/ledger").json()["vkey"]
    verified = verify_bundle(response.content, vkey, witnesses=[WITNESS.vkey], min_witnesses=1)
    assert verified.provenance.lots[0].lot == LOAVES
    assert response.content == build_bundle(story.ledger, LOAVES)


def test_any_lot_syntax_names_the_same_bundle(client: TestClient) -> None:
    by_link = client.get(PATH, params={"lot": WHEAT_A})
    by_urn = client.get(PATH, params={"lot": WHEAT_A_URN})
    assert by_link.status_code == by_urn.status_code == 200
    assert by_link.content == by_urn.content
    assert by_urn.json()["lot"] == WHEAT_A


def test_posted_cosignatures_travel_in_the_bundle(story: Story, client: TestClient) -> None:
    note = client.get("/v1/checkpoint").text
    checkpoint = Checkpoint.from_body(parse_note(note).body)
    cosigned = add_signature_lines(note, [OTHER_WITNESS.cosign(checkpoint, 1_795_000_100)])
    posted = client.post(
        "/v1/checkpoint/cosignatures",
        content=cosigned.encode(),
        headers={"content-type": "text/plain"},
    )
    assert posted.status_code in (200, 201), posted.text
    data = client.get(PATH, params={"lot": FLOUR}).content
    verified = verify_bundle(
        data, story.vkey, witnesses=[WITNESS.vkey, OTHER_WITNESS.vkey], min_witnesses=2
    )
    assert set(verified.witnesses) == {WITNESS.name, OTHER_WITNESS.name}


def test_the_typed_client_fetches_the_bundle(story: Story, client: TestClient) -> None:
    with FairLedgerClient("http://testserver", http=client) as api:
        data = api.lot_bundle(LOAVES)
        assert verify_bundle(data, story.vkey).lot == LOAVES
        with pytest.raises(ApiError) as caught:
            api.lot_bundle("https://id.gs1.org/01/09506000134352/10/NEVER")
    assert caught.value.status == 404


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"lot": "https://id.gs1.org/01/09506000134352/10/NEVER-RECORDED"}, 404, "unknown-lot"),
        ({"lot": "https://id.gs1.org/01/09506000134353/10/BAD-CHECK"}, 400, "malformed-identifier"),
        ({"lot": "not a lot"}, 400, "malformed-identifier"),
        ({}, 400, "invalid-request"),
        ({"lot": ""}, 400, "invalid-request"),
        ({"lot": "x" * 600}, 400, "invalid-request"),
    ],
)
def test_bad_lots_are_problems(
    client: TestClient, params: dict[str, str], status: int, code: str
) -> None:
    doc = _problem(client.get(PATH, params=params), status, code)
    if code != "invalid-request":
        assert doc["field"] == "query.lot"


def test_private_provenance_needs_a_signed_request(story: Story, tmp_path: Path) -> None:
    with _client(story, tmp_path, public_provenance=False) as private:
        _problem(private.get(PATH, params={"lot": LOAVES}), 401, "request-signature-missing")
        clock: datetime = story.tc.chain.clock
        signer = RequestSigner(story.tc.chain.keys["cafe"], clock=lambda: clock)
        request = private.build_request("GET", PATH, params={"lot": LOAVES})
        response = private.send(signer.sign(request))
    assert response.status_code == 200, response.text
    assert verify_bundle(response.content, story.vkey).lot == LOAVES


def test_openapi_documents_the_route_with_an_example(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"][PATH]["get"]
    example = operation["responses"]["200"]["content"]["application/json"]["example"]
    assert example["format"] == "fairledger-lot-bundle/v1"
    assert set(example) == {"format", "origin", "lot", "checkpoint", "records", "provenance"}
    assert {"400", "404"} <= set(operation["responses"])
    assert operation["parameters"][0]["name"] == "lot"


def test_download_names_are_safe() -> None:
    name = bundle_filename("https://id.gs1.org/01/09506000134352/10/A%22B%2FC")
    assert name.startswith("lot-09506000134352-")
    assert '"' not in name
    assert "/" not in name
