"""Provenance page benchmark: server-side render time of ``GET /01/{gtin}/10/{lot}`` for a lot
whose provenance has 100 nodes (issue 6: under 100 ms).

``run_web_bench(echo=...)`` builds a scratch SQLite ledger through the real append path
(every domain's rules and projections, ``api.wiring``): eight farms harvest 60 wheat lots and
ship them to a mill, which mills them in 19 transformations into 19 flour lots; the flour goes
to a bakery that bakes all of it into one bread lot. The bread's provenance is 80 lots and 20
transformations (100 graph nodes) resting on 238 trace records. It then requests the bread's
page through the real app (in-process ``TestClient``: routing, the provenance query, the
verification verdict, templates) and prints the median and 95th percentile of three cases:

* the ledger unchanged since the last view: the verdict is reused as is;
* after an append elsewhere on the ledger (a farm harvests an unrelated lot; a new signed
  checkpoint): the lot's proofs stand, the new checkpoint's signature and a consistency proof
  from the one they were checked against are verified (``api.routes.web_verification``);
* after a record in the bread's own provenance (the bakery sells a loaf): the lot's proof
  bundle is built and verified from scratch; the bundle's own share is measured apart.
Figures are printed, never asserted (STYLE 10).
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from starlette.exceptions import StarletteDeprecationWarning

from api import wiring
from api.app import create_app
from api.routes.deps import ApiSettings
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
    sell,
    ship,
    trace_body,
    transform,
    with_check_digit,
)

__all__ = ["build_web_ledger", "run_web_bench"]

ORIGIN: Final = "bench.fairledger.example/web"
START: Final = datetime(2026, 9, 1, tzinfo=UTC)
GTIN_WHEAT: Final = "09506000134352"
GTIN_FLOUR: Final = "09506000134376"
GTIN_BREAD: Final = "09506000134383"
FARMS: Final = 8
WHEAT_LOTS: Final = 60
MILLINGS: Final = 19
RUNS: Final = 40
CHANGED_RUNS: Final = 20
BUNDLE_RUNS: Final = 8
WARMUP: Final = 3


def _key(name: str) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(b"fairledger-web-bench:" + name.encode()).digest())


class _Builder:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.operator = _key("operator")
        self.keys: dict[str, PrivateKey] = {}
        self.glns: dict[str, str] = {}
        self.clock = START
        self.count = 0

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=7)
        return self.clock

    def kw(self) -> dict[str, Any]:
        self.count += 1
        return {
            "event_id": f"urn:uuid:00000000-0000-4000-8000-{self.count:012d}",
            "when": self.tick(),
        }

    def statement(self, author: str, kind: str, body: JSONObject) -> Submission:
        key = self.operator if author == "operator" else self.keys[author]
        self.count += 1
        statement = Statement.build(
            ledger=ORIGIN,
            kind=kind,
            author=author,
            key=key.public_key.key_id,
            nonce=f"web-bench-{self.count:08d}",
            issued_at=self.clock,
            body=body,
        )
        return sign_statement(statement, key)

    def register(self, names: list[tuple[str, str]]) -> None:
        subs = []
        for pid, display in names:
            key = self.keys[pid] = _key(pid)
            gln = self.glns[pid] = with_check_digit(f"950611{len(self.glns) + 500:06d}")
            body = registration_body(
                ORIGIN, pid, key, display_name=display, roles=["supplier", "buyer"], gln=gln
            )
            subs.append(self.statement("operator", Kind.REGISTER, body))
        self.ledger.append(subs, now=self.tick())

    def record(self, events: list[tuple[str, JSONObject]]) -> None:
        subs = [self.statement(a, Kind.TRACE_EVENT, trace_body(e)) for a, e in events]
        for start in range(0, len(subs), 100):
            self.ledger.append(subs[start : start + 100], now=self.tick())


def build_web_ledger(url: str) -> tuple[Ledger, str]:
    """A ledger at ``url`` (empty database) holding the 100-node story; returns it and the
    bread lot (normal form)."""
    b, bread = _build(url)
    return b.ledger, bread


def _build(url: str) -> tuple[_Builder, str]:
    operator = _key("operator")
    ledger = wiring.create_ledger(
        url, origin=ORIGIN, operator_id="operator", operator_key=operator, now=START
    )
    b = _Builder(ledger)
    farms = [f"farm-{i:02d}" for i in range(FARMS)]
    b.register(
        [(f, f"Farm {i + 1}") for i, f in enumerate(farms)]
        + [("mill", "Valley Mill"), ("bakery", "Sunrise Bakery")]
    )
    g = b.glns
    wheat = [lot_id(GTIN_WHEAT, f"W-{i:03d}") for i in range(WHEAT_LOTS)]
    events: list[tuple[str, JSONObject]] = []
    for i, lot in enumerate(wheat):
        farm = farms[i % FARMS]
        amount = [Amount(lot, 1000 + 10 * i)]
        events.append((farm, commission(**b.kw(), gln=g[farm], lots=amount)))
        events.append(
            (farm, ship(**b.kw(), shipper_gln=g[farm], receiver_gln=g["mill"], lots=amount))
        )
        events.append(
            ("mill", receive(**b.kw(), receiver_gln=g["mill"], shipper_gln=g[farm], lots=amount))
        )
    flour = [lot_id(GTIN_FLOUR, f"F-{j:03d}") for j in range(MILLINGS)]
    for j, lot in enumerate(flour):
        inputs = [Amount(wheat[i], 1000 + 10 * i) for i in range(j, WHEAT_LOTS, MILLINGS)]
        events.append(
            (
                "mill",
                transform(**b.kw(), gln=g["mill"], inputs=inputs, outputs=[Amount(lot, 2400)]),
            )
        )
        amount = [Amount(lot, 2400)]
        events.append(
            ("mill", ship(**b.kw(), shipper_gln=g["mill"], receiver_gln=g["bakery"], lots=amount))
        )
        events.append(
            (
                "bakery",
                receive(**b.kw(), receiver_gln=g["bakery"], shipper_gln=g["mill"], lots=amount),
            )
        )
    bread = lot_id(GTIN_BREAD, "B-0001")
    events.append(
        (
            "bakery",
            transform(
                **b.kw(),
                gln=g["bakery"],
                inputs=[Amount(lot, 2400) for lot in flour],
                outputs=[Amount(bread, 60000, "EA")],
            ),
        )
    )
    b.record(events)
    return b, bread


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _unrelated(b: _Builder, i: int) -> Submission:
    """A record outside the bread's provenance: a farm harvests a wheat lot that goes
    nowhere."""
    lot = lot_id(GTIN_WHEAT, f"X-{i:04d}")
    farm = f"farm-{i % FARMS:02d}"
    return b.statement(
        farm,
        Kind.TRACE_EVENT,
        trace_body(commission(**b.kw(), gln=b.glns[farm], lots=[Amount(lot, 500)])),
    )


def _own(b: _Builder, bread: str) -> Submission:
    """A record in the bread's own provenance: the bakery sells one loaf."""
    event = sell(**b.kw(), gln=b.glns["bakery"], lots=[Amount(bread, 1, "EA")])
    return b.statement("bakery", Kind.TRACE_EVENT, trace_body(event))


