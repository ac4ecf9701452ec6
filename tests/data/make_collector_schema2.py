"""Makes collector-schema2-sqlite.sql and collector-schema2-postgresql.sql beside this file:
a collector database at schema 2 as the collector made it before Alembic (commit 573aa3b),
every table filled through the collector's own flows (signed journals ingested, customers
imported and enrolled, points earned, redeemed, held, expired and refunded, a customer
erased, channels, stock), then dumped as SQL text. tests/test_collector_migrations.py
loads them and checks that today's collector migrates them and keeps every row.

It must run on that commit's code, not today's (the point is the old code's schema):

    git worktree add --detach /tmp/old-573aa3b 573aa3b
    PYTHONPATH=/tmp/old-573aa3b .venv/bin/python tests/data/make_collector_schema2.py
    git worktree remove /tmp/old-573aa3b

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth) and pg_dump on PATH.
The dumps differ from run to run (sale ids, keys and times are new each time).
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
# The test opens the sealed customers with this key; it protects nobody's data.
MASTER_KEY = base64.b64decode("c2NoZW1hLTIgZml4dHVyZSBtYXN0ZXIga2V5ICEhISE=")
HOST, PORT, USER = "127.0.0.1", 5432, "postgres"


def _check_old_code() -> None:
    import collector
    import collector.db
    from collector.models import SCHEMA_VERSION

    package = Path(collector.__file__).parent
    if not hasattr(collector.db, "MIGRATIONS") or (package / "migrations").exists():
        sys.exit(f"{package} is not the collector of commit 573aa3b (see --help)")
    assert SCHEMA_VERSION == 2, SCHEMA_VERSION


def draft(
    device: str, store: str, ts: str, lines: list[dict[str, Any]], **kw: Any
) -> dict[str, Any]:
    total = sum(li["total"] for li in lines)
    return {
        "schema": 1,
        "sale_id": str(uuid.uuid4()),
        "kind": "sale",
        "device": device,
        "store": store,
        "region": "north" if store == "s001" else "south",
        "staff": "ana",
        "ts": ts,
        "currency": "EUR",
        "lines": lines,
        "total": total,
        "tax": [{"rate": "20", "base": total * 5 // 6, "tax": total - total * 5 // 6}],
        "tenders": [{"type": "card", "amount": total}],
        "change": 0,
        "loyalty": None,
        "refund_of": None,
        **kw,
    }


def line(sku: str, name: str, qty: int, price: int, discount: int = 0) -> dict[str, Any]:
    return {
        "sku": sku,
        "barcode": "4006381333931",
        "name": name,
        "qty": qty,
        "unit_price": price,
        "discount": discount,
        "total": qty * price - discount,
        "tax_rate": "20",
    }


def loyalty(account: str, earned: int, redeemed: int = 0, **kw: Any) -> dict[str, Any]:
    return {
        "account": account,
        "earned": earned,
        "redeemed": redeemed,
        "balance": None,
        "offline": False,
        **kw,
    }


CUSTOMERS = (
    "account,surname,first_names,email,phone,consent\n"
    "00000001,Zwiebelmeyer,Anna Lena,anna.zw@example.org,+49 30 1234567,email;sms\n"
    "00000002,Okonkwo,Chidi,chidi@example.net,,email\n"
    "00000003,Ng,Li,li.ng@example.org,+44 20 7946 0958,\n"
    "00000004,Dupont,Émilie,emilie@example.fr,+33 1 23 45 67 89,sms\n"
    "00000005,García Márquez,José,,+34 91 123 45 67,none\n"
    "00000006,Kowalski,Jan,jan.k@example.pl,,email;sms\n"
)


def fill(url: str, tmp: Path) -> None:
    """Every table of schema 2, through the collector's and the appliance's own code."""
    from collector.api import add_channel, revoke_channel
    from collector.privacy import Vault, erase
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from appliance.store import Store
    from collector.customers import enrol, import_customers, issue_card, parse_csv
    from collector.db import open_database
    from collector.ingest import Incoming, Ingestor
    from collector.loyalty import Ledger
    from collector.models import Base, LoyaltyEntry, LoyaltyReservation
    from collector.stock import count, receive

    # 573aa3b's wire module, which later trees moved: by name, so that linting a later
    # tree (where it is missing, so not first-party) does not reorder these imports.
    wire = importlib.import_module("appliance.mqtt.messages")
    DeviceEvent, LoyaltyEnrolment, Status = wire.DeviceEvent, wire.LoyaltyEnrolment, wire.Status
    Telemetry, device_topic, encode = wire.Telemetry, wire.device_topic, wire.encode

    engine = open_database(url)
    vault = Vault(MASTER_KEY)
    ledger = Ledger(engine, vault=vault)
    ingestor = Ingestor(engine)

    csv = tmp / "customers.csv"
    csv.write_text(CUSTOMERS)
    import_customers(engine, vault, parse_csv(csv), "import:customers.csv")
    kiosk = LoyaltyEnrolment(
        first_names="Åsa", surname="Lindqvist", email="asa@example.se", consent={"email": True}
    )
    now = dt.datetime.now(dt.UTC)
    enrol(engine, vault, kiosk, source="kiosk:kiosk-01", key="enrol:kiosk-01:1", at=now)
    issue_card(engine, ledger, "00000002")  # a lost card: issue 0 blocked, issue 1 current

    tills = [("s001", "till-01"), ("s001", "till-02"), ("s002", "till-03")]
    stores = {dev: Store.open(tmp / dev, dev) for _, dev in tills}
    msgs: list[Incoming] = []
    for store, dev in tills:
        st = stores[dev]
        birth = Status(state="online", version="1.4.2", pubkey=st.public_key_pem(), region="x")
        msgs.append(Incoming(device_topic(store, dev, "status"), encode(birth)))
    old_day = "2024-06-01"  # earned more than 24 months ago: expires
    sold = []
    for i, (store, dev) in enumerate(tills * 3):
        day = old_day if i < 2 else f"2026-11-{20 + i:02d}"
        account = f"0000000{1 + i % 6}" if i % 3 != 2 else None
        lines = [line("A1", "Café crème", 1 + i % 2, 250), line("B2", "Brioche", 1, 180, 30)]
        rec = draft(dev, store, f"{day}T09:{10 + i:02d}:00.000Z", lines)
        if account:
            rec["loyalty"] = loyalty(account, rec["total"] // 100)
        sold.append(stores[dev].append(rec, False))
    first = sold[3]
    refund = draft(
        first["device"],
        first["store"],
        "2026-11-29T15:00:00.000Z",
        [line("A1", "Café crème", -1, 250)],
        kind="refund",
        refund_of=first["sale_id"],
        loyalty=loyalty(first["loyalty"]["account"], -2),
    )
    refund["tenders"] = [{"type": "card", "amount": -250}]
    stores[first["device"]].append(refund, False)
    stores["till-01"].append(
        draft("till-01", "s001", "2026-11-29T18:00:00.000Z", [], kind="no_sale"), False
    )
    for store, dev in tills:
        msgs += [
            Incoming(device_topic(store, dev, "sales"), json.dumps(r).encode())
            for r in stores[dev].records()
        ]
    for store, dev in tills:
        tele = Telemetry(
            ts="2026-11-30T12:00:00.000Z",
            version="1.4.2",
            outbox_depth=0,
            last_seq=stores[dev].last_seq(),
            printer="ok" if dev != "till-03" else "paper_out",
            scanner="ok",
            drawer="closed",
            disk_free=12_345_678_901,
            uptime=86_400.5,
        )
        msgs.append(Incoming(device_topic(store, dev, "telemetry"), encode(tele)))
        event = DeviceEvent(kind="drawer_open", ts="2026-11-30T12:01:00.000Z", detail={"s": 3})
        msgs.append(Incoming(device_topic(store, dev, "events"), encode(event)))
    # Refused messages, kept as dead letters: garbage, an unknown topic, a record of
    # till-01 sent on till-03's topic.
    msgs += [
        Incoming(device_topic("s001", "till-01", "sales"), b"\x00not json"),
        Incoming(device_topic("s001", "till-01", "weather"), b"{}"),
        Incoming(device_topic("s002", "till-03", "sales"), json.dumps(sold[0]).encode()),
    ]
    result = ingestor.ingest(msgs)
    assert result.ingested == 11 and result.dead == 3, result
    # A redeem at the till against a hold the collector gave it.
    hold = ledger.reserve("00000001", 3, "till-02", key="hold:till-02:1")
    redeem = draft("till-02", "s001", "2026-11-30T10:00:00.000Z", [line("C3", "Tarte", 1, 420)])
    redeem["tenders"] = [{"type": "card", "amount": 417}, {"type": "points", "amount": 3}]
    redeem["loyalty"] = loyalty("00000001", 4, 3, reservation=hold.id)
    sold.append(stores["till-02"].append(redeem, False))
    # ... and its refund: the points paid with are given back, the earned ones reversed.
    back = draft(
        "till-02",
        "s001",
        "2026-11-30T16:00:00.000Z",
        [line("C3", "Tarte", -1, 420)],
        kind="refund",
        refund_of=redeem["sale_id"],
        loyalty=loyalty("00000001", -4, -3),
    )
    back["tenders"] = [{"type": "card", "amount": -417}, {"type": "points", "amount": -3}]
    sold.append(stores["till-02"].append(back, False))
    topic = device_topic("s001", "till-02", "sales")
    result = ingestor.ingest([Incoming(topic, json.dumps(r).encode()) for r in sold[-2:]])
    assert result.ingested == 2 and result.dead == 0, result

    ledger.earn_money("00000003", 4_599, "EUR", "web:shop:o-1", source="web:shop")
    ledger.redeem("00000003", 20, "web:shop:o-2", source="web:shop")
    ledger.earn("00000006", 50, "goodwill:2026-12-01", source="staff:ana")
    released = ledger.reserve("00000006", 10, "till-01", key="hold:till-01:2")
    ledger.release(released.id)
    kept = ledger.reserve("00000006", 15, "till-01", key="hold:till-01:3", sale_id="s-offline")
    ledger.keep(kept.id, "s-offline")
    ledger.reserve("00000003", 7, "till-03", key="hold:till-03:4")  # still held
    ledger.expire_all()  # the nightly sweep (the lots of 2024 expired as they were read)

    erase(engine, "00000005")  # GDPR: tombstoned ledger, sales re-filed, no key left
    add_channel(engine, "webshop")
    add_channel(engine, "app")
    revoke_channel(engine, "app")
    receive(engine, "s001", "A1", 48)
    receive(engine, "s002", "C3", 12)
    count(engine, "s001", "B2", 30)
    with Session(engine) as s:
        kinds = set(s.scalars(select(LoyaltyEntry.kind)))
        states = set(s.scalars(select(LoyaltyReservation.state)))
        empty = [t.name for t in Base.metadata.sorted_tables if not s.scalar(t.select().limit(1))]
    assert kinds == {"earn", "redeem", "reverse", "giveback", "expire", "enrol"}, kinds
    assert states == {"held", "released", "committed"}, states
    assert not empty, empty
    engine.dispose()


def dump_sqlite(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump()) + "\n"
    finally:
        conn.close()


def dump_postgresql(name: str) -> str:
    cmd = ["pg_dump", "--no-owner", "--no-privileges", "--column-inserts"]
    cmd += ["-h", HOST, "-p", str(PORT), "-U", USER, name]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main() -> None:
    if "--help" in sys.argv[1:]:
        print(__doc__)
        return
    _check_old_code()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db = tmp / "collector.db"
        fill(f"sqlite:///{db}", tmp)
        (HERE / "collector-schema2-sqlite.sql").write_text(dump_sqlite(db))
    name = f"collector_schema2_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(host=HOST, port=PORT, user=USER, dbname="postgres", autocommit=True)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            with tempfile.TemporaryDirectory() as tmp_dir:
                pg = f"postgresql+psycopg://{USER}@{HOST}:{PORT}/{name}"
                fill(pg, Path(tmp_dir))
            (HERE / "collector-schema2-postgresql.sql").write_text(dump_postgresql(name))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
