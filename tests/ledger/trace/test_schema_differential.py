"""Randomly damaged GS1 examples, judged by the official schema and by us.

Two properties: whatever the schema refuses we refuse (we are at least as strict; the one
deliberate leniency, CBV URN vocabulary values, is never generated here), and whatever we
accept exports to a document the schema accepts.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.trace import MalformedEventError, build_epcis_document, parse_epcis_document
from tests.ledger.trace.schema import (
    SCHEMA_INVALID_EXAMPLES,
    example_paths,
    load_example,
    schema_errors,
)

DOCUMENTS = [load_example(p) for p in example_paths() if p.name not in SCHEMA_INVALID_EXAMPLES]

INTERESTING = [
    "",
    "ADD",
    "OBSERVE",
    "DELETE",
    "shipping",
    "in_transit",
    "owning_party",
    "location",
    "po",
    "incorrect_data",
    "Temperature",
    "KGM",
    "kg",
    "+01:00",
    "2020-02-30T00:00:00Z",
    "2020-01-01T00:00:00.5-03:00",
    "ObjectEvent",
    "TransformationEvent",
    "example:x",
    "not a uri",
    "https://example.com/x",
    "urn:uuid:7c1f1e2a-0000-4000-8000-000000000001",
    "urn:epc:id:sgtin:0614141.107346.2017",
    "urn:epc:id:sscc:0614141.1234567890",
    "urn:epc:class:lgtin:4012345.012345.998877",
    "https://id.gs1.org/01/04012345123456/10/ABC",
    "https://id.gs1.org/414/4012345000016",
]

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3, max_value=10**9)
    | st.text(max_size=12)
    | st.sampled_from(INTERESTING)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(INTERESTING) | st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def _locations(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_locations(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_locations(value, (*path, index)))
    return found


@st.composite
def damaged_documents(draw: st.DrawFn) -> dict[str, Any]:
    document = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(1, 2))):
        locations = _locations(document)
        path = draw(st.sampled_from(locations))
        parent: Any = document
        for part in path[:-1]:
            parent = parent[part]
        how = draw(st.sampled_from(["delete", "replace", "add"]))
        if how == "delete":
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(INTERESTING))] = draw(json_values)
        else:
            parent[path[-1]] = draw(json_values)
    result: dict[str, Any] = document
    return result


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_documents())
def test_schema_refusal_implies_ours_and_our_output_is_schema_valid(
    document: dict[str, Any],
) -> None:
    refused_by_schema = schema_errors(document)
    try:
        events = parse_epcis_document(document)
    except MalformedEventError:
        return  # refusing more than the schema is allowed (ledger rules)
    assert not refused_by_schema, f"we accepted what the schema refuses: {refused_by_schema}"
    exported = build_epcis_document(events, datetime(2026, 1, 1, tzinfo=UTC))
    assert schema_errors(exported) == []


def test_decimal_leaves_are_exact() -> None:
    """The strategies above feed Decimals, never floats, as load_epcis_json would."""
    assert isinstance(DOCUMENTS[0]["epcisBody"]["eventList"], list)
    assert Decimal("200.5") == Decimal("200.50")
