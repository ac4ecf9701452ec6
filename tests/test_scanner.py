"""The scanner: the pure framer, and the real driver reading a real pty (SimScanner)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from appliance.drivers.scanner import (
    Scan,
    ScanFramer,
    Scanner,
    ScannerError,
    ScanReject,
    SimScanner,
)
from appliance.events import Event
from protocol.cards import make_loyalty_card

EAN13 = "4006381333931"
EAN8 = "96385074"
UPCA = "036000291452"
CARD = make_loyalty_card("00000001")

# Generous: these bound a wait for something that happens in milliseconds.
WAIT = 5.0


def codes(results: list[Scan | ScanReject]) -> list[str]:
    return [r.code if isinstance(r, Scan) else f"!{r.reason}" for r in results]


# --- ScanFramer (pure) ---------------------------------------------------------------------


@pytest.mark.parametrize("end", [b"\r", b"\n", b"\t", b"\r\n"])
def test_each_terminator_ends_a_scan(end: bytes) -> None:
    framer = ScanFramer()
    out = framer.feed(EAN13.encode() + end + EAN8.encode() + end, now=0.0)
    assert out == [Scan(EAN13, "ean13"), Scan(EAN8, "ean8")]
    assert not framer.pending


def test_a_scan_split_across_reads_is_joined() -> None:
    framer = ScanFramer()
    assert framer.feed(b"40063813", now=0.0) == []
    assert framer.pending
    assert framer.feed(b"33931\r", now=0.1) == [Scan(EAN13, "ean13")]


def test_symbologies_loyalty_and_aim_prefix() -> None:
    framer = ScanFramer()
    out = framer.feed(f"]E0{EAN13}\r]E4{EAN8}\r {UPCA} \r]E0{CARD}\r".encode(), now=0.0)
    assert [(s.code, s.symbology) for s in out if isinstance(s, Scan)] == [
        (EAN13, "ean13"),
        (EAN8, "ean8"),
        (UPCA, "upca"),
        (CARD, "ean13"),
    ]
    assert isinstance(out[3], Scan) and out[3].loyalty is not None
    assert out[3].loyalty.account == "00000001"
    assert isinstance(out[0], Scan) and out[0].loyalty is None


def test_rejects_bad_check_digit_with_the_barcode_reason() -> None:
    out = ScanFramer().feed(b"4006381333932\r" + EAN13.encode() + b"\r", now=0.0)
    assert isinstance(out[0], ScanReject)
    assert out[0].raw == b"4006381333932"
    assert "check digit" in out[0].reason
    assert out[1] == Scan(EAN13, "ean13")


def test_rejects_noise_and_non_ascii() -> None:
    out = ScanFramer().feed(b"\x00\xff\x1b12\r" + "4006é\r".encode() + EAN8.encode() + b"\n", 0)
    assert [type(r) for r in out] == [ScanReject, ScanReject, Scan]
    assert all("noise" in r.reason for r in out[:2] if isinstance(r, ScanReject))


def test_overlong_is_reported_once_and_dropped_to_its_end() -> None:
    framer = ScanFramer(max_len=16)
    out = framer.feed(b"1" * 40, now=0.0)
    out += framer.feed(b"2" * 40 + b"\r" + EAN13.encode() + b"\r", now=0.1)
    assert len(out) == 2
    assert isinstance(out[0], ScanReject) and "longer than 16" in out[0].reason
    assert out[1] == Scan(EAN13, "ean13")


def test_blank_frames_are_ignored_but_a_bare_aim_prefix_is_not() -> None:
    out = ScanFramer().feed(b"\r\n\r\n  \t]E0\r", now=0.0)
    assert len(out) == 1 and isinstance(out[0], ScanReject)
    assert "no barcode" in out[0].reason


def test_half_line_is_rejected_when_next_data_arrives_late() -> None:
    framer = ScanFramer(stale_after=0.5)
    assert framer.feed(b"400638", now=10.0) == []
    # Still fresh: the rest of the same scan.
    assert framer.feed(b"1333", now=10.3) == []
    out = framer.feed(EAN8.encode() + b"\r", now=11.0)
    assert isinstance(out[0], ScanReject) and out[0].raw == b"4006381333"
    assert "incomplete" in out[0].reason
    assert out[1] == Scan(EAN8, "ean8")


def test_flush_stale_only_after_the_quiet_time() -> None:
    framer = ScanFramer(stale_after=0.5)
    framer.feed(b"400638", now=1.0)
    assert framer.flush_stale(1.2) == []
    out = framer.flush_stale(1.6)
    assert len(out) == 1 and isinstance(out[0], ScanReject) and out[0].raw == b"400638"
    assert not framer.pending
    assert framer.flush_stale(5.0) == []


def test_stale_overlong_frame_is_not_reported_twice_and_does_not_eat_the_next_scan() -> None:
    framer = ScanFramer(max_len=8, stale_after=0.5)
    out = framer.feed(b"1" * 20, now=0.0)
    out += framer.feed(EAN8.encode() + b"\r", now=2.0)
    assert [type(r) for r in out] == [ScanReject, Scan]


# --- Scanner on a real pty -----------------------------------------------------------------


@dataclass
class Rig:
    sim: SimScanner
    driver: Scanner
    scans: asyncio.Queue[Scan] = field(default_factory=asyncio.Queue)
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)

    async def next_scan(self) -> Scan:
        return await asyncio.wait_for(self.scans.get(), WAIT)

    async def next_event(self, kind: str) -> Event:
        """The next event of `kind`, skipping others."""
        while True:
            event = await asyncio.wait_for(self.events.get(), WAIT)
            if event.kind == kind:
                return event


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    sim = SimScanner(tmp_path / "usb-scanner")
    scans: asyncio.Queue[Scan] = asyncio.Queue()
    events: asyncio.Queue[Event] = asyncio.Queue()
    driver = Scanner(sim.path, on_scan=scans.put_nowait, on_event=events.put_nowait)
    task = asyncio.create_task(driver.run())
    r = Rig(sim, driver, scans, events)
    await driver.wait_connected(WAIT)
    assert (await r.next_event("scanner.connected")).detail["port"] == sim.path
    yield r
    driver.stop()
    await asyncio.wait_for(task, WAIT)
    assert driver.state == "stopped"
    sim.close()


async def test_every_scan_arrives_in_order(rig: Rig) -> None:
    assert rig.driver.state == "connected"
    sent = [EAN13, EAN8, UPCA, CARD] * 10
    for code in sent:
        rig.sim.scan(code)
    got = [await rig.next_scan() for _ in sent]
    assert [s.code for s in got] == sent
    assert got[3].loyalty is not None and got[3].loyalty.account == "00000001"


@pytest.mark.parametrize("end", [b"\r", b"\n", b"\t", b"\r\n"])
async def test_terminators_over_the_wire(rig: Rig, end: bytes) -> None:
    rig.sim.scan(EAN13, terminator=end)
    rig.sim.scan(EAN8, terminator=end)
    assert (await rig.next_scan()).code == EAN13
    assert (await rig.next_scan()).code == EAN8
    assert rig.events.empty()  # CRLF's empty frame is not a reject


async def test_bad_input_is_rejected_and_the_next_scan_still_works(rig: Rig) -> None:
    rig.sim.send(b"\x00\x13\xfe\xff garbage\r")
    rig.sim.send(b"9" * 100 + b"\r")
    rig.sim.scan("4006381333932")
    rig.sim.scan(EAN13)
    reasons = [(await rig.next_event("scanner.rejected")).detail["reason"] for _ in range(3)]
    assert "noise" in reasons[0]
    assert "longer than 48" in reasons[1]
    assert "check digit" in reasons[2]
    assert (await rig.next_scan()).code == EAN13
    assert rig.scans.empty()


async def test_half_line_is_rejected_by_the_timer_and_the_next_scan_works(rig: Rig) -> None:
    rig.sim.half("400638")
    event = await rig.next_event("scanner.rejected")  # no more data: the reader's timer fires
    assert event.detail["raw"] == "400638" and "incomplete" in event.detail["reason"]
    rig.sim.scan(EAN8)
    assert (await rig.next_scan()).code == EAN8


async def test_a_failing_scan_handler_does_not_stop_the_reader(tmp_path: Path) -> None:
    sim = SimScanner(tmp_path / "scanner")
    seen: list[str] = []

    def handler(scan: Scan) -> None:
        seen.append(scan.code)
        if len(seen) == 1:
            raise RuntimeError("bug in the consumer")

    driver = Scanner(sim.path, on_scan=handler)
    task = asyncio.create_task(driver.run())
    try:
        await driver.wait_connected(WAIT)
        sim.scan(EAN13)
        sim.scan(EAN8)
        async with asyncio.timeout(WAIT):
            while len(seen) < 2:
                await asyncio.sleep(0.01)
        assert seen == [EAN13, EAN8]
        assert driver.state == "connected"
    finally:
        driver.stop()
        await asyncio.wait_for(task, WAIT)
        sim.close()


async def test_unplug_then_replug_reconnects_by_itself(rig: Rig) -> None:
    rig.sim.scan(EAN13)
    assert (await rig.next_scan()).code == EAN13

    rig.sim.unplug()
    unplugged = await rig.next_event("scanner.unplugged")
    assert unplugged.detail["error"]
    assert rig.driver.state == "unplugged"
    with pytest.raises(ScannerError, match="unplugged"):
        rig.sim.scan(EAN8)

    # Long enough for a few failed reopen attempts: none of them emits again.
    await asyncio.sleep(1.0)
    rig.sim.replug()
    await rig.driver.wait_connected(WAIT)
    assert [e.kind for e in _drain(rig.events)] == ["scanner.connected"]

    rig.sim.scan(EAN8)
    assert (await rig.next_scan()).code == EAN8


async def test_scanner_absent_at_start_comes_up_when_plugged(tmp_path: Path) -> None:
    sim = SimScanner(tmp_path / "scanner")
    sim.unplug()
    events: asyncio.Queue[Event] = asyncio.Queue()
    scans: asyncio.Queue[Scan] = asyncio.Queue()
    driver = Scanner(sim.path, on_scan=scans.put_nowait, on_event=events.put_nowait)
    task = asyncio.create_task(driver.run())
    try:
        first = await asyncio.wait_for(events.get(), WAIT)
        assert first.kind == "scanner.unplugged" and "cannot open" in first.detail["error"]
        assert driver.state == "unplugged"
        sim.replug()
        await driver.wait_connected(WAIT)
        sim.scan(UPCA)
        assert (await asyncio.wait_for(scans.get(), WAIT)).code == UPCA
    finally:
        driver.stop()
        await asyncio.wait_for(task, WAIT)
        sim.close()


async def test_cancelling_run_releases_the_port(tmp_path: Path) -> None:
    sim = SimScanner(tmp_path / "scanner")
    driver = Scanner(sim.path, on_scan=lambda _scan: None)
    task = asyncio.create_task(driver.run())
    await driver.wait_connected(WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert driver.state == "stopped"
    # The port is exclusive while open; a second driver gets it only if the first let go.
    again = Scanner(sim.path, on_scan=lambda _scan: None)
    task = asyncio.create_task(again.run())
    await again.wait_connected(WAIT)
    again.stop()
    await asyncio.wait_for(task, WAIT)
    sim.close()


def test_driver_refuses_an_unset_port() -> None:
    with pytest.raises(ScannerError, match=r"\[hardware\] scanner"):
        Scanner("", on_scan=lambda _scan: None)


def test_sim_scanner_link_follows_replug(tmp_path: Path) -> None:
    sim = SimScanner(tmp_path / "scanner")
    first = (tmp_path / "scanner").resolve()
    assert first.exists() and str(first).startswith("/dev/pts/")
    sim.unplug()
    assert not (tmp_path / "scanner").exists()
    sim.replug()
    assert (tmp_path / "scanner").resolve().exists()
    with pytest.raises(ScannerError, match="already plugged"):
        sim.replug()
    sim.close()
    assert not (tmp_path / "scanner").exists()


def _drain(queue: asyncio.Queue[Event]) -> list[Event]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out
