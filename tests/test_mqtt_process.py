"""Real appliance processes on a real Mosquitto: the will fires when `appliance run` is
killed, and `appliance replay --drain` waits for the collector's acks (and no longer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import aiomqtt

from appliance.store import Store
from tests.broker import Broker
from tests.conftest import ROOT
from tests.signed import device_body
from tests.test_mqtt_link import Collector, collector, load, mqtt_config

SCENARIO = "\n".join(
    json.dumps(e)
    for e in (
        {"op": "login", "staff": "ana"},
        {"op": "key", "sku": "B1", "qty": 2},
        {"op": "tender", "type": "cash", "amount": "5.00"},
        {"op": "key", "sku": "A1", "qty": 1},
        {"op": "tender", "type": "card", "ref": "x"},
    )
)


async def appliance(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "appliance",
        *args,
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_will_says_offline_when_the_service_is_killed(broker: Broker, tmp_path: Path) -> None:
    path = mqtt_config(tmp_path, broker.url)
    async with collector(broker.url) as c:
        proc = await appliance("run", "--simulate", "--config", str(path))
        try:
            await c.wait(lambda: any(s["state"] == "online" for s in c.on("status")), 30)
            assert "BEGIN PUBLIC KEY" in c.on("status")[-1]["pubkey"]
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            await c.wait(lambda: c.on("status")[-1]["state"] == "offline")
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.communicate()


async def acker(c: Collector) -> None:
    """A collector stub: acks each record once everything before it has arrived."""
    upto = 0

    def more_than(n: int) -> Callable[[], bool]:
        return lambda: len(c.seqs()) > n

    while True:
        seen = len(c.seqs())
        seqs = set(c.seqs())
        while upto + 1 in seqs:
            upto += 1
            await c.ack(upto)
        await c.wait(more_than(seen), timeout=3600)


async def test_replay_drains_the_outbox_only_as_far_as_the_collector_acks(
    broker: Broker, tmp_path: Path
) -> None:
    path = mqtt_config(tmp_path, broker.url)
    scenario = tmp_path / "day.jsonl"
    scenario.write_text(SCENARIO + "\n")
    cfg = load(path)
    # Nobody acks: replay gives up after --drain and the records stay in the outbox.
    proc = await appliance("replay", "--config", str(path), "--drain", "0.5", str(scenario))
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert len(out.decode().splitlines()) == 2
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        assert store.outbox.depth() == 2
    # With a collector that acks, the next replay leaves nothing behind, the earlier two
    # records included.
    async with collector(broker.url) as c:
        task = asyncio.create_task(acker(c))
        try:
            proc = await appliance("replay", "--config", str(path), str(scenario))
            out, err = await proc.communicate()
        finally:
            task.cancel()
        assert proc.returncode == 0, err.decode()
        assert set(c.seqs()) == {1, 2, 3, 4}
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        assert store.outbox.depth() == 0


async def test_a_clean_stop_always_leaves_the_status_offline(
    broker: Broker, tmp_path: Path
) -> None:
    """1 in 3 to 6 clean exits of a short `replay` left the retained status `online`: a
    sender's cancel was swallowed (Python 3.11's wait_for, inside aiomqtt's publish), the
    session's teardown waited on it and was cut off before it sent `offline`."""
    path = mqtt_config(tmp_path, broker.url)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    states = []
    for i in range(20):
        proc = await appliance("replay", "--config", str(path), str(empty))
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-2000:]
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"look-{i}") as c:
            await c.subscribe("pos/v1/s001/till-01/status", 1)
            retained = await asyncio.wait_for(anext(c.messages), 10)
        payload = retained.payload if isinstance(retained.payload, bytes) else b"{}"
        states.append(device_body(payload, "pos/v1/s001/till-01/status")["state"])
    assert states == ["offline"] * 20, states
