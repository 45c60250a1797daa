"""Settlement benchmark data and timing (``fairledger bench`` prints the figures).

``bench_entries`` builds one month of a realistic contract as records: a roastery buying
berries (agreed price, cold chain), flour (graduated tiers) and green coffee (market price with
a floor) from ``suppliers`` farms, ``deliveries`` deliveries (a shipping and a receiving event
each, with varied quantities, a few rejections, late deliveries and temperature excursions)
and ``sales`` sale reports whose lots trace back to the delivered lots. ``time_settlement``
settles it and reports where the time went. Benchmarks are not tests: nothing here asserts.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from contracts.entries import Entry
from contracts.provenance import ProvenanceGraph
from contracts.scenario import (
    Reading,
    accept_body,
    lot_id,
    propose_body,
    receiving_event,
    sale_body,
    shipping_event,
)
from contracts.settlement import SettlementStatement, settle
from contracts.terms import ContractTerms, parse_terms
from ledger.canonical import JSONObject
from ledger.log import Ledger
from ledger.state import Kind

__all__ = [
    "BenchData",
    "SettlementTiming",
    "bench_entries",
    "bench_terms",
    "fairness_ledger",
    "run_contract_bench",
    "time_fairness",
    "time_settlement",
]

BUYER = "roastery-nord"
CONTRACT = "roastery-nord-bench"
PERIOD = "2026-07"
GTIN_COFFEE = "07612345000015"
GTIN_BERRIES = "07612345000022"
GTIN_FLOUR = "07612345000039"
GTIN_BLEND = "07612345000046"


def bench_terms(
    suppliers: list[str], *, buyer: str = BUYER, contract_id: str = CONTRACT
) -> ContractTerms:
    """Terms with every rule: market price and floor, cold chain, tiers, late delivery,
    revenue share to every supplier, 2/10 net 30 with late interest."""
    share = (Decimal(20) / len(suppliers)).quantize(Decimal("0.01"))
    return parse_terms(
        {
            "version": 1,
            "contract_id": contract_id,
            "parties": [{"id": buyer, "roles": ["buyer"]}]
            + [{"id": s, "roles": ["supplier"]} for s in suppliers],
            "currency": "EUR",
            "rounding": {"mode": "ROUND_HALF_EVEN"},
            "valid_from": "2026-01-01",
            "products": [
                {
                    "gtin": GTIN_COFFEE,
                    "unit": "KGM",
                    "pricing": {
                        "basis": "market",
                        "market": {
                            "source": "ICE Coffee C, EUR/kg",
                            "observed_on": "delivery_date",
                        },
                        "floor": "3.70",
                        "premium": "0.44",
                        "differentials": [{"name": "organic", "amount": "0.88"}],
                    },
                },
                {
                    "gtin": GTIN_BERRIES,
                    "unit": "KGM",
                    "pricing": {"basis": "agreed", "unit_price": "4.20"},
                    "conditions": [
                        {
                            "measure": "temperature",
                            "unit": "CEL",
                            "minimum": "0",
                            "maximum": "4",
                            "reduction_percent_per_unit": "5",
                            "cap_percent": "30",
                        }
                    ],
                },
                {
                    "gtin": GTIN_FLOUR,
                    "unit": "KGM",
                    "pricing": {
                        "basis": "agreed",
                        "tiers": {
                            "method": "graduated",
                            "tiers": [
                                {"from_quantity": "0", "to_quantity": "1000", "unit_price": "0.80"},
                                {
                                    "from_quantity": "1000",
                                    "to_quantity": "5000",
                                    "unit_price": "0.75",
                                },
                                {"from_quantity": "5000", "unit_price": "0.70"},
                            ],
                        },
                    },
                },
            ],
            "late_delivery": {
                "percent_per_period": "0.5",
                "period_days": 7,
                "cap_percent": "5",
                "termination_after_days": 30,
            },
            "revenue_share": {
                "payer": buyer,
                "shares": [{"supplier": s, "percent": f"{share}"} for s in suppliers],
            },
            "payment": {
                "net_days": 30,
                "statutory_max_days": 60,
                "early_payment": {"percent": "2", "within_days": 10},
                "late_interest": {
                    "reference": "ECB main refinancing operations rate",
                    "margin_percent": "8",
                    "day_count": "ACT/365",
                    "reference_rates": [{"effective_from": "2025-06-11", "percent": "2.15"}],
                },
                "fixed_compensation": "40.00",
            },
        }
    )


@dataclass
class BenchData:
    entries: list[Entry]
    provenance: ProvenanceGraph
    market_prices: dict[tuple[str, date], Decimal]
    as_of_seq: int


def _entry(seq: int, kind: str, author: str, body: JSONObject) -> Entry:
    stamp = f"2026-08-01T00:00:{seq % 60:02d}.000000Z"
    return Entry(seq, kind, author, stamp, stamp, body)


def bench_entries(
    deliveries: int = 100_000, sales: int = 10_000, suppliers: int = 50, seed: int = 7
) -> BenchData:
    """One month of ``deliveries`` deliveries and ``sales`` sale reports (deterministic)."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data, not secrets
    farms = [f"farm-{n:03d}" for n in range(suppliers)]
    terms = bench_terms(farms)
    entries: list[Entry] = []

    def add(kind: str, author: str, body: JSONObject) -> int:
        entries.append(_entry(len(entries) + 1, kind, author, body))
        return len(entries)

    add(Kind.CONTRACT_PROPOSE, BUYER, propose_body(terms))
    for party in (BUYER, *farms):
        add(Kind.CONTRACT_ACCEPT, party, accept_body(terms))
    graph = ProvenanceGraph()
    prices: dict[tuple[str, date], Decimal] = {}
    delivered: list[str] = []
    gtins = (GTIN_COFFEE, GTIN_BERRIES, GTIN_FLOUR)
    for n in range(deliveries):
        farm = farms[n % suppliers]
        gtin = gtins[n % 3]
        lot = lot_id(gtin, f"L{n:07d}")
        day = date(2026, 7, 1) + timedelta(days=rng.randrange(31))
        due = day - timedelta(days=rng.choice((0, 0, 0, 0, 0, 0, 2, 9, 40)))
        shipped = Decimal(rng.randrange(200, 5000)) / 10
        accepted = shipped if rng.random() > 0.05 else shipped - Decimal(rng.randrange(1, 100)) / 10
        readings = []
        if gtin == GTIN_BERRIES:
            readings = [Reading(value=f"{Decimal(rng.randrange(0, 70)) / 10}")]
        if gtin == GTIN_COFFEE:
            prices[(gtin, day)] = Decimal(rng.randrange(300, 500)) / 100
        po = f"https://{BUYER}.example/po/{n}"
        ship = add(
            Kind.TRACE_EVENT,
            farm,
            {"event": shipping_event(lot, f"{shipped}", on=day, po=po, due=due, salt=str(n))},
        )
        add(
            Kind.TRACE_EVENT,
            BUYER,
            {
                "event": receiving_event(
                    lot, f"{accepted}", on=day, po=po, readings=readings, salt=str(n)
                )
            },
        )
        graph.supplied(lot, farm, ship)
        delivered.append(lot)
    for n in range(sales):
        blend = lot_id(GTIN_BLEND, f"X{n:06d}")
        inputs = rng.sample(delivered, 3) if len(delivered) >= 3 else delivered
        seq = len(entries) + 1
        graph.transformed(blend, {lot: rng.randrange(1, 100) for lot in inputs}, seq)
        add(Kind.TRACE_EVENT, BUYER, {"event": {"type": "TransformationEvent"}})
        add(
            Kind.SALE_REPORT,
            BUYER,
            sale_body(blend, PERIOD, f"{rng.randrange(1, 500)}", f"{rng.randrange(100, 99999)}.00"),
        )
    return BenchData(entries, graph, prices, len(entries))


