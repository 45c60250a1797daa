"""Concurrency on each backend: 4 writer processes and 2 verifying readers share one ledger.

Bounded by work, not time: each writer appends a fixed number of rounds (batches and single
submits), each reader audits the live ledger a fixed number of times. Every audit a reader
makes while writers run must hold (readers never see a record before its checkpoint); at the
end the ledger verifies, every acknowledged receipt's record is present, and seqs are dense.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.canonical import parse_json
from ledger.log import Ledger
from ledger.receipt import Receipt
from ledger.verify import verify_database
from tests.factory import new_chain

ROOT = Path(__file__).resolve().parents[2]
WRITERS, READERS, ROUNDS, AUDITS = 4, 2, 12, 4


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.stress_child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.slow
def test_four_writers_two_readers(database_url: str) -> None:
    chain = new_chain(database_url, ("mill", ("supplier", "buyer")))
    vkey = chain.ledger.verifier.vkey
    start = chain.ledger.size
    chain.ledger.close()
    writers = [_spawn("writer", database_url, str(ROUNDS), str(seed)) for seed in range(WRITERS)]
    readers = [_spawn("reader", database_url, str(AUDITS), vkey) for _ in range(READERS)]
    receipts: list[Receipt] = []
    for process in writers:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
        receipts.extend(Receipt.from_json(parse_json(line)) for line in out.splitlines())
    for process in readers:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
        audits = [json.loads(line) for line in out.splitlines()]
        assert len(audits) == AUDITS
        for audit in audits:
            assert audit["ok"], audit["findings"]

    report = verify_database(database_url, operator_vkey=vkey)
    seqs = sorted(r.seq for r in receipts)
    assert seqs == list(range(start, start + len(receipts))), "seqs are dense and unique"
    assert report.records_checked == start + len(receipts)
    ledger = Ledger.open(database_url)
    try:
        for receipt in receipts:
            record = ledger.record(receipt.seq)
            assert record is not None
            assert record.entry_hash == receipt.entry_hash
            receipt.verify(ledger.verifier)
    finally:
        ledger.close()
