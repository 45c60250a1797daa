"""Settlement against a real ledger: record as the operator, re-settle byte for byte, refuse
statements the history does not support, and sale reports in their format."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from contracts.engine import (
    ledger_entries,
    record_settlement,
    recorded_settlements,
    settle_ledger,
    settlement_submission,
    verify_recorded_settlements,
)
from contracts.errors import (
    ContractStateError,
    MalformedContractStatementError,
    NotAPartyError,
    SettlementInputError,
    SettlementMismatchError,
    UnknownContractError,
)
from contracts.obligations import Obligation
from contracts.provenance import ProvenanceGraph
from contracts.scenario import lot_id, receiving_event, sale_body, shipping_event
from contracts.settlement import verify_settlement
from ledger.canonical import JSONObject
from ledger.errors import UnauthorizedKindError
from ledger.state import Kind
from tests.contracts.samples import GTIN_BERRIES, GTIN_FLOUR
from tests.contracts.test_lifecycle import (
    AURORA,
    BRISA,
    BUYER,
    CONTRACT,
    TERMS,
    bind,
    chain,
    refused,
    submit,
)
from tests.factory import Chain

__all__ = ["chain", "deliver_on_ledger", "settled_july"]

NO_PROVENANCE = ProvenanceGraph()
B1 = lot_id(GTIN_BERRIES, "L-1")
F1 = lot_id(GTIN_FLOUR, "L-2")


def deliver_on_ledger(
    chain: Chain, supplier: str, lot: str, shipped: str, accepted: str, on: date
) -> tuple[int, int]:
    po = f"https://roastery-nord.example/po/{lot.rsplit('/', 1)[-1]}"
    ship = submit(
        chain, supplier, Kind.TRACE_EVENT, {"event": shipping_event(lot, shipped, on=on, po=po)}
    )
    receive = submit(
        chain, BUYER, Kind.TRACE_EVENT, {"event": receiving_event(lot, accepted, on=on, po=po)}
    )
    return ship, receive


def settled_july(chain: Chain) -> int:
    """Bind the sample contract, deliver 100 kg of berries (420.00) from aurora and 500 kg of
    flour (400.00) from brisa in July, settle and record; the statement's seq."""
    bind(chain, TERMS)
    deliver_on_ledger(chain, AURORA, B1, "100", "100", date(2026, 7, 3))
    deliver_on_ledger(chain, BRISA, F1, "500", "500", date(2026, 7, 9))
    statement = settle_ledger(chain.ledger, CONTRACT, "2026-07", NO_PROVENANCE)
    return record_settlement(chain.ledger, statement, chain.operator, now=chain.tick()).receipt.seq


def obligation_doc(chain: Chain, oid: str) -> Obligation:
    with chain.ledger.store.read() as tx:
        found = tx.document("obligations", oid)
    assert found is not None
    assert isinstance(found[1], dict)
    return Obligation.from_json(found[1])


def test_record_and_reproduce_byte_for_byte(chain: Chain) -> None:
    seq = settled_july(chain)
    (recorded,) = recorded_settlements(chain.ledger, CONTRACT, "2026-07")
    assert recorded.seq == seq
    assert recorded.author == "operator"
    again = verify_settlement(recorded.body, ledger_entries(chain.ledger), NO_PROVENANCE, seq=seq)
    assert again.to_json() == recorded.body
    assert verify_recorded_settlements(chain.ledger, NO_PROVENANCE) == [(seq, again.hash)]
    aurora = obligation_doc(chain, f"{CONTRACT}/2026-07/{BUYER}/{AURORA}")
    assert (aurora.amount.amount, aurora.due_on, aurora.statement_seq) == (
        "420.00",
        date(2026, 8, 30),
        seq,
    )
    with chain.ledger.store.read() as tx:
        ref = tx.document("settlements", f"{CONTRACT}/2026-07")
    assert ref is not None
    assert ref[1] == {
        "contract_id": CONTRACT,
        "period": "2026-07",
        "seq": seq,
        "as_of_seq": seq - 1,
        "issued_on": "2026-07-31",
        "obligations": [
            f"{CONTRACT}/2026-07/{BUYER}/{AURORA}",
            f"{CONTRACT}/2026-07/{BUYER}/{BRISA}",
        ],
        "charges": [],
        "history": [seq],
    }


