"""Appending: receipts, replays, batches, group commit and every rejection path. Each
rejection asserts that nothing was written."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.errors import (
    ConflictError,
    DuplicateNonceError,
    KeyNotActiveError,
    LedgerError,
    MalformedStatementError,
    SignatureRejectedError,
    StorageError,
    UnauthorizedKindError,
    UnknownKeyError,
    WrongLedgerError,
)
from ledger.keys import PrivateKey
from ledger.log import AppendResult, Ledger
from ledger.note import open_checkpoint
from ledger.state import Kind
from ledger.statement import Statement, Submission, prove_possession, sign_statement
from ledger.verify import verify_database
from tests.factory import ORIGIN, Chain, key_for


def _unchanged(chain: Chain, size: int) -> None:
    assert chain.ledger.size == size
    latest = open_checkpoint(chain.ledger.latest_checkpoint(), chain.ledger.verifier)
    assert latest.checkpoint.size == size


def test_genesis_names_origin_and_operator_key(chain: Chain) -> None:
    genesis = chain.ledger.record(0)
    assert genesis is not None
    assert genesis.prev == "0" * 64
    assert genesis.statement.kind == Kind.GENESIS
    assert genesis.statement.body["origin"] == ORIGIN
    assert genesis.statement.body["public_key"] == chain.operator.public_key.b64
    assert chain.ledger.verifier.vkey.startswith(ORIGIN + "+")


def test_receipt_verifies_with_only_the_vkey(chain: Chain) -> None:
    [sub] = chain.sale("mill")
    result = chain.ledger.submit(sub, now=chain.tick())
    assert result.created
    record = chain.ledger.record(result.receipt.seq)
    assert record is not None
    assert record.submission == sub
    signed = result.receipt.verify(chain.ledger.verifier, leaf=record.leaf)
    assert signed.checkpoint.size == result.receipt.seq + 1


def test_chain_links_each_record_to_the_previous(chain: Chain) -> None:
    chain.ledger.append(chain.sale("mill", 5), now=chain.tick())
    records = [chain.ledger.record(s) for s in range(chain.ledger.size)]
    for before, after in itertools.pairwise(records):
        assert before is not None
        assert after is not None
        assert after.prev == before.entry_hash.hex()
        assert after.recorded_at >= before.recorded_at


def test_replay_returns_original_receipt_and_writes_nothing(chain: Chain) -> None:
    [sub] = chain.sale("mill")
    first = chain.ledger.submit(sub, now=chain.tick())
    chain.ledger.append(chain.sale("mill", 3), now=chain.tick())
    size = chain.ledger.size
    again = chain.ledger.submit(sub, now=chain.tick())
    assert not again.created
    assert again.receipt == first.receipt
    _unchanged(chain, size)


def test_replay_inside_one_batch_records_once(chain: Chain) -> None:
    [sub] = chain.sale("mill")
    size = chain.ledger.size
    results = chain.ledger.append([sub, sub], now=chain.tick())
    assert results[0].receipt == results[1].receipt
    assert chain.ledger.size == size + 1


def test_same_nonce_different_statement_is_refused(chain: Chain) -> None:
    chain.ledger.submit(
        chain.statement("mill", Kind.SALE_REPORT, {"q": "1"}, nonce="fixed-nonce"), now=chain.tick()
    )
    size = chain.ledger.size
    other = chain.statement("mill", Kind.SALE_REPORT, {"q": "2"}, nonce="fixed-nonce")
    with pytest.raises(DuplicateNonceError, match="fixed-nonce"):
        chain.ledger.submit(other, now=chain.tick())
    _unchanged(chain, size)


def test_batch_is_all_or_nothing(chain: Chain) -> None:
    size = chain.ledger.size
    good = chain.sale("mill", 3)
    bad = chain.statement("farm-a", Kind.SETTLEMENT, {})
    with pytest.raises(UnauthorizedKindError) as info:
        chain.ledger.append([*good, bad], now=chain.tick())
    assert info.value.index == 3
    _unchanged(chain, size)
    assert len(chain.ledger.append(good, now=chain.tick())) == 3


def _tampered_signature(sub: Submission) -> Submission:
    return Submission(sub.statement, bytes([sub.signature[0] ^ 1]) + sub.signature[1:])


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("bad signature", SignatureRejectedError),
        ("unregistered author", UnknownKeyError),
        ("key of someone else", UnknownKeyError),
        ("wrong ledger", WrongLedgerError),
        ("auditor signs a trade", UnauthorizedKindError),
        ("supplier registers someone", UnauthorizedKindError),
        ("unknown kind", MalformedStatementError),
        ("far-future issued_at", MalformedStatementError),
        ("second genesis", ConflictError),
    ],
)
def test_rejections_write_nothing(chain: Chain, case: str, error: type[LedgerError]) -> None:
    size = chain.ledger.size
    [sale] = chain.sale("mill")
    stranger = PrivateKey.from_seed(bytes(32))
    subs = {
        "bad signature": _tampered_signature(sale),
        "unregistered author": chain.statement("ghost", Kind.SALE_REPORT, {}, key=stranger),
        "key of someone else": chain.statement(
            "mill", Kind.SALE_REPORT, {}, key=chain.keys["farm-a"]
        ),
        "wrong ledger": chain.statement("mill", Kind.SALE_REPORT, {}, ledger="other.example/log"),
        "auditor signs a trade": chain.statement("auditor", Kind.SALE_REPORT, {}),
        "supplier registers someone": chain.statement(
            "farm-a", Kind.REGISTER, chain.register_body("farm-b", ["supplier"])
        ),
        "unknown kind": chain.statement("mill", "sale.refund", {}),
        "second genesis": chain.statement(
            "operator",
            Kind.GENESIS,
            {
                "origin": ORIGIN,
                "operator": "operator",
                "public_key": chain.operator.public_key.b64,
                "created_at": "2026-11-22T10:00:00Z",
            },
        ),
    }
    now = chain.tick()
    if case == "far-future issued_at":
        chain.tick(3600)
        sub = chain.sale("mill")[0]
    else:
        sub = subs[case]
    with pytest.raises(error):
        chain.ledger.submit(sub, now=now)
    _unchanged(chain, size)


def test_registration_needs_proof_of_possession(chain: Chain) -> None:
    size = chain.ledger.size
    body = chain.register_body("bakery", ["buyer"])
    body["proof_of_possession"] = prove_possession(ORIGIN, "someone-else", key_for("bakery"))
    with pytest.raises(SignatureRejectedError, match="proof_of_possession"):
        chain.ledger.submit(chain.statement("operator", Kind.REGISTER, body), now=chain.tick())
    _unchanged(chain, size)


def test_participant_cannot_be_registered_twice(chain: Chain) -> None:
    size = chain.ledger.size
    with pytest.raises(ConflictError, match="already registered"):
        chain.register("mill", "buyer")
    _unchanged(chain, size)


def test_rotated_out_key_signs_nothing_after_rotation(chain: Chain) -> None:
    old, new = chain.keys["mill"], key_for("mill-2")
    rotate = chain.statement(
        "mill",
        Kind.KEY_ROTATE,
        {
            "new_public_key": new.public_key.b64,
            "proof_of_possession": prove_possession(ORIGIN, "mill", new),
        },
    )
    chain.ledger.submit(rotate, now=chain.tick())
    size = chain.ledger.size
    with pytest.raises(KeyNotActiveError, match="rotated"):
        chain.ledger.submit(
            chain.statement("mill", Kind.SALE_REPORT, {}, key=old), now=chain.tick()
        )
    _unchanged(chain, size)
    chain.keys["mill"] = new
    assert chain.ledger.submit(chain.sale("mill")[0], now=chain.tick()).created


def test_revoked_key_signs_nothing_from_the_next_record(chain: Chain) -> None:
    revoke = chain.statement(
        "operator",
        Kind.KEY_REVOKE,
        {
            "participant": "farm-a",
            "key": chain.keys["farm-a"].public_key.key_id,
            "reason": "laptop stolen",
        },
    )
    chain.ledger.submit(revoke, now=chain.tick())
    size = chain.ledger.size
    with pytest.raises(KeyNotActiveError, match="revoked"):
        chain.ledger.submit(chain.sale("farm-a")[0], now=chain.tick())
    _unchanged(chain, size)
    with chain.ledger.store.read() as tx:
        keys = {k["key_id"]: k for k in tx.key_rows("farm-a")}
    assert keys[chain.keys["farm-a"].public_key.key_id]["retired_how"] == "revoked"


def test_only_self_or_operator_may_revoke(chain: Chain) -> None:
    size = chain.ledger.size
    revoke = chain.statement(
        "mill",
        Kind.KEY_REVOKE,
        {"participant": "farm-a", "key": chain.keys["farm-a"].public_key.key_id, "reason": "spite"},
    )
    with pytest.raises(UnauthorizedKindError):
        chain.ledger.submit(revoke, now=chain.tick())
    _unchanged(chain, size)


def test_register_then_use_in_one_batch(chain: Chain) -> None:
    register = chain.statement("operator", Kind.REGISTER, chain.register_body("bakery", ["buyer"]))
    sale = chain.statement("bakery", Kind.SALE_REPORT, {})
    results = chain.ledger.append([register, sale], now=chain.tick())
    assert [r.receipt.seq for r in results] == [chain.ledger.size - 2, chain.ledger.size - 1]


def test_group_commit_batches_concurrent_submitters(chain: Chain) -> None:
    subs = chain.sale("mill", 200)
    now = chain.tick()
    results: list[AppendResult | None] = [None] * len(subs)
    start = chain.ledger.size
    barrier = threading.Barrier(8)

    def worker(k: int) -> None:
        barrier.wait()
        for i in range(k, len(subs), 8):
            results[i] = chain.ledger.submit(subs[i], now=now)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = sorted(r.receipt.seq for r in results if r is not None)
    assert seqs == list(range(start, start + 200))
    with chain.ledger.store.read() as tx:
        new_checkpoints = [c for c in tx.checkpoints() if c[0] > start]
    assert len(new_checkpoints) < 200  # at least some statements shared a commit
    for r in results:
        assert r is not None
        r.receipt.verify(chain.ledger.verifier)


def test_second_process_appends_to_the_same_ledger(chain: Chain, tmp_path: Path) -> None:
    other = Ledger.open(chain.url, operator_key=chain.operator)
    try:
        chain.ledger.submit(chain.sale("mill")[0], now=chain.tick())
        other.submit(chain.sale("mill")[0], now=chain.tick())
        chain.register("bakery", "buyer")
        # `other` catches up on the registration made through `chain.ledger`.
        assert other.submit(
            chain.statement("bakery", Kind.SALE_REPORT, {}), now=chain.tick()
        ).created
    finally:
        other.close()
    records = [chain.ledger.record(s) for s in range(chain.ledger.size)]
    assert all(r is not None for r in records)


def test_ledger_verifies_on_each_backend(chain: Chain) -> None:
    chain.ledger.append(chain.sale("mill", 30), now=chain.tick())
    chain.ledger.submit(chain.sale("farm-a")[0], now=chain.tick())
    report = verify_database(chain.url, operator_vkey=chain.ledger.verifier.vkey)
    assert report.ok, report.findings
    assert report.records_checked == chain.ledger.size
    assert report.root == chain.ledger.root(chain.ledger.size)


def test_log_tables_refuse_update_and_delete(chain: Chain) -> None:
    for sql in (
        "UPDATE records SET kind = 'x' WHERE seq = 1",
        "DELETE FROM records WHERE seq = 1",
        "DELETE FROM tree_nodes",
        "UPDATE checkpoints SET note = 'x'",
    ):
        with pytest.raises(StorageError, match="append-only"), chain.ledger.store.write() as tx:
            tx.conn.execute(text(sql))
    assert verify_database(chain.url).ok


def test_read_only_ledger_refuses_to_append(chain: Chain) -> None:
    reader = Ledger.open(chain.url)
    try:
        with pytest.raises(LedgerError, match="read-only"):
            reader.submit(chain.sale("mill")[0], now=chain.tick())
    finally:
        reader.close()


def test_wrong_operator_key_is_refused(chain: Chain) -> None:
    with pytest.raises(LedgerError, match="does not match the genesis"):
        Ledger.open(chain.url, operator_key=PrivateKey.from_seed(bytes(32)))


def test_statement_build_uses_utc_z_timestamps(chain: Chain) -> None:
    sub = chain.sale("mill")[0]
    assert str(sub.statement.document["issued_at"]).endswith("Z")
    assert isinstance(sub.statement, Statement)
    assert sign_statement(sub.statement, chain.keys["mill"]) == sub
