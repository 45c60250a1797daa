"""Payments audit and fairness metrics: closing the loop contract languages leave open.

Pure functions of records (``Entry``) and a day ``as_of`` (time is a parameter), built on the
same replays as settlement (``contracts.lifecycle``, ``contracts.obligations``), so they agree
with the recorded statements by construction. Ratios are exact ``Fraction`` values; JSON
renders them as ``{"exact": "2/3", "decimal": "0.666667"}`` (six places, half-even).

**Payments audit** (``payments_audit``), per obligation, then per participant and period:

* ``owed``: the amount due (the early-payment price if it was earned);
* ``paid``: payments received by ``as_of``; ``outstanding``: what is still owed;
* ``days_late``: days after the due date until paid in full, or until ``as_of`` if unpaid;
* ``interest`` and ``compensation``: accrued under the terms' payment clause up to ``as_of``
  (``contracts.rules.late_payment_interest`` and ``fixed_compensation``; principal
  obligations only: interest is never charged on charges);
* ``state``: ``contracts.obligations.obligation_state`` on ``as_of``.

**Payment practices** per buyer (``PaymentPractice``), in the manner of the UK's Reporting on
Payment Practices and Performance: over the buyer's principal obligations paid in full by
``as_of``, the average number of days from issue to payment, the shares paid within 30 days,
in 31–60 days and later (they sum to 1), and the share paid after the agreed due date; plus
the number of obligations past due and still unpaid.

**Fairness** (``fairness_report``), per period:

* producer share of end revenue, per contract (a product chain): what the contract's
  *producers* (parties with the supplier role and not the buyer role) earned in the
  period's statement (their net delivery lines and revenue-share parts), divided by the end
  revenue the contract's buyers reported in ``sale.report`` records for the period;
* value distribution across participants: each participant's value captured in the period
  (statement lines received, less statement lines paid, plus its own reported sales revenue),
  its share of the total, and the Gini coefficient of those values (negative values count as
  zero): ``G = Σ_i Σ_j |x_i − x_j| / (2 n Σ x)``;
* floor findings: binding terms whose agreed or tier price is below the floor they declare
  (the floor then applies), and delivery lines whose net price per accepted unit fell below
  the declared floor after penalties.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts.bodies import SaleReportBody, parse_body
from contracts.entries import Entry, EntryLike, as_entries, paused_gc
from contracts.errors import ContractError
from contracts.lifecycle import CONTRACT_KINDS, Contract, ContractVersion, replay_contracts
from contracts.money import Currency, Money
from contracts.obligations import (
    OBLIGATION_KINDS,
    Obligation,
    ObligationBook,
    ObligationState,
    SettlementRef,
    obligation_state,
)
from contracts.rules import fixed_compensation, late_payment_interest
from ledger.canonical import JSONObject, JSONValue
from ledger.state import Kind

__all__ = [
    "FairnessReport",
    "FloorFinding",
    "ObligationAudit",
    "PartyPeriodAudit",
    "PaymentPractice",
    "PaymentsAudit",
    "ProducerShare",
    "SaleFact",
    "SalesTotal",
    "StatementSummary",
    "ValueDistribution",
    "fairness_from_summaries",
    "fairness_of",
    "fairness_report",
    "gini",
    "payments_audit",
    "payments_audit_of",
    "ratio_json",
    "sales_totals",
    "summarise_statement",
]


def ratio_json(value: Fraction | None) -> JSONValue:
    """``{"exact": "n/d", "decimal": "0.123457"}`` (None stays None)."""
    if value is None:
        return None
    exact = (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )
    decimal = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.000001"), rounding=ROUND_HALF_EVEN
    )
    return {"exact": exact, "decimal": f"{decimal:f}"}


_AMOUNT_TEXT: dict[int, re.Pattern[str]] = {}


def _minor(text: str, currency: Currency) -> int:
    """``Money.parse(text, currency).minor``, read directly when ``text`` has exactly the
    currency's decimal places (as every statement amount does; a statement holds hundreds of
    thousands); anything else goes through ``Money.parse`` and raises like it."""
    exponent = currency.exponent
    pattern = _AMOUNT_TEXT.get(exponent)
    if pattern is None:
        tail = rf"\.[0-9]{{{exponent}}}" if exponent else ""
        pattern = _AMOUNT_TEXT[exponent] = re.compile(rf"-?(?:0|[1-9][0-9]{{0,30}}){tail}")
    if type(text) is str and pattern.fullmatch(text):
        return int(text.replace(".", "", 1))
    return Money.parse(text, currency).minor


def _below_floor(net_minor: int, exponent: int, accepted: Decimal, floor: Decimal) -> bool:
    """``net / accepted < floor`` exactly (``accepted > 0``), in integers:
    net_minor / 10^e < floor × accepted."""
    floor_n, floor_d = floor.as_integer_ratio()
    accepted_n, accepted_d = accepted.as_integer_ratio()
    scale: int = 10**exponent
    return net_minor * floor_d * accepted_d < floor_n * accepted_n * scale


def _four_places(value: Fraction) -> str:
    quotient = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{quotient.quantize(Decimal('0.0001'), rounding=ROUND_HALF_EVEN):f}"


def gini(values: Iterable[int | Fraction]) -> Fraction:
    """The Gini coefficient of non-negative values (negative ones count as zero), exactly:
    ``Σ_i Σ_j |x_i − x_j| / (2 n Σ x)``, computed on the sorted values as
    ``(2 Σ_i i·x_(i)) / (n Σ x) − (n + 1) / n``. Zero for no values or a zero total."""
    xs = sorted(max(Fraction(v), Fraction(0)) for v in values)
    n, total = len(xs), sum(xs, Fraction(0))
    if n == 0 or total == 0:
        return Fraction(0)
    weighted = sum((i * x for i, x in enumerate(xs, start=1)), Fraction(0))
    return 2 * weighted / (n * total) - Fraction(n + 1, n)


def _replay(
    entries: Iterable[EntryLike], as_of_seq: int | None
) -> tuple[list[Entry], dict[str, Contract], ObligationBook]:
    visible = [e for e in as_entries(entries) if as_of_seq is None or e.seq <= as_of_seq]
    by_seq = {e.seq: e for e in visible}
    contracts = replay_contracts([e for e in visible if e.kind in CONTRACT_KINDS], by_seq.get)
    parties = {cid: frozenset(c.parties()) for cid, c in contracts.items()}
    book = ObligationBook(parties).replay(e for e in visible if e.kind in OBLIGATION_KINDS)
    return visible, contracts, book


# -- payments audit ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObligationAudit:
    obligation: Obligation
    owed: Money
    paid: Money
    outstanding: Money
    state: ObligationState
    days_late: int
    interest: Money
    compensation: Money

    def to_json(self) -> JSONObject:
        o = self.obligation
        return {
            "obligation": o.id,
            "contract_id": o.contract_id,
            "period": o.period,
            "kind": o.kind,
            "payer": o.payer,
            "payee": o.payee,
            "currency": o.amount.currency.code,
            "owed": self.owed.amount,
            "paid": self.paid.amount,
            "outstanding": self.outstanding.amount,
            "state": self.state.value,
            "issued_on": o.issued_on.isoformat(),
            "due_on": o.due_on.isoformat(),
            "days_late": self.days_late,
            "interest": self.interest.amount,
            "compensation": self.compensation.amount,
            "seqs": list(o.seqs()),
        }


@dataclass(frozen=True, slots=True)
class PartyPeriodAudit:
    """One participant's obligations of one period, as payer or as payee, in one currency."""

    party: str
    period: str
    role: str
    currency: Currency
    obligations: int
    owed: Money
    paid: Money
    outstanding: Money
    late: int
    max_days_late: int
    interest: Money
    compensation: Money

    def to_json(self) -> JSONObject:
        return {
            "party": self.party,
            "period": self.period,
            "role": self.role,
            "currency": self.currency.code,
            "obligations": self.obligations,
            "owed": self.owed.amount,
            "paid": self.paid.amount,
            "outstanding": self.outstanding.amount,
            "late": self.late,
            "max_days_late": self.max_days_late,
            "interest": self.interest.amount,
            "compensation": self.compensation.amount,
        }


