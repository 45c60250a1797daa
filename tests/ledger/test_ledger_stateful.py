"""A stateful property test: random appends, replays, registrations and key rotations,
with inclusion and consistency proofs checked against a simple model, and a full audit at
the end of every run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger import merkle
from ledger.canonical import JSONObject
from ledger.note import open_checkpoint
from ledger.receipt import Receipt
from ledger.state import Kind
from ledger.statement import Submission, prove_possession
from ledger.verify import verify_consistent_checkpoints, verify_database
from tests.factory import ORIGIN, Chain, key_for, new_chain


class LedgerMachine(RuleBasedStateMachine):
    chain: Chain

    @initialize()
    def start(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.chain = new_chain(Path(self.tmp.name) / "l.db", ("mill", ("supplier", "buyer")))
        self.hashes = [self.chain.ledger.record(s).entry_hash for s in range(2)]  # type: ignore[union-attr]
        self.submitted: list[tuple[Submission, Receipt]] = []
        self.checkpoints: list[str] = [self.chain.ledger.latest_checkpoint()]
        self.members = ["mill"]
        self.rotations = 0

    def _record(self, receipts: list[Receipt]) -> None:
        for r in receipts:
            if r.seq == len(self.hashes):
                self.hashes.append(r.entry_hash)
        self.checkpoints.append(self.chain.ledger.latest_checkpoint())

    @rule(n=st.integers(min_value=1, max_value=12), who=st.integers(min_value=0, max_value=5))
    def append_batch(self, n: int, who: int) -> None:
        author = self.members[who % len(self.members)]
        subs = self.chain.sale(author, n)
        results = self.chain.ledger.append(subs, now=self.chain.tick())
        assert all(r.created for r in results)
        self._record([r.receipt for r in results])
        self.submitted.extend((s, r.receipt) for s, r in zip(subs, results, strict=True))

    @precondition(lambda self: bool(self.submitted))
    @rule(pick=st.integers(min_value=0))
    def replay(self, pick: int) -> None:
        sub, receipt = self.submitted[pick % len(self.submitted)]
        size = self.chain.ledger.size
        again = self.chain.ledger.submit(sub, now=self.chain.tick())
        assert not again.created
        assert again.receipt == receipt
        assert self.chain.ledger.size == size

    @precondition(lambda self: len(self.members) < 6)
    @rule()
    def register(self) -> None:
        name = f"party-{len(self.members)}"
        self.chain.register(name, "supplier")
        self.members.append(name)
        self._record([self.chain.ledger.receipt(self.chain.ledger.size - 1)])

    @rule(who=st.integers(min_value=0, max_value=5))
    def rotate(self, who: int) -> None:
        author = self.members[who % len(self.members)]
        self.rotations += 1
        new = key_for(f"{author}-rot-{self.rotations}")
        body: JSONObject = {
            "new_public_key": new.public_key.b64,
            "proof_of_possession": prove_possession(ORIGIN, author, new),
        }
        result = self.chain.ledger.submit(
            self.chain.statement(author, Kind.KEY_ROTATE, body), now=self.chain.tick()
        )
        self.chain.keys[author] = new
        self._record([result.receipt])

    @rule(data=st.data())
    def inclusion(self, data: st.DataObject) -> None:
        size = len(self.hashes)
        n = data.draw(st.integers(min_value=1, max_value=size))
        i = data.draw(st.integers(min_value=0, max_value=n - 1))
        proof = self.chain.ledger.inclusion_proof(i, n)
        merkle.verify_inclusion(self.hashes[i], i, n, proof, merkle.root_of(self.hashes[:n]))

    @rule(data=st.data())
    def consistency(self, data: st.DataObject) -> None:
        a = data.draw(st.integers(min_value=0, max_value=len(self.checkpoints) - 1))
        b = data.draw(st.integers(min_value=a, max_value=len(self.checkpoints) - 1))
        old = open_checkpoint(self.checkpoints[a], self.chain.ledger.verifier).checkpoint
        new = open_checkpoint(self.checkpoints[b], self.chain.ledger.verifier).checkpoint
        proof = self.chain.ledger.consistency_proof(old.size, new.size)
        verify_consistent_checkpoints(
            self.checkpoints[a], self.checkpoints[b], proof, self.chain.ledger.verifier
        )

    @invariant()
    def checkpoint_matches_model(self) -> None:
        if not hasattr(self, "chain"):
            return
        latest = open_checkpoint(self.chain.ledger.latest_checkpoint(), self.chain.ledger.verifier)
        assert latest.checkpoint.size == len(self.hashes) == self.chain.ledger.size
        assert latest.checkpoint.root == merkle.root_of(self.hashes)

    def teardown(self) -> None:
        if hasattr(self, "chain"):
            try:
                report = verify_database(
                    self.chain.url, operator_vkey=self.chain.ledger.verifier.vkey
                )
                assert report.ok
                assert report.records_checked == len(self.hashes)
                for _sub, receipt in self.submitted:
                    receipt.verify(self.chain.ledger.verifier)
            finally:
                self.chain.ledger.close()
                self.tmp.cleanup()


LedgerMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase
