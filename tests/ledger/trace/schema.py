"""The official EPCIS 2.0 JSON schema, with format checking on, for tests.

``EPCIS-JSON-Schema.json`` is the inlined schema; the modular schemas in ``schema/schemas/``
are loaded into a ``referencing.Registry`` under their ``$id`` so that a ``$ref`` to any of
them (e.g. ``.../ObjectEvent-JSON-Schema.json#/definitions/ObjectEvent``) resolves to the
local file, never to the network.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from ledger.trace import dumps_epcis
from tests.shared import EPCIS_DIR

SCHEMA_DIR = EPCIS_DIR / "schema"
EXAMPLES_DIR = EPCIS_DIR / "examples"
MODULAR_BASE = "https://gs1.github.io/EPCIS/JSON-Schema/schemas/"

#: Examples the official schema refuses, and why (checked by test_schema_verdicts_are_known).
SCHEMA_INVALID_EXAMPLES = {
    # Uses post-2.0 CBV terms: bizStep "notifying", disposition "subject_to_regulation".
    "openepcis_ObjectEvent_with_masterDataAvailableFor_deforestation.json",
}


def example_paths() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.json"))


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


@cache
def registry() -> Registry[Any]:
    resources = []
    for path in sorted((SCHEMA_DIR / "schemas").glob("*.json")):
        resources.append(Resource.from_contents(_load(path), default_specification=DRAFT7))
    root = _load(SCHEMA_DIR / "EPCIS-JSON-Schema.json")
    resources.append(Resource.from_contents(root, default_specification=DRAFT7))
    pairs = [(resource.id() or "", resource) for resource in resources]
    assert all(uri for uri, _ in pairs), "every schema file has an $id"
    return Registry().with_resources(pairs)


def _validator(schema: Any) -> Any:
    cls = jsonschema.Draft7Validator
    return cls(schema, registry=registry(), format_checker=cls.FORMAT_CHECKER)


@cache
def document_validator() -> Any:
    """Validator of the inlined root schema (documents and standalone events)."""
    return _validator(_load(SCHEMA_DIR / "EPCIS-JSON-Schema.json"))


@cache
def event_validator(event_type: str) -> Any:
    """Validator of one event type through the modular schemas (``$ref`` via the registry)."""
    reference = f"{MODULAR_BASE}{event_type}-JSON-Schema.json#/definitions/{event_type}"
    return _validator({"$ref": reference})


def _as_json(instance: object) -> Any:
    # Through text, so Decimal quantities are checked as the JSON numbers they become.
    return json.loads(dumps_epcis(instance), parse_float=Decimal)


def schema_errors(instance: object) -> list[str]:
    """Messages of the root schema's errors for a document or standalone event."""
    errors = document_validator().iter_errors(_as_json(instance))
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def event_schema_errors(event: dict[str, Any]) -> list[str]:
    """Errors of the modular schema for ``event["type"]``."""
    errors = event_validator(str(event["type"])).iter_errors(_as_json(event))
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def load_example(path: Path) -> Any:
    """An example as parsed JSON with exact numbers."""
    return _load(path)
