"""Old receipts after a printer outage, with real processes: a unit that restarts with
the printer back prints only what is recent; the old ones are held, listed
(`appliance receipt held`) and one is reprinted marked COPY by `appliance receipt
reprint`. Time is moved by libfaketime (Debian's `faketime`, preloaded into the unit's
process): ahead for a whole process (a restart an hour later), or mid-run through its
timestamp file, as NTP steps a clock (the wall clock alone) or as time passes (both)."""

from __future__ import annotations

import glob
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.day import demo_catalog_text
from tests.conftest import ROOT, config_text, run_cli

CUT = b"\x1dV\x00"


def libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        # `make test` installs it (make sysdeps): missing, the test fails, it is never skipped.
        pytest.fail("libfaketime is not installed: run `make test` (it installs `faketime`)")
    return found[0]


def faked(
    *, offset: str | None = None, file: Path | None = None, wall_only: bool
) -> dict[str, str]:
    """The environment of a process whose clock is `offset` ahead ("+1h"), or whatever
    `file` says at each reading; `wall_only` keeps the monotonic clock real (an NTP step)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", LD_PRELOAD=libfaketime())
    if offset is not None:
        env["FAKETIME"] = offset
    if file is not None:
        env["FAKETIME_TIMESTAMP_FILE"] = str(file)
        env["FAKETIME_NO_CACHE"] = "1"
    if wall_only:
        env["DONT_FAKE_MONOTONIC"] = "1"
    return env


class Shop:
    """A till whose printer is a file in a directory that is not there yet: unplugged
    until `plug_in()`."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.data = tmp_path / "data"
        self.printer_dir = tmp_path / "printer"
        self.paper = self.printer_dir / "printer.bin"
        self.config = tmp_path / "appliance.toml"
        text = config_text(self.data, "print_max_age = 600\n[display]\nenabled = false\n")
        self.config.write_text(text.replace(f"file:{self.data}/printer.bin", f"file:{self.paper}"))
        (tmp_path / "catalog.csv").write_text(demo_catalog_text())
        r = run_cli(
            "catalog", "import", "--config", str(self.config), str(tmp_path / "catalog.csv")
        )
        assert r.returncode == 0, r.stderr

    def plug_in(self) -> None:
        self.printer_dir.mkdir()

    def scenario(self, name: str, skus: list[str]) -> Path:
        events: list[dict[str, object]] = [{"op": "login", "staff": "ana"}]
        for n, sku in enumerate(skus):
            events.append({"op": "key", "sku": sku, "qty": 1})
            events.append({"op": "tender", "type": "card", "ref": f"{name}{n}"})
        path = self.dir / f"{name}.jsonl"
        path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
        return path

    def replay(self, scenario: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "appliance", "replay", "--config", str(self.config), scenario],
            cwd=ROOT,
            env=env or dict(os.environ, PYTHONUNBUFFERED="1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def jobs(self) -> list[tuple[str, int, str]]:
        """(receipt_no, copy, state) of every print job, in the order they were made."""
        conn = sqlite3.connect(f"file:{self.data / 'journal.db'}?mode=ro", uri=True)
        try:
            return conn.execute(
                "SELECT j.receipt_no, p.copy, p.state FROM print_jobs p "
                "JOIN journal j ON j.seq = p.seq ORDER BY p.job_id"
            ).fetchall()
        finally:
            conn.close()

    def held(self) -> list[dict[str, object]]:
        r = run_cli("receipt", "held", "--config", str(self.config), "--json")
        assert r.returncode == 0, r.stderr
        return list(json.loads(r.stdout))

    def receipts(self) -> list[bytes]:
        paper = self.paper.read_bytes() if self.paper.exists() else b""
        return [r for r in paper.split(CUT) if r.strip(b"\n")]


def sold(proc: subprocess.Popen[str], count: int) -> list[str]:
    """The receipt numbers of the first `count` sales the replay reports (each line
    means the sale is committed, with its print job)."""
    assert proc.stdout is not None
    numbers = []
    while len(numbers) < count:
        line = proc.stdout.readline()
        assert line, f"replay ended early: {proc.stderr.read() if proc.stderr else ''}"
        numbers.append(json.loads(line)["receipt_no"])
    return numbers


def wait_for(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    libfaketime()
    yield Shop(tmp_path)


def power_cut_during_outage(shop: Shop, skus: list[str]) -> list[str]:
    """Sales while the printer is unplugged, then the power goes (kill -9): their
    receipts are queued, none printed."""
    proc = shop.replay(shop.scenario("outage", skus))
    numbers = sold(proc, len(skus))
    wait_for(lambda: len(shop.jobs()) == len(skus), "the print jobs committed")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert [s for _, _, s in shop.jobs()] == ["queued"] * len(skus)
    return numbers


def test_a_restart_an_hour_later_prints_only_the_new_receipt(shop: Shop) -> None:
    old = power_cut_during_outage(shop, ["B1", "D1", "W2"])
    shop.plug_in()
    # An hour later (the clock the unit starts with), the printer back: one new sale.
    later = shop.replay(shop.scenario("later", ["G4"]), faked(offset="+1h", wall_only=True))
    out, err = later.communicate(timeout=60)
    assert later.returncode == 0, err
    new = json.loads(out.splitlines()[-1])["receipt_no"]
    printed = shop.receipts()
    assert len(printed) == 1 and new.encode() in printed[0] and b"COPY" not in printed[0]
    assert "printer.held" in err  # logged as a warning, and sent to the fleet as an event
    # The three old ones: held, listed newest first, never printed by themselves.
    held = shop.held()
    assert [h["receipt_no"] for h in held] == old[::-1]
    assert all("print_max_age" in str(h["reason"]) and not h["copy"] for h in held)
    listing = run_cli("receipt", "held", "--config", str(shop.config))
    assert listing.stdout.splitlines()[-1].startswith("3 receipts not printed")
    # A supervisor has one printed, marked COPY; it leaves the list, the others stay.
    r = run_cli("receipt", "reprint", "--config", str(shop.config), old[1])
    assert r.returncode == 0, r.stderr
    printed = shop.receipts()
    assert len(printed) == 2 and old[1].encode() in printed[1]
    assert printed[1].count(b"COPY") == 2
    assert [h["receipt_no"] for h in shop.held()] == [old[2], old[0]]
    assert shop.jobs() == [
        (old[0], 0, "held"),
        (old[1], 0, "reprinted"),
        (old[2], 0, "held"),
        (new, 0, "printed"),
        (old[1], 1, "printed"),
    ]


def test_a_clock_set_forward_by_ntp_mid_outage_holds_nothing(shop: Shop) -> None:
    # The unit sells with a clock an hour slow (no battery clock, NTP not there yet);
    # mid-outage NTP sets it right (the wall clock jumps, the monotonic one does not);
    # then the printer is back: the receipts are seconds old, and they all print.
    clock = shop.dir / "clock"
    clock.write_text("+0\n")
    proc = shop.replay(shop.scenario("slow", ["B1", "D1"]), faked(file=clock, wall_only=True))
    numbers = sold(proc, 2)
    conn = sqlite3.connect(f"file:{shop.data / 'journal.db'}?mode=ro", uri=True)

    def tried() -> bool:
        return bool(conn.execute("SELECT max(attempts) FROM print_jobs").fetchone()[0])

    wait_for(tried, "the queue tried (and failed) to print them")
    conn.close()
    clock.write_text("+1h\n")
    shop.plug_in()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert shop.held() == []
    printed = shop.receipts()
    assert [n.encode() in p for n, p in zip(numbers, printed, strict=True)] == [True, True]
    assert [s for _, _, s in shop.jobs()] == ["printed", "printed"]


def test_receipts_waiting_when_two_hours_pass_are_held_and_not_printed(shop: Shop) -> None:
    old = power_cut_during_outage(shop, ["B1", "D1"])
    # The unit starts again, the printer still out: the two wait (minutes old) and are
    # tried; then two hours pass (both clocks move) before the printer is back.
    clock = shop.dir / "clock"
    clock.write_text("+0\n")
    run = subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(shop.config)],
        cwd=ROOT,
        env=faked(file=clock, wall_only=False),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        conn = sqlite3.connect(f"file:{shop.data / 'journal.db'}?mode=ro", uri=True)

        def tried() -> bool:
            return bool(conn.execute("SELECT max(attempts) FROM print_jobs").fetchone()[0])

        wait_for(tried, "the restarted unit tried to print them")
        assert [s for _, _, s in shop.jobs()] == ["queued", "queued"]
        clock.write_text("+2h\n")
        wait_for(lambda: [s for _, _, s in shop.jobs()] == ["held", "held"], "both held")
        conn.close()
        shop.plug_in()
        assert run.poll() is None
    finally:
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert [h["receipt_no"] for h in shop.held()] == old[::-1]
    assert shop.receipts() == []
