"""All SQL for traceability: the trace projection (DESIGN §4) and its queries.

Tables (parents first; every quantity is an exact canonical decimal string, never a float):

====================  ===========================================================================
table                 one row per
====================  ===========================================================================
trace_lots            lot ever named (normal form), with its GTIN, lot number and first seq
trace_events          ``trace.event`` record: eventID, type, bizStep, author, time, location;
                      ``voided_by`` = seq of the error declaration that retracted it;
                      declarations are rows too (``declaration``, ``declares``)
trace_movements       effect of one record on one lot: ``in``/``out`` of a holder's stock by
                      category, or ``none`` (packed, unpacked, rejected, observed...), with the
                      counterparty and pallet; the evidence every answer cites by seq
trace_edges           input lot → output lot through a transformation, with quantities and the
                      input's share of the transformation's inputs
trace_holdings        (lot, holder, uom): in (commissioned, produced, received, returned) and
                      out (shipped, consumed, destroyed, sold); mass balance keeps out <= in
trace_transit         (lot, shipper, receiver, uom): shipped, received, returned; receipts and
                      returns never exceed what was shipped
trace_sscc_contents   (sscc, lot, uom): what a pallet holds now (packing adds, unpacking and
                      rejected deliveries remove; a shipped pallet moves its contents)
====================  ===========================================================================

``TraceProjection`` keeps them in step with the log inside each append transaction
(``Projection``): ``check`` computes a statement's effects against the database plus what the
batch staged before it and raises ``MassBalanceError``/``ExceedsShipmentError`` (or another
``RejectedStatementError``) without changing anything; ``stage`` applies the effects in memory
and never fails; ``flush`` writes them. An error declaration reverses the effects of the event
it retracts (its movement rows are kept, marked ``voided_by``), and is refused when that
reversal would break mass balance.

The append path is kept cheap (checking mass balance should add little to an append): point
lookups go straight to the DB-API cursor of the append's connection, a lot the database has
never seen needs no holdings or shipment lookups at all, and a Bloom filter over the
recorded eventIDs spares the uniqueness probe for new events. ``bench_trace`` measures it.

Queries (``trace_back``, ``trace_forward``, ``lot_summary``) walk ``trace_edges`` with a
recursive CTE (``WITH RECURSIVE``, SQLite and PostgreSQL) from the queried lot, then read
the movements, holdings and shipments of the lots found through indexes on ``lot``: their
cost grows with the answer, not with the ledger.
"""

from __future__ import annotations

import hashlib
import operator
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

from ledger.errors import ConflictError, LedgerError, UnauthorizedKindError
from ledger.state import Kind, LedgerState
from ledger.statement import Record, Statement
from ledger.storage.models import Base
from ledger.storage.store import Reader, WriteTx, records
from ledger.trace.epcis import error_declaration_mismatches
from ledger.trace.errors import (
    DuplicateEventError,
    ExceedsShipmentError,
    LotCycleError,
    MassBalanceError,
    UnknownEventError,
    UnknownLotError,
)
from ledger.trace.facts import CustodyEffect, QuantityFact, SourceDestinationFact
from ledger.trace.identifiers import normalize_lot, parse_lot
from ledger.trace.provenance import (
    IN_CATEGORIES,
    OUT_CATEGORIES,
    Balance,
    Correction,
    LotLink,
    LotSummary,
    Movement,
    PalletContent,
    Provenance,
    Recall,
    Stock,
    TracedLot,
    TraceEventInfo,
    Transit,
    downstream_shares,
    link_weights,
    production_totals,
    upstream_shares,
)
from ledger.trace.rules import TraceEvent, custody_party, party_gln, trace_event_of
from ledger.trace.units import add, format_quantity, measure, subtract

__all__ = [
    "TRACE_TABLES",
    "StoredTraceEvent",
    "TraceEdgeRow",
    "TraceEventRow",
    "TraceHoldingRow",
    "TraceLotRow",
    "TraceMovementRow",
    "TraceProjection",
    "TraceSsccContentRow",
    "TraceTransitRow",
    "load_trace_events",
    "lot_sources",
    "lot_summary",
    "movements_of",
    "participant_directory",
    "select_event_seqs",
    "trace_back",
    "trace_forward",
]

_ZERO: Final = Decimal(0)
_IN_CHUNK: Final = 900
HOLDING_FIELDS: Final = (*IN_CATEGORIES, *OUT_CATEGORIES)
TRANSIT_FIELDS: Final = ("shipped", "received", "returned")
TRANSIT_KEYS: Final = ("lot", "shipper", "receiver", "uom")


# -- models ---------------------------------------------------------------------------------


class TraceLotRow(Base):
    """Projection: every lot any trace record names, in normal form."""

    __tablename__ = "trace_lots"

    lot: Mapped[str] = mapped_column(String(255), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot_number: Mapped[str] = mapped_column(String(80))
    first_seq: Mapped[int] = mapped_column(BigInteger)


class TraceEventRow(Base):
    """Projection: one row per ``trace.event`` record. An error declaration is a row with
    ``declaration`` true and ``declares`` = the retracted event's seq, whose row then has
    ``voided_by`` = the declaration's seq. ``event_time`` is ISO 8601 in UTC with
    microseconds (``2026-11-22T09:00:00.000000+00:00``): fixed width, so it sorts as text."""

    __tablename__ = "trace_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(Text)
    declaration: Mapped[bool] = mapped_column(Boolean)
    event_type: Mapped[str] = mapped_column(String(32))
    biz_step: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(String(8))
    author: Mapped[str] = mapped_column(String(63))
    event_time: Mapped[str] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(Text)
    voided_by: Mapped[int | None] = mapped_column(BigInteger)
    declares: Mapped[int | None] = mapped_column(BigInteger)
    error_reason: Mapped[str | None] = mapped_column(Text)
    corrective_ids: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("uq_trace_events_event_id", "event_id", "declaration", unique=True),
        Index("ix_trace_events_event_time", "event_time"),
        Index("ix_trace_events_author", "author", "seq"),
    )


class TraceMovementRow(Base):
    """Projection: effect ``idx`` of record ``seq`` on one lot (see ``ledger.trace.provenance.
    Movement``). ``uom`` is ``""`` for a quantity without unit; ``transit`` says whether the
    movement changed a ``trace_transit`` row."""

    __tablename__ = "trace_movements"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lot: Mapped[str] = mapped_column(String(255))
    holder: Mapped[str] = mapped_column(String(63))
    effect: Mapped[str] = mapped_column(String(4))
    category: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[str | None] = mapped_column(Text)
    uom: Mapped[str] = mapped_column(String(8))
    counterparty: Mapped[str | None] = mapped_column(String(255))
    sscc: Mapped[str | None] = mapped_column(String(18))
    transit: Mapped[bool] = mapped_column(Boolean)
    voided_by: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_trace_movements_lot", "lot", "seq"),
        Index("ix_trace_movements_counterparty", "counterparty", "seq"),
    )


class TraceEdgeRow(Base):
    """Projection: ``input_lot`` went into ``output_lot`` through the transformation recorded
    at ``seq``; ``input_share`` is the exact fraction ``"n/d"`` of the transformation's
    inputs that this input made up (NULL when the inputs' units cannot be compared)."""

    __tablename__ = "trace_edges"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    input_lot: Mapped[str] = mapped_column(String(255), primary_key=True)
    output_lot: Mapped[str] = mapped_column(String(255), primary_key=True)
    input_quantity: Mapped[str | None] = mapped_column(Text)
    input_uom: Mapped[str] = mapped_column(String(8))
    output_quantity: Mapped[str | None] = mapped_column(Text)
    output_uom: Mapped[str] = mapped_column(String(8))
    input_share: Mapped[str | None] = mapped_column(Text)
    voided_by: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_trace_edges_output_lot", "output_lot", "input_lot"),
        Index("ix_trace_edges_input_lot", "input_lot", "output_lot"),
    )


class TraceHoldingRow(Base):
    """Projection: one (lot, holder, uom) balance, net of retracted events."""

    __tablename__ = "trace_holdings"

    lot: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str] = mapped_column(String(63), primary_key=True)
    uom: Mapped[str] = mapped_column(String(8), primary_key=True)
    commissioned: Mapped[str] = mapped_column(Text)
    produced: Mapped[str] = mapped_column(Text)
    received: Mapped[str] = mapped_column(Text)
    returned: Mapped[str] = mapped_column(Text)
    shipped: Mapped[str] = mapped_column(Text)
    consumed: Mapped[str] = mapped_column(Text)
    destroyed: Mapped[str] = mapped_column(Text)
    sold: Mapped[str] = mapped_column(Text)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class TraceTransitRow(Base):
    """Projection: shipments of a lot from one shipper to one receiver (a participant id, a
    party URI for an unregistered one, or ``""`` when the shipping events named none)."""

    __tablename__ = "trace_transit"

    lot: Mapped[str] = mapped_column(String(255), primary_key=True)
    shipper: Mapped[str] = mapped_column(String(63), primary_key=True)
    receiver: Mapped[str] = mapped_column(String(255), primary_key=True)
    uom: Mapped[str] = mapped_column(String(8), primary_key=True)
    shipped: Mapped[str] = mapped_column(Text)
    received: Mapped[str] = mapped_column(Text)
    returned: Mapped[str] = mapped_column(Text)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class TraceSsccContentRow(Base):
    """Projection: ``quantity`` of ``lot`` packed on the logistic unit ``sscc`` (18 digits)."""

    __tablename__ = "trace_sscc_contents"

    sscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    lot: Mapped[str] = mapped_column(String(255), primary_key=True)
    uom: Mapped[str] = mapped_column(String(8), primary_key=True)
    quantity: Mapped[str] = mapped_column(Text)
    last_seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_trace_sscc_contents_lot", "lot"),)


