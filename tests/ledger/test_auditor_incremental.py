"""Incremental audits from a state file, against a server (the real app, in process), a
database and an export file: a clean first run, then tampering, then a second run that reads
only the new records, finds the tampering and returns evidence.

Two kinds of tampering: rows edited behind the library's back after the first audit (found at
their own seq), and whole histories an equivocating operator re-signs (twins that share the
audited prefix, then diverge): those only a consistency proof from the saved checkpoint can
catch, and the evidence must stand on its own (``check_evidence``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.client import FairLedgerClient
from ledger import merkle
from ledger.auditor_state import StateFile
from ledger.errors import ChainLinkError, ForkError, SignatureError, VerificationError
from ledger.evidence import check_evidence
from ledger.export import export_ledger
from ledger.keys import b64encode
from ledger.log import Ledger
from ledger.note import Checkpoint, Ed25519Signer, sign_checkpoint
from ledger.state import Kind
from ledger.statement import Record, Submission, format_timestamp, sign_statement
from ledger.storage.models import node_key
from ledger.verify import (
    IncrementalAudit,
    RecordSource,
    audit_incremental,
    open_database_source,
    open_export_source,
)
from tests.conftest import PARTIES
from tests.factory import ORIGIN, T0, Chain, key_for
from tests.ledger.forks import BASE, replay, serve, twin
from tests.ledger.tamper import raw
from tests.ledger.test_verify_tamper import (
    TARGET,
    change_statement_byte,
    delete_record,
    insert_record,
    swap_records,
)

KINDS = ("url", "database", "export")
SALT = b"incremental-salt"


@dataclass
class Auditor:
    """An auditor with a state file, auditing whatever ``chain`` serves."""

    home: Path
    vkey: str

    @property
    def store(self) -> StateFile:
        return StateFile(self.home / "state.json")

    def run(self, kind: str, chain: Chain) -> IncrementalAudit:
        saved = self.store.load(self.vkey)
        start = saved.size if saved is not None else 0

        def audit(source: RecordSource) -> IncrementalAudit:
            try:
                return audit_incremental(
                    source, operator_vkey=self.vkey, state=saved, nonce_salt=SALT
                )
            finally:
                source.close()

        if kind == "url":
            with serve(chain, self.home) as http:
                client = FairLedgerClient(BASE, http=http)
                result = audit(client.audit_source(start, client.checkpoint_text()))
        elif kind == "database":
            result = audit(open_database_source(chain.url, start=start))
        else:
            path = self.home / f"export-{chain.ledger.size}.jsonl"
            with path.open("wb") as out:
                export_ledger(chain.ledger, out)
            result = audit(open_export_source(path, start=start))
        if result.state is not None and result.report.ok:
            self.store.save(result.state)
        return result


@pytest.fixture
def auditor(tmp_path: Path) -> Auditor:
    home = tmp_path / "auditor"
    home.mkdir()
    return Auditor(home, twin(tmp_path / "vkey.db").ledger.verifier.vkey)


def assert_evidence(result: IncrementalAudit, vkey: str, *kinds: str) -> str:
    evidence = result.evidence
    assert evidence is not None
    assert evidence["kind"] in kinds, evidence["summary"]
    return check_evidence(evidence, vkey)


# -- clean runs --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_second_run_checks_only_the_new_records(
    kind: str, sqlite_chain: Chain, auditor: Auditor
) -> None:
    replay(sqlite_chain, sqlite_chain.sale("mill", 20))
    first = auditor.run(kind, sqlite_chain)
    assert first.report.ok, first.report.findings
    assert (first.report.start, first.report.records_checked) == (0, 24)
    replay(sqlite_chain, sqlite_chain.sale("farm-a", 15), batch=5)
    second = auditor.run(kind, sqlite_chain)
    assert second.report.ok, second.report.findings
    assert (second.report.start, second.report.records_checked, second.report.size) == (24, 15, 39)
    assert second.report.verified_checkpoint is not None
    assert second.evidence is None
    saved = auditor.store.load(auditor.vkey)
    assert saved is not None
    assert saved.size == 39
    assert saved.root == sqlite_chain.ledger.root(39)
    third = auditor.run(kind, sqlite_chain)
    assert third.report.ok
    assert third.report.records_checked == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_replay_across_runs_is_found(kind: str, sqlite_chain: Chain, auditor: Auditor) -> None:
    """The (author, nonce) digests saved by the first run catch a replay in the second."""
    sales = sqlite_chain.sale("mill", 10)
    replay(sqlite_chain, sales)
    assert auditor.run(kind, sqlite_chain).report.ok
    sqlite_chain.ledger.append(sqlite_chain.sale("mill", 2), now=sqlite_chain.tick())
    seq = sqlite_chain.ledger.size
    forge_replay(sqlite_chain, sales[3])
    result = auditor.run(kind, sqlite_chain)
    assert not result.report.ok
    assert result.report.findings[0].seq == seq
    assert "replay" in result.report.findings[0].message
    assert_evidence(result, auditor.vkey, "inconsistent-records")


def forge_replay(chain: Chain, submission: Submission) -> None:
    """Record ``submission`` a second time, chained, with tree nodes and an operator-signed
    checkpoint (what a buggy or dishonest appender would do). The indexed nonce column gets
    another value so the database's own uniqueness check lets it in; the leaf is the replay."""
    size = chain.ledger.size
    last = chain.ledger.record(size - 1)
    assert last is not None
    record = Record.create(size, last.entry_hash.hex(), format_timestamp(chain.tick()), submission)
    with chain.ledger.store.read() as tx:
        tree = merkle.CompactRange.from_reader(size, tx.nodes)
    nodes = tree.append(record.entry_hash)
    note = sign_checkpoint(
        Checkpoint(ORIGIN, size + 1, tree.root()), Ed25519Signer(ORIGIN, chain.operator)
    )
    s = submission.statement
    with raw(chain) as conn:
        conn.execute(
            "INSERT INTO records (seq, entry_hash, leaf, kind, author, nonce, key_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (size, record.entry_hash, record.leaf, s.kind, s.author, "not-" + s.nonce, s.key),
        )
        conn.executemany(
            "INSERT INTO tree_nodes (node, hash) VALUES (?, ?)",
            [(node_key(level, idx), digest) for level, idx, digest in nodes],
        )
        conn.execute(
            "INSERT INTO checkpoints (size, root, note) VALUES (?, ?, ?)",
            (size + 1, tree.root(), note),
        )


