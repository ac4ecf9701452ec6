# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""The points ledger on real SQLite and PostgreSQL: earn and redeem, idempotency,
reservations (with two threads racing for the same points), expiry of the oldest lots,
tiers, refunds in proportion and offline sales settled through the ingest path."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from collector.config import LoyaltySection, Tier
from collector.loyalty.ledger import Ledger
from collector.loyalty.rules import LoyaltyRefused
from collector.loyalty.settlement import settle_record
from collector.models import LoyaltyAllocation, LoyaltyEntry, LoyaltyLot
from protocol.messages import decode, encode
from protocol.record import Record
from protocol.timestamps import utc_stamp
from tests.test_collector_ingest import database_url, engine  # noqa: F401

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, t: dt.datetime = T0) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


def record(
    total: int,
    account: str = "00000001",
    *,
    kind: str = "sale",
    redeemed: int = 0,
    earned: int = 0,
    offline: bool = False,
    reservation: str | None = None,
    refund_of: str | None = None,
    currency: str = "EUR",
    ts: str = "2026-01-10T09:00:00.000Z",
) -> Record:
    tenders = [{"type": "cash", "amount": total - redeemed}]
    if redeemed:
        tenders.append({"type": "points", "amount": redeemed})
    raw: dict[str, Any] = {
        "schema": 1,
        "seq": 1,
        "sale_id": str(uuid.uuid4()),
        "kind": kind,
        "receipt_no": "s001-till-01-000001",
        "device": "till-01",
        "store": "s001",
        "region": "north",
        "staff": "ana",
        "ts": ts,
        "currency": currency,
        "lines": [],
        "total": total,
        "tax": [],
        "tenders": tenders,
        "change": 0,
        "loyalty": {
            "account": account,
            "earned": earned,
            "redeemed": redeemed,
            "balance": None,
            "offline": offline,
            "reservation": reservation,
        },
        "refund_of": refund_of,
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
        "sig": "0" * 128,
    }
    return decode(encode(raw), Record)


def ingest(engine: Engine, rec: Record, settings: LoyaltySection | None = None) -> None:
    with Session(engine) as s, s.begin():
        settle_record(s, rec, settings or LoyaltySection())


def test_earn_redeem_and_over_redeem_refused(engine: Engine) -> None:
    ledger = Ledger(engine)
    ingest(engine, record(12_399))  # 123.99 EUR paid: floor -> 123 points
    assert ledger.balance("00000001").balance == 123
    change = ledger.redeem("00000001", 100, "web:shop:1", source="web:shop")
    assert (change.points, change.balance) == (-100, 23)
    with pytest.raises(LoyaltyRefused, match="23 points available, not 24"):
        ledger.redeem("00000001", 24, "web:shop:2", source="web:shop")
    assert ledger.balance("00000001").balance == 23


def test_retries_never_count_twice(engine: Engine) -> None:
    ledger = Ledger(engine)
    sale = record(5_000)
    for _ in range(3):
        ingest(engine, sale)
    again = ledger.earn("00000001", 10, "web:shop:a", source="web:shop")
    retry = ledger.earn("00000001", 10, "web:shop:a", source="web:shop")
    assert not again.replayed and retry.replayed and retry.balance == again.balance
    assert ledger.balance("00000001").balance == 60
    with Session(engine) as s:
        keys = list(s.scalars(select(LoyaltyEntry.key)))
    assert sorted(keys) == sorted([f"sale:{sale.sale_id}:earn", "web:shop:a"])


def test_reservation_holds_releases_expires_and_is_committed_by_the_sale(engine: Engine) -> None:
    clock = Clock()
    ledger = Ledger(engine, LoyaltySection(reservation_ttl=60), clock=clock)
    ledger.earn("00000001", 300, "seed", source="test")
    hold = ledger.reserve("00000001", 200, "till-01")
    assert ledger.balance("00000001").available == 100
    with pytest.raises(LoyaltyRefused, match="100 points available"):
        ledger.reserve("00000001", 150, "till-02")
    ledger.release(hold.id)
    assert ledger.balance("00000001").available == 300
    ledger.reserve("00000001", 250, "till-02")
    clock.t += dt.timedelta(seconds=61)  # nobody released it: it lapses by itself
    assert ledger.balance("00000001").available == 300
    # A held reservation is consumed by the sale record that names it.
    hold = ledger.reserve("00000001", 120, "till-03")
    ingest(engine, record(1_000, redeemed=120, reservation=hold.id))
    bal = ledger.balance("00000001")
    # 300 - 120 redeemed + floor((10.00 - 1.20) × 1) earned; no hold left over.
    assert (bal.balance, bal.held) == (188, 0)
    assert ledger.release(hold.id).state == "committed"


