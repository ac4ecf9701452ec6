"""`appliance demo`: a believable trading day on one simulated till, from a fresh machine.

It writes a config and the demo catalog, then drives the same controller as the touch
screen through a day: logins with PINs, scans through the simulated serial scanner,
discounts, voids, loyalty cards, split tenders, a supervised refund and no-sale, an X
report at lunch and the Z report at closing. Everything it makes lands under `--out`.

The till reports as a unit of the fleet does: enrolled with `collector fleet enroll`, on
`mqtts://` with its certificate to the Mosquitto that `collector fleet broker-config`
configured (TLS, client certificates, the ACL), where `collector run` takes its records
(demo/fleet.py, demo/broker.py). The summary says that each record reached the collector
once through that broker, and that the broker turned away a client without a certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import ssl
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from appliance.config import Config, parse_config
from appliance.controller import Outcome
from appliance.replay import scan_through_scanner
from appliance.sales.catalog import Item, parse_catalog_csv
from appliance.sales.reports import format_report
from appliance.sales.staff import hash_pin
from appliance.service import Unit, open_unit
from appliance.store import Store
from demo.broker import (
    FleetMosquitto,
    InProcessAmqtt,
    free_port,
    mosquitto_binary,
    outsider_refused,
)
from demo.fleet import CollectorRun, Fleet
from protocol.cards import make_loyalty_card
from protocol.errors import BadInput
from protocol.money import format_minor
from protocol.record import Record, StaffTotals

MARKER = ".appliance-demo"
DEVICE, STORE = "till-01", "s001"
STAFF = [
    ("ana", "Ana Lopes", "cashier", "1234"),
    ("ben", "Benoît Roux", "cashier", "2345"),
    ("marie", "Marie Dubois", "supervisor", "9999"),
]
SUPERVISOR = ("marie", "9999")


def demo_catalog_text() -> str:
    return resources.files("demo.data").joinpath("demo_catalog.csv").read_text("utf-8")


def demo_config(out: Path, broker_url: str, unit_files: Path, tls: bool) -> str:
    """The till's configuration: its broker, and the files `collector fleet enroll` wrote
    into `unit_files` for it (the collector's public key; its certificate and key, as
    `[mqtt.tls]`, which prove its birth on any broker; with `tls` the fleet CA too)."""
    staff = "\n".join(
        f'[[staff]]\nid = "{sid}"\nname = "{name}"\nrole = "{role}"\npin_hash = "{hash_pin(pin)}"\n'
        for sid, name, role, pin in STAFF
    )
    data = out / "data"
    ca = f'ca = "{unit_files / "ca.crt"}"\n' if tls else ""
    mqtt_tls = (
        f'[mqtt.tls]\n{ca}cert = "{unit_files / f"{DEVICE}.crt"}"\n'
        f'key = "{unit_files / f"{DEVICE}.key"}"\n'
    )
    return f"""# Written by `appliance demo`.
[device]
id = "{DEVICE}"
store = "{STORE}"
region = "north"

[store]
currency = "EUR"
prices_include_tax = true
cash_rounding = 1
name = "Épicerie du Marché"
address = ["12 rue des Halles", "75001 Paris"]
tax_id = "FR 12 345678901"
footer = ["Merci et à bientôt !", "Returns within 30 days with this receipt"]

[paths]
data_dir = "{data}"

[loyalty]
points_per_unit = 1
point_value = 1
offline_redeem_cap = 200

[mqtt]
url = "{broker_url}"
collector_key = "{unit_files / "collector.pub"}"
{mqtt_tls}
[hardware]
printer = "file:{out / "printer.bin"}"
drawer_open_alarm = 30.0

