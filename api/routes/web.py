"""The buyer's provenance pages (HTML, server-rendered; DESIGN §8, issue 6).

* ``GET /01/{gtin}/10/{lot}`` (GS1 Digital Link URI Syntax 1.2): one lot — the product, the
  chain of custody from origin to shelf as a timeline, an inline SVG graph of the lots and
  transformations, contribution shares, parties and places, the verification status computed
  from the lot's proof bundle (``ledger.bundle``) and carried to newer checkpoints by
  consistency proofs while the lot's provenance is unchanged (``api.routes.web_verification``),
  a QR code of the page's own Digital Link and a link to download the bundle. Other AIs
  after the lot (``/21/<serial>``...) and a query string are accepted and ignored, as
  resolvers do.
* ``GET /`` finds lots by lot code, GTIN, product name or party (``ledger.storage.lot_search``).
* ``GET /static/{name}``: the stylesheet, served from the package (no CDN).

Each also answers ``HEAD``: the same status and header fields, without the content.

Pages need no JavaScript and load nothing from elsewhere: a Content-Security-Policy limits
them to this server's stylesheet and ``data:`` images. Templates are Jinja2 with autoescaping
on, so names and lot codes from the ledger are always text, never markup. Failures are HTML
pages with a plain message (400 for a malformed GTIN or lot, 404 for an unknown lot, 403 when
provenance is not public) — never a stack trace. These routes are not part of the JSON API
and are left out of the OpenAPI document.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any, Final
from urllib.parse import unquote, urlencode, urlsplit

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from api.problems import spec_for
from api.routes.deps import ApiSettings, LedgerDep, SettingsDep
from api.routes.web_verification import (
    VerificationCache,
    VerificationView,
    lot_verification,
    verification_cache,
)
from ledger.errors import LedgerError
from ledger.log import Ledger
from ledger.storage.lot_search import MAX_QUERY_LENGTH, search_lots
from ledger.storage.store import Reader
from ledger.storage.trace import trace_back
from ledger.trace.errors import MalformedIdentifierError, UnknownLotError
from ledger.trace.identifiers import DIGITAL_LINK_BASE, Gtin, Lot
from ledger.trace.provenance import Correction, Movement, Provenance, TraceEventInfo
from ledger.trace.units import format_quantity

__all__ = [
    "LotPage",
    "VerificationCache",
    "VerificationView",
    "render_lot_page",
    "router",
    "verification_cache",
]

router = APIRouter(include_in_schema=False)

#: Lots listed at most on one search page.
SEARCH_LIMIT: Final = 50

TEMPLATES: Final = Environment(
    loader=PackageLoader("api", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)

#: Every HTML answer: nothing but this server's stylesheet and data: images may load.
HTML_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_STATIC_TYPES: Final = {"style.css": "text/css; charset=utf-8"}

#: UN/ECE Rec 20 codes as a buyer reads them.
_UNITS: Final = {
    "KGM": "kg",
    "GRM": "g",
    "MGM": "mg",
    "TNE": "t",
    "LBR": "lb",
    "ONZ": "oz",
    "LTR": "L",
    "MLT": "mL",
    "CLT": "cL",
    "HLT": "hL",
    "MTQ": "m³",
    "EA": "units",
    "H87": "pieces",
    "C62": "units",
}

#: CBV 2.0 business steps as a heading of a timeline entry.
_STEPS: Final = {
    "commissioning": "Lot created",
    "shipping": "Shipped",
    "departing": "Departed",
    "arriving": "Arrived",
    "receiving": "Received",
    "accepting": "Accepted",
    "packing": "Packed",
    "unpacking": "Unpacked",
    "loading": "Loaded",
    "unloading": "Unloaded",
    "storing": "Stored",
    "retail_selling": "Sold",
    "destroying": "Destroyed",
    "inspecting": "Inspected",
    "transforming": "Transformed",
    "creating_class_instance": "Produced",
}

#: A movement category as the verb of a timeline line ("Shipped 500 kg of ...").
_VERBS: Final = {
    "commissioned": "Created",
    "produced": "Produced",
    "consumed": "Used",
    "shipped": "Shipped",
    "received": "Received",
    "returned": "Returned",
    "rejected": "Refused",
    "packed": "Packed",
    "unpacked": "Unpacked",
    "sold": "Sold",
    "destroyed": "Destroyed",
}


# -- view models (what the templates read) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class MoveLine:
    verb: str
    quantity: str
    lot_label: str
    href: str
    extra: str


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    seq: int
    what: str
    when_iso: str
    when_text: str
    who: str
    where: str | None
    event_type: str
    lines: tuple[MoveLine, ...]


@dataclass(frozen=True, slots=True)
class LotRow:
    lot: str
    lot_number: str
    product: str
    href: str
    producers: tuple[str, ...]
    depth: int
    share: str
    is_root: bool


@dataclass(frozen=True, slots=True)
class PartyRow:
    id: str
    name: str
    gln: str | None
    roles: str


@dataclass(frozen=True, slots=True)
class PlaceRow:
    uri: str
    gln: str | None
    extension: str | None
    owner: str | None
    events: int


@dataclass(frozen=True, slots=True)
class GraphNode:
    key: str
    x: int
    y: int
    width: int
    height: int
    radius: int
    css: str
    line1: str
    line2: str
    title: str
    href: str | None


@dataclass(frozen=True, slots=True)
class GraphEdge:
    d: str


@dataclass(frozen=True, slots=True)
class GraphView:
    width: int
    height: int
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    description: str


@dataclass(frozen=True, slots=True)
class QrView:
    data_uri: str
    size: int


@dataclass(frozen=True, slots=True)
class LotPage:
    """Everything one provenance page shows."""

    lot: str
    gtin: str
    lot_number: str
    product: str
    producers: tuple[str, ...]
    digital_link: str
    bundle_href: str
    qr: QrView
    verification: VerificationView
    timeline: tuple[TimelineEntry, ...]
    corrections: tuple[Correction, ...]
    lots: tuple[LotRow, ...]
    transformations: int
    graph: GraphView
    parties: tuple[PartyRow, ...]
    places: tuple[PlaceRow, ...]


@dataclass(frozen=True, slots=True)
class SearchHit:
    href: str
    lot_number: str
    product: str
    gtin: str
    producers: tuple[str, ...]
    first_seq: int


# -- naming things ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Participant:
    id: str
    name: str
    gln: str | None
    roles: str


class _Names:
    """Participants, sites and products as a buyer reads them."""

    def __init__(self, reader: Reader, products: Mapping[str, str]) -> None:
        self.people: dict[str, _Participant] = {}
        self.by_gln: dict[str, _Participant] = {}
        for row in reader.participant_rows():
            gln = None if row["gln"] is None else str(row["gln"])
            roles = ", ".join(r for r in str(row["roles"]).split(",") if r)
            p = _Participant(str(row["id"]), str(row["display_name"]), gln, roles)
            self.people[p.id] = p
            if gln is not None:
                self.by_gln.setdefault(gln, p)
        self.products = products

    def party(self, party: str) -> str:
        """A participant id or party URI (``.../417/<gln>``) as a name."""
        found = self.people.get(party)
        if found is not None:
            return found.name
        gln = _gln_of(party, "417")
        if gln is not None:
            owner = self.by_gln.get(gln)
            return owner.name if owner is not None else f"party with GLN {gln}"
        return party

    def place(self, location: str | None) -> str | None:
        if location is None:
            return None
        gln = _gln_of(location, "414")
        if gln is None:
            return location
        owner = self.by_gln.get(gln)
        extension = _extension_of(location)
        where = f"GLN {gln}" + (f" / {extension}" if extension else "")
        return f"{owner.name}'s site ({where})" if owner is not None else where

    def product(self, gtin: str) -> str:
        return self.products.get(gtin) or f"GTIN {gtin}"


def _dl_segments(uri: str) -> list[str]:
    parts = urlsplit(uri)
    if f"{parts.scheme}://{parts.netloc}" != DIGITAL_LINK_BASE:
        return []
    return [unquote(s) for s in parts.path.split("/") if s]


def _gln_of(uri: str, ai: str) -> str | None:
    segments = _dl_segments(uri)
    return segments[1] if len(segments) >= 2 and segments[0] == ai else None


def _extension_of(uri: str) -> str | None:
    segments = _dl_segments(uri)
    return segments[3] if len(segments) >= 4 and segments[2] == "254" else None


def lot_path(lot: str) -> str:
    """The page of a lot in normal form: its Digital Link path (already percent-encoded)."""
    return urlsplit(lot).path


@lru_cache(maxsize=4096)
def _quantity(quantity: Decimal | None, uom: str | None) -> str:
    if quantity is None:
        return "an unstated quantity"
    unit = _UNITS.get(uom or "EA", uom or "units")
    return f"{format_quantity(quantity)} {unit}"


@lru_cache(maxsize=4096)
def _percent(share: Fraction | None) -> str:
    if share is None:
        return "unknown (quantities in units that cannot be compared)"
    if share == 1:
        return "100 % (this lot)"
    percent = (Decimal(share.numerator) * 100 / Decimal(share.denominator)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_EVEN
    )
    exact = f"{share.numerator}/{share.denominator}"
    return f"{percent} % ({exact})"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _step_name(event: TraceEventInfo) -> str:
    if event.event_type == "TransformationEvent":
        return "Transformed"
    step = event.biz_step or ""
    step = step.rsplit("BizStep-", 1)[-1].rsplit("/", 1)[-1]
    if step in _STEPS:
        return _STEPS[step]
    if step:
        return step.replace("_", " ").capitalize()
    return event.event_type.removesuffix("Event") + " event"


# -- the page ----------------------------------------------------------------------------------


def _lot_label(lot: str, names: _Names, lots: Mapping[str, tuple[str, str]]) -> str:
    gtin, number = lots[lot]
    return f"{names.product(gtin)} lot {number}"


def _line(m: Movement, names: _Names, lots: Mapping[str, tuple[str, str]]) -> MoveLine:
    extra = ""
    pallet = f" on pallet SSCC {m.sscc}" if m.sscc else ""
    if m.category == "shipped":
        extra = (f" to {names.party(m.counterparty)}" if m.counterparty else "") + pallet
    elif m.category in ("received", "rejected"):
        extra = (f" from {names.party(m.counterparty)}" if m.counterparty else "") + pallet
    elif m.category == "returned":
        extra = f" to the stock of {names.party(m.holder)}"
    elif m.category == "packed":
        extra = f" onto pallet SSCC {m.sscc}" if m.sscc else ""
    elif m.category == "unpacked":
        extra = f" from pallet SSCC {m.sscc}" if m.sscc else ""
    verb = _VERBS.get(m.category, m.category.replace("_", " ").capitalize())
    return MoveLine(
        verb, _quantity(m.quantity, m.uom), _lot_label(m.lot, names, lots), lot_path(m.lot), extra
    )


def _timeline(
    provenance: Provenance, names: _Names, lots: Mapping[str, tuple[str, str]]
) -> tuple[TimelineEntry, ...]:
    moves: dict[int, list[Movement]] = {}
    for traced in provenance.lots:
        for m in traced.movements:
            moves.setdefault(m.seq, []).append(m)
    entries = []
    for event in sorted(provenance.events, key=lambda e: (e.event_time, e.seq)):
        found = sorted(moves.get(event.seq, ()), key=lambda m: m.index)
        when = event.event_time
        entries.append(
            TimelineEntry(
                seq=event.seq,
                what=_step_name(event),
                when_iso=when.isoformat(),
                when_text=when.strftime("%d %b %Y, %H:%M UTC"),
                who=names.party(event.author),
                where=names.place(event.location),
                event_type=event.event_type,
                lines=tuple(_line(m, names, lots) for m in found),
            )
        )
    return tuple(entries)


_LOT_W: Final = 180
_TX_W: Final = 136
_NODE_H: Final = 46
_COL_W: Final = 204
_ROW_H: Final = 62
_MARGIN: Final = 16


def _centre(predecessors: Sequence[str], rows: Mapping[str, int]) -> float:
    placed = [rows[p] for p in predecessors if p in rows]
    return statistics.fmean(placed) if placed else float("inf")


def _graph(provenance: Provenance, names: _Names) -> GraphView:
    """Lots and transformations laid out in layers, origins on the left (longest path from
    an origin), this lot on the right; one barycentre pass orders each layer."""
    order = {t.lot: i for i, t in enumerate(provenance.lots)}
    inputs: dict[int, list[str]] = {}
    outputs: dict[int, list[str]] = {}
    for link in provenance.links:
        if link.input_lot not in inputs.setdefault(link.seq, []):
            inputs[link.seq].append(link.input_lot)
        if link.output_lot not in outputs.setdefault(link.seq, []):
            outputs[link.seq].append(link.output_lot)
    # the bipartite DAG: lot -> transformation -> lot
    succ: dict[str, list[str]] = {t.lot: [] for t in provenance.lots}
    pred: dict[str, list[str]] = {t.lot: [] for t in provenance.lots}
    for seq in sorted(inputs):
        tx = f"tx:{seq}"
        succ[tx], pred[tx] = list(outputs[seq]), list(inputs[seq])
        for lot in inputs[seq]:
            succ.setdefault(lot, []).append(tx)
            pred.setdefault(lot, [])
        for lot in outputs[seq]:
            pred.setdefault(lot, []).append(tx)
            succ.setdefault(lot, [])
    layer: dict[str, int] = {}
    pending = {node: len(pred[node]) for node in pred}
    ready = [node for node, n in pending.items() if n == 0]
    while ready:
        node = ready.pop()
        layer.setdefault(node, 0)
        for nxt in succ[node]:
            layer[nxt] = max(layer.get(nxt, 0), layer[node] + 1)
            pending[nxt] -= 1
            if pending[nxt] == 0:
                ready.append(nxt)
    for node in pred:  # only on a cycle, which an accepted history never has
        layer.setdefault(node, 0)
    columns: dict[int, list[str]] = {}
    for node in sorted(layer, key=lambda n: (order.get(n, len(order)), n)):
        columns.setdefault(layer[node], []).append(node)
    rows: dict[str, int] = {}
    for index in sorted(columns):
        column = columns[index]
        if index > 0:
            column.sort(key=lambda node: _centre(pred[node], rows))
        for row, node in enumerate(column):
            rows[node] = row
    tallest = max((len(c) for c in columns.values()), default=1)
    width = _MARGIN * 2 + (max(columns, default=0) * _COL_W) + _LOT_W
    height = _MARGIN * 2 + tallest * _ROW_H - (_ROW_H - _NODE_H)
    events = {e.seq: e for e in provenance.events}
    nodes: dict[str, GraphNode] = {}
    for index, column in columns.items():
        offset = (tallest - len(column)) * _ROW_H // 2
        for node in column:
            x = _MARGIN + index * _COL_W
            y = _MARGIN + offset + rows[node] * _ROW_H
            if node.startswith("tx:"):
                seq = int(node[3:])
                event = events.get(seq)
                who = names.party(event.author) if event is not None else "?"
                nodes[node] = GraphNode(
                    key=node,
                    x=x + (_LOT_W - _TX_W) // 2,
                    y=y,
                    width=_TX_W,
                    height=_NODE_H,
                    radius=18,
                    css="tx",
                    line1="Transformation",
                    line2=_short(f"seq {seq} · {who}", 20),
                    title=f"Transformation recorded at seq {seq} by {who}",
                    href=None,
                )
                continue
            traced = provenance.get(node)
            assert traced is not None
            product = names.product(traced.gtin)
            share = "" if traced.share is None or traced.share == 1 else _percent(traced.share)
            short = share.split(" (", 1)[0]
            made_by = ", ".join(names.party(p) for p in traced.producers)
            title = f"{product} lot {traced.lot_number}"
            if made_by:
                title += f", made by {made_by}"
            if share:
                title += f", {share} of this lot"
            nodes[node] = GraphNode(
                key=node,
                x=x,
                y=y,
                width=_LOT_W,
                height=_NODE_H,
                radius=6,
                css="lot root" if node == provenance.lot else "lot",
                line1=_short(product, 24),
                line2=_short(f"lot {traced.lot_number}" + (f" · {short}" if short else ""), 26),
                title=title,
                href=lot_path(node),
            )
    edges = []
    for source, targets in succ.items():
        a = nodes[source]
        for target in targets:
            b = nodes[target]
            x1, y1 = a.x + a.width, a.y + a.height // 2
            x2, y2 = b.x, b.y + b.height // 2
            mid = (x1 + x2) // 2
            edges.append(GraphEdge(f"M{x1} {y1} C{mid} {y1} {mid} {y2} {x2 - 2} {y2}"))
    lots_count = len(provenance.lots)
    origins = [names.product(t.gtin) + " lot " + t.lot_number for t in provenance.origins()]
    description = (
        f"{lots_count} lot{'s' if lots_count != 1 else ''} and {len(inputs)} "
        f"transformation{'s' if len(inputs) != 1 else ''}."
        + (f" Origins: {', '.join(origins)}." if origins else "")
    )
    ordered = sorted(nodes.values(), key=lambda n: (n.x, n.y))
    return GraphView(width, height, tuple(ordered), tuple(edges), description)


def _parties(provenance: Provenance, names: _Names) -> tuple[PartyRow, ...]:
    out = []
    for party in provenance.parties:
        known = names.people.get(party)
        if known is not None:
            out.append(PartyRow(known.id, known.name, known.gln, known.roles))
        else:
            out.append(PartyRow(party, names.party(party), _gln_of(party, "417"), "not registered"))
    return tuple(sorted(out, key=lambda p: p.name.lower()))


def _places(provenance: Provenance, names: _Names) -> tuple[PlaceRow, ...]:
    counts: dict[str, int] = {}
    for event in provenance.events:
        if event.location is not None:
            counts[event.location] = counts.get(event.location, 0) + 1
    out = []
    for location in sorted(set(provenance.locations) | set(counts)):
        gln = _gln_of(location, "414")
        owner = names.by_gln.get(gln) if gln is not None else None
        out.append(
            PlaceRow(
                location,
                gln,
                _extension_of(location),
                owner.name if owner is not None else None,
                counts.get(location, 0),
            )
        )
    return tuple(out)


@lru_cache(maxsize=1024)
def _qr(url: str) -> QrView:
    """A QR code (error correction M, 4 px modules, 4-module quiet zone) as a PNG data URI."""
    code = segno.make(url, error="m", micro=False)
    width, _ = code.symbol_size(scale=4, border=4)
    return QrView(code.png_data_uri(scale=4, border=4), int(width))


def render_lot_page(
    ledger: Ledger, settings: ApiSettings, lot: Lot, cache: VerificationCache | None = None
) -> LotPage:
    """The page of ``lot``, read from one snapshot of the ledger; the verification verdict
    comes from ``cache`` when it holds one for that state. Raises ``UnknownLotError`` for a
    lot no record names, other ``LedgerError``s for storage failures."""
    normal = lot.digital_link
    with ledger.store.read() as reader:
        provenance = trace_back(reader, normal)
        names = _Names(reader, settings.product_names)
        verification = lot_verification(ledger, reader, provenance, settings, cache)
    lots = {t.lot: (t.gtin, t.lot_number) for t in provenance.lots}
    root = provenance.get(normal)
    assert root is not None
    rows = tuple(
        LotRow(
            t.lot,
            t.lot_number,
            names.product(t.gtin),
            lot_path(t.lot),
            tuple(names.party(p) for p in t.producers),
            t.depth,
            _percent(t.share),
            t.lot == normal,
        )
        for t in provenance.lots
    )
    path = lot_path(normal)
    digital_link = settings.digital_link_base + path
    return LotPage(
        lot=normal,
        gtin=lot.gtin.value,
        lot_number=lot.lot,
        product=names.product(lot.gtin.value),
        producers=tuple(names.party(p) for p in root.producers),
        digital_link=digital_link,
        bundle_href="/v1/lots/bundle?" + urlencode({"lot": normal}),
        qr=_qr(digital_link),
        verification=verification,
        timeline=_timeline(provenance, names, lots),
        corrections=provenance.corrections,
        lots=rows,
        transformations=len({link.seq for link in provenance.links}),
        graph=_graph(provenance, names),
        parties=_parties(provenance, names),
        places=_places(provenance, names),
    )


# -- HTTP ----------------------------------------------------------------------------------------


def _html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    body = TEMPLATES.get_template(template).render(status=status, **context)
    return HTMLResponse(body, status_code=status, headers=HTML_HEADERS)


def _error(
    status: int, title: str, message: str, origin: str, *, hint: str | None = None
) -> HTMLResponse:
    return _html("error.html", status, title=title, message=message, hint=hint, origin=origin)


def _unavailable(exc: LedgerError, origin: str) -> HTMLResponse:
    """A storage or other server-side failure: the fixed problem detail, never internals."""
    _, spec = spec_for(exc)
    status = spec.status if spec.status >= 500 else 500
    return _error(status, spec.title, spec.detail or "the ledger could not answer", origin)


def _private(origin: str) -> HTMLResponse:
    return _error(
        403,
        "Provenance is not public",
        "This ledger does not publish provenance pages.",
        origin,
        hint="Ask the seller for the lot's proof bundle and check it with fairledger verify-lot.",
    )


def _digital_link_parts(request: Request) -> list[str]:
    """The path segments after ``/01/``, percent-decoded one by one (a lot may contain an
    encoded ``/``, so the undecoded path is split first)."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    path = path.split("?", 1)[0]
    segments = [s for s in path.split("/") if s]
    return [unquote(s, errors="replace") for s in segments[1:]]


