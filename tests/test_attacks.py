"""Attacks from outside, on a plain anonymous broker: whoever reaches the broker may
publish and read every topic, so only the collector's signature, the units' journal
signatures and enrolment may hold. One real `collector run` and one real `appliance run
--simulate` (till-01, enrolled) serve the whole module; the attacker has `mosquitto_pub`
and an MQTT client. Each attack must change nothing that the sales report, a customer's
points, the unit's catalog (what it charges), its outbox or `collector fleet status`
shows, must be logged with its reason, and the legitimate path must work right after.
tests/test_attacks_broker.py makes them again through the broker of `collector fleet
broker-config`.

Which test makes each attack (in this file unless it names another):

1. an id nobody enrolled: its key in a retained status, records minting 1,000,000 points,
   draining an account, refunding a sale that never was
   -> test_an_id_nobody_enrolled_changes_no_points_and_no_report
   claiming an enrolled id (its key, retained) before its unit first connects
   -> test_claiming_an_enrolled_id_first_does_not_lock_its_unit_out
2. an unsigned `cmd/prices` at 0.00, a retained fleet `cmd/config` (shop name, point
   value, cash rounding, offline cap; also after a restart), a 155,000-item `cmd/catalog`
   -> test_unsigned_commands_change_no_price_no_config_no_catalog
3. balance, summary, reserve, commit, enrol from a device nobody enrolled
   -> test_loyalty_from_a_device_nobody_enrolled_is_not_answered
   an enrolled device (its key in the attacker's hands) asking by bare account; device B
   letting go of or keeping A's hold; an outsider's unsealed request as till-01 itself
   -> test_an_enrolled_device_asks_by_card_and_keeps_to_its_own_holds
4. a forged `loyalty/response` (unsigned, or signed by another key) answering first
   -> test_a_forged_loyalty_answer_redeems_nothing
5. a forged `ack` while the collector is away
   -> test_forged_acks_drop_nothing_the_collector_never_had
   every kind of forged ack against `appliance run`:
   tests/test_signed_word.py::test_forged_acks_drop_nothing_and_a_signed_one_does
   a forged `status` (and telemetry, events) for an enrolled unit
   -> test_a_forged_status_changes_nothing_in_fleet_status
   the unit's own old `offline` status replayed after it restarted
   -> test_a_captured_command_is_not_obeyed_twice_nor_by_another_unit
Also: a captured signed command replayed, retained, again after a restart; the collector's
   command for another unit re-published here
   -> test_a_captured_command_is_not_obeyed_twice_nor_by_another_unit
   an expired command, one signed by another key, another store's:
   tests/test_signed_word.py::test_a_command_is_obeyed_once_signed_and_never_replayed
   garbage on every topic either side reads: tests/test_hostile_input.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.db import open_database
from collector.loyalty.ledger import Ledger
from protocol import messages as m
from protocol.birth import Voucher
from protocol.cards import make_loyalty_card
from protocol.envelope import seal as seal_with
from tests.broker import Broker
from tests.records import enrol
from tests.shop import (
    BAGUETTE,
    STABILO,
    Collector,
    Outsider,
    Seen,
    Unit,
    attacker_journal,
    birth,
    minting_records,
    mosquitto_pub,
    outsider,
    until,
)
from tests.signed import device_body, seal
from tests.test_mqtt_tls import Pki

ANA, BEN, CLEO = "00000001", "00000002", "00000003"  # 500, 300 and 0 points
ACCOUNTS = (ANA, BEN, CLEO)
# The claiming test's victims, of their own: had the attack worked, it would not show in
# the tests after it.
DAN, EVE, FAY = "00000004", "00000005", "00000006"  # 500, 300 and 0 points
CUSTOMERS = f"""account,surname,first_names
{ANA},Lima,Ana
{BEN},Okafor,Ben
{CLEO},Zero,Cleo
{DAN},Lima,Dan
{EVE},Okafor,Eve
{FAY},Zero,Fay
"""


@dataclass
class Shop:
    broker: Broker
    collector: Collector
    till: Unit  # till-01 in s001, enrolled, running
    root: Path

    def seen(self) -> Seen:
        return self.collector.seen(ACCOUNTS)

    @property
    def port(self) -> int:
        return self.broker.port


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    root = tmp_path_factory.mktemp("attacks")
    broker = Broker()
    collector = Collector(root, broker.url)
    (root / "customers.csv").write_text(CUSTOMERS)
    collector.cli("customers", "import", root / "customers.csv")
    # till-03 as an operator enrols a unit, with its certificate; the others as rows.
    collector.cli("fleet", "enroll", "till-03", "--store", "s001", "--out", root / "till-03.enrol")
    engine = open_database(collector.db)
    enrol(engine, "till-01", "till-02", "till-04")  # till-04 never connects
    ledger = Ledger(engine)
    for account, points in ((ANA, 500), (BEN, 300), (DAN, 500), (EVE, 300)):
        ledger.earn(account, points, f"seed-{account}", source="test")
    engine.dispose()
    mqtt = f'[mqtt]\nurl = "{broker.url}"\ntelemetry_interval = 1.0\nack_timeout = 5.0\n'
    till = Unit(root / "till-01", "till-01", "s001", mqtt)
    till.setup()
    try:
        collector.start()
        till.start()
        shop = Shop(broker, collector, till, root)
        wait_key(collector, "till-01")
        yield shop
    finally:
        till.stop()
        collector.stop()
        broker.close()


def unit_mqtt(shop: Shop, device: str) -> str:
    """A unit's `[mqtt]` on the plain broker, with its enrolment's certificate and key
    (when `collector fleet enroll` wrote them), which vouch for its birth."""
    text = f'[mqtt]\nurl = "{shop.broker.url}"\ntelemetry_interval = 1.0\nack_timeout = 5.0\n'
    enrolled = shop.root / f"{device}.enrol"
    if enrolled.exists():
        cert, key = enrolled / f"{device}.crt", enrolled / f"{device}.key"
        text += f'[mqtt.tls]\ncert = "{cert}"\nkey = "{key}"\n'
    return text


def wait_key(collector: Collector, device: str) -> None:
    from tests.shop import wait_for

    wait_for(
        lambda: bool(
            collector.sql("SELECT 1 FROM devices WHERE id = ? AND public_key IS NOT NULL", device)
        ),
        f"the collector has {device}'s key",
    )


@pytest.fixture(autouse=True)
async def idle(shop: Shop) -> None:
    """Each test finds till-01 with no sale open (one that failed may have left one)."""
    if shop.till.proc is None:
        await asyncio.to_thread(shop.till.start)
    if shop.collector.proc is None:
        await asyncio.to_thread(shop.collector.start)
    if (await shop.till.ask(op="view"))["view"]["state"] != "idle":
        await shop.till.ask(op="cancel")


def same_but(before: Seen, after: Seen) -> None:
    assert after.report == before.report
    assert after.customers == before.customers
    assert after.fleet == before.fleet


# -- 1. an id nobody enrolled ----------------------------------------------------------------


async def test_an_id_nobody_enrolled_changes_no_points_and_no_report(shop: Shop) -> None:
    before = shop.seen()
    dead = shop.collector.said("dead letter from pos/v1/s001/till-66/")
    journal = attacker_journal(shop.root, "till-66")
    forged = minting_records(journal, "till-66", ACCOUNTS)
    r = mosquitto_pub(shop.port, "pos/v1/s001/till-66/status", birth(journal), "-r")
    assert r.returncode == 0, r.stderr
    for payload in forged:
        assert mosquitto_pub(shop.port, "pos/v1/s001/till-66/sales", payload).returncode == 0
    await until(
        lambda: shop.collector.said("dead letter from pos/v1/s001/till-66/") >= dead + 4,
        "the birth and the three records refused",
    )
    reasons = [ln["msg"] for ln in shop.collector.lines() if "pos/v1/s001/till-66/" in ln["msg"]]
    assert all("device 'till-66' is not enrolled" in r for r in reasons), reasons
    same_but(before, shop.seen())
    # The real till's sale is reported, once.
    sale = await shop.till.sell(BAGUETTE)
    await until(lambda: sale["sale_id"] in shop.collector.sales_of("till-01"), "the sale in")
    after = shop.seen()
    assert after.sales() == before.sales() + 1
    assert shop.collector.sales_of("till-01").count(sale["sale_id"]) == 1
    assert after.customers == before.customers


async def test_claiming_an_enrolled_id_first_does_not_lock_its_unit_out(shop: Shop) -> None:
    """till-03 is enrolled (`collector fleet enroll`) but has never connected: an outsider
    announces a key of its own for it (retained, so it is also what a collector starting
    later reads first), without a proof and with one from a certificate it made itself,
    and sends its minting records. The real till-03 then comes up, proves its key with
    its enrolment certificate (protocol.birth) and sells."""
    victims = (DAN, EVE, FAY)
    before = shop.collector.seen(victims)
    journal = attacker_journal(shop.root, "till-03")
    forged = minting_records(journal, "till-03", victims)
    rogue = Pki("rogue")
    voucher = Voucher.load(*rogue.issue("till-03"))
    pubkey = journal.public_key_pem()
    topic = "pos/v1/s001/till-03/"
    said = shop.collector.said(f"dead letter from {topic}status")
    for claim in (
        birth(journal),
        birth(journal, cert=voucher.cert_pem, proof=voucher.prove("s001", "till-03", pubkey)),
    ):
        assert mosquitto_pub(shop.port, topic + "status", claim, "-r").returncode == 0
    for payload in forged:
        assert mosquitto_pub(shop.port, topic + "sales", payload).returncode == 0

    def unkeyed() -> int:
        return sum(
            int(ln["msg"].split()[0])
            for ln in shop.collector.lines()
            if ln["msg"].endswith("sales from till-03 before its key is known")
        )

    await until(lambda: unkeyed() >= 3, "the outsider's records not taken")
    reasons = [
        ln["msg"] for ln in shop.collector.lines() if ln["msg"].startswith("dead letter from")
    ]
    refused = [r for r in reasons if r.startswith(f"dead letter from {topic}status")][said:]
    assert len(refused) == 2, reasons
    assert "the journal key announced for till-03 is not taken" in refused[0]
    assert "without the proof of the device's enrolment certificate" in refused[0]
    assert "its certificate was not issued by the fleet CA" in refused[1]
    same_but(before, shop.collector.seen(victims))
    real = Unit(shop.root / "till-03", "till-03", "s001", unit_mqtt(shop, "till-03"))
    real.setup()
    try:
        await asyncio.to_thread(real.start)
        sale = await real.sell(STABILO)
        await until(lambda: sale["sale_id"] in shop.collector.sales_of("till-03"), "its sale in")
        await until(lambda: real.outbox() == 0, "its sale acked")
        # Now the outsider's records are another key's: refused as such.
        dead = shop.collector.said(f"dead letter from {topic}sales")
        assert mosquitto_pub(shop.port, topic + "sales", forged[0]).returncode == 0
        await until(lambda: shop.collector.said(f"dead letter from {topic}sales") > dead, "refused")
    finally:
        await asyncio.to_thread(real.stop)
        mosquitto_pub(shop.port, topic + "status", b"", "-r")  # no retained birth left
    after = shop.collector.seen(victims)
    assert after.sales() == before.sales() + 1
    assert after.customers == before.customers
    [row] = [r for r in after.fleet if r["device"] == "till-03"]
    assert row["key_registered"] and row["last_seq"] == 1 and row["version"] != "9.9.9"


# -- 2. unsigned commands ----------------------------------------------------------------------

ME = "pos/v1/s001/till-01/"
D1, D1_PRICE = "3760123450058", 189  # Crème fraîche 1.89: a cash rounding of 0.10 shows


async def receipt_after(unit: Unit, size: int) -> bytes:
    printed = unit.data / "printer.bin"
    await until(lambda: printed.exists() and printed.stat().st_size > size, "a receipt printed")
    return printed.read_bytes()[size:]


def printed_size(unit: Unit) -> int:
    printed = unit.data / "printer.bin"
    return printed.stat().st_size if printed.exists() else 0


async def test_unsigned_commands_change_no_price_no_config_no_catalog(shop: Shop) -> None:
    till = shop.till
    before, config = shop.seen(), till.config.read_bytes()
    refused = len(till.refusals())
    free = {"corr": "free-1", "args": {"prices": [{"sku": "A1", "price": 0}]}}
    patch = {
        "store": {"name": "PWNED", "cash_rounding": 10},
        "loyalty": {"point_value": 100, "offline_redeem_cap": 1_000_000},
    }
    config_cmd = {"corr": "own-1", "args": {"patch": patch}}
    item = {"sku": "Z", "barcode": "", "name": "x", "price": 0, "tax_rate": "20"}
    items = [{**item, "sku": f"Z{i}"} for i in range(155_000)]
    catalog = json.dumps({"corr": "cat-1", "args": {"items": items}}).encode()
    big = shop.root / "catalog.json"
    big.write_bytes(catalog)
    assert mosquitto_pub(shop.port, ME + "cmd/prices", json.dumps(free).encode()).returncode == 0
    fleet_config = "pos/v1/fleet/cmd/config"
    sent = mosquitto_pub(shop.port, fleet_config, json.dumps(config_cmd).encode(), "-r")
    assert sent.returncode == 0, sent.stderr
    r = mosquitto_pub(shop.port, ME + "cmd/catalog", big)
    assert r.returncode == 0, r.stderr
    await until(lambda: len(till.refusals()) >= refused + 3, "the three commands refused")
    reasons = till.refusals()[refused:]
    assert all("not a signed envelope" in r for r in reasons), reasons
    # After a restart the retained config comes again, and is refused again.
    refused = len(till.refusals())
    await till.restart()
    await until(lambda: len(till.refusals()) > refused, "the retained config refused again")
    assert "not a signed envelope" in till.refusals()[refused]
    assert till.config.read_bytes() == config
    # The till sells at its own prices, rounds and names itself as before.
    size = printed_size(till)
    stabilo = await till.sell(STABILO)
    assert stabilo["total"] == 145
    d1 = await till.sell(D1)
    assert d1["total"] == D1_PRICE and d1["change"] == 500 - D1_PRICE  # no 0.10 rounding
    receipts = await receipt_after(till, size)
    assert b"Chez Ana" in receipts and b"PWNED" not in receipts
    # A point is still worth 0.01: ten of Ana's take 0.10 off (then the sale is cancelled).
    await till.ask(op="scan", code=D1)
    card = await till.ask(op="scan", code=make_loyalty_card(ANA))
    assert card["view"]["loyalty"] == {"account": ANA, "balance": 500, "offline": False}, card
    redeemed = await till.ask(op="redeem", points=10)
    assert redeemed["ok"] and redeemed["view"]["due"] == D1_PRICE - 10, redeemed
    assert (await till.ask(op="cancel"))["ok"]
    mosquitto_pub(shop.port, fleet_config, b"", "-r")
    await until(lambda: shop.collector.sales_of("till-01").count(d1["sale_id"]) == 1, "sold")
    after = shop.seen()
    assert after.sales() == before.sales() + 2
    await until(lambda: shop.seen().customers == before.customers, "Ana's 10 points let go")
    # The collector's own word is obeyed: a signed price, through `collector push`.
    prices = shop.root / "prices.csv"
    prices.write_text("sku,price\nD1,1.99\n")
    pushed = shop.collector.cli(
        "push", "prices", prices, "--device", "till-01", "--broker", shop.broker.url
    )
    assert pushed.stdout.strip() == "till-01: ok", pushed.stdout
    assert (await till.sell(D1))["total"] == 199


# -- 3. loyalty questions from outside ----------------------------------------------------


B4, D4 = "3760123450041", "3760123450089"  # 3.40 and 5.80: room for a redeem


async def hold_points(till: Unit, spy: Outsider, account: str, points: int) -> str:
    """An open sale at `till` redeeming `points` of `account`: the collector's hold id,
    as anyone on the broker reads it off the till's `loyalty/response`."""
    await till.login()
    assert (await till.ask(op="scan", code=D4))["ok"]
    card = await till.ask(op="scan", code=make_loyalty_card(account))
    assert card["view"]["loyalty"]["offline"] is False, card
    held = await till.ask(op="redeem", points=points)
    assert held["ok"], held
    found: list[str] = []

    def read() -> bool:
        found[:] = [
            b["reservation"] for b in spy.bodies("/loyalty/response") if b.get("reservation")
        ]
        return bool(found)

    await until(read, "the hold's id read off the broker")
    return found[-1]


