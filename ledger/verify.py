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

Records stream in chunks: this process parses them in order, learning keys as they are
registered, while two worker processes check the Ed25519 signatures (bytes in, booleans out);
each chunk is then judged in order. Threads would not do: every ``verify`` call releases the
GIL and must win it back from the parsing thread, which starves the checkers. Audits too
small to repay starting workers (incremental ones, typically) check each chunk's signatures in
two threads *between* parses instead, when nothing else runs to starve them. The sequential
state holds O(log n) tree hashes and the key table, so memory does not grow with the ledger
apart from one 64-bit digest per (author, nonce) for the replay check.

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

import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from ledger import merkle
from ledger.auditor_state import AuditorState, NonceSet, nonce_digest
from ledger.canonical import JSONObject, canonical_bytes, parse_json
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
from ledger.statement import ZERO_HASH, Record, Statement, parse_timestamp
from ledger.storage.engine import create_ledger_engine, is_migrated
from ledger.storage.store import SqlStore

CHUNK = 2000
#: Below this many records, checking signatures in-process beats starting workers.
PARALLEL_THRESHOLD = 20_000
#: In-process chunks with at least this many signatures are checked by two threads.
_THREAD_SPLIT = 64
#: Chunks parsed ahead of the one being judged.
_INFLIGHT = 3
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


# -- parsing and signatures ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Checked:
    """What parsing and the signature check learned about one record."""

    position: int  # seq of the database row / the seq an export line claims
    stored_hash: bytes | None
    entry_hash: bytes
    record: Record | None
    signature_ok: bool | None  # None: the key id names no key seen so far
    error: str | None = None


_Item = tuple[int, bytes, bytes | None, bool]
#: (position, entry hash, stored hash, record or None, parse error or None)
_Parsed = tuple[int, bytes, bytes | None, Record | None, str | None]


def _parse_chunk(
    items: Sequence[_Item], pubkeys: dict[str, PublicKey]
) -> tuple[list[_Parsed], list[int]]:
    """Parse and hash a chunk in order, learning keys as they are introduced, so that every
    signature can be checked against the key its id names. Returns the parsed items and the
    indexes of those whose signature must be checked."""
    parsed: list[_Parsed] = []
    to_check: list[int] = []
    for position, payload, stored, is_line in items:
        leaf = payload
        if is_line:
            try:
                position, leaf, stored = _split_export_line(payload)
            except MalformedError as exc:
                parsed.append((position, b"", None, None, exc.message))
                continue
        try:
            record = Record.from_leaf(leaf)
        except LedgerError as exc:
            parsed.append((position, merkle.leaf_hash(leaf), stored, None, exc.message))
            continue
        entry = record.entry_hash
        statement = record.statement
        if statement.kind in STATE_KINDS:
            for name in ("public_key", "new_public_key"):
                new = _body_key(statement, name)
                if new is not None:
                    pubkeys.setdefault(new.key_id, new)
        if statement.key in pubkeys:
            to_check.append(len(parsed))
        parsed.append((position, entry, stored, record, None))
    return parsed, to_check


_worker_keys: dict[bytes, PublicKey] = {}


