"""``TraceChain``: a traceability ledger for tests (trace validators and projection, GLNs,
deterministic keys, event ids and clock), and the basics everything else rests on: the
trace projection's tables match their migration, and a rebuild reproduces them exactly."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from ledger.canonical import JSONObject
from ledger.errors import LedgerError
from ledger.log import Ledger
from ledger.state import Kind
from ledger.statement import Submission
from ledger.storage.engine import migrate
from ledger.storage.models import Base
from ledger.storage.trace import TRACE_TABLES
from ledger.trace.builders import (
    Amount,
    commission,
    declare_error,
    lot_id,
    pack,
    receive,
    ship,
    trace_body,
    transform,
    with_check_digit,
)
from ledger.trace.service import open_trace_ledger
from tests.factory import Chain, new_chain

E = TypeVar("E", bound=LedgerError)

GTIN_WHEAT = "09506000134352"
GTIN_FLOUR = "09506000134376"
GTIN_BREAD = "09506000134383"

#: Participants of the default cast, with their roles; GLNs come from ``gln_for``.
CAST: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("farm-a", ("supplier",)),
    ("farm-b", ("supplier",)),
    ("mill", ("supplier", "buyer")),
    ("bakery", ("supplier", "buyer")),
    ("retailer", ("supplier", "buyer")),
)


def gln_for(name: str) -> str:
    """A deterministic valid GLN per participant name."""
    digits = sum(ord(ch) * (i + 1) for i, ch in enumerate(name)) % 1_000_000
    return with_check_digit(f"950611{digits:06d}")


def sscc_for(n: int) -> str:
    """A valid SSCC (18 digits) numbered ``n``."""
    return with_check_digit(f"39506111{n:09d}")


@dataclass
class TraceChain:
    """A ledger opened with ``open_trace_ledger`` plus the keys and GLNs of everyone on it."""

    chain: Chain
    glns: dict[str, str] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: count(1))

    @classmethod
    def create(
        cls, target: Path | str, parties: Sequence[tuple[str, tuple[str, ...]]] = CAST
    ) -> TraceChain:
        chain = new_chain(target)
        chain.ledger.close()
        chain.ledger = open_trace_ledger(chain.url, operator_key=chain.operator)
        traced = cls(chain)
        for name, roles in parties:
            traced.register(name, *roles)
        return traced

    @property
    def ledger(self) -> Ledger:
        return self.chain.ledger

    def close(self) -> None:
        self.chain.ledger.close()

    def register(self, name: str, *roles: str, gln: str | None = "") -> int:
        """Register ``name`` with ``gln`` (default: ``gln_for(name)``; None: no GLN)."""
        body = self.chain.register_body(name, list(roles))
        chosen = gln_for(name) if gln == "" else gln
        if chosen is not None:
            body["gln"] = chosen
            self.glns[name] = chosen
        statement = self.chain.statement("operator", Kind.REGISTER, body)
        return self.ledger.submit(statement, now=self.chain.tick()).receipt.seq

    def gln(self, name: str) -> str:
        return self.glns[name]

    def event_id(self) -> str:
        return f"urn:uuid:00000000-0000-4000-8000-{next(self._ids):012d}"

    def kw(self) -> dict[str, Any]:
        """A fresh ``event_id`` and the chain's clock as ``when``, for the builders."""
        return {"event_id": self.event_id(), "when": self.chain.tick()}

    def submission(self, author: str, event: JSONObject) -> Submission:
        return self.chain.statement(author, Kind.TRACE_EVENT, trace_body(event))

    def record(self, author: str, event: JSONObject) -> int:
        """Append one event as ``author``; returns its seq."""
        return self.ledger.submit(self.submission(author, event), now=self.chain.tick()).receipt.seq

    def record_all(self, items: Sequence[tuple[str, JSONObject]]) -> list[int]:
        """Append events as one all-or-nothing batch; returns their seqs."""
        subs = [self.submission(author, event) for author, event in items]
        return [r.receipt.seq for r in self.ledger.append(subs, now=self.chain.tick())]

    def refused(self, author: str, event: JSONObject, error: type[E]) -> E:
        """Submit an event that must be refused with ``error``; asserts that the ledger size,
        its latest checkpoint and every projection table are unchanged."""
        return self.refused_batch([(author, event)], error)

    def refused_batch(self, items: Sequence[tuple[str, JSONObject]], error: type[E]) -> E:
        size, checkpoint = self.ledger.size, self.ledger.latest_checkpoint()
        tables = self.ledger.projection_dump()
        subs = [self.submission(author, event) for author, event in items]
        now = self.chain.tick()
        if len(subs) == 1:
            with pytest.raises(error) as caught:
                self.ledger.submit(subs[0], now=now)
        else:
            with pytest.raises(error) as caught:
                self.ledger.append(subs, now=now)
        assert self.ledger.size == size
        assert self.ledger.latest_checkpoint() == checkpoint
        assert self.ledger.projection_dump() == tables
        return caught.value


