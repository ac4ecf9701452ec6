"""The benches' brokers (bench/brokers.py), so `python -m bench trust` compares what it
says: on `tls` the broker `collector fleet broker-config` writes, each client in with
its certificate and kept to its own topics (the bench's baseline clients to `echo/…`,
so the collector never sees them); on `plain` the tests' broker. Devices are enrolled in
the given database either way."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bench.brokers import BASELINE, BenchBroker, open_broker
from collector.db import open_database
from collector.models import Enrolment
from collector.pki import COLLECTOR_CN
from tests.waiting import until


@pytest.fixture
def work() -> Iterator[Path]:
    # Not pytest's tmp_path (0700 under root's): Mosquitto, dropped to its own user,
    # reads the broker's directory here.
    root = Path(tempfile.mkdtemp(prefix="pos-bench-broker-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def enrolled(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as s:
        return [(e.device, e.store) for e in s.scalars(select(Enrolment))]


class Heard:
    """What one client received, as payloads."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.payloads: list[bytes] = []
        self.task = asyncio.create_task(self._read(client))

    async def _read(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            self.payloads.append(bytes(msg.payload))  # type: ignore[arg-type]

    async def wait_for(self, payload: bytes) -> None:
        await until(lambda: payload in self.payloads, f"{payload!r}", timeout=15)


@contextlib.asynccontextmanager
async def connected(broker: BenchBroker, *who: str) -> AsyncIterator[list[aiomqtt.Client]]:
    async with contextlib.AsyncExitStack() as stack:
        # MQTT 5, as the unit and the collector speak: a refused publish is a PUBACK that
        # says so (on 3.1.1 Mosquitto 2.0 ends the connection).
        v5 = aiomqtt.ProtocolVersion.V5
        yield [
            await stack.enter_async_context(broker.client(w, f"t-{w}", protocol=v5)) for w in who
        ]


async def test_on_tls_each_client_gets_in_with_its_certificate_on_its_own_topics(
    work: Path,
) -> None:
    engine = open_database(f"sqlite:///{work}/collector.db")
    broker = open_broker("tls", work, engine, [("till-a", "s001")])
    try:
        assert broker.url.startswith("mqtts://") and enrolled(engine) == [("till-a", "s001")]
        async with connected(broker, COLLECTOR_CN, "till-a", BASELINE) as (col, dev, echo):
            await col.subscribe("pos/v1/#", qos=1)
            await echo.subscribe("echo/#", qos=1)
            heard_col, heard_echo = Heard(col), Heard(echo)
            # Each client's refused publish before one it may make: once that one is in,
            # the refused one was decided (Mosquitto takes a client's messages in order).
            await dev.publish("echo/till-a/request", b"device-on-echo", qos=1)
            await dev.publish("pos/v1/s001/till-a/sales", b"sale", qos=1)
            await heard_col.wait_for(b"sale")
            await echo.publish("pos/v1/s001/till-a/sales", b"baseline-as-device", qos=1)
            await echo.publish("echo/till-a/request", b"baseline", qos=1)
            await heard_echo.wait_for(b"baseline")
            await dev.publish("pos/v1/s001/till-a/sales", b"sale-after", qos=1)
            await heard_col.wait_for(b"sale-after")
            assert b"device-on-echo" not in heard_echo.payloads
            assert b"baseline-as-device" not in heard_col.payloads
            for heard in (heard_col, heard_echo):
                heard.task.cancel()
        settings = broker.collector_settings("bench-test")
        assert settings.broker.tls and settings.tls_cert.endswith("collector.crt")
        assert "--tls-cert" in broker.collector_flags()
        assert "[mqtt.tls]" in broker.unit_mqtt("till-a")
    finally:
        broker.close()
        engine.dispose()


async def test_on_plain_the_same_clients_need_no_certificates(work: Path) -> None:
    engine = open_database(f"sqlite:///{work}/collector.db")
    broker = open_broker("plain", work, engine, [("till-a", "s001")])
    try:
        assert broker.url.startswith("mqtt://") and enrolled(engine) == [("till-a", "s001")]
        assert broker.files("till-a") is None and broker.collector_flags() == [
            "--broker",
            broker.url,
        ]
        async with connected(broker, COLLECTOR_CN, "till-a") as (col, dev):
            await col.subscribe("pos/v1/#", qos=1)
            heard = Heard(col)
            await dev.publish("pos/v1/s001/till-a/sales", b"sale", qos=1)
            await heard.wait_for(b"sale")
            heard.task.cancel()
    finally:
        broker.close()
        engine.dispose()
