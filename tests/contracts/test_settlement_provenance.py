"""``ProvenanceGraph.contributions`` walks with integer ratios; these properties compare it
with the plain ``Fraction`` walk it replaces (shares multiplied along every path, summed per
supplied lot, seqs united), on random acyclic graphs with repeated and diamond paths."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.provenance import ProvenanceGraph, decimal_share


def _lot(n: int) -> str:
    return f"https://id.gs1.org/01/07612345000015/10/L{n}"


@st.composite
def graphs(draw: st.DrawFn) -> tuple[ProvenanceGraph, list[str], int]:
    """Lots 0..k-1 supplied; later lots transformed from lower-numbered ones (no cycles)."""
    supplied = draw(st.integers(1, 5))
    graph = ProvenanceGraph()
    seq = 0
    for n in range(supplied):
        seq += 1
        graph.supplied(_lot(n), f"farm-{n % 3}", seq)
    lots = supplied
    for _ in range(draw(st.integers(0, 6))):
        # a new lot, or another transformation into a transformed one; inputs are always
        # lower-numbered lots, so the graph stays acyclic
        output = draw(st.integers(supplied, lots))
        inputs = draw(
            st.dictionaries(st.integers(0, output - 1), st.integers(1, 999), min_size=1, max_size=4)
        )
        seq += 1
        graph.transformed(_lot(output), {_lot(k): q for k, q in inputs.items()}, seq)
        lots = max(lots, output + 1)
    return graph, [_lot(n) for n in range(lots + 1)], seq


def _reference(
    graph: ProvenanceGraph, lot: str, as_of_seq: int
) -> list[tuple[str, str, object, tuple[int, ...]]]:
    shares: dict[str, Fraction] = {}
    proofs: dict[str, set[int]] = {}

    def walk(lot: str, share: Fraction, path: frozenset[int]) -> None:
        transforms = [t for t in graph.transforms.get(lot, ()) if t.seq <= as_of_seq]
        if transforms:
            total = sum((q for t in transforms for _, q in t.inputs), Fraction(0))
            for t in transforms:
                for source, quantity in t.inputs:
                    walk(source, share * quantity / total, path | {t.seq})
            return
        supply = graph.supplies.get(lot)
        if supply is None or supply.seq > as_of_seq:
            return
        shares[lot] = shares.get(lot, Fraction(0)) + share
        proofs.setdefault(lot, set()).update(path | {supply.seq})

    walk(lot, Fraction(1), frozenset())
    return [
        (o, graph.supplies[o].supplier, decimal_share(s), tuple(sorted(proofs[o])))
        for o, s in sorted(shares.items())
    ]


@settings(max_examples=200, deadline=None)
@given(built=graphs(), data=st.data())
def test_integer_walk_gives_the_fraction_walk(
    built: tuple[ProvenanceGraph, list[str], int], data: st.DataObject
) -> None:
    graph, lots, last = built
    lot = data.draw(st.sampled_from(lots))
    as_of_seq = data.draw(st.integers(0, last))
    found = [(c.lot, c.supplier, c.fraction, c.seqs) for c in graph.contributions(lot, as_of_seq)]
    assert found == _reference(graph, lot, as_of_seq)


def test_a_diamond_sums_both_paths() -> None:
    """Lot A (farm-0) goes 1:1 with B (farm-1) into M; M and A go 1:3 into S. A's share of
    S: 3/4 directly + 1/4 * 1/2 through M = 7/8; B's: 1/4 * 1/2 = 1/8."""
    a, b, m, s = (_lot(n) for n in range(4))
    graph = ProvenanceGraph().supplied(a, "farm-0", 1).supplied(b, "farm-1", 2)
    graph.transformed(m, {a: 1, b: 1}, 3).transformed(s, {m: 1, a: 3}, 4)
    found = {c.lot: (str(c.fraction), c.seqs) for c in graph.contributions(s, 4)}
    assert found == {a: ("0.875", (1, 3, 4)), b: ("0.125", (2, 3, 4))}
