"""Properties of random supply graphs: provenance and recall agree with a brute-force walk
over every record, and mass balance holds after every accepted record.

Hypothesis draws a sequence of operations (harvests, shipments, receipts with rejections,
multi-input transformations, destructions, error declarations) over a few participants and
lots; quantities are drawn relative to what the ledger says is available, so most are
accepted and some are refused (a refusal must leave the ledger untouched). The checks then
re-derive everything from the records alone (``Ledger.stored_records`` / ``Record.from_leaf``,
reading the EPCIS JSON directly, never the trace tables):

* every prefix of the accepted history keeps, per (lot, holder), out <= in, and receipts
  within shipments;
* for every lot, ``trace_back`` finds exactly the upstream lots a path enumeration finds,
  with the same exact shares, links and per-lot records, and ``trace_forward`` finds the
  same downstream lots, shares and remaining stock.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.canonical import JSONObject
from ledger.errors import RejectedStatementError
from ledger.state import Kind
from ledger.statement import Record
from ledger.trace.builders import (
    Amount,
    commission,
    declare_error,
    destroy,
    lot_id,
    receive,
    ship,
    transform,
)
from ledger.trace.service import provenance, recall, summary
from tests.ledger.trace.test_ledger_chain import GTIN_WHEAT, TraceChain

PARTIES = ("farm-a", "farm-b", "mill", "bakery")
CAST = tuple((name, ("supplier", "buyer")) for name in PARTIES)
LOTS = tuple(lot_id(GTIN_WHEAT, f"P-{n}") for n in range(4))

fraction = st.fractions(min_value=Fraction(1, 10), max_value=Fraction(6, 5))
party = st.integers(0, len(PARTIES) - 1)
lot = st.integers(0, len(LOTS) - 1)
#: ``who`` is a participant index, or (feasible) an index into the lot's current holders.
who = st.tuples(st.integers(0, 5).map(lambda n: n > 0), party)
harvest = st.tuples(st.just("harvest"), party, lot, st.integers(1, 500))
shipment = st.tuples(st.just("ship"), who, party, lot, fraction)
receipt = st.tuples(st.just("receive"), st.integers(0, 20), fraction, st.fractions(0, 1))
transformation = st.tuples(
    st.just("transform"),
    who,
    st.lists(lot, min_size=1, max_size=3, unique=True),
    lot,
    fraction,
    st.integers(1, 400),
)
destruction = st.tuples(st.just("destroy"), who, lot, fraction)
declaration = st.tuples(st.just("declare"), st.integers(0, 50))
#: Shipments, receipts and transformations are drawn more often than the rest.
operation = st.one_of(
    harvest,
    shipment,
    shipment,
    receipt,
    receipt,
    transformation,
    transformation,
    destruction,
    declaration,
)


def _part(value: Fraction, of: Decimal) -> int:
    return max(1, int(value * Fraction(of)))


def _who(tc: TraceChain, choice: tuple[bool, int], lot_: int) -> tuple[str, int]:
    """(participant, lot index): when ``feasible``, a participant and a lot it holds some
    of (if anyone holds anything); otherwise the drawn participant and lot."""
    feasible, index = choice
    if feasible:
        pairs = [
            (holder, n)
            for n, name in enumerate(LOTS)
            for holder in PARTIES
            if _held(tc, name, holder) > 0
        ]
        if pairs:
            return pairs[(index + lot_) % len(pairs)]
    return PARTIES[index], lot_


def _run(tc: TraceChain, ops: list[tuple[Any, ...]]) -> None:
    """Apply the operations; refused ones must change nothing."""
    recorded: list[tuple[str, JSONObject]] = []
    for op in ops:
        kind = op[0]
        event: JSONObject | None = None
        author = ""
        if kind == "harvest":
            _, p, n, quantity = op
            author = PARTIES[p]
            event = commission(**tc.kw(), gln=tc.gln(author), lots=[Amount(LOTS[n], quantity)])
        elif kind == "ship":
            _, p, r, n, share = op
            author, n = _who(tc, p, n)
            held = _held(tc, LOTS[n], author)
            event = ship(
                **tc.kw(),
                shipper_gln=tc.gln(author),
                receiver_gln=tc.gln(PARTIES[r]),
                lots=[Amount(LOTS[n], _part(share, held))],
            )
        elif kind == "receive":
            _, index, share, refused = op
            shipments = _open_shipments(tc)
            if not shipments:
                continue
            n, shipper, author, available = shipments[index % len(shipments)]
            delivered = _part(share, available)
            rejected = int(refused * delivered)
            event = receive(
                **tc.kw(),
                receiver_gln=tc.gln(author),
                shipper_gln=tc.gln(shipper),
                lots=[Amount(LOTS[n], delivered)],
                rejected=[Amount(LOTS[n], rejected)] if rejected else (),
                reason="damaged" if rejected else None,
            )
        elif kind == "transform":
            _, p, inputs, output, share, produced = op
            if output in inputs:
                continue
            author, first = _who(tc, p, inputs[0])
            inputs = [first, *(i for i in inputs if i != first)]
            if output in inputs:
                continue
            owned = [i for i in inputs if _held(tc, LOTS[i], author) > 0] or inputs
            amounts = [Amount(LOTS[i], _part(share, _held(tc, LOTS[i], author))) for i in owned]
            event = transform(
                **tc.kw(),
                gln=tc.gln(author),
                inputs=amounts,
                outputs=[Amount(LOTS[output], produced)],
            )
        elif kind == "destroy":
            _, p, n, share = op
            author, n = _who(tc, p, n)
            held = _held(tc, LOTS[n], author)
            event = destroy(
                **tc.kw(), gln=tc.gln(author), lots=[Amount(LOTS[n], _part(share, held))]
            )
        else:
            _, k = op
            if not recorded:
                continue
            author, original = recorded[k % len(recorded)]
            event = declare_error(original, when=tc.chain.tick())
        assert event is not None
        size, checkpoint = tc.ledger.size, tc.ledger.latest_checkpoint()
        try:
            tc.record(author, event)
        except RejectedStatementError:
            assert (tc.ledger.size, tc.ledger.latest_checkpoint()) == (size, checkpoint)
            continue
        if kind != "declare":
            recorded.append((author, event))


def _held(tc: TraceChain, lot_: str, holder: str) -> Decimal:
    try:
        return summary(tc.ledger, lot_).remaining(holder, "KGM")
    except Exception:  # noqa: BLE001 - an unknown lot holds nothing
        return Decimal(0)


def _open_shipments(tc: TraceChain) -> list[tuple[int, str, str, Decimal]]:
    """(lot index, shipper, receiver, quantity) of every shipment still in transit."""
    found: list[tuple[int, str, str | None, Decimal]] = []
    for n, name in enumerate(LOTS):
        try:
            transits = summary(tc.ledger, name).transits
        except Exception:  # noqa: BLE001 - an unknown lot has no shipments
            transits = ()
        found.extend((n, t.shipper, t.receiver, t.open) for t in transits if t.open > 0)
    return [(n, s, r, q) for n, s, r, q in found if r is not None]


# -- the brute-force model, from the records alone ------------------------------------------


@dataclass
class Model:
    """Effects of the counting events, re-derived from the records' EPCIS JSON."""

    participants: dict[str, str] = field(default_factory=dict)  # gln -> participant
    events: list[tuple[int, str, JSONObject]] = field(default_factory=list)  # seq, author
    declared: dict[str, int] = field(default_factory=dict)  # eventID -> declaration seq

    def counting(self, upto: int | None = None) -> list[tuple[int, str, JSONObject]]:
        return [
            (seq, author, event)
            for seq, author, event in self.events
            if (upto is None or seq <= upto)
            and not (
                event["eventID"] in self.declared
                and (upto is None or self.declared[str(event["eventID"])] <= upto)
            )
        ]

    def party(self, event: JSONObject, side: str) -> str | None:
        key = "sourceList" if side == "source" else "destinationList"
        for entry in event.get(key) or []:  # type: ignore[union-attr]
            assert isinstance(entry, dict)
            uri = str(entry.get(side))
            return self.participants.get(uri.rsplit("/", 1)[1], uri)
        return None


