"""A device's journal chains (`collector fleet rekey`): the chain number of each device
and each sale, sales unique per device, chain and seq, and the chains a rekey ended.

Revision ID: 0004_device_chains
Revises: 0003_enrolments
Create Date: 2026-12-06

Every device and sale there is belongs to chain 1 (its first key). Explicit DDL for this
change, frozen: never import collector.models here (a later model change would change what
this revision does).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_device_chains"
down_revision: str | Sequence[str] | None = "0003_enrolments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("chain", sa.Integer(), server_default="1", nullable=False))
    if op.get_context().dialect.name == "sqlite":
        _sqlite_sales()
    else:
        op.add_column("sales", sa.Column("chain", sa.Integer(), server_default="1", nullable=False))
        op.drop_constraint("uq_sales_device_seq", "sales", type_="unique")
        op.create_unique_constraint(
            "uq_sales_device_chain_seq", "sales", ["device", "chain", "seq"]
        )
    op.create_table(
        "device_chains",
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("ended_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["device"], ["devices.id"]),
        sa.PrimaryKeyConstraint("device", "chain"),
    )


def _sqlite_sales() -> None:
    """SQLite drops a constraint only by copying the table. Spelt out here rather than a
    batch operation, whose copy orders the constraints as a set iterates (differently from
    one run to the next), so that every database at this revision has the same DDL. The
    foreign keys of sale_lines and tenders name `sales`, and point at the copy once it is
    renamed (they are off for the migration and checked before the commit, collector.db)."""
    op.create_table(
        "_sales_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.String(64), nullable=False),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("chain", sa.Integer(), server_default="1", nullable=False),
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
        sa.UniqueConstraint("device", "chain", "seq", name="uq_sales_device_chain_seq"),
        sa.UniqueConstraint("sale_id"),
        sa.ForeignKeyConstraint(["device"], ["devices.id"]),
    )
    columns = (
        "id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, "
        "currency, total, account, refund_of, hash, raw, ingested_at"
    )
    op.execute(f"INSERT INTO _sales_chain ({columns}, chain) SELECT {columns}, 1 FROM sales")
    op.drop_table("sales")  # and its indexes
    op.rename_table("_sales_chain", "sales")
    op.create_index("ix_sales_day", "sales", ["day"], unique=False)
    op.create_index("ix_sales_account", "sales", ["account"], unique=False)


def downgrade() -> None:
    # Only while every device is on its first chain: a second chain's seqs repeat the
    # first's, which the old constraint would refuse.
    op.drop_table("device_chains")
    with op.batch_alter_table("sales") as t:
        t.drop_constraint("uq_sales_device_chain_seq", type_="unique")
        t.create_unique_constraint("uq_sales_device_seq", ["device", "seq"])
        t.drop_column("chain")
    with op.batch_alter_table("devices") as t:
        t.drop_column("chain")
