"""The print queue on the simulator twin: every receipt comes out exactly once, whole,
through paper-outs, unplugs part-way through a receipt and stalls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from appliance.drivers.print_queue import PrintQueue
from appliance.drivers.printer import SimPrinter
from appliance.errors import ApplianceError
from appliance.events import Event
from appliance.receipt import escpos
from appliance.receipt.layout import TORN_NOTICE, Receipt
from protocol.timestamps import utc_stamp
from tests.test_receipt import HEADER, sale_record
from tests.waiting import until

CUT = b"\x1dV\x00"


@dataclass(frozen=True)
class Job:
    job_id: int
    seq: int
    copy: bool
    attempts: int = 0


class FakeJobs:
    """An in-memory JobSource, as appliance.store's PrintJobs behaves."""

    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.printed: list[int] = []
        self.errors: list[tuple[int, str]] = []

    def add(self, seq: int, copy: bool = False) -> int:
        job_id = len(self.jobs) + 1
        self.jobs[job_id] = Job(job_id, seq, copy)
        return job_id

    def pending(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.job_id not in self.printed]

    def mark_printed(self, job_id: int) -> None:
        assert job_id not in self.printed, "marked printed twice"
        self.printed.append(job_id)

    def mark_attempt(self, job_id: int, error: str) -> None:
        self.errors.append((job_id, error))
        self.jobs[job_id] = replace(self.jobs[job_id], attempts=self.jobs[job_id].attempts + 1)


RECORDS = {seq: sale_record(seq) for seq in range(1, 10)}


def render(job: Job) -> Receipt:
    return Receipt.from_record(RECORDS[job.seq], HEADER, 2, copy=job.copy)


def receipt_bytes(seq: int, copy: bool = False) -> bytes:
    return escpos.render(Receipt.from_record(RECORDS[seq], HEADER, 2, copy=copy))


@dataclass
class Bench:
    sim: SimPrinter
    jobs: FakeJobs
    queue: PrintQueue[Job]
    events: list[Event]
    out: Path

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def paper(self) -> bytes:
        return self.sim.path.read_bytes() if self.sim.path.exists() else b""


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    sim = SimPrinter(tmp_path / "printer.bin", timeout=0.3)
    jobs = FakeJobs()
    events: list[Event] = []
    queue = PrintQueue(
        sim, jobs, render, tmp_path / "receipts", events.append, retry_min=0.02, retry_max=0.1
    )
    task = asyncio.create_task(queue.run())
    yield Bench(sim, jobs, queue, events, tmp_path / "receipts")
    queue.stop()
    sim.replug()  # ends a stall a test left behind
    await asyncio.wait_for(task, 5)
    sim.close()


async def printed(bench: Bench, job_id: int) -> None:
    await until(lambda: job_id in bench.jobs.printed)


def complete_copies(paper: bytes, receipt: bytes) -> int:
    """How many whole copies of `receipt` sit between cuts on the paper."""
    assert receipt.endswith(CUT)
    return paper.split(CUT).count(receipt[: -len(CUT)])


def assert_each_once(paper: bytes, receipts: list[bytes]) -> None:
    for data in receipts:
        assert complete_copies(paper, data) == 1
    # Every other stretch between cuts is a torn fragment finished by the notice.
    whole = {data[: -len(CUT)] for data in receipts}
    for segment in paper.split(CUT)[:-1]:
        if segment not in whole:
            assert TORN_NOTICE.encode("cp1252") in segment


async def test_prints_in_order_and_saves_each_once(bench: Bench) -> None:
    for seq in (1, 2, 3):
        bench.jobs.add(seq)
    bench.queue.wake()
    await until(lambda: len(bench.jobs.printed) == 3)
    assert bench.jobs.printed == [1, 2, 3]
    assert bench.paper() == receipt_bytes(1) + receipt_bytes(2) + receipt_bytes(3)
    assert [e.detail["receipt_no"] for e in bench.kinds("printer.printed")] == [
        "s001-till-01-000001",
        "s001-till-01-000002",
        "s001-till-01-000003",
    ]
    no = "s001-till-01-000002"
    assert (bench.out / f"{no}.bin").read_bytes() == receipt_bytes(2)
    assert "TOTAL" in (bench.out / f"{no}.txt").read_text(encoding="utf-8")
    assert (bench.out / f"{no}.png").read_bytes().startswith(b"\x89PNG")
    assert bench.queue.state == "ok" and bench.queue.queued == 0
    assert bench.jobs.errors == []


