"""Projection documents: a generic JSON projection table for domain views.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_documents",
        sa.Column("collection", sa.String(length=32), nullable=False),
        sa.Column(
            "key",
            sa.String(length=255).with_variant(sa.String(255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("collection", "key", name=op.f("pk_projection_documents")),
    )


def downgrade() -> None:
    op.drop_table("projection_documents")
