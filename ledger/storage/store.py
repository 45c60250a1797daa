"""All SQL FairLedger runs against its log and core projections.

``SqlStore`` hands out read and write transactions whose methods take and return plain
Python values, so ``ledger.log`` (the append pipeline) never sees SQLAlchemy. Write
transactions hold the ledger's single writer lock for their whole life: ``BEGIN IMMEDIATE``
on SQLite, a transaction-scoped advisory lock on PostgreSQL. On a SQLite file, writers first
take an exclusive ``flock`` on a lock file beside the database (``<db>-writer.lock``): a
process waiting for it is woken the moment the holder commits, where SQLite's busy handler
would poll with sleeps of 1 to 100 ms and leave the database idle in between. Nothing here
commits on its own; the transaction context commits on success and rolls back on any error.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy handler alone serialises
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from ledger.canonical import JSONValue, canonical_bytes, parse_json
from ledger.errors import StorageError, StorageUnavailableError
from ledger.state import KeyInfo, LedgerState, Participant
from ledger.storage.engine import WRITE
from ledger.storage.models import (
    NODE_SHIFT,
    CheckpointRow,
    KeyRow,
    ParticipantRow,
    ProjectionDocumentRow,
    ProjectionMetaRow,
    RecordRow,
    TreeNodeRow,
    node_key,
)
from ledger.storage.sqlite_reader import blob

records = cast(Table, RecordRow.__table__)
tree_nodes = cast(Table, TreeNodeRow.__table__)
checkpoints = cast(Table, CheckpointRow.__table__)
participants = cast(Table, ParticipantRow.__table__)
participant_keys = cast(Table, KeyRow.__table__)
projection_meta = cast(Table, ProjectionMetaRow.__table__)
projection_documents = cast(Table, ProjectionDocumentRow.__table__)

#: Arbitrary constant naming FairLedger's append lock on PostgreSQL.
PG_APPEND_LOCK = 0x46414952
#: SQLite's default limit on bound parameters per statement is 32766; stay well below.
_IN_CHUNK = 900
_IDX_MASK = (1 << NODE_SHIFT) - 1
#: PostgreSQL bulk inserts: every column as one array parameter (see ``insert_batch``).
_PG_INSERT_RECORDS = text(
    "INSERT INTO records (seq, entry_hash, leaf, kind, author, nonce, key_id) "
    "SELECT * FROM unnest(CAST(:seq AS bigint[]), CAST(:entry_hash AS bytea[]), "
    "CAST(:leaf AS bytea[]), CAST(:kind AS text[]), CAST(:author AS text[]), "
    "CAST(:nonce AS text[]), CAST(:key_id AS text[]))"
)
_PG_INSERT_NODES = text(
    "INSERT INTO tree_nodes (node, hash) "
    "SELECT * FROM unnest(CAST(:node AS bigint[]), CAST(:hash AS bytea[]))"
)
#: Projection tables owned by the core, in dependency order (children last).
CORE_PROJECTIONS = ("participants", "participant_keys", "projection_documents", "projection_meta")


@dataclass(frozen=True, slots=True)
class StoredRecord:
    seq: int
    entry_hash: bytes
    leaf: bytes


@dataclass(frozen=True, slots=True)
class NewRecord:
    seq: int
    entry_hash: bytes
    leaf: bytes
    kind: str
    author: str
    nonce: str
    key_id: str


def _wrap(exc: SQLAlchemyError) -> StorageError:
    """Map a database failure onto the error tree (unavailable/full => retryable)."""
    orig = getattr(exc, "orig", None)
    message = str(orig or exc).strip().splitlines()[0]
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return StorageUnavailableError(f"database unavailable: {message}")
    return StorageError(f"database error: {message}")


class Reader:
    """Queries shared by read and write transactions."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def size(self) -> int:
        top = self.conn.execute(select(func.max(records.c.seq))).scalar_one()
        return 0 if top is None else int(top) + 1

    def record(self, seq: int) -> StoredRecord | None:
        row = self.conn.execute(
            select(records.c.seq, records.c.entry_hash, records.c.leaf).where(records.c.seq == seq)
        ).one_or_none()
        return None if row is None else StoredRecord(row.seq, blob(row.entry_hash), blob(row.leaf))

    def records(self, start: int, limit: int) -> list[StoredRecord]:
        rows = self.conn.execute(
            select(records.c.seq, records.c.entry_hash, records.c.leaf)
            .where(records.c.seq >= start)
            .order_by(records.c.seq)
            .limit(limit)
        )
        return [StoredRecord(r.seq, blob(r.entry_hash), blob(r.leaf)) for r in rows]

    def records_of_kinds(self, start: int, kinds: Iterable[str]) -> list[StoredRecord]:
        rows = self.conn.execute(
            select(records.c.seq, records.c.entry_hash, records.c.leaf)
            .where(records.c.seq >= start, records.c.kind.in_(list(kinds)))
            .order_by(records.c.seq)
        )
        return [StoredRecord(r.seq, blob(r.entry_hash), blob(r.leaf)) for r in rows]

    def find_nonces(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredRecord]:
        """Existing records for (author, nonce) pairs, for replay detection.

        Queries by ``nonce IN (...)`` (one cached statement per chunk, using the unique
        (author, nonce) index through its nonce lookups) and keeps exact pairs only."""
        wanted = set(pairs)
        nonces = sorted({n for _a, n in wanted})
        found: dict[tuple[str, str], StoredRecord] = {}
        for start in range(0, len(nonces), _IN_CHUNK):
            chunk = nonces[start : start + _IN_CHUNK]
            rows = self.conn.execute(
                select(
                    records.c.seq,
                    records.c.entry_hash,
                    records.c.leaf,
                    records.c.author,
                    records.c.nonce,
                ).where(records.c.nonce.in_(chunk))
            )
            for r in rows:
                if (r.author, r.nonce) in wanted:
                    found[(r.author, r.nonce)] = StoredRecord(
                        r.seq, blob(r.entry_hash), blob(r.leaf)
                    )
        return found

    def nodes(self, wanted: Sequence[tuple[int, int]]) -> list[bytes]:
        """Hashes of perfect subtrees ``(level, index)``; level 0 reads entry hashes.

        Raises ``StorageError`` if a node is missing (a damaged or truncated tree).
        """
        found: dict[tuple[int, int], bytes] = {}
        leaves = sorted({i for level, i in wanted if level == 0})
        for start in range(0, len(leaves), _IN_CHUNK):
            chunk = leaves[start : start + _IN_CHUNK]
            rows = self.conn.execute(
                select(records.c.seq, records.c.entry_hash).where(records.c.seq.in_(chunk))
            )
            found.update(((0, r.seq), blob(r.entry_hash)) for r in rows)
        keys = sorted({node_key(level, i) for level, i in wanted if level > 0})
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            rows = self.conn.execute(
                select(tree_nodes.c.node, tree_nodes.c.hash).where(tree_nodes.c.node.in_(chunk))
            )
            found.update(((r.node >> NODE_SHIFT, r.node & _IDX_MASK), blob(r.hash)) for r in rows)
        try:
            return [found[node] for node in wanted]
        except KeyError as exc:
            raise StorageError(f"tree node {exc.args[0]} is missing from the database") from exc

    def nodes_completed_between(self, start: int, end: int) -> dict[tuple[int, int], bytes]:
        """Stored nodes (level >= 1) whose last leaf lies in [start, end): exactly the nodes
        a compact range creates while appending leaves start..end-1."""
        conditions = []
        level = 1
        while (1 << level) <= end:
            lo = -(-(start + 1) // (1 << level)) - 1  # first idx with (idx+1)*2^level > start
            hi = end >> level  # idx with (idx+1)*2^level <= end
            if hi > lo:
                conditions.append(
                    and_(
                        tree_nodes.c.node >= node_key(level, lo),
                        tree_nodes.c.node < node_key(level, hi),
                    )
                )
            level += 1
        if not conditions:
            return {}
        rows = self.conn.execute(
            select(tree_nodes.c.node, tree_nodes.c.hash).where(or_(*conditions))
        )
        return {(r.node >> NODE_SHIFT, r.node & _IDX_MASK): blob(r.hash) for r in rows}

    def checkpoint(self, size: int | None = None) -> tuple[int, bytes, str] | None:
        """The checkpoint at exactly ``size``, or the latest one."""
        query = select(checkpoints.c.size, checkpoints.c.root, checkpoints.c.note)
        if size is None:
            query = query.order_by(checkpoints.c.size.desc()).limit(1)
        else:
            query = query.where(checkpoints.c.size == size)
        row = self.conn.execute(query).one_or_none()
        return None if row is None else (int(row.size), blob(row.root), row.note)

    def checkpoint_covering(self, seq: int) -> tuple[int, bytes, str] | None:
        """The first checkpoint signed after record ``seq`` was committed."""
        row = self.conn.execute(
            select(checkpoints.c.size, checkpoints.c.root, checkpoints.c.note)
            .where(checkpoints.c.size > seq)
            .order_by(checkpoints.c.size)
            .limit(1)
        ).one_or_none()
        return None if row is None else (int(row.size), blob(row.root), row.note)

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        rows = self.conn.execute(
            select(checkpoints.c.size, checkpoints.c.root, checkpoints.c.note).order_by(
                checkpoints.c.size
            )
        )
        return [(int(r.size), blob(r.root), r.note) for r in rows]

    def participant_rows(self) -> list[dict[str, object]]:
        rows = self.conn.execute(select(participants).order_by(participants.c.id))
        return [dict(r._mapping) for r in rows]

    def key_rows(self, participant: str | None = None) -> list[dict[str, object]]:
        query = select(participant_keys).order_by(participant_keys.c.added_seq)
        if participant is not None:
            query = query.where(participant_keys.c.participant == participant)
        return [dict(r._mapping) for r in self.conn.execute(query)]

    def document(self, collection: str, key: str) -> tuple[int, JSONValue] | None:
        """A projection document and the seq that last wrote it, or None."""
        row = self.conn.execute(
            select(projection_documents.c.seq, projection_documents.c.body).where(
                projection_documents.c.collection == collection,
                projection_documents.c.key == key,
            )
        ).one_or_none()
        return None if row is None else (int(row.seq), parse_json(row.body))

    def documents(
        self, collection: str, prefix: str = "", *, after: str | None = None, limit: int = 1000
    ) -> list[tuple[str, int, JSONValue]]:
        """Documents whose key starts with ``prefix``, in key order, after ``after``."""
        query = select(
            projection_documents.c.key, projection_documents.c.seq, projection_documents.c.body
        ).where(projection_documents.c.collection == collection)
        if prefix:
            query = query.where(
                projection_documents.c.key >= prefix,
                projection_documents.c.key < prefix + "\U0010ffff",
            )
        if after is not None:
            query = query.where(projection_documents.c.key > after)
        rows = self.conn.execute(query.order_by(projection_documents.c.key).limit(limit))
        return [(r.key, int(r.seq), parse_json(r.body)) for r in rows]

    def database_bytes(self) -> int:
        """Bytes the database occupies (SQLite pages, or PostgreSQL's database size)."""
        if self.conn.dialect.name == "postgresql":
            return int(
                self.conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
        pages = self.conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        size = self.conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        return int(pages) * int(size)

    def table_dump(self, table: str) -> list[tuple[object, ...]]:
        """Every row of a projection table in primary-key order (for rebuild checks)."""
        tbl = RecordRow.metadata.tables[table]
        rows = self.conn.execute(select(tbl).order_by(*tbl.primary_key.columns))
        return [tuple(r) for r in rows]


class WriteTx(Reader):
    """A write transaction holding the append lock."""

    def insert_batch(
        self,
        new_records: Sequence[NewRecord],
        nodes: Sequence[tuple[int, int, bytes]],
        checkpoint: tuple[int, bytes, str] | None,
    ) -> None:
        """Insert records, the tree nodes they complete and (optionally) one checkpoint.

        On PostgreSQL each table's rows go in one ``INSERT ... SELECT FROM unnest(arrays)``:
        one statement and one round trip however many rows (psycopg's ``executemany`` would
        send one INSERT per row). SQLite's ``executemany`` already runs one prepared
        statement in a C loop."""
        if new_records:
            if self.conn.dialect.name == "postgresql":
                self.conn.execute(
                    _PG_INSERT_RECORDS,
                    {
                        "seq": [r.seq for r in new_records],
                        "entry_hash": [r.entry_hash for r in new_records],
                        "leaf": [r.leaf for r in new_records],
                        "kind": [r.kind for r in new_records],
                        "author": [r.author for r in new_records],
                        "nonce": [r.nonce for r in new_records],
                        "key_id": [r.key_id for r in new_records],
                    },
                )
            else:
                self.conn.execute(
                    insert(records),
                    [
                        {
                            "seq": r.seq,
                            "entry_hash": r.entry_hash,
                            "leaf": r.leaf,
                            "kind": r.kind,
                            "author": r.author,
                            "nonce": r.nonce,
                            "key_id": r.key_id,
                        }
                        for r in new_records
                    ],
                )
        if nodes:
            if self.conn.dialect.name == "postgresql":
                self.conn.execute(
                    _PG_INSERT_NODES,
                    {
                        "node": [node_key(lv, i) for lv, i, _h in nodes],
                        "hash": [h for _lv, _i, h in nodes],
                    },
                )
            else:
                self.conn.execute(
                    insert(tree_nodes),
                    [{"node": node_key(lv, i), "hash": h} for lv, i, h in nodes],
                )
        if checkpoint is not None:
            size, root, note = checkpoint
            self.conn.execute(insert(checkpoints).values(size=size, root=root, note=note))

    def project_state(self, changed: Iterable[str], state: LedgerState) -> None:
        """Write the participants/keys projection rows of the participants in ``changed``,
        taking values from ``state`` after the records that touched them."""
        for participant_id in sorted(set(changed)):
            participant = state.participants.get(participant_id)
            if participant is not None:
                self._upsert_participant(participant)
            for info in state.keys.values():
                if info.participant == participant_id:
                    self._upsert_key(info)

    def _upsert_participant(self, p: Participant) -> None:
        values = {
            "display_name": p.display_name,
            "roles": ",".join(sorted(p.roles)),
            "gln": p.gln,
            "registered_seq": p.registered_seq,
        }
        done = self.conn.execute(
            update(participants).where(participants.c.id == p.id).values(**values)
        )
        if done.rowcount == 0:
            self.conn.execute(insert(participants).values(id=p.id, **values))

    def _upsert_key(self, k: KeyInfo) -> None:
        values = {
            "participant": k.participant,
            "public_key": k.public_key.b64,
            "added_seq": k.added_seq,
            "retired_seq": k.retired_seq,
            "retired_how": k.retired_how,
            "retired_reason": k.retired_reason,
        }
        done = self.conn.execute(
            update(participant_keys).where(participant_keys.c.key_id == k.key_id).values(**values)
        )
        if done.rowcount == 0:
            self.conn.execute(insert(participant_keys).values(key_id=k.key_id, **values))

    def put_document(self, collection: str, key: str, seq: int, body: JSONValue) -> None:
        """Insert or replace a projection document (stored as canonical JSON)."""
        text_body = canonical_bytes(body).decode("utf-8")
        done = self.conn.execute(
            update(projection_documents)
            .where(
                projection_documents.c.collection == collection,
                projection_documents.c.key == key,
            )
            .values(seq=seq, body=text_body)
        )
        if done.rowcount == 0:
            self.conn.execute(
                insert(projection_documents).values(
                    collection=collection, key=key, seq=seq, body=text_body
                )
            )

    def delete_document(self, collection: str, key: str) -> None:
        self.conn.execute(
            delete(projection_documents).where(
                projection_documents.c.collection == collection,
                projection_documents.c.key == key,
            )
        )

    def set_projected_size(self, size: int) -> None:
        done = self.conn.execute(
            update(projection_meta).where(projection_meta.c.name == "size").values(value=size)
        )
        if done.rowcount == 0:
            self.conn.execute(insert(projection_meta).values(name="size", value=size))

    def clear_projections(self, tables: Sequence[str]) -> None:
        """Delete every row of the named projection tables (children first)."""
        for name in reversed(tables):
            self.conn.execute(delete(RecordRow.metadata.tables[name]))


class SqlStore:
    """Transactions over one database. Thread-safe: each transaction has its own connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        database = engine.url.database if self.dialect == "sqlite" else None
        self._lock_path = (
            f"{database}-writer.lock"
            if database and database != ":memory:" and not database.startswith("file:")
            else None
        )
        self._lock_fd: int | None = None
        self._thread_lock = threading.Lock()

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """Exclusive among this store's threads and, on a SQLite file, among processes."""
        with self._thread_lock:
            if self._lock_path is None or fcntl is None:
                yield
                return
            if self._lock_fd is None:
                self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # releases the GIL while waiting
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Reader]:
        """A read-only transaction on one consistent snapshot.

        On PostgreSQL that takes REPEATABLE READ: under the default READ COMMITTED every
        statement sees a newer snapshot, and a reader could count the records, then find a
        checkpoint committed after it counted. (SQLite's read transactions are snapshots
        already.) Writers keep READ COMMITTED: after taking the append lock they must see
        everything committed before it."""
        try:
            with self.engine.connect() as raw:
                conn = (
                    raw.execution_options(isolation_level="REPEATABLE READ")
                    if self.dialect == "postgresql"
                    else raw
                )
                with conn.begin():
                    yield Reader(conn)
        except SQLAlchemyError as exc:
            raise _wrap(exc) from exc

    @contextmanager
    def write(self) -> Iterator[WriteTx]:
        """A transaction holding the append lock; commits when the block succeeds."""
        try:
            with self._writer_lock(), self.engine.connect() as raw:
                conn = raw.execution_options(**{WRITE: True})
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_APPEND_LOCK}
                        )
                    yield WriteTx(conn)
        except IntegrityError as exc:
            raise StorageError(f"database refused the write: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise _wrap(exc) from exc

    def dispose(self) -> None:
        self.engine.dispose()
        with self._thread_lock:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
