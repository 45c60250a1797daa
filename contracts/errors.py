"""The contract layer's branch of the FairLedger error tree.

Every failure of ``contracts/`` is a ``ContractError``, itself a ``LedgerError`` (see
``ledger/errors.py``), so the API maps it like any other ledger error by its stable ``code``::

    LedgerError
    └── ContractError                  a contract, its money or its facts cannot be used
        ├── MoneyError                 an amount or currency that breaks the money rules
        │   ├── UnknownCurrencyError   not an ISO 4217 code, or a code without minor units
        │   ├── CurrencyMismatchError  arithmetic or comparison across two currencies
        │   ├── PrecisionError         an amount finer than the currency's minor unit
        │   └── MoneyTypeError         a float, bool or other non-exact number (also a TypeError)
        ├── AllocationError            a split that cannot be made (no weight, bad keys)
        ├── InvalidTermsError          contract terms refused by validation; ``field`` names
        │                              the first offending field as a dotted path
        ├── InvalidFactError           a delivery, sale, invoice or reading that is malformed
        ├── RuleError                  well-formed inputs that a rule cannot price
        │   └── ReferenceRateMissingError  no reference rate in force for a half-year
        ├── MalformedContractStatementError  a contract/sale/settlement/payment body that
        │                              breaks its format (also a MalformedStatementError)
        ├── ContractRejectedError      a well-formed statement the contract history refuses
        │   │                          (also a RejectedStatementError; nothing is written)
        │   ├── UnknownContractError   no such contract (or version) on the ledger
        │   ├── TermsMismatchError     the accepted hash is not the proposed terms' hash
        │   ├── NotAPartyError         the author is not a party that may do this
        │   ├── ContractStateError     not allowed in the contract's current state
        │   ├── TerminationRefusedError  the terms give the author no termination right
        │   ├── UnknownObligationError no such obligation or payment
        │   └── PaymentRefusedError    payer, payee, currency or amounts do not fit
        ├── SettlementInputError       settlement cannot be computed (missing market price)
        └── SettlementMismatchError    re-settlement differs from a recorded statement
                                       (also a VerificationError)

Messages say what was expected and what was observed.
"""

from __future__ import annotations

from ledger.errors import (
    LedgerError,
    MalformedStatementError,
    RejectedStatementError,
    VerificationError,
)


class ContractError(LedgerError):
    """Base of every error raised by ``contracts/``."""

    code = "contract-error"


class MoneyError(ContractError):
    code = "money-error"


class UnknownCurrencyError(MoneyError):
    code = "unknown-currency"


class CurrencyMismatchError(MoneyError):
    code = "currency-mismatch"


class PrecisionError(MoneyError):
    code = "excess-precision"


class MoneyTypeError(MoneyError, TypeError):
    """A float, bool or other inexact value where an exact number is required.

    Also a ``TypeError``, so it reads naturally at call sites that pass the wrong type.
    """

    code = "inexact-number"


class AllocationError(ContractError):
    code = "allocation-invalid"


class InvalidTermsError(ContractError):
    """Contract terms that fail validation.

    ``field`` is the dotted path of the first offending field (e.g. ``payment.net_days``);
    ``errors`` holds one ``(path, message)`` pair per problem found.
    """

    code = "invalid-terms"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message, field=field)
        self.errors = errors


class InvalidFactError(ContractError):
    code = "invalid-fact"


class RuleError(ContractError):
    code = "rule-not-applicable"


class ReferenceRateMissingError(RuleError):
    code = "reference-rate-missing"


class MalformedContractStatementError(ContractError, MalformedStatementError):
    """A ``contract.*``, ``sale.report``, ``settlement.statement`` or ``payment.*`` body that
    breaks its format; ``field`` is the dotted path (``statement.body.terms.payment.net_days``)."""

    code = "malformed-contract-statement"


class ContractRejectedError(ContractError, RejectedStatementError):
    """A well-formed statement refused by the contract history (the ledger writes nothing)."""

    code = "contract-rejected"


class UnknownContractError(ContractRejectedError):
    code = "unknown-contract"


class TermsMismatchError(ContractRejectedError):
    code = "terms-mismatch"


class NotAPartyError(ContractRejectedError):
    code = "not-a-party"


class ContractStateError(ContractRejectedError):
    code = "contract-state"


class TerminationRefusedError(ContractRejectedError):
    code = "termination-refused"


class UnknownObligationError(ContractRejectedError):
    code = "unknown-obligation"


class PaymentRefusedError(ContractRejectedError):
    code = "payment-refused"


class SettlementInputError(ContractError):
    """Settlement cannot be computed from what was given (e.g. a market price is missing)."""

    code = "settlement-input"


class SettlementMismatchError(ContractError, VerificationError):
    """Re-settling a recorded statement gave different bytes; ``expected`` is the recorded
    value at the first differing path, ``observed`` the recomputed one, ``seq`` the record."""

    code = "settlement-mismatch"