NOT_ENROLLED = (
    "loyalty request on pos/v1/s001/till-99/loyalty/request not answered: "
    "device 'till-99' is not enrolled"
)


async def test_loyalty_from_a_device_nobody_enrolled_is_not_answered(shop: Shop) -> None:
    till = shop.till
    before = shop.seen()
    said = shop.collector.said(NOT_ENROLLED)
    async with outsider(shop.port, "pos/v1/s001/+/loyalty/response") as spy:
        hold = await hold_points(till, spy, ANA, 50)
        enrolment = m.LoyaltyEnrolment(first_names="Mal", surname="Lory", email="m@x.io")
        asks = [
            m.LoyaltyRequest(corr="b-1", op="balance", account=ANA, card=make_loyalty_card(ANA)),
            m.LoyaltyRequest(corr="b-2", op="balance", account="", card=make_loyalty_card(BEN)),
            m.LoyaltyRequest(corr="s-1", op="summary", account="", card=make_loyalty_card(ANA)),
            m.LoyaltyRequest(
                corr="r-1", op="reserve", account="", card=make_loyalty_card(BEN), points=300
            ),
            m.LoyaltyRequest(corr="c-1", op="commit", account=ANA, reservation=hold, sale_id="x"),
            m.LoyaltyRequest(corr="e-1", op="enrol", account="", enrolment=enrolment),
        ]
        for ask in asks:
            sent = mosquitto_pub(shop.port, "pos/v1/s001/till-99/loyalty/request", m.encode(ask))
            assert sent.returncode == 0
        await until(
            lambda: shop.collector.said(NOT_ENROLLED) >= said + len(asks), "each one not answered"
        )
        assert spy.bodies("/till-99/loyalty/response") == []
        # till-01's hold is its own still: the sale is cancelled and the points let go.
        assert (await till.ask(op="cancel"))["ok"]
    await until(lambda: shop.seen().customers == before.customers, "Ana's 50 points let go")
    same_but(before, shop.seen())
    nobody = shop.collector.cli("customers", "show", "00000007", ok=False)
    assert nobody.returncode == 2 and "account 00000007 is not known" in nobody.stderr


