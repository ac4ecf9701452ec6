"""Print jobs: a receipt to print for a journal record, kept until it reaches a final state.

A job is `queued` until the print queue prints it (`printed`) or finds it too old to
print by itself, the customer long gone (`held`). A held receipt is listed for a
supervisor, who has a COPY of it printed (`add_copy`: the held job becomes `reprinted`)
or clears it from the list (`dismiss`: `dismissed`). No job is ever deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.store.db import Database
from appliance.store.errors import StoreError
from protocol.timestamps import utc_stamp

STATES = ("queued", "printed", "held", "reprinted", "dismissed")


@dataclass(frozen=True)
class PrintJob:
    """One receipt to print: the record `seq`, `copy` for a reprint (marked COPY).

    `since` is the moment its age counts from (the sale's time for a receipt, the
    request's for a copy); it and `receipt_no` come from the journal, so two reads of
    the same job compare equal on the job's own fields only."""

    job_id: int
    seq: int
    copy: bool
    attempts: int
    since: str = field(default="", compare=False)
    receipt_no: str = field(default="", compare=False)


@dataclass(frozen=True)
class HeldReceipt:
    """A receipt the queue did not print because it was too old: listed until a
    supervisor reprints it as a COPY or clears it."""

    job_id: int
    seq: int
    receipt_no: str
    copy: bool
    sold: str  # the record's time
    total: int  # minor units
    held: str  # when the queue held it
    reason: str


class PrintJobs:
    """The persisted print queue: a job survives restarts until it reaches a final state."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def pending(self) -> list[PrintJob]:
        """Jobs still to print, oldest first."""
        rows = self._db.query(
            "read the print jobs",
            "SELECT p.job_id, p.seq, p.copy, p.attempts, "
            "CASE WHEN p.copy = 1 THEN p.created ELSE j.ts END, j.receipt_no "
            "FROM print_jobs p JOIN journal j ON j.seq = p.seq "
            "WHERE p.state = 'queued' ORDER BY p.job_id",
        )
        return [
            PrintJob(job_id, seq, bool(copy), attempts, since, receipt_no)
            for job_id, seq, copy, attempts, since, receipt_no in rows
        ]

    def state(self, job_id: int) -> str | None:
        """Where job `job_id` is (one of STATES); None when there is no such job."""
        rows = self._db.query(
            "read a print job", "SELECT state FROM print_jobs WHERE job_id = ?", (job_id,)
        )
        return str(rows[0][0]) if rows else None

    def add_copy(self, seq: int) -> int:
        """Queue a reprint of record `seq` (printed marked COPY); returns its job_id. A held
        receipt of that record is done with: it becomes `reprinted`, in the same transaction."""
        with self._db.transaction(f"queue a copy of record {seq}") as conn:
            if conn.execute("SELECT 1 FROM journal WHERE seq = ?", (seq,)).fetchone() is None:
                raise StoreError(f"cannot reprint record {seq}: there is no such journal record")
            now = utc_stamp()
            cursor = conn.execute(
                "INSERT INTO print_jobs (seq, copy, state, created) VALUES (?, 1, 'queued', ?)",
                (seq, now),
            )
            job_id = int(cursor.lastrowid or 0)
            conn.execute(
                "UPDATE print_jobs SET state = 'reprinted', resolved = ?, copy_job = ? "
                "WHERE seq = ? AND state = 'held'",
                (now, job_id, seq),
            )
            return job_id

    def mark_printed(self, job_id: int) -> None:
        """The job's receipt came out; it will not be printed again."""
        with self._db.transaction(f"mark print job {job_id} printed") as conn:
            cursor = conn.execute(
                "UPDATE print_jobs SET state = 'printed', printed = ? WHERE job_id = ?",
                (utc_stamp(), job_id),
            )
            if cursor.rowcount != 1:
                raise StoreError(f"there is no print job {job_id} to mark printed")

    def mark_attempt(self, job_id: int, error: str) -> None:
        """A try that failed with `error`; the job stays queued for the next one."""
        with self._db.transaction(f"record a failed attempt at print job {job_id}") as conn:
            cursor = conn.execute(
                "UPDATE print_jobs SET attempts = attempts + 1, last_error = ? WHERE job_id = ?",
                (error, job_id),
            )
            if cursor.rowcount != 1:
                raise StoreError(f"there is no print job {job_id} to record an attempt on")

    def hold(self, job_ids: Iterable[int], reason: str) -> int:
        """Queued jobs that will not print by themselves (`reason`), all in one
        transaction; how many were still queued and are now held."""
        ids = list(job_ids)
        with self._db.transaction(f"hold {len(ids)} print jobs") as conn:
            now = utc_stamp()
            held = 0
            for job_id in ids:
                held += conn.execute(
                    "UPDATE print_jobs SET state = 'held', held = ?, held_reason = ? "
                    "WHERE job_id = ? AND state = 'queued'",
                    (now, reason, job_id),
                ).rowcount
            return held

    def held(self) -> list[HeldReceipt]:
        """The receipts not printed (held), newest first."""
        rows = self._db.query(
            "read the receipts not printed",
            "SELECT p.job_id, p.seq, j.receipt_no, p.copy, j.ts, "
            "json_extract(j.record, '$.total'), p.held, p.held_reason "
            "FROM print_jobs p JOIN journal j ON j.seq = p.seq "
            "WHERE p.state = 'held' ORDER BY p.job_id DESC",
        )
        return [
            HeldReceipt(job_id, seq, receipt_no, bool(copy), sold, int(total or 0), held, reason)
            for job_id, seq, receipt_no, copy, sold, total, held, reason in rows
        ]

    def held_count(self) -> int:
        rows = self._db.query(
            "count the receipts not printed", "SELECT count(*) FROM print_jobs WHERE state = 'held'"
        )
        return int(rows[0][0])

    def dismiss(self, job_ids: Iterable[int]) -> int:
        """Clear held receipts from the list without printing them (a supervisor's call);
        how many were still held."""
        ids = list(job_ids)
        with self._db.transaction(f"clear {len(ids)} receipts not printed") as conn:
            now = utc_stamp()
            cleared = 0
            for job_id in ids:
                cleared += conn.execute(
                    "UPDATE print_jobs SET state = 'dismissed', resolved = ? "
                    "WHERE job_id = ? AND state = 'held'",
                    (now, job_id),
                ).rowcount
            return cleared
