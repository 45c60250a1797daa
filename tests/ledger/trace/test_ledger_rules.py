"""Who may record what, and what a ``trace.event`` body must be (``ledger.trace.rules``).

Every refusal goes through ``TraceChain.refused``, which asserts that the ledger size, its
latest checkpoint and the projections did not change."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.canonical import JSONObject
from ledger.errors import MalformedStatementError, UnauthorizedKindError
from ledger.state import Kind, LedgerState
from ledger.trace.builders import (
    Amount,
    commission,
    lot_id,
    observe,
    receive,
    ship,
    transform,
)
from ledger.trace.errors import MalformedTraceEventError
from ledger.trace.rules import (
    FAIRLEDGER_NS,
    TRACE_VALIDATORS,
    parse_trace_body,
    party_id,
    performer_error,
)
from tests.ledger.trace.test_ledger_chain import GTIN_FLOUR, GTIN_WHEAT, TraceChain

WHEAT = lot_id(GTIN_WHEAT, "R-1")
FLOUR = lot_id(GTIN_FLOUR, "R-1")


@pytest.fixture
def tc(tmp_path: Path) -> Iterator[TraceChain]:
    chain = TraceChain.create(tmp_path / "rules.db")
    chain.register("no-gln", "supplier", gln=None)
    chain.register("carrier", "supplier", "buyer")
    chain.record(
        "farm-a", commission(**chain.kw(), gln=chain.gln("farm-a"), lots=[Amount(WHEAT, 100)])
    )
    yield chain
    chain.close()


def _ship(tc: TraceChain, quantity: int = 10) -> JSONObject:
    return ship(
        **tc.kw(),
        shipper_gln=tc.gln("farm-a"),
        receiver_gln=tc.gln("mill"),
        lots=[Amount(WHEAT, quantity)],
    )


def _state(tc: TraceChain) -> LedgerState:
    return tc.ledger.state()


# -- who may record what --------------------------------------------------------------------


def test_the_receiver_may_not_record_the_shipment(tc: TraceChain) -> None:
    error = tc.refused("mill", _ship(tc), UnauthorizedKindError)
    assert error.code == "wrong-author"
    assert error.field == "statement.body.event.sourceList[0].source"
    assert "shipper" in error.message
    assert party_id(tc.gln("farm-a")) in error.message


def test_the_shipper_may_not_record_the_receipt(tc: TraceChain) -> None:
    tc.record("farm-a", _ship(tc))
    event = receive(
        **tc.kw(),
        receiver_gln=tc.gln("mill"),
        shipper_gln=tc.gln("farm-a"),
        lots=[Amount(WHEAT, 10)],
    )
    error = tc.refused("farm-a", event, UnauthorizedKindError)
    assert error.field == "statement.body.event.destinationList[0].destination"
    assert "receiver" in error.message
    tc.record("mill", event)


def test_commissioning_is_recorded_at_the_producers_own_site(tc: TraceChain) -> None:
    event = commission(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(WHEAT, 1)])
    error = tc.refused("farm-b", event, UnauthorizedKindError)
    assert error.field == "statement.body.event.bizLocation.id"
    assert tc.gln("farm-a") in error.message


def test_only_the_processor_records_its_transformation(tc: TraceChain) -> None:
    event = transform(
        **tc.kw(),
        gln=tc.gln("farm-a"),
        inputs=[Amount(WHEAT, 10)],
        outputs=[Amount(FLOUR, 8)],
    )
    error = tc.refused("mill", event, UnauthorizedKindError)
    assert error.field == "statement.body.event.bizLocation.id"
    tc.record("farm-a", event)


def test_a_participant_without_gln_records_nothing(tc: TraceChain) -> None:
    event = observe(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(WHEAT, 1)])
    error = tc.refused("no-gln", event, UnauthorizedKindError)
    assert error.field == "statement.author"
    assert "GLN" in error.message


def test_the_possessing_party_records_custody_not_the_owner(tc: TraceChain) -> None:
    """A carrier in possession ships on the owner's behalf; the owner may not."""
    event = _ship(tc)
    event["sourceList"] = [
        {"type": "owning_party", "source": party_id(tc.gln("farm-a"))},
        {"type": "possessing_party", "source": party_id(tc.gln("carrier"))},
    ]
    error = tc.refused("farm-a", event, UnauthorizedKindError)
    assert error.field == "statement.body.event.sourceList[1].source"
    state = _state(tc)
    trace = parse_trace_body({"event": event})
    assert performer_error(state.participants["carrier"], trace) is None


