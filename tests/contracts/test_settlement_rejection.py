"""Quality rejections recorded the trace domain's way are not paid (issue 4).

A receiving event lists in ``quantityList`` what was delivered and refuses part of it in
``fairledger:rejectedQuantityList`` (``ledger.trace.rules``); the trace projection books
accepted = delivered − rejected to the buyer and returns the rest to the shipper. Settlement
must read the same accepted quantity. These tests record real events built with
``ledger.trace.builders`` on a ledger running both domains' validators and projections.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contracts.deliveries import match_deliveries, read_event, read_event_reference
from contracts.engine import ledger_entries, settle_ledger
from contracts.entries import Entry
from contracts.projection import ContractProjection
from contracts.provenance import ProvenanceGraph
from contracts.scenario import accept_body, propose_body
from contracts.validators import CONTRACT_VALIDATORS
from ledger.canonical import JSONObject
from ledger.log import Ledger
from ledger.state import Kind
from ledger.storage.trace import TraceProjection
from ledger.trace.builders import (
    Amount,
    BizTransaction,
    commission,
    lot_id,
    receive,
    ship,
    trace_body,
)
from ledger.trace.errors import MalformedTraceEventError
from ledger.trace.rules import TRACE_VALIDATORS
from ledger.trace.service import summary
from tests.contracts.samples import GTIN_BERRIES
from tests.contracts.test_lifecycle import AUDITOR, AURORA, BRISA, BUYER, CONTRACT, TERMS
from tests.factory import Chain, key_for, new_chain
from tests.ledger.trace.test_ledger_chain import gln_for

BERRIES = lot_id(GTIN_BERRIES, "B-7")
PO = BizTransaction("po", "https://roastery-nord.example/po/7")
JULY_3 = datetime(2026, 7, 3, 8, 0, tzinfo=UTC)
CAST = (
    (BUYER, ("buyer",)),
    (AURORA, ("supplier",)),
    (BRISA, ("supplier",)),
    (AUDITOR, ("auditor",)),
)


@dataclass
class BothDomains:
    """A ledger with the trace and contract validators and projections, and a GLN per party."""

    chain: Chain
    ids: Iterator[int]

    @property
    def ledger(self) -> Ledger:
        return self.chain.ledger

    def gln(self, name: str) -> str:
        return gln_for(name)

    def submit(self, author: str, kind: str, body: JSONObject) -> int:
        statement = self.chain.statement(author, kind, body)
        return self.ledger.submit(statement, now=self.chain.tick()).receipt.seq

    def record(self, author: str, event: JSONObject) -> int:
        return self.submit(author, Kind.TRACE_EVENT, trace_body(event))

    def kw(self, hour: int) -> dict[str, Any]:
        """A fresh event id and a time on 3 July 2026."""
        return {
            "event_id": f"urn:uuid:00000000-0000-4000-8000-{next(self.ids):012d}",
            "when": JULY_3.replace(hour=hour),
        }


@pytest.fixture
def both(tmp_path: Path) -> Iterator[BothDomains]:
    chain = new_chain(tmp_path / "both.db")
    chain.ledger.close()
    chain.ledger = Ledger.open(
        chain.url,
        operator_key=key_for("operator"),
        validators={**TRACE_VALIDATORS, **CONTRACT_VALIDATORS},
        projections=[TraceProjection(), ContractProjection()],
    )
    world = BothDomains(chain, iter(range(1, 10_000)))
    for name, roles in CAST:
        body = chain.register_body(name, list(roles))
        body["gln"] = gln_for(name)
        world.submit("operator", Kind.REGISTER, body)
    world.submit(BUYER, Kind.CONTRACT_PROPOSE, propose_body(TERMS))
    for party in (BUYER, AURORA, BRISA):
        world.submit(party, Kind.CONTRACT_ACCEPT, accept_body(TERMS))
    yield world
    chain.ledger.close()


def only_line(body: JSONObject) -> JSONObject:
    """The one delivery line of a statement body."""
    lines = body["deliveries"]
    assert isinstance(lines, list)
    assert len(lines) == 1
    assert isinstance(lines[0], dict)
    return lines[0]


def deliver_with_rejection(
    both: BothDomains, delivered: str, rejected: str | None
) -> tuple[int, int, JSONObject]:
    """Aurora harvests and ships ``delivered`` kg of berries to the roastery under one PO;
    the roastery receives them, refusing ``rejected`` kg as damaged. (ship seq, receive seq,
    the receiving event)."""
    aurora, roastery = both.gln(AURORA), both.gln(BUYER)
    both.record(AURORA, commission(**both.kw(6), gln=aurora, lots=[Amount(BERRIES, delivered)]))
    ship_seq = both.record(
        AURORA,
        ship(
            **both.kw(8),
            shipper_gln=aurora,
            receiver_gln=roastery,
            lots=[Amount(BERRIES, delivered)],
            biz_transactions=[PO],
        ),
    )
    event = receive(
        **both.kw(16),
        receiver_gln=roastery,
        shipper_gln=aurora,
        lots=[Amount(BERRIES, delivered)],
        rejected=[] if rejected is None else [Amount(BERRIES, rejected)],
        reason=None if rejected is None else "damaged",
        biz_transactions=[PO],
    )
    return ship_seq, both.record(BUYER, event), event


def test_a_partly_rejected_delivery_is_paid_for_what_was_accepted(both: BothDomains) -> None:
    """Aurora ships 1,500 kg of strawberries; the roastery's receipt lists 1,500 kg delivered
    and rejects 300 kg as damaged.

    Trace domain: accepted = delivered − rejected = 1,500 − 300 = 1,200 kg go into the
    roastery's stock; the 300 kg go back to aurora's.
    Contract: berries cost 4.20 EUR/kg, no due date (not late), no readings (no condition
    penalty), so goods = 1,200 × 4.20 = 5,040.00 EUR (exactly 504,000 cents); the rejected
    300 kg (worth 300 × 4.20 = 1,260.00) are not paid. Net 5,040.00, owed by the roastery
    to aurora; the line cites the shipping and the receiving record.
    """
    ship_seq, receive_seq, _event = deliver_with_rejection(both, "1500", "300")

    lot = summary(both.ledger, BERRIES)
    assert lot.remaining(BUYER, "KGM") == Decimal(1200)
    assert lot.remaining(AURORA, "KGM") == Decimal(300)

    statement = settle_ledger(both.ledger, CONTRACT, "2026-07", ProvenanceGraph())
    line = only_line(statement.to_json())
    assert (line["shipped"], line["accepted"], line["rejected"]) == ("1500", "1200", "300")
    assert line["rejection_reason"] == "damaged"
    assert line["goods"] == {"amount": "5040.00", "exact": "504000"}
    assert line["net"] == "5040.00"
    assert line["seqs"] == [ship_seq, receive_seq]
    assert receive_seq in line["seqs"]
    assert statement.total(BUYER, AURORA).amount == "5040.00"


def test_a_fully_rejected_delivery_is_not_paid(both: BothDomains) -> None:
    """1,500 kg delivered, all 1,500 kg rejected: accepted 0 kg, goods 0 × 4.20 = 0.00; the
    line still appears (nothing disappears silently) and no obligation is owed."""
    ship_seq, receive_seq, _event = deliver_with_rejection(both, "1500", "1500")
    statement = settle_ledger(both.ledger, CONTRACT, "2026-07", ProvenanceGraph())
    line = only_line(statement.to_json())
    assert (line["accepted"], line["rejected"], line["net"]) == ("0", "1500", "0.00")
    assert line["seqs"] == [ship_seq, receive_seq]
    assert statement.total(BUYER, AURORA).amount == "0.00"


def test_without_a_rejection_the_whole_delivery_is_paid(both: BothDomains) -> None:
    """The same delivery with nothing rejected: 1,500 × 4.20 = 6,300.00."""
    deliver_with_rejection(both, "1500", None)
    statement = settle_ledger(both.ledger, CONTRACT, "2026-07", ProvenanceGraph())
    assert statement.total(BUYER, AURORA).amount == "6300.00"
    assert statement.deliveries[0].delivery.rejection_reason is None


def test_both_readers_read_the_rejection_as_the_trace_domain_does(both: BothDomains) -> None:
    """The fast reader and the reference reader (which asks ``ledger.trace.rules``) agree on
    the recorded receipt: 1,500 delivered, 300 rejected, 1,200 accepted."""
    _ship, receive_seq, _event = deliver_with_rejection(both, "1500", "300")
    (recorded,) = [e for e in ledger_entries(both.ledger) if e.seq == receive_seq]
    fast, reference = read_event(recorded), read_event_reference(recorded)
    assert fast is not None
    assert fast == reference
    ((_lot, _gtin, accepted, uom, rejected),) = fast.lots
    assert (accepted, rejected, uom) == (Decimal(1200), Decimal(300), "KGM")
    assert fast.rejection_reason == "damaged"


def _receipt_entry(event: JSONObject, seq: int = 9) -> Entry:
    return Entry(seq, Kind.TRACE_EVENT, BUYER, "", "2026-07-03T16:00:00Z", {"event": event})


def test_a_rejection_the_trace_domain_refuses_is_no_delivery(both: BothDomains) -> None:
    """A rejection without its reason cannot be recorded (``ledger.trace.rules``); read from
    an unvalidated source, both readers drop such a receipt rather than pay it in full."""
    _ship, _receive, event = deliver_with_rejection(both, "1500", "300")
    broken = {k: v for k, v in event.items() if k != "fairledger:rejectionReason"}
    with pytest.raises(MalformedTraceEventError, match="rejectionReason"):
        both.record(BUYER, broken)
    assert read_event(_receipt_entry(broken)) is None
    assert read_event_reference(_receipt_entry(broken)) is None


def test_pairing_keeps_the_rejected_part_out_of_the_accepted_quantity(
    both: BothDomains,
) -> None:
    """Pairing sees shipped 1,500 and received (accepted) 1,500 − 300 = 1,200."""
    deliver_with_rejection(both, "1500", "300")
    entries = ledger_entries(both.ledger)
    events = [e for e in (read_event(entry) for entry in entries) if e is not None]
    (delivery,) = match_deliveries(events, within=(date(2026, 7, 1), date(2026, 7, 31)))
    assert (delivery.shipped, delivery.received) == (Decimal(1500), Decimal(1200))
