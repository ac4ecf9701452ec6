"""The print queue: every persisted print job comes out exactly once, in order, despite faults.

Jobs live in the store (one per journal record, plus explicit reprints), so a receipt
survives a crash or a printer fault. The queue renders a job, saves its text, PNG and
ESC/POS bytes, and sends the whole receipt as one write. When a write fails part-way,
the torn fragment is finished with a notice and a cut once the printer is back, and
the receipt is printed again in full.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from appliance.drivers.printer import Printer, PrinterError
from appliance.events import Event, EventSink, discard
from appliance.receipt import escpos, png
from appliance.receipt.escpos import torn_notice_bytes
from appliance.receipt.layout import Receipt
from protocol.errors import Error


class PrintJob(Protocol):
    """What the queue needs of a job (appliance.store's PrintJob is one)."""

    @property
    def job_id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def copy(self) -> bool: ...
    @property
    def attempts(self) -> int: ...


J = TypeVar("J", bound=PrintJob)
J_co = TypeVar("J_co", bound=PrintJob, covariant=True)


class JobSource(Protocol[J_co]):
    """Where jobs are kept (appliance.store's PrintJobs is one)."""

    def pending(self) -> Sequence[J_co]: ...
    def mark_printed(self, job_id: int) -> None: ...
    def mark_attempt(self, job_id: int, error: str) -> None: ...


class PrintQueue(Generic[J]):
    """Prints each pending job once, oldest first; retries with backoff after printer faults.

    `state` is "ok", "paper_out", "offline" or "error" (the last fault until a
    receipt prints again); `queued` is how many jobs were waiting at the last look.
    Events: `printer.printed` per receipt, `printer.paper_out` / `printer.offline` /
    `printer.error` once per fault, `printer.recovered` when printing works again,
    `printer.save_failed` when a receipt's files could not be written.
    """

    def __init__(
        self,
        printer: Printer,
        jobs: JobSource[J],
        render: Callable[[J], Receipt],
        out_dir: Path | None,
        on_event: EventSink = discard,
        *,
        profile: str = "default",
        retry_min: float = 0.5,
        retry_max: float = 5.0,
        idle_poll: float = 5.0,
    ) -> None:
        self.printer = printer
        self.state = "ok"
        self.queued = 0
        self._jobs = jobs
        self._render = render
        self._out_dir = out_dir
        self._emit = on_event
        self._profile = profile
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        self._stopping = False
        # Something may have come out of the printer that is not a whole receipt.
        self._torn = False
        self._torn_bytes: bytes | None = None
        self._saved: set[int] = set()
        # Printed, but the store failed to record it: never print these again.
        self._printed: set[int] = set()
        # Jobs that cannot be rendered: skipped so the receipts after them still print.
        self._broken: set[int] = set()

    def wake(self) -> None:
        """A job was added (or the printer was seen back): look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Make `run` return after the write under way, if any."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Print pending jobs until `stop()` (which is final)."""
        while not self._stopping:
            try:
                pending = self._jobs.pending()
            except Error as e:
                # The store is having trouble; the jobs are safe in it, so look again later.
                self._emit(Event("printer.error", {"error": str(e)}))
                await self._sleep(self._retry_max)
                continue
            jobs = [j for j in pending if j.job_id not in self._broken]
            jobs.sort(key=lambda j: j.job_id)
            self.queued = len(jobs)
            if not jobs:
                await self._sleep(self._idle_poll)
                continue
            job = jobs[0]
            if job.job_id in self._printed:
                if not self._mark_printed(job.job_id):
                    await self._sleep(self._retry_max)
                continue
            await self._print(job)

    async def _print(self, job: J) -> None:
        try:
            receipt = self._render(job)
            data = escpos.render(receipt, self._profile)
        except Exception as e:  # any failure here is this job's alone; the rest must print
            self._broken.add(job.job_id)
            self._note_attempt(job.job_id, f"cannot render the receipt: {e}")
            self._emit(Event("printer.error", {"job_id": job.job_id, "error": str(e)}))
            return
        if self._out_dir is not None and job.job_id not in self._saved:
            await self._save(job, receipt, data)
        delay = self._retry_min
        while not self._stopping:
            try:
                if self._torn:
                    await self.printer.print_bytes(self._notice())
                    self._torn = False
                await self.printer.print_bytes(data)
            except PrinterError as e:
                self._torn = self._torn or e.partial
                self._note_attempt(job.job_id, str(e))
                self._fault(e, receipt.receipt_no)
                await self._sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            self._printed.add(job.job_id)
            self._saved.discard(job.job_id)
            self._mark_printed(job.job_id)
            self.queued = max(self.queued - 1, 0)
            if self.state != "ok":
                self.state = "ok"
                self._emit(Event("printer.recovered", {"receipt_no": receipt.receipt_no}))
            detail = {"receipt_no": receipt.receipt_no, "job_id": job.job_id, "copy": job.copy}
            self._emit(Event("printer.printed", detail))
            return

    def _notice(self) -> bytes:
        if self._torn_bytes is None:
            self._torn_bytes = torn_notice_bytes(self._profile)
        return self._torn_bytes

    def _fault(self, e: PrinterError, receipt_no: str) -> None:
        if e.state == self.state:
            return  # once per fault, not once per retry
        self.state = e.state
        self._emit(Event(f"printer.{e.state}", {"receipt_no": receipt_no, "error": str(e)}))

    def _mark_printed(self, job_id: int) -> bool:
        try:
            self._jobs.mark_printed(job_id)
        except Error as e:
            self._emit(Event("printer.error", {"job_id": job_id, "error": str(e)}))
            return False
        self._printed.discard(job_id)
        return True

    def _note_attempt(self, job_id: int, error: str) -> None:
        try:
            self._jobs.mark_attempt(job_id, error)
        except Error as e:
            # Only a counter: the job is still queued and retried either way.
            self._emit(Event("printer.error", {"job_id": job_id, "error": str(e)}))

    async def _save(self, job: J, receipt: Receipt, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._write_files, job, receipt, data)
        except Exception as e:  # any failure of the copy, Pillow's too
            # The paper receipt matters more than its saved copy: print anyway.
            self._emit(Event("printer.save_failed", {"job_id": job.job_id, "error": str(e)}))
        self._saved.add(job.job_id)

    def _write_files(self, job: J, receipt: Receipt, data: bytes) -> None:
        assert self._out_dir is not None
        self._out_dir.mkdir(parents=True, exist_ok=True)
        stem = receipt.receipt_no
        if job.copy:
            n = 1
            while (self._out_dir / f"{stem}-copy-{n}.txt").exists():
                n += 1
            stem = f"{stem}-copy-{n}"
        out = self._out_dir
        # The text last: its presence is what claims a copy number.
        (out / f"{stem}.bin").write_bytes(data)
        png.render(receipt, out / f"{stem}.png")
        (out / f"{stem}.txt").write_text(receipt.to_text(), encoding="utf-8")

    async def _sleep(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()
