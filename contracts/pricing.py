"""Delivery pricing compiled per product: ``contracts.rules.value_delivery`` in integers.

A month can hold a hundred thousand deliveries. ``value_delivery`` states the rules once, in
``Fraction`` arithmetic, and stays the reference; ``ProductPricer`` is the same computation for
one product of one terms version, with everything that does not depend on the delivery
(the price per unit after floor, premium and differentials, scaled to minor units; the tier
bounds on a common denominator; the late-delivery rate and cap) worked out once, and each
delivery priced with plain ``int`` numerators and denominators:

* ``Decimal`` quantities become exact ratios with ``Decimal.as_integer_ratio``;
* a line's exact amount is the ratio ``n/d`` (``d > 0``, not reduced until it is rendered);
  ``ratio_text`` renders it in lowest terms exactly as ``str(Fraction(n, d))`` does and
  ``round_ratio`` rounds it exactly as ``contracts.money.round_exact`` does;
* the condition reduction of a set of readings is computed by the reference
  (``condition_reduction_percent``) and remembered for the pricer's lifetime.

Whenever an input is one the reference would refuse or treat specially (a negative market
price, volume outside every tier, a reading in another unit, a quantity the ``Delivery`` fact
would refuse...), ``ProductPricer.value`` returns None and the caller prices that delivery with
the reference, so errors and edge cases keep one implementation.
``tests/contracts/test_pricing.py`` checks that both give identical lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from contracts.errors import RuleError
from contracts.facts import ConditionReading, Contribution
from contracts.money import Currency, Money, Rounding
from contracts.provenance import UpstreamContribution
from contracts.rules import (
    DeliveryValuation,
    Line,
    LineKind,
    RevenueShare,
    SharePart,
    condition_reduction_percent,
    price_per_unit,
)
from contracts.terms import ContractTerms, ProductTerms

__all__ = [
    "PricedDelivery",
    "ProductPricer",
    "RevenueSharer",
    "minor_text",
    "ratio_text",
    "round_ratio",
]


def ratio_text(numerator: int, denominator: int) -> str:
    """``str(Fraction(numerator, denominator))`` without building the Fraction
    (``denominator > 0``): ``"3"``, ``"-7/2"``."""
    divisor = math.gcd(numerator, denominator)
    if divisor != 1:
        numerator //= divisor
        denominator //= divisor
    return str(numerator) if denominator == 1 else f"{numerator}/{denominator}"


def round_ratio(numerator: int, denominator: int, rounding: Rounding) -> int:
    """``round_exact(Fraction(numerator, denominator), rounding)`` (``denominator > 0``)."""
    floor, rest = divmod(numerator, denominator)
    if rest == 0:
        return floor
    ceiling = floor + 1
    if rounding is Rounding.FLOOR:
        return floor
    if rounding is Rounding.CEILING:
        return ceiling
    positive = numerator > 0
    if rounding is Rounding.DOWN:
        return floor if positive else ceiling
    if rounding is Rounding.UP:
        return ceiling if positive else floor
    twice = 2 * rest
    if twice < denominator:
        return floor
    if twice > denominator:
        return ceiling
    if rounding is Rounding.HALF_UP:
        return ceiling if positive else floor
    if rounding is Rounding.HALF_DOWN:
        return floor if positive else ceiling
    return floor if floor % 2 == 0 else ceiling  # HALF_EVEN


def minor_text(minor: int, exponent: int) -> str:
    """``Money(minor, currency).amount`` for a currency with ``exponent`` minor digits:
    ``"12.50"``, ``"-0.05"``, ``"7"``."""
    if exponent == 0:
        return str(minor)
    # the digits of |minor|, padded to at least one whole digit, with the point put in
    if minor < 0:
        digits = str(-minor).rjust(exponent + 1, "0")
        return f"-{digits[:-exponent]}.{digits[-exponent:]}"
    digits = str(minor).rjust(exponent + 1, "0")
    return f"{digits[:-exponent]}.{digits[-exponent:]}"


def _fraction(numerator: int, denominator: int) -> Fraction:
    return Fraction(numerator, denominator)


class PricedDelivery(NamedTuple):
    """The lines of one delivery as exact ratios ``n/d`` and rounded minor units (see the
    module docstring); ``valuation`` gives the reference's ``DeliveryValuation``."""

    goods_n: int
    goods_d: int
    goods: int
    late_n: int
    late_d: int
    late: int
    condition_n: int
    condition_d: int
    condition: int
    percent_n: int
    percent_d: int
    days_late: int
    termination_right: bool
    rejected: Decimal

    @property
    def net(self) -> int:
        """Sum of the rounded lines, in minor units."""
        return self.goods + self.late + self.condition

    @classmethod
    def from_valuation(cls, valuation: DeliveryValuation) -> PricedDelivery:
        """The reference's lines in this form."""
        goods = valuation.goods.exact
        percent = -valuation.condition_penalty.exact * 100 / goods if goods else Fraction(0)
        return cls(
            *_parts(valuation.goods),
            *_parts(valuation.late_penalty),
            *_parts(valuation.condition_penalty),
            percent.numerator,
            percent.denominator,
            valuation.days_late,
            valuation.termination_right,
            valuation.rejected,
        )

    def valuation(self, delivery_id: str, currency: Currency) -> DeliveryValuation:
        """The same lines as ``value_delivery`` gives, with ``Fraction`` exact amounts."""
        return DeliveryValuation(
            delivery_id=delivery_id,
            goods=Line(
                LineKind.GOODS,
                _fraction(self.goods_n, self.goods_d),
                Money(self.goods, currency),
            ),
            late_penalty=Line(
                LineKind.LATE_DELIVERY_PENALTY,
                _fraction(self.late_n, self.late_d),
                Money(self.late, currency),
            ),
            condition_penalty=Line(
                LineKind.CONDITION_PENALTY,
                _fraction(self.condition_n, self.condition_d),
                Money(self.condition, currency),
            ),
            days_late=self.days_late,
            termination_right=self.termination_right,
            rejected=self.rejected,
        )


