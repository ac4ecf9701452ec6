"""One device's flood of loyalty requests does not starve the others (issue "Trust on the
wire": 20,000 requests in 0.8 s had delayed real tills' answers to 12-60 s).

A real Mosquitto, a collector in this loop on SQLite, `mosquitto_pub` as the flooding
device (20,000 `loyalty/request`s as fast as it can), five tills each asking a balance
every ~100 ms through the till's own LoyaltyAuthoriser (1.5 s, as a till waits), and a
device reporting sales meanwhile. Every till's question is answered before it gives up,
the sales are acked, and the flood stays within its bounds: its queue never holds more
than `per_device`, it gets answers at its rate and refusals at most at its rate, and
the rest is dropped and logged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import Engine

from appliance.loyalty.authoriser import DEFAULT_TIMEOUT, LoyaltyAuthoriser, LoyaltyUnavailable
from collector.config import LoyaltySection, RequestsSection
from collector.db import open_database
from collector.loyalty.ledger import Ledger
from collector.service import Collector, Settings
from protocol.broker import BrokerAddress
from protocol.cards import make_loyalty_card
from protocol.messages import LoyaltyRequest, device_topic, encode
from tests.broker import Broker
from tests.records import enrol, seal_as
from tests.signed import unseal
from tests.test_collector_ingest import FakeDevice
from tests.waiting import until

FLOOD = 20_000
TILLS = 5
ASK_EVERY = 0.1  # seconds between a till's questions
LIMITS = RequestsSection(log_interval=0.5)  # the defaults, drops logged often


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = open_database(f"sqlite:///{tmp_path}/collector.db")
    ledger = Ledger(eng)
    for n in range(TILLS + 1):
        ledger.earn(f"{n + 1:08d}", 1000, f"test:{n}", source="test")
    return eng


@pytest.fixture
async def collector(engine: Engine, broker: Broker) -> AsyncIterator[Collector]:
    settings = Settings(
        BrokerAddress.parse(broker.url),
        client_id="flood-collector",
        loyalty=LoyaltySection(requests=LIMITS),
    )
    c = Collector(engine, settings)
    task = asyncio.create_task(c.run())
    await asyncio.wait_for(c.ready.wait(), 10)
    yield c
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class Till:
    """A till's loyalty side on its own MQTT client: the till's own LoyaltyAuthoriser."""

    def __init__(self, broker: Broker, n: int) -> None:
        self.device, self.account = f"till-{n:02d}", f"{n + 1:08d}"
        self.card = make_loyalty_card(self.account, 0)
        self.client = aiomqtt.Client("127.0.0.1", broker.port, identifier=self.device)
        self.authoriser = LoyaltyAuthoriser(self.device, timeout=DEFAULT_TIMEOUT, channel=self)
        self.connected = False
        self.answered: list[float] = []  # when each question that was answered was asked
        self.unanswered: list[tuple[float, str]] = []

    def topic(self, leaf: str) -> str:
        return device_topic("s001", self.device, leaf)

    async def send_loyalty(self, request: LoyaltyRequest) -> None:
        topic = self.topic("loyalty/request")
        await self.client.publish(topic, seal_as(self.device, topic, request), qos=1)

    async def open(self, stack: contextlib.AsyncExitStack) -> None:
        await stack.enter_async_context(self.client)
        await self.client.subscribe(self.topic("loyalty/response"), qos=1)
        self.connected = True

    async def listen(self) -> None:
        async for msg in self.client.messages:
            # As the unit's MqttLink does: only what the collector signed is taken.
            body = unseal(msg.payload, str(msg.topic))  # type: ignore[arg-type]
            self.authoriser.deliver(encode(body))

    async def ask_until(self, done: asyncio.Event) -> None:
        while not done.is_set():
            asked = time.monotonic()
            try:
                found = await self.authoriser.balance(self.card)
                assert found.balance == 1000
                self.answered.append(asked)
            except LoyaltyUnavailable as exc:
                self.unanswered.append((asked, str(exc)))
            await asyncio.sleep(ASK_EVERY)


def flood(broker: Broker, path: Path) -> subprocess.Popen[bytes]:
    """`mosquitto_pub` as the flooding device: FLOOD balance requests, QoS 1."""
    card = make_loyalty_card("00000001", 0)
    lines = [
        encode(LoyaltyRequest(corr=f"flood-{n}", op="balance", account="00000001", card=card))
        for n in range(FLOOD)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    binary = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
    topic = device_topic("s009", "flood-01", "loyalty/request")
    args = ["-h", "127.0.0.1", "-p", str(broker.port), "-i", "flood-01", "-q", "1"]
    return subprocess.Popen(
        [binary, *args, "-M", "1", "-t", topic, "-l"],
        stdin=path.open("rb"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_a_flood_from_one_device_leaves_the_other_tills_answered(
    collector: Collector,
    broker: Broker,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="collector")
    tills = [Till(broker, n) for n in range(1, TILLS + 1)]
    seller = FakeDevice(tmp_path, broker, "till-sales", store="s002")
    enrol(collector.engine, ("till-sales", "s002"))
    enrol(collector.engine, *(t.device for t in tills), keys=True)
    seller.append(5)
    done = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        for t in tills:
            await t.open(stack)
        listeners = [asyncio.create_task(t.listen()) for t in tills]
        askers = [asyncio.create_task(t.ask_until(done)) for t in tills]
        await until(lambda: all(t.answered for t in tills), "every till answered once")
        started = time.monotonic()
        flooder = flood(broker, tmp_path / "flood.jsonl")
        sales = await stack.enter_async_context(
            aiomqtt.Client("127.0.0.1", broker.port, identifier="till-sales")
        )
        reporting = asyncio.create_task(seller.run(sales, ack_timeout=30))
        queue = collector.loyalty_requests
        await until(lambda: queue.counts.offered >= FLOOD, "the whole flood taken", 60)
        # The most a device can have had let through, or refused, in that time.
        allowed = LIMITS.burst + LIMITS.rate * (time.monotonic() - started)
        read = time.monotonic()  # every flood request is in the collector now
        assert await asyncio.to_thread(flooder.wait, 30) == 0, flooder.stderr
        # The tills go on asking while the flood is worked through (or dropped).
        await asyncio.sleep(2 * LIMITS.max_wait)
        done.set()
        await asyncio.gather(*askers)
        await until(lambda: seller.acked == 5, "the sales sent during the flood acked")
        for task in [*listeners, reporting]:
            task.cancel()
    for t in tills:
        # What a till asked while the flood was still coming in may have waited behind it
        # at the broker (the collector reads one stream, in the broker's order: see
        # docs/loyalty.md, "Fair shares"); every question asked once the collector had
        # read the flood was answered (before, 20,000 waited for their answers ahead).
        late = [(at - read, why) for at, why in t.unanswered if at >= read]
        assert late == [], f"{t.device} gave up after the flood was read: {late[:3]}"
        assert sum(at >= read for at in t.answered) >= 5
    c = queue.counts
    assert c.most_waiting_device <= LIMITS.per_device
    assert c.most_waiting <= LIMITS.total
    # The flood got what its rate allows, a refusal for as many more, and nothing else:
    # the rest was dropped (over the rate), not queued.
    assert c.over_rate >= FLOOD - allowed
    assert c.refused <= allowed
    logged = [r.getMessage() for r in caplog.records if "not answered" in r.getMessage()]
    assert any("s009/flood-01/loyalty/request" in m and "over the rate" in m for m in logged)
    assert not any("till-0" in m for m in logged), logged
