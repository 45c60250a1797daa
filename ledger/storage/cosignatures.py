"""Witness cosignatures, stored append-only beside the checkpoints they sign.

One row per (checkpoint size, witness key name, witness key id): the first valid cosignature
a witness sends for a checkpoint is kept; the same line again is a no-op, a different one is
refused. Like the log tables, the table rejects UPDATE and DELETE at the database level
(migration 0004). Functions take a transaction from ``SqlStore`` and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import BigInteger, String, Table, Text, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from ledger.storage.models import Base
from ledger.storage.store import Reader, WriteTx


class CosignatureRow(Base):
    """A witness's cosignature/v1 line on the checkpoint of ``size`` (C2SP tlog-cosignature);
    ``line`` is the whole signature line, ``timestamp`` the time it carries."""

    __tablename__ = "cosignatures"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(255), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)


cosignatures = cast(Table, CosignatureRow.__table__)


@dataclass(frozen=True, slots=True)
class StoredCosignature:
    size: int
    witness: str
    key_id: str
    timestamp: int
    line: str


def find_cosignature(tx: Reader, size: int, witness: str, key_id: str) -> StoredCosignature | None:
    """The cosignature a witness key already gave the checkpoint of ``size``, if any."""
    row = tx.conn.execute(
        select(cosignatures).where(
            cosignatures.c.size == size,
            cosignatures.c.witness == witness,
            cosignatures.c.key_id == key_id,
        )
    ).one_or_none()
    if row is None:
        return None
    return StoredCosignature(int(row.size), row.witness, row.key_id, int(row.timestamp), row.line)


def insert_cosignature(tx: WriteTx, cosignature: StoredCosignature) -> None:
    """Store a cosignature (the caller checked there is none for that witness key yet)."""
    tx.conn.execute(
        insert(cosignatures).values(
            size=cosignature.size,
            witness=cosignature.witness,
            key_id=cosignature.key_id,
            timestamp=cosignature.timestamp,
            line=cosignature.line,
        )
    )


def cosignature_lines(tx: Reader, size: int, limit: int = 99) -> list[str]:
    """Signature lines of the checkpoint of ``size``, by witness name and key id (at most
    ``limit``: a signed note holds 100 signatures, the operator's among them)."""
    rows = tx.conn.execute(
        select(cosignatures.c.line)
        .where(cosignatures.c.size == size)
        .order_by(cosignatures.c.witness, cosignatures.c.key_id)
        .limit(limit)
    )
    return [r.line for r in rows]


__all__ = [
    "CosignatureRow",
    "StoredCosignature",
    "cosignature_lines",
    "find_cosignature",
    "insert_cosignature",
]
