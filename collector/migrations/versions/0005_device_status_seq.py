"""The newest status seq taken from each device (its statuses are sealed and ordered by
`seq`, Sparkplug's bdSeq: a late will or a replayed status never overwrites a newer one).

Revision ID: 0005_device_status_seq
Revises: 0004_device_chains
Create Date: 2026-12-06

Explicit DDL for this change, frozen: never import collector.models here (a later model
change would change what this revision does).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_device_status_seq"
down_revision: str | Sequence[str] | None = "0004_device_chains"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(
            sa.Column("status_seq", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("status_seq")
