"""Settlement: a contract's statement for one month, a pure function of the records.

``settle(contract_id, period, as_of_seq, entries, provenance)`` reads only records with
``seq <= as_of_seq`` and gives the same statement, byte for byte (same ``statement_hash``), on
any machine and for any order of ``entries``: everything is keyed and sorted by seq, lot or
party id, every amount is an integer of minor units computed by ``contracts.rules``, and the
statement is serialised with ``ledger.canonical`` (RFC 8785). The operator records it as a
``settlement.statement``; ``verify_settlement`` re-settles a recorded body and compares bytes.

**What a statement for period P (``YYYY-MM``) contains** (format ``fairledger.settlement.v1``,
validated by ``contracts.bodies.SettlementStatementBody``):

* ``deliveries``: every delivery (``contracts.deliveries``) delivered in P from a supplier to a
  buyer of the version in force on the delivery date, of a product that version covers.
  Lines: ``goods`` (accepted quantity only: rejected quantity is not paid; flat, tiered or
  market price with floor, premium and differentials), ``late_penalty`` (pro rata per period
  late, capped, force majeure exempt), ``condition_penalty`` (worst excursion of the
  readings); ``net`` is their sum. Volume tiers count accepted quantity per (supplier, buyer,
  product) in P, in delivery order (date, receiving seq, lot). Each line cites the shipping
  and receiving records.
* ``unpriced``: deliveries and sales the contract covers that no rule can price (a unit the
  terms do not use, volume in an agreed tier gap, malformed FairLedger extension fields, a
  sale in another currency...), with the reason, so that nothing disappears silently.
* ``revenue_shares``: for each ``sale.report`` of P by the revenue-share payer, the pool
  (revenue × Σ contribution × share, rounded once) split over the upstream lots with the
  largest-remainder method; each part cites the sale and the provenance records.
* ``charges``: for each earlier, interest-bearing obligation of the contract that is neither
  waived nor cancelled, late-payment interest and the fixed compensation accrued up to the
  last day of P (``contracts.rules``, with the payments received by then), less what earlier
  statements already billed for it, so the charges billed over the months add up to the
  amount accrued, rounded once.
* ``obligations``: per pair of parties, the net of their goods and revenue-share lines
  (``principal``, bearing interest) and of their charge lines (``charges``, bearing none:
  interest is never capitalised), issued on ``issued_on`` (the last day of P unless given),
  due ``net_days`` later, with the early-payment price and deadline when the terms offer one.
* ``terms`` (the versions used, with their hash and binding seq) and ``market_prices`` (the
  market prices used, an input: ``verify_settlement`` takes them from the recorded body).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cached_property, lru_cache

from contracts.bodies import (
    MarketPriceBody,
    SaleReportBody,
    SettlementStatementBody,
    obligation_id,
    parse_body,
    period_bounds,
)
from contracts.deliveries import MatchedDelivery, delivery_fact, match_deliveries, read_events
from contracts.entries import Entry, EntryLike, as_entries, paused_gc
from contracts.errors import (
    ContractError,
    RuleError,
    SettlementInputError,
    SettlementMismatchError,
)
from contracts.facts import Invoice, Payment, Sale
from contracts.lifecycle import CONTRACT_KINDS, Contract, ContractVersion, replay_contracts
from contracts.money import Currency, Money
from contracts.obligations import OBLIGATION_KINDS, ObligationBook
from contracts.pricing import (
    PricedDelivery,
    ProductPricer,
    RevenueSharer,
    minor_text,
    ratio_text,
)
from contracts.provenance import ProvenanceSource, UpstreamContribution
from contracts.rules import (
    DeliveryValuation,
    Line,
    early_payment_discount,
    fixed_compensation,
    late_payment_interest,
    payment_due_date,
    revenue_share,
    value_delivery,
)
from contracts.terms import ContractTerms
from ledger.canonical import MAX_SAFE_INTEGER, JSONObject, JSONValue, canonical_bytes
from ledger.state import Kind

__all__ = [
    "FORMAT",
    "SETTLEMENT_KINDS",
    "ChargeLine",
    "DeliveryLine",
    "MarketPrices",
    "ObligationEntry",
    "SettlementStatement",
    "ShareLine",
    "SharePartLine",
    "TermsRef",
    "UnpricedLine",
    "settle",
    "statement_hash",
    "verify_settlement",
]

FORMAT = "fairledger.settlement.v1"
#: The record kinds settlement reads.
SETTLEMENT_KINDS = frozenset(
    {*CONTRACT_KINDS, *OBLIGATION_KINDS, Kind.TRACE_EVENT, Kind.SALE_REPORT}
)
#: Market prices by (GTIN, observation date): major units of the contract currency per unit.
MarketPrices = Mapping[tuple[str, date], Decimal]


@lru_cache(maxsize=1 << 16)
def _dec(value: Decimal) -> str:
    """A decimal in normal form: no exponent, no trailing zeros (``"95"``, ``"2.5"``)."""
    text = f"{value.normalize():f}"
    return "0" if text == "-0" else text


def _exact(value: Fraction) -> str:
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def _value(line: Line) -> JSONObject:
    return {"amount": line.amount.amount, "exact": _exact(line.exact)}


# -- canonical text, written directly ----------------------------------------------------
#
# A month's statement holds a hundred thousand lines (tens of megabytes). Building the
# ``to_json()`` tree, validating it and encoding it costs more than settling, so
# ``SettlementStatement.canonical`` writes the RFC 8785 text itself from the typed lines:
# every object's members in sorted key order (the keys are fixed ASCII names, so code-point
# order is JCS's UTF-16 order), integers in decimal, ``true``/``false``/``null``, and strings
# through ``_s``, which quotes plain printable ASCII as is and hands anything else to
# ``ledger.canonical`` (the one encoder). ``tests/contracts/test_settlement_canonical.py``
# proves the result byte-identical to ``canonical_bytes(to_json())`` and to ``rfc8785``.


def _object_template(*keys: str) -> str:
    """A ``str.format`` template of a JSON object whose members are given positionally in
    the order of ``keys`` and written in sorted key order (each value a JSON text)."""
    ordered = sorted(range(len(keys)), key=lambda i: keys[i])
    return "{{" + ",".join(f'"{keys[i]}":{{{i}}}' for i in ordered) + "}}"


def _s(text: str) -> str:
    """``text`` as a JSON string (RFC 8785)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return canonical_bytes(text).decode("utf-8")


