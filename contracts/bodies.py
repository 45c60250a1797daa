"""Statement bodies of the contract, sale, settlement and payment kinds (DESIGN §3).

Frozen, strict pydantic models: unknown fields are refused, numbers are decimal strings, dates
are ISO 8601 calendar dates, money is ``{"amount": "12.50", "currency": "EUR"}``. They check
a body on its own; what needs ledger history (the proposal exists, the payer owes the
obligation...) is checked by ``contracts.projection``.

=====================  ======================================================================
kind                   body
=====================  ======================================================================
contract.propose       ``contract_id``, ``version`` (1, then n+1 for each amendment),
                       ``terms`` (a ``contracts.terms`` document: parties and roles,
                       validity, prices...; ``terms.contract_id`` equals ``contract_id``)
contract.accept        ``contract_id``, ``version``, ``terms_hash`` (``terms_hash(terms)`` of
                       that version, lowercase hex)
contract.terminate     ``contract_id``, ``ground`` (``late_delivery`` with ``delivery``
                       evidence, or ``mutual``), ``reason``, ``effective_on``
sale.report            ``lot`` (GS1 Digital Link normal form), ``period`` (``YYYY-MM``),
                       ``quantity`` (> 0), optional ``uom``, ``revenue`` (money, gross; may be
                       negative for a credit note)
settlement.statement   see ``SettlementStatementBody`` and ``contracts.settlement``
payment.sent           ``obligations`` (``[{"obligation": id, "amount": "…"}]``), ``amount``
                       (money, the total of the parts), ``sent_on``, optional ``reference``
payment.confirm        ``outcome`` ``received`` (``payment`` seq, ``received_on``),
                       ``disputed`` (``payment`` seq, ``reason``) or ``waived``
                       (``obligation`` id, ``reason``), by the payee
=====================  ======================================================================

Obligation ids are ``<contract>/<YYYY-MM>/<payer>/<payee>`` for the goods and revenue share
of a period, with ``/charges`` appended for the late-payment charges billed in it.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from contracts.errors import MalformedContractStatementError, MoneyError
from contracts.money import Currency, Money
from contracts.terms import (
    PARTICIPANT_ID_PATTERN,
    CurrencyCode,
    Dec,
    IsoDate,
    ParticipantId,
    Positive,
    Text,
    UnitCode,
)
from ledger.trace.errors import MalformedIdentifierError
from ledger.trace.identifiers import normalize_lot

__all__ = [
    "OBLIGATION_ID",
    "ChargeLineBody",
    "ContractAcceptBody",
    "ContractProposeBody",
    "ContractTerminateBody",
    "DeliveryEvidence",
    "DeliveryLineBody",
    "MarketPriceBody",
    "MoneyBody",
    "ObligationBody",
    "ObligationLine",
    "PaymentConfirmBody",
    "PaymentPart",
    "PaymentSentBody",
    "SaleReportBody",
    "SettlementStatementBody",
    "ShareLineBody",
    "SharePartBody",
    "StatementHeader",
    "TermsRefBody",
    "UnpricedBody",
    "ValueBody",
    "obligation_id",
    "parse_body",
    "parse_period",
    "period_bounds",
]

_ID = PARTICIPANT_ID_PATTERN[1:-1]
#: ``<contract>/<YYYY-MM>/<payer>/<payee>[/charges]``.
OBLIGATION_ID = re.compile(rf"({_ID})/([0-9]{{4}}-[0-9]{{2}})/({_ID})/({_ID})(/charges)?")
_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")
_HASH = re.compile(r"[0-9a-f]{64}")
_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_EXACT = re.compile(r"-?[0-9]+(?:/[0-9]+)?")
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def parse_period(text: str) -> tuple[int, int]:
    """``"2026-07"`` → ``(2026, 7)``; raises ``ValueError`` with a clear message."""
    match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise ValueError(f"expected a period YYYY-MM (e.g. 2026-07), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def period_bounds(period: str) -> tuple[date, date]:
    """First and last calendar day of ``period`` (``YYYY-MM``)."""
    year, month = parse_period(period)
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def obligation_id(contract_id: str, period: str, payer: str, payee: str, *, charges: bool) -> str:
    """The id of the obligation ``payer`` owes ``payee`` for ``period`` of a contract."""
    return f"{contract_id}/{period}/{payer}/{payee}" + ("/charges" if charges else "")


def _period_in(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a period YYYY-MM, got {type(value).__name__}")
    parse_period(value)
    return value


_PLAIN_LOT = re.compile(r"https://id\.gs1\.org/01/([0-9]{14})/10/[A-Za-z0-9._-]{1,20}", re.ASCII)


def _gtin_check_ok(digits: str) -> bool:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


def _lot_in(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a lot identifier string, got {type(value).__name__}")
    plain = _PLAIN_LOT.fullmatch(value)
    if plain is not None and _gtin_check_ok(plain.group(1)):
        # A valid GTIN and a lot of characters Digital Link never escapes: already the
        # normal form ``normalize_lot`` would give (tests/contracts check they agree).
        return value
    try:
        normal = normalize_lot(value)
    except MalformedIdentifierError as exc:
        raise ValueError(str(exc)) from None
    if normal != value:
        raise ValueError(f"lot must be in Digital Link normal form: expected {normal!r}")
    return value


def _hash_in(value: object) -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise ValueError(f"expected 64 lowercase hex digits, got {value!r}")
    return value


def _obligation_in(value: object) -> str:
    if not isinstance(value, str) or not OBLIGATION_ID.fullmatch(value):
        raise ValueError(
            f"expected an obligation id <contract>/<YYYY-MM>/<payer>/<payee>[/charges], "
            f"got {value!r}"
        )
    parse_period(value.split("/")[1])
    return value


def _text_pattern(pattern: re.Pattern[str], what: str) -> BeforeValidator:
    def check(value: object) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"expected {what}, got {value!r}")
        return value

    return BeforeValidator(check)


Period = Annotated[str, BeforeValidator(_period_in)]
LotId = Annotated[str, BeforeValidator(_lot_in)]
TermsHash = Annotated[str, BeforeValidator(_hash_in)]
ObligationId = Annotated[str, BeforeValidator(_obligation_in)]
ContractId = Annotated[str, Field(pattern=PARTICIPANT_ID_PATTERN)]
SeqNo = Annotated[int, Field(ge=0, le=2**53 - 1)]
Version = Annotated[int, Field(ge=1, le=1_000_000)]
#: A decimal string of major units (``"12.50"``, ``"-3.07"``).
AmountText = Annotated[str, _text_pattern(_AMOUNT, 'a decimal amount such as "12.50"')]
#: An exact number of minor units: ``"38000"`` or ``"1015000/365"``.
ExactText = Annotated[str, _text_pattern(_EXACT, 'an exact minor-unit amount such as "1015/3"')]
#: A decimal string in normal form (``"95"``, ``"2.5"``).
DecimalText = Annotated[str, _text_pattern(_DECIMAL, 'a decimal such as "2.5"')]


def _as_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


Seqs = Annotated[tuple[SeqNo, ...], BeforeValidator(_as_tuple)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


# -- money --------------------------------------------------------------------------------


class MoneyBody(_Body):
    """``{"amount": "12.50", "currency": "EUR"}``: major units, at most the currency's minor
    digits."""

    amount: AmountText
    currency: CurrencyCode

    @model_validator(mode="after")
    def _fits(self) -> MoneyBody:
        try:
            Money.parse(self.amount, self.currency)
        except MoneyError as exc:
            raise ValueError(f"amount: {exc.message}") from None
        return self

    def money(self) -> Money:
        return Money.parse(self.amount, self.currency)


# -- contracts ----------------------------------------------------------------------------


class ContractProposeBody(_Body):
    """``terms`` is checked with ``contracts.terms.parse_terms`` by the validator, which names
    the offending field; here it only has to be a JSON object."""

    contract_id: ContractId
    version: Version
    terms: dict[str, Any]


class ContractAcceptBody(_Body):
    contract_id: ContractId
    version: Version
    terms_hash: TermsHash


class DeliveryEvidence(_Body):
    """The shipping and receiving ``trace.event`` records of one delivered lot."""

    shipping: SeqNo
    receiving: SeqNo
    lot: LotId


class ContractTerminateBody(_Body):
    """``late_delivery``: by a buyer, citing a delivery later than the terms'
    ``termination_after_days`` (and not excused by force majeure). ``mutual``: takes effect
    once every obligated party has signed one with the same ``effective_on``."""

    contract_id: ContractId
    ground: Literal["late_delivery", "mutual"]
    reason: Text
    effective_on: IsoDate
    delivery: DeliveryEvidence | None = None

    @model_validator(mode="after")
    def _evidence(self) -> ContractTerminateBody:
        if self.ground == "late_delivery" and self.delivery is None:
            raise ValueError("delivery: a late_delivery termination must cite the delivery")
        if self.ground == "mutual" and self.delivery is not None:
            raise ValueError("delivery: only a late_delivery termination cites a delivery")
        return self


# -- sales --------------------------------------------------------------------------------


class SaleReportBody(_Body):
    lot: LotId
    period: Period
    quantity: Positive
    uom: UnitCode | None = None
    revenue: MoneyBody


# -- payments -----------------------------------------------------------------------------


class PaymentPart(_Body):
    obligation: ObligationId
    amount: AmountText


class PaymentSentBody(_Body):
    """A payment by the payer of every obligation it names (all owed to one payee)."""

    obligations: Annotated[tuple[PaymentPart, ...], BeforeValidator(_as_tuple), Field(min_length=1)]
    amount: MoneyBody
    sent_on: IsoDate
    reference: Text | None = None

    @model_validator(mode="after")
    def _parts_add_up(self) -> PaymentSentBody:
        currency = Currency(self.amount.currency)
        ids = [part.obligation for part in self.obligations]
        if len(set(ids)) != len(ids):
            raise ValueError(f"obligations: each obligation may appear once, got {ids}")
        total = Money.zero(currency)
        for index, part in enumerate(self.obligations):
            try:
                money = Money.parse(part.amount, currency)
            except MoneyError as exc:
                raise ValueError(f"obligations.{index}.amount: {exc.message}") from None
            if money.minor <= 0:
                raise ValueError(f"obligations.{index}.amount: must be positive, got {part.amount}")
            total = total + money
        if total != self.amount.money():
            raise ValueError(
                f"amount: the parts add up to {total.amount}, the payment says {self.amount.amount}"
            )
        return self

    def parts(self) -> list[tuple[str, Money]]:
        currency = Currency(self.amount.currency)
        return [(part.obligation, Money.parse(part.amount, currency)) for part in self.obligations]


class PaymentConfirmBody(_Body):
    outcome: Literal["received", "disputed", "waived"]
    payment: SeqNo | None = None
    obligation: ObligationId | None = None
    received_on: IsoDate | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _fields_for_outcome(self) -> PaymentConfirmBody:
        wanted = {
            "received": ({"payment", "received_on"}, {"obligation"}),
            "disputed": ({"payment", "reason"}, {"obligation", "received_on"}),
            "waived": ({"obligation", "reason"}, {"payment", "received_on"}),
        }[self.outcome]
        required, forbidden = wanted
        for name in sorted(required):
            if getattr(self, name) is None:
                raise ValueError(f"{name}: required when the outcome is {self.outcome}")
        for name in sorted(forbidden):
            if getattr(self, name) is not None:
                raise ValueError(f"{name}: not allowed when the outcome is {self.outcome}")
        return self


# -- settlement statement -----------------------------------------------------------------


class ValueBody(_Body):
    """A priced line: ``amount`` rounded once from ``exact`` (minor units, a fraction)."""

    amount: AmountText
    exact: ExactText


class TermsRefBody(_Body):
    version: Version
    terms_hash: TermsHash
    binding_seq: SeqNo


class MarketPriceBody(_Body):
    gtin: Annotated[str, Field(pattern=r"^[0-9]{14}$")]
    on: IsoDate
    price: Dec
    source: Text


class DeliveryLineBody(_Body):
    delivery: Annotated[str, Field(min_length=1, max_length=200)]
    version: Version
    supplier: ParticipantId
    buyer: ParticipantId
    lot: str
    gtin: Annotated[str, Field(pattern=r"^[0-9]{14}$")]
    unit: UnitCode
    shipped: DecimalText
    accepted: DecimalText
    rejected: DecimalText
    rejection_reason: str | None
    due_on: IsoDate
    delivered_on: IsoDate
    days_late: Annotated[int, Field(ge=0)]
    force_majeure: bool
    termination_right: bool
    condition_percent: ExactText
    goods: ValueBody
    late_penalty: ValueBody
    condition_penalty: ValueBody
    net: AmountText
    seqs: Seqs


class UnpricedBody(_Body):
    """A delivery or sale the contract covers but that could not be priced, and why."""

    what: Literal["delivery", "sale"]
    lot: str
    parties: Annotated[tuple[ParticipantId, ...], BeforeValidator(_as_tuple)]
    reason: str
    seqs: Seqs


class SharePartBody(_Body):
    lot: str
    supplier: ParticipantId
    fraction: DecimalText
    amount: AmountText
    exact: ExactText
    seqs: Seqs


class ShareLineBody(_Body):
    sale_seq: SeqNo
    seller: ParticipantId
    lot: str
    revenue: AmountText
    version: Version
    pool: ValueBody
    parts: Annotated[tuple[SharePartBody, ...], BeforeValidator(_as_tuple)]
    seqs: Seqs


class ChargeLineBody(_Body):
    obligation: ObligationId
    kind: Literal["late_payment_interest", "fixed_compensation"]
    payer: ParticipantId
    payee: ParticipantId
    through: IsoDate
    accrued: ValueBody
    billed_before: AmountText
    amount: AmountText
    seqs: Seqs


class EarlyPaymentBody(_Body):
    by: IsoDate
    amount: AmountText


class ObligationBody(_Body):
    id: ObligationId
    kind: Literal["principal", "charges"]
    payer: ParticipantId
    payee: ParticipantId
    amount: AmountText
    issued_on: IsoDate
    due_on: IsoDate
    early_payment: EarlyPaymentBody | None
    version: Version


class SettlementStatementBody(_Body):
    """The ``settlement.statement`` body (format ``fairledger.settlement.v1``); see
    ``contracts.settlement`` for how each part is computed."""

    format: Literal["fairledger.settlement.v1"]
    contract_id: ContractId
    period: Period
    as_of_seq: SeqNo
    issued_on: IsoDate
    currency: CurrencyCode
    terms: Annotated[tuple[TermsRefBody, ...], BeforeValidator(_as_tuple)]
    market_prices: Annotated[tuple[MarketPriceBody, ...], BeforeValidator(_as_tuple)]
    deliveries: Annotated[tuple[DeliveryLineBody, ...], BeforeValidator(_as_tuple)]
    unpriced: Annotated[tuple[UnpricedBody, ...], BeforeValidator(_as_tuple)]
    revenue_shares: Annotated[tuple[ShareLineBody, ...], BeforeValidator(_as_tuple)]
    charges: Annotated[tuple[ChargeLineBody, ...], BeforeValidator(_as_tuple)]
    obligations: Annotated[tuple[ObligationBody, ...], BeforeValidator(_as_tuple)]

    @model_validator(mode="after")
    def _consistent(self) -> SettlementStatementBody:
        _check_statement(self.contract_id, self.period, self.issued_on, self.obligations)
        return self


def _check_statement(
    contract_id: str, period: str, issued_on: date, obligations: tuple[ObligationBody, ...]
) -> None:
    _, last = period_bounds(period)
    if issued_on < last:
        raise ValueError(
            f"issued_on: a statement for {period} is issued on or after {last}, got {issued_on}"
        )
    ids = [obligation.id for obligation in obligations]
    if len(set(ids)) != len(ids):
        raise ValueError("obligations: ids must not repeat")
    for index, obligation in enumerate(obligations):
        expected = obligation_id(
            contract_id,
            period,
            obligation.payer,
            obligation.payee,
            charges=obligation.kind == "charges",
        )
        if obligation.id != expected:
            raise ValueError(f"obligations.{index}.id: expected {expected!r}")
        if Decimal(obligation.amount) <= 0:
            raise ValueError(f"obligations.{index}.amount: must be positive")
        if obligation.due_on < obligation.issued_on:
            raise ValueError(f"obligations.{index}.due_on: before issued_on")


class _StatementHeaderBody(BaseModel):
    """The parts of a statement that obligations need (the lines are not re-read)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    format: Literal["fairledger.settlement.v1"]
    contract_id: ContractId
    period: Period
    as_of_seq: SeqNo
    issued_on: IsoDate
    currency: CurrencyCode
    charges: Annotated[tuple[ChargeLineBody, ...], BeforeValidator(_as_tuple)]
    obligations: Annotated[tuple[ObligationBody, ...], BeforeValidator(_as_tuple)]

    @model_validator(mode="after")
    def _consistent(self) -> _StatementHeaderBody:
        _check_statement(self.contract_id, self.period, self.issued_on, self.obligations)
        return self


