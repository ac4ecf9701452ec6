"""The serial barcode scanner: framing, the driver on the event loop, and a pty twin.

`ScanFramer` is pure (bytes and a clock in, scans and rejects out). `Scanner` opens the
port with pyserial in non-blocking mode and reads it from the event loop with
`loop.add_reader` (no thread); when the device vanishes it reports `scanner.unplugged` and
reopens the same path until it is back. `SimScanner` is a pty behind a stable symlink,
like `/dev/serial/by-id/…`, so the production read path is what the tests run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import serial

from appliance.errors import ApplianceError
from appliance.events import Event, EventSink, discard
from appliance.sales.barcode import BarcodeError, validate
from protocol.cards import LoyaltyCard, loyalty_card

log = logging.getLogger(__name__)

_TERMINATORS = frozenset(b"\r\n\t")
# AIM symbology identifier: "]" + code letter + modifier, e.g. "]E0" (EAN-13), "]E4" (EAN-8).
_AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")

ScannerState = Literal["connected", "unplugged", "stopped"]


class ScannerError(ApplianceError):
    """The scanner port cannot be opened or used."""


@dataclass(frozen=True)
class Scan:
    """One valid barcode read; `loyalty` is set when it is a loyalty card."""

    code: str
    symbology: str  # "ean13", "ean8", "upca"
    loyalty: LoyaltyCard | None = None


@dataclass(frozen=True)
class ScanReject:
    """Bytes that did not make a valid scan, and why."""

    raw: bytes
    reason: str


class ScanFramer:
    """Cuts the scanner's byte stream into scans.

    A frame ends at CR, LF or TAB (so CRLF is a frame and an empty one, which is ignored).
    Bytes with no terminator that then go quiet for `stale_after` seconds are half a scan:
    they are rejected when the next data arrives or when `flush_stale` is called.
    """

    def __init__(self, max_len: int = 48, stale_after: float = 0.5) -> None:
        self.max_len = max_len
        self.stale_after = stale_after
        self._buf = bytearray()
        self._dropping = False  # inside an overlong frame, already reported
        self._last = 0.0

    @property
    def pending(self) -> bool:
        """True while part of a frame is waiting for its terminator."""
        return bool(self._buf) or self._dropping

    def feed(self, data: bytes, now: float) -> list[Scan | ScanReject]:
        out: list[Scan | ScanReject] = self.flush_stale(now)
        if data:
            self._last = now
        for byte in data:
            if byte in _TERMINATORS:
                if self._dropping:
                    self._dropping = False
                elif self._buf and (result := self._decode(bytes(self._buf))) is not None:
                    out.append(result)
                self._buf.clear()
            elif not self._dropping:
                self._buf.append(byte)
                if len(self._buf) > self.max_len:
                    out.append(
                        ScanReject(
                            bytes(self._buf),
                            f"scan longer than {self.max_len} characters; ignored up to its end",
                        )
                    )
                    self._buf.clear()
                    self._dropping = True
        return out

    def flush_stale(self, now: float) -> list[Scan | ScanReject]:
        """Reject a half frame that has had no new byte for `stale_after` seconds."""
        if not self.pending or now - self._last < self.stale_after:
            return []
        raw = bytes(self._buf)
        self._buf.clear()
        was_dropping, self._dropping = self._dropping, False
        if was_dropping:
            return []  # the overlong frame was reported when it overran
        return [ScanReject(raw, f"incomplete scan: no end of line within {self.stale_after:g} s")]

    def _decode(self, raw: bytes) -> Scan | ScanReject | None:
        if not all(0x20 <= b < 0x7F for b in raw):
            return ScanReject(raw, "noise on the scanner line (non-printable or non-ASCII bytes)")
        text = raw.decode("ascii").strip()
        if not text:
            return None  # blank frame, like the empty one between CR and LF
        text = _AIM_PREFIX.sub("", text, count=1).strip()
        if not text:
            return ScanReject(raw, "scan carried a symbology identifier but no barcode")
        try:
            symbology = validate(text)
        except BarcodeError as exc:
            return ScanReject(raw, str(exc))
        return Scan(text, symbology, loyalty_card(text))


class Scanner:
    """A serial scanner read on the event loop; reconnects by itself after an unplug.

    Scans go to `on_scan`; rejects, unplugs and reconnects go to `on_event` as
    `scanner.rejected`, `scanner.unplugged`, `scanner.connected`. Nothing is raised out of
    `run()` for a device fault.
    """

    def __init__(
        self,
        port: str,
        baud: int = 9600,
        *,
        on_scan: Callable[[Scan], None],
        on_event: EventSink = discard,
        framer: ScanFramer | None = None,
        retry_min: float = 0.5,
        retry_max: float = 2.0,
    ) -> None:
        if not port:
            raise ScannerError("no scanner port configured; set [hardware] scanner")
        if baud <= 0:
            raise ScannerError(f"scanner baud rate {baud} is not positive; fix scanner_baud")
        self.port = port
        self.baud = baud
        self.framer = framer if framer is not None else ScanFramer()
        self.retry_min = retry_min
        self.retry_max = retry_max
        self._on_scan = on_scan
        self._on_event = on_event
        self._state: ScannerState = "stopped"
        self._running = False
        # Events bind to a loop only when awaited (3.10+), so they can be made here.
        self._stop = asyncio.Event()
        self._connected = asyncio.Event()
        self._stale_timer: asyncio.TimerHandle | None = None
        # Resolves with the read error when the device goes, or None on stop().
        self._gone: asyncio.Future[str | None] | None = None

    @property
    def state(self) -> ScannerState:
        return self._state

    async def run(self) -> None:
        """Open, read, and reopen after an unplug, until `stop()` or cancellation."""
        if self._running:
            raise ScannerError(f"scanner {self.port} is already running")
        self._running = True
        delay = self.retry_min
        try:
            while not self._stop.is_set():
                try:
                    port = self._open()
                except ScannerError as exc:
                    if self._state != "unplugged":
                        self._set_state("unplugged")
                        self._emit("scanner.unplugged", error=str(exc))
                    await self._pause(delay)
                    # Bounded backoff: a replugged scanner is back within retry_max.
                    delay = min(delay * 2, self.retry_max)
                    continue
                delay = self.retry_min
                self._set_state("connected")
                self._emit("scanner.connected")
                error = await self._read_until_gone(port)
                if error is not None:
                    self._set_state("unplugged")
                    self._emit("scanner.unplugged", error=error)
                    await self._pause(delay)
        finally:
            self._running = False
            self._stop.clear()  # a later run() starts afresh
            self._set_state("stopped")

    def stop(self) -> None:
        """Make `run()` close the port and return (before it starts: return at once)."""
        self._stop.set()
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)

    async def wait_connected(self, timeout: float = 5.0) -> None:
        """Until the port is open (for tools and tests that must not scan into the void)."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError as exc:
            raise ScannerError(
                f"scanner {self.port} did not connect within {timeout:g} s; check it is "
                "plugged in (and that run() was started)"
            ) from exc

    def _open(self) -> Any:
        try:
            # timeout=0: read() returns what is there and never blocks the loop.
            return serial.Serial(self.port, self.baud, timeout=0, exclusive=True)
        except (serial.SerialException, OSError) as exc:
            raise ScannerError(
                f"cannot open scanner {self.port}: {exc}; check it is plugged in"
            ) from exc

    async def _read_until_gone(self, port: Any) -> str | None:
        """Read until the device fails (its error) or we are stopped (None)."""
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[str | None] = loop.create_future()
        self._gone = gone

        def on_readable() -> None:
            try:
                data = port.read(4096)
            except (serial.SerialException, OSError) as exc:
                # A hung-up tty reads EIO or "ready but no data": the device is gone.
                if not gone.done():
                    gone.set_result(str(exc))
                loop.remove_reader(fd)
                return
            if data:
                self._deliver(self.framer.feed(data, loop.time()))
                self._arm_stale_timer(loop)

        fd = port.fileno()
        loop.add_reader(fd, on_readable)
        if self._stop.is_set():
            gone.set_result(None)
        try:
            return await gone
        finally:
            self._gone = None
            loop.remove_reader(fd)
            if self._stale_timer is not None:
                self._stale_timer.cancel()
                self._stale_timer = None
            with contextlib.suppress(Exception):
                port.close()
            # What was half read died with the connection.
            self._deliver(self.framer.flush_stale(float("inf")))

    def _arm_stale_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._stale_timer is not None:
            self._stale_timer.cancel()
            self._stale_timer = None
        if self.framer.pending:
            # A little late on purpose: the loop may run timers marginally early.
            self._stale_timer = loop.call_later(
                self.framer.stale_after + 0.05,
                lambda: self._deliver(self.framer.flush_stale(loop.time())),
            )

    def _deliver(self, results: list[Scan | ScanReject]) -> None:
        for result in results:
            if isinstance(result, ScanReject):
                log.warning("scanner %s rejected %r: %s", self.port, result.raw, result.reason)
                self._emit(
                    "scanner.rejected",
                    reason=result.reason,
                    raw=result.raw.decode("ascii", "backslashreplace"),
                )
                continue
            try:
                self._on_scan(result)
            except Exception:
                # The consumer's bug must not stop the scanner; it is logged with a traceback.
                log.exception("scan handler failed on %s", result.code)

    async def _pause(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop.wait()

    def _set_state(self, state: ScannerState) -> None:
        self._state = state
        if state == "connected":
            self._connected.set()
        else:
            self._connected.clear()

    def _emit(self, kind: str, **detail: Any) -> None:
        if kind != "scanner.rejected":
            log.info("%s %s %s", kind, self.port, detail)
        try:
            self._on_event(Event(kind, {"port": self.port, **detail}))
        except Exception:
            log.exception("event sink failed on %s", kind)


class SimScanner:
    """A scanner twin: a pty whose slave sits behind the symlink `link_path`.

    `unplug()` closes the pty and removes the link, as the kernel drops a USB serial
    device; `replug()` makes a new pty and points the link at it, so a driver opened on
    `link_path` finds the device again at the same path.
    """

    def __init__(self, link_path: Path, terminator: bytes = b"\r") -> None:
        self.link_path = Path(link_path)
        self.terminator = terminator
        self._master: int | None = None
        self._slave: int | None = None
        self._plug()

    @property
    def path(self) -> str:
        return str(self.link_path)

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def scan(self, code: str, terminator: bytes | None = None) -> None:
        """A good read of `code`, as the scanner sends it: the digits and a terminator."""
        end = self.terminator if terminator is None else terminator
        self.send(code.encode("ascii") + end)

    def half(self, code: str) -> None:
        """Part of a scan with no terminator (a cable glitch mid-read)."""
        self.send(code.encode("ascii"))

    def send(self, raw: bytes) -> None:
        """Any bytes on the line: noise, garbage, several scans at once."""
        if self._master is None:
            raise ScannerError("the simulated scanner is unplugged; replug() it first")
        view = memoryview(raw)
        while view:
            view = view[os.write(self._master, view) :]

    def unplug(self) -> None:
        """The device vanishes: the driver's read fails and the path is gone."""
        self._close_pty()
        self.link_path.unlink(missing_ok=True)

    def replug(self) -> None:
        if self.plugged:
            raise ScannerError("the simulated scanner is already plugged in")
        self._plug()

    def close(self) -> None:
        self.unplug()

    def _plug(self) -> None:
        master, slave = os.openpty()
        # Raw: bytes arrive as sent (no CR->LF, no echo back to the "scanner").
        tty.setraw(slave)
        # Hold the slave open so its settings persist until the driver opens it.
        self._master, self._slave = master, slave
        tmp = self.link_path.with_name(self.link_path.name + ".new")
        tmp.unlink(missing_ok=True)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link_path)  # atomic: the driver never sees a half-made link

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
