"""Provenance (trace back) and recall (trace forward): result types and contribution shares.

The walk itself is SQL over the trace projection (``ledger.storage.trace.trace_back`` and
``trace_forward``); this module holds what it returns and the exact arithmetic, which is pure.

**The lot graph.** Lots keep their identity while they are shipped, received, packed onto
pallets and unpacked: those steps are *movements* of one lot between holders. A
TransformationEvent links every input lot to every output lot (a *link*, proven by the
transformation's record).

**Contribution shares** (DESIGN §4: what fraction of a lot came from each upstream lot) are
exact ``Fraction`` values:

* inside one transformation T, input lot *i* makes up ``w_i / W`` of every output, where
  ``w_i`` is its quantity and ``W`` the quantity of all of T's inputs (lots and plain trade
  item classes), measured in one dimension (``ledger.trace.units.measure``);
* an output lot *o* may be produced by several transformations and also commissioned
  directly; the part that T contributes is ``out_T(o) / production(o)``, where
  ``production(o)`` is everything ever commissioned or produced of *o* (same dimension);
* so the *weight* of the link *i → o* through T is ``w_i / W × out_T(o) / production(o)``,
  shares multiply along a path and add up over the paths of a diamond.

A share is ``None`` (unknown) when the quantities it needs are in units of different
dimensions (kilograms of one input, litres of another) or missing; unknown propagates.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final

from ledger.canonical import JSONObject, JSONValue
from ledger.statement import format_timestamp
from ledger.trace.units import add, format_quantity, measure, subtract

__all__ = [
    "IN_CATEGORIES",
    "OUT_CATEGORIES",
    "Balance",
    "Correction",
    "LotLink",
    "LotSummary",
    "Movement",
    "PalletContent",
    "Provenance",
    "Recall",
    "Stock",
    "TraceEventInfo",
    "TracedLot",
    "Transit",
    "downstream_shares",
    "link_weights",
    "production_totals",
    "share_text",
    "upstream_shares",
]

#: Movement categories that add to a holder's stock, and those that take from it.
IN_CATEGORIES: Final = ("commissioned", "produced", "received", "returned")
OUT_CATEGORIES: Final = ("shipped", "consumed", "destroyed", "sold")
_ZERO: Final = Decimal(0)

Measured = tuple[str, Fraction]


def share_text(share: Fraction | None) -> str | None:
    """A share as exact text: ``"3/8"``, ``"1"`` or ``"0"``; None stays None."""
    if share is None:
        return None
    return (
        str(share.numerator) if share.denominator == 1 else f"{share.numerator}/{share.denominator}"
    )


def _q(value: Decimal | None) -> str | None:
    return None if value is None else format_quantity(value)


@dataclass(frozen=True, slots=True)
class TraceEventInfo:
    """One recorded event as the projection indexes it. ``location`` is the bizLocation,
    else the readPoint; ``voided_by`` is the seq of the error declaration that retracted it."""

    seq: int
    event_id: str
    event_type: str
    biz_step: str | None
    action: str | None
    author: str
    event_time: datetime
    location: str | None
    voided_by: int | None = None

    def to_json(self) -> JSONObject:
        return {
            "seq": self.seq,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "biz_step": self.biz_step,
            "action": self.action,
            "author": self.author,
            "event_time": format_timestamp(self.event_time),
            "location": self.location,
            "voided_by": self.voided_by,
        }


@dataclass(frozen=True, slots=True)
class Movement:
    """One effect of record ``seq`` on ``lot``: ``effect`` is ``in``/``out`` of ``holder``'s
    stock (``category`` commissioned, produced, received, returned / shipped, consumed,
    destroyed, sold) or ``none`` (packed, unpacked, rejected, observed, linked, associated).
    ``counterparty`` is the other side of a shipment or receipt (a participant id, or a party
    URI for a party without a registration); ``sscc`` the pallet it travelled on;
    ``location`` the event's bizLocation (else readPoint)."""

    seq: int
    index: int
    lot: str
    holder: str
    effect: str
    category: str
    quantity: Decimal | None
    uom: str | None
    counterparty: str | None
    sscc: str | None
    location: str | None = None

    def to_json(self) -> JSONObject:
        return {
            "seq": self.seq,
            "index": self.index,
            "lot": self.lot,
            "holder": self.holder,
            "effect": self.effect,
            "category": self.category,
            "quantity": _q(self.quantity),
            "uom": self.uom,
            "counterparty": self.counterparty,
            "sscc": self.sscc,
            "location": self.location,
        }


