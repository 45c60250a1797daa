"""The ledger as JSON Lines, for auditors and for backup (``GET /v1/export``).

Format ``fairledger-export/v1``, one canonical JSON object per line:

* line 1, the header: ``{"format": "fairledger-export/v1", "origin", "vkey", "size"}``;
* one line per record, in seq order: ``{"entry_hash": "<hex>", "record": {...}, "seq": n}``;
* after the record that completes a checkpoint's tree, that checkpoint:
  ``{"checkpoint": "<signed note>", "size": n}``.

Every line is RFC 8785 canonical, so record lines start with ``{"entry_hash":`` and checkpoint
lines with ``{"checkpoint":``; readers may dispatch on that prefix. ``record`` is exactly the
object whose canonical bytes are the leaf.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from ledger.canonical import canonical_bytes, parse_json
from ledger.errors import CanonicalizationError, MalformedError
from ledger.log import Ledger

FORMAT = "fairledger-export/v1"
RECORD_PREFIX = b'{"entry_hash":'
CHECKPOINT_PREFIX = b'{"checkpoint":'


def export_ledger(
    ledger: Ledger,
    out: BinaryIO,
    *,
    size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the first ``size`` records (default: all) and their checkpoints to ``out``.

    Returns the number of records written. Reads in chunks; memory does not grow with size.
    """
    with ledger.store.read() as tx:
        total = tx.size() if size is None else size
        checkpoints = [(s, note) for s, _root, note in tx.checkpoints() if s <= total]
    header = {
        "format": FORMAT,
        "origin": ledger.origin,
        "vkey": ledger.verifier.vkey,
        "size": total,
    }
    out.write(canonical_bytes(header) + b"\n")
    pending = iter(checkpoints)
    next_cp = next(pending, None)
    written = 0
    for stored in ledger.iter_stored(0):
        if stored.seq >= total:
            break
        out.write(
            b'{"entry_hash":"'
            + stored.entry_hash.hex().encode()
            + b'","record":'
            + stored.leaf
            + b',"seq":'
            + str(stored.seq).encode()
            + b"}\n"
        )
        written += 1
        while next_cp is not None and next_cp[0] == written:
            out.write(canonical_bytes({"checkpoint": next_cp[1], "size": next_cp[0]}) + b"\n")
            next_cp = next(pending, None)
        if progress is not None and written % 10_000 == 0:
            progress(written, total)
    if progress is not None:
        progress(written, total)
    return written


def read_header(line: bytes) -> dict[str, object]:
    """Parse and check an export header line; raises ``MalformedError``."""
    try:
        header = parse_json(line)
    except CanonicalizationError as exc:
        raise MalformedError(f"export header is not valid JSON: {exc.message}") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise MalformedError(f"not a FairLedger export: the first line must declare {FORMAT}")
    if not isinstance(header.get("size"), int) or not isinstance(header.get("vkey"), str):
        raise MalformedError("export header must give an integer size and the operator vkey")
    return dict(header)
