"""The auditor's state file: keyed by the trusted vkey, resumable, validated on load, written
atomically; its (author, nonce) sidecar is sorted, merged in one pass and never loaded whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.auditor_state import (
    FORMAT,
    SortedDigests,
    StateFile,
    StateFileError,
    key_for_vkey,
    nonce_digest,
    write_atomic,
)
from ledger.errors import MalformedKeyError
from ledger.note import Ed25519Verifier
from ledger.verify import audit_incremental, open_database_source
from tests.factory import ORIGIN, Chain, key_for

SALT = bytes(range(16))


def first_run(chain: Chain, path: Path) -> StateFile:
    store = StateFile(path)
    source = open_database_source(chain.url)
    try:
        result = audit_incremental(
            source, operator_vkey=chain.ledger.verifier.vkey, state=None, nonce_salt=SALT
        )
    finally:
        source.close()
    assert result.report.ok
    assert result.state is not None
    store.save(result.state)
    return store


def test_state_round_trips_and_is_keyed_by_origin_and_operator_key(
    sqlite_chain: Chain, tmp_path: Path
) -> None:
    sqlite_chain.ledger.append(sqlite_chain.sale("mill", 5), now=sqlite_chain.tick())
    store = first_run(sqlite_chain, tmp_path / "state.json")
    vkey = sqlite_chain.ledger.verifier.vkey
    doc = json.loads((tmp_path / "state.json").read_text())
    assert doc["format"] == FORMAT
    key = f"{ORIGIN} {sqlite_chain.operator.public_key.key_id}"
    assert list(doc["ledgers"]) == [key] == [key_for_vkey(vkey)]
    entry = doc["ledgers"][key]
    assert entry["size"] == 9 == sqlite_chain.ledger.size
    assert entry["root"] == sqlite_chain.ledger.root(9).hex()
    assert entry["checkpoint"] == sqlite_chain.ledger.latest_checkpoint()
    assert {p["id"] for p in entry["ledger_state"]["participants"]} == {
        "operator",
        "farm-a",
        "mill",
        "auditor",
    }
    loaded = store.load(vkey)
    assert loaded is not None
    assert loaded.size == 9
    assert loaded.root == sqlite_chain.ledger.root(9)
    assert len(loaded.nonces) == 9
    record = sqlite_chain.ledger.record(5)
    assert record is not None
    digest = nonce_digest(SALT, record.statement.author, record.statement.nonce)
    assert digest in loaded.nonces
    assert nonce_digest(SALT, "mill", "never-used") not in loaded.nonces
    assert store.vkeys() == [vkey]
    other = Ed25519Verifier(ORIGIN, key_for("someone-else").public_key).vkey
    assert store.load(other) is None


def test_resaving_replaces_the_sidecar(sqlite_chain: Chain, tmp_path: Path) -> None:
    home = tmp_path / "auditor"
    home.mkdir()
    store = first_run(sqlite_chain, home / "state.json")
    vkey = sqlite_chain.ledger.verifier.vkey
    before = sorted(p.name for p in home.iterdir())
    sqlite_chain.ledger.append(sqlite_chain.sale("mill", 3), now=sqlite_chain.tick())
    saved = store.load(vkey)
    assert saved is not None
    source = open_database_source(sqlite_chain.url, start=saved.size)
    try:
        result = audit_incremental(source, operator_vkey=vkey, state=saved, nonce_salt=b"unused")
    finally:
        source.close()
    assert result.report.ok
    assert result.report.records_checked == 3
    assert result.state is not None
    store.save(result.state)
    after = sorted(p.name for p in home.iterdir())
    assert len(before) == len(after) == 2  # the state and one sidecar, no temp files
    assert before != after
    loaded = store.load(vkey)
    assert loaded is not None
    assert loaded.size == 7
    assert len(loaded.nonces) == 7


def test_tampered_state_is_refused(sqlite_chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first_run(sqlite_chain, path)
    vkey = sqlite_chain.ledger.verifier.vkey
    doc = json.loads(path.read_text())
    entry = next(iter(doc["ledgers"].values()))
    entry["peaks"][0] = "00" * 32
    path.write_text(json.dumps(doc))
    with pytest.raises(StateFileError, match="does not match the saved checkpoint"):
        StateFile(path).load(vkey)


def test_truncated_sidecar_is_refused(sqlite_chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first_run(sqlite_chain, path)
    sidecar = next(p for p in tmp_path.iterdir() if p.name.endswith(".nonces"))
    sidecar.write_bytes(sidecar.read_bytes()[:-8])
    with pytest.raises(StateFileError, match="holds"):
        StateFile(path).load(sqlite_chain.ledger.verifier.vkey)


def test_not_a_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"format": "something-else"}')
    with pytest.raises(StateFileError):
        StateFile(path).vkeys()
    path.write_text("not json")
    with pytest.raises(StateFileError):
        StateFile(path).vkeys()
    assert StateFile(tmp_path / "missing.json").vkeys() == []


def test_a_witness_key_is_not_an_operator_vkey() -> None:
    from ledger.note import CosignatureSigner

    witness = CosignatureSigner("w.example", key_for("w")).vkey
    with pytest.raises(MalformedKeyError):
        key_for_vkey(witness)


def test_write_atomic_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    write_atomic(target, b"one")
    write_atomic(target, [b"t", b"wo"])
    assert target.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["f"]


@settings(max_examples=60, deadline=None)
@given(
    old=st.sets(st.integers(0, 2**64 - 1), max_size=60),
    new=st.sets(st.integers(0, 2**64 - 1), max_size=60),
)
def test_sidecar_merge_is_sorted_and_complete(
    tmp_path_factory: pytest.TempPathFactory, old: set[int], new: set[int]
) -> None:
    directory = tmp_path_factory.mktemp("sidecar")
    first = directory / "a"
    write_atomic(first, SortedDigests().merged(old, 10))
    prior = SortedDigests(first, count=len(old), size=10)
    for digest in old:
        assert digest in prior
    second = directory / "b"
    fresh = new - old
    write_atomic(second, prior.merged(fresh, 20))
    merged = SortedDigests(second, count=len(old | new), size=20)
    raw = second.read_bytes()[32:]
    values = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]
    assert values == sorted(old | new)
    for digest in old | new:
        assert digest in merged
    prior.close()
    merged.close()