async def test_an_enrolled_device_asks_by_card_and_keeps_to_its_own_holds(shop: Shop) -> None:
    """till-02 is enrolled, and here the attacker holds its journal key (a unit gone
    rogue): what it seals is answered, but a bare account is not a question, and another
    device's hold is not its to let go or to keep (to it, the hold is unknown: which
    device holds what is not told). Unsealed, on till-01's own topic, nothing is."""
    till = shop.till
    before = shop.seen()
    rogue = attacker_journal(shop.root, "till-02")
    theirs = "pos/v1/s001/till-02/"
    assert mosquitto_pub(shop.port, theirs + "status", birth(rogue), "-r").returncode == 0
    await until(lambda: bool(key_of(shop.collector, "till-02")), "till-02's key taken")

    def sealed(ask: m.LoyaltyRequest) -> bytes:
        return rogue.seal(theirs + "loyalty/request", ask)

    async with outsider(shop.port, "pos/v1/s001/+/loyalty/response") as spy:
        for corr, op in (("bare-1", "balance"), ("bare-2", "summary"), ("bare-3", "reserve")):
            ask = m.LoyaltyRequest(corr=corr, op=op, account=ANA, points=10)  # type: ignore[arg-type]
            sent = mosquitto_pub(shop.port, theirs + "loyalty/request", sealed(ask))
            assert sent.returncode == 0
            answer = await spy.answer("till-02", corr)
            assert answer["ok"] is False, answer
            assert "needs the scanned card number (card); a bare account" in answer["error"]
            assert answer.get("balance") is None and answer.get("first_name") is None
        hold = await hold_points(till, spy, ANA, 50)
        for corr, op in (("rel-1", "release"), ("com-1", "commit")):
            ask = m.LoyaltyRequest(corr=corr, op=op, account=ANA, reservation=hold, sale_id="y")  # type: ignore[arg-type]
            sent = mosquitto_pub(shop.port, theirs + "loyalty/request", sealed(ask))
            assert sent.returncode == 0
            answer = await spy.answer("till-02", corr)
            assert answer["ok"] is False and answer["error"] == f"reservation {hold!r} is unknown"
        # An outsider without any key, as till-01 itself: not answered.
        said = shop.collector.said(f"loyalty request on {ME}loyalty/request refused")
        for corr, op in (("own-1", "release"), ("own-2", "balance")):
            card = make_loyalty_card(ANA)
            ask = m.LoyaltyRequest(corr=corr, op=op, account="", card=card, reservation=hold)  # type: ignore[arg-type]
            assert mosquitto_pub(shop.port, ME + "loyalty/request", m.encode(ask)).returncode == 0
        await until(
            lambda: (
                shop.collector.said(f"loyalty request on {ME}loyalty/request refused") >= said + 2
            ),
            "the unsealed requests on till-01's topic refused",
        )
        assert [
            b for b in spy.bodies(f"{ME}loyalty/response") if b["corr"].startswith("own-")
        ] == []
        held = shop.seen().customers[ANA]
        assert held["available"] == before.customers[ANA]["available"] - 50
        assert (await till.ask(op="cancel"))["ok"]
    await until(lambda: shop.seen().customers == before.customers, "Ana's 50 points let go")
    mosquitto_pub(shop.port, theirs + "status", b"", "-r")


