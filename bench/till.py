"""Till benchmarks (issue: the countertop till). Run with `make bench` or `python -m bench`.

Every figure is measured in one run on this machine and reported next to a baseline
measured in the same process, because these machines are noisy: the raw fsync of the
same disk for commits, a bare pty round trip for scans, a bare `python -c pass` for
start-up.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.config import parse_config
from appliance.sales.catalog import Item
from appliance.service import open_unit
from appliance.store import Store
from protocol.cards import ean_check_digit
from protocol.record import Draft, convert
from protocol.timestamps import utc_stamp

ROOT = Path(__file__).resolve().parent.parent


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def make_items(n: int) -> list[Item]:
    items = []
    for i in range(n):
        body = f"20{i:010d}"
        items.append(
            Item(
                sku=f"SKU{i:06d}",
                barcode=body + str(ean_check_digit(body)),
                name=f"Article n°{i} crème",
                price=100 + i % 5000,
                tax_rate=("20", "5.5", "10")[i % 3],
                category=f"cat{i % 40}",
                stock=None,
            )
        )
    return items


def sale_draft(i: int) -> Draft:
    """A typical three-line sale, as the till produces it."""
    return convert(sale_dict(i), Draft)


def sale_dict(i: int) -> dict[str, Any]:
    """`sale_draft` as its plain JSON object."""
    lines = [
        {
            "sku": f"SKU{j:06d}",
            "barcode": "2000000000008",
            "name": f"Article {j}",
            "qty": 1,
            "unit_price": 250 + j,
            "discount": 0,
            "total": 250 + j,
            "tax_rate": "20",
        }
        for j in range(3)
    ]
    total = sum(line["total"] for line in lines)
    return {
        "schema": 1,
        "sale_id": str(uuid.uuid4()),
        "kind": "sale",
        "device": "till-01",
        "store": "s001",
        "region": "north",
        "staff": "ana",
        "ts": utc_stamp(),
        "currency": "EUR",
        "lines": lines,
        "total": total,
        "tax": [{"rate": "20", "base": total - total // 6, "tax": total // 6}],
        "tenders": [{"type": "cash", "amount": total}],
        "change": 0,
        "loyalty": None,
        "refund_of": None,
        "rounding": 0,
    }


def commit_samples(store: Store, n: int) -> list[float]:
    samples = []
    for i in range(n):
        draft = sale_draft(i)
        t = time.perf_counter()
        store.append(draft, print_receipt=True)
        samples.append(time.perf_counter() - t)
    return samples


def fsync_samples(path: Path, n: int) -> list[float]:
    """The floor: append ~1 KB to a file and fsync it, as a journal commit must at least."""
    data = b"x" * 1024
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, data)
            os.fsync(fd)
            samples.append(time.perf_counter() - t)
    finally:
        os.close(fd)
    return samples


def prefill(store: Store, upto: int) -> None:
    """Fill the journal fast (no fsync per record): only the state we measure at matters."""
    db = store._db._conn  # bench only: the fill needs no fsync per record
    db.execute("PRAGMA synchronous=OFF")
    try:
        i = store.last_seq()
        while i < upto:
            store.append(sale_draft(i), print_receipt=False)
            i += 1
        store.outbox.ack(upto)
    finally:
        db.execute("PRAGMA synchronous=FULL")
        # Start the measurement from a settled disk, as a till that has been trading would.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        os.sync()


def tinydb_insert_p99(path: Path, prefilled: int, n: int) -> float:
    """TinyDB holding the same sales: each insert rewrites the whole file."""
    from tinydb import TinyDB

    records = {str(i + 1): sale_dict(i) for i in range(prefilled)}
    path.write_text(json.dumps({"_default": records}))
    db = TinyDB(path)
    samples = []
    try:
        for i in range(n):
            t = time.perf_counter()
            db.insert(sale_dict(prefilled + i))
            samples.append(time.perf_counter() - t)
    finally:
        db.close()
    return p99(samples)


def bench_commit(work: Path, report: Callable[[str, str, str], None], big: int) -> None:
    rounds, per_round = 8, 250
    fsync: list[float] = []
    small: list[float] = []
    large: list[float] = []
    with Store.open(work / "small", "till-01") as s1, Store.open(work / "commit", "till-01") as s2:
        prefill(s1, 1000)
        t = time.perf_counter()
        prefill(s2, big)
        fill = time.perf_counter() - t
        # Interleaved rounds, so a noisy moment on this shared machine hits all three alike.
        for _ in range(rounds):
            fsync += fsync_samples(work / "fsync.bin", per_round)
            small += commit_samples(s1, per_round)
            large += commit_samples(s2, per_round)
    base, at_1k, at_big = p99(fsync), p99(small), p99(large)
    report("raw fsync p99 (1 KB append + fsync, same disk)", ms(base), "baseline")
    report("sale commit p99 at 1k records", ms(at_1k), f"{at_1k / base:.2f}× raw fsync")
    report(
        f"sale commit p99 at {big // 1000}k records",
        ms(at_big),
        f"{at_big / base:.2f}× raw fsync, {at_big / at_1k:.2f}× the 1k figure",
    )
    report(f"prefill to {big // 1000}k records (synchronous=OFF)", f"{fill:.1f} s", "set-up only")
    for size, count in ((1000, 50), (10000, 10)):
        tdb = tinydb_insert_p99(work / f"tiny-{size}.json", size, count)
        report(f"TinyDB insert p99 at {size // 1000}k sales", ms(tdb), f"{tdb / at_1k:.0f}× SQLite")


def config_for(data: Path, printer: Path) -> str:
    return f"""
