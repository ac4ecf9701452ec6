"""The appliance's MQTT link against a real Mosquitto, with the collector played by an
in-process aiomqtt client: order, ack, resend, rewind, reconnect, status, telemetry."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from appliance.config import Config, parse_config
from appliance.sales.catalog import parse_catalog_csv
from appliance.service import Unit, open_unit
from appliance.store import Store
from demo.day import demo_catalog_text
from protocol import messages as m
from protocol.chain import verify_chain
from protocol.record import Record, plain
from tests.broker import Broker, free_port
from tests.conftest import config_text
from tests.signed import device_body, seal
from tests.waiting import until

PREFIX = "pos/v1/s001/till-01/"


def mqtt_config(tmp_path: Path, url: str, **mqtt: object) -> Path:
    settings = {"telemetry_interval": 0.2, "ack_timeout": 30.0, "keepalive": 5} | mqtt
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
    path = tmp_path / "appliance.toml"
    path.write_text(config_text(tmp_path / "data", f'[mqtt]\nurl = "{url}"\n{lines}\n'))
    cfg = parse_config(path.read_text())
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        store.catalog.replace(parse_catalog_csv(demo_catalog_text(), cfg.exponent))
    return path


class Collector:
    """Plays the collector: records every message of the device, acks when told to."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[tuple[str, bytes, bool]] = []
        self.changed = asyncio.Event()

    def on(self, leaf: str) -> list[dict[str, Any]]:
        opened = json.loads if leaf == "sales" else (lambda p: device_body(p, PREFIX + leaf))
        return [opened(p) for t, p, _ in self.messages if t == PREFIX + leaf]

    def seqs(self) -> list[int]:
        return [r["seq"] for r in self.on("sales")]

    async def wait(self, check: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; got {[(t, p[:80]) for t, p, _ in self.messages][-10:]}"
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))

    async def online(self) -> None:
        """Until the unit announced itself (it has subscribed by then)."""
        await self.wait(lambda: any(s["state"] == "online" for s in self.on("status")))

    async def ack(self, upto: int) -> None:
        await self.client.publish(PREFIX + "ack", seal(PREFIX + "ack", m.Ack(upto=upto)), qos=1)

    async def command(self, name: str, payload: bytes | dict[str, Any]) -> None:
        """Sealed as the collector seals (a payload that is no JSON object cannot be, and
        goes as it is: the unit refuses it unanswered)."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        topic = PREFIX + f"cmd/{name}"
        try:
            sealed = seal(topic, data)
        except (ValueError, TypeError):  # msgspec's DecodeError is a ValueError
            sealed = data
        await self.client.publish(topic, sealed, qos=1)

    async def result(self, name: str, corr: str) -> dict[str, Any]:
        def found() -> list[dict[str, Any]]:
            return [r for r in self.on(f"cmd/{name}/result") if r["corr"] == corr]

        await self.wait(lambda: bool(found()))
        return found()[-1]

    async def _read(self) -> None:
        async for msg in self.client.messages:
            payload = msg.payload if isinstance(msg.payload, bytes) else b""
            self.messages.append((str(msg.topic), payload, msg.retain))
            self.changed.set()


@contextlib.asynccontextmanager
async def collector(url: str, client_id: str = "test-collector") -> AsyncIterator[Collector]:
    port = int(url.rsplit(":", 1)[1])
    async with aiomqtt.Client("127.0.0.1", port, identifier=client_id) as client:
        await client.subscribe(PREFIX + "#", qos=1)
        c = Collector(client)
        task = asyncio.create_task(c._read())
        try:
            yield c
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


async def sell(unit: Unit, n: int) -> list[Record]:
    """n committed cash sales through the controller; their records."""
    records = []
    await unit.controller.handle({"op": "login", "staff": "ana"})
    for _ in range(n):
        await unit.controller.handle({"op": "key", "sku": "B1", "qty": 1})
        out = await unit.controller.handle({"op": "tender", "type": "cash", "amount": "5.00"})
        assert out.record is not None, out
        records.append(out.record)
    return records


def load(path: Path) -> Config:
    return parse_config(path.read_text())


async def test_records_arrive_in_order_and_leave_the_outbox_only_on_ack(
    broker: Broker, tmp_path: Path
) -> None:
    path = mqtt_config(tmp_path, broker.url, window=4)
    async with collector(broker.url) as c, open_unit(load(path), simulate=True) as unit:
        records = await sell(unit, 12)
        await c.wait(lambda: len(c.seqs()) >= 12)
        assert c.seqs()[:12] == list(range(1, 13))
        got = {r["seq"]: r for r in c.on("sales")}
        assert all(got[r.seq] == plain(r) for r in records)  # every key of the signed record
        assert verify_chain(c.on("sales")[:12], unit.store.public_key_pem()).ok
        assert unit.store.outbox.depth() == 12  # sent is not stored: nothing goes yet
        await c.ack(5)
        await c.wait(lambda: unit.store.outbox.depth() == 7)
        assert [r.seq for r in unit.store.outbox.pending()] == list(range(6, 13))
        await c.ack(3)  # a stale ack changes nothing
        await c.ack(10**9)  # nor can an ack drop what the journal does not have yet
        await c.wait(lambda: unit.store.outbox.depth() == 0)
        assert unit.publisher is not None and unit.publisher.acked == 12
        more = await sell(unit, 1)
        await c.wait(lambda: more[0].seq in c.seqs())
        assert unit.store.outbox.depth() == 1


async def test_broker_restart_mid_stream_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    path = mqtt_config(tmp_path, broker.url)
    async with open_unit(load(path), simulate=True) as unit:
        assert unit.mqtt is not None
        unit.mqtt.backoff_min, unit.mqtt.backoff_max = 0.05, 0.3
        mqtt = unit.mqtt
        await until(lambda: mqtt.connected)
        await sell(unit, 5)
        broker.stop(kill=True)
        await until(lambda: not mqtt.connected)
        await sell(unit, 5)  # selling goes on without the broker
        broker.start()
        async with collector(broker.url) as c:
            await sell(unit, 5)
            # Records sent before the restart were lost with the killed broker's memory;
            # the reconnect sends from the first unacknowledged record again.
            await c.wait(lambda: set(range(1, 16)) <= set(c.seqs()))
            assert mqtt.sessions >= 2
            await c.ack(15)
            await c.wait(lambda: unit.store.outbox.depth() == 0)
            # In order within each pass: after every rewind the sequence restarts lower.
            seqs = c.seqs()
            runs = [i for i in range(1, len(seqs)) if seqs[i] != seqs[i - 1] + 1]
            assert all(seqs[i] < seqs[i - 1] for i in runs)


async def test_resend_and_no_ack_timeout_send_again(broker: Broker, tmp_path: Path) -> None:
    path = mqtt_config(tmp_path, broker.url, ack_timeout=0.5)
    async with collector(broker.url) as c, open_unit(load(path), simulate=True) as unit:
        await sell(unit, 3)
        await c.wait(lambda: c.seqs().count(1) >= 2)  # no ack: sent again from seq 1
        assert unit.publisher is not None and unit.publisher.rewinds >= 1
        await c.ack(3)
        await c.wait(lambda: unit.store.outbox.depth() == 0)
        unit.publisher.ack_timeout = 3600.0
        before = len(c.seqs())
        await c.command("resend", {"corr": "r-1", "args": {"from_seq": 2}})
        assert (await c.result("resend", "r-1"))["ok"] is True
        # Already acknowledged records come again from the journal, in order.
        await c.wait(lambda: c.seqs()[before:] == [2, 3])


async def test_status_online_with_key_then_offline_on_clean_stop_and_telemetry(
    broker: Broker, tmp_path: Path
) -> None:
    path = mqtt_config(tmp_path, broker.url)
    async with collector(broker.url) as c:
        async with open_unit(load(path), simulate=True) as unit:
            await sell(unit, 2)
            await c.wait(lambda: len(c.on("telemetry")) >= 3)
            status = c.on("status")[-1]
            assert status["state"] == "online" and status["version"]
            assert status["pubkey"] == unit.store.public_key_pem()
            t = c.on("telemetry")[-1]
            assert t["outbox_depth"] == 2 and t["last_seq"] == 2
            assert t["printer"] == "ok" and t["drawer"] in ("open", "closed", "unknown")
            assert t["disk_free"] > 0 and t["uptime"] > 0
            await c.wait(lambda: any(e["kind"] == "drawer.kicked" for e in c.on("events")))
        await c.wait(lambda: c.on("status")[-1]["state"] == "offline")
    # Retained: a collector that starts later still learns the unit went away cleanly.
    async with collector(broker.url, "late-collector") as late:
        await late.wait(lambda: bool(late.on("status")))
        assert late.on("status")[-1]["state"] == "offline"
        assert late.messages[0][2] is True


async def test_falls_back_to_mqtt_3_when_the_broker_refuses_5(
    broker: Broker, tmp_path: Path
) -> None:
    # A proxy in front of Mosquitto that answers an MQTT 5 CONNECT the way amqtt does
    # (CONNACK 132, unsupported protocol) and passes 3.1.1 through.
    refused: list[int] = []

    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        w.close()

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readexactly(1)
        length, shift = 0, 0
        while True:  # MQTT's variable-length "remaining length"
            byte = await r.readexactly(1)
            head += byte
            length += (byte[0] & 0x7F) << shift
            shift += 7
            if byte[0] < 128:
                break
        rest = await r.readexactly(length)
        # CONNECT: protocol name "MQTT" (2+4 bytes), then the level byte.
        if rest[6] == 5:
            refused.append(5)
            w.write(bytes([0x20, 3, 0, 132, 0]))
            await w.drain()
            w.close()
            return
        up_r, up_w = await asyncio.open_connection("127.0.0.1", broker.port)
        up_w.write(head + rest)
        await asyncio.gather(pipe(r, up_w), pipe(up_r, w))

    port = free_port()
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server:
        path = mqtt_config(tmp_path, f"mqtt://127.0.0.1:{port}")
        async with collector(broker.url) as c, open_unit(load(path), simulate=True) as unit:
            await sell(unit, 1)
            await c.wait(lambda: c.seqs() == [1])
            assert refused and unit.mqtt is not None
            assert unit.mqtt.protocol is aiomqtt.ProtocolVersion.V311


def test_a_bad_broker_url_is_bad_input(tmp_path: Path) -> None:
    from protocol.broker import BrokerAddress, BrokerUrlError

    with pytest.raises(BrokerUrlError, match=r"mqtt\.url"):
        BrokerAddress.parse("http://example", "mqtt.url")
    assert BrokerAddress.parse("mqtts://u:p@h").port == 8883
