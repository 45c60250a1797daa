"""Contracts, statements, payments audit and fairness read from the contract projection.

The contract projection (``contracts.projection``) keeps contracts, obligations, the statement
in force per contract and month, and sale reports as documents, updated in the same
transaction as each append. Everything here reads those documents (and, for recorded
statements, the records they name) in one read transaction, so its cost grows with the number
of contracts, obligations, statements and sales, never with the size of the ledger: a
ledger of a million trace events answers as quickly as one of a thousand. The audits are the
same functions as the record-replaying ones (``contracts.audit.payments_audit_of`` and
``fairness_of``), so both paths agree by construction.

The fairness report reads the projection's ``fairness`` summaries (one small document per
statement in force, sales totals per seller and period: ``contracts.audit.StatementSummary``,
``SalesTotal``), made with the same function the reference path applies to the decoded
statements (``summarise_statement``); it decodes a statement only when its summary is missing
or stale. ``reference_fairness_report`` is the path without summaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from contracts.audit import (
    FairnessReport,
    PaymentsAudit,
    SaleFact,
    SalesTotal,
    StatementSummary,
    fairness_from_summaries,
    fairness_of,
    payments_audit_of,
    summarise_statement,
)
from contracts.entries import Entry, paused_gc
from contracts.lifecycle import Contract
from contracts.money import Money
from contracts.obligations import Obligation, SettlementRef
from contracts.projection import (
    CONTRACT_PARTIES,
    CONTRACTS,
    FAIRNESS,
    FAIRNESS_LAYOUT,
    OBLIGATIONS,
    SALES,
    SETTLEMENTS,
    statement_summary_key,
)
from ledger.canonical import JSONObject, JSONValue
from ledger.log import Ledger
from ledger.state import Kind

if TYPE_CHECKING:  # the storage layer is SQLAlchemy's; contracts/ only names its type
    from ledger.storage.store import Reader

__all__ = [
    "ContractPage",
    "contract_obligations",
    "contracts_page",
    "ledger_fairness_report",
    "ledger_payments_audit",
    "load_contract",
    "load_contracts",
    "recorded_statements",
    "reference_fairness_report",
]

_PAGE = 1000


def _scan(tx: Reader, collection: str, prefix: str = "") -> Iterator[tuple[str, JSONValue]]:
    """Every document of ``collection`` under ``prefix``, in key order, page by page."""
    after: str | None = None
    while True:
        rows = tx.documents(collection, prefix, after=after, limit=_PAGE)
        for key, _seq, body in rows:
            yield key, body
        if len(rows) < _PAGE:
            return
        after = rows[-1][0]


def _contract(body: JSONValue | None) -> Contract | None:
    return Contract.from_json(body) if isinstance(body, dict) else None


def load_contract(ledger: Ledger, contract_id: str) -> Contract | None:
    """The contract ``contract_id`` as the projection holds it, or None."""
    with ledger.store.read() as tx:
        found = tx.document(CONTRACTS, contract_id)
    return None if found is None else _contract(found[1])


def load_contracts(ledger: Ledger) -> dict[str, Contract]:
    """Every contract, by id."""
    with ledger.store.read() as tx:
        bodies = list(_scan(tx, CONTRACTS))
    found = {}
    for key, body in bodies:
        contract = _contract(body)
        if contract is not None:
            found[key] = contract
    return found


@dataclass(frozen=True, slots=True)
class ContractPage:
    """Contracts in id order; ``next`` is the last id of this page when more follow."""

    contracts: tuple[Contract, ...]
    next: str | None


def contracts_page(
    ledger: Ledger, *, party: str | None = None, after: str | None = None, limit: int = 100
) -> ContractPage:
    """Contracts with an id after ``after``, at most ``limit``; only those naming ``party``
    as a party (in any version) when it is given."""
    with ledger.store.read() as tx:
        if party is None:
            rows = tx.documents(CONTRACTS, after=after, limit=limit + 1)
            bodies = [body for _key, _seq, body in rows]
        else:
            prefix = f"by-party/{party}/"
            rows = tx.documents(
                CONTRACT_PARTIES,
                prefix,
                after=None if after is None else prefix + after,
                limit=limit + 1,
            )
            bodies = []
            for key, _seq, _index in rows:
                found = tx.document(CONTRACTS, key[len(prefix) :])
                bodies.append(None if found is None else found[1])
    contracts = [c for c in (_contract(body) for body in bodies) if c is not None]
    more = len(rows) > limit
    page = tuple(contracts[:limit])
    return ContractPage(page, page[-1].contract_id if more and page else None)


def contract_obligations(ledger: Ledger, contract_id: str) -> list[Obligation]:
    """The obligations of ``contract_id``, in id order."""
    with ledger.store.read() as tx:
        bodies = list(_scan(tx, OBLIGATIONS, f"{contract_id}/"))
    return [
        obligation
        for obligation in (
            Obligation.from_json(body) for _k, body in bodies if isinstance(body, dict)
        )
        if obligation.contract_id == contract_id
    ]


def recorded_statements(ledger: Ledger, contract_id: str, period: str) -> list[Entry]:
    """Every ``settlement.statement`` recorded for ``contract_id`` and ``period`` (the one in
    force last), in seq order; empty if none was recorded."""
    with ledger.store.read() as tx:
        found = tx.document(SETTLEMENTS, f"{contract_id}/{period}")
        if found is None or not isinstance(found[1], dict):
            return []
        ref = SettlementRef.from_json(found[1])
        stored = [tx.record(seq) for seq in ref.history]
    entries = [Entry.from_leaf(record.leaf) for record in stored if record is not None]
    return [entry for entry in entries if entry.kind == Kind.SETTLEMENT]


def ledger_payments_audit(ledger: Ledger, as_of: date) -> PaymentsAudit:
    """``contracts.audit.payments_audit`` of every obligation, from the projection."""
    contracts = load_contracts(ledger)
    with ledger.store.read() as tx:
        bodies = list(_scan(tx, OBLIGATIONS))
    obligations = [Obligation.from_json(body) for _k, body in bodies if isinstance(body, dict)]
    with paused_gc():
        return payments_audit_of(contracts, obligations, as_of)


def _sale(body: JSONValue) -> SaleFact | None:
    if not isinstance(body, dict):
        return None
    revenue = body.get("revenue")
    if not isinstance(revenue, dict):
        return None
    return SaleFact(
        int(str(body["seq"])),
        str(body["seller"]),
        str(body["period"]),
        Money.parse(str(revenue["amount"]), str(revenue["currency"])),
    )


def ledger_fairness_report(ledger: Ledger, *, period: str | None = None) -> FairnessReport:
    """``contracts.audit.fairness_report`` from the projection: contracts, the statement in
    force per contract and month, and the projection's fairness summaries of those statements
    and of the month's sales (``contracts.projection``); a statement is decoded only when its
    summary is missing or stale. A ledger whose projection predates the summaries is reported
    from the statements and sale documents (``reference_fairness_report``)."""
    contracts = load_contracts(ledger)
    with ledger.store.read() as tx:
        layout = tx.document(FAIRNESS, FAIRNESS_LAYOUT)
        if (
            layout is None
            or not isinstance(layout[1], dict)
            or layout[1].get("complete") is not True
        ):
            return _reference_fairness(tx, contracts, period)
        refs = _settlements(tx, period)
        kept: dict[str, JSONValue] = dict(_scan(tx, FAIRNESS, "statement/"))
        summaries: dict[tuple[str, str], StatementSummary | None] = {}
        for key, ref in refs.items():
            contract = contracts.get(ref.contract_id)
            version = None if contract is None else contract.in_force_during(ref.period)
            if contract is None or version is None:
                continue  # skipped by the report whatever the statement says
            body = kept.get(statement_summary_key(*key))
            found = StatementSummary.from_json(body) if isinstance(body, dict) else None
            if found is None or found.seq != ref.seq or not found.fits(version):
                recorded = _statement_body(tx, ref.seq)
                found = (
                    None
                    if recorded is None
                    else summarise_statement(contract, ref.period, ref.seq, recorded)
                )
            summaries[key] = found
        sales_prefix = "sales/" if period is None else f"sales/{period}/"
        totals = [
            total
            for _key, body in _scan(tx, FAIRNESS, sales_prefix)
            for total in _sales_totals(body)
        ]
    with paused_gc():
        return fairness_from_summaries(
            contracts,
            refs,
            lambda _contract, stated, ref: summaries.get((ref.contract_id, stated)),
            totals,
            period=period,
        )


def reference_fairness_report(ledger: Ledger, *, period: str | None = None) -> FairnessReport:
    """The fairness report computed from the statements' records and the sale documents,
    never from the fairness summaries: what ``ledger_fairness_report`` must equal."""
    contracts = load_contracts(ledger)
    with ledger.store.read() as tx:
        return _reference_fairness(tx, contracts, period)


def _settlements(tx: Reader, period: str | None) -> dict[tuple[str, str], SettlementRef]:
    refs: dict[tuple[str, str], SettlementRef] = {}
    for _key, body in _scan(tx, SETTLEMENTS):
        if isinstance(body, dict):
            ref = SettlementRef.from_json(body)
            if period is None or ref.period == period:
                refs[(ref.contract_id, ref.period)] = ref
    return refs


def _statement_body(tx: Reader, seq: int) -> JSONObject | None:
    stored = tx.record(seq)
    if stored is None:
        return None
    entry = Entry.from_leaf(stored.leaf)
    return entry.body if entry.kind == Kind.SETTLEMENT else None


def _sales_totals(body: JSONValue) -> list[SalesTotal]:
    if not isinstance(body, dict) or not isinstance(body.get("currencies"), dict):
        return []
    seller, period = str(body["seller"]), str(body["period"])
    totals = []
    for code, total in body["currencies"].items():  # type: ignore[union-attr]
        if isinstance(total, dict) and isinstance(total.get("seqs"), list):
            seqs = tuple(int(str(seq)) for seq in total["seqs"])  # type: ignore[union-attr]
            totals.append(SalesTotal(seller, period, code, int(str(total["revenue"])), seqs))
    return totals


def _reference_fairness(
    tx: Reader, contracts: dict[str, Contract], period: str | None
) -> FairnessReport:
    refs = _settlements(tx, period)
    bodies: dict[int, JSONObject] = {}
    for ref in refs.values():
        recorded = _statement_body(tx, ref.seq)
        if recorded is not None:
            bodies[ref.seq] = recorded
    prefix = "by-period/" if period is None else f"by-period/{period}/"
    sold = [sale for _k, body in _scan(tx, SALES, prefix) if (sale := _sale(body)) is not None]
    with paused_gc():
        return fairness_of(contracts, refs, bodies.get, sold, period=period)