def key_of(collector: Collector, device: str) -> str | None:
    found = collector.sql("SELECT public_key FROM devices WHERE id = ?", device)
    return found[0][0] if found else None


# -- 4. a forged loyalty answer --------------------------------------------------------------


async def forge_answers(spy: Outsider, port: int, key: Ed25519PrivateKey) -> None:
    """Answer every loyalty request of till-01 at once, before the collector can: a rich
    card and any hold granted, unsigned and signed by a key of the attacker's own."""
    seen = 0
    while True:
        topic = ME + "loyalty/request"
        asks = [device_body(p, topic) for t, p in spy.received if t == topic]
        for ask in asks[seen:]:
            lie = m.LoyaltyResponse(
                corr=ask["corr"], ok=True, balance=100_000, first_name="Mallory",
                reservation="f" * 32,
            )  # fmt: skip
            await spy.client.publish(ME + "loyalty/response", m.encode(lie), qos=1)
            sealed = seal_with(key, ME + "loyalty/response", lie, now=time.time(), lifetime=60)
            await spy.client.publish(ME + "loyalty/response", sealed, qos=1)
        seen = len(asks)
        await asyncio.sleep(0.001)


@contextlib.asynccontextmanager
async def collector_held(shop: Shop) -> AsyncIterator[None]:
    """The collector's process stopped (SIGSTOP) meanwhile: the attacker answers first."""
    assert shop.collector.proc is not None
    pid = shop.collector.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def lied_to(shop: Shop, **event: Any) -> dict[str, Any]:
    """The till's answer to `event`, which asks the collector something: the attacker's
    lies come first (and are refused), then the collector's answer."""
    till = shop.till
    refused = len(till.refusals())
    async with collector_held(shop):
        asked = asyncio.create_task(till.ask(**event))
        await until(lambda: len(till.refusals()) >= refused + 2, "the lies, first, refused")
    return await asked


