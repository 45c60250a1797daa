"""Traceability benchmark: provenance and recall latency, and the cost of mass balance.

``run_trace_bench(echo=...)`` builds a scratch SQLite ledger of about ``records`` signed
``trace.event`` records over about ``lots`` lots (by default the issue's figure: 1,000,000
records, 100,000 lots; ``reduced=True`` for a ten times smaller run), through the real
append path (trace validators and the trace projection), then prints and returns:

* trace back from a bread lot whose provenance has 1,000 lots (990 farm lots milled into
  9 flour lots baked into it), and trace forward (recall) from a farm lot whose downstream
  has 1,000 lots (milled into 9 lots, each baked into 110): median, 95th percentile and
  worst of repeated queries;
* the extra append cost of mass-balance checking: the same kind of statements appended with
  the trace projection and without it (validators only), in alternating rounds.

Background lots follow a realistic pattern: a farm commissions wheat, packs it on a pallet
and ships it; the mill receives it (sometimes rejecting part), unpacks and mills it; the
flour is split over two bakeries, which receive it, store it and sell some; inspections
fill the rest. Figures are printed, never asserted (STYLE 10).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from ledger.canonical import JSONObject
from ledger.keys import PrivateKey
from ledger.log import Ledger
from ledger.state import Kind
from ledger.statement import Statement, Submission, registration_body, sign_statement
from ledger.storage.store import WriteTx
from ledger.storage.trace import TraceProjection
from ledger.trace.builders import (
    Amount,
    commission,
    lot_id,
    observe,
    pack,
    receive,
    sell,
    ship,
    trace_body,
    transform,
    unpack,
    with_check_digit,
)
from ledger.trace.rules import TRACE_VALIDATORS
from ledger.trace.service import provenance, recall

ORIGIN = "bench.fairledger.example/trace"
START = datetime(2026, 1, 1, tzinfo=UTC)
GTIN_WHEAT = "09506000134352"
GTIN_FLOUR = "09506000134376"
GTIN_BREAD = "09506000134383"
BATCH = 100
QUERY_RUNS = 40
#: (records, lots) of the issue's figure, and of the reduced run.
FULL_SIZE = (1_000_000, 100_000)
REDUCED_SIZE = (100_000, 10_000)
FANOUT = 9
LEAVES = 110

Event = tuple[str, JSONObject]


def _gln(n: int) -> str:
    return with_check_digit(f"950611{n:06d}")


class _Cast:
    """Participants with keys and GLNs: farms, mills, bakeries."""

    def __init__(self) -> None:
        self.operator = PrivateKey.generate()
        self.keys: dict[str, PrivateKey] = {}
        self.glns: dict[str, str] = {}
        self.farms = [self._add(f"farm-{i:02d}") for i in range(40)]
        self.mills = [self._add(f"mill-{i:02d}") for i in range(8)]
        self.bakeries = [self._add(f"bakery-{i:02d}") for i in range(16)]

    def _add(self, name: str) -> str:
        self.keys[name] = PrivateKey.generate()
        self.glns[name] = _gln(len(self.glns) + 1)
        return name

    def registrations(self) -> list[Submission]:
        out = []
        for n, (pid, key) in enumerate(self.keys.items()):
            statement = Statement.build(
                ledger=ORIGIN,
                kind=Kind.REGISTER,
                author="operator",
                key=self.operator.public_key.key_id,
                nonce=f"register-{n:04d}",
                issued_at=START,
                body=registration_body(
                    ORIGIN,
                    pid,
                    key,
                    display_name=pid.replace("-", " ").title(),
                    roles=["supplier", "buyer"],
                    gln=self.glns[pid],
                ),
            )
            out.append(sign_statement(statement, self.operator))
        return out


class _Stream:
    """Generates signed trace statements; every event id, nonce and time is unique."""

    def __init__(self, cast: _Cast) -> None:
        self.cast = cast
        self.count = 0
        self.signed = 0

    def when(self) -> datetime:
        return START + timedelta(seconds=self.count)

    def delivery(self, shipper: str, receiver: str, lots: list[Amount]) -> list[Event]:
        """A delivery: the shipper's shipping event, then the receiver's receiving event."""
        g = self.cast.glns
        return [
            (
                shipper,
                ship(
                    event_id=self.event_id(),
                    when=self.when(),
                    shipper_gln=g[shipper],
                    receiver_gln=g[receiver],
                    lots=lots,
                ),
            ),
            (
                receiver,
                receive(
                    event_id=self.event_id(),
                    when=self.when(),
                    receiver_gln=g[receiver],
                    shipper_gln=g[shipper],
                    lots=lots,
                ),
            ),
        ]

    def event_id(self) -> str:
        self.count += 1
        return f"urn:uuid:00000000-0000-4000-8000-{self.count:012d}"

    def sign(self, author: str, event: JSONObject) -> Submission:
        key = self.cast.keys[author]
        self.signed += 1
        statement = Statement.build(
            ledger=ORIGIN,
            kind=Kind.TRACE_EVENT,
            author=author,
            key=key.public_key.key_id,
            nonce=f"trace-{self.signed:010d}",
            issued_at=START,
            body=trace_body(event),
        )
        return sign_statement(statement, key)

    def unit(self, i: int, extra: int) -> list[Event]:
        """One background unit: a wheat lot from farm to mill, milled into a flour lot that
        is split over two bakeries; ``extra`` inspections on top."""
        cast = self.cast
        farm = cast.farms[i % len(cast.farms)]
        mill = cast.mills[i % len(cast.mills)]
        bakeries = (
            cast.bakeries[i % len(cast.bakeries)],
            cast.bakeries[(i + 7) % len(cast.bakeries)],
        )
        g = cast.glns
        wheat = lot_id(GTIN_WHEAT, f"W{i}")
        flour = lot_id(GTIN_FLOUR, f"F{i}")
        sscc = with_check_digit(f"39506111{i:09d}")
        rejected = Decimal(10) if i % 7 == 0 else Decimal(0)
        accepted = Decimal(1000) - rejected
        events: list[Event] = [
            (
                farm,
                commission(
                    event_id=self.event_id(),
                    when=self.when(),
                    gln=g[farm],
                    lots=[Amount(wheat, 1000)],
                ),
            ),
            (
                farm,
                pack(
                    event_id=self.event_id(),
                    when=self.when(),
                    gln=g[farm],
                    sscc=sscc,
                    lots=[Amount(wheat, 1000)],
                ),
            ),
            (
                farm,
                ship(
                    event_id=self.event_id(),
                    when=self.when(),
                    shipper_gln=g[farm],
                    receiver_gln=g[mill],
                    ssccs=[sscc],
                ),
            ),
            (
                mill,
                receive(
                    event_id=self.event_id(),
                    when=self.when(),
                    receiver_gln=g[mill],
                    shipper_gln=g[farm],
                    ssccs=[sscc],
                    rejected=[Amount(wheat, rejected)] if rejected else (),
                    reason="damaged" if rejected else None,
                ),
            ),
            (mill, unpack(event_id=self.event_id(), when=self.when(), gln=g[mill], sscc=sscc)),
            (
                mill,
                transform(
                    event_id=self.event_id(),
                    when=self.when(),
                    gln=g[mill],
                    inputs=[Amount(wheat, accepted)],
                    outputs=[Amount(flour, 800)],
                ),
            ),
        ]
        for bakery in bakeries:
            events.append(
                (
                    mill,
                    ship(
                        event_id=self.event_id(),
                        when=self.when(),
                        shipper_gln=g[mill],
                        receiver_gln=g[bakery],
                        lots=[Amount(flour, 400)],
                    ),
                )
            )
        for bakery in bakeries:
            events.append(
                (
                    bakery,
                    receive(
                        event_id=self.event_id(),
                        when=self.when(),
                        receiver_gln=g[bakery],
                        shipper_gln=g[mill],
                        lots=[Amount(flour, 400)],
                    ),
                )
            )
        events.append(
            (
                bakeries[0],
                sell(
                    event_id=self.event_id(),
                    when=self.when(),
                    gln=g[bakeries[0]],
                    lots=[Amount(flour, 100)],
                ),
            )
        )
        for k in range(extra):
            holder = bakeries[k % 2]
            events.append(
                (
                    holder,
                    observe(
                        event_id=self.event_id(),
                        when=self.when(),
                        gln=g[holder],
                        lots=[Amount(flour, 1)],
                    ),
                )
            )
        return events

    def wide_back(self) -> tuple[list[Event], str]:
        """A bread lot made of 9 flour lots, each milled from 110 farm lots: 1,000 lots."""
        cast = self.cast
        g = cast.glns
        mill, bakery = cast.mills[0], cast.bakeries[0]
        events: list[Event] = []
        flours = []
        for k in range(FANOUT):
            wheats = [lot_id(GTIN_WHEAT, f"WB{k}-{j}") for j in range(LEAVES)]
            for j, wheat in enumerate(wheats):
                farm = cast.farms[j % len(cast.farms)]
                events.append(
                    (
                        farm,
                        commission(
                            event_id=self.event_id(),
                            when=self.when(),
                            gln=g[farm],
                            lots=[Amount(wheat, 100)],
                        ),
                    )
                )
                events += self.delivery(farm, mill, [Amount(wheat, 100)])
            flour = lot_id(GTIN_FLOUR, f"FB{k}")
            flours.append(flour)
            events.append(
                (
                    mill,
                    transform(
                        event_id=self.event_id(),
                        when=self.when(),
                        gln=g[mill],
                        inputs=[Amount(w, 100) for w in wheats],
                        outputs=[Amount(flour, 8800)],
                    ),
                )
            )
            events += self.delivery(mill, bakery, [Amount(flour, 8800)])
        bread = lot_id(GTIN_BREAD, "BREAD-WIDE")
        events.append(
            (
                bakery,
                transform(
                    event_id=self.event_id(),
                    when=self.when(),
                    gln=g[bakery],
                    inputs=[Amount(f, 8800) for f in flours],
                    outputs=[Amount(bread, 100000, "EA")],
                ),
            )
        )
        return events, bread

    def wide_forward(self) -> tuple[list[Event], str]:
        """A farm lot milled into 9 lots, each baked into 110 bread lots: 1,000 lots."""
        cast = self.cast
        g = cast.glns
        farm, mill, bakery = cast.farms[0], cast.mills[1], cast.bakeries[1]
        wheat = lot_id(GTIN_WHEAT, "WF-RECALL")
        events: list[Event] = [
            (
                farm,
                commission(
                    event_id=self.event_id(),
                    when=self.when(),
                    gln=g[farm],
                    lots=[Amount(wheat, 9000)],
                ),
            ),
            *self.delivery(farm, mill, [Amount(wheat, 9000)]),
        ]
        for k in range(FANOUT):
            flour = lot_id(GTIN_FLOUR, f"FF{k}")
            events.append(
                (
                    mill,
                    transform(
                        event_id=self.event_id(),
                        when=self.when(),
                        gln=g[mill],
                        inputs=[Amount(wheat, 1000)],
                        outputs=[Amount(flour, 1100)],
                    ),
                )
            )
            events += self.delivery(mill, bakery, [Amount(flour, 1100)])
            breads = [Amount(lot_id(GTIN_BREAD, f"BF{k}-{j}"), 20, "EA") for j in range(LEAVES)]
            events.append(
                (
                    bakery,
                    transform(
                        event_id=self.event_id(),
                        when=self.when(),
                        gln=g[bakery],
                        inputs=[Amount(flour, 1100)],
                        outputs=breads,
                    ),
                )
            )
        return events, wheat


def _batches(stream: _Stream, events: list[Event]) -> Iterator[list[Submission]]:
    for start in range(0, len(events), BATCH):
        yield [stream.sign(author, event) for author, event in events[start : start + BATCH]]


def _append(ledger: Ledger, stream: _Stream, events: list[Event]) -> float:
    """Seconds spent appending (signing excluded)."""
    return _append_timed(ledger, stream, events)[0]


def _append_timed(ledger: Ledger, stream: _Stream, events: list[Event]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) spent appending (signing excluded)."""
    signed = list(_batches(stream, events))
    now = START + timedelta(days=400)
    start, cpu = time.perf_counter(), time.process_time()
    for submissions in signed:
        ledger.append(submissions, now=now)
    return time.perf_counter() - start, time.process_time() - cpu


