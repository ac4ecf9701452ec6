# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""One ingest batch against a real SQLite and PostgreSQL: how a device's run of records is
vouched for (links and hashes each, the newest signature for the run), what happens when
that signature or a record in the run is bad, and the PostgreSQL COPY path when the
server refuses a value or the connection is lost mid-batch."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from appliance.store import Store
from collector.ingest import bulk
from collector.ingest.batches import BatchResult, Incoming, Ingestor
from collector.loyalty.ledger import Ledger
from collector.loyalty.requests import Answers
from collector.models import DeadLetter, Device, LoyaltyAccount, Sale, SaleLine
from protocol.cards import CardError, make_loyalty_card
from protocol.chain import record_hash, sign_hash
from protocol.messages import LoyaltyRequest, Status, Telemetry, device_topic
from protocol.record import plain
from tests.pg import fresh_database
from tests.records import enrol
from tests.test_collector_ingest import database_url, draft, emptied, engine  # noqa: F401

DEVICE, STORE = "till-09", "s001"
WRONG_SIG = "ab" * 64  # well-formed, not this device's signature of anything


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    with fresh_database("collector_copy") as url:
        eng = emptied(url)
        yield eng
        eng.dispose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / DEVICE, DEVICE) as s:
        yield s


def registered(engine: Engine, store: Store) -> Ingestor:
    """An ingestor that has seen the enrolled unit's birth message (so its key is known)."""
    enrol(engine, DEVICE, store=STORE)
    ingestor = Ingestor(engine)
    topic = device_topic(STORE, DEVICE, "status")
    birth = store.seal(topic, Status(state="online", version="1", pubkey=store.public_key_pem()))
    ingestor.ingest([Incoming(topic, birth)])
    return ingestor


def records(store: Store, count: int, **extra: Any) -> list[dict[str, Any]]:
    start = store.last_seq()
    return [
        plain(store.append(draft(start + i, DEVICE, STORE, **extra), False))
        for i in range(1, count + 1)
    ]


def batch(recs: list[dict[str, Any]]) -> list[Incoming]:
    topic = device_topic(STORE, DEVICE, "sales")
    return [Incoming(topic, json.dumps(r).encode()) for r in recs]


def stored(engine: Engine) -> list[int]:
    with Session(engine) as s:
        return list(s.scalars(select(Sale.seq).where(Sale.device == DEVICE).order_by(Sale.seq)))


def dead(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(select(DeadLetter.reason).order_by(DeadLetter.id)))


def acks(result: BatchResult) -> list[int]:
    return [json.loads(o.payload)["upto"] for o in result.publish if o.topic.endswith("/ack")]


def resends(result: BatchResult) -> list[int]:
    return [
        json.loads(o.payload)["args"]["from_seq"]
        for o in result.publish
        if o.topic.endswith("/cmd/resend")
    ]


def test_a_good_run_is_taken_whole(engine: Engine, store: Store) -> None:
    ingestor = registered(engine, store)
    recs = records(store, 5)
    # Text that COPY's format must escape (tab, newline, backslash) and non-ASCII.
    odd = 'Tab\there \\N, new\nline "quoted" \u00e9\U0001f600'
    line = dict(recs[0]["lines"][0], name=odd)
    recs += records(store, 1, lines=[line])
    result = ingestor.ingest(batch(recs))
    assert (result.ingested, result.dead, acks(result)) == (6, 0, [6])
    assert stored(engine) == [1, 2, 3, 4, 5, 6]
    with Session(engine) as s:
        dev = s.get(Device, DEVICE)
        assert dev is not None and (dev.last_seq, dev.last_hash) == (6, recs[-1]["hash"])
        sale = s.scalars(select(Sale).where(Sale.seq == 6)).one()
        assert sale.raw == recs[-1] and [li.name for li in sale.lines] == [odd]


def test_the_newest_signature_vouches_for_the_run_before_it(engine: Engine, store: Store) -> None:
    """The trade, on purpose: seq 3's own `sig` is not this device's, but its hash is in
    seq 4's `prev_hash`, which seq 5's signed hash covers. Every byte of content is
    the device's, so the run is taken (and seq 3 stored as it was sent)."""
    ingestor = registered(engine, store)
    recs = records(store, 5)
    recs[2] = dict(recs[2], sig=WRONG_SIG)
    result = ingestor.ingest(batch(recs))
    assert (result.ingested, result.dead) == (5, 0)
    assert stored(engine) == [1, 2, 3, 4, 5]
    with Session(engine) as s:
        raw = s.scalars(select(Sale.raw).where(Sale.seq == 3)).one()
        assert raw["sig"] == WRONG_SIG
    # Alone (the steady state: one sale a batch), a record answers for its own signature.
    more = records(store, 1)
    result = ingestor.ingest(batch([dict(more[0], sig=WRONG_SIG)]))
    assert result.ingested == 0
    assert dead(engine) == ["seq 6: signature does not verify with this device's public key"]


