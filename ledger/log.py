"""The ledger: append signed statements, issue receipts, serve records and proofs.

Append pipeline (one group commit)::

    verify signatures (outside the lock)               cryptography releases the GIL
    pre-validate bodies against the last known state   pure validators; their stateless work
                                                       (parsing, memoised by the domain) then
                                                       overlaps other appenders' locked work
    ── take the append lock (BEGIN IMMEDIATE / advisory lock) ──
    read head; catch the key state and the Merkle peaks up if another process appended
    replays: (author, nonce) already recorded → the original receipt, nothing written
    judge each statement against the state (keys, roles, bodies, domain validators)
    build records (seq, prev, recorded_at), extend the compact range (O(log n) per leaf)
    insert records + new tree nodes + one signed checkpoint + projections; COMMIT
    ── release ──
    receipts: inclusion proofs from the old peaks and the batch's own nodes (no reads)

Single submissions (``Ledger.submit``/``submit_nowait``) are verified and pre-validated by
the submitting thread, then queued for the ledger's one committer thread, which commits
everything queued while the previous commit ran as the next group.

A crash before COMMIT leaves nothing; after it, everything (SQLite ``synchronous=FULL``).
The ledger never signs two inconsistent checkpoints because it signs only under the lock,
over a tree it has just extended from the committed head.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ledger import merkle
from ledger.errors import (
    ConflictError,
    DuplicateNonceError,
    LedgerError,
    LedgerNotInitializedError,
    MalformedStatementError,
    RejectedStatementError,
    StorageError,
)
from ledger.keys import PrivateKey, PublicKey
from ledger.note import Checkpoint, Ed25519Signer, Ed25519Verifier, sign_checkpoint
from ledger.receipt import Receipt
from ledger.state import STATE_KINDS, BodyValidator, Kind, LedgerState, judge
from ledger.statement import (
    ZERO_HASH,
    Record,
    Statement,
    Submission,
    format_timestamp,
    parse_timestamp,
    sign_statement,
)
from ledger.storage.engine import create_ledger_engine, is_migrated, migrate
from ledger.storage.store import (
    CORE_PROJECTIONS,
    NewRecord,
    Reader,
    SqlStore,
    StoredRecord,
    WriteTx,
)

#: Largest group commit; bigger batches are split by callers of ``append``.
MAX_BATCH = 1000
_PARALLEL_VERIFY_MIN = 16
#: Records replayed per chunk (one set of projection batches) by ``rebuild_projections``.
REBUILD_CHUNK = 5000


class ProjectionBatch(Protocol):
    """One transaction's worth of work for a projection.

    ``check`` may read the database (through the transaction it was started with) and the
    items staged earlier in this batch, and raises ``RejectedStatementError`` (e.g. a mass
    balance violation) without changing anything; ``stage`` records an accepted record and
    must not fail; ``flush`` writes what was staged. A refused statement is never staged, so
    group commit can drop it and keep the rest of the batch.
    """

    def check(self, seq: int, statement: Statement, state: LedgerState) -> None: ...

    def stage(self, record: Record, state: LedgerState) -> None: ...

    def flush(self) -> None: ...


class Projection(Protocol):
    """A derived view of the records kept in step with the log, inside each append's
    transaction, and rebuildable from the records alone (``Ledger.rebuild_projections``)."""

    #: The tables it owns, parents first; a rebuild empties them (children first).
    tables: tuple[str, ...]

    def start(self, tx: WriteTx) -> ProjectionBatch: ...


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Outcome for one submission: its receipt, and whether this call created the record
    (False for a replay of an already recorded statement)."""

    receipt: Receipt
    created: bool


class _Head:
    """Cached tip of the log: size, last entry hash, Merkle peaks, key state."""

    def __init__(self, size: int, last_hash: bytes, tree: merkle.CompactRange, state: LedgerState):
        self.size = size
        self.last_hash = last_hash
        self.tree = tree
        self.state = state