def _parse_link(parts: Sequence[str], origin: str) -> Lot | HTMLResponse:
    try:
        gtin = Gtin.parse(parts[0])
    except MalformedIdentifierError as exc:
        return _error(
            400,
            "Not a valid GTIN",
            f"The product number in this link is not a valid GTIN: {exc.message}",
            origin,
            hint="A GTIN has 8, 12, 13 or 14 digits and ends with a check digit.",
        )
    pairs = list(zip(parts[1::2], parts[2::2], strict=False))
    value = next((v for ai, v in pairs if ai == "10"), None)
    if value is None:
        return _error(
            404,
            "No lot in this link",
            f"This link names the product GTIN {gtin.value} but no lot (/10/<lot>), and "
            "provenance is recorded per lot.",
            origin,
            hint="Scan the code printed next to the lot number, or search for the lot.",
        )
    try:
        return Lot(gtin, value)
    except MalformedIdentifierError as exc:
        return _error(400, "Not a valid lot number", exc.message, origin)


def _bodiless_for_head(request: Request, response: Response) -> Response:
    """A HEAD request gets the GET answer's status and header fields, Content-Length
    included, without its content (RFC 9110 §9.3.2)."""
    if request.method != "HEAD":
        return response
    return Response(status_code=response.status_code, headers=dict(response.headers))