def test_a_bad_newest_signature_takes_the_run_up_to_the_first_bad_one(
    engine: Engine, store: Store
) -> None:
    ingestor = registered(engine, store)
    recs = records(store, 9)
    result = ingestor.ingest(batch([*recs[:4], dict(recs[4], sig=WRONG_SIG)]))
    assert (result.ingested, result.dead, acks(result)) == (4, 1, [4])
    assert stored(engine) == [1, 2, 3, 4]
    assert dead(engine) == ["seq 5: signature does not verify with this device's public key"]
    # Two bad ones: what is before the first goes in, the rest is asked for again.
    bad = [recs[4], dict(recs[5], sig=WRONG_SIG), recs[6], recs[7], dict(recs[8], sig=WRONG_SIG)]
    result = ingestor.ingest(batch(bad))
    assert (result.ingested, acks(result), resends(result)) == (1, [5], [6])
    assert stored(engine) == [1, 2, 3, 4, 5]
    assert dead(engine)[-1] == "seq 6: signature does not verify with this device's public key"
    # The device resends its real records from 6: all in.
    result = ingestor.ingest(batch(recs[5:]))
    assert (result.ingested, acks(result)) == (4, [9])
    assert stored(engine) == list(range(1, 10))


def test_an_altered_record_in_a_run_stops_it_there(engine: Engine, store: Store) -> None:
    ingestor = registered(engine, store)
    recs = records(store, 5)
    altered = dict(recs[2], total=1)  # content changed, hash and signature kept
    result = ingestor.ingest(batch([*recs[:2], altered, *recs[3:]]))
    assert (result.ingested, acks(result), resends(result)) == (2, [2], [3])
    assert dead(engine) == [
        "seq 3: hash does not match the record's content: the record was altered"
    ]
    assert stored(engine) == [1, 2]


def test_a_record_reusing_an_ingested_sale_id_moves_the_chain_nowhere(
    engine: Engine, store: Store
) -> None:
    """A signed record that links but reuses an ingested sale_id is dead-lettered and the
    device's chain stays where it was. Found by the fuzz harness: the chain check had
    already taken it as the new head, so the device's own record at that seq was then
    acked as a duplicate and never stored (the unit drops what is acked)."""
    ingestor = registered(engine, store)
    recs = records(store, 3)
    ingestor.ingest(batch(recs[:2]))
    forged = dict(recs[2], sale_id=recs[0]["sale_id"])
    forged["hash"] = record_hash(forged)
    forged["sig"] = sign_hash(store._key, forged["hash"])
    result = ingestor.ingest(batch([forged]))
    assert (result.ingested, result.dead, acks(result)) == (0, 1, [])
    with Session(engine) as s:
        device = s.get(Device, DEVICE)
        assert device is not None and (device.last_seq, device.last_hash) == (2, recs[1]["hash"])
    assert dead(engine) == [f"seq 3: sale_id {recs[0]['sale_id']!r} was already ingested"]
    result = ingestor.ingest(batch([recs[2]]))
    assert (result.ingested, result.duplicates, acks(result)) == (1, 0, [3])
    assert stored(engine) == [1, 2, 3]


