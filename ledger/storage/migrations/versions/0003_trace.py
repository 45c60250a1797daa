"""Traceability projection: lots, events, movements, lot edges, holdings, shipments in
transit and pallet contents (``ledger.storage.trace``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = (
    "trace_lots",
    "trace_events",
    "trace_movements",
    "trace_edges",
    "trace_holdings",
    "trace_transit",
    "trace_sscc_contents",
)


def upgrade() -> None:
    op.create_table(
        "trace_lots",
        sa.Column("lot", sa.String(length=255), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot_number", sa.String(length=80), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lot", name=op.f("pk_trace_lots")),
    )
    op.create_table(
        "trace_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("declaration", sa.Boolean(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("biz_step", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=True),
        sa.Column("author", sa.String(length=63), nullable=False),
        sa.Column("event_time", sa.String(length=32), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("voided_by", sa.BigInteger(), nullable=True),
        sa.Column("declares", sa.BigInteger(), nullable=True),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("corrective_ids", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_trace_events")),
    )
    op.create_index(
        "uq_trace_events_event_id", "trace_events", ["event_id", "declaration"], unique=True
    )
    op.create_index("ix_trace_events_event_time", "trace_events", ["event_time"])
    op.create_index("ix_trace_events_author", "trace_events", ["author", "seq"])
    op.create_table(
        "trace_movements",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lot", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=63), nullable=False),
        sa.Column("effect", sa.String(length=4), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=True),
        sa.Column("uom", sa.String(length=8), nullable=False),
        sa.Column("counterparty", sa.String(length=255), nullable=True),
        sa.Column("sscc", sa.String(length=18), nullable=True),
        sa.Column("transit", sa.Boolean(), nullable=False),
        sa.Column("voided_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("seq", "idx", name=op.f("pk_trace_movements")),
    )
    op.create_index("ix_trace_movements_lot", "trace_movements", ["lot", "seq"])
    op.create_index("ix_trace_movements_counterparty", "trace_movements", ["counterparty", "seq"])
    op.create_table(
        "trace_edges",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("input_lot", sa.String(length=255), nullable=False),
        sa.Column("output_lot", sa.String(length=255), nullable=False),
        sa.Column("input_quantity", sa.Text(), nullable=True),
        sa.Column("input_uom", sa.String(length=8), nullable=False),
        sa.Column("output_quantity", sa.Text(), nullable=True),
        sa.Column("output_uom", sa.String(length=8), nullable=False),
        sa.Column("input_share", sa.Text(), nullable=True),
        sa.Column("voided_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("seq", "input_lot", "output_lot", name=op.f("pk_trace_edges")),
    )
    op.create_index("ix_trace_edges_output_lot", "trace_edges", ["output_lot", "input_lot"])
    op.create_index("ix_trace_edges_input_lot", "trace_edges", ["input_lot", "output_lot"])
    op.create_table(
        "trace_holdings",
        sa.Column("lot", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=63), nullable=False),
        sa.Column("uom", sa.String(length=8), nullable=False),
        sa.Column("commissioned", sa.Text(), nullable=False),
        sa.Column("produced", sa.Text(), nullable=False),
        sa.Column("received", sa.Text(), nullable=False),
        sa.Column("returned", sa.Text(), nullable=False),
        sa.Column("shipped", sa.Text(), nullable=False),
        sa.Column("consumed", sa.Text(), nullable=False),
        sa.Column("destroyed", sa.Text(), nullable=False),
        sa.Column("sold", sa.Text(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lot", "holder", "uom", name=op.f("pk_trace_holdings")),
    )
    op.create_table(
        "trace_transit",
        sa.Column("lot", sa.String(length=255), nullable=False),
        sa.Column("shipper", sa.String(length=63), nullable=False),
        sa.Column("receiver", sa.String(length=255), nullable=False),
        sa.Column("uom", sa.String(length=8), nullable=False),
        sa.Column("shipped", sa.Text(), nullable=False),
        sa.Column("received", sa.Text(), nullable=False),
        sa.Column("returned", sa.Text(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lot", "shipper", "receiver", "uom", name=op.f("pk_trace_transit")),
    )
    op.create_table(
        "trace_sscc_contents",
        sa.Column("sscc", sa.String(length=18), nullable=False),
        sa.Column("lot", sa.String(length=255), nullable=False),
        sa.Column("uom", sa.String(length=8), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sscc", "lot", "uom", name=op.f("pk_trace_sscc_contents")),
    )
    op.create_index("ix_trace_sscc_contents_lot", "trace_sscc_contents", ["lot"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
