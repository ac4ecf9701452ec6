"""The one statement SQLite and PostgreSQL spell alike but SQLAlchemy builds per dialect:
`INSERT … ON CONFLICT`, which makes a row only if it is not there yet (device rows,
loyalty accounts, stock levels) without a read first."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert_insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT that can say ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
