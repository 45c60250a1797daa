"""Witness cosignatures: an append-only table beside the checkpoints.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cosignatures",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=255), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness", "key_id", name=op.f("pk_cosignatures")),
    )
    # Append-only like the log tables (0001): UPDATE, DELETE and TRUNCATE are refused.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER cosignatures_no_{action.lower()} BEFORE {action} ON cosignatures "
                "BEGIN SELECT RAISE(ABORT, 'cosignatures is append-only'); END"
            )
    elif dialect == "postgresql":
        # fairledger_append_only() was created by 0001.
        op.execute(
            "CREATE TRIGGER cosignatures_append_only BEFORE UPDATE OR DELETE ON cosignatures "
            "FOR EACH ROW EXECUTE FUNCTION fairledger_append_only()"
        )
        op.execute(
            "CREATE TRIGGER cosignatures_no_truncate BEFORE TRUNCATE ON cosignatures "
            "FOR EACH STATEMENT EXECUTE FUNCTION fairledger_append_only()"
        )
    else:  # pragma: no cover - only the two supported backends reach here
        raise RuntimeError(f"unsupported database dialect {dialect}")


def downgrade() -> None:
    raise RuntimeError("witness cosignatures cannot be downgraded: they are append-only")
