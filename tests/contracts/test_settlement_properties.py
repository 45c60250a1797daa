"""Settlement properties: deterministic, independent of record order, penalties within their
caps, interest monotonic in lateness, and monthly charges adding up to the accrued interest
rounded once."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.audit import payments_audit
from contracts.money import Money
from contracts.provenance import ProvenanceGraph
from contracts.scenario import EntryLog, Reading, lot_id, payment_confirm_body, payment_sent_body
from contracts.scenario import sale_body as sale
from contracts.settlement import settle
from ledger.state import Kind
from tests.contracts.samples import GTIN_BERRIES, GTIN_COFFEE, GTIN_FLOUR
from tests.contracts.test_settlement_worked import (
    AURORA,
    BRISA,
    BUYER,
    CONTRACT,
    TERMS,
    contract_log,
    deliver,
    record,
)

assert TERMS.late_delivery is not None
LATE_CAP = TERMS.late_delivery.cap_percent
CONDITION_CAP = sum((c.cap_percent for p in TERMS.products for c in p.conditions), Decimal(0))


@dataclass(frozen=True)
class DeliverySpec:
    supplier: str
    gtin: str
    shipped: Decimal
    accepted_share: int  # percent of the shipped quantity accepted
    day: int
    days_late: int
    reading: Decimal | None
    force_majeure: bool


deliveries = st.builds(
    DeliverySpec,
    supplier=st.sampled_from([AURORA, BRISA]),
    gtin=st.sampled_from([GTIN_BERRIES, GTIN_FLOUR, GTIN_COFFEE]),
    shipped=st.decimals(min_value=1, max_value=3000, places=1),
    accepted_share=st.integers(1, 100),
    day=st.integers(1, 31),
    days_late=st.integers(-5, 120),
    reading=st.none() | st.decimals(min_value=-10, max_value=20, places=1),
    force_majeure=st.booleans(),
)


def build_month(
    specs: list[DeliverySpec], sales: list[tuple[list[int], int]]
) -> tuple[EntryLog, ProvenanceGraph, dict[tuple[str, date], Decimal]]:
    log = contract_log()
    graph = ProvenanceGraph()
    prices: dict[tuple[str, date], Decimal] = {}
    lots = []
    for n, spec in enumerate(specs):
        on = date(2026, 7, spec.day)
        lot = lot_id(spec.gtin, f"P{n}")
        accepted = max(
            Decimal("0.1"), (spec.shipped * spec.accepted_share / 100).quantize(Decimal("0.1"))
        )
        readings = () if spec.reading is None else (Reading(value=f"{spec.reading}"),)
        ship, _ = deliver(
            log,
            spec.supplier,
            lot,
            f"{spec.shipped}",
            f"{min(accepted, spec.shipped)}",
            on=on,
            due=on - timedelta(days=spec.days_late),
            readings=readings,
        )
        if spec.gtin == GTIN_COFFEE:
            prices[(spec.gtin, on)] = Decimal("3.00") + Decimal(n % 150) / 100
        graph.supplied(lot, spec.supplier, ship)
        lots.append(lot)
    for n, (inputs, revenue) in enumerate(sales):
        blend = lot_id("07612345000046", f"X{n}")
        chosen = {lots[i % len(lots)]: (i % 7) + 1 for i in inputs}
        seq = log.add(Kind.TRACE_EVENT, BUYER, {"event": {"type": "TransformationEvent"}})
        graph.transformed(blend, chosen, seq)
        log.add(Kind.SALE_REPORT, BUYER, sale(blend, "2026-07", "1", f"{revenue}.00"))
    return log, graph, prices


sales_strategy = st.lists(
    st.tuples(st.lists(st.integers(0, 50), min_size=1, max_size=4), st.integers(-500, 99_999)),
    max_size=5,
)


@settings(max_examples=40, deadline=None)
@given(
    specs=st.lists(deliveries, min_size=1, max_size=12),
    sales=sales_strategy,
    seed=st.integers(0, 2**32 - 1),
)
def test_settlement_is_deterministic_and_independent_of_record_order(
    specs: list[DeliverySpec], sales: list[tuple[list[int], int]], seed: int
) -> None:
    log, graph, prices = build_month(specs, sales)
    first = settle(CONTRACT, "2026-07", log.last, log.entries, graph, market_prices=prices)
    shuffled = list(log.entries)
    random.Random(seed).shuffle(shuffled)
    again = settle(CONTRACT, "2026-07", log.last, shuffled, graph, market_prices=prices)
    assert again.canonical == first.canonical
    assert again.hash == first.hash
    # Records after as_of_seq never matter.
    extra = EntryLog(start=log.next)
    extra.entries = list(log.entries)
    extra.add(Kind.SALE_REPORT, BUYER, sale(lot_id("07612345000046", "X0"), "2026-07", "1", "5"))
    later = settle(CONTRACT, "2026-07", log.last, extra.entries, graph, market_prices=prices)
    assert later.canonical == first.canonical
    # Obligations add up to the lines they net.
    for payee in (AURORA, BRISA):
        lines = [d.net for d in first.deliveries if d.payee == payee] + [
            p.amount
            for s in first.revenue_shares
            for p in s.parts
            if p.contribution.supplier == payee
        ]
        assert first.total(BUYER, payee) - first.total(payee, BUYER) == Money.total(lines, "EUR")


@settings(max_examples=60, deadline=None)
@given(specs=st.lists(deliveries, min_size=1, max_size=8))
def test_penalties_never_exceed_their_caps(specs: list[DeliverySpec]) -> None:
    log, graph, prices = build_month(specs, [])
    statement = settle(CONTRACT, "2026-07", log.last, log.entries, graph, market_prices=prices)
    assert statement.deliveries
    for delivery in statement.deliveries:
        valuation = delivery.valuation
        goods = valuation.goods.exact
        late_cap = goods * Fraction(LATE_CAP) / 100
        condition_cap = goods * Fraction(CONDITION_CAP) / 100
        assert 0 <= -valuation.late_penalty.exact <= late_cap
        assert 0 <= -valuation.condition_penalty.exact <= condition_cap
        assert -valuation.late_penalty.amount.minor <= round(late_cap) + 1
        assert valuation.net.minor >= 0


def april_obligation(quantity: int) -> tuple[EntryLog, str, Money, date]:
    """An April flour delivery to aurora, settled and recorded: the obligation's id,
    amount and due date (30 May)."""
    log = contract_log()
    deliver(
        log, AURORA, lot_id(GTIN_FLOUR, "F"), f"{quantity}", f"{quantity}", on=date(2026, 4, 10)
    )
    april = settle(CONTRACT, "2026-04", log.last, log.entries, ProvenanceGraph())
    record(log, april)
    (due,) = april.obligations
    return log, due.id, due.amount, due.due_on


def pay(log: EntryLog, obligation: str, amount: Money, on: date) -> None:
    sent = log.add(
        Kind.PAYMENT_SENT, BUYER, payment_sent_body([(obligation, amount.amount)], sent_on=on)
    )
    log.add(Kind.PAYMENT_CONFIRM, AURORA, payment_confirm_body(sent, received_on=on))


@settings(max_examples=40, deadline=None)
@given(first=st.integers(0, 250), extra=st.integers(0, 250), quantity=st.integers(1, 9000))
def test_interest_is_monotonic_in_days_late(first: int, extra: int, quantity: int) -> None:
    """The same obligation paid ``first`` and ``first + extra`` days after its due date: the
    later payment never accrues less interest (audited long after both)."""
    accrued = []
    for days in (first, first + extra):
        log, oid, amount, due_on = april_obligation(quantity)
        pay(log, oid, amount, due_on + timedelta(days=days))
        audit = payments_audit(log.entries, date(2027, 6, 30))
        accrued.append(audit.obligations[0].interest)
    assert accrued[0] <= accrued[1]
    if first == 0:
        assert accrued[0].is_zero()


@settings(max_examples=15, deadline=None)
@given(quantity=st.integers(1, 9000), late_days=st.integers(1, 300))
def test_monthly_charges_add_up_to_the_interest_accrued(quantity: int, late_days: int) -> None:
    """Settling every month from May to December bills, in total, exactly the interest and the
    compensation accrued on the April obligation by 31 December, each rounded once."""
    log, oid, amount, due_on = april_obligation(quantity)
    paid_on = due_on + timedelta(days=late_days)
    billed = {"late_payment_interest": 0, "fixed_compensation": 0}
    for month in range(5, 13):
        if (paid_on.year, paid_on.month) == (2026, month):
            pay(log, oid, amount, paid_on)
        statement = settle(CONTRACT, f"2026-{month:02d}", log.last, log.entries, ProvenanceGraph())
        for charge in statement.charges:
            billed[charge.kind] += charge.amount.minor
        record(log, statement)
    audit = payments_audit(log.entries, date(2026, 12, 31))
    (april,) = [a for a in audit.obligations if a.obligation.id == oid]
    assert billed["late_payment_interest"] == april.interest.minor
    assert billed["fixed_compensation"] == april.compensation.minor == 4000
