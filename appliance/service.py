"""The appliance service: wires store, till, drivers and controller, and owns task lifetimes.

`open_unit` is used by `appliance run`, `appliance replay` and `appliance demo` alike, so
all three run the same wiring; only `simulate` swaps each driver for its twin.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import functools
import gc
import logging
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from appliance import __version__
from appliance.config import Config
from appliance.controller import Controller
from appliance.drivers.drawer import Drawer, SimDrawer
from appliance.drivers.print_queue import PrintQueue
from appliance.drivers.printer import Printer, SimPrinter, open_printer
from appliance.drivers.scanner import Scan, Scanner, SimScanner
from appliance.events import Event
from appliance.loyalty.authoriser import LoyaltyAuthoriser
from appliance.receipt.layout import Receipt, ReceiptHeader
from appliance.sales.catalog import Catalog
from appliance.sales.pins import PinPolicy
from appliance.sales.staff import Roster
from appliance.sales.till import Till, TillSettings
from appliance.store import DeviceState, PrintJob, Store
from appliance.tasks import cancel_and_wait
from protocol.errors import BadInput

if TYPE_CHECKING:
    from appliance.mqtt.client import MqttLink
    from appliance.mqtt.publisher import OutboxPublisher

log = logging.getLogger("appliance.service")


def till_settings(cfg: Config) -> TillSettings:
    return TillSettings(
        device=cfg.device.id,
        store=cfg.device.store,
        region=cfg.device.region,
        currency=cfg.store.currency,
        exponent=cfg.exponent,
        prices_include_tax=cfg.store.prices_include_tax,
        cash_rounding=cfg.store.cash_rounding,
        points_per_unit=cfg.loyalty.points_per_unit,
        point_value=cfg.loyalty.point_value,
        offline_redeem_cap=cfg.loyalty.offline_redeem_cap,
        cashier_discount_max=cfg.till.cashier_discount_max,
    )


def pin_policy(cfg: Config) -> PinPolicy:
    t = cfg.till
    return PinPolicy(
        tries=t.pin_tries,
        lockout=t.pin_lockout,
        till_tries=t.pin_till_tries,
        wait_max=t.pin_wait_max,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Unit:
    """Everything one till is made of, wired together."""

    cfg: Config
    store: Store
    till: Till
    controller: Controller
    drawer: Drawer
    scanner: Scanner | None
    printer: Printer
    print_queue: PrintQueue
    sim_scanner: SimScanner | None = None
    events: list[Event] = field(default_factory=list)
    # The link to the collector and its outbox publisher, when [mqtt] url is set.
    mqtt: MqttLink | None = None
    publisher: OutboxPublisher | None = None
    # Card balances and point holds from the collector (offline answers without [mqtt]);
    # also the screens' LoyaltyLookup.
    loyalty: LoyaltyAuthoriser = field(default_factory=lambda: LoyaltyAuthoriser(""))
    # Who else hears events and good scans (the screens); called on the loop, must not block.
    event_watchers: list[Callable[[Event], None]] = field(default_factory=list)
    scan_watchers: list[Callable[[Scan], None]] = field(default_factory=list)
    emit: Callable[[Event], None] = field(default=lambda _e: None)
    # Set once the journal passed (or failed) its integrity check at start.
    journal_checked: asyncio.Event = field(default_factory=asyncio.Event)

    async def scanner_connected(self, timeout: float = 5.0) -> bool:
        """Wait until the scanner driver has the port open; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.scanner is not None and self.scanner.state != "connected":
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def drain_outbox(self, timeout: float = 10.0) -> bool:
        """Wait until the collector acknowledged every record; False on timeout or no MQTT."""
        if self.publisher is None:
            return self.store.outbox.depth() == 0
        return await self.publisher.wait_drained(timeout)

    async def drain_printer(self, timeout: float = 10.0) -> bool:
        """Wait until every queued receipt has printed; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.store.print_jobs.pending():
            if time.monotonic() > deadline:
                return False
            self.print_queue.wake()
            await asyncio.sleep(0.02)
        return True


def receipt_header(cfg: Config) -> ReceiptHeader:
    return ReceiptHeader(
        store_name=cfg.store.name or f"Store {cfg.device.store}",
        address=list(cfg.store.address),
        tax_id=cfg.store.tax_id,
        footer=list(cfg.store.footer) or ["Thank you for shopping with us"],
    )


class ServiceBusy(BadInput):
    """Another process drives this data_dir's till (its printer, drawer and scanner)."""


