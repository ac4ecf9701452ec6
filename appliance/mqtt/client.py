"""The appliance's link to the central collector over MQTT.

aiomqtt has no hidden reconnects, so the policy is here, in one loop: connect (MQTT 5,
falling back to 3.1.1 when the broker refuses it), announce `status` online with the
device's public key, then run the outbox publisher, telemetry, events and command
results until the connection drops; wait with jittered backoff and connect again. The
till never waits on any of it: sales are durable in the journal before they are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
from aiomqtt import MqttError, ProtocolVersion, Will
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance import __version__
from appliance.config import Config
from appliance.errors import ApplianceError
from appliance.events import Event
from appliance.mqtt.commands import Commands, Incoming
from appliance.mqtt.publisher import OutboxPublisher
from appliance.store import DeviceState, Store, StoreError
from appliance.tasks import cancel_and_wait
from protocol import messages as m
from protocol.birth import BirthProofError, Voucher
from protocol.broker import BrokerAddress, TlsFilesError, tls_context
from protocol.chain import PublicKeyError, load_public_key
from protocol.envelope import Admission, EnvelopeError, Verifier
from protocol.errors import BadInput
from protocol.timestamps import utc_stamp

log = logging.getLogger("appliance.mqtt")

BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0
# A week: commands sent while the unit was switched off over a long weekend still arrive.
SESSION_EXPIRY = 7 * 24 * 3600
# Status sessions (MqttLink._next_session) count at least the minutes since 2026-01-01.
SESSION_EPOCH = 1_767_225_600 // 60
EVENTS_KEPT = 1000
COMMANDS_QUEUED = 64
STOP_PUBLISH_TIMEOUT = 2.0
# CONNACK codes of a broker that does not speak MQTT 5 (amqtt answers 132).
_NO_V5 = frozenset({1, 132})
# Events that travel on their own topic already.
_NOT_FORWARDED = frozenset({"sale.committed"})


class MqttLinkError(ApplianceError):
    """The MQTT link cannot be set up (TLS files unreadable, …); it keeps retrying."""


class CollectorKeyError(ApplianceError, BadInput):
    """`[mqtt] collector_key` does not name a readable Ed25519 public key (exit 2)."""


# Where the unit keeps what it has admitted (protocol.envelope.Admission): its own file,
# one writer (the link), beside state.json.
ADMITTED_FILE = "admitted.json"
# systemd-timesyncd makes this file once the clock is synchronised (NTP answered).
TIME_SYNCHRONISED = "/run/systemd/timesync/synchronized"


def clock_synchronised(marker: str = TIME_SYNCHRONISED) -> bool:
    """Whether the wall clock is known good (envelopes from its future are then refused)."""
    return os.path.exists(marker)


def collector_verifier(path: str) -> Verifier:
    """The verifier for `[mqtt] collector_key`; CollectorKeyError saying why not."""
    try:
        pem = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise CollectorKeyError(
            f"mqtt.collector_key {path!r}: cannot read it ({exc.strerror})"
        ) from exc
    try:
        return Verifier(load_public_key(pem))
    except PublicKeyError as exc:
        raise CollectorKeyError(f"mqtt.collector_key {path!r}: {exc}") from exc


class Topics:
    """Every topic one device uses."""

    def __init__(self, store: str, device: str) -> None:
        self.status = m.device_topic(store, device, "status")
        self.telemetry = m.device_topic(store, device, "telemetry")
        self.sales = m.device_topic(store, device, "sales")
        self.events = m.device_topic(store, device, "events")
        self.ack = m.device_topic(store, device, "ack")
        self.loyalty_request = m.device_topic(store, device, "loyalty/request")
        self.loyalty_response = m.device_topic(store, device, "loyalty/response")
        self.commands = (
            m.device_topic(store, device, "cmd/+"),
            m.store_cmd_topic(store, "+"),
            m.fleet_cmd_topic("+"),
        )
        self._cmd_prefixes = tuple(t[:-1] for t in self.commands)
        self._store, self._device = store, device

    def command_name(self, topic: str) -> str | None:
        """`catalog` for `…/cmd/catalog` on one of our three command topics, else None."""
        for prefix in self._cmd_prefixes:
            if topic.startswith(prefix):
                name = topic[len(prefix) :]
                return name if name and "/" not in name else None
        return None

    def result(self, name: str) -> str:
        return m.device_topic(self._store, self._device, f"cmd/{name}/result")


class MqttLink:
    """The connection loop and everything that travels on it.

    `run()` until `stop()`; `forward(event)` queues an event (bounded: events are not
    sales, the oldest go first when the collector is away long); `connected` says
    whether a session is up. Telemetry asks `device_states()` for printer, scanner and
    drawer.
    """

    def __init__(
        self,
        cfg: Config,
        store: Store,
        publisher: OutboxPublisher,
        commands: Commands,
        *,
        device_states: Callable[[], dict[str, str]] = dict,
    ) -> None:
        self.address = BrokerAddress.parse(cfg.mqtt.url, "mqtt.url")
        self.cfg = cfg
        self.store = store
        self.publisher = publisher
        self.commands = commands
        self.device_states = device_states
        self.topics = Topics(cfg.device.store, cfg.device.id)
        self.telemetry_interval = cfg.mqtt.telemetry_interval
        self.protocol = ProtocolVersion.V5
        # True once a broker accepted MQTT 5 here: then a timeout is only a timeout.
        self._v5_proven = False
        # 3.1.1 chosen only because an MQTT 5 CONNECT went unanswered (not refused).
        self._v311_guessed = False
        self.connected = False
        self.sessions = 0
        self.backoff_min, self.backoff_max = BACKOFF_MIN, BACKOFF_MAX
        self._started = time.monotonic()
        self._stopping = asyncio.Event()
        self._events: deque[Event] = deque(maxlen=EVENTS_KEPT)
        self._events_ready = asyncio.Event()
        self._incoming: asyncio.Queue[Incoming] = asyncio.Queue(COMMANDS_QUEUED)
        self._results: deque[tuple[str, m.CommandResult]] = deque(maxlen=COMMANDS_QUEUED)
        self._results_ready = asyncio.Event()
        self._telemetry_now = asyncio.Event()
        # The session's client while connected (loyalty requests are sent on it).
        self._live: aiomqtt.Client | None = None
        # Who hears `loyalty/response` (the till's LoyaltyAuthoriser).
        self.on_loyalty_response: Callable[[bytes], None] = lambda _payload: None
        # Only the collector is obeyed: everything on the collector → unit topics is a
        # signed envelope (protocol/envelope.py); commands are admitted once, across
        # restarts too.
        self.verifier = collector_verifier(cfg.mqtt.collector_key)
        self.synchronised: Callable[[], bool] = clock_synchronised
        self._admitted = DeviceState(cfg.data_dir / ADMITTED_FILE)
        self.admission = Admission.restore(self._admitted.get("envelopes"))
        self.refused = 0  # envelopes refused (tests and telemetry look)
        self._status_session = 0  # this connection's (MqttLink._next_session)
        self._birth_proof = self._prove_birth()

    # -- what the rest of the unit calls --------------------------------------------------
    def forward(self, event: Event) -> None:
        """Queue an event for the `events` topic (never blocks, never raises)."""
        if event.kind not in _NOT_FORWARDED:
            self._events.append(event)
            self._events_ready.set()

    def set_telemetry_interval(self, seconds: float) -> None:
        self.telemetry_interval = seconds
        self._telemetry_now.set()

    async def send_loyalty(self, request: m.LoyaltyRequest) -> None:
        """Publish a `loyalty/request`, sealed with the device key; MqttLinkError when the
        link is down or drops."""
        client = self._live
        if client is None or not self.connected:
            raise MqttLinkError("not connected to the broker")
        topic = self.topics.loyalty_request
        try:
            await client.publish(topic, self.store.seal(topic, request), qos=1)
        except MqttError as e:
            raise MqttLinkError(f"publish failed: {e}") from e

    def stop(self) -> None:
        """Ask `run()` to publish `offline` (retained), disconnect cleanly and return."""
        self._stopping.set()

    # -- payloads ---------------------------------------------------------------------------
    def _status(self, state: str, n: int) -> bytes:
        """Status `n` of this connection (0 the birth, m.STATUS_WILL the will), sealed."""
        status = m.Status(
            state=state,  # type: ignore[arg-type]
            version=__version__,
            ts=utc_stamp(),
            store=self.cfg.device.store,
            region=self.cfg.device.region,
            seq=m.status_seq(self._status_session, n),
        )
        if state == "online":
            status.pubkey = self.store.public_key_pem()
            status.cert, status.proof = self._birth_proof
        return self.store.seal(self.topics.status, status)

    def _next_session(self) -> None:
        """Count this connection's statuses from a session never used before, kept before
        the first is sent: after a restart (or a lost file) a status must still be newer
        than every one sent before, or the collector would take it for a replay. The
        wall clock is no help here (a Pi boots at the epoch until NTP answers); a lost
        counter starts again above the one the clock gives, and a unit that reports a
        session the collector has passed shows in `fleet status` until it catches up."""
        kept = self._admitted.get("status")
        last = int(kept.get("session", 0)) if isinstance(kept.get("session"), int) else 0
        self._status_session = max(last + 1, int(time.time()) // 60 - SESSION_EPOCH)
        try:
            self._admitted.put("status", {"session": self._status_session})
        except StoreError as e:
            log.error("cannot save the status session", extra={"error": str(e)})

    def _prove_birth(self) -> tuple[str, str]:
        """The enrolment certificate and its proof of our journal key, for the birth
        (protocol.birth): from `[mqtt.tls] cert` and `key`, whatever the broker. Without
        them, or when they will not load (logged), ("", ""): the collector then takes no
        first key from us if our enrolment has a certificate."""
        tls = self.cfg.mqtt.tls
        if tls is None or not (tls.cert and tls.key):
            return "", ""
        try:
            voucher = Voucher.load(tls.cert, tls.key)
        except BirthProofError as e:
            log.error("the birth goes without its proof", extra={"error": str(e)})
            return "", ""
        device = self.cfg.device
        return voucher.cert_pem, voucher.prove(device.store, device.id, self.store.public_key_pem())

    def telemetry(self) -> m.Telemetry:
        """What the next telemetry message says."""
        states = self.device_states()
        try:
            disk_free = shutil.disk_usage(self.store.data_dir).free
        except OSError:
            disk_free = -1
        return m.Telemetry(
            ts=utc_stamp(),
            version=__version__,
            outbox_depth=self.store.outbox.depth(),
            last_seq=self.store.last_seq(),
            printer=states.get("printer", "unknown"),
            scanner=states.get("scanner", "unknown"),
            drawer=states.get("drawer", "unknown"),
            disk_free=disk_free,
            uptime=round(time.monotonic() - self._started, 3),
        )

    # -- the connection loop ------------------------------------------------------------------
    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.address.tls:
            return None
        tls = self.cfg.mqtt.tls
        try:
            return tls_context(*((tls.ca, tls.cert, tls.key) if tls else ()))
        except TlsFilesError as e:
            raise MqttLinkError(
                f"[mqtt.tls] {e}; check ca, cert and key (`collector fleet enroll` writes them)"
            ) from e

    def _client(self) -> aiomqtt.Client:
        self._next_session()  # this connection's will and birth are newer than any before
        v5 = self.protocol is ProtocolVersion.V5
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY
        extra: dict[str, object] = {"clean_start": False} if v5 else {"clean_session": False}
        client = aiomqtt.Client(
            self.address.host,
            self.address.port,
            username=self.address.username,
            password=self.address.password,
            # The device id is the client id: the broker keeps our session (subscriptions
            # and queued commands) under it while we are away.
            identifier=self.cfg.device.id,
            protocol=self.protocol,
            will=Will(
                self.topics.status, self._status("offline", m.STATUS_WILL), qos=1, retain=True
            ),
            keepalive=self.cfg.mqtt.keepalive,
            properties=properties,
            tls_context=self._tls_context(),
            max_inflight_messages=self.publisher.window,
            # Without TCP_NODELAY, Nagle holds small packets back for the peer's delayed
            # ACK: tens of ms a publish (docs/benchmarks.md, "The figures behind the code").
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            **extra,  # type: ignore[arg-type]
        )
        # A full window is normal here, not worth aiomqtt's "many pending calls" warning.
        client.pending_calls_threshold = self.publisher.window + COMMANDS_QUEUED
        return client

    async def run(self) -> None:
        """Connect, serve, reconnect, until `stop()`."""
        worker = asyncio.create_task(self._command_worker(), name="mqtt-commands")
        failures = 0
        try:
            while not self._stopping.is_set():
                try:
                    async with self._client() as client:
                        failures = 0
                        self._v311_guessed = False
                        if self.protocol is ProtocolVersion.V5:
                            self._v5_proven = True
                        await self._session(client)
                except MqttConnectError as e:
                    code = getattr(e.rc, "value", e.rc)
                    if self.protocol is ProtocolVersion.V5 and code in _NO_V5:
                        log.warning("broker refuses MQTT 5; using 3.1.1", extra={"code": code})
                        self.protocol = ProtocolVersion.V311
                        continue
                    failures += 1
                    log.warning("broker refused the connection", extra={"error": str(e)})
                except (MqttError, MqttLinkError, OSError) as e:
                    if (
                        self.protocol is ProtocolVersion.V5
                        and not self._v5_proven
                        and isinstance(e, MqttError)
                        and "timed out" in str(e)
                    ):
                        # amqtt never answers an MQTT 5 CONNECT that carries properties
                        # (it refuses a bare one with 132): try 3.1.1 before backing off.
                        log.warning("no answer to an MQTT 5 connect; trying 3.1.1")
                        self.protocol, self._v311_guessed = ProtocolVersion.V311, True
                        continue
                    if self._v311_guessed:
                        self.protocol = ProtocolVersion.V5  # that was no MQTT 5 problem
                    failures += 1
                    level = logging.WARNING if failures <= 1 else logging.INFO
                    log.log(level, "mqtt link down", extra={"error": str(e), "failures": failures})
                finally:
                    self.connected = False
                    self._live = None
                if not self._stopping.is_set():
                    await self._backoff(failures)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _backoff(self, failures: int) -> None:
        # Full jitter: a shop's worth of units reconnecting after a broker restart spread out.
        ceiling = min(self.backoff_max, self.backoff_min * 2 ** max(failures - 1, 0))
        delay = random.uniform(self.backoff_min, max(ceiling, self.backoff_min))
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._stopping.wait()

    async def _session(self, client: aiomqtt.Client) -> None:
        for topic in (self.topics.ack, self.topics.loyalty_response, *self.topics.commands):
            await client.subscribe(topic, qos=1)
        await client.publish(self.topics.status, self._status("online", 0), qos=1, retain=True)
        self._live = client
        self.connected = True
        self.sessions += 1
        log.info(
            "mqtt connected",
            extra={"broker": f"{self.address.host}:{self.address.port}", "v": self.protocol.name},
        )

        async def send_record(payload: bytes) -> None:
            await client.publish(self.topics.sales, payload, qos=1)

        tasks = {
            asyncio.create_task(self.publisher.run(send_record), name="mqtt-outbox"),
            asyncio.create_task(self._read(client), name="mqtt-read"),
            asyncio.create_task(self._send_telemetry(client), name="mqtt-telemetry"),
            asyncio.create_task(self._send_events(client), name="mqtt-events"),
            asyncio.create_task(self._send_results(client), name="mqtt-results"),
            asyncio.create_task(self._stopping.wait(), name="mqtt-stop"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Asked again while any lingers: a swallowed cancel (appliance.tasks) kept a
            # sender running, the `offline` below was never sent and a stopped unit stayed
            # `online` in `fleet status` (seen in 1 of 6 clean stops).
            await cancel_and_wait(tasks, patience=STOP_PUBLISH_TIMEOUT)
            for task in tasks:  # seen, so none is reported as never retrieved
                if task.done() and not task.cancelled():
                    task.exception()
        for task in done:
            if not task.cancelled() and (exc := task.exception()) is not None:
                raise exc
        if self._stopping.is_set():
            # A clean stop says so itself; the will is only for a unit that vanished.
            with contextlib.suppress(MqttError, TimeoutError):
                await client.publish(
                    self.topics.status,
                    self._status("offline", m.STATUS_WILL - 1),
                    qos=1,
                    retain=True,
                    timeout=STOP_PUBLISH_TIMEOUT,
                )
            log.info("mqtt stopped")

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes) else b""
            try:
                self._take(topic, payload)
            except Exception:  # our bug, never the link's: logged, and the next one comes
                log.exception("message could not be handled", extra={"topic": topic[:200]})

    def _open(self, topic: str, payload: bytes, *, once: bool) -> dict[str, Any] | None:
        """The body of a collector's envelope on `topic`, admitted (commands once); None,
        logged, when it does not verify, is not for us, has expired or was seen."""
        limit = m.MAX_CATALOG_PAYLOAD if once else m.MAX_PAYLOAD
        try:
            opened = self.verifier.open(payload, topic, limit=limit)
            clock, synced = time.time(), self.synchronised()
            self.admission.admit(opened, clock=clock, synced=synced, once=once)
        except EnvelopeError as e:
            self.refused += 1
            log.warning(
                "refused a message not signed for us",
                extra={"topic": topic[:200], "error": str(e)},
            )
            return None
        if once:
            try:
                self._admitted.put("envelopes", self.admission.state())
            except StoreError as e:
                # Kept in memory: a replay is still refused until the next restart.
                log.error("cannot save the admitted envelopes", extra={"error": str(e)})
        return opened.body

    def _take(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.ack:
            body = self._open(topic, payload, once=False)
            if body is None:
                return
            try:
                ack = m.from_body(body, m.Ack)
            except BadInput as e:
                log.warning("ack refused", extra={"error": str(e)})
                return
            self.publisher.ack(ack.upto)
            return
        if topic == self.topics.loyalty_response:
            body = self._open(topic, payload, once=False)
            if body is not None:
                self.on_loyalty_response(m.encode(body))
            return
        name = self.topics.command_name(topic)
        if name is None:
            log.warning("message on an unexpected topic", extra={"topic": topic[:200]})
            return
        if self._incoming.full():
            log.warning("too many commands waiting; dropped one", extra={"topic": topic[:200]})
            return
        body = self._open(topic, payload, once=True)
        if body is not None:
            self._incoming.put_nowait(Incoming(name, m.encode(body), topic))

    async def _command_worker(self) -> None:
        # Lives across connections, so a command is never cut off half-applied by a drop.
        while True:
            incoming = await self._incoming.get()
            try:
                result = await self.commands.handle(incoming)
            except Exception:  # handle() answers what it can; this is our bug, not fatal
                log.exception("command could not be handled", extra={"topic": incoming.topic})
                continue
            if result is not None:
                self._results.append((self.topics.result(incoming.name), result))
                self._results_ready.set()

    async def _send_results(self, client: aiomqtt.Client) -> None:
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            while self._results:
                topic, result = self._results[0]
                await client.publish(topic, self.store.seal(topic, result), qos=1)
                self._results.popleft()

    async def _send_events(self, client: aiomqtt.Client) -> None:
        while True:
            await self._events_ready.wait()
            self._events_ready.clear()
            while self._events:
                event = self._events[0]
                # Details come from drivers: make sure they are JSON whatever they hold.
                detail = json.loads(json.dumps(event.detail, default=str))
                body = m.DeviceEvent(kind=event.kind, ts=utc_stamp(event.ts), detail=detail)
                payload = self.store.seal(self.topics.events, body)
                await client.publish(self.topics.events, payload, qos=1)
                if self._events and self._events[0] is event:
                    self._events.popleft()

    async def _send_telemetry(self, client: aiomqtt.Client) -> None:
        while True:
            topic = self.topics.telemetry
            await client.publish(topic, self.store.seal(topic, self.telemetry()), qos=0)
            self._telemetry_now.clear()
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.telemetry_interval):
                    await self._telemetry_now.wait()
