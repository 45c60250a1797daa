"""Delivery rules: prices (floor + premium, tiers), rejection, late and condition penalties.

All amounts refer to the sample terms in ``tests/contracts/samples.py`` (EUR, half-even).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import InvalidFactError, RuleError
from contracts.facts import ConditionReading, Delivery
from contracts.money import Currency, Money, to_minor
from contracts.rules import (
    LineKind,
    condition_penalty,
    condition_reduction_percent,
    days_late,
    goods_value,
    late_delivery_penalty,
    termination_right,
    value_delivery,
)
from contracts.terms import ContractTerms
from tests.contracts.samples import (
    GTIN_BERRIES,
    GTIN_COFFEE,
    GTIN_FLOUR,
    changed,
    sample_terms,
    set_path,
    terms_document,
)

EUR = Currency("EUR")
TERMS = sample_terms()
DUE = date(2026, 3, 2)


def delivery(
    gtin: str = GTIN_BERRIES,
    accepted: str = "100",
    rejected: str = "0",
    delivered: date = DUE,
    **extra: Any,
) -> Delivery:
    quantity = Decimal(accepted) + Decimal(rejected)
    return Delivery(
        delivery_id="d-1",
        gtin=gtin,
        unit="KGM",
        quantity=quantity,
        accepted=Decimal(accepted),
        rejected=Decimal(rejected),
        due=DUE,
        delivered=delivered,
        **extra,
    )


def eur(text: str) -> Money:
    return Money.parse(text, EUR)


def celsius(*values: str) -> tuple[ConditionReading, ...]:
    return tuple(ConditionReading("temperature", Decimal(value), "CEL") for value in values)


# Prices ---------------------------------------------------------------------------------


def test_unit_price_and_quality_rejection() -> None:
    """Strawberries at the agreed 4.20 EUR/kg; 120 kg shipped, 15 kg rejected.

    Only the accepted 105 kg are paid: 105 × 4.20 = 441.00 EUR.
    """
    line = goods_value(TERMS, delivery(accepted="105", rejected="15"))
    assert line.kind is LineKind.GOODS
    assert line.amount == eur("441.00")


def test_floor_applies_when_the_market_is_below_it() -> None:
    """Coffee, market 3.10 EUR/kg, floor 3.70, premium 0.44, organic differential 0.88.

    price = max(3.10, 3.70) + 0.44 + 0.88 = 5.02 EUR/kg; 1000 kg → 5020.00 EUR.
    """
    line = goods_value(TERMS, delivery(GTIN_COFFEE, "1000"), market_price=Decimal("3.10"))
    assert line.amount == eur("5020.00")


def test_market_price_applies_above_the_floor() -> None:
    """Market 4.25 > floor 3.70: price = 4.25 + 0.44 + 0.88 = 5.57 EUR/kg; 600 kg → 3342.00."""
    line = goods_value(TERMS, delivery(GTIN_COFFEE, "600"), market_price=Decimal("4.25"))
    assert line.amount == eur("3342.00")


def test_graduated_volume_tiers() -> None:
    """Flour: 0.80 below 1000 kg, 0.75 from 1000 to 5000, 0.70 above (per period).

    800 kg already delivered this period; this delivery's 700 kg occupy [800, 1500):
    200 kg × 0.80 = 160.00, 500 kg × 0.75 = 375.00; total 535.00 EUR.
    """
    line = goods_value(TERMS, delivery(GTIN_FLOUR, "700"), prior_volume=Decimal(800))
    assert line.amount == eur("535.00")


def test_all_units_volume_tiers() -> None:
    """Same tiers priced all-units: the period total of 6000 kg falls in the 0.70 tier, so
    every unit of this 700 kg delivery costs 0.70: 490.00 EUR."""
    terms = changed("products.2.pricing.tiers.method", "all_units")
    line = goods_value(terms, delivery(GTIN_FLOUR, "700"), period_volume=Decimal(6000))
    assert line.amount == eur("490.00")
    with pytest.raises(RuleError, match="period's total accepted volume"):
        goods_value(terms, delivery(GTIN_FLOUR, "700"))


def test_volume_in_an_agreed_gap_has_no_price() -> None:
    """Tiers [0, 1000) and [1200, ∞) with gaps allowed: 300 kg after 900 kg would cover
    [900, 1200), of which [1000, 1200) has no agreed price."""
    document = terms_document()
    set_path(document, "products.2.pricing.tiers.gaps_allowed", True)
    set_path(document, "products.2.pricing.tiers.tiers.1.from_quantity", "1200")
    set_path(document, "products.2.pricing.tiers.tiers.1.to_quantity", "5000")
    terms = ContractTerms.model_validate(document)
    with pytest.raises(RuleError, match="no price is agreed"):
        goods_value(terms, delivery(GTIN_FLOUR, "300"), prior_volume=Decimal(900))
    assert goods_value(terms, delivery(GTIN_FLOUR, "100"), prior_volume=Decimal(0)).amount == (
        eur("80.00")
    )


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        pytest.param(lambda: delivery(GTIN_COFFEE), {}, "market price is required", id="no-market"),
        pytest.param(
            lambda: delivery(GTIN_BERRIES),
            {"market_price": Decimal(4)},
            "no market price applies",
            id="market-for-agreed",
        ),
        pytest.param(lambda: delivery("09506000134352"), {}, "not covered", id="unknown-product"),
    ],
)
def test_goods_value_refusals(make: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        goods_value(TERMS, make(), **kwargs)


def test_unit_mismatch_refused() -> None:
    wrong_unit = Delivery("d-2", GTIN_BERRIES, "LBR", Decimal(1), Decimal(1), Decimal(0), DUE, DUE)
    with pytest.raises(RuleError, match="per KGM"):
        goods_value(TERMS, wrong_unit)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"accepted": Decimal(90)}, id="accepted-plus-rejected-not-quantity"),
        pytest.param({"quantity": 100.0}, id="float-quantity"),
        pytest.param({"rejected": Decimal(-1), "accepted": Decimal(101)}, id="negative"),
        pytest.param({"delivered": "2026-03-02"}, id="string-date"),
    ],
)
def test_malformed_delivery_refused(fields: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "delivery_id": "d",
        "gtin": GTIN_BERRIES,
        "unit": "KGM",
        "quantity": Decimal(100),
        "accepted": Decimal(100),
        "rejected": Decimal(0),
        "due": DUE,
        "delivered": DUE,
    }
    with pytest.raises(InvalidFactError):
        Delivery(**(base | fields))


# Late delivery --------------------------------------------------------------------------


def coffee_goods(delivered: date, force_majeure: bool = False) -> tuple[Delivery, Any]:
    d = delivery(GTIN_COFFEE, "1000", delivered=delivered, force_majeure=force_majeure)
    return d, goods_value(TERMS, d, market_price=Decimal("3.10"))


def test_late_delivery_penalty_pro_rata() -> None:
    """5020.00 EUR of coffee due 2 March, delivered 12 March: 10 days late.

    0.5 % per 7 days, pro rata: 0.5 % × 10/7 = 0.714285..% of 502000 cents
    = 502000 × 5/700 = 3585.714.. cents → 3586 (half-even) → penalty −35.86 EUR.
    """
    d, goods = coffee_goods(date(2026, 3, 12))
    assert days_late(d) == 10
    penalty = late_delivery_penalty(TERMS, d, goods)
    assert penalty.exact == Fraction(-2510000, 700)
    assert penalty.amount == eur("-35.86")
    assert not termination_right(TERMS, d)


def test_late_delivery_penalty_capped() -> None:
    """80 days late: 0.5 % × 80/7 = 5.71 % exceeds the 5 % cap, so the penalty is 5 % of
    5020.00 = 251.00 EUR; more than 30 days late also gives the right to terminate."""
    d, goods = coffee_goods(DUE + timedelta(days=80))
    assert late_delivery_penalty(TERMS, d, goods).amount == eur("-251.00")
    assert termination_right(TERMS, d)


def test_force_majeure_exempts_penalty_and_termination() -> None:
    d, goods = coffee_goods(DUE + timedelta(days=80), force_majeure=True)
    assert late_delivery_penalty(TERMS, d, goods).amount.is_zero()
    assert not termination_right(TERMS, d)


def test_termination_right_arises_after_the_threshold() -> None:
    """``termination_after_days`` 30: 30 days late gives no right, 31 days does."""
    assert not termination_right(TERMS, delivery(delivered=DUE + timedelta(days=30)))
    assert termination_right(TERMS, delivery(delivered=DUE + timedelta(days=31)))


def test_early_or_on_time_delivery_owes_nothing() -> None:
    d, goods = coffee_goods(DUE - timedelta(days=3))
    assert days_late(d) == 0
    assert late_delivery_penalty(TERMS, d, goods).amount.is_zero()


@given(
    accepted=st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False),
    late=st.integers(min_value=0, max_value=400),
    percent=st.decimals(min_value=0, max_value=100, places=2, allow_nan=False),
    cap=st.decimals(min_value=0, max_value=100, places=2, allow_nan=False),
    period=st.integers(min_value=1, max_value=31),
)
def test_late_penalty_never_exceeds_its_cap(
    accepted: Decimal, late: int, percent: Decimal, cap: Decimal, period: int
) -> None:
    document = terms_document()
    set_path(document, "late_delivery.percent_per_period", f"{percent:f}")
    set_path(document, "late_delivery.cap_percent", f"{cap:f}")
    set_path(document, "late_delivery.period_days", period)
    terms = ContractTerms.model_validate(document)
    d = delivery(accepted=f"{accepted:f}", rejected="1", delivered=DUE + timedelta(days=late))
    goods = goods_value(terms, d)
    penalty = late_delivery_penalty(terms, d, goods)
    cap_exact = goods.exact * Fraction(cap) / 100
    assert 0 <= -penalty.exact <= cap_exact
    assert penalty.amount >= to_minor(-cap_exact, EUR, terms.rounding.mode)
    assert penalty.amount == to_minor(penalty.exact, EUR, terms.rounding.mode)


# Condition ------------------------------------------------------------------------------


def test_condition_penalty_from_the_worst_excursion() -> None:
    """105 kg of strawberries (441.00 EUR) kept at 0–4 °C; readings 3.5, 5.5, 6.25, −0.5 °C.

    Excursions 0, 1.5, 2.25 and 0.5 °C; the worst is 2.25 °C. At 5 % per degree the price
    drops 11.25 %: 44100 × 0.1125 = 4961.25 cents → 4961 (half-even) → −49.61 EUR.
    """
    d = delivery(accepted="105", readings=celsius("3.5", "5.5", "6.25", "-0.5"))
    goods = goods_value(TERMS, d)
    berries = TERMS.product(GTIN_BERRIES)
    assert berries is not None
    assert condition_reduction_percent(berries, d.readings) == Fraction("11.25")
    assert condition_penalty(TERMS, d, goods).amount == eur("-49.61")


def test_condition_penalty_capped() -> None:
    """A reading of 12 °C is 8 °C out: 8 × 5 % = 40 %, capped at 30 %: 441.00 × 0.30 =
    132.30 EUR."""
    d = delivery(accepted="105", readings=celsius("12"))
    assert condition_penalty(TERMS, d, goods_value(TERMS, d)).amount == eur("-132.30")


def test_condition_readings_inside_range_or_absent_cost_nothing() -> None:
    for readings in (celsius("0", "4", "2.2"), ()):
        d = delivery(readings=readings)
        assert condition_penalty(TERMS, d, goods_value(TERMS, d)).amount.is_zero()


def test_condition_reading_in_another_unit_refused() -> None:
    d = delivery(readings=(ConditionReading("temperature", Decimal(40), "FAH"),))
    with pytest.raises(RuleError, match="FAH"):
        condition_penalty(TERMS, d, goods_value(TERMS, d))


@given(
    readings=st.lists(
        st.decimals(min_value=-50, max_value=60, places=2, allow_nan=False), max_size=8
    ),
    accepted=st.decimals(min_value=0, max_value=10**5, places=2, allow_nan=False),
)
def test_condition_penalty_never_exceeds_its_cap(
    readings: list[Decimal], accepted: Decimal
) -> None:
    d = delivery(
        accepted=f"{accepted:f}", rejected="1", readings=celsius(*(f"{r:f}" for r in readings))
    )
    goods = goods_value(TERMS, d)
    penalty = condition_penalty(TERMS, d, goods)
    cap_exact = goods.exact * Fraction(30, 100)
    assert 0 <= -penalty.exact <= cap_exact
    assert penalty.amount >= to_minor(-cap_exact, EUR, TERMS.rounding.mode)


# Whole delivery, rounding once ----------------------------------------------------------


def test_value_delivery_combines_the_lines() -> None:
    """105 kg accepted, 15 rejected, 10 days late, worst reading 6.25 °C.

    goods 441.00; late: 44100 × 0.5 % × 10/7 = 315 cents → −3.15; condition: −49.61 (above).
    net = 441.00 − 3.15 − 49.61 = 388.24 EUR.
    """
    d = delivery(
        accepted="105",
        rejected="15",
        delivered=DUE + timedelta(days=10),
        readings=celsius("6.25"),
    )
    valuation = value_delivery(TERMS, d)
    assert [line.amount for line in valuation.lines] == [
        eur("441.00"),
        eur("-3.15"),
        eur("-49.61"),
    ]
    assert valuation.net == eur("388.24")
    assert valuation.days_late == 10
    assert valuation.rejected == Decimal(15)
    assert not valuation.termination_right


@given(
    prior=st.decimals(min_value=0, max_value=8000, places=3, allow_nan=False),
    accepted=st.decimals(min_value=0, max_value=8000, places=3, allow_nan=False),
)
def test_goods_line_is_rounded_once_over_its_tier_parts(prior: Decimal, accepted: Decimal) -> None:
    """The graduated line equals ``to_minor`` of the exact sum of its tier parts, not the sum
    of separately rounded parts."""
    tiers = [
        (Fraction(0), Fraction(1000), Fraction("0.80")),
        (Fraction(1000), Fraction(5000), Fraction("0.75")),
        (Fraction(5000), None, Fraction("0.70")),
    ]
    start, end = Fraction(prior), Fraction(prior) + Fraction(accepted)
    expected = Fraction(0)
    for low, high, price in tiers:
        top = end if high is None else min(end, high)
        expected += max(Fraction(0), top - max(start, low)) * price * 100
    d = delivery(GTIN_FLOUR, f"{accepted:f}", rejected="1")
    line = goods_value(TERMS, d, prior_volume=prior)
    assert line.exact == expected
    assert line.amount == to_minor(expected, EUR, TERMS.rounding.mode)
