"""Opening the collector's database: SQLite (WAL) or PostgreSQL, schema made or migrated.

Migrations: `collector_meta.schema_version` says which schema a database has. A fresh
database gets every table at SCHEMA_VERSION; an older one runs the MIGRATIONS steps in
order (each `(from_version, step)` brings it to `from_version + 1`) inside one
transaction; a newer one is refused. Steps are plain SQLAlchemy DDL, written per change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from collector.errors import CollectorError, CollectorInput
from collector.models import SCHEMA_VERSION, Base, Meta

# JSON columns (each sale's raw record, above all) through msgspec, not the json module:
# encoding the raw record was ~7% of the ingest's time. Compact, UTF-8 unescaped; any
# JSON reads back the same, whichever wrote it.
_encoder = msgspec.json.Encoder()


def _json_text(value: object) -> str:
    return _encoder.encode(value).decode()


def _json_value(text: str | bytes) -> object:
    return msgspec.json.decode(text)


DEFAULT_URL = "sqlite:///collector.db"
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = []  # filled at the end of this file
# Any fixed number: every collector process takes this lock while it creates or migrates.
_SCHEMA_LOCK = 7_210_001


def open_database(url: str, *, migrate: bool = True) -> Engine:
    """An engine for `url` with the schema ready; CollectorInput when the URL is unusable."""
    if not (url.startswith("sqlite") or url.startswith("postgresql")):
        raise CollectorInput(
            f"database URL {url!r} is neither sqlite:///FILE nor postgresql+psycopg://…"
        )
    try:
        engine = create_engine(
            url, pool_pre_ping=True, json_serializer=_json_text, json_deserializer=_json_value
        )
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise CollectorInput(f"database URL {url!r} is not usable: {exc}") from exc
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    try:
        with engine.begin() as conn:
            _ensure_schema(conn, migrate)
    except OperationalError as exc:
        engine.dispose()
        raise CollectorInput(
            f"cannot open database {engine.url.render_as_string(hide_password=True)}: "
            f"{str(exc.orig).strip().splitlines()[0]}"
        ) from exc
    return engine


def _sqlite_setup(engine: Engine) -> None:
    # pysqlite would only BEGIN at the first write; BEGIN IMMEDIATE takes the write lock
    # up front so two processes cannot both read a device row and then both write it.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # An ack lets the device forget a sale: a committed batch must survive power loss.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _ensure_schema(conn: Connection, migrate: bool) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
    if not inspect(conn).has_table(Meta.__tablename__):
        Base.metadata.create_all(conn)
        conn.execute(insert(Meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
        return
    found = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    version = int(found or 0)
    if version > SCHEMA_VERSION:
        raise CollectorError(
            f"the database has schema {version}, newer than this collector's "
            f"{SCHEMA_VERSION}: upgrade the collector"
        )
    if version < SCHEMA_VERSION:
        if not migrate:
            raise CollectorError(f"the database has schema {version}: run `collector run` once")
        for start, step in MIGRATIONS:
            if start >= version:
                step(conn)
        conn.execute(
            update(Meta).where(Meta.key == "schema_version").values(value=str(SCHEMA_VERSION))
        )


def _loyalty_tables(conn: Connection) -> None:
    """1 -> 2: the loyalty ledger, cards, consents, channels, keys; customers sealed.
    Schema 1's customers table was never written (it held plain names), so it is replaced;
    should one hold rows, we stop rather than keep or drop personal data silently."""
    from collector import models

    rows = conn.execute(text("SELECT count(*) FROM customers")).scalar()
    if rows:
        raise CollectorError(
            f"the customers table has {rows} unencrypted rows from schema 1: export them to "
            "CSV, empty the table and run `collector customers import` after the upgrade"
        )
    conn.execute(text("DROP TABLE customers"))
    tables = [
        models.Customer,
        models.CustomerKey,
        models.Consent,
        models.LoyaltyCard,
        models.LoyaltyAccount,
        models.LoyaltyEntry,
        models.LoyaltyLot,
        models.LoyaltyAllocation,
        models.LoyaltyReservation,
        models.LoyaltyChannel,
    ]
    Base.metadata.create_all(conn, tables=[t.__table__ for t in tables])  # type: ignore[misc]


MIGRATIONS.append((1, _loyalty_tables))