@dataclass(frozen=True, slots=True)
class PaymentPractice:
    """A buyer's payment practice as of a day (see the module docstring)."""

    payer: str
    invoices: int
    paid: int
    average_days_to_pay: Fraction | None
    within_30_days: Fraction | None
    within_31_to_60_days: Fraction | None
    later: Fraction | None
    paid_after_due_date: Fraction | None
    overdue_unpaid: int

    def to_json(self) -> JSONObject:
        return {
            "payer": self.payer,
            "invoices": self.invoices,
            "paid": self.paid,
            "average_days_to_pay": ratio_json(self.average_days_to_pay),
            "within_30_days": ratio_json(self.within_30_days),
            "within_31_to_60_days": ratio_json(self.within_31_to_60_days),
            "later": ratio_json(self.later),
            "paid_after_due_date": ratio_json(self.paid_after_due_date),
            "overdue_unpaid": self.overdue_unpaid,
        }


@dataclass(frozen=True, slots=True)
class PaymentsAudit:
    as_of: date
    obligations: tuple[ObligationAudit, ...]
    parties: tuple[PartyPeriodAudit, ...]
    practices: tuple[PaymentPractice, ...]

    def to_json(self) -> JSONObject:
        return {
            "as_of": self.as_of.isoformat(),
            "obligations": [o.to_json() for o in self.obligations],
            "parties": [p.to_json() for p in self.parties],
            "practices": [p.to_json() for p in self.practices],
        }