def _int(value: int) -> str:
    if type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value)
    return canonical_bytes(value).decode("utf-8")  # refuses it as the encoder would


def _ints(values: Iterable[int]) -> str:
    return "[" + ",".join(_int(v) for v in values) + "]"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _opt(text: str | None) -> str:
    return "null" if text is None else _s(text)


def _array(texts: Iterable[str]) -> str:
    return "[" + ",".join(texts) + "]"


_AMOUNT = _object_template("amount", "exact")
_DELIVERY = _object_template(
    "delivery", "version", "supplier", "buyer", "lot", "gtin", "unit", "shipped", "accepted",
    "rejected", "rejection_reason", "due_on", "delivered_on", "days_late", "force_majeure",
    "termination_right", "condition_percent", "goods", "late_penalty", "condition_penalty",
    "net", "seqs",
)  # fmt: skip
_SHARE = _object_template(
    "sale_seq", "seller", "lot", "revenue", "version", "pool", "parts", "seqs"
)
_PART = _object_template("lot", "supplier", "fraction", "amount", "exact", "seqs")
_STATEMENT = _object_template(
    "format", "contract_id", "period", "as_of_seq", "issued_on", "currency", "terms",
    "market_prices", "deliveries", "unpriced", "revenue_shares", "charges", "obligations",
)  # fmt: skip


def _flat_template(template: str, *fields: str) -> str:
    """A ``str.format`` template of the text ``template.format(*fields)`` gives when each of
    ``fields`` is itself a ``str.format`` fragment: nested objects flattened into one
    template, so a whole line is written by a single ``format`` call."""
    marks = [f"\x00{i}\x00" for i in range(len(fields))]
    text = template.format(*marks).replace("{", "{{").replace("}", "}}")
    for mark, field in zip(marks, fields, strict=True):
        text = text.replace(mark, field)
    return text