async def test_reprints_are_copies_with_their_own_files(bench: Bench) -> None:
    bench.jobs.add(4)
    bench.jobs.add(4, copy=True)
    bench.jobs.add(4, copy=True)
    bench.queue.wake()
    await until(lambda: len(bench.jobs.printed) == 3)
    no = "s001-till-01-000004"
    assert sorted(p.name for p in bench.out.glob("*.txt")) == [
        f"{no}-copy-1.txt",
        f"{no}-copy-2.txt",
        f"{no}.txt",
    ]
    copy_text = (bench.out / f"{no}-copy-1.txt").read_text(encoding="utf-8")
    assert copy_text.splitlines()[0].strip() == "COPY"
    assert "COPY" not in (bench.out / f"{no}.txt").read_text(encoding="utf-8")
    assert bench.paper() == receipt_bytes(4) + receipt_bytes(4, True) + receipt_bytes(4, True)
    assert [e.detail["copy"] for e in bench.kinds("printer.printed")] == [False, True, True]


async def test_unplugged_mid_receipt_each_receipt_comes_out_once(bench: Bench) -> None:
    first = len(receipt_bytes(1))
    # The cable comes out part-way through receipt 2 (receipt 1 gets through whole).
    bench.sim.unplug(after_bytes=first + 300)
    for seq in (1, 2, 3):
        bench.jobs.add(seq)
    bench.queue.wake()
    await until(lambda: bench.queue.state == "offline")
    assert bench.jobs.printed == [1]
    await until(lambda: len(bench.jobs.errors) >= 3)  # it keeps trying while unplugged
    assert len(bench.kinds("printer.offline")) == 1  # once per fault, not per retry
    assert bench.queue.queued == 2
    # Replugged, then out again part-way through the notice, then through the reprint.
    notice = len(TORN_NOTICE) + 10
    for after in (5, notice + 40):
        torn_at = len(bench.paper()) + after
        bench.sim.replug()
        bench.sim.unplug(after_bytes=after)
        await until(lambda: len(bench.paper()) == torn_at)  # noqa: B023 - awaited here
        await until(lambda: bench.queue.state == "offline")
    assert bench.jobs.printed == [1]
    bench.sim.replug()
    bench.queue.wake()
    await until(lambda: len(bench.jobs.printed) == 3)
    assert bench.jobs.printed == [1, 2, 3]
    paper = bench.paper()
    assert_each_once(paper, [receipt_bytes(s) for s in (1, 2, 3)])
    assert paper.count(b"s001-till-01-000002") > 1  # the torn fragments are on the roll too
    assert bench.queue.state == "ok"


async def test_unplug_for_several_receipts_at_different_points(bench: Bench) -> None:
    for seq, after in [(5, 10), (6, 700), (7, len(receipt_bytes(7)) - 1)]:
        bench.sim.unplug(after_bytes=after)
        job_id = bench.jobs.add(seq)
        bench.queue.wake()
        await until(lambda: bench.queue.state == "offline")
        bench.sim.replug()
        bench.queue.wake()
        await printed(bench, job_id)
        assert bench.kinds("printer.recovered")
        bench.events.clear()
    paper = bench.paper()
    assert_each_once(paper, [receipt_bytes(s) for s in (5, 6, 7)])
    assert paper.count(TORN_NOTICE.encode("cp1252")) == 3


async def test_paper_out_waits_then_prints_when_paper_is_in(bench: Bench) -> None:
    bench.sim.paper_out()
    bench.jobs.add(8)
    bench.queue.wake()
    await until(lambda: len(bench.jobs.errors) >= 3)
    assert bench.jobs.printed == []
    assert bench.queue.state == "paper_out"
    assert len(bench.kinds("printer.paper_out")) == 1
    assert bench.jobs.jobs[1].attempts >= 3
    assert "out of paper" in bench.jobs.errors[0][1]
    assert bench.paper() == b""
    bench.sim.paper_in()
    await until(lambda: bench.jobs.printed == [1])
    # Nothing had come out, so no torn-receipt notice: just the receipt.
    assert bench.paper() == receipt_bytes(8)
    assert bench.queue.state == "ok"
    assert [e.kind for e in bench.events] == [
        "printer.paper_out",
        "printer.recovered",
        "printer.printed",
    ]


async def test_paper_runs_out_mid_receipt(bench: Bench) -> None:
    bench.sim.paper_out(after_bytes=250)
    bench.jobs.add(9)
    bench.queue.wake()
    await until(lambda: bench.queue.state == "paper_out")
    bench.sim.paper_in()
    await until(lambda: bench.jobs.printed == [1])
    paper = bench.paper()
    assert_each_once(paper, [receipt_bytes(9)])
    assert paper.startswith(receipt_bytes(9)[:250] + b"\n")