def _audit_obligation(
    obligation: Obligation, contract: Contract | None, as_of: date
) -> ObligationAudit:
    currency = obligation.amount.currency
    zero = Money.zero(currency)
    interest = compensation = zero
    version = contract.version(obligation.version) if contract is not None else None
    if obligation.kind == "principal" and not obligation.closed and version is not None:
        invoice = obligation.invoice()
        interest = late_payment_interest(version.terms, invoice, as_of).amount
        compensation = fixed_compensation(version.terms, invoice, as_of).amount
    closed = obligation.closed
    return ObligationAudit(
        obligation=obligation,
        owed=zero if closed else obligation.amount_due(),
        paid=obligation.paid(as_of),
        outstanding=zero if closed else obligation.outstanding(as_of),
        state=obligation_state(obligation, as_of),
        days_late=0 if closed else obligation.days_late(as_of),
        interest=interest,
        compensation=compensation,
    )


def _practice(payer: str, audits: list[ObligationAudit], as_of: date) -> PaymentPractice:
    considered = [
        a
        for a in audits
        if a.obligation.kind == "principal"
        and not a.obligation.closed
        and a.obligation.issued_on <= as_of
    ]
    days: list[int] = []
    late = 0
    for audit in considered:
        paid_on = audit.obligation.paid_on()
        if paid_on is not None and paid_on <= as_of:
            days.append((paid_on - audit.obligation.issued_on).days)
            late += paid_on > audit.obligation.due_on
    overdue = sum(
        1
        for a in considered
        if a.state in (ObligationState.LATE, ObligationState.DISPUTED)
        and as_of > a.obligation.due_on
    )
    n = len(days)

    def share(count: int) -> Fraction | None:
        return Fraction(count, n) if n else None

    return PaymentPractice(
        payer=payer,
        invoices=len(considered),
        paid=n,
        average_days_to_pay=Fraction(sum(days), n) if n else None,
        within_30_days=share(sum(1 for d in days if d <= 30)),
        within_31_to_60_days=share(sum(1 for d in days if 30 < d <= 60)),
        later=share(sum(1 for d in days if d > 60)),
        paid_after_due_date=share(late),
        overdue_unpaid=overdue,
    )


def payments_audit(
    entries: Iterable[EntryLike], as_of: date, *, as_of_seq: int | None = None
) -> PaymentsAudit:
    """The payments audit of every obligation in the records (up to ``as_of_seq``), on day
    ``as_of``. Records the contract rules refuse are skipped; raises
    ``ReferenceRateMissingError`` only if an obligation's terms lack a rate it needs."""
    with paused_gc():
        return _payments_audit(entries, as_of, as_of_seq)