{staff}"""


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise BadInput(f"{out}: exists and is not a demo output; choose another --out")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by appliance demo\n")


@dataclass
class Day:
    """Drives the unit through the day and keeps what a summary needs."""

    unit: Unit
    rng: random.Random
    items: list[Item]
    completed: list[Record] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    # What each card earned today: customers only spend points they have.
    points: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    async def do(self, op: str, **fields: Any) -> Outcome:
        if op == "scan":
            outcome = await scan_through_scanner(self.unit, str(fields["code"]))
        else:
            outcome = await self.unit.controller.handle({"op": op, **fields})
        if outcome.rejected is not None:
            self.rejected.append((op, outcome.rejected))
        if outcome.record is not None:
            self.completed.append(outcome.record)
            loyalty = outcome.record.loyalty
            if loyalty is not None:
                self.points[loyalty.account] += loyalty.earned - loyalty.redeemed
        return outcome

    async def sale(self, n: int) -> None:
        rng = self.rng
        for _ in range(rng.randint(1, 6)):
            item = rng.choice(self.items)
            if rng.random() < 0.7:
                await self.do("scan", code=item.barcode)
            else:
                await self.do("key", sku=item.sku, qty=1)
            if rng.random() < 0.15:
                await self.do("qty", qty=rng.randint(2, 4))
            if rng.random() < 0.08:
                await self.do("discount", percent=10)
        if rng.random() < 0.1 and len(self.unit.till.view().lines) > 1:
            await self.do("void_line", line=1)
        if rng.random() < 0.1:
            await self.do("discount", percent=5, scope="basket")
        if rng.random() < 0.3:
            account = f"{rng.randint(1, 12):08d}"
            await self.do("scan", code=make_loyalty_card(account, 0))
            spend = rng.choice([50, 100, 150])
            if self.points[account] >= spend and rng.random() < 0.5:
                await self.do("redeem", points=spend)
        view = self.unit.till.view()
        due = view.due
        roll = rng.random()
        if roll < 0.45:
            note = next(v for v in (500, 1000, 2000, 5000, 10000, 10**9) if v >= due)
            await self.do("tender", type="cash", amount=format_minor(note, 2))
        elif roll < 0.85:
            await self.do("tender", type="card", ref=f"T{n:06d}")
        else:
            part = max(1, due // 2)
            await self.do("tender", type="cash", amount=format_minor(part, 2))
            await self.do("tender", type="card", ref=f"T{n:06d}")


async def _trading_day(unit: Unit, out: Path, seed: int) -> Day:
    rng = random.Random(seed)
    day = Day(unit, rng, list(unit.till.catalog))
    await unit.scanner_connected()
    await day.do("login", staff="ana", pin="1234")
    for n in range(1, 26):
        await day.sale(n)
    # A scanner glitch and a mistyped code: refused, the day carries on.
    assert unit.sim_scanner is not None
    unit.sim_scanner.send(b"\x07\xff#!garbage\r")
    await asyncio.sleep(0.1)
    await day.do("scan", code="4006381333932")
    # The customer from receipt 3 brings back the first line: a supervisor approves.
    sales = [r for r in day.completed if r.kind == "sale"]
    await day.do("refund", receipt_no=sales[2].receipt_no, lines=[1])  # refused: a cashier
    await day.do("approve", staff=SUPERVISOR[0], pin=SUPERVISOR[1])
    await day.do("refund", receipt_no=sales[2].receipt_no, lines=[1])
    await day.do("approve", staff=SUPERVISOR[0], pin=SUPERVISOR[1])
    await day.do("no_sale", reason="change for the bakery float")
    (out / "x-report.txt").write_text(
        format_report(unit.controller.x_report(), "X REPORT (lunch)", unit.cfg.exponent)
    )
    await day.do("logout")
    await day.do("login", staff="ben", pin="2345")
    for n in range(26, 61):
        await day.sale(n)
    await day.do("logout")
    await day.do("login", staff="marie", pin="9999")
    close = await day.do("shift_close")
    if close.record is not None and close.record.report is not None:
        (out / "z-report.txt").write_text(
            format_report(close.record.report, "Z REPORT", unit.cfg.exponent)
        )
    await day.do("logout")
    await unit.drain_printer(timeout=30.0)
    return day


def _sales_report(records: list[Record], exponent: int) -> str:
    by_product: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_staff: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        if r.kind not in ("sale", "refund"):
            continue
        by_staff[r.staff][0] += 1
        by_staff[r.staff][1] += r.total
        for line in r.lines:
            by_product[line.name][0] += line.qty
            by_product[line.name][1] += line.total
    rows = ["SALES BY PRODUCT", f"{'product':<32}{'qty':>5}{'total':>10}"]
    for name, (qty, total) in sorted(by_product.items(), key=lambda kv: -kv[1][1]):
        rows.append(f"{name[:32]:<32}{qty:>5}{format_minor(total, exponent):>10}")
    rows += ["", "SALES BY ASSISTANT", f"{'staff':<32}{'sales':>5}{'total':>10}"]
    for staff, (count, total) in sorted(by_staff.items()):
        rows.append(f"{staff:<32}{count:>5}{format_minor(total, exponent):>10}")
    return "\n".join(rows) + "\n"


def run_demo(out: Path, *, headless: bool = True, seed: int = 2026) -> int:
    # Faults the day provokes (scanner noise, a bad check digit) show as warnings.
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(show_path=False, show_time=False)],
        force=True,  # python-escpos calls basicConfig() when imported
    )
    _prepare(out)
    return asyncio.run(_demo(out.resolve(), seed))


Broker = FleetMosquitto | InProcessAmqtt


@contextlib.asynccontextmanager
async def _broker(fleet: Fleet, out: Path) -> AsyncIterator[Broker]:
    """Mosquitto from the configuration `collector fleet broker-config` writes for a free
    port (never the system broker's 1883), run as it is; amqtt only without Mosquitto."""
    binary = mosquitto_binary()
    if binary is None:
        async with InProcessAmqtt() as amqtt:
            yield amqtt
        return
    from collector.broker_config import unreachable

    port = free_port()
    directory, why = out / "broker", unreachable(out / "broker")
    if why is not None:
        # As root, Mosquitto drops to its own user, who may not reach --out (under /root).
        directory = Path(tempfile.mkdtemp(prefix="pos-demo-broker-"))
        directory.chmod(0o755)
        print(f"  (the broker's directory is {directory}, removed afterwards: {why})")
    try:
        conf = fleet.broker_config(port, directory)
        print(f"  $ mosquitto -c {fleet.shown([str(conf)])}", flush=True)
        async with FleetMosquitto(binary, conf, port, out / "mosquitto.log") as mosquitto:
            yield mosquitto
    finally:
        if why is not None:
            shutil.rmtree(directory, ignore_errors=True)


async def _outsiders(broker: Broker) -> tuple[bool, str]:
    """Whether the broker refuses a client without a fleet certificate, on plain MQTT
    and on TLS (trusting the broker, so only the missing certificate is wrong); and how."""
    if not isinstance(broker, FleetMosquitto):
        return True, ""
    tls = ssl.create_default_context(cafile=str(broker.conf.parent / "ca.crt"))
    plain = await outsider_refused(broker.port, None)
    no_cert = await outsider_refused(broker.port, tls)
    how = f"plain MQTT: {plain or 'LET IN'}; TLS without a certificate: {no_cert or 'LET IN'}"
    return plain is not None and no_cert is not None, how


async def _demo(out: Path, seed: int) -> int:
    from collector.db import open_database

    fleet = Fleet(out)
    print("Set-up, the collector's commands as an operator runs them:", flush=True)
    unit_files = fleet.enroll(DEVICE, STORE)
    async with _broker(fleet, out) as broker:
        (out / "appliance.toml").write_text(demo_config(out, broker.url, unit_files, broker.tls))
        (out / "catalog.csv").write_text(demo_catalog_text())
        cfg: Config = parse_config(
            (out / "appliance.toml").read_text(), str(out / "appliance.toml")
        )
        items = parse_catalog_csv(demo_catalog_text(), cfg.exponent, "catalog.csv")
        with Store.open(cfg.data_dir, cfg.device.id) as store:
            store.catalog.replace(items)
        tls_dir = broker.conf.parent if isinstance(broker, FleetMosquitto) else None
        collector = CollectorRun(fleet, broker.url, tls_dir, out / "collector.log")
        async with collector:
            outsiders = await _outsiders(broker)
            async with open_unit(cfg, simulate=True, config_path=out / "appliance.toml") as unit:
                day = await _trading_day(unit, out, seed)
                delivered = await unit.drain_outbox(60)
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        records = list(store.records())
        verified = store.verify()
        with (out / "journal.jsonl").open("w", encoding="utf-8") as f:
            for _, text in store.texts():
                f.write(text + "\n")
    (out / "sales-report.txt").write_text(_sales_report(records, cfg.exponent))
    receipts = cfg.data_dir / "receipts"
    if receipts.exists():
        shutil.copytree(receipts, out / "receipts")
    engine = open_database(fleet.db, create=False)
    try:
        agree = _collector_report(out, engine, records, cfg.exponent)
        once = _reported_once(engine, records)
    finally:
        engine.dispose()
    _summary(out, records, day, verified.ok, cfg.exponent, broker.kind, delivered, agree)
    stopped = collector.returncode == 0
    _wire(broker, fleet, records, once, outsiders, collector.returncode)
    _results(out)
    ok = verified.ok and delivered and agree and once and outsiders[0] and stopped
    return 0 if ok else 1


def _reported_once(engine: Any, records: list[Record]) -> bool:
    """Whether the collector holds every journal record once, as signed (the same seq and
    hash, in order), and refused nothing it was sent (no dead letters)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from collector.models import DeadLetter, Sale

    with Session(engine) as s:
        held = s.execute(
            select(Sale.seq, Sale.hash).where(Sale.device == DEVICE).order_by(Sale.seq)
        )
        dead = s.scalar(select(func.count()).select_from(DeadLetter))
        return [tuple(row) for row in held] == [(r.seq, r.hash) for r in records] and dead == 0


def _wire(
    broker: Broker,
    fleet: Fleet,
    records: list[Record],
    once: bool,
    outsiders: tuple[bool, str],
    collector_rc: int | None,
) -> None:
    """What crossed the wire and through which broker, one line each."""
    if isinstance(broker, FleetMosquitto):
        conf = fleet.shown([str(broker.conf)])
        print(
            f"broker: mosquitto -c {conf} (collector fleet broker-config): TLS on port "
            f"{broker.port}, a fleet certificate required (its CN the username), the ACL "
            "and the CRL"
        )
        through = "the TLS broker"
    else:
        print(
            "broker: amqtt in process (no mosquitto on this machine): plain MQTT, without the "
            "broker's protection (no TLS, no certificates, no ACL); the collector's "
            "signatures and enrolment alone hold"
        )
        through = "the plain broker"
    seqs = f"seq 1-{len(records)}"
    if once:
        print(
            f"reported: all {len(records)} journal records of {DEVICE} reached the collector "
            f"through {through}, each exactly once ({seqs}, hashes as in the journal, "
            "nothing refused)"
        )
    else:
        print(f"reported: NOT each of the {len(records)} journal records exactly once ({seqs})")
    if isinstance(broker, FleetMosquitto):
        verdict = "refused" if outsiders[0] else "NOT REFUSED"
        print(f"outsider without a certificate: {verdict} by the broker ({outsiders[1]})")
    if collector_rc != 0:
        print(f"collector run: exited with code {collector_rc} on SIGTERM (collector.log)")


def _collector_report(out: Path, engine: Any, records: list[Record], exp: int) -> bool:
    """The collector's sales by assistant beside the till's Z report; True when they agree."""
    from collector.reports import render_sales, sales_report

    rows = sales_report(engine, "assistant")
    closes = [r.report for r in records if r.kind == "shift_close" and r.report is not None]
    z_staff = {s.staff: s for s in closes[-1].staff} if closes else {}
    lines = [
        "TILL Z REPORT vs COLLECTOR, by assistant",
        f"{'assistant':<12}{'till sales':>11}{'till total':>12}{'coll. sales':>12}"
        f"{'coll. total':>12}  agree",
    ]
    agree = len(rows) == len(z_staff)
    for row in rows:
        z = z_staff.get(row.group, StaffTotals(staff=row.group, sales=0, refunds=0, total=0))
        ok = z.sales - z.refunds == row.sales and z.total == row.total
        agree = agree and ok
        lines.append(
            f"{row.group:<12}{z.sales - z.refunds:>11}{format_minor(z.total, exp):>12}"
            f"{row.sales:>12}{format_minor(row.total, exp):>12}  {'yes' if ok else 'NO'}"
        )
    text = "\n".join(lines) + "\n\n"
    for by in ("assistant", "product", "day"):
        text += render_sales(sales_report(engine, by), "table", by, ["EUR"]) + "\n"
    (out / "collector-report.txt").write_text(text)
    Console().print("\n".join(lines))
    return agree


def _summary(
    out: Path,
    records: list[Record],
    day: Day,
    ok: bool,
    exp: int,
    broker: str,
    delivered: bool,
    agree: bool,
) -> None:
    console = Console()
    kinds: dict[str, int] = defaultdict(int)
    for r in records:
        kinds[r.kind] += 1
    net = sum(r.total for r in records if r.kind in ("sale", "refund"))
    t = Table(title="Demo trading day: Épicerie du Marché, till-01")
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("sales", str(kinds["sale"]))
    t.add_row("refunds", str(kinds["refund"]))
    t.add_row("no-sales", str(kinds["no_sale"]))
    t.add_row("net takings (EUR)", format_minor(net, exp))
    t.add_row("operations refused (shown to staff)", str(len(day.rejected)))
    t.add_row("journal records / chain", f"{len(records)} / {'intact' if ok else 'BROKEN'}")
    t.add_row("receipts printed", str(len(list((out / "receipts").glob("*.txt")))))
    t.add_row(f"reported to the collector (via {broker})", "all acked" if delivered else "NOT ALL")
    t.add_row("collector report = till Z report", "yes" if agree else "NO")
    console.print(t)


def _results(out: Path) -> None:
    broker = "broker/ (what broker-config wrote), " if (out / "broker").exists() else ""
    broker += "mosquitto.log, " if (out / "mosquitto.log").exists() else ""
    Console().print(
        f"Results in {out}/: receipts/ (.bin ESC/POS, .txt, .png), journal.jsonl, "
        "x-report.txt, z-report.txt, sales-report.txt, collector-report.txt, collector.db, "
        f"printer.bin, appliance.toml, {DEVICE}/ (its enrolment), {broker}collector.log"
    )