class _TimedProjection(TraceProjection):
    """The trace projection, adding up the time its batches spend (check, stage, flush)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0

    def start(self, tx: WriteTx) -> Any:
        batch = super().start(tx)
        outer = self

        class Timed:
            def check(self, *args: Any) -> None:
                began = time.perf_counter()
                try:
                    batch.check(*args)
                finally:
                    outer.seconds += time.perf_counter() - began

            def stage(self, *args: Any) -> None:
                began = time.perf_counter()
                batch.stage(*args)
                outer.seconds += time.perf_counter() - began

            def flush(self) -> None:
                began = time.perf_counter()
                batch.flush()
                outer.seconds += time.perf_counter() - began

        return Timed()


def measure_overhead(
    url: str,
    cast: _Cast,
    stream: _Stream,
    first_unit: int,
    extra: int,
    *,
    rounds: int = 12,
    per_round: int = 15,
    say: Callable[[str], None],
) -> dict[str, float | int | str]:
    """Append cost with and without the trace projection (trace validators on in both).

    Two ledgers stay open on the same database (warm caches) and take turns, the order
    alternating every round, each appending fresh background units (independent lots, so
    the projection's rows are never needed for what the other one appended). Reports the
    overhead of the total times, the median of the per-round overheads, and the share of the
    projection's own time (check + stage + flush; the rest of its cost is the larger commit).
    """
    timed = _TimedProjection()
    ledgers = {
        True: Ledger.open(
            url, operator_key=cast.operator, validators=TRACE_VALIDATORS, projections=[timed]
        ),
        False: Ledger.open(url, operator_key=cast.operator, validators=TRACE_VALIDATORS),
    }
    totals = {True: 0.0, False: 0.0}
    cpus = {True: 0.0, False: 0.0}
    counts = {True: 0, False: 0}
    ratios = []
    unit = first_unit
    try:
        for mode in (True, False):  # warm up, untimed
            _append(ledgers[mode], stream, stream.unit(unit, extra))
            unit += 1
        timed.seconds = 0.0
        for r in range(rounds):
            spent: dict[bool, float] = {}
            for mode in (True, False) if r % 2 == 0 else (False, True):
                events: list[Event] = []
                for _ in range(per_round):
                    events += stream.unit(unit, extra)
                    unit += 1
                seconds, cpu = _append_timed(ledgers[mode], stream, events)
                totals[mode] += seconds
                cpus[mode] += cpu
                counts[mode] += len(events)
                spent[mode] = seconds / len(events)
            ratios.append(spent[True] / spent[False] - 1)
    finally:
        for opened in ledgers.values():
            opened.close()
    with_rate = counts[True] / totals[True]
    without_rate = counts[False] / totals[False]
    overhead = (without_rate / with_rate - 1) * 100
    median = statistics.median(ratios) * 100
    cpu_overhead = ((cpus[True] / counts[True]) / (cpus[False] / counts[False]) - 1) * 100
    own = timed.seconds / counts[True]
    own_share = timed.seconds / (totals[True] - timed.seconds) * 100
    say(
        f"append (batches of {BATCH}, trace validators on, {rounds} alternating rounds): "
        f"{without_rate:,.0f}/s without the trace projection, {with_rate:,.0f}/s with it: "
        f"mass balance adds {overhead:.1f}% wall time (median round {median:.1f}%), "
        f"{cpu_overhead:.1f}% CPU time; the projection's own work is {own * 1e6:.0f} "
        f"us/statement ({own_share:.1f}%), the rest is the larger commit"
    )
    return {
        "append_with_projection_per_s": round(with_rate),
        "append_without_projection_per_s": round(without_rate),
        "mass_balance_overhead_percent": round(overhead, 1),
        "mass_balance_overhead_median_round_percent": round(median, 1),
        "mass_balance_overhead_cpu_percent": round(cpu_overhead, 1),
        "projection_own_us_per_statement": round(own * 1e6),
    }


class _Latency(NamedTuple):
    """Milliseconds over repeated runs of one query, and its last answer."""

    median: float
    p95: float
    worst: float
    result: Any


def _timed(query: Callable[[], Any], runs: int) -> _Latency:
    query()  # warm the caches: the figure is the steady state
    samples = []
    result: Any = None
    for _ in range(runs):
        start = time.perf_counter()
        result = query()
        samples.append((time.perf_counter() - start) * 1000)
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18] if runs > 1 else samples[0]
    return _Latency(statistics.median(samples), p95, max(samples), result)


def run_trace_bench(
    *,
    echo: Callable[[str], None] | None = None,
    records: int | None = None,
    lots: int | None = None,
    reduced: bool = False,
    query_runs: int = QUERY_RUNS,
    overhead_rounds: int = 12,
    directory: Path | None = None,
) -> dict[str, object]:
    """Build the benchmark ledger and measure; returns the figures it printed (``echo``).

    The size is ``records`` and ``lots`` when given, else ``FULL_SIZE`` (the issue's
    1,000,000 records with 100,000 lots) or, with ``reduced``, ``REDUCED_SIZE``. The ledger
    is a scratch SQLite file under ``directory`` (default: the system's temporary
    directory), removed afterwards. Keys of the result: ``trace_back_ms`` /
    ``trace_forward_ms`` (medians), ``..._p95_ms``, ``..._worst_ms``, ``..._nodes``,
    ``mass_balance_overhead_percent`` and the build and append rates."""
    say = echo or (lambda _line: None)
    default_records, default_lots = REDUCED_SIZE if reduced else FULL_SIZE
    records = default_records if records is None else records
    lots = default_lots if lots is None else lots
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        url = f"sqlite:///{Path(scratch) / 'trace-bench.db'}"
        cast = _Cast()
        ledger = Ledger.create(
            url,
            origin=ORIGIN,
            operator_id="operator",
            operator_key=cast.operator,
            now=START,
            validators=TRACE_VALIDATORS,
            projections=[TraceProjection()],
        )
        ledger.append(cast.registrations(), now=START)
        stream = _Stream(cast)
        units = max(1, (lots - 2 * 1000) // 2)
        base = 11
        special = 3 * FANOUT * LEAVES + 4 * FANOUT + 1 + 3 + 4 * FANOUT
        extra = max(0, -(-(records - ledger.size - special) // units) - base)
        say(f"building ~{records:,} records over ~{lots:,} lots ({units:,} background units)")
        started = time.perf_counter()
        appended = 0
        half = units // 2
        last = time.perf_counter()
        for i in range(units):
            if i == half:
                back_events, bread = stream.wide_back()
                forward_events, wheat = stream.wide_forward()
                appended += len(back_events) + len(forward_events)
                _append(ledger, stream, back_events)
                _append(ledger, stream, forward_events)
            events = stream.unit(i, extra)
            _append(ledger, stream, events)
            appended += len(events)
            if echo is not None and time.perf_counter() - last > 30:
                rate = appended / (time.perf_counter() - started)
                say(f"  ... {ledger.size:,} records ({rate:,.0f} appends/s)")
                last = time.perf_counter()
        build = time.perf_counter() - started
        size = ledger.size
        with ledger.store.read() as tx:
            lot_count = tx.conn.exec_driver_sql("SELECT count(*) FROM trace_lots").scalar_one()
        figures["records"] = size
        figures["lots"] = int(lot_count)
        figures["build_appends_per_s"] = round(appended / build)
        rate = appended / build
        say(f"ledger: {size:,} records, {lot_count:,} lots, built at {rate:,.0f} appends/s")

        back = _timed(lambda: provenance(ledger, bread), query_runs)
        forward = _timed(lambda: recall(ledger, wheat), query_runs)
        for name, found, cited in (
            ("trace_back", back, len(back.result.seqs)),
            ("trace_forward", forward, len(forward.result.seqs)),
        ):
            figures[f"{name}_nodes"] = len(found.result.lots)
            figures[f"{name}_ms"] = round(found.median, 1)
            figures[f"{name}_p95_ms"] = round(found.p95, 1)
            figures[f"{name}_worst_ms"] = round(found.worst, 1)
            say(
                f"{name.replace('_', ' ')} ({len(found.result.lots):,} lots, {cited:,} records "
                f"cited, {query_runs} runs): median {found.median:.1f} ms, p95 {found.p95:.1f} "
                f"ms, worst {found.worst:.1f} ms"
            )
        ledger.close()
        figures.update(
            measure_overhead(url, cast, stream, units, extra, rounds=overhead_rounds, say=say)
        )
    return figures
