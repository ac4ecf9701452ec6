"""A fresh PostgreSQL database per test module on 127.0.0.1:5432 (trust auth), dropped after.

With `CI` set an unreachable server fails the test; otherwise it is skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

HOST = os.environ.get("PGHOST", "127.0.0.1")
PORT = int(os.environ.get("PGPORT", "5432"))
USER = os.environ.get("PGUSER", "postgres")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(
            host=HOST, port=PORT, user=USER, dbname="postgres", autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as exc:
        why = f"PostgreSQL at {HOST}:{PORT} is not reachable as {USER}: {exc}".strip()
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@contextmanager
def fresh_database(prefix: str = "collector_test") -> Iterator[str]:
    """Yields a SQLAlchemy URL (`postgresql+psycopg://…`) of a new, empty database."""
    admin = _admin()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{USER}@{HOST}:{PORT}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
