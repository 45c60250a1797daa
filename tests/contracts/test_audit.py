"""Payments audit worked example: owed vs paid, days late, interest, payment practices.

History (sample terms: 2/10 net 30, ECB + 8 on ACT/365, 10.15 % in January–June 2026 and
10.65 % from July, EUR 40 compensation):

* April: aurora delivers 1000 kg of berries (4200.00), brisa 500 kg of flour (400.00): the
  April statement (issued 30 April, due 30 May) owes aurora 4200.00 and brisa 400.00 (392.00
  if paid by 10 May).
* Brisa is paid 392.00 on 8 May (sent 7 May): paid in full, 8 days after issue, on time.
* May: aurora delivers 100 kg of berries (420.00). The May statement owes aurora 420.00
  (due 30 June) and, for the April invoice unpaid on 31 May, charges of 1.17 interest + 40.00
  compensation = 41.17 (due 30 June, bearing no interest).
* Aurora's April invoice is paid 4200.00 on 10 July (sent 8 July): 41 days late, 71 days
  after issue.

Audited on 31 July 2026:

* April to aurora: owed 4200.00, paid, 41 days late; interest (05-30, 07-10]: 31 days at
  10.15 % + 10 days at 10.65 % on 420,000 cents = 1,768,830/365 = 4846.11 → 48.46;
  compensation 40.00.
* April to brisa: owed 392.00 (discount earned), paid, 0 days late, no interest.
* May to aurora: owed 420.00, unpaid, late since 30 June: 31 days at 10.65 % on 42,000 cents
  = 138,663/365 = 379.90 → 3.80; compensation 40.00.
* May charges to aurora: owed 41.17, unpaid, 31 days late, no interest or compensation.
* roastery-nord's payment practice: 3 invoices (principal), 2 paid, after 71 and 8 days:
  average 79/2 = 39.5 days; 1/2 within 30 days, none in 31–60, 1/2 later; 1/2 paid after the
  due date; 1 overdue and unpaid.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from contracts.audit import payments_audit, ratio_json
from contracts.engine import ledger_entries
from contracts.money import Money
from contracts.obligations import ObligationState
from contracts.provenance import ProvenanceGraph
from contracts.scenario import EntryLog, lot_id, payment_confirm_body, payment_sent_body
from contracts.settlement import settle
from ledger.state import Kind
from tests.contracts.samples import GTIN_BERRIES, GTIN_FLOUR
from tests.contracts.test_lifecycle import chain
from tests.contracts.test_obligations import TO_AURORA, pay, received
from tests.contracts.test_settlement_ledger import settled_july
from tests.contracts.test_settlement_worked import (
    AURORA,
    BRISA,
    BUYER,
    CONTRACT,
    contract_log,
    deliver,
    record,
)
from tests.factory import Chain

__all__ = ["chain"]

APRIL_AURORA = f"{CONTRACT}/2026-04/{BUYER}/{AURORA}"
APRIL_BRISA = f"{CONTRACT}/2026-04/{BUYER}/{BRISA}"
MAY_AURORA = f"{CONTRACT}/2026-05/{BUYER}/{AURORA}"
MAY_CHARGES = f"{CONTRACT}/2026-05/{BUYER}/{AURORA}/charges"


def eur(text: str) -> Money:
    return Money.parse(text, "EUR")


def history() -> EntryLog:
    log = contract_log()
    deliver(log, AURORA, lot_id(GTIN_BERRIES, "A-1"), "1000", "1000", on=date(2026, 4, 15))
    deliver(log, BRISA, lot_id(GTIN_FLOUR, "A-2"), "500", "500", on=date(2026, 4, 16))
    record(log, settle(CONTRACT, "2026-04", log.last, log.entries, ProvenanceGraph()))
    early = log.add(
        Kind.PAYMENT_SENT,
        BUYER,
        payment_sent_body([(APRIL_BRISA, "392.00")], sent_on=date(2026, 5, 7)),
    )
    log.add(Kind.PAYMENT_CONFIRM, BRISA, payment_confirm_body(early, received_on=date(2026, 5, 8)))
    deliver(log, AURORA, lot_id(GTIN_BERRIES, "M-1"), "100", "100", on=date(2026, 5, 20))
    record(log, settle(CONTRACT, "2026-05", log.last, log.entries, ProvenanceGraph()))
    late = log.add(
        Kind.PAYMENT_SENT,
        BUYER,
        payment_sent_body([(APRIL_AURORA, "4200.00")], sent_on=date(2026, 7, 8)),
    )
    log.add(Kind.PAYMENT_CONFIRM, AURORA, payment_confirm_body(late, received_on=date(2026, 7, 10)))
    return log


def test_obligations_audited() -> None:
    audit = payments_audit(history().entries, date(2026, 7, 31))
    rows = {
        a.obligation.id: (
            a.owed,
            a.paid,
            a.outstanding,
            a.state,
            a.days_late,
            a.interest,
            a.compensation,
        )
        for a in audit.obligations
    }
    assert rows == {
        APRIL_AURORA: (
            eur("4200.00"),
            eur("4200.00"),
            eur("0.00"),
            ObligationState.PAID,
            41,
            eur("48.46"),
            eur("40.00"),
        ),
        APRIL_BRISA: (
            eur("392.00"),
            eur("392.00"),
            eur("0.00"),
            ObligationState.PAID,
            0,
            eur("0.00"),
            eur("0.00"),
        ),
        MAY_AURORA: (
            eur("420.00"),
            eur("0.00"),
            eur("420.00"),
            ObligationState.LATE,
            31,
            eur("3.80"),
            eur("40.00"),
        ),
        MAY_CHARGES: (
            eur("41.17"),
            eur("0.00"),
            eur("41.17"),
            ObligationState.LATE,
            31,
            eur("0.00"),
            eur("0.00"),
        ),
    }


def test_per_participant_and_period() -> None:
    audit = payments_audit(history().entries, date(2026, 7, 31))
    rows = {
        (p.party, p.period, p.role): (
            p.obligations,
            p.owed,
            p.paid,
            p.outstanding,
            p.late,
            p.max_days_late,
            p.interest,
            p.compensation,
        )
        for p in audit.parties
    }
    assert rows[(BUYER, "2026-04", "payer")] == (
        2,
        eur("4592.00"),
        eur("4592.00"),
        eur("0.00"),
        1,
        41,
        eur("48.46"),
        eur("40.00"),
    )
    assert rows[(BUYER, "2026-05", "payer")] == (
        2,
        eur("461.17"),
        eur("0.00"),
        eur("461.17"),
        2,
        31,
        eur("3.80"),
        eur("40.00"),
    )
    assert rows[(BRISA, "2026-04", "payee")] == (
        1,
        eur("392.00"),
        eur("392.00"),
        eur("0.00"),
        0,
        0,
        eur("0.00"),
        eur("0.00"),
    )


def test_payment_practice_of_the_buyer() -> None:
    audit = payments_audit(history().entries, date(2026, 7, 31))
    (practice,) = audit.practices
    assert practice.payer == BUYER
    assert (practice.invoices, practice.paid, practice.overdue_unpaid) == (3, 2, 1)
    assert practice.average_days_to_pay == Fraction(79, 2)
    assert (practice.within_30_days, practice.within_31_to_60_days, practice.later) == (
        Fraction(1, 2),
        Fraction(0),
        Fraction(1, 2),
    )
    assert practice.paid_after_due_date == Fraction(1, 2)
    assert practice.to_json()["average_days_to_pay"] == {"exact": "79/2", "decimal": "39.500000"}


def test_the_audit_as_of_an_earlier_day_or_prefix() -> None:
    """On 20 May nothing was late yet and the aurora invoice had accrued no interest; as of
    the prefix before the May statement, its obligations do not exist."""
    log = history()
    early = payments_audit(log.entries, date(2026, 5, 20))
    states = {a.obligation.id: a.state for a in early.obligations}
    assert states[APRIL_AURORA] is ObligationState.DUE
    assert states[APRIL_BRISA] is ObligationState.PAID
    assert states[MAY_AURORA] is ObligationState.PENDING  # issued 31 May
    first_statement = next(e.seq for e in log.entries if e.kind == Kind.SETTLEMENT)
    prefix = payments_audit(log.entries, date(2026, 7, 31), as_of_seq=first_statement)
    assert {a.obligation.id for a in prefix.obligations} == {APRIL_AURORA, APRIL_BRISA}


def test_ratio_json() -> None:
    assert ratio_json(Fraction(2, 3)) == {"exact": "2/3", "decimal": "0.666667"}
    assert ratio_json(Fraction(1)) == {"exact": "1", "decimal": "1.000000"}
    assert ratio_json(None) is None


def test_audit_of_a_real_ledger(chain: Chain) -> None:
    """July's statement on a ledger: aurora paid 100.00 of 420.00 on 9 August; on 15
    September the rest is 16 days late: 32,000 cents × 10.65 % × 16/365 = 54,528/365 = 149.39
    → 1.49 EUR interest, plus the 40.00 compensation."""
    settled_july(chain)
    payment = pay(chain, [(TO_AURORA, "100.00")], date(2026, 8, 8))
    received(chain, payment, date(2026, 8, 9), AURORA)
    audit = payments_audit(ledger_entries(chain.ledger), date(2026, 9, 15))
    (row,) = [a for a in audit.obligations if a.obligation.id == TO_AURORA]
    assert (row.paid, row.outstanding, row.days_late) == (eur("100.00"), eur("320.00"), 16)
    assert (row.interest, row.compensation) == (eur("1.49"), eur("40.00"))
    assert audit.to_json()["as_of"] == "2026-09-15"
