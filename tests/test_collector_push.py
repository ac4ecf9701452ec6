"""`collector push` with real processes: a `collector run` that has seen two units report,
the units as `appliance run`, and `collector push` as an operator runs it."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.day import demo_catalog_text
from tests.broker import Broker
from tests.conftest import ROOT, config_text, run_cli
from tests.records import enrol
from tests.test_collector_run import start
from tests.waiting import until

UNITS = (("till-01", "s001"), ("till-02", "s002"))


def collector_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def price(data: Path, sku: str) -> int:
    conn = sqlite3.connect(data / "journal.db")
    try:
        return int(conn.execute("SELECT price FROM catalog WHERE sku = ?", (sku,)).fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def fleet(broker: Broker, tmp_path: Path) -> Iterator[dict[str, object]]:
    db = f"sqlite:///{tmp_path}/collector.db"
    enrol(db, *UNITS)
    collector = start(db, broker, tmp_path / "collector.log")
    units: dict[str, subprocess.Popen[bytes]] = {}
    data: dict[str, Path] = {}
    try:
        for device, store in UNITS:
            home = tmp_path / device
            home.mkdir()
            extra = f'[mqtt]\nurl = "{broker.url}"\n'
            text = config_text(home / "data", extra)
            text = text.replace('id = "till-01"', f'id = "{device}"')
            text = text.replace('store = "s001"', f'store = "{store}"')
            cfg = home / "appliance.toml"
            cfg.write_text(text)
            (home / "catalog.csv").write_text(demo_catalog_text())
            r = run_cli("catalog", "import", "--config", str(cfg), str(home / "catalog.csv"))
            assert r.returncode == 0, r.stderr
            units[device] = subprocess.Popen(
                [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(cfg)],
                cwd=ROOT,
                stderr=(home / "unit.log").open("ab"),
            )
            data[device] = home / "data"

        def known() -> bool:
            r = collector_cli("fleet", "status", "--db", db, "--json")
            return r.returncode == 0 and len(json.loads(r.stdout or "[]")) == len(UNITS)

        asyncio.run(until(known, "both units known to the collector", 60))
        yield {"db": db, "units": units, "data": data, "tmp": tmp_path}
    finally:
        for p in (*units.values(), collector):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)


def push(fleet: dict[str, object], broker: Broker, *args: str) -> subprocess.CompletedProcess[str]:
    return collector_cli("push", *args, "--db", str(fleet["db"]), "--broker", broker.url)


def test_a_push_is_signed_reaches_whom_it_names_and_reports_each_unit(
    fleet: dict[str, object], broker: Broker
) -> None:
    tmp = fleet["tmp"]
    data = fleet["data"]
    assert isinstance(tmp, Path) and isinstance(data, dict)
    prices = tmp / "prices.csv"
    prices.write_text("sku,price\nA1,0.99\n")
    r = push(fleet, broker, "prices", "--store", "s001", str(prices))
    assert (r.returncode, r.stdout.strip()) == (0, "till-01: ok"), r.stderr
    assert price(data["till-01"], "A1") == 99 and price(data["till-02"], "A1") == 145
    stock = tmp / "stock.csv"
    stock.write_text("sku,stock\nA1,7\nB1,-2\n")
    r = push(fleet, broker, "stock", "--fleet", "--json", str(stock))
    assert r.returncode == 0, r.stderr
    assert [json.loads(x) for x in r.stdout.splitlines()] == [
        {"device": "till-01", "ok": True, "error": None},
        {"device": "till-02", "ok": True, "error": None},
    ]
    patch = tmp / "patch.toml"
    patch.write_text('[store]\nname = "Épicerie Nouvelle"\n')
    r = push(fleet, broker, "config", "--device", "till-02", str(patch))
    assert (r.returncode, r.stdout.strip()) == (0, "till-02: ok"), r.stderr
    cfg = Path(str(data["till-02"])).parent / "appliance.toml"
    assert 'name = "Épicerie Nouvelle"' in cfg.read_text()
    # A unit that refuses says why, and the push exits 1.
    patch.write_text('[device]\nid = "till-99"\n')
    r = push(fleet, broker, "config", "--device", "till-01", str(patch))
    assert r.returncode == 1 and r.stdout.startswith("till-01: config: section [device]"), r


def test_a_push_nobody_answers_or_that_cannot_be_made(
    fleet: dict[str, object], broker: Broker
) -> None:
    tmp = fleet["tmp"]
    units = fleet["units"]
    assert isinstance(tmp, Path) and isinstance(units, dict)
    prices = tmp / "prices.csv"
    prices.write_text("sku,price\nA1,0.99\n")
    for args, why in (
        (("prices", "--device", "nope", str(prices)), "no device nope known"),
        (("prices", "--fleet", str(tmp / "none.csv")), "none.csv"),
        (("prices", "--fleet", str(tmp / "bad.csv")), "bad.csv:2: price"),
        (("catalog", "--fleet", str(prices)), "prices.csv:1"),
        (("config", "--fleet", str(prices)), "not valid TOML"),
    ):
        (tmp / "bad.csv").write_text("sku,price\nA1,1x\n")
        r = push(fleet, broker, *args)
        assert r.returncode == 2, (args, r)
        assert len(r.stderr.strip().splitlines()) == 1 and why in r.stderr, (args, r.stderr)
    units["till-01"].terminate()
    units["till-01"].wait(15)
    r = push(fleet, broker, "prices", "--fleet", "--wait", "3", str(prices))
    assert r.returncode == 1, r
    assert r.stdout.splitlines() == ["till-01: no answer within 3 s", "till-02: ok"]
