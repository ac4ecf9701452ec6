# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""Hostile payloads on every topic each side reads: a real `collector run` and a real
`appliance run` take a barrage (deep nesting, random bytes, huge and odd numbers, odd
unicode, wrong types), refuse each with a reason in the log, and still ingest, answer
and apply commands afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import subprocess
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.models import Device, Sale, SaleLine
from protocol import messages as m
from protocol.cards import make_loyalty_card
from protocol.errors import BadInput
from protocol.limits import MAX_REGION, MAX_SKU
from tests.broker import Broker
from tests.records import enrol, sale_dict
from tests.signed import unseal
from tests.test_collector_fleet import exactly_once
from tests.test_collector_ingest import (  # noqa: F401 - fixtures
    FakeDevice,
    client,
    collector,
    database_url,
    dead_reasons,
    engine,
)
from tests.test_collector_run import start
from tests.test_mqtt_link import collector as fake_collector
from tests.test_mqtt_link import mqtt_config
from tests.test_mqtt_process import appliance
from tests.waiting import until

# 200 KB of nested lists in an object: this stopped `collector run` (a RecursionError in
# the loyalty answerer) and the unit's command worker.
DEEP_LISTS = b'{"corr":"deep","args":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
DEEP_OBJECT = b'{"corr":"deep","args":' + b'{"a":' * 30_000 + b"1" + b"}" * 30_001


def barrage() -> list[bytes]:
    rng = random.Random(12)
    return [
        DEEP_LISTS,
        DEEP_OBJECT,
        b"[" * 100_000 + b"]" * 100_000,
        bytes(rng.randrange(256) for _ in range(2_000)),
        b"",
        b"\xff\xfe\x00",
        b"null",
        b"[]",
        b'"a string"',
        b'{"schema":1,"upto":1e400}',
        b'{"schema":1,"upto":' + b"9" * 5_000 + b"}",
        b'{"schema":1,"upto":NaN}',
        b'{"schema":1,"upto":-1}',
        b'{"schema":"1","op":5,"corr":7}',
        b'{"schema":1,"op":"balance","corr":"c1","account":"\\ud800"}',
        b'{"schema":1,"op":"balance","corr":"c\\u0000","account":"00000001"}',
        b'{"schema":1,"corr":"c2","args":{"items":"not a list"}}',
        b'{"schema":1,"corr":"c3","args":{"levels":[{"sku":"A1","stock":1e308}]}}',
        json.dumps({"schema": 1, "corr": "\u202e" * 64, "text": "\U0001f600" * 1000}).encode(),
        b"{" * 64 + b"}",
    ]


@pytest.mark.parametrize("payload", barrage()[:2], ids=["lists", "objects"])
def test_deep_nesting_is_bad_input_not_a_crash(payload: bytes) -> None:
    for kind in (m.Ack, m.LoyaltyRequest, m.LoyaltyResponse, m.Command, dict):
        with pytest.raises(BadInput):
            m.decode(payload, kind)  # type: ignore[arg-type]
    with pytest.raises(BadInput):
        m.decode_record(payload)


async def test_collector_run_survives_a_barrage_then_ingests_and_answers(
    broker: Broker, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "collector.log"
    proc = start(database_url, broker, log, "--id", "collector-hostile")
    dev = FakeDevice(tmp_path, broker, "till-01")
    enrol(engine, dev.device)
    dev.append(5)
    leaves = ("loyalty/request", "sales", "status", "telemetry", "events")
    try:
        await until(lambda: "subscribed as" in log.read_text(), "the collector up", 30)
        async with client(broker, "till-01") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=1.0))
            await until(lambda: dev.acked == 5, "the first sales acked", 30)
            async with client(broker, "attacker") as bad:
                for device in ("till-01", "x"):
                    for leaf in leaves:
                        for payload in barrage():
                            topic = m.device_topic("s001", device, leaf)
                            await bad.publish(topic, payload, qos=1)
            dev.append(5)
            await dev.publish_records(c, 5)
            await until(lambda: dev.acked == 10, "sales after the barrage acked", 60)
            runner.cancel()
        # A loyalty request after the barrage is still answered, on this device's topic.
        async with client(broker, "till-01-loyalty") as asker:
            await asker.subscribe(dev.topic("loyalty/response"), 1)
            ask = m.LoyaltyRequest(op="balance", corr="after-1", card=make_loyalty_card("00000009"))
            await asker.publish(
                dev.topic("loyalty/request"), dev.seal("loyalty/request", ask), qos=1
            )
            answer = await asyncio.wait_for(_response(asker, "after-1"), 30)
        assert answer.ok is True and answer.balance == 0, answer
        assert proc.poll() is None, log.read_text()[-3000:]
        exactly_once(engine, "till-01", 10)
        text = log.read_text()
        assert "Traceback" not in text, text[-3000:]
        assert "loyalty request on pos/v1/s001/till-01/loyalty/request refused" in text
        reasons = dead_reasons(engine)
        deep = [r for r in reasons if "nests deeper than any message may" in r]
        # both deep payloads, from the enrolled device, on sales (status, telemetry and
        # events are sealed by the device: all of the barrage there is no envelope)
        assert len(deep) == 2, reasons
        sealed = [
            r for r in reasons if r.startswith("not sealed by till-01: not a signed envelope")
        ]
        assert len(sealed) == 3 * len(barrage()) - 1, reasons  # an empty status clears it
        # and nothing from a device nobody enrolled is even read
        assert sum("device 'x' is not enrolled" in r for r in reasons) == 4 * len(barrage())
        assert "loyalty request on pos/v1/s001/x/loyalty/request not answered" in text
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def _response(c: aiomqtt.Client, corr: str) -> m.LoyaltyResponse:
    async for msg in c.messages:
        if str(msg.topic).endswith("loyalty/response"):
            payload = msg.payload if isinstance(msg.payload, bytes) else b""
            response = m.decode(m.encode(unseal(payload, str(msg.topic))), m.LoyaltyResponse)
            if response.corr == corr:
                return response
    raise AssertionError("the broker connection ended")


