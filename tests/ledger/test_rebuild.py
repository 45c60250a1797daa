"""Projections are derived: ``rebuild`` recreates them from the records alone, identically."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.errors import MalformedStatementError
from ledger.log import Projection, ProjectionBatch
from ledger.state import Kind
from ledger.statement import prove_possession
from ledger.storage.store import WriteTx
from ledger.trace._fast import fast_facts
from tests.factory import ORIGIN, Chain, key_for
from tests.ledger.trace.test_ledger_chain import TraceChain, history


def test_rebuild_reproduces_projections_exactly(chain: Chain) -> None:
    new = key_for("mill-2")
    chain.ledger.submit(
        chain.statement(
            "mill",
            Kind.KEY_ROTATE,
            {
                "new_public_key": new.public_key.b64,
                "proof_of_possession": prove_possession(ORIGIN, "mill", new),
            },
        ),
        now=chain.tick(),
    )
    chain.ledger.submit(
        chain.statement(
            "operator",
            Kind.KEY_REVOKE,
            {
                "participant": "farm-a",
                "key": chain.keys["farm-a"].public_key.key_id,
                "reason": "lost",
            },
        ),
        now=chain.tick(),
    )
    chain.register("bakery", "buyer")
    before = chain.ledger.projection_dump()
    assert len(before["participant_keys"]) == 6
    with chain.ledger.store.write() as tx:  # damage the projections behind the library's back
        tx.conn.execute(text("DELETE FROM participant_keys WHERE participant = 'bakery'"))
        tx.conn.execute(text("UPDATE participants SET display_name = 'Evil' WHERE id = 'mill'"))
    assert chain.ledger.projection_dump() != before
    assert chain.ledger.rebuild_projections() == chain.ledger.size
    assert chain.ledger.projection_dump() == before


def test_projections_follow_each_append(chain: Chain) -> None:
    chain.register("bakery", "buyer")
    with chain.ledger.store.read() as tx:
        rows = {r["id"]: r for r in tx.participant_rows()}
    assert rows["bakery"]["roles"] == "buyer"
    assert rows["mill"]["roles"] == "buyer,supplier"


class _Watched:
    """Wraps a projection and keeps a weak reference to every batch it starts, by chunk."""

    def __init__(self, inner: Projection) -> None:
        self.inner = inner
        self.tables = inner.tables
        self.started: list[weakref.ref[ProjectionBatch]] = []

    def start(self, tx: WriteTx) -> ProjectionBatch:
        batch = self.inner.start(tx)
        self.started.append(weakref.ref(batch))
        return batch


def test_rebuild_keeps_no_batch_of_an_earlier_chunk(tmp_path: Path) -> None:
    """Memory is bounded by the chunk: once a chunk is flushed, nothing (the rebuild loop, a
    projection, a cache) still holds its batches, nor so the records they staged."""
    tc = TraceChain.create(tmp_path / "trace.db")
    try:
        history(tc)
        before = tc.ledger.projection_dump()
        watched = [_Watched(p) for p in tc.ledger.projections]
        assert {type(w.inner).__name__ for w in watched} == {"TraceProjection"}
        tc.ledger.projections = tuple(watched)
        alive_after_chunk: list[int] = []

        def progress(done: int, total: int) -> None:
            gc.collect()  # a reference cycle alone would not be a leak
            alive_after_chunk.append(sum(ref() is not None for w in watched for ref in w.started))

        assert tc.ledger.rebuild_projections(progress, chunk=3) == tc.ledger.size
        chunks = -(-tc.ledger.size // 3)
        assert len(alive_after_chunk) == chunks > 3
        assert all(len(w.started) == chunks for w in watched)
        assert alive_after_chunk == [0] * chunks
        # Replaying in chunks of 3 gives exactly the projections appended one by one.
        assert tc.ledger.projection_dump() == before
    finally:
        tc.close()


def test_rebuild_refuses_an_empty_chunk(chain: Chain) -> None:
    before = chain.ledger.projection_dump()
    with pytest.raises(MalformedStatementError):
        chain.ledger.rebuild_projections(chunk=0)
    assert chain.ledger.projection_dump() == before


class _Sentinel:
    """Stands for whatever a caller of the fast trace parser holds (a batch, its records)."""


def test_an_event_the_fast_parser_refuses_keeps_nothing_of_its_caller() -> None:
    """A refusal must not keep its traceback (and so its caller's frames and locals) alive
    after it is caught: otherwise a rebuild of events the fast path cannot vouch for keeps
    every chunk's batches and records (a leak of gigabytes over a million records)."""

    def caller() -> weakref.ref[_Sentinel]:
        held = _Sentinel()
        forms: list[object] = [{"type": "NoSuchEvent"}, [], {"type": "ObjectEvent"}]
        for form in forms:
            assert fast_facts(form) is None
        return weakref.ref(held)

    refs = [caller() for _ in range(3)]
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]
