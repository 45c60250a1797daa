"""The committer thread behind ``Ledger.submit``/``submit_nowait``, pre-validation outside the
append lock, bulk inserts on each backend, and the SQLite writer lock file."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from ledger.errors import LedgerError, SignatureRejectedError
from ledger.log import AppendResult, Ledger
from ledger.state import Kind, LedgerState
from ledger.statement import Statement, Submission
from ledger.storage.engine import create_ledger_engine
from ledger.storage.store import SqlStore
from ledger.verify import verify_database
from tests.factory import Chain, key_for


class _Outcomes:
    """Collects what ``done`` callbacks receive; ``wait`` blocks until ``n`` arrived."""

    def __init__(self) -> None:
        self.items: list[AppendResult | Exception] = []
        self._cv = threading.Condition()

    def done(self, outcome: AppendResult | Exception) -> None:
        with self._cv:
            self.items.append(outcome)
            self._cv.notify_all()

    def wait(self, n: int) -> list[AppendResult | Exception]:
        with self._cv:
            assert self._cv.wait_for(lambda: len(self.items) >= n, timeout=60)
            return list(self.items)


def test_submit_nowait_hands_each_caller_its_receipt_once(chain: Chain) -> None:
    subs = chain.sale("mill", 50)
    start = chain.ledger.size
    outcomes = _Outcomes()
    now = chain.tick()
    for sub in subs:
        chain.ledger.submit_nowait(sub, now=now, done=outcomes.done)
    results = outcomes.wait(len(subs))
    assert len(results) == len(subs)
    seqs = []
    for result in results:
        assert isinstance(result, AppendResult)
        assert result.created
        result.receipt.verify(chain.ledger.verifier)
        seqs.append(result.receipt.seq)
    assert sorted(seqs) == list(range(start, start + len(subs)))
    assert verify_database(chain.url, operator_vkey=chain.ledger.verifier.vkey).ok


def test_submit_nowait_hands_a_refusal_to_done_and_writes_nothing(chain: Chain) -> None:
    good = chain.sale("mill")[0]
    forged = Submission(good.statement, key_for("farm-a").sign(good.statement.signing_bytes()))
    size = chain.ledger.size
    outcomes = _Outcomes()
    chain.ledger.submit_nowait(forged, now=chain.tick(), done=outcomes.done)
    [result] = outcomes.wait(1)
    assert isinstance(result, SignatureRejectedError)
    assert chain.ledger.size == size


def test_a_refused_statement_does_not_sink_the_others_in_its_group(chain: Chain) -> None:
    subs = chain.sale("mill", 20)
    bad = Submission(subs[7].statement, key_for("farm-a").sign(b"something else"))
    subs[7] = bad
    size = chain.ledger.size
    outcomes = _Outcomes()
    now = chain.tick()
    for sub in subs:
        chain.ledger.submit_nowait(sub, now=now, done=outcomes.done)
    results = outcomes.wait(len(subs))
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1
    assert isinstance(refused[0], SignatureRejectedError)
    assert chain.ledger.size == size + 19


def test_closed_ledger_refuses_new_submissions(chain: Chain) -> None:
    other = Ledger.open(chain.url, operator_key=chain.operator)
    assert other.submit(chain.sale("mill")[0], now=chain.tick()).created
    other.close()
    with pytest.raises(LedgerError, match="closed"):
        other.submit_nowait(chain.sale("mill")[0], now=chain.tick(), done=lambda _r: None)


def test_prevalidation_verdict_is_ignored_and_judged_again_under_the_lock(chain: Chain) -> None:
    """A validator refusing a statement against the last known state outside the lock (here:
    failing in any way on its first call) does not refuse it: the call under the lock
    decides."""
    calls: list[int] = []

    def flaky(state: LedgerState, seq: int, statement: Statement) -> None:
        calls.append(seq)
        if len(calls) == 1:
            raise RuntimeError("not ready yet")

    ledger = Ledger.open(
        chain.url, operator_key=chain.operator, validators={Kind.SALE_REPORT: flaky}
    )
    try:
        ledger.state()  # load the head, so that there is a state to pre-validate against
        [sub] = chain.sale("mill")
        result = ledger.submit(sub, now=chain.tick())
        assert result.created
        assert len(calls) == 2  # once outside the lock (ignored), once under it
        batch = chain.sale("mill", 3)
        assert all(r.created for r in ledger.append(batch, now=chain.tick()))
        assert len(calls) == 2 + 2 * 3
    finally:
        ledger.close()


def test_bulk_inserts_keep_every_row(chain: Chain) -> None:
    """One INSERT per table per batch (unnest arrays on PostgreSQL): every record and node
    arrives, and the ledger verifies."""
    start = chain.ledger.size
    results = chain.ledger.append(chain.sale("mill", 1000), now=chain.tick())
    assert [r.receipt.seq for r in results] == list(range(start, start + 1000))
    for r in results[::97]:
        assert chain.ledger.inclusion_proof(r.receipt.seq, chain.ledger.size)
        r.receipt.verify(chain.ledger.verifier)
    assert verify_database(chain.url, operator_vkey=chain.ledger.verifier.vkey).ok


def test_sqlite_writers_hold_the_lock_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    store = SqlStore(create_ledger_engine(url, create=True))
    lock_path = tmp_path / "w.db-writer.lock"
    try:
        with store.write():
            probe = os.open(lock_path, os.O_RDWR)
            try:
                with pytest.raises(BlockingIOError):
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(probe)
        probe = os.open(lock_path, os.O_RDWR)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again after commit
            fcntl.flock(probe, fcntl.LOCK_UN)
        finally:
            os.close(probe)
        with store.read():
            pass  # readers take no writer lock
    finally:
        store.dispose()


def test_a_failing_callback_does_not_stop_the_committer(chain: Chain) -> None:
    def broken(_outcome: AppendResult | Exception) -> None:
        raise RuntimeError("event loop closed")

    first, second = chain.sale("mill", 2)
    chain.ledger.submit_nowait(first, now=chain.tick(), done=broken)
    outcomes = _Outcomes()
    chain.ledger.submit_nowait(second, now=chain.tick(), done=outcomes.done)
    [result] = outcomes.wait(1)  # committed after `first`
    assert isinstance(result, AppendResult)
    assert result.created
    record = chain.ledger.record(result.receipt.seq - 1)
    assert record is not None
    assert record.submission == first
