"""Revenue share flowing upstream: pool rounded once, split by allocate, parts add up."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import CurrencyMismatchError, InvalidFactError, RuleError
from contracts.facts import Contribution, Sale
from contracts.money import Currency, Money, to_minor
from contracts.rules import LineKind, revenue_share
from tests.contracts.samples import sample_terms

EUR = Currency("EUR")
TERMS = sample_terms()  # finca-aurora 2 %, finca-brisa 1.5 %
SALE = Sale("sale-7", "lgtin-roast-7", Money.parse("12345.67", EUR))


def contribution(lot: str, supplier: str, fraction: str) -> Contribution:
    return Contribution(lot, supplier, Decimal(fraction))


def test_worked_revenue_share() -> None:
    """A roasted lot sold for 12,345.67 EUR (1,234,567 cents). Provenance: 60 % from lot A and
    10 % from lot C (finca-aurora, 2 %), 25 % from lot B (finca-brisa, 1.5 %), 5 % from lot D
    of a farm without a share.

    Weights f × percent: A 1.2, B 0.375, C 0.2, D 0 (sum 1.775).
    Exact shares: A 14,814.804, B 4,629.62625, C 2,469.134, D 0 cents.
    Pool: 1,234,567 × 1.775 / 100 = 21,913.56425 → 21,914 cents (half-even), one line.
    Split 21,914 by 1.2 : 0.375 : 0.2 : 0 → 14,815.0986, 4,629.7183, 2,469.1831, 0;
    floors 14,815 + 4,629 + 2,469 = 21,913; the leftover cent goes to the largest remainder
    (B, 0.7183): A 148.15, B 46.30, C 24.69, D 0.00 EUR.
    Per supplier: finca-aurora 148.15 + 24.69 = 172.84, finca-brisa 46.30.
    """
    result = revenue_share(
        TERMS,
        SALE,
        [
            contribution("lot-a", "finca-aurora", "0.60"),
            contribution("lot-b", "finca-brisa", "0.25"),
            contribution("lot-c", "finca-aurora", "0.10"),
            contribution("lot-d", "finca-cielo", "0.05"),
        ],
    )
    assert result.pool.kind is LineKind.REVENUE_SHARE
    assert result.pool.exact == Fraction("21913.56425")
    assert result.pool.amount == Money(21914, EUR)
    assert [part.amount.minor for part in result.parts] == [14815, 4630, 2469, 0]
    assert [part.exact for part in result.parts] == [
        Fraction("14814.804"),
        Fraction("4629.62625"),
        Fraction("2469.134"),
        Fraction(0),
    ]
    assert result.by_supplier() == {
        "finca-aurora": Money(17284, EUR),
        "finca-brisa": Money(4630, EUR),
        "finca-cielo": Money(0, EUR),
    }


def test_credit_note_reverses_symmetrically() -> None:
    refund = Sale("sale-8", "lgtin-roast-7", Money.parse("-12345.67", EUR))
    lots = [
        contribution("lot-a", "finca-aurora", "0.60"),
        contribution("lot-b", "finca-brisa", "0.25"),
    ]
    forward = revenue_share(TERMS, SALE, lots)
    backward = revenue_share(TERMS, refund, lots)
    assert backward.pool.amount == -forward.pool.amount
    assert [p.amount for p in backward.parts] == [-p.amount for p in forward.parts]


def test_no_shareholder_among_the_contributors() -> None:
    result = revenue_share(TERMS, SALE, [contribution("lot-x", "finca-cielo", "1")])
    assert result.pool.amount.is_zero()
    assert [part.amount for part in result.parts] == [Money(0, EUR)]


@pytest.mark.parametrize(
    ("contributions", "error", "message"),
    [
        pytest.param(
            [contribution("a", "finca-aurora", "0.6"), contribution("a", "finca-brisa", "0.2")],
            InvalidFactError,
            "repeat",
            id="repeated-lot",
        ),
        pytest.param(
            [contribution("a", "finca-aurora", "0.6"), contribution("b", "finca-brisa", "0.5")],
            InvalidFactError,
            "more than 1",
            id="fractions-above-one",
        ),
    ],
)
def test_bad_contributions_refused(
    contributions: list[Contribution], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        revenue_share(TERMS, SALE, contributions)


def test_fraction_above_one_refused_on_construction() -> None:
    with pytest.raises(InvalidFactError, match="at most 1"):
        contribution("a", "finca-aurora", "1.01")


def test_contract_without_revenue_share_refused() -> None:
    with pytest.raises(RuleError, match="no revenue-share terms"):
        revenue_share(sample_terms(revenue_share=None), SALE, [])


def test_sale_in_another_currency_refused() -> None:
    sale = Sale("s", "lot", Money.parse("10.00", "USD"))
    with pytest.raises(CurrencyMismatchError):
        revenue_share(TERMS, sale, [])


MICRO = Decimal("0.000001")
fractions_strategy = st.lists(
    st.tuples(
        st.sampled_from(["finca-aurora", "finca-brisa", "finca-cielo"]),
        st.decimals(min_value=0, max_value=1, places=4, allow_nan=False),
    ),
    min_size=1,
    max_size=12,
)


@given(revenue=st.integers(min_value=-(10**11), max_value=10**11), raw=fractions_strategy)
def test_parts_add_up_to_the_pool_and_stay_within_a_unit(
    revenue: int, raw: list[tuple[str, Decimal]]
) -> None:
    total = sum((fraction for _, fraction in raw), Decimal(0))
    scale = max(total, Decimal(1))
    contributions = [
        Contribution(f"lot-{i}", supplier, (fraction / scale).quantize(MICRO, ROUND_DOWN))
        for i, (supplier, fraction) in enumerate(raw)
    ]
    result = revenue_share(TERMS, Sale("s", "lot", Money(revenue, EUR)), contributions)
    percent = {
        "finca-aurora": Fraction(2),
        "finca-brisa": Fraction(3, 2),
        "finca-cielo": Fraction(0),
    }
    weights = [Fraction(c.fraction) * percent[c.supplier] for c in contributions]
    exact_pool = Fraction(revenue) * sum(weights, Fraction(0)) / 100
    assert result.pool.exact == exact_pool
    assert result.pool.amount == to_minor(exact_pool, EUR, TERMS.rounding.mode)
    assert sum(part.amount.minor for part in result.parts) == result.pool.amount.minor
    weight_sum = sum(weights, Fraction(0))
    for part, weight in zip(result.parts, weights, strict=True):
        if weight == 0:
            assert part.amount.minor == 0
        else:
            share = result.pool.amount.minor * weight / weight_sum
            assert abs(part.amount.minor - share) < 1