def _payments_audit(
    entries: Iterable[EntryLike], as_of: date, as_of_seq: int | None
) -> PaymentsAudit:
    _, contracts, book = _replay(entries, as_of_seq)
    return payments_audit_of(contracts, book.obligations.values(), as_of)


def payments_audit_of(
    contracts: Mapping[str, Contract], obligations: Iterable[Obligation], as_of: date
) -> PaymentsAudit:
    """``payments_audit`` over contracts and obligations already replayed (e.g. read from
    the contract projection's documents)."""
    audits = [
        _audit_obligation(o, contracts.get(o.contract_id), as_of)
        for o in sorted(obligations, key=lambda o: o.id)
    ]
    groups: dict[tuple[str, str, str, Currency], list[ObligationAudit]] = defaultdict(list)
    for audit in audits:
        o = audit.obligation
        groups[(o.payer, o.period, "payer", o.amount.currency)].append(audit)
        groups[(o.payee, o.period, "payee", o.amount.currency)].append(audit)
    parties = []
    for (party, period, role, currency), members in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2], item[0][3].code)
    ):
        parties.append(
            PartyPeriodAudit(
                party=party,
                period=period,
                role=role,
                currency=currency,
                obligations=len(members),
                owed=Money.total((a.owed for a in members), currency),
                paid=Money.total((a.paid for a in members), currency),
                outstanding=Money.total((a.outstanding for a in members), currency),
                late=sum(1 for a in members if a.days_late > 0),
                max_days_late=max((a.days_late for a in members), default=0),
                interest=Money.total((a.interest for a in members), currency),
                compensation=Money.total((a.compensation for a in members), currency),
            )
        )
    by_payer: dict[str, list[ObligationAudit]] = defaultdict(list)
    for audit in audits:
        by_payer[audit.obligation.payer].append(audit)
    practices = tuple(_practice(payer, by_payer[payer], as_of) for payer in sorted(by_payer))
    return PaymentsAudit(as_of, tuple(audits), tuple(parties), practices)


# -- fairness ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProducerShare:
    contract_id: str
    period: str
    producers: tuple[str, ...]
    end_revenue: Money
    producer_goods: Money
    producer_revenue_share: Money
    share: Fraction | None
    seqs: tuple[int, ...]

    def to_json(self) -> JSONObject:
        return {
            "contract_id": self.contract_id,
            "period": self.period,
            "producers": list(self.producers),
            "currency": self.end_revenue.currency.code,
            "end_revenue": self.end_revenue.amount,
            "producer_goods": self.producer_goods.amount,
            "producer_revenue_share": self.producer_revenue_share.amount,
            "share": ratio_json(self.share),
            "seqs": list(self.seqs),
        }


@dataclass(frozen=True, slots=True)
class ValueDistribution:
    period: str
    currency: Currency
    values: tuple[tuple[str, Money], ...]
    gini: Fraction

    def shares(self) -> dict[str, Fraction]:
        total = sum((max(0, m.minor) for _, m in self.values), 0)
        return {
            party: Fraction(max(0, money.minor), total) if total else Fraction(0)
            for party, money in self.values
        }

    def to_json(self) -> JSONObject:
        shares = self.shares()
        return {
            "period": self.period,
            "currency": self.currency.code,
            "participants": [
                {"party": party, "value": money.amount, "share": ratio_json(shares[party])}
                for party, money in self.values
            ],
            "gini": ratio_json(self.gini),
        }


@dataclass(frozen=True, slots=True)
class FloorFinding:
    contract_id: str
    version: int
    gtin: str
    kind: str  # "terms" or "realised"
    detail: str
    seqs: tuple[int, ...]

    def to_json(self) -> JSONObject:
        return {
            "contract_id": self.contract_id,
            "version": self.version,
            "gtin": self.gtin,
            "kind": self.kind,
            "detail": self.detail,
            "seqs": list(self.seqs),
        }


