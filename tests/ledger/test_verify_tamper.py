"""Every kind of tampering named in the issue is found at its exact seq, by ``verify_*``
(first failure) and by ``audit_*`` (first finding), from the database and from an export."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.canonical import canonical_bytes
from ledger.errors import (
    ChainLinkError,
    CheckpointError,
    ForkError,
    RecordRuleError,
    SignatureError,
    VerificationError,
)
from ledger.export import export_ledger
from ledger.keys import b64encode
from ledger.state import Kind
from ledger.statement import Record, prove_possession
from ledger.verify import audit_database, audit_export, verify_database, verify_export
from tests.factory import ORIGIN, Chain, key_for
from tests.ledger.tamper import forge_tail, leaf, raw, resign_checkpoint, set_leaf


@pytest.fixture
def busy(sqlite_chain: Chain) -> Chain:
    """The standard SQLite chain with 40 sale reports appended in batches (several
    checkpoints). The tampering below edits the database file directly."""
    for _ in range(4):
        sqlite_chain.ledger.append(sqlite_chain.sale("mill", 10), now=sqlite_chain.tick())
    return sqlite_chain


TARGET = 20


def change_statement_byte(chain: Chain) -> int:
    with raw(chain) as conn:
        data = leaf(conn, TARGET)
        assert b'"quantity":"1"' in data
        set_leaf(conn, TARGET, data.replace(b'"quantity":"1"', b'"quantity":"9"'))
    return TARGET


def change_signature(chain: Chain) -> int:
    with raw(chain) as conn:
        data = leaf(conn, TARGET)
        at = data.index(b'"signature":"') + len(b'"signature":"') + 5
        flipped = b"B" if data[at : at + 1] != b"B" else b"C"
        set_leaf(conn, TARGET, data[:at] + flipped + data[at + 1 :])
    return TARGET


def swap_records(chain: Chain) -> int:
    with raw(chain) as conn:
        a = conn.execute("SELECT leaf, entry_hash FROM records WHERE seq = ?", (TARGET,)).fetchone()
        b = conn.execute(
            "SELECT leaf, entry_hash FROM records WHERE seq = ?", (TARGET + 1,)
        ).fetchone()
        conn.execute("UPDATE records SET leaf = ?, entry_hash = ? WHERE seq = ?", (*b, TARGET))
        conn.execute("UPDATE records SET leaf = ?, entry_hash = ? WHERE seq = ?", (*a, TARGET + 1))
    return TARGET


def delete_record(chain: Chain) -> int:
    with raw(chain) as conn:
        conn.execute("DELETE FROM records WHERE seq = ?", (TARGET,))
    return TARGET


def insert_record(chain: Chain) -> int:
    extra = chain.sale("mill")[0]
    from ledger.statement import Record

    with raw(chain) as conn:
        prev = bytes(
            conn.execute("SELECT entry_hash FROM records WHERE seq = ?", (TARGET - 1,)).fetchone()[
                0
            ]
        )
        top = conn.execute("SELECT max(seq) FROM records").fetchone()[0]
        for seq in range(top, TARGET - 1, -1):
            conn.execute("UPDATE records SET seq = ? WHERE seq = ?", (seq + 1, seq))
        record = Record.create(TARGET, prev.hex(), "2026-11-22T10:00:30.000000Z", extra)
        s = extra.statement
        conn.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
            (TARGET, record.entry_hash, record.leaf, s.kind, s.author, s.nonce, s.key),
        )
    return TARGET


def truncate_tail(chain: Chain) -> int:
    keep = chain.ledger.size - 5
    with raw(chain) as conn:
        conn.execute("DELETE FROM records WHERE seq >= ?", (keep,))
    return keep


def use_revoked_key(chain: Chain) -> int:
    revoke = chain.statement(
        "farm-a",
        Kind.KEY_REVOKE,
        {"participant": "farm-a", "key": chain.keys["farm-a"].public_key.key_id, "reason": "lost"},
    )
    chain.ledger.submit(revoke, now=chain.tick())
    return forge_tail(chain, chain.sale("farm-a")[0])


def use_rotated_out_key(chain: Chain) -> int:
    new = key_for("mill-next")
    rotate = chain.statement(
        "mill",
        Kind.KEY_ROTATE,
        {
            "new_public_key": new.public_key.b64,
            "proof_of_possession": prove_possession(ORIGIN, "mill", new),
        },
    )
    chain.ledger.submit(rotate, now=chain.tick())
    return forge_tail(chain, chain.sale("mill")[0])


def author_not_allowed(chain: Chain) -> int:
    return forge_tail(chain, chain.statement("auditor", Kind.SALE_REPORT, {"quantity": "1"}))


def checkpoint_root_mismatch(chain: Chain) -> int:
    size = chain.ledger.size
    resign_checkpoint(chain, size, hashlib.sha256(b"not the root").digest())
    return size - 1


def fork(chain: Chain) -> int:
    with chain.ledger.store.read() as tx:
        sizes = [c[0] for c in tx.checkpoints()]
    old = sizes[len(sizes) // 2]
    resign_checkpoint(chain, old, hashlib.sha256(b"another history").digest())
    return old - 1


CASES: dict[str, tuple[Callable[[Chain], int], type[VerificationError]]] = {
    "changed statement byte": (change_statement_byte, ChainLinkError),
    "changed signature": (change_signature, ChainLinkError),
    "swapped records": (swap_records, ChainLinkError),
    "deleted record": (delete_record, ChainLinkError),
    "inserted record": (insert_record, ChainLinkError),
    "truncated tail": (truncate_tail, CheckpointError),
    "revoked key": (use_revoked_key, RecordRuleError),
    "rotated-out key": (use_rotated_out_key, RecordRuleError),
    "author not allowed": (author_not_allowed, RecordRuleError),
    "checkpoint root mismatch": (checkpoint_root_mismatch, CheckpointError),
    "fork": (fork, ForkError),
}


def test_untampered_ledger_verifies(busy: Chain, tmp_path: Path) -> None:
    report = verify_database(busy.url, operator_vkey=busy.ledger.verifier.vkey)
    assert report.ok
    assert report.records_checked == busy.ledger.size
    assert report.checkpoints_checked >= 5
    path = tmp_path / "export.jsonl"
    with path.open("wb") as out:
        export_ledger(busy.ledger, out)
    assert verify_export(path, operator_vkey=busy.ledger.verifier.vkey).ok


@pytest.mark.parametrize("case", list(CASES))
def test_verify_names_the_seq(busy: Chain, case: str) -> None:
    tamper, error = CASES[case]
    seq = tamper(busy)
    with pytest.raises(error) as info:
        verify_database(busy.url)
    assert info.value.seq == seq
    report = audit_database(busy.url)
    assert not report.ok
    assert report.findings[0].seq == seq
    assert isinstance(report.findings[0], error)


def test_changed_byte_also_breaks_its_signature(busy: Chain) -> None:
    seq = change_statement_byte(busy)
    report = audit_database(busy.url)
    at_seq = [f for f in report.findings if f.seq == seq]
    assert {type(f) for f in at_seq} >= {ChainLinkError, SignatureError}
    assert all(f.seq == seq for f in report.findings)  # no cascade onto later records


def test_fork_evidence_holds_both_signed_checkpoints(busy: Chain) -> None:
    fork(busy)
    with pytest.raises(ForkError) as info:
        verify_database(busy.url)
    assert len(info.value.checkpoints) == 2
    assert all(note.startswith(ORIGIN + "\n") for note in info.value.checkpoints)


def test_wrong_trust_anchor_is_reported(busy: Chain) -> None:
    from ledger.note import Ed25519Verifier

    impostor = Ed25519Verifier(ORIGIN, key_for("impostor").public_key).vkey
    with pytest.raises(RecordRuleError) as info:
        verify_database(busy.url, operator_vkey=impostor)
    assert info.value.seq == 0


def test_export_with_changed_byte_names_the_seq(busy: Chain, tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    with path.open("wb") as out:
        export_ledger(busy.ledger, out)
    lines = path.read_bytes().split(b"\n")
    # line 0 is the header; checkpoint lines are interleaved, so find the record line.
    index = next(i for i, line in enumerate(lines) if line.endswith(b',"seq":%d}' % TARGET))
    lines[index] = lines[index].replace(b'"quantity":"1"', b'"quantity":"5"')
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ChainLinkError) as info:
        verify_export(path)
    assert info.value.seq == TARGET
    report = audit_export(path)
    assert {f.seq for f in report.findings} == {TARGET}


def test_export_missing_line_names_the_seq(busy: Chain, tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    with path.open("wb") as out:
        export_ledger(busy.ledger, out)
    lines = [
        line for line in path.read_bytes().split(b"\n") if not line.endswith(b',"seq":%d}' % TARGET)
    ]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ChainLinkError) as info:
        verify_export(path)
    assert info.value.seq == TARGET


def test_parallel_and_serial_audits_agree(busy: Chain) -> None:
    change_signature(busy)
    serial = audit_database(busy.url, parallel=False)
    parallel = audit_database(busy.url, parallel=True)
    assert [(type(f), f.seq) for f in serial.findings] == [
        (type(f), f.seq) for f in parallel.findings
    ]
    assert serial.root == parallel.root


def test_signature_still_verifies_after_b64_roundtrip(busy: Chain) -> None:
    record = busy.ledger.record(TARGET)
    assert record is not None
    assert b64encode(record.signature) in record.leaf.decode()


def test_export_with_a_replayed_statement_names_its_seq(busy: Chain, tmp_path: Path) -> None:
    """A malicious operator's export records an earlier statement a second time (to double
    a delivery): validly signed and correctly linked, but its (author, nonce) is a replay.
    The database's unique index makes this impossible to store; the auditor must still catch
    it in an export."""
    path = tmp_path / "export.jsonl"
    with path.open("wb") as out:
        export_ledger(busy.ledger, out)
    first = busy.ledger.record(TARGET)
    last = busy.ledger.record(busy.ledger.size - 1)
    assert first is not None
    assert last is not None
    seq = busy.ledger.size
    replay = Record.create(seq, last.entry_hash.hex(), last.recorded_at, first.submission)
    line = canonical_bytes(
        {"entry_hash": replay.entry_hash.hex(), "record": replay.to_json(), "seq": seq}
    )
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    lines[0] = lines[0].replace(b'"size":%d' % seq, b'"size":%d' % (seq + 1))
    path.write_bytes(b"\n".join([*lines, line]) + b"\n")
    with pytest.raises(RecordRuleError, match="replay") as info:
        verify_export(path)
    assert info.value.seq == seq
