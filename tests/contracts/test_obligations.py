"""Obligations and payments on a real ledger.

July's statement (``settled_july``): roastery-nord owes finca-aurora 420.00 and finca-brisa
400.00, issued 31 July, due 30 August; paid in full by 10 August, 2 % less (411.60 and
392.00). Every refusal leaves the ledger size unchanged.
"""

from __future__ import annotations

from datetime import date

import pytest

from contracts.errors import (
    ContractStateError,
    MalformedContractStatementError,
    PaymentRefusedError,
    UnknownObligationError,
)
from contracts.obligations import Obligation, ObligationState, obligation_state
from contracts.scenario import payment_confirm_body, payment_sent_body, waive_body
from ledger.canonical import JSONObject
from ledger.state import Kind
from tests.contracts.test_lifecycle import AURORA, BRISA, BUYER, CONTRACT, chain, refused, submit
from tests.contracts.test_settlement_ledger import obligation_doc, settled_july
from tests.factory import Chain

__all__ = ["chain"]

TO_AURORA = f"{CONTRACT}/2026-07/{BUYER}/{AURORA}"
TO_BRISA = f"{CONTRACT}/2026-07/{BUYER}/{BRISA}"


def pay(chain: Chain, parts: list[tuple[str, str]], sent_on: date, payer: str = BUYER) -> int:
    return submit(chain, payer, Kind.PAYMENT_SENT, payment_sent_body(parts, sent_on=sent_on))


def received(chain: Chain, payment: int, on: date, payee: str) -> int:
    return submit(chain, payee, Kind.PAYMENT_CONFIRM, payment_confirm_body(payment, received_on=on))


def test_early_payment_earns_the_discount(chain: Chain) -> None:
    """411.60 sent 8 August, received 9 August (by the 10 August deadline): the 2 % discount
    (8.40) is earned, so the obligation is paid in full."""
    settled_july(chain)
    ob = obligation_doc(chain, TO_AURORA)
    assert [obligation_state(ob, day) for day in (date(2026, 7, 30), date(2026, 8, 1))] == [
        ObligationState.PENDING,
        ObligationState.DUE,
    ]
    payment = pay(chain, [(TO_AURORA, "411.60")], date(2026, 8, 8))
    ob = obligation_doc(chain, TO_AURORA)
    assert ob.settled() == "open"  # sent is not received
    assert obligation_state(ob, date(2026, 8, 9)) is ObligationState.DUE
    confirm = received(chain, payment, date(2026, 8, 9), AURORA)
    ob = obligation_doc(chain, TO_AURORA)
    assert ob.amount_due().amount == "411.60"
    assert (ob.settled(), ob.paid_on(), ob.days_late(date(2026, 12, 31))) == (
        "paid",
        date(2026, 8, 9),
        0,
    )
    assert obligation_state(ob, date(2026, 8, 8)) is ObligationState.DUE
    assert obligation_state(ob, date(2026, 8, 9)) is ObligationState.PAID
    assert ob.seqs() == (ob.statement_seq, payment, confirm)
    with chain.ledger.store.read() as tx:
        doc = tx.document("payments", f"{payment:012d}")
        index = tx.documents("obligation-parties", f"by-party/{AURORA}/")
    assert doc is not None
    assert doc[1] == {
        "seq": payment,
        "payer": BUYER,
        "payee": AURORA,
        "currency": "EUR",
        "parts": [{"obligation": TO_AURORA, "amount": "411.60"}],
        "sent_on": "2026-08-08",
        "status": "received",
        "received_on": "2026-08-09",
        "confirm_seq": confirm,
        "reason": None,
    }
    assert [body for _, _, body in index] == [
        {
            "obligation": TO_AURORA,
            "role": "payee",
            "contract_id": CONTRACT,
            "period": "2026-07",
            "settled": "paid",
        }
    ]