def history(tc: TraceChain) -> dict[str, int]:
    """A small history touching every trace table: pallets, a split shipment, a partial
    rejection, a transformation and an error declaration with its corrective event."""
    wheat = lot_id(GTIN_WHEAT, "W-1")
    flour = lot_id(GTIN_FLOUR, "F-1")
    seqs: dict[str, int] = {}
    seqs["harvest"] = tc.record(
        "farm-a", commission(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(wheat, 1000)])
    )
    seqs["pack"] = tc.record(
        "farm-a",
        pack(**tc.kw(), gln=tc.gln("farm-a"), sscc=sscc_for(1), lots=[Amount(wheat, 600)]),
    )
    seqs["ship-pallet"] = tc.record(
        "farm-a",
        ship(
            **tc.kw(),
            shipper_gln=tc.gln("farm-a"),
            receiver_gln=tc.gln("mill"),
            ssccs=[sscc_for(1)],
        ),
    )
    seqs["ship-loose"] = tc.record(
        "farm-a",
        ship(
            **tc.kw(),
            shipper_gln=tc.gln("farm-a"),
            receiver_gln=tc.gln("mill"),
            lots=[Amount(wheat, 300)],
        ),
    )
    seqs["receive-pallet"] = tc.record(
        "mill",
        receive(
            **tc.kw(),
            receiver_gln=tc.gln("mill"),
            shipper_gln=tc.gln("farm-a"),
            ssccs=[sscc_for(1)],
            rejected=[Amount(wheat, 50)],
            reason="damaged",
        ),
    )
    wrong = transform(
        **tc.kw(),
        gln=tc.gln("mill"),
        inputs=[Amount(wheat, 500)],
        outputs=[Amount(flour, 450)],
    )
    seqs["mill-wrong"] = tc.record("mill", wrong)
    fixed_id = tc.event_id()
    seqs["declare"] = tc.record(
        "mill", declare_error(wrong, when=tc.chain.tick(), corrective_event_ids=[fixed_id])
    )
    seqs["mill-fixed"] = tc.record(
        "mill",
        transform(
            event_id=fixed_id,
            when=tc.chain.tick(),
            gln=tc.gln("mill"),
            inputs=[Amount(wheat, 550)],
            outputs=[Amount(flour, 440)],
        ),
    )
    return seqs


@pytest.fixture
def tc(tmp_path: Path) -> Iterator[TraceChain]:
    chain = TraceChain.create(tmp_path / "trace.db")
    yield chain
    chain.close()


def test_trace_tables_match_their_migration(tmp_path: Path) -> None:
    """The Alembic revision 0003 creates exactly the tables and indexes of the models."""
    engine = create_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    migrate(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diffs if "trace_" in repr(d)]
    assert ours == []
    engine.dispose()


def test_trace_tables_match_their_migration_on_postgresql(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    migrate(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        names = {
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'trace_%'")
            )
        }
    assert [d for d in diffs if "trace_" in repr(d)] == []
    assert names == set(TRACE_TABLES)
    engine.dispose()


def test_rebuild_reproduces_the_trace_tables_exactly(database_url: str) -> None:
    tc = TraceChain.create(database_url)
    try:
        history(tc)
        before = tc.ledger.projection_dump()
        assert all(before[name] for name in TRACE_TABLES)
        assert tc.ledger.rebuild_projections() == tc.ledger.size
        assert tc.ledger.projection_dump() == before
    finally:
        tc.close()


def test_rebuild_repairs_damaged_trace_tables(tmp_path: Path) -> None:
    tc = TraceChain.create(tmp_path / "trace.db")
    try:
        history(tc)
        before = tc.ledger.projection_dump()
        with tc.ledger.store.write() as tx:
            tx.conn.execute(text("DELETE FROM trace_movements WHERE idx = 0"))
            tx.conn.execute(text("UPDATE trace_holdings SET shipped = '0'"))
            tx.conn.execute(text("DELETE FROM trace_edges"))
        assert tc.ledger.projection_dump() != before
        tc.ledger.rebuild_projections()
        assert tc.ledger.projection_dump() == before
    finally:
        tc.close()


def test_a_plain_ledger_reopened_with_trace_projects_nothing_until_rebuilt(
    tmp_path: Path,
) -> None:
    """Records appended without the projection are picked up by a rebuild."""
    tc = TraceChain.create(tmp_path / "trace.db")
    history(tc)
    expected = tc.ledger.projection_dump()
    url = tc.chain.url
    tc.close()
    reopened = open_trace_ledger(url)
    try:
        reopened.rebuild_projections()
        assert reopened.projection_dump() == expected
    finally:
        reopened.close()


def test_events_recorded_in_one_batch_see_each_other(tc: TraceChain) -> None:
    """``check`` sees what the batch staged earlier: commission, ship and receive at once."""
    wheat = lot_id(GTIN_WHEAT, "W-9")
    seqs = tc.record_all(
        [
            ("farm-a", commission(**tc.kw(), gln=tc.gln("farm-a"), lots=[Amount(wheat, 10)])),
            (
                "farm-a",
                ship(
                    **tc.kw(),
                    shipper_gln=tc.gln("farm-a"),
                    receiver_gln=tc.gln("mill"),
                    lots=[Amount(wheat, 10)],
                ),
            ),
            (
                "mill",
                receive(
                    **tc.kw(),
                    receiver_gln=tc.gln("mill"),
                    shipper_gln=tc.gln("farm-a"),
                    lots=[Amount(wheat, 10)],
                ),
            ),
        ]
    )
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    dump = tc.ledger.projection_dump()
    holdings = {(row[1], row[2]): row for row in dump["trace_holdings"]}
    assert holdings[("mill", "KGM")][5] == "10"  # received


def test_when_is_an_aware_datetime(tc: TraceChain) -> None:
    assert isinstance(tc.kw()["when"], datetime)
    assert tc.kw()["when"].tzinfo is not None
