"""Commercial reads: contracts, their settlement statements, the payments audit, fairness.

Every path needs an RFC 9421 HTTP Message Signature by a registered, active participant key
(``api.auth.SignedParticipant``); missing, invalid, stale or replayed signatures and unknown
or retired keys are answered with the ``request-*`` problems (401). What a signer sees:

* the **operator** and **auditors** see every contract, statement and audit row;
* a **party** of a contract (named in any version of its terms) sees that contract and its
  statements; to anyone else the contract does not exist: ``GET /v1/contracts/{id}`` and its
  settlements answer 404 ``not-found`` exactly as for an id never proposed, and
  ``GET /v1/contracts`` leaves it out;
* ``GET /v1/audit/payments`` for any other participant shows only the obligations it owes or
  is owed (and the per-party rows and payment practice of that participant); asking for
  another participant's rows (``participant=``) is 403 ``forbidden``;
* ``GET /v1/audit/fairness`` for any other participant covers the contracts it is a party
  to; in the value distribution it sees its own value and share and the Gini coefficient
  (an aggregate), not the other participants' values. ``participant=`` another id is 403.

Everything is read from the contract projection (``contracts.reports``), in time that grows
with the contracts, obligations, statements and sales concerned, not with the ledger.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.auth import SignedParticipant, Signer
from api.problems import ForbiddenError, NotFoundError, problem_responses
from api.routes.deps import LedgerDep, NowDep
from api.schemas import json_example
from api.schemas_contracts import (
    EXAMPLE_CONTRACT,
    EXAMPLE_CONTRACTS,
    EXAMPLE_FAIRNESS,
    EXAMPLE_PAYMENTS_AUDIT,
    EXAMPLE_SETTLEMENTS,
    ContractList,
    ContractPublic,
    ContractSummary,
    FairnessPublic,
    ObligationPublic,
    PartyRoles,
    PaymentsAuditPublic,
    SettlementList,
    SettlementRecord,
)
from contracts.audit import payments_audit_of
from contracts.lifecycle import Contract
from contracts.obligations import obligation_state
from contracts.reports import (
    contract_obligations,
    contracts_page,
    ledger_fairness_report,
    load_contract,
    load_contracts,
    recorded_statements,
)
from contracts.settlement import statement_hash
from ledger.canonical import JSONValue
from ledger.log import Ledger
from ledger.state import Role

router = APIRouter(tags=["contracts"])

MAX_PAGE = 1000
_ID = r"^[a-z0-9][a-z0-9._-]{1,62}$"
_PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
ContractIdPath = Annotated[str, Path(pattern=_ID, max_length=63, examples=["roastery-nord-2026"])]
CursorQuery = Annotated[
    str | None,
    Query(
        pattern=_ID,
        max_length=63,
        description="Last contract id of the page before",
        examples=["roastery-nord-2026"],
    ),
]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description="Contracts per page (1..1000)", examples=[100])
]
PeriodQuery = Annotated[
    str, Query(pattern=_PERIOD, description="Month, YYYY-MM", examples=["2026-07"])
]
OptionalPeriod = Annotated[
    str | None, Query(pattern=_PERIOD, description="Only this month, YYYY-MM", examples=["2026-07"])
]
ParticipantQuery = Annotated[
    str | None,
    Query(
        pattern=_ID,
        max_length=63,
        description="Only this participant's rows",
        examples=["finca-aurora"],
    ),
]
AsOfQuery = Annotated[
    date | None,
    Query(description="Day to audit on, YYYY-MM-DD [default: today, UTC]", examples=["2026-09-30"]),
]

_SIGNED = (
    "request-signature-missing",
    "request-signature-invalid",
    "request-signature-stale",
    "request-signature-replayed",
    "request-key-unknown",
    "request-key-not-active",
)


def _privileged(signer: Signer) -> bool:
    return bool(signer.roles & {Role.AUDITOR, Role.OPERATOR})


def _visible(signer: Signer, contract: Contract) -> bool:
    return _privileged(signer) or signer.participant in contract.parties()


def _summary(contract: Contract) -> dict[str, object]:
    doc = contract.to_json()
    return {
        "contract_id": contract.contract_id,
        "status": doc["status"],
        "binding_version": doc["binding_version"],
        "latest_version": doc["latest_version"],
        "parties": [
            PartyRoles(party=party, roles=list(roles))
            for party, roles in sorted(contract.parties().items())
        ],
    }


def _readable(ledger: Ledger, signer: Signer, contract_id: str) -> Contract:
    contract = load_contract(ledger, contract_id)
    if contract is None or not _visible(signer, contract):
        raise NotFoundError(f"no contract {contract_id}", field="path.id")
    return contract


def _own_rows(signer: Signer, participant: str | None) -> str | None:
    """The participant whose rows to show (None: everyone's)."""
    if _privileged(signer):
        return participant
    if participant is not None and participant != signer.participant:
        raise ForbiddenError(
            f"{signer.participant} may read only its own rows, not {participant}'s; auditors "
            "and the operator may read everyone's"
        )
    return signer.participant


@router.get(
    "/v1/contracts",
    response_model=ContractList,
    responses={
        200: json_example(EXAMPLE_CONTRACTS, "A page of the contracts the signer may see"),
        **problem_responses("invalid-request", *_SIGNED),
    },
)
def list_contracts(
    ledger: LedgerDep,
    signer: SignedParticipant,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> ContractList:
    """Contracts in id order (parties see theirs; auditors and the operator all)."""
    party = None if _privileged(signer) else signer.participant
    page = contracts_page(ledger, party=party, after=cursor, limit=limit)
    return ContractList(
        contracts=[ContractSummary.model_validate(_summary(c)) for c in page.contracts],
        next=page.next,
    )


@router.get(
    "/v1/contracts/{id}",
    response_model=ContractPublic,
    responses={
        200: json_example(EXAMPLE_CONTRACT, "The contract"),
        **problem_responses("invalid-request", *_SIGNED, "not-found"),
    },
)
def get_contract(
    id: ContractIdPath, ledger: LedgerDep, signer: SignedParticipant, now: NowDep
) -> ContractPublic:
    """One contract: terms versions, acceptances, state, obligations (404 to non-parties)."""
    contract = _readable(ledger, signer, id)
    today = now.date()
    obligations = [
        ObligationPublic.model_validate({**o.to_json(), "state": obligation_state(o, today).value})
        for o in contract_obligations(ledger, id)
    ]
    doc = contract.to_json()
    return ContractPublic.model_validate(
        {
            **_summary(contract),
            "versions": doc["versions"],
            "termination": doc["termination"],
            "mutual_termination": doc["mutual_termination"],
            "obligations": obligations,
        }
    )


@router.get(
    "/v1/contracts/{id}/settlements",
    response_model=SettlementList,
    responses={
        200: json_example(EXAMPLE_SETTLEMENTS, "The statements recorded for the month"),
        **problem_responses("invalid-request", *_SIGNED, "not-found"),
    },
)
def list_settlements(
    id: ContractIdPath, period: PeriodQuery, ledger: LedgerDep, signer: SignedParticipant
) -> SettlementList:
    """The settlement statements recorded for one month, with their seqs (404 to non-parties)."""
    _readable(ledger, signer, id)
    entries = recorded_statements(ledger, id, period)
    return SettlementList(
        contract_id=id,
        period=period,
        in_force_seq=entries[-1].seq if entries else None,
        statements=[
            SettlementRecord(
                seq=entry.seq,
                recorded_at=entry.recorded_at,
                statement_hash=statement_hash(entry.body),
                statement=entry.body,
            )
            for entry in entries
        ],
    )


def _payments(
    ledger: Ledger, as_of: date, period: str | None, participant: str | None
) -> PaymentsAuditPublic:
    contracts = load_contracts(ledger)
    obligations = [
        o
        for cid in sorted(contracts)
        for o in contract_obligations(ledger, cid)
        if (period is None or o.period == period)
        and (participant is None or participant in (o.payer, o.payee))
    ]
    audit = payments_audit_of(contracts, obligations, as_of)
    doc = audit.to_json()
    if participant is not None:
        doc["parties"] = [p.to_json() for p in audit.parties if p.party == participant]
        doc["practices"] = [p.to_json() for p in audit.practices if p.payer == participant]
    return PaymentsAuditPublic.model_validate(doc)


@router.get(
    "/v1/audit/payments",
    response_model=PaymentsAuditPublic,
    responses={
        200: json_example(EXAMPLE_PAYMENTS_AUDIT, "The payments audit"),
        **problem_responses("invalid-request", *_SIGNED, "forbidden"),
    },
)
async def payments_audit(
    ledger: LedgerDep,
    signer: SignedParticipant,
    now: NowDep,
    period: OptionalPeriod = None,
    participant: ParticipantQuery = None,
    as_of: AsOfQuery = None,
) -> PaymentsAuditPublic:
    """Owed, paid, days late, interest per obligation and party; payment practices
    (a participant other than an auditor or the operator sees only its own rows)."""
    who = _own_rows(signer, participant)
    day = as_of or now.date()
    return await run_in_threadpool(_payments, ledger, day, period, who)


def _fairness(ledger: Ledger, period: str | None, participant: str | None) -> FairnessPublic:
    report = ledger_fairness_report(ledger, period=period)
    doc = report.to_json()
    if participant is not None:
        contracts = load_contracts(ledger)
        theirs = {cid for cid, c in contracts.items() if participant in c.parties()}
        doc["producer_shares"] = [
            s.to_json() for s in report.producer_shares if s.contract_id in theirs
        ]
        doc["floor_findings"] = [
            f.to_json() for f in report.floor_findings if f.contract_id in theirs
        ]
        rows: list[JSONValue] = []
        for distribution in report.distributions:
            row = distribution.to_json()  # shares and Gini of the whole distribution
            everyone = row["participants"]
            assert isinstance(everyone, list)
            row["participants"] = [
                p for p in everyone if isinstance(p, dict) and p.get("party") == participant
            ]
            rows.append(row)
        doc["value_distribution"] = rows
    return FairnessPublic.model_validate(doc)


@router.get(
    "/v1/audit/fairness",
    response_model=FairnessPublic,
    responses={
        200: json_example(EXAMPLE_FAIRNESS, "The fairness report"),
        **problem_responses("invalid-request", *_SIGNED, "forbidden"),
    },
)
async def fairness(
    ledger: LedgerDep,
    signer: SignedParticipant,
    period: OptionalPeriod = None,
    participant: ParticipantQuery = None,
) -> FairnessPublic:
    """Producer share of end revenue, value distribution (Gini), floor findings
    (a participant other than an auditor or the operator sees its own contracts and value)."""
    who = _own_rows(signer, participant)
    return await run_in_threadpool(_fairness, ledger, period, who)