@dataclass(frozen=True, slots=True)
class Balance:
    """What ``holder`` took in and gave out of ``lot`` in ``uom``; ``remaining`` is never
    negative in an accepted history (mass balance)."""

    lot: str
    holder: str
    uom: str | None
    commissioned: Decimal = _ZERO
    produced: Decimal = _ZERO
    received: Decimal = _ZERO
    returned: Decimal = _ZERO
    shipped: Decimal = _ZERO
    consumed: Decimal = _ZERO
    destroyed: Decimal = _ZERO
    sold: Decimal = _ZERO

    @property
    def quantity_in(self) -> Decimal:
        total = _ZERO
        for value in (self.commissioned, self.produced, self.received, self.returned):
            total = add(total, value)
        return total

    @property
    def quantity_out(self) -> Decimal:
        total = _ZERO
        for value in (self.shipped, self.consumed, self.destroyed, self.sold):
            total = add(total, value)
        return total

    @property
    def remaining(self) -> Decimal:
        return subtract(self.quantity_in, self.quantity_out)

    def to_json(self) -> JSONObject:
        out: JSONObject = {"lot": self.lot, "holder": self.holder, "uom": self.uom}
        for name in (*IN_CATEGORIES, *OUT_CATEGORIES):
            out[name] = format_quantity(getattr(self, name))
        out["remaining"] = format_quantity(self.remaining)
        return out


@dataclass(frozen=True, slots=True)
class Transit:
    """A shipment pool: what ``shipper`` shipped of ``lot`` to ``receiver`` (a participant, a
    party URI, or None when the shipping event named no destination), what the receiver
    accepted and what came back (rejected or voided)."""

    lot: str
    shipper: str
    receiver: str | None
    uom: str | None
    shipped: Decimal
    received: Decimal
    returned: Decimal

    @property
    def open(self) -> Decimal:
        return subtract(subtract(self.shipped, self.received), self.returned)

    def to_json(self) -> JSONObject:
        return {
            "lot": self.lot,
            "shipper": self.shipper,
            "receiver": self.receiver,
            "uom": self.uom,
            "shipped": format_quantity(self.shipped),
            "received": format_quantity(self.received),
            "returned": format_quantity(self.returned),
            "open": format_quantity(self.open),
        }


@dataclass(frozen=True, slots=True)
class LotLink:
    """``input_lot`` went into ``output_lot`` through the transformation recorded at ``seq``.

    ``input_share`` is the input's part of all the transformation's inputs; ``weight`` the
    fraction of ``output_lot``'s whole production that came from ``input_lot`` this way
    (see the module docstring); None when not computable."""

    seq: int
    input_lot: str
    output_lot: str
    input_quantity: Decimal | None
    input_uom: str | None
    output_quantity: Decimal | None
    output_uom: str | None
    input_share: Fraction | None
    weight: Fraction | None = None

    def to_json(self) -> JSONObject:
        return {
            "seq": self.seq,
            "input_lot": self.input_lot,
            "output_lot": self.output_lot,
            "input_quantity": _q(self.input_quantity),
            "input_uom": self.input_uom,
            "output_quantity": _q(self.output_quantity),
            "output_uom": self.output_uom,
            "input_share": share_text(self.input_share),
            "weight": share_text(self.weight),
        }


