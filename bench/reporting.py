"""Reporting benchmarks (issue: reporting over MQTT to the central collector).

`python -m bench reporting [--quick] [--only ingest,drain,latency] [--broker plain,tls]`.
One run measures:

- ingest: N signed journal records published QoS 1 by a bare aiomqtt publisher (in its
  own process, 64 in flight like the unit) into the collector (in this process, the code
  `collector run` runs) on SQLite and on PostgreSQL (when reachable), against a bare
  aiomqtt subscriber that only counts the same messages from the same broker. With
  `--broker plain,tls` once on each (bench/brokers.py), one after the other: on TLS the
  publisher is the enrolled device with its certificate, the collector and the bare
  subscriber present the collector's, through the broker `broker-config` writes (ACL
  and all), and the TLS rates are also given against the plain ones;
- drain: 100,000 records queued in a unit's outbox, a `collector run` process up, then
  `appliance run --simulate` started: seconds until its outbox is empty (every record acked);
- latency: 50 units (`open_unit`, simulated drivers, one process) selling 20 sales/s in
  all (Poisson arrivals) to a `collector run` process; per sale, `Store.append` returning
  to the unit receiving the `ack` that covers it. Baseline: bare QoS 1 publish→subscriber
  and publish→echo→subscriber round trips on the same broker.

Each part starts its own Mosquitto on a free port (tests/broker.py) and PostgreSQL
databases are made fresh on 127.0.0.1:5432 (tests/pg.py). Drain and latency run on the
plain broker only. Results: bench/results/reporting.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec
import psycopg
from sqlalchemy import create_engine, func, select

from appliance.config import parse_config
from appliance.service import Unit, open_unit
from appliance.store import Store
from bench.brokers import (
    LABELS,
    NODELAY,
    NODELAY_CONF,
    BenchBroker,
    TlsFiles,
    broker_kinds,
    keystore,
)
from bench.brokers import open_broker as open_bench_broker
from bench.till import ms, p99, sale_draft
from collector.db import open_database
from collector.models import Device, Sale
from collector.pki import COLLECTOR_CN
from collector.service import Collector
from protocol import messages as m
from protocol.birth import Voucher
from protocol.record import Draft
from protocol.timestamps import utc_stamp
from tests import pg
from tests.broker import Broker
from tests.pg import fresh_database
from tests.procs import children
from tests.records import enrol

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 64  # QoS 1 messages in flight: the unit's default `[mqtt] window`
# Mosquitto leaves Nagle on for its own sockets unless told (NODELAY_CONF): it then holds
# a PUBLISH to a client that has not yet ACKed the PUBACK sent just before (the
# collector's ack right after the unit's sale): ~40 ms per round trip, measured. Every
# part runs with it off; the latency part also runs once on the stock config to show
# the difference.
Report = Callable[[str, str, str], None]


def draft_for(i: int, device: str, store: str) -> Draft:
    """The till bench's three-line cash sale, as `device` of `store` would journal it."""
    return msgspec.structs.replace(sale_draft(i), device=device, store=store)


def fill(store: Store, n: int, store_id: str) -> None:
    """Append n signed sales and leave them in the outbox (no fsync per record)."""
    db = store._db._conn  # bench only: the fill needs no fsync per record
    db.execute("PRAGMA synchronous=OFF")
    try:
        for i in range(n):
            store.append(draft_for(i, store.device_id, store_id), print_receipt=False)
    finally:
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        os.sync()


def status_birth(store: Store, store_id: str, voucher: Voucher | None = None) -> bytes:
    """The retained `status` online message a unit sends, carrying its public key,
    sealed with it (the collector believes nothing else); with `voucher`, the proof of
    the device's enrolment certificate (protocol.birth), without which the collector takes
    no key for a device enrolled with one."""
    status = m.Status(
        state="online",
        version="bench",
        ts=utc_stamp(),
        pubkey=store.public_key_pem(),
        store=store_id,
    )
    if voucher is not None:
        status.cert = voucher.cert_pem
        status.proof = voucher.prove(store_id, store.device_id, status.pubkey)
    return store.seal(m.device_topic(store_id, store.device_id, "status"), status)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# -- 1. ingest rate ---------------------------------------------------------------------------