@dataclass(frozen=True, slots=True)
class FairnessReport:
    producer_shares: tuple[ProducerShare, ...]
    distributions: tuple[ValueDistribution, ...]
    floor_findings: tuple[FloorFinding, ...]

    def to_json(self) -> JSONObject:
        return {
            "producer_shares": [p.to_json() for p in self.producer_shares],
            "value_distribution": [d.to_json() for d in self.distributions],
            "floor_findings": [f.to_json() for f in self.floor_findings],
        }


class _View(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class _DeliveryView(_View):
    delivery: str
    version: int
    supplier: str
    buyer: str
    gtin: str
    unit: str
    accepted: str
    net: str
    seqs: list[int]


class _PartView(_View):
    supplier: str
    amount: str


class _ShareView(_View):
    seller: str
    parts: list[_PartView]


class _StatementView(_View):
    """What fairness needs from a recorded statement (validated in full when it was
    appended): the lines' parties and amounts, read without re-checking everything else."""

    format: Literal["fairledger.settlement.v1"]
    currency: str
    deliveries: list[_DeliveryView]
    revenue_shares: list[_ShareView]


def _terms_findings(contract: Contract) -> list[FloorFinding]:
    findings = []
    for version in contract.versions:
        if not version.ever_binding:
            continue
        for product in version.terms.products:
            pricing = product.pricing
            floor = pricing.floor
            if floor is None:
                continue
            prices = (
                [("agreed price", pricing.unit_price)] if pricing.unit_price is not None else []
            )
            if pricing.tiers is not None:
                prices += [
                    (f"tier from {tier.from_quantity}", tier.unit_price)
                    for tier in pricing.tiers.tiers
                ]
            for label, price in prices:
                if price is not None and price < floor:
                    findings.append(
                        FloorFinding(
                            contract.contract_id,
                            version.version,
                            product.gtin,
                            "terms",
                            f"{label} {price} is below the declared floor {floor} "
                            "(the floor applies)",
                            (version.proposed_seq,),
                        )
                    )
    return findings


def fairness_report(
    entries: Iterable[EntryLike], *, period: str | None = None, as_of_seq: int | None = None
) -> FairnessReport:
    """Producer shares, value distribution and floor findings from the recorded statements
    (the one in force per contract and period) and sale reports, for ``period`` or every
    period with a statement. Never raises on bad data: unreadable records are skipped."""
    with paused_gc():
        return _fairness_report(entries, period, as_of_seq)


def _fairness_report(
    entries: Iterable[EntryLike], period: str | None, as_of_seq: int | None
) -> FairnessReport:
    visible, contracts, book = _replay(entries, as_of_seq)
    by_seq = {e.seq: e.body for e in visible}
    sold: list[SaleFact] = []
    for entry in visible:
        if entry.kind != Kind.SALE_REPORT or (period and entry.body.get("period") != period):
            continue
        try:
            body = parse_body(SaleReportBody, Kind.SALE_REPORT, entry.body)
        except ContractError:
            continue
        sold.append(SaleFact(entry.seq, entry.author, body.period, body.revenue.money()))
    return fairness_of(contracts, book.settlements, by_seq.get, sold, period=period)


@dataclass(frozen=True, slots=True)
class SaleFact:
    """What fairness reads from one accepted ``sale.report``."""

    seq: int
    seller: str
    period: str
    revenue: Money


@dataclass(frozen=True, slots=True)
class SalesTotal:
    """A seller's reported sales revenue of one period in one currency, and their seqs."""

    seller: str
    period: str
    currency: str
    minor: int
    seqs: tuple[int, ...]


def sales_totals(sold: Iterable[SaleFact]) -> list[SalesTotal]:
    """``sold`` summed per seller, period and currency (seqs in ascending order)."""
    sums: dict[tuple[str, str, str], list[int]] = {}
    seqs: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for sale in sold:
        key = (sale.seller, sale.period, sale.revenue.currency.code)
        sums.setdefault(key, [0])[0] += sale.revenue.minor
        seqs[key].append(sale.seq)
    return [
        SalesTotal(key[0], key[1], key[2], sums[key][0], tuple(sorted(seqs[key])))
        for key in sorted(sums)
    ]


@dataclass(frozen=True, slots=True)
class StatementSummary:
    """What fairness needs from one recorded statement, summed once (when it is recorded,
    by the contract projection) so the report never decodes statements again.

    ``flows`` is each party's net value from the statement's lines (every party a line
    names, zero included); ``supplied`` and ``shared`` the delivery net and revenue-share
    parts per supplier; ``findings`` the realised floor findings under the floors of the
    contract version ``version`` (``terms_hash``) in force during the period, which the
    summary is valid for only while that version is still the one in force."""

    seq: int
    version: int
    terms_hash: str
    currency: Currency
    flows: dict[str, int]
    supplied: dict[str, int]
    shared: dict[str, int]
    findings: tuple[FloorFinding, ...]

    def to_json(self) -> JSONObject:
        return {
            "seq": self.seq,
            "version": self.version,
            "terms_hash": self.terms_hash,
            "currency": self.currency.code,
            "flows": dict(self.flows),
            "supplied": dict(self.supplied),
            "shared": dict(self.shared),
            "findings": [f.to_json() for f in self.findings],
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> StatementSummary:
        def ints(value: JSONValue) -> dict[str, int]:
            return (
                {str(k): int(str(v)) for k, v in value.items()} if isinstance(value, dict) else {}
            )

        findings = data.get("findings")
        return cls(
            int(str(data["seq"])),
            int(str(data["version"])),
            str(data["terms_hash"]),
            Currency(str(data["currency"])),
            ints(data.get("flows")),
            ints(data.get("supplied")),
            ints(data.get("shared")),
            tuple(
                FloorFinding(
                    str(f["contract_id"]),
                    int(str(f["version"])),
                    str(f["gtin"]),
                    str(f["kind"]),
                    str(f["detail"]),
                    tuple(int(str(s)) for s in f["seqs"]),  # type: ignore[union-attr]
                )
                for f in (findings if isinstance(findings, list) else ())
                if isinstance(f, dict)
            ),
        )

    def fits(self, version: ContractVersion) -> bool:
        """Whether this summary was made under ``version`` (the one now in force)."""
        return self.version == version.version and self.terms_hash == version.terms_hash


def summarise_statement(
    contract: Contract, period: str, seq: int, recorded: JSONObject
) -> StatementSummary | None:
    """The summary of the statement ``seq`` (body ``recorded``) of ``contract`` for
    ``period``, under the version in force during the period; None if fairness skips it
    (an unreadable body, or no version in force)."""
    try:
        statement = _StatementView.model_validate(recorded)
    except ValueError:
        return None
    currency = Currency(statement.currency)
    version = contract.in_force_during(period)
    if version is None:
        return None
    terms = version.terms
    cid = contract.contract_id
    flows: dict[str, int] = defaultdict(int)
    supplied: dict[str, int] = defaultdict(int)
    shared: dict[str, int] = defaultdict(int)
    findings: list[FloorFinding] = []
    floors: dict[str, Decimal | None] = {}
    for line in statement.deliveries:
        net = _minor(line.net, currency)
        flows[line.supplier] += net
        flows[line.buyer] -= net
        supplied[line.supplier] += net
        if line.gtin in floors:
            floor = floors[line.gtin]
        else:
            product = terms.product(line.gtin)
            floor = floors[line.gtin] = product.pricing.floor if product is not None else None
        if floor is None:
            continue
        accepted = Decimal(line.accepted)
        if accepted > 0 and _below_floor(net, currency.exponent, accepted, floor):
            unit = Fraction(Decimal(line.net)) / Fraction(accepted)
            if unit < Fraction(floor):
                findings.append(
                    FloorFinding(
                        cid,
                        line.version,
                        line.gtin,
                        "realised",
                        f"delivery {line.delivery} was settled at "
                        f"{_four_places(unit)} per {line.unit}, below the declared "
                        f"floor {floor}",
                        tuple(line.seqs),
                    )
                )
    for share_line in statement.revenue_shares:
        for part in share_line.parts:
            amount = _minor(part.amount, currency)
            flows[part.supplier] += amount
            flows[share_line.seller] -= amount
            shared[part.supplier] += amount
    return StatementSummary(
        seq,
        version.version,
        version.terms_hash,
        currency,
        dict(flows),
        dict(supplied),
        dict(shared),
        tuple(findings),
    )


def fairness_of(
    contracts: Mapping[str, Contract],
    settlements: Mapping[tuple[str, str], SettlementRef],
    statement_body: Callable[[int], JSONObject | None],
    sold: Iterable[SaleFact],
    *,
    period: str | None = None,
) -> FairnessReport:
    """``fairness_report`` over replayed state: the contracts, the statement in force per
    (contract, period), a lookup of recorded statement bodies by seq, and the sale reports
    (e.g. all read from the contract projection's documents, not by replaying records)."""

    def summary(contract: Contract, stated_period: str, ref: SettlementRef) -> Summarised:
        recorded = statement_body(ref.seq)
        if recorded is None:
            return None
        return summarise_statement(contract, stated_period, ref.seq, recorded)

    totals = sales_totals(s for s in sold if period is None or s.period == period)
    return fairness_from_summaries(contracts, settlements, summary, totals, period=period)


#: A statement's summary, or None when fairness skips the statement.
Summarised = StatementSummary | None


def fairness_from_summaries(
    contracts: Mapping[str, Contract],
    settlements: Mapping[tuple[str, str], SettlementRef],
    summary: Callable[[Contract, str, SettlementRef], Summarised],
    totals: Iterable[SalesTotal],
    *,
    period: str | None = None,
) -> FairnessReport:
    """``fairness_of`` from statement summaries (``summary(contract, period, ref)``, e.g. as
    the contract projection keeps them) and sales totals per seller and period."""
    sales: dict[tuple[str, str], list[SalesTotal]] = defaultdict(list)
    for total in totals:
        if period is None or total.period == period:
            sales[(total.seller, total.period)].append(total)
    shares: list[ProducerShare] = []
    values: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    findings: list[FloorFinding] = []
    for each in sorted(contracts.values(), key=lambda c: c.contract_id):
        findings.extend(_terms_findings(each))
    for (cid, stated_period), ref in sorted(settlements.items()):
        contract = contracts.get(cid)
        if contract is None or (period and stated_period != period):
            continue
        summarised = summary(contract, stated_period, ref)
        if summarised is None:
            continue
        version = contract.in_force_during(stated_period)
        if version is None:
            continue
        currency = summarised.currency
        terms = version.terms
        buyers = set(terms.parties_with("buyer"))
        producers = tuple(p for p in terms.parties_with("supplier") if p not in buyers)
        flows = values[(stated_period, currency.code)]
        for party, minor in summarised.flows.items():
            flows[party] += minor
        goods = sum(summarised.supplied.get(p, 0) for p in set(producers))
        shared = sum(summarised.shared.get(p, 0) for p in set(producers))
        findings.extend(summarised.findings)
        revenue = 0
        sale_seqs: list[int] = []
        for buyer in sorted(buyers):
            for total in sales.get((buyer, stated_period), []):
                if total.currency == currency.code:
                    revenue += total.minor
                    sale_seqs.extend(total.seqs)
        shares.append(
            ProducerShare(
                cid,
                stated_period,
                producers,
                Money(revenue, currency),
                Money(goods, currency),
                Money(shared, currency),
                Fraction(goods + shared, revenue) if revenue > 0 else None,
                tuple(sorted({ref.seq, *sale_seqs})),
            )
        )
    for (seller, sale_period), reported in sales.items():
        for total in reported:
            values[(sale_period, total.currency)][seller] += total.minor
    distributions = []
    for (dist_period, code), flows in sorted(values.items()):
        currency = Currency(code)
        ordered = tuple(sorted((party, Money(minor, currency)) for party, minor in flows.items()))
        distributions.append(
            ValueDistribution(dist_period, currency, ordered, gini(m.minor for _, m in ordered))
        )
    findings.sort(key=lambda f: (f.contract_id, f.version, f.gtin, f.kind, f.seqs, f.detail))
    return FairnessReport(tuple(shares), tuple(distributions), tuple(findings))
