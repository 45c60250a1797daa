"""Errors of the traceability domain layer.

They hang under ``ledger.errors`` in the one error tree::

    LedgerError
    ├── MalformedError
    │   ├── MalformedIdentifierError     a GS1 key, EPC URI or Digital Link that is not valid
    │   ├── MalformedVocabularyError     a bizStep, disposition or other CBV value that is not valid
    │   ├── MalformedEventError          an EPCIS event or document; carries every (path, message)
    │   └── MalformedStatementError
    │       └── MalformedTraceEventError a trace.event body that is not one valid ledger-form event
    ├── RejectedStatementError
    │   ├── UnauthorizedKindError        (ledger.errors) the author did not perform the event
    │   ├── MassBalanceError             more would leave a (lot, holder, unit) than arrived
    │   │   └── ExceedsShipmentError     more received (or returned) than is in transit
    │   ├── UnknownEventError            an error declaration names no event on this ledger
    │   └── ConflictError
    │       ├── DuplicateEventError      the eventID is already recorded
    │       └── LotCycleError            a transformation would make a lot its own ancestor
    └── UnknownLotError                  a query names a lot the ledger has never seen

Messages name the identifier or field and say what was expected and what was observed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from ledger.errors import (
    ConflictError,
    LedgerError,
    MalformedError,
    MalformedStatementError,
    RejectedStatementError,
)


class MalformedIdentifierError(MalformedError):
    """A GS1 identifier (GTIN, GLN, SSCC, EPC URI, Digital Link URI) that is not valid."""

    code = "malformed-identifier"


class MalformedVocabularyError(MalformedError):
    """A CBV 2.0 vocabulary value (bizStep, disposition...) that is neither standard nor a
    well-formed non-standard URI."""

    code = "malformed-vocabulary"


class FieldError(NamedTuple):
    """One problem in an EPCIS event or document: a JSON path and what is wrong there."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.message}"


class MalformedEventError(MalformedError):
    """An EPCIS event or document that cannot be accepted.

    ``errors`` lists every problem found, each with the JSON path of the bad field
    (e.g. ``epcisBody.eventList[2].quantityList[0].quantity``); ``field`` is the first path.
    """

    code = "malformed-event"

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        if not errors:
            raise ValueError("MalformedEventError needs at least one FieldError")
        self.errors: tuple[FieldError, ...] = tuple(errors)
        count = len(self.errors)
        head = "; ".join(str(e) for e in self.errors[:20])
        more = f"; ... and {count - 20} more" if count > 20 else ""
        noun = "error" if count == 1 else "errors"
        super().__init__(f"{count} {noun}: {head}{more}", field=self.errors[0].path)


class MalformedTraceEventError(MalformedStatementError):
    """A ``trace.event`` statement whose body is not ``{"event": <one EPCIS 2.0 event in
    ledger normal form>}``. ``errors`` lists every problem with its full path from the
    statement (``statement.body.event.quantityList[0].quantity``); ``field`` is the first."""

    code = "malformed-event"

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        if not errors:
            raise ValueError("MalformedTraceEventError needs at least one FieldError")
        self.errors: tuple[FieldError, ...] = tuple(errors)
        count = len(self.errors)
        head = "; ".join(str(e) for e in self.errors[:20])
        more = f"; ... and {count - 20} more" if count > 20 else ""
        noun = "error" if count == 1 else "errors"
        super().__init__(f"{count} {noun}: {head}{more}", field=self.errors[0].path)


class MassBalanceError(RejectedStatementError):
    """DESIGN §4 mass balance: per (lot, holder, unit) what leaves never exceeds what arrived.

    ``lot``, ``holder``, ``uom`` name the balance; ``available`` is what the holder has,
    ``requested`` what the refused statement would take out of it.
    """

    code = "mass-balance"

    def __init__(
        self,
        message: str,
        *,
        lot: str,
        holder: str,
        uom: str | None,
        available: Decimal,
        requested: Decimal,
        field: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.lot = lot
        self.holder = holder
        self.uom = uom
        self.available = available
        self.requested = requested


class ExceedsShipmentError(MassBalanceError):
    """A receipt (accepted plus rejected) or a voided shipment larger than what the shipper
    has in transit to the receiver; ``holder`` is ``"<shipper> -> <receiver>"``."""

    code = "exceeds-shipment"


class UnknownEventError(RejectedStatementError):
    """An error declaration names an ``eventID`` that this ledger never recorded."""

    code = "unknown-event"


class DuplicateEventError(ConflictError):
    """The ``eventID`` is already recorded: corrections are new events, never re-records."""

    code = "duplicate-event"


class LotCycleError(ConflictError):
    """A transformation whose output lot is one of its inputs or upstream of them."""

    code = "lot-cycle"


class UnknownLotError(LedgerError):
    """A provenance, recall or summary query for a lot no record names."""

    code = "unknown-lot"
