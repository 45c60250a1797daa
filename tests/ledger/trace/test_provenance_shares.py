"""Contribution shares through transformations: diamonds, repeated production, dilution by
plain trade items, units of different dimensions; and what trace back and recall refuse."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from ledger.trace.builders import Amount, commission, lot_id, transform
from ledger.trace.errors import MalformedIdentifierError, UnknownLotError
from ledger.trace.provenance import (
    LotLink,
    downstream_shares,
    link_weights,
    production_totals,
    upstream_shares,
)
from ledger.trace.service import provenance, recall, summary
from tests.ledger.trace.test_ledger_chain import GTIN_BREAD, GTIN_FLOUR, GTIN_WHEAT, TraceChain


def _lot(n: str) -> str:
    return lot_id(GTIN_WHEAT, n)


@pytest.fixture
def tc(tmp_path: Path) -> Iterator[TraceChain]:
    chain = TraceChain.create(tmp_path / "shares.db")
    yield chain
    chain.close()


def _harvest(tc: TraceChain, *amounts: Amount) -> None:
    tc.record("mill", commission(**tc.kw(), gln=tc.gln("mill"), lots=list(amounts)))


def _make(tc: TraceChain, inputs: list[Amount], outputs: list[Amount]) -> int:
    return tc.record(
        "mill", transform(**tc.kw(), gln=tc.gln("mill"), inputs=inputs, outputs=outputs)
    )


def test_a_diamond_adds_up_its_paths(tc: TraceChain) -> None:
    """A → B, A → C, B + C → D: A reaches D twice."""
    a, b, c, d, x = _lot("A"), _lot("B"), _lot("C"), _lot("D"), _lot("X")
    _harvest(tc, Amount(a, 100), Amount(x, 100))
    _make(tc, [Amount(a, 30)], [Amount(b, 30)])
    _make(tc, [Amount(a, 20), Amount(x, 20)], [Amount(c, 40)])
    seq = _make(tc, [Amount(b, 30), Amount(c, 10)], [Amount(d, 40)])
    found = provenance(tc.ledger, d)
    shares = {t.lot: t.share for t in found.lots}
    # D is 3/4 B (all A) and 1/4 C (half A, half X).
    assert shares == {
        d: 1,
        b: Fraction(3, 4),
        c: Fraction(1, 4),
        a: Fraction(3, 4) + Fraction(1, 4) * Fraction(1, 2),
        x: Fraction(1, 8),
    }
    assert {t.lot: t.depth for t in found.lots} == {d: 0, b: 1, c: 1, a: 2, x: 2}
    assert [o.lot for o in found.origins()] == [a, x]
    a_lot = found.get(a)
    assert a_lot is not None
    assert seq in a_lot.seqs  # the last transformation is on every path from A
    called = recall(tc.ledger, a)
    assert {t.lot: t.share for t in called.lots} == {
        a: 1,
        b: 1,
        c: Fraction(1, 2),
        d: Fraction(7, 8),
    }


def test_a_lot_produced_twice_weighs_each_production(tc: TraceChain) -> None:
    a, b, c = _lot("A2"), _lot("B2"), _lot("C2")
    _harvest(tc, Amount(a, 100), Amount(b, 100), Amount(c, 30))
    _make(tc, [Amount(a, 10)], [Amount(_lot("OUT"), 10)])
    _make(tc, [Amount(b, 10)], [Amount(_lot("OUT"), 30)])
    shares = {t.lot: t.share for t in provenance(tc.ledger, _lot("OUT")).lots}
    assert shares == {_lot("OUT"): 1, a: Fraction(1, 4), b: Fraction(3, 4)}
    # Commissioning more of the lot directly dilutes what came through transformations.
    tc.record("mill", commission(**tc.kw(), gln=tc.gln("mill"), lots=[Amount(_lot("OUT"), 40)]))
    shares = {t.lot: t.share for t in provenance(tc.ledger, _lot("OUT")).lots}
    assert shares[a] == Fraction(1, 8)
    assert shares[b] == Fraction(3, 8)


def test_plain_trade_items_dilute_and_units_convert(tc: TraceChain) -> None:
    flour, salt = lot_id(GTIN_FLOUR, "F"), "https://id.gs1.org/01/09506000134369"
    bread = lot_id(GTIN_BREAD, "B")
    _harvest(tc, Amount(flour, 1, "TNE"))
    _make(tc, [Amount(flour, 1, "TNE"), Amount(salt, 250, "GRM")], [Amount(bread, 900, "EA")])
    found = provenance(tc.ledger, bread)
    assert {t.lot: t.share for t in found.lots} == {bread: 1, flour: Fraction(4000, 4001)}
    (link,) = found.links
    assert (link.input_quantity, link.input_uom) == (Decimal(1), "TNE")
    assert link.weight == Fraction(4000, 4001)


def test_inputs_of_different_dimensions_have_unknown_shares(tc: TraceChain) -> None:
    oil, flour, dough = _lot("OIL"), _lot("FLR"), _lot("DOUGH")
    _harvest(tc, Amount(oil, 5, "LTR"), Amount(flour, 10))
    _make(tc, [Amount(oil, 5, "LTR"), Amount(flour, 10)], [Amount(dough, 15)])
    found = provenance(tc.ledger, dough)
    assert {t.lot: t.share for t in found.lots} == {dough: 1, oil: None, flour: None}
    assert {t.lot for t in recall(tc.ledger, oil).lots} == {oil, dough}


def test_queries_take_any_lot_syntax_and_refuse_unknown_lots(tc: TraceChain) -> None:
    lot = lot_id(GTIN_WHEAT, "URN-1")
    _harvest(tc, Amount(lot, 5))
    urn = "urn:epc:class:lgtin:9506000.013435.URN-1"
    assert provenance(tc.ledger, urn).lot == lot
    assert summary(tc.ledger, urn).remaining("mill", "KGM") == 5
    with pytest.raises(UnknownLotError):
        provenance(tc.ledger, lot_id(GTIN_WHEAT, "NOPE"))
    with pytest.raises(UnknownLotError):
        recall(tc.ledger, lot_id(GTIN_WHEAT, "NOPE"))
    with pytest.raises(UnknownLotError):
        provenance(tc.ledger, lot, as_of_seq=1)
    with pytest.raises(MalformedIdentifierError):
        provenance(tc.ledger, "https://id.gs1.org/01/09506000134353/10/BAD-CHECK-DIGIT")


def _link(seq: int, a: str, b: str, share: Fraction, out: int) -> LotLink:
    return LotLink(seq, a, b, None, "KGM", Decimal(out), "KGM", share)


def test_share_arithmetic_on_a_hand_made_graph() -> None:
    links = [
        _link(1, "a", "c", Fraction(1, 2), 10),
        _link(1, "b", "c", Fraction(1, 2), 10),
        _link(2, "c", "d", Fraction(1), 5),
        _link(3, "a", "d", Fraction(1), 5),
    ]
    production = production_totals(
        [("c", Decimal(10), "KGM"), ("d", Decimal(5), "KGM"), ("d", Decimal(5), "KGM")]
    )
    weighted = link_weights(links, production)
    assert [link.weight for link in weighted] == [
        Fraction(1, 2),
        Fraction(1, 2),
        Fraction(1, 2),
        Fraction(1, 2),
    ]
    up, depth = upstream_shares("d", weighted)
    assert up == {"d": 1, "c": Fraction(1, 2), "a": Fraction(3, 4), "b": Fraction(1, 4)}
    assert depth == {"d": 0, "c": 1, "a": 1, "b": 2}
    down, _ = downstream_shares("a", weighted)
    assert down == {"a": 1, "c": Fraction(1, 2), "d": Fraction(3, 4)}
