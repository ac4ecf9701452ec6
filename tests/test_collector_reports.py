# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""Reports, fleet status and stock on SQLite and PostgreSQL, through the `collector` CLI,
over records a real appliance Store signed and the collector ingested."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from appliance.store import Store
from collector.cli import main
from collector.ingest.batches import Incoming, Ingestor
from collector.models import StockMove
from protocol.messages import Status, Telemetry, device_topic
from protocol.record import Draft
from tests.conftest import ROOT
from tests.records import enrol
from tests.test_collector_ingest import database_url, draft, engine  # noqa: F401 - fixtures


def line(sku: str, qty: int, price: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "barcode": "4006381333931",
        "name": sku,
        "qty": qty,
        "unit_price": price,
        "discount": 0,
        "total": qty * price,
        "tax_rate": "20",
    }


def sale(
    device: str, store: str, region: str, staff: str, day: str, lines: list[Any], **kw: Any
) -> Draft:
    total = sum(li["total"] for li in lines)
    return draft(
        1,
        device,
        store,
        region=region,
        staff=staff,
        ts=f"{day}T10:00:00.000Z",
        lines=lines,
        total=total,
        tenders=[{"type": "card", "amount": total}],
        change=0,
        **kw,
    )


def loyalty(account: str) -> dict[str, Any]:
    return {"account": account, "earned": 1, "redeemed": 0, "balance": None, "offline": False}


@pytest.fixture
def trading(engine: Engine, tmp_path: Path) -> Engine:
    """Two stores in two regions over two days, with a refund, a no-sale and telemetry."""
    a = Store.open(tmp_path / "a", "till-a")
    b = Store.open(tmp_path / "b", "till-b")
    first = a.append(
        sale(
            "till-a",
            "s001",
            "north",
            "ana",
            "2026-11-23",
            [line("A1", 2, 250), line("B2", 1, 100)],
            loyalty=loyalty("00000001"),
        )
    )
    a.append(sale("till-a", "s001", "north", "bob", "2026-11-23", [line("A1", 1, 250)]))
    a.append(
        sale(
            "till-a",
            "s001",
            "north",
            "ana",
            "2026-11-24",
            [line("B2", -1, 100)],  # a refund, as the till records it: negative
            kind="refund",
            refund_of=first.sale_id,
            loyalty=loyalty("00000001"),
        )
    )
    a.append(sale("till-a", "s001", "north", "ana", "2026-11-24", [], kind="no_sale"))
    b.append(sale("till-b", "s002", "south", "cat", "2026-11-24", [line("A1", 3, 250)]))
    msgs = []
    for st, store in ((a, "s001"), (b, "s002")):
        topic = device_topic(store, st.device_id, "status")
        birth = Status(state="online", version="2.0", pubkey=st.public_key_pem())
        msgs.append(Incoming(topic, st.seal(topic, birth)))
        msgs += [
            Incoming(device_topic(store, st.device_id, "sales"), text.encode())
            for _, text in st.texts()
        ]
    telemetry = Telemetry(
        ts="2026-11-24T12:00:00.000Z",
        version="2.0",
        outbox_depth=3,
        last_seq=4,
        printer="paper_out",
        scanner="ok",
        drawer="closed",
        disk_free=10**9,
        uptime=60.0,
    )
    topic = device_topic("s001", "till-a", "telemetry")
    msgs.append(Incoming(topic, a.seal(topic, telemetry)))
    enrol(engine, ("till-a", "s001"), ("till-b", "s002"))
    result = Ingestor(engine).ingest(msgs)
    assert (result.ingested, result.dead, result.gaps) == (5, 0, 0)
    return engine


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def report(
    capsys: pytest.CaptureFixture[str], url: str, by: str, *extra: str
) -> list[dict[str, Any]]:
    return json.loads(
        run(capsys, "report", "sales", "--db", url, "--by", by, "--format", "json", *extra)
    )


