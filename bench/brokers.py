"""The broker a bench part runs through, plain or TLS, so one run can compare the two
(`--broker plain,tls`).

- plain: the Mosquitto the benches always used (tests/broker.py: anonymous, no ACL,
  `set_tcp_nodelay true`); devices are enrolled as rows only (tests.records.enrol).
- tls: what production runs (docs/security.md, "The broker"): the devices enrolled in the
  given collector database with their certificates (collector.enrolment.enrol, in this
  process: 100 `collector fleet enroll` processes would take minutes), the directory
  `collector fleet broker-config` writes (collector.broker_config), and Mosquitto run from
  its `mosquitto.conf`. Every client presents a certificate from the fleet CA
  over mqtts://: a device its own, the collector (and the bare subscriber that stands in
  for it) `collector.crt`, and the bench's baseline clients one of their own.

One addition to what broker-config writes, and nothing else: the ACL gets a block for the
bench's baseline clients (`BASELINE`), which speak on `echo/…` so the collector never
sees them. (The bench once added a `max_queued_messages` too: broker-config kept
Mosquitto's default of 1000, which dropped the rest of 20,000 queued records; it now
writes a bound of its own.)
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
from sqlalchemy import Engine

from collector.broker_config import broker_config
from collector.enrolment import enrol as enrol_with_certificate
from collector.enrolment import write_file
from collector.keys import ENV, KeyStore
from collector.pki import COLLECTOR_CN, FleetCA
from collector.service import Settings
from protocol.broker import BrokerAddress, tls_context
from tests.broker import Broker, free_port
from tests.records import enrol

KINDS = ("plain", "tls")
LABELS = {"plain": "plain", "tls": "TLS"}  # as the reports name them
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]  # as the unit and the collector
# Mosquitto leaves Nagle on for its own sockets unless told: ~40 ms per round trip
# (docs/benchmarks.md). tests/broker.py's config has it; broker-config writes it too.
NODELAY_CONF = "set_tcp_nodelay true"
# The ingest's publisher outruns any subscriber of it, and has no outbox to resend from:
# with Mosquitto's default of 1000 queued (beyond those in flight) the broker drops the
# rest and the run never ends (measured: 20,000 records, the bare subscriber on TLS).
BASELINE = "bench-baseline"  # the CN of the loyalty bench's echo clients
BASELINE_ACL = f"""
# Added by bench/brokers.py: the bench's bare baseline clients, on topics of their own.
user {BASELINE}
topic readwrite echo/#
"""


def broker_kinds(text: str) -> list[str]:
    """`--broker plain,tls`: the kinds, in the order given, each once."""
    kinds = list(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    wrong = [k for k in kinds if k not in KINDS]
    if wrong or not kinds:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give one or more of {', '.join(KINDS)}, comma-separated"
        )
    return kinds


def keystore() -> KeyStore:
    """The collector identity of the run: every collector here, in this process or as a
    process (the variable is inherited), signs with it, and the fleet CA lives in it."""
    keys = KeyStore(Path(os.environ.setdefault(ENV, tempfile.mkdtemp(prefix="bench-keys-"))))
    keys.signing_key()
    return keys


@dataclass(frozen=True)
class TlsFiles:
    """What one client connects with: the fleet CA, its certificate and key (paths, so a
    child process can be given them)."""

    ca: str
    cert: str
    key: str

    def context(self) -> ssl.SSLContext:
        return tls_context(self.ca, self.cert, self.key)


class BenchBroker:
    """One Mosquitto of either kind; `files(who)` is None on plain."""

    def __init__(self, kind: str, broker: Broker, files: dict[str, TlsFiles]) -> None:
        self.kind = kind
        self.broker = broker
        self._files = files

    @property
    def tls(self) -> bool:
        return self.kind == "tls"

    @property
    def port(self) -> int:
        return self.broker.port

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def files(self, who: str) -> TlsFiles | None:
        """The files of `who` (a device id, COLLECTOR_CN or BASELINE) on TLS."""
        if not self.tls:
            return None
        return self._files[who]

    def client(self, who: str, identifier: str, **options: Any) -> aiomqtt.Client:
        """An aiomqtt client as `who`, with TCP_NODELAY as the unit's and the collector's."""
        found = self.files(who)
        return aiomqtt.Client(
            "127.0.0.1",
            self.port,
            identifier=identifier,
            socket_options=NODELAY,
            tls_context=found.context() if found else None,
            **options,
        )

    def collector_flags(self) -> list[str]:
        """`collector run`'s `--broker` and, on TLS, its certificate flags."""
        flags = ["--broker", self.url]
        found = self.files(COLLECTOR_CN)
        if found is not None:
            flags += ["--tls-ca", found.ca, "--tls-cert", found.cert, "--tls-key", found.key]
        return flags

    def collector_settings(self, client_id: str) -> Settings:
        """What an in-process collector runs with here: `client_id`, and on TLS its
        certificate."""
        settings = Settings(BrokerAddress.parse(self.url), client_id=client_id)
        found = self.files(COLLECTOR_CN)
        if found is not None:
            settings.tls_ca, settings.tls_cert, settings.tls_key = found.ca, found.cert, found.key
        return settings

    def unit_mqtt(self, device: str) -> str:
        """A unit's `[mqtt]` url and, on TLS, its `[mqtt.tls]` (without collector_key)."""
        text = f'[mqtt]\nurl = "{self.url}"\n'
        found = self.files(device)
        if found is not None:
            text += f'[mqtt.tls]\nca = "{found.ca}"\ncert = "{found.cert}"\nkey = "{found.key}"\n'
        return text

    def log(self) -> str:
        return self.broker.log()

    def close(self) -> None:
        self.broker.close()


