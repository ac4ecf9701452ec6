"""What every screen reads, and how a screen acts: `Controller.handle` with a scenario
operation (and `Controller.reprint` for a copy of a receipt, which is not one)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from appliance.controller import Outcome
from appliance.display.formatting import MoneyText
from appliance.display.status import (
    Light,
    drawer_light,
    journal_light,
    network_light,
    printer_light,
    scanner_light,
)
from appliance.events import Event
from appliance.loyalty.customers import LoyaltyLookup
from appliance.service import Unit
from appliance.store import DeviceState, HeldReceipt, StoreError

log = logging.getLogger("appliance.display")


class DisplayContext:
    """The unit, how to write money, where customer data comes from, and who to redraw.

    A key press calls `act(op)`: the same operation `appliance replay` sends, handed to
    the same controller; the screens redraw from `unit.till.view()` afterwards.
    """

    def __init__(
        self,
        unit: Unit,
        money: MoneyText,
        loyalty: LoyaltyLookup,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unit = unit
        self.money = money
        self.loyalty = loyalty
        self.clock = clock
        self.redraws: list[Callable[[], None]] = []
        self.event_hooks: list[Callable[[Event], None]] = []
        self.scan_hooks: list[Callable[[str], None]] = []
        # Draws the window at once (set by the app): a change is shown in the same loop
        # turn, not at the Kivy clock's next frame up to 1/60 s later.
        self.present: Callable[[], None] | None = None
        self._present_due = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- acting -------------------------------------------------------------------------
    def act(
        self, op: Mapping[str, Any], then: Callable[[Outcome], None] | None = None
    ) -> asyncio.Task[Outcome]:
        """Run one operation on the controller; `then` sees its outcome; screens redraw."""

        return self._run(self.unit.controller.handle(op), then)

    def reprint(
        self, receipt_no: str, then: Callable[[Outcome], None] | None = None
    ) -> asyncio.Task[Outcome]:
        """A copy of a receipt (`Controller.reprint`, restricted like a refund)."""
        return self._run(self.unit.controller.reprint(receipt_no), then)

    def clear_unprinted(
        self, job_ids: list[int], then: Callable[[Outcome], None] | None = None
    ) -> asyncio.Task[Outcome]:
        """Receipts off the not-printed list (`Controller.clear_unprinted`, restricted)."""
        return self._run(self.unit.controller.clear_unprinted(job_ids), then)

    def _run(
        self, call: Awaitable[Outcome], then: Callable[[Outcome], None] | None
    ) -> asyncio.Task[Outcome]:
        async def run() -> Outcome:
            outcome = await call
            if then is not None:
                then(outcome)
            self.changed()
            return outcome

        return self.spawn(run())

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("screen action failed", exc_info=task.exception())

    async def settle(self) -> None:
        """Wait until every action under way has finished (tests, snapshots)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- hearing -------------------------------------------------------------------------
    def changed(self) -> None:
        for redraw in list(self.redraws):
            redraw()
        self._present_soon()

    def _present_soon(self) -> None:
        # From the event loop, never from inside Kivy's frame (its clock is not
        # re-entrant); several changes in one loop turn make one frame.
        if self.present is None or self._present_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._present_due = True
        loop.call_soon(self._present_now)

    def _present_now(self) -> None:
        self._present_due = False
        if self.present is not None:
            self.present()

    def on_event(self, event: Event) -> None:
        for hook in list(self.event_hooks):
            hook(event)
        self.changed()

    def on_scan(self, code: str) -> None:
        for hook in list(self.scan_hooks):
            hook(code)
        self.changed()

    # -- reading -------------------------------------------------------------------------
    def unprinted(self) -> list[HeldReceipt]:
        """The receipts not printed (held), newest first; none when the store cannot say."""
        try:
            return self.unit.store.print_jobs.held()
        except StoreError as e:
            log.warning("receipts not printed unreadable", extra={"error": str(e)})
            return []

    def lights(self) -> list[Light]:
        u = self.unit
        try:
            outbox = u.store.outbox.depth()
            unprinted = u.store.print_jobs.held_count()
        except StoreError:
            outbox = unprinted = 0
        return [
            journal_light(u.controller.out_of_service, u.controller.unsaved),
            printer_light(u.print_queue.state, u.print_queue.queued, unprinted),
            scanner_light(None if u.scanner is None else u.scanner.state),
            drawer_light(u.drawer.is_open, u.events),
            network_light(bool(u.cfg.mqtt.url), u.mqtt is not None and u.mqtt.connected, outbox),
        ]

    def promotions(self) -> list[dict[str, str]]:
        """Promotions the collector pushed (document 'promotions' in the device state),
        every one of them: the idle screen shows them in turn."""
        path = Path(self.unit.cfg.data_dir) / "state.json"
        if not path.exists():
            return []
        try:
            with DeviceState(path) as state:
                doc = state.get("promotions")
        except StoreError as e:
            log.warning("promotions unreadable", extra={"error": str(e)})
            return []
        items = doc.get("items", [])
        return [
            {"title": str(p.get("title", "")), "text": str(p.get("text", ""))}
            for p in items
            if isinstance(p, dict)
        ]