# -- rows edited after the first audit, in the new range --------------------------------------


def resign_record(chain: Chain) -> int:
    """Record TARGET's statement, signed by a key that is not its author's."""
    record = chain.ledger.record(TARGET)
    assert record is not None
    forged = sign_statement(record.statement, key_for("impostor"))
    replaced = Record.create(TARGET, record.prev, record.recorded_at, forged)
    assert b64encode(forged.signature) in replaced.leaf.decode()
    with raw(chain) as conn:
        conn.execute(
            "UPDATE records SET leaf = ?, entry_hash = ? WHERE seq = ?",
            (replaced.leaf, replaced.entry_hash, TARGET),
        )
    return TARGET


def truncate_records(chain: Chain) -> int:
    keep = chain.ledger.size - 5
    with raw(chain) as conn:
        conn.execute("DELETE FROM records WHERE seq >= ?", (keep,))
    return keep


ROW_CASES: dict[str, tuple[Callable[[Chain], int], type[VerificationError], tuple[str, ...]]] = {
    "edited": (change_statement_byte, ChainLinkError, KINDS),
    "reordered": (swap_records, ChainLinkError, KINDS),
    "deleted": (delete_record, ChainLinkError, KINDS),
    "inserted": (insert_record, ChainLinkError, KINDS),
    "re-signed with another key": (resign_record, SignatureError, KINDS),
    # An export of a truncated ledger is a valid shorter export: only the server and the
    # database still hold the checkpoint that covers the lost tail.
    "truncated": (truncate_records, VerificationError, ("url", "database")),
}


@pytest.mark.parametrize(
    ("case", "kind"), [(c, k) for c, (_f, _e, kinds) in ROW_CASES.items() for k in kinds]
)
def test_tampered_new_rows_are_found_at_their_seq(
    case: str, kind: str, sqlite_chain: Chain, auditor: Auditor
) -> None:
    tamper, error, _kinds = ROW_CASES[case]
    replay(sqlite_chain, sqlite_chain.sale("mill", 10))
    first = auditor.run(kind, sqlite_chain)
    assert first.report.ok
    assert first.report.size == 14 < TARGET
    replay(sqlite_chain, sqlite_chain.sale("mill", 30))
    seq = tamper(sqlite_chain)
    second = auditor.run(kind, sqlite_chain)
    assert not second.report.ok
    assert second.report.start == 14
    assert isinstance(second.report.findings[0], error)
    assert second.report.findings[0].seq == seq
    assert_evidence(second, auditor.vkey, "inconsistent-records", "fork", "no-proof")
    # The state is not advanced past a failure: the next run still starts at 14.
    saved = auditor.store.load(auditor.vkey)
    assert saved is not None
    assert saved.size == 14


# -- histories the operator re-signed ----------------------------------------------------------


def impostor_twin(target: Path) -> Chain:
    """A ledger with the same origin and participants, signed by another operator key."""
    operator = key_for("impostor-operator")
    ledger = Ledger.create(
        f"sqlite:///{target}", origin=ORIGIN, operator_id="operator", operator_key=operator, now=T0
    )
    chain = Chain(ledger, f"sqlite:///{target}", {"operator": operator})
    for name, roles in PARTIES:
        chain.register(name, *roles)
    return chain


