"""The kiosk against the real thing: a Mosquitto, `collector run` (a process, SQLite), a
till outlet driven by `appliance replay`, and a unit with the kiosk screen under its own
Xvfb, in a process of its own, whose `LoyaltyAuthoriser` asks the collector over MQTT.

A card with points shows its balance, the purchase made at the till and a lot about to
expire; a customer who joins at the kiosk is in the collector (sealed) and their new card
earns at the till.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.config import load_config
from appliance.loyalty import authoriser
from appliance.loyalty.customers import Enrolment
from appliance.service import open_unit
from collector.db import open_database
from collector.loyalty.ledger import Ledger
from collector.loyalty.rules import add_months
from protocol.cards import make_loyalty_card
from tests.broker import Broker
from tests.conftest import ROOT, config_text
from tests.records import enrol
from tests.test_display_screens import screens_running
from tests.test_till_loyalty import (
    Collector,
    collector_cli,
    journal,
    outlet,
    replay,
    sale_events,
)

CARD = make_loyalty_card("00000001", 0)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Broker, collector with Anna (account 1) imported and 150 points of hers earned 24
    months less 10 days ago (so they expire in 10 days), and a purchase of hers at s001."""
    broker = Broker()
    db = tmp_path / "collector.db"
    url = f"sqlite:///{db}"
    (tmp_path / "customers.csv").write_text(
        "account,surname,first_names\n00000001,Berg,Anna Lena\n"
    )
    r = collector_cli("customers", "import", "--db", url, str(tmp_path / "customers.csv"))
    assert r.returncode == 0, r.stderr
    then = add_months(dt.datetime.now(dt.UTC), -24) + dt.timedelta(days=10)
    engine = open_database(url)
    enrol(engine, "till-01", "kiosk-01")
    enrol(engine, ("probe", "s009"), keys=True)
    Ledger(engine, clock=lambda: then).earn("00000001", 150, "seed:old", source="migration")
    engine.dispose()
    collector = Collector(url, broker, tmp_path / "collector.log")
    try:
        collector.start()
        till = outlet(tmp_path, broker, "s001", "till-01")
        [sale] = replay(till, sale_events(CARD, 10))  # 10 × 1.45: 14 points
        assert sale["total"] == 1450
        yield {
            "broker": broker,
            "db": db,
            "url": url,
            "till": till,
            "tmp": tmp_path,
            "collector": collector,
        }
    finally:
        collector.stop()
        broker.close()


async def kiosk_session(config: str) -> dict[str, list[str]]:
    """In the child: its own Xvfb, a unit with the kiosk; a card scanned, the time-out, an
    enrolment. What the screen showed after each step."""
    from appliance.display.xvfb import Xvfb

    seen: dict[str, list[str]] = {}
    with Xvfb(800, 480) as x:
        os.environ["DISPLAY"] = x.display
        async with screens_running(load_config(config), ["kiosk"]) as h:
            await h.scan(CARD)
            seen["card"] = h.shown()
            h.now += 31
            h.screens.tick()
            await h.settle()
            seen["timed out"] = h.shown()
            await h.press("No card yet?")
            kiosk = h.screens.kiosk
            kiosk.fields["first_names"].text = "Zoé"
            kiosk.fields["surname"].text = "Lefèvre"
            kiosk.fields["email"].text = "zoe@example.org"
            kiosk.ticks["terms"].active = True
            kiosk.ticks["consent"].active = True
            await h.press("Join")
            seen["enrolled"] = h.shown()
    return seen


