"""The generic projection-document table: domain views without SQL outside storage."""

from __future__ import annotations

import pytest

from ledger.errors import CanonicalizationError
from tests.factory import Chain


def test_put_get_prefix_and_delete(chain: Chain) -> None:
    with chain.ledger.store.write() as tx:
        tx.put_document("contract", "c-1", 5, {"state": "proposed", "n": 1})
        tx.put_document("contract", "by-party/mill/c-1", 5, {})
        tx.put_document("contract", "by-party/mill/c-2", 6, {})
        tx.put_document("contract", "by-party/milling/c-3", 7, {})
        tx.put_document("contract", "c-1", 8, {"state": "binding", "n": 2})
    with chain.ledger.store.read() as tx:
        assert tx.document("contract", "c-1") == (8, {"state": "binding", "n": 2})
        assert tx.document("contract", "nope") is None
        keys = [k for k, _s, _b in tx.documents("contract", "by-party/mill/")]
        assert keys == ["by-party/mill/c-1", "by-party/mill/c-2"]
        after = [
            k for k, _s, _b in tx.documents("contract", "by-party/", after="by-party/mill/c-2")
        ]
        assert after == ["by-party/milling/c-3"]
    with chain.ledger.store.write() as tx:
        tx.delete_document("contract", "c-1")
    with chain.ledger.store.read() as tx:
        assert tx.document("contract", "c-1") is None


def test_documents_are_projections_cleared_by_rebuild(chain: Chain) -> None:
    with chain.ledger.store.write() as tx:
        tx.put_document("scratch", "k", 1, {"x": "y"})
    chain.ledger.rebuild_projections()
    with chain.ledger.store.read() as tx:
        assert tx.document("scratch", "k") is None


def test_unsignable_document_is_refused_and_nothing_written(chain: Chain) -> None:
    with (
        pytest.raises(CanonicalizationError, match="floating-point"),
        chain.ledger.store.write() as tx,
    ):
        tx.put_document("contract", "bad", 1, {"price": 1.5})  # type: ignore[dict-item]
    with chain.ledger.store.read() as tx:
        assert tx.document("contract", "bad") is None
