"""A large ledger of contract activity, for timing the fairness report (``fairledger bench``).

``build_fairness_ledger`` appends, through the library (``Ledger.append`` in batches, every
statement signed and checked by the contract validators and projection), about ``records``
records of a year of contract business: ``buyers`` buyers with ``contracts`` revenue-sharing
contracts over ``suppliers`` farms, and every month each contract's deliveries (a shipping
and a receiving event each, the scenario's ``contracts.scenario`` events), the buyers' sale
reports of blends made from delivered lots, one settlement statement per contract (computed
by ``contracts.settlement.settle`` from the contract's own records, recorded by the operator)
and the payments of the previous month's obligations (sent, then confirmed; some early, most
on time, some late, a few never). About 90 % of the records are deliveries.

The ledger is opened with the contract domain only (validators and projection): the
scenario's trace events name no GLNs, so the traceability validator is not plugged in, and
the fairness report reads only the contract projection. Time is a parameter: records are
stamped from ``start`` on, a month of simulated time per month of business. Deterministic
for a given seed. Benchmarks are not tests: nothing here asserts.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from contracts.bench import GTIN_BERRIES, GTIN_BLEND, GTIN_COFFEE, GTIN_FLOUR, bench_terms
from contracts.engine import record_settlement
from contracts.entries import Entry
from contracts.projection import ContractProjection
from contracts.provenance import ProvenanceGraph
from contracts.scenario import (
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
from contracts.settlement import settle
from contracts.validators import CONTRACT_VALIDATORS
from ledger.canonical import JSONObject
from ledger.keys import PrivateKey
from ledger.log import MAX_BATCH, Ledger
from ledger.state import Kind
from ledger.statement import Statement, Submission, prove_possession, sign_statement

__all__ = ["FairnessLedger", "build_fairness_ledger", "open_fairness_ledger"]

ORIGIN = "bench.fairledger.example/contracts"
OPERATOR = "operator"
START = datetime(2026, 1, 1, tzinfo=UTC)
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def bench_key(name: str) -> PrivateKey:
    """A deterministic key per participant name (benchmark data, not secrets)."""
    return PrivateKey.from_seed(hashlib.sha256(b"fairledger-bench-key:" + name.encode()).digest())


def open_fairness_ledger(url: str) -> Ledger:
    """Open a ledger built here, with the contract domain plugged in."""
    return Ledger.open(
        url,
        operator_key=bench_key(OPERATOR),
        validators=dict(CONTRACT_VALIDATORS),
        projections=[ContractProjection()],
    )


@dataclass
class FairnessLedger:
    """What was built: records, and how many of each kind."""

    url: str
    records: int
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Writer:
    ledger: Ledger
    now: datetime
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    pending: list[Submission] = field(default_factory=list)
    entries: list[tuple[Entry, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    nonce: int = 0
    size: int = 0

    def key(self, name: str) -> PrivateKey:
        found = self.keys.get(name)
        if found is None:
            found = self.keys[name] = bench_key(name)
        return found

    def add(self, author: str, kind: str, body: JSONObject) -> int:
        """Queue one signed statement; its seq (appends happen in order)."""
        self.nonce += 1
        key = self.key(author)
        statement = Statement.build(
            ledger=ORIGIN,
            kind=kind,
            author=author,
            key=key.public_key.key_id,
            nonce=f"b-{self.nonce:010d}",
            issued_at=self.now,
            body=body,
        )
        self.pending.append(sign_statement(statement, key))
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return self.size + len(self.pending) - 1

    def flush(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            self.ledger.append(batch, now=self.now)
            self.size += len(batch)

    def advance(self, to: datetime) -> None:
        self.flush()
        self.now = max(self.now, to)


def _entry(seq: int, kind: str, author: str, now: datetime, body: JSONObject) -> Entry:
    stamp = now.strftime(_STAMP)
    return Entry(seq, kind, author, stamp, stamp, body)


def _month_start(month: int) -> date:
    return date(2026 + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def build_fairness_ledger(
    url: str,
    *,
    records: int = 1_000_000,
    buyers: int = 10,
    contracts: int = 20,
    suppliers: int = 100,
    months: int = 12,
    seed: int = 11,
    start: datetime = START,
    echo: Callable[[str], None] | None = None,
) -> FairnessLedger:
    """Create a ledger at ``url`` (an empty database) and fill it with about ``records``
    records (see the module docstring). Raises like ``Ledger.create`` and ``Ledger.append``."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data, not secrets
    operator = bench_key(OPERATOR)
    ledger = Ledger.create(
        url,
        origin=ORIGIN,
        operator_id=OPERATOR,
        operator_key=operator,
        now=start,
        validators=dict(CONTRACT_VALIDATORS),
        projections=[ContractProjection()],
    )
    try:
        writer = _Writer(ledger, start, size=ledger.size)
        buyer_ids = [f"buyer-{n:02d}" for n in range(buyers)]
        farm_ids = [f"farm-{n:03d}" for n in range(suppliers)]
        for name, roles in [(b, ["buyer"]) for b in buyer_ids] + [
            (f, ["supplier"]) for f in farm_ids
        ]:
            key = writer.key(name)
            writer.add(
                OPERATOR,
                Kind.REGISTER,
                {
                    "participant": name,
                    "display_name": name.replace("-", " ").title(),
                    "roles": list(roles),
                    "public_key": key.public_key.b64,
                    "proof_of_possession": prove_possession(ORIGIN, name, key),
                },
            )
        writer.keys[OPERATOR] = operator
        per_contract = max(1, suppliers // contracts)
        deals: list[tuple[str, str, list[str]]] = []
        for n in range(contracts):
            buyer = buyer_ids[n % buyers]
            farms = [farm_ids[(n * per_contract + k) % suppliers] for k in range(per_contract)]
            cid = f"{buyer}-c{n:03d}"
            deals.append((cid, buyer, farms))
        # What is left for the months: deliveries (2 records) and sales (1), ~10 sales per
        # 100 deliveries; settlements and payments are few.
        overhead = months * contracts * (1 + 2 * (per_contract + 1))
        budget = max(0, records - writer.size - len(writer.pending) - overhead)
        budget -= contracts * (1 + len(deals[0][2]) + 1)
        deliveries_per = max(1, int(budget / 2.1) // (months * contracts))
        sales_per = max(1, deliveries_per // 10)
        # Each contract's records, for settling it: the lasting ones (contract, payments,
        # statements) and the month's (deliveries and sales, which a later month never needs).
        own: dict[str, list[Entry]] = {cid: [] for cid, _b, _f in deals}
        month_own: dict[str, list[Entry]] = {cid: [] for cid, _b, _f in deals}
        graph = ProvenanceGraph()

        def keep(cid: str, seq: int, kind: str, author: str, body: JSONObject) -> None:
            target = month_own if kind in (Kind.TRACE_EVENT, Kind.SALE_REPORT) else own
            target[cid].append(_entry(seq, kind, author, writer.now, body))

        for cid, buyer, farms in deals:
            terms = bench_terms(farms, buyer=buyer, contract_id=cid)
            seq = writer.add(buyer, Kind.CONTRACT_PROPOSE, propose_body(terms))
            keep(cid, seq, Kind.CONTRACT_PROPOSE, buyer, propose_body(terms))
            for party in (buyer, *farms):
                seq = writer.add(party, Kind.CONTRACT_ACCEPT, accept_body(terms))
                keep(cid, seq, Kind.CONTRACT_ACCEPT, party, accept_body(terms))
        writer.flush()
        gtins = (GTIN_COFFEE, GTIN_BERRIES, GTIN_FLOUR)
        due_payments: list[tuple[str, list[tuple[str, str, str, str]]]] = []
        serial = 0
        for month in range(1, months + 1):
            first = _month_start(month)
            period = first.strftime("%Y-%m")
            writer.advance(datetime(first.year, first.month, first.day, 6, tzinfo=UTC))
            prices: dict[tuple[str, date], Decimal] = {}
            for cid, buyer, farms in deals:
                delivered: list[str] = []
                for n in range(deliveries_per):
                    serial += 1
                    farm = farms[n % len(farms)]
                    gtin = gtins[n % 3]
                    lot = lot_id(gtin, f"L{serial:08d}")
                    day = first + timedelta(days=rng.randrange(28))
                    due = day - timedelta(days=rng.choice((0, 0, 0, 0, 0, 0, 2, 9, 40)))
                    shipped = Decimal(rng.randrange(200, 5000)) / 10
                    accepted = (
                        shipped
                        if rng.random() > 0.05
                        else shipped - Decimal(rng.randrange(1, 100)) / 10
                    )
                    readings = []
                    if gtin == GTIN_BERRIES:
                        readings = [Reading(value=f"{Decimal(rng.randrange(0, 70)) / 10}")]
                    if gtin == GTIN_COFFEE:
                        prices[(gtin, day)] = Decimal(rng.randrange(300, 500)) / 100
                    po = f"https://{buyer}.example/po/{serial}"
                    ship_body: JSONObject = {
                        "event": shipping_event(
                            lot, f"{shipped}", on=day, po=po, due=due, salt=str(serial)
                        )
                    }
                    ship = writer.add(farm, Kind.TRACE_EVENT, ship_body)
                    keep(cid, ship, Kind.TRACE_EVENT, farm, ship_body)
                    receive_body: JSONObject = {
                        "event": receiving_event(
                            lot, f"{accepted}", on=day, po=po, readings=readings, salt=str(serial)
                        )
                    }
                    seq = writer.add(buyer, Kind.TRACE_EVENT, receive_body)
                    keep(cid, seq, Kind.TRACE_EVENT, buyer, receive_body)
                    graph.supplied(lot, farm, ship)
                    delivered.append(lot)
                for _sale in range(sales_per):
                    serial += 1
                    blend = lot_id(GTIN_BLEND, f"X{serial:08d}")
                    inputs = rng.sample(delivered, min(3, len(delivered)))
                    body = sale_body(
                        blend, period, f"{rng.randrange(1, 500)}", f"{rng.randrange(100, 99999)}.00"
                    )
                    seq = writer.add(buyer, Kind.SALE_REPORT, body)
                    graph.transformed(blend, {lot: rng.randrange(1, 100) for lot in inputs}, seq)
                    keep(cid, seq, Kind.SALE_REPORT, buyer, body)
                if len(writer.pending) >= 20 * MAX_BATCH:
                    writer.flush()
            # Last month's obligations are paid in this month (recorded on the 28th).
            writer.advance(datetime(first.year, first.month, 28, 12, tzinfo=UTC))
            for cid, dues in due_payments:
                for oid, payer, payee, amount in dues:
                    late = rng.random()
                    if late < 0.03:
                        continue  # never paid
                    paid_on = first + timedelta(days=rng.randrange(0, 27) if late < 0.8 else 27)
                    sent = payment_sent_body([(oid, amount)], sent_on=paid_on)
                    seq = writer.add(payer, Kind.PAYMENT_SENT, sent)
                    keep(cid, seq, Kind.PAYMENT_SENT, payer, sent)
                    confirm = payment_confirm_body(seq, received_on=paid_on)
                    seq = writer.add(payee, Kind.PAYMENT_CONFIRM, confirm)
                    keep(cid, seq, Kind.PAYMENT_CONFIRM, payee, confirm)
            # Settle the month on the first day of the next.
            after = _month_start(month + 1)
            writer.advance(datetime(after.year, after.month, after.day, 2, tzinfo=UTC))
            due_payments = []
            for cid, _buyer, _farms in deals:
                statement = settle(
                    cid,
                    period,
                    writer.size - 1,
                    own[cid] + month_own[cid],
                    graph,
                    market_prices=prices,
                )
                receipt = record_settlement(
                    writer.ledger, statement, operator, now=writer.now
                ).receipt
                writer.size += 1
                writer.counts[Kind.SETTLEMENT] = writer.counts.get(Kind.SETTLEMENT, 0) + 1
                keep(cid, receipt.seq, Kind.SETTLEMENT, OPERATOR, statement.to_json())
                due_payments.append(
                    (
                        cid,
                        [
                            (o.id, o.payer, o.payee, o.amount.amount)
                            for o in statement.obligations
                            if o.kind == "principal"
                        ],
                    )
                )
                month_own[cid] = []
            if echo is not None:
                echo(f"  ... {period}: {writer.size:,} records")
        writer.flush()
        return FairnessLedger(url, writer.ledger.size, dict(writer.counts))
    finally:
        ledger.close()