@dataclass(frozen=True, slots=True)
class TracedLot:
    """One lot of a provenance or recall answer.

    ``depth`` is the fewest transformations between it and the queried lot; ``share`` the
    fraction of the queried lot that came from it (trace back) or of it that came from the
    queried lot (recall); ``movements`` its counting movements (trace back); ``seqs`` the
    records proving its steps: its own movements and the transformations on its paths to
    the queried lot. ``holdings`` are balances read from the projection (recall); without
    them ``balances`` are summed from the movements."""

    lot: str
    gtin: str
    lot_number: str
    depth: int
    share: Fraction | None
    movements: tuple[Movement, ...]
    seqs: tuple[int, ...]
    holdings: tuple[Balance, ...] | None = None

    @property
    def balances(self) -> tuple[Balance, ...]:
        """Per (holder, unit): what came in and went out, and what remains."""
        if self.holdings is not None:
            return self.holdings
        sums: dict[tuple[str, str | None], dict[str, Decimal]] = {}
        for m in self.movements:
            if m.effect == "none" or m.quantity is None:
                continue
            bucket = sums.setdefault((m.holder, m.uom), {})
            bucket[m.category] = add(bucket.get(m.category, _ZERO), m.quantity)
        ordered = sorted(sums.items(), key=lambda item: (item[0][0], item[0][1] or ""))
        return tuple(Balance(self.lot, holder, uom, **values) for (holder, uom), values in ordered)

    @property
    def producers(self) -> tuple[str, ...]:
        """The participants that commissioned or produced it."""
        if self.holdings is not None:
            return tuple(sorted({b.holder for b in self.holdings if b.commissioned or b.produced}))
        found = {m.holder for m in self.movements if m.category in ("commissioned", "produced")}
        return tuple(sorted(found))

    @property
    def parties(self) -> tuple[str, ...]:
        """Everyone that held it or was the other side of one of its movements."""
        found = {b.holder for b in self.holdings or ()}
        for m in self.movements:
            found.add(m.holder)
            if m.counterparty is not None:
                found.add(m.counterparty)
        return tuple(sorted(found))

    @property
    def locations(self) -> tuple[str, ...]:
        """Where its events happened."""
        return tuple(sorted({m.location for m in self.movements if m.location is not None}))

    def to_json(self) -> JSONObject:
        return {
            "lot": self.lot,
            "gtin": self.gtin,
            "lot_number": self.lot_number,
            "depth": self.depth,
            "share": share_text(self.share),
            "producers": list(self.producers),
            "balances": [b.to_json() for b in self.balances],
            "movements": [m.to_json() for m in self.movements],
            "parties": list(self.parties),
            "locations": list(self.locations),
            "seqs": list(self.seqs),
        }


@dataclass(frozen=True, slots=True)
class Correction:
    """The event at ``seq`` was declared erroneous by the record ``declared_by``; it no
    longer counts, and the events named in ``corrective_event_ids`` (recorded at
    ``corrective_seqs``, when they are) count instead."""

    seq: int
    event_id: str
    declared_by: int
    reason: str | None
    corrective_event_ids: tuple[str, ...]
    corrective_seqs: tuple[int, ...]

    def to_json(self) -> JSONObject:
        return {
            "seq": self.seq,
            "event_id": self.event_id,
            "declared_by": self.declared_by,
            "reason": self.reason,
            "corrective_event_ids": list(self.corrective_event_ids),
            "corrective_seqs": list(self.corrective_seqs),
        }


@dataclass(frozen=True, slots=True)
class Provenance:
    """Trace back from ``lot``: every upstream lot (the lot itself first, with share 1), the
    links between them, the events, parties and locations, and the corrections that retracted
    events on these lots. ``as_of_seq`` bounds the records considered (None: all)."""

    lot: str
    as_of_seq: int | None
    lots: tuple[TracedLot, ...]
    links: tuple[LotLink, ...]
    events: tuple[TraceEventInfo, ...]
    corrections: tuple[Correction, ...]
    _by_lot: dict[str, TracedLot] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_lot.update((traced.lot, traced) for traced in self.lots)

    def get(self, lot: str) -> TracedLot | None:
        return self._by_lot.get(lot)

    @property
    def parties(self) -> tuple[str, ...]:
        return tuple(sorted({p for traced in self.lots for p in traced.parties}))

    @property
    def locations(self) -> tuple[str, ...]:
        return tuple(sorted({loc for traced in self.lots for loc in traced.locations}))

    @property
    def seqs(self) -> tuple[int, ...]:
        """Every record the answer rests on (movements and transformations), ascending."""
        found = {s for traced in self.lots for s in traced.seqs}
        found.update(link.seq for link in self.links)
        return tuple(sorted(found))

    def origins(self) -> tuple[TracedLot, ...]:
        """Upstream lots that no transformation produced: where the goods entered the ledger."""
        produced = {link.output_lot for link in self.links}
        return tuple(t for t in self.lots if t.lot not in produced and t.lot != self.lot)

    def to_json(self) -> JSONObject:
        return {
            "lot": self.lot,
            "as_of_seq": self.as_of_seq,
            "lots": [t.to_json() for t in self.lots],
            "links": [link.to_json() for link in self.links],
            "events": [e.to_json() for e in self.events],
            "corrections": [c.to_json() for c in self.corrections],
            "parties": list(self.parties),
            "locations": list(self.locations),
            "seqs": list(self.seqs),
        }


