"""Histories an operator could present instead of the true one, for auditor, witness and
receipt tests: twin ledgers that share a prefix (same operator key, origin, clock and nonces,
so their first records and checkpoints are byte-identical) and then diverge, and the real API
app over any of them, in process (no network)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from api.app import ApiSettings, create_app
from api.routes.deps import get_now
from ledger.statement import Submission
from tests.conftest import PARTIES
from tests.factory import Chain, new_chain

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "http://testserver"


def twin(target: Path | str) -> Chain:
    """A fresh ledger whose genesis and registrations (4 records) equal every other twin's."""
    return new_chain(target, *PARTIES)


def replay(chain: Chain, submissions: Sequence[Submission], batch: int = 10) -> None:
    """Append ``submissions`` in batches, one tick of the chain's clock per batch."""
    for start in range(0, len(submissions), batch):
        chain.ledger.append(list(submissions[start : start + batch]), now=chain.tick())


@contextmanager
def serve(chain: Chain, home: Path, *, witnesses: Sequence[str] = ()) -> Iterator[TestClient]:
    """The real app over ``chain``, trusting ``witnesses``, its clock the chain's."""
    settings = ApiSettings(home=home, trusted_witnesses=list(witnesses))
    app = create_app(settings, ledger=chain.ledger)
    app.dependency_overrides[get_now] = lambda: chain.clock
    with TestClient(app, base_url=BASE) as client:
        yield client
