"""journal.db: the SQLite connection, its durability settings and its schema migrations.

One connection per Store, shared by the journal, outbox, print jobs and catalog and
serialised by a lock, so the service may call the store from worker threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from appliance.store.errors import StoreError, StoreFileError
from protocol.chain import GENESIS_HASH

# Marks journal.db as ours, so a stray SQLite file of another program is refused.
APPLICATION_ID = 0x504F5331  # "POS1"
BUSY_TIMEOUT_MS = 5000

# Each migration is applied in its own transaction together with the user_version bump,
# so a crash mid-migration leaves the previous version intact. Append; never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE journal (
            seq INTEGER PRIMARY KEY,
            sale_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            receipt_no TEXT NOT NULL UNIQUE,
            refund_of TEXT,
            ts TEXT NOT NULL,
            record TEXT NOT NULL
        )""",
        "CREATE INDEX journal_refund_of ON journal(refund_of) WHERE refund_of IS NOT NULL",
        "CREATE INDEX journal_shift_close ON journal(seq) WHERE kind = 'shift_close'",
        # The newest record's seq and hash, moved in the same transaction as each append:
        # it lets verify() notice records deleted from the end of the journal.
        """CREATE TABLE chain_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL
        )""",
        f"INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}')",
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY REFERENCES journal(seq))",
        """CREATE TABLE print_jobs (
            job_id INTEGER PRIMARY KEY AUTOINCREMENT,
            seq INTEGER NOT NULL REFERENCES journal(seq),
            copy INTEGER NOT NULL DEFAULT 0 CHECK (copy IN (0, 1)),
            state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'printed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created TEXT NOT NULL,
            printed TEXT
        )""",
        "CREATE INDEX print_jobs_queued ON print_jobs(job_id) WHERE state = 'queued'",
        """CREATE TABLE catalog (
            sku TEXT PRIMARY KEY,
            barcode TEXT NOT NULL,
            name TEXT NOT NULL,
            price INTEGER NOT NULL,
            tax_rate TEXT NOT NULL,
            category TEXT NOT NULL,
            stock INTEGER
        )""",
        f"PRAGMA application_id = {APPLICATION_ID}",
    ),
    # 2: a receipt too old to print by itself is `held` (listed for a supervised COPY),
    # then `reprinted` or `dismissed`; SQLite cannot alter a CHECK, so the table is
    # rebuilt (nothing references print_jobs, so the foreign keys stay as they are).
    (
        """CREATE TABLE print_jobs_2 (
            job_id INTEGER PRIMARY KEY AUTOINCREMENT,
            seq INTEGER NOT NULL REFERENCES journal(seq),
            copy INTEGER NOT NULL DEFAULT 0 CHECK (copy IN (0, 1)),
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'printed', 'held', 'reprinted', 'dismissed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created TEXT NOT NULL,
            printed TEXT,
            held TEXT,
            held_reason TEXT,
            resolved TEXT,
            copy_job INTEGER
        )""",
        "INSERT INTO print_jobs_2 (job_id, seq, copy, state, attempts, last_error, created, "
        "printed) SELECT job_id, seq, copy, state, attempts, last_error, created, printed "
        "FROM print_jobs",
        "DROP TABLE print_jobs",
        "ALTER TABLE print_jobs_2 RENAME TO print_jobs",
        "CREATE INDEX print_jobs_queued ON print_jobs(job_id) WHERE state = 'queued'",
        "CREATE INDEX print_jobs_held ON print_jobs(job_id) WHERE state = 'held'",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def store_error(exc: sqlite3.Error, path: Path, action: str) -> StoreError:
    """Our exception for a sqlite3 error, saying what we were doing and what to do about it."""
    name = getattr(exc, "sqlite_errorname", "")
    if name in _CORRUPT or "malformed" in str(exc):
        return StoreFileError(
            f"{path}: is not a readable journal database ({exc}); it was left untouched: "
            "restore it from a backup or move it aside to start a new journal"
        )
    if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
        return StoreError(
            f"{path}: {action}: the database stayed locked by another process for "
            f"{BUSY_TIMEOUT_MS // 1000} s; stop the other program using it and retry"
        )
    if name == "SQLITE_FULL":
        return StoreError(f"{path}: {action}: the disk is full; free space in {path.parent}")
    if name.startswith("SQLITE_READONLY") or name.startswith("SQLITE_CANTOPEN"):
        return StoreError(
            f"{path}: {action}: cannot write the database ({exc}); "
            f"check that {path.parent} is writable by this user"
        )
    return StoreError(f"{path}: {action} failed: {exc}")


class Database:
    """The journal.db connection: durable settings, migrations, locked reads and transactions."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self.lock = threading.RLock()

    @classmethod
    def connect(cls, path: Path) -> Database:
        """Open `path` and check it is our journal (or new) and not too new; change nothing."""
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise store_error(exc, path, "open") from exc
        db = cls(conn, path)
        try:
            db._check()
        except BaseException:
            conn.close()
            raise
        return db

    def _check(self) -> None:
        with self.guard("read the schema version"):
            # The first read of the header is where SQLite notices a file that is not a db.
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            tables = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if (version == 0 and tables > 0) or (version > 0 and app_id != APPLICATION_ID):
            raise StoreFileError(
                f"{self.path}: is a SQLite database of another program, not an appliance "
                "journal; it was left untouched: move it aside or point data_dir elsewhere"
            )
        if version > SCHEMA_VERSION:
            raise StoreFileError(
                f"{self.path}: journal schema version {version} is newer than this software "
                f"understands ({SCHEMA_VERSION}); it was left untouched: "
                "install the newer appliance release that wrote it"
            )

    def prepare(self) -> None:
        """Durability settings, then every migration the file has not had yet."""
        with self.guard("set up the database"):
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"{self.path}: SQLite refused write-ahead logging (journal_mode={mode}); "
                    "put data_dir on a local filesystem"
                )
            # FULL: every commit is fsynced, so a sale that was confirmed survives a power cut.
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        for version, statements in enumerate(MIGRATIONS, start=1):
            with self.transaction(f"migrate the schema to version {version}") as conn:
                # Re-read inside the write lock: another process may have migrated meanwhile.
                if conn.execute("PRAGMA user_version").fetchone()[0] >= version:
                    continue
                for sql in statements:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version = {version}")

    @contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Turn sqlite3 errors raised inside into StoreError naming `action`."""
        try:
            yield
        except sqlite3.Error as exc:
            raise store_error(exc, self.path, action) from exc

    @contextmanager
    def transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; holds the lock."""
        with self.lock, self.guard(action):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back by itself (e.g. on SQLITE_FULL).
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def query(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of one read, under the lock."""
        with self.lock, self.guard(action):
            return self._conn.execute(sql, params).fetchall()

    def each(self, action: str, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of one read, one at a time (no list of them all in memory)."""
        with self.lock, self.guard(action):
            yield from self._conn.execute(sql, params)

    def close(self) -> None:
        with self.lock:
            self._conn.close()


def parse_record(text: str, where: str) -> dict[str, Any]:
    """A stored record's JSON; StoreFileError when it is not a JSON object (an edited row)."""
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise StoreFileError(
            f"{where} is not valid JSON ({exc}): the journal was altered; "
            "run `appliance journal verify` and restore journal.db from a backup"
        ) from exc
    if not isinstance(record, dict):
        raise StoreFileError(f"{where} is not a JSON object: the journal was altered")
    return record
