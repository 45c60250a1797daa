"""Fairness metrics worked examples: producer share, value distribution and Gini, floors."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from contracts.audit import fairness_report, gini
from contracts.money import Money
from contracts.provenance import ProvenanceGraph
from contracts.scenario import EntryLog, Reading, lot_id, sale_body
from contracts.settlement import settle
from contracts.terms import parse_terms
from ledger.state import Kind
from tests.contracts.samples import GTIN_BERRIES, GTIN_FLOUR, set_path, terms_document
from tests.contracts.test_settlement_worked import (
    AURORA,
    BRISA,
    BUYER,
    CONTRACT,
    contract_log,
    deliver,
    record,
)


def eur(text: str) -> Money:
    return Money.parse(text, "EUR")


def july_with_sales() -> EntryLog:
    """Aurora delivers 100 kg of berries (420.00) and brisa 500 kg of flour (400.00) in July;
    the roastery sells lot X1, made only of aurora's berries, for 2000.00 (aurora's 2 % share:
    40.00) and lot Y1 (no upstream shareholder) for 1000.00. The statement is recorded."""
    log = contract_log()
    berries = lot_id(GTIN_BERRIES, "J-1")
    ship, _ = deliver(log, AURORA, berries, "100", "100", on=date(2026, 7, 2))
    deliver(log, BRISA, lot_id(GTIN_FLOUR, "J-2"), "500", "500", on=date(2026, 7, 3))
    x1, y1 = lot_id("07612345000046", "X1"), lot_id("07612345000046", "Y1")
    t = log.add(Kind.TRACE_EVENT, BUYER, {"event": {"type": "TransformationEvent"}})
    graph = ProvenanceGraph().supplied(berries, AURORA, ship).transformed(x1, {berries: 100}, t)
    log.add(Kind.SALE_REPORT, BUYER, sale_body(x1, "2026-07", "80", "2000.00"))
    log.add(Kind.SALE_REPORT, BUYER, sale_body(y1, "2026-07", "40", "1000.00"))
    record(log, settle(CONTRACT, "2026-07", log.last, log.entries, graph))
    return log


def test_producer_share_of_end_revenue() -> None:
    """Producers (suppliers that do not buy): aurora and brisa. They earned 420.00 + 400.00 of
    goods and 40.00 of revenue share; the roastery's July sales were 3000.00.
    Share = 860 / 3000 = 43/150 ≈ 0.286667."""
    report = fairness_report(july_with_sales().entries)
    (share,) = report.producer_shares
    assert (share.contract_id, share.period, share.producers) == (
        CONTRACT,
        "2026-07",
        (AURORA, BRISA),
    )
    assert (share.end_revenue, share.producer_goods, share.producer_revenue_share) == (
        eur("3000.00"),
        eur("820.00"),
        eur("40.00"),
    )
    assert share.share == Fraction(43, 150)
    assert share.to_json()["share"] == {"exact": "43/150", "decimal": "0.286667"}


def test_value_distribution_and_gini() -> None:
    """Value captured in July: aurora 420 + 40 = 460.00, brisa 400.00, the roastery 3000 −
    820 − 40 = 2140.00 (total 3000). Shares 23/150, 2/15, 107/150.

    Gini: Σ_i Σ_j |x_i − x_j| = 2 × (60 + 1740 + 1680) = 6960; / (2 × 3 × 3000) = 29/75.
    """
    report = fairness_report(july_with_sales().entries, period="2026-07")
    (distribution,) = report.distributions
    assert distribution.values == (
        (AURORA, eur("460.00")),
        (BRISA, eur("400.00")),
        (BUYER, eur("2140.00")),
    )
    assert distribution.shares() == {
        AURORA: Fraction(23, 150),
        BRISA: Fraction(2, 15),
        BUYER: Fraction(107, 150),
    }
    assert distribution.gini == Fraction(29, 75)
    assert fairness_report(july_with_sales().entries, period="2026-08").distributions == ()


def test_floor_findings() -> None:
    """Berries agreed at 4.20 under a declared 4.50 floor: the terms fall below their floor
    (the floor applies, 4.50/kg). A 10 kg delivery kept at 12 °C (8 degrees over: 40 % capped
    at 30 %) nets 45.00 − 13.50 = 31.50, 3.15/kg: below the floor after penalties."""
    document = terms_document()
    set_path(document, "products.1.pricing.floor", "4.50")
    terms = parse_terms(document)
    log = contract_log(terms)
    berries = lot_id(GTIN_BERRIES, "W-1")
    ship, receive = deliver(
        log, AURORA, berries, "10", "10", on=date(2026, 7, 2), readings=(Reading(value="12"),)
    )
    statement = settle(CONTRACT, "2026-07", log.last, log.entries, ProvenanceGraph())
    assert statement.deliveries[0].net == eur("31.50")
    record(log, statement)
    findings = fairness_report(log.entries).floor_findings
    assert [(f.kind, f.gtin, f.detail, f.seqs) for f in findings] == [
        (
            "realised",
            GTIN_BERRIES,
            f"delivery {receive}:{berries} was settled at 3.1500 per KGM, below the declared floor "
            "4.50",
            (ship, receive),
        ),
        (
            "terms",
            GTIN_BERRIES,
            "agreed price 4.20 is below the declared floor 4.50 (the floor applies)",
            (1,),
        ),
    ]


def test_gini_known_values() -> None:
    assert gini([]) == 0
    assert gini([5, 5, 5]) == 0
    assert gini([0, 0, 0, 10]) == Fraction(3, 4)  # one holds everything: (n − 1)/n
    assert gini([-5, 10]) == Fraction(1, 2)  # negative values count as zero
    assert gini([0, 0]) == 0


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=30))
def test_gini_matches_the_pairwise_definition(values: list[int]) -> None:
    total = sum(values)
    pairwise = sum(abs(a - b) for a in values for b in values)
    expected = Fraction(pairwise, 2 * len(values) * total) if total else Fraction(0)
    assert gini(values) == expected
    assert 0 <= gini(values) < 1
