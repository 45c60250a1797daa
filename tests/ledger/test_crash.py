"""Crash safety: a child appending in a loop is SIGKILLed at random moments; the reopened
ledger verifies and holds every statement whose receipt was returned, on each backend.

The kill moment is chosen by events, not by the clock: after a random number of receipts
has been read, the parent kills at once, while the child is somewhere inside its next
append (signing, verifying, inside the transaction, committing or printing).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.canonical import parse_json
from ledger.errors import LedgerError
from ledger.log import Ledger
from ledger.receipt import Receipt
from ledger.verify import verify_database
from tests.factory import new_chain

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 24


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_statement(database_url: str) -> None:
    chain = new_chain(database_url, ("mill", ("supplier", "buyer")))
    url, vkey = chain.url, chain.ledger.verifier.vkey
    chain.ledger.close()
    rng = random.Random(20261123)
    acknowledged: list[Receipt] = []
    for trial in range(TRIALS):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.ledger.crash_child", url, str(trial)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert child.stdout is not None
        wanted = rng.randint(1, 40)
        for _ in range(wanted):
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.append(Receipt.from_json(parse_json(line)))
        child.send_signal(signal.SIGKILL)
        child.wait()
        # Anything the child printed before dying was acknowledged too.
        for line in child.stdout.read().splitlines():
            # A half-written last line was never acknowledged: skip what does not parse.
            with contextlib.suppress(LedgerError):
                acknowledged.append(Receipt.from_json(parse_json(line)))
        assert child.returncode == -signal.SIGKILL

    report = verify_database(url, operator_vkey=vkey)
    assert report.ok
    ledger = Ledger.open(url)
    try:
        assert len(acknowledged) >= TRIALS
        for receipt in acknowledged:
            record = ledger.record(receipt.seq)
            assert record is not None, f"acknowledged seq {receipt.seq} is missing"
            assert record.entry_hash == receipt.entry_hash
            receipt.verify(ledger.verifier, leaf=record.leaf)
        assert ledger.size == report.records_checked
    finally:
        ledger.close()