async def test_appliance_run_survives_a_barrage_then_applies_commands(
    broker: Broker, tmp_path: Path
) -> None:
    path = mqtt_config(tmp_path, broker.url)
    async with fake_collector(broker.url) as c:
        proc = await appliance("run", "--simulate", "--config", str(path))
        try:
            await c.online()
            for leaf in ("ack", "loyalty/response", "cmd/stock", "cmd/catalog", "cmd/resend"):
                for payload in barrage():
                    await c.client.publish(m.device_topic("s001", "till-01", leaf), payload, qos=1)
            for payload in barrage():
                await c.client.publish(m.store_cmd_topic("s001", "prices"), payload, qos=1)
                await c.client.publish(m.fleet_cmd_topic("config"), payload, qos=1)
            # None of that was signed by the collector: refused, logged, never answered.
            # A signed command the unit refuses is answered, and a valid one applied.
            await c.command("stock", {"schema": 1, "corr": "c3", "args": {"levels": 7}})
            refused = await c.result("stock", "c3")
            assert refused["ok"] is False and "stock" in refused["error"]
            levels = {"levels": [{"sku": "A1", "stock": 7}]}
            await c.command("stock", {"schema": 1, "corr": "after-1", "args": levels})
            applied = await c.result("stock", "after-1")
            assert applied["ok"] is True, applied
            assert proc.returncode is None
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        text = err.decode()
        assert proc.returncode == 0, text[-3000:]
        assert "Traceback" not in text, text[-3000:]
        assert "refused a message not signed for us" in text
        assert "not a signed envelope" in text


async def test_long_values_from_an_older_unit_are_stored_cut_never_dead_lettered(
    engine: Engine, database_url: str, broker: Broker, tmp_path: Path
) -> None:
    """A 100-character SKU passed `catalog import` (its limit was 200) but PostgreSQL's
    varchar(64) dead-lettered the sale, again at every resend, and the unit stuck at that
    seq; a 100-character region dead-lettered the birth. Now the unit refuses them where
    they come in (protocol.limits) and the collector stores an older unit's cut to fit."""
    long_sku, long_text = "S" * 100, "r" * 100
    dev = FakeDevice(tmp_path, broker, "till-01")
    enrol(engine, dev.device)
    line = {**sale_dict()["lines"][0], "sku": long_sku, "name": "n" * 300}
    dev.append(3, lines=[line], region=long_text, staff=long_text)
    real_birth = dev.birth
    dev.birth = lambda pubkey=None, region="": real_birth(pubkey, region=long_text)
    log = tmp_path / "collector.log"
    proc = start(database_url, broker, log, "--id", "collector-long")  # a real `collector run`
    try:
        async with client(broker, "till-01") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=1.0))
            await until(lambda: dev.acked == 3, "the long-valued sales acked", 60)
            runner.cancel()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log.read_text()[-3000:]
    exactly_once(engine, "till-01", 3)
    assert dead_reasons(engine) == []
    with Session(engine) as s:
        assert s.scalars(select(SaleLine.sku).distinct()).all() == [long_sku[:MAX_SKU]]
        sale = s.scalars(select(Sale)).first()
        assert sale is not None and sale.region == long_text[:MAX_REGION]
        assert sale.raw["lines"][0]["sku"] == long_sku  # the record itself is whole
        device = s.get(Device, "till-01")
        assert device is not None and device.region == long_text[:MAX_REGION]