class ServiceLock:
    """Held by the one process that drives a data_dir's hardware (`run`, `replay`, the
    demo): an exclusive flock on DATA_DIR/service.lock, which the kernel lets go however
    the process ends (even kill -9), so there is nothing stale to clean up."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "service.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take it without waiting; False when another process holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def receipt_renderer(
    store: Store, headers: list[ReceiptHeader], exponent: int
) -> Callable[[PrintJob], Receipt]:
    """How the print queue lays out a job: its record, under the current header (the last
    of `headers`: a config command may change it), marked COPY for a reprint."""

    def render(job: PrintJob) -> Receipt:
        record = store.by_seq(job.seq)
        if record is None:  # cannot happen: jobs reference committed records
            raise LookupError(f"print job {job.job_id} has no record {job.seq}")
        return Receipt.from_record(record, headers[-1], exponent, copy=job.copy)

    return render


def _printer_for(cfg: Config, simulate: bool) -> Printer:
    spec = cfg.hardware.printer
    if simulate:
        path = Path(spec[5:]) if spec.startswith("file:") else cfg.data_dir / "printer.bin"
        return SimPrinter(path)
    return open_printer(spec)


async def stop_tasks(tasks: list[asyncio.Task[None]], patience: float = 10.0) -> None:
    """Cancel the component loops and wait for them (`cancel_and_wait`); log the ones
    that would not stop and the ones that failed."""
    pending = await cancel_and_wait(tasks, patience)
    for t in pending:
        log.error("component did not stop", extra={"component": t.get_name()})
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is not None:
            log.error("component failed", extra={"component": t.get_name()}, exc_info=t.exception())


def few_malloc_arenas(arenas: int = 1) -> None:
    """Cap glibc's malloc arenas for this process (mallopt M_ARENA_MAX; by hand, through
    ctypes: no library does it, and the environment variable only works if set before
    the start). glibc gives threads that allocate at once arenas of their own, up to 8
    per core; the print queue's and the journal check's threads held 2.2 MB more RSS at
    READY. One arena: the GIL serialises the threads' Python anyway, and what they do
    in C (SQLite, Pillow) is brief (docs/benchmarks.md)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas)


_M_ARENA_MAX = -8  # from glibc's malloc.h


async def check_journal(unit: Unit, interval: float) -> None:
    """SQLite's quick check of the journal at start, then every `interval` seconds
    (`[journal] check_interval`, 6 h; a quick_check reads every page), beside the
    selling (it has its own read connection). A journal that fails puts the till out of
    service with the reason: 8 KB of garbage in journal.db went unnoticed while `replay`
    committed more sales into it."""
    while True:
        problem = await asyncio.to_thread(unit.store.quick_check)
        log.info("journal checked", extra={"sound": problem is None})
        if problem is not None:
            unit.controller.put_out_of_service(
                f"journal.db fails SQLite's integrity check ({problem[:200]}); keep the file "
                "as it is and restore the unit (README, 'A damaged journal')"
            )
        unit.journal_checked.set()
        if problem is not None:
            return
        await asyncio.sleep(interval)


async def supervise(
    name: str, run: Callable[[], Awaitable[None]], emit: Callable[[Event], None]
) -> None:
    """Keep a driver loop alive: a crash is logged, shown and followed by a restart.

    The loops handle their device's faults themselves; this catches our own bugs, so one
    broken component never takes the till down (and never dies unseen).
    """
    delay = 0.5
    while True:
        started = time.monotonic()
        try:
            await run()
            return  # a loop that ends by itself has nothing left to do (a drawer without sensor)
        except Exception as e:
            log.exception("component crashed", extra={"component": name})
            emit(Event("service.component_crashed", {"component": name, "error": repr(e)}))
        delay = 0.5 if time.monotonic() - started > 30 else min(delay * 2, 10.0)
        await asyncio.sleep(delay)