lots_t = cast(Table, TraceLotRow.__table__)
events_t = cast(Table, TraceEventRow.__table__)
moves_t = cast(Table, TraceMovementRow.__table__)
edges_t = cast(Table, TraceEdgeRow.__table__)
holdings_t = cast(Table, TraceHoldingRow.__table__)
transit_t = cast(Table, TraceTransitRow.__table__)
contents_t = cast(Table, TraceSsccContentRow.__table__)

_EVENT_COLUMNS: Final = tuple(column.name for column in events_t.columns)
_event_tuple: Final = operator.itemgetter(*_EVENT_COLUMNS)
_MOVE_COLUMNS: Final = tuple(column.name for column in moves_t.columns)
_EDGE_COLUMNS: Final = tuple(column.name for column in edges_t.columns)
assert _MOVE_COLUMNS == (
    "seq", "idx", "lot", "holder", "effect", "category", "quantity", "uom", "counterparty",
    "sscc", "transit", "voided_by",
)  # fmt: skip
assert _EDGE_COLUMNS == (
    "seq", "input_lot", "output_lot", "input_quantity", "input_uom", "output_quantity",
    "output_uom", "input_share", "voided_by",
)  # fmt: skip

#: The projection's tables, parents first (a rebuild empties them in reverse).
TRACE_TABLES: Final = (
    "trace_lots",
    "trace_events",
    "trace_movements",
    "trace_edges",
    "trace_holdings",
    "trace_transit",
    "trace_sscc_contents",
)

_SELECT_HOLDING = select(holdings_t).where(
    holdings_t.c.lot == bindparam("k_lot"),
    holdings_t.c.holder == bindparam("k_holder"),
    holdings_t.c.uom == bindparam("k_uom"),
)
_SELECT_TRANSIT = select(transit_t).where(
    transit_t.c.lot == bindparam("k_lot"),
    transit_t.c.shipper == bindparam("k_shipper"),
    transit_t.c.receiver == bindparam("k_receiver"),
    transit_t.c.uom == bindparam("k_uom"),
)
_SELECT_CONTENTS = select(contents_t.c.lot, contents_t.c.uom, contents_t.c.quantity).where(
    contents_t.c.sscc == bindparam("k_sscc")
)
_SELECT_EVENT = select(events_t.c.seq, events_t.c.author, events_t.c.voided_by).where(
    events_t.c.event_id == bindparam("k_event_id"),
    events_t.c.declaration == bindparam("k_declaration"),
)
_SELECT_MOVES = select(moves_t).where(moves_t.c.seq == bindparam("k_seq")).order_by(moves_t.c.idx)