def _publish_process(port: int, tls: TlsFiles | None, topic: str, payloads: Path, out: Any) -> None:
    """Child process: publish every line of `payloads` QoS 1, WINDOW in flight (over TLS
    with `tls`' certificate when given); sends back (start, end) in time.monotonic
    (CLOCK_MONOTONIC is shared by every process)."""
    lines = payloads.read_bytes().splitlines()

    async def run() -> tuple[float, float]:
        async with aiomqtt.Client(
            "127.0.0.1",
            port,
            identifier=f"bench-pub-{os.getpid()}",
            protocol=aiomqtt.ProtocolVersion.V5,
            max_inflight_messages=WINDOW,
            socket_options=NODELAY,
            tls_context=tls.context() if tls else None,
        ) as client:
            client.pending_calls_threshold = WINDOW * 2
            window = asyncio.Semaphore(WINDOW)
            tasks: set[asyncio.Task[None]] = set()

            async def one(payload: bytes) -> None:
                try:
                    await client.publish(topic, payload, qos=1)
                finally:
                    window.release()

            start = time.monotonic()
            for payload in lines:
                await window.acquire()
                task = asyncio.create_task(one(payload))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)
            return start, time.monotonic()

    out.put(asyncio.run(run()))


class Publisher:
    """The bare publisher, in its own process so it does not share the consumer's GIL."""

    def __init__(self, port: int, tls: TlsFiles | None, topic: str, payloads: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.queue: Any = ctx.Queue()
        self.proc = ctx.Process(
            target=_publish_process, args=(port, tls, topic, payloads, self.queue)
        )

    def start(self) -> None:
        self.proc.start()

    async def times(self) -> tuple[float, float]:
        start, end = await asyncio.to_thread(self.queue.get, True, 600)
        await asyncio.to_thread(self.proc.join, 30)
        return float(start), float(end)


async def _until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


async def stop_collector(task: asyncio.Task[None]) -> None:
    """Cancel `Collector.run` (once is enough since it checks `cancelling()`; say so if not)."""
    for attempt in range(1, 11):
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        if done:
            if attempt > 1:
                print(f"(the collector needed {attempt} cancels to stop)", flush=True)
            return
    raise RuntimeError("the collector did not stop when cancelled")


async def bare_rate(broker: BenchBroker, device: str, topic: str, payloads: Path, n: int) -> float:
    """Messages per second a subscriber that only counts them takes off the broker (as
    the collector would: its certificate on TLS), published as `device`."""
    count = 0
    done = asyncio.Event()
    end = 0.0
    async with broker.client(
        COLLECTOR_CN, "bench-bare-sub", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        await client.subscribe(topic, qos=1)

        async def count_them() -> None:
            nonlocal count, end
            async for _ in client.messages:
                count += 1
                if count == n:
                    end = time.monotonic()
                    done.set()

        reader = asyncio.create_task(count_them())
        pub = Publisher(broker.port, broker.files(device), topic, payloads)
        pub.start()
        start, _ = await pub.times()
        await asyncio.wait_for(done.wait(), 600)
        reader.cancel()
    return n / (end - start)


async def collector_rate(
    broker: BenchBroker,
    db_url: str,
    device: str,
    birth: tuple[str, bytes],
    payloads: Path,
    n: int,
    unit_dir: Path,
) -> float:
    """Sales per second the collector commits (in this process; `collector run` is the same
    code): from the first publish to `Collector.ingested` reaching n."""
    engine = open_database(db_url)
    store_id, device_id, _leaf = m.parse_device_topic(birth[0])
    enrol(engine, (device_id, store_id))  # the collector believes only enrolled units
    if (files := broker.files(device)) is not None:  # enrolled with its certificate
        with Store.open(unit_dir, device_id) as store:
            voucher = Voucher.load(files.cert, files.key)
            birth = (birth[0], status_birth(store, store_id, voucher))
    client_id = f"bench-collector-{os.getpid()}-{time.monotonic_ns()}"
    collector_keys()
    collector = Collector(engine, broker.collector_settings(client_id))
    async with broker.client(device, "bench-birth") as c:
        await c.publish(birth[0], birth[1], qos=1, retain=True)
    task = asyncio.create_task(collector.run())
    try:
        await asyncio.wait_for(collector.ready.wait(), 30)

        def registered() -> bool:
            with engine.connect() as conn:
                key = conn.scalar(select(Device.public_key).where(Device.id == device))
            return key is not None

        await _until(registered, 30, "the collector to register the device key", step=0.05)
        pub = Publisher(
            broker.port, broker.files(device), birth[0].rsplit("/", 1)[0] + "/sales", payloads
        )
        pub.start()
        await _until(lambda: collector.ingested >= n, 600, f"{n} sales ingested")
        end = time.monotonic()
        start, _ = await pub.times()
        with engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(Sale))
        if stored != n:
            raise RuntimeError(f"the collector stored {stored} sales, not {n}")
    finally:
        await stop_collector(task)
        engine.dispose()
    # Forget the collector's persistent session, or the broker would queue the next run's
    # shared-subscription messages for it.
    async with broker.client(
        COLLECTOR_CN, client_id, protocol=aiomqtt.ProtocolVersion.V5, clean_start=True
    ):
        pass
    return n / (end - start)


@dataclass(frozen=True)
class IngestLoad:
    """The records one ingest run publishes, as the unit's publisher puts them on the
    wire, and the retained birth that carries the device's key."""

    device: str
    store: str
    n: int
    payloads: Path
    birth: tuple[str, bytes]
    unit_dir: Path  # its journal (its key seals a birth with a proof, on TLS)

    @property
    def sales_topic(self) -> str:
        return m.device_topic(self.store, self.device, "sales")


def ingest_load(work: Path, report: Report, n: int) -> IngestLoad:
    device, store_id = "bench-01", "s001"
    with Store.open(work / "ingest-unit", device) as store:
        t = time.perf_counter()
        fill(store, n, store_id)
        made = time.perf_counter() - t
        payloads = work / "payloads.jsonl"
        # Exactly what the unit's publisher puts on the wire.
        payloads.write_bytes(b"\n".join(text.encode() for _, text in store.texts()))
        birth = (m.device_topic(store_id, device, "status"), status_birth(store, store_id))
    report(f"make {n:,} signed records (synchronous=OFF)", f"{made:.1f} s", "set-up only")
    return IngestLoad(device, store_id, n, payloads, birth, work / "ingest-unit")


def postgres_missing() -> str | None:
    """Why PostgreSQL at tests/pg.py's address cannot be used now, or None when it can."""
    try:
        psycopg.connect(
            host=pg.HOST, port=pg.PORT, user=pg.USER, dbname="postgres", connect_timeout=5
        ).close()
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        return f"PostgreSQL at {pg.HOST}:{pg.PORT} is not reachable as {pg.USER}: {first}"
    return None


def ingest_on(kind: str, work: Path, load: IngestLoad, with_pg: bool) -> dict[str, Any]:
    """The bare subscriber (before and after) and the collector into SQLite and, when
    `with_pg`, PostgreSQL, all through one broker of `kind`: rates per second."""
    here = work / f"ingest-{kind}"
    here.mkdir(mode=0o755)
    lite_url = f"sqlite:///{here}/ingest.db"
    # The device enrolled in the fresh SQLite database (with its certificate on TLS),
    # which broker-config writes the ACL from; PostgreSQL enrols it as a row.
    engine = open_database(lite_url)
    broker = open_bench_broker(kind, here, engine, [(load.device, load.store)])
    engine.dispose()
    args = (load.device, load.birth, load.payloads, load.n, load.unit_dir)
    try:
        # Bare subscriber before and after the collectors: the machine's drift shows.
        topic = load.sales_topic
        bare = [asyncio.run(bare_rate(broker, load.device, topic, load.payloads, load.n))]
        lite = asyncio.run(collector_rate(broker, lite_url, *args))
        pg_rate = None
        if with_pg:
            with fresh_database("reporting_bench") as pg_url:
                pg_rate = asyncio.run(collector_rate(broker, pg_url, *args))
        bare.append(asyncio.run(bare_rate(broker, load.device, topic, load.payloads, load.n)))
    finally:
        broker.close()
    return {"n": load.n, "bare": bare, "sqlite": lite, "postgresql": pg_rate}


def bench_ingest(
    work: Path, report: Report, n: int, kinds: Sequence[str] = ("plain",)
) -> dict[str, Any]:
    """`ingest_on` on each broker kind, reported; TLS against plain when both ran."""
    load = ingest_load(work, report, n)
    missing = postgres_missing()
    if missing:
        report("collector ingest into PostgreSQL", "skipped", missing)
    found: dict[str, Any] = {}
    for kind in kinds:
        found[kind] = got = ingest_on(kind, work, load, with_pg=missing is None)
        on = "" if list(kinds) == ["plain"] else f", {LABELS[kind]}"
        base = statistics.mean(got["bare"])
        report(
            f"bare aiomqtt subscriber, {n:,} QoS 1 messages{on}",
            f"{base:,.0f} msg/s",
            f"baseline (runs: {', '.join(f'{b:,.0f}' for b in got['bare'])})",
        )
        for db, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
            if got[db] is not None:
                rate = got[db]
                report(
                    f"collector ingest into {name}{on}",
                    f"{rate:,.0f} sales/s",
                    f"{rate / base:.0%} of bare",
                )
    if "plain" in found and "tls" in found:
        tls, plain = found["tls"], found["plain"]
        ratio = statistics.mean(tls["bare"]) / statistics.mean(plain["bare"])
        report("bare aiomqtt subscriber, TLS against plain", f"{ratio:.2f}×", "")
        for db, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
            if plain[db] is not None:
                report(
                    f"collector ingest into {name}, TLS against plain",
                    f"{tls[db] / plain[db]:.2f}×",
                    "",
                )
    return found


# -- 2. drain after an outage ---------------------------------------------------------------------


def collector_keys() -> Path:
    """One collector identity for the run: the collectors here, in this process or as a
    process (the variable is inherited), sign with it; returns its public key file, which
    the units are given as `[mqtt] collector_key`."""
    return keystore().secret("signing.pub")


def unit_config(data: Path, device: str, store_id: str, url: str) -> str:
    return f"""
[device]
id = "{device}"
store = "{store_id}"
region = "north"
[paths]
data_dir = "{data}"
[hardware]
printer = "file:{data}/printer.bin"
[mqtt]
url = "{url}"
collector_key = "{collector_keys()}"
"""


@contextlib.contextmanager
def collector_process(db_url: str, url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`collector run` as its own process; yields once it has subscribed."""
    collector_keys()
    out = open(log, "ab")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector", "run", "--db", db_url, "--broker", url],
        cwd=ROOT,
        stdout=out,
        stderr=out,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        deadline = time.monotonic() + 30
        while b"subscribed as" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the collector did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


def outbox_depth(journal: Path) -> int:
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()


def stored_sales(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Sale)) or 0)
    finally:
        engine.dispose()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def drain_once(work: Path, filled: Path, db_url: str, name: str) -> tuple[float, float, float]:
    """(spawn to empty outbox, READY to empty outbox) in seconds, on a fresh broker, and the
    collector's peak RSS in MB (its main process and its ingest worker, added)."""
    data = work / f"drain-{name}"
    shutil.copytree(filled, data)
    broker = Broker(NODELAY_CONF)
    try:
        cfg = work / f"drain-{name}.toml"
        cfg.write_text(unit_config(data, "till-01", "s001", broker.url))
        enrol(db_url, "till-01")  # the collector believes only enrolled units
        n = outbox_depth(data / "journal.db")
        with collector_process(db_url, broker.url, work / f"collector-{name}.log") as collector:
            path = str(work / f"notify-{name}.sock")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(path)
            sock.setblocking(False)
            log = open(work / f"unit-{name}.log", "ab")  # noqa: SIM115 - closed below
            t0 = time.perf_counter()
            unit = subprocess.Popen(
                [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(cfg)],
                cwd=ROOT,
                env=dict(os.environ, NOTIFY_SOCKET=path),
                stdout=log,
                stderr=log,
            )
            ready = None
            try:
                while True:
                    if unit.poll() is not None:
                        raise RuntimeError(f"the unit exited: see {log.name}")
                    if ready is None:
                        with contextlib.suppress(BlockingIOError):
                            if b"READY=1" in sock.recv(4096):
                                ready = time.perf_counter()
                    if outbox_depth(data / "journal.db") == 0:
                        done = time.perf_counter()
                        break
                    if time.perf_counter() - t0 > 600:
                        raise RuntimeError("the outbox did not drain in 600 s")
                    time.sleep(0.05)
            finally:
                unit.terminate()
                unit.wait(15)
                sock.close()
                log.close()
            rss = sum(peak_rss_mb(pid) for pid in [collector.pid, *children(collector.pid)])
        stored = stored_sales(db_url)
        if stored != n:
            raise RuntimeError(f"the collector stored {stored} of {n} sales")
    finally:
        broker.close()
        shutil.rmtree(data, ignore_errors=True)
    return done - t0, done - (ready or t0), rss


def bench_drain(work: Path, report: Report, n: int) -> None:
    filled = work / "drain-filled"
    with Store.open(filled, "till-01") as store:
        t = time.perf_counter()
        fill(store, n, "s001")
        made = time.perf_counter() - t
    report(f"queue {n:,} sales in the outbox (synchronous=OFF)", f"{made:.1f} s", "set-up only")
    total, after_ready, rss = drain_once(work, filled, f"sqlite:///{work}/drain.db", "sqlite")
    report(
        f"drain {n:,} queued sales, collector on SQLite",
        f"{after_ready:.1f} s",
        f"from READY; {total:.1f} s from spawn; {n / after_ready:,.0f} sales/s; "
        f"collector peak RSS {rss:.0f} MB",
    )
    with fresh_database("reporting_bench") as pg_url:
        total, after_ready, rss = drain_once(work, filled, pg_url, "pg")
    report(
        f"drain {n:,} queued sales, collector on PostgreSQL",
        f"{after_ready:.1f} s",
        f"from READY; {total:.1f} s from spawn; {n / after_ready:,.0f} sales/s; "
        f"collector peak RSS {rss:.0f} MB",
    )


# -- 3. sale to collector commit, 50 units --------------------------------------------------------


async def bare_round_trips(url: str, samples: int) -> tuple[list[float], list[float]]:
    """QoS 1 publish → subscriber, and publish → echo (republishes QoS 1) → subscriber."""
    port = port_of(url)

    def client(name: str) -> aiomqtt.Client:
        return aiomqtt.Client(
            "127.0.0.1",
            port,
            identifier=name,
            protocol=aiomqtt.ProtocolVersion.V5,
            socket_options=NODELAY,
        )

    one_hop: list[float] = []
    echoed: list[float] = []
    async with client("rt-dev") as dev, client("rt-echo") as echo:
        await dev.subscribe("bench/rt/back", qos=1)
        await echo.subscribe("bench/rt/out", qos=1)

        async def echo_loop() -> None:
            async for msg in echo.messages:
                await echo.publish("bench/rt/back", msg.payload, qos=1)

        async with client("rt-sub") as sub:
            await sub.subscribe("bench/rt/one", qos=1)
            for i in range(samples):
                t = time.perf_counter()
                await dev.publish("bench/rt/one", str(i).encode(), qos=1)
                await _next(sub, f"bare publish→subscriber {i}")
                one_hop.append(time.perf_counter() - t)
        task = asyncio.create_task(echo_loop())
        for i in range(samples):
            t = time.perf_counter()
            await dev.publish("bench/rt/out", str(i).encode(), qos=1)
            await _next(dev, f"bare publish→echo→subscriber {i}")
            echoed.append(time.perf_counter() - t)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await task
    return one_hop, echoed


async def _next(client: aiomqtt.Client, what: str) -> None:
    # Seen in two full runs (not alone): a bare round trip that never came back stalled
    # the whole bench; fail with where it was instead.
    try:
        await asyncio.wait_for(anext(client.messages), 10)
    except TimeoutError:
        raise RuntimeError(f"{what}: no message in 10 s") from None


class AckClock:
    """Times each sale from `Store.append` returning to the ack covering its seq arriving."""

    def __init__(self) -> None:
        self.pending: dict[int, deque[tuple[int, float]]] = {}
        self.samples: list[float] = []

    def watch(self, index: int, unit: Unit) -> None:
        publisher = unit.publisher
        assert publisher is not None
        self.pending[index] = deque()
        original = publisher.ack

        def ack(upto: int) -> int:
            t = time.perf_counter()
            waiting = self.pending[index]
            while waiting and waiting[0][0] <= upto:
                self.samples.append(t - waiting.popleft()[1])
            return original(upto)

        publisher.ack = ack  # type: ignore[method-assign]  # bench only: time the ack

    def sold(self, index: int, seq: int, t: float) -> None:
        self.pending[index].append((seq, t))

    def outstanding(self) -> int:
        return sum(len(q) for q in self.pending.values())


def devices_with_keys(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            found = conn.scalar(
                select(func.count()).select_from(Device).where(Device.public_key.is_not(None))
            )
            return int(found or 0)
    finally:
        engine.dispose()


async def run_units(
    cfgs: list[str], db_url: str, rate: float, seconds: float, seed: int
) -> tuple[list[float], int, float]:
    """Opens the units, sells, returns (latencies, sales, seconds it took to sell them)."""
    clock = AckClock()
    rng = random.Random(seed)
    async with contextlib.AsyncExitStack() as stack:
        units: list[Unit] = []
        for text in cfgs:
            units.append(
                await stack.enter_async_context(open_unit(parse_config(text), simulate=True))
            )
        for i, unit in enumerate(units):
            clock.watch(i, unit)
        await _until(
            lambda: all(u.mqtt is not None and u.mqtt.connected for u in units),
            60,
            "every unit to connect",
            0.05,
        )
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(devices_with_keys, db_url) < len(units):
            if time.monotonic() > deadline:
                raise RuntimeError("the collector did not register every unit's key")
            await asyncio.sleep(0.2)

        def sell(i: int) -> None:
            unit = units[i]
            draft = draft_for(rng.randrange(10**9), unit.cfg.device.id, unit.cfg.device.store)
            # As the controller commits: append on the loop, then wake the publisher.
            record = unit.store.append(draft, print_receipt=False)
            clock.sold(i, record.seq, time.perf_counter())
            assert unit.publisher is not None
            unit.publisher.wake()

        for i in range(len(units)):  # warm-up: one acked sale each, not counted
            sell(i)
        await _until(lambda: clock.outstanding() == 0, 60, "the warm-up acks", 0.01)
        clock.samples.clear()
        sales = int(rate * seconds)
        start = time.perf_counter()
        due = start
        for _ in range(sales):
            due += rng.expovariate(rate)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sell(rng.randrange(len(units)))
        took = time.perf_counter() - start
        await _until(lambda: clock.outstanding() == 0, 60, "the last acks", 0.01)
    return clock.samples, sales, took


def bench_latency(work: Path, report: Report, units: int, rate: float, seconds: float) -> None:
    runs = (
        ("nodelay", NODELAY_CONF, (("SQLite", _sqlite_db), ("PostgreSQL", _pg_db))),
        ("stock", "", (("SQLite", _sqlite_db),)),
    )
    for label, conf, databases in runs:
        broker = Broker(conf)
        where = "set_tcp_nodelay" if conf else "stock Mosquitto config"
        try:
            one_hop, echoed = asyncio.run(bare_round_trips(broker.url, 1000))
            report(f"bare QoS 1 publish→subscriber p99, {where}", ms(p99(one_hop)), "baseline")
            report(f"bare QoS 1 publish→echo→subscriber p99, {where}", ms(p99(echoed)), "baseline")
            for name, make_db in databases:
                with make_db(work / f"latency-{label}.db") as db_url:
                    cfgs, enrolled = [], []
                    for i in range(units):
                        # Ids of their own per run: the broker keeps the last run's
                        # retained births, whose keys these new units do not hold.
                        device = f"till-{label[0]}{name[0].lower()}{i + 1:02d}"
                        store_id = f"s{i // 2 + 1:03d}"
                        data = work / f"lat-{label}-{name}" / device
                        cfgs.append(unit_config(data, device, store_id, broker.url))
                        enrolled.append((device, store_id))
                    enrol(db_url, *enrolled)
                    log = work / f"collector-lat-{label}-{name}.log"
                    with collector_process(db_url, broker.url, log):
                        samples, sales, took = asyncio.run(
                            run_units(cfgs, db_url, rate, seconds, seed=units)
                        )
                p50 = statistics.median(samples)
                what = f"{units} units, {sales / took:.1f} sales/s, {name}, {where}"
                report(
                    f"sale→collector ack p50, {what}",
                    ms(p50),
                    f"{p50 / statistics.median(echoed):.1f}× bare echo p50",
                )
                report(
                    f"sale→collector ack p99, {what}",
                    ms(p99(samples)),
                    f"{p99(samples) / p99(echoed):.1f}× bare echo p99; {len(samples)} sales; "
                    f"max {ms(max(samples))}",
                )
        finally:
            broker.close()


@contextlib.contextmanager
def _sqlite_db(path: Path) -> Iterator[str]:
    yield f"sqlite:///{path}"


@contextlib.contextmanager
def _pg_db(_path: Path) -> Iterator[str]:
    with fresh_database("reporting_bench") as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench reporting", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, to try the bench out")
    p.add_argument("--only", default="ingest,drain,latency")
    p.add_argument(
        "--broker",
        type=broker_kinds,
        default=["plain"],
        help="the ingest's broker: plain, tls or plain,tls (one after the other); default plain",
    )
    args = p.parse_args(argv)
    parts = set(args.only.split(","))
    if args.broker != ["plain"] and parts & {"drain", "latency"}:
        p.error("--broker: only the ingest part runs on TLS so far; add --only ingest")
    rows: list[tuple[str, str, str]] = []

    def report(what: str, value: str, note: str) -> None:
        rows.append((what, value, note))
        print(f"{what:<62} {value:>14}  {note}", flush=True)

    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reporting-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        if "ingest" in parts:
            bench_ingest(work, report, 2_000 if args.quick else 20_000, args.broker)
        if "drain" in parts:
            bench_drain(work, report, 5_000 if args.quick else 100_000)
        if "latency" in parts:
            bench_latency(work, report, 50, 20.0, 5.0 if args.quick else 30.0)
    out = ROOT / "bench" / "results" / "reporting.json"
    out.write_text(json.dumps({"when": datetime.now(UTC).isoformat(), "rows": rows}, indent=1))
    print(f"\nwritten {out}")
    return 0
