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
GIL and must win it back from the parsing thread, which starves the checkers. The sequential
state holds O(log n) tree hashes and the key table, so memory does not grow with the ledger
apart from one 64-bit digest per (author, nonce) for the replay check.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from ledger import merkle
from ledger.canonical import canonical_bytes, parse_json
from ledger.errors import (
    ChainLinkError,
    CheckpointError,
    ForkError,
    LedgerError,
    LedgerNotInitializedError,
    MalformedError,
    RecordRuleError,
    SignatureError,
    StorageError,
    VerificationError,
)
from ledger.export import CHECKPOINT_PREFIX, RECORD_PREFIX, read_header
from ledger.keys import PublicKey
from ledger.note import Ed25519Verifier, open_checkpoint, vkey_from_text
from ledger.state import STATE_KINDS, BodyValidator, Kind, LedgerState, judge
from ledger.statement import ZERO_HASH, Record, Statement, parse_timestamp
from ledger.storage.engine import create_ledger_engine, is_migrated
from ledger.storage.store import SqlStore

CHUNK = 2000
#: Below this many records, checking signatures in-process beats starting workers.
PARALLEL_THRESHOLD = 20_000
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

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "size": self.size,
            "records_checked": self.records_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "root": self.root.hex(),
            "findings": [
                {
                    "type": f.code,
                    "seq": f.seq,
                    "message": f.message,
                    "expected": f.expected,
                    "observed": f.observed,
                    **({"checkpoints": list(f.checkpoints)} if isinstance(f, ForkError) else {}),
                }
                for f in self.findings
            ],
            "findings_truncated": self.truncated,
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
class _Source:
    origin_vkey: str | None
    size: int
    chunks: Iterator[list[tuple[int, bytes, bytes | None, bool]]]
    checkpoints: dict[int, str]  # filled as the source is read
    #: Stored tree nodes completed by leaves [start, end): {(level, idx): hash}.
    nodes_between: Callable[[int, int], dict[tuple[int, int], bytes]] | None = None


def _database_source(store: SqlStore) -> _Source:
    with store.read() as tx:
        size = tx.size()
        checkpoints = {s: note for s, _root, note in tx.checkpoints()}

    def chunks() -> Iterator[list[tuple[int, bytes, bytes | None, bool]]]:
        # The audit covers the snapshot taken above: records appended while it runs are
        # left for the next audit, so a live ledger never looks longer than its checkpoints.
        seq = 0
        while seq < size:
            with store.read() as tx:
                rows = [r for r in tx.records(seq, min(CHUNK, size - seq)) if r.seq < size]
            if not rows:
                return
            yield [(r.seq, r.leaf, r.entry_hash, False) for r in rows]
            seq = rows[-1].seq + 1

    def nodes_between(start: int, end: int) -> dict[tuple[int, int], bytes]:
        with store.read() as tx:
            return tx.nodes_completed_between(start, end)

    return _Source(None, size, chunks(), checkpoints, nodes_between)


def _export_source(path: Path) -> tuple[_Source, Callable[[], None]]:
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
            # A full chunk is released only when the next record line arrives, so the
            # checkpoint lines that follow its last record are known before it is consumed.
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
            chunk.append((position, line, None, True))
            position += 1
        if chunk:
            yield chunk

    return _Source(str(header["vkey"]), size, chunks(), checkpoints), handle.close


# -- the sequential engine --------------------------------------------------------------------


class _Auditor:
    def __init__(
        self,
        report: AuditReport,
        operator_vkey: str | None,
        validators: dict[str, BodyValidator] | None,
        stop_at_first: bool,
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
        self.nonces: set[int] = set()
        self.verifier: Ed25519Verifier | None = None
        self.roots: dict[int, bytes] = {}
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
        nonce = hash((statement.author, statement.nonce))
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
    use_pool = parallel if parallel is not None else source.size >= PARALLEL_THRESHOLD
    pubkeys: dict[str, PublicKey] = {}
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
            else:
                futures = [_done(_verify_signatures(jobs))]
            inflight.append((parsed, futures, to_check))
            if len(inflight) >= _INFLIGHT:
                done += _consume(source, auditor, *inflight.popleft())
                if progress is not None:
                    progress(done, source.size)
        while inflight:
            done += _consume(source, auditor, *inflight.popleft())
            if progress is not None:
                progress(done, source.size)


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


__all__ = [
    "AuditReport",
    "audit_database",
    "audit_export",
    "verify_consistent_checkpoints",
    "verify_database",
    "verify_export",
]
