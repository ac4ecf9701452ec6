"""mqtts:// end to end: a Mosquitto TLS listener that requires a client certificate, a
unit and a collector each with its own certificate from a test CA, and what happens when
a unit does not trust the broker or the collector is given files that will not load."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appliance.config import parse_config
from appliance.sales.catalog import parse_catalog_csv
from appliance.service import open_unit
from appliance.store import Store
from collector.db import open_database
from collector.models import Sale
from collector.service import Collector, Settings
from demo.day import demo_catalog_text
from protocol.broker import BrokerAddress
from tests.broker import Broker, free_port
from tests.conftest import ROOT, config_text
from tests.records import enrol
from tests.test_mqtt_link import sell
from tests.waiting import until


class Pki:
    """A CA and the certificates it signs, as PEM files the mosquitto user can read."""

    def __init__(self, name: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"pos-pki-{name}-"))
        os.chmod(self.dir, 0o755)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
        self.cert = (
            self._builder(subject, self.key.public_key())
            .issuer_name(subject)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.ca = self._write("ca.crt", self.cert.public_bytes(serialization.Encoding.PEM))

    @staticmethod
    def _builder(subject: x509.Name, key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    def _write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        os.chmod(path, 0o644)
        return str(path)

    def issue(self, cn: str, *, server: bool = False) -> tuple[str, str]:
        """(certificate, key) files for `cn`; a server one is for 127.0.0.1."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = self._builder(subject, key.public_key()).issuer_name(self.cert.subject)
        if server:
            names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return (
            self._write(f"{cn}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            self._write(f"{cn}.key", key_pem),
        )


@pytest.fixture
def pki() -> Pki:
    return Pki("fleet")


@pytest.fixture
def tls_broker(pki: Pki) -> Iterator[tuple[Broker, int]]:
    """Mosquitto with a TLS listener that wants a client certificate (its CN the user)."""
    cert, key = pki.issue("broker", server=True)
    port = free_port()
    broker = Broker(
        f"listener {port} 127.0.0.1\n"
        f"cafile {pki.ca}\ncertfile {cert}\nkeyfile {key}\n"
        "require_certificate true\nuse_identity_as_username true\n"
    )
    try:
        yield broker, port
    finally:
        broker.close()


def unit_config(tmp_path: Path, port: int, ca: str, cert: str, key: str) -> Path:
    extra = (
        f'[mqtt]\nurl = "mqtts://127.0.0.1:{port}"\ntelemetry_interval = 0.5\n'
        f'[mqtt.tls]\nca = "{ca}"\ncert = "{cert}"\nkey = "{key}"\n'
    )
    path = tmp_path / "appliance.toml"
    path.write_text(config_text(tmp_path / "data", extra))
    cfg = parse_config(path.read_text())
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        store.catalog.replace(parse_catalog_csv(demo_catalog_text(), cfg.exponent))
    return path


async def test_unit_and_collector_report_over_tls_with_client_certificates(
    tls_broker: tuple[Broker, int], pki: Pki, tmp_path: Path
) -> None:
    _broker, port = tls_broker
    engine = open_database(f"sqlite:///{tmp_path}/collector.db")
    enrol(engine, "till-01")
    cert, key = pki.issue("collector-1")
    settings = Settings(
        BrokerAddress.parse(f"mqtts://127.0.0.1:{port}"),
        tls_ca=pki.ca,
        tls_cert=cert,
        tls_key=key,
    )
    collector = Collector(engine, settings)
    task = asyncio.create_task(collector.run())
    try:
        await asyncio.wait_for(collector.ready.wait(), 15)
        path = unit_config(tmp_path, port, pki.ca, *pki.issue("till-01"))
        async with open_unit(parse_config(path.read_text()), simulate=True) as unit:
            await sell(unit, 3)
            await until(lambda: unit.store.outbox.depth() == 0, timeout=30)
            assert unit.mqtt is not None and unit.mqtt.connected
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Sale)) == 3
    engine.dispose()


async def test_a_unit_that_does_not_trust_the_broker_keeps_its_sales(
    tls_broker: tuple[Broker, int], pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _broker, port = tls_broker
    stranger = Pki("other")  # the unit's CA is not the one that signed the broker
    path = unit_config(tmp_path, port, stranger.ca, *pki.issue("till-01"))
    async with open_unit(parse_config(path.read_text()), simulate=True) as unit:
        await sell(unit, 2)
        await until(
            lambda: any("CERTIFICATE_VERIFY_FAILED" in str(r.__dict__) for r in caplog.records),
            timeout=30,
        )
        assert unit.mqtt is not None and not unit.mqtt.connected
        assert unit.store.outbox.depth() == 2  # kept for when the CA is put right


def test_collector_run_with_tls_files_that_do_not_load_is_bad_input(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "collector",
            "run",
            "--db",
            f"sqlite:///{tmp_path}/c.db",
            "--broker",
            "mqtts://127.0.0.1:8883",
            "--tls-ca",
            str(tmp_path / "nope.pem"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "cannot load the TLS files" in out.stderr
    assert not (tmp_path / "c.db").exists()  # nothing written
