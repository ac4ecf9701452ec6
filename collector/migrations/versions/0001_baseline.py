"""Baseline: the schema as the collector before Alembic made it (its schema 2).

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-03

Every table, column, type, index and constraint exactly as `Base.metadata.create_all`
made them at commit 573aa3b, on SQLite and on PostgreSQL (tests/test_collector_migrations
checks it against a database that code made), and `collector_meta.schema_version` = "2"
as it wrote it. A database that code made is stamped here rather than run through this.

Frozen DDL: this revision must never change, nor import collector.models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_baseline"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite only autoincrements an INTEGER primary key: BIGINT ids are INTEGER there.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# (table, index, columns) of every index; each `index=True` column is ix_<table>_<column>.
INDEXES = (
    ("devices", "ix_devices_store", ["store"]),
    ("consents", "ix_consents_account", ["account"]),
    ("loyalty_entries", "ix_loyalty_entries_account_at", ["account", "at"]),
    ("loyalty_lots", "ix_loyalty_lots_entry", ["entry"]),
    ("loyalty_lots", "ix_loyalty_lots_open", ["account", "remaining", "earned_at"]),
    ("loyalty_allocations", "ix_loyalty_allocations_entry", ["entry"]),
    ("loyalty_allocations", "ix_loyalty_allocations_lot", ["lot"]),
    ("loyalty_reservations", "ix_loyalty_reservations_open", ["account", "state"]),
    ("loyalty_reservations", "ix_loyalty_reservations_sale_id", ["sale_id"]),
    ("sales", "ix_sales_day", ["day"]),
    ("sales", "ix_sales_account", ["account"]),
    ("sale_lines", "ix_sale_lines_sale", ["sale"]),
    ("sale_lines", "ix_sale_lines_sku", ["sku"]),
    ("tenders", "ix_tenders_sale", ["sale"]),
    ("events", "ix_events_device", ["device"]),
)


def upgrade() -> None:
    meta = op.create_table(
        "collector_meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("store", sa.String(32), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("first_seen", sa.String(32), nullable=False),
        sa.Column("last_seen", sa.String(32), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("outbox_depth", sa.Integer(), nullable=True),
        sa.Column("printer", sa.String(64), nullable=True),
        sa.Column("telemetry", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "customers",
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_table(
        "customer_keys",
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "loyalty_cards",
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("issue", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(13), nullable=False),
        sa.Column("issued_at", sa.String(32), nullable=False),
        sa.Column("blocked_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("account", "issue"),
    )
    op.create_table(
        "loyalty_accounts",
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("overdrawn", sa.BigInteger(), nullable=False),
        sa.Column("issue", sa.Integer(), nullable=False),
        sa.Column("next_expiry", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_table(
        "loyalty_entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("spend", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "loyalty_lots",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("entry", BIG_ID, nullable=False),
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("earned_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=True),
        sa.Column("source", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["entry"], ["loyalty_entries.id"]),
    )
    op.create_table(
        "loyalty_allocations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("entry", BIG_ID, nullable=False),
        sa.Column("lot", BIG_ID, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["entry"], ["loyalty_entries.id"]),
        sa.ForeignKeyConstraint(["lot"], ["loyalty_lots.id"]),
    )
    op.create_table(
        "loyalty_reservations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("sale_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.Column("entry", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "loyalty_channels",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.String(64), nullable=False),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("receipt_no", sa.String(128), nullable=False),
        sa.Column("store", sa.String(32), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("staff", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(16), nullable=True),
        sa.Column("refund_of", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("ingested_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device", "seq", name="uq_sales_device_seq"),
        sa.UniqueConstraint("sale_id"),
        sa.ForeignKeyConstraint(["device"], ["devices.id"]),
    )
    op.create_table(
        "sale_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["sale"], ["sales.id"]),
    )
    op.create_table(
        "tenders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["sale"], ["sales.id"]),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "stock",
        sa.Column("store", sa.String(32), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("level", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("published_version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store", "sku"),
    )
    op.create_table(
        "stock_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store", sa.String(32), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64), nullable=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(256), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns)
    # What the collector before Alembic reads: it keeps opening a database at this
    # revision, and refuses one past it (collector.db writes "3" then).
    op.bulk_insert(meta, [{"key": "schema_version", "value": "2"}])


def downgrade() -> None:
    for table in (
        "dead_letters",
        "stock_moves",
        "stock",
        "events",
        "tenders",
        "sale_lines",
        "sales",
        "loyalty_channels",
        "loyalty_reservations",
        "loyalty_allocations",
        "loyalty_lots",
        "loyalty_entries",
        "loyalty_accounts",
        "loyalty_cards",
        "consents",
        "customer_keys",
        "customers",
        "devices",
        "collector_meta",
    ):
        op.drop_table(table)  # its indexes go with it
