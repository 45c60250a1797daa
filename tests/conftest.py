from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factory import Chain, new_chain


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    """A ledger with a farm (supplier), a mill (supplier and buyer) and an auditor."""
    c = new_chain(
        tmp_path / "ledger.db",
        ("farm-a", ("supplier",)),
        ("mill", ("supplier", "buyer")),
        ("auditor", ("auditor",)),
    )
    yield c
    c.ledger.close()