def test_partial_then_late_payment(chain: Chain) -> None:
    """Brisa is paid 100.00 on 20 August and 300.00 on 10 September, 11 days after the 30
    August due date: late from 31 August until paid."""
    settled_july(chain)
    first = pay(chain, [(TO_BRISA, "100.00")], date(2026, 8, 20))
    received(chain, first, date(2026, 8, 20), BRISA)
    ob = obligation_doc(chain, TO_BRISA)
    assert (ob.paid().amount, ob.outstanding().amount) == ("100.00", "300.00")
    assert obligation_state(ob, date(2026, 8, 30)) is ObligationState.DUE
    assert obligation_state(ob, date(2026, 8, 31)) is ObligationState.LATE
    second = pay(chain, [(TO_BRISA, "300.00")], date(2026, 9, 9))
    received(chain, second, date(2026, 9, 10), BRISA)
    ob = obligation_doc(chain, TO_BRISA)
    assert (ob.paid_on(), ob.days_late(date(2026, 12, 31))) == (date(2026, 9, 10), 11)
    assert obligation_state(ob, date(2026, 9, 9)) is ObligationState.LATE
    assert obligation_state(ob, date(2026, 9, 10)) is ObligationState.PAID


def test_one_payment_for_two_obligations_to_different_payees_is_refused(chain: Chain) -> None:
    settled_july(chain)
    refused(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body([(TO_AURORA, "420.00"), (TO_BRISA, "400.00")], sent_on=date(2026, 8, 8)),
        PaymentRefusedError,
        "one payment goes to one payee",
    )


def test_disputed_then_received(chain: Chain) -> None:
    settled_july(chain)
    payment = pay(chain, [(TO_BRISA, "400.00")], date(2026, 8, 5))
    submit(
        chain,
        BRISA,
        Kind.PAYMENT_CONFIRM,
        payment_confirm_body(payment, disputed="nothing arrived"),
    )
    ob = obligation_doc(chain, TO_BRISA)
    assert ob.settled() == "disputed"
    assert obligation_state(ob, date(2026, 9, 15)) is ObligationState.DISPUTED
    refused(
        chain,
        BRISA,
        Kind.PAYMENT_CONFIRM,
        payment_confirm_body(payment, disputed="still not"),
        ContractStateError,
        f"payment {payment} is already disputed",
    )
    received(chain, payment, date(2026, 9, 2), BRISA)  # found after all
    ob = obligation_doc(chain, TO_BRISA)
    assert (ob.settled(), ob.days_late(date(2026, 12, 31))) == ("paid", 3)
    refused(
        chain,
        BRISA,
        Kind.PAYMENT_CONFIRM,
        payment_confirm_body(payment, disputed="changed mind"),
        ContractStateError,
        "was already confirmed as received",
    )


def test_waived(chain: Chain) -> None:
    settled_july(chain)
    refused(
        chain,
        BUYER,
        Kind.PAYMENT_CONFIRM,
        waive_body(TO_AURORA, "gift"),
        PaymentRefusedError,
        "only the payee of obligation .* may waive it",
    )
    waiver = submit(chain, AURORA, Kind.PAYMENT_CONFIRM, waive_body(TO_AURORA, "harvest festival"))
    ob = obligation_doc(chain, TO_AURORA)
    assert (ob.waived_seq, ob.waived_reason, ob.settled()) == (waiver, "harvest festival", "waived")
    assert obligation_state(ob, date(2026, 12, 1)) is ObligationState.WAIVED
    refused(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body([(TO_AURORA, "420.00")], sent_on=date(2026, 8, 8)),
        ContractStateError,
        f"obligation {TO_AURORA} was waived at seq {waiver}",
    )
    refused(
        chain,
        AURORA,
        Kind.PAYMENT_CONFIRM,
        waive_body(TO_AURORA, "again"),
        ContractStateError,
        "is already waived",
    )


