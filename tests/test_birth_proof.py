# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""A journal key is taken for an enrolled device only with the proof of its enrolment
certificate (protocol.birth): anyone may publish a birth on a plain broker, and the first
key taken was kept, so an outsider who announced one for an enrolled id before its unit
first connected locked the unit out and sold as it. On SQLite and PostgreSQL, devices
enrolled as `collector fleet enroll` enrols them (their certificates from a fleet CA in
a keys directory), signed journals of real appliance Stores, through the Ingestor; the
unit's side with a real `open_unit`."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from appliance.config import parse_config
from appliance.service import open_unit
from appliance.store import Store
from collector.enrolment import enrol as enrol_with_certificate
from collector.enrolment import rekey
from collector.ingest.batches import Incoming, Ingestor
from collector.keys import KeyStore
from collector.models import DeadLetter, Device, Enrolment
from protocol import birth
from protocol.birth import Voucher
from protocol.envelope import peek
from protocol.messages import Status, device_topic
from protocol.record import plain
from tests.conftest import config_text
from tests.records import enrol
from tests.test_collector_ingest import database_url, draft, engine  # noqa: F401
from tests.test_mqtt_tls import Pki


class Unit:
    """A unit's journal (its own key) and its enrolment's certificate, if it has one."""

    def __init__(self, path: Path, device: str, voucher: Voucher | None = None) -> None:
        self.store = Store.open(path, device)
        self.device, self.voucher = device, voucher

    @property
    def pubkey(self) -> str:
        return self.store.public_key_pem()

    def birth(self, voucher: Voucher | None = None, proof: str | None = None) -> Incoming:
        """Its birth, proved by `voucher` (its own by default); `proof` replaces the proof."""
        status = Status(state="online", version="1.0", pubkey=self.pubkey, region="north")
        v = voucher or self.voucher
        if v is not None:
            status.cert = v.cert_pem
            status.proof = proof or v.prove("s001", self.device, self.pubkey)
        topic = device_topic("s001", self.device, "status")
        return Incoming(topic, self.store.seal(topic, status))

    def sell(self, count: int) -> list[Incoming]:
        start = self.store.last_seq()
        topic = device_topic("s001", self.device, "sales")
        return [
            Incoming(
                topic,
                json.dumps(plain(self.store.append(draft(start + i, self.device), False))).encode(),
            )
            for i in range(1, count + 1)
        ]


def enrolled(engine: Engine, keys: KeyStore, tmp: Path, device: str) -> Voucher:
    """`device` enrolled with a certificate, as `collector fleet enroll` does: its voucher."""
    out = tmp / f"{device}.enrol"
    enrol_with_certificate(engine, keys, device, "s001", out, renew=(out.exists()))
    return Voucher.load(out / f"{device}.crt", out / f"{device}.key")


def dead(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(select(DeadLetter.reason).order_by(DeadLetter.id)))


def key_of(engine: Engine, device: str) -> str | None:
    with Session(engine) as s:
        dev = s.get(Device, device)
        return None if dev is None else dev.public_key


def test_a_first_key_is_taken_only_with_its_enrolment_certificates_proof(
    engine: Engine, tmp_path: Path
) -> None:
    keys = KeyStore(tmp_path / "keys")
    mine = enrolled(engine, keys, tmp_path, "till-51")
    theirs = enrolled(engine, keys, tmp_path, "till-52")
    unit = Unit(tmp_path / "unit", "till-51", mine)
    impostor = Unit(tmp_path / "impostor", "till-51")
    rogue = Voucher.load(*Pki("rogue").issue("till-51"))
    ingestor = Ingestor(engine, keys=keys.path)
    claims = [
        impostor.birth(),  # no proof at all
        impostor.birth(theirs),  # another enrolled device's certificate, stolen
        impostor.birth(rogue),  # a certificate of a CA of its own, for this id
        # The unit's own proof, read off the broker, on the impostor's key.
        impostor.birth(mine, proof=mine.prove("s001", "till-51", unit.pubkey)),
        *impostor.sell(2),
    ]
    result = ingestor.ingest(claims)
    assert (result.ingested, result.dead, result.publish) == (0, 4, [])
    prefix = "the journal key announced for till-51 is not taken: "
    assert dead(engine) == [
        prefix + "it comes without the proof of the device's enrolment certificate",
        prefix + f"its certificate {serial(theirs)} is not the device's current one "
        f"({serial_of(engine, 'till-51')}): replaced by `fleet enroll --renew`, or another "
        "device's",
        prefix + "its certificate was not issued by the fleet CA",
        prefix + "its proof does not verify with the enrolment certificate",
    ]
    assert key_of(engine, "till-51") is None
    with Session(engine) as s:
        assert s.get(Device, "till-51") is None  # no row: `fleet status` shows nothing
    # The unit itself: its key is taken, its sales acked.
    result = ingestor.ingest([unit.birth(), *unit.sell(2)])
    assert (result.ingested, result.dead) == (2, 0)
    assert key_of(engine, "till-51") == unit.pubkey
    # Its certificate renewed (`fleet enroll --renew`): the old one proves nothing now.
    renewed = enrolled(engine, keys, tmp_path, "till-51")
    assert refusal(keys, mine, unit, serial_of(engine, "till-51")) == (
        f"its certificate {serial(mine)} is not the device's current one "
        f"({serial(renewed)}): replaced by `fleet enroll --renew`, or another device's"
    )
    assert refusal(keys, renewed, unit, serial(renewed)) is None