@dataclass(frozen=True, slots=True)
class ObligationLine:
    """One obligation a statement creates, with money parsed in the contract currency."""

    id: str
    kind: Literal["principal", "charges"]
    payer: str
    payee: str
    amount: Money
    issued_on: date
    due_on: date
    early_payment: tuple[date, Money] | None
    version: int


@dataclass(frozen=True, slots=True)
class StatementHeader:
    """What a recorded ``settlement.statement`` means for obligations."""

    contract_id: str
    period: str
    as_of_seq: int
    issued_on: date
    currency: Currency
    obligations: tuple[ObligationLine, ...]
    #: ``(obligation, charge kind, minor units billed)`` per charge line.
    charges: tuple[tuple[str, str, int], ...]

    @classmethod
    def read(cls, body: object) -> StatementHeader:
        """Validate the header, obligations and charges of a statement body; raises
        ``MalformedContractStatementError``."""
        parsed = parse_body(_StatementHeaderBody, "settlement.statement", body)
        currency = Currency(parsed.currency)
        try:
            obligations = tuple(
                ObligationLine(
                    id=o.id,
                    kind=o.kind,
                    payer=o.payer,
                    payee=o.payee,
                    amount=Money.parse(o.amount, currency),
                    issued_on=o.issued_on,
                    due_on=o.due_on,
                    early_payment=None
                    if o.early_payment is None
                    else (o.early_payment.by, Money.parse(o.early_payment.amount, currency)),
                    version=o.version,
                )
                for o in parsed.obligations
            )
            charges = tuple(
                (c.obligation, c.kind, Money.parse(c.amount, currency).minor)
                for c in parsed.charges
            )
        except MoneyError as exc:
            raise MalformedContractStatementError(
                f"settlement.statement body refused: {exc.message}", field="statement.body"
            ) from exc
        return cls(
            parsed.contract_id,
            parsed.period,
            parsed.as_of_seq,
            parsed.issued_on,
            currency,
            obligations,
            charges,
        )


_B = TypeVar("_B", bound=BaseModel)


def parse_body(model: type[_B], kind: str, body: object) -> _B:
    """Validate a statement body of ``kind`` with ``model``.

    Raises ``MalformedContractStatementError`` listing every problem as ``path: message``;
    its ``field`` is ``statement.body.<first path>``.
    """
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = ".".join(str(part) for part in error.get("loc", ()))
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            if not path and ": " in message:
                path, message = message.split(": ", 1)
            problems.append((path, message))
        summary = "; ".join(f"{path}: {message}" if path else message for path, message in problems)
        first = problems[0][0] if problems else ""
        raise MalformedContractStatementError(
            f"{kind} body refused: {summary}",
            field=f"statement.body.{first}" if first else "statement.body",
        ) from exc
