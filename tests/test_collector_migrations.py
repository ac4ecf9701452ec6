"""The collector's Alembic migrations on real SQLite and PostgreSQL: a database made by the
collector before Alembic (tests/data, made at commit 573aa3b) is stamped and migrated with
every row kept; the head matches the models; fresh, newer, older and half-migrated
databases; several collector processes opening one fresh PostgreSQL database at once."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from collector import db
from collector.customers.master_data import profile
from collector.customers.privacy import Vault
from collector.db import BASELINE, open_database
from collector.errors import CollectorError
from collector.ingest.batches import Incoming, Ingestor
from collector.loyalty.ledger import Ledger
from collector.models import Base
from tests.conftest import ROOT
from tests.pg import fresh_database
from tests.records import enrol
from tests.test_collector_ingest import FakeDevice

DATA = Path(__file__).parent / "data"
# The key tests/data/make_collector_schema2.py sealed the customers with.
MASTER_KEY = base64.b64decode("c2NoZW1hLTIgZml4dHVyZSBtYXN0ZXIga2V5ICEhISE=")
HEAD = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
# collector_meta.schema_version at HEAD: what collectors from before Alembic read.
META_AT_HEAD = [("schema_version", "2" if HEAD == BASELINE else "3")]
# Tables later revisions made: not in a database from before Alembic, empty once migrated.
SINCE_BASELINE = {"collector_members", "enrolments", "fleet_certificates", "device_chains"}

Rows = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


# -- databases --------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, new for each test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/collector.db"
    else:
        with fresh_database("collector_migrations") as url:
            yield url


def load_dump(url: str) -> None:
    """The schema-2 dump of url's kind (tests/data) loaded into the empty database."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(url).database or "")
        try:
            conn.executescript((DATA / "collector-schema2-sqlite.sql").read_text())
        finally:
            conn.close()
        return
    # psql's meta-commands (\restrict, \unrestrict) are not SQL; the rest runs as it is.
    dump = (DATA / "collector-schema2-postgresql.sql").read_text()
    sql = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql.encode())


@pytest.fixture
def old_url(empty_url: str) -> str:
    """A database the collector of commit 573aa3b made and filled (schema 2, no Alembic)."""
    load_dump(empty_url)
    return empty_url


