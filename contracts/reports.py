"""Contracts, statements, payments audit and fairness read from the contract projection.

The contract projection (``contracts.projection``) keeps contracts, obligations, the statement
in force per contract and month, and sale reports as documents, updated in the same
transaction as each append. Everything here reads those documents (and, for recorded
statements, the records they name) in one read transaction, so its cost grows with the number
of contracts, obligations, statements and sales, never with the size of the ledger: a
ledger of a million trace events answers as quickly as one of a thousand. The audits are the
same functions as the record-replaying ones (``contracts.audit.payments_audit_of`` and
``fairness_of``), so both paths agree by construction.
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
    fairness_of,
    payments_audit_of,
)
from contracts.entries import Entry, paused_gc
from contracts.lifecycle import Contract
from contracts.money import Money
from contracts.obligations import Obligation, SettlementRef
from contracts.projection import CONTRACT_PARTIES, CONTRACTS, OBLIGATIONS, SALES, SETTLEMENTS
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
    force per contract and month (and its record), and the month's sale reports."""
    contracts = load_contracts(ledger)
    with ledger.store.read() as tx:
        refs: dict[tuple[str, str], SettlementRef] = {}
        for _key, body in _scan(tx, SETTLEMENTS):
            if isinstance(body, dict):
                ref = SettlementRef.from_json(body)
                if period is None or ref.period == period:
                    refs[(ref.contract_id, ref.period)] = ref
        bodies: dict[int, JSONObject] = {}
        for ref in refs.values():
            stored = tx.record(ref.seq)
            if stored is not None:
                entry = Entry.from_leaf(stored.leaf)
                if entry.kind == Kind.SETTLEMENT:
                    bodies[ref.seq] = entry.body
        prefix = "by-period/" if period is None else f"by-period/{period}/"
        sold = [sale for _k, body in _scan(tx, SALES, prefix) if (sale := _sale(body)) is not None]
    with paused_gc():
        return fairness_of(contracts, refs, bodies.get, sold, period=period)
