"""`collector run`: subscribe, batch, ingest, then publish acks and commands after commit.

The collector owns its reconnect loop (aiomqtt has none). Its session is persistent (a
fixed client id, clean start off) so QoS 1 sales queue at the broker while it is down.
Sales, events and telemetry come through a shared subscription (`$share/collectors/…`)
so several collectors split the load; status is a plain subscription because brokers do
not send retained messages to shared ones, and the retained birth carries the key. A
collector that stops while others run ends its session, and the others end a dead one's
(collector/members.py), so no session takes a share of the records that nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import math
import os
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
from paho.mqtt import client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from collector import enrolment, members, stock
from collector.config import CollectorConfig, LoyaltySection, PrivacySection
from collector.errors import CollectorInput
from collector.ingest.batches import BatchResult, Incoming
from collector.ingest.worker import DatabaseUnavailable, IngestProcess, IngestThread, WorkerLost
from collector.keys import ENV as KEYS_ENV
from collector.keys import KeyStore, default_dir
from collector.loyalty.fair import FairQueue
from collector.loyalty.ledger import Ledger
from collector.loyalty.requests import Answers
from collector.outgoing import Outgoing, Signer
from protocol.broker import BrokerAddress, TlsFilesError, tls_context
from protocol.envelope import EnvelopeError, peek
from protocol.messages import (
    PREFIX,
    Command,
    LoyaltyRequest,
    LoyaltyResponse,
    WireError,
    device_topic,
    encode,
    from_body,
    parse_device_topic,
)

log = logging.getLogger("collector")
SHARE_GROUP = "collectors"
DEVICE_LEAVES = ("sales", "events", "telemetry", "loyalty/request")
LOYALTY_REQUEST = "/loyalty/request"
# How long a loyalty request from an enrolled device whose key is not yet known waits for
# its birth to be ingested (at most their sum, 1 s).
KEY_WAITS = (0.1, 0.2, 0.3, 0.4)
LOYALTY_WORKERS = 16  # loyalty requests answered at once (each a short transaction)
LOYALTY_REPORTS = 20  # devices named per interval in the log of unanswered requests
SESSION_EXPIRY = 7 * 24 * 3600  # seconds the broker keeps queueing for a stopped collector
UNSUPPORTED_PROTOCOL = 132  # CONNACK reason: the broker speaks MQTT 3.1.1 only
# QoS 1 messages the broker may have sent us unacknowledged (MQTT 5 Receive Maximum), and
# the most BoundedClient lets wait untaken. We acknowledge as _consume takes them, so the
# rest stays queued at the broker, not in our memory (docs/benchmarks.md).
RECEIVE_MAXIMUM = 1024
# How long a publish waits for its PUBACK, and a subscribe for its SUBACK: for ever. The
# answer comes behind whatever the broker has already sent us, and a broker that
# overshoots Receive Maximum can put tens of thousands of sales ahead of it (a 100k drain
# saw 10 s, and aiomqtt's default timeout ended the session). A dead connection shows
# where we read instead: in `_consume`'s message iterator, or paho's keepalive.
PUBACK_WAIT = math.inf
REPLIES_IN_FLIGHT = 1000  # our QoS 1 publishes awaiting a PUBACK before paho holds more


class BoundedClient(aiomqtt.Client):
    """An aiomqtt client that stops reading its socket when the broker has sent more
    than `RECEIVE_MAXIMUM` messages that wait untaken, and reads again once `_consume`
    has taken half of them.

    Receive Maximum alone bounds memory only with a broker that keeps to it: Mosquitto
    2.0.11 with `max_inflight_messages 0` does not (its log: six PUBLISHes on one PUBACK,
    20 allowed), and a 100k drain grew the collector by hundreds of MB (docs/benchmarks.md,
    "The figures behind the code"). Not reading pushes back
    through TCP instead. aiomqtt and paho have no such switch (aiomqtt's bounded queue
    drops messages). The price: our own PUBACKs wait behind what the broker sent, so
    nothing that must go on (`_consume`) waits for one."""

    paused = False
    overrun = False  # the broker has sent more than Receive Maximum (logged once)

    def _on_message(self, client: mqtt.Client, userdata: object, message: object) -> None:
        super()._on_message(client, userdata, message)  # type: ignore[arg-type]
        sock = client.socket()
        over = self._queue.qsize() > RECEIVE_MAXIMUM
        if over and not self.paused and sock is not None:
            self._loop.remove_reader(sock.fileno())
            self.paused = True
            if not self.overrun:
                self.overrun = True
                log.warning(
                    "the broker sent more than the Receive Maximum of %d: reading waits "
                    "until half is taken (Mosquitto: max_inflight_messages must not be 0)",
                    RECEIVE_MAXIMUM,
                )

    def _read(self) -> None:
        # What aiomqtt's own read callback does (in _on_socket_open, not reachable).
        client = self._client
        try:
            while True:
                client.loop_read()
                pending = getattr(client.socket(), "pending", None)  # TLS-decrypted bytes
                if not (pending and pending() > 0):
                    break
        except Exception as exc:
            if not self._disconnected.done():
                self._disconnected.set_exception(exc)

    def taken(self) -> None:
        """Called as each message is taken: read again once the backlog has halved (the
        read callback runs once at once, for bytes TLS already decrypted)."""
        if self.paused and self._queue.qsize() <= RECEIVE_MAXIMUM // 2:
            self._resume()

    def _resume(self) -> None:
        sock = self._client.socket()
        if self.paused and sock is not None:
            self.paused = False
            self._loop.add_reader(sock.fileno(), self._read)
            self._loop.call_soon(self._read)

    end_session = False  # set before leaving: the DISCONNECT ends our session at the broker

    async def __aexit__(self, *exc_info: object) -> None:
        # Disconnecting waits for paho to see the socket close, which it sees by reading.
        self._resume()
        if self.end_session:
            # MQTT 5 lets a DISCONNECT lower the session expiry to 0: the broker drops the
            # session, its subscriptions and what it queued for us. aiomqtt's __aexit__
            # calls paho's disconnect() with no properties, so give it ours.
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
            paho = self._client
            paho.disconnect = functools.partial(type(paho).disconnect, paho, properties=props)  # type: ignore[method-assign]
        await super().__aexit__(*exc_info)  # type: ignore[arg-type]


@dataclass
class Settings:
    """What `collector run` was asked to do."""

    broker: BrokerAddress
    client_id: str = "collector-1"
    batch_size: int = 256
    batch_window: float = 0.005  # seconds to let a batch fill after its first message
    ingest_process: bool = True  # the ingest in a worker process (collector/ingest/worker.py)
    # mqtts://: the CA that signed the broker's certificate (the system's when empty), and
    # our client certificate and key when the broker asks for one.
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    stock_interval: float = 2.0  # seconds between looks for stock changed elsewhere (CLI)
    resend_interval: float = 5.0
    reconnect_delay: float = 1.0
    # The collector's secrets (collector.keys): empty, COLLECTOR_KEYS, else beside a SQLite
    # database or the system's place, as the command line resolves it.
    keys: str = ""
    cluster: members.Timings = field(default_factory=members.Timings)
    loyalty: LoyaltySection = field(default_factory=LoyaltySection)
    privacy: PrivacySection = field(default_factory=PrivacySection)

    @classmethod
    def from_config(cls, config: CollectorConfig) -> Settings:
        """What the configuration (collector.config, already checked) tells `run`."""
        mqtt = config.mqtt
        return cls(
            BrokerAddress.parse(mqtt.url, "mqtt.url"),
            client_id=mqtt.client_id,
            batch_size=config.ingest.batch,
            batch_window=config.ingest.window,
            tls_ca=mqtt.tls.ca,
            tls_cert=mqtt.tls.cert,
            tls_key=mqtt.tls.key,
            keys=config.keys.dir,
            cluster=members.Timings(config.cluster.heartbeat, config.cluster.stale),
            loyalty=config.loyalty,
            privacy=config.privacy,
        )

    def tls_context(self, what: str = "mqtt.tls") -> ssl.SSLContext | None:
        """The TLS context for an mqtts:// broker; CollectorInput naming `what` (where the
        files were given) when one will not load."""
        if not self.broker.tls:
            return None
        try:
            return tls_context(self.tls_ca, self.tls_cert, self.tls_key)
        except TlsFilesError as exc:
            raise CollectorInput(f"{what}: {exc}") from exc


class Collector:
    """One collector process: the MQTT side, with the ingest in its worker."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._worker: IngestProcess | IngestThread | None = None
        self.answers = Answers(Ledger(engine, settings.loyalty), privacy=settings.privacy)
        # Waiting loyalty requests, per device, served in turn (collector.loyalty.fair).
        self.loyalty_requests: FairQueue[Incoming] = FairQueue(settings.loyalty.requests)
        self._request_came = asyncio.Event()
        self.ready = asyncio.Event()  # set once subscribed (tests and logs wait for it)
        self.shared = False
        self.ingested = 0  # records this process stored
        self._stock_changed = asyncio.Event()
        self._v5: bool | None = None
        self._v311_guessed = False
        self._stopping = False
        self.peers: list[str] = []  # the other collectors running, as last seen
        keys = settings.keys or os.environ.get(KEYS_ENV) or str(default_dir(str(engine.url)))
        self.keys = KeyStore(Path(keys))
        self.signer = Signer(self.keys.signing_key())  # made on first use

    async def run(self) -> None:
        """Connect, consume and reconnect until cancelled."""
        self._worker = self._ingest_worker()
        self._worker.start()
        try:
            await self._run()
        finally:
            # The worker finishes the batch in hand (its acks are lost with the
            # connection; the devices resend and get them for the duplicates).
            self._worker.close()

    def _ingest_worker(self) -> IngestProcess | IngestThread:
        s, url = self.settings, self.engine.url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        kind = IngestProcess if s.ingest_process and not in_memory else IngestThread
        return kind(self.engine, s.resend_interval, s.loyalty, self.keys.path)

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except aiomqtt.MqttCodeError as exc:
                self._stop_if_stopping()
                if self._v5 is None and exc.rc == UNSUPPORTED_PROTOCOL:
                    log.info("broker refuses MQTT 5; using 3.1.1 without shared subscriptions")
                    self._v5 = False
                    continue
                log.warning("broker connection lost: %s", exc)
            except aiomqtt.MqttError as exc:
                self._stop_if_stopping()
                if self._v5 is None and "timed out" in str(exc):
                    # amqtt never answers an MQTT 5 CONNECT that carries properties (a
                    # bare one it refuses with 132): try 3.1.1 before waiting.
                    log.info("no answer to an MQTT 5 connect; trying 3.1.1")
                    self._v5, self._v311_guessed = False, True
                    continue
                if self._v311_guessed and not self.ready.is_set():
                    self._v5 = None  # 3.1.1 failed too: it was no MQTT 5 problem
                    self._v311_guessed = False
                log.warning("broker connection lost: %s", exc)
            self.ready.clear()
            await asyncio.sleep(self.settings.reconnect_delay)

    def _stop_if_stopping(self) -> None:
        if self._stopping:
            raise asyncio.CancelledError
        _stop_if_cancelled()

    def stop(self, task: asyncio.Task[None]) -> None:
        """Stop `task`, which runs `run()` (what SIGTERM does)."""
        self._stopping = True
        task.cancel()

    async def _session(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        cancels = task.cancelling()
        async with self._client() as client:
            try:
                async with asyncio.TaskGroup() as tg:
                    # A resumed session's backlog comes before the SUBACK: take it while
                    # subscribing, or a paused BoundedClient would never read the SUBACK.
                    # Taking the next batch goes on while one is stored: the broker only
                    # sends more as we take (and PUBACK), so taking and storing in turn
                    # left each idle half the time (docs/benchmarks.md).
                    batches: asyncio.Queue[list[Incoming]] = asyncio.Queue(maxsize=1)
                    tg.create_task(self._consume(client, batches))
                    tg.create_task(self._store(client, batches))
                    tg.create_task(self._subscribe(client))
                    tg.create_task(self._publish_stock(client))
                    tg.create_task(self._answer_loyalty(client))
                    tg.create_task(self._keep_membership(client))
            except* aiomqtt.MqttError as group:
                # Python 3.11's TaskGroup leaves the cancel it sent this task to stop the
                # body pending when a child fails: run() took that for a SIGTERM and
                # exited 0 on a lost connection. Undo it unless a stop was asked for.
                while task.cancelling() > cancels and not self._stopping:
                    task.uncancel()
                raise _first(group) from None
            finally:
                if self._stopping and self.shared:
                    self._leave(client)

    def _leave(self, client: BoundedClient) -> None:
        """Stopping: hand our share to the running peers by ending our session, or, as
        the last one, keep it so the broker queues for us (the peers as last seen: no
        database call may hold up a SIGTERM)."""
        if self.peers:
            client.end_session = True
            log.info(
                "stopping; handing its share to %s (the broker session ends)",
                ", ".join(self.peers),
            )
        else:
            log.info("stopping as the last collector: the broker keeps queueing for it")

    async def _keep_membership(self, client: aiomqtt.Client) -> None:
        """While subscribed through the shared subscription: our heartbeat, who else is
        running, and clearing the sessions of those who died (collector/members.py)."""
        await self.ready.wait()
        if not self.shared:
            return  # the only subscriber: nobody to share with
        me, timings = self.settings.client_id, self.settings.cluster
        while True:
            _stop_if_cancelled()
            dead: list[str] = []
            try:
                await asyncio.to_thread(members.beat, self.engine, me)
                self.peers = await asyncio.to_thread(
                    members.running_peers, self.engine, me, timings
                )
                dead = await asyncio.to_thread(members.claim_dead, self.engine, me, timings)
            except OperationalError as exc:
                log.error("database unavailable (%s); the heartbeat goes later", exc.orig)
            cleared = [other for other in dead if await self._clear_session(other)]
            if cleared:
                await self._ask_for_lost(client)
            await asyncio.sleep(timings.heartbeat)

    async def _clear_session(self, other: str) -> bool:
        """End the broker session of dead collector `other`: connect under its client id
        with a clean start and Session Expiry 0, and leave. False when it could not."""
        s = self.settings
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        try:
            async with aiomqtt.Client(
                s.broker.host,
                s.broker.port,
                identifier=other,
                protocol=aiomqtt.ProtocolVersion.V5,
                clean_start=True,
                properties=props,
                tls_context=s.tls_context(),
                timeout=10,
            ):
                pass
        except aiomqtt.MqttError as exc:
            log.warning("could not clear the broker session of %s (%s); trying again", other, exc)
            with contextlib.suppress(OperationalError):
                await asyncio.to_thread(members.unclaim, self.engine, other)
            return False
        log.warning(
            "collector %s was not seen for %g s: cleared the broker session of %s, so "
            "the broker deals its share to the running collectors",
            other,
            s.cluster.stale,
            other,
        )
        return True

    async def _ask_for_lost(self, client: aiomqtt.Client) -> None:
        """What a cleared session held is lost at the broker: ask the devices heard from
        lately to send again what follows their last stored record."""
        within = 2 * self.settings.cluster.stale + self.settings.cluster.heartbeat
        try:
            devices = await asyncio.to_thread(members.recent_devices, self.engine, within)
        except OperationalError as exc:
            log.error("database unavailable (%s); the devices resend on their own", exc.orig)
            return
        asks = [
            Outgoing(
                device_topic(store, device, "cmd/resend"),
                encode(Command(corr=uuid.uuid4().hex, args={"from_seq": seq + 1})),
            )
            for store, device, seq in devices
        ]
        _post(client, self.signer.sealed(asks))
        log.info("asked %d devices to resend what the cleared session held", len(devices))

    def _client(self) -> BoundedClient:
        s = self.settings
        common: dict[str, object] = {
            "identifier": s.client_id,
            "socket_options": [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            "tls_context": s.tls_context(),
            "keepalive": 30,
            # paho's default of 20 would hold the 21st ack until a PUBACK came back.
            "max_inflight_messages": REPLIES_IN_FLIGHT,
        }
        if self._v5 is False:
            client = BoundedClient(
                s.broker.host,
                s.broker.port,
                protocol=aiomqtt.ProtocolVersion.V311,
                clean_session=False,
                **common,  # type: ignore[arg-type]
            )
        else:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            client = BoundedClient(
                s.broker.host,
                s.broker.port,
                protocol=aiomqtt.ProtocolVersion.V5,
                clean_start=False,
                properties=props,
                **common,  # type: ignore[arg-type]
            )
        # aiomqtt acks each message on arrival and queues it without limit; _consume acks
        # instead (aiomqtt has no option for it, paho has).
        client._client.manual_ack_set(True)
        return client

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        self._v311_guessed = False
        if self._v5 is None:
            self._v5 = True  # the connect above succeeded with MQTT 5
        self.shared = False
        if self._v5:
            topics = [f"$share/{SHARE_GROUP}/{PREFIX}/+/+/{leaf}" for leaf in DEVICE_LEAVES]
            codes = await client.subscribe([(t, 1) for t in topics], timeout=PUBACK_WAIT)
            self.shared = all(_granted(c) for c in codes)
            if not self.shared:
                log.info("broker refused shared subscriptions; subscribing plainly")
                await client.unsubscribe(topics, timeout=PUBACK_WAIT)
        if not self.shared:
            await client.subscribe(
                [(f"{PREFIX}/+/+/{leaf}", 1) for leaf in DEVICE_LEAVES], timeout=PUBACK_WAIT
            )
        await client.subscribe(f"{PREFIX}/+/+/status", 1, timeout=PUBACK_WAIT)
        log.info(
            "subscribed as %s (%s)",
            self.settings.client_id,
            "shared" if self.shared else "plain",
        )
        if not self.ready.is_set():
            # Everything made while starting (modules, the engine, the worker's pipe) lives
            # as long as we do: out of the garbage collector's sight, a full collection no longer
            # walks it, which stalled the loop for tens of ms (docs/benchmarks.md).
            gc.collect()
            gc.freeze()
        self.ready.set()
        self._stock_changed.set()  # send whatever stock changed while we were away

    async def _consume(self, client: BoundedClient, batches: asyncio.Queue[list[Incoming]]) -> None:
        """Take messages as they come, in batches of up to `batch_size` (or what came in
        `batch_window` after the first), for `_store`; loyalty requests go straight on."""
        messages = client.messages
        while True:
            _stop_if_cancelled()
            first = await anext(messages)
            client.taken()
            _ack(client, first)
            if str(first.topic).endswith(LOYALTY_REQUEST):
                # A till is waiting on this: no batch window, straight to the answerers.
                self._offer(client, Incoming(str(first.topic), _payload(first.payload)))
                continue
            batch = [first]
            await asyncio.sleep(self.settings.batch_window)
            while len(messages) and len(batch) < self.settings.batch_size:
                batch.append(await anext(messages))
                client.taken()
                _ack(client, batch[-1])
            incoming = []
            for m in batch:
                msg = Incoming(str(m.topic), _payload(m.payload))
                if msg.topic.endswith(LOYALTY_REQUEST):
                    self._offer(client, msg)
                else:
                    incoming.append(msg)
            if incoming:
                await batches.put(incoming)

    async def _store(self, client: aiomqtt.Client, batches: asyncio.Queue[list[Incoming]]) -> None:
        """Ingest the batches in the order they were taken; acks go out after each commit."""
        while True:
            _stop_if_cancelled()
            result = await self._ingest(await batches.get())
            _post(client, self.signer.sealed(result.publish))
            if result.stock_changed:
                self._stock_changed.set()

    async def _ingest(self, batch: list[Incoming]) -> BatchResult:
        # The broker has PUBACKed these: keep them until the database takes them (no acks
        # go out meanwhile, so if we die here the devices resend).
        assert self._worker is not None
        while True:
            try:
                result = await self._worker.ingest(batch)
            except DatabaseUnavailable as exc:
                log.error("database unavailable (%s); retrying the batch", exc)
                await asyncio.sleep(self.settings.reconnect_delay)
                continue
            except WorkerLost as exc:
                self._stop_if_stopping()
                log.error("%s; starting another and sending it the batch again", exc)
                await asyncio.sleep(self.settings.reconnect_delay)
                continue
            self.ingested += result.ingested
            if result.ingested or result.dead or result.gaps:
                log.info(
                    "batch of %d: %d ingested, %d duplicates, %d dead letters, %d gaps",
                    len(batch),
                    result.ingested,
                    result.duplicates,
                    result.dead,
                    result.gaps,
                )
            return result

    async def _publish_stock(self, client: aiomqtt.Client) -> None:
        while True:
            _stop_if_cancelled()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stock_changed.wait(), self.settings.stock_interval)
            self._stock_changed.clear()
            try:
                update = await asyncio.to_thread(stock.pending_updates, self.engine)
                await self._send(client, self.signer.sealed(update.messages))
                await asyncio.to_thread(stock.mark_sent, self.engine, update.versions)
            except OperationalError as exc:
                log.error("database unavailable (%s); stock levels go later", exc.orig)

    def _offer(self, client: aiomqtt.Client, msg: Incoming) -> None:
        """Queue a loyalty request in its device's share (never waits: _consume goes on
        taking sales whatever one device sends), and refuse what the share will not hold."""
        for refused in self.loyalty_requests.offer(msg.topic, msg, time.monotonic()):
            self._refuse(client, refused)
        self._request_came.set()

    def _refuse(self, client: aiomqtt.Client, msg: Incoming) -> None:
        """Answer "too many requests" at once: no database, no waiting for the PUBACK.
        `unavailable`, so the till stops waiting and works under its offline rules."""
        try:
            store, device, _leaf = parse_device_topic(msg.topic)
            # Not opened (that costs a database read): a forged one gets "too many" for a
            # corr that no till waits on, and only on the device topic it was sent to.
            req = from_body(peek(msg.payload), LoyaltyRequest)
        except (WireError, EnvelopeError):
            return  # _answer_one would have refused it too; nobody waits on it
        s = self.settings.loyalty.requests
        response = LoyaltyResponse(
            corr=req.corr,
            ok=False,
            error=f"too many requests from this device (over {s.rate:g} a second)",
            unavailable=True,
        )
        refusal = Outgoing(device_topic(store, device, "loyalty/response"), encode(response))
        _post(client, self.signer.sealed([refusal]))

    async def _answer_loyalty(self, client: aiomqtt.Client) -> None:
        """Answer `loyalty/request`s, several at a time, each on the asking device's
        `loyalty/response` with the request's corr. An answerer takes the next request
        only once it is free, so the requests wait in their devices' shares, not here."""
        slots = asyncio.Semaphore(LOYALTY_WORKERS)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._report_loyalty_drops())
            while True:
                await slots.acquire()
                while (msg := self.loyalty_requests.take(time.monotonic())) is None:
                    self._request_came.clear()
                    await self._request_came.wait()
                task = tg.create_task(self._answer_one(client, msg))
                task.add_done_callback(lambda _t: slots.release())

    async def _report_loyalty_drops(self) -> None:
        """Log the loyalty requests dropped or refused, once per interval per device (at
        most LOYALTY_REPORTS devices a time: a crowd of ids must not flood the log)."""
        interval = self.settings.loyalty.requests.log_interval
        while True:
            await asyncio.sleep(interval)
            reports = list(self.loyalty_requests.report(time.monotonic()))
            reports.sort(key=lambda r: -(r.drops.over_rate + r.drops.queue_full + r.drops.stale))
            for r in reports[:LOYALTY_REPORTS]:
                d = r.drops
                log.warning(
                    "loyalty requests on %s not answered in the last %g s: %d over the "
                    "rate, %d pushed out of its queue, %d out of the total (%d of these "
                    "told 'too many requests'), %d waited over %g s",
                    r.device[:120],
                    interval,
                    d.over_rate,
                    d.queue_full,
                    d.total_full,
                    d.refused,
                    d.stale,
                    self.settings.loyalty.requests.max_wait,
                )
            if len(reports) > LOYALTY_REPORTS:
                log.warning(
                    "and %d more devices had loyalty requests not answered",
                    len(reports) - LOYALTY_REPORTS,
                )

    async def _answer_one(self, client: aiomqtt.Client, msg: Incoming) -> None:
        try:
            store, device, _leaf = parse_device_topic(msg.topic)
        except WireError as exc:
            log.warning("loyalty request on %s refused: %s", msg.topic[:120], exc)
            return
        for wait in (*KEY_WAITS, None):
            try:
                why, verifier = await asyncio.to_thread(
                    enrolment.believed, self.engine, store, device
                )
            except OperationalError as exc:
                why, verifier = f"the database is unavailable ({exc.orig})", None
            if verifier is not None or wait is None or why != enrolment.no_key_yet(device):
                break
            # A unit asks right after its first birth, which the ingest may not have
            # committed yet: give it a moment rather than leave the first question unheard.
            await asyncio.sleep(wait)
        if why is not None or verifier is None:
            # Nothing about any customer goes to a device the collector does not believe.
            log.warning("loyalty request on %s not answered: %s", msg.topic[:120], why)
            return
        try:
            # Sealed by the device: anyone else on its topic is not answered.
            req = from_body(verifier.open(msg.payload, msg.topic).body, LoyaltyRequest)
        except (WireError, EnvelopeError) as exc:
            log.warning("loyalty request on %s refused: %s", msg.topic[:120], exc)
            return
        except Exception:  # our bug: one request, never the collector (it is in a TaskGroup)
            log.exception("loyalty request on %s could not be read", msg.topic[:120])
            return
        try:
            response = await asyncio.to_thread(self.answers.answer, req, device)
        except Exception as exc:
            # The till falls back to offline rules on ok=false; the collector carries on.
            log.exception("loyalty %s for %s failed", req.op, device)
            response = LoyaltyResponse(
                corr=req.corr,
                ok=False,
                error=f"the collector could not answer: {exc}"[:300],
                unavailable=True,
            )
        # Not waiting for the PUBACK: it comes behind whatever the broker has queued for
        # us (a flood: seconds), and an answerer waiting for it held its slot, so every
        # other till's request waited too.
        answer = Outgoing(device_topic(store, device, "loyalty/response"), encode(response))
        _post(client, self.signer.sealed([answer]))

    @staticmethod
    async def _send(client: aiomqtt.Client, messages: list[Outgoing]) -> None:
        for m in messages:
            await client.publish(
                m.topic, m.payload, qos=m.qos, retain=m.retain, timeout=PUBACK_WAIT
            )


def _post(client: aiomqtt.Client, messages: list[Outgoing]) -> None:
    """Publish acks and resend requests without waiting for their PUBACKs, which come
    behind whatever the broker has sent us: waiting for each in turn held acks back until
    devices took them for lost and resent everything. paho keeps them in flight; if the
    connection drops first, the device resends and gets its ack for the duplicates."""
    for m in messages:
        info = client._client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "could not publish a reply")


def _ack(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """PUBACK `message` now that _consume has it (in arrival order, as MQTT wants). The
    broker has it until then; the device keeps it until the collector's `ack`."""
    if message.qos:
        client._client.ack(message.mid, message.qos)


def _stop_if_cancelled() -> None:
    """Stop if this task was asked to: Python 3.11's wait_for (in aiomqtt's publish and
    disconnect, and ours) drops a cancel when what it waited for finished in the same loop
    turn, and a cancel during aiomqtt's disconnect can come back as an MqttError that the
    reconnect loop would take for a lost connection: either way SIGTERM went unheeded."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _granted(code: object) -> bool:
    value = getattr(code, "value", code)
    return isinstance(value, int) and value < 0x80


def _payload(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return b"" if payload is None else str(payload).encode("utf-8")


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