def plain(url: str, fn: Callable[[Connection], Any]) -> Any:
    """`fn` on a connection of a plain engine: what is there, with nothing of ours on top."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return fn(conn)
    finally:
        engine.dispose()


def rows(url: str, columns: dict[str, list[str]] | None = None) -> Rows:
    """Every row of every table but alembic_version, as the driver returns it, in primary
    key order (only `columns` of each table when given)."""

    def read(conn: Connection) -> Rows:
        found: Rows = {}
        insp = inspect(conn)
        for table in sorted(insp.get_table_names()):
            if table == "alembic_version":
                continue
            cols = (columns or {}).get(table) or [c["name"] for c in insp.get_columns(table)]
            pk = insp.get_pk_constraint(table)["constrained_columns"]
            q = ", ".join(f'"{c}"' for c in cols)
            order = ", ".join(f'"{c}"' for c in pk)
            got = conn.exec_driver_sql(f'SELECT {q} FROM "{table}" ORDER BY {order}')
            found[table] = (cols, [tuple(r) for r in got])
        return found

    result: Rows = plain(url, read)
    return result


def without_new_tables(found: Rows) -> Rows:
    """`found` less the tables made since the baseline, which must be there, and empty."""
    assert set(found) >= SINCE_BASELINE
    assert all(not found[t][1] for t in SINCE_BASELINE), {t: found[t] for t in SINCE_BASELINE}
    return {t: v for t, v in found.items() if t not in SINCE_BASELINE}


def schema(url: str) -> list[tuple[Any, ...]]:
    """The schema as the database itself records it (DDL text on SQLite; columns,
    constraints, indexes and sequences from the catalogs on PostgreSQL), alembic_version
    left out."""

    def read(conn: Connection) -> list[tuple[Any, ...]]:
        if conn.dialect.name == "sqlite":
            got = conn.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE "
                "'sqlite_%' AND tbl_name != 'alembic_version' ORDER BY type, name"
            )
            return [tuple(r) for r in got]
        queries = (
            "SELECT table_name, column_name, ordinal_position, data_type, "
            "character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name != 'alembic_version' ORDER BY 1, 3",
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
            "AND conrelid::regclass::text != 'alembic_version' ORDER BY 1, 2",
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = "
            "'public' AND tablename != 'alembic_version' ORDER BY 1, 2",
            "SELECT sequence_name, data_type, start_value, increment FROM "
            "information_schema.sequences WHERE sequence_schema = 'public' ORDER BY 1",
        )
        return [tuple(r) for q in queries for r in conn.exec_driver_sql(q)]

    result: list[tuple[Any, ...]] = plain(url, read)
    return result


def revisions(url: str) -> list[str]:
    def read(conn: Connection) -> list[str]:
        return sorted(MigrationContext.configure(conn).get_current_heads())

    result: list[str] = plain(url, read)
    return result


def model_diff(url: str) -> list[Any]:
    """What autogenerate would write to bring the database to the models (empty: none)."""

    def read(conn: Connection) -> list[Any]:
        opts = {"compare_type": True, "compare_server_default": True}
        return list(compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata))

    result: list[Any] = plain(url, read)
    return result


def meta_version(url: str) -> str:
    def read(conn: Connection) -> str:
        sql = "SELECT value FROM collector_meta WHERE key = 'schema_version'"
        return str(conn.exec_driver_sql(sql).scalar_one())

    result: str = plain(url, read)
    return result


# -- a database from before Alembic -------------------------------------------------------------


def test_a_database_from_before_alembic_is_stamped_and_keeps_every_row(
    old_url: str, tmp_path: Path
) -> None:
    before = rows(old_url)
    # The dump covers every table the models have, each with rows.
    assert set(before) == set(Base.metadata.tables) - SINCE_BASELINE
    assert all(found for _cols, found in before.values()), {
        t: len(r) for t, (_, r) in before.items()
    }
    assert revisions(old_url) == [] and meta_version(old_url) == "2"

    engine = open_database(old_url)
    try:
        assert revisions(old_url) == [HEAD]
        assert model_diff(old_url) == []
        # Row by row, each value as the driver reads it, in the columns the dump had.
        after = rows(old_url, {t: cols for t, (cols, _) in before.items()})
        assert after.pop("collector_meta")[1] == META_AT_HEAD
        assert without_new_tables(after) == {
            t: v for t, v in before.items() if t != "collector_meta"
        }
        # Every device and sale there was is on its first journal chain (0004).
        chained = rows(old_url, {"devices": ["id", "chain"], "sales": ["id", "chain"]})
        assert {c for _, c in chained["devices"][1]} == {c for _, c in chained["sales"][1]} == {1}

        # The collector goes on with it: the customers open with their keys, the ledger
        # and the sales' ids carry on from where they were.
        vault, ledger = Vault(MASTER_KEY), Ledger(engine)
        anna = profile(engine, vault, "00000001")
        assert (anna["surname"], anna["first_names"]) == ("Zwiebelmeyer", "Anna Lena")
        cards = profile(engine, vault, "00000002")["cards"]
        assert [(c["issue"], c["blocked"]) for c in cards] == [(0, True), (1, False)]
        points = ledger.balance("00000001").balance
        # A new till's birth and first sale, handed to the ingest as the broker would.
        till = FakeDevice(tmp_path, None, "till-09", "s003")  # type: ignore[arg-type]
        enrol(engine, till.device, store="s003")
        paid = {"account": "00000001", "earned": 2, "redeemed": 0, "balance": None}
        [sale] = till.append(1, loyalty=paid | {"offline": False})
        result = Ingestor(engine).ingest(
            [
                Incoming(till.topic("status"), till.birth()),
                Incoming(till.topic("sales"), json.dumps(sale).encode()),
            ]
        )
        assert (result.ingested, result.dead) == (1, 0)
        assert ledger.balance("00000001").balance == points + 2  # 2.50 EUR paid
        sales = rows(old_url)["sales"][1]
        assert len(sales) == len(before["sales"][1]) + 1
        assert sales[-1][0] == max(s[0] for s in before["sales"][1]) + 1
    finally:
        engine.dispose()

    # Opened again, nothing changes: not the schema, not a row, not the revision.
    again = (schema(old_url), rows(old_url), revisions(old_url))
    open_database(old_url).dispose()
    open_database(old_url, migrate=False).dispose()
    assert (schema(old_url), rows(old_url), revisions(old_url)) == again


def test_the_baseline_is_the_schema_the_collector_made_before_alembic(
    empty_url: str, tmp_path: Path
) -> None:
    """A fresh database at head and one from before Alembic migrated to head have the very
    same schema, as the database records it (on SQLite, the CREATE statements' text)."""
    open_database(empty_url).dispose()
    if empty_url.startswith("sqlite"):
        old = f"sqlite:///{tmp_path}/old.db"
        load_dump(old)
        open_database(old).dispose()
        assert schema(old) == schema(empty_url)
        return
    with fresh_database("collector_migrations") as old:
        load_dump(old)
        open_database(old).dispose()
        assert schema(old) == schema(empty_url)


def test_migrate_false_refuses_a_database_from_before_alembic(old_url: str) -> None:
    before = (schema(old_url), rows(old_url))
    with pytest.raises(CollectorError) as refused:
        open_database(old_url, migrate=False)
    assert str(refused.value) == (
        f"the database has schema 2 from before Alembic, this collector's schema is revision "
        f"{HEAD}: run `collector run` once"
    )
    assert (schema(old_url), rows(old_url), revisions(old_url)) == (*before, [])


def test_sales_are_unique_per_device_chain_and_seq_once_migrated(old_url: str) -> None:
    """0004: a device's next chain (a replaced unit, `collector fleet rekey`) starts at
    seq 1 again beside the first chain's records; within one chain a seq is still once."""
    open_database(old_url).dispose()
    columns = (
        "device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, "
        "account, refund_of, hash, raw, ingested_at"
    )

    def copy(chain: int, sale_id: str) -> Callable[[Connection], None]:
        def write(conn: Connection) -> None:
            conn.exec_driver_sql(
                f"INSERT INTO sales (sale_id, chain, {columns}) SELECT '{sale_id}', {chain}, "
                f"{columns} FROM sales WHERE id = (SELECT min(id) FROM sales)"
            )
            conn.commit()

        return write

    plain(old_url, copy(2, "second-chain-seq-1"))
    # PostgreSQL names the constraint, SQLite its columns.
    refused = r"uq_sales_device_chain_seq|sales\.device, sales\.chain, sales\.seq"
    with pytest.raises(IntegrityError, match=refused):
        plain(old_url, copy(1, "first-chain-seq-1-again"))
    found = rows(old_url, {"sales": ["sale_id", "chain"]})["sales"][1]
    assert ("second-chain-seq-1", 2) in found
    assert "first-chain-seq-1-again" not in {sale_id for sale_id, _ in found}


# -- fresh, newer, older ------------------------------------------------------------------------


def test_the_migrations_head_matches_the_models(empty_url: str) -> None:
    """The model check: a model changed without a revision fails here, on either database."""
    script = ScriptDirectory.from_config(db.alembic_config())
    assert len(script.get_heads()) == 1, (
        f"several heads, a merge revision is missing: {script.get_heads()}"
    )
    open_database(empty_url).dispose()
    assert revisions(empty_url) == [HEAD]
    assert model_diff(empty_url) == []


def test_a_fresh_database_is_made_at_head_even_with_migrate_false(empty_url: str) -> None:
    open_database(empty_url, migrate=False).dispose()
    assert revisions(empty_url) == [HEAD]
    assert rows(empty_url)["collector_meta"][1] == META_AT_HEAD


def set_revision(url: str, revision: str) -> None:
    def write(conn: Connection) -> None:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        conn.commit()

    plain(url, write)


def test_a_database_at_an_unknown_revision_is_refused_in_one_line(empty_url: str) -> None:
    open_database(empty_url).dispose()
    set_revision(empty_url, "9f9f9f9f9f9f")  # a newer collector's revision
    before = (schema(empty_url), rows(empty_url))
    message = (
        "the database's schema is at revision 9f9f9f9f9f9f, which this collector does not "
        f"know (its newest is {HEAD}): upgrade the collector"
    )
    with pytest.raises(CollectorError) as refused:
        open_database(empty_url)
    assert str(refused.value) == message
    # The operator's view: one line, exit 1, and the database left as it was.
    r = subprocess.run(
        [sys.executable, "-m", "collector", "fleet", "status", "--db", empty_url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert (r.returncode, r.stdout, r.stderr) == (1, "", f"collector: {message}\n")
    assert (schema(empty_url), rows(empty_url), revisions(empty_url)) == (
        *before,
        ["9f9f9f9f9f9f"],
    )


def test_schema_1_and_unmarked_collector_tables_are_refused(empty_url: str) -> None:
    def schema_1(conn: Connection) -> None:
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql("UPDATE collector_meta SET value = '1'")
        conn.commit()

    def unmarked(conn: Connection) -> None:
        conn.exec_driver_sql("DROP TABLE collector_meta")
        conn.commit()

    open_database(empty_url).dispose()
    plain(empty_url, schema_1)
    with pytest.raises(CollectorError) as refused:
        open_database(empty_url)
    assert str(refused.value) == (
        "the database has collector schema 1, from a development build that was never "
        "released: migrate it to schema 2 with a collector from before Alembic (commit "
        "573aa3b), or start a new database"
    )
    plain(empty_url, unmarked)
    with pytest.raises(
        CollectorError, match=r"has collector tables \(collector_members, consents, customer_keys"
    ):
        open_database(empty_url)
    assert revisions(empty_url) == []


# -- the next revision --------------------------------------------------------------------------


@pytest.fixture
def next_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Adds a revision after the head, as the next schema change will, with `body` as its
    upgrade(); returns its id. Until called the migrations are the package's own."""

    def add(body: str) -> str:
        versions = tmp_path / "versions"
        versions.mkdir()
        rev = f"test{uuid.uuid4().hex[:8]}"
        upgrade = textwrap.indent(textwrap.dedent(body).strip(), "    ")
        (versions / f"{rev}_next.py").write_text(
            f"import sqlalchemy as sa\nfrom alembic import op\n\n"
            f"revision = {rev!r}\ndown_revision = {HEAD!r}\n\n\n"
            f"def upgrade() -> None:\n{upgrade}\n"
        )
        original = db.alembic_config

        def config(connection: Connection | None = None) -> Config:
            cfg = original(connection)
            cfg.set_main_option("path_separator", "os")
            locations = [str(db.MIGRATIONS_DIR / "versions"), str(versions)]
            cfg.set_main_option("version_locations", os.pathsep.join(locations))
            return cfg

        monkeypatch.setattr(db, "alembic_config", config)
        return rev

    return add


ADD_NOTE = """
    with op.batch_alter_table("devices") as t:
        t.add_column(sa.Column("note", sa.String(64), nullable=True))
"""


def test_a_later_revision_runs_after_the_stamp_and_keeps_old_collectors_out(
    old_url: str, next_revision: Callable[[str], str]
) -> None:
    before = rows(old_url)
    rev = next_revision(ADD_NOTE)
    open_database(old_url).dispose()
    assert revisions(old_url) == [rev]
    after = rows(old_url, {t: cols for t, (cols, _) in before.items()})
    assert after.pop("collector_meta") == (["key", "value"], [("schema_version", "3")])
    assert without_new_tables(after) == {t: v for t, v in before.items() if t != "collector_meta"}
    assert rows(old_url)["devices"][0][-1] == "note"
    # What the collector of 573aa3b checks: a schema_version above its 2 is refused there.
    assert int(meta_version(old_url)) > 2


def test_migrate_false_refuses_a_database_behind_the_head(
    empty_url: str, next_revision: Callable[[str], str]
) -> None:
    open_database(empty_url).dispose()  # at today's head
    rev = next_revision(ADD_NOTE)
    with pytest.raises(CollectorError) as refused:
        open_database(empty_url, migrate=False)
    assert str(refused.value) == (
        f"the database has schema revision {HEAD}, this collector's schema is revision "
        f"{rev}: run `collector run` once"
    )
    assert revisions(empty_url) == [HEAD]
    open_database(empty_url).dispose()
    assert revisions(empty_url) == [rev]


def test_a_revision_that_rebuilds_a_referenced_table_keeps_every_row(
    old_url: str, next_revision: Callable[[str], str]
) -> None:
    """A change SQLite can only make by copying the table (sales, events point at devices):
    the batch operation works there, foreign keys and all, and keeps the rows."""
    before = rows(old_url)
    rev = next_revision(
        """
        with op.batch_alter_table("devices") as t:
            t.alter_column("region", type_=sa.String(80), existing_type=sa.String(64))
        """
    )
    engine = open_database(old_url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":  # back on for the collector's own work
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert revisions(old_url) == [rev]
    after = rows(old_url, {t: cols for t, (cols, _) in before.items()})
    assert after.pop("collector_meta")[1] == [("schema_version", "3")]
    assert without_new_tables(after) == {t: v for t, v in before.items() if t != "collector_meta"}
    columns = plain(old_url, lambda conn: inspect(conn).get_columns("devices"))
    assert [c["type"].length for c in columns if c["name"] == "region"] == [80]


@pytest.mark.parametrize(
    "body, error",
    [
        (
            """
            op.create_table("half", sa.Column("id", sa.Integer(), primary_key=True))
            op.add_column("devices", sa.Column("note", sa.String(64), nullable=True))
            op.execute("UPDATE devices SET note = no_such_column")
            """,
            "no_such_column",
        ),
        ('op.execute("DELETE FROM devices")', "devices"),  # the sales point at them
    ],
    ids=["bad-sql", "broken-foreign-keys"],
)
def test_a_revision_that_fails_changes_nothing(
    old_url: str, next_revision: Callable[[str], str], body: str, error: str
) -> None:
    """The stamp, the revisions and their DDL are one transaction, on SQLite too."""
    before = (schema(old_url), rows(old_url))
    rev = next_revision(body)
    with pytest.raises(CollectorError) as failed:
        open_database(old_url)
    message = str(failed.value)
    assert message.startswith(f"migrating the database to revision {rev} ")
    assert "nothing was changed" in message and error in message and "\n" not in message
    assert (schema(old_url), rows(old_url), revisions(old_url)) == (*before, [])


# -- several collectors at once -----------------------------------------------------------------

STARTER = """
import pathlib, sys, time
from collector.db import open_database
url, ready, gate = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
ready.touch()
while not gate.exists():
    time.sleep(0.001)
open_database(url).dispose()
"""


def test_collectors_starting_together_on_a_fresh_postgresql_database(tmp_path: Path) -> None:
    """Each collector process makes or checks the schema as it starts: the advisory lock
    lets one make it while the others wait, then find it made."""
    gate = tmp_path / "go"
    with fresh_database("collector_migrations") as url:
        ready = [tmp_path / f"ready-{n}" for n in range(3)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", STARTER, url, str(r), str(gate)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for r in ready
        ]
        try:
            deadline = time.monotonic() + 60
            while not all(r.exists() for r in ready) and time.monotonic() < deadline:
                time.sleep(0.01)
            gate.touch()  # all of them imported and waiting: go at once
            outs = [p.communicate(timeout=60) for p in procs]
        finally:
            for p in procs:
                p.kill()
        assert [p.returncode for p in procs] == [0, 0, 0], outs
        assert revisions(url) == [HEAD]
        assert model_diff(url) == []
        assert rows(url)["collector_meta"][1] == META_AT_HEAD
