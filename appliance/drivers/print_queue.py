"""The print queue: every persisted print job comes out exactly once, in order, despite faults.

Jobs live in the store (one per journal record, plus explicit reprints), so a receipt
survives a crash or a printer fault. The queue renders a job, saves its text, PNG and
ESC/POS bytes, and sends the whole receipt as one write. When a write fails part-way,
the torn fragment is finished with a notice and a cut once the printer is back, and
the receipt is printed again in full.

With `max_age`, a receipt is only printed while it is recent: a job older than that
(since its sale, or its request for a copy) is held instead, listed for a supervised
COPY, and never printed by itself: after a long outage the customers have gone. Its age
is read on the wall clock once, when the queue first sees the job, and carried on by the
monotonic clock from there, so a clock that jumps (NTP setting it after boot) neither
ages nor rejuvenates the jobs already known. A job a restart finds whose sale is ahead
of the clock (the clock went back: a board without a battery-backed clock, started
before NTP) has no knowable age and is held too: never printed by guesswork.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from appliance.drivers.printer import Printer, PrinterError
from appliance.events import Event, EventSink, discard
from appliance.receipt import escpos, png
from appliance.receipt.escpos import torn_notice_bytes
from appliance.receipt.layout import Receipt
from protocol.errors import Error
from protocol.timestamps import parse_stamp

# A sale this many seconds ahead of the clock means the clock went back since (a small
# step back is NTP correcting a fast clock: such a job counts as just sold).
CLOCK_BEHIND = 60.0
# Receipt numbers an event names (the rest are counted).
EVENT_RECEIPTS = 20


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
    @property
    def since(self) -> str:
        """When its age starts (a wire timestamp); read only with `max_age`."""
        ...

    @property
    def receipt_no(self) -> str: ...


J = TypeVar("J", bound=PrintJob)
J_co = TypeVar("J_co", bound=PrintJob, covariant=True)


class JobSource(Protocol[J_co]):
    """Where jobs are kept (appliance.store's PrintJobs is one)."""

    def pending(self) -> Sequence[J_co]: ...
    def mark_printed(self, job_id: int) -> None: ...
    def mark_attempt(self, job_id: int, error: str) -> None: ...
    def hold(self, job_ids: Iterable[int], reason: str) -> int: ...


class PrintQueue(Generic[J]):
    """Prints each pending job once, oldest first; retries with backoff after printer faults.

    `state` is "ok", "paper_out", "offline" or "error" (the last fault until a
    receipt prints again); `queued` is how many jobs were waiting at the last look.
    With `max_age` (seconds), a job older than that is held, not printed (see above).
    Events: `printer.printed` per receipt, `printer.paper_out` / `printer.offline` /
    `printer.error` once per fault, `printer.recovered` when printing works again,
    `printer.save_failed` when a receipt's files could not be written, `printer.held`
    for the jobs held at one look (`count`, `receipts`, `reason`, `max_age`).
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
        max_age: float | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.printer = printer
        self.state = "ok"
        self.queued = 0
        self.max_age = max_age
        self._jobs = jobs
        self._render = render
        self._out_dir = out_dir
        self._emit = on_event
        self._profile = profile
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._delay = retry_min
        self._idle_poll = idle_poll
        self._clock = clock
        self._monotonic = monotonic
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
        # The job being retried, rendered once: (job_id, receipt, bytes).
        self._rendered: tuple[int, Receipt, bytes] | None = None
        # Per job seen: the monotonic time its age was zero, or None when it cannot be known.
        self._born: dict[int, float | None] = {}
        # Jobs too old to print that the store failed to hold at the last look.
        self._unheld = False

    def wake(self) -> None:
        """A job was added (or the printer was seen back): look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Make `run` return after the write under way, if any."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Print pending jobs until `stop()` (which is final). Every pass looks at the
        store again, also between the retries of a receipt the printer refuses, so jobs
        queued meanwhile are seen (and their age measured) as they come."""
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
            if self.max_age is not None:
                jobs = self._hold_old(jobs, self.max_age)
            self.queued = len(jobs)
            if not jobs:
                if self.state != "ok":
                    await self._probe()
                # Old jobs the store would not hold yet are tried again soon.
                await self._sleep(self._retry_max if self._unheld else self._idle_poll)
                continue
            job = jobs[0]
            if job.job_id in self._printed:
                if not self._mark_printed(job.job_id):
                    await self._sleep(self._retry_max)
                continue
            if not await self._print(job):
                await self._sleep(self._delay)
                self._delay = min(self._delay * 2, self._retry_max)

    # -- age ------------------------------------------------------------------------------
    def age(self, job: J) -> float | None:
        """Seconds since the job's sale (or copy request); None when it cannot be known."""
        if job.job_id not in self._born:
            self._born[job.job_id] = self._zero(job.since)
        born = self._born[job.job_id]
        return None if born is None else self._monotonic() - born

    def _zero(self, since: str) -> float | None:
        # The wall clock, read once per job: the only clock that survives a restart.
        try:
            wall_age = self._clock() - parse_stamp(since).timestamp()
        except ValueError:
            return None
        if wall_age < -CLOCK_BEHIND:
            return None
        return self._monotonic() - max(wall_age, 0.0)

    def _hold_old(self, jobs: list[J], max_age: float) -> list[J]:
        """Hold the jobs too old to print (in one transaction); the rest, to print."""
        self._born = {j.job_id: self._born[j.job_id] for j in jobs if j.job_id in self._born}
        old: dict[str, list[J]] = {}
        for job in jobs:
            if job.job_id in self._printed:
                continue  # it did come out: only the store has to hear it
            age = self.age(job)
            if age is None:
                why = "it is dated ahead of the clock (the clock went back), so its age is unknown"
            elif age > max_age:
                why = f"older than {max_age:g} s (print_max_age) before it could print"
            else:
                continue
            old.setdefault(why, []).append(job)
        self._unheld = False
        if not old:
            return jobs
        skip: set[int] = set()
        for why, group in old.items():
            ids = [j.job_id for j in group]
            skip.update(ids)
            try:
                count = self._jobs.hold(ids, why)
            except Error as e:
                # Not printed either way: they are held at the next look.
                self._unheld = True
                self._emit(Event("printer.error", {"error": str(e)}))
                continue
            for job_id in ids:
                self._born.pop(job_id, None)
                self._saved.discard(job_id)
            detail = {
                "count": count,
                "receipts": [j.receipt_no for j in group[:EVENT_RECEIPTS]],
                "reason": why,
                "max_age": max_age,
            }
            self._emit(Event("printer.held", detail))
        return [j for j in jobs if j.job_id not in skip]

    # -- printing -------------------------------------------------------------------------
    async def _print(self, job: J) -> bool:
        """One try at `job`: True when it is done with (printed, or cannot be rendered),
        False when the printer refused it (the caller waits, then tries again)."""
        if self._rendered is None or self._rendered[0] != job.job_id:
            try:
                receipt = self._render(job)
                data = escpos.render(receipt, self._profile)
            except Exception as e:  # any failure here is this job's alone; the rest must print
                self._broken.add(job.job_id)
                self._note_attempt(job.job_id, f"cannot render the receipt: {e}")
                self._emit(Event("printer.error", {"job_id": job.job_id, "error": str(e)}))
                return True
            self._rendered = (job.job_id, receipt, data)
        _, receipt, data = self._rendered
        if self._out_dir is not None and job.job_id not in self._saved:
            await self._save(job, receipt, data)
        try:
            if self._torn:
                await self.printer.print_bytes(self._notice())
                self._torn = False
            await self.printer.print_bytes(data)
        except PrinterError as e:
            self._torn = self._torn or e.partial
            self._note_attempt(job.job_id, str(e))
            self._fault(e, receipt.receipt_no)
            return False
        self._delay = self._retry_min
        self._rendered = None
        self._printed.add(job.job_id)
        self._saved.discard(job.job_id)
        self._mark_printed(job.job_id)
        self.queued = max(self.queued - 1, 0)
        if self.state != "ok":
            self.state = "ok"
            self._emit(Event("printer.recovered", {"receipt_no": receipt.receipt_no}))
        detail = {"receipt_no": receipt.receipt_no, "job_id": job.job_id, "copy": job.copy}
        self._emit(Event("printer.printed", detail))
        return True

    async def _probe(self) -> None:
        """Nothing to print after a fault (its receipts were held): ask the printer, so
        the state says it is back without waiting for the next sale."""
        if await self.printer.status() in ("ok", "paper_low"):
            self.state = "ok"
            self._emit(Event("printer.recovered", {}))

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