@dataclass(frozen=True, slots=True)
class Stock:
    """Where some of a lot is now: ``held`` by ``holder``, or ``in_transit`` from
    ``shipper`` to ``holder`` (the receiver; None when the shipment named none)."""

    lot: str
    status: str
    holder: str | None
    uom: str | None
    quantity: Decimal
    shipper: str | None = None

    def to_json(self) -> JSONObject:
        return {
            "lot": self.lot,
            "status": self.status,
            "holder": self.holder,
            "shipper": self.shipper,
            "uom": self.uom,
            "quantity": format_quantity(self.quantity),
        }


@dataclass(frozen=True, slots=True)
class Recall:
    """Trace forward from ``lot``: every downstream lot (the lot itself first), the links,
    and every place some of them still is (``stock``, remaining quantities > 0)."""

    lot: str
    lots: tuple[TracedLot, ...]
    links: tuple[LotLink, ...]
    stock: tuple[Stock, ...]

    @property
    def holders(self) -> tuple[str, ...]:
        return tuple(sorted({s.holder for s in self.stock if s.holder is not None}))

    @property
    def seqs(self) -> tuple[int, ...]:
        found = {s for traced in self.lots for s in traced.seqs}
        found.update(link.seq for link in self.links)
        return tuple(sorted(found))

    def to_json(self) -> JSONObject:
        return {
            "lot": self.lot,
            "lots": [t.to_json() for t in self.lots],
            "links": [link.to_json() for link in self.links],
            "stock": [s.to_json() for s in self.stock],
            "holders": list(self.holders),
            "seqs": list(self.seqs),
        }


@dataclass(frozen=True, slots=True)
class PalletContent:
    """``quantity`` of ``lot`` in ``uom`` is packed on the logistic unit ``sscc``."""

    sscc: str
    lot: str
    uom: str | None
    quantity: Decimal

    def to_json(self) -> JSONObject:
        return {
            "sscc": self.sscc,
            "lot": self.lot,
            "uom": self.uom,
            "quantity": format_quantity(self.quantity),
        }


@dataclass(frozen=True, slots=True)
class LotSummary:
    """One lot as the projection holds it now: balances per holder, shipments, pallets,
    direct inputs and outputs, and the records naming it (counting and retracted)."""

    lot: str
    gtin: str
    lot_number: str
    first_seq: int
    balances: tuple[Balance, ...]
    transits: tuple[Transit, ...]
    pallets: tuple[PalletContent, ...]
    inputs: tuple[LotLink, ...]
    outputs: tuple[LotLink, ...]
    event_seqs: tuple[int, ...]
    voided_seqs: tuple[int, ...]

    def remaining(self, holder: str, uom: str | None) -> Decimal:
        for balance in self.balances:
            if balance.holder == holder and balance.uom == uom:
                return balance.remaining
        return _ZERO

    def to_json(self) -> JSONObject:
        data: dict[str, JSONValue] = {
            "lot": self.lot,
            "gtin": self.gtin,
            "lot_number": self.lot_number,
            "first_seq": self.first_seq,
            "balances": [b.to_json() for b in self.balances],
            "transits": [t.to_json() for t in self.transits],
            "pallets": [p.to_json() for p in self.pallets],
            "inputs": [link.to_json() for link in self.inputs],
            "outputs": [link.to_json() for link in self.outputs],
            "event_seqs": list(self.event_seqs),
            "voided_seqs": list(self.voided_seqs),
        }
        return data


# -- shares ---------------------------------------------------------------------------------


Production = dict[str, list[tuple[Decimal, str | None]]]


def production_totals(entries: Iterable[tuple[str, Decimal, str | None]]) -> Production:
    """Per lot, the (quantity, uom) of every commissioned or produced movement of it, from
    (lot, quantity, uom) entries."""
    out: Production = {}
    for lot, quantity, uom in entries:
        out.setdefault(lot, []).append((quantity, uom))
    return out


