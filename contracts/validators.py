"""Body validators of the contract, sale, settlement and payment kinds (``BodyValidator``).

Register them with the ledger: ``Ledger(..., validators=CONTRACT_VALIDATORS,
projections=[ContractProjection()])``. They check what a body means on its own and against
the participants (``LedgerState``): formats (``contracts.bodies``), terms
(``contracts.terms.parse_terms``; every problem named by its field), and that the parties a
proposal names are registered with the roles it gives them. What needs the ledger's history
(the proposal exists, the payer owes the obligation...) is checked by
``contracts.projection.ContractProjection``. Every refusal raises before anything is written.
"""

from __future__ import annotations

from datetime import date

from contracts.bodies import (
    ContractAcceptBody,
    ContractTerminateBody,
    PaymentConfirmBody,
    PaymentSentBody,
    SaleReportBody,
    SettlementStatementBody,
    parse_body,
)
from contracts.errors import MalformedContractStatementError, NotAPartyError
from contracts.lifecycle import parse_propose
from ledger.state import BodyValidator, Kind, LedgerState, Role
from ledger.statement import Statement

__all__ = ["CONTRACT_VALIDATORS"]


def _propose(state: LedgerState, seq: int, statement: Statement) -> None:
    _, terms = parse_propose(statement.body)
    for index, party in enumerate(terms.parties):
        where = f"statement.body.terms.parties.{index}"
        registered = state.participants.get(party.id)
        if registered is None:
            raise NotAPartyError(
                f"party {party.id} of contract {terms.contract_id} is not a registered participant",
                field=f"{where}.id",
            )
        missing = sorted(role for role in party.roles if Role(role) not in registered.roles)
        if missing:
            raise NotAPartyError(
                f"party {party.id} has the role(s) {', '.join(missing)} in the terms but is "
                f"registered as {', '.join(sorted(registered.roles))}",
                field=f"{where}.roles",
            )
    author = next((p for p in terms.parties if p.id == statement.author), None)
    if author is None or not {"buyer", "supplier"} & set(author.roles):
        raise NotAPartyError(
            f"{statement.author} may propose contract {terms.contract_id} only as one of its "
            "buyers or suppliers",
            field="statement.author",
        )


def _not_after_issue(statement: Statement, name: str, day: date | None) -> None:
    issued = statement.issued_at.date()
    if day is not None and day > issued:
        raise MalformedContractStatementError(
            f"{statement.kind} body.{name} {day} is after the statement was issued ({issued})",
            field=f"statement.body.{name}",
        )


def _sent(state: LedgerState, seq: int, statement: Statement) -> None:
    body = parse_body(PaymentSentBody, Kind.PAYMENT_SENT, statement.body)
    _not_after_issue(statement, "sent_on", body.sent_on)


def _confirm(state: LedgerState, seq: int, statement: Statement) -> None:
    body = parse_body(PaymentConfirmBody, Kind.PAYMENT_CONFIRM, statement.body)
    _not_after_issue(statement, "received_on", body.received_on)


def _parsed(kind: Kind, model: type[object]) -> BodyValidator:
    def validate(state: LedgerState, seq: int, statement: Statement) -> None:
        parse_body(model, kind, statement.body)  # type: ignore[type-var]

    return validate


#: Validators by kind, for ``Ledger(validators=...)``.
CONTRACT_VALIDATORS: dict[str, BodyValidator] = {
    Kind.CONTRACT_PROPOSE: _propose,
    Kind.CONTRACT_ACCEPT: _parsed(Kind.CONTRACT_ACCEPT, ContractAcceptBody),
    Kind.CONTRACT_TERMINATE: _parsed(Kind.CONTRACT_TERMINATE, ContractTerminateBody),
    Kind.SALE_REPORT: _parsed(Kind.SALE_REPORT, SaleReportBody),
    Kind.SETTLEMENT: _parsed(Kind.SETTLEMENT, SettlementStatementBody),
    Kind.PAYMENT_SENT: _sent,
    Kind.PAYMENT_CONFIRM: _confirm,
}
