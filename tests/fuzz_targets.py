"""Every MQTT handler of both sides, with what it must do whatever it is sent; the fuzz
tests (tests/test_fuzz_handlers.py) and `python -m bench fuzz` run these same targets.

A target is a handler's real entry point (the function that gets the topic and payload
bytes as production calls it), the hypothesis strategy of its inputs (tests/fuzzing.py)
and the property: it never raises, a refusal says why, and refused input changes
nothing (the unit's catalog, config file, outbox and till; the collector's row counts
and device rows). Nothing may be logged at ERROR: that is how both sides report their
own bugs (`log.exception` in a handler's last-resort `except`).

The parts are real: an appliance `open_unit` with its MQTT link connected to a real
Mosquitto, a real SQLite collector database, and the collector's replies published
through the broker and read back. Each side runs on an event loop in a thread of its
own (`LoopThread`), so hypothesis, which calls a property synchronously, can drive
them example after example without restarting a unit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appliance.loyalty.authoriser import LoyaltyError
from appliance.loyalty.customers import CustomerSummary, Enrolment, EnrolResult
from appliance.mqtt.commands import LIVE_KEYS, Incoming, validate_items
from appliance.sales.catalog import Catalog
from appliance.service import open_unit
from collector.config import PrivacySection
from collector.db import open_database
from collector.enrolment import believed
from collector.fleet import fleet_status, render_fleet
from collector.ingest.batches import Incoming as CollectorIncoming
from collector.ingest.batches import Ingestor
from collector.models import Base, Customer, DeadLetter, Device, LoyaltyAccount, LoyaltyCard, Sale
from collector.service import Collector, Settings, _payload
from protocol import messages as m
from protocol.broker import BrokerAddress
from protocol.chain import GENESIS_HASH, record_hash, sign_hash
from protocol.envelope import Admission, EnvelopeError, Verifier, seal_device
from protocol.errors import BadInput
from protocol.limits import MAX_POINTS
from tests.broker import Broker
from tests.conftest import COLLECTOR_KEYS
from tests.fuzzing import dumps, mutated, odd_text, payloads, weighted
from tests.records import enrol, sale_dict
from tests.signed import seal
from tests.test_mqtt_link import load, mqtt_config, sell

T = TypeVar("T")
STORE, DEVICE = "s001", "till-01"
ACCOUNT, CARD = "00000001", "2900000000018"


# -- the machinery ---------------------------------------------------------------------------


class LoopThread:
    """An asyncio loop on a daemon thread; `run(coro)` waits for its result here."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class ErrorLog(logging.Handler):
    """Every record logged at ERROR or above, anywhere: a handler's own bug report."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        logging.getLogger().addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        """What was logged since the last look (with its traceback), and forget it."""
        out = [self.format(r) + (f"\n{r.exc_text}" if r.exc_text else "") for r in self.records]
        self.records.clear()
        return out

    def close(self) -> None:
        logging.getLogger().removeHandler(self)
        super().close()


def _no_errors(log: ErrorLog) -> None:
    errors = log.take()
    assert not errors, "logged at ERROR (a handler's own bug):\n" + "\n".join(errors)[-4000:]


def outcome(what: str, reason: str | None = None) -> str:
    """A short label for what a handler did (`prices: refused: Expected int <= N`), for
    the bench's tally of how deep the examples got: numbers and quoted values left out."""
    if reason is None:
        return what
    words = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`|-?\d[\d_.,]*", "…", reason.splitlines()[0]).split()
    return f"{what}: {' '.join(words[:6])}"


class Reader:
    """An aiomqtt client that keeps what it hears; `fence()` waits until everything the
    broker had for it before now has arrived (a marker of its own, on an ordered topic)."""

    def __init__(self, client: aiomqtt.Client, marker_topic: str) -> None:
        self.client = client
        self.marker_topic = marker_topic
        self.heard: list[tuple[str, bytes]] = []
        self._markers: dict[str, asyncio.Future[None]] = {}
        self.task = asyncio.create_task(self._read())
        self.on_message: Callable[[str, bytes], Coroutine[Any, Any, None]] | None = None

    async def _read(self) -> None:
        async for msg in self.client.messages:
            payload = msg.payload if isinstance(msg.payload, bytes) else b""
            topic = str(msg.topic)
            if topic == self.marker_topic:
                future = self._markers.pop(payload.decode(), None)
                if future is not None and not future.done():
                    future.set_result(None)
                continue
            self.heard.append((topic, payload))
            if self.on_message is not None:
                await self.on_message(topic, payload)

    async def fence(self) -> list[tuple[str, bytes]]:
        """What was heard since the last fence, once all of it has come."""
        marker = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self._markers[marker] = future
        await self.client.publish(self.marker_topic, marker.encode(), qos=1)
        await asyncio.wait_for(future, 30)
        heard, self.heard = self.heard, []
        return heard


# -- the unit ----------------------------------------------------------------------------------

RESPONSE_BASES: dict[str, dict[str, Any]] = {
    "balance": msgspec.to_builtins(
        m.LoyaltyResponse(corr="c", ok=True, balance=420, first_name="Ana")
    ),
    "reserve": msgspec.to_builtins(
        m.LoyaltyResponse(corr="c", ok=True, balance=410, reservation="r-1")
    ),
    "release": msgspec.to_builtins(
        m.LoyaltyResponse(corr="c", ok=True, balance=420, reservation="r-1")
    ),
    "commit": msgspec.to_builtins(
        m.LoyaltyResponse(corr="c", ok=True, balance=410, reservation="r-1")
    ),
    "summary": msgspec.to_builtins(
        m.LoyaltyResponse(
            corr="c",
            ok=True,
            balance=420,
            first_name="Ana",
            purchases=[m.LoyaltyPurchase("2026-11-23", "s001", 1250, "EUR", 12)],
            rewards=[m.LoyaltyReward("Coffee", 500)],
            expiring=[m.LoyaltyExpiry(points=20, on="2026-12-01")],
        )
    ),
    "enrol": msgspec.to_builtins(
        m.LoyaltyResponse(corr="c", ok=True, balance=0, account="00000002", card="2900000000025")
    ),
    "refused": msgspec.to_builtins(
        m.LoyaltyResponse(corr="c", ok=False, error="card issue 00 is blocked")
    ),
    "unavailable": msgspec.to_builtins(
        m.LoyaltyResponse(corr="c", ok=False, error="database down", unavailable=True)
    ),
}
ITEM = {"sku": "Z1", "barcode": "4006381333931", "name": "Gomme", "price": 95, "tax_rate": "20"}
COMMAND_BASES: dict[str, list[dict[str, Any]]] = {
    "catalog": [
        {"schema": 1, "corr": "c-catalog", "args": {"items": [ITEM]}},
        {
            "corr": "c-catalog",
            "args": {"items": [ITEM, {**ITEM, "sku": "Z2", "barcode": "", "stock": 3}]},
        },
    ],
    "prices": [
        {"schema": 1, "corr": "c-prices", "args": {"prices": [{"sku": "A1", "price": 150}]}}
    ],
    "stock": [
        {
            "schema": 1,
            "corr": "c-stock",
            "args": {"levels": [{"sku": "A1", "stock": 7}, {"sku": "B1", "stock": 0}]},
        }
    ],
    "config": [
        {"corr": "c-config", "args": {"patch": {"loyalty": {"points_per_unit": 2}}}},
        {"corr": "c-config", "args": {"patch": {"store": {"footer": ["Merci"], "name": "Shop"}}}},
        {"corr": "c-config", "args": {"patch": {"mqtt": {"ack_timeout": 20.0}}}},
        {"corr": "c-config", "args": {"patch": {"display": {"width": 1024}}}},
    ],
    "resend": [{"schema": 1, "corr": "c-resend", "args": {"from_seq": 2}}],
}
PREFIX = f"pos/v1/{STORE}/{DEVICE}/"


class UnitUnderFuzz:
    """A real unit (`open_unit`, simulated drivers) whose MQTT link is connected to a real
    broker, a few sales in its outbox, and a client that plays the collector's loyalty
    answerer with whatever response the property hands it."""

    def __init__(self, workdir: Path, broker: Broker) -> None:
        self.path = mqtt_config(workdir, broker.url, telemetry_interval=30.0)
        self.config_bytes = self.path.read_bytes()
        self.cfg = load(self.path)
        self.port = broker.port
        self.errors = ErrorLog()
        self.loop = LoopThread("fuzz-unit")
        self._answer: Callable[[str], bytes] | None = None
        self.outcomes: Counter[str] = Counter()
        self.loop.run(self._start())
        self.errors.take()  # what starting logged is not the fuzz's business

    async def _start(self) -> None:
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self._owner = asyncio.create_task(self._own())
        await asyncio.wait({self._owner, self._ready}, return_when=asyncio.FIRST_COMPLETED)
        if self._owner.done():
            self._owner.result()

    async def _own(self) -> None:
        # One task enters and leaves open_unit, as `appliance run` does.
        async with (
            open_unit(self.cfg, simulate=True, config_path=self.path) as unit,
            aiomqtt.Client("127.0.0.1", self.port, identifier="fuzz-unit-peer") as peer,
        ):
            self.unit = unit
            assert unit.mqtt is not None and unit.publisher is not None and unit.loyalty
            self.link, self.publisher, self.loyalty = unit.mqtt, unit.publisher, unit.loyalty
            self.loyalty.timeout = 0.5  # an unanswered question costs the fuzz this much
            await peer.subscribe(PREFIX + "loyalty/request", qos=1)
            await peer.subscribe(PREFIX + "fuzz-marker", qos=1)
            self.peer = Reader(peer, PREFIX + "fuzz-marker")
            self.peer.on_message = self._on_request
            for _ in range(500):
                if self.link.connected:
                    break
                await asyncio.sleep(0.02)
            assert self.link.connected, "the unit's MQTT link did not come up"
            await sell(unit, 5)
            self.items = unit.store.catalog.load()
            self.settings = unit.till.settings
            self._ready.set_result(None)
            await self._closing.wait()
            self.peer.task.cancel()

    async def _on_request(self, topic: str, payload: bytes) -> None:
        if self._answer is None:
            return
        corr = json.loads(payload)["corr"]
        await self.peer.client.publish(PREFIX + "loyalty/response", self._answer(corr), qos=1)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.run(self._stop())
        self.loop.close()
        self.errors.close()

    async def _stop(self) -> None:
        self._closing.set()
        await self._owner

    # -- what the unit holds -----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        unit = self.unit
        return {
            "catalog": unit.store.catalog.load(),
            "till catalog": list(unit.till.catalog),
            "till settings": unit.till.settings,
            "config file": self.path.read_bytes(),
            "outbox": unit.store.outbox.depth(),
            "acked": self.publisher.acked,
            "journal": unit.store.last_seq(),
        }

    async def _restore(self) -> None:
        """Back to the unit as it started, after a command that was carried out."""
        unit = self.unit
        if unit.store.catalog.load() != self.items:
            await asyncio.to_thread(unit.store.catalog.replace, self.items)
        if list(unit.till.catalog) != self.items:
            unit.controller.replace_catalog(Catalog(self.items))
        if self.path.read_bytes() != self.config_bytes:
            self.path.write_bytes(self.config_bytes)
            self.link.commands.on_config(self.cfg, sorted(LIVE_KEYS))
        if unit.till.settings != self.settings:
            unit.controller.replace_settings(self.settings)

    # -- the properties ----------------------------------------------------------------------

    def take(self, topic: str, payload: bytes) -> None:
        """`MqttLink._take(topic, payload)`: what the link does with every message it reads,
        as it comes (an outsider's: unsigned) and, when it is a JSON object, sealed by the
        collector for that topic, so the handlers behind the signature get it too."""
        self.loop.run(self._take(topic, payload))
        _no_errors(self.errors)
        try:
            sealed = seal(topic, payload)
        except (ValueError, TypeError, EnvelopeError, RecursionError):  # not sealable
            return
        self.loop.run(self._take(topic, sealed))
        _no_errors(self.errors)

    async def _take(self, topic: str, payload: bytes) -> None:
        if self.unit.store.outbox.depth() < 2:
            await sell(self.unit, 5)  # something for an ack to drop
        link, publisher = self.link, self.publisher
        link.admission = Admission()  # every example is news: no id kept from the last
        before, acked, last = self.state(), publisher.acked, self.unit.store.last_seq()
        assert link._incoming.empty()
        link._take(topic, payload)
        after = self.state()
        name = link.topics.command_name(topic)
        limit = m.MAX_CATALOG_PAYLOAD if name is not None else m.MAX_PAYLOAD
        try:
            body = m.encode(VERIFIER.open(payload, topic, limit=limit).body)
        except EnvelopeError as e:
            # Not the collector's word: nothing behind the signature ran.
            self.outcomes[outcome("not signed for us", str(e))] += 1
            assert after == before, "an unsigned message changed the unit"
            assert link._incoming.empty(), "an unsigned command was queued"
            return
        payload = body  # what the handlers behind the signature are given
        if topic == link.topics.ack:
            try:
                upto = m.decode(payload, m.Ack).upto
            except BadInput as e:
                self.outcomes[outcome("ack refused", str(e))] += 1
                assert after == before, "a refused ack changed the unit"
                return
            self.outcomes["ack taken"] += 1
            expected = max(acked, min(upto, last))
            assert publisher.acked == expected, (upto, acked, last, publisher.acked)
            assert after["outbox"] == last - expected, (upto, after["outbox"])
            assert {k: v for k, v in after.items() if k not in ("outbox", "acked")} == {
                k: v for k, v in before.items() if k not in ("outbox", "acked")
            }
            return
        assert after == before, "a message changed the unit before any handler ran"
        if name is not None and topic != link.topics.loyalty_response:
            # Queued for the command worker, as it came; taken off again before the
            # worker sees it (the command target runs the worker's call itself).
            self.outcomes["command queued"] += 1
            assert link._incoming.qsize() == 1, "a command was not queued"
            queued = link._incoming.get_nowait()
            assert (queued.name, queued.payload, queued.topic) == (name, payload, topic)
        else:
            self.outcomes["response" if topic == link.topics.loyalty_response else "ignored"] += 1
            assert link._incoming.empty(), "a message that is no command was queued"

    def command(self, name: str, topic: str, payload: bytes) -> None:
        """`Commands.handle(Incoming(name, payload, topic))`, the command worker's call, and
        the encoding of its result for `cmd/{name}/result`."""
        self.loop.run(self._command(name, topic, payload))
        _no_errors(self.errors)

    async def _command(self, name: str, topic: str, payload: bytes) -> None:
        commands = self.link.commands
        commands._done.clear()  # every example is news to the unit, whatever its corr
        before = self.state()
        try:
            result = await commands.handle(Incoming(name, payload, topic))
            if result is None:
                self.outcomes[f"{name}: no corr, not answered"] += 1
                assert self.state() == before, "a command without a corr changed the unit"
                return
            m.encode(result)
            assert isinstance(result.error, str) or result.ok
            if not result.ok:
                self.outcomes[outcome(f"{name}: refused", result.error)] += 1
                assert result.error and result.error.strip(), "a refusal without a reason"
                assert "inside the unit" not in result.error, result.error
                assert self.state() == before, f"refused ({result.error}) yet changed the unit"
                return
            self.outcomes[f"{name}: ok"] += 1
            # What was taken must be what the unit would take at a start: its config
            # loads, its catalog passes the CSV import's rules.
            load(self.path)
            stored = self.unit.store.catalog.load()
            validate_items(
                [m.CatalogItem(i.sku, i.barcode, i.name, i.price, i.tax_rate, i.category, i.stock)
                 for i in stored],
                self.unit.cfg.exponent,
            )  # fmt: skip
        finally:
            await self._restore()

    def ask(self, op: str, response: dict[str, Any], ascii: bool) -> None:
        """`LoyaltyAuthoriser.deliver(payload)` behind the till's questions: `balance`,
        `reserve`, `summary`, `enrol` and `ask` for release and commit, answered through the
        broker with `response` (its corr set to the question's)."""
        self.loop.run(self._ask(op, response, ascii))
        _no_errors(self.errors)

    async def _ask(self, op: str, response: dict[str, Any], ascii: bool) -> None:
        def answer(corr: str) -> bytes:
            return dumps({**response, "corr": corr}, ascii=ascii)

        probe = answer("probe")
        try:
            m.decode(probe, m.LoyaltyResponse)
        except BadInput as e:
            # An answer the unit cannot read leaves the question to time out: only the
            # delivery is worth the time (the take target sends it with no one waiting).
            self.outcomes[outcome(f"{op}: unreadable answer", str(e))] += 1
            self.link._take(self.link.topics.loyalty_response, probe)
            return
        self._answer = answer
        auth = self.loyalty
        try:
            if op == "balance":
                got: Any = await auth.balance(CARD)
                assert isinstance(got.balance, int)
            elif op == "reserve":
                got = await auth.reserve(CARD, 10, sale_id="sale-1")
                assert isinstance(got.reservation, str) and got.reservation
            elif op == "summary":
                got = await auth.summary(CARD)
                assert isinstance(got, CustomerSummary)
                got.within_reach()
            elif op == "enrol":
                got = await auth.enrol(Enrolment("Ana", "Lima", "ana@example.com", True, True))
                assert isinstance(got, EnrolResult) and got.message
            else:
                fields = {"reservation": "r-1", "sale_id": "sale-1"}
                await auth.ask(auth._request(op, ACCOUNT, **fields))
            self.outcomes[f"{op}: answered"] += 1
        except LoyaltyError as e:
            self.outcomes[f"{op}: {type(e).__name__}"] += 1
            assert str(e).strip(), "a loyalty failure without a reason"
        finally:
            self._answer = None


# -- the collector ------------------------------------------------------------------------------

FUZZ_DEVICE = "till-fz"
# What opens the collector's envelopes (the tests' collector key, tests/conftest.py).
VERIFIER = Verifier(COLLECTOR_KEYS.signing_key().public_key())
KNOWN_RESERVATION = "00000000-0000-4000-8000-000000000001"


def _request(op: str, **fields: Any) -> dict[str, Any]:
    req = m.LoyaltyRequest(corr="CORR", op=op, account=ACCOUNT, **fields)  # type: ignore[arg-type]
    return dict(msgspec.to_builtins(req))


REQUEST_BASES = [
    _request("balance", card=CARD),
    _request("balance"),
    _request("reserve", points=10, sale_id="sale-1", card=CARD),
    _request("release", reservation="RESERVATION"),
    _request("commit", reservation="RESERVATION", sale_id="sale-1"),
    _request("commit", sale_id="sale-1"),
    _request("summary", card=CARD),
    {
        **_request("enrol"),
        "account": "",
        "enrolment": {
            "first_names": "Ana Maria",
            "surname": "Lima",
            "email": "ana@example.com",
            "phone": "+33 6 12 34 56 78",
            "consent": {"email": True, "sms": False},
        },
    },
]


def _birth(key_pem: str) -> dict[str, Any]:
    status = m.Status(state="online", version="1.2.3", pubkey=key_pem, store=STORE, region="north")
    return dict(msgspec.to_builtins(status))


STATUS_BASES = [
    {"state": "offline", "version": "1.2.3", "ts": "2026-11-23T10:00:00.000Z", "schema": 1},
    {"state": "updating", "version": "1.3.0", "region": "south"},
]
TELEMETRY_BASE = dict(
    msgspec.to_builtins(
        m.Telemetry(
            ts="2026-11-23T10:00:00.000Z",
            version="1.2.3",
            outbox_depth=3,
            last_seq=42,
            printer="ok",
            scanner="ok",
            drawer="closed",
            disk_free=10**9,
            uptime=12.5,
        )
    )
)
EVENT_BASE = dict(
    msgspec.to_builtins(
        m.DeviceEvent(kind="drawer.opened", ts="2026-11-23T10:00:00.000Z", detail={"by": "ana"})
    )
)
SEQ_MARK, ID_MARK = 1, "00000000-0000-4000-8000-00000000fuzz"
HASH_MARK, SIG_MARK = "ab" * 32, "cd" * 64


def _sale_base(**changes: Any) -> dict[str, Any]:
    return sale_dict(1, device=FUZZ_DEVICE, store=STORE, sale_id=ID_MARK, **changes) | {
        "seq": SEQ_MARK,
        "receipt_no": f"{STORE}-{FUZZ_DEVICE}-000001",
        "prev_hash": GENESIS_HASH,
        "hash": HASH_MARK,
        "sig": SIG_MARK,
    }


LOYALTY_PART = {"account": ACCOUNT, "earned": 2, "redeemed": 0, "balance": None, "offline": False}
SALE_BASES = [
    _sale_base(),
    _sale_base(loyalty=LOYALTY_PART),
    _sale_base(
        tenders=[{"type": "points", "amount": 100, "points": 100}, {"type": "cash", "amount": 150}],
        change=0,
        loyalty={**LOYALTY_PART, "earned": 1, "redeemed": 100, "reservation": KNOWN_RESERVATION},
    ),
    _sale_base(
        kind="refund",
        refund_of="00000000-0000-4000-8000-000000000001",
        lines=[{**sale_dict()["lines"][0], "qty": -1, "total": -250}],
        total=-250,
        tax=[{"rate": "20", "base": -208, "tax": -42}],
        tenders=[{"type": "cash", "amount": -250}],
        change=0,
        refund_lines=[1],
    ),
    _sale_base(kind="no_sale", lines=[], total=0, tax=[], tenders=[], change=0, reason="change"),
]


class CollectorUnderFuzz:
    """A collector on a real database (SQLite in a directory, or the URL given): its
    `Ingestor` for batches and its `Collector` for loyalty requests, answering through a
    real broker on a client that also reads the answers back. One device is enrolled
    the way a unit enrols (its birth message), with a key the fuzz signs records with."""

    def __init__(self, workdir: Path, broker: Broker, url: str | None = None) -> None:
        self.url = url or f"sqlite:///{workdir}/collector.db"
        self.engine = open_database(self.url)
        privacy = PrivacySection(master_key_file=str(workdir / "collector-master.key"))
        settings = Settings(BrokerAddress.parse(broker.url), client_id="fuzz", privacy=privacy)
        self.collector = Collector(self.engine, settings)
        self.ingestor = Ingestor(self.engine, loyalty=settings.loyalty)
        self.key = Ed25519PrivateKey.generate()
        pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.birth = _birth(pem.decode())
        enrol(self.engine, FUZZ_DEVICE, store=STORE)  # the collector believes only these
        topic = m.device_topic(STORE, FUZZ_DEVICE, "status")
        self.ingestor.ingest([CollectorIncoming(topic, self._sealed(topic, dumps(self.birth)))])
        ledger = self.collector.answers.ledger
        ledger.earn(ACCOUNT, 10**6, "fuzz:seed", source="fuzz")
        self.errors = ErrorLog()
        self.outcomes: Counter[str] = Counter()
        self.port = broker.port
        self.loop = LoopThread("fuzz-collector")
        self.loop.run(self._connect())

    async def _connect(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        client = aiomqtt.Client("127.0.0.1", self.port, identifier="fuzz-collector")
        client = await self._stack.enter_async_context(client)
        await client.subscribe(f"{m.PREFIX}/+/+/loyalty/response", qos=1)
        self.reader = Reader(client, f"{m.PREFIX}/fuzz/marker/loyalty/response")

    def close(self) -> None:
        async def stop() -> None:
            self.reader.task.cancel()
            await self._stack.aclose()

        with contextlib.suppress(Exception):
            self.loop.run(stop())
        self.loop.close()
        self.errors.close()
        self.engine.dispose()

    # -- what the database holds ---------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as s:
            return {
                t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in Base.metadata.sorted_tables
            }

    def devices(self) -> dict[str, dict[str, Any]]:
        with Session(self.engine) as s:
            return {
                d.id: {c.key: getattr(d, c.key) for c in Device.__table__.columns}
                for d in s.scalars(select(Device))
            }

    def _dead_since(self, last_id: int) -> list[str]:
        with Session(self.engine) as s:
            query = select(DeadLetter.reason).where(DeadLetter.id > last_id)
            return list(s.scalars(query.order_by(DeadLetter.id)))

    def _last_dead(self) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(select(func.max(DeadLetter.id))) or 0)

    # -- the properties --------------------------------------------------------------------------

    def _sealed(self, topic: str, payload: bytes) -> bytes:
        """`payload` sealed with the device's key for `topic`, as the unit seals all but
        its records, when it is a JSON object (so the fuzz reaches the handlers behind the
        envelope); anything else as it is (the envelope's refusal is fuzzed so)."""
        try:
            body = msgspec.json.decode(payload)
            if isinstance(body, dict):
                return seal_device(self.key, topic, body, now=time.time())
        except (msgspec.DecodeError, RecursionError, EnvelopeError, UnicodeEncodeError):
            pass
        return payload

    def ingest(self, topic: str, payload: bytes) -> None:
        """`Ingestor.ingest([message])`: what the ingest worker does with a batch."""
        if not topic.endswith("/sales"):
            payload = self._sealed(topic, payload)
        counts, devices, last_dead = self.counts(), self.devices(), self._last_dead()
        result = self.ingestor.ingest([CollectorIncoming(topic, payload)])
        _no_errors(self.errors)
        reasons = self._dead_since(last_dead)
        assert len(reasons) == result.dead, (reasons, result)
        leaf = topic.rsplit("/", 1)[-1][:20]
        for reason in reasons:
            self.outcomes[outcome(f"{leaf}: dead letter", reason)] += 1
            assert reason.strip(), "a dead letter without a reason"
            assert not reason.startswith("internal error"), reason
        if not reasons:
            what = "ingested" if result.ingested else "gap" if result.gaps else "taken"
            self.outcomes[f"{leaf}: {what}"] += 1
        self._invariants()
        if result.dead:
            after = self.counts()
            assert after.pop("dead_letters") == counts.pop("dead_letters") + result.dead
            assert after == counts, f"refused ({reasons}) yet rows changed"
            assert _seen(self.devices()) == _seen(devices), f"refused ({reasons}) yet changed"
        render_fleet(fleet_status(self.engine), as_json=True)
        render_fleet(fleet_status(self.engine), as_json=False)

    def _invariants(self) -> None:
        """What the collector stores keeps its own formats, whatever came in: accounts
        are 8 digits (or erased), devices and stores are ids."""
        with Session(self.engine) as s:
            for model in (LoyaltyAccount, Customer, LoyaltyCard):
                for account in s.scalars(select(model.account).distinct()):
                    ok = re.fullmatch(r"[0-9]{8}", account) or account.startswith("erased-")
                    assert ok, f"{model.__tablename__} holds account {account!r}"
            ids = s.execute(select(Device.id, Device.store)).all()
            ids += s.execute(select(Sale.device, Sale.store).distinct()).all()
            for device, store in ids:
                assert re.fullmatch(r"[a-z0-9-]{1,32}", device), f"device {device!r}"
                assert re.fullmatch(r"[a-z0-9-]{1,32}", store), f"store {store!r}"

    def ingest_sale(self, doc: dict[str, Any], ascii: bool) -> None:
        """A `sales` record of the enrolled device, perturbed and then (unless its hash or
        signature was the field perturbed) hashed and signed again with the device's key:
        what a buggy or compromised unit can send, past the chain check."""
        doc = self._next_in_chain(doc)
        payload = dumps(doc, ascii=ascii)
        if doc.get("hash") == HASH_MARK and doc.get("sig") == SIG_MARK:
            try:
                decoded = msgspec.json.decode(payload)
            except (msgspec.DecodeError, RecursionError):
                decoded = None
            if isinstance(decoded, dict):
                digest = record_hash(decoded)
                doc = doc | {"hash": digest, "sig": sign_hash(self.key, digest)}
                payload = dumps(doc, ascii=ascii)
        before = self.devices()[FUZZ_DEVICE]
        self.ingest(m.device_topic(STORE, FUZZ_DEVICE, "sales"), payload)
        after = self.devices()[FUZZ_DEVICE]
        assert after["last_seq"] in (before["last_seq"], before["last_seq"] + 1)

    def _next_in_chain(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The marks of the base record (seq, prev_hash, sale_id, receipt number), where the
        perturbation left them, made the device's next link."""
        dev = self.devices()[FUZZ_DEVICE]
        seq = dev["last_seq"] + 1
        out = dict(doc)
        if type(out.get("seq")) is int and out["seq"] == SEQ_MARK:
            out["seq"] = seq
        if out.get("prev_hash") == GENESIS_HASH:
            out["prev_hash"] = dev["last_hash"]
        if out.get("sale_id") == ID_MARK:
            out["sale_id"] = str(uuid.uuid4())
        if out.get("receipt_no") == f"{STORE}-{FUZZ_DEVICE}-000001":
            out["receipt_no"] = f"{STORE}-{FUZZ_DEVICE}-{seq:06d}"
        return out

    def answer(self, topic: str, payload: bytes) -> None:
        """`Collector._answer_one(client, message)`: a `loyalty/request` answered on the
        asking device's `loyalty/response` through the broker, read back here."""
        # A fresh corr each time (holds and enrolments are once per corr).
        payload = payload.replace(b'"CORR"', f'"{uuid.uuid4().hex}"'.encode())
        ledger = self.collector.answers.ledger
        # Reserves drain the account, and the sales target's redeems may overdraw it far.
        while (short := 10**6 - ledger.balance(ACCOUNT).available) > 0:
            points = min(short + 10**9, MAX_POINTS)
            ledger.earn(ACCOUNT, points, f"fuzz:{uuid.uuid4().hex}", source="fuzz")
        if b"RESERVATION" in payload:
            # A hold of its own: one example's release or commit must not end the next's.
            hold = ledger.reserve(ACCOUNT, 1, FUZZ_DEVICE, ttl=10**7)
            payload = payload.replace(b"RESERVATION", hold.id.encode())
        counts = self.counts()
        sealed = self._sealed(topic, payload)
        heard = self.loop.run(self._answer(topic, sealed))
        _no_errors(self.errors)
        try:
            store, device, _ = m.parse_device_topic(topic)
            request = m.decode(payload, m.LoyaltyRequest)
        except BadInput as e:
            self.outcomes[outcome("unreadable", str(e))] += 1
            assert heard == [], "an unreadable request was answered"
            assert self.counts() == counts, "an unreadable request changed rows"
            return
        why, _ = believed(self.engine, store, device)
        if why is not None:
            # Not an enrolled device of that store: nothing is answered, nothing changes.
            self.outcomes[outcome("not believed", why)] += 1
            assert heard == [], "a device that is not enrolled was answered"
            assert self.counts() == counts, "a device that is not enrolled changed rows"
            return
        if sealed is payload:
            self.outcomes["not sealed by the device"] += 1
            assert heard == [], "a request the device did not seal was answered"
            assert self.counts() == counts, "a request the device did not seal changed rows"
            return
        assert len(heard) == 1, heard
        (reply_topic, body) = heard[0]
        assert reply_topic == m.device_topic(store, device, "loyalty/response")
        # The collector's answer is sealed: only its signed body is the till's answer.
        response = m.decode(m.encode(VERIFIER.open(body, reply_topic).body), m.LoyaltyResponse)
        assert response.corr == request.corr
        assert not response.unavailable, f"the collector failed: {response.error}"
        self.outcomes[
            outcome(f"{request.op}: refused", response.error)
            if not response.ok
            else f"{request.op}: ok"
        ] += 1
        self._invariants()
        if not response.ok:
            assert response.error and response.error.strip(), "a refusal without a reason"
            assert self.counts() == counts, f"refused ({response.error}) yet rows changed"

    async def _answer(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        await self.collector._answer_one(self.reader.client, CollectorIncoming(topic, payload))
        return await self.reader.fence()

    @staticmethod
    def take(payload: Any) -> None:
        """`_payload` in `Collector._consume`: whatever aiomqtt hands over, as bytes."""
        assert isinstance(_payload(payload), bytes)


def _seen(devices: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Device rows without `last_seen` (every message, even a refused one, is a sighting)."""
    return {k: {c: v for c, v in row.items() if c != "last_seen"} for k, row in devices.items()}


# -- the targets --------------------------------------------------------------------------------

unit_topics = st.one_of(
    st.sampled_from(
        [PREFIX + "ack"] * 3
        + [PREFIX + "loyalty/response"] * 2
        + [PREFIX + f"cmd/{n}" for n in ("catalog", "prices", "stock", "config", "resend")]
        + [f"pos/v1/{STORE}/cmd/prices", "pos/v1/fleet/cmd/config", PREFIX + "cmd/", PREFIX]
        + [PREFIX + "cmd/a/b", PREFIX + "ack/", PREFIX + "sales", "pos/v1/other/cmd/stock"]
    ),
    st.builds(lambda s: PREFIX + "cmd/" + s, st.text(max_size=10)),
    st.text(max_size=30),
)
unit_payloads = payloads(
    {"upto": 3, "schema": 1},
    {"upto": 2**40},
    *RESPONSE_BASES.values(),
    *[b for bases in COMMAND_BASES.values() for b in bases],
)


@st.composite
def _command_inputs(draw: st.DrawFn) -> tuple[str, str, bytes]:
    name = draw(st.sampled_from([*COMMAND_BASES] * 4 + ["update", "", "catalog/x"]))
    topic = draw(
        st.sampled_from(
            [PREFIX + f"cmd/{name}", f"pos/v1/{STORE}/cmd/{name}", f"pos/v1/fleet/cmd/{name}"]
        )
    )
    bases = COMMAND_BASES.get(name) or COMMAND_BASES["prices"]
    # Half with the corr left alone: a command without one is only logged, never applied.
    return name, topic, draw(st.one_of(payloads(*bases), payloads(*bases, keep=("corr",))))


collector_topics = st.sampled_from(
    [m.device_topic(STORE, FUZZ_DEVICE, leaf) for leaf in ("status", "telemetry", "events")] * 3
    + [m.device_topic(STORE, "new-one", leaf) for leaf in ("status", "telemetry", "events")]
    + [
        m.device_topic(STORE, FUZZ_DEVICE, "sales"),
        m.device_topic(STORE, "new-one", "sales"),
        m.device_topic(STORE, FUZZ_DEVICE, "loyalty/request"),
        m.device_topic(STORE, FUZZ_DEVICE, "status/x"),
        m.device_topic(STORE, FUZZ_DEVICE, "status") + "\n",
        f"pos/v1/{STORE}/cmd/status",
        "pos/v1/S001/till-fz/status",
        "pos/v1//till-fz/status",
        "",
    ]
)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


collector_payloads = payloads(*STATUS_BASES, TELEMETRY_BASE, EVENT_BASE)
request_topics = weighted(
    (8, st.just(m.device_topic(STORE, FUZZ_DEVICE, "loyalty/request"))),
    (
        1,
        st.sampled_from(
            [
                m.device_topic("s002", "kiosk-1", "loyalty/request"),
                m.device_topic(STORE, FUZZ_DEVICE, "loyalty/request") + "\n",
                f"pos/v1/{STORE}/cmd/loyalty/request",
                "pos/v1/s001/TILL/loyalty/request",
                "loyalty/request",
            ]
        ),
    ),
    (1, st.builds(lambda s: f"pos/v1/{s}/{FUZZ_DEVICE}/loyalty/request", odd_text.filter(_is_str))),
)


@dataclass(frozen=True)
class Target:
    """One handler: its side, the strategy of its inputs and its property."""

    name: str
    side: str  # "unit" or "collector": which harness `check` takes
    inputs: st.SearchStrategy[tuple[Any, ...]]
    check: Callable[..., None]
    database: bool = True  # False: the collector's database plays no part


TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target(
            "unit: MqttLink._take (ack, loyalty/response, cmd/… routing)",
            "unit",
            st.tuples(unit_topics, unit_payloads),
            UnitUnderFuzz.take,
        ),
        Target(
            "unit: Commands.handle (catalog, prices, stock, config, resend)",
            "unit",
            _command_inputs(),
            UnitUnderFuzz.command,
        ),
        Target(
            "unit: LoyaltyAuthoriser.deliver (balance, reserve, summary, enrol, release, commit)",
            "unit",
            st.sampled_from(sorted(RESPONSE_BASES)).flatmap(
                lambda op: st.tuples(
                    st.sampled_from(
                        ["balance", "reserve", "release", "commit", "summary", "enrol"]
                    ),
                    st.one_of(
                        st.just(RESPONSE_BASES[op]), mutated(RESPONSE_BASES[op], keep=("corr",))
                    ),
                    st.booleans(),
                )
            ),
            UnitUnderFuzz.ask,
        ),
        Target(
            "collector: Ingestor.ingest (status, telemetry, events, other leaves)",
            "collector",
            st.tuples(collector_topics, collector_payloads),
            CollectorUnderFuzz.ingest,
        ),
        Target(
            "collector: Ingestor.ingest (sales, signed by the device)",
            "collector",
            st.tuples(
                st.sampled_from(SALE_BASES).flatmap(lambda b: st.one_of(st.just(b), mutated(b))),
                st.booleans(),
            ),
            CollectorUnderFuzz.ingest_sale,
        ),
        Target(
            "collector: Collector._answer_one and Answers.answer (loyalty/request)",
            "collector",
            st.tuples(
                request_topics,
                st.one_of(payloads(*REQUEST_BASES), payloads(*REQUEST_BASES, keep=("corr", "op"))),
            ),
            CollectorUnderFuzz.answer,
        ),
        Target(
            "collector: Collector._consume (_payload)",
            "collector",
            st.tuples(
                st.one_of(
                    st.binary(max_size=50),
                    st.text(max_size=50),
                    st.integers(),
                    st.floats(),
                    st.none(),
                    st.builds(bytearray, st.binary(max_size=20)),
                )
            ),
            lambda _h, payload: CollectorUnderFuzz.take(payload),
            database=False,
        ),
    ]
}
