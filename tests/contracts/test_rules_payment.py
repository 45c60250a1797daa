"""Payment rules: due date, early-payment discount, late-payment interest, fixed compensation.

Sample terms: 2/10 net 30, ECB rate + 8 points on ACT/365, EUR 40 compensation. The rate table
holds 2.15 % from 2025-06-11, 2.40 % from 2026-03-18 and 2.65 % from 2026-06-30, so the
reference rate is 2.15 % for January–June 2026 (in force on 1 January; the March change does
not count until July) and 2.65 % for July–December 2026 (in force on 1 July).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import CurrencyMismatchError, ReferenceRateMissingError
from contracts.facts import Invoice, Payment
from contracts.money import Currency, Money, to_minor
from contracts.rules import (
    LineKind,
    amount_due,
    early_payment_discount,
    fixed_compensation,
    late_payment_interest,
    payment_due_date,
    reference_rate,
)
from tests.contracts.samples import changed, sample_terms

EUR = Currency("EUR")
TERMS = sample_terms()
ISSUED = date(2026, 1, 15)
DUE = date(2026, 2, 14)


def eur(text: str) -> Money:
    return Money.parse(text, EUR)


def invoice(*payments: tuple[date, str], due: date = DUE, amount: str = "10000.00") -> Invoice:
    return Invoice(
        invoice_id="inv-1",
        amount=eur(amount),
        issued=due - timedelta(days=30),
        due=due,
        payments=tuple(Payment(day, eur(paid)) for day, paid in payments),
    )


def test_due_date_is_net_days_after_issue() -> None:
    assert payment_due_date(TERMS, ISSUED) == DUE


def test_reference_rate_is_fixed_per_half_year() -> None:
    """Rate in force on 1 January for Jan–Jun, on 1 July for Jul–Dec (Art. 2(7))."""
    interest = TERMS.payment.late_interest
    assert reference_rate(interest, date(2026, 1, 1)) == Decimal("2.15")
    assert reference_rate(interest, date(2026, 6, 30)) == Decimal("2.15")  # not 2.40 or 2.65
    assert reference_rate(interest, date(2026, 7, 1)) == Decimal("2.65")
    assert reference_rate(interest, date(2025, 12, 31)) == Decimal("2.15")
    with pytest.raises(ReferenceRateMissingError, match="2025-01-01"):
        reference_rate(interest, date(2025, 3, 1))


def test_early_payment_discount_earned() -> None:
    """10,000.00 EUR issued 15 January, paid 9,800.00 on 25 January (day 10 of the 2/10 window).

    Discount 2 % = 200.00 EUR; amount due 9,800.00, fully paid: no interest, no compensation.
    """
    inv = invoice((date(2026, 1, 25), "9800.00"))
    discount = early_payment_discount(TERMS, inv)
    assert discount.kind is LineKind.EARLY_PAYMENT_DISCOUNT
    assert discount.amount == eur("-200.00")
    assert amount_due(TERMS, inv) == eur("9800.00")
    assert late_payment_interest(TERMS, inv, date(2026, 12, 31)).amount.is_zero()
    assert fixed_compensation(TERMS, inv, date(2026, 12, 31)).amount.is_zero()


def test_early_payment_discount_missed_by_a_day() -> None:
    """Paid 9,800.00 on 26 January, day 11: no discount, so 200.00 stays due and is late."""
    inv = invoice((date(2026, 1, 26), "9800.00"))
    assert early_payment_discount(TERMS, inv).amount.is_zero()
    assert amount_due(TERMS, inv) == eur("10000.00")
    assert fixed_compensation(TERMS, inv, date(2026, 2, 15)).amount == eur("40.00")


def test_late_interest_within_one_half_year() -> None:
    """10,000.00 EUR due 14 February 2026, paid in full on 16 March: 30 days late.

    Rate 2.15 + 8 = 10.15 % a year, ACT/365: 1,000,000 cents × 0.1015 × 30/365
    = 3,045,000/365 = 8342.47 cents → 8342 → 83.42 EUR. Plus EUR 40 compensation.
    """
    inv = invoice((date(2026, 3, 16), "10000.00"))
    interest = late_payment_interest(TERMS, inv, date(2026, 12, 31))
    assert interest.exact == Fraction(3_045_000, 365)
    assert interest.amount == eur("83.42")
    assert fixed_compensation(TERMS, inv, date(2026, 12, 31)).amount == eur("40.00")


def test_late_interest_on_act_360() -> None:
    """Same on ACT/360: 3,045,000/360 = 8458.33 cents → 84.58 EUR."""
    terms = changed("payment.late_interest.day_count", "ACT/360")
    inv = invoice((date(2026, 3, 16), "10000.00"))
    assert late_payment_interest(terms, inv, date(2026, 12, 31)).amount == eur("84.58")


def test_late_interest_across_a_half_year_boundary() -> None:
    """10,000.00 EUR due 20 June 2026, paid 10 July: 10 days in June at 2.15 + 8 = 10.15 %,
    10 days in July at 2.65 + 8 = 10.65 %.

    1,000,000 × (0.1015 × 10 + 0.1065 × 10) / 365 = 2,080,000/365 = 5698.63 cents → 56.99.
    Rounded once over both halves (per half: 2780.82 + 2917.81 → 2781 + 2918 = 5699 here
    too, but the exact sum is what is rounded).
    """
    inv = invoice((date(2026, 7, 10), "10000.00"), due=date(2026, 6, 20))
    interest = late_payment_interest(TERMS, inv, date(2026, 12, 31))
    assert interest.exact == Fraction(2_080_000, 365)
    assert interest.amount == eur("56.99")


def test_late_interest_with_partial_payments() -> None:
    """10,000.00 due 14 February; 4,000.00 paid 24 February, 6,000.00 paid 16 March.

    10,000.00 outstanding for 10 days, then 6,000.00 for 20 days, at 10.15 %:
    (1,000,000 × 10 + 600,000 × 20) × 0.1015 / 365 = 2,233,000/365 = 6117.81 → 61.18 EUR.
    """
    inv = invoice((date(2026, 3, 16), "6000.00"), (date(2026, 2, 24), "4000.00"))
    assert late_payment_interest(TERMS, inv, date(2026, 12, 31)).amount == eur("61.18")


def test_late_interest_accrues_until_as_of_while_unpaid() -> None:
    """Unpaid, as of 24 February: 10 days × 10.15 % on 10,000.00 = 1,015,000/365 = 2780.82
    cents → 27.81 EUR. Payments after ``as_of`` are not yet known and are ignored."""
    inv = invoice((date(2026, 3, 16), "10000.00"))
    assert late_payment_interest(TERMS, inv, date(2026, 2, 24)).amount == eur("27.81")


def test_payment_on_the_due_date_is_on_time() -> None:
    inv = invoice((DUE, "10000.00"))
    assert late_payment_interest(TERMS, inv, date(2026, 12, 31)).amount.is_zero()
    assert fixed_compensation(TERMS, inv, date(2026, 12, 31)).amount.is_zero()
    assert fixed_compensation(TERMS, invoice(), DUE).amount.is_zero()  # not late yet


def test_negative_total_rate_accrues_nothing() -> None:
    """A reference rate of −9 % with the 8-point margin is −1 %: counted as 0."""
    terms = changed(
        "payment.late_interest.reference_rates",
        [{"effective_from": "2020-01-01", "percent": "-9"}],
    )
    inv = invoice((date(2026, 3, 16), "10000.00"))
    assert late_payment_interest(terms, inv, date(2026, 12, 31)).amount.is_zero()


def test_missing_reference_rate_is_an_error() -> None:
    inv = invoice(due=date(2025, 2, 14))
    with pytest.raises(ReferenceRateMissingError):
        late_payment_interest(TERMS, inv, date(2025, 3, 1))


def test_invoice_in_another_currency_refused() -> None:
    usd = Invoice("inv-2", Money.parse("10.00", "USD"), ISSUED, DUE)
    with pytest.raises(CurrencyMismatchError, match="USD"):
        late_payment_interest(TERMS, usd, date(2026, 3, 1))


days = st.integers(min_value=0, max_value=800)
amounts = st.integers(min_value=1, max_value=10**10)


@given(amount=amounts, first=days, extra=days, day_count=st.sampled_from(["ACT/365", "ACT/360"]))
def test_interest_is_monotonic_in_days_late(
    amount: int, first: int, extra: int, day_count: str
) -> None:
    """Paying later never costs less: for a single full payment and for an unpaid invoice."""
    terms = changed("payment.late_interest.day_count", day_count)
    due = date(2026, 2, 14)

    def paid_after(late: int) -> Money:
        inv = Invoice(
            "i",
            Money(amount, EUR),
            due - timedelta(30),
            due,
            (Payment(due + timedelta(late), Money(amount, EUR)),),
        )
        return late_payment_interest(terms, inv, date(2030, 1, 1)).amount

    def unpaid_as_of(late: int) -> Money:
        inv = Invoice("i", Money(amount, EUR), due - timedelta(30), due)
        return late_payment_interest(terms, inv, due + timedelta(late)).amount

    assert paid_after(first) <= paid_after(first + extra)
    assert unpaid_as_of(first) <= unpaid_as_of(first + extra)
    assert paid_after(first) == unpaid_as_of(first)


@given(amount=amounts, due_offset=st.integers(0, 700), late=st.integers(0, 500))
def test_interest_is_rounded_once_over_half_years(amount: int, due_offset: int, late: int) -> None:
    """The line is ``to_minor`` of the exact sum over days, each at its half-year's rate."""
    due = date(2025, 7, 1) + timedelta(due_offset)
    paid = due + timedelta(late)
    inv = Invoice(
        "i", Money(amount, EUR), due - timedelta(30), due, (Payment(paid, Money(amount, EUR)),)
    )
    interest = TERMS.payment.late_interest
    expected = sum(
        (
            Fraction(amount) * (Fraction(reference_rate(interest, day)) + 8) / 100 / 365
            for day in (due + timedelta(n) for n in range(1, late + 1))
        ),
        Fraction(0),
    )
    line = late_payment_interest(TERMS, inv, paid)
    assert line.exact == expected
    assert line.amount == to_minor(expected, EUR, TERMS.rounding.mode)
