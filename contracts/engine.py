"""The contract engine against a ``Ledger``: settle, record, verify, audit.

Thin I/O on top of the pure functions: read the records settlement needs (one read
transaction, a consistent prefix), call ``contracts.settlement.settle``, and sign and append
the statement as the operator. Time and nonces are parameters; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from contracts.entries import Entry
from contracts.errors import SettlementInputError
from contracts.projection import ContractProjection
from contracts.provenance import ProvenanceSource
from contracts.settlement import (
    SETTLEMENT_KINDS,
    MarketPrices,
    SettlementStatement,
    settle,
    statement_hash,
    verify_settlement,
)
from contracts.validators import CONTRACT_VALIDATORS
from ledger.keys import PrivateKey
from ledger.log import AppendResult, Ledger
from ledger.state import Kind
from ledger.statement import Statement, Submission, sign_statement

__all__ = [
    "ledger_entries",
    "open_contract_ledger",
    "record_settlement",
    "recorded_settlements",
    "settle_ledger",
    "settlement_submission",
    "verify_recorded_settlements",
]


def open_contract_ledger(url: str, *, operator_key: PrivateKey | None = None) -> Ledger:
    """Open a ledger with the contract validators and projection registered."""
    return Ledger.open(
        url,
        operator_key=operator_key,
        validators=dict(CONTRACT_VALIDATORS),
        projections=[ContractProjection()],
    )


def ledger_entries(
    ledger: Ledger, kinds: Iterable[str] = SETTLEMENT_KINDS, *, upto: int | None = None
) -> list[Entry]:
    """The records of ``kinds`` with ``seq <= upto`` (default: all), as entries, from one
    read transaction."""
    with ledger.store.read() as tx:
        stored = tx.records_of_kinds(0, sorted(kinds))
    return [Entry.from_leaf(record.leaf) for record in stored if upto is None or record.seq <= upto]


def settle_ledger(
    ledger: Ledger,
    contract_id: str,
    period: str,
    provenance: ProvenanceSource,
    *,
    as_of_seq: int | None = None,
    market_prices: MarketPrices | None = None,
    issued_on: date | None = None,
) -> SettlementStatement:
    """``settle`` over this ledger's records up to ``as_of_seq`` (default: its last record).

    Raises like ``settle``; ``SettlementInputError`` if ``as_of_seq`` is beyond the ledger.
    """
    size = ledger.size
    upto = size - 1 if as_of_seq is None else as_of_seq
    if not 0 <= upto < size:
        raise SettlementInputError(f"as_of_seq must lie in [0, {size - 1}], got {upto}")
    entries = ledger_entries(ledger, upto=upto)
    return settle(
        contract_id,
        period,
        upto,
        entries,
        provenance,
        market_prices=market_prices,
        issued_on=issued_on,
    )


def settlement_submission(
    ledger: Ledger,
    statement: SettlementStatement,
    operator_key: PrivateKey,
    *,
    now: datetime,
    nonce: str | None = None,
) -> Submission:
    """The operator's signed ``settlement.statement``. The default nonce is derived from the
    statement hash, so recording the same statement twice is an idempotent replay."""
    statement_nonce = nonce or f"settle-{statement.hash[:48]}"
    return sign_statement(
        Statement.build(
            ledger=ledger.origin,
            kind=Kind.SETTLEMENT,
            author=ledger.operator_id,
            key=operator_key.public_key.key_id,
            nonce=statement_nonce,
            issued_at=now,
            body=statement.to_json(),
        ),
        operator_key,
    )


def record_settlement(
    ledger: Ledger,
    statement: SettlementStatement,
    operator_key: PrivateKey,
    *,
    now: datetime,
    nonce: str | None = None,
) -> AppendResult:
    """Sign and append ``statement`` as the operator; raises like ``Ledger.submit``.

    With the default nonce, a statement already recorded (same bytes, whenever it was
    signed) is not recorded again: its original receipt is returned (``created`` False).
    """
    submission = settlement_submission(ledger, statement, operator_key, now=now, nonce=nonce)
    pair = (submission.statement.author, submission.statement.nonce)
    with ledger.store.read() as tx:
        existing = tx.find_nonces([pair]).get(pair)
    if existing is not None and nonce is None:
        recorded = Entry.from_leaf(existing.leaf)
        if recorded.kind == Kind.SETTLEMENT and recorded.body == submission.statement.body:
            return AppendResult(ledger.receipt(existing.seq), created=False)
    return ledger.submit(submission, now=now)


def recorded_settlements(
    ledger: Ledger, contract_id: str | None = None, period: str | None = None
) -> list[Entry]:
    """Recorded ``settlement.statement`` records, optionally for one contract and period,
    in seq order."""
    return [
        entry
        for entry in ledger_entries(ledger, (Kind.SETTLEMENT,))
        if (contract_id is None or entry.body.get("contract_id") == contract_id)
        and (period is None or entry.body.get("period") == period)
    ]


def verify_recorded_settlements(
    ledger: Ledger, provenance: ProvenanceSource
) -> list[tuple[int, str]]:
    """Re-settle every recorded statement (DESIGN §7). Returns ``(seq, statement hash)`` per
    statement; raises ``SettlementMismatchError`` at the first one that differs."""
    entries = ledger_entries(ledger)
    checked = []
    for entry in entries:
        if entry.kind == Kind.SETTLEMENT:
            verify_settlement(entry.body, entries, provenance, seq=entry.seq)
            checked.append((entry.seq, statement_hash(entry.body)))
    return checked