def test_a_sub_location_of_the_authors_gln_is_its_own(tc: TraceChain) -> None:
    event = observe(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(WHEAT, 1)])
    event["bizLocation"] = {"id": f"https://id.gs1.org/414/{tc.gln('farm-a')}/254/silo-2"}
    event["readPoint"] = {"id": f"https://id.gs1.org/414/{tc.gln('farm-a')}/254/gate"}
    tc.record("farm-a", event)


def test_an_event_naming_no_party_or_site_is_the_signers(tc: TraceChain) -> None:
    event = observe(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(WHEAT, 1)])
    del event["bizLocation"]
    del event["readPoint"]
    tc.record("farm-b", event)


def test_a_transaction_event_is_recorded_by_either_party(tc: TraceChain) -> None:
    def invoice(author: str) -> JSONObject:
        return {
            "type": "TransactionEvent",
            "eventID": tc.event_id(),
            "eventTime": "2026-11-22T10:00:00.000Z",
            "eventTimeZoneOffset": "+00:00",
            "bizTransactionList": [{"type": "inv", "bizTransaction": f"urn:example:inv:{author}"}],
            "quantityList": [{"epcClass": WHEAT, "quantity": "10", "uom": "KGM"}],
            "action": "ADD",
            "sourceList": [{"type": "owning_party", "source": party_id(tc.gln("farm-a"))}],
            "destinationList": [{"type": "owning_party", "destination": party_id(tc.gln("mill"))}],
        }

    tc.record("farm-a", invoice("farm-a"))
    tc.record("mill", invoice("mill"))
    error = tc.refused("bakery", invoice("bakery"), UnauthorizedKindError)
    assert error.field == "statement.body.event.sourceList[0].source"


def test_the_validator_is_pure_and_exported_for_the_trace_kind(tc: TraceChain) -> None:
    validator = TRACE_VALIDATORS[Kind.TRACE_EVENT]
    good = tc.submission("farm-a", _ship(tc)).statement
    bad = tc.submission("mill", _ship(tc)).statement
    state = _state(tc)
    validator(state, state.size, good)
    with pytest.raises(UnauthorizedKindError):
        validator(state, state.size, bad)
    assert tc.ledger.size == state.size  # nothing was appended


# -- the body -------------------------------------------------------------------------------


def _raw(tc: TraceChain, body: JSONObject, author: str = "farm-a") -> Any:
    size, checkpoint = tc.ledger.size, tc.ledger.latest_checkpoint()
    statement = tc.chain.statement(author, Kind.TRACE_EVENT, body)
    with pytest.raises(MalformedStatementError) as caught:
        tc.ledger.submit(statement, now=tc.chain.tick())
    assert (tc.ledger.size, tc.ledger.latest_checkpoint()) == (size, checkpoint)
    return caught.value


def test_a_body_holds_exactly_one_event(tc: TraceChain) -> None:
    error = _raw(tc, {"event": _ship(tc), "note": "hello"})
    assert error.field == "statement.body.note"
    error = _raw(tc, {"events": [_ship(tc)]})
    assert error.field == "statement.body.event"
    error = _raw(tc, {"event": [_ship(tc)]})
    assert isinstance(error, MalformedTraceEventError)


