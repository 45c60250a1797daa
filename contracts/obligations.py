"""Obligations and payments: who owes whom what, by when, and what has been paid.

Obligations are first-class (DESIGN §5). They come into existence when the operator records a
``settlement.statement``: each of its ``obligations`` (one per pair of parties per period for
goods and revenue share, one more for late-payment charges) becomes an ``Obligation`` with an
amount, an issue date, a due date and, where the terms offer one, an early-payment price. A
later statement for the same contract and period replaces the earlier one: amounts follow the
newest statement and an obligation it no longer lists is *cancelled*.

Payments close them: the payer records ``payment.sent`` naming obligations and amounts; the
payee records ``payment.confirm`` with ``received`` (and the day the money arrived),
``disputed`` (the payment did not arrive as stated) or ``waived`` (for an obligation: the payee
gives up what is still owed). Only received payments count as paid, on their ``received_on``
day (Directive 2011/7/EU counts lateness until the creditor has the money).

States, as of a day ``on`` (``obligation_state``), first that applies::

    waived      the payee waived it (or a newer statement cancelled it)
    paid        received payments up to ``on`` cover the amount due (the early-payment price
                if it was paid in full by its deadline)
    disputed    a payment against it is disputed and it is not paid
    late        ``on`` is after the due date
    due         issued on or before ``on``: payable now
    pending     not issued yet (a statement recorded before its ``issued_on``)

``ObligationBook`` applies ``settlement.statement`` and ``payment.*`` records to obligations
held in any store; ``contracts.projection`` keeps them as documents, settlement and the
audits replay them from records. Either way the same function judges every record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Literal, Protocol

from contracts.bodies import (
    OBLIGATION_ID,
    PaymentConfirmBody,
    PaymentSentBody,
    StatementHeader,
    parse_body,
)
from contracts.entries import Entry
from contracts.errors import (
    ContractError,
    ContractStateError,
    MalformedContractStatementError,
    NotAPartyError,
    PaymentRefusedError,
    UnknownContractError,
    UnknownObligationError,
)
from contracts.facts import Invoice, Payment
from contracts.money import Currency, Money
from ledger.canonical import JSONObject, JSONValue
from ledger.state import Kind

__all__ = [
    "OBLIGATION_KINDS",
    "Changes",
    "Obligation",
    "ObligationBook",
    "ObligationState",
    "ObligationStore",
    "PaymentRecord",
    "SentPayment",
    "SettlementRef",
    "obligation_state",
]

OBLIGATION_KINDS = frozenset({Kind.SETTLEMENT, Kind.PAYMENT_SENT, Kind.PAYMENT_CONFIRM})

PaymentStatus = Literal["sent", "received", "disputed"]


class ObligationState(StrEnum):
    PENDING = "pending"
    DUE = "due"
    PAID = "paid"
    LATE = "late"
    DISPUTED = "disputed"
    WAIVED = "waived"


def _money_json(money: Money) -> JSONObject:
    return {"amount": money.amount, "currency": money.currency.code}


def _money_from(data: JSONValue) -> Money:
    assert isinstance(data, dict)
    return Money.parse(str(data["amount"]), str(data["currency"]))


def _int(value: JSONValue) -> int:
    assert isinstance(value, int)
    return value


def _day(value: JSONValue) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """One payment's part against one obligation, with its confirmation so far."""

    seq: int
    amount: Money
    sent_on: date
    status: PaymentStatus = "sent"
    received_on: date | None = None
    confirm_seq: int | None = None

    def to_json(self) -> JSONObject:
        return {
            "seq": self.seq,
            "amount": self.amount.amount,
            "sent_on": self.sent_on.isoformat(),
            "status": self.status,
            "received_on": None if self.received_on is None else self.received_on.isoformat(),
            "confirm_seq": self.confirm_seq,
        }

    @classmethod
    def from_json(cls, data: JSONObject, currency: Currency) -> PaymentRecord:
        status = str(data["status"])
        assert status in ("sent", "received", "disputed")
        confirm = data["confirm_seq"]
        return cls(
            seq=_int(data["seq"]),
            amount=Money.parse(str(data["amount"]), currency),
            sent_on=date.fromisoformat(str(data["sent_on"])),
            status=status,  # type: ignore[arg-type]
            received_on=_day(data["received_on"]),
            confirm_seq=None if confirm is None else _int(confirm),
        )


