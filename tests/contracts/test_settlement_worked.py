"""Settlement worked examples: every figure derived by hand in the docstring.

Sample terms (``tests/contracts/samples.py``): berries 4.20 EUR/kg kept at 0–4 °C (5 % off per
degree outside, cap 30 %); green coffee at the market price with a 3.70 floor, +0.44 premium
and +0.88 organic; flour in graduated tiers (0.80 below 1000 kg, 0.75 to 5000, 0.70 above);
late delivery 0.5 % per 7 days, cap 5 %, termination after 30 days; revenue share 2 % to
finca-aurora and 1.5 % to finca-brisa, paid by roastery-nord; 2/10 net 30; ECB rate + 8 on
ACT/365 (2.15 % in January–June 2026, 2.65 % in July–December); EUR 40 compensation.
Rounding is half-even, once per line. Records are unsigned entries (settlement reads records,
not signatures); the ledger-driven tests are in ``test_settlement_ledger.py``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from contracts.errors import SettlementInputError
from contracts.money import Money
from contracts.provenance import ProvenanceGraph
from contracts.scenario import (
    EntryLog,
    Reading,
    accept_body,
    lot_id,
    payment_confirm_body,
    payment_sent_body,
    propose_body,
    receiving_event,
    sale_body,
    shipping_event,
)
from contracts.settlement import SettlementStatement, settle, verify_settlement
from contracts.terms import ContractTerms, parse_terms
from ledger.canonical import JSONObject
from ledger.state import Kind
from tests.contracts.samples import GTIN_BERRIES, GTIN_COFFEE, GTIN_FLOUR, terms_document

BUYER, AURORA, BRISA = "roastery-nord", "finca-aurora", "finca-brisa"
CONTRACT = "roastery-nord-2026"
TERMS = parse_terms(terms_document())
NO_PROVENANCE = ProvenanceGraph()


def eur(text: str) -> Money:
    return Money.parse(text, "EUR")


def contract_log(terms: ContractTerms = TERMS) -> EntryLog:
    log = EntryLog()
    log.add(Kind.CONTRACT_PROPOSE, BUYER, propose_body(terms))
    for party in (BUYER, AURORA, BRISA):
        log.add(Kind.CONTRACT_ACCEPT, party, accept_body(terms))
    return log


def deliver(
    log: EntryLog,
    supplier: str,
    lot: str,
    shipped: str,
    accepted: str,
    *,
    on: date,
    due: date | None = None,
    readings: tuple[Reading, ...] = (),
    reason: str | None = None,
    uom: str = "KGM",
    buyer: str = BUYER,
) -> tuple[int, int]:
    """A shipping event by ``supplier`` and a receiving event by ``buyer`` on day ``on``."""
    po = f"https://{buyer}.example/po/{lot.rsplit('/', 1)[-1]}"
    ship = log.add(
        Kind.TRACE_EVENT,
        supplier,
        {"event": shipping_event(lot, shipped, on=on, po=po, due=due, uom=uom)},
    )
    receive = log.add(
        Kind.TRACE_EVENT,
        buyer,
        {
            "event": receiving_event(
                lot, accepted, on=on, po=po, readings=readings, rejection_reason=reason, uom=uom
            )
        },
    )
    return ship, receive


def record(log: EntryLog, statement: SettlementStatement) -> int:
    return log.add(Kind.SETTLEMENT, "operator", statement.to_json())


def line(statement: SettlementStatement, lot: str) -> JSONObject:
    for delivery in statement.to_json()["deliveries"]:  # type: ignore[union-attr]
        assert isinstance(delivery, dict)
        if delivery["lot"] == lot:
            return delivery
    raise AssertionError(f"no delivery line for {lot}")


def obligation(statement: SettlementStatement, oid: str) -> JSONObject:
    for item in statement.to_json()["obligations"]:  # type: ignore[union-attr]
        assert isinstance(item, dict)
        if item["id"] == oid:
            return item
    raise AssertionError(f"no obligation {oid}")


B1, B2, B3, B4, B5 = (lot_id(GTIN_BERRIES, f"B-{n}") for n in range(1, 6))
C1 = lot_id(GTIN_COFFEE, "C-1")
F1, F2 = lot_id(GTIN_FLOUR, "F-1"), lot_id(GTIN_FLOUR, "F-2")


def july() -> tuple[EntryLog, dict[str, tuple[int, int]]]:
    log = contract_log()
    seqs = {
        "june": deliver(log, AURORA, lot_id(GTIN_BERRIES, "B-0"), "10", "10", on=date(2026, 6, 30)),
        "B1": deliver(
            log,
            AURORA,
            B1,
            "100",
            "100",
            on=date(2026, 7, 4),
            due=date(2026, 7, 5),
            readings=(Reading(value="3.5"),),
        ),
        "C1": deliver(log, BRISA, C1, "60", "60", on=date(2026, 7, 12)),
        "F1": deliver(log, AURORA, F1, "600", "600", on=date(2026, 7, 20)),
        "F2": deliver(log, AURORA, F2, "700", "700", on=date(2026, 7, 25)),
        "B2": deliver(log, AURORA, B2, "100", "80", on=date(2026, 7, 8), reason="bruised"),
        "B3": deliver(log, BRISA, B3, "200", "200", on=date(2026, 7, 15), due=date(2026, 7, 1)),
        "B4": deliver(
            log,
            AURORA,
            B4,
            "50",
            "50",
            on=date(2026, 7, 28),
            readings=(Reading(low="2.0", high="5.5"),),
        ),
        "B5": deliver(log, AURORA, B5, "100", "100", on=date(2026, 7, 29), uom="LBR"),
        "stranger": deliver(
            log, "stranger", lot_id(GTIN_BERRIES, "S-1"), "5", "5", on=date(2026, 7, 2)
        ),
    }
    return log, seqs


PRICES = {(GTIN_COFFEE, date(2026, 7, 12)): Decimal("3.50")}


def test_a_month_of_deliveries() -> None:
    """July 2026, all delivered to roastery-nord:

    =====  ========  ===================================================  ===========
    lot    supplier  how it is priced                                      net EUR
    =====  ========  ===================================================  ===========
    B-1    aurora    100 kg × 4.20, on time (due 5th, 4th), 3.5 °C inside   420.00
    C-1    brisa     60 kg × (max(3.50 market, 3.70 floor) + 0.44 + 0.88)   301.20
                     = 60 × 5.02
    F-1    aurora    600 kg in the first tier × 0.80                        480.00
    F-2    aurora    700 kg at positions 600–1300: 400 × 0.80 + 300 × 0.75  545.00
    B-2    aurora    100 shipped, 80 accepted ("bruised"): 80 × 4.20        336.00
    B-3    brisa     200 × 4.20 = 840.00, 14 days late: 0.5 % × 14/7 = 1 %  831.60
                     → −8.40
    B-4    aurora    50 × 4.20 = 210.00; worst reading 5.5 °C is 1.5 over   194.25
                     the 4 °C maximum: 1.5 × 5 % = 7.5 % → −15.75
    =====  ========  ===================================================  ===========

    B-5 came in pounds (LBR) and is listed as unpriced; the June delivery and the stranger's
    (not a party) are not in the statement. roastery-nord owes finca-aurora 420 + 480 + 545 +
    336 + 194.25 = 1975.25 and finca-brisa 301.20 + 831.60 = 1132.80, issued 31 July, due
    30 August; paid by 10 August, 2 % less: 1975.25 − 39.50 (3950.5 cents, half-even to 3950)
    = 1935.75 and 1132.80 − 22.66 (2265.6 → 2266) = 1110.14.
    """
    log, seqs = july()
    statement = settle(
        CONTRACT, "2026-07", log.last, log.entries, NO_PROVENANCE, market_prices=PRICES
    )

    assert [d.delivery.lot for d in statement.deliveries] == [B1, B2, C1, B3, F1, F2, B4]
    assert line(statement, B1)["net"] == "420.00"
    assert line(statement, B1)["condition_percent"] == "0"
    assert line(statement, B1)["seqs"] == list(seqs["B1"])
    assert line(statement, C1)["goods"] == {"amount": "301.20", "exact": "30120"}
    assert line(statement, F1)["net"] == "480.00"
    assert line(statement, F2)["net"] == "545.00"
    b2 = line(statement, B2)
    assert (b2["shipped"], b2["accepted"], b2["rejected"], b2["rejection_reason"]) == (
        "100",
        "80",
        "20",
        "bruised",
    )
    assert b2["net"] == "336.00"
    b3 = line(statement, B3)
    assert (b3["days_late"], b3["termination_right"]) == (14, False)
    assert b3["late_penalty"] == {"amount": "-8.40", "exact": "-840"}
    assert b3["net"] == "831.60"
    b4 = line(statement, B4)
    assert b4["condition_percent"] == "15/2"
    assert b4["condition_penalty"] == {"amount": "-15.75", "exact": "-1575"}
    assert b4["net"] == "194.25"

    assert [(u.lot, u.reason) for u in statement.unpriced] == [
        (B5, f"quantity in LBR; the contract prices GTIN {GTIN_BERRIES} per KGM")
    ]
    assert [m.to_json() for m in statement.market_prices] == [
        {
            "gtin": GTIN_COFFEE,
            "on": "2026-07-12",
            "price": "3.5",
            "source": "ICE Coffee C front-month settlement, EUR/kg",
        }
    ]
    assert obligation(statement, f"{CONTRACT}/2026-07/{BUYER}/{AURORA}") == {
        "id": f"{CONTRACT}/2026-07/{BUYER}/{AURORA}",
        "kind": "principal",
        "payer": BUYER,
        "payee": AURORA,
        "amount": "1975.25",
        "issued_on": "2026-07-31",
        "due_on": "2026-08-30",
        "early_payment": {"by": "2026-08-10", "amount": "1935.75"},
        "version": 1,
    }
    brisa = obligation(statement, f"{CONTRACT}/2026-07/{BUYER}/{BRISA}")
    assert (brisa["amount"], brisa["early_payment"]) == (
        "1132.80",
        {"by": "2026-08-10", "amount": "1110.14"},
    )
    assert statement.terms[0].binding_seq == 4
    assert verify_settlement(statement.to_json(), log.entries, NO_PROVENANCE) == statement


def test_a_month_of_deliveries_known_answer() -> None:
    """The canonical bytes are pinned: any machine must produce this exact statement."""
    log, _ = july()
    statement = settle(
        CONTRACT, "2026-07", log.last, log.entries, NO_PROVENANCE, market_prices=PRICES
    )
    assert statement.hash == "e0cbe0078bb6e05c2805563f7af034196091aa5114ffb815ea9032121136c682"


def test_a_market_price_is_required() -> None:
    log, _ = july()
    with pytest.raises(
        SettlementInputError,
        match=f"no market price was given for GTIN {GTIN_COFFEE} on 2026-07-12",
    ):
        settle(CONTRACT, "2026-07", log.last, log.entries, NO_PROVENANCE)


def test_a_very_late_delivery_is_capped_and_gives_a_termination_right() -> None:
    """Brisa's 100 kg of berries due 1 May arrive 20 July: 80 days late.

    0.5 % × 80/7 = 5.71 % is above the 5 % cap: the penalty is 5 % of 420.00 = 21.00, and 80 >
    30 days gives the buyer a right to terminate.
    """
    log = contract_log()
    deliver(log, BRISA, B1, "100", "100", on=date(2026, 7, 20), due=date(2026, 5, 1))
    statement = settle(CONTRACT, "2026-07", log.last, log.entries, NO_PROVENANCE)
    b1 = line(statement, B1)
    assert (b1["days_late"], b1["termination_right"], b1["net"]) == (80, True, "399.00")
    assert b1["late_penalty"] == {"amount": "-21.00", "exact": "-2100"}


def test_late_payment_interest_across_a_half_year_boundary() -> None:
    """April: aurora delivers 1000 kg of berries: 4200.00 owed, issued 30 April, due 30 May.
    The roastery pays on 8 July; aurora confirms receipt on 10 July.

    Each month's statement bills the interest accrued up to its last day, less what earlier
    statements billed (simple interest, 10.15 % = 2.15 + 8 in January–June, 10.65 % from
    July, ACT/365, on 420,000 cents):

    * May (to 31 May): 1 day late: 420,000 × 0.1015 / 365 = 42,630/365 = 116.79 → 1.17;
      plus the EUR 40.00 compensation, the invoice being unpaid after its due date.
    * June (to 30 June): 31 days: 1,321,530/365 = 3620.63 → 36.21 accrued; 36.21 − 1.17 =
      35.04 billed.
    * July: paid 10 July: 31 days at 10.15 % + 10 days at 10.65 % = (1,321,530 + 447,300)/365
      = 1,768,830/365 = 4846.11 → 48.46 accrued; 48.46 − 36.21 = 12.25 billed; the
      compensation was billed in May. The charges bear no interest themselves.
    * August: nothing more accrues; no charge lines.
    """
    log = contract_log()
    deliver(log, AURORA, B1, "1000", "1000", on=date(2026, 4, 15))
    april = settle(CONTRACT, "2026-04", log.last, log.entries, NO_PROVENANCE)
    april_seq = record(log, april)
    oid = f"{CONTRACT}/2026-04/{BUYER}/{AURORA}"
    assert obligation(april, oid)["amount"] == "4200.00"
    assert obligation(april, oid)["due_on"] == "2026-05-30"

    may = settle(CONTRACT, "2026-05", log.last, log.entries, NO_PROVENANCE)
    assert [(c.kind, c.accrued.exact, c.amount) for c in may.charges] == [
        ("fixed_compensation", Fraction(4000), eur("40.00")),
        ("late_payment_interest", Fraction(42630, 365), eur("1.17")),
    ]
    assert may.charges[0].seqs == (april_seq,)
    assert obligation(may, f"{CONTRACT}/2026-05/{BUYER}/{AURORA}/charges")["amount"] == "41.17"
    record(log, may)

    june = settle(CONTRACT, "2026-06", log.last, log.entries, NO_PROVENANCE)
    assert [(c.kind, c.accrued.amount, c.billed_before, c.amount) for c in june.charges] == [
        ("late_payment_interest", eur("36.21"), eur("1.17"), eur("35.04"))
    ]
    record(log, june)

    paid = payment_sent_body([(oid, "4200.00")], sent_on=date(2026, 7, 8))
    sent = log.add(Kind.PAYMENT_SENT, BUYER, paid)
    received = payment_confirm_body(sent, received_on=date(2026, 7, 10))
    confirmed = log.add(Kind.PAYMENT_CONFIRM, AURORA, received)
    july_statement = settle(CONTRACT, "2026-07", log.last, log.entries, NO_PROVENANCE)
    (charge,) = july_statement.charges
    assert charge.accrued.exact == Fraction(1_768_830, 365)
    assert (charge.accrued.amount, charge.billed_before, charge.amount) == (
        eur("48.46"),
        eur("36.21"),
        eur("12.25"),
    )
    assert charge.seqs == (april_seq, sent, confirmed)
    charges = obligation(july_statement, f"{CONTRACT}/2026-07/{BUYER}/{AURORA}/charges")
    assert (charges["amount"], charges["early_payment"]) == ("12.25", None)
    record(log, july_statement)

    august = settle(CONTRACT, "2026-08", log.last, log.entries, NO_PROVENANCE)
    assert august.charges == ()
    assert august.obligations == ()


def test_revenue_share_through_a_two_level_transformation() -> None:
    """Aurora supplies green coffee lot CA, brisa lots CB and CB2. The roastery roasts R1
    from 60 kg of CA and 40 kg of CB, R2 from CB2 alone, and blends X1 from 75 kg of R1 and
    25 kg of R2, so X1 is 0.75 × 0.6 = 0.45 CA, 0.75 × 0.4 = 0.30 CB and 0.25 CB2. It sells
    X1 for 1999.99 EUR in July.

    Weights (contribution × share): CA 0.45 × 2 = 0.9, CB 0.30 × 1.5 = 0.45, CB2 0.25 × 1.5 =
    0.375; Σ 1.725. Pool: 199,999 × 1.725 / 100 = 3449.98275 cents → 34.50 (rounded once).
    Split 3450 by 0.9 : 0.45 : 0.375 = 1800 : 900 : 750 exactly: aurora 18.00, brisa 9.00 +
    7.50 = 16.50. Each part cites the sale and the records of its path.
    """
    log = contract_log()
    ca, cb, cb2 = (lot_id(GTIN_COFFEE, name) for name in ("CA", "CB", "CB2"))
    r1, r2, x1 = (lot_id("07612345000046", name) for name in ("R1", "R2", "X1"))
    ship_ca, _ = deliver(log, AURORA, ca, "60", "60", on=date(2026, 6, 2))
    ship_cb, _ = deliver(log, BRISA, cb, "40", "40", on=date(2026, 6, 3))
    ship_cb2, _ = deliver(log, BRISA, cb2, "100", "100", on=date(2026, 6, 4))
    t1 = log.add(Kind.TRACE_EVENT, BUYER, {"event": {"type": "TransformationEvent"}})
    t2 = log.add(Kind.TRACE_EVENT, BUYER, {"event": {"type": "TransformationEvent"}})
    t3 = log.add(Kind.TRACE_EVENT, BUYER, {"event": {"type": "TransformationEvent"}})
    graph = (
        ProvenanceGraph()
        .supplied(ca, AURORA, ship_ca)
        .supplied(cb, BRISA, ship_cb)
        .supplied(cb2, BRISA, ship_cb2)
        .transformed(r1, {ca: 60, cb: 40}, t1)
        .transformed(r2, {cb2: 100}, t2)
        .transformed(x1, {r1: 75, r2: 25}, t3)
    )
    sale = log.add(Kind.SALE_REPORT, BUYER, sale_body(x1, "2026-07", "100", "1999.99"))
    log.add(Kind.SALE_REPORT, BUYER, sale_body(x1, "2026-06", "10", "199.99"))  # not July
    statement = settle(CONTRACT, "2026-07", log.last, log.entries, graph)

    (share,) = statement.revenue_shares
    assert share.pool.exact == Fraction(344_998_275, 100_000)
    assert share.pool.amount == eur("34.50")
    assert [(p.contribution.lot, str(p.contribution.fraction), p.amount) for p in share.parts] == [
        (ca, "0.45", eur("18.00")),
        (cb, "0.3", eur("9.00")),
        (cb2, "0.25", eur("7.50")),
    ]
    assert share.parts[0].contribution.seqs == (ship_ca, t1, t3)
    assert share.seqs == tuple(sorted({sale, ship_ca, ship_cb, ship_cb2, t1, t2, t3}))
    assert statement.total(BUYER, AURORA) == eur("18.00")
    assert statement.total(BUYER, BRISA) == eur("16.50")
    assert verify_settlement(statement.to_json(), log.entries, graph) == statement


def test_penalties_and_shares_net_into_one_obligation_per_pair() -> None:
    """A farm that is also owed a revenue share gets one obligation for goods and share:
    aurora delivers 10 kg of berries (42.00) and is owed 2 % of a 500.00 sale of its lot
    (10.00): 52.00."""
    log = contract_log()
    ship, _ = deliver(log, AURORA, B1, "10", "10", on=date(2026, 7, 1))
    log.add(Kind.SALE_REPORT, BUYER, sale_body(B1, "2026-07", "10", "500.00"))
    graph = ProvenanceGraph().supplied(B1, AURORA, ship)
    statement = settle(CONTRACT, "2026-07", log.last, log.entries, graph)
    assert [(o.payer, o.payee, o.amount) for o in statement.obligations] == [
        (BUYER, AURORA, eur("52.00"))
    ]


def test_an_unknown_or_unbound_contract_cannot_be_settled() -> None:
    log = EntryLog()
    log.add(Kind.CONTRACT_PROPOSE, BUYER, propose_body(TERMS))
    with pytest.raises(SettlementInputError, match="has no binding version in force"):
        settle(CONTRACT, "2026-07", log.last, log.entries, NO_PROVENANCE)
    with pytest.raises(SettlementInputError, match="no contract other"):
        settle("other", "2026-07", log.last, log.entries, NO_PROVENANCE)
    with pytest.raises(SettlementInputError, match="issued on or after 2026-07-31"):
        settle(
            CONTRACT, "2026-07", log.last, log.entries, NO_PROVENANCE, issued_on=date(2026, 7, 30)
        )
