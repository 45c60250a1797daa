"""Restore a ledger from its export into an empty database (``fairledger import-ledger``).

The export is audited first (every record, link, signature, rule, tree root and checkpoint)
and refused whole at the first problem. Its bytes are then written as they are — the same
leaves, the tree nodes they determine, and the operator's original signed checkpoints, never
re-signed — in one transaction, and every projection is rebuilt from the records. The result
has identical roots, checkpoints and projections, on either backend: this is also how a SQLite
ledger moves to PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ledger import merkle
from ledger.canonical import parse_json
from ledger.errors import ConflictError, StorageError
from ledger.export import CHECKPOINT_PREFIX, RECORD_PREFIX, read_header
from ledger.log import Ledger, Projection
from ledger.state import BodyValidator
from ledger.statement import Record
from ledger.storage.engine import create_ledger_engine, migrate
from ledger.storage.store import NewRecord, SqlStore
from ledger.verify import AuditReport, verify_export

_CHUNK = 2000


def import_ledger(
    url: str,
    path: Path,
    *,
    operator_vkey: str | None = None,
    validators: dict[str, BodyValidator] | None = None,
    projections: Sequence[Projection] = (),
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Verify the export at ``path`` and restore it into the empty database at ``url``.

    Raises the export's first ``VerificationError`` (nothing is written), ``ConflictError``
    if the target already holds records, and ``StorageError`` if the file cannot be read.
    Returns the audit report of the export.
    """
    report = verify_export(path, operator_vkey=operator_vkey, validators=validators)
    engine = create_ledger_engine(url, create=True)
    migrate(engine)
    store = SqlStore(engine)
    try:
        with store.write() as tx:
            if tx.size() != 0:
                raise ConflictError(f"{url} already holds a ledger; restore needs an empty one")
            tree = merkle.CompactRange()
            pending: list[NewRecord] = []
            nodes: list[tuple[int, int, bytes]] = []
            try:
                handle = path.open("rb")
            except OSError as exc:
                raise StorageError(f"cannot read export file {path}: {exc.strerror}") from exc
            with handle:
                read_header(handle.readline())
                for line in handle:
                    if line.startswith(RECORD_PREFIX):
                        record = _record_of(line)
                        s = record.statement
                        nodes.extend(tree.append(record.entry_hash))
                        pending.append(
                            NewRecord(
                                record.seq,
                                record.entry_hash,
                                record.leaf,
                                s.kind,
                                s.author,
                                s.nonce,
                                s.key,
                            )
                        )
                        if len(pending) >= _CHUNK:
                            tx.insert_batch(pending, nodes, None)
                            pending, nodes = [], []
                            if progress is not None:
                                progress(tree.size, report.size)
                    elif line.startswith(CHECKPOINT_PREFIX):
                        tx.insert_batch(pending, nodes, None)
                        pending, nodes = [], []
                        value = parse_json(line)
                        assert isinstance(value, dict)
                        size, note = value["size"], value["checkpoint"]
                        assert isinstance(size, int)
                        assert isinstance(note, str)
                        # The audit matched this checkpoint's root to the records already.
                        tx.insert_batch([], [], (size, tree.root(), note))
            tx.insert_batch(pending, nodes, None)
            if tree.size != report.size or tree.root() != report.root:
                # The file changed between the audit and the copy: write nothing.
                raise StorageError(f"{path} changed while it was being restored")
    finally:
        store.dispose()
    ledger = Ledger.open(url, validators=validators, projections=projections)
    try:
        ledger.rebuild_projections()
    finally:
        ledger.close()
    return report


def _record_of(line: bytes) -> Record:
    value = parse_json(line)
    assert isinstance(value, dict)
    return Record.from_json(value["record"])