async def test_a_forged_loyalty_answer_redeems_nothing(shop: Shop) -> None:
    till = shop.till
    before, refused = shop.seen(), len(till.refusals())
    async with outsider(shop.port, ME + "loyalty/request") as spy:
        racer = asyncio.create_task(forge_answers(spy, shop.port, Ed25519PrivateKey.generate()))
        try:
            await till.login()
            assert (await till.ask(op="scan", code=D4))["ok"]
            card = await lied_to(shop, op="scan", code=make_loyalty_card(CLEO))
            assert card["view"]["loyalty"] == {"account": CLEO, "balance": 0, "offline": False}
            redeem = await till.ask(op="redeem", points=400)
            assert not redeem["ok"] and "0 points" in redeem["reason"], redeem
            assert redeem["view"]["due"] == 580
            assert (await till.ask(op="cancel"))["ok"]
            # Ana has the points: her redeem is held by the collector, whatever came first.
            assert (await till.ask(op="scan", code=D4))["ok"]
            assert (await till.ask(op="scan", code=make_loyalty_card(ANA)))["ok"]
            redeem = await lied_to(shop, op="redeem", points=100)
            assert redeem["ok"] and redeem["view"]["due"] == 480, redeem
            paid = await till.ask(op="tender", type="cash", amount="5.00")
            assert paid["ok"] and paid["sale"]["total"] == 580, paid
        finally:
            racer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await racer
    reasons = till.refusals()[refused:]
    assert sum("not a signed envelope" in r for r in reasons) >= 2, reasons
    assert sum("does not verify against the collector key" in r for r in reasons) >= 2
    sale = paid["sale"]["sale_id"]
    await until(lambda: shop.collector.sales_of("till-01").count(sale) == 1, "the sale in")
    after = shop.seen()
    assert after.customers[CLEO] == before.customers[CLEO]
    assert after.customers[BEN] == before.customers[BEN]
    assert after.customers[ANA]["points"] == before.customers[ANA]["points"] - 100 + 4
    assert after.sales() == before.sales() + 1


