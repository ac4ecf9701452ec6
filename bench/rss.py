"""RSS over hours of sales (issue: hostile input and faults). `python -m bench rss [--scans N]`.

A real `appliance run --simulate` process, reporting to a real `collector run` through
its own Mosquitto (tests/broker.py), rings up sales as fast as it takes them: items and
loyalty cards read through the simulated serial scanner's pty, then cash or card
tenders, with now and then a voided line, a cancelled basket, a points redeem, a
refund, a no-sale, a change of assistant and a shift close, all through the simulated
touch panel (`appliance.sim_panel`: the screens' `Controller.handle`). Nothing in the
bench reads `Controller.scan_outcomes`, as nothing does under `appliance run`.

Simulated time: a busy till reads a code every 2–3 s, so the default 30,000 scans are
about 21 hours at one scan per 2.5 s (some 6,000 sales: the mix below averages ~4.9
reads a sale). The unit's timers are shortened so they fire at least as often as in
those hours: telemetry every 0.1 s (`[mqtt] telemetry_interval`, 30 s in a shop), the
journal's quick_check every 20 s (`[journal] check_interval`, 6 h); the collector sends
stock levels back after every ingest (`cmd/stock`) and the bench books deliveries on it
every 250 sales; the broker goes away three times for 20 sales each (the outbox queues,
cards go offline, the link reconnects). The print queue prints every receipt (ESC/POS,
text and PNG) and the bench lets at most 8 wait, as a printer at the counter would; a
quarter of the sales are cash, and the bench never asks for a drawer kick while two are
still to pulse (one takes 0.2 s, and no person opens a drawer faster).

RSS (VmRSS, and RssAnon: the heap, without the file pages SQLite and the libraries map)
is read from /proc/PID/status every `--sample-every` sales, with Python's allocated
blocks after a garbage collection (`{"op":"memory","collect":true}` on the panel).
Reported: start (after the warm-up: the first 10% of sales), end, max, and least-squares
slopes over the second half per 1,000 sales. Flat means RssAnon under 500 KB and Python
blocks under 1,000 per 1,000 sales (docs/benchmarks.md says why). `--trace N` runs the
unit under tracemalloc (N frames; its RSS is then no guide) and prints the lines whose
memory grew most over the second half. Results: bench/results/rss.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.sales.catalog import Item
from appliance.store import Store
from bench.reporting import collector_keys, collector_process, outbox_depth, stored_sales
from bench.till import ROOT, make_items
from protocol.cards import ean_check_digit
from protocol.money import format_minor
from tests.broker import Broker
from tests.records import enrol

# A busy till: one code read every 2.5 s (so ~1,440 scans and ~300 sales an hour).
SECONDS_PER_SCAN = 2.5
# Flat: under both bounds, least squares over the second half (docs/benchmarks.md, "RSS
# over hours of sales", says why these).
FLAT_KB_PER_1000_SALES = 500.0  # RssAnon
FLAT_BLOCKS_PER_1000_SALES = 1000.0  # Python's allocated blocks, after a collection
WARM_UP = 0.10  # the first tenth of the sales: caches filling, not growth
PRINT_BEHIND = 8  # receipts the bench lets wait in the print queue
CASH_SHARE = 0.25  # of sales paid in cash (the drawer opens); the rest by card
OUTAGES = 3
OUTAGE_SALES = 20
RESTOCK_EVERY = 250
CARDS = 200  # loyalty accounts 00000001…
POPULAR = 300  # the items most baskets take from


def card_code(account: int) -> str:
    body = f"2900{account:08d}"
    return body + str(ean_check_digit(body))


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile and VmHWM of `pid`, in KB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def config_text(data: Path, url: str) -> str:
    return f"""
