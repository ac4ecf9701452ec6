"""The printer driver: spec strings, escpos backends (file, dummy, serial on a pty, absent
USB) and the simulator twin's faults (paper out, unplug part-way, stall past the timeout)."""

from __future__ import annotations

import asyncio
import os
import pty
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.drivers.printer import (
    EscposPrinter,
    Printer,
    PrinterError,
    SimPrinter,
    open_printer,
    parse_spec,
)
from protocol.errors import BadInput

RECEIPT = b"\x1b@hello receipt\n" * 8


async def until_written(printer: Printer, data: bytes, tries: int = 200) -> None:
    """Retry a write the way the print queue does, until the device takes it."""
    for _ in range(tries):
        try:
            await printer.print_bytes(data)
            return
        except PrinterError:
            await asyncio.sleep(0.02)
    raise AssertionError("the printer never came back")


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("usb:04b8:0202", ("usb", (0x04B8, 0x0202))),
        ("usb:0x0416:0x5011", ("usb", (0x0416, 0x5011))),
        ("serial:/dev/ttyUSB0", ("serial", ("/dev/ttyUSB0", 9600))),
        ("serial:/dev/ttyUSB0:19200", ("serial", ("/dev/ttyUSB0", 19200))),
        ("file:/var/lib/appliance/printer.bin", ("file", ("/var/lib/appliance/printer.bin",))),
        ("dummy", ("dummy", ())),
    ],
)
def test_spec_strings(spec: str, parsed: tuple[str, tuple[object, ...]]) -> None:
    assert parse_spec(spec) == parsed


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "usb:",
        "usb:04b8",
        "usb:04b8:zz02",
        "usb:04b8:0202:1",
        "usb:123456:0202",
        "serial:",
        "serial:ttyUSB0",
        "serial:/dev/ttyUSB0:0",
        "file:",
        "lpt1",
        "Dummy",
        "network:10.0.0.5",
    ],
)
def test_bad_spec_is_bad_input_naming_it(spec: str) -> None:
    with pytest.raises(BadInput) as info:
        open_printer(spec)
    message = str(info.value)
    assert f'printer "{spec}"' in message
    assert "\n" not in message


async def test_dummy_keeps_the_bytes() -> None:
    printer = open_printer("dummy")
    assert isinstance(printer, EscposPrinter)
    assert printer.state == "unknown"
    await printer.print_bytes(b"one")
    await printer.print_bytes(b"two")
    assert printer.output == b"onetwo"
    assert printer.state == "ok"
    assert await printer.status() == "ok"


