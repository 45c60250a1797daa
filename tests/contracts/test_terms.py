"""Contract terms: the sample parses, its hash is canonical, and every document round-trips."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

import pydantic
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings

from contracts.money import Currency, Rounding
from contracts.terms import ContractTerms, parse_terms, terms_hash
from ledger.canonical import canonical_bytes, parse_json
from tests.contracts.samples import GTIN_BERRIES, changed, terms_document
from tests.contracts.strategies import terms_documents

#: Pins the wire form of the sample terms (JCS bytes of model_dump(mode="json")). If it
#: changes, the terms schema or the sample changed: contracts accepted earlier no longer match.
SAMPLE_TERMS_HASH = "24735c2586721095127c4044b7aedf41f40aca1bd22de1aff2d10d635f649425"


def test_sample_terms_parse() -> None:
    terms = parse_terms(terms_document())
    assert terms.currency == "EUR"
    assert terms.money_currency == Currency("EUR")
    assert terms.rounding.mode is Rounding.HALF_EVEN
    assert terms.valid_from == date(2026, 1, 1)
    assert terms.parties_with("supplier") == ("finca-aurora", "finca-brisa")
    berries = terms.product(GTIN_BERRIES)
    assert berries is not None
    assert berries.pricing.unit_price == Decimal("4.20")
    assert terms.product("00000000000000") is None


def test_terms_hash_is_sha256_of_rfc8785_bytes() -> None:
    terms = parse_terms(terms_document())
    dumped = terms.model_dump(mode="json")
    assert terms_hash(terms) == hashlib.sha256(rfc8785.dumps(dumped)).hexdigest()
    assert terms_hash(terms) == SAMPLE_TERMS_HASH


def test_json_form_holds_decimal_strings_not_numbers() -> None:
    dumped = parse_terms(terms_document()).model_dump(mode="json")
    assert dumped["products"][1]["pricing"]["unit_price"] == "4.20"
    assert dumped["payment"]["late_interest"]["reference_rates"][0] == {
        "effective_from": "2025-06-11",
        "percent": "2.15",
    }
    assert dumped["rounding"] == {"mode": "ROUND_HALF_EVEN", "point": "per_line"}


def test_any_change_changes_the_hash() -> None:
    assert terms_hash(changed("products.1.pricing.unit_price", "4.21")) != SAMPLE_TERMS_HASH
    assert terms_hash(changed("payment.net_days", 29)) != SAMPLE_TERMS_HASH


def test_python_objects_are_accepted_too() -> None:
    """Decimal, date and enum objects validate like their JSON spellings; the hash is equal."""
    document = terms_document()
    document["rounding"]["mode"] = Rounding.HALF_EVEN
    document["valid_from"] = date(2026, 1, 1)
    document["products"][1]["pricing"]["unit_price"] = Decimal("4.20")
    document["parties"] = tuple(document["parties"])
    assert terms_hash(parse_terms(document)) == SAMPLE_TERMS_HASH


def test_terms_are_frozen() -> None:
    terms = parse_terms(terms_document())
    with pytest.raises(pydantic.ValidationError):
        terms.currency = "USD"  # type: ignore[misc]


def test_parse_terms_passes_models_through() -> None:
    terms = parse_terms(terms_document())
    assert parse_terms(terms) is terms


def _round_trips(document: dict[str, Any]) -> None:
    terms = parse_terms(document)
    digest = terms_hash(terms)
    via_json = ContractTerms.model_validate(terms.model_dump(mode="json"))
    via_python = ContractTerms.model_validate(terms.model_dump())
    via_wire = parse_terms(parse_json(canonical_bytes(terms.model_dump(mode="json"))))
    via_text = ContractTerms.model_validate_json(terms.model_dump_json())
    for again in (via_json, via_python, via_wire, via_text):
        assert again == terms
        assert terms_hash(again) == digest


def test_sample_round_trips() -> None:
    _round_trips(terms_document())


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(document=terms_documents())
def test_terms_round_trip_with_the_same_hash(document: dict[str, Any]) -> None:
    _round_trips(document)
