"""The Store: journal.db and device.key in one data directory.

A completed sale becomes durable in `Store.append`: one SQLite transaction inserts the
signed journal record, its outbox entry and its print job, and is fsynced before it
returns, so after a crash or power cut either all three exist or none does.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.store.catalog import CatalogStore
from appliance.store.chain import (
    ChainChecker,
    VerifyResult,
    canonical_json,
    parse_record,
    record_hash,
    sign_hash,
)
from appliance.store.db import Database
from appliance.store.errors import DuplicateSaleError, StoreError
from appliance.store.keys import load_or_create_key, public_key_pem
from appliance.store.outbox import Outbox
from appliance.store.print_jobs import PrintJobs, utc_now

KINDS = frozenset({"sale", "refund", "no_sale", "shift_close"})
# Fields the store assigns; a draft must not bring them.
ASSIGNED = ("seq", "receipt_no", "prev_hash", "hash", "sig")
# The CONTRACT's field order, for records people read; hashing sorts keys anyway.
_ORDER = (
    "schema",
    "seq",
    "sale_id",
    "kind",
    "receipt_no",
    "device",
    "store",
    "region",
    "staff",
    "ts",
    "currency",
    "lines",
    "total",
    "tax",
    "tenders",
    "change",
    "loyalty",
    "refund_of",
)
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
            key = load_or_create_key(data_dir / "device.key")
            db.prepare()
            return cls(db, key, device_id, data_dir)
        except BaseException:
            db.close()
            raise

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

    # -- writing -------------------------------------------------------------------------

    def append(self, draft: Mapping[str, Any], print_receipt: bool = True) -> dict[str, Any]:
        """Commit `draft` as the next journal record with its outbox entry and, when
        `print_receipt`, a print job, all in one transaction; returns the full record.

        DuplicateSaleError (nothing written) when the sale_id is already in the journal.
        """
        self._check_draft(draft)
        with self._db.lock:
            try:
                return self._append(draft, print_receipt)
            except _HeadMoved:
                self._head_seq, self._head_hash = self._read_head()
            try:
                return self._append(draft, print_receipt)
            except _HeadMoved as exc:
                raise StoreError(
                    f"{self._db.path}: another process keeps appending to this journal; "
                    "only one appliance service may run per data_dir"
                ) from exc

    def _append(self, draft: Mapping[str, Any], print_receipt: bool) -> dict[str, Any]:
        seq = self._head_seq + 1
        assigned = {
            "seq": seq,
            "receipt_no": f"{draft['store']}-{draft['device']}-{seq:06d}",
            "prev_hash": self._head_hash,
        }
        record: dict[str, Any] = {}
        for k in _ORDER:
            if k in assigned or k in draft:
                record[k] = assigned[k] if k in assigned else draft[k]
        record.update(draft)
        record.update(assigned)
        # Round-trip once so the record we hash, store and return is plain JSON data
        # (tuples become lists) and the caller's later changes to the draft cannot leak in.
        try:
            record = json.loads(json.dumps(record, ensure_ascii=False, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise StoreError(f"draft {draft['sale_id']!r} is not JSON data: {exc}") from exc
        record["hash"] = record_hash(record)
        record["sig"] = sign_hash(self._key, record["hash"])
        with self._db.transaction(f"append {draft['kind']} {draft['sale_id']}") as conn:
            moved = conn.execute(
                "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ?",
                (seq, record["hash"], self._head_seq, self._head_hash),
            ).rowcount
            if moved != 1:
                raise _HeadMoved
            try:
                conn.execute(
                    "INSERT INTO journal (seq, sale_id, kind, receipt_no, refund_of, ts, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*(record.get(c) for c in _COLUMNS), canonical_json(record)),
                )
            except sqlite3.IntegrityError as exc:
                if "sale_id" in str(exc):
                    raise DuplicateSaleError(
                        f"sale {record['sale_id']} is already in the journal; nothing written"
                    ) from exc
                raise
            conn.execute("INSERT INTO outbox (seq) VALUES (?)", (seq,))
            if print_receipt:
                conn.execute(
                    "INSERT INTO print_jobs (seq, copy, state, created) VALUES (?, 0, 'queued', ?)",
                    (seq, utc_now()),
                )
        self._head_seq, self._head_hash = seq, record["hash"]
        return record

    def _check_draft(self, draft: Mapping[str, Any]) -> None:
        def fail(why: str) -> StoreError:
            return StoreError(f"cannot journal draft {draft.get('sale_id')!r}: {why}")

        for field in ("sale_id", "store", "device", "ts"):
            if not isinstance(draft.get(field), str) or not draft[field]:
                raise fail(f"{field} must be a non-empty string")
        if draft.get("kind") not in KINDS:
            raise fail(f"kind {draft.get('kind')!r} is not one of {sorted(KINDS)}")
        if draft["device"] != self.device_id:
            raise fail(f"device {draft['device']!r} is not this store's {self.device_id!r}")
        if not isinstance(draft.get("refund_of"), str | None):
            raise fail("refund_of must be a sale_id or null")
        brought = [k for k in ASSIGNED if k in draft]
        if brought:
            raise fail(f"it already has {', '.join(brought)}, which the store assigns")
        where = _float_in(draft, "")
        if where is not None:
            raise fail(f"{where or 'it'} is a float; money is integer minor units")

    # -- reading -------------------------------------------------------------------------

    def last_seq(self) -> int:
        return self._head_seq

    def records(self, after: int = 0) -> Iterator[dict[str, Any]]:
        """Every record with seq > `after`, oldest first (read in batches)."""
        for row in self._rows(after):
            yield parse_record(row[-1], f"journal record {row[0]}")

    def by_seq(self, seq: int) -> dict[str, Any] | None:
        return self._one("seq", seq)

    def by_receipt_no(self, receipt_no: str) -> dict[str, Any] | None:
        return self._one("receipt_no", receipt_no)

    def by_sale_id(self, sale_id: str) -> dict[str, Any] | None:
        return self._one("sale_id", sale_id)

    def refunded_lines(self, sale_id: str) -> set[int]:
        """Line numbers of `sale_id` that refunds have already taken back."""
        rows = self._db.query(
            "read refunds",
            "SELECT seq, record FROM journal WHERE refund_of = ? AND kind = 'refund'",
            (sale_id,),
        )
        lines: set[int] = set()
        for seq, text in rows:
            lines.update(parse_record(text, f"journal record {seq}").get("refund_lines") or ())
        return lines

    def since_last_shift_close(self) -> list[dict[str, Any]]:
        """The records of the running shift: everything after the last shift_close."""
        rows = self._db.query(
            "read the current shift",
            "SELECT seq, record FROM journal WHERE seq > "
            "(SELECT coalesce(max(seq), 0) FROM journal WHERE kind = 'shift_close') "
            "ORDER BY seq",
        )
        return [parse_record(text, f"journal record {seq}") for seq, text in rows]

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

    def _one(self, column: str, value: object) -> dict[str, Any] | None:
        rows = self._db.query(
            f"look up a record by {column}",
            f"SELECT seq, record FROM journal WHERE {column} = ?",
            (value,),
        )
        return parse_record(rows[0][1], f"journal record {rows[0][0]}") if rows else None

    def _read_head(self) -> tuple[int, str]:
        rows = self._db.query("read the chain head", "SELECT seq, hash FROM chain_head")
        if len(rows) != 1:
            raise StoreError(f"{self._db.path}: the chain head row is missing: it was altered")
        return int(rows[0][0]), str(rows[0][1])


def _float_in(value: object, path: str) -> str | None:
    """Path of the first float inside `value`, or None."""
    if isinstance(value, float):
        return path
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, child in items:
        sub = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
        found = _float_in(child, sub)
        if found is not None:
            return found
    return None
