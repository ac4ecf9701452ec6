"""The fleet's identities with real processes: `collector fleet enroll`, `revoke`, `rekey`
and `broker-config` run as commands, and Mosquitto run from the configuration they wrote
(`mosquitto -c DIR/mosquitto.conf`, as root in CI: it drops to `mosquitto`), with MQTT
clients presenting the certificates that were issued."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from collector.db import open_database
from collector.enrolment import EnrolmentInput, check_device, check_store, rekey
from collector.models import Enrolment, FleetCertificate
from tests.broker import Broker, free_port
from tests.conftest import ROOT
from tests.test_mqtt_tls import Pki

WAIT = 15.0  # seconds a client waits for what it expects; the tests assert states, not times


def collector(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok(*args: str | Path) -> str:
    done = collector(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(*args: str | Path) -> str:
    """The one line a command exits 2 with."""
    done = collector(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("collector: "), done.stderr
    return lines[0]


@dataclass
class Fleet:
    """A collector database with enrolled devices, and the broker directory made for it."""

    root: Path
    port: int

    @property
    def db(self) -> str:
        return f"sqlite:///{self.root}/collector.db"

    @property
    def broker_dir(self) -> Path:
        return self.root / "broker"

    def out(self, device: str) -> Path:
        return self.root / "units" / device

    def enroll(self, device: str, store: str, *extra: str) -> str:
        return ok("fleet", "enroll", "--db", self.db, device, "--store", store,
                  "--out", self.out(device), *extra)  # fmt: skip

    def broker_config(self) -> str:
        return ok("fleet", "broker-config", "--db", self.db, "--port", self.port,
                  "--out", self.broker_dir)  # fmt: skip

    def files(self, device: str) -> tuple[str, str, str]:
        """(CA, certificate, key) a device connects with."""
        d = self.out(device)
        return str(d / "ca.crt"), str(d / f"{device}.crt"), str(d / f"{device}.key")

    def collector_files(self) -> tuple[str, str, str]:
        d = self.broker_dir
        return str(d / "ca.crt"), str(d / "collector.crt"), str(d / "collector.key")

    def rows(self) -> list[tuple[str, str, str | None, bool]]:
        engine = create_engine(self.db)
        try:
            with Session(engine) as s:
                return [
                    (e.device, e.store, e.revoked_at, e.rekey_allowed)
                    for e in s.scalars(select(Enrolment).order_by(Enrolment.device))
                ]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    # Not pytest's tmp_path (0700 under root's): Mosquitto, dropped to its own user, must
    # be able to reach the broker directory; broker-config refuses one it cannot.
    root = Path(tempfile.mkdtemp(prefix="pos-fleet-"))
    os.chmod(root, 0o755)
    f = Fleet(root, free_port())
    for device, store in (("till-a", "s001"), ("till-b", "s002"), ("till-c", "s001")):
        f.enroll(device, store)
    f.broker_config()
    yield f
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_broker(fleet: Fleet) -> Iterator[Broker]:
    b = Broker(conf=fleet.broker_dir / "mosquitto.conf", port=fleet.port)
    yield b
    b.close()


@dataclass
class Client:
    """A paho client over TLS with the given files (or none), keeping what it receives."""

    port: int
    ca: str
    cert: str | None = None
    key: str | None = None
    name: str = "test"
    received: list[tuple[str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.paho = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{self.name}-{os.getpid()}-{time.monotonic_ns()}",
            protocol=mqtt.MQTTv5,
        )
        ctx = ssl.create_default_context(cafile=self.ca)
        if self.cert:
            ctx.load_cert_chain(self.cert, self.key)
        self.paho.tls_set_context(ctx)
        self.answered = threading.Event()
        self.connected = False
        self.lock = threading.Lock()
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = lambda *_: self.answered.set()
        self.paho.on_connect_fail = lambda *_: self.answered.set()
        self.paho.on_message = self._on_message

    def _on_connect(self, _c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        self.connected = not getattr(rc, "is_failure", True)
        self.answered.set()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.received.append((msg.topic, msg.payload))

    def connect(self) -> bool:
        """Whether the broker took us (a CONNACK with success)."""
        try:
            self.paho.connect("127.0.0.1", self.port, keepalive=30)
        except (OSError, ssl.SSLError):
            return False
        self.paho.loop_start()
        self.answered.wait(WAIT)
        if not self.connected:
            self.close()  # else paho's loop goes on trying
        return self.connected

    def subscribe(self, *topics: str) -> None:
        done = threading.Event()
        granted: list[object] = []

        def on_subscribe(_c: object, _u: object, _m: object, codes: list[object], _p: object):
            granted.extend(codes)
            done.set()

        self.paho.on_subscribe = on_subscribe
        self.paho.subscribe([(t, 1) for t in topics])
        assert done.wait(WAIT), f"no SUBACK for {topics}"

    def publish(self, topic: str, payload: bytes) -> None:
        self.paho.publish(topic, payload, qos=1).wait_for_publish(WAIT)

    def got(self, payload: bytes) -> bool:
        with self.lock:
            return any(p == payload for _, p in self.received)

    def wait_for(self, payload: bytes) -> None:
        deadline = time.monotonic() + WAIT
        while not self.got(payload):
            assert time.monotonic() < deadline, f"{payload!r} never arrived: {self.received}"
            time.sleep(0.01)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


@pytest.fixture
def clients(fleet: Fleet, tls_broker: Broker) -> Iterator[dict[str, Client]]:
    made: dict[str, Client] = {}
    for name in ("till-a", "till-b"):
        made[name] = Client(fleet.port, *fleet.files(name), name=name)
    made["collector"] = Client(fleet.port, *fleet.collector_files(), name="collector")
    for c in made.values():
        assert c.connect(), tls_broker.log()[-2000:]
    yield made
    for c in made.values():
        c.close()


def test_a_device_publishes_only_its_own_device_topics(clients: dict[str, Client]) -> None:
    a, col = clients["till-a"], clients["collector"]
    col.subscribe("#")
    own = b"a-sale"
    a.publish("pos/v1/s001/till-a/sales", own)
    col.wait_for(own)
    forged = {
        "pos/v1/s002/till-b/sales": b"as-b-sale",
        "pos/v1/s002/till-b/status": b"as-b-status",
        "pos/v1/s001/till-c/sales": b"as-c-same-store",
        "pos/v1/s002/till-a/sales": b"a-in-another-store",
        "pos/v1/s001/till-a/ack": b"own-ack",
        "pos/v1/s001/till-a/loyalty/response": b"own-loyalty-response",
        "pos/v1/s001/till-a/cmd/prices": b"own-cmd",
        "pos/v1/s002/till-b/cmd/prices": b"b-cmd",
        "pos/v1/s001/cmd/prices": b"store-cmd",
        "pos/v1/fleet/cmd/config": b"fleet-cmd",
        "pos/v1/s002/till-b/loyalty/response": b"b-loyalty-response",
    }
    for topic, payload in forged.items():
        a.publish(topic, payload)
    # Then what it may send: once these are in, everything before them was decided
    # (Mosquitto handles one client's messages in order).
    a.publish("pos/v1/s001/till-a/cmd/prices/result", b"a-result")
    a.publish("pos/v1/s001/till-a/events", b"a-event")
    col.wait_for(b"a-result")
    col.wait_for(b"a-event")
    leaked = [(t, p) for t, p in col.received if p in forged.values()]
    assert leaked == []


def test_a_device_reads_only_its_own_and_its_stores_and_fleets_commands(
    clients: dict[str, Client],
) -> None:
    a, b, col = clients["till-a"], clients["till-b"], clients["collector"]
    a.subscribe("#", "pos/v1/s002/till-b/loyalty/response", "pos/v1/s001/till-a/#")
    b.subscribe("pos/v1/s002/till-b/#", "pos/v1/s002/cmd/+", "pos/v1/fleet/cmd/+")
    for topic, payload in (
        ("pos/v1/s002/till-b/loyalty/response", b"for-b-loyalty"),
        ("pos/v1/s002/till-b/ack", b"for-b-ack"),
        ("pos/v1/s002/cmd/stock", b"for-s002"),
        ("pos/v1/s001/till-a/ack", b"for-a-ack"),
        ("pos/v1/s001/till-a/loyalty/response", b"for-a-loyalty"),
        ("pos/v1/s001/till-a/cmd/prices", b"for-a-cmd"),
        ("pos/v1/s001/cmd/stock", b"for-s001"),
        ("pos/v1/fleet/cmd/config", b"for-fleet"),
    ):
        col.publish(topic, payload)
    # B's were published first: once A has the fleet's (the last), it would have had them.
    for payload in (b"for-a-ack", b"for-a-loyalty", b"for-a-cmd", b"for-s001", b"for-fleet"):
        a.wait_for(payload)
    for payload in (b"for-b-loyalty", b"for-b-ack", b"for-s002", b"for-fleet"):
        b.wait_for(payload)
    assert not any(a.got(p) for p in (b"for-b-loyalty", b"for-b-ack", b"for-s002"))
    assert not b.got(b"for-a-ack") and not b.got(b"for-s001")


def test_the_collector_takes_device_topics_through_a_shared_subscription(
    clients: dict[str, Client],
) -> None:
    b, col = clients["till-b"], clients["collector"]
    col.subscribe("$share/collectors/pos/v1/+/+/sales", "pos/v1/+/+/status")
    b.publish("pos/v1/s002/till-b/sales", b"b-sale-shared")
    b.publish("pos/v1/s002/till-b/status", b"b-status")
    col.wait_for(b"b-sale-shared")
    col.wait_for(b"b-status")


def test_no_certificate_or_another_cas_is_refused(fleet: Fleet, tls_broker: Broker) -> None:
    ca = fleet.files("till-a")[0]
    assert not Client(fleet.port, ca, name="anonymous").connect()
    rogue = Pki("rogue")
    cert, key = rogue.issue("till-a")  # the id of an enrolled device, from another CA
    assert not Client(fleet.port, ca, cert, key, name="rogue").connect()
    shutil.rmtree(rogue.dir)
    # Plain MQTT on the TLS port gets no CONNACK, only a closed connection.
    plain = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="plain")
    connected, closed = threading.Event(), threading.Event()
    plain.on_connect = lambda *_: connected.set()
    plain.on_disconnect = lambda *_: closed.set()
    plain.connect("127.0.0.1", fleet.port)
    plain.loop_start()
    assert closed.wait(WAIT)
    plain.loop_stop()
    assert not connected.is_set()
    still = Client(fleet.port, *fleet.files("till-a"), name="still")
    assert still.connect()
    still.close()


def test_a_revoked_device_is_refused_after_broker_config_and_reload(
    fleet: Fleet, tls_broker: Broker
) -> None:
    c = Client(fleet.port, *fleet.files("till-c"), name="till-c")
    assert c.connect()
    c.close()
    assert "till-c revoked at" in ok("fleet", "revoke", "--db", fleet.db, "till-c")
    assert "1 revoked certificates" in fleet.broker_config()
    assert "user till-c" not in (fleet.broker_dir / "acl").read_text()
    tls_broker.reload()
    deadline = time.monotonic() + WAIT
    while Client(fleet.port, *fleet.files("till-c"), name="till-c").connect():
        assert time.monotonic() < deadline, "the revoked certificate is still taken"
        time.sleep(0.05)
    after = Client(fleet.port, *fleet.files("till-a"), name="after")
    assert after.connect()
    after.close()
    # Revoking again changes nothing and says when it was.
    rows = fleet.rows()
    (when,) = [r[2] for r in rows if r[0] == "till-c"]
    assert when is not None and when in ok("fleet", "revoke", "--db", fleet.db, "till-c")
    assert fleet.rows() == rows


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` with its SHA-256 and mode: what 'nothing written' compares."""
    found = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(("-wal", "-shm")) and p.parent.name != "data":
            found[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
    return found


def test_bad_input_exits_2_with_one_line_and_writes_nothing(fleet: Fleet) -> None:
    before = snapshot(fleet.root)
    rows = fleet.rows()
    line = refused("fleet", "revoke", "--db", fleet.db, "till-zz")
    assert "'till-zz' is not enrolled" in line
    line = refused("fleet", "enroll", "--db", fleet.db, "Till_1", "--store", "s001",
                   "--out", fleet.out("Till_1"))  # fmt: skip
    assert "device id 'Till_1' is not [a-z0-9-]{1,32}" in line
    line = refused("fleet", "enroll", "--db", fleet.db, "till-a", "--store", "s001",
                   "--out", fleet.out("till-a"))  # fmt: skip
    assert "'till-a' is already enrolled (store s001); give --renew" in line
    assert "not a TCP port" in refused(
        "fleet", "broker-config", "--db", fleet.db, "--port", "0", "--out", fleet.root / "b2"
    )
    assert snapshot(fleet.root) == before and fleet.rows() == rows
    # A reserved id on a database that does not exist yet does not make one either.
    fresh = fleet.root / "fresh.db"
    line = refused("fleet", "enroll", "--db", f"sqlite:///{fresh}", "cmd", "--store", "s1",
                   "--out", fleet.root / "fresh")  # fmt: skip
    assert "device id 'cmd' is reserved" in line
    assert snapshot(fleet.root) == before and not fresh.exists()


@pytest.mark.parametrize("device", ["cmd", "fleet", "collector", "x" * 33, "a/b", "+", ""])
def test_ids_that_would_make_topics_ambiguous_are_refused(device: str) -> None:
    with pytest.raises(EnrolmentInput):
        check_device(device)


def test_the_store_fleet_is_refused_and_rekey_wants_an_enrolled_device(fleet: Fleet) -> None:
    with pytest.raises(EnrolmentInput, match="store 'fleet' is reserved"):
        check_store("fleet")
    check_device("till-01")
    check_store("s001")
    engine = open_database(fleet.db, create=False)
    try:
        with pytest.raises(EnrolmentInput, match="'till-zz' is not enrolled"):
            rekey(engine, "till-zz")
    finally:
        engine.dispose()


def test_renew_replaces_the_certificate_and_rekey_is_recorded(fleet: Fleet) -> None:
    old = x509.load_pem_x509_certificate(Path(fleet.files("till-b")[1]).read_bytes())
    assert old.subject.rfc4514_string() == "CN=till-b,OU=s002"
    key = Path(fleet.files("till-b")[2])
    assert key.stat().st_mode & 0o777 == 0o600
    assert "renewed in store s002" in fleet.enroll("till-b", "s002", "--renew")
    new = x509.load_pem_x509_certificate(Path(fleet.files("till-b")[1]).read_bytes())
    assert new.serial_number != old.serial_number
    assert (fleet.out("till-b") / "collector.pub").read_text().startswith("-----BEGIN PUBLIC")
    fleet.broker_config()
    crl = x509.load_pem_x509_crl((fleet.broker_dir / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(old.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(new.serial_number) is None
    # Valid for 30 days from now: Mosquitto refuses every client past its nextUpdate.
    assert crl.next_update_utc is not None
    left = crl.next_update_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=29) < left <= dt.timedelta(days=30)
    assert "user till-b" in (fleet.broker_dir / "acl").read_text()

    assert ("till-b", "s002", None, False) in fleet.rows()
    assert "next journal key" in ok("fleet", "rekey", "--db", fleet.db, "till-b")
    assert ("till-b", "s002", None, True) in fleet.rows()
    engine = create_engine(fleet.db)
    with Session(engine) as s:
        certs = s.scalars(select(FleetCertificate).where(FleetCertificate.device == "till-b"))
        assert sorted(c.revoked_at is None for c in certs) == [False, True]
    engine.dispose()
