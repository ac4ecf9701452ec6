"""The printer twin unplugged mid-receipt in a running unit: every receipt comes out once."""

from __future__ import annotations

from pathlib import Path

from appliance.config import load_config
from appliance.drivers.printer import SimPrinter
from appliance.service import Unit, open_unit

CUT = b"\x1dV\x00"


async def sell(unit: Unit, sku: str, ref: str) -> str:
    await unit.controller.handle({"op": "key", "sku": sku, "qty": 1})
    out = await unit.controller.handle({"op": "tender", "type": "card", "ref": ref})
    assert out.record is not None, out.rejected
    return out.record.receipt_no


def whole_copies(paper: bytes, receipt: bytes) -> int:
    assert receipt.endswith(CUT)
    return paper.split(CUT).count(receipt[: -len(CUT)])


async def test_unplug_mid_receipt_and_replug(till_config: Path) -> None:
    cfg = load_config(till_config)
    paper_file = cfg.data_dir / "printer.bin"
    events: list[str] = []
    async with open_unit(cfg, simulate=True, on_event=lambda e: events.append(e.kind)) as unit:
        printer = unit.printer
        assert isinstance(printer, SimPrinter)
        await unit.controller.handle({"op": "login", "staff": "ana"})
        receipts = [await sell(unit, "B1", "T1")]
        assert await unit.drain_printer()
        # The cable comes out 300 bytes into the next receipt; the till keeps selling.
        printer.unplug(after_bytes=300)
        receipts += [await sell(unit, sku, f"T{n}") for n, sku in enumerate(["D1", "W2", "G4"])]
        assert not await unit.drain_printer(timeout=1.5)
        assert unit.print_queue.state == "offline"
        assert "printer.offline" in events
        printer.replug()
        assert await unit.drain_printer(timeout=15)
    paper = paper_file.read_bytes()
    for no in receipts:
        receipt = (cfg.data_dir / "receipts" / f"{no}.bin").read_bytes()
        assert whole_copies(paper, receipt) == 1, no
    assert paper.count(b"interrupted") == 1


async def test_a_receipt_queued_before_a_crash_prints_after_restart(till_config: Path) -> None:
    cfg = load_config(till_config)
    async with open_unit(cfg, simulate=True) as unit:
        assert isinstance(unit.printer, SimPrinter)
        unit.printer.unplug()
        await unit.controller.handle({"op": "login", "staff": "ana"})
        no = await sell(unit, "W1", "T9")
        assert unit.store.print_jobs.pending()
    # A new start (as after a power cut): the job is still there and prints once.
    async with open_unit(cfg, simulate=True) as unit:
        assert await unit.drain_printer(timeout=15)
    paper = (cfg.data_dir / "printer.bin").read_bytes()
    receipt = (cfg.data_dir / "receipts" / f"{no}.bin").read_bytes()
    assert whole_copies(paper, receipt) == 1
