"""Facts the contract rules price: deliveries, condition readings, sales, contributions, invoices.

Plain frozen dataclasses that validate themselves when built (STYLE 5), so a malformed fact
cannot reach a rule: quantities are finite, non-negative ``Decimal`` (never float), dates are
``date`` (never ``datetime``), money is ``Money``. Every violation raises ``InvalidFactError``
naming the field. Settlement builds them from ledger records; the rules never read the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from contracts.errors import InvalidFactError
from contracts.money import Money

__all__ = ["ConditionReading", "Contribution", "Delivery", "Invoice", "Payment", "Sale"]


def _decimal(owner: str, name: str, value: object, *, non_negative: bool = True) -> None:
    if not isinstance(value, Decimal):
        raise InvalidFactError(
            f"{owner}.{name} must be a Decimal, got {type(value).__name__} {value!r}",
            field=name,
        )
    if not value.is_finite():
        raise InvalidFactError(f"{owner}.{name} must be finite, got {value}", field=name)
    if non_negative and value < 0:
        raise InvalidFactError(f"{owner}.{name} must be >= 0, got {value}", field=name)


def _date(owner: str, name: str, value: object) -> None:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidFactError(
            f"{owner}.{name} must be a date, got {type(value).__name__} {value!r}", field=name
        )


def _text(owner: str, name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidFactError(f"{owner}.{name} must be a non-empty string", field=name)


def _money(owner: str, name: str, value: object, *, positive: bool) -> None:
    if not isinstance(value, Money):
        raise InvalidFactError(
            f"{owner}.{name} must be Money, got {type(value).__name__}", field=name
        )
    if positive and value.minor <= 0:
        raise InvalidFactError(f"{owner}.{name} must be positive, got {value}", field=name)


@dataclass(frozen=True, slots=True)
class ConditionReading:
    """One measurement of a condition during transport or storage, e.g. 5.5 CEL."""

    measure: str
    value: Decimal
    unit: str

    def __post_init__(self) -> None:
        _text("ConditionReading", "measure", self.measure)
        _decimal("ConditionReading", "value", self.value, non_negative=False)
        _text("ConditionReading", "unit", self.unit)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery of ``quantity`` units of ``gtin``, of which the buyer ``accepted`` some and
    ``rejected`` the rest (``accepted + rejected == quantity``), due on ``due`` and delivered on
    ``delivered``. ``force_majeure`` marks a delay the supplier declared as force majeure."""

    delivery_id: str
    gtin: str
    unit: str
    quantity: Decimal
    accepted: Decimal
    rejected: Decimal
    due: date
    delivered: date
    readings: tuple[ConditionReading, ...] = ()
    force_majeure: bool = False

    def __post_init__(self) -> None:
        _text("Delivery", "delivery_id", self.delivery_id)
        _text("Delivery", "gtin", self.gtin)
        _text("Delivery", "unit", self.unit)
        for name in ("quantity", "accepted", "rejected"):
            _decimal("Delivery", name, getattr(self, name))
        if self.quantity <= 0:
            raise InvalidFactError(
                f"Delivery.quantity must be positive, got {self.quantity}", field="quantity"
            )
        if Fraction(self.accepted) + Fraction(self.rejected) != Fraction(self.quantity):
            raise InvalidFactError(
                f"Delivery.accepted ({self.accepted}) + rejected ({self.rejected}) must equal "
                f"quantity ({self.quantity})",
                field="accepted",
            )
        _date("Delivery", "due", self.due)
        _date("Delivery", "delivered", self.delivered)
        if not isinstance(self.readings, tuple) or not all(
            isinstance(reading, ConditionReading) for reading in self.readings
        ):
            raise InvalidFactError(
                "Delivery.readings must be a tuple of ConditionReading", field="readings"
            )
        if not isinstance(self.force_majeure, bool):
            raise InvalidFactError("Delivery.force_majeure must be a bool", field="force_majeure")


@dataclass(frozen=True, slots=True)
class Sale:
    """Revenue reported for a sold ``lot`` (``sale.report``); negative for a credit note."""

    sale_id: str
    lot: str
    revenue: Money

    def __post_init__(self) -> None:
        _text("Sale", "sale_id", self.sale_id)
        _text("Sale", "lot", self.lot)
        _money("Sale", "revenue", self.revenue, positive=False)


@dataclass(frozen=True, slots=True)
class Contribution:
    """``fraction`` (0..1) of a sold lot that came from upstream ``lot``, held by ``supplier``
    (from provenance, through transformations)."""

    lot: str
    supplier: str
    fraction: Decimal

    def __post_init__(self) -> None:
        _text("Contribution", "lot", self.lot)
        _text("Contribution", "supplier", self.supplier)
        _decimal("Contribution", "fraction", self.fraction)
        if self.fraction > 1:
            raise InvalidFactError(
                f"Contribution.fraction must be at most 1, got {self.fraction}", field="fraction"
            )


@dataclass(frozen=True, slots=True)
class Payment:
    """A positive payment received on ``paid_on``."""

    paid_on: date
    amount: Money

    def __post_init__(self) -> None:
        _date("Payment", "paid_on", self.paid_on)
        _money("Payment", "amount", self.amount, positive=True)


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice of ``amount`` issued on ``issued``, due on ``due``, with the ``payments``
    received against it (any order; same currency)."""

    invoice_id: str
    amount: Money
    issued: date
    due: date
    payments: tuple[Payment, ...] = ()

    def __post_init__(self) -> None:
        _text("Invoice", "invoice_id", self.invoice_id)
        _money("Invoice", "amount", self.amount, positive=True)
        _date("Invoice", "issued", self.issued)
        _date("Invoice", "due", self.due)
        if self.due < self.issued:
            raise InvalidFactError(
                f"Invoice.due ({self.due}) is before issued ({self.issued})", field="due"
            )
        if not isinstance(self.payments, tuple) or not all(
            isinstance(payment, Payment) for payment in self.payments
        ):
            raise InvalidFactError("Invoice.payments must be a tuple of Payment", field="payments")
        for payment in self.payments:
            if payment.amount.currency != self.amount.currency:
                raise InvalidFactError(
                    f"Invoice {self.invoice_id}: payment in {payment.amount.currency.code}, "
                    f"invoice in {self.amount.currency.code}",
                    field="payments",
                )