def test_recording_the_same_statement_twice_is_a_replay(chain: Chain) -> None:
    seq = settled_july(chain)
    statement = verify_settlement(
        recorded_settlements(chain.ledger)[0].body, ledger_entries(chain.ledger), NO_PROVENANCE
    )
    size = chain.ledger.size
    again = record_settlement(chain.ledger, statement, chain.operator, now=chain.tick())
    assert (again.created, again.receipt.seq, chain.ledger.size) == (False, seq, size)


def test_a_tampered_statement_is_found(chain: Chain) -> None:
    seq = settled_july(chain)
    body = copy.deepcopy(recorded_settlements(chain.ledger)[0].body)
    deliveries = body["deliveries"]
    assert isinstance(deliveries, list)
    assert isinstance(deliveries[0], dict)
    deliveries[0]["net"] = "421.00"
    with pytest.raises(SettlementMismatchError) as caught:
        verify_settlement(body, ledger_entries(chain.ledger), NO_PROVENANCE, seq=seq)
    error = caught.value
    assert error.seq == seq
    assert (error.expected, error.observed) == ('"421.00"', '"420.00"')
    assert "differs from the recorded statement at deliveries[0].net" in error.message


def test_a_resettlement_replaces_the_statement_and_cancels_what_it_drops(chain: Chain) -> None:
    """A later statement for July (after brisa's receipt was found to be for June) no longer
    owes brisa anything: its obligation is cancelled, aurora's carries on."""
    first = settled_july(chain)
    deliver_on_ledger(chain, AURORA, lot_id(GTIN_BERRIES, "L-3"), "10", "10", date(2026, 7, 20))
    statement = settle_ledger(chain.ledger, CONTRACT, "2026-07", NO_PROVENANCE)
    body = statement.to_json()
    obligations = body["obligations"]
    assert isinstance(obligations, list)
    body["obligations"] = [o for o in obligations if isinstance(o, dict) and o["payee"] == AURORA]
    body["deliveries"] = [
        d
        for d in body["deliveries"]  # type: ignore[union-attr]
        if isinstance(d, dict) and d["supplier"] == AURORA
    ]
    second = submit(chain, "operator", Kind.SETTLEMENT, body)
    aurora = obligation_doc(chain, f"{CONTRACT}/2026-07/{BUYER}/{AURORA}")
    brisa = obligation_doc(chain, f"{CONTRACT}/2026-07/{BUYER}/{BRISA}")
    assert (aurora.amount.amount, aurora.statement_seq, aurora.settled()) == (
        "462.00",
        second,
        "open",
    )
    assert (brisa.cancelled_seq, brisa.settled()) == (second, "cancelled")
    with chain.ledger.store.read() as tx:
        ref = tx.document("settlements", f"{CONTRACT}/2026-07")
    assert ref is not None
    assert isinstance(ref[1], dict)
    assert ref[1]["history"] == [first, second]
    # The hand-edited statement is not what the records say.
    with pytest.raises(SettlementMismatchError, match="deliveries"):
        verify_recorded_settlements(chain.ledger, NO_PROVENANCE)