@dataclass(frozen=True, slots=True)
class Obligation:
    """What ``payer`` owes ``payee`` under one statement line-up (see the module docstring).

    ``early_payment`` is ``(deadline, discounted amount)`` when the terms offer a discount.
    """

    id: str
    contract_id: str
    period: str
    kind: Literal["principal", "charges"]
    payer: str
    payee: str
    amount: Money
    issued_on: date
    due_on: date
    early_payment: tuple[date, Money] | None
    version: int
    statement_seq: int
    payments: tuple[PaymentRecord, ...] = ()
    waived_seq: int | None = None
    waived_reason: str | None = None
    cancelled_seq: int | None = None

    @property
    def closed(self) -> bool:
        """Waived or cancelled: nothing more can be paid or charged."""
        return self.waived_seq is not None or self.cancelled_seq is not None

    def received(self, on: date | None = None) -> list[PaymentRecord]:
        """Received payments (up to ``on``), by day then seq."""
        return sorted(
            (
                p
                for p in self.payments
                if p.status == "received"
                and p.received_on is not None
                and (on is None or p.received_on <= on)
            ),
            key=lambda p: (p.received_on, p.seq),
        )

    def paid(self, on: date | None = None) -> Money:
        return Money.total((p.amount for p in self.received(on)), self.amount.currency)

    def amount_due(self) -> Money:
        """The early-payment price if it was paid in full by its deadline, else the amount
        (the same test as ``contracts.rules.early_payment_discount``)."""
        if self.early_payment is not None:
            deadline, price = self.early_payment
            if self.paid(deadline) >= price:
                return price
        return self.amount

    def paid_on(self) -> date | None:
        """The day received payments first covered the amount due, if they have."""
        due = self.amount_due()
        total = Money.zero(self.amount.currency)
        for payment in self.received():
            total = total + payment.amount
            if total >= due:
                return payment.received_on
        return None

    def outstanding(self, on: date | None = None) -> Money:
        rest = self.amount_due() - self.paid(on)
        return rest if rest.minor > 0 else Money.zero(self.amount.currency)

    def days_late(self, on: date) -> int:
        """Whole days after the due date until paid (or until ``on`` while unpaid)."""
        settled = self.paid_on()
        end = settled if settled is not None and settled <= on else on
        return max(0, (end - self.due_on).days)

    def invoice(self) -> Invoice:
        """The rules' ``Invoice``: the amount, issue and due dates, received payments."""
        return Invoice(
            invoice_id=self.id,
            amount=self.amount,
            issued=self.issued_on,
            due=self.due_on,
            payments=tuple(
                Payment(p.received_on, p.amount) for p in self.received() if p.received_on
            ),
        )

    def seqs(self) -> tuple[int, ...]:
        """The records behind its current state: the statement, payments, confirmations."""
        found = {self.statement_seq}
        for payment in self.payments:
            found.add(payment.seq)
            if payment.confirm_seq is not None:
                found.add(payment.confirm_seq)
        if self.waived_seq is not None:
            found.add(self.waived_seq)
        return tuple(sorted(found))

    def settled(self) -> str:
        """The record-derived status: ``open``, ``paid``, ``disputed``, ``waived``,
        ``cancelled`` (time-dependent states come from ``obligation_state``)."""
        if self.cancelled_seq is not None:
            return "cancelled"
        if self.waived_seq is not None:
            return "waived"
        if self.paid_on() is not None:
            return "paid"
        if any(p.status == "disputed" for p in self.payments):
            return "disputed"
        return "open"

    def to_json(self) -> JSONObject:
        early = self.early_payment
        paid_on = self.paid_on()
        return {
            "id": self.id,
            "contract_id": self.contract_id,
            "period": self.period,
            "kind": self.kind,
            "payer": self.payer,
            "payee": self.payee,
            "amount": _money_json(self.amount),
            "issued_on": self.issued_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "early_payment": None
            if early is None
            else {"by": early[0].isoformat(), "amount": early[1].amount},
            "version": self.version,
            "statement_seq": self.statement_seq,
            "payments": [p.to_json() for p in self.payments],
            "waived_seq": self.waived_seq,
            "waived_reason": self.waived_reason,
            "cancelled_seq": self.cancelled_seq,
            "settled": self.settled(),
            "paid": self.paid().amount,
            "paid_on": None if paid_on is None else paid_on.isoformat(),
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> Obligation:
        amount = _money_from(data["amount"])
        early = data["early_payment"]
        payments = data["payments"]
        assert isinstance(payments, list)
        kind = str(data["kind"])
        assert kind in ("principal", "charges")
        waived, cancelled, reason = data["waived_seq"], data["cancelled_seq"], data["waived_reason"]
        return cls(
            id=str(data["id"]),
            contract_id=str(data["contract_id"]),
            period=str(data["period"]),
            kind=kind,  # type: ignore[arg-type]
            payer=str(data["payer"]),
            payee=str(data["payee"]),
            amount=amount,
            issued_on=date.fromisoformat(str(data["issued_on"])),
            due_on=date.fromisoformat(str(data["due_on"])),
            early_payment=None
            if not isinstance(early, dict)
            else (
                date.fromisoformat(str(early["by"])),
                Money.parse(str(early["amount"]), amount.currency),
            ),
            version=_int(data["version"]),
            statement_seq=_int(data["statement_seq"]),
            payments=tuple(
                PaymentRecord.from_json(p, amount.currency) for p in payments if isinstance(p, dict)
            ),
            waived_seq=None if waived is None else _int(waived),
            waived_reason=None if reason is None else str(reason),
            cancelled_seq=None if cancelled is None else _int(cancelled),
        )


def obligation_state(obligation: Obligation, on: date) -> ObligationState:
    """The state of ``obligation`` on day ``on`` (see the module docstring)."""
    if obligation.closed:
        return ObligationState.WAIVED
    paid = obligation.paid_on()
    if paid is not None and paid <= on:
        return ObligationState.PAID
    if any(p.status == "disputed" for p in obligation.payments):
        return ObligationState.DISPUTED
    if on > obligation.due_on:
        return ObligationState.LATE
    if on >= obligation.issued_on:
        return ObligationState.DUE
    return ObligationState.PENDING


@dataclass(frozen=True, slots=True)
class SentPayment:
    """A ``payment.sent`` record: its parts and where its confirmation stands."""

    seq: int
    payer: str
    payee: str
    currency: Currency
    parts: tuple[tuple[str, Money], ...]
    sent_on: date
    status: PaymentStatus = "sent"
    received_on: date | None = None
    confirm_seq: int | None = None
    reason: str | None = None

    def to_json(self) -> JSONObject:
        return {
            "seq": self.seq,
            "payer": self.payer,
            "payee": self.payee,
            "currency": self.currency.code,
            "parts": [{"obligation": oid, "amount": money.amount} for oid, money in self.parts],
            "sent_on": self.sent_on.isoformat(),
            "status": self.status,
            "received_on": None if self.received_on is None else self.received_on.isoformat(),
            "confirm_seq": self.confirm_seq,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> SentPayment:
        currency = Currency(str(data["currency"]))
        parts = data["parts"]
        assert isinstance(parts, list)
        status = str(data["status"])
        assert status in ("sent", "received", "disputed")
        confirm, reason = data["confirm_seq"], data["reason"]
        return cls(
            seq=_int(data["seq"]),
            payer=str(data["payer"]),
            payee=str(data["payee"]),
            currency=currency,
            parts=tuple(
                (str(p["obligation"]), Money.parse(str(p["amount"]), currency))
                for p in parts
                if isinstance(p, dict)
            ),
            sent_on=date.fromisoformat(str(data["sent_on"])),
            status=status,  # type: ignore[arg-type]
            received_on=_day(data["received_on"]),
            confirm_seq=None if confirm is None else _int(confirm),
            reason=None if reason is None else str(reason),
        )


@dataclass(frozen=True, slots=True)
class SettlementRef:
    """The statement currently in force for one contract and period: its record, the
    obligations it created and the charges it billed (``(obligation, kind, minor units)``)."""

    contract_id: str
    period: str
    seq: int
    as_of_seq: int
    issued_on: date
    obligations: tuple[str, ...]
    charges: tuple[tuple[str, str, int], ...]
    history: tuple[int, ...]

    def to_json(self) -> JSONObject:
        return {
            "contract_id": self.contract_id,
            "period": self.period,
            "seq": self.seq,
            "as_of_seq": self.as_of_seq,
            "issued_on": self.issued_on.isoformat(),
            "obligations": list(self.obligations),
            "charges": [
                {"obligation": oid, "kind": kind, "minor": minor}
                for oid, kind, minor in self.charges
            ],
            "history": list(self.history),
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> SettlementRef:
        obligations, charges, history = data["obligations"], data["charges"], data["history"]
        assert isinstance(obligations, list)
        assert isinstance(charges, list)
        assert isinstance(history, list)
        return cls(
            contract_id=str(data["contract_id"]),
            period=str(data["period"]),
            seq=_int(data["seq"]),
            as_of_seq=_int(data["as_of_seq"]),
            issued_on=date.fromisoformat(str(data["issued_on"])),
            obligations=tuple(str(o) for o in obligations),
            charges=tuple(
                (str(c["obligation"]), str(c["kind"]), _int(c["minor"]))
                for c in charges
                if isinstance(c, dict)
            ),
            history=tuple(_int(h) for h in history),
        )


class ObligationStore(Protocol):
    """Read access to obligations, payments, statements and contract parties."""

    def obligation(self, obligation_id: str) -> Obligation | None: ...

    def payment(self, seq: int) -> SentPayment | None: ...

    def settlement(self, contract_id: str, period: str) -> SettlementRef | None: ...

    def contract_parties(self, contract_id: str) -> frozenset[str] | None: ...


@dataclass
class Changes:
    """What one record changes; the caller writes it to its store."""

    obligations: list[Obligation] = field(default_factory=list)
    payments: list[SentPayment] = field(default_factory=list)
    settlements: list[SettlementRef] = field(default_factory=list)


# -- judging records -----------------------------------------------------------------------


def _statement(store: ObligationStore, entry: Entry) -> Changes:
    """A recorded ``settlement.statement``: create or update its obligations."""
    header = StatementHeader.read(entry.body)
    parties = store.contract_parties(header.contract_id)
    if parties is None:
        raise UnknownContractError(
            f"no contract {header.contract_id} has been proposed on this ledger",
            field="statement.body.contract_id",
        )
    if header.as_of_seq >= entry.seq:
        raise ContractStateError(
            f"a statement recorded at seq {entry.seq} can only settle records before it, "
            f"got as_of_seq {header.as_of_seq}",
            field="statement.body.as_of_seq",
        )
    for line in header.obligations:
        for party in (line.payer, line.payee):
            if party not in parties:
                raise NotAPartyError(
                    f"obligation {line.id}: {party} is not a party to contract "
                    f"{header.contract_id}",
                    field="statement.body.obligations",
                )
    changes = Changes()
    previous = store.settlement(header.contract_id, header.period)
    listed = {line.id for line in header.obligations}
    for line in header.obligations:
        existing = store.obligation(line.id)
        obligation = Obligation(
            id=line.id,
            contract_id=header.contract_id,
            period=header.period,
            kind=line.kind,
            payer=line.payer,
            payee=line.payee,
            amount=line.amount,
            issued_on=line.issued_on,
            due_on=line.due_on,
            early_payment=line.early_payment,
            version=line.version,
            statement_seq=entry.seq,
            payments=existing.payments if existing is not None else (),
            waived_seq=existing.waived_seq if existing is not None else None,
            waived_reason=existing.waived_reason if existing is not None else None,
        )
        changes.obligations.append(obligation)
    if previous is not None:
        for oid in previous.obligations:
            if oid not in listed:
                dropped = store.obligation(oid)
                if dropped is not None and dropped.cancelled_seq is None:
                    changes.obligations.append(replace(dropped, cancelled_seq=entry.seq))
    changes.settlements.append(
        SettlementRef(
            contract_id=header.contract_id,
            period=header.period,
            seq=entry.seq,
            as_of_seq=header.as_of_seq,
            issued_on=header.issued_on,
            obligations=tuple(line.id for line in header.obligations),
            charges=header.charges,
            history=(*(previous.history if previous else ()), entry.seq),
        )
    )
    return changes


def _sent(store: ObligationStore, entry: Entry) -> Changes:
    body = parse_body(PaymentSentBody, Kind.PAYMENT_SENT, entry.body)
    currency = Currency(body.amount.currency)
    payees = set()
    changes = Changes()
    for index, (oid, amount) in enumerate(body.parts()):
        where = f"statement.body.obligations.{index}.obligation"
        obligation = store.obligation(oid)
        if obligation is None:
            raise UnknownObligationError(
                f"no obligation {oid} has been settled on this ledger", field=where
            )
        if obligation.payer != entry.author:
            raise PaymentRefusedError(
                f"{entry.author} is not the debtor of obligation {oid}: {obligation.payer} owes "
                f"it to {obligation.payee}",
                field=where,
            )
        if obligation.amount.currency != currency:
            raise PaymentRefusedError(
                f"obligation {oid} is in {obligation.amount.currency.code}, the payment in "
                f"{currency.code}",
                field="statement.body.amount.currency",
            )
        if obligation.closed:
            how = "waived" if obligation.waived_seq is not None else "cancelled"
            seq = obligation.waived_seq or obligation.cancelled_seq
            raise ContractStateError(f"obligation {oid} was {how} at seq {seq}", field=where)
        payees.add(obligation.payee)
        record = PaymentRecord(entry.seq, amount, body.sent_on)
        changes.obligations.append(replace(obligation, payments=(*obligation.payments, record)))
    if len(payees) != 1:
        raise PaymentRefusedError(
            f"one payment goes to one payee; these obligations are owed to {sorted(payees)}",
            field="statement.body.obligations",
        )
    changes.payments.append(
        SentPayment(
            seq=entry.seq,
            payer=entry.author,
            payee=payees.pop(),
            currency=currency,
            parts=tuple(body.parts()),
            sent_on=body.sent_on,
        )
    )
    return changes


def _confirm(store: ObligationStore, entry: Entry) -> Changes:
    body = parse_body(PaymentConfirmBody, Kind.PAYMENT_CONFIRM, entry.body)
    changes = Changes()
    if body.outcome == "waived":
        assert body.obligation is not None
        obligation = store.obligation(body.obligation)
        if obligation is None:
            raise UnknownObligationError(
                f"no obligation {body.obligation} has been settled on this ledger",
                field="statement.body.obligation",
            )
        if obligation.payee != entry.author:
            raise PaymentRefusedError(
                f"only the payee of obligation {obligation.id} ({obligation.payee}) may waive it",
                field="statement.author",
            )
        if obligation.closed:
            raise ContractStateError(
                f"obligation {obligation.id} is already {obligation.settled()}",
                field="statement.body.obligation",
            )
        changes.obligations.append(
            replace(obligation, waived_seq=entry.seq, waived_reason=body.reason)
        )
        return changes
    assert body.payment is not None
    payment = store.payment(body.payment)
    if payment is None:
        raise UnknownObligationError(
            f"record {body.payment} is not a payment.sent on this ledger",
            field="statement.body.payment",
        )
    if payment.payee != entry.author:
        raise PaymentRefusedError(
            f"only the payee of payment {payment.seq} ({payment.payee}) may confirm it",
            field="statement.author",
        )
    if payment.status == "received":
        raise ContractStateError(
            f"payment {payment.seq} was already confirmed as received at seq {payment.confirm_seq}",
            field="statement.body.payment",
        )
    if body.outcome == "disputed" and payment.status == "disputed":
        raise ContractStateError(
            f"payment {payment.seq} is already disputed (seq {payment.confirm_seq})",
            field="statement.body.payment",
        )
    if body.received_on is not None and body.received_on < payment.sent_on:
        raise PaymentRefusedError(
            f"received_on {body.received_on} is before the payment was sent ({payment.sent_on})",
            field="statement.body.received_on",
        )
    status: PaymentStatus = "received" if body.outcome == "received" else "disputed"
    updated = replace(
        payment,
        status=status,
        received_on=body.received_on,
        confirm_seq=entry.seq,
        reason=body.reason,
    )
    changes.payments.append(updated)
    for oid, _ in payment.parts:
        obligation = store.obligation(oid)
        if obligation is None:  # pragma: no cover - a payment names only known obligations
            continue
        records = tuple(
            replace(p, status=status, received_on=body.received_on, confirm_seq=entry.seq)
            if p.seq == payment.seq
            else p
            for p in obligation.payments
        )
        changes.obligations.append(replace(obligation, payments=records))
    return changes


def judge_obligation_statement(store: ObligationStore, entry: Entry) -> Changes:
    """The changes ``entry`` (a ``settlement.statement`` or ``payment.*`` record) makes.

    Raises ``MalformedContractStatementError`` or a ``ContractRejectedError`` subclass
    (unknown obligation, wrong payer or payee...) naming what was expected and found.
    """
    if entry.kind == Kind.SETTLEMENT:
        return _statement(store, entry)
    if entry.kind == Kind.PAYMENT_SENT:
        return _sent(store, entry)
    if entry.kind == Kind.PAYMENT_CONFIRM:
        return _confirm(store, entry)
    raise ValueError(f"{entry.kind} is not an obligation statement")


class ObligationBook:
    """Obligations, payments and statements in memory, built by replaying records."""

    def __init__(self, parties: dict[str, frozenset[str]] | None = None) -> None:
        self.obligations: dict[str, Obligation] = {}
        self.payments: dict[int, SentPayment] = {}
        self.settlements: dict[tuple[str, str], SettlementRef] = {}
        self.parties: dict[str, frozenset[str]] = dict(parties or {})

    def obligation(self, obligation_id: str) -> Obligation | None:
        return self.obligations.get(obligation_id)

    def payment(self, seq: int) -> SentPayment | None:
        return self.payments.get(seq)

    def settlement(self, contract_id: str, period: str) -> SettlementRef | None:
        return self.settlements.get((contract_id, period))

    def contract_parties(self, contract_id: str) -> frozenset[str] | None:
        return self.parties.get(contract_id)

    def write(self, changes: Changes) -> None:
        for obligation in changes.obligations:
            self.obligations[obligation.id] = obligation
        for payment in changes.payments:
            self.payments[payment.seq] = payment
        for ref in changes.settlements:
            self.settlements[(ref.contract_id, ref.period)] = ref

    def apply(self, entry: Entry) -> None:
        """Apply one record; raises like ``judge_obligation_statement``."""
        self.write(judge_obligation_statement(self, entry))

    def replay(self, entries: Iterable[Entry]) -> ObligationBook:
        """Apply every obligation record in seq order, skipping refused ones."""
        for entry in sorted(entries, key=lambda e: e.seq):
            if entry.kind in OBLIGATION_KINDS:
                try:
                    self.apply(entry)
                except (ContractError, MalformedContractStatementError):
                    continue
        return self

    def of_contract(self, contract_id: str) -> list[Obligation]:
        return sorted(
            (o for o in self.obligations.values() if o.contract_id == contract_id),
            key=lambda o: o.id,
        )


def is_obligation_id(text: str) -> bool:
    return OBLIGATION_ID.fullmatch(text) is not None
