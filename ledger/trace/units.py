"""Exact quantities: decimal arithmetic that never rounds, and unit dimensions for shares.

Mass balance compares quantities of one lot in one unit (DESIGN §4: per lot, holder and unit
of measure), so it only ever adds and subtracts ``Decimal`` values. ``EXACT`` is a decimal
context that traps every rounding: a sum that does not fit raises instead of being rounded.

Contribution shares (what fraction of a lot came from each input) compare quantities of
different lots, which may be written in different units (a farm ships ``TNE``, a bakery
weighs ``KGM``). ``measure`` converts UN/ECE Rec 20 units of one dimension to that
dimension's base unit with exact factors (international yard and pound, US liquid gallon);
units of different dimensions (kilograms and litres) are never compared. A unit not in the
table is its own dimension, and a quantity without a unit counts instances (``"EA"``).
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction
from typing import Final

__all__ = [
    "EXACT",
    "add",
    "format_quantity",
    "measure",
    "parse_quantity",
    "subtract",
]

#: A context that raises ``decimal.Inexact`` rather than rounding any result.
EXACT: Final = decimal.Context(
    prec=400,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero],
)

_MASS: Final = {
    "KGM": Fraction(1),
    "GRM": Fraction(1, 1000),
    "MGM": Fraction(1, 1_000_000),
    "TNE": Fraction(1000),
    "DTN": Fraction(100),
    "LBR": Fraction("0.45359237"),
    "ONZ": Fraction("0.028349523125"),
    "STN": Fraction("907.18474"),
    "LTN": Fraction("1016.0469088"),
}
_VOLUME: Final = {
    "LTR": Fraction(1),
    "MLT": Fraction(1, 1000),
    "CLT": Fraction(1, 100),
    "DLT": Fraction(1, 10),
    "HLT": Fraction(100),
    "MTQ": Fraction(1000),
    "DMQ": Fraction(1),
    "CMQ": Fraction(1, 1000),
    "GLL": Fraction("3.785411784"),
    "GLI": Fraction("4.54609"),
}
_COUNT: Final = {"EA": Fraction(1), "H87": Fraction(1), "C62": Fraction(1), "": Fraction(1)}
_DIMENSIONS: Final = (("mass", _MASS), ("volume", _VOLUME), ("count", _COUNT))


def add(left: Decimal, right: Decimal) -> Decimal:
    """``left + right`` exactly (raises ``decimal.Inexact`` rather than round)."""
    return EXACT.add(left, right)


def subtract(left: Decimal, right: Decimal) -> Decimal:
    """``left - right`` exactly (raises ``decimal.Inexact`` rather than round)."""
    return EXACT.subtract(left, right)


def format_quantity(value: Decimal) -> str:
    """The canonical decimal string of ``value`` (``Decimal("200.50")`` → ``"200.5"``): plain
    notation, no exponent, no trailing fractional zeros, no ``-0``. Unlike the ledger form of
    a single quantity it has no length limit, so sums of many quantities still fit."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite quantity")
    text = format(value, "f")  # plain notation with every digit: nothing is rounded
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def parse_quantity(text: str) -> Decimal:
    """Inverse of ``format_quantity``. Raises ``ValueError`` for anything else."""
    try:
        value = Decimal(text)
    except decimal.InvalidOperation as exc:
        raise ValueError(f"{text!r} is not a decimal quantity") from exc
    if not value.is_finite() or format_quantity(value) != text:
        raise ValueError(f"{text!r} is not a canonical decimal quantity")
    return value


def measure(quantity: Decimal, uom: str | None) -> tuple[str, Fraction]:
    """``(dimension, amount in the dimension's base unit)``, exactly.

    Mass converts to kilograms, volume to litres, counts (``EA``, ``H87``, ``C62`` or no
    unit) to pieces; any other unit is its own dimension (named after it) with factor 1.
    """
    code = uom or ""
    for name, table in _DIMENSIONS:
        factor = table.get(code)
        if factor is not None:
            return name, Fraction(quantity) * factor
    return f"unit:{code}", Fraction(quantity)