# -- 5. forged acks and status -----------------------------------------------------------------


async def test_forged_acks_drop_nothing_the_collector_never_had(shop: Shop) -> None:
    till = shop.till
    await until(lambda: till.outbox() == 0, "the outbox empty")
    before = shop.seen()
    await asyncio.to_thread(shop.collector.stop)
    try:
        sales = [(await till.sell(BAGUETTE))["sale_id"] for _ in range(2)]
        assert till.outbox() == 2
        refused = len(till.refusals())
        forged = [
            m.encode(m.Ack(upto=10**6)),
            seal_with(
                Ed25519PrivateKey.generate(), ME + "ack", m.Ack(upto=10**6),
                now=time.time(), lifetime=600,
            ),
            seal("pos/v1/s001/till-02/ack", m.Ack(upto=10**6)),  # the collector's, for till-02
        ]  # fmt: skip
        for payload in forged:
            assert mosquitto_pub(shop.port, ME + "ack", payload).returncode == 0
        await until(lambda: len(till.refusals()) >= refused + 3, "the forged acks refused")
        reasons = till.refusals()[refused:]
        assert "not a signed envelope" in reasons[0]
        assert "does not verify against the collector key" in reasons[1]
        assert "re-published" in reasons[2]
        assert till.outbox() == 2
    finally:
        await asyncio.to_thread(shop.collector.start)
    await until(lambda: all(s in shop.collector.sales_of("till-01") for s in sales), "sent")
    await until(lambda: till.outbox() == 0, "the collector's own ack")
    after = shop.seen()
    assert after.sales() == before.sales() + 2
    assert all(shop.collector.sales_of("till-01").count(s) == 1 for s in sales)


