# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""Customers, cards, the web shop API and GDPR on real SQLite and PostgreSQL: the CLI as
a real process, the API through FastAPI's TestClient, erase checked by reading back every
column of every table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from collector.customers.privacy import Vault, erase, export
from collector.ingest.batches import Incoming, Ingestor
from collector.loyalty.ledger import Ledger
from collector.models import Base, Customer, LoyaltyAccount, Sale
from collector.webshop import add_channel, create_app
from protocol.messages import device_topic
from tests.conftest import ROOT
from tests.records import enrol
from tests.test_collector_ingest import FakeDevice, database_url, engine  # noqa: F401

CSV = (
    "account,surname,first_names,email,phone,consent\n"
    "00000001,Zwiebelmeyer,Anna Lena,anna.zw@example.org,+49 30 1234567,email;sms\n"
    "00000002,Okonkwo,Chidi,chidi@example.net,,email\n"
)


def collector_cli(key_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLLECTOR_MASTER_KEY_FILE=str(key_file))
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )


def test_import_is_all_or_nothing_and_a_new_card_blocks_the_old(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "master.key"
    bad = tmp_path / "customers.csv"
    bad.write_text(CSV + "00000003,Ng,Li,li@example.org,,\n" + "0000004,Bad,Row,,,\n")
    r = collector_cli(key, "customers", "import", "--db", database_url, str(bad))
    assert r.returncode == 2 and r.stderr.strip() == (
        'collector: customers.csv:5: account "0000004" is not 8 digits'
    )
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
    good = tmp_path / "good.csv"
    good.write_text(CSV)
    r = collector_cli(key, "customers", "import", "--db", database_url, str(good))
    assert r.returncode == 0, r.stderr
    r = collector_cli(key, "customers", "card", "--db", database_url, "00000001")
    assert r.returncode == 0 and r.stdout.strip() == "2901000000015"
    r = collector_cli(key, "customers", "show", "--db", database_url, "00000001", "--json")
    shown = json.loads(r.stdout)
    assert {k: shown[k] for k in ("account", "surname", "first_names", "points", "tier")} == {
        "account": "00000001",
        "surname": "Zwiebelmeyer",
        "first_names": "Anna Lena",
        "points": 0,
        "tier": None,
    }
    assert [(c["code"], c["blocked"]) for c in shown["cards"]] == [
        ("2900000000018", True),
        ("2901000000015", False),
    ]
    assert [(c["channel"], c["granted"]) for c in shown["consents"]] == [
        ("email", True),
        ("sms", True),
    ]
    assert shown["consents"][0]["source"] == "import:good.csv" and shown["purchases"] == []


def test_web_shop_api_with_idempotency_keys(engine: Engine) -> None:
    api = TestClient(create_app(engine, Ledger(engine)))
    key = add_channel(engine, "webshop")
    auth = {"Authorization": f"Bearer {key}"}
    url = "/v1/accounts/00000001"
    assert api.get(url).status_code == 401
    assert api.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    body = {"amount": 4_599, "currency": "EUR", "order": "W-1"}
    assert api.post(url + "/earn", json=body, headers=auth).status_code == 422  # no key
    first = api.post(url + "/earn", json=body, headers=auth | {"Idempotency-Key": "o-1"})
    retry = api.post(url + "/earn", json=body, headers=auth | {"Idempotency-Key": "o-1"})
    assert first.json() == {"account": "00000001", "points": 45, "balance": 45, "replayed": False}
    assert retry.json() == {"account": "00000001", "points": 45, "balance": 45, "replayed": True}
    other = dict(body, amount=100)
    clash = api.post(url + "/earn", json=other, headers=auth | {"Idempotency-Key": "o-1"})
    assert clash.status_code == 409
    spend = {"points": 40}
    r = api.post(url + "/redeem", json=spend, headers=auth | {"Idempotency-Key": "o-2"})
    assert r.json()["balance"] == 5
    r = api.post(url + "/redeem", json=spend, headers=auth | {"Idempotency-Key": "o-2"})
    assert r.json() == {"account": "00000001", "points": -40, "balance": 5, "replayed": True}
    r = api.post(url + "/redeem", json={"points": 6}, headers=auth | {"Idempotency-Key": "o-3"})
    assert r.status_code == 409 and "5 points available, not 6" in r.json()["detail"]
    assert api.get(url, headers={"X-API-Key": key}).json() == {
        "account": "00000001",
        "balance": 5,
        "available": 5,
    }
    with pytest.raises(Exception, match="exists already"):
        add_channel(engine, "webshop")


def test_a_revoked_channel_key_is_refused(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """A leaked web shop key: `collector channel revoke` refuses it from the next request
    on, the list shows when, and the name stays taken (a new key gets a new name)."""
    api = TestClient(create_app(engine, Ledger(engine)))
    key = add_channel(engine, "webshop")
    url, auth = "/v1/accounts/00000001", {"Authorization": f"Bearer {key}"}
    assert api.get(url, headers=auth).status_code == 200
    master = tmp_path / "master.key"
    r = collector_cli(master, "channel", "revoke", "--db", database_url, "webshop")
    assert r.returncode == 0 and "revoked" in r.stdout, r.stderr
    assert api.get(url, headers=auth).status_code == 401
    again = collector_cli(master, "channel", "revoke", "--db", database_url, "webshop")
    assert again.returncode == 0 and again.stdout == r.stdout  # revoked once, when it was
    listed = collector_cli(master, "channel", "list", "--db", database_url, "--json")
    [shown] = json.loads(listed.stdout)
    assert shown["name"] == "webshop" and shown["revoked_at"] and key not in listed.stdout
    unknown = collector_cli(master, "channel", "revoke", "--db", database_url, "shop-2")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "collector: there is no channel 'shop-2' (`collector channel list`)"
    )
    with pytest.raises(Exception, match="exists already"):
        add_channel(engine, "webshop")
    fresh = add_channel(engine, "webshop-2")
    assert api.get(url, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def _text_everywhere(engine: Engine) -> str:
    """Every value of every column of every table, as text (bytes as Latin-1)."""
    out: list[str] = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        out.append(bytes(value).decode("latin-1"))
                    else:
                        out.append(json.dumps(value, ensure_ascii=False, default=str))
    return "\n".join(out)


def test_gdpr_export_and_erase(engine: Engine, database_url: str, tmp_path: Path) -> None:
    vault = Vault(os.urandom(32))
    from collector.customers.master_data import import_customers, parse_csv

    src = tmp_path / "c.csv"
    src.write_text(CSV)
    import_customers(engine, vault, parse_csv(src), "import:c.csv")
    # A signed loyalty sale through the real ingest path.
    dev = FakeDevice(tmp_path, None, "till-01")  # type: ignore[arg-type]
    enrol(engine, dev.device)
    part = {"account": "00000001", "earned": 12, "redeemed": 0, "balance": None, "offline": False}
    rec = dev.append(1, total=1_250, loyalty=part)[0]
    Ingestor(engine).ingest(
        [
            Incoming(device_topic("s001", "till-01", "status"), dev.birth()),
            Incoming(device_topic("s001", "till-01", "sales"), json.dumps(rec).encode()),
        ]
    )
    data: dict[str, Any] = export(engine, vault, "00000001")
    assert data["personal"] == {
        "surname": "Zwiebelmeyer",
        "first_names": "Anna Lena",
        "email": "anna.zw@example.org",
        "phone": "+49 30 1234567",
    }
    assert [e["key"] for e in data["loyalty"]["entries"]] == [f"sale:{rec['sale_id']}:earn"]
    assert data["loyalty"]["balance"] == 12 and data["sales"] == [rec]
    assert len(data["consents"]) == 2 and data["cards"][0]["code"] == "2900000000018"
    json.dumps(data)  # all of it is JSON
    everything = _text_everywhere(engine)
    # At rest the names were never plain: only sealed bytes.
    assert "Zwiebelmeyer" not in everything and "anna.zw@example.org" not in everything
    with Session(engine) as s:
        total_before = s.scalar(select(func.sum(LoyaltyAccount.balance)))
    tomb = erase(engine, "00000001")
    everything = _text_everywhere(engine)
    assert "00000001" not in everything  # sales, ledger and cards re-filed under the tombstone
    with Session(engine) as s:
        assert vault.read(s, "00000001") is None
        assert vault.read(s, "00000002") is not None  # the others stay readable
        assert s.scalar(select(func.sum(LoyaltyAccount.balance))) == total_before
        sale = s.scalars(select(Sale)).one()
        assert sale.account == tomb and sale.raw["loyalty"]["account"] == tomb
    if database_url.startswith("sqlite"):
        db_file = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
        assert b"Zwiebelmeyer" not in raw and b"anna.zw@example.org" not in raw