@router.api_route("/01/{path:path}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def lot_page(request: Request, ledger: LedgerDep, settings: SettingsDep) -> Response:
    """GS1 Digital Link ``/01/{gtin}/10/{lot}``: the provenance page of one lot."""
    return _bodiless_for_head(request, _lot_page(request, ledger, settings))


def _lot_page(request: Request, ledger: Ledger, settings: ApiSettings) -> Response:
    origin = ledger.origin
    if not settings.public_provenance:
        return _private(origin)
    parsed = _parse_link(_digital_link_parts(request), origin)
    if isinstance(parsed, HTMLResponse):
        return parsed
    try:
        page = render_lot_page(ledger, settings, parsed, verification_cache(request.app))
    except UnknownLotError:
        return _error(
            404,
            "Lot not found",
            f"No record on this ledger names lot {parsed.lot} of GTIN {parsed.gtin.value}.",
            origin,
            hint="Check the lot code printed on the pack, or search for it.",
        )
    except LedgerError as exc:
        return _unavailable(exc, origin)
    return _html("lot.html", page=page, origin=origin)


def _product_gtins(query: str, products: Mapping[str, str]) -> Iterable[str]:
    wanted = query.strip().lower()
    if not wanted:
        return []
    return [gtin for gtin, name in products.items() if wanted in name.lower()]


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def search_page(
    request: Request, ledger: LedgerDep, settings: SettingsDep, q: str = ""
) -> Response:
    """Find lots by lot code, GTIN, product or party."""
    return _bodiless_for_head(request, _search_page(ledger, settings, q))


def _search_page(ledger: Ledger, settings: ApiSettings, q: str) -> Response:
    origin = ledger.origin
    if not settings.public_provenance:
        return _private(origin)
    query = q.strip()[:MAX_QUERY_LENGTH]
    gtins = _product_gtins(query, settings.product_names)
    try:
        with ledger.store.read() as reader:
            found = search_lots(reader, query, gtins=gtins, limit=SEARCH_LIMIT + 1)
            names = _Names(reader, settings.product_names) if found else None
    except LedgerError as exc:
        return _unavailable(exc, origin)
    hits = [
        SearchHit(
            lot_path(hit.lot),
            hit.lot_number,
            names.product(hit.gtin) if names else hit.gtin,
            hit.gtin,
            tuple(names.party(p) for p in hit.producers) if names else hit.producers,
            hit.first_seq,
        )
        for hit in found[:SEARCH_LIMIT]
    ]
    return _html(
        "search.html",
        query=query,
        hits=hits,
        truncated=len(found) > SEARCH_LIMIT,
        max_length=MAX_QUERY_LENGTH,
        origin=origin,
    )


@lru_cache(maxsize=len(_STATIC_TYPES))
def _static(name: str) -> tuple[bytes, str]:
    data = (resources.files("api") / "static" / name).read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def static_file(name: str, request: Request) -> Response:
    """The pages' stylesheet, from the package."""
    return _bodiless_for_head(request, _static_file(name, request))


def _static_file(name: str, request: Request) -> Response:
    media = _STATIC_TYPES.get(name)
    if media is None:
        return Response("not found", status_code=404, media_type="text/plain")
    data, etag = _static(name)
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media, headers=headers)
