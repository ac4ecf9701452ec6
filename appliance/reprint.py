"""`appliance receipt reprint`: a copy of a receipt, printed marked COPY.

The copy is a print job in the journal's database, like every receipt, so it survives a
restart and prints exactly once. When the service runs it owns the printer and prints
the job within its next look (`PrintQueue`'s idle poll); when it does not, this command
takes the service lock and prints the job itself. Either way it waits up to `wait`
seconds for the copy to come out and says whether it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from appliance.config import Config
from appliance.drivers.print_queue import PrintQueue
from appliance.drivers.printer import open_printer
from appliance.events import Event
from appliance.sales.staff import Roster
from appliance.service import ServiceLock, receipt_header, receipt_renderer
from appliance.store import Store
from protocol.errors import BadInput

log = logging.getLogger("appliance.reprint")
POLL = 0.05


@dataclass(frozen=True)
class Reprinted:
    receipt_no: str
    job_id: int
    printed: bool
    by: str  # "service" (the running one printed it) or "here"
    printer: str  # the print queue's last state ("ok", "offline", "paper_out", …)


def check_supervisor(cfg: Config, staff: str | None, pin: str | None) -> str | None:
    """Who approves the copy. With a `[[staff]]` roster a named reprint needs a supervisor's
    PIN; without `--staff` the command's user (root on the unit) answers for it."""
    if staff is None:
        return None
    person = Roster(cfg.staff).authenticate(staff, pin, "reprint")
    if not person.is_supervisor:
        raise BadInput(f"--staff {staff}: a reprint needs a supervisor, and {staff} is not one")
    return person.id


async def reprint(cfg: Config, receipt_no: str, *, wait: float = 30.0) -> Reprinted:
    """Queue a COPY of `receipt_no` and see it printed (by the service or here)."""
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        record = store.by_receipt_no(receipt_no)
        if record is None:
            raise BadInput(f"receipt {receipt_no!r}: not in this till's journal ({cfg.data_dir})")
        job = store.print_jobs.add_copy(record.seq)
        log.info("copy queued", extra={"receipt_no": receipt_no, "job_id": job})
        lock = ServiceLock(cfg.data_dir)
        if not lock.acquire():  # the service runs: its print queue takes the job
            printed = await _printed(store, job, wait)
            return Reprinted(receipt_no, job, printed, "service", "ok" if printed else "-")
        try:
            return await _print_here(cfg, store, receipt_no, job, wait)
        finally:
            lock.release()


async def _print_here(
    cfg: Config, store: Store, receipt_no: str, job: int, wait: float
) -> Reprinted:
    printer = open_printer(cfg.hardware.printer)
    faults: list[Event] = []
    queue = PrintQueue(
        printer,
        store.print_jobs,
        receipt_renderer(store, [receipt_header(cfg)], cfg.exponent),
        cfg.data_dir / "receipts",
        on_event=lambda e: faults.append(e) if e.kind != "printer.printed" else None,
        max_age=cfg.hardware.print_max_age,  # what a restart would hold, this holds too
    )
    task = asyncio.create_task(queue.run(), name="print-queue")
    try:
        printed = await _printed(store, job, wait)
    finally:
        queue.stop()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        printer.close()
    for fault in faults:
        log.warning(fault.kind, extra={"event": fault.detail})
    return Reprinted(receipt_no, job, printed, "here", queue.state)


async def _printed(store: Store, job: int, wait: float) -> bool:
    """Whether the copy came out within `wait` (not merely left the queue: held is not)."""
    deadline = time.monotonic() + wait
    while (state := store.print_jobs.state(job)) == "queued":
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL)
    return state == "printed"