def _measured(entries: Sequence[tuple[Decimal, str | None]]) -> Measured | None:
    """The sum of ``entries`` in their dimension's base unit; None across dimensions."""
    dimension: str | None = None
    total = Fraction(0)
    for quantity, uom in entries:
        kind, amount = measure(quantity, uom)
        if dimension is not None and kind != dimension:
            return None
        dimension = kind
        total += amount
    return None if dimension is None else (dimension, total)


def link_weights(links: Sequence[LotLink], production: Production) -> list[LotLink]:
    """The links with ``weight`` set: ``input_share × out_T(o) / production(o)``."""
    totals: dict[str, Measured | None] = {}
    out = []
    for link in links:
        weight: Fraction | None = None
        entries = production.get(link.output_lot)
        if link.input_share is not None and link.output_quantity is not None and entries:
            if len(entries) == 1 and entries[0] == (link.output_quantity, link.output_uom):
                weight = link.input_share  # the lot's only production: all of it
            else:
                if link.output_lot not in totals:
                    totals[link.output_lot] = _measured(entries)
                total = totals[link.output_lot]
                dimension, amount = measure(link.output_quantity, link.output_uom)
                if total is not None and total[1] > 0 and dimension == total[0]:
                    weight = link.input_share * amount / total[1]
        out.append(
            LotLink(
                link.seq,
                link.input_lot,
                link.output_lot,
                link.input_quantity,
                link.input_uom,
                link.output_quantity,
                link.output_uom,
                link.input_share,
                weight,
            )
        )
    return out


def _propagate(
    root: str,
    links: Sequence[LotLink],
    toward: str,
) -> tuple[dict[str, Fraction | None], dict[str, int]]:
    """Shares and depths by Kahn's algorithm over the acyclic link graph.

    ``toward == "up"``: share(x) = Σ share(y)·w over links x→y; ``"down"``: share(y) =
    Σ share(x)·w over links x→y. A lot on a cycle (impossible in an accepted history) or
    reached through an unknown weight gets None."""
    # In "up" mode a lot's share is final once every link leaving it (toward the root) has
    # been accounted for; in "down" mode once every link entering it has.
    nexts: dict[str, list[LotLink]] = {}
    for link in links:
        source = link.output_lot if toward == "up" else link.input_lot
        nexts.setdefault(source, []).append(link)
    # Only links reachable from the root count: a downstream lot's other inputs do not.
    reachable = {root}
    stack = [root]
    while stack:
        for link in nexts.get(stack.pop(), ()):
            target = link.input_lot if toward == "up" else link.output_lot
            if target not in reachable:
                reachable.add(target)
                stack.append(target)
    pending: dict[str, int] = dict.fromkeys(reachable, 0)
    for lot in reachable:
        for link in nexts.get(lot, ()):
            pending[link.input_lot if toward == "up" else link.output_lot] += 1
    pending.setdefault(root, 0)
    shares: dict[str, Fraction | None] = {root: Fraction(1)}
    unknown: set[str] = set()
    depth: dict[str, int] = {root: 0}
    queue = deque([root])
    done: set[str] = set()
    while queue:
        lot = queue.popleft()
        done.add(lot)
        share = None if lot in unknown else shares.get(lot, Fraction(0))
        for link in nexts.get(lot, ()):
            target = link.input_lot if toward == "up" else link.output_lot
            depth[target] = min(depth.get(target, depth[lot] + 1), depth[lot] + 1)
            if share is None or link.weight is None:
                unknown.add(target)
            else:
                part = link.weight if share == 1 else share * link.weight
                current = shares.get(target)
                shares[target] = part if current is None else current + part
            pending[target] -= 1
            if pending[target] == 0:
                queue.append(target)
    result: dict[str, Fraction | None] = {}
    for lot in pending:
        if lot in done and lot not in unknown:
            result[lot] = shares.get(lot, Fraction(0))
        else:
            result[lot] = None
        depth.setdefault(lot, len(pending))
    return result, depth


def upstream_shares(
    root: str, links: Sequence[LotLink]
) -> tuple[dict[str, Fraction | None], dict[str, int]]:
    """Fraction of ``root`` that came from each upstream lot, and each lot's depth.
    ``links`` must carry weights (``link_weights``)."""
    return _propagate(root, links, "up")


def downstream_shares(
    root: str, links: Sequence[LotLink]
) -> tuple[dict[str, Fraction | None], dict[str, int]]:
    """Fraction of each downstream lot that came from ``root``, and each lot's depth."""
    return _propagate(root, links, "down")
