"""Response shapes of the commercial reads (``GET /v1/contracts...``, ``GET /v1/audit/...``),
with the OpenAPI example of each.

The nested documents (terms, statement bodies, audit rows) are the contract engine's own JSON
(``Contract.to_json``, the ``settlement.statement`` body, ``PaymentsAudit.to_json``,
``FairnessReport.to_json``): they are described field by field in ``contracts/`` and passed
through unchanged, so a client can recompute a statement's hash from what it receives.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EXAMPLE_CONTRACT",
    "EXAMPLE_CONTRACTS",
    "EXAMPLE_FAIRNESS",
    "EXAMPLE_PAYMENTS_AUDIT",
    "EXAMPLE_SETTLEMENTS",
    "ContractList",
    "ContractPublic",
    "ContractSummary",
    "FairnessPublic",
    "ObligationPublic",
    "PartyRoles",
    "PaymentsAuditPublic",
    "SettlementList",
    "SettlementRecord",
]

_CONTRACT_ID = "roastery-nord-2026"
_BUYER, _FARM = "roastery-nord", "finca-aurora"
_OBLIGATION = f"{_CONTRACT_ID}/2026-07/{_BUYER}/{_FARM}"

EXAMPLE_SUMMARY: dict[str, Any] = {
    "contract_id": _CONTRACT_ID,
    "status": "active",
    "binding_version": 1,
    "latest_version": 1,
    "parties": [
        {"party": _FARM, "roles": ["supplier"]},
        {"party": _BUYER, "roles": ["buyer"]},
    ],
}
EXAMPLE_CONTRACTS: dict[str, Any] = {"contracts": [EXAMPLE_SUMMARY], "next": None}

EXAMPLE_OBLIGATION: dict[str, Any] = {
    "id": _OBLIGATION,
    "contract_id": _CONTRACT_ID,
    "period": "2026-07",
    "kind": "principal",
    "payer": _BUYER,
    "payee": _FARM,
    "amount": {"amount": "420.00", "currency": "EUR"},
    "issued_on": "2026-07-31",
    "due_on": "2026-08-30",
    "early_payment": {"by": "2026-08-10", "amount": "411.60"},
    "version": 1,
    "statement_seq": 14,
    "payments": [
        {
            "seq": 15,
            "amount": "420.00",
            "sent_on": "2026-09-14",
            "status": "received",
            "received_on": "2026-09-15",
            "confirm_seq": 16,
        }
    ],
    "waived_seq": None,
    "waived_reason": None,
    "cancelled_seq": None,
    "settled": "paid",
    "paid": "420.00",
    "paid_on": "2026-09-15",
    "state": "paid",
}

EXAMPLE_CONTRACT: dict[str, Any] = {
    **EXAMPLE_SUMMARY,
    "versions": [
        {
            "version": 1,
            "terms_hash": "5d1b0c6f2f8e4a7b9c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b",
            "terms": {"version": 1, "contract_id": _CONTRACT_ID, "currency": "EUR"},
            "proposed_by": _BUYER,
            "proposed_seq": 8,
            "obligated": [_BUYER, _FARM],
            "accepted": [{"party": _BUYER, "seq": 9}, {"party": _FARM, "seq": 10}],
            "status": "binding",
            "binding_seq": 10,
            "ended_seq": None,
        }
    ],
    "termination": None,
    "mutual_termination": [],
    "obligations": [EXAMPLE_OBLIGATION],
}

EXAMPLE_STATEMENT_BODY: dict[str, Any] = {
    "format": "fairledger.settlement.v1",
    "contract_id": _CONTRACT_ID,
    "period": "2026-07",
    "as_of_seq": 13,
    "issued_on": "2026-07-31",
    "currency": "EUR",
    "terms": [{"version": 1, "terms_hash": "5d1b0c6f…", "binding_seq": 10}],
    "market_prices": [],
    "deliveries": [
        {
            "delivery": "12:https://id.gs1.org/01/07612345000022/10/B-1",
            "supplier": _FARM,
            "buyer": _BUYER,
            "net": "420.00",
            "seqs": [11, 12],
        }
    ],
    "unpriced": [],
    "revenue_shares": [],
    "charges": [],
    "obligations": [
        {
            "id": _OBLIGATION,
            "kind": "principal",
            "payer": _BUYER,
            "payee": _FARM,
            "amount": "420.00",
            "issued_on": "2026-07-31",
            "due_on": "2026-08-30",
            "early_payment": {"by": "2026-08-10", "amount": "411.60"},
            "version": 1,
        }
    ],
}
EXAMPLE_SETTLEMENTS: dict[str, Any] = {
    "contract_id": _CONTRACT_ID,
    "period": "2026-07",
    "in_force_seq": 14,
    "statements": [
        {
            "seq": 14,
            "recorded_at": "2026-08-01T06:00:00.000000Z",
            "statement_hash": "0c9a7e5b3d1f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c",
            "statement": EXAMPLE_STATEMENT_BODY,
        }
    ],
}

EXAMPLE_PAYMENTS_AUDIT: dict[str, Any] = {
    "as_of": "2026-09-30",
    "obligations": [
        {
            "obligation": _OBLIGATION,
            "contract_id": _CONTRACT_ID,
            "period": "2026-07",
            "kind": "principal",
            "payer": _BUYER,
            "payee": _FARM,
            "currency": "EUR",
            "owed": "420.00",
            "paid": "420.00",
            "outstanding": "0.00",
            "state": "paid",
            "issued_on": "2026-07-31",
            "due_on": "2026-08-30",
            "days_late": 16,
            "interest": "1.88",
            "compensation": "40.00",
            "seqs": [14, 15, 16],
        }
    ],
    "parties": [
        {
            "party": _FARM,
            "period": "2026-07",
            "role": "payee",
            "currency": "EUR",
            "obligations": 1,
            "owed": "420.00",
            "paid": "420.00",
            "outstanding": "0.00",
            "late": 1,
            "max_days_late": 16,
            "interest": "1.88",
            "compensation": "40.00",
        }
    ],
    "practices": [
        {
            "payer": _BUYER,
            "invoices": 1,
            "paid": 1,
            "average_days_to_pay": {"exact": "46", "decimal": "46.000000"},
            "within_30_days": {"exact": "0", "decimal": "0.000000"},
            "within_31_to_60_days": {"exact": "1", "decimal": "1.000000"},
            "later": {"exact": "0", "decimal": "0.000000"},
            "paid_after_due_date": {"exact": "1", "decimal": "1.000000"},
            "overdue_unpaid": 0,
        }
    ],
}

EXAMPLE_FAIRNESS: dict[str, Any] = {
    "producer_shares": [
        {
            "contract_id": _CONTRACT_ID,
            "period": "2026-07",
            "producers": [_FARM],
            "currency": "EUR",
            "end_revenue": "2100.00",
            "producer_goods": "420.00",
            "producer_revenue_share": "42.00",
            "share": {"exact": "11/50", "decimal": "0.220000"},
            "seqs": [13, 14],
        }
    ],
    "value_distribution": [
        {
            "period": "2026-07",
            "currency": "EUR",
            "participants": [
                {
                    "party": _FARM,
                    "value": "462.00",
                    "share": {"exact": "11/50", "decimal": "0.220000"},
                },
                {
                    "party": _BUYER,
                    "value": "1638.00",
                    "share": {"exact": "39/50", "decimal": "0.780000"},
                },
            ],
            "gini": {"exact": "14/25", "decimal": "0.560000"},
        }
    ],
    "floor_findings": [],
}


def _examples(value: object) -> dict[str, Any]:
    return {"examples": [value]}


class PartyRoles(BaseModel):
    """A party of a contract and its roles in the latest version naming it."""

    party: str
    roles: list[str]


class ContractSummary(BaseModel):
    """One contract in a list: its state and parties."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_SUMMARY))

    contract_id: str
    status: str = Field(description="proposed, active or terminated")
    binding_version: int | None
    latest_version: int
    parties: list[PartyRoles]


