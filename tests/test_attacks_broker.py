"""The attacks of tests/test_attacks.py through the broker of `collector fleet
broker-config` (TLS, a fleet-CA client certificate for everyone, the ACL), with real
processes: `collector fleet enroll` and `broker-config` run as commands, Mosquitto from
the configuration they wrote, `collector run` with the collector's certificate and
`appliance run --simulate` units with theirs. The attacker has `mosquitto_pub` with no
certificate, or with the certificate of another enrolled device (till-b's, say stolen).
What the broker refuses never reaches the collector or a unit: nothing is dead-lettered
or refused there, and nothing the shop shows changes.

tests/test_fleet_pki.py checks the broker alone (who may publish and read which topic,
no certificate, another CA's, a revoked one after reload); this file checks what that
means for the real processes:

- no certificate, or plain MQTT on the TLS port: no connection, nothing sold for free
  -> test_without_a_certificate_nobody_gets_in
- till-b's certificate on till-a's status, telemetry, sales, loyalty, ack, commands, on
  the store's and the fleet's commands, and claiming the key of till-d before it ever
  connected: every publish "Not authorized", till-a sells and reports as before, till-d
  comes up and reports -> test_another_devices_certificate_publishes_nothing_for_others
- a revoked device: what it sends while still connected is dead-lettered, and after
  `broker-config` and a reload it cannot connect again
  -> test_a_revoked_device_is_refused_then_cut_off
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.db import open_database
from collector.loyalty.ledger import Ledger
from protocol import messages as m
from protocol.cards import make_loyalty_card
from tests.broker import Broker, free_port
from tests.shop import (
    STABILO,
    Collector,
    Seen,
    Unit,
    attacker_journal,
    birth,
    collector_cli,
    minting_records,
    mosquitto_pub,
    until,
    wait_for,
)

ANA, BEN, CLEO = "00000001", "00000002", "00000003"
ACCOUNTS = (ANA, BEN, CLEO)
A = "pos/v1/s001/till-a/"


@dataclass
class Fleet:
    root: Path
    port: int
    broker: Broker
    collector: Collector
    till_a: Unit
    till_c: Unit

    def files(self, device: str) -> tuple[str, str, str]:
        """(CA, certificate, key) of an enrolled device, as `enroll` wrote them."""
        d = self.root / "units" / device
        return str(d / "ca.crt"), str(d / f"{device}.crt"), str(d / f"{device}.key")

    def as_device(self, device: str) -> tuple[str, ...]:
        """mosquitto_pub's options to connect with `device`'s certificate, MQTT 5 (so a
        publish the ACL refuses is answered "Not authorized")."""
        ca, cert, key = self.files(device)
        return ("--cafile", ca, "--cert", cert, "--key", key, "-V", "5")

    def seen(self) -> Seen:
        return self.collector.seen(ACCOUNTS)

    def unit(self, device: str) -> Unit:
        ca, cert, key = self.files(device)
        mqtt = (
            f'[mqtt]\nurl = "mqtts://127.0.0.1:{self.port}"\n'
            f'collector_key = "{self.root / "units" / device / "collector.pub"}"\n'
            "telemetry_interval = 1.0\nack_timeout = 5.0\n"
            f'[mqtt.tls]\nca = "{ca}"\ncert = "{cert}"\nkey = "{key}"\n'
        )
        unit = Unit(self.root / device, device, "s001", mqtt)
        unit.setup()
        return unit


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    # Not pytest's tmp_path (0700 under root's): Mosquitto, dropped to its own user, must
    # reach the broker's directory (tests/test_fleet_pki.py).
    root = Path(tempfile.mkdtemp(prefix="pos-attacks-"))
    os.chmod(root, 0o755)
    port = free_port()
    db = f"sqlite:///{root}/collector.db"
    for device in ("till-a", "till-b", "till-c", "till-d"):
        collector_cli("fleet", "enroll", "--db", db, device, "--store", "s001",
                      "--out", root / "units" / device)  # fmt: skip
    collector_cli("fleet", "broker-config", "--db", db, "--port", str(port),
                  "--out", root / "broker")  # fmt: skip
    (root / "customers.csv").write_text(
        f"account,surname,first_names\n{ANA},Lima,Ana\n{BEN},Okafor,Ben\n{CLEO},Zero,Cleo\n"
    )
    collector_cli("customers", "import", root / "customers.csv", "--db", db)
    engine = open_database(db)
    Ledger(engine).earn(ANA, 500, "seed-ana", source="test")
    Ledger(engine).earn(BEN, 300, "seed-ben", source="test")
    engine.dispose()
    broker = Broker(conf=root / "broker" / "mosquitto.conf", port=port)
    b = root / "broker"
    collector = Collector(
        root, f"mqtts://127.0.0.1:{port}",
        "--tls-ca", str(b / "ca.crt"), "--tls-cert", str(b / "collector.crt"),
        "--tls-key", str(b / "collector.key"),
    )  # fmt: skip
    fleet = Fleet(root, port, broker, collector, None, None)  # type: ignore[arg-type]
    fleet.till_a, fleet.till_c = fleet.unit("till-a"), fleet.unit("till-c")
    try:
        collector.start()
        fleet.till_a.start()
        fleet.till_c.start()
        for device in ("till-a", "till-c"):
            wait_for(
                lambda d=device: bool(
                    collector.sql(
                        "SELECT 1 FROM devices WHERE id = ? AND public_key IS NOT NULL", d
                    )
                ),
                f"the collector has {device}'s key",
            )
        yield fleet
    finally:
        fleet.till_a.stop()
        fleet.till_c.stop()
        collector.stop()
        broker.close()
        shutil.rmtree(root, ignore_errors=True)


async def sold_and_reported(fleet: Fleet, unit: Unit, code: str = STABILO) -> dict[str, object]:
    sale = await unit.sell(code)
    await until(lambda: sale["sale_id"] in fleet.collector.sales_of(unit.device), "reported")
    await until(lambda: unit.outbox() == 0, "acked")
    return sale


def unsigned_prices(price: int = 0) -> bytes:
    return json.dumps(
        {"corr": "free", "args": {"prices": [{"sku": "A1", "price": price}]}}
    ).encode()


async def test_without_a_certificate_nobody_gets_in(fleet: Fleet) -> None:
    before, refused = fleet.seen(), len(fleet.till_a.refusals())
    dead = fleet.collector.said("dead letter from")
    journal = attacker_journal(fleet.root, "till-x")
    ca = fleet.files("till-a")[0]
    attacks = [
        (A + "cmd/prices", unsigned_prices()),
        (A + "status", json.dumps({"state": "offline", "region": "nowhere"}).encode()),
        ("pos/v1/s001/till-x/status", birth(journal)),
        ("pos/v1/s001/till-x/sales", minting_records(journal, "till-x", ACCOUNTS)[0]),
    ]
    for topic, payload in attacks:
        anonymous = mosquitto_pub(fleet.port, topic, payload, "--cafile", ca, "-V", "5")
        assert anonymous.returncode != 0, anonymous.stderr
        plain = mosquitto_pub(fleet.port, topic, payload)  # MQTT without TLS on its port
        assert plain.returncode != 0, plain.stderr
    log = fleet.broker.log()
    assert "peer did not return a certificate" in log and "wrong version number" in log
    sale = await sold_and_reported(fleet, fleet.till_a)
    assert sale["total"] == 145
    after = fleet.seen()
    assert after.sales() == before.sales() + 1
    assert after.customers == before.customers
    assert fleet.collector.said("dead letter from") == dead
    assert len(fleet.till_a.refusals()) == refused  # nothing came through to refuse


async def test_another_devices_certificate_publishes_nothing_for_others(fleet: Fleet) -> None:
    """till-b is enrolled in the same store: its certificate (stolen, or its unit gone
    rogue) publishes on till-a's topics, on the collector's, and claims till-d's id."""
    till_a = fleet.till_a
    before, refused = fleet.seen(), len(till_a.refusals())

    def dead_letters() -> list[int]:
        return [
            fleet.collector.said(f"dead letter from pos/v1/s001/{d}/") for d in ("till-a", "till-d")
        ]

    dead = dead_letters()
    journal = attacker_journal(fleet.root, "till-a")
    claim = attacker_journal(fleet.root, "till-d")
    telemetry = m.Telemetry(
        ts="2026-12-06T10:00:00.000Z", version="6.6.6", outbox_depth=999, last_seq=999,
        printer="out of paper", scanner="gone", drawer="open", disk_free=1, uptime=1.0,
    )  # fmt: skip
    ask = m.LoyaltyRequest(corr="b-1", op="balance", account=ANA, card=make_loyalty_card(ANA))
    lie = m.LoyaltyResponse(corr="b-1", ok=True, balance=100_000)
    patch = {"corr": "c-1", "args": {"patch": {"store": {"name": "PWNED"}}}}
    attacks: list[tuple[str, bytes, tuple[str, ...]]] = [
        (A + "status", birth(journal, state="offline", region="nowhere"), ("-r",)),
        (A + "telemetry", m.encode(telemetry), ()),
        (A + "sales", minting_records(journal, "till-a", ACCOUNTS)[0], ()),
        (A + "loyalty/request", m.encode(ask), ()),
        (A + "loyalty/response", m.encode(lie), ()),
        (A + "ack", m.encode(m.Ack(upto=10**6)), ()),
        (A + "cmd/prices", unsigned_prices(), ()),
        ("pos/v1/s001/cmd/prices", unsigned_prices(), ()),
        ("pos/v1/fleet/cmd/config", json.dumps(patch).encode(), ("-r",)),
        ("pos/v1/s001/till-d/status", birth(claim), ("-r",)),
        *[("pos/v1/s001/till-d/sales", r, ()) for r in minting_records(claim, "till-d", ACCOUNTS)],
    ]
    for topic, payload, extra in attacks:
        sent = mosquitto_pub(fleet.port, topic, payload, *fleet.as_device("till-b"), *extra)
        assert sent.returncode == 0 and "Not authorized" in sent.stderr, (topic, sent.stderr)
    # till-b may publish on its own topics: once this is in, all the above was decided
    # (unsealed, and till-b never announced a key: the collector refuses it, but read it).
    mine = mosquitto_pub(
        fleet.port, "pos/v1/s001/till-b/events",
        m.encode(m.DeviceEvent(kind="b.here", ts=telemetry.ts)), *fleet.as_device("till-b"),
    )  # fmt: skip
    assert mine.returncode == 0 and "Not authorized" not in mine.stderr, mine.stderr
    here = "dead letter from pos/v1/s001/till-b/events: device 'till-b' has not announced"
    await until(lambda: fleet.collector.said(here) > 0, "till-b's own event read (and refused)")
    sale = await sold_and_reported(fleet, till_a)
    assert sale["total"] == 145
    after = fleet.seen()
    assert after.sales() == before.sales() + 1 and after.customers == before.customers
    [row] = [r for r in after.fleet if r["device"] == "till-a"]
    [was] = [r for r in before.fleet if r["device"] == "till-a"]
    assert (row["state"], row["region"], row["version"]) == ("online", "north", was["version"])
    assert dead_letters() == dead
    assert len(till_a.refusals()) == refused
    # till-d, whose id was to be claimed, comes up and reports.
    till_d = fleet.unit("till-d")
    try:
        await asyncio.to_thread(till_d.start)
        await sold_and_reported(fleet, till_d)
    finally:
        await asyncio.to_thread(till_d.stop)
    assert fleet.seen().customers == before.customers


