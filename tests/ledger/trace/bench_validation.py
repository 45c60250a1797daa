"""Benchmark: CPU cost of validating ``trace.event`` bodies (not a test; run by hand).

    .venv/bin/python -m tests.ledger.trace.bench_validation [N] [--profile]

Builds N realistic ledger-form events with ``ledger.trace.builders`` (commissioning,
packing, shipping, receiving with a rejection, transformation, destroying), then times:

* ``parse_trace_body`` on fresh dicts parsed from canonical bytes (the write path's
  pre-check and the auditor's replay both parse the body from its canonical bytes once);
* ``validate_trace_event`` through ``Statement`` objects (what ``judge`` calls), with the
  per-statement memo cleared so every call parses.

Identifiers repeat across events as they do on a real ledger (a few hundred lots, a few
dozen sites), so identifier caches are warm after the first events.
"""

from __future__ import annotations

import contextlib
import cProfile
import json
import pstats
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast
from unittest import mock

from ledger.canonical import canonical_bytes
from ledger.keys import PrivateKey
from ledger.state import Kind, LedgerState, Participant
from ledger.statement import Statement
from ledger.trace import builders as b
from ledger.trace import rules


def _gln(i: int) -> str:
    return b.with_check_digit(f"{9506000000000 + i * 7:012d}"[:12])


def _gtin(i: int) -> str:
    return b.with_check_digit(f"{9506000134350 + i:013d}"[:13])


def _sscc(i: int) -> str:
    return b.with_check_digit(f"{350600010000000000 + i:017d}"[:17])


def events(n: int) -> list[dict[str, Any]]:
    """N ledger-form events cycling through the common supply-chain steps."""
    return [event for event, _ in authored_events(n)]


def authored_events(n: int) -> list[tuple[dict[str, Any], str]]:
    """N ledger-form events with the GLN of the party that records each."""
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    out: list[tuple[dict[str, Any], str]] = []
    for i in range(n):
        when = t0 + timedelta(minutes=i)
        eid = f"urn:uuid:{uuid.UUID(int=i)}"
        farm, mill = _gln(i % 40), _gln(40 + i % 17)
        lot = b.lot_id(_gtin(i % 30), f"L{i % 300}")
        lot2 = b.lot_id(_gtin((i + 1) % 30), f"L{(i + 1) % 300}")
        kind = i % 6
        if kind == 0:
            ev = b.commission(event_id=eid, when=when, gln=farm, lots=[b.Amount(lot, "120.5")])
        elif kind == 1:
            ev = b.pack(
                event_id=eid,
                when=when,
                gln=farm,
                sscc=_sscc(i % 500),
                lots=[b.Amount(lot, 60), b.Amount(lot2, 12)],
            )
        elif kind == 2:
            ev = b.ship(
                event_id=eid,
                when=when,
                shipper_gln=farm,
                receiver_gln=mill,
                lots=[b.Amount(lot, "60.25")],
                ssccs=[_sscc(i % 500)],
                biz_transactions=[b.BizTransaction("po", f"https://farm.example/po/{i}")],
            )
        elif kind == 3:
            ev = b.receive(
                event_id=eid,
                when=when,
                receiver_gln=mill,
                shipper_gln=farm,
                lots=[b.Amount(lot, "60.25")],
                rejected=[b.Amount(lot, "5")],
                reason="damaged",
            )
        elif kind == 4:
            ev = b.transform(
                event_id=eid,
                when=when,
                gln=mill,
                inputs=[b.Amount(lot, "55.25"), b.Amount(lot2, 3)],
                outputs=[b.Amount(b.lot_id(_gtin(100 + i % 20), f"F{i % 200}"), "50")],
            )
        else:
            ev = b.destroy(event_id=eid, when=when, gln=mill, lots=[b.Amount(lot, "1")])
        out.append((ev, farm if kind < 3 else mill))
    return out


def _replay(n: int) -> None:
    """The auditor's replay: each record's statement rebuilt from its canonical bytes, then
    the ``trace.event`` body validator as ``judge`` calls it (first sight of each statement).
    """
    authored = authored_events(n)
    participants = {
        f"p-{gln}": Participant(f"p-{gln}", gln, frozenset(), 0, gln)
        for gln in {gln for _, gln in authored}
    }
    state = cast(LedgerState, SimpleNamespace(participants=participants))
    key = PrivateKey.from_seed(bytes(32)).public_key.key_id
    blobs = [
        Statement.build(
            ledger="bench.example/ledger", kind=Kind.TRACE_EVENT, author=f"p-{gln}", key=key,
            nonce=f"nonce-{i:08d}", issued_at=datetime(2026, 11, 23, tzinfo=UTC),
            body=b.trace_body(event),
        ).canonical
        for i, (event, gln) in enumerate(authored)
    ]  # fmt: skip
    validate = rules.TRACE_VALIDATORS[Kind.TRACE_EVENT]
    for statement in map(Statement.from_canonical, blobs[:200]):
        validate(state, 0, statement)
    timings: dict[str, list[float]] = {"decode": [], "fast": [], "reference": []}
    for _ in range(3):
        start = time.process_time()
        statements = [Statement.from_canonical(blob) for blob in blobs]
        timings["decode"].append(time.process_time() - start)
        for label in ("fast", "reference"):
            rules._parsed.clear()
            statements = [Statement.from_canonical(blob) for blob in blobs]
            off = mock.patch.object(rules, "fast_facts", return_value=None)
            with off if label == "reference" else contextlib.nullcontext():
                start = time.process_time()
                for statement in statements:
                    validate(state, 0, statement)
                timings[label].append(time.process_time() - start)
    for label, values in timings.items():
        what = "Statement.from_canonical" if label == "decode" else f"validator, {label:9}"
        print(f"replay {what}: {min(values) / n * 1e6:.1f} us/record CPU (best of 3)")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 5000
    profile = "--profile" in sys.argv
    blobs = [canonical_bytes(b.trace_body(e)) for e in events(n)]
    bodies = [json.loads(blob) for blob in blobs]
    for body in bodies[:200]:  # warm identifier caches as a running ledger has them
        rules.parse_trace_body(body)
    profiler = cProfile.Profile() if profile else None
    timings: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(3):  # interleaved, so that the shared machine's load hits both alike
        for fast in (True, False):
            bodies = [json.loads(blob) for blob in blobs]
            if profiler and fast:
                profiler.enable()
            start = time.process_time()
            for body in bodies:
                rules.parse_trace_body(body, fast=fast)
            timings[fast].append(time.process_time() - start)
            if profiler and fast:
                profiler.disable()
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    for fast in (True, False):
        best = min(timings[fast])
        label = "fast path " if fast else "reference "
        print(
            f"parse_trace_body {label}: {n} events, {best / n * 1e6:.1f} us/event CPU (best of 3)"
        )
    _replay(n)


if __name__ == "__main__":
    main()
