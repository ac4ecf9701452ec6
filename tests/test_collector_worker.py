# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""The collector's ingest worker process (collector/ingest/worker.py), on SQLite and PostgreSQL,
over a real Mosquitto: killed with a backlog in hand, its logs, and a clean stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from collector.db import open_database
from collector.ingest.worker import IngestProcess
from collector.service import Collector, Settings
from protocol.broker import BrokerAddress
from tests.broker import Broker
from tests.pg import fresh_database
from tests.procs import running
from tests.records import enrol
from tests.test_collector_fleet import exactly_once
from tests.test_collector_ingest import (  # noqa: F401 - the database fixtures
    FakeDevice,
    client,
    database_url,
    dead_reasons,
    engine,
)
from tests.waiting import until


async def test_a_killed_worker_is_replaced_and_its_batch_sent_again(
    engine: Engine, broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    collector = Collector(
        engine,
        Settings(BrokerAddress.parse(broker.url), client_id="worker-test", reconnect_delay=0.2),
    )
    task = asyncio.create_task(collector.run())
    dev = FakeDevice(tmp_path, broker, "till-20")
    enrol(engine, dev.device)
    dev.append(1500)
    try:
        await asyncio.wait_for(collector.ready.wait(), 10)
        worker = collector._worker
        assert isinstance(worker, IngestProcess)  # the default, for a database on disk
        async with client(broker, "till-20") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=3.0))
            await until(lambda: collector.ingested >= 100, "the backlog being ingested")
            first = worker.pid
            assert first is not None and first != os.getpid()
            os.kill(first, signal.SIGKILL)
            await until(lambda: dev.acked == 1500, "every sale acked after the worker died")
            runner.cancel()
            second = worker.pid
            assert second is not None and second != first
            # Its logs come back to this process's loggers (a garbage payload's dead letter).
            await c.publish(dev.topic("sales"), b"\x00 not json", qos=1)
            await until(lambda: len(dead_reasons(engine)) == 1, "the dead letter")
            await until(
                lambda: any(
                    r.name == "collector.ingest"
                    and r.process == second
                    and "dead letter from" in r.getMessage()
                    for r in caplog.records
                ),
                "the worker's warning in this process's log",
            )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    exactly_once(engine, "till-20", 1500)
    assert any("the ingest worker died" in r.getMessage() for r in caplog.records)
    # run() stopped the worker on its way out.
    assert second is not None and not running(second)


async def test_database_outage_is_waited_out_nothing_acked_meanwhile(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL stops taking connections (ALLOW_CONNECTIONS false, its sessions ended)
    while a unit reports: the worker's error crosses back to the collector as 'database
    unavailable', nothing is acked or dead-lettered, and once the database is back every
    sale goes in exactly once."""
    caplog.set_level(logging.INFO)
    with fresh_database("collector_outage") as url:
        engine = open_database(url)
        name = engine.url.database
        admin = psycopg.connect(
            engine.url.set(drivername="postgresql", database="postgres").render_as_string(
                hide_password=False
            ),
            autocommit=True,
        )
        settings = Settings(
            BrokerAddress.parse(broker.url), client_id="outage", reconnect_delay=0.2
        )
        collector = Collector(engine, settings)
        task = asyncio.create_task(collector.run())
        dev = FakeDevice(tmp_path, broker, "till-21")
        enrol(engine, dev.device)
        try:
            await asyncio.wait_for(collector.ready.wait(), 10)
            async with client(broker, "till-21") as c:
                dev.append(20)
                runner = asyncio.create_task(dev.run(c, ack_timeout=2.0))
                await until(lambda: dev.acked == 20, "the first 20 acked")
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                dev.append(30)
                await dev.publish_records(c, after=20)
                await until(
                    lambda: any("database unavailable" in r.getMessage() for r in caplog.records),
                    "the collector waiting for the database",
                )
                assert dev.acked == 20  # nothing acked while the database is away
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
                await until(lambda: dev.acked == 50, "all 50 acked once it is back")
                runner.cancel()
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        exactly_once(engine, "till-21", 50)
        assert dead_reasons(engine) == []
        engine.dispose()