@dataclass
class History:
    """The audited ledger A (24 records: two batches of 10 sales after the registrations) and
    the statements an operator could use to present another history."""

    a: Chain
    first: list[Submission]
    second: list[Submission]
    later: list[Submission]
    edited: Submission
    extra: Submission


@pytest.fixture
def history(tmp_path: Path) -> History:
    a = twin(tmp_path / "a.db")
    first, second = a.sale("mill", 10), a.sale("farm-a", 10)
    replay(a, first + second)
    later = a.sale("mill", 10)
    target = first[5].statement
    edited = a.statement(
        target.author, target.kind, {"lot": "LOT-5", "quantity": "900"}, nonce=target.nonce
    )
    extra = a.statement("mill", Kind.SALE_REPORT, {"lot": "LOT-X", "quantity": "1"})
    return History(a, first, second, later, edited, extra)


def _rewrite(tmp: Path, h: History, statements: list[Submission]) -> Chain:
    b = twin(tmp / "b.db")
    replay(b, statements)
    return b


def history_edited(tmp: Path, h: History) -> Chain:
    first = [*h.first[:5], h.edited, *h.first[6:]]
    return _rewrite(tmp, h, first + h.second + h.later)


def history_deleted(tmp: Path, h: History) -> Chain:
    return _rewrite(tmp, h, h.first[:5] + h.first[6:] + h.second + h.later)


def history_inserted(tmp: Path, h: History) -> Chain:
    return _rewrite(tmp, h, [*h.first[:5], h.extra, *h.first[5:], *h.second, *h.later])


def history_reordered(tmp: Path, h: History) -> Chain:
    first = list(h.first)
    first[5], first[6] = first[6], first[5]
    return _rewrite(tmp, h, first + h.second + h.later)


def forked_checkpoint(tmp: Path, h: History) -> Chain:
    """Another history of exactly the audited size: two signed roots for size 24."""
    return _rewrite(tmp, h, h.first + h.later)


def rolled_back(tmp: Path, h: History) -> Chain:
    """The ledger as it was at size 14: an older checkpoint presented as the latest."""
    return _rewrite(tmp, h, h.first)


def resigned_by_another_key(tmp: Path, h: History) -> Chain:
    b = impostor_twin(tmp / "b.db")
    replay(b, h.first + h.second + h.later)
    return b


FORK = ("fork",)
HISTORY_CASES: dict[str, tuple[Callable[[Path, History], Chain], dict[str, tuple[str, ...]]]] = {
    # kind of evidence expected per source; an export carries no consistency proof, so a
    # rewritten history shows there as records that do not extend the saved tree.
    "history edited": (
        history_edited,
        {"url": FORK, "database": FORK, "export": ("fork", "inconsistent-records")},
    ),
    "history deleted": (
        history_deleted,
        {"url": FORK, "database": FORK, "export": ("fork", "inconsistent-records")},
    ),
    "history inserted": (
        history_inserted,
        {"url": FORK, "database": FORK, "export": ("fork", "inconsistent-records")},
    ),
    "history reordered": (
        history_reordered,
        {"url": FORK, "database": FORK, "export": ("fork", "inconsistent-records")},
    ),
    "forked checkpoint": (forked_checkpoint, {"url": FORK, "database": FORK, "export": FORK}),
    "rolled-back checkpoint": (
        rolled_back,
        {"url": ("rollback",), "database": ("rollback",), "export": ("rollback",)},
    ),
    "re-signed with another operator key": (
        resigned_by_another_key,
        {k: ("bad-checkpoint",) for k in KINDS},
    ),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(HISTORY_CASES))
def test_rewritten_history_is_reported_with_evidence(
    case: str, kind: str, history: History, auditor: Auditor, tmp_path: Path
) -> None:
    first = auditor.run(kind, history.a)
    assert first.report.ok
    assert first.report.size == 24
    build, expected = HISTORY_CASES[case]
    presented = build(tmp_path, history)
    second = auditor.run(kind, presented)
    assert not second.report.ok
    proven = assert_evidence(second, auditor.vkey, *expected[kind])
    evidence = second.evidence
    assert evidence is not None
    assert evidence["verified_checkpoint"] == history.a.ledger.checkpoint_at(24)
    if evidence["kind"] in ("fork", "rollback"):
        assert proven.startswith(str(evidence["kind"]))
        assert any(isinstance(f, ForkError) for f in second.report.findings)
        presented_note = evidence["presented_checkpoint"]
        assert isinstance(presented_note, str)
        assert presented_note.startswith(ORIGIN + "\n")
        assert presented_note != evidence["verified_checkpoint"]
        presented_size = int(presented_note.split("\n")[1])
        if evidence["kind"] == "fork" and presented_size != 24:
            # Between two sizes only the failed consistency proof shows the fork.
            proof = evidence["consistency_proof"]
            assert isinstance(proof, dict)
            assert (proof["old_size"], proof["new_size"]) == (24, presented_size)
            assert proof["error"]
    saved = auditor.store.load(auditor.vkey)
    assert saved is not None
    assert saved.size == 24
