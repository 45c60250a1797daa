"""Contract rules: pure functions of ``ContractTerms`` and facts that return priced lines.

No database, no clock, no ledger records: settlement gathers the facts and calls these.

**One rounding point per line.** Every rule computes its amount exactly, in minor units of the
contract currency, as a ``Fraction`` (``Line.exact``; ``Decimal`` cannot hold ``x/365``
exactly), and rounds it exactly once with ``to_minor`` and the contract's rounding mode
(``Line.amount``). Derived lines (penalties, reductions) start from the *exact* goods value,
never from a rounded one. The revenue-share pool is one line, rounded once and then split with
``allocate`` so its parts add up to it.

**Signs.** A line is what the payer (the buyer, or the revenue-share payer) owes the payee:
goods, interest, compensation and revenue shares are positive; penalties, condition
reductions and discounts are negative.

Conventions (also stated in ``contracts.terms``):

* quality rejection: only the accepted quantity is priced, and only it counts towards volume;
* late delivery: ``days_late = max(0, delivered - due)`` in whole calendar days; the penalty is
  ``value * percent_per_period/100 * days_late/period_days`` (pro rata), at most
  ``value * cap_percent/100``, on the goods value before any condition reduction; the buyer may
  terminate when ``days_late > termination_after_days``; force majeure (if exempt) removes both;
* condition: for each agreed measure, the worst excursion beyond the range over all readings,
  times ``reduction_percent_per_unit``, capped at ``cap_percent``; the percentages of the
  measures add up; no reading of a measure means no reduction for it;
* early payment: the discount applies when the discounted amount has been paid in full on or
  before ``issued + within_days``;
* late-payment interest: on the amount due (after any discount) still unpaid, for each day in
  ``(due, payment day]`` (a payment made on a day still accrues that day), simple interest at
  ``max(0, reference + margin)`` percent per year, each day ``1/365`` (ACT/365) or ``1/360``
  (ACT/360) of a year; the reference rate for a day is the table's rate in force on 1 January
  (days in January–June) or 1 July (July–December) of that year (Directive 2011/7/EU
  Art. 2(7)), so a late period spanning half-years uses each half's rate; payments reduce the
  principal only (interest is never capitalised); payments after ``as_of`` are ignored;
* fixed compensation: once per invoice that has any amount due still unpaid after its due date
  (as of ``as_of``), Directive 2011/7/EU Art. 6.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from contracts.errors import (
    CurrencyMismatchError,
    InvalidFactError,
    ReferenceRateMissingError,
    RuleError,
)
from contracts.facts import ConditionReading, Contribution, Delivery, Invoice, Sale
from contracts.money import Money, allocate, exact, to_minor
from contracts.terms import (
    ConditionTerms,
    ContractTerms,
    LateInterestTerms,
    Pricing,
    ProductTerms,
    VolumeTiers,
)

__all__ = [
    "DeliveryValuation",
    "Line",
    "LineKind",
    "RevenueShare",
    "SharePart",
    "amount_due",
    "condition_penalty",
    "condition_reduction_percent",
    "days_late",
    "early_payment_discount",
    "fixed_compensation",
    "goods_value",
    "late_delivery_penalty",
    "late_payment_interest",
    "payment_due_date",
    "price_per_unit",
    "reference_rate",
    "revenue_share",
    "termination_right",
    "value_delivery",
    "worst_excursion",
]


class LineKind(StrEnum):
    GOODS = "goods"
    LATE_DELIVERY_PENALTY = "late_delivery_penalty"
    CONDITION_PENALTY = "condition_penalty"
    EARLY_PAYMENT_DISCOUNT = "early_payment_discount"
    LATE_PAYMENT_INTEREST = "late_payment_interest"
    FIXED_COMPENSATION = "fixed_compensation"
    REVENUE_SHARE = "revenue_share"


@dataclass(frozen=True, slots=True)
class Line:
    """One priced line: ``exact`` minor units before rounding, ``amount`` after the one
    rounding (``amount == to_minor(exact, currency, terms.rounding.mode)``)."""

    kind: LineKind
    exact: Fraction
    amount: Money


def _line(terms: ContractTerms, kind: LineKind, amount: Fraction) -> Line:
    currency = terms.money_currency
    return Line(kind, amount, to_minor(amount, currency, terms.rounding.mode))


def _scale(terms: ContractTerms) -> int:
    """Minor units per major unit of the contract currency."""
    return int(10**terms.money_currency.exponent)


def _check_currency(terms: ContractTerms, money: Money, what: str) -> None:
    if money.currency.code != terms.currency:
        raise CurrencyMismatchError(
            f"{what} is in {money.currency.code}; contract {terms.contract_id} is in "
            f"{terms.currency}"
        )


# -- prices -----------------------------------------------------------------------------


def price_per_unit(pricing: Pricing, base: Decimal) -> Fraction:
    """``max(base, floor) + premium + sum(differentials)``, exactly, in major units per unit.

    ``base`` is the agreed (flat or tier) price or the market price. Raises ``RuleError`` for
    a negative or non-Decimal ``base``.
    """
    if not isinstance(base, Decimal) or not base.is_finite() or base < 0:
        raise RuleError(f"base price must be a non-negative Decimal, got {base!r}")
    price = exact(base)
    if pricing.floor is not None:
        price = max(price, exact(pricing.floor))
    price += exact(pricing.premium)
    for differential in pricing.differentials:
        price += exact(differential.amount)
    return price


def _product(terms: ContractTerms, delivery: Delivery) -> ProductTerms:
    product = terms.product(delivery.gtin)
    if product is None:
        raise RuleError(
            f"delivery {delivery.delivery_id}: GTIN {delivery.gtin} is not covered by "
            f"contract {terms.contract_id}"
        )
    if delivery.unit != product.unit:
        raise RuleError(
            f"delivery {delivery.delivery_id}: quantity in {delivery.unit}, contract prices "
            f"GTIN {delivery.gtin} per {product.unit}"
        )
    return product


def _graduated(tiers: VolumeTiers, pricing: Pricing, start: Decimal, quantity: Decimal) -> Fraction:
    """Major-unit value of the units at cumulative positions ``[start, start + quantity)``."""
    first = exact(start)
    end = first + exact(quantity)
    value = Fraction(0)
    covered = Fraction(0)
    for tier in tiers.tiers:
        low = max(first, exact(tier.from_quantity))
        high = end if tier.to_quantity is None else min(end, exact(tier.to_quantity))
        if high > low:
            covered += high - low
            value += (high - low) * price_per_unit(pricing, tier.unit_price)
    if covered != exact(quantity):
        raise RuleError(
            f"{quantity} units after a prior volume of {start} fall partly outside every tier "
            "(an agreed gap, or beyond the last tier); no price is agreed for them"
        )
    return value


def goods_value(
    terms: ContractTerms,
    delivery: Delivery,
    *,
    market_price: Decimal | None = None,
    prior_volume: Decimal = Decimal(0),
    period_volume: Decimal | None = None,
) -> Line:
    """Value of the accepted quantity of ``delivery`` (rejected quantity is not paid).

    ``market_price`` (major units per unit, per the terms' market reference) is required for
    ``basis="market"`` products and refused otherwise. For tiered prices, ``prior_volume`` is
    the accepted volume of this product already delivered in the period (``graduated``) and
    ``period_volume`` the period's total accepted volume including this delivery
    (``all_units``, required there). Raises ``RuleError`` for an uncovered product, a unit
    mismatch, a missing or unexpected market price, or volume with no agreed tier.
    """
    product = _product(terms, delivery)
    pricing = product.pricing
    quantity = delivery.accepted
    if pricing.basis == "market":
        if market_price is None:
            source = pricing.market.source if pricing.market is not None else "?"
            raise RuleError(
                f"delivery {delivery.delivery_id}: GTIN {delivery.gtin} is priced on the market "
                f"reference {source!r}; a market price is required"
            )
        value = exact(quantity) * price_per_unit(pricing, market_price)
    elif market_price is not None:
        raise RuleError(
            f"delivery {delivery.delivery_id}: GTIN {delivery.gtin} has an agreed price; "
            "no market price applies"
        )
    elif pricing.tiers is None:
        assert pricing.unit_price is not None  # guaranteed by Pricing validation
        value = exact(quantity) * price_per_unit(pricing, pricing.unit_price)
    elif pricing.tiers.method == "graduated":
        if not isinstance(prior_volume, Decimal) or prior_volume < 0:
            raise RuleError(f"prior_volume must be a non-negative Decimal, got {prior_volume!r}")
        value = _graduated(pricing.tiers, pricing, prior_volume, quantity)
    else:
        if not isinstance(period_volume, Decimal) or period_volume < quantity:
            raise RuleError(
                f"all-units tiers need the period's total accepted volume (at least this "
                f"delivery's {quantity}), got {period_volume!r}"
            )
        band = next((tier for tier in pricing.tiers.tiers if tier.contains(period_volume)), None)
        if band is None:
            raise RuleError(f"period volume {period_volume} falls in no agreed tier")
        value = exact(quantity) * price_per_unit(pricing, band.unit_price)
    return _line(terms, LineKind.GOODS, value * _scale(terms))


# -- late delivery ----------------------------------------------------------------------


def days_late(delivery: Delivery) -> int:
    """Whole calendar days between the due date and the delivery, 0 if on time or early."""
    return max(0, (delivery.delivered - delivery.due).days)


def _exempt(terms: ContractTerms, delivery: Delivery) -> bool:
    late = terms.late_delivery
    return late is None or (late.force_majeure_exempt and delivery.force_majeure)


def _require_goods(goods: Line) -> Fraction:
    if goods.kind is not LineKind.GOODS or goods.exact < 0:
        raise RuleError(f"expected a non-negative goods line, got {goods.kind} {goods.exact}")
    return goods.exact


def late_delivery_penalty(terms: ContractTerms, delivery: Delivery, goods: Line) -> Line:
    """Penalty for ``delivery`` (negative), pro rata per ``period_days`` late, capped.

    Guarantees ``-penalty.exact <= goods.exact * cap_percent / 100``. Zero when the contract
    has no late-delivery terms, the delivery is on time, or force majeure exempts it.
    """
    value = _require_goods(goods)
    late = terms.late_delivery
    days = days_late(delivery)
    if late is None or days == 0 or _exempt(terms, delivery):
        return _line(terms, LineKind.LATE_DELIVERY_PENALTY, Fraction(0))
    rate = exact(late.percent_per_period) / 100 * Fraction(days, late.period_days)
    cap = exact(late.cap_percent) / 100
    return _line(terms, LineKind.LATE_DELIVERY_PENALTY, -value * min(rate, cap))


def termination_right(terms: ContractTerms, delivery: Delivery) -> bool:
    """True if the delivery is more than ``termination_after_days`` late (and not exempt)."""
    late = terms.late_delivery
    if late is None or late.termination_after_days is None or _exempt(terms, delivery):
        return False
    return days_late(delivery) > late.termination_after_days


# -- condition --------------------------------------------------------------------------


def worst_excursion(condition: ConditionTerms, readings: Iterable[ConditionReading]) -> Fraction:
    """Largest distance (exact) of a reading of ``condition.measure`` outside the range (0 if
    every reading is inside, or there are none). Raises ``RuleError`` for a reading of the
    measure in another unit (no conversion is attempted)."""
    worst = Fraction(0)
    for reading in readings:
        if reading.measure != condition.measure:
            continue
        if reading.unit != condition.unit:
            raise RuleError(
                f"{condition.measure} reading in {reading.unit}; the contract's range is in "
                f"{condition.unit}"
            )
        value = exact(reading.value)
        if condition.minimum is not None:
            worst = max(worst, exact(condition.minimum) - value)
        if condition.maximum is not None:
            worst = max(worst, value - exact(condition.maximum))
    return worst


def condition_reduction_percent(
    product: ProductTerms, readings: Iterable[ConditionReading]
) -> Fraction:
    """Percent of the unit price lost to condition excursions: per measure
    ``min(worst excursion * reduction_percent_per_unit, cap_percent)``, summed (at most 100,
    guaranteed by the terms)."""
    readings = tuple(readings)
    total = Fraction(0)
    for condition in product.conditions:
        excursion = worst_excursion(condition, readings)
        total += min(
            excursion * exact(condition.reduction_percent_per_unit), exact(condition.cap_percent)
        )
    return total


def condition_penalty(terms: ContractTerms, delivery: Delivery, goods: Line) -> Line:
    """Price reduction (negative) for readings outside the agreed ranges: every accepted unit
    loses ``condition_reduction_percent`` of its price, i.e. that percent of the goods value.
    Never more than the sum of the conditions' caps."""
    value = _require_goods(goods)
    percent = condition_reduction_percent(_product(terms, delivery), delivery.readings)
    return _line(terms, LineKind.CONDITION_PENALTY, -value * percent / 100)


@dataclass(frozen=True, slots=True)
class DeliveryValuation:
    """All lines of one delivery, plus the facts a statement reports beside them."""

    delivery_id: str
    goods: Line
    late_penalty: Line
    condition_penalty: Line
    days_late: int
    termination_right: bool
    rejected: Decimal

    @property
    def lines(self) -> tuple[Line, Line, Line]:
        return (self.goods, self.late_penalty, self.condition_penalty)

    @property
    def net(self) -> Money:
        """Sum of the rounded lines (never rounded again)."""
        return self.goods.amount + self.late_penalty.amount + self.condition_penalty.amount


def value_delivery(
    terms: ContractTerms,
    delivery: Delivery,
    *,
    market_price: Decimal | None = None,
    prior_volume: Decimal = Decimal(0),
    period_volume: Decimal | None = None,
) -> DeliveryValuation:
    """Goods value, late-delivery penalty and condition penalty of one delivery.

    Arguments and errors as ``goods_value``.
    """
    goods = goods_value(
        terms,
        delivery,
        market_price=market_price,
        prior_volume=prior_volume,
        period_volume=period_volume,
    )
    return DeliveryValuation(
        delivery_id=delivery.delivery_id,
        goods=goods,
        late_penalty=late_delivery_penalty(terms, delivery, goods),
        condition_penalty=condition_penalty(terms, delivery, goods),
        days_late=days_late(delivery),
        termination_right=termination_right(terms, delivery),
        rejected=delivery.rejected,
    )


# -- payment ----------------------------------------------------------------------------


def payment_due_date(terms: ContractTerms, issued: date) -> date:
    """``issued + net_days``."""
    return issued + timedelta(days=terms.payment.net_days)


def _payments_until(invoice: Invoice, day: date) -> int:
    return sum(payment.amount.minor for payment in invoice.payments if payment.paid_on <= day)


def early_payment_discount(terms: ContractTerms, invoice: Invoice) -> Line:
    """The early-payment discount (negative) if the discounted amount was paid in full by
    ``issued + within_days``, else a zero line. Raises ``CurrencyMismatchError``."""
    _check_currency(terms, invoice.amount, f"invoice {invoice.invoice_id}")
    early = terms.payment.early_payment
    if early is None:
        return _line(terms, LineKind.EARLY_PAYMENT_DISCOUNT, Fraction(0))
    discount = _line(
        terms,
        LineKind.EARLY_PAYMENT_DISCOUNT,
        -invoice.amount.minor * exact(early.percent) / 100,
    )
    deadline = invoice.issued + timedelta(days=early.within_days)
    if _payments_until(invoice, deadline) >= invoice.amount.minor + discount.amount.minor:
        return discount
    return _line(terms, LineKind.EARLY_PAYMENT_DISCOUNT, Fraction(0))


def amount_due(terms: ContractTerms, invoice: Invoice) -> Money:
    """The invoice amount less any early-payment discount earned."""
    return invoice.amount + early_payment_discount(terms, invoice).amount


def _half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def _half_year_end(day: date) -> date:
    return date(day.year, 6, 30) if day.month <= 6 else date(day.year, 12, 31)


def reference_rate(interest: LateInterestTerms, day: date) -> Decimal:
    """The reference rate (percent per year) that applies to ``day``: the table's rate in force
    on 1 January for January–June, on 1 July for July–December (Directive 2011/7/EU Art. 2(7)).

    Raises ``ReferenceRateMissingError`` if the table has no rate in force on that date.
    """
    start = _half_year_start(day)
    dates = [rate.effective_from for rate in interest.reference_rates]
    index = bisect.bisect_right(dates, start) - 1
    if index < 0:
        raise ReferenceRateMissingError(
            f"no {interest.reference} in force on {start} (the table starts "
            f"{dates[0]}); cannot compute interest for {day}"
        )
    return interest.reference_rates[index].percent


def _interest(interest: LateInterestTerms, principal: int, after: date, through: date) -> Fraction:
    """Simple interest on ``principal`` minor units for each day in ``(after, through]``."""
    basis = 365 if interest.day_count == "ACT/365" else 360
    margin = exact(interest.margin_percent)
    total = Fraction(0)
    day = after + timedelta(days=1)
    while day <= through:
        segment_end = min(through, _half_year_end(day))
        days = (segment_end - day).days + 1
        rate = max(Fraction(0), exact(reference_rate(interest, day)) + margin)
        total += principal * rate / 100 * Fraction(days, basis)
        day = segment_end + timedelta(days=1)
    return total


def late_payment_interest(terms: ContractTerms, invoice: Invoice, as_of: date) -> Line:
    """Interest accrued on ``invoice`` up to ``as_of`` (positive, owed by the payer).

    Non-decreasing in ``as_of`` and in the lateness of each payment. Raises
    ``ReferenceRateMissingError`` and ``CurrencyMismatchError``.
    """
    interest = terms.payment.late_interest
    outstanding = amount_due(terms, invoice).minor
    payments = sorted(
        (payment for payment in invoice.payments if payment.paid_on <= as_of),
        key=lambda payment: payment.paid_on,
    )
    total = Fraction(0)
    cursor = invoice.due
    for payment in payments:
        if outstanding <= 0:
            break
        if payment.paid_on > cursor:
            total += _interest(interest, outstanding, cursor, payment.paid_on)
            cursor = payment.paid_on
        outstanding -= payment.amount.minor
    if outstanding > 0 and as_of > cursor:
        total += _interest(interest, outstanding, cursor, as_of)
    return _line(terms, LineKind.LATE_PAYMENT_INTEREST, total)


def fixed_compensation(terms: ContractTerms, invoice: Invoice, as_of: date) -> Line:
    """The fixed compensation (positive) if part of the amount due was still unpaid after the
    due date, as known on ``as_of``; else a zero line."""
    due = amount_due(terms, invoice).minor
    late = as_of > invoice.due and _payments_until(invoice, invoice.due) < due
    amount = exact(terms.payment.fixed_compensation) * _scale(terms) if late else Fraction(0)
    return _line(terms, LineKind.FIXED_COMPENSATION, amount)


# -- revenue share ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SharePart:
    """One upstream lot's part of a revenue-share pool. ``exact`` is its unrounded share of
    the sale (minor units); ``amount`` its allocation of the rounded pool, within one minor
    unit of ``pool.amount * weight / sum(weights)``."""

    lot: str
    supplier: str
    exact: Fraction
    amount: Money


@dataclass(frozen=True, slots=True)
class RevenueShare:
    """The revenue share owed on one sale: the pool line and its parts (input order)."""

    sale_id: str
    pool: Line
    parts: tuple[SharePart, ...]

    def by_supplier(self) -> dict[str, Money]:
        """Total owed per supplier (sums of allocated parts, so they add up to the pool)."""
        totals: dict[str, Money] = {}
        for part in self.parts:
            totals[part.supplier] = totals.get(part.supplier, Money.zero(part.amount.currency))
            totals[part.supplier] = totals[part.supplier] + part.amount
        return totals


def revenue_share(
    terms: ContractTerms, sale: Sale, contributions: Sequence[Contribution]
) -> RevenueShare:
    """Upstream suppliers' shares of ``sale``'s revenue, pro rata by contribution.

    Lot ``l`` (held by supplier ``s``, contributing fraction ``f_l`` of the sold lot) earns
    ``revenue * f_l * percent_s / 100``. The pool (sum over lots) is one line rounded once;
    it is split over the lots with ``allocate`` (weights ``f_l * percent_s``, keys the lot
    ids), so the parts add up to the pool exactly. Lots of suppliers without a share get zero.

    Raises ``RuleError`` if the contract has no revenue share, ``InvalidFactError`` for
    repeated lots or fractions summing above 1, ``CurrencyMismatchError``.
    """
    shares = terms.revenue_share
    if shares is None:
        raise RuleError(f"contract {terms.contract_id} has no revenue-share terms")
    _check_currency(terms, sale.revenue, f"sale {sale.sale_id}")
    lots = [contribution.lot for contribution in contributions]
    if len(set(lots)) != len(lots):
        raise InvalidFactError(f"sale {sale.sale_id}: upstream lots repeat: {lots}")
    if sum((exact(contribution.fraction) for contribution in contributions), Fraction(0)) > 1:
        raise InvalidFactError(f"sale {sale.sale_id}: contributions add up to more than 1")
    weights = [
        exact(contribution.fraction) * exact(shares.percent_for(contribution.supplier))
        for contribution in contributions
    ]
    revenue = sale.revenue.minor
    pool = _line(terms, LineKind.REVENUE_SHARE, revenue * sum(weights, Fraction(0)) / 100)
    if any(weights):
        amounts = allocate(pool.amount, weights, lots)
    else:
        amounts = [Money.zero(pool.amount.currency) for _ in contributions]
    parts = tuple(
        SharePart(contribution.lot, contribution.supplier, revenue * weight / 100, amount)
        for contribution, weight, amount in zip(contributions, weights, amounts, strict=True)
    )
    return RevenueShare(sale.sale_id, pool, parts)
