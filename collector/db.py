"""Opening the collector's database: SQLite (WAL) or PostgreSQL, schema made or migrated.

Migrations are Alembic revisions in collector/migrations/versions, each explicit DDL frozen
when it was written; Alembic is configured here in Python (`alembic_config`), so an
installed collector migrates without an alembic.ini. `open_database`, in one transaction
(under an advisory lock on PostgreSQL, so collectors starting together do not race):

- a fresh database is migrated to the head revision;
- a database made before Alembic (`collector_meta.schema_version` "2", no `alembic_version`)
  is stamped at BASELINE, whose DDL is exactly what that code made, then upgraded;
- a database behind the head is upgraded (refused with `migrate=False`);
- a database at a revision this collector does not know is refused: it is newer.

`collector_meta.schema_version` stays, for collectors from before Alembic, which read
only it: "2" while the database is at BASELINE (they still work on that schema), "3" once
any later revision has run (`_mark_for_old_collectors`), so that they refuse the database
("upgrade the collector"). Dropping the table would be worse: they would take the database
for a fresh one and `create_all` into it.

Schema 1 (plain-text customers, commit ecec153) was on main for 16 minutes before schema 2
replaced it (d488d75), and never tagged or released: no installed collector has such a
database. Its 1 -> 2 step is not carried over; a database below schema 2 is refused with
what to do.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import msgspec
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from collector.errors import CollectorError, CollectorInput
from collector.models import SCHEMA_VERSION, Base, Meta

# JSON columns (each sale's raw record, above all) through msgspec, not the json module:
# encoding the raw record showed in the ingest's profile (docs/benchmarks.md). Compact,
# UTF-8 unescaped; any JSON reads back the same, whichever wrote it.
_encoder = msgspec.json.Encoder()


def _json_text(value: object) -> str:
    return _encoder.encode(value).decode()


def _json_value(text: str | bytes) -> object:
    return msgspec.json.decode(text)


DEFAULT_URL = "sqlite:///collector.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001_baseline"  # the schema the collector made before Alembic (its schema 2)
# Any fixed number: every collector process takes this lock while it creates or migrates.
_SCHEMA_LOCK = 7_210_001
# Alembic's `op` and `context` are module globals: one migration at a time per process.
_MIGRATING = threading.Lock()
log = logging.getLogger("collector.db")
# Alembic says "Context impl …" at INFO on every open (every worker's too); we log instead
# what was done, when something was.
logging.getLogger("alembic").setLevel(logging.WARNING)


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the collector's migrations, made in Python (no
    alembic.ini); env.py migrates on `connection`, in its transaction, when one is given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def open_database(url: str, *, migrate: bool = True, create: bool = True) -> Engine:
    """An engine for `url` with the schema at the newest revision (see the module
    docstring); CollectorInput when the URL is unusable, CollectorError when the database
    cannot be brought there (`migrate=False` only creates a fresh one, never upgrades).
    `create=False` (the commands that only read or change what is there) refuses a
    missing SQLite file or an empty database: a mistyped `--db` is an error, not an empty
    report."""
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
        path = engine.url.database or ""
        if not create and path not in ("", ":memory:") and not Path(path).is_file():
            engine.dispose()
            raise CollectorInput(
                f"there is no collector database at {path} (is --db right?): "
                "`collector run` makes one"
            )
        _sqlite_setup(engine)
    try:
        with _MIGRATING, engine.connect() as conn:
            _schema_transaction(conn, migrate, create)
    except OperationalError as exc:
        engine.dispose()
        raise CollectorInput(
            f"cannot open database {engine.url.render_as_string(hide_password=True)}: "
            f"{_first_line(exc)}"
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return engine


def _first_line(exc: DBAPIError | CommandError) -> str:
    found = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip()
    return found.splitlines()[0] if found else type(exc).__name__


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


def _schema_transaction(conn: Connection, migrate: bool, create: bool) -> None:
    """`_ensure_schema` in one transaction. On SQLite with foreign keys off around it (it
    checks them before the commit): SQLite's own way to change a table that others
    reference, which Alembic's batch operations copy, as dropping the old copy fails with
    them on. The PRAGMA does nothing inside a transaction: it goes to the driver first."""
    if conn.dialect.name != "sqlite":
        with conn.begin():
            _ensure_schema(conn, migrate, create)
        return
    driver: Any = conn.connection.driver_connection
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        with conn.begin():
            _ensure_schema(conn, migrate, create)
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _ensure_schema(conn: Connection, migrate: bool, create: bool) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
    cfg = alembic_config(conn)
    try:
        script = ScriptDirectory.from_config(cfg)
        head = script.get_current_head()
    except CommandError as exc:  # two heads: a merge revision is missing
        raise CollectorError(f"this collector's migrations are broken: {exc}") from exc
    assert head is not None, f"no revisions in {MIGRATIONS_DIR}"
    current = set(MigrationContext.configure(conn).get_current_heads())
    fresh = False
    if current:
        unknown = sorted(current - {s.revision for s in script.walk_revisions()})
        if unknown:
            raise CollectorError(
                f"the database's schema is at revision {unknown[0]}, which this collector "
                f"does not know (its newest is {head}): upgrade the collector"
            )
        if current == {head}:
            return
    else:
        fresh = _schema_before_alembic(conn) is None
    if current:
        at = f"schema revision {', '.join(sorted(current))}"
    else:
        at = "an empty database" if fresh else f"schema {SCHEMA_VERSION} from before Alembic"
    if fresh and not create:
        where = conn.engine.url.render_as_string(hide_password=True)
        raise CollectorInput(
            f"{where} is an empty database, not a collector's (is --db right?): "
            "`collector run` makes one"
        )
    if not fresh and not migrate:
        raise CollectorError(
            f"the database has {at}, this collector's schema is revision {head}: "
            "run `collector run` once"
        )
    try:
        if not current and not fresh:
            # Made before Alembic: its schema is BASELINE's exactly, only the record is new.
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")
    except (DBAPIError, CommandError) as exc:
        raise CollectorError(
            f"migrating the database to revision {head} failed, nothing was changed: "
            f"{_first_line(exc)}"
        ) from exc
    _mark_for_old_collectors(conn, head)
    if conn.dialect.name == "sqlite":
        _check_foreign_keys(conn, head)
    log.info("migrated %s to schema revision %s", at, head)


def _schema_before_alembic(conn: Connection) -> int | None:
    """The schema version the collector wrote before Alembic, when it is one we take
    over (2); None for an empty database. CollectorError for anything else."""
    tables = set(inspect(conn).get_table_names())
    if Meta.__tablename__ not in tables:
        ours = sorted(tables & set(Base.metadata.tables))
        if ours:
            raise CollectorError(
                f"the database has collector tables ({', '.join(ours[:3])}…) but no schema "
                "version (alembic_version or collector_meta): restore it from a backup, "
                "or give an empty database"
            )
        return None
    found = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    try:
        version = int(found or "")
    except ValueError as exc:
        raise CollectorError(
            f"collector_meta.schema_version is {found!r}, not a schema version: this is not "
            "a collector database, or it is damaged (restore it from a backup)"
        ) from exc
    if version < SCHEMA_VERSION:
        raise CollectorError(
            f"the database has collector schema {version}, from a development build that "
            f"was never released: migrate it to schema {SCHEMA_VERSION} with a collector "
            "from before Alembic (commit 573aa3b), or start a new database"
        )
    if version > SCHEMA_VERSION:
        raise CollectorError(
            f"the database has schema {version} but no alembic_version table: it was "
            "migrated by a newer collector and then damaged; restore it from a backup"
        )
    return version


def _check_foreign_keys(conn: Connection, head: str) -> None:
    """SQLite, its foreign keys off for the migration: CollectorError (so all is rolled
    back) when a revision left rows pointing nowhere. PostgreSQL checks every statement."""
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        table, _rowid, parent, _fk = broken[0]
        raise CollectorError(
            f"migrating the database to revision {head} would leave {len(broken)} rows "
            f"pointing nowhere ({table} to {parent} first), so nothing was changed: keep "
            "running the previous collector and report this"
        )


def _mark_for_old_collectors(conn: Connection, head: str) -> None:
    """collector_meta.schema_version as collectors from before Alembic read it: "2" at
    BASELINE (they can still run on it), "3" past it (they refuse: upgrade the collector)."""
    value = str(SCHEMA_VERSION if head == BASELINE else SCHEMA_VERSION + 1)
    conn.execute(update(Meta).where(Meta.key == "schema_version").values(value=value))
