"""The integer pricing path (``contracts.pricing``) gives exactly the reference's lines.

``ProductPricer.value`` must equal ``value_delivery`` line for line (exact amounts, rounded
amounts, days late, termination right, rejected quantity) whenever it answers, and must hand
every input the reference refuses back to it (answer None); ``RevenueSharer.split`` likewise
for ``revenue_share``; the renderers equal ``str(Fraction)``, ``round_exact`` and
``Money.amount``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import ContractError, RuleError
from contracts.facts import ConditionReading, Contribution, Delivery, Sale
from contracts.money import Money, Rounding, round_exact
from contracts.pricing import ProductPricer, RevenueSharer, minor_text, ratio_text, round_ratio
from contracts.rules import revenue_share, value_delivery
from contracts.terms import parse_terms
from tests.contracts.strategies import decimal_text, terms_documents

DAY = date(2026, 7, 10)
quantities = decimal_text(0, 10**5, 3).map(Decimal)


@settings(max_examples=300, deadline=None)
@given(
    document=terms_documents(),
    index=st.integers(0, 10),
    shipped=quantities.filter(lambda q: q > 0),
    received=quantities,
    late=st.integers(-5, 90),
    majeure=st.booleans(),
    values=st.lists(decimal_text(-30, 30, 2).map(Decimal), max_size=3),
    market=st.none() | decimal_text(-5, 50, 3).map(Decimal),
    prior=quantities,
    extra=quantities,
)
def test_product_pricer_equals_value_delivery(
    document: dict[str, object],
    index: int,
    shipped: Decimal,
    received: Decimal,
    late: int,
    majeure: bool,
    values: list[Decimal],
    market: Decimal | None,
    prior: Decimal,
    extra: Decimal,
) -> None:
    terms = parse_terms(document)
    product = terms.products[index % len(terms.products)]
    measures = [c.measure for c in product.conditions] or ["temperature"]
    units = [c.unit for c in product.conditions] or ["CEL"]
    readings = tuple(
        ConditionReading(measures[i % len(measures)], v, units[i % len(units)])
        for i, v in enumerate(values)
    )
    if product.pricing.basis == "market" and market is None:
        market = Decimal("3.5")
    total = received + extra
    quantity = max(shipped, received)
    fact = Delivery(
        "d-1",
        product.gtin,
        product.unit,
        quantity,
        received,
        quantity - received,
        DAY - timedelta(days=late),
        DAY,
        readings,
        majeure,
    )
    fast = ProductPricer(terms, product).value(
        shipped=shipped,
        received=received,
        due=DAY - timedelta(days=late),
        delivered=DAY,
        force_majeure=majeure,
        readings=readings,
        market_price=market,
        prior_volume=prior,
        period_volume=total,
    )
    try:
        reference = value_delivery(
            terms, fact, market_price=market, prior_volume=prior, period_volume=total
        )
    except RuleError:
        assert fast is None
        return
    if fast is not None:
        assert fast.valuation("d-1", terms.money_currency) == reference


@settings(max_examples=300, deadline=None)
@given(
    document=terms_documents(),
    revenue=st.integers(-(10**9), 10**9),
    picks=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 10**6)), min_size=1, max_size=6),
)
def test_revenue_sharer_equals_revenue_share(
    document: dict[str, object], revenue: int, picks: list[tuple[int, int]]
) -> None:
    terms = parse_terms(document)
    if terms.revenue_share is None:
        return
    suppliers = [s.supplier for s in terms.revenue_share.shares] + ["outsider"]
    weights = [w for _, w in picks]
    whole = sum(weights) or 1
    contributions = [
        Contribution(f"lot-{n}", suppliers[s % len(suppliers)], Decimal(w) / Decimal(whole))
        for n, (s, w) in enumerate(picks)
    ]
    money = Money(revenue, terms.money_currency)
    fast = RevenueSharer(terms).split("7", money, contributions)
    try:
        reference = revenue_share(terms, Sale("7", "sold", money), contributions)
    except ContractError:
        assert fast is None
        return
    assert fast == reference


@given(st.integers(), st.integers(1, 10**12), st.sampled_from(list(Rounding)))
def test_ratio_rendering_and_rounding(numerator: int, denominator: int, mode: Rounding) -> None:
    value = Fraction(numerator, denominator)
    assert ratio_text(numerator, denominator) == (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )
    assert round_ratio(numerator, denominator, mode) == round_exact(value, mode)


@given(st.integers(-(10**30), 10**30), st.sampled_from(["EUR", "JPY", "KWD", "CLF"]))
def test_minor_text_equals_money_amount(minor: int, code: str) -> None:
    money = Money.of(minor, code)
    assert minor_text(minor, money.currency.exponent) == money.amount
