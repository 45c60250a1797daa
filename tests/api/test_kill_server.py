"""SIGKILL of a real API server mid-batch, on each backend.

A ``fairledger serve`` process takes batches from client threads; after a random number of
acknowledged batches the parent kills it with SIGKILL while other batches are in flight, then
starts a new server. Nothing acknowledged is missing, nothing unacknowledged is half-written
(a batch is all there or not at all), and the ledger verifies. Readiness is read from the
server's own log line, never waited for on the clock.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from ledger.keys import save_private_key
from ledger.log import Ledger
from ledger.receipt import Receipt
from ledger.state import Kind
from ledger.trace.builders import Amount, commission, lot_id, trace_body, with_check_digit
from ledger.verify import verify_database
from tests.factory import T0, key_for, new_chain

FAIRLEDGER = str(Path(sys.executable).parent / "fairledger")
TRIALS = 3
MILL_GLN = with_check_digit("950600013436")
GTIN = "09506000134352"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(home: Path, url: str, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRLEDGER_")}
    env.update(FAIRLEDGER_HOME=str(home), FAIRLEDGER_DATABASE_URL=url, PYTHONUNBUFFERED="1")
    server = subprocess.Popen(
        [FAIRLEDGER, "serve", "--port", str(port), "--log-level", "info"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert server.stderr is not None
    for line in server.stderr:  # blocks until uvicorn says it is ready (or exits)
        if "Application startup complete" in line:
            break
    else:
        raise AssertionError(f"server exited with {server.wait()}")
    threading.Thread(target=server.stderr.read, daemon=True).start()  # keep the pipe drained
    return server


@pytest.mark.slow
def test_sigkill_mid_batch_loses_nothing(database_url: str, tmp_path: Path) -> None:
    chain = new_chain(database_url)
    body = chain.register_body("mill", ["supplier", "buyer"])
    body["gln"] = MILL_GLN  # trace events are recorded by the party with that GLN
    chain.ledger.submit(chain.statement("operator", Kind.REGISTER, body), now=chain.tick())
    vkey = chain.ledger.verifier.vkey
    chain.ledger.close()
    home = tmp_path / "home"
    save_private_key(home / "keys" / "operator.pem", key_for("operator"))
    rng = random.Random(7)
    acknowledged: list[Receipt] = []
    sent: list[list[str]] = []  # the nonces of every batch sent, acknowledged or not
    lock = threading.Lock()
    for trial in range(TRIALS):
        port = _free_port()
        server = _start(home, database_url, port)
        stop_after = rng.randint(2, 8)
        done = threading.Event()

        def client(
            worker: int,
            trial: int = trial,
            port: int = port,
            stop_after: int = stop_after,
            done: threading.Event = done,
        ) -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                n = 0
                while not done.is_set():
                    subs = [
                        chain.statement(
                            "mill",
                            Kind.TRACE_EVENT,
                            trace_body(
                                commission(
                                    event_id=f"urn:uuid:{trial}-{worker}-{n:04d}-{i:02d}",
                                    when=T0,
                                    gln=MILL_GLN,
                                    lots=[Amount(lot_id(GTIN, f"K{trial}-{worker}-{n}-{i}"), 1)],
                                )
                            ),
                            nonce=f"k{trial}-{worker}-{n:04d}-{i:02d}",
                        )
                        for i in range(10)
                    ]
                    n += 1
                    with lock:
                        sent.append([s.statement.nonce for s in subs])
                    try:
                        response = http.post(
                            "/v1/statements/batch",
                            content=json.dumps({"submissions": [s.to_json() for s in subs]}),
                            headers={"Content-Type": "application/json"},
                        )
                    except httpx.HTTPError:
                        return  # the server died under us: this batch was never acknowledged
                    assert response.status_code == 201, response.text
                    with lock:
                        acknowledged.extend(
                            Receipt.from_json(r) for r in response.json()["receipts"]
                        )
                        if len(acknowledged) >= 10 * stop_after * (trial + 1):
                            done.set()

        threads = [threading.Thread(target=client, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        enough = done.wait(timeout=120)
        server.send_signal(signal.SIGKILL)  # other batches are still in flight
        server.wait()
        done.set()
        for t in threads:
            t.join(timeout=60)
        # A client that got anything but 201 stops without setting `done`.
        assert enough, f"trial {trial}: only {len(acknowledged)} statements acknowledged"

    report = verify_database(database_url, operator_vkey=vkey)
    assert report.ok, report.findings
    ledger = Ledger.open(database_url)
    try:
        for receipt in acknowledged:
            record = ledger.record(receipt.seq)
            assert record is not None, f"acknowledged seq {receipt.seq} is missing"
            assert record.entry_hash == receipt.entry_hash
        recorded = {
            rec.statement.nonce
            for rec in (ledger.record(s) for s in range(ledger.size))
            if rec is not None
        }
    finally:
        ledger.close()
    for nonces in sent:
        present = [n in recorded for n in nonces]
        assert all(present) or not any(present), f"batch half-written: {nonces}"
