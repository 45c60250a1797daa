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
        └── RuleError                  well-formed inputs that a rule cannot price
            └── ReferenceRateMissingError  no reference rate in force for a half-year

Messages say what was expected and what was observed.
"""

from __future__ import annotations

from ledger.errors import LedgerError


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
