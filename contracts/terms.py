"""Contract terms (schema version 1): strict, frozen pydantic models, and their hash.

Terms are data (DESIGN §5): a ``contract.propose`` body carries them, each party's
``contract.accept`` signs ``terms_hash(terms)``. Validation is strict so that a terms document
has exactly one meaning:

* unknown fields are refused (``extra="forbid"``) and models are frozen;
* numbers are decimal *strings* (``"12.50"``) or ``Decimal`` objects, never floats or ints
  (DESIGN §2); at most 18 integer and 18 fractional digits; ``-0`` is read as ``0``;
* dates are ISO 8601 calendar dates (``"2026-07-01"``) or ``date`` objects, never datetimes;
* lists may be given as JSON arrays or tuples, never sets (their order is part of the hash);
* integers are real ints (``True`` is not ``1``); enumerations take their string values.

``parse_terms`` wraps pydantic's ``ValidationError`` into ``InvalidTermsError`` whose message
lists every problem as ``dotted.field.path: what is wrong``. ``terms_hash`` is the lowercase hex
SHA-256 of the RFC 8785 bytes of ``terms.model_dump(mode="json")``, via ``ledger.canonical``.

Conventions the terms state (and ``contracts.rules`` implements):

* **Prices** are per product unit (UN/ECE Rec 20 code), in major units of the contract
  currency. ``price = max(base, floor) + premium + sum(differentials)``, where ``base`` is the
  agreed price (flat, or from volume tiers) or, with ``basis="market"``, the market price from
  the named ``market.source`` observed on ``market.observed_on``.
* **Rounding** (``rounding.point="per_line"``): every line (one delivery's goods value, one
  penalty, one discount, one interest charge, one compensation, one revenue-share pool) is
  computed exactly in minor units and rounded once, with ``rounding.mode``, to the currency's
  minor unit. A rounded line that must be split (revenue-share pool) is split with
  ``contracts.money.allocate``. Totals are sums of rounded lines and are never rounded again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from biip import ParseError
from biip.gtin import Gtin
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from contracts.errors import InvalidTermsError, MoneyError
from contracts.money import Currency, Money, Rounding
from ledger.canonical import canonical_bytes

__all__ = [
    "SCHEMA_VERSION",
    "ConditionTerms",
    "ContractTerms",
    "Differential",
    "EarlyPaymentDiscount",
    "LateDeliveryTerms",
    "LateInterestTerms",
    "MarketReference",
    "Party",
    "PaymentTerms",
    "Pricing",
    "ProductTerms",
    "ReferenceRate",
    "RevenueShareTerms",
    "RoundingTerms",
    "UpstreamShare",
    "VolumeTier",
    "VolumeTiers",
    "parse_terms",
    "terms_hash",
]

#: The terms schema version this module reads and writes.
SCHEMA_VERSION = 1

#: Participant ids, as DESIGN §2; contract ids follow the same pattern.
PARTICIPANT_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,62}$"

_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,18})?")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class _FieldError(ValueError):
    """A cross-field problem found by a model validator, naming the field(s) at fault.

    ``path`` is relative to the model that raised it; ``parse_terms`` prefixes the model's own
    location, so the reported field is the full dotted path.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.detail = message


# -- scalar types ------------------------------------------------------------------------


def _decimal_in(value: object) -> Decimal:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"expected a finite decimal, got {value}")
        text = f"{value:f}"
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(
            f'expected a decimal string such as "12.50", got {type(value).__name__} {value!r}'
        )
    if not _DECIMAL_TEXT.fullmatch(text):
        raise ValueError(
            f'expected a decimal string such as "12.50" (at most 18 digits either side of '
            f"the point, no exponent), got {text!r}"
        )
    result = Decimal(text)
    if result.is_zero() and result.is_signed():
        result = result.copy_abs()
    return result


def _decimal_out(value: Decimal) -> str:
    return f"{value:f}"


def _date_in(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"expected a calendar date, got a datetime {value.isoformat()}")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_TEXT.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a valid calendar date") from None
    raise ValueError(f"expected an ISO 8601 date YYYY-MM-DD, got {value!r}")


def _as_tuple(value: object) -> object:
    # JSON arrays arrive as lists; sets are refused by the strict tuple check (no order).
    return tuple(value) if isinstance(value, list) else value


def _rounding_in(value: object) -> Rounding:
    if isinstance(value, str):
        try:
            return Rounding(value)
        except ValueError:
            pass
    allowed = ", ".join(mode.value for mode in Rounding)
    raise ValueError(f"expected one of {allowed}, got {value!r}")