class Ledger:
    """One ledger in one database. Safe to share between threads; several processes (or
    hosts, on PostgreSQL) may open the same database and append concurrently."""

    def __init__(
        self,
        store: SqlStore,
        *,
        operator_key: PrivateKey | None = None,
        validators: dict[str, BodyValidator] | None = None,
        projections: Sequence[Projection] = (),
    ) -> None:
        self.store = store
        self._operator_key = operator_key
        self.validators: dict[str, BodyValidator] = dict(validators or {})
        self.projections: tuple[Projection, ...] = tuple(projections)
        self._head: _Head | None = None
        self._head_lock = threading.Lock()
        self._committer = _GroupCommitter(self)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fairledger-verify")
        genesis = self._genesis()
        self.origin: str = str(genesis.statement.body["origin"])
        self.operator_id: str = genesis.statement.author
        self.operator_public_key = PublicKey.from_base64(str(genesis.statement.body["public_key"]))
        self.verifier = Ed25519Verifier(self.origin, self.operator_public_key)
        if operator_key is not None and operator_key.public_key != self.operator_public_key:
            raise LedgerError("the operator key given does not match the genesis record")
        self._signer = (
            Ed25519Signer(self.origin, operator_key) if operator_key is not None else None
        )

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str,
        *,
        operator_key: PrivateKey | None = None,
        validators: dict[str, BodyValidator] | None = None,
        projections: Sequence[Projection] = (),
    ) -> Ledger:
        """Open an existing ledger. Raises ``LedgerNotInitializedError`` if it has no genesis."""
        engine = create_ledger_engine(url)
        if not is_migrated(engine):
            engine.dispose()
            raise LedgerNotInitializedError(f"no ledger at {url}: run `fairledger init` first")
        migrate(engine)
        return cls(
            SqlStore(engine),
            operator_key=operator_key,
            validators=validators,
            projections=projections,
        )

    @classmethod
    def create(
        cls,
        url: str,
        *,
        origin: str,
        operator_id: str,
        operator_key: PrivateKey,
        now: datetime,
        validators: dict[str, BodyValidator] | None = None,
        projections: Sequence[Projection] = (),
    ) -> Ledger:
        """Create the schema and the genesis record. Raises ``ConflictError`` if the
        database already holds a ledger."""
        engine = create_ledger_engine(url, create=True)
        migrate(engine)
        store = SqlStore(engine)
        genesis = sign_statement(
            Statement.build(
                ledger=origin,
                kind=Kind.GENESIS,
                author=operator_id,
                key=operator_key.public_key.key_id,
                nonce="genesis-" + operator_key.public_key.key_id[:16],
                issued_at=now,
                body={
                    "origin": origin,
                    "operator": operator_id,
                    "public_key": operator_key.public_key.b64,
                    "created_at": format_timestamp(now),
                },
            ),
            operator_key,
        )
        state = LedgerState()
        recorded_at = format_timestamp(now)
        with store.write() as tx:
            if tx.size() != 0:
                raise ConflictError(f"{url} already holds a ledger")
            judge(state, 0, genesis.statement, genesis.signature, now)
            state.apply(0, genesis.statement, recorded_at)
            record = Record.create(0, ZERO_HASH, recorded_at, genesis)
            tree = merkle.CompactRange()
            nodes = tree.append(record.entry_hash)
            signer = Ed25519Signer(origin, operator_key)
            note = sign_checkpoint(Checkpoint(origin, 1, tree.root()), signer)
            tx.insert_batch([_new_record(record)], nodes, (1, tree.root(), note))
            tx.project_state([operator_id], state)
            tx.set_projected_size(1)
        return cls(store, operator_key=operator_key, validators=validators, projections=projections)

    def close(self) -> None:
        self._committer.close()
        self._pool.shutdown(wait=True)
        self.store.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _genesis(self) -> Record:
        with self.store.read() as tx:
            stored = tx.record(0)
        if stored is None:
            raise LedgerNotInitializedError("the ledger has no genesis record")
        return Record.from_leaf(stored.leaf)

    # -- appending -------------------------------------------------------------------------

    def submit(self, submission: Submission, *, now: datetime) -> AppendResult:
        """Append one statement, group-committed with concurrent callers in this process.

        Raises ``RejectedStatementError``/``MalformedStatementError`` if it is refused, and
        ``StorageError`` if the database fails (nothing is then written).
        """
        done = threading.Event()
        outcome: list[AppendResult | Exception] = []

        def finish(result: AppendResult | Exception) -> None:
            outcome.append(result)
            done.set()

        self.submit_nowait(submission, now=now, done=finish)
        done.wait()
        result = outcome[0]
        if isinstance(result, Exception):
            raise result
        return result

    def submit_nowait(
        self,
        submission: Submission,
        *,
        now: datetime,
        done: Callable[[AppendResult | Exception], None],
    ) -> None:
        """Queue one statement for the next group commit and return at once.

        The signature is verified and the body pre-validated here, in the caller's thread;
        ``done`` is then called exactly once, from the committer thread, with the
        ``AppendResult`` or the exception that refused the statement (a ``LedgerError``, or
        whatever else failed). ``done`` must be quick and must not raise.
        """
        if self._signer is None:
            raise LedgerError("this ledger was opened without the operator key: it is read-only")
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        verified = self._verify_signatures([submission])[0]
        self._prevalidate([submission])
        self._committer.enqueue(_Slot(submission, now, verified, done))

    def append(self, submissions: Sequence[Submission], *, now: datetime) -> list[AppendResult]:
        """Append a batch all-or-nothing, in one transaction.

        Raises the first rejection (with ``index`` set to its position) and writes nothing.
        """
        items = list(submissions)
        if 0 < len(items) <= MAX_BATCH:
            self._prevalidate(items)
        outcomes = self._append_batch(items, now, atomic=True)
        results: list[AppendResult] = []
        for outcome in outcomes:
            assert isinstance(outcome, AppendResult)
            results.append(outcome)
        return results

    def _append_batch(
        self,
        items: list[Submission],
        now: datetime,
        *,
        atomic: bool,
        verified: Sequence[bool] | None = None,
    ) -> list[AppendResult | LedgerError]:
        """Commit ``items`` in one transaction. ``verified`` flags the items whose signature
        was already checked (against the key their key id names); the others are checked
        here. With ``atomic`` the first refusal is raised and nothing is written; without it
        refused items get their error and the rest are committed."""
        if self._signer is None:
            raise LedgerError("this ledger was opened without the operator key: it is read-only")
        if not items:
            return []
        if len(items) > MAX_BATCH:
            raise MalformedStatementError(f"a batch holds at most {MAX_BATCH} statements")
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        presigned = self._verify_signatures(items, verified)
        with self._head_lock, self.store.write() as tx:
            head = self._load_head(tx)
            state = head.state.copy()
            tree = head.tree.copy()
            recorded_at = max(format_timestamp(now), state.last_recorded_at or "")
            recorded_moment = parse_timestamp(recorded_at, field="recorded_at")

            batches = [p.start(tx) for p in self.projections]
            existing = tx.find_nonces([(s.statement.author, s.statement.nonce) for s in items])
            outcomes: list[LedgerError | int] = []
            batch_nonces: dict[tuple[str, str], tuple[int, bytes]] = {}
            new: list[Record] = []
            nodes: list[tuple[int, int, bytes]] = []
            changed: list[str] = []
            prev = head.last_hash.hex()
            for index, sub in enumerate(items):
                statement = sub.statement
                pair = (statement.author, statement.nonce)
                try:
                    stored = existing.get(pair)
                    if stored is not None:
                        _check_replay(Record.from_leaf(stored.leaf).statement, statement, pair)
                        outcomes.append(-1 - stored.seq)  # replay of a committed record
                        continue
                    if pair in batch_nonces:
                        seq_in_batch, canonical = batch_nonces[pair]
                        if canonical != statement.canonical:
                            raise _duplicate(pair)
                        outcomes.append(seq_in_batch)
                        continue
                    seq = state.size
                    judge(
                        state,
                        seq,
                        statement,
                        sub.signature,
                        recorded_moment,
                        self.validators,
                        signature_checked=presigned[index],
                    )
                    for batch in batches:
                        batch.check(seq, statement, state)
                except (RejectedStatementError, MalformedStatementError) as exc:
                    exc.index = index
                    if atomic:
                        raise
                    outcomes.append(exc)
                    continue
                state.apply(seq, statement, recorded_at)
                record = Record.create(seq, prev, recorded_at, sub)
                for batch in batches:
                    batch.stage(record, state)
                entry = record.entry_hash
                nodes.extend(tree.append(entry))
                prev = entry.hex()
                new.append(record)
                batch_nonces[pair] = (seq, statement.canonical)
                outcomes.append(seq)
                if statement.kind in STATE_KINDS:
                    changed.extend(_touched_participants(statement))

            if new:
                root = tree.root()
                note = sign_checkpoint(Checkpoint(self.origin, tree.size, root), self._signer)
                tx.insert_batch([_new_record(r) for r in new], nodes, (tree.size, root, note))
                if changed:
                    tx.project_state(changed, state)
                for batch in batches:
                    batch.flush()
                tx.set_projected_size(tree.size)
            replays = sorted({-1 - o for o in outcomes if isinstance(o, int) and o < 0})
            replay_receipts = {seq: self._receipt_in(tx, seq) for seq in replays}

        batch_receipts: dict[int, Receipt] = {}
        if new:
            self._head = _Head(tree.size, bytes.fromhex(prev), tree, state)
            batch_receipts = self._batch_receipts(head, new, nodes, note)
        results: list[AppendResult | LedgerError] = []
        for outcome in outcomes:
            if isinstance(outcome, LedgerError):
                results.append(outcome)
            elif outcome < 0:
                results.append(AppendResult(replay_receipts[-1 - outcome], created=False))
            else:
                results.append(AppendResult(batch_receipts[outcome], created=True))
        return results

    def _verify_signatures(
        self, items: Sequence[Submission], verified: Sequence[bool] | None = None
    ) -> list[bool]:
        """Check signatures against keys already known, in parallel and outside the lock.

        Returns, per item, whether its signature has been verified (items flagged in
        ``verified`` are not checked again); unknown keys (e.g. registered earlier in this
        very batch) are left to ``judge`` under the lock. A bad signature is reported there
        too, so the error has one source. A key id is the hash of its public key, so a
        signature verified here stays verified whatever the state becomes; whether the key
        may sign at that seq is judged under the lock."""
        head = self._head
        keys = head.state.keys if head is not None else {}

        def check(part: Sequence[Submission]) -> list[bool]:
            out = []
            for sub in part:
                info = keys.get(sub.statement.key)
                out.append(info is not None and sub.verify_signature(info.public_key))
            return out

        if verified is not None:
            todo = [i for i, done in enumerate(verified) if not done]
            flags = list(verified)
            for i, ok in zip(todo, self._verify_signatures([items[i] for i in todo]), strict=True):
                flags[i] = ok
            return flags
        if len(items) < _PARALLEL_VERIFY_MIN:
            return check(items)
        half = len(items) // 2
        other = self._pool.submit(check, items[half:])  # cryptography releases the GIL
        return check(items[:half]) + other.result()

    def _prevalidate(self, items: Sequence[Submission]) -> None:
        """Run the body validators once outside the lock, against the last known state.

        Validators are pure functions of (state, seq, statement), so this changes nothing;
        what it buys is that their stateless work (parsing an EPCIS event, which the domain
        memoises by the statement's bytes) is done here, in parallel with other processes'
        locked sections, and the authoritative call under the lock is cheap. Its verdict is
        ignored: the state may change before the lock is taken."""
        head = self._head
        if head is None or not self.validators:
            return
        for sub in items:
            validator = self.validators.get(sub.statement.kind)
            if validator is not None:
                # The verdict is ignored, whatever it is: judged again under the lock.
                with contextlib.suppress(Exception):
                    validator(head.state, head.size, sub.statement)

    def _load_head(self, tx: Reader) -> _Head:
        """The head as committed, reusing the cache when no other process has appended.

        Safe without the append lock: heads are immutable once built, and a reader that
        installs an older head only makes the next append reload it."""
        size = tx.size()
        if size == 0:
            raise LedgerNotInitializedError("the ledger has no genesis record")
        cached = self._head
        if cached is not None and cached.size == size:
            return cached
        last = tx.record(size - 1)
        assert last is not None
        tree = merkle.CompactRange.from_reader(size, tx.nodes)
        state = cached.state.copy() if cached is not None and cached.size < size else LedgerState()
        for stored in tx.records_of_kinds(state.size, STATE_KINDS):
            record = Record.from_leaf(stored.leaf)
            state.apply(record.seq, record.statement, record.recorded_at)
        state.size = size
        state.last_recorded_at = Record.from_leaf(last.leaf).recorded_at
        head = _Head(size, last.entry_hash, tree, state)
        self._head = head
        return head

    def _batch_receipts(
        self,
        old: _Head,
        new: Sequence[Record],
        nodes: Sequence[tuple[int, int, bytes]],
        note: str,
    ) -> dict[int, Receipt]:
        """Inclusion proofs for a just-committed batch, from memory: every node a proof
        needs is either a peak of the old tree or was created by this batch."""
        known: dict[tuple[int, int], bytes] = {}
        start = 0
        for level, peak in zip(_peak_levels(old.size), old.tree.peaks, strict=True):
            known[(level, start >> level)] = peak
            start += 1 << level
        for record in new:
            known[(0, record.seq)] = record.entry_hash
        for level, idx, digest in nodes:
            known[(level, idx)] = digest

        def reader(wanted: Sequence[tuple[int, int]]) -> list[bytes]:
            return [known[w] for w in wanted]

        size = old.size + len(new)
        return {
            r.seq: Receipt(
                r.seq, r.entry_hash, note, tuple(merkle.inclusion_proof(r.seq, size, reader))
            )
            for r in new
        }

    # -- reading ---------------------------------------------------------------------------

    @property
    def size(self) -> int:
        with self.store.read() as tx:
            return tx.size()

    def state(self) -> LedgerState:
        """Participants and keys at the current head (a copy)."""
        with self.store.read() as tx:
            return self._load_head(tx).state.copy()

    def record(self, seq: int) -> Record | None:
        with self.store.read() as tx:
            stored = tx.record(seq)
        return None if stored is None else Record.from_leaf(stored.leaf)

    def stored_records(self, start: int, limit: int) -> list[StoredRecord]:
        with self.store.read() as tx:
            return tx.records(start, limit)

    def iter_stored(self, start: int = 0, *, chunk: int = 2000) -> Iterator[StoredRecord]:
        """Every stored record from ``start`` on, in seq order, a chunk per read."""
        seq = start
        while True:
            rows = self.stored_records(seq, chunk)
            if not rows:
                return
            yield from rows
            seq = rows[-1].seq + 1

    def receipt(self, seq: int) -> Receipt:
        """The original receipt of record ``seq``: the first checkpoint signed after it."""
        with self.store.read() as tx:
            return self._receipt_in(tx, seq)

    def _receipt_in(self, tx: Reader, seq: int) -> Receipt:
        stored = tx.record(seq)
        covering = tx.checkpoint_covering(seq)
        if stored is None or covering is None:
            raise StorageError(f"no record {seq} with a checkpoint in this ledger")
        size, _root, note = covering
        proof = merkle.inclusion_proof(seq, size, tx.nodes)
        return Receipt(seq, stored.entry_hash, note, tuple(proof))

    def latest_checkpoint(self) -> str:
        with self.store.read() as tx:
            found = tx.checkpoint()
        if found is None:
            raise LedgerNotInitializedError("the ledger has no checkpoint")
        return found[2]

    def checkpoint_at(self, size: int) -> str | None:
        with self.store.read() as tx:
            found = tx.checkpoint(size)
        return None if found is None else found[2]

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of record ``seq`` in the tree of ``size`` (O(log n))."""
        with self.store.read() as tx:
            current = tx.size()
            if not 0 <= seq < size <= current:
                raise MalformedStatementError(
                    f"need 0 <= seq < size <= {current}, got seq={seq} size={size}"
                )
            return merkle.inclusion_proof(seq, size, tx.nodes)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 consistency proof between tree sizes ``old`` and ``new`` (O(log n))."""
        with self.store.read() as tx:
            current = tx.size()
            if not 0 <= old <= new <= current:
                raise MalformedStatementError(
                    f"need 0 <= old <= new <= {current}, got old={old} new={new}"
                )
            return merkle.consistency_proof(old, new, tx.nodes)

    def root(self, size: int) -> bytes:
        with self.store.read() as tx:
            return merkle.root_from_reader(size, tx.nodes)

    # -- projections -----------------------------------------------------------------------

    def rebuild_projections(
        self, progress: Callable[[int, int], None] | None = None, *, chunk: int = REBUILD_CHUNK
    ) -> int:
        """Recreate every projection table from the records alone, in one transaction.

        Records are read and replayed ``chunk`` at a time, each chunk through fresh
        projection batches that are flushed and dropped before the next chunk is read, so
        memory is bounded by the chunk, not the ledger (only ``LedgerState``, participants
        and keys, spans chunks). Returns the number of records replayed. Readers see the
        old projections until the rebuild commits, and the new ones after; appenders wait
        for it. Raises ``MalformedStatementError`` for a ``chunk`` below 1.
        """
        if chunk < 1:
            raise MalformedStatementError(f"rebuild chunk must be at least 1, got {chunk}")
        with self._head_lock, self.store.write() as tx:
            size = tx.size()
            tx.clear_projections(self._projection_tables())
            state = LedgerState()
            touched: list[str] = []
            seq = 0
            while seq < size:
                seq = self._replay_chunk(tx, seq, chunk, state, touched)
                if progress is not None:
                    progress(seq, size)
            tx.project_state(touched, state)
            tx.set_projected_size(size)
            self._head = None
        return size

    def _replay_chunk(
        self, tx: WriteTx, seq: int, chunk: int, state: LedgerState, touched: list[str]
    ) -> int:
        """Replay up to ``chunk`` records from ``seq`` through fresh projection batches and
        flush them; returns the next seq. The batches, the records and everything they
        staged are this call's locals only, so nothing of the chunk outlives it."""
        batches = [p.start(tx) for p in self.projections]
        for stored in tx.records(seq, chunk):
            record = Record.from_leaf(stored.leaf)
            state.apply(record.seq, record.statement, record.recorded_at)
            for batch in batches:
                batch.stage(record, state)
            if record.statement.kind in STATE_KINDS:
                touched.extend(_touched_participants(record.statement))
            seq = stored.seq + 1
        for batch in batches:
            batch.flush()
        return seq

    def projection_dump(self) -> dict[str, list[tuple[object, ...]]]:
        """Every projection table's rows in key order (to compare before/after rebuild)."""
        with self.store.read() as tx:
            return {name: tx.table_dump(name) for name in self._projection_tables()}

    def _projection_tables(self) -> tuple[str, ...]:
        return CORE_PROJECTIONS + tuple(t for p in self.projections for t in p.tables)


