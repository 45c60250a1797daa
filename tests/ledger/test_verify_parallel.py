"""The worker-process path of verification (``ledger._verify_worker``) finds exactly what a
serial audit finds: every tampering case, from the database (workers read the SQLite file
themselves) and from an export (the auditor sends them the lines), with tiny jobs so that
many are in flight and chunk boundaries fall everywhere; records signed by keys a worker has
not been told about yet; a worker that fails; and the raw SQLite reader the workers use."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.verify as verify
from ledger import merkle
from ledger._verify_worker import verify_pending
from ledger.auditor_state import NonceSet
from ledger.errors import ChainLinkError, RecordRuleError, SignatureError, StorageError
from ledger.export import export_ledger
from ledger.keys import PublicKey
from ledger.state import Kind
from ledger.statement import Record, Statement
from ledger.storage import models
from ledger.storage.sqlite_reader import NODE_SHIFT, SqliteLogReader
from ledger.verify import (
    AuditReport,
    audit_database,
    audit_export,
    audit_incremental,
    open_database_source,
    verify_database,
    verify_export,
)
from tests.factory import Chain
from tests.ledger.tamper import forge_tail, leaf, raw, set_leaf
from tests.ledger.test_verify_tamper import CASES, TARGET, change_signature

Summary = tuple[object, ...]


@pytest.fixture
def busy(sqlite_chain: Chain) -> Chain:
    """The standard chain with 40 sale reports in batches (several checkpoints)."""
    for _ in range(4):
        sqlite_chain.ledger.append(sqlite_chain.sale("mill", 10), now=sqlite_chain.tick())
    return sqlite_chain


@pytest.fixture(autouse=True)
def tiny_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs of a few records: dozens of them, four in flight, boundaries everywhere."""
    monkeypatch.setattr(verify, "CHUNK", 5)
    monkeypatch.setattr(verify, "_FIRST_JOB", 3)


def summary(report: AuditReport) -> Summary:
    return (
        [(type(f), f.seq, f.expected, f.observed, f.message) for f in report.findings],
        report.root,
        report.size,
        report.records_checked,
        report.checkpoints_checked,
        report.latest_checkpoint,
        report.origin,
    )


def export(chain: Chain, path: Path) -> Path:
    with path.open("wb") as out:
        export_ledger(chain.ledger, out)
    return path


def test_untampered_ledger_verifies_with_workers(busy: Chain, tmp_path: Path) -> None:
    vkey = busy.ledger.verifier.vkey
    report = verify_database(busy.url, operator_vkey=vkey, parallel=True)
    assert report.ok
    assert report.records_checked == busy.ledger.size
    assert len(report.workers_peak_rss_kb) == verify.WORKERS
    assert summary(report) == summary(verify_database(busy.url, parallel=False))
    path = export(busy, tmp_path / "export.jsonl")
    assert verify_export(path, operator_vkey=vkey, parallel=True).ok


@pytest.mark.parametrize("case", list(CASES))
def test_workers_find_each_tampering_at_its_seq(busy: Chain, case: str) -> None:
    tamper, error = CASES[case]
    seq = tamper(busy)
    serial = audit_database(busy.url, parallel=False)
    parallel = audit_database(busy.url, parallel=True)
    assert parallel.findings
    assert isinstance(parallel.findings[0], error)
    assert parallel.findings[0].seq == seq
    assert summary(parallel) == summary(serial)
    with pytest.raises(error) as info:
        verify_database(busy.url, parallel=True)
    assert info.value.seq == seq


@pytest.mark.parametrize("case", list(CASES))
def test_workers_audit_a_tampered_export_like_a_serial_audit(
    busy: Chain, case: str, tmp_path: Path
) -> None:
    tamper, _error = CASES[case]
    tamper(busy)
    path = export(busy, tmp_path / "export.jsonl")
    serial = audit_export(path, parallel=False)
    parallel = audit_export(path, parallel=True)
    assert summary(parallel) == summary(serial)


def test_export_lines_that_do_not_parse_are_findings(busy: Chain, tmp_path: Path) -> None:
    path = export(busy, tmp_path / "export.jsonl")
    lines = path.read_bytes().split(b"\n")
    index = next(i for i, line in enumerate(lines) if line.endswith(b',"seq":%d}' % TARGET))
    lines[index] = b'{"entry_hash": not json'
    path.write_bytes(b"\n".join(lines))
    for parallel in (False, True):
        report = audit_export(path, parallel=parallel)
        first = report.findings[0]
        assert isinstance(first, RecordRuleError)
        assert (first.seq, "export line is not valid JSON" in first.message) == (TARGET, True)
    assert summary(audit_export(path, parallel=True)) == summary(audit_export(path, parallel=False))


def test_a_statement_issued_in_the_future_is_judged_from_its_header(busy: Chain) -> None:
    """Sale reports reach the rules as elided statements (header only): the clock-skew rule
    must still see issued_at, and name it."""
    busy.tick(3600)
    early = busy.sale("mill")[0]
    busy.clock -= timedelta(seconds=3600)
    seq = forge_tail(busy, early)  # recorded one second after the last record
    for parallel in (False, True):
        report = audit_database(busy.url, parallel=parallel)
        assert [type(f) for f in report.findings] == [RecordRuleError]
        assert report.findings[0].seq == seq
        assert "2026-11-22T11:" in report.findings[0].message  # the issued_at it names


