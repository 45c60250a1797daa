"""Finding lots for the buyer's search page: a small read-only query over the trace projection.

``search_lots`` matches a free-text query against the lot number, the GTIN, and the parties
that held a lot (participant id or display name); the caller may add GTINs it matched by
product name (product names are not on the ledger). It reads ``trace_lots``,
``trace_holdings`` and ``participants`` only, through their primary keys and a bounded
``LIKE`` scan, and returns at most ``limit`` lots, newest first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, cast

from sqlalchemy import Table, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ledger.storage.models import ParticipantRow
from ledger.storage.store import Reader
from ledger.storage.trace import TraceHoldingRow, TraceLotRow
from ledger.trace.errors import MalformedIdentifierError
from ledger.trace.identifiers import parse_lot

__all__ = ["MAX_QUERY_LENGTH", "LotHit", "search_lots"]

#: Longest query accepted (longer ones are cut: a lot URI is at most ~80 characters).
MAX_QUERY_LENGTH: Final = 200

_lots = cast(Table, TraceLotRow.__table__)
_holdings = cast(Table, TraceHoldingRow.__table__)
_participants = cast(Table, ParticipantRow.__table__)


@dataclass(frozen=True, slots=True)
class LotHit:
    """One lot found: its normal form, GTIN, lot number, the seq of the first record naming
    it, its producers (commissioned or produced some) and everyone who held some."""

    lot: str
    gtin: str
    lot_number: str
    first_seq: int
    producers: tuple[str, ...]
    holders: tuple[str, ...]


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
    return func.lower(column).like(pattern, escape="\\")


def search_lots(
    reader: Reader, query: str, *, gtins: Iterable[str] = (), limit: int = 50
) -> list[LotHit]:
    """Lots whose lot number or GTIN contains ``query`` (case-insensitive), that a participant
    whose id or display name contains it held, whose GTIN is in ``gtins``, or that ``query``
    names exactly (any lot syntax: Digital Link, EPC URN, element string). Newest first, at
    most ``limit``. An empty query finds nothing; this never raises on odd input."""
    text = query.strip()[:MAX_QUERY_LENGTH]
    wanted_gtins = sorted(set(gtins))
    if not text and not wanted_gtins:
        return []
    conn = reader.conn
    conditions: list[ColumnElement[bool]] = []
    if text:
        pattern = _like(text)
        conditions.append(_contains(_lots.c.lot_number, pattern))
        if text.isdigit():
            conditions.append(_lots.c.gtin.like(pattern, escape="\\"))
        with contextlib.suppress(MalformedIdentifierError):  # not a lot URI: other matches
            conditions.append(_lots.c.lot == parse_lot(text).digital_link)
        parties = select(_participants.c.id).where(
            or_(
                _contains(_participants.c.id, pattern),
                _contains(_participants.c.display_name, pattern),
            )
        )
        held = select(_holdings.c.lot).where(_holdings.c.holder.in_(parties))
        conditions.append(_lots.c.lot.in_(held))
    if wanted_gtins:
        conditions.append(_lots.c.gtin.in_(wanted_gtins))
    rows = conn.execute(
        select(_lots.c.lot, _lots.c.gtin, _lots.c.lot_number, _lots.c.first_seq)
        .where(or_(*conditions))
        .order_by(_lots.c.first_seq.desc(), _lots.c.lot)
        .limit(max(1, limit))
    ).all()
    if not rows:
        return []
    producers: dict[str, set[str]] = {}
    holders: dict[str, set[str]] = {}
    for lot, holder, commissioned, produced in conn.execute(
        select(
            _holdings.c.lot,
            _holdings.c.holder,
            _holdings.c.commissioned,
            _holdings.c.produced,
        ).where(_holdings.c.lot.in_([row.lot for row in rows]))
    ):
        holders.setdefault(lot, set()).add(holder)
        if _positive(commissioned) or _positive(produced):
            producers.setdefault(lot, set()).add(holder)
    return [
        LotHit(
            row.lot,
            row.gtin,
            row.lot_number,
            int(row.first_seq),
            tuple(sorted(producers.get(row.lot, ()))),
            tuple(sorted(holders.get(row.lot, ()))),
        )
        for row in rows
    ]


def _positive(text: str | None) -> bool:
    """Whether a canonical decimal string is above zero (``"0"``, ``"0.0"`` are not)."""
    return text is not None and text.strip("0.") != "" and not text.startswith("-")
