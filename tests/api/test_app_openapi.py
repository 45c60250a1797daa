"""``/openapi.json``: every path of the core API, an example for every request body and every
documented response, and examples that are themselves valid, verifiable documents."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import ApiSettings, create_app
from api.problems import PROBLEM_BASE, PROBLEMS
from api.schemas import (
    EXAMPLE_LEDGER,
    EXAMPLE_RECEIPT,
    EXAMPLE_RECORD_JSON,
    EXAMPLE_SUBMISSION_JSON,
)
from ledger import merkle
from ledger.canonical import canonical_bytes
from ledger.note import Ed25519Verifier
from ledger.statement import Record, Submission
from tests.factory import Chain

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CORE_PATHS = {
    ("get", "/v1/ledger"),
    ("get", "/v1/checkpoint"),
    ("post", "/v1/statements"),
    ("post", "/v1/statements/batch"),
    ("get", "/v1/records/{seq}"),
    ("get", "/v1/records"),
    ("get", "/v1/proofs/inclusion"),
    ("get", "/v1/proofs/consistency"),
    ("get", "/v1/participants"),
    ("get", "/v1/participants/{id}"),
    ("get", "/v1/export"),
}


@pytest.fixture
def openapi(chain: Chain, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with TestClient(create_app(ApiSettings(home=tmp_path), ledger=chain.ledger)) as client:
        response = client.get("/openapi.json")
        assert response.status_code == 200
        yield response.json()


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def _has_example(media: dict[str, Any]) -> bool:
    return "example" in media or bool(media.get("examples"))


def test_every_core_path_is_documented(openapi: dict[str, Any]) -> None:
    documented = {(m, p) for m, p, _ in _operations(openapi)}
    assert documented >= CORE_PATHS


def test_every_request_body_has_an_example(openapi: dict[str, Any]) -> None:
    bodies = 0
    for method, path, operation in _operations(openapi):
        body = operation.get("requestBody")
        if body is None:
            continue
        bodies += 1
        for media_type, media in body["content"].items():
            assert _has_example(media), f"{method} {path} {media_type}"
    assert bodies >= 2


def test_every_response_has_an_example(openapi: dict[str, Any]) -> None:
    for method, path, operation in _operations(openapi):
        assert operation.get("summary") or operation.get("description"), path
        for status, response in operation["responses"].items():
            assert response.get("content"), f"{method} {path} {status} has no content"
            for media_type, media in response["content"].items():
                assert _has_example(media), f"{method} {path} {status} {media_type}"


def test_query_and_path_parameters_have_examples(openapi: dict[str, Any]) -> None:
    for method, path, operation in _operations(openapi):
        for parameter in operation.get("parameters", []):
            assert (
                "example" in parameter
                or parameter.get("examples")
                or ("examples" in parameter["schema"])
            ), f"{method} {path} {parameter['name']}"


def test_problem_responses_use_the_problem_schema(openapi: dict[str, Any]) -> None:
    assert "Problem" in openapi["components"]["schemas"]
    assert "SubmissionCreate" in openapi["components"]["schemas"]
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    for _, _, operation in _operations(openapi):
        assert (
            "422" not in operation["responses"]
            or "application/problem+json" in (operation["responses"]["422"]["content"])
        )
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) or status == "default":
                media = response["content"]["application/problem+json"]
                assert media["schema"] == {"$ref": "#/components/schemas/Problem"}
                for example in media["examples"].values():
                    value = example["value"]
                    assert value["type"] == PROBLEM_BASE + value["code"]
                    if status != "default":
                        assert value["status"] == int(status) == PROBLEMS[value["code"]].status


def test_examples_are_real_signed_documents() -> None:
    submission = Submission.from_json(EXAMPLE_SUBMISSION_JSON)
    assert submission.statement.kind == "trace.event"
    verifier = Ed25519Verifier.from_vkey(str(EXAMPLE_LEDGER["vkey"]))
    record = Record.from_json(EXAMPLE_RECORD_JSON["record"])
    assert record.submission == submission
    assert (
        EXAMPLE_RECORD_JSON["entry_hash"]
        == merkle.leaf_hash(canonical_bytes(EXAMPLE_RECORD_JSON["record"])).hex()
    )
    signed = EXAMPLE_RECEIPT.verify(verifier, leaf=record.leaf)
    assert signed.checkpoint.size == 13