[device]
id = "till-01"
store = "s001"
region = "north"
[paths]
data_dir = "{data}"
[hardware]
printer = "file:{data}/printer.bin"
[display]
enabled = false
[loyalty]
points_per_unit = 1
point_value = 1
offline_redeem_cap = 0
[journal]
check_interval = 20.0
[mqtt]
url = "{url}"
collector_key = "{collector_keys()}"
telemetry_interval = 0.1
"""


class Panel:
    """The simulated touch panel's socket: one request, one answer."""

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no simulated panel at {path}")
            time.sleep(0.05)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rwb")

    def ask(self, event: dict[str, Any]) -> dict[str, Any]:
        self.file.write(json.dumps(event).encode() + b"\n")
        self.file.flush()
        line = self.file.readline()
        if not line:
            raise RuntimeError(f"the panel closed on {event}")
        found: dict[str, Any] = json.loads(line)
        return found

    def must(self, event: dict[str, Any]) -> dict[str, Any]:
        found = self.ask(event)
        if not found["ok"]:
            raise RuntimeError(f"{event} refused: {found.get('reason')}")
        return found

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class TopicCounter:
    """Counts what travels under the unit's topics (paho in its own thread; it
    reconnects by itself after a broker outage)."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.counts: Counter[str] = Counter()
        prefix = "pos/v1/s001/"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-rss-counter")

        def on_connect(c: Any, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
            c.subscribe(prefix + "#", qos=0)

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            self.counts[msg.topic.removeprefix(prefix).removeprefix("till-01/")] += 1

        client.on_connect = on_connect
        client.on_message = on_message
        client.reconnect_delay_set(0.2, 1.0)
        client.connect_async("127.0.0.1", port)
        client.loop_start()
        self.client = client

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class Run:
    scans: int = 0
    sales: int = 0
    refunds: int = 0
    others: int = 0  # no-sales and shift closes
    cards: int = 0
    redeems: int = 0
    voids: int = 0
    cancels: int = 0
    restocks: int = 0
    outages: int = 0
    samples: list[dict[str, float]] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    cash_receipts: list[str] = field(default_factory=list)


def prepare(work: Path, n_items: int, url: str) -> tuple[Path, list[Item]]:
    data = work / "data"
    items = [replace(it, stock=1_000) for it in make_items(n_items)]
    with Store.open(data, "till-01") as store:
        store.catalog.replace(items)
    cfg = work / "appliance.toml"
    cfg.write_text(config_text(data, url))
    return cfg, items


def seed_stock(engine: Any, items: list[Item]) -> None:
    """The collector's levels as the unit's (a stock count), already sent: its `cmd/stock`
    after each ingest then carries the true levels, never a negative one."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from collector.models import Stock

    rows = [
        {"store": "s001", "sku": it.sku, "level": it.stock, "version": 1, "published_version": 1}
        for it in items
    ]
    with Session(engine) as session, session.begin():
        session.execute(insert(Stock), rows)


def wait_ready(sock: socket.socket, proc: subprocess.Popen[bytes], log: Path) -> None:
    sock.settimeout(0.1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the unit exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(TimeoutError):
            if b"READY=1" in sock.recv(4096):
                return
    raise RuntimeError("the unit never said READY")


def wait_printed(receipts: Path, receipt_no: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not (receipts / f"{receipt_no}.txt").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"receipt {receipt_no} not printed within {timeout:g} s")
        time.sleep(0.005)


def wait_drawer(panel: Panel, timeout: float = 60.0) -> None:
    """Until at most one kick is still to pulse: the drawer takes one kick per 0.2 s, and
    no person at a till opens it faster (asked faster, kicks queue without end)."""
    deadline = time.monotonic() + timeout
    while panel.must({"op": "view"})["view"]["kicks"] > 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"drawer kicks still queued after {timeout:g} s")
        time.sleep(0.01)


