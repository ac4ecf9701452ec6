"""Enrolled devices and the certificates the fleet CA issued (collector/enrolment.py).

Revision ID: 0003_enrolments
Revises: 0002_collector_members
Create Date: 2026-12-04

Explicit DDL for this change, frozen: never import collector.models here (a later model
change would change what this revision does).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_enrolments"
down_revision: str | Sequence[str] | None = "0002_collector_members"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrolments",
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("store", sa.String(length=32), nullable=False),
        sa.Column("enrolled_at", sa.String(length=32), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.Column("rekey_allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("device"),
    )
    op.create_index(op.f("ix_enrolments_store"), "enrolments", ["store"], unique=False)
    op.create_table(
        "fleet_certificates",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("serial"),
    )
    op.create_index(
        op.f("ix_fleet_certificates_device"), "fleet_certificates", ["device"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_fleet_certificates_device"), table_name="fleet_certificates")
    op.drop_table("fleet_certificates")
    op.drop_index(op.f("ix_enrolments_store"), table_name="enrolments")
    op.drop_table("enrolments")
