# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""Loyalty over a real Mosquitto with a running collector, on SQLite and PostgreSQL:
earn in one outlet, reserve and redeem in another, two tills racing for the same points,
duplicated sale messages, a blocked card."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
from msgspec import convert
from sqlalchemy import Engine

from collector.customers.cards import issue_card
from collector.loyalty.ledger import Ledger
from collector.service import Collector
from protocol.cards import make_loyalty_card
from protocol.messages import LoyaltyRequest, LoyaltyResponse
from tests.broker import Broker
from tests.records import enrol
from tests.signed import unseal
from tests.test_collector_ingest import (  # noqa: F401
    FakeDevice,
    client,
    collector,
    database_url,
    engine,
)
from tests.waiting import until

ACCOUNT = "00000001"


def loyalty_sale(total: int, redeemed: int = 0, reservation: str | None = None) -> dict[str, Any]:
    tenders = [{"type": "cash", "amount": total - redeemed}]
    if redeemed:
        tenders.append({"type": "points", "amount": redeemed})
    part = {"account": ACCOUNT, "earned": (total - redeemed) // 100, "redeemed": redeemed}
    part |= {"balance": None, "offline": False, "reservation": reservation}
    return {"total": total, "tenders": tenders, "change": 0, "loyalty": part}


class Till:
    """A till's loyalty side: requests out, responses matched by corr."""

    def __init__(self, c: aiomqtt.Client, dev: FakeDevice) -> None:
        self.c, self.dev = c, dev
        self.waiting: dict[str, asyncio.Future[LoyaltyResponse]] = {}

    async def start(self) -> asyncio.Task[None]:
        await self.c.subscribe(self.dev.topic("loyalty/response"), 1)
        return asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for msg in self.c.messages:
            if str(msg.topic).endswith("/loyalty/response"):
                body = unseal(msg.payload, str(msg.topic))  # type: ignore[arg-type]
                resp = convert(body, LoyaltyResponse)
                fut = self.waiting.pop(resp.corr, None)
                if fut:
                    fut.set_result(resp)

    async def ask(self, op: str, **fields: Any) -> LoyaltyResponse:
        corr = uuid.uuid4().hex
        fut: asyncio.Future[LoyaltyResponse] = asyncio.get_running_loop().create_future()
        self.waiting[corr] = fut
        if op in ("balance", "summary", "reserve"):
            fields.setdefault("card", make_loyalty_card(ACCOUNT, 0))  # requests name the card
        req = LoyaltyRequest(corr=corr, op=op, account=ACCOUNT, **fields)  # type: ignore[arg-type]
        await self.c.publish(
            self.dev.topic("loyalty/request"), self.dev.seal("loyalty/request", req), qos=1
        )
        return await asyncio.wait_for(fut, 20)


async def test_earn_in_one_outlet_redeem_in_another_with_a_race_and_duplicates(
    collector: Collector, engine: Engine, broker: Broker, tmp_path: Path
) -> None:
    ledger = Ledger(engine)
    north = FakeDevice(tmp_path, broker, "till-n", store="s001")
    south = FakeDevice(tmp_path, broker, "till-s", store="s002")
    enrol(engine, ("till-n", "s001"), ("till-s", "s002"))
    north.append(1, **loyalty_sale(20_000))  # 200.00 paid: 200 points
    async with (
        client(broker, "till-n") as cn,
        client(broker, "till-s") as cs,
        client(broker, "till-n-loyalty") as ln,
        client(broker, "till-s-loyalty") as ls,
    ):
        runners = [asyncio.create_task(north.run(cn)), asyncio.create_task(south.run(cs))]
        await until(lambda: north.acked == 1, "the north sale acked")
        # Each MQTT client has one message queue: the loyalty side gets its own client.
        tn, ts = Till(ln, north), Till(ls, south)
        runners += [await tn.start(), await ts.start()]
        card = make_loyalty_card(ACCOUNT, 0)
        bal = await ts.ask("balance", card=card)
        assert bal.ok and bal.balance == 200
        # Both tills reserve 150 of the 200 at once: exactly one gets them.
        a, b = await asyncio.gather(
            tn.ask("reserve", points=150, sale_id="n-1"),
            ts.ask("reserve", points=150, sale_id="s-1"),
        )
        assert sorted([a.ok, b.ok]) == [False, True]
        won, lost = (a, b) if a.ok else (b, a)
        assert lost.error and "50 points available, not 150" in lost.error
        assert won.reservation and won.balance == 50
        if won is a:  # the north till won: it lets go, and the south till takes them
            assert (await tn.ask("release", reservation=a.reservation)).balance == 200
            won = await ts.ask("reserve", points=150, sale_id="s-1")
            assert won.ok and won.reservation
        # The south till sells with the points; the record reaches the collector twice.
        await ts.ask("commit", reservation=won.reservation, sale_id="s-1")
        south.append(1, **loyalty_sale(5_000, redeemed=150, reservation=won.reservation))
        await until(lambda: south.acked == 1, "the south sale acked")
        for _, text in south.store.texts():
            await cs.publish(south.topic("sales"), text.encode(), qos=1)
        acks = len(south.acks)
        await until(lambda: len(south.acks) > acks, "the duplicate re-acked")
        # 200 - 150 + floor(48.50) once, however often the record came.
        assert ledger.balance(ACCOUNT).balance == 98
        assert (await tn.ask("balance", card=card)).balance == 98
        # A replacement card blocks the old one at every till.
        new = issue_card(engine, ACCOUNT)
        old = await tn.ask("balance", card=card)
        assert not old.ok and old.error and "blocked" in old.error
        assert (await tn.ask("balance", card=new)).balance == 98
        for task in runners:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