def _plain(text: str) -> bool:
    """Whether ``text`` is written as ``"text"`` (printable ASCII without quote or
    backslash): what ``_s`` writes as is. A concatenation is plain iff every part is."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _safe_int(value: int) -> bool:
    return type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER


# The whole delivery line in one template: string fields from records ({0}-{5}, the
# rejection reason {9}) are written between quotes only after ``_plain`` accepts them all at
# once; the other strings are decimals, ratios and ISO dates (digits, ".", "-", "/").
_DELIVERY_FLAT = _flat_template(
    _DELIVERY,
    '"{0}"', "{6}", '"{1}"', '"{2}"', '"{3}"', '"{4}"', '"{5}"', '"{7}"', '"{8}"',
    '"{10}"', "{9}", '"{11}"', '"{12}"', "{13}", "{14}", "{15}", '"{16}"',
    _flat_template(_AMOUNT, '"{17}"', '"{18}"'),
    _flat_template(_AMOUNT, '"{19}"', '"{20}"'),
    _flat_template(_AMOUNT, '"{21}"', '"{22}"'),
    '"{23}"', "[{24},{25}]",
)  # fmt: skip
_SHARE_FLAT = _flat_template(
    _SHARE, "{0}", '"{1}"', '"{2}"', '"{3}"', "{4}",
    _flat_template(_AMOUNT, '"{5}"', '"{6}"'), "{7}", "{8}",
)  # fmt: skip
_PART_FLAT = _flat_template(_PART, '"{0}"', '"{1}"', '"{2}"', '"{3}"', '"{4}"', "{5}")


def _value_text(line: Line) -> str:
    return _AMOUNT.format(_s(line.amount.amount), _s(_exact(line.exact)))


def _json_text(value: JSONValue) -> str:
    """Canonical text of a small JSON value (the statement's short sections)."""
    return canonical_bytes(value).decode("utf-8")


# -- statement lines -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TermsRef:
    version: int
    terms_hash: str
    binding_seq: int

    def to_json(self) -> JSONObject:
        return {
            "version": self.version,
            "terms_hash": self.terms_hash,
            "binding_seq": self.binding_seq,
        }


@dataclass(frozen=True, slots=True)
class MarketPriceUsed:
    gtin: str
    on: date
    price: Decimal
    source: str

    def to_json(self) -> JSONObject:
        return {
            "gtin": self.gtin,
            "on": self.on.isoformat(),
            "price": _dec(self.price),
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    """One priced delivery. ``priced`` holds its lines as exact ratios and rounded minor
    units (``contracts.pricing``); ``valuation`` gives them as ``value_delivery`` does."""

    delivery: MatchedDelivery
    version: int
    unit: str
    currency: Currency
    priced: PricedDelivery

    @property
    def payer(self) -> str:
        return self.delivery.buyer

    @property
    def payee(self) -> str:
        return self.delivery.supplier

    @property
    def valuation(self) -> DeliveryValuation:
        return self.priced.valuation(self.delivery.delivery_id, self.currency)

    @property
    def net(self) -> Money:
        return Money(self.priced.net, self.currency)

    def to_json(self) -> JSONObject:
        d, p = self.delivery, self.priced
        exponent = self.currency.exponent
        return {
            "delivery": d.delivery_id,
            "version": self.version,
            "supplier": d.supplier,
            "buyer": d.buyer,
            "lot": d.lot,
            "gtin": d.gtin,
            "unit": self.unit,
            "shipped": _dec(d.shipped),
            "accepted": _dec(d.received),
            "rejected": _dec(p.rejected),
            "rejection_reason": d.rejection_reason,
            "due_on": (d.due_on or d.delivered_on).isoformat(),
            "delivered_on": d.delivered_on.isoformat(),
            "days_late": p.days_late,
            "force_majeure": d.force_majeure,
            "termination_right": p.termination_right,
            "condition_percent": ratio_text(p.percent_n, p.percent_d),
            "goods": {
                "amount": minor_text(p.goods, exponent),
                "exact": ratio_text(p.goods_n, p.goods_d),
            },
            "late_penalty": {
                "amount": minor_text(p.late, exponent),
                "exact": ratio_text(p.late_n, p.late_d),
            },
            "condition_penalty": {
                "amount": minor_text(p.condition, exponent),
                "exact": ratio_text(p.condition_n, p.condition_d),
            },
            "net": minor_text(p.net, exponent),
            "seqs": list(d.seqs),
        }

    def canonical_text(self) -> str:
        """RFC 8785 text of ``to_json()``, written directly (one ``format`` call when every
        string from the records is plain and every integer in range, else field by field)."""
        d, p = self.delivery, self.priced
        reason = d.rejection_reason
        first, second = d.seqs if len(d.seqs) == 2 else (None, None)
        if (
            _plain(
                d.delivery_id + d.supplier + d.buyer + d.lot + d.gtin + self.unit + (reason or "")
            )
            and type(first) is int
            and type(second) is int
            and type(self.version) is int
            and type(p.days_late) is int
            and min(first, second, self.version, p.days_late) >= -MAX_SAFE_INTEGER
            and max(first, second, self.version, p.days_late) <= MAX_SAFE_INTEGER
        ):
            exponent = self.currency.exponent
            return _DELIVERY_FLAT.format(
                d.delivery_id,
                d.supplier,
                d.buyer,
                d.lot,
                d.gtin,
                self.unit,
                self.version,
                _dec(d.shipped),
                _dec(d.received),
                "null" if reason is None else f'"{reason}"',
                _dec(p.rejected),
                (d.due_on or d.delivered_on).isoformat(),
                d.delivered_on.isoformat(),
                p.days_late,
                "true" if d.force_majeure else "false",
                "true" if p.termination_right else "false",
                ratio_text(p.percent_n, p.percent_d),
                minor_text(p.goods, exponent),
                ratio_text(p.goods_n, p.goods_d),
                minor_text(p.late, exponent),
                ratio_text(p.late_n, p.late_d),
                minor_text(p.condition, exponent),
                ratio_text(p.condition_n, p.condition_d),
                minor_text(p.net, exponent),
                first,
                second,
            )
        return self._canonical_text_by_field()

    def _canonical_text_by_field(self) -> str:
        d, p = self.delivery, self.priced
        exponent = self.currency.exponent
        return _DELIVERY.format(
            _s(d.delivery_id),
            _int(self.version),
            _s(d.supplier),
            _s(d.buyer),
            _s(d.lot),
            _s(d.gtin),
            _s(self.unit),
            _s(_dec(d.shipped)),
            _s(_dec(d.received)),
            _s(_dec(p.rejected)),
            _opt(d.rejection_reason),
            _s((d.due_on or d.delivered_on).isoformat()),
            _s(d.delivered_on.isoformat()),
            _int(p.days_late),
            _bool(d.force_majeure),
            _bool(p.termination_right),
            _s(ratio_text(p.percent_n, p.percent_d)),
            _AMOUNT.format(_s(minor_text(p.goods, exponent)), _s(ratio_text(p.goods_n, p.goods_d))),
            _AMOUNT.format(_s(minor_text(p.late, exponent)), _s(ratio_text(p.late_n, p.late_d))),
            _AMOUNT.format(
                _s(minor_text(p.condition, exponent)),
                _s(ratio_text(p.condition_n, p.condition_d)),
            ),
            _s(minor_text(p.net, exponent)),
            _ints(d.seqs),
        )


@dataclass(frozen=True, slots=True)
class UnpricedLine:
    what: str
    lot: str
    parties: tuple[str, ...]
    reason: str
    seqs: tuple[int, ...]

    def to_json(self) -> JSONObject:
        return {
            "what": self.what,
            "lot": self.lot,
            "parties": list(self.parties),
            "reason": self.reason,
            "seqs": list(self.seqs),
        }


@dataclass(frozen=True, slots=True)
class SharePartLine:
    contribution: UpstreamContribution
    amount: Money
    exact: Fraction

    def to_json(self) -> JSONObject:
        c = self.contribution
        return {
            "lot": c.lot,
            "supplier": c.supplier,
            "fraction": _dec(c.fraction),
            "amount": self.amount.amount,
            "exact": _exact(self.exact),
            "seqs": list(c.seqs),
        }

    def canonical_text(self) -> str:
        """RFC 8785 text of ``to_json()``, written directly."""
        c = self.contribution
        amount = self.amount.amount
        if _plain(c.lot + c.supplier + amount) and all(_safe_int(seq) for seq in c.seqs):
            return _PART_FLAT.format(
                c.lot,
                c.supplier,
                _dec(c.fraction),
                amount,
                _exact(self.exact),
                _ints(c.seqs),
            )
        return _PART.format(
            _s(c.lot),
            _s(c.supplier),
            _s(_dec(c.fraction)),
            _s(self.amount.amount),
            _s(_exact(self.exact)),
            _ints(c.seqs),
        )


@dataclass(frozen=True, slots=True)
class ShareLine:
    sale_seq: int
    seller: str
    lot: str
    revenue: Money
    version: int
    pool: Line
    parts: tuple[SharePartLine, ...]

    @property
    def seqs(self) -> tuple[int, ...]:
        return tuple(sorted({self.sale_seq, *(s for p in self.parts for s in p.contribution.seqs)}))

    def to_json(self) -> JSONObject:
        return {
            "sale_seq": self.sale_seq,
            "seller": self.seller,
            "lot": self.lot,
            "revenue": self.revenue.amount,
            "version": self.version,
            "pool": _value(self.pool),
            "parts": [part.to_json() for part in self.parts],
            "seqs": list(self.seqs),
        }

    def canonical_text(self) -> str:
        """RFC 8785 text of ``to_json()``, written directly (in one ``format`` call when
        every string is plain and every integer in range)."""
        revenue, pool = self.revenue.amount, self.pool.amount.amount
        seqs = self.seqs
        if (
            _plain(self.seller + self.lot + revenue + pool)
            and _safe_int(self.sale_seq)
            and _safe_int(self.version)
            and all(_safe_int(seq) for seq in seqs)
        ):
            return _SHARE_FLAT.format(
                self.sale_seq,
                self.seller,
                self.lot,
                revenue,
                self.version,
                pool,
                _exact(self.pool.exact),
                "[" + ",".join([part.canonical_text() for part in self.parts]) + "]",
                "[" + ",".join(map(str, seqs)) + "]",
            )
        return _SHARE.format(
            _int(self.sale_seq),
            _s(self.seller),
            _s(self.lot),
            _s(self.revenue.amount),
            _int(self.version),
            _value_text(self.pool),
            _array(part.canonical_text() for part in self.parts),
            _ints(self.seqs),
        )


@dataclass(frozen=True, slots=True)
class ChargeLine:
    obligation: str
    kind: str
    payer: str
    payee: str
    through: date
    accrued: Line
    billed_before: Money
    seqs: tuple[int, ...]

    @property
    def amount(self) -> Money:
        return self.accrued.amount - self.billed_before

    def to_json(self) -> JSONObject:
        return {
            "obligation": self.obligation,
            "kind": self.kind,
            "payer": self.payer,
            "payee": self.payee,
            "through": self.through.isoformat(),
            "accrued": _value(self.accrued),
            "billed_before": self.billed_before.amount,
            "amount": self.amount.amount,
            "seqs": list(self.seqs),
        }


@dataclass(frozen=True, slots=True)
class ObligationEntry:
    id: str
    kind: str
    payer: str
    payee: str
    amount: Money
    issued_on: date
    due_on: date
    early_payment: tuple[date, Money] | None
    version: int

    def to_json(self) -> JSONObject:
        early = self.early_payment
        return {
            "id": self.id,
            "kind": self.kind,
            "payer": self.payer,
            "payee": self.payee,
            "amount": self.amount.amount,
            "issued_on": self.issued_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "early_payment": None
            if early is None
            else {"by": early[0].isoformat(), "amount": early[1].amount},
            "version": self.version,
        }


@dataclass(frozen=True)
class SettlementStatement:
    """A computed statement. ``to_json()`` is the ``settlement.statement`` body;
    ``canonical`` its RFC 8785 bytes; ``hash`` their SHA-256 (hex)."""

    contract_id: str
    period: str
    as_of_seq: int
    issued_on: date
    currency: str
    terms: tuple[TermsRef, ...]
    market_prices: tuple[MarketPriceUsed, ...]
    deliveries: tuple[DeliveryLine, ...]
    unpriced: tuple[UnpricedLine, ...]
    revenue_shares: tuple[ShareLine, ...]
    charges: tuple[ChargeLine, ...]
    obligations: tuple[ObligationEntry, ...]

    def to_json(self) -> JSONObject:
        return {
            "format": FORMAT,
            "contract_id": self.contract_id,
            "period": self.period,
            "as_of_seq": self.as_of_seq,
            "issued_on": self.issued_on.isoformat(),
            "currency": self.currency,
            "terms": [t.to_json() for t in self.terms],
            "market_prices": [m.to_json() for m in self.market_prices],
            "deliveries": [d.to_json() for d in self.deliveries],
            "unpriced": [u.to_json() for u in self.unpriced],
            "revenue_shares": [s.to_json() for s in self.revenue_shares],
            "charges": [c.to_json() for c in self.charges],
            "obligations": [o.to_json() for o in self.obligations],
        }

    def canonical_text(self) -> str:
        """RFC 8785 text of ``to_json()``, written directly from the lines (see
        ``_object_template``); the same text as ``canonical_bytes(self.to_json())``."""
        return _STATEMENT.format(
            _s(FORMAT),
            _s(self.contract_id),
            _s(self.period),
            _int(self.as_of_seq),
            _s(self.issued_on.isoformat()),
            _s(self.currency),
            _json_text([t.to_json() for t in self.terms]),
            _json_text([m.to_json() for m in self.market_prices]),
            _array(line.canonical_text() for line in self.deliveries),
            _json_text([u.to_json() for u in self.unpriced]),
            _array(share.canonical_text() for share in self.revenue_shares),
            _json_text([c.to_json() for c in self.charges]),
            _json_text([o.to_json() for o in self.obligations]),
        )

    @cached_property
    def canonical(self) -> bytes:
        """RFC 8785 bytes of ``to_json()`` (computed once, without building it)."""
        with paused_gc():
            return self.canonical_text().encode("utf-8")

    @cached_property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical).hexdigest()

    def total(self, payer: str, payee: str) -> Money:
        """What ``payer`` owes ``payee`` in this statement's obligations (both kinds)."""
        return Money.total(
            (o.amount for o in self.obligations if o.payer == payer and o.payee == payee),
            self.currency,
        )


def statement_hash(body: JSONValue) -> str:
    """SHA-256 (hex) of the canonical bytes of a statement body."""
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


# -- computing -----------------------------------------------------------------------------


class _Valuer:
    """``value_delivery`` with a memo: the rules are pure, and deliveries that agree in every
    priced input (accepted quantity, lateness, readings, prices, volume position...) get the
    same lines. Only successful valuations are remembered."""

    def __init__(self) -> None:
        self._memo: dict[tuple[object, ...], DeliveryValuation] = {}

    def value(
        self,
        version: ContractVersion,
        delivery: MatchedDelivery,
        unit: str,
        market_price: Decimal | None,
        prior: Decimal,
        total: Decimal | None,
    ) -> DeliveryValuation:
        fact = delivery_fact(delivery, unit)
        key = (
            version.version,
            fact.gtin,
            unit,
            fact.accepted,
            fact.rejected,
            (fact.delivered - fact.due).days,
            fact.readings,
            fact.force_majeure,
            market_price,
            prior,
            total,
        )
        found = self._memo.get(key)
        if found is None:
            found = value_delivery(
                version.terms,
                fact,
                market_price=market_price,
                prior_volume=prior,
                period_volume=total,
            )
            self._memo[key] = found
        return found


def _market_key(version: ContractVersion, delivery: MatchedDelivery) -> tuple[str, date] | None:
    product = version.terms.product(delivery.gtin)
    assert product is not None
    market = product.pricing.market
    if product.pricing.basis != "market" or market is None:
        return None
    day = delivery.delivered_on
    if market.observed_on == "due_date" and delivery.due_on is not None:
        day = delivery.due_on
    return delivery.gtin, day


class _Coverage:
    """Which deliveries a contract covers, with each version's parties and products
    looked up once (a month can hold a hundred thousand deliveries)."""

    def __init__(self, contract: Contract, first: date, last: date) -> None:
        self.contract = contract
        self.first = first
        self.last = last
        self.by_version: dict[int, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {}
        for version in contract.versions:
            terms = version.terms
            self.by_version[version.version] = (
                frozenset(terms.parties_with("supplier")),
                frozenset(terms.parties_with("buyer")),
                frozenset(product.gtin for product in terms.products),
            )

    def version_for(self, delivery: MatchedDelivery) -> ContractVersion | None:
        if not self.first <= delivery.delivered_on <= self.last:
            return None
        contract = self.contract
        if delivery.contract is not None and delivery.contract != contract.contract_id:
            return None
        version = contract.in_force_on(delivery.delivered_on)
        if version is None or delivery.supplier == delivery.buyer:
            return None
        suppliers, buyers, gtins = self.by_version[version.version]
        if delivery.supplier in suppliers and delivery.buyer in buyers and delivery.gtin in gtins:
            return version
        return None


def _deliveries(
    contract: Contract,
    entries: Sequence[Entry],
    first: date,
    last: date,
    market_prices: MarketPrices,
) -> tuple[list[DeliveryLine], list[UnpricedLine], dict[tuple[str, date], MarketPriceUsed]]:
    matched = match_deliveries(read_events(entries), within=(first, last))
    coverage = _Coverage(contract, first, last)
    covered = []
    for delivery in matched:
        version = coverage.version_for(delivery)
        if version is not None:
            covered.append((delivery, version))
    covered.sort(key=lambda item: (item[0].delivered_on, item[0].seqs[1], item[0].lot))

    lines: list[DeliveryLine] = []
    unpriced: list[UnpricedLine] = []
    used: dict[tuple[str, date], MarketPriceUsed] = {}
    missing: list[str] = []
    priced: list[tuple[MatchedDelivery, ContractVersion, str]] = []
    for delivery, version in covered:
        product = version.terms.product(delivery.gtin)
        assert product is not None
        unit = delivery.uom or "EA"

        def refuse(reason: str, delivery: MatchedDelivery = delivery) -> None:
            unpriced.append(
                UnpricedLine(
                    "delivery",
                    delivery.lot,
                    (delivery.supplier, delivery.buyer),
                    reason,
                    delivery.seqs,
                )
            )

        if delivery.problems:
            refuse("; ".join(delivery.problems))
        elif unit != product.unit:
            refuse(
                f"quantity in {unit}; the contract prices GTIN {delivery.gtin} per {product.unit}"
            )
        else:
            priced.append((delivery, version, unit))

    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for delivery, _version, _unit in priced:
        totals[(delivery.supplier, delivery.buyer, delivery.gtin)] += delivery.received
    running: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    valuer = _Valuer()
    pricers: dict[tuple[int, str], ProductPricer] = {}
    for delivery, version, unit in priced:
        key = (delivery.supplier, delivery.buyer, delivery.gtin)
        prior = running[key]
        running[key] = prior + delivery.received
        pricer = pricers.get((version.version, delivery.gtin))
        if pricer is None:
            product = version.terms.product(delivery.gtin)
            assert product is not None
            pricer = ProductPricer(version.terms, product)
            pricers[(version.version, delivery.gtin)] = pricer
        price: Decimal | None = None
        if pricer.basis == "market":
            market = _market_key(version, delivery)
            assert market is not None
            price = market_prices.get(market)
            if price is None:
                missing.append(f"GTIN {market[0]} on {market[1]}")
                continue
            assert pricer.product.pricing.market is not None
            used[market] = MarketPriceUsed(
                market[0], market[1], price, pricer.product.pricing.market.source
            )
        total = totals[key] if pricer.method == "all_units" else None
        fast = pricer.value(
            shipped=delivery.shipped,
            received=delivery.received,
            due=delivery.due_on or delivery.delivered_on,
            delivered=delivery.delivered_on,
            force_majeure=delivery.force_majeure,
            readings=delivery.readings,
            market_price=price,
            prior_volume=prior,
            period_volume=total,
        )
        if fast is None:
            try:
                fast = PricedDelivery.from_valuation(
                    valuer.value(version, delivery, unit, price, prior, total)
                )
            except RuleError as exc:
                unpriced.append(
                    UnpricedLine(
                        "delivery",
                        delivery.lot,
                        (delivery.supplier, delivery.buyer),
                        exc.message,
                        delivery.seqs,
                    )
                )
                continue
        lines.append(DeliveryLine(delivery, version.version, unit, pricer.currency, fast))
    if missing:
        raise SettlementInputError(
            f"contract {contract.contract_id} prices on a market reference; no market price "
            f"was given for {', '.join(sorted(set(missing)))}"
        )
    return lines, unpriced, used


def _shares(
    contract: Contract,
    period: str,
    as_of_seq: int,
    entries: Sequence[Entry],
    provenance: ProvenanceSource,
) -> tuple[list[ShareLine], list[UnpricedLine]]:
    version = contract.in_force_during(period)
    if version is None or version.terms.revenue_share is None:
        return [], []
    terms = version.terms
    shares = terms.revenue_share
    assert shares is not None
    lines: list[ShareLine] = []
    unpriced: list[UnpricedLine] = []
    sharer = RevenueSharer(terms)
    sharing = frozenset(s.supplier for s in shares.shares if s.percent > 0)
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.kind != Kind.SALE_REPORT or entry.author != shares.payer:
            continue
        if entry.body.get("period") != period:
            continue
        try:
            body = parse_body(SaleReportBody, Kind.SALE_REPORT, entry.body)
        except ContractError:
            continue
        revenue = body.revenue.money()
        contributions = sorted(provenance.contributions(body.lot, as_of_seq), key=lambda c: c.lot)
        if not any(c.supplier in sharing for c in contributions):
            continue
        try:
            result = sharer.split(str(entry.seq), revenue, contributions) or revenue_share(
                terms, Sale(str(entry.seq), body.lot, revenue), [c.fact for c in contributions]
            )
        except ContractError as exc:
            unpriced.append(
                UnpricedLine(
                    "sale",
                    body.lot,
                    (entry.author,),
                    exc.message,
                    (entry.seq,),
                )
            )
            continue
        parts = tuple(
            SharePartLine(contribution, part.amount, part.exact)
            for contribution, part in zip(contributions, result.parts, strict=True)
            if contribution.supplier in sharing and contribution.fraction > 0
        )
        lines.append(
            ShareLine(
                entry.seq, entry.author, body.lot, revenue, version.version, result.pool, parts
            )
        )
    return lines, unpriced


def _charges(
    contract: Contract,
    period: str,
    book: ObligationBook,
    last: date,
) -> list[ChargeLine]:
    billed: dict[tuple[str, str], int] = defaultdict(int)
    for (cid, earlier), ref in book.settlements.items():
        if cid == contract.contract_id and earlier < period:
            for oid, kind, minor in ref.charges:
                billed[(oid, kind)] += minor
    lines: list[ChargeLine] = []
    for obligation in book.of_contract(contract.contract_id):
        if obligation.kind != "principal" or obligation.period >= period or obligation.closed:
            continue
        version = contract.version(obligation.version)
        if version is None:
            continue
        terms = version.terms
        invoice = obligation.invoice()
        accrued = [
            ("late_payment_interest", late_payment_interest(terms, invoice, last)),
            ("fixed_compensation", fixed_compensation(terms, invoice, last)),
        ]
        for kind, line in accrued:
            before = Money(billed[(obligation.id, kind)], line.amount.currency)
            if line.amount == before:
                continue
            lines.append(
                ChargeLine(
                    obligation.id,
                    kind,
                    obligation.payer,
                    obligation.payee,
                    last,
                    line,
                    before,
                    obligation.seqs(),
                )
            )
    return lines


def _obligations(
    contract_id: str,
    period: str,
    version: ContractVersion,
    issued_on: date,
    owed: Mapping[tuple[str, str, str], Money],
) -> list[ObligationEntry]:
    """Net what each pair owes per kind into one obligation per pair and kind."""
    terms: ContractTerms = version.terms
    net: dict[tuple[str, str, str], int] = defaultdict(int)
    for (kind, payer, payee), money in owed.items():
        low, high = sorted((payer, payee))
        net[(kind, low, high)] += money.minor if payer == low else -money.minor
    result = []
    due_on = payment_due_date(terms, issued_on)
    for (kind, low, high), minor in sorted(net.items()):
        if minor == 0:
            continue
        payer, payee = (low, high) if minor > 0 else (high, low)
        amount = Money(abs(minor), terms.money_currency)
        early = None
        if kind == "principal" and terms.payment.early_payment is not None:
            paid_at_once = Invoice(
                "offer", amount, issued_on, due_on, (Payment(issued_on, amount),)
            )
            discount = early_payment_discount(terms, paid_at_once).amount
            deadline = issued_on.toordinal() + terms.payment.early_payment.within_days
            early = (date.fromordinal(deadline), amount + discount)
        result.append(
            ObligationEntry(
                obligation_id(contract_id, period, payer, payee, charges=kind == "charges"),
                kind,
                payer,
                payee,
                amount,
                issued_on,
                due_on,
                early,
                version.version,
            )
        )
    return result


def settle(
    contract_id: str,
    period: str,
    as_of_seq: int,
    entries: Iterable[EntryLike],
    provenance: ProvenanceSource,
    *,
    market_prices: MarketPrices | None = None,
    issued_on: date | None = None,
) -> SettlementStatement:
    """The statement of ``contract_id`` for ``period`` from the records up to ``as_of_seq``.

    ``entries`` may hold any records (later ones are ignored) in any order. ``market_prices``
    are needed for market-priced products; ``issued_on`` defaults to the period's last day.

    Raises ``SettlementInputError`` if the contract does not exist or has no version in force
    in the period, if ``issued_on`` is before the period's end, or if a market price is
    missing; ``RuleError`` if the terms cannot price a charge (a reference rate missing).
    """
    with paused_gc():
        return _settle(
            contract_id,
            period,
            as_of_seq,
            entries,
            provenance,
            market_prices=market_prices,
            issued_on=issued_on,
        )


def _settle(
    contract_id: str,
    period: str,
    as_of_seq: int,
    entries: Iterable[EntryLike],
    provenance: ProvenanceSource,
    *,
    market_prices: MarketPrices | None,
    issued_on: date | None,
) -> SettlementStatement:
    first, last = period_bounds(period)
    issued = issued_on or last
    if issued < last:
        raise SettlementInputError(
            f"a statement for {period} is issued on or after {last}, got {issued}"
        )
    visible = [entry for entry in as_entries(entries) if entry.seq <= as_of_seq]
    by_seq = {entry.seq: entry for entry in visible}
    contract = replay_contracts(
        [e for e in visible if e.kind in CONTRACT_KINDS], by_seq.get, only=contract_id
    ).get(contract_id)
    if contract is None:
        raise SettlementInputError(
            f"no contract {contract_id} has been proposed in records up to seq {as_of_seq}"
        )
    version = contract.in_force_on(last) or contract.in_force_during(period)
    if version is None:
        raise SettlementInputError(
            f"contract {contract_id} has no binding version in force during {period} "
            f"(as of seq {as_of_seq})"
        )

    deliveries, unpriced, used = _deliveries(contract, visible, first, last, market_prices or {})
    shares, unpriced_sales = _shares(contract, period, as_of_seq, visible, provenance)
    book = ObligationBook({contract_id: frozenset(contract.parties())}).replay(
        e for e in visible if e.kind in OBLIGATION_KINDS
    )
    charges = _charges(contract, period, book, last)

    owed: dict[tuple[str, str, str], Money] = {}

    def add(kind: str, payer: str, payee: str, money: Money) -> None:
        key = (kind, payer, payee)
        owed[key] = owed[key] + money if key in owed else money

    nets: dict[tuple[str, str, Currency], int] = defaultdict(int)
    for line in deliveries:
        nets[(line.delivery.buyer, line.delivery.supplier, line.currency)] += line.priced.net
    for (payer, payee, currency), minor in nets.items():
        add("principal", payer, payee, Money(minor, currency))
    for share in shares:
        for part in share.parts:
            add("principal", share.seller, part.contribution.supplier, part.amount)
    for charge in charges:
        add("charges", charge.payer, charge.payee, charge.amount)

    used_versions = {version.version}
    used_versions.update(line.version for line in deliveries)
    used_versions.update(share.version for share in shares)
    refs = []
    for number in sorted(used_versions):
        v = contract.version(number)
        assert v is not None
        assert v.binding_seq is not None
        refs.append(TermsRef(v.version, v.terms_hash, v.binding_seq))

    return SettlementStatement(
        contract_id=contract_id,
        period=period,
        as_of_seq=as_of_seq,
        issued_on=issued,
        currency=version.terms.currency,
        terms=tuple(refs),
        market_prices=tuple(used[key] for key in sorted(used)),
        deliveries=tuple(deliveries),
        unpriced=tuple(unpriced + unpriced_sales),
        revenue_shares=tuple(shares),
        charges=tuple(sorted(charges, key=lambda c: (c.obligation, c.kind))),
        obligations=tuple(_obligations(contract_id, period, version, issued, owed)),
    )


# -- verification --------------------------------------------------------------------------


def _first_difference(
    expected: JSONValue, observed: JSONValue, path: str = ""
) -> tuple[str, str, str]:
    if isinstance(expected, dict) and isinstance(observed, dict):
        for key in sorted(expected.keys() | observed.keys()):
            if key not in observed or key not in expected:
                return (
                    f"{path}.{key}".lstrip("."),
                    canonical_bytes(expected.get(key)).decode(),
                    canonical_bytes(observed.get(key)).decode(),
                )
            if canonical_bytes(expected[key]) != canonical_bytes(observed[key]):
                return _first_difference(expected[key], observed[key], f"{path}.{key}")
    if isinstance(expected, list) and isinstance(observed, list):
        for index, (left, right) in enumerate(zip(expected, observed, strict=False)):
            if canonical_bytes(left) != canonical_bytes(right):
                return _first_difference(left, right, f"{path}[{index}]")
        if len(expected) != len(observed):
            return (f"{path}.length", str(len(expected)), str(len(observed)))
    return (path.lstrip(".") or "statement", _short(expected), _short(observed))


def _short(value: JSONValue) -> str:
    text = canonical_bytes(value).decode()
    return text if len(text) <= 200 else text[:197] + "..."


def verify_settlement(
    recorded_body: JSONObject,
    entries: Iterable[EntryLike],
    provenance: ProvenanceSource,
    *,
    seq: int | None = None,
) -> SettlementStatement:
    """Re-settle a recorded ``settlement.statement`` body and require identical bytes.

    The inputs (contract, period, ``as_of_seq``, ``issued_on``, market prices) are read from
    the recorded body; everything else is recomputed from ``entries``. Returns the recomputed
    statement. Raises ``MalformedContractStatementError`` for a body that is not a statement
    and ``SettlementMismatchError`` (carrying ``seq``, the first differing path, the recorded
    and the recomputed value) when the bytes differ.
    """
    body = parse_body(SettlementStatementBody, Kind.SETTLEMENT, recorded_body)
    prices = {
        (price.gtin, price.on): price.price
        for price in body.market_prices
        if isinstance(price, MarketPriceBody)
    }
    try:
        statement = settle(
            body.contract_id,
            body.period,
            body.as_of_seq,
            entries,
            provenance,
            market_prices=prices,
            issued_on=body.issued_on,
        )
    except ContractError as exc:
        raise SettlementMismatchError(
            f"the recorded statement for {body.contract_id} {body.period} cannot be "
            f"recomputed: {exc.message}",
            seq=seq,
        ) from exc
    if statement.canonical != canonical_bytes(recorded_body):
        path, expected, observed = _first_difference(recorded_body, statement.to_json())
        raise SettlementMismatchError(
            f"re-settling {body.contract_id} {body.period} as of seq {body.as_of_seq} differs "
            f"from the recorded statement at {path}",
            seq=seq,
            expected=expected,
            observed=observed,
        )
    return statement
