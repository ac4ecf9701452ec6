"""A copy of a receipt: restricted like a refund, queued as a print job marked COPY, and
reported as an event. The till's check of the approval, then the controller in a unit
on simulated hardware, down to the bytes the printer got."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import parse_config
from appliance.drivers.printer import SimPrinter
from appliance.events import Event
from appliance.sales.catalog import parse_catalog_csv
from appliance.sales.till import Rejected
from appliance.service import Unit, open_unit
from appliance.store import Store
from demo.day import demo_catalog_text
from tests.conftest import config_text
from tests.test_sales_till import ROSTER, cashier_till, make_till

CUT = b"\x1dV\x00"


def test_the_till_uses_up_an_approval_for_a_reprint() -> None:
    till = cashier_till()
    with pytest.raises(Rejected, match="reprint needs a supervisor"):
        till.authorise("reprint")
    till.approve("marie", "9999")
    assert till.authorise("reprint") == "marie"
    assert till.view().approval is None  # one-shot
    with pytest.raises(Rejected, match="needs a supervisor"):
        till.authorise("reprint")
    boss = make_till(roster=ROSTER)
    boss.login("marie", "9999")
    assert boss.authorise("reprint") is None  # a supervisor at the till needs no approval
    with pytest.raises(Rejected, match="nobody is logged in"):
        make_till(roster=ROSTER).authorise("reprint")


def staff_config(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    staff = "".join(
        f'[[staff]]\nid = "{m.id}"\nname = "{m.name}"\nrole = "{m.role}"\n'
        f'pin_hash = "{m.pin_hash}"\n'
        for m in ROSTER
    )
    path = tmp_path / "appliance.toml"
    path.write_text(config_text(data, staff))
    cfg = parse_config(path.read_text(), str(path))
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        store.catalog.replace(parse_catalog_csv(demo_catalog_text(), 2, "demo.csv"))
    return path


async def sell(unit: Unit) -> str:
    await unit.controller.handle({"op": "key", "sku": "B1", "qty": 1})
    out = await unit.controller.handle({"op": "tender", "type": "card", "ref": "T1"})
    assert out.record is not None, out.rejected
    return out.record.receipt_no


async def test_a_reprint_needs_a_supervisor_and_prints_a_copy(tmp_path: Path) -> None:
    from appliance.config import load_config

    cfg = load_config(staff_config(tmp_path))
    paper = cfg.data_dir / "printer.bin"
    events: list[Event] = []
    async with open_unit(cfg, simulate=True, on_event=events.append) as unit:
        ctl = unit.controller
        await ctl.handle({"op": "login", "staff": "ana", "pin": "1234"})
        no = await sell(unit)
        assert await unit.drain_printer()
        printed = paper.read_bytes()
        assert printed.count(CUT) == 1 and b"COPY" not in printed

        refused = await ctl.reprint(no)
        assert refused.rejected == "reprint needs a supervisor; ask one to approve first"
        assert unit.store.print_jobs.pending() == []

        await ctl.handle({"op": "approve", "staff": "marie", "pin": "9999"})
        unknown = await ctl.reprint("s001-till-01-999999")
        assert unknown.rejected == "no receipt 's001-till-01-999999' in this till's journal"
        assert unit.till.view().approval == "marie"  # not spent on a receipt that is not there

        done = await ctl.reprint(f" {no} ")  # as a scanner or a finger types it
        assert done.rejected is None
        assert done.detail["receipt_no"] == no and done.detail["approved_by"] == "marie"
        assert unit.till.view().approval is None
        assert await unit.drain_printer()
        again = await ctl.reprint(no)  # the approval was for one copy
        assert again.rejected is not None and "supervisor" in again.rejected
    out = paper.read_bytes()
    copy = (cfg.data_dir / "receipts" / f"{no}-copy-1.bin").read_bytes()
    original = (cfg.data_dir / "receipts" / f"{no}.bin").read_bytes()
    # The printer got the sale's receipt, then its copy whole, which says COPY (top and
    # bottom) where the original does not.
    assert out == printed + copy and out.count(CUT) == 2
    assert copy.count(b"COPY") == 2 and b"COPY" not in original
    text = (cfg.data_dir / "receipts" / f"{no}-copy-1.txt").read_text()
    assert "COPY" in text and no in text
    reprinted = [e for e in events if e.kind == "receipt.reprinted"]
    assert len(reprinted) == 1
    assert reprinted[0].detail == {
        "receipt_no": no,
        "seq": 1,
        "job_id": done.detail["job_id"],
        "staff": "ana",
        "approved_by": "marie",
    }
    copies = [e for e in events if e.kind == "printer.printed" and e.detail["copy"]]
    assert [e.detail["receipt_no"] for e in copies] == [no]


async def test_a_supervisor_at_the_till_reprints_without_approval(tmp_path: Path) -> None:
    from appliance.config import load_config

    cfg = load_config(staff_config(tmp_path))
    async with open_unit(cfg, simulate=True) as unit:
        ctl = unit.controller
        assert (await ctl.reprint("anything")).rejected == (
            "no receipt 'anything' in this till's journal"
        )
        await ctl.handle({"op": "login", "staff": "marie", "pin": "9999"})
        no = await sell(unit)
        await ctl.handle({"op": "logout"})
        nobody = await ctl.reprint(no)
        assert nobody.rejected == "nobody is logged in; log in first"
        await ctl.handle({"op": "login", "staff": "marie", "pin": "9999"})
        done = await ctl.reprint(no)
        assert done.rejected is None and "approved_by" not in done.detail
        assert await unit.drain_printer()
    assert (cfg.data_dir / "receipts" / f"{no}-copy-1.txt").exists()


async def test_receipts_not_printed_are_copied_or_cleared_with_a_supervisor(
    tmp_path: Path,
) -> None:
    """Three receipts the queue held (too old when the printer came back): a copy of one
    takes it off the list; clearing takes the rest off, printing none; both need a
    supervisor's approval, used up by each."""
    from appliance.config import load_config

    cfg = load_config(staff_config(tmp_path))
    events: list[Event] = []
    async with open_unit(cfg, simulate=True, on_event=events.append) as unit:
        ctl, jobs = unit.controller, unit.store.print_jobs
        assert isinstance(unit.printer, SimPrinter)
        unit.printer.unplug()
        await ctl.handle({"op": "login", "staff": "ana", "pin": "1234"})
        sold = [await sell(unit) for _ in range(3)]
        # What the queue does to them once they are older than print_max_age.
        assert jobs.hold([j.job_id for j in jobs.pending()], "older than 600 s") == 3
        unit.printer.replug()
        assert [h.receipt_no for h in jobs.held()] == sold[::-1]

        refused = await ctl.clear_unprinted([h.job_id for h in jobs.held()])
        assert refused.rejected == "clear_unprinted needs a supervisor; ask one to approve first"
        await ctl.handle({"op": "approve", "staff": "marie", "pin": "9999"})
        copy = await ctl.reprint(sold[1])
        assert copy.rejected is None and copy.detail["approved_by"] == "marie"
        assert await unit.drain_printer()
        assert [h.receipt_no for h in jobs.held()] == [sold[2], sold[0]]
        assert (await ctl.clear_unprinted([])).rejected is not None
        await ctl.handle({"op": "approve", "staff": "marie", "pin": "9999"})
        cleared = await ctl.clear_unprinted([h.job_id for h in jobs.held()])
        assert cleared.rejected is None and jobs.held() == []
        assert unit.till.view().approval is None
    paper = (cfg.data_dir / "printer.bin").read_bytes()
    assert paper.count(CUT) == 1 and paper.count(b"COPY") == 2 and sold[1].encode() in paper
    (event,) = [e for e in events if e.kind == "receipt.unprinted_cleared"]
    assert event.detail == {"count": 2, "staff": "ana", "approved_by": "marie"}
