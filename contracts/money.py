"""Money: integer minor units of an ISO 4217 currency, one rounding point, exact splits.

DESIGN §5 and STYLE 7: money is never a float. A ``Money`` is an ``int`` count of minor units
plus a ``Currency``; rates and prices are ``Decimal``; a contract names its ``Rounding`` mode and
``to_minor`` is the one place where an exact amount becomes whole minor units. ``allocate``
splits an amount by the largest-remainder (Hamilton) method so the parts always add up.

**Currency data.** Minor-unit exponents come from the ``iso4217`` package (public domain,
typed, maintained; it ships the ISO 4217 "List One" XML published by the SIX maintenance agency
and reads ``CcyMnrUnts`` from it, e.g. JPY 0, EUR 2, KWD 3, CLF 4). It was preferred to
``pycountry`` (no minor units), ``babel`` (CLDR digits, which differ from ISO 4217 for some
currencies) and ``py-moneyed`` (pulls in babel). Codes whose minor unit is "N.A." (XAU, XDR,
XXX, XTS...) cannot hold money and are refused, as are withdrawn codes absent from the list.

**Exact amounts.** Rules compute amounts exactly, in minor units, as ``Fraction`` (a day-count
``/365`` or a pro-rata period has no finite decimal expansion, so ``Decimal`` cannot hold it
exactly); ``Decimal`` and ``int`` are accepted too and converted without loss.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from functools import cache

import iso4217

from contracts.errors import (
    AllocationError,
    CurrencyMismatchError,
    MoneyTypeError,
    PrecisionError,
    UnknownCurrencyError,
)

__all__ = [
    "Currency",
    "ExactAmount",
    "Money",
    "Rounding",
    "allocate",
    "exact",
    "round_exact",
    "to_minor",
]

#: Exact numbers the money layer accepts: never ``float`` (nor ``bool``).
ExactAmount = Decimal | Fraction | int

_CODE = re.compile(r"[A-Z]{3}")
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


@cache
def _exponent(code: str) -> int:
    try:
        entry = iso4217.Currency(code)
    except ValueError:
        raise UnknownCurrencyError(
            f"currency {code!r} is not in the ISO 4217 list "
            f"(published {iso4217.__published__.isoformat()})",
            field="currency",
        ) from None
    exponent = entry.exponent
    if exponent is None:
        raise UnknownCurrencyError(
            f"currency {code!r} has no minor unit in ISO 4217 (N.A.) and cannot hold money",
            field="currency",
        )
    return exponent


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency usable for money, with its minor-unit ``exponent``.

    ``Currency("EUR").exponent == 2``: one euro is 10**2 minor units.
    Raises ``UnknownCurrencyError`` for anything but an upper-case ISO 4217 code with a
    numeric minor unit.
    """

    code: str
    exponent: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE.fullmatch(self.code):
            raise UnknownCurrencyError(
                f"currency code must be three upper-case letters, got {self.code!r}",
                field="currency",
            )
        object.__setattr__(self, "exponent", _exponent(self.code))

    def __str__(self) -> str:
        return self.code


def _as_currency(currency: Currency | str) -> Currency:
    return currency if isinstance(currency, Currency) else Currency(currency)


class Rounding(StrEnum):
    """The rounding modes a contract may name; values are the ``decimal`` module's constants.

    ``ROUND_05UP`` is deliberately absent: it depends on the last kept digit and no payment
    practice uses it.
    """

    HALF_EVEN = "ROUND_HALF_EVEN"  # banker's rounding: ties to the even neighbour
    HALF_UP = "ROUND_HALF_UP"  # ties away from zero (commercial rounding)
    HALF_DOWN = "ROUND_HALF_DOWN"  # ties towards zero
    UP = "ROUND_UP"  # away from zero
    DOWN = "ROUND_DOWN"  # towards zero (truncation)
    CEILING = "ROUND_CEILING"  # towards +infinity
    FLOOR = "ROUND_FLOOR"  # towards -infinity


