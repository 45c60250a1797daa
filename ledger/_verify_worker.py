"""The record-local half of ledger verification (``ledger.verify``), and its worker processes.

Everything about one record that needs no sequential state is done here: reading raw rows,
proving the leaf canonical (``Record.from_leaf``), hashing it, validating every field, the
replay digest of its (author, nonce), learning the keys it introduces, and checking its
Ed25519 signature. What comes out is one compact *fact* per record (plain tuples of str, bytes,
int, bool and None, cheap to send between processes with ``marshal``); the auditor judges the
facts in order: links, key validity at that seq, authorship rules, state replay, the tree.

Facts (``Fact``), by index::

    0 position   seq of the database row, or the seq an export line claims
    1 entry      RFC 9162 leaf hash of the leaf bytes
    2 stored     the stored entry hash (None when the source stores none)
    3 error      why the record is unreadable (then 4.. are None)
    4 seq, 5 prev, 6 recorded_at                    the record's own fields
    7 ledger, 8 kind, 9 author, 10 key, 11 nonce, 12 issued_at   the statement's header
    13 digest    ``nonce_digest(salt, author, nonce)``
    14 verdict   signature check: True/False, None when the key id names no key known here
    15 canonical the statement's canonical bytes when the auditor needs the whole statement
                 (kinds with body rules, the record at position 0, unchecked signatures)
    16 signature the raw signature when the verdict is None (the auditor may know the key)
    17 keys      ((key id, raw public key), ...) the record's body introduces, or None
    18 issued_us the statement's issued_at in microseconds since the Unix epoch

A checker learns keys from every state record it parses, in its own order, and from what
the auditor sends; the auditor, which sees the facts in log order, decides which verdicts
count (a key must have been introduced at or before the record, as in a serial pass).

Worker processes are fresh interpreters (``python -I -c ...``, see ``ledger.verify``), so
they are fork-safe and import only this module's small dependency set (no SQLAlchemy, no web
stack). Protocol on stdin/stdout: length-prefixed ``marshal`` messages. First an init
``(salt, full_kinds, keys, sqlite_file)``, then jobs ``(new_keys, start, end, items)``: with
``items`` None the worker reads records ``[start, end)`` (and the stored tree nodes they
complete) from the SQLite file itself. Each job is answered, in order, with
``("ok", facts, nodes)`` or ``("error", message)``. End of input ends the worker, which says
``("bye", peak resident KiB)`` last.
"""

from __future__ import annotations

import marshal
import os
import queue
import struct
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import IO, Any, TypeAlias, cast

from ledger import merkle
from ledger.auditor_state import nonce_digest
from ledger.canonical import canonical_bytes, parse_json
from ledger.errors import LedgerError, MalformedError
from ledger.keys import PublicKey
from ledger.state import STATE_KINDS
from ledger.statement import STATEMENT_DOMAIN, Record, Statement

#: (position, payload, stored entry hash or None, payload is an export line)
Item: TypeAlias = tuple[int, bytes, bytes | None, bool]
Fact: TypeAlias = tuple[object, ...]
Nodes: TypeAlias = dict[tuple[int, int], bytes]
KeyPairs: TypeAlias = Sequence[tuple[str, bytes]]

_LENGTH = struct.Struct("<Q")
_NEW_KEY_FIELDS = ("public_key", "new_public_key")


class RecordChecker:
    """Turns items into facts (see the module docstring), learning keys as it goes."""

    def __init__(self, salt: bytes, full_kinds: Iterable[str], keys: KeyPairs = ()) -> None:
        self.salt = salt
        self.full_kinds = frozenset(full_kinds)
        self.keys: dict[str, PublicKey] = {}
        self.learn(keys)

    def learn(self, keys: KeyPairs) -> None:
        for key_id, raw in keys:
            if key_id not in self.keys:
                self.keys[key_id] = PublicKey(raw)

    def check(self, items: Sequence[Item]) -> list[Fact]:
        return [self.fact(*item) for item in items]

    def fact(self, position: int, payload: bytes, stored: bytes | None, is_line: bool) -> Fact:
        leaf = payload
        if is_line:
            try:
                position, leaf, stored = split_export_line(payload)
            except MalformedError as exc:
                return (position, merkle.leaf_hash(payload), None, exc.message)
        try:
            record = Record.from_leaf(leaf)
        except LedgerError as exc:
            return (position, merkle.leaf_hash(leaf), stored, exc.message)
        statement = record.statement
        introduced = self._introduced(statement) if statement.kind in STATE_KINDS else None
        key = self.keys.get(statement.key)
        message = statement.signing_bytes()
        verdict = None if key is None else key.verify(record.signature, message)
        full = verdict is None or position == 0 or statement.kind in self.full_kinds
        return (
            position,
            record.entry_hash,
            stored,
            None,
            record.seq,
            record.prev,
            record.recorded_at,
            statement.ledger,
            statement.kind,
            statement.author,
            statement.key,
            statement.nonce,
            statement.document["issued_at"],
            nonce_digest(self.salt, statement.author, statement.nonce),
            verdict,
            statement.canonical if full else None,
            record.signature if verdict is None else None,
            introduced,
            statement.issued_at_us,
        )

    def _introduced(self, statement: Statement) -> tuple[tuple[str, bytes], ...] | None:
        """Keys named in a state record's body (valid points only), learnt before its own
        signature is checked: genesis is signed by the key it introduces."""
        found = []
        for name in _NEW_KEY_FIELDS:
            value = statement.body.get(name)
            if not isinstance(value, str):
                continue
            try:
                key = PublicKey.from_base64(value)
            except LedgerError:
                continue
            self.keys.setdefault(key.key_id, key)
            found.append((key.key_id, key.raw))
        return tuple(found) or None


