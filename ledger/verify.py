"""Verification of a whole ledger, from its database or from an export file (DESIGN §7).

Two surfaces over one engine: ``verify_*`` raises the first ``VerificationError``;
``audit_*`` returns an ``AuditReport`` listing every finding and never raises on bad data.

What is checked, record by record, and where each failure is reported:

* the leaf bytes are canonical JCS of a well-formed record (``RecordRuleError`` at its seq);
* the record's ``seq`` is the next one, so deleted, inserted or swapped records show at the
  first seq out of place (``ChainLinkError``);
* the recomputed entry hash equals the stored one, and ``prev`` equals the previous stored
  entry hash (``ChainLinkError``): a changed byte shows at its own seq, not the next;
* the signature verifies with the key the statement names (``SignatureError``);
* that key belonged to the author and was active at that seq, the author's roles allow the
  kind, and the body obeys its kind's rules (``RecordRuleError``), by replaying the very
  ``LedgerState`` the appender uses; ``recorded_at`` never goes backwards; no (author, nonce)
  is recorded twice;
* the Merkle tree recomputed from the entry hashes matches every signed checkpoint
  (``CheckpointError``), every stored tree node (``ChainLinkError`` at the node's first leaf),
  and checkpoints that cannot all describe one log are reported as a ``ForkError`` with both
  signed notes; a checkpoint larger than the log reveals a truncated tail.

Records stream in jobs of ``CHUNK``. The work that needs no sequential state — reading the
rows, proving each leaf canonical, hashing it, validating its fields, the replay digest and
the Ed25519 signature — turns each record into a compact *fact* (``ledger._verify_worker``);
this process judges the facts in log order: seq and ``prev`` links, which keys count at each
seq, authorship and body rules (``LedgerState``), the replay check, the tree and the
checkpoints. Large audits run that record-local work in ``WORKERS`` worker processes (fresh,
small interpreters; a SQLite ledger's rows are read by the workers themselves) while this
process judges the previous jobs; small ones (tests, incremental audits) do it in process.
Threads would not do: parsing holds the GIL. Memory does not grow with the ledger apart from
one 64-bit digest per (author, nonce) for the replay check (a flat table here, the auditor
state's sorted sidecar for incremental audits).

Incremental audits (``audit_incremental``) resume from an ``AuditorState``
(``ledger.auditor_state``): the last verified checkpoint, the tree's peaks, the last entry
hash, the participants and keys, and the replay digests. Only the records after it are read;
the tree is grown from the saved peaks, so its root at the new checkpoint's size is checked
against what the operator signed, and the source's consistency proof from the saved checkpoint
to the new one must verify too (RFC 9162 §2.1.4.2). A smaller new checkpoint (a rollback), a
different root at the same size, or a failed proof is a ``ForkError`` carrying both signed
notes, and the audit returns an evidence document (``ledger.evidence``) holding both notes and
the failed proof.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from ledger import merkle
from ledger._verify_worker import (
    Fact,
    Item,
    Nodes,
    RecordChecker,
    read_message,
    split_export_line,
    verify_pending,
    write_message,
)
from ledger.auditor_state import SALT_SIZE, AuditorState, NonceSet
from ledger.canonical import JSONObject, parse_json
from ledger.errors import (
    ChainLinkError,
    CheckpointError,
    ConsistencyProofError,
    ForkError,
    InclusionProofError,
    LedgerError,
    LedgerNotInitializedError,
    MalformedError,
    RecordRuleError,
    SignatureError,
    StorageError,
    VerificationError,
)
from ledger.evidence import build_evidence, finding_json
from ledger.export import CHECKPOINT_PREFIX, RECORD_PREFIX, read_header
from ledger.keys import PublicKey
from ledger.note import (
    Checkpoint,
    Ed25519Verifier,
    SignedCheckpoint,
    open_checkpoint,
    parse_note,
    vkey_from_text,
)
from ledger.receipt import Receipt
from ledger.state import STATE_KINDS, BodyValidator, Kind, LedgerState, judge
from ledger.statement import ZERO_HASH, Statement, parse_timestamp
from ledger.storage.engine import create_ledger_engine, is_migrated
from ledger.storage.store import SqlStore

CHUNK = 2000
#: Below this many records, checking them in-process beats starting workers (about a
#: third of a second for two small interpreters).
PARALLEL_THRESHOLD = 5_000
#: Worker processes of a large audit (this machine has two cores; the auditing process
#: itself needs much less than one).
WORKERS = 2
#: Jobs in flight: every worker has the next one queued while the auditor judges.
_INFLIGHT = 2 * WORKERS
#: Records in a large audit's first job, judged before any other job is sent out, so the
#: keys registered at the start of a ledger reach every worker with its first job.
_FIRST_JOB = 256
MAX_FINDINGS = 1000

Progress = Callable[[int, int], None]


@dataclass
class AuditReport:
    """Everything an audit found. ``ok`` only when there are no findings."""

    origin: str | None = None
    size: int = 0
    records_checked: int = 0
    checkpoints_checked: int = 0
    root: bytes = merkle.EMPTY_ROOT
    latest_checkpoint: str | None = None
    findings: list[VerificationError] = field(default_factory=list)
    truncated: bool = False
    #: Records before ``start`` were verified by an earlier run (incremental audits).
    start: int = 0
    #: The checkpoint an incremental audit resumed from.
    verified_checkpoint: str | None = None
    #: Remarks that are not findings (e.g. why a saved state was not advanced).
    notes: list[str] = field(default_factory=list)
    #: Peak resident memory (KiB) of each worker process the audit ran, for benchmarks.
    workers_peak_rss_kb: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "size": self.size,
            "start": self.start,
            "records_checked": self.records_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "root": self.root.hex(),
            "latest_checkpoint": self.latest_checkpoint,
            "verified_checkpoint": self.verified_checkpoint,
            "findings": [finding_json(f) for f in self.findings],
            "findings_truncated": self.truncated,
            "notes": list(self.notes),
        }


# -- worker processes -------------------------------------------------------------------------


class _Workers:
    """The worker processes of one audit (``ledger._verify_worker``), fed jobs round robin.

    Each is a fresh interpreter (``python -I``: fork-safe, with this process's import path)
    that imports only the worker module's small dependency set. Jobs and answers travel as
    length-prefixed ``marshal`` messages over its stdin and stdout; answers come back in job
    order. Leaving the ``with`` block ends them; on an error they are killed."""

    def __init__(self, count: int, init: tuple[object, ...]) -> None:
        paths = [p or os.getcwd() for p in sys.path]
        code = (
            f"import sys; sys.path[:] = {paths!r}; from ledger._verify_worker import main; main()"
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        self.sent_keys = [0] * count
        self.peak_rss_kb: list[int] = []
        try:
            for _ in range(count):
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-c", code],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                self.procs.append(proc)
                self._write(len(self.procs) - 1, init)
        except OSError as exc:
            self.kill()
            raise StorageError(f"cannot start verification workers: {exc}") from exc
        except BaseException:
            self.kill()
            raise

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.close()
        else:
            self.kill()

    def send(
        self,
        worker: int,
        keys: Sequence[tuple[str, bytes]],
        job: tuple[int, int, list[Item] | None],
    ) -> None:
        """Queue a job: records ``[start, end)`` read by the worker, or the items given,
        with the keys learnt since this worker's last job."""
        new = list(keys[self.sent_keys[worker] :])
        self.sent_keys[worker] = len(keys)
        self._write(worker, (new, *job))

    def receive(self, worker: int) -> tuple[list[Fact], Nodes | None]:
        """The answer to this worker's oldest job. Raises ``StorageError`` if it failed."""
        stdout = self.procs[worker].stdout
        assert stdout is not None
        try:
            answer = read_message(stdout)
        except (EOFError, OSError, ValueError) as exc:
            code = self.procs[worker].poll()
            raise StorageError(f"verification worker stopped (exit status {code})") from exc
        if not isinstance(answer, tuple) or answer[0] != "ok":
            detail = answer[1] if isinstance(answer, tuple) else answer
            raise StorageError(f"verification worker failed: {detail}")
        facts, nodes = answer[1], answer[2]
        return facts, nodes

    def _write(self, worker: int, value: object) -> None:
        stdin = self.procs[worker].stdin
        assert stdin is not None
        try:
            write_message(stdin, value)
        except OSError as exc:
            code = self.procs[worker].poll()
            raise StorageError(f"verification worker stopped (exit status {code})") from exc

    def close(self) -> None:
        """End every worker (end of input) and record its peak memory."""
        for proc in self.procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self.procs:
            assert proc.stdout is not None
            try:
                answer = read_message(proc.stdout)
            except (EOFError, OSError, ValueError):
                answer = None
            proc.stdout.close()
            proc.wait()
            ok = isinstance(answer, tuple) and answer[0] == "bye"
            self.peak_rss_kb.append(int(answer[1]) if ok else 0)  # type: ignore[index]

    def kill(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with suppress(OSError):
                        stream.close()
            proc.wait()


# -- sources ----------------------------------------------------------------------------------


@dataclass
class RecordSource:
    """Where an audit reads a ledger from (a database, an export file, a server).

    ``chunks`` yields records ``start..size-1`` in order, as lists of
    ``(position, payload, stored entry hash or None, is_line)``: ``payload`` is the leaf bytes,
    or, when ``is_line``, an export record line (``ledger.export``) whose own ``seq`` replaces
    ``position``. ``checkpoints`` maps tree sizes to signed notes as the source presents them;
    it may grow while the chunks are read, but a checkpoint must be present before the record
    that completes its tree is consumed. Nothing a source says is trusted: ``origin_vkey`` is
    only what it claims. ``consistency_proof(old, new)`` asks the source for an RFC 9162 proof
    (its errors become findings); ``nodes_between`` returns its stored tree nodes completed by
    leaves ``[start, end)``, to check them too. ``close`` releases what the source holds.
    With ``sqlite_file``, the worker processes of a large audit read records ``start..size-1``
    and their stored tree nodes straight from that SQLite file (the same rows ``chunks`` and
    ``nodes_between`` give) instead of receiving them from the auditing process.
    """

    origin_vkey: str | None
    size: int
    chunks: Iterator[list[tuple[int, bytes, bytes | None, bool]]]
    checkpoints: dict[int, str]  # filled as the source is read
    #: Stored tree nodes completed by leaves [start, end): {(level, idx): hash}.
    nodes_between: Callable[[int, int], dict[tuple[int, int], bytes]] | None = None
    start: int = 0
    consistency_proof: Callable[[int, int], Sequence[bytes]] | None = None
    close: Callable[[], None] = field(default=lambda: None)
    description: str = ""
    sqlite_file: str | None = None


_Source = RecordSource


def _database_source(store: SqlStore, start: int = 0) -> RecordSource:
    with store.read() as tx:
        size = tx.size()
        checkpoints = {s: note for s, _root, note in tx.checkpoints()}

    def chunks() -> Iterator[list[tuple[int, bytes, bytes | None, bool]]]:
        # The audit covers the snapshot taken above: records appended while it runs are
        # left for the next audit, so a live ledger never looks longer than its checkpoints.
        seq = start
        while seq < size:
            with store.read() as tx:
                rows = [r for r in tx.records(seq, min(CHUNK, size - seq)) if r.seq < size]
            if not rows:
                return
            yield [(r.seq, r.leaf, r.entry_hash, False) for r in rows]
            seq = rows[-1].seq + 1

    def nodes_between(first: int, end: int) -> dict[tuple[int, int], bytes]:
        with store.read() as tx:
            return tx.nodes_completed_between(first, end)

    def consistency_proof(old: int, new: int) -> list[bytes]:
        with store.read() as tx:
            return merkle.consistency_proof(old, new, tx.nodes)

    return RecordSource(
        None,
        size,
        chunks(),
        checkpoints,
        nodes_between,
        start=start,
        consistency_proof=consistency_proof,
        description=store.engine.url.render_as_string(hide_password=True),
        sqlite_file=_sqlite_file(store),
    )


def _sqlite_file(store: SqlStore) -> str | None:
    """The file of a SQLite ledger, which worker processes can read themselves."""
    url = store.engine.url
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return str(Path(database).resolve())


def _claimed_seq(line: bytes) -> int | None:
    """The ``seq`` an export record line ends with (``...,"seq":N}``), or None."""
    tail = line.rstrip(b"\r\n")
    cut = tail.rfind(b',"seq":')
    digits = tail[cut + 7 : -1]
    if cut < 0 or not tail.endswith(b"}") or not digits.isdigit():
        return None
    return int(digits)


def _export_source(path: Path, start: int = 0) -> tuple[RecordSource, Callable[[], None]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise StorageError(f"cannot read export file {path}: {exc.strerror}") from exc
    try:
        header = read_header(handle.readline())
    except BaseException:
        handle.close()
        raise
    checkpoints: dict[int, str] = {}
    size = header["size"]
    assert isinstance(size, int)

    def chunks() -> Iterator[list[tuple[int, bytes, bytes | None, bool]]]:
        chunk: list[tuple[int, bytes, bytes | None, bool]] = []
        position = 0
        for line in handle:
            if line.startswith(CHECKPOINT_PREFIX):
                value = parse_json(line)
                if isinstance(value, dict) and isinstance(value.get("size"), int):
                    checkpoints[int(str(value["size"]))] = str(value["checkpoint"])
                continue
            if not line.startswith(RECORD_PREFIX):
                raise MalformedError(f"unexpected line {position + 2} in the export")
            if start:
                claimed = _claimed_seq(line)
                if claimed is not None and claimed < start:
                    position += 1  # verified by an earlier run
                    continue
            # A full chunk is released only when the next record line arrives, so the
            # checkpoint lines that follow its last record are known before it is consumed.
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
            chunk.append((position, line, None, True))
            position += 1
        if chunk:
            yield chunk

    source = RecordSource(
        str(header["vkey"]),
        size,
        chunks(),
        checkpoints,
        start=start,
        close=handle.close,
        description=str(path),
    )
    return source, handle.close


# -- the sequential engine --------------------------------------------------------------------


class _DigestTable:
    """A set of 64-bit digests in one flat array (open addressing, linear probing, load at
    most 1/2): 8 to 16 bytes a digest where a Python ``set`` of ints takes about 80, which
    for a million records is the difference that keeps an audit within its memory budget."""

    __slots__ = ("_count", "_mask", "_table", "_zero")

    def __init__(self, expected: int = 0) -> None:
        size = 1024
        while size < 2 * expected:
            size *= 2
        self._table = array("Q", [0]) * size
        self._mask = size - 1
        self._count = 0
        self._zero = False  # 0 marks an empty slot, so the digest 0 is kept aside

    def __contains__(self, digest: int) -> bool:
        if not digest:
            return self._zero
        table, mask = self._table, self._mask
        i = digest & mask
        while True:
            value = table[i]
            if value == digest:
                return True
            if not value:
                return False
            i = (i + 1) & mask

    def add(self, digest: int) -> None:
        if not digest:
            self._zero = True
            return
        table, mask = self._table, self._mask
        i = digest & mask
        while True:
            value = table[i]
            if value == digest:
                return
            if not value:
                table[i] = digest
                self._count += 1
                if 2 * self._count > len(table):
                    self._grow()
                return
            i = (i + 1) & mask

    def __len__(self) -> int:
        return self._count + self._zero

    def _grow(self) -> None:
        old = self._table
        self._table = array("Q", [0]) * (2 * len(old))
        self._mask = len(self._table) - 1
        self._count = 0
        for value in old:
            if value:
                self.add(value)


class _Auditor:
    def __init__(
        self,
        report: AuditReport,
        operator_vkey: str | None,
        validators: dict[str, BodyValidator] | None,
        stop_at_first: bool,
        *,
        resume: AuditorState | None = None,
        nonce_salt: bytes | None = None,
        expected_records: int = 0,
    ) -> None:
        self.report = report
        self.trusted_vkey = operator_vkey
        self.validators = validators
        self.stop = stop_at_first
        self.state = LedgerState()
        self.tree = merkle.CompactRange()
        self.expected_seq = 0
        self.prev_hash = ZERO_HASH
        self.last_recorded_at = ""
        #: Replay digests, keyed by a salt nobody else knows (so nobody can craft colliding
        #: nonces): persistable for incremental audits, a compact table otherwise.
        self.salt = nonce_salt if nonce_salt is not None else secrets.token_bytes(SALT_SIZE)
        self.nonces: _DigestTable | NonceSet = (
            _DigestTable(expected_records) if nonce_salt is None else NonceSet(nonce_salt)
        )
        self.verifier: Ed25519Verifier | None = None
        self.roots: dict[int, bytes] = {}
        if resume is not None:
            self.state = resume.ledger_state.copy()
            self.state.size = resume.size
            self.tree = merkle.CompactRange(resume.size, resume.peaks)
            self.expected_seq = resume.size
            self.prev_hash = resume.last_entry_hash.hex()
            self.last_recorded_at = resume.last_recorded_at
            self.salt = resume.nonces.salt
            self.nonces = NonceSet(resume.nonces.salt, resume.nonces.prior)
            self.verifier = resume.verifier
            self.trusted_vkey = resume.vkey
            self.roots[resume.size] = resume.root
            report.origin = self.verifier.name
        #: Keys introduced so far in log order (key id -> raw public key), and the same in
        #: the order learnt, for the workers: a record's signature counts only when its key
        #: was introduced at or before it, exactly as in one serial pass.
        self.keys: dict[str, bytes] = {k: i.public_key.raw for k, i in self.state.keys.items()}
        self.new_keys: list[tuple[str, bytes]] = list(self.keys.items())
        self.public_keys: dict[str, PublicKey] = {}
        #: Sizes of the signed checkpoints whose roots must be captured; the source may add
        #: to it while streaming, but always before the records it covers are consumed.
        self.wanted_roots: dict[int, str] = {}
        #: Stored tree nodes for the chunk being consumed, or None when the source has none.
        self.stored_nodes: dict[tuple[int, int], bytes] | None = None

    def find(self, error: VerificationError) -> None:
        if self.stop:
            raise error
        if len(self.report.findings) >= MAX_FINDINGS:
            self.report.truncated = True
            return
        self.report.findings.append(error)

    def take(self, fact: Fact) -> None:
        """Judge the next record from its facts (``ledger._verify_worker``)."""
        position, entry, stored, error = fact[0], fact[1], fact[2], fact[3]
        assert isinstance(position, int)
        assert isinstance(entry, bytes)
        assert stored is None or isinstance(stored, bytes)
        if error is None and fact[17] is not None:
            for key_id, raw in fact[17]:  # type: ignore[attr-defined]
                if key_id not in self.keys:
                    self.keys[key_id] = raw
                    self.new_keys.append((key_id, raw))
        seq = self.expected_seq
        if position < seq:
            self.find(
                ChainLinkError(
                    "record appears twice or out of order", seq=position, observed=str(seq)
                )
            )
            return
        if position > seq:
            self.find(
                ChainLinkError(
                    f"records {seq}..{position - 1} are missing",
                    seq=seq,
                    expected=str(seq),
                    observed=str(position),
                )
            )
            self.expected_seq = seq = position
        link = stored or entry
        if error is not None:
            self.find(RecordRuleError(f"unreadable record: {error}", seq=seq))
            self._advance(link)
            return
        (
            record_seq,
            prev,
            recorded_at,
            ledger_name,
            kind,
            author,
            key,
            nonce,
            issued_at,
            digest,
            verdict,
            canonical,
            signature,
        ) = fact[4:17]
        assert isinstance(record_seq, int)
        assert isinstance(prev, str)
        assert isinstance(recorded_at, str)
        assert isinstance(key, str)
        assert isinstance(author, str)
        assert isinstance(nonce, str)
        assert isinstance(digest, int)
        assert verdict is None or isinstance(verdict, bool)
        assert canonical is None or isinstance(canonical, bytes)
        assert signature is None or isinstance(signature, bytes)
        if verdict is not None:
            if key not in self.keys:
                verdict = None  # checked with a key that this log introduces only later
        elif key in self.keys and signature is not None and canonical is not None:
            verdict = verify_pending(self._public_key(key), signature, canonical)
        if canonical is not None:
            statement = Statement.from_canonical(canonical)
        else:
            issued_us = fact[18]
            assert isinstance(issued_us, int)
            statement = Statement.elided(
                str(ledger_name), str(kind), author, key, nonce, str(issued_at), issued_us
            )
        if record_seq != seq:
            # A record claiming a lower seq was displaced by inserted records; one claiming a
            # higher seq stands where another was removed or swapped away. Either way the
            # first seq out of place is the smaller of the two.
            self.find(
                ChainLinkError(
                    "record carries the wrong seq (inserted, deleted or swapped records)",
                    seq=min(seq, record_seq),
                    expected=str(seq),
                    observed=str(record_seq),
                )
            )
        if stored is not None and stored != entry:
            self.find(
                ChainLinkError(
                    "record bytes do not hash to the stored entry hash",
                    seq=seq,
                    expected=stored.hex(),
                    observed=entry.hex(),
                )
            )
        if prev != self.prev_hash:
            self.find(
                ChainLinkError(
                    "prev does not link to the previous record",
                    seq=seq,
                    expected=self.prev_hash,
                    observed=prev,
                )
            )
        if recorded_at < self.last_recorded_at:
            self.find(
                RecordRuleError(
                    "recorded_at goes backwards",
                    seq=seq,
                    expected=f">= {self.last_recorded_at}",
                    observed=recorded_at,
                )
            )
        if digest in self.nonces:
            self.find(
                RecordRuleError(
                    f"{author} nonce {nonce!r} is recorded twice (a replay)",
                    seq=seq,
                )
            )
        self.nonces.add(digest)
        self._judge(seq, statement, signature or b"", recorded_at, verdict)
        self._advance(link)
        if recorded_at > self.last_recorded_at:
            self.last_recorded_at = recorded_at

    def _public_key(self, key_id: str) -> PublicKey:
        key = self.public_keys.get(key_id)
        if key is None:
            key = self.public_keys[key_id] = PublicKey(self.keys[key_id])
        return key

    def _judge(
        self,
        seq: int,
        statement: Statement,
        signature: bytes,
        recorded_at: str,
        signature_ok: bool | None,
    ) -> None:
        if seq == 0:
            self._check_trust_anchor(statement)
        if signature_ok is False:
            self.find(
                SignatureError(
                    f"signature by {statement.author} does not verify with key "
                    f"{statement.key[:16]}…",
                    seq=seq,
                )
            )
        try:
            judge(
                self.state,
                seq,
                statement,
                signature,
                parse_timestamp(recorded_at, field="recorded_at"),
                self.validators,
                signature_checked=signature_ok is not None,
            )
        except LedgerError as exc:
            if exc.code == "bad-signature" and exc.field == "signature":
                self.find(SignatureError(exc.message, seq=seq))
            else:
                self.find(RecordRuleError(f"{exc.code}: {exc.message}", seq=seq))
            if statement.kind not in STATE_KINDS:
                return
            # A broken state record is still applied when it can be, so one bad record does
            # not hide the rest of the log behind a cascade of unknown keys.
        try:
            self.state.apply(seq, statement, recorded_at)
        except (LedgerError, KeyError, ValueError, AssertionError):
            self.state.size = seq + 1

    def _check_trust_anchor(self, statement: Statement) -> None:
        if statement.kind != Kind.GENESIS:
            return
        body = statement.body
        try:
            key = PublicKey.from_base64(str(body.get("public_key")))
            verifier = Ed25519Verifier(str(body.get("origin")), key)
        except LedgerError as exc:
            self.find(
                RecordRuleError(f"genesis names no usable operator key: {exc.message}", seq=0)
            )
            return
        if self.trusted_vkey is not None and verifier.vkey != self.trusted_vkey:
            self.find(
                RecordRuleError(
                    "genesis operator key is not the trusted one",
                    seq=0,
                    expected=self.trusted_vkey,
                    observed=verifier.vkey,
                )
            )
        self.verifier = verifier
        self.report.origin = verifier.name

    def _advance(self, link_hash: bytes) -> None:
        """Extend the chain and tree with the stored entry hash. A record whose bytes do not
        match it has been reported already; building on the stored hash keeps that one
        finding from cascading into every later link and checkpoint."""
        created = self.tree.append(link_hash)
        if self.stored_nodes is not None:
            for level, idx, digest in created:
                stored = self.stored_nodes.get((level, idx))
                if stored != digest:
                    self.find(
                        ChainLinkError(
                            f"stored tree node ({level}, {idx}) does not match the records",
                            seq=idx << level,
                            expected=digest.hex(),
                            observed=stored.hex() if stored is not None else "missing",
                        )
                    )
        self.prev_hash = link_hash.hex()
        self.expected_seq += 1
        if self.expected_seq in self.wanted_roots:
            self.roots[self.expected_seq] = self.tree.root()


def _run(
    source: _Source, auditor: _Auditor, parallel: bool | None, progress: Progress | None
) -> None:
    """Turn records into facts (``ledger._verify_worker``) and judge them in order: here for
    small audits, else in ``WORKERS`` worker processes, each job answered while the next
    ones are being worked on; at most ``_INFLIGHT`` jobs are in flight."""
    auditor.wanted_roots = source.checkpoints
    total = max(source.size - source.start, 0)
    use_workers = parallel if parallel is not None else total >= PARALLEL_THRESHOLD
    full_kinds = sorted(str(kind) for kind in STATE_KINDS | set(auditor.validators or ()))
    done = 0
    if not use_workers or not sys.executable:
        checker = RecordChecker(auditor.salt, full_kinds, auditor.new_keys)
        for chunk in source.chunks:
            done += _consume(source, auditor, checker.check(chunk), None)
            if progress is not None:
                progress(done, total)
        return
    jobs: Iterator[tuple[int, int, list[Item] | None]]
    if source.sqlite_file is not None:
        jobs = _ranges(source.start, source.size)
    else:
        jobs = ((0, 0, chunk) for chunk in source.chunks)
    workers = _Workers(WORKERS, (auditor.salt, full_kinds, [], source.sqlite_file))
    with workers:
        queued: deque[int] = deque()  # the worker of each job in flight, oldest first
        turn = 0
        for job in jobs:
            workers.send(turn, auditor.new_keys, job)
            queued.append(turn)
            turn = (turn + 1) % WORKERS
            # The first job alone: it usually introduces the keys every later one needs.
            if len(queued) >= (_INFLIGHT if done else 1):
                facts, nodes = workers.receive(queued.popleft())
                done += _consume(source, auditor, facts, nodes)
                if progress is not None:
                    progress(done, total)
        while queued:
            facts, nodes = workers.receive(queued.popleft())
            done += _consume(source, auditor, facts, nodes)
            if progress is not None:
                progress(done, total)
    auditor.report.workers_peak_rss_kb = workers.peak_rss_kb


def _ranges(start: int, end: int) -> Iterator[tuple[int, int, None]]:
    """Seq ranges for workers that read the database themselves; the first one is small."""
    step = _FIRST_JOB
    while start < end:
        yield start, min(start + step, end), None
        start += step
        step = CHUNK


def _consume(source: _Source, auditor: _Auditor, facts: Sequence[Fact], nodes: Nodes | None) -> int:
    """Judge a job's facts in order. Each tree node the records complete is compared with
    the stored node of the same (level, index): the nodes completed by leaves
    ``[tree size, tree size + len(facts))``. Workers that read the database send those of
    the positions they read, which are the same unless records are missing before them."""
    if facts:
        first = auditor.tree.size
        if nodes is not None and facts[0][0] == first:
            auditor.stored_nodes = nodes
        elif source.nodes_between is not None:
            auditor.stored_nodes = source.nodes_between(first, first + len(facts))
    for fact in facts:
        auditor.take(fact)
    return len(facts)


def _check_checkpoints(source: _Source, auditor: _Auditor) -> None:
    report = auditor.report
    verifier = auditor.verifier
    if verifier is None:
        if report.size:
            auditor.find(CheckpointError("no genesis record: cannot check any checkpoint"))
        return
    matching: list[tuple[int, str]] = []
    mismatching: list[tuple[int, str, bytes, bytes | None]] = []
    for size in sorted(source.checkpoints):
        if source.start and size <= source.start:
            continue  # at or before the resumed-from checkpoint: see _compare_with_saved
        note = source.checkpoints[size]
        try:
            signed = open_checkpoint(note, verifier)
        except LedgerError as exc:
            auditor.find(CheckpointError(f"checkpoint at size {size}: {exc.message}", seq=size - 1))
            continue
        report.checkpoints_checked += 1
        cp = signed.checkpoint
        if cp.size != size:
            auditor.find(
                CheckpointError(
                    "checkpoint is filed under the wrong size",
                    seq=size - 1,
                    expected=str(size),
                    observed=str(cp.size),
                )
            )
            continue
        if size > report.size:
            auditor.find(
                CheckpointError(
                    f"a checkpoint covers {size} records but the ledger holds {report.size}: "
                    "the tail was truncated",
                    seq=report.size,
                    expected=str(size),
                    observed=str(report.size),
                )
            )
            continue
        actual = auditor.roots.get(size)
        if actual == cp.root:
            matching.append((size, note))
        else:
            mismatching.append((size, note, cp.root, actual))
        report.latest_checkpoint = note
    for size, note, signed_root, actual in mismatching:
        later = [(s, n) for s, n in matching if s > size]
        if later:
            other_size, other = later[0]
            auditor.find(
                ForkError(
                    f"the operator signed two inconsistent trees: size {size} and size "
                    f"{other_size} cannot both be true",
                    seq=size - 1,
                    expected=actual.hex() if actual else None,
                    observed=signed_root.hex(),
                    checkpoints=(note, other),
                )
            )
        else:
            auditor.find(
                CheckpointError(
                    f"checkpoint root at size {size} does not match the records",
                    seq=size - 1,
                    expected=signed_root.hex(),
                    observed=actual.hex() if actual else None,
                )
            )


# -- public API -------------------------------------------------------------------------------


def audit_database(
    url: str | SqlStore,
    *,
    operator_vkey: str | None = None,
    validators: dict[str, BodyValidator] | None = None,
    parallel: bool | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Check every record, link, signature, key, rule, tree node and checkpoint of the ledger
    in a database. Never raises on bad data: every finding is in the report."""
    return _audit_database(url, operator_vkey, validators, parallel, progress, stop=False)


def verify_database(
    url: str | SqlStore,
    *,
    operator_vkey: str | None = None,
    validators: dict[str, BodyValidator] | None = None,
    parallel: bool | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Like ``audit_database`` but raises the first ``VerificationError``."""
    return _audit_database(url, operator_vkey, validators, parallel, progress, stop=True)


def _audit_database(
    url: str | SqlStore,
    operator_vkey: str | None,
    validators: dict[str, BodyValidator] | None,
    parallel: bool | None,
    progress: Progress | None,
    *,
    stop: bool,
) -> AuditReport:
    store = url if isinstance(url, SqlStore) else SqlStore(create_ledger_engine(url))
    try:
        if not is_migrated(store.engine):
            raise LedgerNotInitializedError(f"no ledger in {store.engine.url!r}")
        source = _database_source(store)
        return _audit(source, operator_vkey, validators, parallel, progress, stop)
    finally:
        if not isinstance(url, SqlStore):
            store.dispose()


def audit_export(
    path: Path,
    *,
    operator_vkey: str | None = None,
    validators: dict[str, BodyValidator] | None = None,
    parallel: bool | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Check an export file (``ledger.export`` format) as ``audit_database`` does.
    Raises ``MalformedError`` only if the file is not an export at all."""
    source, close = _export_source(path)
    try:
        return _audit(source, operator_vkey, validators, parallel, progress, stop=False)
    finally:
        close()


def verify_export(
    path: Path,
    *,
    operator_vkey: str | None = None,
    validators: dict[str, BodyValidator] | None = None,
    parallel: bool | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Like ``audit_export`` but raises the first ``VerificationError``."""
    source, close = _export_source(path)
    try:
        return _audit(source, operator_vkey, validators, parallel, progress, stop=True)
    finally:
        close()


def _audit(
    source: _Source,
    operator_vkey: str | None,
    validators: dict[str, BodyValidator] | None,
    parallel: bool | None,
    progress: Progress | None,
    stop: bool,
) -> AuditReport:
    report = AuditReport(size=source.size)
    auditor = _Auditor(
        report, operator_vkey, validators, stop, expected_records=max(source.size, 0)
    )
    if operator_vkey is not None:
        vkey_from_text(operator_vkey)  # malformed trust anchors fail loudly, before any work
    _run(source, auditor, parallel, progress)
    report.records_checked = auditor.expected_seq
    if auditor.expected_seq != source.size:
        auditor.find(
            ChainLinkError(
                "the log ends early",
                seq=auditor.expected_seq,
                expected=str(source.size),
                observed=str(auditor.expected_seq),
            )
        )
    report.size = auditor.expected_seq
    report.root = auditor.tree.root()
    _check_checkpoints(source, auditor)
    return report


def verify_consistent_checkpoints(
    older: str,
    newer: str,
    proof: Sequence[bytes],
    operator: Ed25519Verifier,
) -> None:
    """Check that two signed checkpoints describe one append-only log.

    Raises ``SignatureError``/``CheckpointError`` for a checkpoint that is not the
    operator's, and ``ForkError`` carrying both notes when the consistency proof fails (a
    rewritten, forked or rolled-back history).
    """
    old = open_checkpoint(older, operator).checkpoint
    new = open_checkpoint(newer, operator).checkpoint
    if new.size < old.size:
        raise ForkError(
            "the newer checkpoint is smaller than the one already verified (a rollback)",
            seq=new.size,
            expected=f">= {old.size}",
            observed=str(new.size),
            checkpoints=(older, newer),
        )
    try:
        merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
    except VerificationError as exc:
        raise ForkError(
            f"checkpoints at sizes {old.size} and {new.size} are inconsistent: {exc.message}",
            seq=old.size,
            expected=exc.expected,
            observed=exc.observed,
            checkpoints=(older, newer),
        ) from exc


# -- incremental audits ------------------------------------------------------------------------


def open_database_source(url: str | SqlStore, *, start: int = 0) -> RecordSource:
    """A source over the ledger in a database, from record ``start`` on, as of one snapshot.
    ``close()`` it when done. Raises ``LedgerNotInitializedError`` if there is no ledger."""
    store = url if isinstance(url, SqlStore) else SqlStore(create_ledger_engine(url))
    try:
        if not is_migrated(store.engine):
            raise LedgerNotInitializedError(f"no ledger in {store.engine.url!r}")
        source = _database_source(store, start)
    except BaseException:
        if not isinstance(url, SqlStore):
            store.dispose()
        raise
    if not isinstance(url, SqlStore):
        source.close = store.dispose
    return source


def open_export_source(path: Path, *, start: int = 0) -> RecordSource:
    """A source over an export file (``ledger.export``), from record ``start`` on (earlier
    record lines are skipped unparsed). ``close()`` it when done. Raises ``StorageError`` if
    the file cannot be read and ``MalformedError`` if it is not an export."""
    source, _close = _export_source(path, start)
    return source


@dataclass
class IncrementalAudit:
    """The outcome of ``audit_incremental``: the report; the state to save for the next run
    (None unless everything held and a signed checkpoint covers exactly the records
    verified); evidence for an evidence file whenever something failed."""

    report: AuditReport
    state: AuditorState | None
    evidence: JSONObject | None


def audit_incremental(
    source: RecordSource,
    *,
    operator_vkey: str | None,
    state: AuditorState | None,
    nonce_salt: bytes,
    validators: dict[str, BodyValidator] | None = None,
    parallel: bool | None = None,
    progress: Progress | None = None,
) -> IncrementalAudit:
    """Audit ``source`` from ``state`` on (from genesis when ``state`` is None).

    Checks every new record as ``audit_database`` does, the new tree grown from the saved
    peaks against every new signed checkpoint, and the source's consistency proof from the
    saved checkpoint to its latest one. ``source.start`` must be ``state.size`` (0 without a
    state). ``nonce_salt`` (random, from the caller) keys the replay digests of a new state.
    Never raises on bad data: findings are in the report, evidence in the result. Raises
    ``MalformedKeyError`` for a malformed ``operator_vkey`` and ``ValueError`` when the
    source, the state and the trusted vkey do not belong together (a caller bug).
    """
    start = state.size if state is not None else 0
    if source.start != start:
        raise ValueError(f"the source starts at {source.start}, the state at {start}")
    if operator_vkey is not None:
        vkey_from_text(operator_vkey)
        if state is not None and state.vkey != operator_vkey:
            raise ValueError("the state belongs to another operator key")
    report = AuditReport(size=source.size, start=start)
    auditor = _Auditor(
        report, operator_vkey, validators, False, resume=state, nonce_salt=nonce_salt
    )
    if state is not None:
        report.verified_checkpoint = state.checkpoint
    _run(source, auditor, parallel, progress)
    report.records_checked = auditor.expected_seq - start
    if source.size >= start and auditor.expected_seq != source.size:
        auditor.find(
            ChainLinkError(
                "the log ends early",
                seq=auditor.expected_seq,
                expected=str(source.size),
                observed=str(auditor.expected_seq),
            )
        )
    report.size = auditor.expected_seq if source.size >= start else source.size
    report.root = auditor.tree.root()
    _check_checkpoints(source, auditor)
    evidence = _compare_with_saved(source, auditor, state)
    if evidence is None and report.findings:
        evidence = _findings_evidence(source, auditor, state)
    return IncrementalAudit(report, _next_state(source, auditor, state), evidence)


def _latest_signed(
    source: RecordSource, verifier: Ed25519Verifier
) -> tuple[SignedCheckpoint | None, str | None]:
    """The largest checkpoint of the source that the operator signed, and the largest note
    the source presents (signed or not)."""
    presented = None
    for size in sorted(source.checkpoints, reverse=True):
        note = source.checkpoints[size]
        presented = presented or note
        try:
            signed = open_checkpoint(note, verifier)
        except LedgerError:
            continue
        if signed.checkpoint.size == size:
            return signed, presented
    return None, presented


def _compare_with_saved(
    source: RecordSource, auditor: _Auditor, state: AuditorState | None
) -> JSONObject | None:
    """DESIGN §7: demand that the source's latest checkpoint extends the saved one. Returns
    evidence when it does not (rollback, fork, failed or refused consistency proof)."""
    if state is None:
        return None
    verifier = state.verifier
    old_size, old_note, old_root = state.size, state.checkpoint, state.root
    same_size = source.checkpoints.get(old_size)
    if same_size is not None:
        try:
            other = open_checkpoint(same_size, verifier)
        except LedgerError:
            other = None
        if other is not None and other.checkpoint.root != old_root:
            error = ForkError(
                f"the source presents another signed root for size {old_size}",
                seq=old_size - 1,
                expected=old_root.hex(),
                observed=other.checkpoint.root.hex(),
                checkpoints=(old_note, same_size),
            )
            auditor.find(error)
            return build_evidence(
                "fork",
                error.message,
                operator=verifier,
                verified=old_note,
                presented=same_size,
                findings=auditor.report.findings,
            )
    latest, presented = _latest_signed(source, verifier)
    if latest is None:
        unsigned = CheckpointError(
            "the source presents no checkpoint signed by the operator key",
            expected=verifier.vkey,
            observed="no verifiable checkpoint",
        )
        auditor.find(unsigned)
        return build_evidence(
            "bad-checkpoint",
            unsigned.message,
            operator=verifier,
            verified=old_note,
            presented=presented,
            findings=auditor.report.findings,
        )
    new = latest.checkpoint
    auditor.report.latest_checkpoint = latest.text
    if new.size < old_size:
        error = ForkError(
            f"rollback: the latest checkpoint covers {new.size} records, but size {old_size} "
            "was verified before",
            seq=new.size,
            expected=f">= {old_size}",
            observed=str(new.size),
            checkpoints=(old_note, latest.text),
        )
        auditor.find(error)
        return build_evidence(
            "rollback",
            error.message,
            operator=verifier,
            verified=old_note,
            presented=latest.text,
            findings=auditor.report.findings,
        )
    if new.size == old_size:
        if new.root == old_root:
            return None
        error = ForkError(
            f"the operator signed two roots for size {old_size}",
            seq=old_size - 1,
            expected=old_root.hex(),
            observed=new.root.hex(),
            checkpoints=(old_note, latest.text),
        )
        auditor.find(error)
        return build_evidence(
            "fork",
            error.message,
            operator=verifier,
            verified=old_note,
            presented=latest.text,
            findings=auditor.report.findings,
        )
    if source.consistency_proof is None:
        # No proof to ask for (an export file): the tree grown from the saved peaks and
        # checked against the new checkpoint's root is the same check, done in full.
        return None
    try:
        proof = list(source.consistency_proof(old_size, new.size))
    except LedgerError as exc:
        refused = ConsistencyProofError(
            f"the source cannot prove size {new.size} consistent with the verified size "
            f"{old_size}: {exc.message}",
            seq=old_size,
        )
        auditor.find(refused)
        return build_evidence(
            "no-proof",
            refused.message,
            operator=verifier,
            verified=old_note,
            presented=latest.text,
            consistency=(old_size, new.size, [], exc.message),
            findings=auditor.report.findings,
        )
    try:
        verify_consistent_checkpoints(old_note, latest.text, proof, verifier)
    except ForkError as exc:
        auditor.find(exc)
        return build_evidence(
            "fork",
            exc.message,
            operator=verifier,
            verified=old_note,
            presented=latest.text,
            consistency=(old_size, new.size, proof, exc.message),
            findings=auditor.report.findings,
        )
    except LedgerError as exc:  # pragma: no cover - both notes were opened above
        auditor.find(CheckpointError(exc.message))
        return None
    if auditor.report.findings:
        return build_evidence(
            "inconsistent-records",
            "the records served do not match the operator's signed, consistent checkpoints",
            operator=verifier,
            verified=old_note,
            presented=latest.text,
            consistency=(old_size, new.size, proof, None),
            findings=auditor.report.findings,
        )
    return None


def _findings_evidence(
    source: RecordSource, auditor: _Auditor, state: AuditorState | None
) -> JSONObject | None:
    verifier = auditor.verifier
    if verifier is None:
        return None
    latest, presented = _latest_signed(source, verifier)
    return build_evidence(
        "inconsistent-records" if state is not None else "findings",
        f"{len(auditor.report.findings)} finding(s); the first: "
        f"{auditor.report.findings[0].message}",
        operator=verifier,
        verified=state.checkpoint if state is not None else None,
        presented=latest.text if latest is not None else presented,
        findings=auditor.report.findings,
    )


def _next_state(
    source: RecordSource, auditor: _Auditor, state: AuditorState | None
) -> AuditorState | None:
    report = auditor.report
    verifier = auditor.verifier
    if not report.ok or verifier is None:
        return None
    size = auditor.expected_seq
    if state is not None and size == state.size:
        return state
    note = source.checkpoints.get(size)
    if note is None:
        report.notes.append(
            f"no signed checkpoint covers exactly the {size} records verified: "
            "the saved state was not advanced"
        )
        return None
    nonces = auditor.nonces
    assert isinstance(nonces, NonceSet)
    return AuditorState(
        vkey=verifier.vkey,
        size=size,
        checkpoint=note,
        peaks=auditor.tree.peaks,
        last_entry_hash=bytes.fromhex(auditor.prev_hash),
        last_recorded_at=auditor.last_recorded_at,
        ledger_state=auditor.state,
        nonces=nonces,
    )


# -- receipts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptMaterial:
    """What a ledger (a server, an export) says about a receipt's record, to be checked by
    ``check_receipt``: its newer checkpoint as presented, the inclusion proof of the record at
    that size, the consistency proof from the receipt's checkpoint, and the entry hash of the
    record it serves at the receipt's seq. A proof or record it could not give is None, with
    the reason in ``errors`` (keys ``inclusion``, ``consistency``, ``record``)."""

    newer_checkpoint: str
    inclusion_proof: Sequence[bytes] | None
    consistency_proof: Sequence[bytes] | None
    record_entry_hash: bytes | None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ReceiptCheck:
    """The outcome of ``check_receipt``: ``ok`` only without findings; evidence otherwise."""

    receipt: Receipt
    receipt_size: int
    newer_size: int | None
    findings: list[VerificationError]
    evidence: JSONObject | None

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "seq": self.receipt.seq,
            "entry_hash": self.receipt.entry_hash.hex(),
            "receipt_checkpoint_size": self.receipt_size,
            "newer_checkpoint_size": self.newer_size,
            "findings": [finding_json(f) for f in self.findings],
            "evidence_kind": None if self.evidence is None else self.evidence["kind"],
        }


def check_receipt(
    receipt: Receipt, operator: Ed25519Verifier, material: ReceiptMaterial
) -> ReceiptCheck:
    """Check a receipt against a newer checkpoint (DESIGN §2, "usable against the operator").

    First the receipt itself (its checkpoint's signature, its inclusion proof): a receipt that
    does not check out raises its ``VerificationError`` (it proves nothing). Then, as
    findings with evidence: the newer checkpoint must be the operator's and not smaller
    (``rollback``); the receipt's checkpoint must be consistent with it (``fork``); the entry
    must be proven at the receipt's seq in the newer tree and the ledger must serve that very
    record (``omission`` otherwise). A missing or different record makes the evidence an
    ``omission`` whatever else failed; the failed proofs are in it too.
    """
    signed = receipt.verify(operator)
    old = signed.checkpoint
    findings: list[VerificationError] = []
    try:
        newer_signed = open_checkpoint(material.newer_checkpoint, operator)
    except LedgerError as exc:
        error = CheckpointError(f"the newer checkpoint is not the operator's: {exc.message}")
        return ReceiptCheck(
            receipt,
            old.size,
            None,
            [error],
            build_evidence(
                "bad-checkpoint",
                error.message,
                operator=operator,
                verified=receipt.checkpoint,
                presented=material.newer_checkpoint,
                receipt=receipt,
                findings=[error],
            ),
        )
    new = newer_signed.checkpoint
    newer_text = newer_signed.text
    if new.size < old.size:
        rollback = ForkError(
            f"rollback: the receipt's checkpoint covers {old.size} records, the newer one "
            f"{new.size}",
            seq=new.size,
            expected=f">= {old.size}",
            observed=str(new.size),
            checkpoints=(receipt.checkpoint, newer_text),
        )
        return ReceiptCheck(
            receipt,
            old.size,
            new.size,
            [rollback],
            build_evidence(
                "rollback",
                rollback.message,
                operator=operator,
                verified=receipt.checkpoint,
                presented=newer_text,
                receipt=receipt,
                findings=[rollback],
            ),
        )
    consistency: tuple[int, int, Sequence[bytes], str | None] | None = None
    inclusion: tuple[int, int, bytes, Sequence[bytes], str | None] | None = None
    kind: str | None = None
    proof = material.consistency_proof
    if proof is None and old.size != new.size:
        reason = material.errors.get("consistency", "no proof was given")
        findings.append(
            ConsistencyProofError(
                f"the ledger did not prove size {new.size} consistent with the receipt's "
                f"checkpoint (size {old.size}): {reason}",
                seq=old.size,
            )
        )
        consistency = (old.size, new.size, [], reason)
        kind = "no-proof"
    else:
        try:
            verify_consistent_checkpoints(receipt.checkpoint, newer_text, proof or [], operator)
            consistency = (old.size, new.size, list(proof or []), None)
        except ForkError as exc:
            findings.append(exc)
            consistency = (old.size, new.size, list(proof or []), exc.message)
            kind = "fork"
    if material.inclusion_proof is None:
        reason = material.errors.get("inclusion", "no proof was given")
        findings.append(
            InclusionProofError(
                f"the ledger did not prove the entry in the tree of size {new.size}: {reason}",
                seq=receipt.seq,
            )
        )
        inclusion = (receipt.seq, new.size, receipt.entry_hash, [], reason)
        kind = kind or "omission"
    else:
        try:
            merkle.verify_inclusion(
                receipt.entry_hash, receipt.seq, new.size, material.inclusion_proof, new.root
            )
            inclusion = (receipt.seq, new.size, receipt.entry_hash, material.inclusion_proof, None)
        except InclusionProofError as exc:
            findings.append(
                InclusionProofError(
                    f"the entry is not in the newer tree: {exc.message}",
                    seq=receipt.seq,
                    expected=exc.expected,
                    observed=exc.observed,
                )
            )
            inclusion = (
                receipt.seq,
                new.size,
                receipt.entry_hash,
                material.inclusion_proof,
                exc.message,
            )
            kind = kind or "omission"
    served = material.record_entry_hash
    record_doc: JSONObject = {
        "seq": receipt.seq,
        "entry_hash": None if served is None else served.hex(),
        "error": material.errors.get("record"),
    }
    if served != receipt.entry_hash:
        findings.append(
            InclusionProofError(
                "the ledger does not hold the receipt's record"
                if served is None
                else "the ledger holds another record at the receipt's seq",
                seq=receipt.seq,
                expected=receipt.entry_hash.hex(),
                observed="missing" if served is None else served.hex(),
            )
        )
        kind = "omission"  # the headline: whatever else failed is in the findings
    if not findings:
        return ReceiptCheck(receipt, old.size, new.size, [], None)
    assert kind is not None
    evidence = build_evidence(
        kind,
        findings[0].message,
        operator=operator,
        verified=receipt.checkpoint,
        presented=newer_text,
        consistency=consistency,
        inclusion=inclusion,
        receipt=receipt,
        record=record_doc,
        findings=findings,
    )
    return ReceiptCheck(receipt, old.size, new.size, findings, evidence)


def _wanted_nodes(prove: Callable[[merkle.NodeReader], object]) -> set[tuple[int, int]]:
    """The stored nodes a proof reads, found by running it against a recording reader."""
    wanted: list[tuple[int, int]] = []

    def reader(nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        wanted.extend(nodes)
        return [bytes(merkle.HASH_SIZE)] * len(nodes)

    prove(reader)
    return set(wanted)


def export_receipt_material(path: Path, receipt: Receipt) -> ReceiptMaterial:
    """What an export file says about ``receipt``: its checkpoint at its full size, proofs
    computed from its entry hashes (one streaming pass, O(log n) nodes kept), and the hash
    of its record bytes at the receipt's seq. Raises ``StorageError``/``MalformedError`` if
    the file is not a readable export or holds no checkpoint at its size."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise StorageError(f"cannot read export file {path}: {exc.strerror}") from exc
    with handle:
        header = read_header(handle.readline())
        size = header["size"]
        assert isinstance(size, int)
        try:
            old_size = Checkpoint.from_body(parse_note(receipt.checkpoint).body).size
        except LedgerError:
            old_size = 0
        errors: dict[str, str] = {}
        wanted: set[tuple[int, int]] = set()

        def inclusion(reader: merkle.NodeReader) -> list[bytes]:
            return merkle.inclusion_proof(receipt.seq, size, reader)

        def consistency(reader: merkle.NodeReader) -> list[bytes]:
            return merkle.consistency_proof(old_size, size, reader)

        provers = {"inclusion": inclusion, "consistency": consistency}
        for name, prove in provers.items():
            try:
                wanted |= _wanted_nodes(prove)
            except LedgerError as exc:
                errors[name] = exc.message
        known: dict[tuple[int, int], bytes] = {}
        tree = merkle.CompactRange()
        checkpoints: dict[int, str] = {}
        served: bytes | None = None
        for line in handle:
            if line.startswith(CHECKPOINT_PREFIX):
                value = parse_json(line)
                if isinstance(value, dict) and isinstance(value.get("size"), int):
                    checkpoints[int(str(value["size"]))] = str(value["checkpoint"])
                continue
            if not line.startswith(RECORD_PREFIX):
                raise MalformedError(f"unexpected line in the export after record {tree.size}")
            try:
                entry = bytes.fromhex(line[15:79].decode("ascii"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise MalformedError(f"export record {tree.size} has a bad entry_hash") from exc
            if tree.size == receipt.seq:
                try:
                    _seq, leaf, _stored = split_export_line(line)
                    served = merkle.leaf_hash(leaf)
                except LedgerError as exc:
                    errors["record"] = exc.message
            seq = tree.size
            if (0, seq) in wanted:
                known[(0, seq)] = entry
            for level, idx, digest in tree.append(entry):
                if (level, idx) in wanted:
                    known[(level, idx)] = digest
    note = checkpoints.get(size)
    if note is None:
        raise MalformedError(f"the export holds no checkpoint at its size {size}")
    if receipt.seq >= tree.size:
        errors.setdefault("record", f"the export holds {tree.size} records")

    def reader(nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        try:
            return [known[n] for n in nodes]
        except KeyError as exc:
            raise StorageError(f"the export lacks tree node {exc.args[0]}") from exc

    proofs: dict[str, list[bytes] | None] = {}
    for name, prove in provers.items():
        if name in errors:
            proofs[name] = None
            continue
        try:
            proofs[name] = prove(reader)
        except LedgerError as exc:
            errors[name] = exc.message
            proofs[name] = None
    return ReceiptMaterial(note, proofs["inclusion"], proofs["consistency"], served, errors)


__all__ = [
    "AuditReport",
    "IncrementalAudit",
    "ReceiptCheck",
    "ReceiptMaterial",
    "RecordSource",
    "audit_database",
    "audit_export",
    "audit_incremental",
    "check_receipt",
    "export_receipt_material",
    "open_database_source",
    "open_export_source",
    "verify_consistent_checkpoints",
    "verify_database",
    "verify_export",
]