def cash(due: int) -> str:
    """What a customer hands over: the next 5.00 up (the exact amount when it is one)."""
    return format_minor(-(-due // 500) * 500, 2)


def sell(panel: Panel, rng: random.Random, items: list[Item], run: Run, receipts_dir: Path) -> bool:
    """One customer: maybe a card, some items, maybe a void, a redeem or a cancel, a tender.
    True when it ended in a sale."""
    n = run.sales + run.cancels
    if rng.random() < 0.25:
        got = panel.must({"op": "scan", "code": card_code(rng.randint(1, CARDS))})
        run.scans += 1
        run.cards += 1
        if got["view"]["loyalty"] is None:
            raise RuntimeError(f"the card did not go on the sale: {got}")
    lines = 0
    for _ in range(rng.choice((1, 1, 2, 3, 3, 4, 5, 6, 8, 12))):
        pool = POPULAR if rng.random() < 0.6 else len(items)
        got = panel.must({"op": "scan", "code": items[rng.randrange(pool)].barcode})
        run.scans += 1
        lines += 1
        if got["view"]["lines"] != lines:
            raise RuntimeError(f"scan {run.scans}: the basket has {got['view']['lines']} lines")
    if lines > 1 and rng.random() < 0.05:
        got = panel.must({"op": "void_line", "line": rng.randint(1, lines)})
        run.voids += 1
    if rng.random() < 0.02:
        panel.must({"op": "cancel"})
        run.cancels += 1
        return False
    card = got["view"]["loyalty"]
    if card and not card["offline"] and (card["balance"] or 0) >= 50 and rng.random() < 0.3:
        # An outage can take the card offline between the scan and the redeem: then the
        # offline cap (0) refuses it, which is what a till would say.
        redeemed = panel.ask({"op": "redeem", "points": 50})
        if redeemed["ok"]:
            run.redeems += 1
            got = redeemed
    due = got["view"]["due"]
    paid_cash = rng.random() < CASH_SHARE
    if paid_cash:
        wait_drawer(panel)
        tender: dict[str, Any] = {"op": "tender", "type": "cash", "amount": cash(due)}
    else:
        tender = {"op": "tender", "type": "card", "ref": f"T{n}"}
    sale = panel.must(tender).get("sale")
    if sale is None:
        raise RuntimeError(f"the tender of {due} did not complete the sale")
    run.sales += 1
    run.receipts.append(sale["receipt_no"])
    if paid_cash:
        run.cash_receipts.append(sale["receipt_no"])
    if len(run.receipts) > PRINT_BEHIND:
        wait_printed(receipts_dir, run.receipts[-PRINT_BEHIND - 1])
    return True


def between_customers(panel: Panel, rng: random.Random, run: Run) -> None:
    """What else happens at a till between sales, now and then."""
    n = run.sales
    if n % 150 == 0 and len(run.cash_receipts) > 10:
        wait_drawer(panel)  # a cash refund opens the drawer
        got = panel.must({"op": "refund", "receipt_no": run.cash_receipts[-10], "lines": [1]})
        if "sale" not in got:
            raise RuntimeError(f"the refund did not complete: {got}")
        run.refunds += 1
        run.receipts.append(got["sale"]["receipt_no"])
    if n % 200 == 0:
        wait_drawer(panel)
        panel.must({"op": "no_sale", "reason": "change for the float"})
        run.others += 1
    if n % 300 == 0:
        panel.must({"op": "logout"})
        panel.must({"op": "login", "staff": rng.choice(["ana", "marc", "lea"])})
    if n % 1000 == 0:
        panel.must({"op": "shift_close"})
        run.others += 1


def sample(panel: Panel, pid: int, run: Run, t0: float, smaps: Path | None = None) -> None:
    kb = status_kb(pid)
    if smaps is not None:  # --keep: which mappings grew, for a look afterwards
        smaps.write_text(Path(f"/proc/{pid}/smaps").read_text())
    blocks = panel.must({"op": "memory", "collect": True})["blocks"]
    run.samples.append(
        {
            "sales": run.sales,
            "scans": run.scans,
            "seconds": round(time.monotonic() - t0, 2),
            "rss_kb": kb["VmRSS"],
            "anon_kb": kb["RssAnon"],
            "file_kb": kb["RssFile"],
            "hwm_kb": kb["VmHWM"],
            "blocks": blocks,
        }
    )


def summarise(run: Run) -> dict[str, Any]:
    total = run.sales
    after = [s for s in run.samples if s["sales"] >= WARM_UP * total]
    second = [s for s in run.samples if s["sales"] >= total / 2]

    def per_1000(key: str) -> float:
        return 1000 * slope([(s["sales"], s[key]) for s in second])

    return {
        "rss_start_kb": after[0]["rss_kb"],
        "rss_end_kb": run.samples[-1]["rss_kb"],
        "rss_max_kb": max(s["rss_kb"] for s in run.samples),
        "hwm_kb": run.samples[-1]["hwm_kb"],
        "anon_start_kb": after[0]["anon_kb"],
        "anon_end_kb": run.samples[-1]["anon_kb"],
        "anon_max_kb": max(s["anon_kb"] for s in run.samples),
        "rss_slope_kb_per_1000_sales": round(per_1000("rss_kb"), 1),
        "anon_slope_kb_per_1000_sales": round(per_1000("anon_kb"), 1),
        "file_slope_kb_per_1000_sales": round(per_1000("file_kb"), 1),
        "blocks_start": after[0]["blocks"],
        "blocks_end": run.samples[-1]["blocks"],
        "blocks_slope_per_1000_sales": round(per_1000("blocks"), 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench rss", description=__doc__.split("\n")[0])
    ap.add_argument("--scans", type=int, default=30_000, help="codes to read (30,000)")
    ap.add_argument("--items", type=int, default=50_000, help="catalog size (50,000)")
    ap.add_argument("--sample-every", type=int, default=25, help="sales between samples")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--outages", type=int, default=OUTAGES, help="broker outages (3)")
    ap.add_argument("--trace", type=int, default=0, help="tracemalloc frames in the unit")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    load_before = os.getloadavg()
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rss-", dir=ROOT / "bench" / "results"))
    broker = Broker()
    counter = TopicCounter(broker.port)
    run = Run()
    traced: list[str] = []
    try:
        cfg, items = prepare(work, args.items, broker.url)
        data = work / "data"
        db_url = f"sqlite:///{work}/collector.db"
        enrol(db_url, "till-01")  # the collector believes only enrolled units
        with collector_process(db_url, broker.url, work / "collector.log"):
            from collector.db import open_database
            from collector.stock import receive

            engine = open_database(db_url, create=False)
            seed_stock(engine, items)
            notify = str(work / "notify.sock")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(notify)
            env = dict(os.environ, NOTIFY_SOCKET=notify, PYTHONUNBUFFERED="1")
            if args.trace:
                env["PYTHONTRACEMALLOC"] = str(args.trace)
            log = work / "unit.log"
            with open(log, "ab") as out:
                unit = subprocess.Popen(
                    [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(cfg)],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=out,
                )
            try:
                wait_ready(sock, unit, log)
                panel = Panel(data / "sim-panel.sock")
                panel.must({"op": "login", "staff": "ana"})
                t0 = time.monotonic()
                est_sales = args.scans / 4.9  # the basket mix averages ~4.9 reads a sale
                n_out = args.outages
                outage_at = [int(est_sales * (i + 1) / (n_out + 1)) for i in range(n_out)]
                back_at = -1
                sample(panel, unit.pid, run, t0)
                while run.scans < args.scans:
                    if not sell(panel, rng, items, run, data / "receipts"):
                        continue
                    if run.sales % args.sample_every == 0:
                        warm = args.keep and not run.samples[-1]["sales"] >= WARM_UP * est_sales
                        sample(panel, unit.pid, run, t0, work / "smaps-start" if warm else None)
                    between_customers(panel, rng, run)
                    if run.sales % RESTOCK_EVERY == 0:
                        for sku in {items[rng.randrange(POPULAR)].sku for _ in range(5)}:
                            receive(engine, "s001", sku, 500)
                        run.restocks += 1
                    if outage_at and run.sales >= outage_at[0]:
                        outage_at.pop(0)
                        broker.stop()
                        back_at = run.sales + OUTAGE_SALES
                        run.outages += 1
                    if back_at == run.sales:
                        broker.start()
                    if args.trace and run.sales == int(est_sales / 2) and not traced:
                        traced = ["baseline"]
                        panel.must({"op": "memory", "diff": True})  # what grew is from here
                if broker.proc is None:
                    broker.start()
                sample(panel, unit.pid, run, t0, work / "smaps-end" if args.keep else None)
                if args.trace:
                    traced = panel.must({"op": "memory", "diff": True}).get("grew", [])
                wall = time.monotonic() - t0
                depth = -1
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    depth = outbox_depth(data / "journal.db")
                    if depth == 0:
                        break
                    time.sleep(0.2)
                panel.close()
            finally:
                unit.send_signal(signal.SIGTERM)
                try:
                    code = unit.wait(30)
                except subprocess.TimeoutExpired:
                    unit.kill()
                    code = unit.wait()
                sock.close()
            engine.dispose()
            stored = stored_sales(db_url)
        counter.close()
        text = log.read_text()
        checks = text.count('"msg": "journal checked"')
        tracebacks = text.count("Traceback")
    finally:
        broker.close()
    load_after = os.getloadavg()
    summary = summarise(run)
    hours = run.scans * SECONDS_PER_SCAN / 3600
    flat = (
        summary["anon_slope_kb_per_1000_sales"] < FLAT_KB_PER_1000_SALES
        and summary["blocks_slope_per_1000_sales"] < FLAT_BLOCKS_PER_1000_SALES
    )
    verdict = "flat" if flat else "GROWS"
    records = run.sales + run.refunds + run.others
    result = {
        "when": datetime.now(UTC).isoformat(),
        "command": "python -m bench rss " + " ".join(argv if argv is not None else sys.argv[1:]),
        "load_before": load_before,
        "load_after": load_after,
        "wall_seconds": round(wall, 1),
        "scans": run.scans,
        "sales": run.sales,
        "simulated_hours": round(hours, 1),
        "cards": run.cards,
        "redeems": run.redeems,
        "voids": run.voids,
        "cancels": run.cancels,
        "refunds": run.refunds,
        "no_sales_and_shift_closes": run.others,
        "restocks": run.restocks,
        "broker_outages": run.outages,
        "journal_records": records,
        "collector_stored": stored,
        "outbox_left": depth,
        "journal_checks": checks,
        "unit_exit": code,
        "tracebacks_in_log": tracebacks,
        "mqtt_seen": dict(sorted(counter.counts.items())),
        **summary,
        "verdict": verdict,
        "samples": run.samples,
        "grew": traced,
    }
    out = ROOT / "bench" / "results" / "rss.json"
    out.write_text(json.dumps(result, indent=1))
    mb = 1 / 1024
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores)")
    print(
        f"{run.scans:,} scans, {run.sales:,} sales ({run.cards} cards, {run.redeems} redeems, "
        f"{run.refunds} refunds, {run.cancels} cancelled) in {wall:.0f} s: "
        f"{hours:.1f} simulated hours at one scan per {SECONDS_PER_SCAN:g} s"
    )
    print(
        f"journal checks {checks}, telemetry {counter.counts['telemetry']}, "
        f"cmd/stock {counter.counts.get('cmd/stock', 0)}, outages {run.outages}, "
        f"collector stored {stored} of {records} records, outbox left {depth}, "
        f"unit exit {code}, tracebacks {tracebacks}"
    )
    for key, name in (("rss", "VmRSS"), ("anon", "RssAnon")):
        print(
            f"{name:<8} start {summary[f'{key}_start_kb'] * mb:6.1f} MB  "
            f"end {summary[f'{key}_end_kb'] * mb:6.1f} MB  "
            f"max {summary[f'{key}_max_kb'] * mb:6.1f} MB  "
            f"slope {summary[f'{key}_slope_kb_per_1000_sales']:+7.1f} KB / 1,000 sales"
        )
    print(
        f"Python blocks start {summary['blocks_start']:,} end {summary['blocks_end']:,} "
        f"slope {summary['blocks_slope_per_1000_sales']:+.0f} / 1,000 sales"
    )
    for line in traced:
        print("  grew:", line)
    print(
        f"verdict: {verdict} (bounds: RssAnon {FLAT_KB_PER_1000_SALES:g} KB and Python "
        f"{FLAT_BLOCKS_PER_1000_SALES:g} blocks per 1,000 sales)"
    )
    print(f"\nwritten {out}" + (f"; work kept in {work}" if args.keep else ""))
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if verdict == "flat" and code == 0 and depth == 0 else 1
