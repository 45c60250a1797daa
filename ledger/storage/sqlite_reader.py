"""Read-only access to the log tables of a SQLite ledger through the stdlib ``sqlite3`` module.

For verification worker processes (``ledger._verify_worker``), which read their share of the
records themselves and must stay small: no SQLAlchemy here. The queries and the value
conversions are those of ``ledger.storage.store.Reader.records`` and
``Reader.nodes_completed_between`` (``tests/ledger/test_verify_parallel.py`` checks that both
readers return the same rows, tampered values included).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger.errors import StorageError

#: Tree nodes are keyed by one integer, ``level << NODE_SHIFT | idx``, so that a proof's
#: nodes are fetched with a single ``IN`` list (2^48 leaves is far beyond any ledger). Defined
#: here, in the module without SQLAlchemy, for ``ledger.storage.models`` and this reader.
NODE_SHIFT = 48
_IDX_MASK = (1 << NODE_SHIFT) - 1
#: Rows a reader is assumed to hold at most: range reads are never larger than a chunk.
_RECORDS = "SELECT seq, entry_hash, leaf FROM records WHERE seq >= ? AND seq < ? ORDER BY seq"


def blob(value: object) -> bytes:
    """A BLOB column's value as bytes (for this reader and ``ledger.storage.store``). SQLite
    lets anyone with the file store TEXT or a number there; such values are passed on as
    their UTF-8 / decimal bytes so the verifier reports the mismatch at that record instead
    of the reader crashing."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return str(value).encode("ascii")


class SqliteLogReader:
    """A read-only connection to the SQLite file of a ledger. Raises ``StorageError`` when the
    file cannot be opened or read."""

    def __init__(self, path: str) -> None:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        try:
            self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self.conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {path} for reading: {exc}") from exc

    def records(self, start: int, end: int) -> list[tuple[int, bytes, bytes]]:
        """``(seq, entry_hash, leaf)`` of the stored records with ``start <= seq < end``, in
        seq order (gaps left by deleted rows stay gaps)."""
        try:
            rows = self.conn.execute(_RECORDS, (start, end)).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"database error: {exc}") from exc
        return [(seq, blob(entry), blob(leaf)) for seq, entry, leaf in rows]

    def nodes_completed_between(self, start: int, end: int) -> dict[tuple[int, int], bytes]:
        """Stored nodes (level >= 1) whose last leaf lies in ``[start, end)``: the nodes a
        compact range creates while appending leaves ``start..end-1``."""
        clauses: list[str] = []
        params: list[int] = []
        level = 1
        while (1 << level) <= end:
            lo = -(-(start + 1) // (1 << level)) - 1  # first idx with (idx+1)*2^level > start
            hi = end >> level  # idx with (idx+1)*2^level <= end
            if hi > lo:
                clauses.append("(node >= ? AND node < ?)")
                params += [level << NODE_SHIFT | lo, level << NODE_SHIFT | hi]
            level += 1
        if not clauses:
            return {}
        query = f"SELECT node, hash FROM tree_nodes WHERE {' OR '.join(clauses)}"  # noqa: S608
        try:
            rows = self.conn.execute(query, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"database error: {exc}") from exc
        return {(node >> NODE_SHIFT, node & _IDX_MASK): blob(digest) for node, digest in rows}

    def close(self) -> None:
        self.conn.close()
