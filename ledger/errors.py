"""The one error tree of FairLedger.

Every failure the library reports is a ``LedgerError``; foreign exceptions are wrapped
(``raise ... from exc``) so callers never have to catch a third-party type::

    LedgerError
    ├── MalformedError                 input that cannot be parsed or does not fit its format
    │   ├── CanonicalizationError      not representable as RFC 8785 canonical JSON
    │   ├── MalformedStatementError    a statement or submission that breaks DESIGN §2
    │   ├── MalformedNoteError         a signed note / checkpoint that breaks C2SP
    │   └── MalformedKeyError          a key file, vkey or public key that cannot be used
    ├── RejectedStatementError         well-formed but refused by a ledger rule
    │   ├── SignatureRejectedError     the submission's signature does not verify
    │   ├── UnknownKeyError            the key id is not registered to the author
    │   ├── KeyNotActiveError          the key was rotated out or revoked
    │   ├── UnauthorizedKindError      the author's roles do not allow that kind
    │   ├── WrongLedgerError           the statement names another ledger
    │   ├── DuplicateNonceError        the (author, nonce) pair was used for another statement
    │   └── ConflictError              the statement contradicts ledger state (e.g. re-register)
    ├── VerificationError              evidence does not check out; carries seq/expected/observed
    │   ├── SignatureError             a signature over a record or note is invalid
    │   ├── ChainLinkError             ``prev`` or the entry hash does not match
    │   ├── RecordRuleError            a recorded statement breaks a rule (key, role, kind)
    │   ├── InclusionProofError        an inclusion proof does not lead to the root
    │   ├── ConsistencyProofError      a consistency proof does not relate two roots
    │   ├── CheckpointError            a checkpoint's root or size does not match the log
    │   └── ForkError                  two signed checkpoints that cannot both be true
    └── StorageError                   the database failed or refused
        ├── LedgerNotInitializedError  no genesis record yet
        └── StorageUnavailableError    the database cannot be reached or is full (retryable)

``VerificationError`` messages always say what was expected and what was observed.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every FairLedger error."""

    #: Stable machine-readable code; the API maps it to an RFC 9457 problem ``type``.
    code = "ledger-error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        #: Position of the offending submission inside a batch, when known.
        self.index: int | None = None


class MalformedError(LedgerError):
    code = "malformed"


class CanonicalizationError(MalformedError):
    code = "not-canonical"


class MalformedStatementError(MalformedError):
    code = "malformed-statement"


class MalformedNoteError(MalformedError):
    code = "malformed-note"


class MalformedKeyError(MalformedError):
    code = "malformed-key"


class RejectedStatementError(LedgerError):
    code = "rejected"

    def __init__(self, message: str, *, field: str | None = None, index: int | None = None) -> None:
        super().__init__(message, field=field)
        self.index = index


class SignatureRejectedError(RejectedStatementError):
    code = "bad-signature"


class UnknownKeyError(RejectedStatementError):
    code = "unknown-key"


class KeyNotActiveError(RejectedStatementError):
    code = "key-not-active"


class UnauthorizedKindError(RejectedStatementError):
    code = "wrong-author"


class WrongLedgerError(RejectedStatementError):
    code = "wrong-ledger"


class DuplicateNonceError(RejectedStatementError):
    code = "duplicate-nonce"


class ConflictError(RejectedStatementError):
    code = "conflict"


class VerificationError(LedgerError):
    """Evidence that does not check out. ``seq`` is the record at fault, when there is one."""

    code = "verification-failed"

    def __init__(
        self,
        message: str,
        *,
        seq: int | None = None,
        expected: str | None = None,
        observed: str | None = None,
    ) -> None:
        detail = message
        if seq is not None:
            detail = f"seq {seq}: {detail}"
        if expected is not None or observed is not None:
            detail = f"{detail} (expected {expected}, observed {observed})"
        super().__init__(detail)
        self.seq = seq
        self.expected = expected
        self.observed = observed


class SignatureError(VerificationError):
    code = "signature-invalid"


class ChainLinkError(VerificationError):
    code = "chain-broken"


class RecordRuleError(VerificationError):
    code = "record-rule-violated"


class InclusionProofError(VerificationError):
    code = "inclusion-proof-invalid"


class ConsistencyProofError(VerificationError):
    code = "consistency-proof-invalid"


class CheckpointError(VerificationError):
    code = "checkpoint-invalid"


class ForkError(VerificationError):
    """Two signed checkpoints that cannot both describe one append-only log. ``checkpoints``
    holds both signed notes as evidence."""

    code = "fork-detected"

    def __init__(
        self,
        message: str,
        *,
        seq: int | None = None,
        expected: str | None = None,
        observed: str | None = None,
        checkpoints: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, seq=seq, expected=expected, observed=observed)
        self.checkpoints = checkpoints


class StorageError(LedgerError):
    code = "storage-error"


class LedgerNotInitializedError(StorageError):
    code = "not-initialized"


class StorageUnavailableError(StorageError):
    code = "storage-unavailable"
