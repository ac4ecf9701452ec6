"""Loyalty at the till, with real processes: a Mosquitto, `collector run` on SQLite (and
one race on PostgreSQL), and two outlets (s001/till-01, s002/till-02) driven by
`appliance replay`, cards read through the simulated serial scanner.

Earn in one outlet and redeem in the other; over-redeem refused; a refund reverses;
duplicated records and retried requests never count twice; two tills redeeming the same
points at once, exactly one succeeds; offline earn settled later; offline redeem capped.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from msgspec import convert

from appliance.config import load_config
from appliance.replay import scan_through_scanner
from appliance.service import open_unit
from demo.day import demo_catalog_text
from protocol.cards import make_loyalty_card
from protocol.messages import LoyaltyRequest, LoyaltyResponse
from tests.broker import Broker
from tests.conftest import ROOT, config_text, run_cli
from tests.pg import fresh_database
from tests.records import enrol, seal_as
from tests.signed import unseal

MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
COLLECTOR_ENV = dict(os.environ, PYTHONUNBUFFERED="1", COLLECTOR_MASTER_KEY=MASTER_KEY)
OFFLINE_CAP = 100


# -- the processes --------------------------------------------------------------------------


def outlet(tmp_path: Path, broker: Broker, store: str, device: str) -> Path:
    """A unit's config (its own data dir) reporting to the broker, with the demo catalog."""
    home = tmp_path / device
    home.mkdir()
    text = config_text(home / "data", extra=f'[mqtt]\nurl = "{broker.url}"\n')
    text = text.replace('id = "till-01"', f'id = "{device}"')
    text = text.replace('store = "s001"', f'store = "{store}"')
    text = text.replace("offline_redeem_cap = 100", f"offline_redeem_cap = {OFFLINE_CAP}")
    cfg = home / "appliance.toml"
    cfg.write_text(text)
    (home / "catalog.csv").write_text(demo_catalog_text())
    r = run_cli("catalog", "import", "--config", str(cfg), str(home / "catalog.csv"))
    assert r.returncode == 0, r.stderr
    return cfg


def start_replay(
    cfg: Path, events: list[dict[str, Any]], drain: float = 10
) -> subprocess.Popen[str]:
    scenario = cfg.parent / f"scenario-{uuid.uuid4().hex[:8]}.jsonl"
    scenario.write_text("".join(json.dumps(e) + "\n" for e in events))
    args = ["replay", "--config", str(cfg), "--drain", str(drain), str(scenario)]
    return subprocess.Popen(
        [sys.executable, "-m", "appliance", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def replay(cfg: Path, events: list[dict[str, Any]], drain: float = 10) -> list[dict[str, Any]]:
    """`appliance replay` as a process; its JSON lines (sales and rejections)."""
    return finish(start_replay(cfg, events, drain))


def journal(cfg: Path) -> list[dict[str, Any]]:
    r = run_cli("journal", "export", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def receipt_text(cfg: Path, receipt_no: str) -> str:
    return (cfg.parent / "data" / "receipts" / f"{receipt_no}.txt").read_text()


def collector_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        cwd=ROOT,
        env=COLLECTOR_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )


class Collector:
    """`collector run` as a process; `start()` returns once it answers loyalty requests."""

    def __init__(self, db_url: str, broker: Broker, log: Path) -> None:
        self.db_url, self.broker, self.log = db_url, broker, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "collector",
                "run",
                "--db",
                self.db_url,
                "--broker",
                self.broker.url,
            ],
            cwd=ROOT,
            env=COLLECTOR_ENV,
            stdout=out,
            stderr=out,
        )
        ask(self.broker, "00000000", "balance", patience=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def ask(
    broker: Broker,
    account: str,
    op: str,
    *,
    corr: str | None = None,
    sends: int = 1,
    patience: float = 10,
    **fields: Any,
) -> list[LoyaltyResponse]:
    """A loyalty request from a test device (`sends` times with the same corr), as a till
    sends it; the responses. With a long `patience` it also waits for a collector to come."""

    if op in ("balance", "summary", "reserve"):
        fields.setdefault("card", make_loyalty_card(account, 0))  # requests name the card

    async def run() -> list[LoyaltyResponse]:
        topic = "pos/v1/s009/probe/loyalty/"
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier=uuid.uuid4().hex) as c:
            await c.subscribe(topic + "response", qos=1)
            request = LoyaltyRequest(
                corr=corr or uuid.uuid4().hex,
                op=op,  # type: ignore[arg-type]
                account=account,
                **fields,
            )
            got: list[LoyaltyResponse] = []
            async with asyncio.timeout(patience):
                while len(got) < sends:
                    for _ in range(sends - len(got)):
                        await c.publish(
                            topic + "request", seal_as("probe", topic + "request", request), qos=1
                        )
                    try:
                        async with asyncio.timeout(1.0):
                            async for msg in c.messages:
                                body = unseal(msg.payload, str(msg.topic))  # type: ignore[arg-type]
                                got.append(convert(body, LoyaltyResponse))
                                if len(got) == sends:
                                    break
                    except TimeoutError:
                        continue  # nobody answered yet: the collector is starting
            return got

    return asyncio.run(run())


