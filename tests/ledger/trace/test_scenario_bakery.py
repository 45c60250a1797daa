"""End to end: two farms → a mill → a bakery → a retailer and a café.

Pallets (the farm ships its wheat on two SSCCs), a split shipment (the same wheat lot in two
shipments; the flour in two more), a partial rejection (the mill refuses 100 kg of a damaged
pallet, which goes back to the farm), a correction by errorDeclaration (the mill retracts a
transformation recorded with the wrong quantities and records the right one), plain trade
item inputs that dilute the shares (salt), a retail sale and a shipment still in transit.

Trace back from the loaves reaches both farms with exact shares and the records proving
every step; recall from a farm's wheat finds everyone still holding some of it, downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from ledger.canonical import JSONObject
from ledger.trace.builders import (
    Amount,
    commission,
    declare_error,
    lot_id,
    pack,
    receive,
    sell,
    ship,
    transform,
    unpack,
    with_check_digit,
)
from ledger.trace.provenance import Stock
from ledger.trace.service import provenance, recall
from tests.ledger.trace.test_ledger_chain import (
    GTIN_BREAD,
    GTIN_FLOUR,
    GTIN_WHEAT,
    TraceChain,
    sscc_for,
)

WHEAT_A = lot_id(GTIN_WHEAT, "FARM-A-24")
WHEAT_B = lot_id(GTIN_WHEAT, "FARM-B-24")
FLOUR = lot_id(GTIN_FLOUR, "MILL-0917")
LOAVES = lot_id(GTIN_BREAD, "BAKE-0920")
SALT = "https://id.gs1.org/01/" + with_check_digit("0950611000009")
PALLET_1 = sscc_for(101)
PALLET_2 = sscc_for(102)

SCENARIO_CAST: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("farm-a", ("supplier",)),
    ("farm-b", ("supplier",)),
    ("mill", ("supplier", "buyer")),
    ("bakery", ("supplier", "buyer")),
    ("retailer", ("supplier", "buyer")),
    ("cafe", ("supplier", "buyer")),
)


@dataclass(frozen=True)
class Scenario:
    seqs: dict[str, int]
    wrong_event_id: str
    fixed_event_id: str


def bakery_scenario(tc: TraceChain) -> Scenario:
    """Record the whole story; returns the seq of every step by name."""
    g = tc.gln
    seqs: dict[str, int] = {}

    def rec(name: str, author: str, event: JSONObject) -> None:
        seqs[name] = tc.record(author, event)

    rec("harvest-a", "farm-a", commission(**tc.kw(), gln=g("farm-a"), lots=[Amount(WHEAT_A, 1000)]))
    rec("harvest-b", "farm-b", commission(**tc.kw(), gln=g("farm-b"), lots=[Amount(WHEAT_B, 600)]))
    rec(
        "pack-1",
        "farm-a",
        pack(**tc.kw(), gln=g("farm-a"), sscc=PALLET_1, lots=[Amount(WHEAT_A, 500)]),
    )
    rec(
        "pack-2",
        "farm-a",
        pack(**tc.kw(), gln=g("farm-a"), sscc=PALLET_2, lots=[Amount(WHEAT_A, 500)]),
    )
    rec(
        "ship-1",
        "farm-a",
        ship(**tc.kw(), shipper_gln=g("farm-a"), receiver_gln=g("mill"), ssccs=[PALLET_1]),
    )
    rec(
        "ship-b",
        "farm-b",
        ship(
            **tc.kw(),
            shipper_gln=g("farm-b"),
            receiver_gln=g("mill"),
            lots=[Amount(WHEAT_B, 600)],
        ),
    )
    rec(
        "receive-1",
        "mill",
        receive(
            **tc.kw(),
            receiver_gln=g("mill"),
            shipper_gln=g("farm-a"),
            ssccs=[PALLET_1],
            rejected=[Amount(WHEAT_A, 100)],
            reason="damaged",
        ),
    )
    rec(
        "ship-2",
        "farm-a",
        ship(**tc.kw(), shipper_gln=g("farm-a"), receiver_gln=g("mill"), ssccs=[PALLET_2]),
    )
    rec(
        "receive-2",
        "mill",
        receive(**tc.kw(), receiver_gln=g("mill"), shipper_gln=g("farm-a"), ssccs=[PALLET_2]),
    )
    rec(
        "receive-b",
        "mill",
        receive(
            **tc.kw(),
            receiver_gln=g("mill"),
            shipper_gln=g("farm-b"),
            lots=[Amount(WHEAT_B, 600)],
        ),
    )
    rec("unpack-1", "mill", unpack(**tc.kw(), gln=g("mill"), sscc=PALLET_1))
    rec("unpack-2", "mill", unpack(**tc.kw(), gln=g("mill"), sscc=PALLET_2))
    wrong = transform(
        **tc.kw(),
        gln=g("mill"),
        inputs=[Amount(WHEAT_A, 900), Amount(WHEAT_B, 500)],
        outputs=[Amount(FLOUR, 1100)],
    )
    rec("mill-wrong", "mill", wrong)
    fixed_id = tc.event_id()
    rec(
        "mill-declare",
        "mill",
        declare_error(wrong, when=tc.chain.tick(), corrective_event_ids=[fixed_id]),
    )
    rec(
        "mill-fixed",
        "mill",
        transform(
            event_id=fixed_id,
            when=tc.chain.tick(),
            gln=g("mill"),
            inputs=[Amount(WHEAT_A, 900), Amount(WHEAT_B, 600)],
            outputs=[Amount(FLOUR, 1200)],
        ),
    )
    for n, quantity in ((1, 700), (2, 500)):
        rec(
            f"ship-flour-{n}",
            "mill",
            ship(
                **tc.kw(),
                shipper_gln=g("mill"),
                receiver_gln=g("bakery"),
                lots=[Amount(FLOUR, quantity)],
            ),
        )
        rec(
            f"receive-flour-{n}",
            "bakery",
            receive(
                **tc.kw(),
                receiver_gln=g("bakery"),
                shipper_gln=g("mill"),
                lots=[Amount(FLOUR, quantity)],
            ),
        )
    rec(
        "bake",
        "bakery",
        transform(
            **tc.kw(),
            gln=g("bakery"),
            inputs=[Amount(FLOUR, 1000), Amount(SALT, 20)],
            outputs=[Amount(LOAVES, 2000, "EA")],
        ),
    )
    rec(
        "ship-retailer",
        "bakery",
        ship(
            **tc.kw(),
            shipper_gln=g("bakery"),
            receiver_gln=g("retailer"),
            lots=[Amount(LOAVES, 1200, "EA")],
        ),
    )
    rec(
        "receive-retailer",
        "retailer",
        receive(
            **tc.kw(),
            receiver_gln=g("retailer"),
            shipper_gln=g("bakery"),
            lots=[Amount(LOAVES, 1200, "EA")],
        ),
    )
    rec("sell", "retailer", sell(**tc.kw(), gln=g("retailer"), lots=[Amount(LOAVES, 300, "EA")]))
    rec(
        "ship-cafe",
        "bakery",
        ship(
            **tc.kw(),
            shipper_gln=g("bakery"),
            receiver_gln=g("cafe"),
            lots=[Amount(LOAVES, 500, "EA")],
        ),
    )
    return Scenario(seqs, str(wrong["eventID"]), fixed_id)


def _scenario(target: Path | str) -> tuple[TraceChain, Scenario]:
    tc = TraceChain.create(target, SCENARIO_CAST)
    return tc, bakery_scenario(tc)


def test_trace_back_from_the_loaves_reaches_both_farms(database_url: str) -> None:
    tc, story = _scenario(database_url)
    s = story.seqs
    try:
        found = provenance(tc.ledger, LOAVES)
    finally:
        tc.close()
    assert [t.lot for t in found.lots] == [LOAVES, FLOUR, WHEAT_A, WHEAT_B]
    shares = {t.lot: t.share for t in found.lots}
    # Flour is 1000 of the 1020 kg that went into the loaves (salt is not a lot); wheat A
    # is 900 and wheat B 600 of the 1500 kg milled into the flour.
    assert shares == {
        LOAVES: 1,
        FLOUR: Fraction(50, 51),
        WHEAT_A: Fraction(50, 51) * Fraction(3, 5),
        WHEAT_B: Fraction(50, 51) * Fraction(2, 5),
    }
    assert shares[WHEAT_A] == Fraction(10, 17)
    depths = {t.lot: t.depth for t in found.lots}
    assert depths == {LOAVES: 0, FLOUR: 1, WHEAT_A: 2, WHEAT_B: 2}
    # The links are the corrected milling and the baking; the wrong milling no longer counts.
    assert {(link.input_lot, link.output_lot, link.seq) for link in found.links} == {
        (FLOUR, LOAVES, s["bake"]),
        (WHEAT_A, FLOUR, s["mill-fixed"]),
        (WHEAT_B, FLOUR, s["mill-fixed"]),
    }
    wheat_a = found.get(WHEAT_A)
    assert wheat_a is not None
    assert wheat_a.seqs == tuple(
        sorted(
            s[name]
            for name in (
                "harvest-a",
                "pack-1",
                "pack-2",
                "ship-1",
                "receive-1",
                "ship-2",
                "receive-2",
                "unpack-1",
                "unpack-2",
                "mill-fixed",
                "bake",
            )
        )
    )
    assert s["mill-wrong"] not in found.seqs
    assert wheat_a.producers == ("farm-a",)
    balances = {(b.holder, b.uom): b for b in wheat_a.balances}
    assert balances[("farm-a", "KGM")].remaining == 100  # the rejected 100 kg came back
    assert balances[("farm-a", "KGM")].returned == 100
    assert balances[("mill", "KGM")].received == 900
    assert balances[("mill", "KGM")].consumed == 900
    assert [o.lot for o in found.origins()] == [WHEAT_A, WHEAT_B]
    assert set(found.parties) >= {"farm-a", "farm-b", "mill", "bakery", "retailer", "cafe"}
    assert f"https://id.gs1.org/414/{tc.gln('farm-b')}" in found.locations
    (correction,) = found.corrections
    assert (correction.seq, correction.declared_by, correction.reason) == (
        s["mill-wrong"],
        s["mill-declare"],
        "incorrect_data",
    )
    assert correction.corrective_event_ids == (story.fixed_event_id,)
    assert correction.corrective_seqs == (s["mill-fixed"],)
    assert set(found.seqs) == set(s.values()) - {s["mill-wrong"], s["mill-declare"]}


def test_recall_from_a_farm_lot_finds_every_holder(database_url: str) -> None:
    tc, story = _scenario(database_url)
    try:
        called = recall(tc.ledger, WHEAT_A)
    finally:
        tc.close()
    assert [t.lot for t in called.lots] == [WHEAT_A, FLOUR, LOAVES]
    assert {t.lot: t.share for t in called.lots} == {
        WHEAT_A: 1,
        FLOUR: Fraction(3, 5),
        LOAVES: Fraction(10, 17),
    }
    assert set(called.stock) == {
        Stock(WHEAT_A, "held", "farm-a", "KGM", Decimal(100)),
        Stock(FLOUR, "held", "bakery", "KGM", Decimal(200)),
        Stock(LOAVES, "held", "bakery", "EA", Decimal(300)),
        Stock(LOAVES, "held", "retailer", "EA", Decimal(900)),
        Stock(LOAVES, "in_transit", "cafe", "EA", Decimal(500), "bakery"),
    }
    assert called.holders == ("bakery", "cafe", "farm-a", "retailer")
    assert set(called.seqs) == {story.seqs["mill-fixed"], story.seqs["bake"]}


def test_provenance_as_of_a_past_seq_sees_the_history_then(tmp_path: Path) -> None:
    tc, story = _scenario(tmp_path / "scenario.db")
    s = story.seqs
    try:
        before_fix = provenance(tc.ledger, FLOUR, as_of_seq=s["mill-wrong"])
        between = provenance(tc.ledger, FLOUR, as_of_seq=s["mill-declare"])
        now = provenance(tc.ledger, FLOUR)
    finally:
        tc.close()
    assert {t.lot: t.share for t in before_fix.lots} == {
        FLOUR: 1,
        WHEAT_A: Fraction(9, 14),
        WHEAT_B: Fraction(5, 14),
    }
    assert before_fix.corrections == ()
    assert [t.lot for t in between.lots] == [FLOUR]  # retracted, not yet corrected
    assert [c.seq for c in between.corrections] == [s["mill-wrong"]]
    assert {t.lot: t.share for t in now.lots}[WHEAT_B] == Fraction(2, 5)
