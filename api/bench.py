"""``fairledger bench``: measured figures, printed, never asserted.

Builds a ledger of ``records`` statements in a scratch SQLite database and prints, beside the
machine's raw Ed25519 verification rate (the physical limit of any signed ledger here):

* append throughput through the library (signature check, durable commit, tree update,
  receipts) in batches, at the start and at the end of the build;
* full verification throughput of the finished ledger (both cores) and its peak memory;
* inclusion and consistency proof latency at the final size;
* database bytes per record.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.canonical import JSONObject, parse_json
from ledger.keys import PrivateKey
from ledger.log import Ledger
from ledger.state import Kind
from ledger.statement import Statement, Submission, registration_body, sign_statement

ORIGIN = "bench.fairledger.example/log"
SUPPLIERS = 20
START = datetime(2026, 1, 1, tzinfo=UTC)
#: When the benchmark appends: after every statement it issues (one per second from START).
NOW = START + timedelta(days=365)
#: New records audited from a saved state for the incremental figure (issue 6: 10,000).
INCREMENTAL_RECORDS = 10_000


def ed25519_rate(seconds: float = 1.0) -> float:
    """Raw Ed25519 verifications per second on one core, through ``cryptography``."""
    key = PrivateKey.generate()
    message = b"x" * 600
    signature = key.sign(message)
    public = key.public_key
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            public.verify(signature, message)
        count += 200
    return count / (time.perf_counter() - start)


def shipping_event(i: int, supplier: str) -> JSONObject:
    """A typical EPCIS shipping ObjectEvent body (what most records in a ledger look like)."""
    when = (START + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "event": {
            "type": "ObjectEvent",
            "eventID": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
            "eventTime": when,
            "eventTimeZoneOffset": "+00:00",
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "quantityList": [
                {
                    "epcClass": f"https://id.gs1.org/01/09506000134352/10/LOT{i % 100000:06d}",
                    "quantity": "1250.5",
                    "uom": "KGM",
                }
            ],
            "readPoint": {"id": "https://id.gs1.org/414/9506000134369"},
            "sourceList": [
                {"type": "owning_party", "source": "https://id.gs1.org/417/9506000134369"}
            ],
            "destinationList": [
                {"type": "owning_party", "destination": "https://id.gs1.org/417/9506000134376"}
            ],
            "bizTransactionList": [
                {"type": "desadv", "bizTransaction": f"urn:desadv:{supplier}:{i}"}
            ],
        }
    }


class _Builder:
    def __init__(self, url: str) -> None:
        self.operator = PrivateKey.generate()
        self.ledger = Ledger.create(
            url, origin=ORIGIN, operator_id="operator", operator_key=self.operator, now=START
        )
        self.keys = {f"supplier-{n:02d}": PrivateKey.generate() for n in range(SUPPLIERS)}
        self.count = 0
        registrations = []
        for n, (pid, key) in enumerate(self.keys.items()):
            statement = Statement.build(
                ledger=ORIGIN,
                kind=Kind.REGISTER,
                author="operator",
                key=self.operator.public_key.key_id,
                nonce=f"register-{n:04d}",
                issued_at=START,
                body=registration_body(
                    ORIGIN, pid, key, display_name=f"Supplier {n}", roles=["supplier", "buyer"]
                ),
            )
            registrations.append(sign_statement(statement, self.operator))
        self.ledger.append(registrations, now=START)

    def make(self, n: int) -> list[Submission]:
        out = []
        names = list(self.keys)
        for _ in range(n):
            i = self.count
            self.count += 1
            supplier = names[i % len(names)]
            statement = Statement.build(
                ledger=ORIGIN,
                kind=Kind.TRACE_EVENT,
                author=supplier,
                key=self.keys[supplier].public_key.key_id,
                nonce=f"bench-{i:010d}",
                issued_at=START + timedelta(seconds=i),
                body=shipping_event(i, supplier),
            )
            out.append(sign_statement(statement, self.keys[supplier]))
        return out


def _append_rate(builder: _Builder, statements: int, batch: int) -> float:
    """Statements/s appended in batches (pre-signed, so only the ledger's work is timed)."""
    batches = [builder.make(batch) for _ in range(max(1, statements // batch))]
    now = NOW
    start = time.perf_counter()
    for submissions in batches:
        builder.ledger.append(submissions, now=now)
    return len(batches) * batch / (time.perf_counter() - start)


def _fill(builder: _Builder, target: int, batch: int, echo: Callable[[str], None] | None) -> None:
    now = NOW
    last = time.perf_counter()
    while builder.ledger.size < target:
        n = min(batch * 50, target - builder.ledger.size)
        subs = builder.make(n)
        for k in range(0, len(subs), batch):
            builder.ledger.append(subs[k : k + batch], now=now)
        if echo is not None and time.perf_counter() - last > 10:
            echo(f"  ... built {builder.ledger.size} records")
            last = time.perf_counter()


def _proof_latency(ledger: Ledger, samples: int = 500) -> tuple[float, float]:
    size = ledger.size
    rng = random.Random(7)  # noqa: S311 - sampling proof positions, not secrets
    incl, cons = [], []
    for _ in range(samples):
        seq = rng.randrange(size - 1)
        start = time.perf_counter()
        ledger.inclusion_proof(seq, size)
        incl.append(time.perf_counter() - start)
        old = rng.randrange(1, size)
        start = time.perf_counter()
        ledger.consistency_proof(old, size)
        cons.append(time.perf_counter() - start)
    return statistics.median(incl) * 1000, statistics.median(cons) * 1000


_AUDIT = """
import json, secrets, sys
from pathlib import Path
from ledger._verify_worker import peak_rss_kb
from ledger.auditor_state import SALT_SIZE, StateFile
from ledger.verify import audit_incremental, open_database_source
source = open_database_source(sys.argv[1])
try:
    result = audit_incremental(source, operator_vkey=sys.argv[2], state=None,
                               nonce_salt=secrets.token_bytes(SALT_SIZE))
finally:
    source.close()
report = result.report
if result.state is not None:
    StateFile(Path(sys.argv[3])).save(result.state)
print(json.dumps({"ok": report.ok, "records": report.records_checked, "rss_kb": peak_rss_kb(),
                  "worker_rss_kb": report.workers_peak_rss_kb,
                  "state_saved": result.state is not None}))
"""


def _verify_in_child(url: str, vkey: str, state: Path) -> tuple[float, float, list[float], int]:
    """Run the auditor as its own process, as an auditor would (the benchmark ledger holds
    core statements only, so the core rules apply), saving its state file at ``state``;
    returns (seconds, peak MB of the auditing process, peak MB of each of its worker
    processes, records). Peaks are each process's own high-water mark (``VmHWM``), so their
    sum bounds the memory the audit held at once."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _AUDIT, url, vkey, str(state)], capture_output=True, check=False
    )
    elapsed = time.perf_counter() - start
    report = parse_json(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
    if done.returncode != 0 or not isinstance(report, dict) or report.get("ok") is not True:
        raise RuntimeError(f"benchmark ledger failed verification: {done.stderr.decode()[-500:]}")
    if report.get("state_saved") is not True:
        raise RuntimeError("the full audit saved no state to resume from")
    records, own, workers = report["records"], report["rss_kb"], report["worker_rss_kb"]
    assert isinstance(records, int)
    assert isinstance(own, int)
    assert isinstance(workers, list)
    return elapsed, own / 1024, [int(str(kb)) / 1024 for kb in workers], records


_INCREMENTAL = """
import json, secrets, sys
from pathlib import Path
from ledger.auditor_state import SALT_SIZE, StateFile
from ledger.verify import audit_incremental, open_database_source
store = StateFile(Path(sys.argv[3]))
saved = store.load(sys.argv[2])
source = open_database_source(sys.argv[1], start=saved.size if saved else 0)
try:
    result = audit_incremental(source, operator_vkey=sys.argv[2], state=saved,
                               nonce_salt=secrets.token_bytes(SALT_SIZE))
finally:
    source.close()
if result.state is not None:
    store.save(result.state)
print(json.dumps({"ok": result.report.ok, "records": result.report.records_checked}))
"""


def _incremental_in_child(url: str, vkey: str, state: Path) -> tuple[float, int]:
    """Resume the audit from ``state`` in a new process, as an auditor's script run would
    (same core rules as the full audit: the benchmark ledger holds core statements only);
    returns (seconds for the whole run, interpreter start included; records checked)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _INCREMENTAL, url, vkey, str(state)],
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    report = parse_json(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
    if done.returncode != 0 or not isinstance(report, dict) or report.get("ok") is not True:
        raise RuntimeError(f"incremental audit failed: {done.stderr.decode()[-500:]}")
    checked = report.get("records")
    assert isinstance(checked, int)
    return elapsed, checked


def run_bench(
    *,
    records: int,
    batch: int,
    directory: Path | None,
    echo: Callable[[str], None] | None,
    database_url: str | None = None,
) -> dict[str, float | int | str]:
    """Build a ledger of ``records`` in a scratch SQLite file (or the empty database at
    ``database_url``) and print and return the figures."""
    say = echo or (lambda _line: None)
    figures: dict[str, float | int | str] = {}
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        figures["backend"] = url.split(":", 1)[0]
        rate = ed25519_rate()
        figures["ed25519_verify_per_s_one_core"] = round(rate)
        say(f"machine: Ed25519 verify {rate:,.0f}/s on one core (the physical limit here)")
        builder = _Builder(url)
        early = _append_rate(builder, min(10_000, max(batch, records // 2)), batch)
        figures["append_per_s_early"] = round(early)
        say(
            f"append (library, batches of {batch}) at {builder.ledger.size:,} records: "
            f"{early:,.0f} statements/s"
        )
        _fill(builder, max(records - 10_000, builder.ledger.size), batch, echo)
        late = _append_rate(builder, min(10_000, max(batch, records - builder.ledger.size)), batch)
        figures["append_per_s_late"] = round(late)
        size = builder.ledger.size
        say(f"append (library, batches of {batch}) at {size:,} records: {late:,.0f} statements/s")
        incl, cons = _proof_latency(builder.ledger)
        figures["inclusion_proof_ms"] = round(incl, 3)
        figures["consistency_proof_ms"] = round(cons, 3)
        say(
            f"proofs at {size:,} records: inclusion {incl:.3f} ms, consistency {cons:.3f} ms "
            "(median)"
        )
        with builder.ledger.store.read() as tx:
            db_bytes = tx.database_bytes()
        vkey = builder.ledger.verifier.vkey
        figures["db_bytes_per_record"] = round(db_bytes / size)
        say(f"database: {db_bytes / 1e6:,.1f} MB, {db_bytes / size:,.0f} bytes per record")
        state = Path(tmp) / "auditor-state.json"
        seconds, peak_mb, workers_mb, checked = _verify_in_child(url, vkey, state)
        total_mb = peak_mb + sum(workers_mb)
        figures["verify_per_s"] = round(checked / seconds)
        figures["verify_peak_mb"] = round(peak_mb, 1)
        figures["verify_worker_peak_mb"] = round(max(workers_mb, default=0.0), 1)
        figures["verify_total_peak_mb"] = round(total_mb, 1)
        figures["records"] = size
        each = " + ".join(f"{mb:,.0f}" for mb in workers_mb) or "0"
        say(
            f"full verification of {checked:,} records ({len(workers_mb)} worker processes): "
            f"{checked / seconds:,.0f} records/s ({seconds:.1f} s), peak memory "
            f"{peak_mb:,.0f} MB (auditor) + {each} MB (workers) = {total_mb:,.0f} MB in all"
        )
        new = min(INCREMENTAL_RECORDS, max(batch, size // 10))
        _fill(builder, size + new, batch, None)
        builder.ledger.close()
        seconds, checked = _incremental_in_child(url, vkey, state)
        figures["incremental_audit_records"] = checked
        figures["incremental_audit_s"] = round(seconds, 2)
        say(
            f"incremental audit (a new auditor process resuming from its state file) of "
            f"{checked:,} new records on {size:,}: {seconds:.2f} s"
        )
    return figures