@dataclass(frozen=True, slots=True)
class SettlementTiming:
    deliveries: int
    sales: int
    settle_seconds: float
    encode_seconds: float
    statement_bytes: int
    statement: SettlementStatement


def time_settlement(data: BenchData) -> SettlementTiming:
    """Settle the bench month and time it (and the canonical encoding of the statement)."""
    start = time.perf_counter()
    statement = settle(
        CONTRACT,
        PERIOD,
        data.as_of_seq,
        data.entries,
        data.provenance,
        market_prices=data.market_prices,
    )
    settled = time.perf_counter()
    encoded = statement.canonical
    done = time.perf_counter()
    return SettlementTiming(
        deliveries=len(statement.deliveries),
        sales=len(statement.revenue_shares),
        settle_seconds=settled - start,
        encode_seconds=done - settled,
        statement_bytes=len(encoded),
        statement=statement,
    )


def time_fairness(url: str) -> tuple[int, float]:
    """Open the ledger at ``url`` (e.g. one built by ``fairledger bench --records 1000000``)
    and time ``contracts.reports.ledger_fairness_report`` over it, which reads the contract
    projection's documents, not the records. Returns (records, seconds)."""
    from contracts.reports import ledger_fairness_report

    ledger = Ledger.open(url)
    try:
        size = ledger.size
        start = time.perf_counter()
        ledger_fairness_report(ledger)
        return size, time.perf_counter() - start
    finally:
        ledger.close()


