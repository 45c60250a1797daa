"""Mass balance, shipments, pallets and corrections, as the trace projection enforces them.

Every refusal goes through ``TraceChain.refused``, which asserts that the ledger size, its
latest checkpoint and every projection table are unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.canonical import JSONObject
from ledger.errors import ConflictError, RejectedStatementError, UnauthorizedKindError
from ledger.trace.builders import (
    Amount,
    commission,
    declare_error,
    destroy,
    lot_id,
    pack,
    receive,
    sell,
    ship,
    transform,
    unpack,
    void_shipping,
)
from ledger.trace.errors import (
    DuplicateEventError,
    ExceedsShipmentError,
    LotCycleError,
    MassBalanceError,
    UnknownEventError,
)
from ledger.trace.provenance import LotSummary
from ledger.trace.service import summary
from tests.ledger.trace.test_ledger_chain import (
    GTIN_BREAD,
    GTIN_FLOUR,
    GTIN_WHEAT,
    TraceChain,
    sscc_for,
)

WHEAT = lot_id(GTIN_WHEAT, "M-1")
FLOUR = lot_id(GTIN_FLOUR, "M-1")
BREAD = lot_id(GTIN_BREAD, "M-1")


@pytest.fixture
def tc(tmp_path: Path) -> Iterator[TraceChain]:
    chain = TraceChain.create(tmp_path / "balance.db")
    chain.register("outsider", "supplier", gln="9506000134369")
    yield chain
    chain.close()


def _harvest(tc: TraceChain, quantity: int = 100, lot: str = WHEAT) -> JSONObject:
    return commission(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(lot, quantity)])


def _ship(
    tc: TraceChain,
    quantity: int | str,
    *,
    shipper: str = "farm-a",
    receiver: str = "mill",
    lot: str = WHEAT,
) -> JSONObject:
    return ship(
        **tc.kw(),
        shipper_gln=tc.gln(shipper),
        receiver_gln=tc.gln(receiver),
        lots=[Amount(lot, quantity)],
    )


def _receive(
    tc: TraceChain,
    quantity: int | str,
    *,
    rejected: int = 0,
    shipper: str = "farm-a",
    receiver: str = "mill",
    lot: str = WHEAT,
) -> JSONObject:
    return receive(
        **tc.kw(),
        receiver_gln=tc.gln(receiver),
        shipper_gln=tc.gln(shipper),
        lots=[Amount(lot, quantity)],
        rejected=[Amount(lot, rejected)] if rejected else (),
        reason="damaged" if rejected else None,
    )


def _lot(tc: TraceChain, lot: str = WHEAT) -> LotSummary:
    return summary(tc.ledger, lot)


# -- mass balance ---------------------------------------------------------------------------


def test_shipping_more_than_held_is_refused_with_the_numbers(tc: TraceChain) -> None:
    tc.record("farm-a", _harvest(tc, 100))
    tc.record("farm-a", _ship(tc, 60))
    error = tc.refused("farm-a", _ship(tc, "40.5"), MassBalanceError)
    assert error.code == "mass-balance"
    assert (error.lot, error.holder, error.uom) == (WHEAT, "farm-a", "KGM")
    assert (error.available, error.requested) == (Decimal(40), Decimal("40.5"))
    assert WHEAT in error.message
    assert "farm-a" in error.message
    assert "40.5" in error.message
    assert error.field == "statement.body.event.quantityList[0]"
    tc.record("farm-a", _ship(tc, 40))
    assert _lot(tc).remaining("farm-a", "KGM") == 0


def test_balances_are_per_unit_of_measure(tc: TraceChain) -> None:
    tc.record("farm-a", _harvest(tc, 100))
    event = ship(
        **tc.kw(),
        shipper_gln=tc.gln("farm-a"),
        receiver_gln=tc.gln("mill"),
        lots=[Amount(WHEAT, 1, "TNE")],
    )
    error = tc.refused("farm-a", event, MassBalanceError)
    assert (error.uom, error.available) == ("TNE", Decimal(0))


@pytest.mark.parametrize("how", ["transform", "destroy", "sell"])
def test_consuming_destroying_or_selling_more_than_held_is_refused(
    tc: TraceChain, how: str
) -> None:
    tc.record("farm-a", _harvest(tc, 10))
    gln = tc.gln("farm-a")
    if how == "transform":
        event = transform(
            **tc.kw(), gln=gln, inputs=[Amount(WHEAT, 11)], outputs=[Amount(FLOUR, 9)]
        )
        field = "statement.body.event.inputQuantityList[0]"
    elif how == "destroy":
        event = destroy(**tc.kw(), gln=gln, lots=[Amount(WHEAT, 11)])
        field = "statement.body.event.quantityList[0]"
    else:
        event = sell(**tc.kw(), gln=gln, lots=[Amount(WHEAT, 11)])
        field = "statement.body.event.quantityList[0]"
    error = tc.refused("farm-a", event, MassBalanceError)
    assert (error.available, error.requested, error.field) == (Decimal(10), Decimal(11), field)


def test_a_transformation_that_makes_a_lot_its_own_ancestor_is_refused(tc: TraceChain) -> None:
    gln = tc.gln("farm-a")
    tc.record("farm-a", _harvest(tc, 10))
    tc.record(
        "farm-a",
        transform(**tc.kw(), gln=gln, inputs=[Amount(WHEAT, 5)], outputs=[Amount(FLOUR, 5)]),
    )
    tc.record(
        "farm-a",
        transform(**tc.kw(), gln=gln, inputs=[Amount(FLOUR, 2)], outputs=[Amount(BREAD, 2)]),
    )
    cycle = transform(**tc.kw(), gln=gln, inputs=[Amount(BREAD, 1)], outputs=[Amount(WHEAT, 1)])
    error = tc.refused("farm-a", cycle, LotCycleError)
    assert error.code == "lot-cycle"
    assert BREAD in error.message
    # Reworking a lot into itself is allowed and links nothing.
    tc.record(
        "farm-a",
        transform(**tc.kw(), gln=gln, inputs=[Amount(FLOUR, 1)], outputs=[Amount(FLOUR, 1)]),
    )
    assert [link.input_lot for link in _lot(tc, FLOUR).inputs] == [WHEAT]


def test_an_event_id_is_recorded_once(tc: TraceChain) -> None:
    first = _harvest(tc, 10)
    tc.record("farm-a", first)
    again = _harvest(tc, 5)
    again["eventID"] = first["eventID"]
    error = tc.refused("farm-a", again, DuplicateEventError)
    assert error.field == "statement.body.event.eventID"


# -- shipments and receipts -----------------------------------------------------------------


def test_receiving_more_than_was_shipped_is_refused(tc: TraceChain) -> None:
    tc.record("farm-a", _harvest(tc, 100))
    tc.record("farm-a", _ship(tc, 30))
    error = tc.refused("mill", _receive(tc, 31), ExceedsShipmentError)
    assert isinstance(error, MassBalanceError)
    assert error.code == "exceeds-shipment"
    assert (error.holder, error.available, error.requested) == (
        "farm-a -> mill",
        Decimal(30),
        Decimal(31),
    )
    tc.record("mill", _receive(tc, 20))
    error = tc.refused("mill", _receive(tc, 11), ExceedsShipmentError)
    assert error.available == 10
    tc.record("mill", _receive(tc, 10))


def test_receiving_from_a_participant_that_shipped_nothing_is_refused(tc: TraceChain) -> None:
    tc.record("farm-a", _harvest(tc, 100))
    tc.record("farm-a", _ship(tc, 30))
    error = tc.refused("bakery", _receive(tc, 5, receiver="bakery"), ExceedsShipmentError)
    assert error.available == 0
    error = tc.refused("mill", _receive(tc, 5, shipper="farm-b"), ExceedsShipmentError)
    assert error.holder == "farm-b -> mill"


def test_goods_from_an_unregistered_supplier_enter_the_ledger_at_receipt(
    tc: TraceChain,
) -> None:
    event = receive(
        **tc.kw(),
        receiver_gln=tc.gln("mill"),
        shipper_gln="0614141000005",
        lots=[Amount(WHEAT, 70)],
    )
    tc.record("mill", event)
    lot = _lot(tc)
    assert lot.remaining("mill", "KGM") == 70
    assert lot.transits == ()


def test_a_partial_rejection_returns_the_rest_to_the_shipper(tc: TraceChain) -> None:
    tc.record("farm-a", _harvest(tc, 100))
    tc.record("farm-a", _ship(tc, 100))
    tc.record("mill", _receive(tc, 60, rejected=15))
    lot = _lot(tc)
    assert lot.remaining("mill", "KGM") == 45
    assert lot.remaining("farm-a", "KGM") == 15
    (transit,) = lot.transits
    assert (transit.shipped, transit.received, transit.returned, transit.open) == tuple(
        map(Decimal, (100, 45, 15, 40))
    )
    error = tc.refused("mill", _receive(tc, 41), ExceedsShipmentError)
    assert error.available == 40


@pytest.mark.parametrize(("delivered", "rejected"), [(10, 11), (10, 10)])
def test_a_rejection_cannot_exceed_the_delivery(
    tc: TraceChain, delivered: int, rejected: int
) -> None:
    tc.record("farm-a", _harvest(tc, 100))
    tc.record("farm-a", _ship(tc, 100))
    event = _receive(tc, delivered, rejected=rejected)
    if rejected > delivered:
        error = tc.refused("mill", event, ConflictError)
        assert error.field == 'statement.body.event["fairledger:rejectedQuantityList"][0]'
    else:
        tc.record("mill", event)
        assert _lot(tc).remaining("mill", "KGM") == 0


def test_a_rejection_names_a_lot_the_receipt_delivers(tc: TraceChain) -> None:
    tc.record("farm-a", _harvest(tc, 100))
    tc.record("farm-a", _ship(tc, 100))
    event = receive(
        **tc.kw(),
        receiver_gln=tc.gln("mill"),
        shipper_gln=tc.gln("farm-a"),
        lots=[Amount(WHEAT, 10)],
        rejected=[Amount(FLOUR, 1)],
        reason="wrong lot",
    )
    tc.refused("mill", event, ConflictError)


def test_voided_shipping_comes_back_and_cannot_exceed_what_is_in_transit(
    tc: TraceChain,
) -> None:
    tc.record("farm-a", _harvest(tc, 100))
    tc.record("farm-a", _ship(tc, 50))
    tc.record("mill", _receive(tc, 30))
    back = void_shipping(
        **tc.kw(),
        shipper_gln=tc.gln("farm-a"),
        receiver_gln=tc.gln("mill"),
        lots=[Amount(WHEAT, 21)],
    )
    error = tc.refused("farm-a", back, ExceedsShipmentError)
    assert error.available == 20
    back["quantityList"] = [{"epcClass": WHEAT, "quantity": "20", "uom": "KGM"}]
    tc.record("farm-a", back)
    assert _lot(tc).remaining("farm-a", "KGM") == 70
    tc.refused("mill", _receive(tc, 1), ExceedsShipmentError)


# -- pallets --------------------------------------------------------------------------------


def test_a_shipped_pallet_moves_its_contents(tc: TraceChain) -> None:
    pallet = sscc_for(7)
    gln = tc.gln("farm-a")
    tc.record("farm-a", _harvest(tc, 100))
    tc.record("farm-a", pack(**tc.kw(), gln=gln, sscc=pallet, lots=[Amount(WHEAT, 80)]))
    tc.record(
        "farm-a",
        ship(**tc.kw(), shipper_gln=gln, receiver_gln=tc.gln("mill"), ssccs=[pallet]),
    )
    assert _lot(tc).remaining("farm-a", "KGM") == 20
    receipt = receive(
        **tc.kw(),
        receiver_gln=tc.gln("mill"),
        shipper_gln=gln,
        ssccs=[pallet],
        rejected=[Amount(WHEAT, 5)],
        reason="wet",
    )
    tc.record("mill", receipt)
    lot = _lot(tc)
    assert lot.remaining("mill", "KGM") == 75
    assert lot.remaining("farm-a", "KGM") == 25
    assert [(p.sscc, p.quantity) for p in lot.pallets] == [(pallet, Decimal(75))]
    # The mill forwards the pallet as it is: its 75 kg move on.
    tc.record(
        "mill",
        ship(
            **tc.kw(),
            shipper_gln=tc.gln("mill"),
            receiver_gln=tc.gln("bakery"),
            ssccs=[pallet],
        ),
    )
    assert _lot(tc).remaining("mill", "KGM") == 0


def test_packing_and_unpacking_are_bounded(tc: TraceChain) -> None:
    pallet = sscc_for(8)
    gln = tc.gln("farm-a")
    tc.record("farm-a", _harvest(tc, 10))
    error = tc.refused(
        "farm-a", pack(**tc.kw(), gln=gln, sscc=pallet, lots=[Amount(WHEAT, 11)]), MassBalanceError
    )
    assert error.available == 10
    tc.record("farm-a", pack(**tc.kw(), gln=gln, sscc=pallet, lots=[Amount(WHEAT, 10)]))
    error = tc.refused(
        "farm-a",
        unpack(**tc.kw(), gln=gln, sscc=pallet, lots=[Amount(WHEAT, 11)]),
        MassBalanceError,
    )
    assert error.holder == f"pallet {pallet}"
    tc.record("farm-a", unpack(**tc.kw(), gln=gln, sscc=pallet, lots=[Amount(WHEAT, 4)]))
    tc.record("farm-a", unpack(**tc.kw(), gln=gln, sscc=pallet))
    assert _lot(tc).pallets == ()


# -- batches --------------------------------------------------------------------------------


def test_a_batch_that_overdraws_is_refused_whole(tc: TraceChain) -> None:
    tc.record("farm-a", _harvest(tc, 10))
    error = tc.refused_batch([("farm-a", _ship(tc, 6)), ("farm-a", _ship(tc, 5))], MassBalanceError)
    assert error.index == 1
    assert error.available == 4


def test_group_commit_drops_a_refused_statement_and_keeps_the_rest(tc: TraceChain) -> None:
    tc.record("farm-a", _harvest(tc, 10))
    subs = [
        tc.submission("farm-a", _ship(tc, 6)),
        tc.submission("farm-a", _ship(tc, 5)),  # refused: only 4 left
        tc.submission("farm-a", _ship(tc, 4)),
    ]
    outcomes = tc.ledger._append_batch(subs, tc.chain.tick(), atomic=False)
    assert isinstance(outcomes[1], MassBalanceError)
    assert not isinstance(outcomes[0], RejectedStatementError)
    assert not isinstance(outcomes[2], RejectedStatementError)
    assert _lot(tc).remaining("farm-a", "KGM") == 0
    before = tc.ledger.projection_dump()
    tc.ledger.rebuild_projections()
    assert tc.ledger.projection_dump() == before


# -- corrections ----------------------------------------------------------------------------


def test_an_error_declaration_reverses_the_event_and_its_correction_counts(
    tc: TraceChain,
) -> None:
    wrong = _harvest(tc, 100)
    tc.record("farm-a", wrong)
    fixed = _harvest(tc, 80)
    tc.record(
        "farm-a",
        declare_error(wrong, when=tc.chain.tick(), corrective_event_ids=[str(fixed["eventID"])]),
    )
    lot = _lot(tc)
    assert lot.remaining("farm-a", "KGM") == 0
    assert len(lot.voided_seqs) == 1
    tc.refused("farm-a", _ship(tc, 1), MassBalanceError)
    tc.record("farm-a", fixed)
    assert _lot(tc).remaining("farm-a", "KGM") == 80


def test_declaring_an_unknown_event_erroneous_is_refused(tc: TraceChain) -> None:
    ghost = _harvest(tc, 5)
    error = tc.refused("farm-a", declare_error(ghost, when=tc.chain.tick()), UnknownEventError)
    assert error.field == "statement.body.event.eventID"


def test_only_the_recorder_may_declare_its_event_erroneous(tc: TraceChain) -> None:
    # Harvested in a field named by a geo: URI (not a GLN): the event is attributed to its
    # signer, so the location rule cannot tell who may retract it; the projection does.
    harvest = dict(_harvest(tc, 5))
    harvest["readPoint"] = harvest["bizLocation"] = {"id": "geo:47.3769,8.5417"}
    tc.record("farm-a", harvest)
    tc.register("farm-a2", "supplier")  # another signer with its own GLN
    error = tc.refused(
        "farm-a2", declare_error(harvest, when=tc.chain.tick()), UnauthorizedKindError
    )
    assert error.code == "wrong-author"
    assert error.field == "statement.author"
    assert "farm-a" in error.message


def test_a_declaration_repeats_the_event_it_retracts(tc: TraceChain) -> None:
    harvest = _harvest(tc, 5)
    tc.record("farm-a", harvest)
    declaration = declare_error(harvest, when=tc.chain.tick())
    declaration["quantityList"] = [{"epcClass": WHEAT, "quantity": "6", "uom": "KGM"}]
    error = tc.refused("farm-a", declaration, ConflictError)
    assert error.field == "statement.body.event.quantityList[0].quantity"


def test_a_declaration_that_would_break_mass_balance_is_refused(tc: TraceChain) -> None:
    harvest = _harvest(tc, 100)
    tc.record("farm-a", harvest)
    shipment = _ship(tc, 70)
    tc.record("farm-a", shipment)
    error = tc.refused("farm-a", declare_error(harvest, when=tc.chain.tick()), MassBalanceError)
    assert (error.available, error.requested) == (Decimal(30), Decimal(100))
    assert "erroneous" in error.message
    # Retract the shipment first (nothing received yet), then the harvest.
    tc.record("farm-a", declare_error(shipment, when=tc.chain.tick()))
    tc.record("farm-a", declare_error(harvest, when=tc.chain.tick()))
    lot = _lot(tc)
    assert lot.remaining("farm-a", "KGM") == 0
    assert [t.open for t in lot.transits] == [0]


def test_a_received_shipment_cannot_be_retracted_before_its_receipt(tc: TraceChain) -> None:
    tc.record("farm-a", _harvest(tc, 100))
    shipment = _ship(tc, 70)
    tc.record("farm-a", shipment)
    receipt = _receive(tc, 70)
    tc.record("mill", receipt)
    error = tc.refused(
        "farm-a", declare_error(shipment, when=tc.chain.tick()), ExceedsShipmentError
    )
    assert error.holder == "farm-a -> mill"
    tc.record("mill", declare_error(receipt, when=tc.chain.tick()))
    tc.record("farm-a", declare_error(shipment, when=tc.chain.tick()))
    assert _lot(tc).remaining("farm-a", "KGM") == 100


def test_an_event_is_declared_erroneous_once(tc: TraceChain) -> None:
    harvest = _harvest(tc, 5)
    tc.record("farm-a", harvest)
    tc.record("farm-a", declare_error(harvest, when=tc.chain.tick()))
    later = tc.chain.tick() + timedelta(hours=1)
    error = tc.refused("farm-a", declare_error(harvest, when=later), DuplicateEventError)
    assert "already declared erroneous" in error.message


def test_an_event_and_its_declaration_in_one_batch(tc: TraceChain) -> None:
    harvest = _harvest(tc, 5)
    declaration = declare_error(harvest, when=tc.chain.tick())
    tc.record_all([("farm-a", harvest), ("farm-a", declaration)])
    assert _lot(tc).remaining("farm-a", "KGM") == 0
    before = tc.ledger.projection_dump()
    tc.ledger.rebuild_projections()
    assert tc.ledger.projection_dump() == before