async def test_file_backend_is_lazy_appends_and_reconnects(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "printer.bin"
    printer = open_printer(f"file:{path}")  # the directory is missing: no error yet
    with pytest.raises(PrinterError) as info:
        await printer.print_bytes(b"lost")
    assert info.value.state == "offline" and printer.state == "offline"
    assert "check the cable" in str(info.value)
    assert await printer.status() == "offline"
    path.parent.mkdir()
    await printer.print_bytes(b"first,")
    printer.close()
    await printer.print_bytes(b"second")  # reopened, and appended rather than truncated
    assert path.read_bytes() == b"first,second"
    assert await printer.status() == "ok"
    printer.close()


async def test_missing_usb_printer_is_offline_not_a_crash() -> None:
    printer = open_printer("usb:dead:beef", timeout=5)
    with pytest.raises(PrinterError) as info:
        await printer.print_bytes(RECEIPT)
    assert info.value.state == "offline"
    assert info.value.partial is False  # it never opened: nothing can have printed
    assert printer.state == "offline"
    assert await printer.status() == "offline"


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = pty.openpty()
    tty.setraw(slave)  # a serial line passes bytes as they are
    name = os.ttyname(slave)
    yield master, name
    os.close(master)
    os.close(slave)


def read_exactly(fd: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        out += os.read(fd, n - len(out))
    return out


async def test_serial_printer_on_a_pty(pty_pair: tuple[int, str]) -> None:
    master, name = pty_pair
    printer = open_printer(f"serial:{name}:19200", timeout=5)
    await printer.print_bytes(RECEIPT)
    assert read_exactly(master, len(RECEIPT)) == RECEIPT
    printer.close()


@pytest.mark.parametrize(
    ("paper_byte", "expected"),
    [(0x12, "ok"), (0x1E, "paper_low"), (0x72, "paper_out")],
)
async def test_serial_status_reads_the_real_time_status(
    pty_pair: tuple[int, str], paper_byte: int, expected: str
) -> None:
    master, name = pty_pair

    def answer() -> None:
        # The printer's side: DLE EOT 1 (online?) then DLE EOT 4 (paper?).
        assert read_exactly(master, 3) == b"\x10\x04\x01"
        os.write(master, b"\x12")  # bit 3 clear: online
        assert read_exactly(master, 3) == b"\x10\x04\x04"
        os.write(master, bytes([paper_byte]))

    device = threading.Thread(target=answer, daemon=True)
    device.start()
    printer = open_printer(f"serial:{name}", timeout=5)
    assert await printer.status() == expected
    assert printer.state == expected
    device.join(5)
    printer.close()


async def test_sim_prints_to_file_and_counts(tmp_path: Path) -> None:
    sim = SimPrinter(tmp_path / "p.bin")
    await sim.print_bytes(b"a" * 10)
    await sim.print_bytes(b"b" * 5)
    assert (tmp_path / "p.bin").read_bytes() == b"a" * 10 + b"b" * 5
    assert sim.writes == 2 and sim.attempts == 2
    assert await sim.status() == "ok"
    sim.close()


async def test_sim_whose_file_cannot_be_opened_is_offline(tmp_path: Path) -> None:
    sim = SimPrinter(tmp_path / "gone" / "p.bin")  # a printer that is not there yet
    assert await sim.status() == "offline"
    with pytest.raises(PrinterError) as info:
        await sim.print_bytes(b"x")
    assert info.value.state == "offline"
    (tmp_path / "gone").mkdir()
    assert await sim.status() == "ok"
    await sim.print_bytes(b"x")
    assert (tmp_path / "gone" / "p.bin").read_bytes() == b"x"
    sim.close()


async def test_sim_paper_out_and_in(tmp_path: Path) -> None:
    sim = SimPrinter(tmp_path / "p.bin")
    sim.paper_low()
    assert await sim.status() == "paper_low"
    await sim.print_bytes(b"still prints;")
    assert sim.state == "paper_low"
    sim.paper_out()
    assert await sim.status() == "paper_out"
    with pytest.raises(PrinterError) as info:
        await sim.print_bytes(RECEIPT)
    assert info.value.state == "paper_out" and not info.value.partial
    assert "load a new roll" in str(info.value)
    assert sim.state == "paper_out"
    sim.paper_in()
    assert await sim.status() == "ok"
    await sim.print_bytes(b"done")
    assert (tmp_path / "p.bin").read_bytes() == b"still prints;done"
    assert sim.writes == 2 and sim.attempts == 3
    sim.close()


async def test_sim_paper_runs_out_part_way(tmp_path: Path) -> None:
    sim = SimPrinter(tmp_path / "p.bin")
    sim.paper_out(after_bytes=7)
    with pytest.raises(PrinterError) as info:
        await sim.print_bytes(RECEIPT)
    assert info.value.state == "paper_out" and info.value.partial
    assert (tmp_path / "p.bin").read_bytes() == RECEIPT[:7]
    sim.close()


async def test_sim_unplug_now_and_replug(tmp_path: Path) -> None:
    sim = SimPrinter(tmp_path / "p.bin")
    sim.unplug()
    with pytest.raises(PrinterError) as info:
        await sim.print_bytes(RECEIPT)
    assert info.value.state == "offline" and not info.value.partial
    assert await sim.status() == "offline"
    sim.replug()
    await sim.print_bytes(RECEIPT)
    assert (tmp_path / "p.bin").read_bytes() == RECEIPT
    sim.close()


async def test_sim_unplug_part_way_through_a_write(tmp_path: Path) -> None:
    path = tmp_path / "p.bin"
    sim = SimPrinter(path)
    sim.unplug(after_bytes=20)
    await sim.print_bytes(b"x" * 12)  # within the budget: this one gets through
    with pytest.raises(PrinterError) as info:
        await sim.print_bytes(RECEIPT)
    assert info.value.state == "offline" and info.value.partial
    assert path.read_bytes() == b"x" * 12 + RECEIPT[:8]
    assert await sim.status() == "offline"
    with pytest.raises(PrinterError):
        await sim.print_bytes(RECEIPT)  # still unplugged: nothing more arrives
    assert path.read_bytes() == b"x" * 12 + RECEIPT[:8]
    sim.replug()
    await sim.print_bytes(RECEIPT)
    assert path.read_bytes() == b"x" * 12 + RECEIPT[:8] + RECEIPT
    sim.close()


async def test_stall_becomes_a_timeout_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "p.bin"
    sim = SimPrinter(path, timeout=0.2)
    sim.stall(30)
    with pytest.raises(PrinterError) as info:
        await sim.print_bytes(RECEIPT)
    assert info.value.state == "offline"
    assert "did not answer within 0.2 s" in str(info.value)
    assert sim.state == "offline"
    # The stuck write still holds the device: a new one is refused, not interleaved.
    with pytest.raises(PrinterError, match="still stuck"):
        await sim.print_bytes(b"other")
    assert await sim.status() == "offline"
    sim.replug()  # the stall ends (the cable is reseated); the stuck write fails
    await until_written(sim, RECEIPT)
    assert path.read_bytes() == RECEIPT  # the stalled bytes never arrived
    assert sim.state == "ok"
    sim.close()


async def test_a_cancelled_write_does_not_wedge_the_printer(tmp_path: Path) -> None:
    sim = SimPrinter(tmp_path / "p.bin")
    task = asyncio.create_task(sim.print_bytes(b"never"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until_written(sim, RECEIPT)
    assert (tmp_path / "p.bin").read_bytes().endswith(RECEIPT)
    sim.close()