class _Slot:
    __slots__ = ("done", "now", "submission", "verified")

    def __init__(
        self,
        submission: Submission,
        now: datetime,
        verified: bool,
        done: Callable[[AppendResult | Exception], None],
    ) -> None:
        self.submission = submission
        self.now = now
        self.verified = verified
        self.done = done


class _GroupCommitter:
    """Group commit: one committer thread per ledger takes every statement queued while its
    previous commit ran and commits them in one transaction (at most ``max_batch``), then
    hands each caller its outcome. An idle committer commits a lone statement at once, so
    batching costs no latency; under load the batch grows with the queue.

    The thread starts with the first statement and stops when the ledger is closed, after
    committing what was queued before. It is a daemon thread: a process that dies mid-commit
    leaves the transaction uncommitted, exactly like a crash."""

    def __init__(self, ledger: Ledger, max_batch: int = MAX_BATCH) -> None:
        self._ledger = ledger
        self._max = max_batch
        self._cv = threading.Condition()
        self._pending: list[_Slot] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def enqueue(self, slot: _Slot) -> None:
        with self._cv:
            if self._closed:
                raise LedgerError("the ledger is closed")
            self._pending.append(slot)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fairledger-commit", daemon=True
                )
                self._thread.start()
            self._cv.notify()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if not self._pending:
                    return
                batch = self._pending[: self._max]
                del self._pending[: self._max]
            self._commit(batch)

    def _commit(self, batch: list[_Slot]) -> None:
        outcomes: Sequence[AppendResult | Exception]
        try:
            outcomes = self._ledger._append_batch(
                [s.submission for s in batch],
                max(s.now for s in batch),
                atomic=False,
                verified=[s.verified for s in batch],
            )
        except Exception as exc:  # noqa: BLE001 - handed to every caller of this batch
            outcomes = [exc] * len(batch)
        for slot, outcome in zip(batch, outcomes, strict=True):
            # A callback that fails (say, its event loop has closed) must not stop the
            # committer: the statement is committed or refused either way.
            with contextlib.suppress(Exception):
                slot.done(outcome)


def _new_record(record: Record) -> NewRecord:
    s = record.statement
    return NewRecord(record.seq, record.entry_hash, record.leaf, s.kind, s.author, s.nonce, s.key)


def _touched_participants(statement: Statement) -> list[str]:
    body = statement.body
    if statement.kind == Kind.GENESIS:
        return [str(body["operator"])]
    if statement.kind in (Kind.REGISTER, Kind.KEY_REVOKE):
        return [str(body["participant"])]
    return [statement.author]


def _check_replay(recorded: Statement, submitted: Statement, pair: tuple[str, str]) -> None:
    if recorded.canonical != submitted.canonical:
        raise _duplicate(pair)


def _duplicate(pair: tuple[str, str]) -> DuplicateNonceError:
    return DuplicateNonceError(
        f"{pair[0]} already used nonce {pair[1]!r} for a different statement",
        field="statement.nonce",
    )


def _peak_levels(size: int) -> list[int]:
    """Levels of the perfect subtrees of ``size``'s binary decomposition, largest first."""
    return [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]
