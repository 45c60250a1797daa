"""Projections are derived: ``rebuild`` recreates them from the records alone, identically."""

from __future__ import annotations

from sqlalchemy import text

from ledger.state import Kind
from ledger.statement import prove_possession
from tests.factory import ORIGIN, Chain, key_for


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
