# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""`collector run` as a real process: SIGTERM mid-ingest exits 0 at once (and loses
nothing), and a collector holding a large backlog at the broker stays bounded in what it
takes off the broker before committing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector import service
from collector.db import open_database
from collector.ingest.batches import BatchResult, Incoming, Ingestor
from collector.models import Sale
from collector.service import Collector, Settings
from protocol.broker import BrokerAddress
from protocol.messages import device_topic
from tests.broker import Broker
from tests.conftest import ROOT
from tests.records import enrol
from tests.test_collector_fleet import exactly_once
from tests.test_collector_ingest import (  # noqa: F401 - fixtures
    FakeDevice,
    client,
    database_url,
    dead_reasons,
    engine,
    seqs,
)
from tests.waiting import until

SALES = 1500


def start(db: str, broker: Broker, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "collector", "run", "--db", db, "--broker", broker.url, *extra],
        cwd=ROOT,
        stderr=log.open("ab"),
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


async def test_sigterm_mid_ingest_exits_0_promptly_and_loses_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/collector.db"
    engine = open_database(db)
    log = tmp_path / "collector.log"
    dev = FakeDevice(tmp_path, broker, "till-07")
    enrol(engine, dev.device)
    dev.append(SALES)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        async with client(broker, "till-07") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=1.0))
            # Several SIGTERMs, each landing while batches are being committed and acked.
            for _ in range(3):
                then = len(seqs(engine, "till-07")) + 30
                proc = start(db, broker, log, "--id", "collector-term", "--batch", "16")
                procs.append(proc)
                # (a resumed session's backlog comes before the SUBACK: it may ingest first)
                await until(lambda n=then: len(seqs(engine, "till-07")) > n, "ingesting")
                proc.send_signal(signal.SIGTERM)
                rc = await asyncio.to_thread(proc.wait, 10)
                assert rc == 0, log.read_text()[-3000:]
                assert len(seqs(engine, "till-07")) < SALES, "the SIGTERM should land mid-ingest"
            proc = start(db, broker, log, "--id", "collector-term")
            procs.append(proc)
            await until(lambda: dev.acked == SALES, "everything acked after the restarts", 90)
            runner.cancel()
        exactly_once(engine, "till-07", SALES)
        assert "Traceback" not in log.read_text()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        engine.dispose()


async def test_sigterm_while_the_broker_is_frozen_still_exits_0(
    broker: Broker, tmp_path: Path
) -> None:
    """SIGTERM while the broker answers nothing: the collector neither waits for it nor
    goes back into its reconnect loop."""
    log = tmp_path / "collector.log"
    dev = FakeDevice(tmp_path, broker, "till-08")
    enrol(f"sqlite:///{tmp_path}/c.db", dev.device)
    dev.append(200)
    proc = start(f"sqlite:///{tmp_path}/c.db", broker, log, "--id", "collector-hang")
    assert broker.proc is not None
    try:
        await until(lambda: "subscribed as" in log.read_text(), "up")
        async with client(broker, "till-08") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=1.0))
            await until(lambda: dev.acked > 0, "ingest under way")
            broker.proc.send_signal(signal.SIGSTOP)
            try:
                proc.send_signal(signal.SIGTERM)
                rc = await asyncio.to_thread(proc.wait, 30)
            finally:
                broker.proc.send_signal(signal.SIGCONT)
            runner.cancel()
        assert rc == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("overshooting", [False, True], ids=["keeps-window", "overshoots"])