def test_an_event_not_in_normal_form_is_refused_with_every_path(tc: TraceChain) -> None:
    event = _ship(tc)
    urn = "urn:epc:class:lgtin:9506000.013435.R-1"
    event["quantityList"] = [{"epcClass": urn, "quantity": "10", "uom": "KGM"}]
    event["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"
    error = _raw(tc, {"event": event})
    assert isinstance(error, MalformedTraceEventError)
    found = {e.path: e.message for e in error.errors}
    assert set(found) == {
        "statement.body.event.quantityList[0].epcClass",
        "statement.body.event.bizStep",
    }
    assert WHEAT in found["statement.body.event.quantityList[0].epcClass"]
    assert error.code == "malformed-event"
    event = _ship(tc)
    event["quantityList"] = [{"epcClass": WHEAT, "quantity": "10.0", "uom": "KGM"}]
    error = _raw(tc, {"event": event})
    assert isinstance(error, MalformedTraceEventError)
    assert [e.path for e in error.errors] == ["statement.body.event.quantityList[0].quantity"]


def test_an_event_without_event_id_is_refused(tc: TraceChain) -> None:
    event = _ship(tc)
    del event["eventID"]
    error = _raw(tc, {"event": event})
    assert isinstance(error, MalformedTraceEventError)
    assert [e.path for e in error.errors] == ["statement.body.event.eventID"]


def test_a_malformed_event_is_refused_inside_a_batch_too(tc: TraceChain) -> None:
    event = _ship(tc)
    event["quantityList"] = [{"epcClass": WHEAT, "quantity": 10, "uom": "KGM"}]
    size = tc.ledger.size
    subs = [tc.submission("farm-a", _ship(tc)), tc.submission("farm-a", event)]
    with pytest.raises(MalformedTraceEventError):
        tc.ledger.append(subs, now=tc.chain.tick())
    assert tc.ledger.size == size


# -- rejections on receipts -----------------------------------------------------------------


def _receipt(tc: TraceChain, **extension: object) -> JSONObject:
    event = receive(
        **tc.kw(),
        receiver_gln=tc.gln("mill"),
        shipper_gln=tc.gln("farm-a"),
        lots=[Amount(WHEAT, 10)],
    )
    event["@context"] = [{"fairledger": FAIRLEDGER_NS}]
    event.update(extension)  # type: ignore[arg-type]
    return event


@pytest.mark.parametrize(
    ("extension", "path"),
    [
        (
            {
                "fairledger:rejectedQuantityList": [
                    {"epcClass": WHEAT, "quantity": "2", "uom": "KGM"}
                ]
            },
            'statement.body.event["fairledger:rejectedQuantityList"]',
        ),
        (
            {"fairledger:rejectionReason": "damaged"},
            'statement.body.event["fairledger:rejectionReason"]',
        ),
        (
            {
                "fairledger:rejectedQuantityList": [
                    {"epcClass": "urn:epc:class:lgtin:9506000.013435.R-1", "quantity": "2"}
                ],
                "fairledger:rejectionReason": "damaged",
            },
            'statement.body.event["fairledger:rejectedQuantityList"][0].epcClass',
        ),
        (
            {
                "fairledger:rejectedQuantityList": [{"epcClass": WHEAT, "quantity": "2.50"}],
                "fairledger:rejectionReason": "damaged",
            },
            'statement.body.event["fairledger:rejectedQuantityList"][0].quantity',
        ),
        (
            {
                "fairledger:rejectedQuantityList": [{"epcClass": WHEAT, "quantity": "2"}],
                "fairledger:rejectionReason": "",
            },
            'statement.body.event["fairledger:rejectionReason"]',
        ),
        (
            {
                "fairledger:rejectedQuantityList": [
                    {"epcClass": WHEAT, "quantity": "2"},
                    {"epcClass": WHEAT, "quantity": "3"},
                ],
                "fairledger:rejectionReason": "damaged",
            },
            'statement.body.event["fairledger:rejectedQuantityList"][1]',
        ),
    ],
    ids=[
        "no-reason",
        "no-quantities",
        "lot-not-normal",
        "quantity-not-canonical",
        "empty-reason",
        "twice",
    ],
)
def test_a_malformed_rejection_is_refused(
    tc: TraceChain, extension: dict[str, object], path: str
) -> None:
    tc.record("farm-a", _ship(tc))
    error = _raw(tc, {"event": _receipt(tc, **extension)}, author="mill")
    assert isinstance(error, MalformedTraceEventError)
    assert path in {e.path for e in error.errors}


def test_a_rejection_belongs_on_a_receipt_only(tc: TraceChain) -> None:
    event = _ship(tc)
    event["fairledger:rejectedQuantityList"] = [{"epcClass": WHEAT, "quantity": "2"}]
    event["fairledger:rejectionReason"] = "damaged"
    error = _raw(tc, {"event": event})
    assert isinstance(error, MalformedTraceEventError)
    assert "receiving" in error.message


def test_a_rejection_under_another_prefix_bound_to_our_namespace_counts(tc: TraceChain) -> None:
    tc.record("farm-a", _ship(tc))
    event = _receipt(tc)
    event["@context"] = [{"fl": FAIRLEDGER_NS}]
    event["fl:rejectedQuantityList"] = [{"epcClass": WHEAT, "quantity": "4", "uom": "KGM"}]
    event["fl:rejectionReason"] = "non_conformant"
    trace = parse_trace_body({"event": copy.deepcopy(event)})
    assert [(r.lot, str(r.quantity), r.uom) for r in trace.rejections] == [(WHEAT, "4", "KGM")]
    assert trace.rejection_reason == "non_conformant"
    tc.record("mill", event)