async def test_stall_times_out_then_recovers(bench: Bench) -> None:
    bench.sim.stall(30)
    bench.jobs.add(1)
    bench.queue.wake()
    await until(lambda: any("did not answer" in err for _, err in bench.jobs.errors))
    assert bench.queue.state == "offline"
    assert bench.jobs.printed == []
    bench.sim.replug()  # the stuck transfer gives up
    await until(lambda: bench.jobs.printed == [1])
    assert_each_once(bench.paper(), [receipt_bytes(1)])


async def test_a_job_that_cannot_render_does_not_block_the_rest(tmp_path: Path) -> None:
    sim = SimPrinter(tmp_path / "printer.bin")
    jobs = FakeJobs()
    jobs.add(99)  # no such record
    jobs.add(2)
    events: list[Event] = []

    def lookup(job: Job) -> Receipt:
        record: dict[str, Any] = RECORDS[job.seq]
        return Receipt.from_record(record, HEADER, 2, copy=job.copy)

    queue = PrintQueue(sim, jobs, lookup, None, events.append)
    task = asyncio.create_task(queue.run())
    await until(lambda: jobs.printed == [2])
    assert jobs.errors and jobs.errors[0][0] == 1
    assert "cannot render" in jobs.errors[0][1]
    assert [e.kind for e in events] == ["printer.error", "printer.printed"]
    assert sim.path.read_bytes() == receipt_bytes(2)
    assert not (tmp_path / "receipts").exists()
    queue.stop()
    await asyncio.wait_for(task, 5)
    sim.close()


async def test_printed_but_not_recorded_is_not_printed_again(tmp_path: Path) -> None:
    class FlakyStore(FakeJobs):
        def __init__(self) -> None:
            super().__init__()
            self.failures = 2

        def mark_printed(self, job_id: int) -> None:
            if self.failures:
                self.failures -= 1
                raise ApplianceError("database is locked")
            super().mark_printed(job_id)

    sim = SimPrinter(tmp_path / "printer.bin")
    jobs = FlakyStore()
    jobs.add(3)
    events: list[Event] = []
    queue = PrintQueue(sim, jobs, render, None, events.append, retry_max=0.02)
    task = asyncio.create_task(queue.run())
    await until(lambda: jobs.printed == [1])
    assert sim.path.read_bytes() == receipt_bytes(3)  # once, though the store lagged
    assert [e.kind for e in events].count("printer.error") == 2
    queue.stop()
    await asyncio.wait_for(task, 5)
    sim.close()


# -- old receipts: held, not printed (max_age) --------------------------------------------

NOW = 1_800_000_000.0  # the wall clock at the start of these tests


@dataclass(frozen=True)
class AgedJob(Job):
    since: str = ""
    receipt_no: str = ""


class AgedJobs(FakeJobs):
    """FakeJobs whose jobs carry their sale time, and that can hold them."""

    def __init__(self, wall: Callable[[], float]) -> None:
        super().__init__()
        self.wall = wall
        self.held: dict[int, str] = {}
        self.hold_fails = 0

    def add_aged(self, seq: int, age: float, copy: bool = False) -> int:
        job_id = len(self.jobs) + 1
        since = utc_stamp(self.wall() - age)  # sold `age` seconds ago
        self.jobs[job_id] = AgedJob(job_id, seq, copy, 0, since, f"s001-till-01-{seq:06d}")
        return job_id

    def pending(self) -> list[Job]:
        return [j for j in super().pending() if j.job_id not in self.held]

    def hold(self, job_ids: Iterable[int], reason: str) -> int:
        if self.hold_fails:
            self.hold_fails -= 1
            raise ApplianceError("database is locked")
        ids = [j for j in job_ids if j not in self.held and j not in self.printed]
        self.held.update(dict.fromkeys(ids, reason))
        return len(ids)


class Clocks:
    """The wall clock and the monotonic one, moved by the test."""

    def __init__(self) -> None:
        self.wall = NOW
        self.mono = 1000.0

    def step(self, seconds: float) -> None:
        """Time passes: both clocks move."""
        self.wall += seconds
        self.mono += seconds


@dataclass
class AgedBench:
    sim: SimPrinter
    jobs: AgedJobs
    queue: PrintQueue[Job]
    events: list[Event]
    clocks: Clocks

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def paper(self) -> bytes:
        return self.sim.path.read_bytes() if self.sim.path.exists() else b""


@pytest.fixture
async def aged(tmp_path: Path) -> AsyncIterator[AgedBench]:
    sim = SimPrinter(tmp_path / "printer.bin", timeout=0.3)
    clocks = Clocks()
    jobs = AgedJobs(lambda: clocks.wall)
    events: list[Event] = []
    queue = PrintQueue(
        sim,
        jobs,
        render,
        None,
        events.append,
        retry_min=0.02,
        retry_max=0.05,
        idle_poll=0.05,
        max_age=600,
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
    )
    bench = AgedBench(sim, jobs, queue, events, clocks)
    yield bench
    queue.stop()
    sim.replug()
    sim.close()


