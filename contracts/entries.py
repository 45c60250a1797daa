"""What the contract engine reads from a record: ``Entry``.

Settlement, the lifecycle replay and the audits are pure functions of records. They need only
a record's ``seq``, ``kind``, ``author``, timestamps and ``body``, so they take ``Entry``
values: built from a verified ``Record`` (``Entry.from_record``), from stored leaf bytes
(``Entry.from_leaf``, a plain JSON decode for bulk reads of records the ledger already
accepted), or directly in tests. Nothing here checks signatures or the chain; that is the
verifier's job (DESIGN §7), and a statement recomputed from entries is only as trustworthy as
the verified records they came from.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ledger.canonical import JSONObject
from ledger.errors import MalformedStatementError
from ledger.statement import Record

__all__ = ["Entry", "EntryLike", "as_entries", "paused_gc"]


def _no_float(text: str) -> object:
    raise ValueError(f"{text} is not an integer")


_DECODER = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float)


@dataclass(frozen=True, slots=True)
class Entry:
    """One record as the contract engine sees it. ``recorded_at`` and ``issued_at`` are the
    record's RFC 3339 strings (``2026-07-31T10:00:00.000000Z``)."""

    seq: int
    kind: str
    author: str
    recorded_at: str
    issued_at: str
    body: JSONObject

    @classmethod
    def from_record(cls, record: Record) -> Entry:
        statement = record.statement
        issued = statement.document["issued_at"]
        return cls(
            record.seq,
            statement.kind,
            statement.author,
            record.recorded_at,
            str(issued),
            statement.body,
        )

    @classmethod
    def from_leaf(cls, leaf: bytes) -> Entry:
        """Decode stored leaf bytes without re-checking canonical form or signature (the
        ledger did both on append). Raises ``MalformedStatementError`` for bytes that are not
        a record."""
        try:
            value = _DECODER.decode(leaf.decode("utf-8"))
            statement = value["statement"]
            entry = cls(
                value["seq"],
                statement["kind"],
                statement["author"],
                value["recorded_at"],
                statement["issued_at"],
                statement["body"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedStatementError(f"stored record is not readable: {exc}") from exc
        if (
            type(entry.seq) is not int
            or not isinstance(entry.kind, str)
            or not isinstance(entry.author, str)
            or not isinstance(entry.recorded_at, str)
            or not isinstance(entry.issued_at, str)
            or not isinstance(entry.body, dict)
        ):
            raise MalformedStatementError("stored record has fields of the wrong type")
        return entry

    @property
    def recorded_on(self) -> str:
        """The UTC calendar date the record was appended (``YYYY-MM-DD``)."""
        return self.recorded_at[:10]


EntryLike = Entry | Record


def as_entries(items: Iterable[EntryLike]) -> list[Entry]:
    """Entries from records or entries, in the order given."""
    return [item if isinstance(item, Entry) else Entry.from_record(item) for item in items]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector for a bulk read or a settlement.

    A month's records and statement are hundreds of thousands of small acyclic objects;
    while they are built, the generational collector rescans them again and again (more than
    half the time at 100,000 deliveries). Reference counting still frees everything, and the
    collector is restored (if it was enabled) on exit.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
