"""The journal cannot be written when a sale completes: the sale is kept, shown as a
fault, and saved in order once the store is back. Nothing lost, nothing twice. And what
the controller keeps for readers that never come stays bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from appliance.config import load_config
from appliance.controller import SCAN_OUTCOMES_KEPT
from appliance.service import open_unit
from appliance.store import Store, StoreError
from protocol.cards import make_loyalty_card
from protocol.record import Record
from tests.waiting import until


async def test_a_sale_waits_for_a_failing_store_and_is_saved_in_order(
    till_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_config(till_config)
    kinds: list[str] = []
    async with open_unit(cfg, simulate=True, on_event=lambda e: kinds.append(e.kind)) as unit:
        c = unit.controller
        await c.handle({"op": "login", "staff": "ana"})
        real_append = Store.append
        failing = True

        def append(self: Store, draft: Any, print_receipt: bool = True) -> Record:
            if failing:
                raise StoreError("disk I/O error (simulated: the SD card is full)")
            return real_append(self, draft, print_receipt)

        monkeypatch.setattr(Store, "append", append)
        await c.handle({"op": "key", "sku": "B1"})
        first = await c.handle({"op": "tender", "type": "card", "ref": "T1"})
        assert first.record is None and first.rejected and "NOT yet saved" in first.rejected
        assert "store.fault" in kinds and c.unsaved == 1
        # No new sale while a completed one is only in memory (it was sold on before,
        # and a full disk then "kept" 2,924 sales that were gone at exit).
        refused = await c.handle({"op": "key", "sku": "W1"})
        assert refused.rejected and "could not be saved to the journal" in refused.rejected
        assert c.unsaved == 1
        failing = False  # the card has room again
        second = await c.handle({"op": "key", "sku": "W1"})
        assert second.rejected is None and c.unsaved == 0
        done = await c.handle({"op": "tender", "type": "card", "ref": "T2"})
        assert done.record is not None and done.record.seq == 2
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        records = list(store.records())
        assert [r.tenders[0].ref for r in records] == ["T1", "T2"]
        assert store.verify().ok


async def test_scan_outcomes_nobody_reads_are_not_kept_for_ever(till_config: Path) -> None:
    """Under `appliance run` nobody reads `scan_outcomes`: it gained one entry a scan."""
    cfg = load_config(till_config)
    async with open_unit(cfg, simulate=True) as unit:
        await unit.scanner_connected()
        await unit.controller.handle({"op": "login", "staff": "ana"})
        assert unit.sim_scanner is not None
        scans = SCAN_OUTCOMES_KEPT * 3
        for _ in range(scans):
            unit.sim_scanner.scan("4006381333931")  # a line each
        await until(lambda: sum(ln.qty for ln in unit.till.view().lines) == scans, "scanned")
        outcomes = unit.controller.scan_outcomes
        assert outcomes.qsize() == SCAN_OUTCOMES_KEPT
        # the ones kept are the newest
        kept = [outcomes.get_nowait().detail for _ in range(SCAN_OUTCOMES_KEPT)]
        assert kept == [{"line": n} for n in range(scans - SCAN_OUTCOMES_KEPT + 1, scans + 1)]


async def test_out_of_service_refuses_every_operation_scan_and_card(till_config: Path) -> None:
    cfg = load_config(till_config)
    async with open_unit(cfg, simulate=True) as unit:
        await unit.scanner_connected()
        c = unit.controller
        await c.handle({"op": "login", "staff": "ana"})
        c.put_out_of_service("journal.db fails SQLite's integrity check (x)")
        for op in ({"op": "key", "sku": "A1"}, {"op": "logout"}, {"op": "shift_close"}):
            refused = await c.handle(op)
            assert refused.rejected == (
                "the till is out of service: journal.db fails SQLite's integrity check (x)"
            )
        assert unit.sim_scanner is not None
        for code in ("4006381333931", make_loyalty_card("00000001")):
            unit.sim_scanner.scan(code)
            outcome = await asyncio.wait_for(c.scan_outcomes.get(), 5)
            assert outcome.rejected and outcome.rejected.startswith("the till is out of service")
        assert unit.till.view().lines == () and unit.till.view().loyalty is None