def test_statements_the_history_does_not_support_are_refused(chain: Chain) -> None:
    bind(chain, TERMS)
    deliver_on_ledger(chain, AURORA, B1, "100", "100", date(2026, 7, 3))
    statement = settle_ledger(chain.ledger, CONTRACT, "2026-07", NO_PROVENANCE)
    body = statement.to_json()
    refused(
        chain,
        BUYER,
        Kind.SETTLEMENT,
        body,
        UnauthorizedKindError,
        "roastery-nord .roles buyer. may not sign settlement.statement",
    )
    future = dict(body, as_of_seq=chain.ledger.size + 5)
    refused(
        chain,
        "operator",
        Kind.SETTLEMENT,
        future,
        ContractStateError,
        "can only settle records before it",
    )
    other = dict(body, contract_id="someone-else")
    other["obligations"] = []
    refused(
        chain, "operator", Kind.SETTLEMENT, other, UnknownContractError, "no contract someone-else"
    )
    stranger = copy.deepcopy(body)
    obligation = stranger["obligations"][0]  # type: ignore[index]
    assert isinstance(obligation, dict)
    obligation.update(payee="stranger", id=f"{CONTRACT}/2026-07/{BUYER}/stranger")
    refused(
        chain,
        "operator",
        Kind.SETTLEMENT,
        stranger,
        NotAPartyError,
        "stranger is not a party to contract",
    )
    early = dict(body, issued_on="2026-07-30")
    error = refused(
        chain,
        "operator",
        Kind.SETTLEMENT,
        early,
        MalformedContractStatementError,
        "a statement for 2026-07 is issued on or after 2026-07-31",
    )
    assert error.field == "statement.body.issued_on"
    wrong_id = copy.deepcopy(body)
    wrong = wrong_id["obligations"][0]  # type: ignore[index]
    assert isinstance(wrong, dict)
    wrong["id"] = f"{CONTRACT}/2026-06/{BUYER}/{AURORA}"
    refused(
        chain,
        "operator",
        Kind.SETTLEMENT,
        wrong_id,
        MalformedContractStatementError,
        "obligations.0.id: expected",
    )


def test_settling_beyond_the_ledger_is_refused(chain: Chain) -> None:
    bind(chain, TERMS)
    with pytest.raises(SettlementInputError, match="as_of_seq must lie in"):
        settle_ledger(chain.ledger, CONTRACT, "2026-07", NO_PROVENANCE, as_of_seq=10_000)


def test_statement_signed_with_a_chosen_nonce(chain: Chain) -> None:
    bind(chain, TERMS)
    statement = settle_ledger(chain.ledger, CONTRACT, "2026-07", NO_PROVENANCE)
    sub = settlement_submission(
        chain.ledger, statement, chain.operator, now=chain.tick(), nonce="settle-july-0001"
    )
    assert sub.statement.nonce == "settle-july-0001"
    assert sub.statement.body == statement.to_json()


# -- sale reports --------------------------------------------------------------------------


def test_sale_reports_are_indexed_by_lot_and_period(chain: Chain) -> None:
    seq = submit(chain, BUYER, Kind.SALE_REPORT, sale_body(B1, "2026-07", "12.5", "250.00"))
    with chain.ledger.store.read() as tx:
        by_lot = tx.documents("sales", f"by-lot/{B1}/")
        by_period = tx.documents("sales", "by-period/2026-07/")
    expected: JSONObject = {
        "seq": seq,
        "seller": BUYER,
        "lot": B1,
        "period": "2026-07",
        "quantity": "12.5",
        "uom": "KGM",
        "revenue": {"amount": "250.00", "currency": "EUR"},
    }
    assert [(key, body) for key, _, body in by_lot] == [
        (f"by-lot/{B1}/2026-07/{seq:012d}", expected)
    ]
    assert [body for _, _, body in by_period] == [expected]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"lot": "urn:epc:class:lgtin:7612345.000002.L-1"},
            "lot",
            "lot must be in Digital Link normal form: expected 'https://id.gs1.org/01/07612345000022",
        ),
        ({"lot": "https://id.gs1.org/01/07612345000023/10/L-1"}, "lot", "check digit"),
        ({"period": "2026-13"}, "period", "expected a period YYYY-MM"),
        ({"quantity": "-1"}, "quantity", "greater than 0"),
        ({"quantity": 12}, "quantity", "decimal string"),
        ({"revenue": {"amount": "1.005", "currency": "EUR"}}, "revenue", "EUR has 2"),
        ({"revenue": {"amount": "1.00", "currency": "XXX"}}, "revenue.currency", "no minor unit"),
        ({"extra": 1}, "extra", "Extra inputs are not permitted"),
    ],
)
def test_malformed_sale_reports_are_refused(
    chain: Chain, change: JSONObject, field: str, message: str
) -> None:
    body = sale_body(B1, "2026-07", "1", "10.00")
    body.update(change)
    error = refused(chain, BUYER, Kind.SALE_REPORT, body, MalformedContractStatementError, message)
    assert error.field == f"statement.body.{field}"