def _currency_in(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 4217 code string, got {type(value).__name__}")
    try:
        return Currency(value).code
    except MoneyError as exc:
        raise ValueError(exc.message) from None


def _gtin_in(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{14}", value):
        raise ValueError(f"expected a GTIN as a 14-digit string, got {value!r}")
    try:
        Gtin.parse(value)
    except ParseError as exc:
        raise ValueError(str(exc)) from None
    return value


_T = TypeVar("_T")

Dec = Annotated[
    Decimal,
    BeforeValidator(_decimal_in),
    PlainSerializer(_decimal_out, return_type=str, when_used="json"),
]
NonNegative = Annotated[Dec, Field(ge=0)]
Positive = Annotated[Dec, Field(gt=0)]
Percent = Annotated[Dec, Field(ge=0, le=100)]
SignedPercent = Annotated[Dec, Field(ge=-100, le=100)]
IsoDate = Annotated[date, BeforeValidator(_date_in)]
Seq = Annotated[tuple[_T, ...], BeforeValidator(_as_tuple)]
ParticipantId = Annotated[str, StringConstraints(pattern=PARTICIPANT_ID_PATTERN)]
Gtin14 = Annotated[str, BeforeValidator(_gtin_in)]
UnitCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,3}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CurrencyCode = Annotated[str, BeforeValidator(_currency_in)]
RoundingMode = Annotated[Rounding, BeforeValidator(_rounding_in)]
Days = Annotated[int, Field(ge=0, le=3650)]

Role = Literal["buyer", "supplier", "auditor"]


class _Terms(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


# -- parties, rounding ------------------------------------------------------------------


class Party(_Terms):
    """A participant bound by (or, as ``auditor``, entitled to read) the contract."""

    id: ParticipantId
    roles: Annotated[Seq[Role], Field(min_length=1)]

    @field_validator("roles")
    @classmethod
    def _distinct_roles(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        if len(set(roles)) != len(roles):
            raise ValueError(f"roles must not repeat, got {list(roles)}")
        return roles


class RoundingTerms(_Terms):
    """How and where amounts are rounded; see the module docstring for ``per_line``."""

    mode: RoundingMode
    point: Literal["per_line"] = "per_line"


# -- pricing ----------------------------------------------------------------------------


class Differential(_Terms):
    """A named per-unit addition to the price (e.g. ``organic``), in major units."""

    name: Name
    amount: NonNegative


class MarketReference(_Terms):
    """Which market price applies when ``basis="market"``.

    The caller looks up ``source`` on ``observed_on`` (the delivery's delivered or due date),
    converted to the contract currency per product unit, and passes it to the rules.
    """

    source: Text
    observed_on: Literal["delivery_date", "due_date"]


class VolumeTier(_Terms):
    """Unit price for the volume band ``[from_quantity, to_quantity)``; open-ended if no upper
    bound."""

    from_quantity: NonNegative
    to_quantity: NonNegative | None = None
    unit_price: NonNegative

    @model_validator(mode="after")
    def _ordered_bounds(self) -> VolumeTier:
        if self.to_quantity is not None and self.to_quantity <= self.from_quantity:
            raise _FieldError(
                "to_quantity",
                f"must be greater than from_quantity ({self.from_quantity}), "
                f"got {self.to_quantity}",
            )
        return self

    def contains(self, quantity: Decimal) -> bool:
        """True if ``quantity`` lies in this band."""
        return self.from_quantity <= quantity and (
            self.to_quantity is None or quantity < self.to_quantity
        )


class VolumeTiers(_Terms):
    """Volume-dependent agreed prices, measured in accepted quantity per settlement period.

    ``graduated``: each unit is priced by the band its position in the period's cumulative
    accepted volume falls in. ``all_units``: every unit is priced at the band that contains the
    period's total accepted volume. Tiers are listed in ascending order and never overlap; they
    start at 0 and are contiguous unless ``gaps_allowed`` (volume in a gap has no agreed price
    and is refused by the rules).
    """

    method: Literal["graduated", "all_units"]
    gaps_allowed: bool = False
    tiers: Annotated[Seq[VolumeTier], Field(min_length=1)]

    @model_validator(mode="after")
    def _non_overlapping(self) -> VolumeTiers:
        for index in range(1, len(self.tiers)):
            prev, tier = self.tiers[index - 1], self.tiers[index]
            if prev.to_quantity is None:
                raise _FieldError(
                    f"tiers.{index - 1}.to_quantity",
                    "only the last tier may be open-ended",
                )
            if tier.from_quantity < prev.to_quantity:
                raise _FieldError(
                    f"tiers.{index}",
                    f"[{tier.from_quantity}, {_bound(tier.to_quantity)}) overlaps tier "
                    f"{index - 1} [{prev.from_quantity}, {prev.to_quantity}); tiers must be "
                    "listed in ascending order without overlap",
                )
            if tier.from_quantity > prev.to_quantity and not self.gaps_allowed:
                raise _FieldError(
                    f"tiers.{index}.from_quantity",
                    f"leaves a gap after tier {index - 1} (which ends at {prev.to_quantity}); "
                    "set gaps_allowed to agree on gaps explicitly",
                )
        first = self.tiers[0]
        if first.from_quantity != 0 and not self.gaps_allowed:
            raise _FieldError(
                "tiers.0.from_quantity",
                f"the first tier must start at 0 unless gaps_allowed, got {first.from_quantity}",
            )
        return self


def _bound(value: Decimal | None) -> str:
    return "∞" if value is None else str(value)


class Pricing(_Terms):
    """``price = max(base, floor) + premium + sum(differentials)`` per unit.

    ``basis="agreed"``: ``base`` is ``unit_price`` or comes from ``tiers`` (exactly one).
    ``basis="market"``: ``base`` is the market price named by ``market``.
    Without a ``floor`` the base is used as is.
    """

    basis: Literal["agreed", "market"]
    unit_price: NonNegative | None = None
    tiers: VolumeTiers | None = None
    market: MarketReference | None = None
    floor: NonNegative | None = None
    premium: NonNegative = Decimal(0)
    differentials: Seq[Differential] = ()

    @model_validator(mode="after")
    def _one_base(self) -> Pricing:
        if self.basis == "agreed":
            if (self.unit_price is None) == (self.tiers is None):
                raise _FieldError(
                    "unit_price", 'basis "agreed" needs exactly one of unit_price or tiers'
                )
            if self.market is not None:
                raise _FieldError("market", 'only allowed with basis "market"')
        else:
            if self.market is None:
                raise _FieldError("market", 'basis "market" must name the market reference')
            if self.unit_price is not None or self.tiers is not None:
                raise _FieldError(
                    "unit_price", 'basis "market" takes its price from the market reference'
                )
        names = [differential.name for differential in self.differentials]
        if len(set(names)) != len(names):
            raise _FieldError("differentials", f"names must not repeat, got {names}")
        return self


class ConditionTerms(_Terms):
    """Agreed range for one measured condition of a perishable product (e.g. temperature).

    For each whole or fractional unit of ``unit`` that the worst reading lies outside
    ``[minimum, maximum]``, the unit price is reduced by ``reduction_percent_per_unit`` percent,
    up to ``cap_percent``. At least one bound is required.
    """

    measure: Name
    unit: UnitCode
    minimum: Dec | None = None
    maximum: Dec | None = None
    reduction_percent_per_unit: Percent
    cap_percent: Percent

    @model_validator(mode="after")
    def _range(self) -> ConditionTerms:
        if self.minimum is None and self.maximum is None:
            raise _FieldError("minimum", "at least one of minimum or maximum is required")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise _FieldError(
                "minimum",
                f"inverted range: minimum {self.minimum} is above maximum {self.maximum}",
            )
        return self


class ProductTerms(_Terms):
    """One product under the contract: its GTIN, unit, pricing and condition ranges."""

    gtin: Gtin14
    unit: UnitCode
    pricing: Pricing
    conditions: Seq[ConditionTerms] = ()

    @model_validator(mode="after")
    def _conditions(self) -> ProductTerms:
        measures = [condition.measure for condition in self.conditions]
        if len(set(measures)) != len(measures):
            raise _FieldError("conditions", f"measures must not repeat, got {measures}")
        total_cap = sum((condition.cap_percent for condition in self.conditions), Decimal(0))
        if total_cap > 100:
            raise _FieldError("conditions", f"caps add up to {total_cap}%, above 100% of the price")
        return self


# -- penalties and shares ---------------------------------------------------------------


class LateDeliveryTerms(_Terms):
    """``percent_per_period`` of the goods' value per ``period_days`` late, pro rata by whole
    days, capped at ``cap_percent`` of the value. Delivery more than ``termination_after_days``
    late gives the buyer a right to terminate. With ``force_majeure_exempt``, a delivery
    declared force majeure owes no penalty and gives no termination right."""

    percent_per_period: Percent
    period_days: Annotated[int, Field(ge=1, le=366)]
    cap_percent: Percent
    termination_after_days: Days | None = None
    force_majeure_exempt: bool = True


class UpstreamShare(_Terms):
    """``percent`` of the sales revenue attributable (by provenance) to ``supplier``'s lots."""

    supplier: ParticipantId
    percent: Percent


class RevenueShareTerms(_Terms):
    """Revenue share flowing upstream: ``payer`` reports sales and owes each supplier its
    percentage of the revenue of every lot its lots went into, pro rata by contribution."""

    payer: ParticipantId
    shares: Annotated[Seq[UpstreamShare], Field(min_length=1)]

    @model_validator(mode="after")
    def _at_most_whole(self) -> RevenueShareTerms:
        suppliers = [share.supplier for share in self.shares]
        if len(set(suppliers)) != len(suppliers):
            raise _FieldError("shares", f"suppliers must not repeat, got {suppliers}")
        total = sum((share.percent for share in self.shares), Decimal(0))
        if total > 100:
            raise _FieldError("shares", f"revenue shares add up to {total}%, above 100%")
        if self.payer in suppliers:
            raise _FieldError("payer", f"{self.payer} cannot owe a share to itself")
        return self

    def percent_for(self, supplier: str) -> Decimal:
        """The share of ``supplier`` (0 if it has none)."""
        for share in self.shares:
            if share.supplier == supplier:
                return share.percent
        return Decimal(0)


# -- payment ----------------------------------------------------------------------------


class EarlyPaymentDiscount(_Terms):
    """``percent`` off the invoice if paid in full within ``within_days`` of its issue date
    ("2/10 net 30" is percent 2, within_days 10, net_days 30)."""

    percent: Annotated[Dec, Field(gt=0, le=100)]
    within_days: Days


class ReferenceRate(_Terms):
    """A reference rate (percent per year) in force from ``effective_from``."""

    effective_from: IsoDate
    percent: SignedPercent


class LateInterestTerms(_Terms):
    """Late-payment interest per Directive 2011/7/EU: simple interest per day at
    ``reference rate + margin_percent`` per year, on the ``day_count`` basis (``ACT/365``: days
    / 365; ``ACT/360``: days / 360). The reference rate for a half-year is the table's rate in
    force on 1 January (for January–June) or 1 July (July–December), Art. 2(7); a negative
    total rate counts as zero."""

    reference: Text
    margin_percent: Percent
    day_count: Literal["ACT/365", "ACT/360"]
    reference_rates: Annotated[Seq[ReferenceRate], Field(min_length=1)]

    @model_validator(mode="after")
    def _ascending(self) -> LateInterestTerms:
        for index in range(1, len(self.reference_rates)):
            if (
                self.reference_rates[index].effective_from
                <= self.reference_rates[index - 1].effective_from
            ):
                raise _FieldError(
                    f"reference_rates.{index}.effective_from",
                    "reference rates must be listed in strictly ascending date order",
                )
        return self


class PaymentTerms(_Terms):
    """Net days from the invoice date, an optional early-payment discount, late-payment
    interest and a fixed compensation per late invoice (Directive 2011/7/EU Art. 6).

    ``statutory_max_days`` is the maximum payment term the contract declares applicable (the
    Directive's 60 days for B2B unless expressly agreed otherwise); a longer ``net_days`` is
    refused. ``fixed_compensation`` is in major units of the contract currency; for EUR it must
    be at least 40.
    """

    net_days: Days
    statutory_max_days: Annotated[int, Field(ge=1, le=3650)]
    early_payment: EarlyPaymentDiscount | None = None
    late_interest: LateInterestTerms
    fixed_compensation: NonNegative

    @model_validator(mode="after")
    def _within_statutory_maximum(self) -> PaymentTerms:
        if self.net_days > self.statutory_max_days:
            raise _FieldError(
                "net_days",
                f"payment term of {self.net_days} days exceeds the declared statutory maximum "
                f"statutory_max_days={self.statutory_max_days}",
            )
        if self.early_payment is not None and self.early_payment.within_days >= self.net_days:
            raise _FieldError(
                "early_payment.within_days",
                f"discount period ({self.early_payment.within_days} days) must be shorter "
                f"than net_days ({self.net_days})",
            )
        return self


# -- the contract -----------------------------------------------------------------------


class ContractTerms(_Terms):
    """The terms of one contract, schema ``version`` 1.

    Validity runs from ``valid_from`` to ``valid_until`` inclusive (open-ended if absent). At
    least one buyer and one supplier; revenue-share suppliers must be parties with the
    ``supplier`` role and the payer a ``buyer``.
    """

    version: int
    contract_id: ParticipantId
    parties: Annotated[Seq[Party], Field(min_length=2)]
    currency: CurrencyCode
    rounding: RoundingTerms
    valid_from: IsoDate
    valid_until: IsoDate | None = None
    products: Annotated[Seq[ProductTerms], Field(min_length=1)]
    late_delivery: LateDeliveryTerms | None = None
    revenue_share: RevenueShareTerms | None = None
    payment: PaymentTerms

    @field_validator("version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"unsupported terms version {version}; this engine reads version {SCHEMA_VERSION}"
            )
        return version

    @model_validator(mode="after")
    def _consistent(self) -> ContractTerms:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise _FieldError(
                "valid_until",
                f"inverted validity period: {self.valid_until} is before {self.valid_from}",
            )
        ids = [party.id for party in self.parties]
        if len(set(ids)) != len(ids):
            raise _FieldError("parties", f"party ids must not repeat, got {ids}")
        roles = {party.id: set(party.roles) for party in self.parties}
        for role in ("buyer", "supplier"):
            if not any(role in held for held in roles.values()):
                raise _FieldError("parties", f"at least one party must be a {role}")
        gtins = [product.gtin for product in self.products]
        if len(set(gtins)) != len(gtins):
            raise _FieldError("products", f"GTINs must not repeat, got {gtins}")
        if self.revenue_share is not None:
            if "buyer" not in roles.get(self.revenue_share.payer, set()):
                raise _FieldError(
                    "revenue_share.payer",
                    f"{self.revenue_share.payer} is not a party with the buyer role",
                )
            for index, share in enumerate(self.revenue_share.shares):
                if "supplier" not in roles.get(share.supplier, set()):
                    raise _FieldError(
                        f"revenue_share.shares.{index}.supplier",
                        f"{share.supplier} is not a party with the supplier role",
                    )
        compensation = self.payment.fixed_compensation
        try:
            Money.from_decimal(compensation, self.currency)
        except MoneyError as exc:
            raise _FieldError("payment.fixed_compensation", exc.message) from None
        if self.currency == "EUR" and compensation < 40:
            raise _FieldError(
                "payment.fixed_compensation",
                f"{compensation} EUR is below the EUR 40 minimum of Directive 2011/7/EU Art. 6",
            )
        return self

    @property
    def money_currency(self) -> Currency:
        """The contract currency as a ``Currency``."""
        return Currency(self.currency)

    def product(self, gtin: str) -> ProductTerms | None:
        """The terms for ``gtin``, or ``None`` if the contract does not cover it."""
        for product in self.products:
            if product.gtin == gtin:
                return product
        return None

    def parties_with(self, role: Role) -> tuple[str, ...]:
        """Ids of the parties holding ``role``, in the order listed."""
        return tuple(party.id for party in self.parties if role in party.roles)


# -- entry points -----------------------------------------------------------------------


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    path = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid"))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _FieldError):
        path.append(cause.path)
        message = cause.detail
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return ".".join(path) or "terms", message


def parse_terms(document: object) -> ContractTerms:
    """Validate a terms document (a parsed JSON object or a ``ContractTerms``).

    Returns the frozen ``ContractTerms``. Raises ``InvalidTermsError`` listing every problem as
    ``field.path: message``; its ``field`` is the first problem's dotted path.
    """
    if isinstance(document, ContractTerms):
        return document
    try:
        return ContractTerms.model_validate(document)
    except ValidationError as exc:
        problems = tuple(_describe(error) for error in exc.errors())
        summary = "; ".join(f"{path}: {message}" for path, message in problems)
        raise InvalidTermsError(
            f"contract terms refused: {summary}",
            field=problems[0][0] if problems else None,
            errors=problems,
        ) from exc


def terms_hash(terms: ContractTerms) -> str:
    """Lowercase hex SHA-256 of the canonical (RFC 8785) bytes of the terms' JSON form.

    This is the hash each party signs in ``contract.accept``. Equal terms give equal hashes on
    any machine; raises ``CanonicalizationError`` only if the model could hold a non-JSON value
    (it cannot).
    """
    return hashlib.sha256(canonical_bytes(terms.model_dump(mode="json"))).hexdigest()
