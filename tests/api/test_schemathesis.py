"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis).

Every operation the app's ``/openapi.json`` describes is called with generated requests (valid
and invalid) against the real app over a real ledger (the demo ecosystem: lots, pallets,
transformations, contracts, settlements and payments), and every answer must be free of
server errors and conform to the schema: a documented status code, a documented content type,
and a body valid against the response schema of that status. Routes added later are covered
as soon as they are in the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Ok

from api import demo
from api.app import create_app
from api.settings import load_settings

pytestmark = pytest.mark.xdist_group("schemathesis")

Operation = schemathesis.APIOperation[Any, Any, Any, Any]

#: Generated requests per operation: enough to reach every parameter's edge cases, few
#: enough that the whole run stays well under two minutes on the shared build machine.
MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    settings_ = load_settings(home, None)
    settings_.database_url = None
    demo.run_demo(settings_, lambda _: None)
    app = create_app(settings_)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.ledger.close()


#: Values that exist in the demo ledger, by parameter name: a third pass fixes them so the
#: generated requests also reach the answers for real lots, records and participants.
KNOWN: dict[str, object] = {
    "lot": demo.BREAD_SUNRISE_JAN,
    "seq": 40,
    "size": 60,
    "old": 20,
    "new": 60,
    "id": "mill-valley",
    "participant_id": "mill-valley",
    "party": "bakery-sunrise",
    "gtin": demo.GTIN_BREAD,
}


def _operation(result: Ok[Operation] | Err[InvalidSchema]) -> Operation:
    """The operation, or a failure naming why the schema does not describe it validly."""
    if isinstance(result, Err):
        pytest.fail(f"the OpenAPI schema is invalid: {result.err()}")
    return result.ok()


def _known_values(operation: Operation) -> dict[str, dict[str, object]]:
    """The KNOWN values of the operation's path and query parameters, by location."""
    fixed: dict[str, dict[str, object]] = {"path": {}, "query": {}}
    for parameter in operation.iter_parameters():
        location = str(parameter.location.value)
        if parameter.name in KNOWN and location in fixed:
            fixed[location][parameter.name] = KNOWN[parameter.name]
    if operation.path.startswith("/01/"):  # GS1 Digital Link: the lot's number, not its URI
        fixed["path"]["lot"] = demo.BREAD_SUNRISE_JAN.rsplit("/", 1)[-1]
    return fixed


def _strategy(operation: Operation, mode: str) -> SearchStrategy[Case[Any]] | None:
    if mode == "known":
        fixed = _known_values(operation)
        if not fixed["path"] and not fixed["query"]:
            return None
        return operation.as_strategy(
            GenerationMode.POSITIVE,
            path_parameters=fixed["path"] or None,
            query=fixed["query"] or None,
        )
    return operation.as_strategy(GenerationMode(mode))


def _fuzz(operation: Operation, mode: str) -> str | None:
    """Run the checks on ``MAX_EXAMPLES`` generated requests; the first failure, shrunk by
    Hypothesis to a minimal request, as text (None if every request passed)."""
    strategy = _strategy(operation, mode)
    if strategy is None:
        return None

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Any]) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # Negative mode only: an operation without parameters or body has no invalid input.
        assert mode == "negative", operation.label
        return None
    except Exception as exc:  # noqa: BLE001 - every failure is reported, with its request
        return f"{operation.label} ({mode}): {type(exc).__name__}: {exc}"
    return None


@pytest.mark.parametrize("mode", ["positive", "negative", "known"])
def test_every_operation_answers_within_its_schema(
    api_schema: schemathesis.BaseSchema, mode: str
) -> None:
    operations = [_operation(result) for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    failures = [found for op in operations if (found := _fuzz(op, mode)) is not None]
    assert not failures, "\n\n".join(failures)


def test_the_schema_describes_the_core_paths(api_schema: schemathesis.BaseSchema) -> None:
    paths = set(api_schema.raw_schema["paths"])
    assert {
        "/v1/ledger",
        "/v1/checkpoint",
        "/v1/statements",
        "/v1/statements/batch",
        "/v1/records",
        "/v1/records/{seq}",
        "/v1/proofs/inclusion",
        "/v1/proofs/consistency",
        "/v1/participants",
        "/v1/export",
        "/v1/checkpoint/cosignatures",
    } <= paths