def test_two_tills_reserving_the_same_points_exactly_one_wins(engine: Engine) -> None:
    ledger = Ledger(engine)
    ledger.earn("00000001", 500, "seed", source="test")
    # Each till, once it has read the account row, waits for the other to have read it
    # too. With the row lock (or SQLite's write lock) the other never gets there, the wait
    # times out and the first commits; without it both would read 500 and both hold 400.
    both_read = threading.Barrier(2, timeout=1.0)

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM loyalty_accounts" in statement and threading.current_thread().name.startswith(
            "till-"
        ):
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait()

    event.listen(engine, "after_cursor_execute", after)
    outcomes: list[str] = []

    def till(name: str) -> None:
        try:
            ledger.reserve("00000001", 400, name)
            outcomes.append("ok")
        except LoyaltyRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=till, args=(f"till-{i}",), name=f"till-{i}") for i in (1, 2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        event.remove(engine, "after_cursor_execute", after)
    assert sorted(outcomes) == ["ok", "refused"]
    assert ledger.balance("00000001").available == 100


def test_expiry_takes_the_oldest_lots_and_spends_used_them_first(engine: Engine) -> None:
    clock = Clock()
    ledger = Ledger(engine, LoyaltySection(expiry_months=12), clock=clock)
    ledger.earn("00000001", 100, "jan", source="test")
    clock.t = T0 + dt.timedelta(days=180)
    ledger.earn("00000001", 50, "jul", source="test")
    ledger.redeem("00000001", 70, "spend", source="test")  # all from January's lot
    clock.t = T0 + dt.timedelta(days=366)  # January's lot expires, July's not yet
    bal = ledger.balance("00000001")
    assert bal.balance == 50
    with Session(engine) as s:
        remaining = sorted(s.scalars(select(LoyaltyLot.remaining)))
        expired = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.kind == "expire")).one()
        taken = s.scalars(select(LoyaltyAllocation).where(LoyaltyAllocation.entry == expired.id))
        assert expired.points == -30 and [a.points for a in taken] == [30]
    assert remaining == [0, 50]
    clock.t = T0 + dt.timedelta(days=180 + 366)
    assert ledger.expire_all() == 1
    assert ledger.balance("00000001").balance == 0


def test_tier_multiplies_earning_by_twelve_month_spend(engine: Engine) -> None:
    settings = LoyaltySection(tiers=[Tier("gold", 100_000, "1.5"), Tier("silver", 50_000, "1.2")])
    ingest(engine, record(60_000), settings)  # 600 points; now silver
    ingest(engine, record(10_000), settings)  # 100 × 1.2
    ingest(engine, record(40_000), settings)  # 400 × 1.2; now gold (1100 spent)
    ingest(engine, record(10_000), settings)  # 100 × 1.5
    ledger = Ledger(engine, settings)
    assert ledger.balance("00000001").balance == 600 + 120 + 480 + 150
    tier, spend = ledger.tier("00000001")
    assert tier is not None and tier.name == "gold" and spend == 120_000


def test_other_currency_earns_at_the_configured_rate(engine: Engine) -> None:
    settings = LoyaltySection(base_currency="EUR", rates={"GBP": "1.17", "JPY": "0.0061"})
    ingest(engine, record(10_000, currency="GBP"), settings)  # £100 -> 117.00 EUR
    ingest(engine, record(10_000, account="00000002", currency="JPY"), settings)  # ¥10000
    ledger = Ledger(engine, settings)
    assert ledger.balance("00000001").balance == 117
    assert ledger.balance("00000002").balance == 61