async def test_a_forged_status_changes_nothing_in_fleet_status(shop: Shop) -> None:
    """Unsealed, a status made till-01 offline, of another version and region, and
    telemetry gave it 999 sales waiting and no paper; sealed by a key of the attacker's,
    the status names a second key (refused). A replayed old status of the unit's own is
    in test_a_captured_command_is_not_obeyed_twice_nor_by_another_unit (it restarts)."""
    before = shop.seen()
    [mine] = [r for r in before.fleet if r["device"] == "till-01"]
    assert mine["state"] == "online" and mine["region"] == "north"
    dead = shop.collector.said(f"dead letter from {ME}")
    journal = attacker_journal(shop.root, "till-01")
    lies = {"state": "offline", "version": "6.6.6", "region": "nowhere"}
    telemetry = m.Telemetry(
        ts="2026-12-06T10:00:00.000Z", version="6.6.6", outbox_depth=999, last_seq=999,
        printer="out of paper", scanner="gone", drawer="open", disk_free=1, uptime=1.0,
    )  # fmt: skip
    event = m.encode(m.DeviceEvent(kind="drawer.opened", ts=telemetry.ts))
    for topic, payload in (
        (ME + "status", json.dumps({**lies, "schema": 1}).encode()),
        (ME + "status", birth(journal, **lies)),  # with a key of the attacker's
        (ME + "telemetry", m.encode(telemetry)),
        (ME + "events", event),
        # An enrolled unit never heard from: no row of it may appear in fleet status.
        ("pos/v1/s001/till-04/telemetry", m.encode(telemetry)),
        ("pos/v1/s001/till-04/events", event),
    ):
        assert mosquitto_pub(shop.port, topic, payload).returncode == 0
    await until(
        lambda: shop.collector.said(f"dead letter from {ME}") >= dead + 4, "the lies refused"
    )
    await until(
        lambda: shop.collector.said("dead letter from pos/v1/s001/till-04/") >= 2,
        "the lies about till-04 refused",
    )
    reasons = [
        ln["msg"].split(": ", 1)[1]
        for ln in shop.collector.lines()
        if ln["msg"].startswith(f"dead letter from {ME}")
    ][dead:]
    assert sum(r.startswith("not sealed by till-01: not a signed envelope") for r in reasons) == 3
    assert sum(r.startswith("a second public key for till-01 was refused") for r in reasons) == 1
    after = shop.seen()
    [row] = [r for r in after.fleet if r["device"] == "till-01"]
    assert (row["state"], row["version"], row["region"]) == ("online", mine["version"], "north")
    assert row["outbox_depth"] != 999 and row["printer"] != "out of paper"
    assert "till-04" not in [r["device"] for r in after.fleet]
    same_but(before, after)
    # The till's own word still counts: a sale moves its seq on.
    sale = await shop.till.sell(BAGUETTE)
    await until(lambda: sale["sale_id"] in shop.collector.sales_of("till-01"), "the sale in")
    [row] = [r for r in shop.seen().fleet if r["device"] == "till-01"]
    assert row["last_seq"] == mine["last_seq"] + 1


