"""The SQL that lot proof bundles (``ledger.bundle``) need, kept in the storage layer.

* ``latest_cosigned_size``: the newest checkpoint a witness cosigned, so a bundle can carry
  a witnessed checkpoint when one covers the lot;
* ``leaves``: the entry hashes and bytes of many records in a few queries;
* ``scratch_store``: a private in-memory SQLite database with the schema, into which a
  verifier replays the records of a bundle through the very trace projection the ledger
  runs, so the provenance it rebuilds is computed by the same code as the one claimed.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

import ledger.storage.cosignatures as _cosignatures
from ledger.storage.engine import create_ledger_engine
from ledger.storage.models import Base
from ledger.storage.store import Reader, SqlStore, records
from ledger.storage.trace import TRACE_TABLES

__all__ = ["latest_cosigned_size", "leaves", "scratch_store"]

_IN_CHUNK = 900
_SCRATCH_TABLES = [records, *(Base.metadata.tables[name] for name in TRACE_TABLES)]


def latest_cosigned_size(reader: Reader) -> int | None:
    """The size of the newest checkpoint holding at least one witness cosignature."""
    table = _cosignatures.cosignatures
    top = reader.conn.execute(select(func.max(table.c.size))).scalar_one()
    return None if top is None else int(top)


def scratch_store() -> SqlStore:
    """An empty, private in-memory SQLite database with the records and the trace projection
    tables (no triggers): what replaying trace records needs. One
    connection serves it (SQLite keeps an in-memory database per connection), so use it
    from one thread and ``dispose()`` it when done."""
    engine = create_ledger_engine("sqlite://")
    Base.metadata.create_all(engine, tables=_SCRATCH_TABLES)
    return SqlStore(engine)


def leaves(reader: Reader, seqs: Iterable[int]) -> dict[int, tuple[bytes, bytes]]:
    """``seq -> (entry hash, leaf bytes)`` of the records at ``seqs`` that exist."""
    wanted = sorted(set(seqs))
    found: dict[int, tuple[bytes, bytes]] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        rows = reader.conn.execute(
            select(records.c.seq, records.c.entry_hash, records.c.leaf).where(
                records.c.seq.in_(chunk)
            )
        )
        found.update((int(r.seq), (bytes(r.entry_hash), bytes(r.leaf))) for r in rows)
    return found