def _verify_signatures(jobs: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """Ed25519 checks of (raw public key, signature, message); runs in worker processes."""
    out = []
    for raw, signature, message in jobs:
        key = _worker_keys.get(raw)
        if key is None:
            key = _worker_keys[raw] = PublicKey(raw)
        out.append(key.verify(signature, message))
    return out


def _body_key(statement: Statement, name: str) -> PublicKey | None:
    value = statement.body.get(name)
    if not isinstance(value, str):
        return None
    try:
        return PublicKey.from_base64(value)
    except LedgerError:
        return None


def _split_export_line(line: bytes) -> tuple[int, bytes, bytes]:
    try:
        value = parse_json(line)
    except LedgerError as exc:
        raise MalformedError(f"export line is not valid JSON: {exc.message}") from exc
    if not isinstance(value, dict) or value.keys() != {"entry_hash", "record", "seq"}:
        raise MalformedError("export record line must hold exactly entry_hash, record, seq")
    seq, entry, record = value["seq"], value["entry_hash"], value["record"]
    if not isinstance(seq, int) or not isinstance(entry, str) or len(entry) != 64:
        raise MalformedError("export record line has a bad seq or entry_hash")
    try:
        stored = bytes.fromhex(entry)
    except ValueError as exc:
        raise MalformedError("export entry_hash is not hex") from exc
    return seq, canonical_bytes(record), stored


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
    )


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
        #: Replay digests: salted and persistable for incremental audits, else Python's
        #: per-process randomised ``hash`` (nobody can craft collisions for either).
        self.salt = nonce_salt
        self.nonces: set[int] | NonceSet = set() if nonce_salt is None else NonceSet(nonce_salt)
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

    def take(self, item: _Checked) -> None:
        seq = self.expected_seq
        if item.position < seq:
            self.find(
                ChainLinkError(
                    "record appears twice or out of order", seq=item.position, observed=str(seq)
                )
            )
            return
        if item.position > seq:
            self.find(
                ChainLinkError(
                    f"records {seq}..{item.position - 1} are missing",
                    seq=seq,
                    expected=str(seq),
                    observed=str(item.position),
                )
            )
            self.expected_seq = seq = item.position
        link = item.stored_hash or item.entry_hash
        if item.record is None:
            self.find(RecordRuleError(f"unreadable record: {item.error}", seq=seq))
            self._advance(link)
            return
        record = item.record
        if record.seq != seq:
            # A record claiming a lower seq was displaced by inserted records; one claiming a
            # higher seq stands where another was removed or swapped away. Either way the
            # first seq out of place is the smaller of the two.
            self.find(
                ChainLinkError(
                    "record carries the wrong seq (inserted, deleted or swapped records)",
                    seq=min(seq, record.seq),
                    expected=str(seq),
                    observed=str(record.seq),
                )
            )
        if item.stored_hash is not None and item.stored_hash != item.entry_hash:
            self.find(
                ChainLinkError(
                    "record bytes do not hash to the stored entry hash",
                    seq=seq,
                    expected=item.stored_hash.hex(),
                    observed=item.entry_hash.hex(),
                )
            )
        if record.prev != self.prev_hash:
            self.find(
                ChainLinkError(
                    "prev does not link to the previous record",
                    seq=seq,
                    expected=self.prev_hash,
                    observed=record.prev,
                )
            )
        if record.recorded_at < self.last_recorded_at:
            self.find(
                RecordRuleError(
                    "recorded_at goes backwards",
                    seq=seq,
                    expected=f">= {self.last_recorded_at}",
                    observed=record.recorded_at,
                )
            )
        statement = record.statement
        nonce = (
            hash((statement.author, statement.nonce))
            if self.salt is None
            else nonce_digest(self.salt, statement.author, statement.nonce)
        )
        if nonce in self.nonces:
            self.find(
                RecordRuleError(
                    f"{statement.author} nonce {statement.nonce!r} is recorded twice (a replay)",
                    seq=seq,
                )
            )
        self.nonces.add(nonce)
        self._judge(seq, record, item.signature_ok)
        self._advance(link)
        self.last_recorded_at = max(self.last_recorded_at, record.recorded_at)

    def _judge(self, seq: int, record: Record, signature_ok: bool | None) -> None:
        statement = record.statement
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
                record.signature,
                parse_timestamp(record.recorded_at, field="recorded_at"),
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
            self.state.apply(seq, statement, record.recorded_at)
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
    """Parse chunks in order here while worker processes check their signatures; judge each
    chunk, in order, once its signatures are back. At most ``_INFLIGHT`` chunks are held."""
    auditor.wanted_roots = source.checkpoints
    total = max(source.size - source.start, 0)
    use_pool = parallel if parallel is not None else total >= PARALLEL_THRESHOLD
    # Keys known from a resumed state; keys registered in the records are learnt as parsed.
    pubkeys: dict[str, PublicKey] = {k: i.public_key for k, i in auditor.state.keys.items()}
    done = 0
    inflight: deque[tuple[list[_Parsed], list[Future[list[bool]]], list[int]]] = deque()
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=2, mp_context=context)
        if use_pool
        else nullcontext() as pool
    ):
        for chunk in source.chunks:
            parsed, to_check = _parse_chunk(chunk, pubkeys)
            jobs = []
            for index in to_check:
                record = parsed[index][3]
                assert record is not None
                statement = record.statement
                jobs.append(
                    (pubkeys[statement.key].raw, record.signature, statement.signing_bytes())
                )
            if pool is not None:
                half = (len(jobs) + 1) // 2
                futures = [
                    pool.submit(_verify_signatures, jobs[:half]),
                    pool.submit(_verify_signatures, jobs[half:]),
                ]
            elif len(jobs) >= _THREAD_SPLIT:
                # Too few records to repay starting workers: a helper thread checks half of
                # the chunk while this one checks the other half. cryptography releases the
                # GIL in each verification and nothing else runs meanwhile, so neither thread
                # starves (unlike a helper competing with the parser, see above).
                half = len(jobs) // 2
                other = _helper().submit(_verify_signatures, jobs[half:])
                mine = _verify_signatures(jobs[:half])
                futures = [_done(mine), other]
            else:
                futures = [_done(_verify_signatures(jobs))]
            inflight.append((parsed, futures, to_check))
            if len(inflight) >= _INFLIGHT:
                done += _consume(source, auditor, *inflight.popleft())
                if progress is not None:
                    progress(done, total)
        while inflight:
            done += _consume(source, auditor, *inflight.popleft())
            if progress is not None:
                progress(done, total)


_helper_pool: ThreadPoolExecutor | None = None
_helper_lock = threading.Lock()


def _helper() -> ThreadPoolExecutor:
    """The one helper thread for in-process signature checks, started on first use."""
    global _helper_pool
    with _helper_lock:
        if _helper_pool is None:
            _helper_pool = ThreadPoolExecutor(1, thread_name_prefix="fairledger-audit")
        return _helper_pool


def _done(value: list[bool]) -> Future[list[bool]]:
    future: Future[list[bool]] = Future()
    future.set_result(value)
    return future


def _consume(
    source: _Source,
    auditor: _Auditor,
    parsed: list[_Parsed],
    futures: list[Future[list[bool]]],
    to_check: list[int],
) -> int:
    results = [ok for future in futures for ok in future.result()]
    verdict: dict[int, bool] = dict(zip(to_check, results, strict=True))
    if source.nodes_between is not None and parsed:
        auditor.stored_nodes = source.nodes_between(parsed[0][0], parsed[-1][0] + 1)
    for index, (position, entry, stored, record, error) in enumerate(parsed):
        auditor.take(_Checked(position, stored, entry, record, verdict.get(index), error))
    return len(parsed)


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
    auditor = _Auditor(report, operator_vkey, validators, stop)
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
                    _seq, leaf, _stored = _split_export_line(line)
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
