"""EPCIS 2.0 document export of recorded trace events (DESIGN §4).

``epcis_export`` turns recorded ``trace.event`` bodies (ledger form) into one
``EPCISDocument`` valid against the official EPCIS 2.0 JSON schema: the standard
``@context``, ``schemaVersion`` 2.0, numeric quantities. Events keep their record order;
an event later declared erroneous is exported together with its error declaration (same
``eventID``), so a consumer sees the correction exactly as the ledger recorded it.
Serialise with ``ledger.trace.dumps_epcis`` (exact decimals, never floats). Pure: the
records are selected by ``ledger.storage.trace.select_event_seqs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from ledger.trace.documents import build_epcis_document

__all__ = ["RecordedEvent", "epcis_export"]


class RecordedEvent(Protocol):
    """What the export needs of a recorded event: its seq and ledger-form event."""

    @property
    def seq(self) -> int: ...

    @property
    def event(self) -> dict[str, Any]: ...


def epcis_export(
    events: Sequence[RecordedEvent],
    *,
    created_at: datetime,
    document_id: str | None = None,
) -> dict[str, Any]:
    """An ``EPCISDocument`` holding ``events`` in seq order, created at ``created_at``.

    Raises ``MalformedEventError`` if a recorded event is not a valid ledger form (a
    damaged database), ``ValueError`` for a naive ``created_at`` or a non-URI id."""
    ordered = sorted(events, key=lambda e: e.seq)
    return build_epcis_document([e.event for e in ordered], created_at, document_id=document_id)
