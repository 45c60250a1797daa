"""Invalid contract terms are refused with a message that names the offending field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.errors import InvalidTermsError
from contracts.terms import parse_terms
from tests.contracts.samples import set_path, terms_document
from tests.contracts.strategies import terms_documents

Doc = dict[str, Any]

FLOUR_TIERS = "products.2.pricing.tiers.tiers"


def put(path: str, value: Any) -> Callable[[Doc], Doc]:
    return lambda document: set_path(document, path, value)


def without(path: str) -> Callable[[Doc], Doc]:
    *parents, last = path.split(".")

    def remove(document: Doc) -> Doc:
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]
        return document

    return remove


# (mutation of the sample, field path reported, fragment of the message)
CASES: dict[str, tuple[Callable[[Doc], Doc], str, str]] = {
    "unknown-field": (put("colour", "red"), "colour", "Extra inputs are not permitted"),
    "unknown-nested-field": (
        put("payment.late_interest.compound", True),
        "payment.late_interest.compound",
        "Extra inputs",
    ),
    "missing-field": (without("payment"), "payment", "Field required"),
    "negative-price": (
        put("products.1.pricing.unit_price", "-4.20"),
        "products.1.pricing.unit_price",
        "greater than or equal to 0",
    ),
    "negative-premium": (
        put("products.0.pricing.premium", "-0.01"),
        "products.0.pricing.premium",
        "greater than or equal to 0",
    ),
    "negative-tier-price": (
        put(f"{FLOUR_TIERS}.1.unit_price", "-0.75"),
        f"{FLOUR_TIERS}.1.unit_price",
        "greater than or equal to 0",
    ),
    "payment-term-above-statutory-maximum": (
        put("payment.net_days", 75),
        "payment.net_days",
        "exceeds the declared statutory maximum",
    ),
    "overlapping-volume-tiers": (
        put(f"{FLOUR_TIERS}.1.from_quantity", "900"),
        f"{FLOUR_TIERS}.1",
        "overlaps tier 0",
    ),
    "volume-tiers-out-of-order": (
        lambda d: set_path(
            d, FLOUR_TIERS, [d["products"][2]["pricing"]["tiers"]["tiers"][i] for i in (1, 0, 2)]
        ),
        f"{FLOUR_TIERS}.1",
        "ascending order",
    ),
    "volume-tier-gap-not-agreed": (
        put(f"{FLOUR_TIERS}.1.from_quantity", "1100"),
        f"{FLOUR_TIERS}.1.from_quantity",
        "gap",
    ),
    "open-tier-not-last": (
        without(f"{FLOUR_TIERS}.0.to_quantity"),
        f"{FLOUR_TIERS}.0.to_quantity",
        "only the last tier may be open-ended",
    ),
    "inverted-tier-bounds": (
        put(f"{FLOUR_TIERS}.0.to_quantity", "0"),
        f"{FLOUR_TIERS}.0.to_quantity",
        "greater than from_quantity",
    ),
    "revenue-shares-above-100": (
        put(
            "revenue_share.shares",
            [
                {"supplier": "finca-aurora", "percent": "60"},
                {"supplier": "finca-brisa", "percent": "40.01"},
            ],
        ),
        "revenue_share.shares",
        "add up to 100.01%, above 100%",
    ),
    "percent-above-100": (
        put("late_delivery.percent_per_period", "100.5"),
        "late_delivery.percent_per_period",
        "less than or equal to 100",
    ),
    "negative-percent": (
        put("revenue_share.shares.0.percent", "-2"),
        "revenue_share.shares.0.percent",
        "greater than or equal to 0",
    ),
    "cap-below-zero": (
        put("late_delivery.cap_percent", "-1"),
        "late_delivery.cap_percent",
        "greater than or equal to 0",
    ),
    "condition-cap-below-zero": (
        put("products.1.conditions.0.cap_percent", "-5"),
        "products.1.conditions.0.cap_percent",
        "greater than or equal to 0",
    ),
    "inverted-condition-range": (
        put("products.1.conditions.0.minimum", "8"),
        "products.1.conditions.0.minimum",
        "inverted range: minimum 8 is above maximum 4",
    ),
    "inverted-validity-period": (
        put("valid_until", "2025-12-31"),
        "valid_until",
        "inverted validity period",
    ),
    "unknown-currency": (put("currency", "EUX"), "currency", "not in the ISO 4217 list"),
    "currency-without-minor-unit": (put("currency", "XAU"), "currency", "no minor unit"),
    "lower-case-currency": (put("currency", "eur"), "currency", "three upper-case letters"),
    "float-price": (
        put("products.1.pricing.unit_price", 4.2),
        "products.1.pricing.unit_price",
        "got float",
    ),
    "int-price": (
        put("products.1.pricing.unit_price", 4),
        "products.1.pricing.unit_price",
        "expected a decimal string",
    ),
    "exponent-notation": (
        put("products.1.pricing.unit_price", "4.2E0"),
        "products.1.pricing.unit_price",
        "no exponent",
    ),
    "nan": (put("late_delivery.cap_percent", "NaN"), "late_delivery.cap_percent", "decimal"),
    "bool-as-int": (
        put("late_delivery.period_days", True),
        "late_delivery.period_days",
        "valid integer",
    ),
    "string-as-int": (put("payment.net_days", "30"), "payment.net_days", "valid integer"),
    "bad-gtin-check-digit": (
        put("products.0.gtin", "07612345000016"),
        "products.0.gtin",
        "check digit",
    ),
    "short-gtin": (put("products.0.gtin", "7612345000015"), "products.0.gtin", "14-digit"),
    "duplicate-gtin": (
        put("products.1.gtin", "07612345000015"),
        "products",
        "GTINs must not repeat",
    ),
    "bad-participant-id": (put("parties.1.id", "Finca Aurora"), "parties.1.id", "pattern"),
    "duplicate-party": (put("parties.2.id", "finca-aurora"), "parties", "must not repeat"),
    "no-buyer": (put("parties.0.roles", ["supplier"]), "parties", "must be a buyer"),
    "roles-as-set": (put("parties.0.roles", {"buyer"}), "parties.0.roles", "tuple"),
    "unknown-rounding-mode": (
        put("rounding.mode", "ROUND_05UP"),
        "rounding.mode",
        "expected one of ROUND_HALF_EVEN",
    ),
    "unknown-rounding-point": (put("rounding.point", "per_total"), "rounding.point", "per_line"),
    "unsupported-version": (put("version", 2), "version", "unsupported terms version 2"),
    "datetime-for-date": (
        put("valid_from", "2026-01-01T00:00:00Z"),
        "valid_from",
        "ISO 8601 date",
    ),
    "impossible-date": (put("valid_from", "2026-02-30"), "valid_from", "not a valid calendar"),
    "compensation-below-directive-minimum": (
        put("payment.fixed_compensation", "39.99"),
        "payment.fixed_compensation",
        "below the EUR 40 minimum",
    ),
    "compensation-finer-than-a-cent": (
        put("payment.fixed_compensation", "40.001"),
        "payment.fixed_compensation",
        "finer than its minor unit",
    ),
    "share-to-a-non-party": (
        put("revenue_share.shares.1.supplier", "finca-cielo"),
        "revenue_share.shares.1.supplier",
        "not a party with the supplier role",
    ),
    "share-payer-not-a-buyer": (
        put("revenue_share.payer", "audit.example"),
        "revenue_share.payer",
        "buyer role",
    ),
    "discount-period-not-shorter-than-term": (
        put("payment.early_payment.within_days", 30),
        "payment.early_payment.within_days",
        "must be shorter than net_days",
    ),
    "reference-rates-not-ascending": (
        put("payment.late_interest.reference_rates.1.effective_from", "2025-01-01"),
        "payment.late_interest.reference_rates.1.effective_from",
        "ascending",
    ),
    "market-basis-without-reference": (
        without("products.0.pricing.market"),
        "products.0.pricing.market",
        "must name the market reference",
    ),
    "agreed-price-twice": (
        put("products.2.pricing.unit_price", "0.80"),
        "products.2.pricing.unit_price",
        "exactly one of unit_price or tiers",
    ),
    "unknown-day-count": (
        put("payment.late_interest.day_count", "30/360"),
        "payment.late_interest.day_count",
        "ACT/365",
    ),
    "condition-caps-above-100": (
        lambda d: set_path(
            d,
            "products.1.conditions",
            [
                d["products"][1]["conditions"][0] | {"cap_percent": "60"},
                d["products"][1]["conditions"][0] | {"measure": "humidity", "cap_percent": "50"},
            ],
        ),
        "products.1.conditions",
        "caps add up to 110%",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_with_the_field_named(case: str) -> None:
    mutate, field, fragment = CASES[case]
    with pytest.raises(InvalidTermsError) as caught:
        parse_terms(mutate(terms_document()))
    error = caught.value
    assert error.field == field, error.message
    assert f"{field}: " in error.message
    assert fragment in error.message
    assert error.code == "invalid-terms"


def test_every_problem_is_reported() -> None:
    document = terms_document()
    set_path(document, "currency", "EUX")
    set_path(document, "payment.net_days", 90)
    set_path(document, "products.1.pricing.unit_price", 4.2)
    with pytest.raises(InvalidTermsError) as caught:
        parse_terms(document)
    fields = [field for field, _ in caught.value.errors]
    assert fields == ["currency", "products.1.pricing.unit_price", "payment.net_days"]


def test_non_object_refused() -> None:
    with pytest.raises(InvalidTermsError, match="terms"):
        parse_terms(["not", "terms"])


# Mutations that break any valid document, with the field they break.
BREAKERS: list[tuple[str, Callable[[Doc], Doc]]] = [
    (
        "payment.net_days",
        lambda d: set_path(d, "payment.net_days", d["payment"]["statutory_max_days"] + 1),
    ),
    ("payment.surplus", put("payment.surplus", "1")),
    ("currency", put("currency", "ZZZ")),
    ("payment.fixed_compensation", put("payment.fixed_compensation", "-1")),
    ("payment.late_interest.margin_percent", put("payment.late_interest.margin_percent", 8.0)),
    ("payment.late_interest.margin_percent", put("payment.late_interest.margin_percent", "100.1")),
    ("products.0.pricing.premium", put("products.0.pricing.premium", "-1")),
    ("valid_until", lambda d: set_path(d, "valid_until", "2019-12-31")),
    ("parties.0.id", put("parties.0.id", "-bad")),
]


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(document=terms_documents(), breaker=st.sampled_from(BREAKERS))
def test_invalid_terms_are_refused(
    document: Doc, breaker: tuple[str, Callable[[Doc], Doc]]
) -> None:
    field, mutate = breaker
    with pytest.raises(InvalidTermsError) as caught:
        parse_terms(mutate(document))
    assert field in [path for path, _ in caught.value.errors]