def _parts(line: Line) -> tuple[int, int, int]:
    return line.exact.numerator, line.exact.denominator, line.amount.minor


@dataclass(frozen=True, slots=True)
class _Tier:
    low: int  # over the common bound denominator
    high: int | None
    price: int  # minor units per unit, over the common price denominator


def _ratio(value: Decimal) -> tuple[int, int]:
    return value.as_integer_ratio()


class ProductPricer:
    """``value_delivery`` for deliveries of one product under one terms version."""

    def __init__(self, terms: ContractTerms, product: ProductTerms) -> None:
        self.terms = terms
        self.product = product
        self.currency = terms.money_currency
        self.rounding = terms.rounding.mode
        self.scale = int(10**terms.money_currency.exponent)
        pricing = product.pricing
        self.basis = pricing.basis
        self.method = pricing.tiers.method if pricing.tiers is not None else None
        self._unit_prices: dict[Decimal, tuple[int, int]] = {}
        self._percents: dict[tuple[ConditionReading, ...], tuple[int, int] | None] = {}
        self.flat: tuple[int, int] | None = None
        if pricing.basis == "agreed" and pricing.tiers is None:
            assert pricing.unit_price is not None  # guaranteed by Pricing validation
            self.flat = self._unit_price(pricing.unit_price)
        self._tiers: tuple[_Tier, ...] = ()
        self._bound_d = 1
        self._price_d = 1
        if pricing.tiers is not None and pricing.tiers.method == "graduated":
            bounds = [_ratio(t.from_quantity) for t in pricing.tiers.tiers] + [
                _ratio(t.to_quantity) for t in pricing.tiers.tiers if t.to_quantity is not None
            ]
            prices = [self._unit_price(t.unit_price) for t in pricing.tiers.tiers]
            self._bound_d = math.lcm(*(d for _, d in bounds))
            self._price_d = math.lcm(*(d for _, d in prices))

            def over(value: Decimal, common: int) -> int:
                n, d = _ratio(value)
                return n * (common // d)

            self._tiers = tuple(
                _Tier(
                    over(t.from_quantity, self._bound_d),
                    None if t.to_quantity is None else over(t.to_quantity, self._bound_d),
                    n * (self._price_d // d),
                )
                for t, (n, d) in zip(pricing.tiers.tiers, prices, strict=True)
            )
        late = terms.late_delivery
        self.late = late
        if late is not None:
            rate_n, rate_d = _ratio(late.percent_per_period)
            cap_n, cap_d = _ratio(late.cap_percent)
            self._rate = (rate_n, rate_d * 100 * late.period_days)  # per day late
            self._cap = (cap_n, cap_d * 100)

    def _unit_price(self, base: Decimal) -> tuple[int, int]:
        """``price_per_unit(pricing, base)`` in minor units, as a ratio (remembered)."""
        found = self._unit_prices.get(base)
        if found is None:
            price = price_per_unit(self.product.pricing, base) * self.scale
            found = (price.numerator, price.denominator)
            self._unit_prices[base] = found
        return found

    def _percent(self, readings: tuple[ConditionReading, ...]) -> tuple[int, int] | None:
        """The condition reduction of ``readings`` in percent (None: the reference refuses)."""
        if not self.product.conditions:
            return (0, 1)
        if readings in self._percents:
            return self._percents[readings]
        try:
            percent = condition_reduction_percent(self.product, readings)
            found: tuple[int, int] | None = (percent.numerator, percent.denominator)
        except RuleError:
            found = None
        self._percents[readings] = found
        return found

    def _goods(
        self,
        accepted: Decimal,
        market_price: Decimal | None,
        prior_volume: Decimal,
        period_volume: Decimal | None,
    ) -> tuple[int, int] | None:
        """Exact goods value in minor units as ``(n, d)``; None where the reference refuses."""
        an, ad = _ratio(accepted)
        if self.basis == "market":
            if (
                not isinstance(market_price, Decimal)
                or not market_price.is_finite()
                or market_price < 0
            ):
                return None
            pn, pd = self._unit_price(market_price)
            return an * pn, ad * pd
        if market_price is not None:
            return None
        if self.flat is not None:
            pn, pd = self.flat
            return an * pn, ad * pd
        tiers = self.product.pricing.tiers
        assert tiers is not None
        if self.method == "all_units":
            if not isinstance(period_volume, Decimal) or period_volume < accepted:
                return None
            band = next((tier for tier in tiers.tiers if tier.contains(period_volume)), None)
            if band is None:
                return None
            pn, pd = self._unit_price(band.unit_price)
            return an * pn, ad * pd
        if not isinstance(prior_volume, Decimal) or not prior_volume >= 0:
            return None
        sn, sd = _ratio(prior_volume)
        common = math.lcm(sd, ad, self._bound_d)
        start = sn * (common // sd)
        end = start + an * (common // ad)
        widen = common // self._bound_d
        value = covered = 0
        for tier in self._tiers:
            low = max(start, tier.low * widen)
            high = end if tier.high is None else min(end, tier.high * widen)
            if high > low:
                covered += high - low
                value += (high - low) * tier.price
        if covered != end - start:
            return None
        return value, common * self._price_d

    def value(
        self,
        *,
        shipped: Decimal,
        received: Decimal,
        due: date,
        delivered: date,
        force_majeure: bool,
        readings: tuple[ConditionReading, ...],
        market_price: Decimal | None,
        prior_volume: Decimal,
        period_volume: Decimal | None,
    ) -> PricedDelivery | None:
        """The lines ``value_delivery`` gives for ``delivery_fact(delivery, unit)`` (the unit
        already checked against the product), or None: price this one with the reference."""
        if not (received.is_finite() and shipped.is_finite() and received >= 0):
            return None
        quantity = max(shipped, received)  # as delivery_fact: shipped when equal
        if not quantity > 0:
            return None
        rejected = quantity - received
        if rejected:  # the Delivery fact requires accepted + rejected == quantity, exactly
            rn, rd = _ratio(rejected)
            an, ad = _ratio(received)
            qn, qd = _ratio(quantity)
            if (rn * ad + an * rd) * qd != qn * ad * rd:
                return None
        goods = self._goods(received, market_price, prior_volume, period_volume)
        if goods is None:
            return None
        percent = self._percent(readings)
        if percent is None:
            return None
        gn, gd = goods
        rounding = self.rounding
        days = (delivered - due).days
        if days < 0:
            days = 0
        late = self.late
        exempt = late is None or (late.force_majeure_exempt and force_majeure)
        if late is None or days == 0 or exempt:
            late_line = (0, 1, 0)
        else:
            rate_n, rate_d = self._rate
            rate_n *= days
            cap_n, cap_d = self._cap
            if rate_n * cap_d <= cap_n * rate_d:
                ln, ld = -gn * rate_n, gd * rate_d
            else:
                ln, ld = -gn * cap_n, gd * cap_d
            late_line = (ln, ld, round_ratio(ln, ld, rounding))
        pn, pd = percent
        if pn:
            cn, cd = -gn * pn, gd * pd * 100
            condition = (cn, cd, round_ratio(cn, cd, rounding))
            shown = (pn, pd) if gn else (0, 1)
        else:
            condition = (0, 1, 0)
            shown = (0, 1)
        termination = (
            late is not None
            and late.termination_after_days is not None
            and not exempt
            and days > late.termination_after_days
        )
        return PricedDelivery(
            gn,
            gd,
            round_ratio(gn, gd, rounding),
            *late_line,
            *condition,
            *shown,
            days,
            termination,
            rejected,
        )


class RevenueSharer:
    """``contracts.rules.revenue_share`` for one terms version, in integers: the suppliers'
    percentages looked up once, the weights put on one common denominator, the pool rounded
    once and split exactly as ``contracts.money.allocate`` splits it (the largest-remainder
    order does not change when every weight is scaled by the same factor)."""

    def __init__(self, terms: ContractTerms) -> None:
        shares = terms.revenue_share
        assert shares is not None
        self.terms = terms
        self.currency = terms.money_currency
        self.rounding = terms.rounding.mode
        self.percents: dict[str, tuple[int, int]] = {}
        for share in shares.shares:
            self.percents.setdefault(share.supplier, _ratio(share.percent))

    def split(
        self,
        sale_id: str,
        revenue: Money,
        contributions: Sequence[Contribution | UpstreamContribution],
    ) -> RevenueShare | None:
        """What ``revenue_share(terms, Sale(sale_id, ..., revenue), contributions)`` gives,
        or None: ask the reference (which refuses these inputs or treats them specially)."""
        if revenue.currency != self.currency:
            return None
        lots = [c.lot for c in contributions]
        if len(set(lots)) != len(lots):
            return None
        fractions = [_ratio(c.fraction) for c in contributions]
        common = math.lcm(*(d for _, d in fractions)) if fractions else 1
        if sum(n * (common // d) for n, d in fractions) > common:
            return None
        zero = (0, 1)
        ratios = []
        for contribution, (fn, fd) in zip(contributions, fractions, strict=True):
            pn, pd = self.percents.get(contribution.supplier, zero)
            ratios.append((fn * pn, fd * pd))
        denominator = math.lcm(*(d for _, d in ratios)) if ratios else 1
        weights = [n * (denominator // d) for n, d in ratios]
        total = sum(weights)
        minor = revenue.minor
        pool_n, pool_d = minor * total, denominator * 100
        pool = Line(
            LineKind.REVENUE_SHARE,
            _fraction(pool_n, pool_d),
            Money(round_ratio(pool_n, pool_d, self.rounding), self.currency),
        )
        if total:
            magnitude = abs(pool.amount.minor)
            amounts: list[int] = []
            remainders: list[int] = []
            for weight in weights:
                quotient, remainder = divmod(magnitude * weight, total)
                amounts.append(quotient)
                remainders.append(remainder)
            leftover = magnitude - sum(amounts)
            order = sorted(range(len(amounts)), key=lambda i: (-remainders[i], lots[i]))
            for i in order[:leftover]:
                amounts[i] += 1
            sign = -1 if pool.amount.minor < 0 else 1
            amounts = [sign * amount for amount in amounts]
        else:
            amounts = [0] * len(contributions)
        parts = tuple(
            SharePart(
                contribution.lot,
                contribution.supplier,
                _fraction(minor * wn, wd * 100),
                Money(amount, self.currency),
            )
            for contribution, (wn, wd), amount in zip(contributions, ratios, amounts, strict=True)
        )
        return RevenueShare(sale_id, pool, parts)
