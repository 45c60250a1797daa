"""Money: currencies, parsing, exactness, arithmetic and the one rounding point."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import (
    CurrencyMismatchError,
    MoneyError,
    MoneyTypeError,
    PrecisionError,
    UnknownCurrencyError,
)
from contracts.money import Currency, Money, Rounding, round_exact, to_minor
from ledger.errors import LedgerError

EUR = Currency("EUR")
JPY = Currency("JPY")
KWD = Currency("KWD")


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("EUR", 2), ("USD", 2), ("JPY", 0), ("ISK", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_iso4217_minor_units(code: str, exponent: int) -> None:
    assert Currency(code).exponent == exponent


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("ABC", id="not-assigned"),
        pytest.param("eur", id="lower-case"),
        pytest.param("EURO", id="too-long"),
        pytest.param("XAU", id="gold-has-no-minor-unit"),
        pytest.param("XXX", id="no-currency"),
        pytest.param("HRK", id="withdrawn-kuna"),
    ],
)
def test_unusable_currency_refused(code: str) -> None:
    with pytest.raises(UnknownCurrencyError, match=code):
        Currency(code)


def test_errors_belong_to_the_ledger_tree() -> None:
    with pytest.raises(LedgerError) as caught:
        Currency("ABC")
    assert caught.value.code == "unknown-currency"
    assert isinstance(caught.value, MoneyError)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.50", EUR, 1250),
        ("12.5", EUR, 1250),
        ("12", EUR, 1200),
        ("0.01", EUR, 1),
        ("-0.05", EUR, -5),
        ("-0", EUR, 0),
        ("1500", JPY, 1500),
        ("1.234", KWD, 1234),
    ],
)
def test_parse_decimal_strings(text: str, currency: Currency, minor: int) -> None:
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        pytest.param("12.505", EUR, id="half-cent"),
        pytest.param("12.500", EUR, id="three-places-even-if-zero"),
        pytest.param("15.0", JPY, id="yen-has-no-minor-unit"),
        pytest.param("1.2345", KWD, id="fils-and-more"),
        pytest.param("1e3", EUR, id="exponent"),
        pytest.param("+12.50", EUR, id="plus-sign"),
        pytest.param(" 12.50", EUR, id="whitespace"),
        pytest.param("12,50", EUR, id="comma"),
        pytest.param("12.", EUR, id="trailing-point"),
        pytest.param("", EUR, id="empty"),
        pytest.param("NaN", EUR, id="nan"),
    ],
)
def test_parse_refuses_excess_precision_and_odd_syntax(text: str, currency: Currency) -> None:
    with pytest.raises(PrecisionError):
        Money.parse(text, currency)


def test_from_decimal_is_by_value() -> None:
    assert Money.from_decimal(Decimal("12.500"), "EUR") == Money(1250, EUR)
    with pytest.raises(PrecisionError, match="finer than its minor unit"):
        Money.from_decimal(Decimal("12.505"), "EUR")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: Money(12.5, EUR), id="float-minor"),  # type: ignore[arg-type]
        pytest.param(lambda: Money(True, EUR), id="bool-minor"),
        pytest.param(lambda: Money(Decimal(1250), EUR), id="decimal-minor"),  # type: ignore[arg-type]
        pytest.param(lambda: Money(1250, "EUR"), id="str-currency"),  # type: ignore[arg-type]
        pytest.param(lambda: Money.parse(12.5, EUR), id="parse-float"),  # type: ignore[arg-type]
        pytest.param(lambda: Money.from_decimal(12.5, EUR), id="from-float"),  # type: ignore[arg-type]
        pytest.param(lambda: to_minor(1250.0, EUR, Rounding.HALF_EVEN), id="round-float"),  # type: ignore[arg-type]
        pytest.param(lambda: to_minor(Decimal("NaN"), EUR, Rounding.HALF_EVEN), id="round-nan"),
        pytest.param(lambda: Money(1, EUR) * 1.5, id="multiply-by-float"),  # type: ignore[operator]
    ],
)
def test_floats_and_other_inexact_numbers_are_rejected(make: Any) -> None:
    with pytest.raises(MoneyTypeError):
        make()
    with pytest.raises(TypeError):  # MoneyTypeError is also a TypeError
        make()


def test_arithmetic_within_one_currency() -> None:
    a, b = Money.parse("12.50", EUR), Money.parse("0.75", EUR)
    assert a + b == Money(1325, EUR)
    assert a - b == Money(1175, EUR)
    assert -a == Money(-1250, EUR)
    assert abs(-a) == a
    assert a * 3 == 3 * a == Money(3750, EUR)
    assert b < a
    assert a > b
    assert a >= a
    assert b <= b
    assert Money.total([a, b, b], EUR) == Money(1400, EUR)
    assert Money.total([], "EUR").is_zero()


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda a, b: a + b, id="add"),
        pytest.param(lambda a, b: a - b, id="subtract"),
        pytest.param(lambda a, b: a < b, id="compare"),
        pytest.param(lambda a, b: Money.total([a, b], a.currency), id="total"),
    ],
)
def test_currency_mismatch_is_an_error(op: Any) -> None:
    with pytest.raises(CurrencyMismatchError, match="EUR and JPY"):
        op(Money(100, EUR), Money(100, JPY))


def test_equality_across_currencies_is_false_not_an_error() -> None:
    assert Money(100, EUR) != Money(100, Currency("USD"))


def test_formatting() -> None:
    assert Money(-5, EUR).amount == "-0.05"
    assert str(Money(123456, EUR)) == "1234.56 EUR"
    assert str(Money(1500, JPY)) == "1500 JPY"
    assert Money(1, KWD).to_decimal() == Decimal("0.001")


# Rounding --------------------------------------------------------------------------------

# Hand table, minor units in, minor units out; columns follow the Decimal rounding definitions.
MODES = (
    Rounding.HALF_EVEN,
    Rounding.HALF_UP,
    Rounding.HALF_DOWN,
    Rounding.UP,
    Rounding.DOWN,
    Rounding.CEILING,
    Rounding.FLOOR,
)
ROUNDING_TABLE = [
    # value   H_EVEN H_UP H_DOWN  UP DOWN CEIL FLOOR
    ("2.5", (2, 3, 2, 3, 2, 3, 2)),
    ("3.5", (4, 4, 3, 4, 3, 4, 3)),
    ("-2.5", (-2, -3, -2, -3, -2, -2, -3)),
    ("2.4", (2, 2, 2, 3, 2, 3, 2)),
    ("-2.6", (-3, -3, -3, -3, -2, -2, -3)),
    ("7", (7, 7, 7, 7, 7, 7, 7)),
]


@pytest.mark.parametrize(("value", "expected"), ROUNDING_TABLE)
def test_to_minor_rounding_modes(value: str, expected: tuple[int, ...]) -> None:
    for mode, minor in zip(MODES, expected, strict=True):
        assert to_minor(Decimal(value), EUR, mode) == Money(minor, EUR), mode


def test_to_minor_rounds_exact_fractions_once() -> None:
    """1/3 of a cent is 0.333... minor units: 0 when rounded half-even, 1 when rounded up.

    An amount that is a hair above half a unit must round up even though a 28-digit Decimal
    would see it as exactly half: 1/2 + 10^-40 -> 1 with HALF_EVEN (not 0).
    """
    assert to_minor(Fraction(1, 3), EUR, Rounding.HALF_EVEN).minor == 0
    assert to_minor(Fraction(1, 3), EUR, Rounding.UP).minor == 1
    hair = Fraction(1, 2) + Fraction(1, 10**40)
    assert to_minor(hair, EUR, Rounding.HALF_EVEN).minor == 1
    assert to_minor(Decimal("1234.5"), "EUR", Rounding.HALF_EVEN) == Money(1234, EUR)


def test_rounding_accepts_the_decimal_constant_names() -> None:
    assert Rounding("ROUND_HALF_UP") is Rounding.HALF_UP
    assert "ROUND_05UP" not in {mode.value for mode in Rounding}


@given(
    value=st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12
    ),
    mode=st.sampled_from(list(Rounding)),
)
def test_round_exact_agrees_with_decimal_quantize(value: Decimal, mode: Rounding) -> None:
    expected = int(value.quantize(Decimal(1), rounding=mode.value))
    assert round_exact(value, mode) == expected


@given(
    numerator=st.integers(min_value=-(10**15), max_value=10**15),
    denominator=st.integers(min_value=1, max_value=10**6),
    mode=st.sampled_from(list(Rounding)),
)
def test_round_exact_is_within_one_unit_and_monotone(
    numerator: int, denominator: int, mode: Rounding
) -> None:
    value = Fraction(numerator, denominator)
    rounded = round_exact(value, mode)
    assert abs(rounded - value) < 1
    assert round_exact(value + Fraction(1, denominator), mode) >= rounded


@given(minor=st.integers(min_value=-(10**15), max_value=10**15))
def test_amount_string_round_trips(minor: int) -> None:
    for currency in (EUR, JPY, KWD):
        money = Money(minor, currency)
        assert Money.parse(money.amount, currency) == money


def test_large_amounts_render_exactly_never_through_a_decimal_context() -> None:
    """10**28 + 1 cents is 100000000000000000000000000.01 EUR: 30 digits, beyond the 28 of
    the default ``decimal`` context, which would have rounded the last cent away."""
    money = Money.of(10**28 + 1, "EUR")
    assert money.amount == "100000000000000000000000000.01"
    assert Money.of(-(10**28) - 1, "JPY").amount == "-10000000000000000000000000001"
