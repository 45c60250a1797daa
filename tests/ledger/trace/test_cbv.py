"""CBV 2.0 vocabularies: the lists in code match GS1's published artefacts, and every
written form of a term normalises to its bare name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.trace import cbv
from ledger.trace.errors import MalformedVocabularyError
from tests.ledger.trace.schema import SCHEMA_DIR


def _load(name: str) -> Any:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def _schema_enum(definition: str, file: str | None = None) -> set[str]:
    """The string enum of a definition (``anyOf: [uri, {enum: [...]}]``) in the schema."""
    if file is None:
        node = _load("EPCIS-JSON-Schema.json")["definitions"][definition]
    else:
        node = _load(f"schemas/{file}")["definitions"][definition]
    enums = [branch["enum"] for branch in node["anyOf"] if "enum" in branch]
    assert len(enums) == 1
    return set(enums[0])


def _context_terms(name: str, web_prefix: str) -> set[str]:
    context = _load(name)["@context"]
    terms = {k for k in context if not k.startswith("@") and k != "cbv"}
    for term in terms:
        assert context[term] == f"cbv:{web_prefix}{term}", term
    return terms


def test_biz_steps_match_schema_and_json_ld_context() -> None:
    assert _schema_enum("bizStep") == cbv.BIZ_STEPS
    assert _schema_enum("bizStep", "bizStep-JSON-Schema.json") == cbv.BIZ_STEPS
    assert _context_terms("cbv-context-bizstep.jsonld", "BizStep-") == cbv.BIZ_STEPS


def test_dispositions_match_schema_and_json_ld_context() -> None:
    assert _schema_enum("disposition") == cbv.DISPOSITIONS
    assert _schema_enum("disposition", "disposition-JSON-Schema.json") == cbv.DISPOSITIONS
    assert _context_terms("cbv-context-disposition.jsonld", "Disp-") == cbv.DISPOSITIONS


@pytest.mark.parametrize(
    ("definition", "file", "terms"),
    [
        ("bizTransaction-type", "bizTransaction-type-JSON-Schema.json", cbv.BIZ_TRANSACTION_TYPES),
        ("source-dest-type", "source-dest-type-JSON-Schema.json", cbv.SOURCE_DESTINATION_TYPES),
        ("error-reason", "error-reason-JSON-Schema.json", cbv.ERROR_REASONS),
        ("component", "component-JSON-Schema.json", cbv.COMPONENTS),
        ("measurementType", "measurement-type-JSON-Schema.json", cbv.MEASUREMENT_TYPES),
        ("sensorAlertType", "sensor-alert-type-JSON-Schema.json", cbv.SENSOR_ALERT_TYPES),
    ],
)
def test_other_vocabularies_match_schema(definition: str, file: str, terms: frozenset[str]) -> None:
    assert _schema_enum(definition) == terms
    assert _schema_enum(definition, file) == terms


def test_standard_prefixes_match_the_epcis_context() -> None:
    context = _load("epcis-context-root.jsonld")["@context"]
    for prefix, iri in cbv.STANDARD_PREFIXES.items():
        assert context[prefix] == iri


@pytest.mark.parametrize("term", sorted(cbv.BIZ_STEPS))
def test_every_biz_step_form_normalises(term: str) -> None:
    for form in (
        term,
        f"https://ref.gs1.org/cbv/BizStep-{term}",
        f"cbv:BizStep-{term}",
        f"urn:epcglobal:cbv:bizstep:{term}",
    ):
        assert cbv.normalize_biz_step(form) == term


@pytest.mark.parametrize("term", sorted(cbv.DISPOSITIONS))
def test_every_disposition_form_normalises(term: str) -> None:
    for form in (term, f"https://ref.gs1.org/cbv/Disp-{term}", f"urn:epcglobal:cbv:disp:{term}"):
        assert cbv.normalize_disposition(form) == term


def test_other_vocabulary_uri_forms() -> None:
    assert cbv.normalize_biz_transaction_type("urn:epcglobal:cbv:btt:po") == "po"
    assert cbv.normalize_biz_transaction_type("https://ref.gs1.org/cbv/BTT-desadv") == "desadv"
    assert cbv.normalize_source_destination_type("urn:epcglobal:cbv:sdt:location") == "location"
    assert cbv.normalize_error_reason("https://ref.gs1.org/cbv/ER-did_not_occur") == "did_not_occur"
    assert cbv.normalize_component("cbv:Comp-northing") == "northing"
    assert cbv.normalize_measurement_type("gs1:Temperature") == "Temperature"
    assert cbv.normalize_sensor_alert_type("ALARM_CONDITION") == "ALARM_CONDITION"


@pytest.mark.parametrize(
    ("value", "prefixes", "expected"),
    [
        ("https://example.com/bizstep/milling", None, "https://example.com/bizstep/milling"),
        ("http://epcis.example.org/hc/bizstep/x", None, "http://epcis.example.org/hc/bizstep/x"),
        ("urn:example:bizstep:milling", None, "urn:example:bizstep:milling"),
        ("ext1:milling", {"ext1": "http://example.com/ext1/"}, "http://example.com/ext1/milling"),
        # The standard context is @protected: a user context cannot redefine "cbv".
        ("cbv:BizStep-shipping", {"cbv": "https://evil.example/"}, "shipping"),
    ],
)
def test_user_biz_steps_are_kept_as_uris(
    value: str, prefixes: dict[str, str] | None, expected: str
) -> None:
    assert cbv.normalize_biz_step(value, prefixes) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("milling", "https://example.com/bizstep/milling"),
        ("Shipping", "not a standard bizStep"),
        ("notifying", "not a standard bizStep"),
        ("foo:bar", "authority"),
        ("urn:foo", "authority"),
        ("https://ref.gs1.org/cbv/BizStep-notifying", "reserves"),
        ("urn:epcglobal:cbv:bizstep:notifying", "reserves"),
        ("https://ns.gs1.org/cbv/BizStep-shipping", "reserves"),
        ("urn:epcglobal:cbv:disp:in_transit", "reserves"),
        ("shipping ", "not a standard bizStep"),
        ("ｓｈｉｐｐｉｎｇ", "not a standard bizStep"),
        (3, "must be a string"),
    ],
)
def test_bad_biz_steps_are_refused(value: object, words: str) -> None:
    with pytest.raises(MalformedVocabularyError, match=words) as caught:
        cbv.normalize_biz_step(value)
    assert caught.value.code == "malformed-vocabulary"


def test_lenient_vocabularies_accept_any_absolute_uri_like_the_schema() -> None:
    # The schema accepts "example:x" as a component even with "example" undeclared.
    assert cbv.normalize_component("example:x") == "example:x"
    with pytest.raises(MalformedVocabularyError):
        cbv.normalize_component("sideways")
    with pytest.raises(MalformedVocabularyError, match="reserves"):
        cbv.normalize_measurement_type("https://gs1.org/voc/Tempurature")