def test_refunds_reverse_earned_and_give_back_redeemed_in_proportion(engine: Engine) -> None:
    ledger = Ledger(engine)
    ledger.earn("00000001", 100, "seed", source="test")
    sale = record(10_000, redeemed=100)  # 100.00 total, 1.00 in points: 99 earned
    ingest(engine, sale)
    assert ledger.balance("00000001").balance == 99
    # A third of the sale refunded (33.33 of which 0.33 in points), then the rest.
    # Refund records carry negative amounts and points, as the till writes them.
    part = record(
        -3_333, kind="refund", redeemed=-33, earned=-33, offline=True, refund_of=sale.sale_id
    )
    ingest(engine, part)
    ingest(engine, part)  # the same record again changes nothing
    # 33.00 of the 99.00 paid refunded: 33 of the 99 earned go, 33 redeemed points come back
    assert ledger.balance("00000001").balance == 66 + 33
    rest = record(-6_667, kind="refund", redeemed=-67, earned=-66, refund_of=sale.sale_id)
    ingest(engine, rest)
    assert ledger.balance("00000001").balance == 100  # every earned point back, every spent one
    with Session(engine) as s:
        kinds = [e.kind for e in s.scalars(select(LoyaltyEntry).order_by(LoyaltyEntry.id))]
    assert kinds == ["earn", "redeem", "earn", "reverse", "giveback", "reverse", "giveback"]


def test_offline_sales_settle_and_an_offline_overdraw_is_kept(engine: Engine) -> None:
    ledger = Ledger(engine)
    ledger.earn("00000001", 40, "seed", source="test")
    hold = ledger.reserve("00000001", 40, "till-01")  # spent online elsewhere meanwhile
    # Offline at another till: 50 points redeemed (the cap), 10.00 more earned.
    ingest(engine, record(2_000, redeemed=50, earned=19, offline=True))
    bal = ledger.balance("00000001")
    # 40 - 50 + floor(19.50) = 9; the overdraft of 10 was paid off by the new lot.
    assert bal.balance == 9 and bal.held == 40
    ledger.release(hold.id)
    ingest(engine, record(5_000, redeemed=60, offline=True))  # beyond everything: -51 + 49
    assert ledger.balance("00000001").balance == 9 - 60 + 49
    with Session(engine) as s:
        remaining = sum(s.scalars(select(LoyaltyLot.remaining)))
    assert remaining == 0  # a negative balance is an overdraft, no lot hides it
    ledger.earn("00000001", 5, "later", source="test")
    assert ledger.balance("00000001").balance == 3


def test_balance_read_is_the_stored_row(engine: Engine) -> None:
    ledger = Ledger(engine)
    for i in range(20):
        ledger.earn("00000001", 1, f"k{i}", source="test")
    with Session(engine) as s:
        last = s.scalars(select(LoyaltyEntry).order_by(LoyaltyEntry.id.desc())).first()
    assert last is not None and last.balance == ledger.balance("00000001").balance == 20
    assert utc_stamp(T0) == "2026-01-10T09:00:00.000Z"


def test_a_refund_before_its_sale_gives_back_nothing_until_the_sale_comes(engine: Engine) -> None:
    """A refund's record said how many redeemed points to give back, and with its original
    unknown that figure stood: a forged refund of a sale that never existed gave back
    777,777. Now the give-back waits for the sale and is capped by what it redeemed; for a
    sale that never comes, nothing is given back."""
    ledger = Ledger(engine)
    ledger.earn("00000001", 100, "seed", source="test")
    sale = record(10_000, redeemed=100)
    forged = record(-100, kind="refund", redeemed=-777_777, earned=0, refund_of=str(uuid.uuid4()))
    ingest(engine, forged)
    assert ledger.balance("00000001").balance == 100  # nothing given back
    early = record(-10_000, kind="refund", redeemed=-500, earned=-99, refund_of=sale.sale_id)
    ingest(engine, early)  # from another till, before the sale's own record
    ingest(engine, early)
    # The reversal of what the till says was earned is taken; nothing is given back yet.
    assert ledger.balance("00000001").balance == 1
    ingest(engine, sale)  # the sale arrives: redeemed 100, earned 99
    ingest(engine, sale)
    # 100 - 99 (reversed) - 100 (redeemed) + 99 (earned) + 100 (given back, capped at 100)
    assert ledger.balance("00000001").balance == 100
    with Session(engine) as s:
        backs = s.scalars(select(LoyaltyEntry.points).where(LoyaltyEntry.kind == "giveback")).all()
    assert sorted(backs) == [0, 0, 100]  # two waits (the forged one's forever), one give-back