[device]
id = "till-01"
store = "s001"
region = "north"
[paths]
data_dir = "{data}"
[hardware]
printer = "file:{printer}"
"""


async def _scan_samples(cfg_text: str, codes: list[str]) -> tuple[list[float], list[float]]:
    import termios
    import tty

    cfg = parse_config(cfg_text)
    # Baseline: the same pty hop with nothing behind it.
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    loop = asyncio.get_running_loop()
    got: asyncio.Queue[bytes] = asyncio.Queue()
    loop.add_reader(slave, lambda: got.put_nowait(os.read(slave, 256)))
    bare = []
    for code in codes:
        t = time.perf_counter()
        os.write(master, code.encode() + b"\r")
        buf = b""
        while not buf.endswith(b"\r"):
            buf += await got.get()
        bare.append(time.perf_counter() - t)
    loop.remove_reader(slave)
    os.close(master)
    os.close(slave)

    samples = []
    async with open_unit(cfg, simulate=True) as unit:
        await unit.scanner_connected()
        await unit.controller.handle({"op": "login", "staff": "ana"})
        sim = unit.sim_scanner
        assert sim is not None
        outcomes = unit.controller.scan_outcomes
        for i, code in enumerate(codes):
            if i % 50 == 49:  # keep the basket a realistic size
                await unit.controller.handle({"op": "cancel"})
            t = time.perf_counter()
            sim.scan(code)
            outcome = await outcomes.get()
            samples.append(time.perf_counter() - t)
            assert outcome.rejected is None, outcome.rejected
    return bare, samples


def bench_scan(work: Path, report: Callable[[str, str, str], None], items: list[Item]) -> None:
    data = work / "scan"
    with Store.open(data, "till-01") as store:
        store.catalog.replace(items)
    codes = [items[(i * 7919) % len(items)].barcode for i in range(2000)]
    bare, samples = asyncio.run(_scan_samples(config_for(data, work / "p.bin"), codes))
    report("pty round trip p99 (bare, no till)", ms(p99(bare)), "baseline")
    report(
        f"scan-to-basket p99, {len(items) // 1000}k-item catalog",
        ms(p99(samples)),
        f"{p99(samples) / p99(bare):.1f}× bare pty",
    )


def _wait_ready(sock: socket.socket, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    sock.settimeout(0.05)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if b"READY=1" in sock.recv(4096):
                return True
        except TimeoutError:
            continue
    return False


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_ready(work: Path, report: Callable[[str, str, str], None], data: Path, runs: int) -> None:
    cfg = work / "ready.toml"
    cfg.write_text(config_for(data, work / "ready-printer.bin"))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - t
    report("bare `python -c pass`", ms(bare), "baseline")
    times, rss = [], []
    for _ in range(runs):
        path = str(work / "notify.sock")
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(cfg)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        ok = _wait_ready(sock, proc, 30)
        times.append(time.perf_counter() - t)
        time.sleep(0.5)  # let it settle into its steady state before reading RSS
        rss.append(rss_mb(proc.pid))
        proc.terminate()
        proc.wait(10)
        sock.close()
        if not ok:
            raise RuntimeError("the service never said READY")
    med = statistics.median(times)
    report(
        "time to READY (median of runs), 50k items + journal",
        ms(med),
        f"{med / bare:.1f}× bare python",
    )
    report("RSS when READY, 50k items + journal", f"{max(rss):.1f} MB", "max of runs")


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    big = 100_000 if "--quick" not in args else 10_000
    rows: list[tuple[str, str, str]] = []

    def report(what: str, value: str, note: str) -> None:
        rows.append((what, value, note))
        print(f"{what:<58} {value:>12}  {note}", flush=True)

    items = make_items(50_000)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "results") as tmp:
        work = Path(tmp)
        bench_commit(work, report, big)
        bench_scan(work, report, items)
        with Store.open(work / "commit", "till-01") as store:
            store.catalog.replace(items)
        bench_ready(work, report, work / "commit", runs=5)
    out = ROOT / "bench" / "results" / "till.json"
    out.write_text(json.dumps({"when": datetime.now(UTC).isoformat(), "rows": rows}, indent=1))
    print(f"\nwritten {out}")
    return 0