def exact(value: ExactAmount) -> Fraction:
    """Return ``value`` as an exact ``Fraction``.

    Raises ``MoneyTypeError`` for ``float``, ``bool``, non-finite ``Decimal`` or other types.
    """
    if isinstance(value, bool | float):
        raise MoneyTypeError(
            f"{type(value).__name__} {value!r} is not an exact number; "
            "use int, Decimal or Fraction (money is never a float)"
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyTypeError(f"Decimal {value} is not finite")
        return Fraction(value)
    if isinstance(value, int | Fraction):
        return Fraction(value)
    raise MoneyTypeError(f"{type(value).__name__} is not an exact number")


def round_exact(value: ExactAmount, rounding: Rounding) -> int:
    """Round an exact number to an integer with ``rounding``, with no intermediate rounding.

    Agrees with ``Decimal.quantize(Decimal(1), rounding=...)`` for every Decimal input.
    Raises ``MoneyTypeError`` for inexact inputs.
    """
    q = exact(value)
    floor = q.numerator // q.denominator
    rest = q - floor  # in [0, 1)
    if rest == 0:
        return floor
    ceiling = floor + 1
    mode = Rounding(rounding)
    toward_zero, away_from_zero = (floor, ceiling) if q > 0 else (ceiling, floor)
    match mode:
        case Rounding.FLOOR:
            return floor
        case Rounding.CEILING:
            return ceiling
        case Rounding.DOWN:
            return toward_zero
        case Rounding.UP:
            return away_from_zero
        case _:
            half = Fraction(1, 2)
            if rest < half:
                return floor
            if rest > half:
                return ceiling
            if mode is Rounding.HALF_UP:
                return away_from_zero
            if mode is Rounding.HALF_DOWN:
                return toward_zero
            return floor if floor % 2 == 0 else ceiling  # HALF_EVEN


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``minor`` whole minor units of ``currency``.

    Construction refuses anything but a plain ``int`` for ``minor`` (``MoneyTypeError``: no
    floats, no bools, no Decimals; use ``Money.parse``, ``Money.from_decimal`` or ``to_minor``).
    Arithmetic (``+``, ``-``, ordering) works only between equal currencies and otherwise raises
    ``CurrencyMismatchError``; ``==`` across currencies is simply ``False``. Multiplication is
    by ``int`` only; to divide, use ``allocate``.
    """

    minor: int
    currency: Currency

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise MoneyTypeError(
                f"Money.minor must be an int number of minor units, got "
                f"{type(self.minor).__name__} {self.minor!r}"
            )
        if not isinstance(self.currency, Currency):
            raise MoneyTypeError(
                f"Money.currency must be a Currency, got {type(self.currency).__name__}"
            )

    # -- construction -------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: Currency | str) -> Money:
        """Zero in ``currency``."""
        return cls(0, _as_currency(currency))

    @classmethod
    def of(cls, minor: int, currency: Currency | str) -> Money:
        """``Money(minor, Currency(currency))``; raises like both constructors."""
        return cls(minor, _as_currency(currency))

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: Currency | str) -> Money:
        """Convert an exact major-unit ``Decimal`` (``Decimal("12.50")`` EUR → 1250).

        Trailing zeros are harmless; a value that is not a whole number of minor units raises
        ``PrecisionError``. Raises ``MoneyTypeError`` for non-Decimal or non-finite input.
        """
        cur = _as_currency(currency)
        if not isinstance(amount, Decimal):
            raise MoneyTypeError(
                f"amount must be a Decimal of major units, got {type(amount).__name__}"
            )
        minor = exact(amount) * 10**cur.exponent
        if minor.denominator != 1:
            raise PrecisionError(
                f"{amount} {cur.code} is finer than its minor unit ({cur.exponent} decimal places)"
            )
        return cls(int(minor), cur)

    @classmethod
    def parse(cls, text: str, currency: Currency | str) -> Money:
        """Parse a decimal string of major units: ``Money.parse("12.50", "EUR")`` → 1250 minor.

        Accepts ``-?digits[.digits]`` with at most ``currency.exponent`` fractional digits
        ("12.5" and "12" are fine for EUR; "12.505" and "12.500" are refused with
        ``PrecisionError``). Raises ``MoneyTypeError`` for non-strings and ``PrecisionError``
        for anything else that is not such a string (exponents, spaces, signs other than a
        leading minus).
        """
        cur = _as_currency(currency)
        if not isinstance(text, str):
            raise MoneyTypeError(
                f'money text must be a decimal string such as "12.50", got '
                f"{type(text).__name__} {text!r}"
            )
        if not _DECIMAL_TEXT.fullmatch(text):
            raise PrecisionError(
                f'expected a decimal string such as "12.50", got {text!r}', field="amount"
            )
        _, _, fraction = text.partition(".")
        if len(fraction) > cur.exponent:
            raise PrecisionError(
                f"{text!r} has {len(fraction)} decimal places; {cur.code} has {cur.exponent}",
                field="amount",
            )
        return cls.from_decimal(Decimal(text), cur)

    # -- views --------------------------------------------------------------------------

    def to_decimal(self) -> Decimal:
        """The amount in major units, with exactly ``currency.exponent`` decimal places.

        Exact for any size: built from the digits, never through a ``decimal`` context (whose
        28-digit precision would round a large amount silently)."""
        digits = tuple(int(d) for d in str(abs(self.minor)))
        return Decimal((1 if self.minor < 0 else 0, digits, -self.currency.exponent))

    @property
    def amount(self) -> str:
        """Canonical decimal string of major units, e.g. ``"12.50"`` or ``"-0.05"``."""
        return f"{self.to_decimal():f}"

    def __str__(self) -> str:
        return f"{self.amount} {self.currency.code}"

    def is_zero(self) -> bool:
        return self.minor == 0

    # -- arithmetic ---------------------------------------------------------------------

    def _same(self, other: object, op: str) -> Money:
        if not isinstance(other, Money):
            raise MoneyTypeError(f"cannot {op} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot {op} {self.currency.code} and {other.currency.code} amounts"
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other, "add").minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other, "subtract").minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise MoneyTypeError(
                f"Money can be multiplied by an int only, got {type(factor).__name__}; "
                "compute exact amounts and use to_minor"
            )
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other, "compare").minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other, "compare").minor

    def __gt__(self, other: Money) -> bool:
        return self.minor > self._same(other, "compare").minor

    def __ge__(self, other: Money) -> bool:
        return self.minor >= self._same(other, "compare").minor

    @staticmethod
    def total(amounts: Iterable[Money], currency: Currency | str) -> Money:
        """Sum ``amounts`` (possibly none) in ``currency``; raises on any other currency."""
        result = Money.zero(currency)
        for amount in amounts:
            result = result + amount
        return result


def to_minor(amount: ExactAmount, currency: Currency | str, rounding: Rounding) -> Money:
    """THE rounding point: an exact amount *in minor units* → whole minor units.

    ``to_minor(Decimal("1234.5"), "EUR", Rounding.HALF_EVEN)`` is ``12.34 EUR``. The input is
    already scaled to minor units (a price of 1.005 EUR is 100.5 minor units); this function
    rounds exactly once, with no intermediate precision limit. Raises ``MoneyTypeError`` for
    floats and other inexact input, ``UnknownCurrencyError`` for an unusable currency.
    """
    return Money(round_exact(amount, Rounding(rounding)), _as_currency(currency))


def _weight(value: Decimal | int | Fraction, index: int) -> Fraction:
    try:
        weight = exact(value)
    except MoneyTypeError as exc:
        raise AllocationError(f"weight {index}: {exc.message}") from exc
    if weight < 0:
        raise AllocationError(f"weight {index} is negative ({value}); weights must be >= 0")
    return weight


def allocate(
    total: Money, weights: Sequence[Decimal | int | Fraction], keys: Sequence[str]
) -> list[Money]:
    """Split ``total`` in proportion to ``weights`` by the largest-remainder (Hamilton) method.

    Guarantees: the parts (in input order) sum to ``total`` exactly; each part is the floor or
    the ceiling of its exact share ``total * w_i / sum(w)``, so it is within one minor unit of
    it; a zero weight gets zero; a negative total is split like its absolute value and negated.

    Tie-break: every part first gets the floor of its share (towards zero); the units left
    over go one each to the parts with the largest fractional remainder; equal remainders are
    ordered by ``keys`` in ascending lexicographic (Unicode code point, i.e. ``str``) order, so
    the result does not depend on the order of the inputs.

    Raises ``AllocationError`` if there are no weights, if ``weights`` and ``keys`` differ in
    length, if keys repeat or are not strings, if a weight is negative, inexact (float) or
    every weight is zero.
    """
    if not isinstance(total, Money):
        raise AllocationError(f"total must be Money, got {type(total).__name__}")
    if len(weights) != len(keys):
        raise AllocationError(f"{len(weights)} weights but {len(keys)} keys")
    if not weights:
        raise AllocationError("nothing to allocate to: no weights")
    if not all(isinstance(key, str) for key in keys) or len(set(keys)) != len(keys):
        raise AllocationError("allocation keys must be distinct strings (they break ties)")
    exact_weights = [_weight(value, index) for index, value in enumerate(weights)]
    weight_sum = sum(exact_weights, Fraction(0))
    if weight_sum == 0:
        raise AllocationError("every weight is zero; the total cannot be split")

    # Integer arithmetic throughout: scale weights to integers by their common denominator.
    common = math.lcm(*(weight.denominator for weight in exact_weights))
    scaled = [int(weight * common) for weight in exact_weights]
    divisor = sum(scaled)
    magnitude = abs(total.minor)
    parts: list[int] = []
    remainders: list[int] = []
    for w in scaled:
        quotient, remainder = divmod(magnitude * w, divisor)
        parts.append(quotient)
        remainders.append(remainder)
    leftover = magnitude - sum(parts)  # 0 <= leftover < number of non-zero remainders
    order = sorted(range(len(parts)), key=lambda i: (-remainders[i], keys[i]))
    for i in order[:leftover]:
        parts[i] += 1
    sign = -1 if total.minor < 0 else 1
    return [Money(sign * part, total.currency) for part in parts]