def stored_balance(db: Path, account: str) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT balance FROM loyalty_accounts WHERE account = ?", (account,)
        ).fetchone()
    return int(row[0]) if row else 0


def sale_events(card: str | None, items: int, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Log in, (card,) `items` × A1 (1.45 each), extra events, pay the rest by card."""
    events: list[dict[str, Any]] = [{"op": "login", "staff": "ana"}]
    if card:
        events.append({"op": "scan", "code": card})
    events.append({"op": "key", "sku": "A1", "qty": items})
    events.extend(extra)
    events.append({"op": "tender", "type": "card", "ref": f"T-{uuid.uuid4().hex[:6]}"})
    return events


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One broker, one collector on SQLite, customers imported, and two outlets."""
    tmp = tmp_path_factory.mktemp("till-loyalty")
    broker = Broker()
    db = tmp / "collector.db"
    customers = tmp / "customers.csv"
    customers.write_text(
        "account,surname,first_names\n"
        + "".join(f"{n:08d},Doe,Jane{n} Ann\n" for n in range(1, 10))
    )
    r = collector_cli("customers", "import", "--db", f"sqlite:///{db}", str(customers))
    assert r.returncode == 0, r.stderr
    enrol(f"sqlite:///{db}", ("till-01", "s001"), ("till-02", "s002"))
    enrol(f"sqlite:///{db}", ("probe", "s009"), keys=True)
    collector = Collector(f"sqlite:///{db}", broker, tmp / "collector.log")
    try:
        collector.start()
        yield {
            "broker": broker,
            "db": db,
            "collector": collector,
            "north": outlet(tmp, broker, "s001", "till-01"),
            "south": outlet(tmp, broker, "s002", "till-02"),
        }
    finally:
        collector.stop()
        broker.close()


def loyalty_of(records: list[dict[str, Any]], sale_id: str) -> dict[str, Any]:
    record = next(r for r in records if r["sale_id"] == sale_id)
    return dict(record["loyalty"])


# -- the tests -------------------------------------------------------------------------------


def test_earn_in_one_outlet_redeem_in_another_then_refund(world: dict[str, Any]) -> None:
    north, south, db = world["north"], world["south"], world["db"]
    card = make_loyalty_card("00000001", 0)
    # 100 × 1.45 = 145.00 paid in s001: 145 points.
    [sale] = replay(north, sale_events(card, 100))
    part = loyalty_of(journal(north), sale["sale_id"])
    assert part == {
        "account": "00000001",
        "earned": 145,
        "redeemed": 0,
        "balance": 145,
        "offline": False,
    }
    assert stored_balance(db, "00000001") == 145
    assert "Points balance" in receipt_text(north, sale["receipt_no"])

    # In s002: more than the card holds is refused, 100 points go through with a hold.
    out = replay(
        south,
        sale_events(card, 10, {"op": "redeem", "points": 200}, {"op": "redeem", "points": 100}),
    )
    assert out[0] == {"rejected": "redeem", "reason": "the card has 145 points, not 200"}
    sale = out[1]
    part = loyalty_of(journal(south), sale["sale_id"])
    # 14.50 less 1.00 in points = 13.50 paid: 13 points; 145 - 100 + 13 = 58.
    assert part["redeemed"] == 100 and part["earned"] == 13 and part["balance"] == 58
    assert part["offline"] is False and part["reservation"]
    assert stored_balance(db, "00000001") == 58, "till and collector disagree"
    text = receipt_text(south, sale["receipt_no"])
    for row in (r"Points earned +13", r"Points redeemed +100", r"Points balance +58"):
        assert re.search(row, text), row

    # A full refund in s002 takes the 13 back and gives the 100 back.
    [refund] = replay(
        south,
        [
            {"op": "login", "staff": "ana"},
            {"op": "refund", "receipt_no": sale["receipt_no"], "lines": [1]},
        ],
    )
    rpart = loyalty_of(journal(south), refund["sale_id"])
    assert rpart["earned"] == -13 and rpart["redeemed"] == -100
    assert stored_balance(db, "00000001") == 145
    shown = collector_cli("customers", "show", "--db", f"sqlite:///{db}", "00000001", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["points"] == 145


def test_a_blocked_card_is_refused_at_the_till(world: dict[str, Any]) -> None:
    r = collector_cli("customers", "card", "--db", f"sqlite:///{world['db']}", "00000005")
    assert r.returncode == 0, r.stderr
    new_card = r.stdout.strip()
    old_card = make_loyalty_card("00000005", 0)
    out = replay(world["north"], sale_events(old_card, 1))
    assert out[0]["rejected"] == "scan" and "blocked" in out[0]["reason"]
    [sale] = replay(world["north"], sale_events(new_card, 1))
    assert loyalty_of(journal(world["north"]), sale["sale_id"])["offline"] is False


def test_duplicates_and_retries_never_count_twice(world: dict[str, Any]) -> None:
    broker, db, north = world["broker"], world["db"], world["north"]
    card = make_loyalty_card("00000002", 0)
    replay(north, sale_events(card, 200))  # 290 points
    assert stored_balance(db, "00000002") == 290

    # Every record of the till published again, twice over: the balance stays. The next
    # sale's record comes after them on the same subscription, so once it is acknowledged
    # they have all been seen.
    async def republish(records: list[dict[str, Any]]) -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="dup") as c:
            for rec in records + records:
                await c.publish("pos/v1/s001/till-01/sales", json.dumps(rec), qos=1)

    asyncio.run(republish(journal(north)))
    replay(north, sale_events(card, 1))  # 1.45: 1 point
    assert stored_balance(db, "00000002") == 291

    # A reserve sent three times with one corr is one hold.
    corr = uuid.uuid4().hex
    answers = ask(broker, "00000002", "reserve", corr=corr, sends=3, points=100, sale_id="x")
    assert len({a.reservation for a in answers}) == 1 and all(a.ok for a in answers)
    [left] = ask(broker, "00000002", "balance")
    assert left.balance == 191
    [released] = ask(broker, "00000002", "release", reservation=answers[0].reservation)
    assert released.balance == 291


def test_two_tills_redeeming_the_same_points_exactly_one_succeeds(world: dict[str, Any]) -> None:
    north, south = world["north"], world["south"]
    card = make_loyalty_card("00000003", 0)
    replay(north, sale_events(card, 100))  # 145 points
    # 20 × 1.45 = 29.00 in each outlet at once, each redeeming all 145 points.
    spend = sale_events(card, 20, {"op": "redeem", "points": 145})
    outs = [finish(p) for p in [start_replay(north, spend), start_replay(south, spend)]]
    rejected = [line for out in outs for line in out if "rejected" in line]
    # The loser saw 0 points (the other's hold) or 27 (the other's sale, 145 spent and 27
    # earned, already committed): on reading the card at the till ("the card has N
    # points"), or when the collector refused its hold ("has N points available").
    assert [r["rejected"] for r in rejected] == ["redeem"], outs
    reason = rejected[0]["reason"]
    assert re.search(r"has (0|27) points( available)?, not 145$", reason), reason
    redeemed = sorted(
        rec["loyalty"]["redeemed"]
        for cfg in (north, south)
        for rec in journal(cfg)
        if rec["loyalty"] and rec["loyalty"]["account"] == "00000003"
    )
    assert redeemed == [0, 0, 145], "exactly one till got the points"
    # The winner paid 29.00 - 1.45 (27 points), the other 29.00 (29 points).
    assert stored_balance(world["db"], "00000003") == 145 - 145 + 27 + 29


async def both_redeem_at_once(north: Path, south: Path, account: str, points: int) -> None:
    """Two units in this process, both showing the card's full balance, redeem it all at
    the same moment: the collector gives the points to exactly one."""
    card = make_loyalty_card(account, 0)
    async with (
        open_unit(load_config(north), simulate=True) as a,
        open_unit(load_config(south), simulate=True) as b,
    ):
        for unit in (a, b):
            assert await unit.scanner_connected()
            await unit.controller.handle({"op": "login", "staff": "ana"})
            shown = await scan_through_scanner(unit, card)
            assert shown.detail == {"loyalty": account, "balance": points, "offline": False}
            await unit.controller.handle({"op": "key", "sku": "A1", "qty": 20})
        redeem = {"op": "redeem", "points": points}
        outcomes = await asyncio.gather(a.controller.handle(redeem), b.controller.handle(redeem))
        refused = [o.rejected for o in outcomes if o.rejected]
        assert len(refused) == 1, outcomes
        assert f"0 points available, not {points}" in str(refused[0])
        for unit in (a, b):
            done = await unit.controller.handle({"op": "tender", "type": "card", "ref": "T"})
            assert done.record is not None
            assert await unit.drain_outbox(10)


def test_two_tills_race_in_process_on_sqlite(world: dict[str, Any]) -> None:
    replay(world["north"], sale_events(make_loyalty_card("00000007", 0), 100))
    asyncio.run(both_redeem_at_once(world["north"], world["south"], "00000007", 145))
    assert stored_balance(world["db"], "00000007") == 145 - 145 + 27 + 29


def test_two_tills_race_on_postgresql(tmp_path: Path) -> None:
    broker = Broker()
    try:
        with fresh_database("till_loyalty") as url:
            enrol(url, ("till-01", "s001"), ("till-02", "s002"))
            enrol(url, ("probe", "s009"), keys=True)
            collector = Collector(url, broker, tmp_path / "collector.log")
            collector.start()
            try:
                north = outlet(tmp_path, broker, "s001", "till-01")
                south = outlet(tmp_path, broker, "s002", "till-02")
                replay(north, sale_events(make_loyalty_card("00000004", 0), 100))  # 145 points
                asyncio.run(both_redeem_at_once(north, south, "00000004", 145))
                [left] = ask(broker, "00000004", "balance")
                assert left.balance == 145 - 145 + 27 + 29
            finally:
                collector.stop()
    finally:
        broker.close()


def test_offline_earn_settles_later_and_offline_redeem_is_capped(world: dict[str, Any]) -> None:
    north, db, collector = world["north"], world["db"], world["collector"]
    card = make_loyalty_card("00000006", 0)
    replay(north, sale_events(card, 100))  # 145 points, online
    collector.stop()
    try:
        out = replay(
            north,
            sale_events(
                card,
                100,
                {"op": "redeem", "points": OFFLINE_CAP + 1},
                {"op": "redeem", "points": OFFLINE_CAP},
            ),
            drain=0.5,  # nobody will acknowledge it now
        )
        assert out[0]["rejected"] == "redeem"
        assert f"at most {OFFLINE_CAP} points" in out[0]["reason"]
        sale = out[1]
        part = loyalty_of(journal(north), sale["sale_id"])
        # 145.00 less 1.00 in points: 144 points, flagged offline, no balance.
        assert part == {
            "account": "00000006",
            "earned": 144,
            "redeemed": OFFLINE_CAP,
            "balance": None,
            "offline": True,
        }
        assert "points will be added when online" in receipt_text(north, sale["receipt_no"])
        assert stored_balance(db, "00000006") == 145
    finally:
        collector.start()
    # The outbox sends the offline sale once the collector is back.
    [settle] = replay(north, sale_events(None, 1))
    assert settle["total"] == 145
    assert stored_balance(db, "00000006") == 145 - OFFLINE_CAP + 144