def run_web_bench(*, echo: Callable[[str], None] | None) -> dict[str, object]:
    """Build the 100-node ledger and request the bread's page through the app: ``RUNS``
    times unchanged, ``CHANGED_RUNS`` times each after an unrelated append and after a
    record in the bread's own provenance; returns the figures printed."""
    say = echo or (lambda _line: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        b, bread = _build(f"sqlite:///{Path(tmp) / 'web-bench.db'}")
        ledger = b.ledger
        try:
            settings = ApiSettings(
                home=Path(tmp),
                product_names={
                    GTIN_WHEAT: "Winter wheat",
                    GTIN_FLOUR: "Stone-ground flour",
                    GTIN_BREAD: "Sourdough loaf",
                },
            )
            path = bread.removeprefix("https://id.gs1.org")
            app = create_app(settings, ledger=ledger)
            cached: list[float] = []
            unrelated: list[float] = []
            full: list[float] = []
            bundles: list[float] = []
            size = 0

            with TestClient(app) as client:

                def view(extended: bool | None) -> float:
                    nonlocal size
                    start = time.perf_counter()
                    response = client.get(path)
                    elapsed = time.perf_counter() - start
                    html = response.text
                    if response.status_code != 200 or "Verified</span>" not in html:
                        raise RuntimeError(f"the page answered {response.status_code}")
                    if extended is not None and ("proven consistent" in html) != extended:
                        raise RuntimeError("the page was not verified the way measured")
                    size = len(response.content)
                    return elapsed

                for _ in range(WARMUP):
                    view(None)
                cached = [view(None) for _ in range(RUNS)]
                for i in range(CHANGED_RUNS):
                    ledger.append([_unrelated(b, i)], now=b.tick())
                    unrelated.append(view(True))
                for _ in range(CHANGED_RUNS):
                    ledger.append([_own(b, bread)], now=b.tick())
                    full.append(view(False))
                for _ in range(BUNDLE_RUNS):
                    start = time.perf_counter()
                    data = build_bundle(ledger, bread)
                    verified = verify_bundle(data, ledger.verifier)
                    bundles.append(time.perf_counter() - start)
            nodes = len(verified.provenance.lots) + len({k.seq for k in verified.provenance.links})
            records = len(verified.record_seqs)
            ledger_size = ledger.size
        finally:
            ledger.close()
    figures: dict[str, object] = {
        "web_page_nodes": nodes,
        "web_page_records": records,
        "web_page_bytes": size,
        "web_ledger_size": ledger_size,
    }
    say(
        f"provenance page ({nodes} nodes, {records} records, {size / 1024:.0f} KiB of HTML, "
        f"ledger of {ledger_size} records), server-side through the app (target < 100 ms):"
    )
    for name, label, samples in (
        ("", "unchanged ledger (verdict reused)", cached),
        ("unrelated_", "after an unrelated append (consistency proof)", unrelated),
        ("full_", "after a record in the lot's provenance (bundle again)", full),
        ("bundle_", "of which bundle build + verify", bundles),
    ):
        median, p95 = _ms(samples)
        say(f"  {label}: median {median:.1f} ms, p95 {p95:.1f} ms over {len(samples)}")
        figures[f"web_page_{name}median_ms"] = round(median, 1)
        figures[f"web_page_{name}p95_ms"] = round(p95, 1)
    return figures


if __name__ == "__main__":  # pragma: no cover - a developer's shortcut
    run_web_bench(echo=print)