def test_payments_that_do_not_fit_are_refused(chain: Chain) -> None:
    settled_july(chain)
    refused(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body(
            [(f"{CONTRACT}/2026-06/{BUYER}/{AURORA}", "1.00")], sent_on=date(2026, 8, 8)
        ),
        UnknownObligationError,
        "no obligation .*2026-06.* has been settled",
    )
    error = refused(
        chain,
        AURORA,
        Kind.PAYMENT_SENT,
        payment_sent_body([(TO_AURORA, "420.00")], sent_on=date(2026, 8, 8)),
        PaymentRefusedError,
        "finca-aurora is not the debtor of obligation .*: roastery-nord owes it to finca-aurora",
    )
    assert error.field == "statement.body.obligations.0.obligation"
    refused(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body([(TO_AURORA, "420.00")], sent_on=date(2026, 8, 8), currency="USD"),
        PaymentRefusedError,
        "is in EUR, the payment in USD",
    )
    unbalanced = payment_sent_body([(TO_AURORA, "420.00")], sent_on=date(2026, 8, 8))
    unbalanced["amount"] = {"amount": "400.00", "currency": "EUR"}
    refused(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        unbalanced,
        MalformedContractStatementError,
        "the parts add up to 420.00, the payment says 400.00",
    )
    refused(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body([(TO_AURORA, "420.00")], sent_on=date(2026, 12, 24)),
        MalformedContractStatementError,
        "sent_on 2026-12-24 is after the statement was issued",
    )
    refused(
        chain,
        BUYER,
        Kind.PAYMENT_SENT,
        payment_sent_body([(TO_AURORA, "0.00")], sent_on=date(2026, 8, 8)),
        MalformedContractStatementError,
        "must be positive",
    )


def test_confirmations_that_do_not_fit_are_refused(chain: Chain) -> None:
    settled_july(chain)
    payment = pay(chain, [(TO_AURORA, "420.00")], date(2026, 8, 8))
    refused(
        chain,
        BUYER,
        Kind.PAYMENT_CONFIRM,
        payment_confirm_body(payment, received_on=date(2026, 8, 9)),
        PaymentRefusedError,
        f"only the payee of payment {payment} .finca-aurora. may confirm it",
    )
    refused(
        chain,
        AURORA,
        Kind.PAYMENT_CONFIRM,
        payment_confirm_body(payment - 1, received_on=date(2026, 8, 9)),
        UnknownObligationError,
        f"record {payment - 1} is not a payment.sent",
    )
    refused(
        chain,
        AURORA,
        Kind.PAYMENT_CONFIRM,
        payment_confirm_body(payment, received_on=date(2026, 8, 7)),
        PaymentRefusedError,
        "received_on 2026-08-07 is before the payment was sent",
    )
    refused(
        chain,
        AURORA,
        Kind.PAYMENT_CONFIRM,
        {"outcome": "received", "payment": payment},
        MalformedContractStatementError,
        "received_on: required when the outcome is received",
    )
    received(chain, payment, date(2026, 8, 9), AURORA)
    refused(
        chain,
        AURORA,
        Kind.PAYMENT_CONFIRM,
        payment_confirm_body(payment, received_on=date(2026, 8, 10)),
        ContractStateError,
        "already confirmed as received",
    )


def test_obligation_documents_round_trip(chain: Chain) -> None:
    settled_july(chain)
    payment = pay(chain, [(TO_AURORA, "100.00")], date(2026, 8, 8))
    received(chain, payment, date(2026, 8, 9), AURORA)
    with chain.ledger.store.read() as tx:
        found = tx.document("obligations", TO_AURORA)
    assert found is not None
    assert isinstance(found[1], dict)
    assert Obligation.from_json(found[1]).to_json() == found[1]
    assert found[1]["paid"] == "100.00"


@pytest.mark.parametrize("outcome", ["received", "disputed", "waived"])
def test_confirmation_fields_follow_the_outcome(chain: Chain, outcome: str) -> None:
    settled_july(chain)
    body: JSONObject = {
        "outcome": outcome,
        "payment": 1,
        "obligation": TO_AURORA,
        "received_on": "2026-08-09",
        "reason": "x",
    }
    refused(
        chain,
        AURORA,
        Kind.PAYMENT_CONFIRM,
        body,
        MalformedContractStatementError,
        "not allowed when the outcome is",
    )
