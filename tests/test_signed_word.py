"""Signed word from the collector, against a real `appliance run` on a plain anonymous
broker: an outsider with an MQTT client (here the test) can publish on every topic, so
only the signature may hold. Forged acks, commands and answers change nothing that the
outbox or the catalog shows, and are logged (a forged loyalty answer goes through the
same gate, `MqttLink._take`; tests/test_hostile_input.py sends it garbage); a signed
command is acted on once, also after a restart; re-published elsewhere, expired or signed
by another key, it is not."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol import messages as m
from protocol.envelope import seal as seal_with
from tests.broker import Broker
from tests.conftest import run_cli
from tests.signed import seal
from tests.test_mqtt_link import Collector, collector, mqtt_config
from tests.test_mqtt_process import appliance

ME = "pos/v1/s001/till-01/"
PRICES = "pos/v1/s001/cmd/prices"


def price_of(data: Path, sku: str) -> int:
    conn = sqlite3.connect(data / "journal.db")
    try:
        return int(conn.execute("SELECT price FROM catalog WHERE sku = ?", (sku,)).fetchone()[0])
    finally:
        conn.close()


def outbox(data: Path) -> int:
    conn = sqlite3.connect(data / "journal.db")
    try:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()


def prices(corr: str, price: int) -> dict[str, Any]:
    return {"schema": 1, "corr": corr, "args": {"prices": [{"sku": "A1", "price": price}]}}


@contextlib.asynccontextmanager
async def running(path: Path) -> Any:
    proc = await appliance("run", "--simulate", "--config", str(path))
    log: list[str] = []
    try:
        yield proc, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        log.append(err.decode())
        assert proc.returncode == 0, err.decode()[-3000:]


async def sold(c: Collector, n: int) -> None:
    await c.wait(lambda: len(c.seqs()) >= n)


async def test_forged_acks_drop_nothing_and_a_signed_one_does(
    broker: Broker, tmp_path: Path
) -> None:
    path = mqtt_config(tmp_path, broker.url)
    scenario = tmp_path / "two.jsonl"
    scenario.write_text(
        '{"op":"login","staff":"ana"}\n{"op":"key","sku":"A1"}\n'
        '{"op":"tender","type":"cash","amount":"5.00"}\n{"op":"key","sku":"B1"}\n'
        '{"op":"tender","type":"cash","amount":"5.00"}\n'
    )
    r = run_cli("replay", "--config", str(path), "--drain", "0.5", str(scenario))
    assert r.returncode == 0, r.stderr
    data = tmp_path / "data"
    assert outbox(data) == 2
    other = Ed25519PrivateKey.generate()
    async with collector(broker.url) as c, running(path) as (_proc, log):
        await c.online()
        await sold(c, 2)
        forged = [
            m.encode(m.Ack(upto=2)),  # today's unsigned ack
            seal_with(other, ME + "ack", m.Ack(upto=2), now=1.8e9, lifetime=60),
            seal("pos/v1/s001/till-02/ack", m.Ack(upto=2)),  # another unit's, re-published
            b'{"schema":1,"signed":"{}","sig":"' + b"00" * 64 + b'"}',
        ]
        for payload in forged:
            await c.client.publish(ME + "ack", payload, qos=1)
        await asyncio.sleep(1.0)  # telemetry every 0.2 s: a forged ack would show by now
        assert c.on("telemetry")[-1]["outbox_depth"] == 2
        await c.ack(2)  # signed by the tests' collector key
        await c.wait(lambda: c.on("telemetry")[-1]["outbox_depth"] == 0)
    text = log[0]
    assert text.count("refused a message not signed for us") == len(forged), text[-3000:]
    assert "does not verify against the collector key" in text
    assert "re-published" in text
    assert outbox(data) == 0


async def test_a_command_is_obeyed_once_signed_and_never_replayed(
    broker: Broker, tmp_path: Path
) -> None:
    path = mqtt_config(tmp_path, broker.url)
    data = tmp_path / "data"
    before = price_of(data, "A1")
    other = Ed25519PrivateKey.generate()
    async with collector(broker.url) as c, running(path) as (_proc, log):
        await c.online()
        # An outsider's prices: unsigned, signed by another key, expired, for another store.
        await c.client.publish(PRICES, m.encode(m.Command(corr="x1", args={})), qos=1)
        forged = seal_with(other, PRICES, prices("x2", 0), now=1.8e9, lifetime=600)
        await c.client.publish(PRICES, forged, qos=1)
        old = seal_with(
            Ed25519PrivateKey.generate(), PRICES, prices("x3", 0), now=1.0e9, lifetime=600
        )
        await c.client.publish(PRICES, old, qos=1)
        elsewhere = seal("pos/v1/s002/cmd/prices", prices("x4", 0))
        await c.client.publish(PRICES, elsewhere, qos=1)
        # The collector's, once: applied and answered.
        good = seal(PRICES, prices("p-1", 99))
        await c.client.publish(PRICES, good, qos=1)
        result = await c.result("prices", "p-1")
        assert result["ok"] is True, result
        # The same envelope again (a replay), and retained (as a fleet push might be).
        await c.client.publish(PRICES, good, qos=1, retain=True)
        await asyncio.sleep(0.5)
    text = log[0]
    assert "a replay" in text and "re-published" in text, text[-3000:]
    assert [r["corr"] for r in c.on("cmd/prices/result")] == ["p-1"]
    assert price_of(data, "A1") == 99 != before
    # After a restart the retained envelope comes again: still refused (admitted.json).
    async with collector(broker.url, "test-collector-2") as c2, running(path) as (_p, log2):
        await c2.online()
        await asyncio.sleep(1.0)
    assert "a replay" in log2[0], log2[0][-3000:]
    assert c2.on("cmd/prices/result") == []
    # An expired one, signed by the collector: refused whatever the unit's clock says.
    async with collector(broker.url, "test-collector-3") as c3, running(path) as (_p, log3):
        await c3.online()
        stale = seal_with(the_collectors_key(), PRICES, prices("p-old", 1), now=1.0e9, lifetime=600)
        await c3.client.publish(PRICES, stale, qos=1)
        await asyncio.sleep(1.0)
    assert "expired" in log3[0], log3[0][-3000:]
    assert price_of(data, "A1") == 99


def the_collectors_key() -> Ed25519PrivateKey:
    from tests.conftest import COLLECTOR_KEYS

    return COLLECTOR_KEYS.signing_key()


@pytest.mark.parametrize(
    "key",
    ["", "missing.pub", "not-a-key.pub"],
    ids=["none", "missing", "garbage"],
)
def test_a_unit_without_a_readable_collector_key_does_not_start(
    tmp_path: Path, broker: Broker, key: str
) -> None:
    path = mqtt_config(tmp_path, broker.url)
    (tmp_path / "not-a-key.pub").write_text("hello\n")
    text = path.read_text()
    start = text.index("collector_key = ")
    end = text.index("\n", start)
    line = "" if not key else f'collector_key = "{tmp_path / key}"'
    path.write_text(text[:start] + line + text[end:])
    r = run_cli("run", "--simulate", "--config", str(path), timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "collector_key" in r.stderr