# -- replayed commands ---------------------------------------------------------------------

D2 = "3760123450065"  # Lait 1.15


async def test_a_captured_command_is_not_obeyed_twice_nor_by_another_unit(shop: Shop) -> None:
    till = shop.till
    prices = shop.root / "d2.csv"

    def push(price: str) -> None:
        prices.write_text(f"sku,price\nD2,{price}\n")
        done = shop.collector.cli(
            "push", "prices", prices, "--device", "till-01", "--broker", shop.broker.url
        )
        assert done.stdout.strip() == "till-01: ok", done.stdout

    async with outsider(shop.port, ME + "cmd/prices") as spy:
        await asyncio.to_thread(push, "1.19")
        await until(lambda: bool(spy.received), "the push read off the broker")
        captured = spy.received[0][1]
    await asyncio.to_thread(push, "1.25")
    assert (await till.sell(D2))["total"] == 125
    refused = len(till.refusals())
    theirs = seal(
        "pos/v1/s001/till-02/cmd/prices",
        {"corr": "t-2", "args": {"prices": [{"sku": "D2", "price": 0}]}},
    )
    for payload, extra in ((captured, ()), (captured, ("-r",)), (theirs, ())):
        assert mosquitto_pub(shop.port, ME + "cmd/prices", payload, *extra).returncode == 0
    await until(lambda: len(till.refusals()) >= refused + 3, "the replays refused")
    reasons = till.refusals()[refused:]
    assert sum("a replay" in r for r in reasons) == 2 and "re-published" in reasons[2], reasons
    assert (await till.sell(D2))["total"] == 125
    # After a restart the retained copy comes again: still refused. (The status the unit
    # sealed as it stopped is read off the broker, to be replayed below.)
    refused = len(till.refusals())
    async with outsider(shop.port, ME + "status") as spy:
        await till.restart()
        await until(lambda: len(till.refusals()) > refused, "the retained copy refused")

        def states() -> list[tuple[str, bytes]]:
            return [(device_body(p, ME + "status")["state"], p) for _, p in spy.received if p]

        await until(lambda: [s for s, _ in states()][-2:] == ["offline", "online"], "restarted")
    assert "a replay" in till.refusals()[refused]
    stopped = [p for state, p in states() if state == "offline"][-1]
    dead = shop.collector.said(f"dead letter from {ME}status: status seq")
    assert mosquitto_pub(shop.port, ME + "status", stopped, "-r").returncode == 0
    await until(
        lambda: shop.collector.said(f"dead letter from {ME}status: status seq") > dead,
        "the unit's own old offline status refused as older",
    )
    [row] = [r for r in shop.seen().fleet if r["device"] == "till-01"]
    assert row["state"] == "online"
    mosquitto_pub(shop.port, ME + "cmd/prices", b"", "-r")
    assert (await till.sell(D2))["total"] == 125
    await asyncio.to_thread(push, "1.30")
    assert (await till.sell(D2))["total"] == 130