def _model(tc: TraceChain) -> Model:
    model = Model()
    for stored in tc.ledger.iter_stored():
        record = Record.from_leaf(stored.leaf)
        statement = record.statement
        if statement.kind == Kind.REGISTER and "gln" in statement.body:
            model.participants[str(statement.body["gln"])] = str(statement.body["participant"])
        if statement.kind != Kind.TRACE_EVENT:
            continue
        event = statement.body["event"]
        assert isinstance(event, dict)
        if "errorDeclaration" in event:
            model.declared[str(event["eventID"])] = record.seq
        else:
            model.events.append((record.seq, statement.author, event))
    return model


def _quantities(event: JSONObject, key: str) -> list[tuple[str, Fraction]]:
    items = event.get(key) or []
    assert isinstance(items, list)
    out = []
    for item in items:
        assert isinstance(item, dict)
        out.append((str(item["epcClass"]), Fraction(str(item["quantity"]))))
    return out


@dataclass
class Effects:
    held: dict[tuple[str, str], Fraction] = field(default_factory=lambda: defaultdict(Fraction))
    transit: dict[tuple[str, str, str], Fraction] = field(
        default_factory=lambda: defaultdict(Fraction)
    )
    produced: dict[str, Fraction] = field(default_factory=lambda: defaultdict(Fraction))
    # (seq, input lot, output lot, input share, output quantity)
    links: list[tuple[int, str, str, Fraction, Fraction]] = field(default_factory=list)
    naming: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))


