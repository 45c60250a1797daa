"""Editing a ledger's SQLite file behind the library's back, as an attacker with disk access
would: drop the append-only triggers and rewrite rows with raw SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from ledger import merkle
from ledger.note import Checkpoint, Ed25519Signer, sign_checkpoint
from ledger.statement import Record, Submission, format_timestamp
from ledger.storage.models import node_key
from tests.factory import Chain


@contextmanager
def raw(chain: Chain) -> Iterator[sqlite3.Connection]:
    path = chain.url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        triggers = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        ]
        for name in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


def leaf(conn: sqlite3.Connection, seq: int) -> bytes:
    return bytes(conn.execute("SELECT leaf FROM records WHERE seq = ?", (seq,)).fetchone()[0])


def set_leaf(conn: sqlite3.Connection, seq: int, data: bytes) -> None:
    conn.execute("UPDATE records SET leaf = ? WHERE seq = ?", (data, seq))


def forge_tail(chain: Chain, submission: Submission) -> int:
    """Append a record the ledger would have refused, with a correct chain link, tree nodes
    and an operator-signed checkpoint, so that only the rules can catch it."""
    size = chain.ledger.size
    last = chain.ledger.record(size - 1)
    assert last is not None
    recorded_at = format_timestamp(chain.clock + timedelta(seconds=1))
    record = Record.create(size, last.entry_hash.hex(), recorded_at, submission)
    with chain.ledger.store.read() as tx:
        tree = merkle.CompactRange.from_reader(size, tx.nodes)
    nodes = tree.append(record.entry_hash)
    s = submission.statement
    note = sign_checkpoint(
        Checkpoint(chain.ledger.origin, size + 1, tree.root()),
        Ed25519Signer(chain.ledger.origin, chain.operator),
    )
    with raw(chain) as conn:
        conn.execute(
            "INSERT INTO records (seq, entry_hash, leaf, kind, author, nonce, key_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (size, record.entry_hash, record.leaf, s.kind, s.author, s.nonce, s.key),
        )
        conn.executemany(
            "INSERT INTO tree_nodes (node, hash) VALUES (?, ?)",
            [(node_key(level, idx), digest) for level, idx, digest in nodes],
        )
        conn.execute(
            "INSERT INTO checkpoints (size, root, note) VALUES (?, ?, ?)",
            (size + 1, tree.root(), note),
        )
    return size


def resign_checkpoint(chain: Chain, size: int, root: bytes) -> str:
    """Replace the stored checkpoint at ``size`` with one the operator key signs over
    ``root`` (an equivocating operator)."""
    note = sign_checkpoint(
        Checkpoint(chain.ledger.origin, size, root),
        Ed25519Signer(chain.ledger.origin, chain.operator),
    )
    with raw(chain) as conn:
        conn.execute("DELETE FROM checkpoints WHERE size = ?", (size,))
        conn.execute(
            "INSERT INTO checkpoints (size, root, note) VALUES (?, ?, ?)", (size, root, note)
        )
    return note