@contextlib.asynccontextmanager
async def open_unit(
    cfg: Config,
    *,
    simulate: bool,
    on_event: Callable[[Event], None] | None = None,
    config_path: Path | None = None,
) -> AsyncIterator[Unit]:
    """Open the store, load the catalog, start the drivers; stop everything on exit.
    ServiceBusy when another process already drives this data_dir."""
    store = Store.open(cfg.data_dir, cfg.device.id)
    lock = ServiceLock(cfg.data_dir)
    if not lock.acquire():
        store.close()
        raise ServiceBusy(
            f"{cfg.data_dir}: another appliance process (run, replay or demo) drives this "
            "till; stop it first (only one may own its printer, drawer and scanner)"
        )
    events: list[Event] = []
    controller_ref: list[Controller] = []
    mqtt_ref: list[MqttLink] = []
    event_watchers: list[Callable[[Event], None]] = []
    scan_watchers: list[Callable[[Scan], None]] = []

    def emit(event: Event) -> None:
        events.append(event)
        del events[:-1000]  # a bounded memory of recent events for screens and tests
        warn = event.kind.endswith(("fault", "jammed", "too_long", "held"))
        warn = warn or event.kind == "staff.locked"
        level = logging.WARNING if warn else 0
        log.log(level or logging.INFO, event.kind, extra={"event": event.detail})
        if event.kind == "scanner.rejected" and controller_ref:
            controller_ref[0].on_scan_rejected(str(event.detail.get("reason", "unreadable")))
        if on_event is not None:
            on_event(event)
        for link in mqtt_ref:
            link.forward(event)
        for watch in event_watchers:
            watch(event)

    state: DeviceState | None = None
    try:
        catalog = Catalog(store.catalog.load())
        till = Till(
            till_settings(cfg),
            catalog,
            Roster(cfg.staff),
            clock=_utc_now,
            new_id=_new_id,
            monotonic=time.monotonic,
            pins=pin_policy(cfg),
        )
        if cfg.staff:
            # Wrong PINs and locks outlive a restart: a power cycle must not clear them.
            state = DeviceState(cfg.data_dir / "state.json")
            _restore_pins(till, state, cfg)
        hw = cfg.hardware
        drawer: Drawer
        if simulate:
            drawer = SimDrawer(open_alarm=hw.drawer_open_alarm, on_event=emit)
        else:
            drawer = Drawer(
                hw.drawer_pin, hw.drawer_sensor_pin, open_alarm=hw.drawer_open_alarm, on_event=emit
            )
        printer = _printer_for(cfg, simulate)
        headers = [receipt_header(cfg)]  # the last is current: a config command may change it
        exponent = cfg.exponent
        render = receipt_renderer(store, headers, exponent)
        queue = PrintQueue(
            printer,
            store.print_jobs,
            render,
            cfg.data_dir / "receipts",
            on_event=emit,
            max_age=hw.print_max_age,
        )
        publisher: OutboxPublisher | None = None
        if cfg.mqtt.url:
            from appliance.mqtt.publisher import OutboxPublisher

            publisher = OutboxPublisher(
                store, window=cfg.mqtt.window, ack_timeout=cfg.mqtt.ack_timeout
            )
        loyalty = LoyaltyAuthoriser(cfg.device.id, timeout=cfg.loyalty.timeout)
        controller = Controller(
            till,
            store,
            drawer,
            exponent=exponent,
            on_event=emit,
            wake_printer=queue.wake,
            wake_outbox=publisher.wake if publisher is not None else lambda: None,
            loyalty=loyalty,
            save_pins=None if state is None else functools.partial(state.put, PINS_DOC),
        )
        controller_ref.append(controller)
        sim_scanner: SimScanner | None = None
        scanner: Scanner | None = None
        port = hw.scanner
        if simulate:
            sim_scanner = SimScanner(cfg.data_dir / "sim-scanner")
            port = str(sim_scanner.link_path)
        if port:

            def on_scan(scan: Scan) -> None:
                controller.on_scan(scan)
                for watch in scan_watchers:
                    watch(scan)

            scanner = Scanner(port, hw.scanner_baud, on_scan=on_scan, on_event=emit)
        unit = Unit(cfg, store, till, controller, drawer, scanner, printer, queue, sim_scanner)
        unit.events = events
        unit.loyalty = loyalty
        if publisher is not None:
            unit.publisher = publisher
            unit.mqtt = _mqtt_link(unit, publisher, config_path, headers)
            mqtt_ref.append(unit.mqtt)
            unit.mqtt.on_loyalty_response = loyalty.deliver
            loyalty.channel = unit.mqtt
        unit.event_watchers, unit.scan_watchers = event_watchers, scan_watchers
        unit.emit = emit
        tasks: list[asyncio.Task[None]] = []
        try:
            loops: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                ("print-queue", queue.run),
                ("drawer-watch", drawer.watch),
            ]
            if scanner is not None:
                loops.append(("scanner", scanner.run))
            if unit.mqtt is not None:
                loops.append(("mqtt", unit.mqtt.run))
            interval = cfg.journal.check_interval
            loops.append(("journal-check", lambda: check_journal(unit, interval)))
            for name, loop in loops:
                tasks.append(asyncio.create_task(supervise(name, loop, emit), name=name))
            yield unit
        finally:
            # Cards still being looked up, and releases and commits on their way out.
            await controller.settle()
            await loyalty.settle()
            if unit.mqtt is not None:
                # A clean stop publishes `offline` before it disconnects.
                unit.mqtt.stop()
                await asyncio.wait([t for t in tasks if t.get_name() == "mqtt"], timeout=3.0)
            await controller.settle()
            await stop_tasks(tasks)
            if scanner is not None:
                scanner.stop()
            if sim_scanner is not None:
                sim_scanner.close()
            drawer.close()
            printer.close()
    finally:
        if state is not None:
            state.close()
        lock.release()
        store.close()