def run_kiosk(config: Path) -> dict[str, list[str]]:
    """`kiosk_session` in a process of its own: Kivy keeps one window per process, bound
    to the X server it first opened, and test_display_screens has its own."""
    code = (
        "import asyncio, json, sys\n"
        "from tests.test_kiosk_process import kiosk_session\n"
        "print(json.dumps(asyncio.run(kiosk_session(sys.argv[1]))))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(config)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    result: dict[str, list[str]] = json.loads(r.stdout.splitlines()[-1])
    return result


def test_kiosk_shows_the_collectors_summary_and_enrols(world: dict[str, Any]) -> None:
    broker: Broker = world["broker"]
    extra = f'[mqtt]\nurl = "{broker.url}"\n[display]\nscreens = ["kiosk"]\nkiosk_timeout = 30.0\n'
    home = world["tmp"] / "kiosk"
    home.mkdir()
    text = config_text(home / "data", extra).replace('id = "till-01"', 'id = "kiosk-01"')
    (home / "appliance.toml").write_text(text)
    seen = run_kiosk(home / "appliance.toml")

    today = dt.datetime.now(dt.UTC).date().isoformat()
    expiry = add_months(dt.datetime.now(dt.UTC), -24) + dt.timedelta(days=10)
    shown = seen["card"]
    assert "Hello Anna" in shown, shown
    assert "164 points" in shown  # 150 + 14
    assert f"{today}   s001   €14.50   +14 pts" in shown
    assert f"150 points expire on {add_months(expiry, 24).date().isoformat()}" in shown
    assert "A free hot drink: 86 more points" in shown  # the collector's default list
    assert "A breakfast box: 436 more points" in shown
    # Gone after the time-out: nothing of Anna's for the next person.
    assert "Scan your loyalty card" in seen["timed out"]
    assert not any("Anna" in t or "164" in t for t in seen["timed out"])
    new_card = make_loyalty_card("00000002", 0)
    message = " ".join(seen["enrolled"])
    assert "Welcome, Zoé! Your account is 00000002." in message, message
    assert f"Your card number is {new_card}" in message

    # The collector has her, sealed at rest, with the consent and where it was given.
    with sqlite3.connect(world["db"]) as conn:
        sealed = conn.execute("SELECT sealed FROM customers WHERE account = '00000002'").fetchone()
    assert sealed is not None and b"Lef" not in sealed[0] and b"zoe@" not in sealed[0]
    r = collector_cli("customers", "show", "--db", world["url"], "00000002", "--json")
    assert r.returncode == 0, r.stderr
    shown_json = json.loads(r.stdout)
    assert (shown_json["surname"], shown_json["first_names"]) == ("Lefèvre", "Zoé")
    assert [(c["channel"], c["granted"], c["source"]) for c in shown_json["consents"]] == [
        ("email", True, "kiosk:kiosk-01")
    ]
    assert [c["code"] for c in shown_json["cards"]] == [new_card]

    # Her new card earns at the till, online.
    [sale] = replay(world["till"], sale_events(new_card, 2))
    record = next(r for r in journal(world["till"]) if r["sale_id"] == sale["sale_id"])
    assert record["loyalty"] == {
        "account": "00000002",
        "earned": 2,
        "redeemed": 0,
        "balance": 2,
        "offline": False,
    }


async def test_an_enrolment_the_kiosk_gave_up_on_is_not_made_twice(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector stalls (SIGSTOP) while a customer joins: the kiosk gives up and asks
    them to try again. The collector wakes and makes the account. The same details sent
    again are the same request: that account comes back, not a second one. Other details
    are a new customer."""
    monkeypatch.setattr(authoriser, "ENROL_TIMEOUT", 1.5)
    proc = world["collector"].proc
    extra = f'[mqtt]\nurl = "{world["broker"].url}"\n'
    home = world["tmp"] / "kiosk"
    home.mkdir()
    text = config_text(home / "data", extra).replace('id = "till-01"', 'id = "kiosk-01"')
    (home / "appliance.toml").write_text(text)
    cfg = load_config(home / "appliance.toml")
    cfg.loyalty.timeout = 1.0
    zoe = Enrolment("Zoé", "Lefèvre", "zoe@example.org", consent=True, terms_accepted=True)
    async with open_unit(cfg, simulate=True) as unit:
        assert await unit.scanner_connected()  # the service is up, its link too
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            first = await unit.loyalty.enrol(zoe)
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert not first.ok and "try again" in first.message
        # Woken, the collector answers the request it was sent (too late for the kiosk).
        deadline = time.monotonic() + 30
        while customers(world["db"]) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert customers(world["db"]) == 2  # Anna, and Zoé once
        again = await unit.loyalty.enrol(zoe)
        assert again.ok and again.account == "00000002", again
        assert customers(world["db"]) == 2
        other = await unit.loyalty.enrol(
            Enrolment("Zoé", "Lefèvre", "zoe.l@example.org", terms_accepted=True)
        )
        assert other.ok and other.account == "00000003"


def customers(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM customers").fetchone()[0])