async def test_a_backlog_waits_at_the_broker_not_in_memory(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overshooting: bool
) -> None:
    """A collector coming back to 300 sales queued in its session, with the database
    stuck on its first batch, holds at most Receive Maximum (20 here) messages untaken;
    the rest stay at the broker and all arrive once the database moves. Mosquitto 2.0.11
    with `max_inflight_messages 0` sends past Receive Maximum (23 to 28 were seen held):
    the collector then stops reading one past it."""
    monkeypatch.setattr(service, "RECEIVE_MAXIMUM", 20)
    # Mosquitto 2.0.11 resumes a session with max_inflight_messages in flight, not the
    # client's Receive Maximum: 20 here keeps it (nearly) to the window, 0 overshoots.
    broker = Broker(f"max_inflight_messages {0 if overshooting else 20}")
    dev = FakeDevice(tmp_path, broker, "till-05")
    enrol(engine, dev.device)
    dev.append(300)
    stuck, release = threading.Event(), threading.Event()
    ingest = Ingestor.ingest

    def slow_ingest(self: Ingestor, batch: list[Incoming]) -> BatchResult:
        if any(m.topic.endswith("/sales") for m in batch) and not release.is_set():
            stuck.set()
            release.wait(30)
        return ingest(self, batch)

    clients: list[service.BoundedClient] = []
    make_client = Collector._client

    def keep(self: Collector) -> service.BoundedClient:
        clients.append(make_client(self))
        return clients[-1]

    monkeypatch.setattr(Collector, "_client", keep)
    # The ingest on a thread here, so that slow_ingest (patched in this process) is used.
    settings = Settings(
        BrokerAddress.parse(broker.url), client_id="bounded", batch_size=8, ingest_process=False
    )
    try:
        # The collector's session exists, then it goes away and the sales queue up in it.
        first = Collector(engine, settings)
        task = asyncio.create_task(first.run())
        await asyncio.wait_for(first.ready.wait(), 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with client(broker, "till-05") as c:
            await c.publish(dev.topic("status"), dev.birth(), qos=1, retain=True)
            await dev.publish_records(c)
        monkeypatch.setattr(Ingestor, "ingest", slow_ingest)
        collector = Collector(engine, settings)
        task = asyncio.create_task(collector.run())
        await until(stuck.is_set, "the first batch of sales stuck in the database")
        bounded = clients[-1]
        queued = bounded.messages
        # The first batch took 8 of them; the broker sends at most 8 more (its retained
        # status again, on the resubscribe, can be one past the window).
        await until(lambda: len(queued) >= 12, "the broker filled the window")
        await asyncio.sleep(0.3)
        held = len(queued)
        assert held <= 21
        for _ in range(20):  # and takes no more off the socket while nothing is taken
            assert len(queued) == held
            await asyncio.sleep(0.05)
        if overshooting:  # it sent all 300 at once: the collector stopped reading
            assert bounded.paused and bounded.overrun
        release.set()
        async with client(broker, "till-05") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=5.0))
            await until(lambda: dev.acked == 300, "all 300 acked once the database moves")
            runner.cancel()
        exactly_once(engine, "till-05", 300)
    finally:
        release.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        broker.close()


async def test_a_lost_broker_is_reconnected_not_taken_for_a_stop(
    engine: Engine, broker: Broker, tmp_path: Path
) -> None:
    """The broker goes away while acks are being published and comes back: the collector
    reconnects and carries on (Python 3.11's TaskGroup left a cancel pending when a child
    failed, and run() took it for SIGTERM and returned)."""
    dev = FakeDevice(tmp_path, broker, "till-06")
    enrol(engine, dev.device)
    dev.append(400)
    settings = Settings(
        BrokerAddress.parse(broker.url), client_id="survivor", batch_size=8, reconnect_delay=0.2
    )
    collector = Collector(engine, settings)
    task = asyncio.create_task(collector.run())
    try:
        await asyncio.wait_for(collector.ready.wait(), 10)
        async with client(broker, "till-06") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=2.0))
            await until(lambda: dev.acked >= 40, "ingest under way")
            broker.stop(kill=True)
            await until(lambda: not collector.ready.is_set(), "the collector saw it go")
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        await asyncio.sleep(0.5)
        broker.start()
        await until(collector.ready.is_set, "the collector back on the broker")
        assert not task.done()
        async with client(broker, "till-06") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=2.0))
            await until(lambda: dev.acked == 400, "the rest acked after the restart", 60)
            runner.cancel()
        exactly_once(engine, "till-06", 400)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_two_copies_of_a_seq_in_one_batch(engine: Engine, tmp_path: Path) -> None:
    """The first is stored; the same record again is a duplicate, a different one with
    that seq a dead letter (inserts wait for the batch's end, so this is checked apart)."""
    from appliance.store import Store
    from protocol.record import plain
    from tests.test_collector_ingest import draft

    enrol(engine, "till-03")
    a = Store.open(tmp_path / "a", "till-03")
    b = Store.open(tmp_path / "b", "till-03")  # same device id, another key: a forgery
    first = plain(a.append(draft(1, "till-03"), False))
    other = plain(b.append(draft(2, "till-03"), False))
    topic = device_topic("s001", "till-03", "sales")
    status = device_topic("s001", "till-03", "status")
    birth = Incoming(
        status, a.seal(status, {"schema": 1, "state": "online", "pubkey": a.public_key_pem()})
    )
    batch = [Incoming(topic, json.dumps(r).encode()) for r in (first, first, other)]
    result = Ingestor(engine).ingest([birth, *batch])
    assert (result.ingested, result.duplicates, result.dead) == (1, 1, 1)
    assert "seq 1 conflicts" in dead_reasons(engine)[0]
    with Session(engine) as s:
        assert s.scalars(select(Sale.hash)).all() == [first["hash"]]