def _effects(model: Model, events: list[tuple[int, str, JSONObject]]) -> Effects:
    out = Effects()
    for seq, author, event in events:
        step = event.get("bizStep")
        if event["type"] == "TransformationEvent":
            inputs = _quantities(event, "inputQuantityList")
            outputs = _quantities(event, "outputQuantityList")
            total = sum((q for _, q in inputs), Fraction(0))
            for name, q in inputs:
                out.held[(name, author)] -= q
                out.naming[name].add(seq)
            for name, q in outputs:
                out.held[(name, author)] += q
                out.produced[name] += q
                out.naming[name].add(seq)
            out.links.extend(
                (seq, i, o, qi / total, qo) for i, qi in inputs for o, qo in outputs if i != o
            )
            continue
        for name, q in _quantities(event, "quantityList"):
            out.naming[name].add(seq)
            if step == "commissioning":
                out.held[(name, author)] += q
                out.produced[name] += q
            elif step == "shipping":
                receiver = model.party(event, "destination") or ""
                out.held[(name, author)] -= q
                out.transit[(name, author, receiver)] += q
            elif step == "destroying":
                out.held[(name, author)] -= q
            elif step == "receiving":
                shipper = model.party(event, "source")
                assert shipper is not None
                rejected = sum(
                    (
                        r
                        for n, r in _quantities(event, "fairledger:rejectedQuantityList")
                        if n == name
                    ),
                    Fraction(0),
                )
                out.held[(name, author)] += q - rejected
                out.held[(name, shipper)] += rejected
                out.transit[(name, shipper, author)] -= q
    return out


def _paths_up(effects: Effects, root: str) -> dict[str, Fraction]:
    """Share of ``root`` from every upstream lot, by enumerating every path."""
    shares: dict[str, Fraction] = defaultdict(Fraction)

    def walk(lot_: str, share: Fraction) -> None:
        shares[lot_] += share
        for _seq, i, o, in_share, out_q in effects.links:
            if o == lot_:
                walk(i, share * in_share * out_q / effects.produced[o])

    walk(root, Fraction(1))
    return dict(shares)


def _paths_down(effects: Effects, root: str) -> dict[str, Fraction]:
    shares: dict[str, Fraction] = defaultdict(Fraction)

    def walk(lot_: str, share: Fraction) -> None:
        shares[lot_] += share
        for _seq, i, o, in_share, out_q in effects.links:
            if i == lot_:
                walk(o, share * in_share * out_q / effects.produced[o])

    walk(root, Fraction(1))
    return dict(shares)


def _check(tc: TraceChain) -> None:
    model = _model(tc)
    # Mass balance after every accepted record (declarations count from their own seq).
    for seq, _author, _event in model.events + [(s, "", {}) for s in model.declared.values()]:
        effects = _effects(model, model.counting(seq))
        assert all(q >= 0 for q in effects.held.values()), f"negative stock after seq {seq}"
        assert all(q >= 0 for q in effects.transit.values()), f"over-receipt after seq {seq}"
    effects = _effects(model, model.counting())
    for name in sorted(effects.naming):
        found = provenance(tc.ledger, name)
        expected = _paths_up(effects, name)
        assert {t.lot: t.share for t in found.lots} == expected
        assert {(link.seq, link.input_lot, link.output_lot) for link in found.links} == {
            (s, i, o) for s, i, o, _, _ in effects.links if o in expected
        }
        for traced in found.lots:
            assert {m.seq for m in traced.movements} == effects.naming[traced.lot]
            for balance in traced.balances:
                assert balance.remaining == effects.held[(traced.lot, balance.holder)]
        called = recall(tc.ledger, name)
        downstream = _paths_down(effects, name)
        assert {t.lot: t.share for t in called.lots} == downstream
        stock = {(s.lot, s.status, s.holder, s.shipper, Fraction(s.quantity)) for s in called.stock}
        assert stock == {
            (n, "held", holder, None, q)
            for (n, holder), q in effects.held.items()
            if n in downstream and q > 0
        } | {
            (n, "in_transit", receiver or None, shipper, q)
            for (n, shipper, receiver), q in effects.transit.items()
            if n in downstream and q > 0
        }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(operation, min_size=4, max_size=28))
def test_provenance_and_recall_agree_with_a_brute_force_walk(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tc = TraceChain.create(Path(scratch) / "graph.db", CAST)
        try:
            _run(tc, ops)
            _check(tc)
            before = tc.ledger.projection_dump()
            tc.ledger.rebuild_projections()
            assert tc.ledger.projection_dump() == before
        finally:
            tc.close()
