"""The receipt printer: one interface, python-escpos backends, and a simulator twin.

`Printer` owns the public behaviour (a worker thread per call, a timeout, the last
known state); a backend fills in `_write`, `_status` and `_close`, which block and
run in that thread. `open_printer(spec)` picks the backend from the config string:
`usb:VID:PID`, `serial:/dev/…[:baud]`, `file:PATH` or `dummy`. `SimPrinter` is the
twin: python-escpos's File backend appending to a file, which runs out of paper,
is unplugged part-way through a receipt or stalls when a test tells it to.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from escpos.exceptions import DeviceNotFoundError
from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy, File, Serial, Usb
from usb.core import NoBackendError

from appliance.errors import ApplianceError
from protocol.errors import BadInput

FaultState = Literal["paper_out", "offline", "error"]

DEFAULT_TIMEOUT = 10.0  # seconds a receipt may take to reach the printer

_USB = re.compile(r"^usb:(?:0x)?([0-9a-fA-F]{1,4}):(?:0x)?([0-9a-fA-F]{1,4})$")
_SPEC_HELP = "expected usb:VID:PID (hex), serial:/dev/…[:baud], file:PATH or dummy"

# The real-time status answers (DLE EOT n), read through escpos.paper_status().
_PAPER_STATES = {0: "paper_out", 1: "paper_low", 2: "ok"}


class PrinterError(ApplianceError):
    """The printer did not take the data. `state` says why: paper_out, offline or error.

    `partial` is False only when nothing can have reached the paper (the device was
    not there to begin with); otherwise part of a receipt may have printed.
    """

    def __init__(self, message: str, state: FaultState = "error", *, partial: bool = True) -> None:
        super().__init__(message)
        self.state: FaultState = state
        self.partial = partial


class Printer(ABC):
    """A receipt printer driven from the event loop.

    Every device call runs in a worker thread under `timeout`; a call that overruns
    raises `PrinterError("offline")`, and until the stuck call returns the printer
    refuses new writes rather than interleave bytes with it. `state` is the last
    known state: "unknown" until used, then "ok", "paper_low", "paper_out",
    "offline" or "error".
    """

    def __init__(self, name: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.name = name
        self.timeout = timeout
        self.state = "unknown"
        # Held by the worker thread while it is in the device.
        self._busy = threading.Lock()

    async def print_bytes(self, data: bytes) -> None:
        """Send ESC/POS bytes as one write; PrinterError when they did not all get there."""
        self.state = await self._call(lambda: self._write(data), "ok")

    async def status(self) -> str:
        """Ask the device: "ok", "paper_low", "paper_out" or "offline"."""
        if self._busy.locked():
            return self.state  # a write is under way; asking would interleave with it
        try:
            self.state = await self._call(self._status, "offline")
        except PrinterError as e:
            self.state = "offline" if e.state == "error" else e.state
        return self.state

    def close(self) -> None:
        """Let go of the device; the next call opens it again."""
        self._close()

    async def _call(self, fn: Callable[[], str | None], default: str) -> str:
        def work() -> str | None:
            # Taken and released in the worker: a call cancelled before it starts holds nothing.
            if not self._busy.acquire(blocking=False):
                raise PrinterError(
                    f"printer {self.name} is still stuck on an earlier write; "
                    "check it is switched on, has paper and is not jammed",
                    "offline",
                    partial=False,
                )
            try:
                return fn()
            finally:
                self._busy.release()

        try:
            result = await asyncio.wait_for(asyncio.to_thread(work), self.timeout)
        except TimeoutError as e:
            self.state = "offline"
            self._timed_out()
            raise PrinterError(
                f"printer {self.name} did not answer within {self.timeout:g} s; "
                "check it is switched on and not jammed",
                "offline",
            ) from e
        except PrinterError as e:
            self.state = e.state
            raise
        return result or default

    # --- hooks for backends (blocking; called in a worker thread) ----------------------------

    @abstractmethod
    def _write(self, data: bytes) -> str | None:
        """Put `data` on the wire; raise PrinterError when it did not all get there.

        Returns the state after the write when the backend knows it (None: "ok").
        """

    @abstractmethod
    def _status(self) -> str:
        """Read the device's state; raise PrinterError when it cannot be reached."""

    def _close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release the device."""

    def _timed_out(self) -> None:  # noqa: B027 - optional hook
        """A call overran: called on the loop while the worker may still be in the device."""


class EscposPrinter(Printer):
    """A python-escpos backend (Usb, Serial, File, Dummy): opened lazily, reopened after errors."""

    def __init__(
        self,
        name: str,
        make: Callable[[], Any],
        *,
        can_read: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(name, timeout=timeout)
        self._make = make
        self._can_read = can_read
        self._device: Any = None
        self._reopen = False
        self._dummy_output = bytearray()

    @property
    def output(self) -> bytes:
        """What a `dummy` printer has been sent (empty for the other backends)."""
        return bytes(self._dummy_output)

    def _connect(self) -> Any:
        if self._reopen:
            self._drop()
        if self._device is None:
            dev = self._make()
            try:
                dev.open()
            except NoBackendError as e:
                raise PrinterError(
                    f"printer {self.name}: libusb is missing; install the Debian package "
                    "libusb-1.0-0",
                    "offline",
                    partial=False,
                ) from e
            except (EscposError, OSError, ValueError) as e:
                # ValueError: pyserial's answer to settings the port refuses.
                raise PrinterError(
                    f"printer {self.name} is not connected ({e}); "
                    "check the cable and that it is switched on",
                    "offline",
                    partial=False,
                ) from e
            self._device = dev
        return self._device

    def _drop(self) -> None:
        dev, self._device, self._reopen = self._device, None, False
        if dev is not None:
            with contextlib.suppress(EscposError, OSError):
                dev.close()  # it may be gone already; we reopen next time anyway

    def _write(self, data: bytes) -> str | None:
        dev = self._connect()
        try:
            # _raw is the backend's transport: the receipt is already ESC/POS.
            dev._raw(data)
            if isinstance(dev, File):
                dev.flush()
        except (EscposError, OSError) as e:
            self._drop()
            raise PrinterError(
                f"printer {self.name} stopped taking data ({e}); "
                "check the cable, the power and the paper",
                "offline",
            ) from e
        if isinstance(dev, Dummy):
            self._dummy_output += data
            dev.clear()
        return None

    def _status(self) -> str:
        dev = self._connect()
        if not self._can_read:
            return "ok"  # a file or memory: reachable is all we can know
        try:
            if not dev.is_online():
                return "offline"
            return _PAPER_STATES.get(dev.paper_status(), "ok")
        except (EscposError, OSError) as e:
            self._drop()
            raise PrinterError(f"printer {self.name} did not answer ({e})", "offline") from e

    def _close(self) -> None:
        self._drop()

    def _timed_out(self) -> None:
        # The device may be wedged mid-transfer; start afresh on the next call.
        self._reopen = True


class _AppendFile(File):
    """escpos File that appends: reopening after a fault must not wipe what was printed."""

    _device: Any

    def open(self, raise_not_found: bool = True) -> None:
        if self._device:
            self.close()
        try:
            self.device = open(self.devfile, "ab")  # noqa: SIM115 - closed by close()
        except OSError as e:
            # False, not None: escpos's `device` property only retries an open from False.
            self._device = False
            raise DeviceNotFoundError(f"cannot open {self.devfile}: {e}") from e


class _StatusSerial(Serial):
    """escpos Serial that reads a status answer as soon as it arrives."""

    def _read(self) -> bytes:
        # DLE EOT answers are one byte; escpos asks for 16 and so always sits out the timeout.
        return bytes(self.device.read(1))


def parse_spec(spec: str) -> tuple[str, tuple[Any, ...]]:
    """`"usb:04b8:0202"` -> `("usb", (0x04b8, 0x0202))`; BadInput naming the spec otherwise."""
    bad = BadInput(f'printer "{spec}": {_SPEC_HELP}')
    if spec == "dummy":
        return "dummy", ()
    if spec.startswith("usb:"):
        m = _USB.match(spec)
        if not m:
            raise bad
        return "usb", (int(m[1], 16), int(m[2], 16))
    if spec.startswith("serial:"):
        rest = spec[len("serial:") :]
        baud = 9600
        head, sep, tail = rest.rpartition(":")
        if sep and tail.isdigit():
            rest, baud = head, int(tail)
        if not rest.startswith("/") or baud <= 0:
            raise bad
        return "serial", (rest, baud)
    if spec.startswith("file:") and len(spec) > len("file:"):
        return "file", (spec[len("file:") :],)
    raise bad


def open_printer(spec: str, *, timeout: float = DEFAULT_TIMEOUT) -> Printer:
    """The printer a config names. Nothing is opened until the first call. (The service
    makes a `SimPrinter` itself under `--simulate`.)"""
    kind, args = parse_spec(spec)
    if kind == "usb":
        vid, pid = args
        ms = int(timeout * 1000)
        return EscposPrinter(
            spec, lambda: Usb(vid, pid, timeout=ms), can_read=True, timeout=timeout
        )
    if kind == "serial":
        dev, baud = args

        def port() -> Any:
            return _StatusSerial(dev, baudrate=baud, timeout=1)

        return EscposPrinter(spec, port, can_read=True, timeout=timeout)
    if kind == "file":
        return EscposPrinter(spec, lambda: _AppendFile(args[0]), timeout=timeout)
    return EscposPrinter(spec, Dummy, timeout=timeout)


class SimPrinter(Printer):
    """The printer's twin: bytes appended to `path` through escpos's File backend.

    It fails the way the device does when told to: `paper_out()` (writes raise
    PrinterError("paper_out")), `unplug()` (writes raise PrinterError("offline")),
    each optionally after `after_bytes` more bytes have come out, so a receipt is
    cut short part-way; `stall(seconds)` makes the next write hang, then fail
    without printing, as a USB bulk write does when it times out. `writes` counts
    completed writes, `attempts` every write asked for.
    """

    def __init__(self, path: Path, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(f"sim:{path}", timeout=timeout)
        self.path = Path(path)
        self.writes = 0
        self.attempts = 0
        self._file = _AppendFile(str(self.path))
        self._flags = threading.Lock()
        self._plugged = True
        self._paper = "ok"  # ok, paper_low, paper_out
        self._unplug_after: int | None = None
        self._paper_after: int | None = None
        self._stall = 0.0
        self._release = threading.Event()

    # --- what a test does to the device ------------------------------------------------------

    def paper_out(self, after_bytes: int | None = None) -> None:
        """The roll runs out now, or after `after_bytes` more bytes have printed."""
        with self._flags:
            if after_bytes is None:
                self._paper, self._paper_after = "paper_out", None
            else:
                self._paper_after = after_bytes

    def paper_low(self) -> None:
        """The near-end sensor trips: printing goes on, status says so."""
        with self._flags:
            self._paper = "paper_low"

    def paper_in(self) -> None:
        """A fresh roll."""
        with self._flags:
            self._paper, self._paper_after = "ok", None

    def unplug(self, after_bytes: int | None = None) -> None:
        """Pull the cable now, or after `after_bytes` more bytes have gone through."""
        with self._flags:
            if after_bytes is None:
                self._unplug()
            else:
                self._unplug_after = after_bytes

    def replug(self) -> None:
        """Put the cable back; the next write opens the file again."""
        with self._flags:
            self._plugged, self._unplug_after = True, None
        self._release.set()

    def stall(self, seconds: float) -> None:
        """The next write hangs for `seconds` and then fails without printing."""
        with self._flags:
            self._stall = seconds
            self._release.clear()

    # --- the device side (worker thread) -----------------------------------------------------

    def _unplug(self) -> None:
        self._plugged, self._unplug_after = False, None
        self._file.close()

    def _fault(self, partial: bool) -> PrinterError:
        if not self._plugged:
            return PrinterError(
                f"printer {self.name} is unplugged; plug it back in", "offline", partial=partial
            )
        return PrinterError(
            f"printer {self.name} is out of paper; load a new roll", "paper_out", partial=partial
        )

    def _write(self, data: bytes) -> str | None:
        with self._flags:
            self.attempts += 1
            stall, self._stall = self._stall, 0.0
            if not self._plugged or self._paper == "paper_out":
                raise self._fault(partial=False)
            budgets = [b for b in (self._unplug_after, self._paper_after) if b is not None]
            room = min(budgets) if budgets else None
        if stall:
            self._release.wait(stall)
            raise PrinterError(
                f"printer {self.name} stalled and dropped the data", "offline", partial=False
            )
        chunk = data if room is None else data[:room]
        try:
            if chunk:
                self._file._raw(chunk)
        except (EscposError, OSError) as e:
            self._file.close()
            raise PrinterError(
                f"printer {self.name} cannot write {self.path} ({e})", "offline", partial=False
            ) from e
        with self._flags:
            # Budgets run across writes: the fault comes after that many more bytes.
            if self._unplug_after is not None:
                self._unplug_after -= len(chunk)
                if self._unplug_after <= 0:
                    self._unplug()
            if self._paper_after is not None:
                self._paper_after -= len(chunk)
                if self._paper_after <= 0:
                    self._paper, self._paper_after = "paper_out", None
            if len(chunk) < len(data):
                raise self._fault(partial=bool(chunk))
            self.writes += 1
            return "offline" if not self._plugged else self._paper

    def _status(self) -> str:
        with self._flags:
            if not self._plugged:
                return "offline"
            paper = self._paper
        try:
            _ = self._file.device  # opens the file as a write would: is it reachable?
        except (EscposError, OSError):
            return "offline"
        return paper

    def _close(self) -> None:
        self._release.set()
        self._file.close()
