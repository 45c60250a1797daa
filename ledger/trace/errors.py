"""Errors of the traceability domain layer.

They hang under ``ledger.errors.MalformedError`` in the one error tree::

    LedgerError
    └── MalformedError
        ├── MalformedIdentifierError   a GS1 key, EPC URI or Digital Link that is not valid
        ├── MalformedVocabularyError   a bizStep, disposition or other CBV value that is not valid
        └── MalformedEventError        an EPCIS event or document; carries every (path, message)

Messages name the identifier or field and say what was expected and what was observed.
"""

from __future__ import annotations

from typing import NamedTuple

from ledger.errors import MalformedError


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