def test_records_signed_by_keys_a_worker_has_not_seen_yet(
    sqlite_chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A participant registered in one job signs records of the next jobs, which went to the
    other worker before the registration was judged: the auditor checks those signatures
    itself, and a bad one among them is still found at its seq."""
    chain = sqlite_chain
    for name in ("late-a", "late-b"):
        chain.register(name, "supplier")
        chain.ledger.append(chain.sale(name, 12), now=chain.tick())
    target = chain.ledger.size - 3  # signed by late-b, registered a few records earlier
    with raw(chain) as conn:
        data = leaf(conn, target)
        at = data.index(b'"signature":"') + len(b'"signature":"') + 5
        flipped = b"B" if data[at : at + 1] != b"B" else b"C"
        set_leaf(conn, target, data[:at] + flipped + data[at + 1 :])
    checked: list[bool] = []

    def counting(key: PublicKey, signature: bytes, canonical: bytes) -> bool:
        checked.append(verify_pending(key, signature, canonical))
        return checked[-1]

    monkeypatch.setattr(verify, "verify_pending", counting)
    parallel = audit_database(chain.url, parallel=True)
    assert checked  # the path under test was taken
    serial = audit_database(chain.url, parallel=False)
    assert summary(parallel) == summary(serial)
    assert {type(f) for f in parallel.findings} == {ChainLinkError, SignatureError}
    assert {f.seq for f in parallel.findings} == {target}


def test_incremental_audits_with_workers_match_serial_ones(busy: Chain) -> None:
    first = audit_incremental(
        open_database_source(busy.url), operator_vkey=None, state=None, nonce_salt=b"s" * 16
    )
    assert first.state is not None
    busy.ledger.append(busy.sale("farm-a", 12), now=busy.tick())
    change_signature(busy)  # TARGET is before the resume point: not read again
    busy.ledger.append(busy.sale("mill", 3), now=busy.tick())
    results = [
        audit_incremental(
            open_database_source(busy.url, start=first.state.size),
            operator_vkey=None,
            state=first.state,
            nonce_salt=b"s" * 16,
            parallel=parallel,
        )
        for parallel in (False, True)
    ]
    serial, parallel = results
    assert serial.report.ok
    assert summary(parallel.report) == summary(serial.report)
    assert parallel.state is not None
    assert serial.state is not None
    assert (parallel.state.size, parallel.state.checkpoint) == (
        serial.state.size,
        serial.state.checkpoint,
    )


def test_a_failing_worker_stops_the_audit(busy: Chain, tmp_path: Path) -> None:
    empty = tmp_path / "not-a-ledger.db"
    sqlite3.connect(empty).close()
    source = open_database_source(busy.url)
    source.sqlite_file = str(empty)
    try:
        with pytest.raises(StorageError, match="no such table"):
            audit_incremental(
                source, operator_vkey=None, state=None, nonce_salt=b"s" * 16, parallel=True
            )
    finally:
        source.close()


# -- the pieces ---------------------------------------------------------------------------


def test_sqlite_reader_reads_what_the_store_reads(busy: Chain) -> None:
    with raw(busy) as conn:
        conn.execute("DELETE FROM records WHERE seq = ?", (7,))
        conn.execute("UPDATE records SET leaf = CAST(leaf AS TEXT) WHERE seq = ?", (9,))
        conn.execute("UPDATE records SET entry_hash = 12345 WHERE seq = ?", (11,))
        conn.execute("UPDATE tree_nodes SET hash = 'x' WHERE node = ?", (2 << NODE_SHIFT | 1,))
    size = busy.ledger.size
    reader = SqliteLogReader(busy.url.removeprefix("sqlite:///"))
    try:
        with busy.ledger.store.read() as tx:
            stored = [(r.seq, r.entry_hash, r.leaf) for r in tx.records(0, size + 5)]
            assert reader.records(0, size + 5) == stored
            assert reader.records(5, 12) == [row for row in stored if 5 <= row[0] < 12]
            for start, end in ((0, 1), (0, size), (3, 17), (8, 9), (16, 32), (5, size)):
                assert reader.nodes_completed_between(start, end) == tx.nodes_completed_between(
                    start, end
                )
    finally:
        reader.close()
    assert NODE_SHIFT == models.NODE_SHIFT


def test_statements_rebuilt_from_facts_equal_the_parsed_ones(busy: Chain) -> None:
    record = busy.ledger.record(TARGET)
    assert record is not None
    statement = record.statement
    again = Statement.from_canonical(statement.canonical)
    assert (again.document, again.canonical, again.issued_at) == (
        statement.document,
        statement.canonical,
        statement.issued_at,
    )
    header = Statement.elided(
        statement.ledger,
        statement.kind,
        statement.author,
        statement.key,
        statement.nonce,
        str(statement.document["issued_at"]),
        statement.issued_at_us,
    )
    assert header.issued_at == statement.issued_at
    assert (header.ledger, header.kind, header.author, header.key, header.nonce) == (
        statement.ledger,
        Kind.SALE_REPORT,
        statement.author,
        statement.key,
        statement.nonce,
    )
    assert Record.from_leaf(record.leaf).entry_hash == merkle.leaf_hash(record.leaf)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=3000))
def test_digest_table_is_a_set(digests: list[int]) -> None:
    table = verify._DigestTable()
    seen: set[int] = set()
    for digest in digests + digests[:10]:
        assert (digest in table) == (digest in seen)
        table.add(digest)
        seen.add(digest)
    assert len(table) == len(seen)
    assert 0 not in table or 0 in seen


def test_incremental_replay_digests_stay_persistable() -> None:
    """Incremental audits keep their salted ``NonceSet`` (it is saved with the state)."""
    auditor = verify._Auditor(AuditReport(), None, None, False, nonce_salt=b"s" * 16)
    assert isinstance(auditor.nonces, NonceSet)
    assert auditor.salt == b"s" * 16