class ContractList(BaseModel):
    """A page of contracts in id order; ``next`` is the cursor of the following page."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_CONTRACTS))

    contracts: list[ContractSummary]
    next: str | None


class ObligationPublic(BaseModel):
    """An obligation as the projection holds it (``Obligation.to_json``), with its ``state``
    (pending, due, paid, late, disputed, waived) on the day of the request."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_examples(EXAMPLE_OBLIGATION))

    id: str
    contract_id: str
    period: str
    kind: str
    payer: str
    payee: str
    amount: dict[str, Any]
    issued_on: str
    due_on: str
    settled: str
    paid: str
    state: str


class ContractPublic(ContractSummary):
    """A contract: every terms version with its hash and acceptances, its state, any
    termination, and its obligations."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_CONTRACT))

    versions: list[dict[str, Any]] = Field(
        description="Each version: terms, terms_hash, proposed_by, obligated parties, "
        "accepted (party and seq of each acceptance), status, binding_seq"
    )
    termination: dict[str, Any] | None
    mutual_termination: list[dict[str, Any]]
    obligations: list[ObligationPublic]


class SettlementRecord(BaseModel):
    """One recorded ``settlement.statement``: its seq, when it was recorded, the SHA-256 of
    its canonical body and the body itself (``fairledger.settlement.v1``)."""

    seq: int
    recorded_at: str
    statement_hash: str
    statement: dict[str, Any]


class SettlementList(BaseModel):
    """The statements recorded for one contract and month, oldest first; ``in_force_seq``
    is the one in force (the last recorded), null if none was."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_SETTLEMENTS))

    contract_id: str
    period: str
    in_force_seq: int | None
    statements: list[SettlementRecord]


class PaymentsAuditPublic(BaseModel):
    """Owed, paid, outstanding, days late, interest and compensation per obligation and per
    participant and month, and each buyer's payment practice (``PaymentsAudit.to_json``)."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_PAYMENTS_AUDIT))

    as_of: str
    obligations: list[dict[str, Any]]
    parties: list[dict[str, Any]]
    practices: list[dict[str, Any]]


class FairnessPublic(BaseModel):
    """Producer share of end revenue, value distribution with its Gini coefficient, and
    floor findings (``FairnessReport.to_json``)."""

    model_config = ConfigDict(json_schema_extra=_examples(EXAMPLE_FAIRNESS))

    producer_shares: list[dict[str, Any]]
    value_distribution: list[dict[str, Any]]
    floor_findings: list[dict[str, Any]]