def test_a_number_past_64_bits_is_the_database_refusing_it_on_either(
    engine: Engine, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's driver raises OverflowError (no DBAPI error) for an integer past 64 bits:
    such a sale or telemetry was dead-lettered as an internal error, with a traceback
    logged as the collector's own bug (found by the fuzz harness). It is the database
    refusing a value, as PostgreSQL's out-of-range DataError is."""
    ingestor = registered(engine, store)
    recs = records(store, 2) + records(store, 1, total=2**63)
    telemetry = {"ts": "2026-11-23T10:00:00.000Z", "version": "1", "outbox_depth": 2**63,
                 "last_seq": 3, "printer": "ok", "scanner": "ok", "drawer": "closed",
                 "disk_free": 1, "uptime": 1.0}  # fmt: skip
    topic = device_topic(STORE, DEVICE, "telemetry")
    with caplog.at_level(logging.WARNING):
        result = ingestor.ingest([*batch(recs), Incoming(topic, store.seal(topic, telemetry))])
    assert (result.ingested, result.dead) == (2, 2)
    assert stored(engine) == [1, 2]
    reasons = dead(engine)
    assert len(reasons) == 2 and all(r.startswith("the database refused it: ") for r in reasons)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_what_the_device_did_not_seal_touches_no_device_row(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    """On a plain broker anyone may publish on a device's topics: unsealed (or sealed by
    another key), a status, telemetry or event is refused before it may touch the row. It
    moved `last_seen` (a gone unit kept looking alive in `fleet status`), and made a row
    for an enrolled device never heard from."""
    ingestor = registered(engine, store)
    enrol(engine, "till-10", store=STORE)  # enrolled, never connected
    stranger = Store.open(tmp_path / "stranger", DEVICE)  # a key of someone else's
    telemetry = Telemetry(
        ts="2026-11-23T10:00:00.000Z", version="6.6.6", outbox_depth=999, last_seq=999,
        printer="out of paper", scanner="ok", drawer="closed", disk_free=1, uptime=1.0,
    )  # fmt: skip
    event = {"kind": "drawer.opened", "ts": "2026-11-23T10:00:00.000Z", "schema": 1}
    offline = {"state": "offline", "version": "6.6.6", "region": "nowhere", "schema": 1}
    with Session(engine) as s:
        row = s.get(Device, DEVICE)
        assert row is not None
        was = {c.key: getattr(row, c.key) for c in Device.__table__.columns}
    lies = []
    for device in (DEVICE, "till-10"):
        for leaf, body in (("telemetry", telemetry), ("events", event), ("status", offline)):
            topic = device_topic(STORE, device, leaf)
            lies.append(Incoming(topic, json.dumps(msgspec.to_builtins(body)).encode()))
            lies.append(Incoming(topic, stranger.seal(topic, body)))
    result = ingestor.ingest(lies)
    assert (result.ingested, result.dead) == (0, len(lies))
    with Session(engine) as s:
        row = s.get(Device, DEVICE)
        assert row is not None
        assert {c.key: getattr(row, c.key) for c in Device.__table__.columns} == was
        assert s.get(Device, "till-10") is None
    stranger.close()


def test_a_loyalty_account_with_a_newline_after_its_digits_is_no_account(
    engine: Engine, store: Store
) -> None:
    """`^[0-9]{8}$` also matched "00000001\n" ($ matches before a final newline): a sale
    naming it earned points on an account of its own, and a balance question for it was
    answered (found by the fuzz harness). The sale is stored, its points are not."""
    ingestor = registered(engine, store)
    lo = {"account": "00000001\n", "earned": 2, "redeemed": 0, "balance": None, "offline": False}
    result = ingestor.ingest(batch(records(store, 1, loyalty=lo)))
    assert (result.ingested, result.dead) == (1, 0)
    with Session(engine) as s:
        assert s.scalars(select(LoyaltyAccount.account)).all() == []
    answers = Answers(Ledger(engine))
    for op in ("balance", "reserve"):
        # A bare account is not answered at all; with the card, an account unlike the
        # card's is refused.
        request = LoyaltyRequest(corr="c-1", op=op, account="00000001\n", points=1)  # type: ignore[arg-type]
        response = answers.answer(request, DEVICE)
        assert (response.ok, response.error) == (
            False,
            f"{op} needs the scanned card number (card); a bare account is not answered",
        )
        request.card = make_loyalty_card("00000001")
        response = answers.answer(request, DEVICE)
        assert (response.ok, response.error) == (
            False,
            "card 2900000000018 is not a loyalty card of 00000001\n",
        )
    assert make_loyalty_card("00000001") == "2900000000018"
    with pytest.raises(CardError):
        make_loyalty_card("00000001\n")


def test_postgresql_refusing_a_value_dead_letters_that_sale_alone(
    pg_engine: Engine, store: Store
) -> None:
    """The sales go in by COPY on PostgreSQL; a value the server refuses (a tender over
    BIGINT) must still come back as SQLAlchemy's DataError, so only that sale is
    dead-lettered and the others go in. (Texts never get here: they are cut to their
    columns, protocol.limits.)"""
    ingestor = registered(pg_engine, store)
    recs = records(store, 3)
    tender = dict(recs[0]["tenders"][0], amount=2**63)
    too_big = records(store, 1, tenders=[tender])
    result = ingestor.ingest(batch(recs + too_big))
    assert (result.ingested, result.dead) == (3, 1)
    assert stored(pg_engine) == [1, 2, 3]
    (reason,) = dead(pg_engine)
    assert reason.startswith("the database refused it: "), reason
    assert "out of range" in reason, reason


def test_postgresql_lost_mid_copy_is_retried_not_dead_lettered(
    pg_engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the connection just before the COPY: ingest raises OperationalError
    (the collector waits and sends the batch again), nothing is stored or dead-lettered,
    and the same batch then goes in on a new connection."""
    ingestor = registered(pg_engine, store)
    recs = records(store, 4)
    real_copy = bulk._copy
    killed: list[int] = []

    def copy_on_a_dead_connection(conn: Any, *args: Any) -> None:
        if not killed:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            url = pg_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            killed.append(pid)
        real_copy(conn, *args)

    monkeypatch.setattr(bulk, "_copy", copy_on_a_dead_connection)
    with pytest.raises(OperationalError):
        ingestor.ingest(batch(recs))
    assert killed and stored(pg_engine) == [] and dead(pg_engine) == []
    result = ingestor.ingest(batch(recs))
    assert (result.ingested, result.dead, acks(result)) == (4, 0, [4])
    assert stored(pg_engine) == [1, 2, 3, 4]
    with Session(pg_engine) as s:
        assert s.scalar(select(func.count()).select_from(SaleLine)) == 4
