"""One GLN, one participant: trace events are attributed to the participant registered with the
GLN they name, so ``participant.register`` refuses a second participant claiming a GLN that
is already someone else's, naming both, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.errors import ConflictError
from ledger.state import Kind
from ledger.statement import Submission
from tests.ledger.trace.test_ledger_chain import TraceChain, gln_for


@pytest.fixture
def tc(tmp_path: Path) -> Iterator[TraceChain]:
    chain = TraceChain.create(tmp_path / "glns.db")
    yield chain
    chain.close()


def _claim(tc: TraceChain, name: str, gln: str) -> Submission:
    body = tc.chain.register_body(name, ["supplier"])
    body["gln"] = gln
    return tc.chain.statement("operator", Kind.REGISTER, body)


def test_a_second_participant_claiming_a_registered_gln_is_refused(tc: TraceChain) -> None:
    taken = tc.gln("farm-a")
    size, checkpoint = tc.ledger.size, tc.ledger.latest_checkpoint()
    with pytest.raises(ConflictError) as caught:
        tc.ledger.submit(_claim(tc, "impostor", taken), now=tc.chain.tick())
    error = caught.value
    assert error.field == "statement.body.gln"
    assert "farm-a" in error.message
    assert "impostor" in error.message
    assert taken in error.message
    assert (tc.ledger.size, tc.ledger.latest_checkpoint()) == (size, checkpoint)
    assert "impostor" not in tc.ledger.state().participants


def test_two_claims_of_one_gln_in_a_batch_refuse_the_whole_batch(tc: TraceChain) -> None:
    fresh = gln_for("newcomer-one")
    assert fresh not in tc.glns.values()
    size = tc.ledger.size
    batch = [_claim(tc, "newcomer-one", fresh), _claim(tc, "newcomer-two", fresh)]
    with pytest.raises(ConflictError) as caught:
        tc.ledger.append(batch, now=tc.chain.tick())
    assert caught.value.index == 1
    assert "newcomer-one" in caught.value.message
    assert "newcomer-two" in caught.value.message
    assert tc.ledger.size == size
    assert not {"newcomer-one", "newcomer-two"} & tc.ledger.state().participants.keys()


def test_distinct_glns_and_participants_without_one_register(tc: TraceChain) -> None:
    tc.register("newcomer", "supplier", gln=gln_for("newcomer"))
    tc.register("no-gln-one", "buyer", gln=None)
    tc.register("no-gln-two", "buyer", gln=None)
    participants = tc.ledger.state().participants
    assert participants["newcomer"].gln == gln_for("newcomer")
    assert participants["no-gln-one"].gln is None is participants["no-gln-two"].gln