PINS_DOC = "pins"  # the device state's document of wrong-PIN counts and locks


def _restore_pins(till: Till, state: DeviceState, cfg: Config) -> None:
    skipped = till.pins.restore(
        state.get(PINS_DOC), {m.id for m in cfg.staff}, now=time.monotonic()
    )
    for why in skipped:
        log.warning("wrong-PIN count left out", extra={"why": why})
    locked = sorted(till.pins.locked())
    if locked:
        log.warning("staff locked since before the start", extra={"staff": locked})


def _mqtt_link(
    unit: Unit, publisher: OutboxPublisher, config_path: Path | None, headers: list[ReceiptHeader]
) -> MqttLink:
    """The MQTT link of a unit, with the remote commands wired to its parts."""
    from appliance.mqtt.client import MqttLink
    from appliance.mqtt.commands import LIVE_KEYS, Commands, ConfigFile

    links: list[MqttLink] = []

    def apply_config(new: Config, changed: list[str]) -> list[str]:
        live = [k for k in changed if k in LIVE_KEYS]
        if any(k.startswith(("store.", "loyalty.")) for k in live):
            headers.append(receipt_header(new))
            del headers[:-1]
            old = unit.till.settings  # the currency (money scale) only changes on a restart
            settings = replace(till_settings(new), currency=old.currency, exponent=old.exponent)
            unit.controller.replace_settings(settings)
        if "mqtt.telemetry_interval" in live:
            links[0].set_telemetry_interval(new.mqtt.telemetry_interval)
        if "mqtt.ack_timeout" in live:
            publisher.ack_timeout = new.mqtt.ack_timeout
        return live

    def device_states() -> dict[str, str]:
        drawer_open = unit.drawer.is_open
        return {
            "printer": unit.print_queue.state,
            "scanner": unit.scanner.state if unit.scanner is not None else "none",
            "drawer": "unknown" if drawer_open is None else "open" if drawer_open else "closed",
        }

    commands = Commands(
        store=unit.store,
        controller=unit.controller,
        publisher=publisher,
        exponent=unit.cfg.exponent,
        config_file=ConfigFile(config_path) if config_path is not None else None,
        on_config=apply_config,
    )
    links.append(MqttLink(unit.cfg, unit.store, publisher, commands, device_states=device_states))
    return links[0]