def start(bench: AgedBench) -> asyncio.Task[None]:
    return asyncio.create_task(bench.queue.run())


async def test_old_receipts_are_held_and_only_recent_ones_print(aged: AgedBench) -> None:
    old = aged.jobs.add_aged(1, 3600)
    older_than_limit = aged.jobs.add_aged(2, 601)
    recent = aged.jobs.add_aged(3, 10)
    copy = aged.jobs.add_aged(1, 2, copy=True)  # a copy's age is that of its request
    task = start(aged)
    await until(lambda: len(aged.jobs.printed) == 2)
    assert aged.jobs.printed == [recent, copy]
    assert aged.paper() == receipt_bytes(3) + receipt_bytes(1, copy=True)
    assert sorted(aged.jobs.held) == [old, older_than_limit]
    assert all("600 s (print_max_age)" in why for why in aged.jobs.held.values())
    (event,) = aged.kinds("printer.held")
    assert event.detail["count"] == 2
    assert event.detail["receipts"] == ["s001-till-01-000001", "s001-till-01-000002"]
    assert aged.queue.queued == 0
    aged.queue.stop()
    await asyncio.wait_for(task, 5)


async def test_a_receipt_that_grows_old_while_the_printer_is_out_is_held(
    aged: AgedBench,
) -> None:
    aged.sim.unplug()
    first = aged.jobs.add_aged(4, 0)
    task = start(aged)
    await until(lambda: aged.queue.state == "offline")
    second = aged.jobs.add_aged(5, 0)
    aged.clocks.step(300)
    aged.queue.wake()
    await until(lambda: len(aged.jobs.errors) >= 3)  # still tried: 300 s is recent
    assert aged.jobs.held == {} and aged.queue.queued == 2
    aged.clocks.step(301)  # the first is 601 s old now, the second too (it came right after)
    await until(lambda: sorted(aged.jobs.held) == [first, second])
    assert aged.queue.state == "offline" and aged.queue.queued == 0
    aged.sim.replug()  # nothing left to print: the queue asks the printer how it is
    await until(lambda: aged.queue.state == "ok")
    assert aged.kinds("printer.recovered") and aged.paper() == b""
    aged.jobs.add_aged(6, 0)
    aged.queue.wake()  # as the controller does after a sale
    await until(lambda: len(aged.jobs.printed) == 1)
    assert aged.paper() == receipt_bytes(6)  # the two old ones never came out
    aged.queue.stop()
    await asyncio.wait_for(task, 5)


async def test_a_wall_clock_jump_changes_no_known_age(aged: AgedBench) -> None:
    aged.sim.unplug()
    jobs = [aged.jobs.add_aged(seq, 5) for seq in (1, 2)]
    task = start(aged)
    await until(lambda: len(aged.jobs.errors) >= 2)
    aged.clocks.wall += 7200  # NTP sets a clock that was two hours slow
    aged.queue.wake()
    await until(lambda: len(aged.jobs.errors) >= 4)
    aged.clocks.wall -= 3 * 3600  # and back again, further than the sales
    aged.queue.wake()
    await until(lambda: len(aged.jobs.errors) >= 6)
    aged.sim.replug()
    await until(lambda: aged.jobs.printed == jobs)
    assert aged.jobs.held == {}
    aged.queue.stop()
    await asyncio.wait_for(task, 5)


async def test_a_sale_ahead_of_the_clock_has_no_known_age_and_is_held(aged: AgedBench) -> None:
    ahead = aged.jobs.add_aged(7, -3600)  # the clock went back an hour since this sale
    slightly = aged.jobs.add_aged(8, -30)  # a small step back: as if just sold
    task = start(aged)
    await until(lambda: aged.jobs.printed == [slightly])
    assert list(aged.jobs.held) == [ahead]
    assert "ahead of the clock" in aged.jobs.held[ahead]
    assert aged.paper() == receipt_bytes(8)
    aged.queue.stop()
    await asyncio.wait_for(task, 5)


async def test_an_old_receipt_the_store_cannot_hold_yet_is_not_printed(aged: AgedBench) -> None:
    aged.jobs.hold_fails = 2
    old = aged.jobs.add_aged(9, 3600)
    task = start(aged)
    aged.queue.wake()
    await until(lambda: old in aged.jobs.held, timeout=30)
    assert len(aged.kinds("printer.error")) == 2
    assert aged.paper() == b"" and aged.jobs.printed == []
    aged.queue.stop()
    await asyncio.wait_for(task, 5)
