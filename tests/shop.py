"""A shop of real processes for the attack tests (tests/test_attacks.py and
tests/test_attacks_broker.py): `collector run` on SQLite with customers and their points,
`appliance run --simulate` units rung up through their simulated panels, and an attacker
who has nothing but `mosquitto_pub` and an MQTT client. What the shop shows is read back
through the real command lines: `collector report sales`, `collector customers show`,
`collector fleet status`; a unit's outbox from its journal, its prices by selling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec
import pytest

from appliance.sim_panel import SOCKET_NAME
from appliance.store import Store
from protocol import messages as m
from tests import records
from tests.conftest import ROOT, config_text, run_cli

STABILO, BAGUETTE = "4006381333931", "3760123450010"  # A1 1.45, B1 1.20 (demo catalog)
SHOP_NAME = "Chez Ana"
WAIT = 30.0  # seconds a test waits for what it expects (it asserts states, not times)
ENV = dict(os.environ, PYTHONUNBUFFERED="1")


def collector_cli(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """`collector ARGS` as an operator runs it; with `ok`, it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-m", "collector", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    if ok:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def mosquitto_pub(
    port: int, topic: str, payload: bytes | Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """The attacker's tool: one `mosquitto_pub`, QoS 1, of `payload` (a file's content, or
    a null message when empty: it clears a retained one); `extra` adds -r, TLS files, …"""
    binary = shutil.which("mosquitto_pub")
    if binary is None:
        # make sysdeps installs it (mosquitto-clients): missing, the test fails, never skips.
        pytest.fail("mosquitto_pub is not installed: run `make test` (mosquitto-clients)")
    if isinstance(payload, Path):
        message, stdin = ["-f", str(payload)], None
    else:
        message, stdin = (["-s"], payload) if payload else (["-n"], None)
    done = subprocess.run(
        [binary, "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic, *message, *extra],
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    text = (done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))
    return subprocess.CompletedProcess(done.args, done.returncode, *text)


def spawn(args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", *args], cwd=ROOT, env=ENV, stdout=out, stderr=out
        )
    finally:
        out.close()  # the child has its own copy


def stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM and wait: a clean stop exits 0 (else the log's tail says why)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]


def wait_for(check: Any, what: str, timeout: float = WAIT) -> None:
    """Until `check()` holds (polled; for use outside an event loop)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened within {timeout:g} s: {what}"
        time.sleep(0.05)


async def until(check: Any, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened within {timeout:g} s: {what}"
        await asyncio.sleep(0.05)


def log_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a process (anything else it printed is skipped)."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


@dataclass
class Seen:
    """Everything the shop shows, through its command lines: the sales report (by
    customer), each customer (points, available, purchases) and the fleet (but the time it
    last heard of each unit, which telemetry moves)."""

    report: list[dict[str, Any]]
    customers: dict[str, dict[str, Any]]
    fleet: list[dict[str, Any]]

    def sales(self) -> int:
        return sum(int(r["sales"]) for r in self.report)


class Collector:
    """`collector run` on a SQLite database of its own, with its log."""

    def __init__(self, root: Path, broker_url: str, *extra: str) -> None:
        self.root = root
        self.db = f"sqlite:///{root}/collector.db"
        self.broker_url = broker_url
        self.extra = extra
        self.log = root / "collector.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        lines = len(self.lines())
        self.proc = spawn(
            ["collector", "run", "--db", self.db, "--broker", self.broker_url, *self.extra],
            self.log,
        )
        wait_for(
            lambda: any("subscribed as" in ln["msg"] for ln in self.lines()[lines:]),
            "collector run subscribed",
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, self.log)
            self.proc = None

    def lines(self) -> list[dict[str, Any]]:
        return log_lines(self.log) if self.log.exists() else []

    def said(self, text: str) -> int:
        """How many of its log lines hold `text`."""
        return sum(text in ln["msg"] for ln in self.lines())

    def sql(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        """A look at its database for a test's waiting (assertions go through the CLIs)."""
        conn = sqlite3.connect(self.db.removeprefix("sqlite:///"), timeout=10)
        try:
            return list(conn.execute(query, args))
        finally:
            conn.close()

    def cli(self, *args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return collector_cli(*args, "--db", self.db, ok=ok)

    def seen(self, accounts: Iterable[str]) -> Seen:
        """The report, the customers and the fleet, the three asked at once."""
        asks: dict[str, list[str]] = {
            "report": ["report", "sales", "--by", "customer", "--format", "json"],
            "fleet": ["fleet", "status", "--json"],
        }
        for account in accounts:
            asks[account] = ["customers", "show", account, "--json"]
        procs = {
            k: subprocess.Popen(
                [sys.executable, "-m", "collector", *a, "--db", self.db],
                cwd=ROOT,
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k, a in asks.items()
        }
        out = {}
        for k, p in procs.items():
            stdout, stderr = p.communicate(timeout=120)
            assert p.returncode == 0, (k, stderr)
            out[k] = json.loads(stdout)
        fleet = [{k: v for k, v in row.items() if k != "last_seen"} for row in out.pop("fleet")]
        report = out.pop("report")
        return Seen(report, out, fleet)

    def sales_of(self, device: str) -> list[str]:
        return [r[0] for r in self.sql("SELECT sale_id FROM sales WHERE device = ?", device)]


@dataclass
class Unit:
    """One `appliance run --simulate` till, its config and data in `root`."""

    root: Path
    device: str
    store: str
    mqtt: str  # the config's [mqtt] section, tls included
    proc: subprocess.Popen[bytes] | None = None
    # The panel's connection, in the event loop it was opened in (each test has its own).
    _panel: tuple[asyncio.AbstractEventLoop, asyncio.StreamReader, asyncio.StreamWriter] | None = (
        None
    )
    logins: set[str] = field(default_factory=set)

    @property
    def config(self) -> Path:
        return self.root / "appliance.toml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "appliance.log"

    def setup(self) -> None:
        text = config_text(self.data, self.mqtt)
        text = text.replace('id = "till-01"', f'id = "{self.device}"', 1)
        text = text.replace('store = "s001"', f'store = "{self.store}"', 1)
        # A customer at the counter waits 1.5 s; a test on a busy machine waits longer
        # rather than see the card go on offline.
        text = text.replace("offline_redeem_cap = 100\n", "offline_redeem_cap = 100\ntimeout = 8\n")
        self.root.mkdir(parents=True, exist_ok=True)
        text = text.replace("[store]\n", f'[store]\nname = "{SHOP_NAME}"\n', 1)
        self.config.write_text(text + "[display]\nenabled = false\n")
        from demo.day import demo_catalog_text

        catalog = self.root / "catalog.csv"
        catalog.write_text(demo_catalog_text())
        done = run_cli("catalog", "import", "--config", str(self.config), str(catalog))
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        self._panel = None
        self.logins.clear()
        sock = self.data / SOCKET_NAME
        sock.unlink(missing_ok=True)
        self.proc = spawn(
            ["appliance", "run", "--simulate", "--config", str(self.config)], self.log
        )
        wait_for(
            lambda: sock.exists() or (self.proc is not None and self.proc.poll() is not None),
            f"{self.device}'s simulated panel",
            60,
        )
        assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self._panel = None  # its socket goes with the process
        if self.proc is not None:
            stop(self.proc, self.log)
            self.proc = None

    async def restart(self) -> None:
        await asyncio.to_thread(self.stop)
        await asyncio.to_thread(self.start)

    def lines(self) -> list[dict[str, Any]]:
        return log_lines(self.log) if self.log.exists() else []

    def refusals(self) -> list[str]:
        """The reasons of every message it refused as not signed for it."""
        return [
            str(ln.get("error", ""))
            for ln in self.lines()
            if ln["msg"] == "refused a message not signed for us"
        ]

    async def ask(self, **event: Any) -> dict[str, Any]:
        """One panel request, as a key on the till screen; its answer."""
        loop = asyncio.get_running_loop()
        if self._panel is None or self._panel[0] is not loop:
            opened = await asyncio.open_unix_connection(str(self.data / SOCKET_NAME))
            self._panel = (loop, *opened)
        _, reader, writer = self._panel
        writer.write(json.dumps(event).encode() + b"\n")
        await writer.drain()
        answer: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), WAIT))
        return answer

    async def login(self, staff: str = "ana") -> None:
        if staff not in self.logins:
            assert (await self.ask(op="login", staff=staff))["ok"]
            self.logins.add(staff)

    async def sell(self, code: str = BAGUETTE, *, cash: str = "5.00") -> dict[str, Any]:
        """One item scanned and paid in cash: the committed sale's line (sale_id, total)."""
        await self.login()
        scanned = await self.ask(op="scan", code=code)
        assert scanned["ok"], scanned
        paid = await self.ask(op="tender", type="cash", amount=cash)
        assert paid["ok"] and "sale" in paid, paid
        sale: dict[str, Any] = paid["sale"]
        return sale

    def outbox(self) -> int:
        """Records in its outbox, from its journal."""
        conn = sqlite3.connect(self.data / "journal.db", timeout=10)
        try:
            return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
        finally:
            conn.close()


# -- the attacker ---------------------------------------------------------------------------


def attacker_journal(root: Path, device: str) -> Store:
    """A journal of the attacker's own, with a key of its own: its records are signed."""
    return Store.open(root / f"attacker-{device}-{uuid.uuid4().hex[:6]}", device)


def minting_records(journal: Store, device: str, victims: tuple[str, str, str]) -> list[bytes]:
    """Three signed records that, believed, mint 1,000,000 points for the first victim (a
    sale of 1,000,000.00 by card), drain the second's 300 (a redeem of all of them) and
    give the third 777,777 points back (a refund of a sale that never was)."""
    rich, drained, refunded = victims
    big = 100_000_000
    line = {**records.sale_dict()["lines"][0], "unit_price": big, "total": big}
    loyalty = {"earned": 1_000_000, "redeemed": 0, "balance": None, "offline": False}
    drafts = [
        records.draft(
            1, device=device, sale_id=str(uuid.uuid4()), lines=[line], total=big,
            tax=[{"rate": "20", "base": big * 5 // 6, "tax": big - big * 5 // 6}],
            tenders=[{"type": "card", "amount": big}], change=0,
            loyalty={"account": rich, **loyalty},
        ),
        records.draft(
            2, device=device, sale_id=str(uuid.uuid4()),
            tenders=[{"type": "points", "amount": 250, "points": 300}], change=0,
            loyalty={"account": drained, "earned": 0, "redeemed": 300, "balance": 0,
                     "offline": True},
        ),
        records.draft(
            3, device=device, kind="refund", sale_id=str(uuid.uuid4()),
            refund_of=str(uuid.uuid4()), total=-250,
            lines=[{**records.sale_dict()["lines"][0], "qty": -1, "total": -250}],
            tax=[{"rate": "20", "base": -208, "tax": -42}],
            tenders=[{"type": "cash", "amount": -250}], change=0,
            loyalty={"account": refunded, "earned": 0, "redeemed": -777_777, "balance": None,
                     "offline": False},
        ),
    ]  # fmt: skip
    for d in drafts:
        journal.append(d, print_receipt=False)
    return [text.encode() for _, text in journal.texts()]


def birth(journal: Store, store: str = "s001", **changes: Any) -> bytes:
    """A birth announcing the attacker's own key, sealed with it as a unit seals its
    status (protocol.envelope.seal_device); `changes` replace its fields."""
    status = m.Status(
        state="online", version="9.9.9", pubkey=journal.public_key_pem(), region="north"
    )
    status = msgspec.structs.replace(status, **changes)
    return journal.seal(m.device_topic(store, journal.device_id, "status"), status)


@dataclass
class Outsider:
    """The attacker's MQTT client on the broker, keeping what it reads."""

    client: aiomqtt.Client
    received: list[tuple[str, bytes]]

    def bodies(self, leaf: str) -> list[dict[str, Any]]:
        """The bodies of what the collector signed, on topics ending in `leaf`."""
        return [
            json.loads(json.loads(p)["signed"])["body"]
            for t, p in self.received
            if t.endswith(leaf) and p.startswith(b"{")
        ]

    async def answer(self, device: str, corr: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def came() -> bool:
            found[:] = [
                b for b in self.bodies(f"/{device}/loyalty/response") if b.get("corr") == corr
            ]
            return bool(found)

        await until(came, f"the collector's answer to {corr}")
        return found[-1]


@contextlib.asynccontextmanager
async def outsider(port: int, *topics: str) -> AsyncIterator[Outsider]:
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"x-{uuid.uuid4().hex[:8]}") as c:
        for topic in topics:
            await c.subscribe(topic, qos=1)
        spy = Outsider(c, [])

        async def read() -> None:
            async for msg in c.messages:
                payload = msg.payload if isinstance(msg.payload, bytes) else b""
                spy.received.append((str(msg.topic), payload))

        task = asyncio.create_task(read())
        try:
            yield spy
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task