class Notifier:
    """sd_notify when run under systemd (NOTIFY_SOCKET set); silent otherwise."""

    def __init__(self) -> None:
        self._n: Any = None
        if os.environ.get("NOTIFY_SOCKET"):
            import sdnotify

            self._n = sdnotify.SystemdNotifier()

    def notify(self, state: str) -> None:
        if self._n is not None:
            self._n.notify(state)

    @property
    def watchdog_interval(self) -> float | None:
        usec = os.environ.get("WATCHDOG_USEC")
        return int(usec) / 2e6 if usec and usec.isdigit() else None


class Frontend(Protocol):
    """What the people at the till use, run beside the unit (the screens: the command
    line passes `appliance.display.app.serve_display`; the service never imports it).

    It returns once `stop` is set, and handles its own failures (a till whose screen
    fails keeps selling headless); one that raises anyway is logged and the till goes on.
    """

    def __call__(self, unit: Unit, stop: asyncio.Event, /) -> Awaitable[None]: ...


async def _run_frontend(frontend: Frontend, unit: Unit, stop: asyncio.Event) -> None:
    # Inside the service's TaskGroup: an exception here would stop the whole till.
    try:
        await frontend(unit, stop)
    except Exception as e:
        log.exception("frontend crashed", extra={"component": "frontend"})
        unit.emit(Event("service.component_crashed", {"component": "frontend", "error": repr(e)}))


def together(*frontends: Frontend) -> Frontend:
    """One frontend that runs each of `frontends` beside the others (the screens and,
    under `--simulate`, the simulated touch panel); one that fails leaves the rest."""

    async def run(unit: Unit, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            for frontend in frontends:
                tg.create_task(_run_frontend(frontend, unit, stop))

    return run


async def run_service(
    cfg: Config,
    *,
    simulate: bool,
    config_path: Path | None = None,
    frontend: Frontend | None = None,
) -> int:
    """`appliance run`: the service in the foreground until SIGTERM or SIGINT, with
    `frontend` (the screens) as its own task when given."""
    few_malloc_arenas()  # the process's own tuning: before any thread starts
    notifier = Notifier()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with (
        open_unit(cfg, simulate=simulate, config_path=config_path) as unit,
        asyncio.TaskGroup() as tg,
    ):
        notifier.notify(f"READY=1\nSTATUS=selling; {len(unit.till.catalog)} items")
        log.info(
            "ready",
            extra={"version": __version__, "items": len(unit.till.catalog), "simulate": simulate},
        )
        # The catalog and every module live as long as the service: frozen out of the
        # garbage collector's sight, a full collection no longer walks them and pauses a
        # scan or a sale for it (docs/benchmarks.md). After READY: the start is not held.
        gc.collect()
        gc.freeze()
        if frontend is not None:
            # Its own task: a screen that fails (or never comes) leaves the till selling.
            tg.create_task(_run_frontend(frontend, unit, stop), name="display")
        interval = notifier.watchdog_interval
        if interval:

            async def pet() -> None:
                # The ping comes from the loop itself, so a blocked loop gets us restarted.
                while not stop.is_set():
                    notifier.notify("WATCHDOG=1")
                    await asyncio.sleep(interval)

            tg.create_task(pet())
        await stop.wait()
        notifier.notify("STOPPING=1")
        log.info("stopping")
        await unit.drain_printer(timeout=3.0)
    return 0
