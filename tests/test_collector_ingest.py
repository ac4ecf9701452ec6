"""Collector ingest over a real Mosquitto, on SQLite and PostgreSQL: signed records from a
real appliance Store, acks only after commit, duplicates, gaps, forged payloads."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from appliance.store import Store
from collector.db import open_database
from collector.models import Base, DeadLetter, Device, Sale, Stock
from collector.service import Collector, Settings
from protocol.broker import BrokerAddress
from protocol.messages import Status, device_topic, encode
from protocol.record import Draft, plain
from tests import records
from tests.broker import Broker
from tests.pg import fresh_database
from tests.records import enrol
from tests.signed import unseal
from tests.waiting import until


def draft(n: int, device: str, store: str = "s001", **extra: Any) -> Draft:
    """Sale `n` of `device` as its till makes it; ids unique across the module's database."""
    return records.draft(n, device=device, store=store, sale_id=str(uuid.uuid4()), **extra)


class FakeDevice:
    """A unit's reporting side, small: a real signed journal, its birth message, and an
    outbox that resends from the last ack on `cmd/resend` or when acks stop coming."""

    def __init__(self, tmp: Path, broker: Broker, device: str, store: str = "s001") -> None:
        self.device, self.store_id, self.broker = device, store, broker
        self.store = Store.open(tmp / device, device)
        self.acked = 0
        self.acks: list[int] = []
        self.resends: list[int] = []
        self.stock: list[dict[str, Any]] = []
        self.on_ack: Callable[[int], None] | None = None

    def topic(self, leaf: str) -> str:
        return device_topic(self.store_id, self.device, leaf)

    def append(self, count: int, **extra: Any) -> list[dict[str, Any]]:
        """`count` more signed records, as the plain JSON objects they are on the wire."""
        start = self.store.last_seq()
        return [
            plain(self.store.append(draft(start + i, self.device, self.store_id, **extra), False))
            for i in range(1, count + 1)
        ]

    def birth(self, pubkey: str | None = None, region: str = "north") -> bytes:
        """A birth sealed with the device key, as a unit sends it; its seq is newer than
        any before (the clock's microseconds), like a unit's next session."""
        key = self.store.public_key_pem() if pubkey is None else pubkey
        status = Status(
            state="online", version="1.2.3", pubkey=key, region=region, seq=time.time_ns() // 1000
        )
        return self.seal("status", status)

    def seal(self, leaf: str, body: Any) -> bytes:
        """`body` for this device's `leaf` topic, sealed with its key (as MqttLink does)."""
        return self.store.seal(self.topic(leaf), body)

    async def publish_records(self, client: aiomqtt.Client, after: int = 0) -> None:
        for _, text in self.store.texts(after=after):
            await client.publish(self.topic("sales"), text.encode(), qos=1)

    async def run(self, client: aiomqtt.Client, ack_timeout: float = 2.0) -> None:
        """Listen for acks and resend commands; resend after `ack_timeout` without progress."""
        await client.subscribe(self.topic("ack"), 1)
        await client.subscribe(self.topic("cmd/#"), 1)
        await client.subscribe(f"pos/v1/{self.store_id}/cmd/#", 1)
        await client.publish(self.topic("status"), self.birth(), qos=1, retain=True)
        await self.publish_records(client)
        messages = client.messages
        while True:
            try:
                msg = await asyncio.wait_for(anext(messages), ack_timeout)
            except TimeoutError:
                if self.acked < self.store.last_seq():
                    await self.publish_records(client, self.acked)
                continue
            topic = str(msg.topic)
            body = unseal(msg.payload if isinstance(msg.payload, bytes) else b"{}", topic)
            if topic.endswith("/ack"):
                self.acks.append(body["upto"])
                if self.on_ack:
                    self.on_ack(body["upto"])
                self.acked = max(self.acked, body["upto"])
            elif topic.endswith("/cmd/resend"):
                self.resends.append(body["args"]["from_seq"])
                await self.publish_records(client, body["args"]["from_seq"] - 1)
            elif topic.endswith("/cmd/stock"):
                self.stock += body["args"]["levels"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('collector')}/collector.db"
    else:
        with fresh_database() as url:
            yield url


