"""Benchmark of the buyer's offline check: verifying a lot proof bundle of about 200 records
(issue 6: under 0.5 s), and the bundle's size.

The lot is flour milled from the wheat of ``FARMS`` farms: each farm registers, harvests,
ships and the mill receives (three trace records and one key record per farm), then the mill
transforms it all and ships the flour to a bakery, which receives it. The bundle of the flour
holds genesis, every registration and every one of those events: ``4 * FARMS + 6`` records
(``FARMS = 49``: 202). Verification is timed ``runs`` times in this process with nothing
cached between runs (each run parses, hashes, checks every signature and proof and replays
the trace projection in a fresh in-memory database); the median and the worst are reported.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api import wiring
from ledger.bundle import build_bundle, verify_bundle
from ledger.canonical import JSONObject
from ledger.keys import PrivateKey
from ledger.log import Ledger
from ledger.state import Kind
from ledger.statement import Statement, Submission, registration_body, sign_statement
from ledger.trace.builders import (
    Amount,
    commission,
    lot_id,
    receive,
    ship,
    trace_body,
    transform,
    with_check_digit,
)

ORIGIN = "bench.fairledger.example/bundle"
START = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
GTIN_WHEAT = "09506000134352"
GTIN_FLOUR = "09506000134376"
FARMS = 49
RUNS = 15
TARGET_SECONDS = 0.5

__all__ = ["FARMS", "TARGET_SECONDS", "run_bundle_bench"]


class _Cast:
    def __init__(self, farms: int) -> None:
        self.operator = PrivateKey.generate()
        self.keys: dict[str, PrivateKey] = {}
        self.glns: dict[str, str] = {}
        self.farms = [self._add(f"farm-{i:03d}") for i in range(farms)]
        self.mill = self._add("mill")
        self.bakery = self._add("bakery")
        self.nonces = 0
        self.events = 0

    def _add(self, name: str) -> str:
        self.keys[name] = PrivateKey.generate()
        self.glns[name] = with_check_digit(f"950611{len(self.glns) + 1:06d}")
        return name

    def _sign(self, author: str, kind: str, body: JSONObject, key: PrivateKey) -> Submission:
        self.nonces += 1
        statement = Statement.build(
            ledger=ORIGIN,
            kind=kind,
            author=author,
            key=key.public_key.key_id,
            nonce=f"bench-{self.nonces:08d}",
            issued_at=START,
            body=body,
        )
        return sign_statement(statement, key)

    def registrations(self) -> list[Submission]:
        return [
            self._sign(
                "operator",
                Kind.REGISTER,
                registration_body(
                    ORIGIN,
                    pid,
                    key,
                    display_name=pid.replace("-", " ").title(),
                    roles=["supplier", "buyer"],
                    gln=self.glns[pid],
                ),
                self.operator,
            )
            for pid, key in self.keys.items()
        ]

    def next_event(self) -> tuple[str, datetime]:
        """A fresh eventID and event time."""
        self.events += 1
        return (
            f"urn:uuid:00000000-0000-4000-8000-{self.events:012d}",
            START + timedelta(seconds=self.events),
        )

    def event(self, author: str, event: JSONObject) -> Submission:
        return self._sign(author, Kind.TRACE_EVENT, trace_body(event), self.keys[author])


def _story(cast: _Cast) -> tuple[list[list[Submission]], str]:
    """The batches to append, and the flour lot."""
    g = cast.glns
    flour = lot_id(GTIN_FLOUR, "MILL-BENCH")
    wheat = [lot_id(GTIN_WHEAT, f"FARM-{i:03d}") for i in range(len(cast.farms))]
    harvests, shipments, receipts = [], [], []
    for farm, lot in zip(cast.farms, wheat, strict=True):
        e, w = cast.next_event()
        harvests.append(
            cast.event(farm, commission(event_id=e, when=w, gln=g[farm], lots=[Amount(lot, 1000)]))
        )
        e, w = cast.next_event()
        shipments.append(
            cast.event(
                farm,
                ship(
                    event_id=e,
                    when=w,
                    shipper_gln=g[farm],
                    receiver_gln=g["mill"],
                    lots=[Amount(lot, 1000)],
                ),
            )
        )
        e, w = cast.next_event()
        receipts.append(
            cast.event(
                "mill",
                receive(
                    event_id=e,
                    when=w,
                    receiver_gln=g["mill"],
                    shipper_gln=g[farm],
                    lots=[Amount(lot, 1000)],
                ),
            )
        )
    e, w = cast.next_event()
    milling = cast.event(
        "mill",
        transform(
            event_id=e,
            when=w,
            gln=g["mill"],
            inputs=[Amount(lot, 1000) for lot in wheat],
            outputs=[Amount(flour, 800 * len(wheat))],
        ),
    )
    e, w = cast.next_event()
    e2, w2 = cast.next_event()
    delivery = [
        cast.event(
            "mill",
            ship(
                event_id=e,
                when=w,
                shipper_gln=g["mill"],
                receiver_gln=g["bakery"],
                lots=[Amount(flour, 500)],
            ),
        ),
        cast.event(
            "bakery",
            receive(
                event_id=e2,
                when=w2,
                receiver_gln=g["bakery"],
                shipper_gln=g["mill"],
                lots=[Amount(flour, 500)],
            ),
        ),
    ]
    return [harvests, shipments, receipts, [milling], delivery], flour


def run_bundle_bench(
    *,
    echo: Callable[[str], None] | None = None,
    farms: int = FARMS,
    runs: int = RUNS,
    directory: Path | None = None,
) -> dict[str, object]:
    """Build a scratch ledger (SQLite, under ``directory`` or the system's temporary
    directory, removed afterwards), build the flour's bundle and time its verification.

    Keys of the result: ``bundle_records``, ``bundle_bytes``, ``bundle_build_ms``,
    ``bundle_verify_ms`` (median of ``runs``), ``bundle_verify_worst_ms``,
    ``bundle_verify_target_ms`` and ``bundle_verify_ok`` (median under the target)."""
    say = echo or (lambda _line: None)
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        url = f"sqlite:///{Path(scratch) / 'bundle-bench.db'}"
        cast = _Cast(farms)
        Ledger.create(
            url, origin=ORIGIN, operator_id="operator", operator_key=cast.operator, now=START
        ).close()
        ledger = wiring.open_ledger(url, operator_key=cast.operator)
        try:
            now = START + timedelta(hours=1)
            ledger.append(cast.registrations(), now=now)
            batches, flour = _story(cast)
            for batch in batches:
                ledger.append(batch, now=now)
            vkey = ledger.verifier.vkey
            started = time.perf_counter()
            data = build_bundle(ledger, flour)
            build_ms = (time.perf_counter() - started) * 1000
        finally:
            ledger.close()
    samples = []
    verified = None
    for _ in range(max(1, runs)):
        started = time.perf_counter()
        verified = verify_bundle(data, vkey)
        samples.append((time.perf_counter() - started) * 1000)
    assert verified is not None
    records = len(verified.record_seqs) + len(verified.key_seqs)
    median = statistics.median(samples)
    figures: dict[str, object] = {
        "bundle_records": records,
        "bundle_bytes": len(data),
        "bundle_build_ms": round(build_ms, 1),
        "bundle_verify_ms": round(median, 1),
        "bundle_verify_worst_ms": round(max(samples), 1),
        "bundle_verify_target_ms": TARGET_SECONDS * 1000,
        "bundle_verify_ok": median < TARGET_SECONDS * 1000,
    }
    say(
        f"lot bundle: {records} records, {len(data):,} bytes; built in {build_ms:.0f} ms; "
        f"verified offline in {median:.0f} ms median, {max(samples):.0f} ms worst over "
        f"{len(samples)} runs (target < {TARGET_SECONDS * 1000:.0f} ms)"
    )
    return figures
