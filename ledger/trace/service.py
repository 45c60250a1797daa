"""Traceability on a ledger: opening it with the trace rules, and the questions it answers.

The layers below are pure (``rules``, ``provenance``, ``exports``, ``fsma``) or SQL
(``ledger.storage.trace``); this module opens read transactions and composes them, as the
CLI and the API need. Time is a parameter (``created_at``), never read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ledger.keys import PrivateKey
from ledger.log import Ledger
from ledger.storage.trace import (
    TraceProjection,
    load_trace_events,
    lot_sources,
    lot_summary,
    movements_of,
    participant_directory,
    select_event_seqs,
    trace_back,
    trace_forward,
)
from ledger.trace.exports import epcis_export
from ledger.trace.fsma import FsmaRow, fsma_rows
from ledger.trace.provenance import LotSummary, Provenance, Recall
from ledger.trace.rules import TRACE_VALIDATORS

__all__ = [
    "export_epcis",
    "export_fsma",
    "open_trace_ledger",
    "provenance",
    "recall",
    "summary",
]


def open_trace_ledger(url: str, operator_key: PrivateKey | None = None) -> Ledger:
    """Open the ledger at ``url`` with the trace validators and the trace projection.

    Raises ``LedgerNotInitializedError`` if there is no ledger there, ``LedgerError`` if the
    operator key does not match the genesis record."""
    return Ledger.open(
        url,
        operator_key=operator_key,
        validators=TRACE_VALIDATORS,
        projections=[TraceProjection()],
    )


def provenance(ledger: Ledger, lot: str, *, as_of_seq: int | None = None) -> Provenance:
    """Trace back from ``lot`` (see ``ledger.storage.trace.trace_back``)."""
    with ledger.store.read() as reader:
        return trace_back(reader, lot, as_of_seq=as_of_seq)


def recall(ledger: Ledger, lot: str) -> Recall:
    """Trace forward from ``lot`` (see ``ledger.storage.trace.trace_forward``)."""
    with ledger.store.read() as reader:
        return trace_forward(reader, lot)


def summary(ledger: Ledger, lot: str) -> LotSummary:
    """The projection's view of one lot (see ``ledger.storage.trace.lot_summary``)."""
    with ledger.store.read() as reader:
        return lot_summary(reader, lot)


def export_epcis(
    ledger: Ledger,
    *,
    created_at: datetime,
    lot: str | None = None,
    party: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    document_id: str | None = None,
) -> dict[str, Any]:
    """An EPCIS 2.0 ``EPCISDocument`` of the trace records selected by ``lot`` (its
    provenance), ``party`` and the event-time range ``[since, until)``, in record order;
    valid against the official schema. Raises ``UnknownLotError`` for an unknown lot."""
    with ledger.store.read() as reader:
        seqs = select_event_seqs(reader, lot=lot, party=party, since=since, until=until)
        events = load_trace_events(reader, seqs)
    return epcis_export(events, created_at=created_at, document_id=document_id)


def export_fsma(
    ledger: Ledger,
    *,
    lot: str | None = None,
    party: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    products: Mapping[str, str] | None = None,
) -> list[FsmaRow]:
    """FDA FSMA 204 sortable-spreadsheet rows for the same selection as ``export_epcis``
    (for a lot, only the rows of the lots in its provenance); ``products`` maps GTINs to
    product descriptions."""
    with ledger.store.read() as reader:
        seqs = select_event_seqs(reader, lot=lot, party=party, since=since, until=until)
        events = load_trace_events(reader, seqs)
        moves = movements_of(reader, seqs)
        wanted = None if lot is None else {t.lot for t in trace_back(reader, lot).lots}
        lots = {m.lot for found in moves.values() for m in found}
        sources = lot_sources(reader, lots)
        directory = participant_directory(reader)
    return fsma_rows(events, moves, sources, directory, products or {}, only_lots=wanted)
