"""Several collectors on one PostgreSQL database sharing the subscription, and a real
`collector run` process killed mid-ingest: every record ends up stored exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from collector.db import open_database
from collector.models import Sale
from collector.service import Collector, Settings
from protocol.broker import BrokerAddress
from tests.broker import Broker
from tests.conftest import ROOT
from tests.pg import fresh_database
from tests.records import enrol
from tests.test_collector_ingest import FakeDevice, client, seqs
from tests.waiting import until


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


def exactly_once(engine: Engine, device: str, count: int) -> None:
    assert seqs(engine, device) == list(range(1, count + 1))
    with Session(engine) as s:
        ids = s.scalar(select(func.count(func.distinct(Sale.sale_id))))
        assert ids == s.scalar(select(func.count()).select_from(Sale)) == count


async def test_two_collectors_share_the_subscription_each_sale_once(
    pg_url: str, broker: Broker, tmp_path: Path
) -> None:
    engines = [open_database(pg_url), open_database(pg_url)]
    collectors = [
        Collector(e, Settings(BrokerAddress.parse(broker.url), client_id=f"c{n}"))
        for n, e in enumerate(engines)
    ]
    tasks = [asyncio.create_task(c.run()) for c in collectors]
    try:
        for c in collectors:
            await asyncio.wait_for(c.ready.wait(), 10)
        assert all(c.shared for c in collectors)
        devices = [FakeDevice(tmp_path, broker, f"till-{n:02d}") for n in range(1, 4)]
        enrol(engines[0], *(d.device for d in devices))
        for d in devices:
            d.append(40)
        async with (
            client(broker, "till-01") as c1,
            client(broker, "till-02") as c2,
            client(broker, "till-03") as c3,
        ):
            runners = [
                asyncio.create_task(d.run(c, ack_timeout=1.0))
                for d, c in zip(devices, (c1, c2, c3), strict=True)
            ]
            await until(lambda: all(d.acked == 40 for d in devices), "all acked", 90)
            for r in runners:
                r.cancel()
        for d in devices:
            assert seqs(engines[0], d.device) == list(range(1, 41))
        assert all(c.ingested > 0 for c in collectors), "both collectors took a share"
        with Session(engines[0]) as s:
            assert s.scalar(select(func.count(func.distinct(Sale.sale_id)))) == 120
            assert s.scalar(select(func.count()).select_from(Sale)) == 120
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for e in engines:
            e.dispose()


KILL_ARGS = ("--id", "collector-kill", "--batch", "8")


def start_collector(db: str, broker: Broker, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector", "run", "--db", db, "--broker", broker.url, *KILL_ARGS],
        cwd=ROOT,
        stderr=log.open("ab"),
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    return proc


async def wait_subscribed(proc: subprocess.Popen[bytes], log: Path, times: int) -> None:
    await until(lambda: log.read_text().count("subscribed as") >= times, "collector subscribed")
    assert proc.poll() is None


async def test_sigkill_mid_ingest_then_restart_stores_each_record_once(
    broker: Broker, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/collector.db"
    engine = open_database(db)
    log = tmp_path / "collector.log"
    dev = FakeDevice(tmp_path, broker, "till-09")
    enrol(engine, dev.device)
    dev.append(300)
    proc = start_collector(db, broker, log)
    try:
        await wait_subscribed(proc, log, 1)
        async with client(broker, "till-09") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=1.0))
            await until(lambda: len(seqs(engine, "till-09")) >= 20, "ingest under way")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            killed_at = len(seqs(engine, "till-09"))
            assert killed_at < 300, "the kill should land mid-ingest"
            proc = start_collector(db, broker, log)
            await wait_subscribed(proc, log, 2)
            await until(lambda: dev.acked == 300, "everything acked after the restart", 90)
            runner.cancel()
        exactly_once(engine, "till-09", 300)
    finally:
        proc.kill()
        proc.wait(10)
        engine.dispose()