def open_broker(
    kind: str, work: Path, engine: Engine, devices: Sequence[tuple[str, str]]
) -> BenchBroker:
    """A broker of `kind` with `devices` ((device, store) pairs) enrolled in `engine`'s
    fresh collector database (see the module docstring). `work` must be reachable by the
    `mosquitto` user when run as root (broker-config refuses otherwise)."""
    if kind == "plain":
        enrol(engine, *devices)
        return BenchBroker(kind, Broker(), {})
    keys = keystore()
    files: dict[str, TlsFiles] = {}
    for device, store in devices:
        out = work / "units" / device
        enrol_with_certificate(engine, keys, device, store, out)
        files[device] = TlsFiles(
            str(out / "ca.crt"), str(out / f"{device}.crt"), str(out / f"{device}.key")
        )
    port = free_port()
    broker_dir = work / "broker"
    written = broker_config(engine, keys, broker_dir, port)
    conf = written.conf.read_text()
    if NODELAY_CONF not in conf.splitlines():  # what the plain bench's figures depend on
        raise RuntimeError(f"{written.conf} lacks {NODELAY_CONF!r}: the figures would not compare")
    with open(broker_dir / "acl", "a") as acl:  # appended: its owner and mode stay
        acl.write(BASELINE_ACL)
    if "max_queued_messages 1000000" not in written.conf.read_text():
        raise SystemExit("broker-config no longer bounds the queue far above 1000: see its conf")
    files[COLLECTOR_CN] = TlsFiles(
        str(broker_dir / "ca.crt"),
        str(broker_dir / "collector.crt"),
        str(broker_dir / "collector.key"),
    )
    files[BASELINE] = _baseline_files(keys, work / "baseline")
    return BenchBroker(kind, Broker(conf=written.conf, port=port), files)


def _baseline_files(keys: KeyStore, out: Path) -> TlsFiles:
    """A client certificate for BASELINE from the fleet CA, not enrolled: the collector
    never hears from it, the ACL lets it speak on `echo/…` only."""
    ca = FleetCA.open(keys)
    issued = ca.device(BASELINE, "bench")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_file(out / "ca.crt", ca.cert_pem, 0o644)
    write_file(out / f"{BASELINE}.crt", issued.cert_pem, 0o644)
    write_file(out / f"{BASELINE}.key", issued.key_pem, 0o600)
    return TlsFiles(str(out / "ca.crt"), str(out / f"{BASELINE}.crt"), str(out / f"{BASELINE}.key"))
