"""Print jobs: a receipt to print for a journal record, kept until it has printed."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.store.db import Database
from appliance.store.errors import StoreError
from protocol.timestamps import utc_stamp


@dataclass(frozen=True)
class PrintJob:
    """One receipt to print: the record `seq`, `copy` for a reprint (marked COPY)."""

    job_id: int
    seq: int
    copy: bool
    attempts: int


class PrintJobs:
    """The persisted print queue: a job survives restarts until `mark_printed`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def pending(self) -> list[PrintJob]:
        """Jobs still to print, oldest first."""
        rows = self._db.query(
            "read the print jobs",
            "SELECT job_id, seq, copy, attempts FROM print_jobs "
            "WHERE state = 'queued' ORDER BY job_id",
        )
        return [PrintJob(job_id, seq, bool(copy), attempts) for job_id, seq, copy, attempts in rows]

    def add_copy(self, seq: int) -> int:
        """Queue a reprint of record `seq` (printed marked COPY); returns its job_id."""
        with self._db.transaction(f"queue a copy of record {seq}") as conn:
            if conn.execute("SELECT 1 FROM journal WHERE seq = ?", (seq,)).fetchone() is None:
                raise StoreError(f"cannot reprint record {seq}: there is no such journal record")
            cursor = conn.execute(
                "INSERT INTO print_jobs (seq, copy, state, created) VALUES (?, 1, 'queued', ?)",
                (seq, utc_stamp()),
            )
            return int(cursor.lastrowid or 0)

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
