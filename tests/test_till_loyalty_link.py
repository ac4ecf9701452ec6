"""The till's loyalty requests on a real Mosquitto, against a scripted collector that can
lose a request or answer late: a retry keeps its corr, a card lookup never holds up the
scans behind it (their outcomes keep their order), cancel releases the hold."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import msgspec

from appliance.config import parse_config
from appliance.replay import scan_through_scanner
from appliance.sales.catalog import parse_catalog_csv
from appliance.service import Unit, open_unit
from appliance.store import Store
from protocol.cards import make_loyalty_card
from protocol.messages import LoyaltyRequest, LoyaltyResponse
from tests.broker import Broker
from tests.conftest import config_text
from tests.signed import device_body, seal

CARD = make_loyalty_card("00000001", 0)


class ScriptedCollector:
    """Answers `loyalty/request`s on the broker: drops the first copy of each corr when
    `lose_first`, waits `delay` before answering, and records what it was asked."""

    def __init__(self, broker: Broker, *, lose_first: bool = False, delay: float = 0.0) -> None:
        self.broker, self.lose_first, self.delay = broker, lose_first, delay
        self.requests: list[LoyaltyRequest] = []
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.broker.port, identifier="scripted") as c:
            await c.subscribe("pos/v1/+/+/loyalty/request", qos=1)
            self.ready.set()
            async for msg in c.messages:
                body = device_body(msg.payload, str(msg.topic))  # type: ignore[arg-type]
                req = msgspec.convert(body, LoyaltyRequest)
                first = all(r.corr != req.corr for r in self.requests)
                self.requests.append(req)
                if self.lose_first and first:
                    continue
                await asyncio.sleep(self.delay)
                answer = LoyaltyResponse(
                    corr=req.corr, ok=True, balance=500, first_name="Jane", reservation="r-1"
                )
                topic = str(msg.topic).replace("/request", "/response")
                await c.publish(topic, seal(topic, answer), qos=1)


@contextlib.asynccontextmanager
async def unit_with(tmp_path: Path, scripted: ScriptedCollector) -> AsyncIterator[Unit]:
    extra = f'[mqtt]\nurl = "{scripted.broker.url}"\n'
    cfg = parse_config(config_text(tmp_path / "data", extra=extra), "test.toml")
    cfg.loyalty.timeout = 1.0
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        store.catalog.replace(
            parse_catalog_csv(
                "sku,barcode,name,price,tax_rate\nA1,4006381333931,Pen,1.45,20\n", 2, "c.csv"
            )
        )
    task = asyncio.create_task(scripted.run())
    try:
        await asyncio.wait_for(scripted.ready.wait(), 10)
        async with open_unit(cfg, simulate=True) as unit:
            assert await unit.scanner_connected()
            await unit.controller.handle({"op": "login", "staff": "ana"})
            yield unit
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_an_unanswered_request_is_sent_again_with_the_same_corr(
    tmp_path: Path, broker: Broker
) -> None:
    scripted = ScriptedCollector(broker, lose_first=True)
    async with unit_with(tmp_path, scripted) as unit:
        outcome = await scan_through_scanner(unit, CARD)
        assert outcome.detail == {"loyalty": "00000001", "balance": 500, "offline": False}
        view = unit.till.view().loyalty
        assert view is not None and view.first_name == "Jane"
        assert len({r.corr for r in scripted.requests}) == 1  # the same request, twice
        assert len(scripted.requests) == 2 and scripted.requests[0].card == CARD


async def test_a_card_lookup_holds_up_neither_the_loop_nor_the_order_of_scans(
    tmp_path: Path, broker: Broker
) -> None:
    scripted = ScriptedCollector(broker, delay=0.4)
    async with unit_with(tmp_path, scripted) as unit:
        outcomes = unit.controller.scan_outcomes
        assert unit.sim_scanner is not None
        unit.sim_scanner.scan(CARD)
        unit.sim_scanner.scan("4006381333931")
        # While the collector thinks, the till takes keyed items.
        keyed = await asyncio.wait_for(
            unit.controller.handle({"op": "key", "sku": "A1", "qty": 2}), 0.3
        )
        assert keyed.rejected is None
        first = await asyncio.wait_for(outcomes.get(), 5)
        second = await asyncio.wait_for(outcomes.get(), 5)
        assert first.detail == {"loyalty": "00000001", "balance": 500, "offline": False}
        assert second.detail == {"line": 2}


async def test_redeem_reserves_and_cancel_releases_the_hold(tmp_path: Path, broker: Broker) -> None:
    scripted = ScriptedCollector(broker)
    async with unit_with(tmp_path, scripted) as unit:
        await scan_through_scanner(unit, CARD)
        await unit.controller.handle({"op": "key", "sku": "A1", "qty": 2})
        done = await unit.controller.handle({"op": "redeem", "points": 100})
        assert done.detail == {"reservation": "r-1", "balance": 500}
        again = await unit.controller.handle({"op": "redeem", "points": 10})
        assert again.rejected and "already redeemed" in again.rejected
        await unit.controller.handle({"op": "cancel"})
        await unit.loyalty.settle()
        ops = [(r.op, r.reservation) for r in scripted.requests]
        assert ops[-2:] == [("reserve", None), ("release", "r-1")]
        reserve = scripted.requests[-2]
        assert reserve.points == 100 and reserve.sale_id and uuid.UUID(reserve.sale_id)