def serial(voucher: Voucher) -> str:
    return f"{x509.load_pem_x509_certificate(voucher.cert_pem.encode()).serial_number:x}"


def refusal(keys: KeyStore, voucher: Voucher, unit: Unit, current: str) -> str | None:
    """protocol.birth's verdict on `voucher` proving `unit`'s key, `current` the serial."""
    return birth.refusal(
        x509.load_pem_x509_certificate(keys.secret("fleet-ca.crt").read_bytes()),
        cert_pem=voucher.cert_pem,
        proof=voucher.prove("s001", unit.device, unit.pubkey),
        store="s001",
        device=unit.device,
        pubkey=unit.pubkey,
        serial=current,
        now=dt.datetime.now(dt.UTC),
    )


def serial_of(engine: Engine, device: str) -> str:
    with Session(engine) as s:
        found = s.get(Enrolment, device)
        assert found is not None
        return found.serial


def test_a_rekeyed_key_needs_the_proof_too(engine: Engine, tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    voucher = enrolled(engine, keys, tmp_path, "till-53")
    old = Unit(tmp_path / "old", "till-53", voucher)
    ingestor = Ingestor(engine, keys=keys.path)
    assert ingestor.ingest([old.birth(), *old.sell(1)]).ingested == 1
    rekey(engine, "till-53")
    # An impostor's key, as the replacement's would be: refused, the permission kept.
    impostor = Unit(tmp_path / "impostor", "till-53")
    assert ingestor.ingest([impostor.birth()]).dead == 1
    assert dead(engine)[-1].endswith("without the proof of the device's enrolment certificate")
    with Session(engine) as s:
        found = s.get(Enrolment, "till-53")
        assert found is not None and found.rekey_allowed
    # The replacement unit, installed with the enrolment's files: its key is taken.
    new = Unit(tmp_path / "new", "till-53", voucher)
    assert ingestor.ingest([new.birth(), *new.sell(1)]).ingested == 1
    assert key_of(engine, "till-53") == new.pubkey


def test_an_enrolment_made_as_a_row_takes_a_first_key_unproved(
    engine: Engine, tmp_path: Path
) -> None:
    """Nothing was issued that could prove a key (the tests' and plain benches' rows)."""
    enrol(engine, "till-54")
    unit = Unit(tmp_path / "unit", "till-54")
    assert Ingestor(engine).ingest([unit.birth(), *unit.sell(1)]).ingested == 1


async def test_the_unit_proves_its_birth_with_its_enrolment_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = KeyStore(tmp_path / "keys")
    from collector.db import open_database

    db = open_database(f"sqlite:///{tmp_path}/c.db")
    voucher = enrolled(db, keys, tmp_path, "till-01")
    db.dispose()
    files = tmp_path / "till-01.enrol"
    for cert, key, proved in (
        (files / "till-01.crt", files / "till-01.key", True),
        (files / "till-01.crt", files / "missing.key", False),
    ):
        extra = f'[mqtt]\nurl = "mqtt://127.0.0.1:9"\n[mqtt.tls]\ncert = "{cert}"\nkey = "{key}"\n'
        cfg = parse_config(config_text(tmp_path / "data", extra))
        caplog.clear()
        with caplog.at_level(logging.ERROR, "appliance.mqtt"):
            async with open_unit(cfg, simulate=True) as unit:
                assert unit.mqtt is not None
                status = peek(unit.mqtt._status("online", 0))
                pubkey = unit.store.public_key_pem()
        if proved:
            assert status["cert"] == voucher.cert_pem and status["pubkey"] == pubkey
            ca = x509.load_pem_x509_certificate(keys.secret("fleet-ca.crt").read_bytes())
            why = birth.refusal(
                ca, cert_pem=status["cert"], proof=status["proof"], store="s001",
                device="till-01", pubkey=pubkey, serial=serial(voucher),
                now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
            assert why is None
        else:
            assert "cert" not in status and "proof" not in status
            [line] = [r for r in caplog.records if r.msg == "the birth goes without its proof"]
            assert "missing.key: not a readable private key" in line.__dict__["error"]
