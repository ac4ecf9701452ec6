"""`appliance demo` end to end, as `make demo` runs it: the till enrolled with
`collector fleet enroll`, Mosquitto run from what `collector fleet broker-config` wrote
(TLS, client certificates, the ACL), `collector run` on SQLite with the collector's
certificate, one simulated unit on mqtts://; the collector's report must agree with the
till's Z report. Without Mosquitto (forced here) it falls back to amqtt on plain MQTT
and says that the broker does not protect anything then."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from collector.models import Sale
from demo.broker import FleetMosquitto
from demo.day import _broker
from demo.fleet import Fleet
from tests.broker import mosquitto_binary
from tests.conftest import ROOT


def run_demo(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "APPLIANCE_DEMO_BROKER"}
    r = subprocess.run(
        [sys.executable, "-m", "appliance", "demo", "--headless", "--out", str(out)],
        cwd=ROOT,
        env=dict(environ, COLUMNS="120", **env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def journal(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "journal.jsonl").read_text().splitlines()]


def check_the_day(out: Path, stdout: str) -> None:
    """What either broker gives: a full day, reported, the collector agreeing with the till."""
    assert "all acked" in stdout
    report = (out / "collector-report.txt").read_text()
    rows = [line for line in report.splitlines()[2:] if line.strip()][:2]
    assert rows and all(line.endswith("yes") for line in rows), report
    records = journal(out)
    assert {r["kind"] for r in records} == {"sale", "refund", "no_sale", "shift_close"}
    assert any(r["loyalty"] for r in records if r["kind"] == "sale")
    assert len(list((out / "receipts").glob("*.png"))) == len(records)
    assert "Z REPORT" in (out / "z-report.txt").read_text()
    # Every record reached the collector's database once, as the till signed it.
    engine = create_engine(f"sqlite:///{out}/collector.db")
    try:
        with Session(engine) as s:
            held = s.execute(select(Sale.seq, Sale.hash).order_by(Sale.seq)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in held] == [(r["seq"], r["hash"]) for r in records]


@pytest.fixture
def reachable() -> Iterator[Path]:
    # Not pytest's tmp_path (0700 under root's): the demo keeps the broker's directory under
    # --out only when Mosquitto, dropped to its own user, can reach it.
    root = Path(tempfile.mkdtemp(prefix="pos-demo-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_day_goes_through_mosquitto_from_broker_config_on_tls(reachable: Path) -> None:
    mosquitto_binary()  # fails, never skips, without it: make installs it
    out = reachable / "demo"
    r = run_demo(out)
    check_the_day(out, r.stdout)
    # The broker ran from broker-config's file: TLS wanting a fleet certificate, the ACL.
    broker = out / "broker"
    conf = (broker / "mosquitto.conf").read_text()
    assert "Written by `collector fleet broker-config`" in conf
    assert "require_certificate true\nuse_identity_as_username true\n" in conf
    assert f"acl_file {broker}/acl\n" in conf and f"crlfile {broker}/crl.pem\n" in conf
    found = re.search(r"^listener (\d+)$", conf, re.M)
    assert found is not None and found.group(1) != "1883"
    port = found.group(1)
    assert "user till-01\ntopic write pos/v1/s001/till-01/status\n" in (broker / "acl").read_text()
    # The unit went there on mqtts:// with what `collector fleet enroll` issued it.
    unit = tomllib.loads((out / "appliance.toml").read_text())["mqtt"]
    files = out / "till-01"
    assert unit["url"] == f"mqtts://127.0.0.1:{port}"
    assert unit["collector_key"] == str(files / "collector.pub")
    assert unit["tls"] == {
        "ca": str(files / "ca.crt"),
        "cert": str(files / "till-01.crt"),
        "key": str(files / "till-01.key"),
    }
    # Mosquitto took the till and the collector by their certificates' CN, on that port.
    log = (out / "mosquitto.log").read_text()
    assert re.search(r"as till-01 \(p\d.*u'till-01'\)", log), log
    assert re.search(r"as demo-collector \(p\d.*u'collector'\)", log), log
    assert f"on port {port}." in log
    assert f"--tls-cert {broker}/collector.crt" in r.stdout
    assert "through the TLS broker, each exactly once" in r.stdout
    # The outsiders were turned away by the broker, not lost on the way: a plain CONNECT
    # at the TLS handshake, a TLS client for the certificate it did not show.
    said = "outsider without a certificate: refused by the broker (plain MQTT: "
    assert said in r.stdout and "LET IN" not in r.stdout
    assert "wrong version number" in log and "peer did not return a certificate" in log


def test_without_mosquitto_amqtt_runs_it_and_says_the_broker_protects_nothing(
    tmp_path: Path,
) -> None:
    out = tmp_path / "demo"
    r = run_demo(out, APPLIANCE_DEMO_BROKER="amqtt")
    check_the_day(out, r.stdout)
    assert "via amqtt" in r.stdout
    assert "plain MQTT, without the broker's protection" in r.stdout
    assert "signatures and enrolment alone hold" in r.stdout
    assert "through the plain broker, each exactly once" in r.stdout
    assert "outsider" not in r.stdout
    unit = tomllib.loads((out / "appliance.toml").read_text())["mqtt"]
    assert unit["url"].startswith("mqtt://127.0.0.1:")
    # No TLS: only the enrolment's certificate and key, which prove the till's birth.
    assert sorted(unit["tls"]) == ["cert", "key"]
    assert not (out / "broker").exists()


async def test_a_broker_directory_mosquitto_cannot_reach_moves_to_a_temporary_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mosquitto_binary()
    out = tmp_path / "demo"  # pytest's, 0700: as root, the mosquitto user cannot enter it
    out.mkdir()
    fleet = Fleet(out)
    fleet.enroll("till-01", "s001")
    async with _broker(fleet, out) as broker:
        assert isinstance(broker, FleetMosquitto)
        directory = broker.conf.parent
        assert (directory / "ca.crt").exists()
    said = capsys.readouterr().out
    if os.geteuid() == 0:
        assert directory.parent == Path(tempfile.gettempdir())
        assert f"the broker's directory is {directory}, removed afterwards" in said
        assert "Mosquitto runs as mosquitto and cannot enter" in said
        assert not directory.exists()
    else:  # Mosquitto runs as us, who can reach our own directories
        assert directory == out / "broker"
