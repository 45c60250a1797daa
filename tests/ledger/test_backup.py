"""Backup and restore: export, then import into an empty database on either backend,
reproduces identical roots, checkpoints and projections; bad exports write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.backup import import_ledger
from ledger.errors import ChainLinkError, ConflictError
from ledger.export import export_ledger
from ledger.log import Ledger
from ledger.state import Kind
from ledger.statement import prove_possession
from tests.factory import ORIGIN, Chain, key_for


def _busy_export(chain: Chain, path: Path) -> None:
    for _ in range(3):
        chain.ledger.append(chain.sale("mill", 7), now=chain.tick())
    new = key_for("mill-next")
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
    with path.open("wb") as out:
        export_ledger(chain.ledger, out)


def test_restore_reproduces_roots_checkpoints_and_projections(
    sqlite_chain: Chain, database_url: str, tmp_path: Path
) -> None:
    export = tmp_path / "backup.jsonl"
    _busy_export(sqlite_chain, export)
    report = import_ledger(database_url, export, operator_vkey=sqlite_chain.ledger.verifier.vkey)
    assert report.ok
    restored = Ledger.open(database_url)
    try:
        original = sqlite_chain.ledger
        assert restored.size == original.size
        assert restored.root(restored.size) == original.root(original.size)
        with original.store.read() as a, restored.store.read() as b:
            assert a.checkpoints() == b.checkpoints()
        assert restored.projection_dump() == original.projection_dump()
        # The restored ledger carries on: a new append links to the restored head.
        again = Ledger.open(database_url, operator_key=sqlite_chain.operator)
        try:
            receipt = again.submit(sqlite_chain.sale("farm-a")[0], now=sqlite_chain.tick()).receipt
            receipt.verify(again.verifier)
        finally:
            again.close()
    finally:
        restored.close()


def test_restore_refuses_a_non_empty_target(sqlite_chain: Chain, tmp_path: Path) -> None:
    export = tmp_path / "backup.jsonl"
    _busy_export(sqlite_chain, export)
    size = sqlite_chain.ledger.size
    with pytest.raises(ConflictError, match="already holds"):
        import_ledger(sqlite_chain.url, export)
    assert sqlite_chain.ledger.size == size


def test_restore_refuses_a_tampered_export_and_writes_nothing(
    sqlite_chain: Chain, tmp_path: Path
) -> None:
    export = tmp_path / "backup.jsonl"
    _busy_export(sqlite_chain, export)
    export.write_bytes(export.read_bytes().replace(b'"quantity":"1"', b'"quantity":"2"', 1))
    target = tmp_path / "restored.db"
    with pytest.raises(ChainLinkError):
        import_ledger(f"sqlite:///{target}", export)
    assert not target.exists()