def emptied(url: str) -> Engine:
    """An engine on `url` with every table but the schema's own emptied."""
    eng = open_database(url)
    with eng.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "collector_meta":
                conn.execute(table.delete())
    return eng


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The module's database, emptied for each test (modules that import this fixture
    get a database of their own: it is module-scoped)."""
    eng = emptied(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
async def collector(engine: Engine, broker: Broker) -> AsyncIterator[Collector]:
    """A collector in this event loop, subscribed before the test starts publishing."""
    c = Collector(engine, Settings(BrokerAddress.parse(broker.url), client_id="test-collector"))
    task = asyncio.create_task(c.run())
    await asyncio.wait_for(c.ready.wait(), 10)
    yield c
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def client(broker: Broker, name: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", broker.port, identifier=name)


def seqs(engine: Engine, device: str) -> list[int]:
    with Session(engine) as s:
        return list(s.scalars(select(Sale.seq).where(Sale.device == device).order_by(Sale.seq)))


def dead_reasons(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(select(DeadLetter.reason).order_by(DeadLetter.id)))


async def test_ingest_acks_after_commit_dedups_and_sends_stock(
    collector: Collector, engine: Engine, broker: Broker, tmp_path: Path
) -> None:
    dev = FakeDevice(tmp_path, broker, "till-01")
    enrol(engine, dev.device)
    records = dev.append(5)
    committed_at_ack: list[tuple[int, list[int]]] = []
    dev.on_ack = lambda upto: committed_at_ack.append((upto, seqs(engine, "till-01")))
    async with client(broker, "till-01") as c:
        # Sales before the birth message: no key yet, so nothing is ingested or acked.
        await dev.publish_records(c)
        runner = asyncio.create_task(dev.run(c, ack_timeout=30))
        await until(lambda: dev.acked == 5, "ack upto 5")
        await until(lambda: any(lv["sku"] == "A1" for lv in dev.stock), "cmd/stock for A1")
        # Duplicates (the whole journal again) are re-acked and not stored twice.
        acks_before = len(dev.acks)
        await dev.publish_records(c)
        await until(lambda: len(dev.acks) > acks_before, "re-ack of duplicates")
        runner.cancel()
    assert seqs(engine, "till-01") == [1, 2, 3, 4, 5]
    assert max(dev.acks) == 5
    # Every ack arrived when the records it covers were already committed.
    for upto, stored in committed_at_ack:
        assert stored[:upto] == list(range(1, upto + 1))
    with Session(engine) as s:
        sale = s.scalars(select(Sale).where(Sale.seq == 3)).one()
        assert sale.raw == records[2] and sale.total == 250 and len(sale.lines) == 1
        assert s.scalars(select(Stock.level).where(Stock.sku == "A1")).one() == -5
        device = s.get(Device, "till-01")
        assert device is not None and device.public_key == dev.store.public_key_pem()
        assert device.last_hash == records[-1]["hash"] and device.version == "1.2.3"
    assert dev.stock[-1] == {"sku": "A1", "stock": -5}
    assert dead_reasons(engine) == []


async def test_gap_is_not_ingested_and_asks_for_resend(
    collector: Collector, engine: Engine, broker: Broker, tmp_path: Path
) -> None:
    dev = FakeDevice(tmp_path, broker, "till-02")
    enrol(engine, dev.device)
    records = dev.append(4)
    async with client(broker, "till-02") as c:
        await c.subscribe(dev.topic("ack"), 1)
        await c.subscribe(dev.topic("cmd/#"), 1)
        await c.publish(dev.topic("status"), dev.birth(), qos=1, retain=True)
        for r in (records[0], records[1], records[3]):  # seq 3 is lost on the way
            await c.publish(dev.topic("sales"), json.dumps(r).encode(), qos=1)
        seen: dict[str, list[Any]] = {"ack": [], "resend": []}
        async for msg in c.messages:
            body = unseal(msg.payload, str(msg.topic))  # type: ignore[arg-type]
            if str(msg.topic).endswith("/ack"):
                seen["ack"].append(body["upto"])
            else:
                seen["resend"].append(body)
            if seen["resend"] and 2 in seen["ack"]:
                break
        assert seqs(engine, "till-02") == [1, 2]
        assert max(seen["ack"]) == 2
        assert seen["resend"][0]["args"] == {"from_seq": 3} and seen["resend"][0]["corr"]
        # The device resends from 3: everything is in, acked to 4.
        for r in records[2:]:
            await c.publish(dev.topic("sales"), json.dumps(r).encode(), qos=1)
        async for msg in c.messages:
            if str(msg.topic).endswith("/ack") and unseal(msg.payload, str(msg.topic))["upto"] == 4:  # type: ignore[arg-type]
                break
    assert seqs(engine, "till-02") == [1, 2, 3, 4]


async def test_forged_and_broken_payloads_become_dead_letters(
    collector: Collector, engine: Engine, broker: Broker, tmp_path: Path
) -> None:
    dev = FakeDevice(tmp_path, broker, "till-03")
    other = FakeDevice(tmp_path, broker, "till-04")
    enrol(engine, dev.device, other.device)
    good = dev.append(3)
    theirs = other.append(1)[0]
    bad_sig = dict(good[0], sig="ab" * 64)
    altered = dict(good[0], total=1)  # content changed, hash kept
    forged: list[tuple[str, bytes]] = [
        (dev.topic("sales"), b"\x00\xffnot json"),
        (dev.topic("sales"), json.dumps(good[0]).encode()[:50]),
        (dev.topic("sales"), b'{"pad":"' + b"x" * 300_000 + b'"}'),
        (dev.topic("sales"), json.dumps({"schema": 1, "seq": 1, "hello": "world"}).encode()),
        (dev.topic("sales"), json.dumps(dict(good[0], schema=2)).encode()),
        (dev.topic("sales"), json.dumps(theirs).encode()),  # another device's record
        (dev.topic("sales"), json.dumps(bad_sig).encode()),
        (dev.topic("sales"), json.dumps(altered).encode()),
        (dev.topic("status"), dev.birth(other.store.public_key_pem())),  # a second key
        (dev.topic("status"), other.birth()),  # till-04's birth re-published on till-03's
        (dev.topic("status"), encode(Status(state="offline", seq=2**62))),  # not sealed
        (dev.topic("telemetry"), b"[]"),
        ("pos/v1/S 001/till-03/sales", json.dumps(good[0]).encode()),  # not a device topic
    ]
    async with client(broker, "till-03") as c:
        await c.subscribe(dev.topic("ack"), 1)
        await c.publish(dev.topic("status"), dev.birth(), qos=1, retain=True)
        for topic, payload in forged:
            await c.publish(topic, payload, qos=1)
        await until(lambda: len(dead_reasons(engine)) >= len(forged), "all dead letters")
        # Broken chain: seq 2 signed by the right key but linking to another seq 1.
        await c.publish(dev.topic("sales"), json.dumps(good[0]).encode(), qos=1)
        await until(lambda: seqs(engine, "till-03") == [1], "seq 1 ingested")
        broken = dict(good[1], prev_hash="0" * 64)
        await c.publish(dev.topic("sales"), json.dumps(broken).encode(), qos=1)
        await until(lambda: len(dead_reasons(engine)) == len(forged) + 1, "chain dead letter")
        # The collector kept running: the real records still go in.
        for r in good[1:]:
            await c.publish(dev.topic("sales"), json.dumps(r).encode(), qos=1)
        await until(lambda: seqs(engine, "till-03") == [1, 2, 3], "good records after garbage")
    reasons = dead_reasons(engine)
    text = "\n".join(reasons)
    assert "over the 262144 byte limit" in text
    assert "payload device 'till-04' is not the topic's 'till-03'" in text
    assert "signature does not verify" in text
    assert "hash does not match the record's content" in text
    assert "a second public key for till-03 was refused" in text
    assert (  # till-04's birth names its own key: sealed by it, but for till-04's topic
        "a birth not sealed by the key it names: signed for 'pos/v1/s001/till-04/status', "
        "received on 'pos/v1/s001/till-03/status': re-published" in text
    )
    assert "not sealed by till-03: not a signed envelope" in text
    assert "prev_hash does not match" in reasons[-1]
    assert "schema 2 is not 1" in text
    assert "is not a device topic" in text
    with Session(engine) as s:
        device = s.get(Device, "till-03")
        assert device is not None and device.public_key == dev.store.public_key_pem()
        stored = s.scalars(select(DeadLetter).where(DeadLetter.size > 300_000)).one()
        assert len(stored.payload) == 4096
        assert s.scalar(select(func.count()).select_from(Sale)) == 3


async def test_only_enrolled_devices_are_believed(
    collector: Collector, engine: Engine, broker: Broker, tmp_path: Path
) -> None:
    """A device nobody enrolled reports (birth, sales): nothing of it is stored, shown or
    acked, each message a dead letter saying why. Enrolled, it is taken; revoked, it is
    refused again from its next message; on another store's topics, always."""
    from collector.enrolment import revoke
    from collector.fleet import fleet_status

    dev = FakeDevice(tmp_path, broker, "till-77")
    dev.append(2)
    async with client(broker, "till-77") as c:
        runner = asyncio.create_task(dev.run(c, ack_timeout=0.5))
        await until(lambda: len(dead_reasons(engine)) >= 3, "the birth and the sales refused")
        assert dev.acked == 0 and seqs(engine, "till-77") == []
        assert [r.device for r in fleet_status(engine)] == []
        with Session(engine) as s:
            assert s.get(Device, "till-77") is None
        assert set(dead_reasons(engine)) == {
            "device 'till-77' is not enrolled (`collector fleet enroll`)"
        }
        enrol(engine, "till-77")
        # The unit resends on its own (the retained birth comes with the next connect).
        await c.publish(dev.topic("status"), dev.birth(), qos=1, retain=True)
        await until(lambda: dev.acked == 2, "taken once enrolled", 30)
        assert [r.device for r in fleet_status(engine)] == ["till-77"]
        revoke(engine, "till-77")
        before = len(dead_reasons(engine))
        dev.append(1)
        await dev.publish_records(c, 2)
        await until(lambda: len(dead_reasons(engine)) > before, "the revoked device refused")
        assert seqs(engine, "till-77") == [1, 2] and dev.acked == 2
        assert dead_reasons(engine)[-1].startswith("device 'till-77' is revoked (since ")
        assert [r.state for r in fleet_status(engine)] == ["revoked"]
        runner.cancel()
    other = FakeDevice(tmp_path, broker, "till-78", store="s002")
    enrol(engine, "till-78", store="s001")
    async with client(broker, "till-78") as c:
        await c.publish(other.topic("status"), other.birth(), qos=1, retain=True)
        await until(
            lambda: (
                "device 'till-78' is enrolled in store 's001', not 's002'" in dead_reasons(engine)
            ),
            "another store's topics refused",
        )