async def test_a_revoked_device_is_refused_then_cut_off(fleet: Fleet) -> None:
    till_c = fleet.till_c
    await sold_and_reported(fleet, till_c)
    before = fleet.seen()
    revoked = collector_cli("fleet", "revoke", "--db", fleet.collector.db, "till-c")
    assert "till-c revoked at" in revoked.stdout
    # Still connected (the broker has not read the CRL again): the collector refuses it.
    dead = fleet.collector.said(
        "dead letter from pos/v1/s001/till-c/sales: device 'till-c' is revoked"
    )
    sale = await till_c.sell(STABILO)
    await until(
        lambda: (
            fleet.collector.said(
                "dead letter from pos/v1/s001/till-c/sales: device 'till-c' is revoked"
            )
            > dead
        ),
        "the revoked device's sale refused",
    )
    assert sale["sale_id"] not in fleet.collector.sales_of("till-c") and till_c.outbox() == 1
    # broker-config and a reload: from its next connection on, the broker refuses it.
    done = collector_cli("fleet", "broker-config", "--db", fleet.collector.db,
                         "--port", str(fleet.port), "--out", fleet.root / "broker")  # fmt: skip
    assert "1 revoked certificates" in done.stdout
    fleet.broker.reload()
    lines = len(till_c.lines())
    await till_c.restart()
    await until(
        lambda: any("certificate revoked" in json.dumps(ln) for ln in till_c.lines()[lines:]),
        "the revoked unit's connection refused",
    )
    await till_c.sell(STABILO)
    assert till_c.outbox() == 2
    again = mosquitto_pub(fleet.port, "pos/v1/s001/till-c/status", b"x", *fleet.as_device("till-c"))
    assert again.returncode != 0, again.stderr
    after = fleet.seen()
    assert after.report == before.report and after.customers == before.customers
    [row] = [r for r in after.fleet if r["device"] == "till-c"]
    assert row["state"] == "revoked"
    # The others go on.
    await sold_and_reported(fleet, fleet.till_a)
