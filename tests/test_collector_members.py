"""Collectors that come and go, as real `collector run` processes on one PostgreSQL.

Mosquitto deals a shared subscription's messages to every member with a session, connected
or not: a stopped collector's persistent session went on taking its share of every unit's
records, and the running one could only get them by asking each unit to resend, round after
round (100 sales took 40 s to deliver 2). A collector that stops hands its share to the
others; a dead one's session is cleared by the others (collector/members.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector import members
from collector.config import ConfigError, load_config
from collector.db import open_database
from collector.service import Settings
from tests.broker import Broker
from tests.conftest import ROOT
from tests.pg import fresh_database
from tests.records import enrol
from tests.test_collector_fleet import exactly_once
from tests.test_collector_ingest import FakeDevice, client
from tests.waiting import until

# The unit's own ack timeout (appliance/mqtt/publisher.py): the device resends on its
# own this long after acks stop, so a test that passed only through those would be slow.
UNIT_ACK_TIMEOUT = 15.0


@pytest.fixture
def pg() -> Iterator[str]:
    with fresh_database("collector_members") as url:
        open_database(url).dispose()  # made once, before two processes race to make it
        yield url


def start(db: str, broker: Broker, log: Path, name: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collector",
            "run",
            "--db",
            db,
            "--broker",
            broker.url,
            "--id",
            name,
            *extra,
        ],
        cwd=ROOT,
        stderr=log.open("ab"),
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def subscribed(log: Path, name: str) -> bool:
    return log.exists() and f"subscribed as {name}" in log.read_text()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
async def test_one_of_two_collectors_stopping_holds_nothing_away_from_the_other(
    pg: str, broker: Broker, tmp_path: Path, how: str
) -> None:
    logs = {n: tmp_path / f"{n}.log" for n in ("collector-a", "collector-b")}
    config = tmp_path / "collector.toml"
    # A dead member is cleared once it has not been seen for `stale` seconds.
    config.write_text("[cluster]\nheartbeat = 0.5\nstale = 3\n")
    procs = {n: start(pg, broker, log, n, "--config", str(config)) for n, log in logs.items()}
    engine = open_database(pg)
    dev = FakeDevice(tmp_path, broker, "till-21")
    enrol(engine, dev.device)
    try:
        for n, log in logs.items():
            await until(lambda n=n, log=log: subscribed(log, n), f"{n} subscribed", 30)
        dev.append(20)
        async with client(broker, "till-21") as c:
            runner = asyncio.create_task(dev.run(c, ack_timeout=UNIT_ACK_TIMEOUT))
            await until(lambda: dev.acked == 20, "the first 20 acked by the pair", 60)
            a = procs["collector-a"]
            a.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
            rc = await asyncio.to_thread(a.wait, 10)
            assert rc == (0 if how == "sigterm" else -signal.SIGKILL)
            stopped = time.monotonic()
            # 100 sales after the stop, one by one as a till makes them.
            for _ in range(100):
                dev.append(1)
                await dev.publish_records(c, dev.store.last_seq() - 1)
                await asyncio.sleep(0.01)
            await until(lambda: dev.acked == 120, "all 120 acked by the one left", 60)
            took = time.monotonic() - stopped
            print(f"{how}: the last of 120 acked {took:.2f} s after the stop")
            runner.cancel()
        exactly_once(engine, "till-21", 120)
        # SIGTERM hands over at once; SIGKILL waits for the member to be `stale` (3 s).
        bound = 10.0 if how == "sigterm" else 13.0
        assert took < bound, f"the last sale came {took:.1f} s after the stop"
        b_log = logs["collector-b"].read_text()
        assert "Traceback" not in b_log
        if how == "sigkill":
            assert "cleared the broker session of collector-a" in b_log
        else:
            assert "handing its share to collector-b" in logs["collector-a"].read_text()
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/c.db"
    else:
        with fresh_database("collector_members") as url:
            yield url


def test_heartbeats_peers_and_one_claim_per_dead_member(db_url: str) -> None:
    engine = open_database(db_url)
    t = members.Timings(heartbeat=5, stale=30)
    try:
        members.beat(engine, "a", now_ms=1_000_000)
        members.beat(engine, "b", now_ms=1_000_000)
        members.beat(engine, "c", now_ms=1_020_000)
        now = 1_035_000  # a and b last seen 35 s ago, c 15 s ago
        assert members.running_peers(engine, "c", t, now_ms=now) == []
        assert members.running_peers(engine, "a", t, now_ms=1_020_000) == ["b", "c"]
        # c claims both dead ones; a second claimer finds nothing left to claim.
        assert members.claim_dead(engine, "c", t, now_ms=now) == ["a", "b"]
        assert members.claim_dead(engine, "d", t, now_ms=now) == []
        # A claimed member that comes back is running again, and is nobody's to claim.
        members.beat(engine, "a", now_ms=now)
        assert members.running_peers(engine, "c", t, now_ms=now) == ["a"]
        assert members.claim_dead(engine, "c", t, now_ms=now) == []
        # A clearing that failed is claimed again next time.
        members.unclaim(engine, "b")
        assert members.claim_dead(engine, "c", t, now_ms=now) == ["b"]
    finally:
        engine.dispose()


def test_the_cluster_settings_are_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[cluster]\nheartbeat = 10\nstale = 15\n")
    with pytest.raises(ConfigError, match=r"cluster.stale: 15 s is less than two heartbeats"):
        load_config(cfg)
    cfg.write_text("[cluster]\nheartbeat = 0\n")
    with pytest.raises(ConfigError, match=r"cluster.heartbeat"):
        load_config(cfg)
    cfg.write_text("[cluster]\nheartbeat = 1\nstale = 3\n")
    assert Settings.from_config(load_config(cfg)).cluster == members.Timings(1, 3)