#: The marker ``fairness_ledger`` writes beside a completely built ledger.
FAIRNESS_MARKER = "built.json"


def fairness_ledger(
    directory: str | Path, *, records: int, echo: Callable[[str], None]
) -> tuple[str, bool]:
    """The SQLite URL of the contract ledger of about ``records`` records kept in
    ``directory`` (``contracts.fairness_bench``), building it first unless a complete one
    (with its ``FAIRNESS_MARKER``) is there. Returns (url, whether it was reused)."""
    from contracts.fairness_bench import build_fairness_ledger

    folder = Path(directory)
    database = folder / "ledger.db"
    url = f"sqlite:///{database}"
    marker = folder / FAIRNESS_MARKER
    if marker.exists() and database.exists():
        return url, True
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("ledger.db*"):
        stale.unlink()
    echo(f"contracts: building a {records:,}-record contract ledger in {folder} (once)...")
    start = time.perf_counter()
    built = build_fairness_ledger(url, records=records, echo=echo)
    seconds = time.perf_counter() - start
    marker.write_text(
        json.dumps(
            {"records": built.records, "counts": built.counts, "build_seconds": round(seconds)}
        )
    )
    echo(f"contracts: built {built.records:,} records in {seconds:.0f} s")
    return url, False


def run_contract_bench(
    *,
    echo: Callable[[str], None],
    deliveries: int = 100_000,
    sales: int = 10_000,
    fairness_url: str | None = None,
    fairness_dir: str | Path | None = None,
    fairness_records: int = 1_000_000,
    reduced: bool = False,
) -> dict[str, object]:
    """The contract engine's figures for ``fairledger bench``: settling one month of
    ``deliveries`` deliveries and ``sales`` sale reports (computing the statement, then its
    RFC 8785 bytes and hash), and the fairness report over a large contract ledger: the one
    at ``fairness_url``, else the one kept in ``fairness_dir`` (built there once, of
    ``fairness_records`` records). ``reduced`` divides every size by ten and, without a
    directory, builds its small ledger in a temporary one. Prints each figure with ``echo``;
    returns them by name (seconds)."""
    if reduced:
        deliveries, sales = deliveries // 10, sales // 10
        fairness_records //= 10
    echo(f"contracts: building a month of {deliveries:,} deliveries and {sales:,} sales...")
    data = bench_entries(deliveries, sales)
    timing = time_settlement(data)
    figures: dict[str, object] = {
        "settlement_deliveries": timing.deliveries,
        "settlement_sales": timing.sales,
        "settlement_seconds": round(timing.settle_seconds, 3),
        "settlement_encode_seconds": round(timing.encode_seconds, 3),
        "settlement_statement_bytes": timing.statement_bytes,
        "settlement_hash": timing.statement.hash,
    }
    echo(
        f"contracts: settled {timing.deliveries:,} deliveries and {timing.sales:,} sales in "
        f"{timing.settle_seconds:.2f} s (+ {timing.encode_seconds:.2f} s for the "
        f"{timing.statement_bytes / 1e6:.1f} MB canonical statement and its hash)"
    )
    with tempfile.TemporaryDirectory(prefix="fairledger-fairness-") as scratch:
        url = fairness_url
        if url is None and (fairness_dir is not None or reduced):
            url, _reused = fairness_ledger(
                fairness_dir or scratch, records=fairness_records, echo=echo
            )
        if url is not None:
            records, seconds = time_fairness(url)
            figures["fairness_records"] = records
            figures["fairness_seconds"] = round(seconds, 3)
            echo(f"contracts: fairness report over {records:,} records in {seconds:.2f} s")
    return figures
