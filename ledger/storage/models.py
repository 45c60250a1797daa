"""SQLAlchemy 2.0 models. Only ``ledger.storage`` imports SQLAlchemy.

``records``, ``tree_nodes`` and ``checkpoints`` are the log itself and are append-only at the
database level (triggers, see the Alembic migration). Everything else is a projection: a
derived table written in the same transaction as the append and rebuilt from the records by
``fairledger rebuild``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledger.storage.sqlite_reader import NODE_SHIFT as NODE_SHIFT

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RecordRow(Base):
    """One log leaf. ``leaf`` is JCS(record): the exact bytes whose leaf hash is
    ``entry_hash``. ``author``, ``nonce``, ``kind`` and ``key_id`` are copies of statement
    fields kept for indexing (replay lookup, state catch-up)."""

    __tablename__ = "records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(63))
    nonce: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("nonce", "author", name="uq_records_nonce_author"),
        Index("ix_records_kind_seq", "kind", "seq"),
    )


def node_key(level: int, idx: int) -> int:
    return level << NODE_SHIFT | idx


class TreeNodeRow(Base):
    """Hash of the perfect subtree ``(level, idx)`` for level >= 1, keyed by
    ``node_key(level, idx)``; level 0 is ``records.entry_hash``."""

    __tablename__ = "tree_nodes"

    node: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class CheckpointRow(Base):
    """A signed checkpoint (C2SP signed note) issued when the log reached ``size``."""

    __tablename__ = "checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)


class ParticipantRow(Base):
    """Projection: registered participants."""

    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(100))  # comma-separated, sorted
    gln: Mapped[str | None] = mapped_column(String(13))
    registered_seq: Mapped[int] = mapped_column(BigInteger)


class KeyRow(Base):
    """Projection: every key ever registered, with its validity interval."""

    __tablename__ = "participant_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(44))
    added_seq: Mapped[int] = mapped_column(BigInteger)
    retired_seq: Mapped[int | None] = mapped_column(BigInteger)
    retired_how: Mapped[str | None] = mapped_column(String(16))
    retired_reason: Mapped[str | None] = mapped_column(String(200))


class ProjectionDocumentRow(Base):
    """Projection: JSON documents kept by domain projections that need no relational queries
    (contracts, obligations, ...), so that domains outside ``ledger.storage`` never touch SQL.
    ``key`` is ordered, so prefixes serve as simple indexes (``"by-party/mill/"``)."""

    __tablename__ = "projection_documents"

    collection: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: Byte order on every backend, so prefixes and pages agree between SQLite and PostgreSQL.
    key: Mapped[str] = mapped_column(
        String(255).with_variant(String(255, collation="C"), "postgresql"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)


class ProjectionMetaRow(Base):
    """Projection bookkeeping: how many records the projections reflect."""

    __tablename__ = "projection_meta"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


#: Tables that are the log itself (append-only, never rebuilt).
LOG_TABLES = ("records", "tree_nodes", "checkpoints")
