"""The Store: journal.db and device.key in one data directory.

A completed sale becomes durable in `Store.append`: one SQLite transaction inserts the
signed journal record, its outbox entry and its print job, and is fsynced before it
returns, so after a crash or power cut either all three exist or none does.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.store.catalog import CatalogStore
from appliance.store.db import Database, parse_record
from appliance.store.errors import DuplicateSaleError, StoreError, StoreFileError
from appliance.store.keys import load_or_create_key, public_key_pem
from appliance.store.outbox import Outbox
from appliance.store.print_jobs import PrintJobs
from protocol.chain import (
    ChainChecker,
    VerifyResult,
    canonical_json,
    record_hash,
    sign_hash,
)
from protocol.envelope import seal_device
from protocol.record import Draft, Record, RecordError, convert, decode_stored, plain
from protocol.timestamps import utc_stamp

_COLUMNS = ("seq", "sale_id", "kind", "receipt_no", "refund_of", "ts")
_BATCH = 1000


class _HeadMoved(Exception):
    """Another process appended since we last looked: our cached chain head is stale."""


class Store:
    """The device's durable records: journal, outbox, print jobs and catalog in journal.db.

    Thread-safe (one connection behind a lock), so the service may call it from
    `asyncio.to_thread`. Every method raises StoreError (StoreFileError for a corrupt
    or foreign file) and never a bare sqlite3 error.
    """

    def __init__(
        self, db: Database, key: Ed25519PrivateKey, device_id: str, data_dir: Path
    ) -> None:
        self._db = db
        self._key = key
        self._public_pem = public_key_pem(key)
        self.device_id = device_id
        self.data_dir = data_dir
        self.outbox = Outbox(db)
        self.print_jobs = PrintJobs(db)
        self.catalog = CatalogStore(db)
        # Kept in memory so append needs no read before its writes.
        self._head_seq, self._head_hash = self._read_head()

    @classmethod
    def open(cls, data_dir: Path, device_id: str) -> Store:
        """Open (creating on first use) `data_dir/journal.db` and `data_dir/device.key`."""
        data_dir = Path(data_dir)
        try:
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{data_dir}: cannot create the data directory: {exc.strerror}; "
                "create it or set [paths] data_dir to a writable place"
            ) from exc
        # Check the database before touching anything, so a foreign file stays as it was.
        db = Database.connect(data_dir / "journal.db")
        try:
            key_path = data_dir / "device.key"
            db.prepare()
            if not key_path.exists():
                # The key is the device's identity: the collector knows the unit by it and
                # refuses another for it. With records signed by the lost one, a new key
                # would start a second identity; only a fresh journal makes one.
                rows = db.query("read the chain head", "SELECT seq FROM chain_head")
                held = int(rows[0][0]) if rows else 0
                if held:
                    raise StoreFileError(
                        f"{key_path}: the device key is missing, and the journal holds "
                        f"{held} record{'s' * (held != 1)} signed by it; restore device.key "
                        "from a backup (a new key would be a new identity the collector "
                        "refuses)"
                    )
            key = load_or_create_key(key_path)
            return cls(db, key, device_id, data_dir)
        except BaseException:
            db.close()
            raise

    def quick_check(self) -> str | None:
        """SQLite's `PRAGMA quick_check` on its own read connection (the till keeps
        selling meanwhile): None when the file is sound, else the first problem it names.
        About 0.1 s for a 100k-record journal on the development machine."""
        try:
            conn = sqlite3.connect(f"file:{self._db.path}?mode=ro", uri=True, timeout=30)
        except sqlite3.Error as exc:
            return f"cannot open it to check: {exc}"
        try:
            # It reads every page once: a small cache, so the check costs the till no
            # memory to speak of (the default 2 MB showed in the RSS at READY).
            conn.execute("PRAGMA cache_size = -64")
            rows = conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            return str(exc)
        finally:
            conn.close()
        found = [str(r[0]) for r in rows if r and r[0] != "ok"]
        return None if not found else "; ".join(found[:3])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def public_key_pem(self) -> str:
        """The device's public key (SubjectPublicKeyInfo PEM) that verifies its records."""
        return self._public_pem

    def seal(
        self, topic: str, body: msgspec.Struct | Mapping[str, Any], now: float | None = None
    ) -> bytes:
        """`body` sealed with the device key for `topic` (status, telemetry, events,
        loyalty requests, command results: protocol.envelope.seal_device)."""
        return seal_device(self._key, topic, body, now=time.time() if now is None else now)

    # -- writing -------------------------------------------------------------------------

    def append(self, draft: Draft, print_receipt: bool = True) -> Record:
        """Commit `draft` as the next journal record with its outbox entry and, when
        `print_receipt`, a print job, all in one transaction; returns the full record.

        DuplicateSaleError (nothing written) when the sale_id is already in the journal;
        StoreError when the draft is not a well-formed one of this device.
        """
        raw = self._checked(draft)
        with self._db.lock:
            try:
                return self._append(raw, print_receipt)
            except _HeadMoved:
                self._head_seq, self._head_hash = self._read_head()
            try:
                return self._append(raw, print_receipt)
            except _HeadMoved as exc:
                raise StoreError(
                    f"{self._db.path}: another process keeps appending to this journal; "
                    "only one appliance service may run per data_dir"
                ) from exc

    def _append(self, draft: dict[str, Any], print_receipt: bool) -> Record:
        seq = self._head_seq + 1
        raw = {
            **draft,
            "seq": seq,
            "receipt_no": f"{draft['store']}-{draft['device']}-{seq:06d}",
            "prev_hash": self._head_hash,
        }
        raw["hash"] = record_hash(raw)
        raw["sig"] = sign_hash(self._key, raw["hash"])
        text = canonical_json(raw)
        record = decode_stored(text)
        with self._db.transaction(f"append {draft['kind']} {draft['sale_id']}") as conn:
            moved = conn.execute(
                "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ?",
                (seq, record.hash, self._head_seq, self._head_hash),
            ).rowcount
            if moved != 1:
                raise _HeadMoved
            try:
                conn.execute(
                    "INSERT INTO journal (seq, sale_id, kind, receipt_no, refund_of, ts, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*(raw.get(c) for c in _COLUMNS), text),
                )
            except sqlite3.IntegrityError as exc:
                if "sale_id" in str(exc):
                    raise DuplicateSaleError(
                        f"sale {record.sale_id} is already in the journal; nothing written"
                    ) from exc
                raise
            conn.execute("INSERT INTO outbox (seq) VALUES (?)", (seq,))
            if print_receipt:
                conn.execute(
                    "INSERT INTO print_jobs (seq, copy, state, created) VALUES (?, 0, 'queued', ?)",
                    (seq, utc_stamp()),
                )
        self._head_seq, self._head_hash = seq, record.hash
        return record

    def _checked(self, draft: Draft) -> dict[str, Any]:
        """The draft as the plain object to hash, once its types are checked strictly (a
        struct's constructor checks nothing: a float where money goes would be signed)."""
        if not isinstance(draft, Draft) or isinstance(draft, Record):
            raise StoreError(f"cannot journal a {type(draft).__name__}: only a Draft")
        try:
            raw = plain(draft)
            convert(raw, Draft)
        except (RecordError, TypeError, ValueError) as exc:  # TypeError: not JSON data
            raise StoreError(f"cannot journal draft {draft.sale_id!r}: {exc}") from exc
        if draft.device != self.device_id:
            raise StoreError(
                f"cannot journal draft {draft.sale_id!r}: device {draft.device!r} is not "
                f"this store's {self.device_id!r}"
            )
        return raw

    # -- reading -------------------------------------------------------------------------

    def last_seq(self) -> int:
        return self._head_seq

    def records(self, after: int = 0) -> Iterator[Record]:
        """Every record with seq > `after`, oldest first (read in batches)."""
        for row in self._rows(after):
            yield _record(row[0], row[-1])

    def texts(self, after: int = 0) -> Iterator[tuple[int, str]]:
        """`(seq, stored JSON)` of every record with seq > `after`, oldest first: the
        canonical text as hashed and signed, every key of it (exports and resends)."""
        for row in self._rows(after):
            yield row[0], row[-1]

    def by_seq(self, seq: int) -> Record | None:
        return self._one("seq", seq)

    def by_receipt_no(self, receipt_no: str) -> Record | None:
        return self._one("receipt_no", receipt_no)

    def refunded_lines(self, sale_id: str) -> set[int]:
        """Line numbers of `sale_id` that refunds have already taken back."""
        rows = self._db.query(
            "read refunds",
            "SELECT seq, record FROM journal WHERE refund_of = ? AND kind = 'refund'",
            (sale_id,),
        )
        lines: set[int] = set()
        for seq, text in rows:
            lines.update(_record(seq, text).refund_lines or ())
        return lines

    def since_last_shift_close(self) -> Iterator[Record]:
        """The records of the running shift, everything after the last shift_close, one at
        a time: a busy shift is thousands of sales, never all in memory (the X and Z
        reports add them up as they come)."""
        rows = self._db.each(
            "read the current shift",
            "SELECT seq, record FROM journal WHERE seq > "
            "(SELECT coalesce(max(seq), 0) FROM journal WHERE kind = 'shift_close') "
            "ORDER BY seq",
        )
        for seq, text in rows:
            yield _record(seq, text)

    def verify(self) -> VerifyResult:
        """Check the whole journal: chain and signatures, that each row's columns match its
        signed record (edits in SQLite), and that the chain ends where the head says
        (rows deleted from the end)."""
        checker = ChainChecker(self._public_pem)
        for row in self._rows(0):
            seq, text = row[0], row[-1]
            try:
                record = parse_record(text, f"journal record {seq}")
            except StoreError as exc:
                return checker.failed(seq, str(exc))
            problem = checker.check(record)
            if problem:
                return checker.failed(seq, problem)
            if tuple(record.get(c) for c in _COLUMNS) != tuple(row[:-1]):
                return checker.failed(
                    seq, "the row's columns do not match its signed record: the row was altered"
                )
        head_seq, head_hash = self._read_head()
        if (head_seq, head_hash) != (checker.checked, checker.prev_hash):
            return checker.failed(
                checker.checked + 1,
                f"the journal ends at seq {checker.checked} but its chain head is at seq "
                f"{head_seq}: records were deleted from the end",
            )
        return checker.passed()

    def _rows(self, after: int) -> Iterator[tuple[Any, ...]]:
        # Keyset batches: no cursor stays open across yields, memory stays flat.
        while True:
            rows = self._db.query(
                "read the journal",
                "SELECT seq, sale_id, kind, receipt_no, refund_of, ts, record FROM journal "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, _BATCH),
            )
            yield from rows
            if len(rows) < _BATCH:
                return
            after = rows[-1][0]

    def _one(self, column: str, value: object) -> Record | None:
        rows = self._db.query(
            f"look up a record by {column}",
            f"SELECT seq, record FROM journal WHERE {column} = ?",
            (value,),
        )
        return _record(rows[0][0], rows[0][1]) if rows else None

    def _read_head(self) -> tuple[int, str]:
        rows = self._db.query("read the chain head", "SELECT seq, hash FROM chain_head")
        if len(rows) != 1:
            raise StoreError(f"{self._db.path}: the chain head row is missing: it was altered")
        return int(rows[0][0]), str(rows[0][1])


def _record(seq: int, text: str) -> Record:
    try:
        return decode_stored(text)
    except RecordError as exc:
        raise StoreFileError(
            f"journal record {seq} is not a record ({exc}): the journal was altered; "
            "run `appliance journal verify` and restore journal.db from a backup"
        ) from exc