class _Lookups:
    """Point lookups through the DB-API cursor of the append's own connection (so inside
    its transaction). ``check`` runs a few of these per statement, and SQLAlchemy's
    per-execution overhead is several times the cost of an indexed lookup itself; the SQL
    is plain and portable, with the driver's placeholder (``?`` for sqlite3, ``%s`` for
    psycopg)."""

    _SQL: Final = {
        "event": "SELECT seq, author, voided_by FROM trace_events "
        "WHERE event_id = ? AND declaration = ?",
        "holding": "SELECT commissioned, produced, received, returned, shipped, consumed, "
        "destroyed, sold, first_seq, last_seq FROM trace_holdings "
        "WHERE lot = ? AND holder = ? AND uom = ?",
        "transit": "SELECT shipped, received, returned, first_seq, last_seq FROM trace_transit "
        "WHERE lot = ? AND shipper = ? AND receiver = ? AND uom = ?",
        "contents": "SELECT lot, uom, quantity FROM trace_sscc_contents WHERE sscc = ?",
        "edges_from": "SELECT seq, output_lot FROM trace_edges "
        "WHERE input_lot = ? AND voided_by IS NULL",
        "lot": "SELECT first_seq FROM trace_lots WHERE lot = ?",
        "events_top": "SELECT max(seq) FROM trace_events",
        "events_count": "SELECT count(*) FROM trace_events",
        "events_after": "SELECT event_id FROM trace_events WHERE seq > ?",
    }

    def __init__(self, conn: Connection) -> None:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        # Built once from this module's own table and column names, never from input;
        # every value is a bound parameter.
        statements = dict(self._SQL)
        for table in (lots_t, events_t, moves_t, edges_t, holdings_t, transit_t, contents_t):
            names = [column.name for column in table.columns]
            statements[f"insert:{table.name}"] = (
                f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608
                f"VALUES ({', '.join('?' for _ in names)})"
            )
        for table, fields, keys in (
            (holdings_t, (*HOLDING_FIELDS, "first_seq", "last_seq"), ("lot", "holder", "uom")),
            (transit_t, (*TRANSIT_FIELDS, "first_seq", "last_seq"), TRANSIT_KEYS),
            (contents_t, ("quantity", "last_seq"), ("sscc", "lot", "uom")),
        ):
            where = " AND ".join(f"{k} = ?" for k in keys)
            statements[f"update:{table.name}"] = (
                f"UPDATE {table.name} SET {', '.join(f'{f} = ?' for f in fields)} "  # noqa: S608
                f"WHERE {where}"
            )
            statements[f"delete:{table.name}"] = f"DELETE FROM {table.name} WHERE {where}"  # noqa: S608
        for table in (events_t, moves_t, edges_t):
            statements[f"void:{table.name}"] = (
                f"UPDATE {table.name} SET voided_by = ? WHERE seq = ?"  # noqa: S608
            )
        self._sql = {name: sql.replace("?", mark) for name, sql in statements.items()}
        self._cursor: Any = conn.connection.cursor()

    def many(self, name: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self._cursor.executemany(self._sql[name], rows)

    def one(self, name: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        self._cursor.execute(self._sql[name], params)
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    def all(self, name: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql[name], params)
        rows: list[tuple[Any, ...]] = self._cursor.fetchall()
        return rows


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _parse_fraction(text: str | None) -> Fraction | None:
    if text is None:
        return None
    numerator, _, denominator = text.partition("/")
    return Fraction(int(numerator), int(denominator or "1"))


def _utc_text(moment: datetime) -> str:
    """A UTC time as fixed-width text that sorts chronologically
    (``2026-11-22T09:00:00.000000+00:00``)."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")


def _uom(value: str) -> str | None:
    return value or None


# -- planning internals ---------------------------------------------------------------------
# Immutable named tuples rather than frozen dataclasses: a few are built per statement on
# the append path, where a frozen dataclass's per-field ``object.__setattr__`` shows.

HKey = tuple[str, str, str]  # lot, holder, uom
TKey = tuple[str, str, str, str]  # lot, shipper, receiver, uom
SKey = tuple[str, str, str]  # sscc, lot, uom


class _Move(NamedTuple):
    lot: str
    holder: str
    uom: str
    effect: str
    category: str
    quantity: Decimal | None
    counterparty: str | None
    sscc: str | None
    transit: bool
    path: str = ""


class _Edge(NamedTuple):
    input_lot: str
    output_lot: str
    input_quantity: Decimal | None
    input_uom: str
    output_quantity: Decimal | None
    output_uom: str
    input_share: Fraction | None


class _Plan(NamedTuple):
    canonical: bytes
    trace: TraceEvent
    event_row: dict[str, Any]
    moves: tuple[_Move, ...]
    edges: tuple[_Edge, ...]
    voids: int | None
    reversed_moves: tuple[_Move, ...]
    deltas: _Deltas


class _Part(NamedTuple):
    lot: str
    uom: str
    quantity: Decimal | None
    sscc: str | None
    path: str


class _EventInfo(NamedTuple):
    seq: int
    author: str
    voided_by: int | None


class _Row:
    """A cached holdings or transit row (internal, mutable accumulator)."""

    __slots__ = ("dirty", "first_seq", "last_seq", "stored", "values")

    def __init__(
        self,
        values: dict[str, Decimal],
        stored: bool,
        first_seq: int | None,
        last_seq: int | None,
    ) -> None:
        self.values = values
        self.stored = stored
        self.first_seq = first_seq
        self.last_seq = last_seq
        self.dirty = False


def _row_from(found: tuple[Any, ...] | None, fields: Sequence[str]) -> _Row:
    """A cache row from a lookup returning ``fields`` then first_seq, last_seq."""
    if found is None:
        return _Row(dict.fromkeys(fields, _ZERO), False, None, None)
    count = len(fields)
    return _Row(
        {name: Decimal(found[i]) for i, name in enumerate(fields)},
        True,
        int(found[count]),
        int(found[count + 1]),
    )


def _available(values: dict[str, Decimal]) -> Decimal:
    total = _ZERO
    for name in IN_CATEGORIES:
        total = add(total, values[name])
    for name in OUT_CATEGORIES:
        total = subtract(total, values[name])
    return total


def _open(values: dict[str, Decimal]) -> Decimal:
    return subtract(subtract(values["shipped"], values["received"]), values["returned"])


def _unit(uom: str) -> str:
    return uom or "units"


_SSCC_PREFIX: Final = "https://id.gs1.org/00/"


def _sscc_digits(epc: str) -> str | None:
    if epc.startswith(_SSCC_PREFIX) and len(epc) == len(_SSCC_PREFIX) + 18:
        return epc[len(_SSCC_PREFIX) :]
    return None


def _event_field(path: str) -> str:
    if not path:
        return "statement.body.event"
    return "statement.body.event" + (path if path.startswith("[") else "." + path)


class _Deltas:
    """The changes a list of movements makes to holdings, shipments and pallets."""

    def __init__(self, moves: Iterable[_Move], sign: int) -> None:
        self.holdings: dict[HKey, dict[str, Decimal]] = {}
        self.transit: dict[TKey, dict[str, Decimal]] = {}
        self.contents: dict[SKey, Decimal] = {}
        self.paths: dict[object, str] = {}
        for move in moves:
            if move.quantity is None:
                continue
            quantity = move.quantity if sign > 0 else -move.quantity
            if move.effect in ("in", "out"):
                hkey = (move.lot, move.holder, move.uom)
                bucket = self.holdings.setdefault(hkey, {})
                bucket[move.category] = add(bucket.get(move.category, _ZERO), quantity)
                self.paths.setdefault(hkey, move.path)
            if move.transit:
                other = move.counterparty or ""
                if move.category == "received":
                    tkey = (move.lot, other, move.holder, move.uom)
                else:  # shipped by, or returned to, the holder
                    tkey = (move.lot, move.holder, other, move.uom)
                bucket = self.transit.setdefault(tkey, {})
                bucket[move.category] = add(bucket.get(move.category, _ZERO), quantity)
                self.paths.setdefault(tkey, move.path)
            if move.sscc is not None and move.effect == "none":
                skey = (move.sscc, move.lot, move.uom)
                if move.category == "packed":
                    self.contents[skey] = add(self.contents.get(skey, _ZERO), quantity)
                elif move.category in ("unpacked", "rejected"):
                    self.contents[skey] = subtract(self.contents.get(skey, _ZERO), quantity)
                self.paths.setdefault(skey, move.path)


# -- the projection -------------------------------------------------------------------------


class _EventIds:
    """A Bloom filter over the eventIDs in ``trace_events``, so that checking a new event's
    id (the common case) needs no index probe: "absent" is certain, "maybe present" is
    settled by the index.

    It is brought up to date at the start of every batch, under the append lock, from the
    table itself (the rows above the highest seq it has read, which also covers other
    processes' appends); ids a batch stages are added at once and may only cause false
    positives if that batch rolls back. A table that shrank (a rebuild) or outgrew the
    filter's capacity is read again from scratch. Should it ever miss an id (a damaged
    table rebuilt by another process), the unique index on ``event_id`` still refuses the
    duplicate, failing that batch's transaction instead of recording it twice.
    """

    _HASHES: Final = 7
    _LAYOUT: Final = "<7Q"
    _BITS_PER_ID: Final = 10  # with 7 hashes: about 1% false positives at capacity

    def __init__(self) -> None:
        self.source = 0
        self.capacity = 0
        self.loaded = 0
        self.upto = -1
        self.bits = bytearray()
        #: Ids staged since the last catch-up: already in the filter, not yet read back.
        self.staged: set[str] = set()

    def _positions(self, event_id: str) -> list[int]:
        digest = hashlib.blake2b(event_id.encode("utf-8"), digest_size=8 * self._HASHES).digest()
        size = len(self.bits) * 8
        return [value % size for value in struct.unpack(self._LAYOUT, digest)]

    def add(self, event_id: str, *, staged: bool = False) -> None:
        bits = self.bits
        for position in self._positions(event_id):
            bits[position >> 3] |= 1 << (position & 7)
        if staged:
            self.staged.add(event_id)

    def may_hold(self, event_id: str) -> bool:
        bits = self.bits
        return not bits or all(bits[p >> 3] >> (p & 7) & 1 for p in self._positions(event_id))

    def catch_up(self, lookups: _Lookups, *, source: int) -> None:
        """Read the rows appended since the last call (by anyone); start over when the
        table shrank, outgrew the filter, or belongs to another database (``source``)."""
        found = lookups.one("events_top", ())
        top = -1 if found is None or found[0] is None else int(found[0])
        fresh = source != self.source
        if fresh or top < self.upto or self.loaded > self.capacity or not self.bits:
            self.source = source
            total = lookups.one("events_count", ())
            rows = 0 if total is None else int(total[0])
            self.capacity = max(1 << 16, 2 * rows)
            self.bits = bytearray(self.capacity * self._BITS_PER_ID // 8 + 1)
            self.loaded = 0
            self.upto = -1
            self.staged.clear()
        if top > self.upto:
            for (event_id,) in lookups.all("events_after", (self.upto,)):
                if event_id not in self.staged:
                    self.add(event_id)
                self.loaded += 1
            self.upto = top
        self.staged.clear()


class TraceProjection:
    """The trace projection (``ledger.log.Projection``); see the module docstring.

    One instance serves one ledger (it keeps a filter of the recorded eventIDs between
    batches); its batches run under the ledger's append lock."""

    tables: tuple[str, ...] = TRACE_TABLES

    def __init__(self) -> None:
        self._event_ids = _EventIds()

    def start(self, tx: WriteTx) -> _TraceBatch:
        lookups = _Lookups(tx.conn)
        self._event_ids.catch_up(lookups, source=id(tx.conn.engine))
        return _TraceBatch(tx.conn, lookups, self._event_ids)


class _TraceBatch:
    """One append transaction's work for the trace projection (``ProjectionBatch``)."""

    def __init__(self, conn: Connection, lookups: _Lookups, event_ids: _EventIds) -> None:
        self._conn = conn
        self._lookups = lookups
        self._event_ids = event_ids
        self._holdings: dict[HKey, _Row] = {}
        self._transit: dict[TKey, _Row] = {}
        self._contents: dict[str, dict[tuple[str, str], Decimal]] = {}
        self._contents_stored: set[SKey] = set()
        self._contents_dirty: dict[SKey, int] = {}
        self._events: dict[tuple[str, bool], _EventInfo | None] = {}
        self._staged_traces: dict[int, TraceEvent] = {}
        self._staged_moves: dict[int, tuple[_Move, ...]] = {}
        self._staged_edges: dict[str, list[tuple[int, str]]] = {}
        self._voided: set[int] = set()
        self._plans: dict[int, _Plan] = {}
        self._new_events: list[tuple[Any, ...]] = []
        self._new_moves: list[tuple[Any, ...]] = []
        self._new_edges: list[tuple[Any, ...]] = []
        self._voids: list[tuple[int, int]] = []
        self._lots: dict[str, int] = {}
        self._lot_stored: dict[str, bool] = {}
        self._glns: dict[str, str] = {}
        self._gln_count = -1

    # -- ProjectionBatch ---------------------------------------------------------------------

    def check(self, seq: int, statement: Statement, state: LedgerState) -> None:
        """Refuse ``statement`` if its effects would break a trace rule; changes nothing.

        Raises ``MassBalanceError``, ``ExceedsShipmentError``, ``DuplicateEventError``,
        ``UnknownEventError``, ``LotCycleError``, ``ConflictError`` or
        ``UnauthorizedKindError`` (a declaration by someone other than the recorder)."""
        if statement.kind != Kind.TRACE_EVENT:
            return
        plan = self._plan(seq, statement, state, strict=True)
        if plan is not None:
            self._plans[seq] = plan

    def stage(self, record: Record, state: LedgerState) -> None:
        """Apply an accepted record's effects in memory. Never raises for a record: one the
        rules would refuse (possible only in a replay of foreign history) is applied
        leniently or, if unreadable, skipped."""
        statement = record.statement
        if statement.kind != Kind.TRACE_EVENT:
            return
        plan = self._plans.pop(record.seq, None)
        if plan is None or plan.canonical != statement.canonical:
            try:
                plan = self._plan(record.seq, statement, state, strict=False)
            except LedgerError:
                return
        if plan is not None:
            self._apply(record.seq, plan)

    def flush(self) -> None:
        """Write everything staged, in the append's transaction."""
        raw = self._lookups
        fresh = []
        for lot in sorted(self._lots):
            if not self._stored_lot(lot):
                parsed = parse_lot(lot)
                fresh.append((lot, parsed.gtin.value, parsed.lot, self._lots[lot]))
                self._lot_stored[lot] = True
        self._lots.clear()
        raw.many("insert:trace_lots", fresh)
        raw.many("insert:trace_events", self._new_events)
        raw.many("insert:trace_movements", self._new_moves)
        raw.many("insert:trace_edges", self._new_edges)
        for table in ("trace_events", "trace_movements", "trace_edges"):
            raw.many(f"void:{table}", [(by, voided) for voided, by in self._voids])
        self._new_events, self._new_moves, self._new_edges, self._voids = [], [], [], []
        self._flush_rows(self._holdings, HOLDING_FIELDS, "trace_holdings")
        self._flush_rows(self._transit, TRANSIT_FIELDS, "trace_transit")
        self._flush_contents()

    def _flush_rows(self, cache: dict[Any, _Row], fields: Sequence[str], table: str) -> None:
        updates: list[tuple[Any, ...]] = []
        inserts: list[tuple[Any, ...]] = []
        for key, row in cache.items():
            if not row.dirty:
                continue
            values = (
                *(format_quantity(row.values[name]) for name in fields),
                row.first_seq,
                row.last_seq,
            )
            if row.stored:
                updates.append((*values, *key))
            else:
                inserts.append((*key, *values))
            row.stored = True
            row.dirty = False
        self._lookups.many(f"update:{table}", updates)
        self._lookups.many(f"insert:{table}", inserts)

    def _flush_contents(self) -> None:
        updates: list[tuple[Any, ...]] = []
        inserts: list[tuple[Any, ...]] = []
        deletes: list[tuple[Any, ...]] = []
        for key, last_seq in self._contents_dirty.items():
            sscc, lot, uom = key
            quantity = self._contents[sscc].get((lot, uom), _ZERO)
            stored = key in self._contents_stored
            if quantity == 0:
                if stored:
                    deletes.append(key)
                    self._contents_stored.discard(key)
            elif stored:
                updates.append((format_quantity(quantity), last_seq, *key))
            else:
                inserts.append((*key, format_quantity(quantity), last_seq))
                self._contents_stored.add(key)
        self._contents_dirty = {}
        self._lookups.many("delete:trace_sscc_contents", deletes)
        self._lookups.many("update:trace_sscc_contents", updates)
        self._lookups.many("insert:trace_sscc_contents", inserts)

    # -- cached reads ------------------------------------------------------------------------

    def _stored_lot(self, lot: str) -> bool:
        """Whether the database holds rows of ``lot`` (as of this batch's start): a lot it
        has never seen has no holdings or shipments to look up."""
        known = self._lot_stored.get(lot)
        if known is None:
            known = self._lot_stored[lot] = self._lookups.one("lot", (lot,)) is not None
        return known

    def _holding(self, key: HKey) -> _Row:
        row = self._holdings.get(key)
        if row is None:
            found = self._lookups.one("holding", key) if self._stored_lot(key[0]) else None
            row = self._holdings[key] = _row_from(found, HOLDING_FIELDS)
        return row

    def _transit_row(self, key: TKey) -> _Row:
        row = self._transit.get(key)
        if row is None:
            found = self._lookups.one("transit", key) if self._stored_lot(key[0]) else None
            row = self._transit[key] = _row_from(found, TRANSIT_FIELDS)
        return row

    def _pallet(self, sscc: str) -> dict[tuple[str, str], Decimal]:
        contents = self._contents.get(sscc)
        if contents is None:
            contents = {}
            for lot, uom, quantity in self._lookups.all("contents", (sscc,)):
                contents[(lot, uom)] = Decimal(quantity)
                self._contents_stored.add((sscc, lot, uom))
            self._contents[sscc] = contents
        return contents

    def _event(self, event_id: str, declaration: bool) -> _EventInfo | None:
        key = (event_id, declaration)
        if key not in self._events:
            if not self._event_ids.may_hold(event_id):
                self._events[key] = None
                return None
            found = self._lookups.one("event", key)
            self._events[key] = (
                None
                if found is None
                else _EventInfo(
                    int(found[0]), str(found[1]), None if found[2] is None else int(found[2])
                )
            )
        return self._events[key]

    def _moves_of(self, seq: int) -> tuple[_Move, ...]:
        staged = self._staged_moves.get(seq)
        if staged is not None:
            return staged
        rows = self._conn.execute(_SELECT_MOVES, {"k_seq": seq})
        return tuple(
            _Move(
                r.lot,
                r.holder,
                r.uom,
                r.effect,
                r.category,
                None if r.quantity is None else Decimal(r.quantity),
                r.counterparty,
                r.sscc,
                bool(r.transit),
            )
            for r in rows
        )

    def _trace_at(self, seq: int) -> TraceEvent | None:
        staged = self._staged_traces.get(seq)
        if staged is not None:
            return staged
        leaf = self._conn.execute(
            select(records.c.leaf).where(records.c.seq == seq)
        ).scalar_one_or_none()
        if leaf is None:
            return None
        return trace_event_of(Record.from_leaf(bytes(leaf)).statement)

    def _participant(self, state: LedgerState, party: str) -> str | None:
        """The participant registered with the GLN of ``party`` (the earliest, if several)."""
        gln = party_gln(party)
        if gln is None:
            return None
        if self._gln_count != len(state.participants):
            glns: dict[str, str] = {}
            for participant in sorted(
                state.participants.values(), key=lambda p: (p.registered_seq, p.id)
            ):
                if participant.gln is not None:
                    glns.setdefault(participant.gln, participant.id)
            self._glns = glns
            self._gln_count = len(state.participants)
        return self._glns.get(gln)

    def _resolve(
        self, state: LedgerState, entries: tuple[SourceDestinationFact, ...]
    ) -> tuple[str | None, bool]:
        """(counterparty, registered): the custody party of one side of an event, as a
        participant id when registered, else as its party URI; (None, False) if unnamed."""
        found = custody_party(entries)
        if found is None:
            return None, False
        participant = self._participant(state, found[1].id)
        return (participant, True) if participant is not None else (found[1].id, False)

    # -- planning ----------------------------------------------------------------------------

    def _plan(
        self, seq: int, statement: Statement, state: LedgerState, *, strict: bool
    ) -> _Plan | None:
        trace = trace_event_of(statement)
        facts = trace.facts
        author = statement.author
        declaration = facts.error_declaration
        row: dict[str, Any] = {
            "seq": seq,
            "event_id": facts.event_id,
            "declaration": declaration is not None,
            "event_type": facts.event_type,
            "biz_step": facts.biz_step,
            "action": facts.action,
            "author": author,
            "event_time": _utc_text(facts.event_time),
            "location": facts.biz_location or facts.read_point,
            "voided_by": None,
            "declares": None,
            "error_reason": None if declaration is None else declaration.reason,
            "corrective_ids": None
            if declaration is None
            else " ".join(declaration.corrective_event_ids) or None,
        }
        if declaration is not None:
            return self._plan_declaration(statement, trace, row, strict=strict)
        existing = self._event(facts.event_id, False)
        if existing is not None:
            if strict:
                raise DuplicateEventError(
                    f"eventID {facts.event_id} is already recorded at seq {existing.seq}; "
                    "a correction is a new event plus an errorDeclaration of the old one",
                    field="statement.body.event.eventID",
                )
            return None
        moves, edges = self._effects(trace, author, state, strict=strict)
        deltas = _Deltas(moves, +1)
        if strict:
            self._verify(deltas, None)
        return _Plan(statement.canonical, trace, row, tuple(moves), tuple(edges), None, (), deltas)

    def _plan_declaration(
        self, statement: Statement, trace: TraceEvent, row: dict[str, Any], *, strict: bool
    ) -> _Plan | None:
        event_id = trace.facts.event_id
        original = self._event(event_id, False)
        repeated = self._event(event_id, True)
        if strict:
            if original is None:
                raise UnknownEventError(
                    f"the error declaration names eventID {event_id}, which this ledger never "
                    "recorded",
                    field="statement.body.event.eventID",
                )
            if repeated is not None or original.voided_by is not None:
                raise DuplicateEventError(
                    f"the event {event_id} (seq {original.seq}) was already declared erroneous "
                    f"at seq {original.voided_by if repeated is None else repeated.seq}",
                    field="statement.body.event.errorDeclaration",
                )
            if original.author != statement.author:
                raise UnauthorizedKindError(
                    f"only {original.author}, who recorded the event {event_id} at seq "
                    f"{original.seq}, may declare it erroneous; not {statement.author}",
                    field="statement.author",
                )
            recorded = self._trace_at(original.seq)
            if recorded is not None:
                mismatches = error_declaration_mismatches(trace.event, recorded.event)
                if mismatches:
                    first = mismatches[0]
                    shown = "; ".join(str(m) for m in mismatches[:5])
                    raise ConflictError(
                        "an error declaration repeats the event it declares erroneous "
                        f"(seq {original.seq}) with errorDeclaration added; it differs: {shown}",
                        field=_event_field(first.path),
                    )
        elif repeated is not None:
            return None
        if original is None or original.voided_by is not None:
            return _Plan(statement.canonical, trace, row, (), (), None, (), _Deltas((), +1))
        reversed_moves = self._moves_of(original.seq)
        deltas = _Deltas(reversed_moves, -1)
        if strict:
            self._verify(deltas, original.seq)
        row["declares"] = original.seq
        return _Plan(statement.canonical, trace, row, (), (), original.seq, reversed_moves, deltas)

    def _lot_parts(self, elements: Sequence[QuantityFact], list_name: str) -> list[_Part]:
        return [
            _Part(q.lot, q.uom or "", q.quantity, None, f"{list_name}[{index}]")
            for index, q in enumerate(elements)
            if q.lot is not None
        ]

    def _pallet_parts(self, epcs: Sequence[str], list_name: str) -> list[_Part]:
        parts = []
        for index, epc in enumerate(epcs):
            sscc = _sscc_digits(epc)
            if sscc is None:
                continue
            for (lot, uom), quantity in sorted(self._pallet(sscc).items()):
                if quantity > 0:
                    parts.append(_Part(lot, uom, quantity, sscc, f"{list_name}[{index}]"))
        return parts

    @staticmethod
    def _group(
        parts: Sequence[_Part],
        holder: str,
        effect: str,
        category: str,
        counterparty: str | None = None,
        *,
        transit: bool = False,
        sscc: str | None = None,
    ) -> list[_Move]:
        """One movement per (lot, uom, pallet); parts without a quantity are references."""
        totals: dict[tuple[str, str, str | None], list[Any]] = {}
        moves: list[_Move] = []
        for part in parts:
            pallet = sscc if sscc is not None else part.sscc
            if part.quantity is None:
                moves.append(
                    _Move(
                        part.lot,
                        holder,
                        part.uom,
                        "none",
                        "observed",
                        None,
                        None,
                        pallet,
                        False,
                        part.path,
                    )
                )
                continue
            key = (part.lot, part.uom, pallet)
            if key in totals:
                totals[key][0] = add(totals[key][0], part.quantity)
            else:
                totals[key] = [part.quantity, part.path]
        for (lot, uom, pallet), (quantity, path) in totals.items():
            moves.append(
                _Move(
                    lot,
                    holder,
                    uom,
                    effect,
                    category,
                    quantity,
                    counterparty,
                    pallet,
                    transit,
                    path,
                )
            )
        return moves

    def _effects(
        self, trace: TraceEvent, author: str, state: LedgerState, *, strict: bool
    ) -> tuple[list[_Move], list[_Edge]]:
        facts = trace.facts
        step = facts.biz_step
        if facts.custody is CustodyEffect.ARRIVE:
            parts = self._lot_parts(facts.quantities, "quantityList")
            parts += self._pallet_parts(facts.epcs, "epcList")
            if step == "receiving":
                return self._receipt(trace, parts, author, state, strict=strict), []
            if step == "void_shipping":
                receiver, _ = self._resolve(state, facts.destinations)
                return self._group(parts, author, "in", "returned", receiver, transit=True), []
            return self._group(parts, author, "in", "commissioned"), []
        if facts.custody is CustodyEffect.LEAVE:
            parts = self._lot_parts(facts.quantities, "quantityList")
            parts += self._pallet_parts(facts.epcs, "epcList")
            if step == "shipping":
                receiver, _ = self._resolve(state, facts.destinations)
                return self._group(parts, author, "out", "shipped", receiver, transit=True), []
            category = "sold" if step == "retail_selling" else "destroyed"
            return self._group(parts, author, "out", category), []
        if facts.custody is CustodyEffect.TRANSFORM:
            return self._transformation(trace, author, strict=strict)
        if facts.event_type == "AggregationEvent":
            return self._aggregation(trace, author, strict=strict), []
        list_name = (
            "childQuantityList" if facts.event_type == "AssociationEvent" else "quantityList"
        )
        category = {"TransactionEvent": "linked", "AssociationEvent": "associated"}.get(
            facts.event_type, "observed"
        )
        parts = self._lot_parts(facts.quantities, list_name)
        if facts.event_type == "ObjectEvent":
            parts += self._pallet_parts(facts.epcs, "epcList")
        return self._group(parts, author, "none", category), []

    def _receipt(
        self,
        trace: TraceEvent,
        parts: list[_Part],
        author: str,
        state: LedgerState,
        *,
        strict: bool,
    ) -> list[_Move]:
        facts = trace.facts
        shipper, registered = self._resolve(state, facts.sources)
        moves = self._group([p for p in parts if p.quantity is None], author, "none", "observed")
        groups: dict[tuple[str, str], list[_Part]] = {}
        for part in parts:
            if part.quantity is not None:
                groups.setdefault((part.lot, part.uom), []).append(part)
        rejected = {(r.lot, r.uom or ""): r for r in trace.rejections}
        for key, rejection in rejected.items():
            if key not in groups and strict:
                raise ConflictError(
                    f"the receipt rejects {rejection.quantity} {_unit(key[1])} of lot {key[0]}, "
                    "which it does not list as delivered (quantityList, or an SSCC in epcList)",
                    field=rejection.path,
                )
        for (lot, uom), group in groups.items():
            delivered = _ZERO
            for part in group:
                assert part.quantity is not None
                delivered = add(delivered, part.quantity)
            found = rejected.get((lot, uom))
            refused = found.quantity if found is not None else _ZERO
            if refused > delivered:
                if strict:
                    assert found is not None
                    raise ConflictError(
                        f"the receipt rejects {refused} {_unit(uom)} of lot {lot} but lists only "
                        f"{delivered} {_unit(uom)} as delivered",
                        field=found.path,
                    )
                refused = delivered
            accepted = subtract(delivered, refused)
            pallets = {part.sscc for part in group}
            pallet = next(iter(pallets)) if len(pallets) == 1 else None
            path = group[0].path
            if accepted > 0:
                moves.append(
                    _Move(
                        lot,
                        author,
                        uom,
                        "in",
                        "received",
                        accepted,
                        shipper,
                        pallet,
                        registered,
                        path,
                    )
                )
            if refused > 0 and registered:
                assert shipper is not None
                moves.append(
                    _Move(lot, shipper, uom, "in", "returned", refused, author, None, True, path)
                )
            left = refused
            for part in group:
                assert part.quantity is not None
                take = min(left, part.quantity)
                if take > 0:
                    moves.append(
                        _Move(
                            lot,
                            author,
                            uom,
                            "none",
                            "rejected",
                            take,
                            shipper,
                            part.sscc,
                            False,
                            part.path,
                        )
                    )
                    left = subtract(left, take)
        return moves

    def _transformation(
        self, trace: TraceEvent, author: str, *, strict: bool
    ) -> tuple[list[_Move], list[_Edge]]:
        facts = trace.facts
        inputs = self._lot_parts(facts.input_quantities, "inputQuantityList")
        pallets = self._pallet_parts(facts.input_epcs, "inputEPCList")
        outputs = self._lot_parts(facts.output_quantities, "outputQuantityList")
        moves = self._group([*inputs, *pallets], author, "out", "consumed")
        moves += self._group(outputs, author, "in", "produced")
        # Shares: each input lot's part of everything that went in, in one dimension.
        measured: list[tuple[str | None, str, Fraction]] = []
        known = True
        for element in facts.input_quantities:
            if element.quantity is None:
                known = False
                continue
            dimension, amount = measure(element.quantity, element.uom)
            measured.append((element.lot, dimension, amount))
        for part in pallets:
            assert part.quantity is not None
            dimension, amount = measure(part.quantity, part.uom or None)
            measured.append((part.lot, dimension, amount))
        total: Fraction | None = None
        if known and measured and len({m[1] for m in measured}) == 1:
            total = sum((m[2] for m in measured), Fraction(0))
        weights: dict[str, Fraction] = {}
        for lot, _dimension, amount in measured:
            if lot is not None:
                weights[lot] = weights.get(lot, Fraction(0)) + amount
        in_lots = _summed([*inputs, *pallets])
        out_lots = _summed(outputs)
        edges = [
            _Edge(
                in_lot,
                out_lot,
                in_quantity,
                in_uom,
                out_quantity,
                out_uom,
                None if total is None or not total else weights.get(in_lot, Fraction(0)) / total,
            )
            for in_lot, (in_quantity, in_uom) in in_lots.items()
            for out_lot, (out_quantity, out_uom) in out_lots.items()
            if in_lot != out_lot  # reworking a lot into itself links nothing new
        ]
        if strict and in_lots and out_lots:
            self._check_acyclic(set(in_lots) - set(out_lots), list(out_lots))
        return moves, edges

    def _check_acyclic(self, inputs: set[str], outputs: list[str]) -> None:
        """Refuse a transformation whose outputs already lie upstream of its (other) inputs,
        which would make a lot its own ancestor (walks downstream from the outputs, through
        stored and staged links). A lot that is both input and output (reworked in place) is
        allowed and gets no link to itself."""
        seen = set(outputs)
        frontier = list(outputs)
        while frontier:
            hit = inputs & set(frontier)
            if hit:
                lot = min(hit)
                raise LotCycleError(
                    f"lot {lot} would be its own ancestor: it is an input of this "
                    "transformation and was already made from one of its outputs",
                    field="statement.body.event.outputQuantityList",
                )
            found: set[str] = set()
            for lot in frontier:
                for edge_seq, output in self._lookups.all("edges_from", (lot,)):
                    if int(edge_seq) not in self._voided:
                        found.add(output)
                found.update(o for s, o in self._staged_edges.get(lot, ()) if s not in self._voided)
            frontier = sorted(found - seen)
            seen.update(found)

    def _aggregation(self, trace: TraceEvent, author: str, *, strict: bool) -> list[_Move]:
        facts = trace.facts
        parent = facts.parent_sscc
        parts = self._lot_parts(facts.quantities, "childQuantityList")
        if parent is not None and facts.action == "ADD":
            moves = self._group(parts, author, "none", "packed", sscc=parent)
            if strict:
                for move in moves:
                    if move.quantity is None or move.category != "packed":
                        continue
                    available = _available(self._holding((move.lot, author, move.uom)).values)
                    if move.quantity > available:
                        raise MassBalanceError(
                            f"mass balance: {author} cannot pack {move.quantity} "
                            f"{_unit(move.uom)} of lot {move.lot} onto pallet {parent}: it holds "
                            f"{available} {_unit(move.uom)}",
                            lot=move.lot,
                            holder=author,
                            uom=_uom(move.uom),
                            available=available,
                            requested=move.quantity,
                            field=_event_field(move.path),
                        )
            return moves
        if parent is not None and facts.action == "DELETE":
            if not parts:
                parts = [
                    _Part(lot, uom, quantity, parent, "parentID")
                    for (lot, uom), quantity in sorted(self._pallet(parent).items())
                    if quantity > 0
                ]
            return self._group(parts, author, "none", "unpacked", sscc=parent)
        return self._group(parts, author, "none", "observed")

    # -- verifying and applying --------------------------------------------------------------

    def _verify(self, deltas: _Deltas, declared: int | None) -> None:
        for hkey, bucket in deltas.holdings.items():
            change = _ZERO
            for name, value in bucket.items():
                change = add(change, value) if name in IN_CATEGORIES else subtract(change, value)
            if change >= 0:
                continue
            row = self._holding(hkey)
            available = _available(row.values)
            if add(available, change) >= 0:
                continue
            lot, holder, uom = hkey
            requested = -change
            unit = _unit(uom)
            if declared is None:
                message = (
                    f"mass balance: {holder} holds {available} {unit} of lot {lot}, but this "
                    f"event takes {requested} {unit} out of its stock"
                )
            else:
                message = (
                    f"mass balance: declaring the event at seq {declared} erroneous would take "
                    f"{requested} {unit} of lot {lot} out of {holder}'s stock, which holds "
                    f"{available} {unit}; retract the events that used it first"
                )
            raise MassBalanceError(
                message,
                lot=lot,
                holder=holder,
                uom=_uom(uom),
                available=available,
                requested=requested,
                field=_event_field(deltas.paths.get(hkey, "")),
            )
        for tkey, bucket in deltas.transit.items():
            change = bucket.get("shipped", _ZERO)
            change = subtract(change, bucket.get("received", _ZERO))
            change = subtract(change, bucket.get("returned", _ZERO))
            if change >= 0:
                continue
            row = self._transit_row(tkey)
            available = _open(row.values)
            if add(available, change) >= 0:
                continue
            lot, shipper, receiver, uom = tkey
            unit = _unit(uom)
            requested = -change
            values = row.values
            detail = (
                f"shipped {values['shipped']}, received {values['received']}, "
                f"returned {values['returned']}"
            )
            if declared is None:
                message = (
                    f"{receiver or 'nobody'} cannot take {requested} {unit} of lot {lot} from "
                    f"{shipper}'s shipments: only {available} {unit} is in transit ({detail})"
                )
            else:
                message = (
                    f"declaring the event at seq {declared} erroneous would leave more of lot "
                    f"{lot} received from {shipper} by {receiver} than was shipped "
                    f"({requested} {unit} short; {detail})"
                )
            raise ExceedsShipmentError(
                message,
                lot=lot,
                holder=f"{shipper} -> {receiver}",
                uom=_uom(uom),
                available=available,
                requested=requested,
                field=_event_field(deltas.paths.get(tkey, "")),
            )
        for skey, delta in deltas.contents.items():
            if delta >= 0:
                continue
            sscc, lot, uom = skey
            current = self._pallet(sscc).get((lot, uom), _ZERO)
            if add(current, delta) >= 0:
                continue
            unit = _unit(uom)
            raise MassBalanceError(
                f"mass balance: pallet {sscc} holds {current} {unit} of lot {lot}; this "
                f"statement takes {-delta} {unit} off it",
                lot=lot,
                holder=f"pallet {sscc}",
                uom=_uom(uom),
                available=current,
                requested=-delta,
                field=_event_field(deltas.paths.get(skey, "")),
            )

    def _apply(self, seq: int, plan: _Plan) -> None:
        deltas = plan.deltas
        for hkey, bucket in deltas.holdings.items():
            self._bump(self._holding(hkey), bucket, seq)
        for tkey, bucket in deltas.transit.items():
            self._bump(self._transit_row(tkey), bucket, seq)
        for (sscc, lot, uom), delta in deltas.contents.items():
            contents = self._pallet(sscc)
            contents[(lot, uom)] = add(contents.get((lot, uom), _ZERO), delta)
            self._contents_dirty[(sscc, lot, uom)] = seq
        facts = plan.trace.facts
        self._new_events.append(_event_tuple(plan.event_row))
        for index, move in enumerate(plan.moves):
            self._new_moves.append(
                (
                    seq,
                    index,
                    move.lot,
                    move.holder,
                    move.effect,
                    move.category,
                    None if move.quantity is None else format_quantity(move.quantity),
                    move.uom,
                    move.counterparty,
                    move.sscc,
                    move.transit,
                    None,
                )
            )
            self._lots.setdefault(move.lot, seq)
        for edge in plan.edges:
            self._new_edges.append(
                (
                    seq,
                    edge.input_lot,
                    edge.output_lot,
                    None if edge.input_quantity is None else format_quantity(edge.input_quantity),
                    edge.input_uom,
                    None if edge.output_quantity is None else format_quantity(edge.output_quantity),
                    edge.output_uom,
                    None if edge.input_share is None else _fraction_text(edge.input_share),
                    None,
                )
            )
            self._lots.setdefault(edge.input_lot, seq)
            self._lots.setdefault(edge.output_lot, seq)
            self._staged_edges.setdefault(edge.input_lot, []).append((seq, edge.output_lot))
        author = str(plan.event_row["author"])
        self._event_ids.add(facts.event_id, staged=True)
        if plan.event_row["declaration"]:
            self._events[(facts.event_id, True)] = _EventInfo(seq, author, None)
        else:
            self._events[(facts.event_id, False)] = _EventInfo(seq, author, None)
        if plan.voids is not None:
            voided = plan.voids
            self._voids.append((voided, seq))
            self._voided.add(voided)
            original = self._events.get((facts.event_id, False))
            if original is not None:
                self._events[(facts.event_id, False)] = _EventInfo(
                    original.seq, original.author, seq
                )
        self._staged_traces[seq] = plan.trace
        self._staged_moves[seq] = plan.moves

    @staticmethod
    def _bump(row: _Row, bucket: dict[str, Decimal], seq: int) -> None:
        for name, value in bucket.items():
            row.values[name] = add(row.values[name], value)
        row.first_seq = seq if row.first_seq is None else min(row.first_seq, seq)
        row.last_seq = seq
        row.dirty = True


def _summed(parts: Sequence[_Part]) -> dict[str, tuple[Decimal | None, str]]:
    """Per lot (first-seen order): its total quantity when all its parts share one unit and
    have quantities, else (None, "")."""
    out: dict[str, tuple[Decimal | None, str]] = {}
    mixed: set[str] = set()
    for part in parts:
        if part.lot in mixed:
            continue
        if part.lot not in out:
            out[part.lot] = (part.quantity, part.uom)
            if part.quantity is None:
                mixed.add(part.lot)
            continue
        quantity, uom = out[part.lot]
        if quantity is None or part.quantity is None or uom != part.uom:
            out[part.lot] = (None, "")
            mixed.add(part.lot)
        else:
            out[part.lot] = (add(quantity, part.quantity), uom)
    return out


# -- queries --------------------------------------------------------------------------------


def _normal_lot(lot: str) -> str:
    return normalize_lot(lot)


def _alive(table: Table | NamedFromClause, as_of_seq: Any) -> ColumnElement[bool]:
    """Rows counting at ``as_of_seq`` (a seq, a bound parameter, or None for now):
    recorded by then and not yet retracted."""
    voided: ColumnElement[Any] = table.c.voided_by
    if as_of_seq is None:
        return voided.is_(None)
    seq: ColumnElement[Any] = table.c.seq
    return and_(seq <= as_of_seq, or_(voided.is_(None), voided > as_of_seq))


_AS_OF: Final = bindparam("as_of", type_=BigInteger)
_ROOT: Final = bindparam("root", type_=String)
_compiled: dict[tuple[str, str], tuple[str, tuple[str, ...] | None]] = {}


def _fetch(
    conn: Connection, key: str, build: Callable[[], Any], params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """Rows of a large read as plain tuples, through the DB-API cursor.

    The statement is built and compiled once per dialect (its values are bound
    parameters); skipping SQLAlchemy's per-row objects halves the cost of reading the
    thousands of rows of a 1,000-lot answer."""
    entry = _compiled.get((conn.dialect.name, key))
    if entry is None:
        compiled = build().compile(dialect=conn.dialect)
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        entry = _compiled[(conn.dialect.name, key)] = (str(compiled), order)
    sql, order = entry
    args: Any = params if order is None else tuple(params[name] for name in order)
    cursor: Any = conn.connection.cursor()
    try:
        cursor.execute(sql, args)
        rows: list[tuple[Any, ...]] = list(cursor.fetchall())
    finally:
        cursor.close()
    return rows


def _require_lot(conn: Connection, lot: str, as_of_seq: int | None) -> None:
    first = conn.execute(select(lots_t.c.first_seq).where(lots_t.c.lot == lot)).scalar_one_or_none()
    if first is None or (as_of_seq is not None and first > as_of_seq):
        raise UnknownLotError(f"no record names lot {lot}", field="lot")


def _link(row: Any) -> LotLink:
    return LotLink(
        int(row.seq),
        row.input_lot,
        row.output_lot,
        None if row.input_quantity is None else Decimal(row.input_quantity),
        _uom(row.input_uom),
        None if row.output_quantity is None else Decimal(row.output_quantity),
        _uom(row.output_uom),
        _parse_fraction(row.input_share),
    )


def _walk(direction: str, dated: bool) -> Select[Any]:
    """A recursive CTE of every lot linked to the lot bound as ``root``, upstream (``"up"``)
    or downstream, through links counting now or (``dated``) at the bound ``as_of``; as a
    subquery ``SELECT lot FROM walk``. The walk is indexed (``trace_edges`` by output or
    input lot) and ``UNION`` visits each lot once, diamonds included."""
    as_of_seq = _AS_OF if dated else None
    edge = edges_t.alias("walk_edge")
    anchor = select(lots_t.c.lot.label("lot")).where(lots_t.c.lot == _ROOT)
    walk = anchor.cte("walk", recursive=True)
    if direction == "up":
        step = select(edge.c.input_lot).select_from(
            edge.join(walk, edge.c.output_lot == walk.c.lot)
        )
    else:
        step = select(edge.c.output_lot).select_from(
            edge.join(walk, edge.c.input_lot == walk.c.lot)
        )
    walk = walk.union(step.where(_alive(edge, as_of_seq)))
    return select(walk.c.lot)


def _path_seqs(root: str, links: Sequence[LotLink], direction: str) -> dict[str, set[int]]:
    """Per lot, the transformation seqs on its paths to (up) or from (down) ``root``."""
    toward: dict[str, list[LotLink]] = {}
    for link in links:
        near = link.output_lot if direction == "up" else link.input_lot
        toward.setdefault(near, []).append(link)
    result: dict[str, set[int]] = {root: set()}
    queue = [root]
    while queue:
        lot = queue.pop()
        base = result[lot]
        for link in toward.get(lot, ()):
            far = link.input_lot if direction == "up" else link.output_lot
            wanted = base | {link.seq}
            current = result.get(far)
            if current is None:
                result[far] = set(wanted)
                queue.append(far)
            elif not wanted <= current:
                current |= wanted
                queue.append(far)
    return result


def _back_links(dated: bool) -> Select[Any]:
    return (
        select(edges_t)
        .where(edges_t.c.output_lot.in_(_walk("up", dated)))
        .where(_alive(edges_t, _AS_OF if dated else None))
        .order_by(edges_t.c.seq, edges_t.c.input_lot, edges_t.c.output_lot)
    )


def _back_moves(dated: bool) -> Select[Any]:
    query = (
        select(
            moves_t.c.seq,
            moves_t.c.idx,
            moves_t.c.lot,
            moves_t.c.holder,
            moves_t.c.effect,
            moves_t.c.category,
            moves_t.c.quantity,
            moves_t.c.uom,
            moves_t.c.counterparty,
            moves_t.c.sscc,
            moves_t.c.voided_by,
            events_t.c.event_id,
            events_t.c.event_type,
            events_t.c.biz_step,
            events_t.c.action,
            events_t.c.author,
            events_t.c.event_time,
            events_t.c.location,
        )
        .select_from(moves_t.join(events_t, events_t.c.seq == moves_t.c.seq))
        .where(moves_t.c.lot.in_(_walk("up", dated)))
        .order_by(moves_t.c.seq, moves_t.c.idx)
    )
    return query.where(moves_t.c.seq <= _AS_OF) if dated else query


def _link_row(row: tuple[Any, ...]) -> LotLink:
    seq, input_lot, output_lot, in_quantity, in_uom, out_quantity, out_uom, share, _ = row
    return LotLink(
        int(seq),
        input_lot,
        output_lot,
        None if in_quantity is None else Decimal(in_quantity),
        in_uom or None,
        None if out_quantity is None else Decimal(out_quantity),
        out_uom or None,
        _parse_fraction(share),
    )


def trace_back(reader: Reader, lot: str, *, as_of_seq: int | None = None) -> Provenance:
    """Provenance of ``lot`` (any lot syntax): every upstream lot through transformations,
    with shares, movements (hence balances, parties, locations) and proving seqs, counting
    only records up to ``as_of_seq`` (all when None) that were not retracted by then.

    Two queries walk the lot graph with a recursive CTE: the links, then the movements of
    every lot found (joined with their events). Raises ``MalformedIdentifierError`` for a
    bad lot and ``UnknownLotError`` for a lot no record names."""
    root = _normal_lot(lot)
    conn = reader.conn
    _require_lot(conn, root, as_of_seq)
    dated = as_of_seq is not None
    params: dict[str, Any] = {"root": root, "as_of": as_of_seq}
    suffix = ":dated" if dated else ""
    raw_links = [
        _link_row(r)
        for r in _fetch(conn, "back-links" + suffix, lambda: _back_links(dated), params)
    ]
    names = [root, *dict.fromkeys(link.input_lot for link in raw_links)]
    events: dict[int, TraceEventInfo] = {}
    movements: dict[str, list[Movement]] = {name: [] for name in names}
    production: list[tuple[str, Decimal, str | None]] = []
    voided: set[int] = set()
    rows = _fetch(conn, "back-moves" + suffix, lambda: _back_moves(dated), params)
    for (
        seq,
        index,
        name,
        holder,
        effect,
        category,
        quantity_text,
        uom_text,
        counterparty,
        sscc,
        voided_by,
        event_id,
        event_type,
        biz_step,
        action,
        author,
        event_time,
        location,
    ) in rows:
        if voided_by is not None and (as_of_seq is None or voided_by <= as_of_seq):
            voided.add(seq)
            continue
        if seq not in events:
            events[seq] = TraceEventInfo(
                seq,
                event_id,
                event_type,
                biz_step,
                action,
                author,
                datetime.fromisoformat(event_time),
                location,
            )
        quantity = None if quantity_text is None else Decimal(quantity_text)
        uom = uom_text or None
        movements[name].append(
            Movement(
                seq,
                index,
                name,
                holder,
                effect,
                category,
                quantity,
                uom,
                counterparty,
                sscc,
                location,
            )
        )
        if quantity is not None and category in ("commissioned", "produced"):
            production.append((name, quantity, uom))
    links = link_weights(raw_links, production_totals(production))
    shares, depths = upstream_shares(root, links)
    paths = _path_seqs(root, links, "up")
    traced = []
    for name in names:
        parsed = parse_lot(name)
        found = movements[name]
        seqs = {m.seq for m in found}
        seqs.update(paths.get(name, ()))
        traced.append(
            TracedLot(
                name,
                parsed.gtin.value,
                parsed.lot,
                depths.get(name, 0),
                shares.get(name),
                tuple(found),
                tuple(sorted(seqs)),
            )
        )
    traced.sort(key=lambda t: (t.lot != root, t.depth, t.lot))
    return Provenance(
        root,
        as_of_seq,
        tuple(traced),
        tuple(links),
        tuple(events[s] for s in sorted(events)),
        _corrections(conn, sorted(voided), as_of_seq),
    )


def _corrections(
    conn: Connection, voided: Sequence[int], as_of_seq: int | None
) -> tuple[Correction, ...]:
    """The retractions of the events at ``voided`` seqs, with their corrective events."""
    if not voided:
        return ()
    originals = {
        int(r.seq): r
        for chunk in _chunks(voided)
        for r in conn.execute(select(events_t).where(events_t.c.seq.in_(chunk))).all()
    }
    declared_by = sorted({int(r.voided_by) for r in originals.values()})
    declarations = {
        int(r.declares): r
        for chunk in _chunks(declared_by)
        for r in conn.execute(select(events_t).where(events_t.c.seq.in_(chunk))).all()
        if r.declares is not None
    }
    wanted = sorted(
        {ident for r in declarations.values() for ident in (r.corrective_ids or "").split()}
    )
    corrective: dict[str, int] = {}
    for chunk in _chunks(wanted):
        for r in conn.execute(
            select(events_t.c.seq, events_t.c.event_id).where(
                events_t.c.event_id.in_(chunk), events_t.c.declaration.is_(False)
            )
        ).all():
            if as_of_seq is None or r.seq <= as_of_seq:
                corrective[r.event_id] = int(r.seq)
    out = []
    for seq in voided:
        original = originals[seq]
        declaration = declarations.get(seq)
        ids = tuple((declaration.corrective_ids or "").split()) if declaration is not None else ()
        out.append(
            Correction(
                seq,
                original.event_id,
                int(original.voided_by),
                None if declaration is None else declaration.error_reason,
                ids,
                tuple(sorted(corrective[i] for i in ids if i in corrective)),
            )
        )
    return tuple(out)


def _holding_balance(row: Any) -> Balance:
    return Balance(
        row.lot,
        row.holder,
        _uom(row.uom),
        **{name: Decimal(getattr(row, name)) for name in HOLDING_FIELDS},
    )


def _transit(row: Any) -> Transit:
    return Transit(
        row.lot,
        row.shipper,
        row.receiver or None,
        _uom(row.uom),
        Decimal(row.shipped),
        Decimal(row.received),
        Decimal(row.returned),
    )


def _forward(table: Table, column: str) -> Callable[[], Select[Any]]:
    def build() -> Select[Any]:
        query = select(table).where(table.c[column].in_(_walk("down", False)))
        if table is edges_t:
            query = query.where(edges_t.c.voided_by.is_(None))
        return query.order_by(*table.primary_key.columns)

    return build


def trace_forward(reader: Reader, lot: str) -> Recall:
    """Recall from ``lot``: every downstream lot through transformations, the share of each
    that came from ``lot``, and every holder (and open shipment) that still has some of them.

    Three queries over a recursive CTE (links, holdings, shipments of the lots found).
    Raises ``MalformedIdentifierError`` for a bad lot and ``UnknownLotError`` for a lot no
    record names."""
    root = _normal_lot(lot)
    conn = reader.conn
    _require_lot(conn, root, None)
    params: dict[str, Any] = {"root": root}
    raw_links = [
        _link_row(r) for r in _fetch(conn, "fwd-links", _forward(edges_t, "input_lot"), params)
    ]
    names = [root, *dict.fromkeys(link.output_lot for link in raw_links)]
    balances: dict[str, list[Balance]] = {}
    production: list[tuple[str, Decimal, str | None]] = []
    for row in _fetch(conn, "fwd-holdings", _forward(holdings_t, "lot"), params):
        name, holder, uom = row[0], row[1], row[2] or None
        values = dict(zip(HOLDING_FIELDS, map(Decimal, row[3:11]), strict=True))
        balance = Balance(name, holder, uom, **values)
        balances.setdefault(name, []).append(balance)
        for value in (balance.commissioned, balance.produced):
            if value:
                production.append((name, value, uom))
    transits = [
        Transit(
            row[0],
            row[1],
            row[2] or None,
            row[3] or None,
            Decimal(row[4]),
            Decimal(row[5]),
            Decimal(row[6]),
        )
        for row in _fetch(conn, "fwd-transit", _forward(transit_t, "lot"), params)
    ]
    links = link_weights(raw_links, production_totals(production))
    shares, depths = downstream_shares(root, links)
    paths = _path_seqs(root, links, "down")
    traced = []
    for name in names:
        parsed = parse_lot(name)
        traced.append(
            TracedLot(
                name,
                parsed.gtin.value,
                parsed.lot,
                depths.get(name, 0),
                shares.get(name),
                (),
                tuple(sorted(paths.get(name, ()))),
                tuple(balances.get(name, ())),
            )
        )
    traced.sort(key=lambda t: (t.lot != root, t.depth, t.lot))
    stock: list[Stock] = []
    for t in traced:
        for balance in t.balances:
            if balance.remaining > 0:
                stock.append(Stock(t.lot, "held", balance.holder, balance.uom, balance.remaining))
    for transit in transits:
        if transit.open > 0:
            stock.append(
                Stock(
                    transit.lot,
                    "in_transit",
                    transit.receiver,
                    transit.uom,
                    transit.open,
                    transit.shipper,
                )
            )
    order = {t.lot: index for index, t in enumerate(traced)}
    stock.sort(key=lambda s: (order[s.lot], s.status, s.holder or "", s.uom or ""))
    return Recall(root, tuple(traced), tuple(links), tuple(stock))


def lot_summary(reader: Reader, lot: str) -> LotSummary:
    """One lot as the projection holds it now. Raises ``MalformedIdentifierError`` or
    ``UnknownLotError``."""
    name = _normal_lot(lot)
    conn = reader.conn
    row = conn.execute(select(lots_t).where(lots_t.c.lot == name)).one_or_none()
    if row is None:
        raise UnknownLotError(f"no record names lot {name}", field="lot")
    balances = tuple(
        _holding_balance(r)
        for r in conn.execute(
            select(holdings_t)
            .where(holdings_t.c.lot == name)
            .order_by(holdings_t.c.holder, holdings_t.c.uom)
        )
    )
    transits = tuple(
        _transit(r)
        for r in conn.execute(
            select(transit_t)
            .where(transit_t.c.lot == name)
            .order_by(transit_t.c.shipper, transit_t.c.receiver, transit_t.c.uom)
        )
    )
    pallets = tuple(
        PalletContent(r.sscc, r.lot, _uom(r.uom), Decimal(r.quantity))
        for r in conn.execute(
            select(contents_t)
            .where(contents_t.c.lot == name)
            .order_by(contents_t.c.sscc, contents_t.c.uom)
        )
    )
    inputs = tuple(
        _link(r)
        for r in conn.execute(
            select(edges_t)
            .where(edges_t.c.output_lot == name, edges_t.c.voided_by.is_(None))
            .order_by(edges_t.c.seq, edges_t.c.input_lot)
        )
    )
    outputs = tuple(
        _link(r)
        for r in conn.execute(
            select(edges_t)
            .where(edges_t.c.input_lot == name, edges_t.c.voided_by.is_(None))
            .order_by(edges_t.c.seq, edges_t.c.output_lot)
        )
    )
    counting: set[int] = set()
    voided: set[int] = set()
    for seq, voided_by in conn.execute(
        select(moves_t.c.seq, moves_t.c.voided_by).where(moves_t.c.lot == name)
    ):
        (counting if voided_by is None else voided).add(int(seq))
    return LotSummary(
        name,
        row.gtin,
        row.lot_number,
        int(row.first_seq),
        balances,
        transits,
        pallets,
        inputs,
        outputs,
        tuple(sorted(counting)),
        tuple(sorted(voided)),
    )


# -- export support -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredTraceEvent:
    """A recorded ``trace.event``: its seq, author, record time and ledger-form event."""

    seq: int
    author: str
    recorded_at: str
    event: dict[str, Any]


def select_event_seqs(
    reader: Reader,
    *,
    lot: str | None = None,
    party: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[int]:
    """Seqs of the ``trace.event`` records an export covers, ascending.

    ``lot``: the records of its provenance, plus the error declarations (and retracted
    events) that concern its lots; ``party``: records it authored or that name it as the
    other side of a shipment or receipt; ``since``/``until``: event time in
    ``[since, until)``. Filters combine (intersection); none at all selects every trace
    record. Raises ``UnknownLotError``/``MalformedIdentifierError`` for a bad lot."""
    conn = reader.conn
    chosen: set[int] | None = None
    if lot is not None:
        provenance = trace_back(reader, lot)
        found = set(provenance.seqs)
        for correction in provenance.corrections:
            found.add(correction.seq)
            found.add(correction.declared_by)
        chosen = found
    if party is not None:
        found = set(
            conn.execute(select(events_t.c.seq).where(events_t.c.author == party)).scalars()
        )
        found.update(
            conn.execute(select(moves_t.c.seq).where(moves_t.c.counterparty == party)).scalars()
        )
        chosen = found if chosen is None else chosen & found
    if since is not None or until is not None or chosen is None:
        query = select(events_t.c.seq)
        if since is not None:
            query = query.where(events_t.c.event_time >= _utc_text(since))
        if until is not None:
            query = query.where(events_t.c.event_time < _utc_text(until))
        found = {int(s) for s in conn.execute(query).scalars()}
        chosen = found if chosen is None else chosen & found
    return sorted(int(s) for s in chosen)


def load_trace_events(reader: Reader, seqs: Sequence[int]) -> list[StoredTraceEvent]:
    """The ledger-form events of the ``trace.event`` records at ``seqs``, in seq order."""
    out: list[StoredTraceEvent] = []
    for chunk in _chunks(sorted(set(seqs))):
        for leaf in _leaves(reader.conn, chunk):
            record = Record.from_leaf(leaf)
            event = record.statement.body.get("event")
            if record.statement.kind != Kind.TRACE_EVENT or not isinstance(event, dict):
                continue
            out.append(
                StoredTraceEvent(record.seq, record.statement.author, record.recorded_at, event)
            )
    out.sort(key=lambda e: e.seq)
    return out


def _leaves(conn: Connection, seqs: Sequence[int]) -> Iterator[bytes]:
    for leaf in conn.execute(
        select(records.c.leaf).where(records.c.seq.in_(list(seqs))).order_by(records.c.seq)
    ).scalars():
        yield bytes(leaf)


def movements_of(reader: Reader, seqs: Sequence[int]) -> dict[int, list[Movement]]:
    """The counting (not retracted) movements of the records at ``seqs``, by seq."""
    out: dict[int, list[Movement]] = {}
    for chunk in _chunks(sorted(set(seqs))):
        for r in reader.conn.execute(
            select(moves_t)
            .where(moves_t.c.seq.in_(chunk), moves_t.c.voided_by.is_(None))
            .order_by(moves_t.c.seq, moves_t.c.idx)
        ):
            out.setdefault(int(r.seq), []).append(
                Movement(
                    int(r.seq),
                    int(r.idx),
                    r.lot,
                    r.holder,
                    r.effect,
                    r.category,
                    None if r.quantity is None else Decimal(r.quantity),
                    _uom(r.uom),
                    r.counterparty,
                    r.sscc,
                )
            )
    return out


def lot_sources(reader: Reader, lots: Iterable[str]) -> dict[str, TraceEventInfo]:
    """Per lot, the first counting event that commissioned or produced it (where its lot
    code was assigned: the FSMA 204 traceability lot code source)."""
    wanted = sorted(set(lots))
    firsts: dict[str, int] = {}
    for chunk in _chunks(wanted):
        for lot, seq in reader.conn.execute(
            select(moves_t.c.lot, moves_t.c.seq)
            .where(
                moves_t.c.lot.in_(chunk),
                moves_t.c.category.in_(("commissioned", "produced")),
                moves_t.c.voided_by.is_(None),
            )
            .order_by(moves_t.c.seq)
        ):
            firsts.setdefault(lot, int(seq))
    infos: dict[int, TraceEventInfo] = {}
    for chunk in _chunks(sorted(set(firsts.values()))):
        for r in reader.conn.execute(select(events_t).where(events_t.c.seq.in_(chunk))):
            infos[int(r.seq)] = TraceEventInfo(
                int(r.seq),
                r.event_id,
                r.event_type,
                r.biz_step,
                r.action,
                r.author,
                datetime.fromisoformat(r.event_time),
                r.location,
                r.voided_by,
            )
    return {lot: infos[seq] for lot, seq in firsts.items() if seq in infos}


def participant_directory(reader: Reader) -> dict[str, tuple[str, str | None]]:
    """Participant id → (display name, GLN), for location descriptions."""
    return {
        str(row["id"]): (str(row["display_name"]), None if row["gln"] is None else str(row["gln"]))
        for row in reader.participant_rows()
    }