def split_export_line(line: bytes) -> tuple[int, bytes, bytes]:
    """``(seq, leaf, entry hash)`` of an export record line (``ledger.export``); raises
    ``MalformedError`` naming what is wrong with it."""
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


def verify_pending(key: PublicKey, signature: bytes, canonical: bytes) -> bool:
    """The signature check a worker could not do (it did not know the key yet)."""
    return key.verify(signature, STATEMENT_DOMAIN + canonical)


# -- framing ----------------------------------------------------------------------------------


def write_message(out: IO[bytes], value: Any) -> None:
    data = marshal.dumps(value)
    out.write(_LENGTH.pack(len(data)) + data)
    out.flush()


def read_message(source: IO[bytes]) -> object:
    """The next message, or raise ``EOFError`` at a clean end of input."""
    head = source.read(_LENGTH.size)
    if not head:
        raise EOFError
    if len(head) != _LENGTH.size:
        raise EOFError("truncated message header")
    (length,) = _LENGTH.unpack(head)
    data = source.read(length)
    if len(data) != length:
        raise EOFError("truncated message")
    return marshal.loads(data)  # noqa: S302 - between this auditor and its own workers


# -- the worker process -------------------------------------------------------------------------


def _reader(source: IO[bytes], jobs: queue.SimpleQueue[object]) -> None:
    """Drain stdin into ``jobs`` so the auditor never blocks writing a job."""
    try:
        while True:
            jobs.put(read_message(source))
    except (EOFError, OSError, ValueError):
        jobs.put(None)


def _writer(out: IO[bytes], results: queue.SimpleQueue[bytes | None]) -> None:
    """Send answers while the next job is being worked on."""
    while (data := results.get()) is not None:
        try:
            out.write(data)
            out.flush()
        except OSError:  # the auditor went away: nothing left to do
            return


def peak_rss_kb() -> int:
    """This process's peak resident memory in KiB since it started this program: ``VmHWM``
    where Linux gives it (``getrusage`` would also count the parent's pages the process
    mapped between fork and exec), else ``ru_maxrss``, else 0."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) // (1024 if sys.platform == "darwin" else 1)


def _answer(value: Any) -> bytes:
    data = marshal.dumps(value)
    return _LENGTH.pack(len(data)) + data


def main() -> None:
    """Run as a verification worker (see the module docstring)."""
    from ledger.storage.sqlite_reader import SqliteLogReader

    # The protocol owns the real stdout; anything printed by accident goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    source = sys.stdin.buffer
    init = cast("tuple[bytes, list[str], KeyPairs, str | None]", read_message(source))
    salt, full_kinds, keys, sqlite_file = init
    checker = RecordChecker(salt, full_kinds, keys)
    reader = SqliteLogReader(sqlite_file) if sqlite_file else None
    jobs: queue.SimpleQueue[object] = queue.SimpleQueue()
    results: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    threading.Thread(target=_reader, args=(source, jobs), daemon=True).start()
    writer = threading.Thread(target=_writer, args=(out, results))
    writer.start()
    try:
        while (job := jobs.get()) is not None:
            new_keys, start, end, items = cast("tuple[KeyPairs, int, int, list[Item] | None]", job)
            try:
                checker.learn(new_keys)
                nodes: Nodes | None = None
                if items is None:
                    assert reader is not None, "range job without a database"
                    rows = reader.records(start, end)
                    items = [(seq, leaf, entry, False) for seq, entry, leaf in rows]
                    if rows:
                        nodes = reader.nodes_completed_between(rows[0][0], rows[-1][0] + 1)
                results.put(_answer(("ok", checker.check(items), nodes)))
            except Exception as exc:  # noqa: BLE001 - reported to the auditor, which raises
                results.put(_answer(("error", f"{type(exc).__name__}: {exc}")))
        results.put(_answer(("bye", peak_rss_kb())))
    finally:
        results.put(None)
        writer.join()
        if reader is not None:
            reader.close()


if __name__ == "__main__":  # pragma: no cover - started by ledger.verify
    main()