def test_sales_report_by_every_dimension(
    trading: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url
    assert report(capsys, url, "store") == [
        {"group": "s001", "sales": 1, "total": 600 + 250 - 100},  # two sales, one refund
        {"group": "s002", "sales": 1, "total": 750},
    ]
    assert report(capsys, url, "region") == [
        {"group": "north", "sales": 1, "total": 750},
        {"group": "south", "sales": 1, "total": 750},
    ]
    assert report(capsys, url, "assistant") == [
        {"group": "ana", "sales": 0, "total": 500},
        {"group": "bob", "sales": 1, "total": 250},
        {"group": "cat", "sales": 1, "total": 750},
    ]
    assert report(capsys, url, "customer") == [
        {"group": "(none)", "sales": 2, "total": 1000},
        {"group": "00000001", "sales": 0, "total": 500},
    ]
    assert report(capsys, url, "day") == [
        {"group": "2026-11-23", "sales": 2, "total": 850},
        {"group": "2026-11-24", "sales": 0, "total": 650},
    ]
    assert report(capsys, url, "product") == [
        {"group": "A1", "sales": 3, "total": 1500, "qty": 6},
        {"group": "B2", "sales": 0, "total": 0, "qty": 0},
    ]
    assert report(capsys, url, "day", "--from", "2026-11-24", "--to", "2026-11-24") == [
        {"group": "2026-11-24", "sales": 0, "total": 650},
    ]
    csv_text = run(capsys, "report", "sales", "--db", url, "--by", "store", "--format", "csv")
    assert csv_text.splitlines() == ["group,sales,total", "s001,1,750", "s002,1,750"]
    table = run(capsys, "report", "sales", "--db", url, "--by", "product")
    assert "Sales by product" in table and "15.00" in table and "EUR" in table


def test_fleet_status(
    trading: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = json.loads(run(capsys, "fleet", "status", "--db", database_url, "--json"))
    assert [(r["device"], r["store"], r["state"], r["version"], r["last_seq"]) for r in rows] == [
        ("till-a", "s001", "online", "2.0", 4),
        ("till-b", "s002", "online", "2.0", 1),
    ]
    assert (rows[0]["outbox_depth"], rows[0]["printer"]) == (3, "paper_out")
    assert rows[1]["outbox_depth"] is None and rows[0]["last_seen"].endswith("Z")
    table = run(capsys, "fleet", "status", "--db", database_url)
    assert "till-a" in table and "paper_out" in table


def test_stock_moves_and_low_stock(
    trading: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url
    low = json.loads(run(capsys, "report", "low-stock", "--db", url, "--below", "1", "--json"))
    # Sales lowered A1 and B2; the refund put one B2 back.
    assert low == [
        {"store": "s001", "sku": "A1", "stock": -3},
        {"store": "s001", "sku": "B2", "stock": 0},
        {"store": "s002", "sku": "A1", "stock": -3},
    ]
    run(capsys, "stock", "receive", "--db", url, "--store", "s001", "--sku", "A1", "--qty", "10")
    run(capsys, "stock", "count", "--db", url, "--store", "s002", "--sku", "A1", "--qty", "4")
    low = json.loads(run(capsys, "report", "low-stock", "--db", url, "--below", "5", "--json"))
    assert low == [
        {"store": "s001", "sku": "B2", "stock": 0},
        {"store": "s002", "sku": "A1", "stock": 4},
    ]
    with Session(trading) as s:
        moves = s.execute(
            select(StockMove.reason, StockMove.delta).where(StockMove.store == "s002")
        ).all()
    assert sorted(moves) == [("count", 7), ("sale", -3)]


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "sales", "--by", "week"], "--by 'week': choose one of"),
        (["report", "sales", "--by", "day", "--from", "23/11"], "--from '23/11' is not a date"),
        (["report", "sales", "--by", "day", "--format", "xml"], "--format 'xml'"),
        (["stock", "receive", "--store", "s1", "--sku", "A", "--qty", "0"], "positive quantity"),
        (["stock", "count", "--store", "s1", "--sku", "A", "--qty", "x"], "invalid int value"),
        (["stock", "count", "--store", "s1", "--sku", "A", "--qty", "1000000001"], "beyond 1,0"),
        (["run", "--broker", "http://x"], "is not mqtt://"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    cmd = [sys.executable, "-m", "collector", *args, "--db", f"sqlite:///{tmp_path}/c.db"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2
    assert not (tmp_path / "c.db").exists(), "bad input writes nothing"
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("collector: ") and message in r.stderr


def test_unreachable_database_exits_2(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
    assert main(["fleet", "status", "--db", url]) == 2
    assert main(["report", "sales", "--db", "mysql://x/y", "--by", "day"]) == 2
