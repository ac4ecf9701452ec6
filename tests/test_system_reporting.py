"""Nothing lost, nothing twice: real appliance, collector and broker processes through
outages. The collector ends with exactly the unit's journal in every case."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.config import load_config
from appliance.store import Store
from protocol.record import Draft, convert
from tests.broker import Broker
from tests.conftest import ROOT, config_text, run_cli
from tests.procs import children, running
from tests.records import enrol


def spawn(*args: str, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - lives with the process
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=out,
        stderr=out,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def collector_ids(db: Path) -> list[str]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    try:
        return [row[0] for row in conn.execute("SELECT sale_id FROM sales")]
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()


def journal_ids(cfg_path: Path) -> list[str]:
    out = run_cli("journal", "export", "--config", str(cfg_path))
    assert out.returncode == 0, out.stderr
    return [json.loads(line)["sale_id"] for line in out.stdout.splitlines()]


def wait_until_equal(db: Path, cfg_path: Path, timeout: float) -> None:
    want = sorted(journal_ids(cfg_path))
    deadline = time.monotonic() + timeout
    got: list[str] = []
    while time.monotonic() < deadline:
        got = collector_ids(db)
        if len(got) >= len(want):
            break
        time.sleep(0.25)
    assert len(got) == len(set(got)), "a sale is in the collector twice"
    assert sorted(got) == want, f"collector has {len(got)} of {len(want)} sales"


@pytest.fixture
def unit(tmp_path: Path, broker: Broker) -> Iterator[Path]:
    """A unit's config reporting to the test broker, with the demo catalog."""
    cfg = tmp_path / "appliance.toml"
    cfg.write_text(config_text(tmp_path / "data", extra=f'[mqtt]\nurl = "{broker.url}"\n'))
    from demo.day import demo_catalog_text

    (tmp_path / "catalog.csv").write_text(demo_catalog_text())
    r = run_cli("catalog", "import", "--config", str(cfg), str(tmp_path / "catalog.csv"))
    assert r.returncode == 0, r.stderr
    yield cfg


def fill_journal(cfg_path: Path, n: int) -> None:
    """n real, signed sales committed by the unit's own store (the till is offline)."""
    cfg = load_config(cfg_path)
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        for i in range(n):
            total = 100 + i % 900
            store.append(
                convert(
                    {
                        "schema": 1,
                        "sale_id": str(uuid.uuid4()),
                        "kind": "sale",
                        "device": cfg.device.id,
                        "store": cfg.device.store,
                        "region": cfg.device.region,
                        "staff": "ana",
                        "ts": datetime.now(UTC).isoformat(timespec="milliseconds")[:23] + "Z",
                        "currency": "EUR",
                        "lines": [
                            {
                                "sku": "B1",
                                "barcode": "3760123450010",
                                "name": "Baguette",
                                "qty": 1,
                                "unit_price": total,
                                "discount": 0,
                                "total": total,
                                "tax_rate": "5.5",
                            }
                        ],
                        "total": total,
                        "tax": [{"rate": "5.5", "base": total - 5, "tax": 5}],
                        "tenders": [{"type": "card", "amount": total}],
                        "change": 0,
                        "loyalty": None,
                        "refund_of": None,
                        "rounding": 0,
                    },
                    Draft,
                ),
                print_receipt=False,
            )


def scenario(path: Path, sales: int, seed: int) -> Path:
    rng = random.Random(seed)
    events: list[dict[str, object]] = [{"op": "login", "staff": "ana"}]
    for n in range(sales):
        for _ in range(rng.randint(1, 3)):
            events.append({"op": "key", "sku": rng.choice(["A1", "B1", "D1", "W2"]), "qty": 1})
        events.append({"op": "tender", "type": "card", "ref": f"T{n}"})
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return path


def test_collector_killed_mid_ingest(unit: Path, broker: Broker, tmp_path: Path) -> None:
    """SIGKILL for the collector's main process, three times while it ingests a 4,000-sale
    backlog: its ingest worker, orphaned, finishes at most what it held and exits; the
    next collector takes over and ends with exactly the journal."""
    fill_journal(unit, 4000)
    db = tmp_path / "collector.db"
    enrol(f"sqlite:///{db}", "till-01")
    appliance = spawn(
        "appliance", "run", "--simulate", "--config", str(unit), log=tmp_path / "a.log"
    )
    try:
        for _ in range(3):
            collector = spawn(
                "collector",
                "run",
                "--db",
                f"sqlite:///{db}",
                "--broker",
                broker.url,
                log=tmp_path / "c.log",
            )
            # Let it get into the middle of ingesting, then pull the plug.
            deadline = time.monotonic() + 30
            start = len(collector_ids(db))
            while time.monotonic() < deadline and len(collector_ids(db)) < start + 100:
                time.sleep(0.02)
            time.sleep(random.uniform(0, 0.05))
            workers = children(collector.pid)
            collector.kill()
            collector.wait()
            assert workers, "no ingest worker process under the collector"
            deadline = time.monotonic() + 10
            while any(running(w) for w in workers) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not any(running(w) for w in workers), "the orphaned worker lives on"
            assert len(collector_ids(db)) < 4000, "too late: the kill was not mid-ingest"
        collector = spawn(
            "collector",
            "run",
            "--db",
            f"sqlite:///{db}",
            "--broker",
            broker.url,
            log=tmp_path / "c.log",
        )
        try:
            wait_until_equal(db, unit, timeout=120)
        finally:
            stop(collector)
    finally:
        stop(appliance)


def test_broker_restarted_while_selling(unit: Path, broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "collector.db"
    enrol(f"sqlite:///{db}", "till-01")
    collector = spawn(
        "collector",
        "run",
        "--db",
        f"sqlite:///{db}",
        "--broker",
        broker.url,
        log=tmp_path / "c.log",
    )
    try:
        scen = scenario(tmp_path / "day.jsonl", 300, seed=4)
        replay = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "appliance",
                "replay",
                "--config",
                str(unit),
                "--drain",
                "60",
                str(scen),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(2.0)
        broker.stop()  # the broker goes away mid-day ...
        time.sleep(2.0)
        broker.start()  # ... and comes back on the same port
        out, _ = replay.communicate(timeout=180)
        assert replay.returncode == 0
        reported = [json.loads(x)["sale_id"] for x in out.decode().splitlines() if "sale_id" in x]
        assert len(reported) == 300
        wait_until_equal(db, unit, timeout=60)
        assert collector.poll() is None, "the collector gave up on the broker"
    finally:
        stop(collector)


def test_unit_offline_for_10000_sales_then_back(unit: Path, broker: Broker, tmp_path: Path) -> None:
    # The unit sold 10,000 times with no way out: everything waits in its outbox.
    fill_journal(unit, 10_000)
    db = tmp_path / "collector.db"
    enrol(f"sqlite:///{db}", "till-01")
    collector = spawn(
        "collector",
        "run",
        "--db",
        f"sqlite:///{db}",
        "--broker",
        broker.url,
        log=tmp_path / "c.log",
    )
    appliance = spawn(
        "appliance", "run", "--simulate", "--config", str(unit), log=tmp_path / "a.log"
    )
    try:
        wait_until_equal(db, unit, timeout=240)
        cfg = load_config(unit)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Store.open(cfg.data_dir, cfg.device.id) as store:
                if store.outbox.depth() == 0:
                    break
            time.sleep(0.2)
        with Store.open(cfg.data_dir, cfg.device.id) as store:
            assert store.outbox.depth() == 0, "the unit never saw the collector's ack"
    finally:
        stop(appliance)
        stop(collector)
