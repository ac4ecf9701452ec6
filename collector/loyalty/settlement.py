"""Settling the loyalty part of an ingested sale record, in the sale's own transaction
(so points move exactly when the sale is stored, once).

A sale redeems what the till redeemed (its hold, if any, is consumed) and earns by the
collector's rules, not by the till's estimate. A record is a fact already, perhaps made
offline: a redeem beyond the balance overdraws the account rather than being refused.
A refund takes back earned points and gives back redeemed ones in proportion
(collector.loyalty.rules). Records flagged `offline` are settled the same way.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.config import LoyaltySection
from collector.customers.accounts import ACCOUNT
from collector.loyalty.book import Book
from collector.loyalty.rules import (
    giveback,
    multiplier,
    paid,
    points_for,
    reversal,
    spend_reversal,
    to_base,
)
from collector.models import LoyaltyEntry, LoyaltyReservation
from protocol.record import Record

log = logging.getLogger("collector.loyalty")


def settle_record(session: Session, record: Record, rules: LoyaltySection) -> None:
    """The ingest's hook: settle `record`'s loyalty part in the session's transaction.
    Never raises on content (the sale is recorded whatever its loyalty part says)."""
    lo = record.loyalty
    if lo is None or record.kind not in ("sale", "refund"):
        return
    if not ACCOUNT.match(lo.account):
        log.warning("sale %s: account %r is not 8 digits", record.sale_id, lo.account[:20])
        return
    book = Book(session, rules, dt.datetime.now(dt.UTC))
    if record.kind == "sale":
        _sale(book, record)
    else:
        _refund(book, record)


def _sale(book: Book, record: Record) -> None:
    lo = record.loyalty
    assert lo is not None
    account, sid = lo.account, record.sale_id
    source = f"sale:{sid}"
    money = paid(record)
    if lo.redeemed > 0:
        acct = book.lock(account)
        hold = _hold_for(book.session, record)
        if hold is not None:
            hold.state = "committed"
        # The hold is consumed by this entry: it stops counting against the balance.
        change = book.redeem(
            account,
            lo.redeemed,
            f"{source}:redeem",
            source=source,
            overdraw=True,
            detail={
                "reservation": hold.id if hold else None,
                "offline": lo.offline,
                "device": record.device,
            },
        )
        if not change.replayed and hold is not None:
            hold.entry = change.id
        if acct.balance < 0:
            log.warning("sale %s overdrew account %s to %d", sid, account, acct.balance)
    base = to_base(book.settings, money, record.currency)
    times = multiplier(book.tier(account))
    if base is None:
        # No rate for this currency: the till's own figure, rather than nothing.
        log.warning("no rate for %s in [loyalty.rates]; using the till's earn", record.currency)
        points, spend = int(lo.earned * times), 0
    else:
        points, spend = points_for(book.settings, base, times), base
    book.earn(
        account,
        points,
        f"{source}:earn",
        source=source,
        spend=spend,
        since=record.ts,
        detail={
            "paid": money,
            "currency": record.currency,
            "multiplier": str(times),
            "till_earned": lo.earned,
            "offline": lo.offline,
            "device": record.device,
        },
    )
    _give_back_waiting(book, sid)


WAITING = ":giveback-waiting"  # the key's end of a refund's give-back that waits for its sale


def _give_back_waiting(book: Book, sid: str) -> None:
    """Refunds of sale `sid` that came before it: their give-backs, now capped by what
    this sale redeemed on their account (nothing, if it redeemed nothing there)."""
    waiting = book.session.scalars(
        select(LoyaltyEntry).where(
            LoyaltyEntry.source == f"refund_of:{sid}",
            LoyaltyEntry.kind == "giveback",
            LoyaltyEntry.key.endswith(WAITING),
        )
    ).all()
    for entry in waiting:
        key = entry.key.removesuffix(WAITING) + ":giveback"
        if book.seen(key) is not None:
            continue
        spent = book.seen(f"sale:{sid}:redeem")
        redeemed = -spent.points if spent is not None and spent.account == entry.account else 0
        given = _given_back(book.session, entry.account, sid)
        asked = int((entry.detail or {}).get("till_redeemed", 0))
        book.give_back(
            entry.account,
            giveback(abs(asked), redeemed, given),
            key,
            source=f"refund_of:{sid}",
            detail={"refund_of": sid, "till_redeemed": asked, "waited": True},
        )


def _hold_for(session: Session, record: Record) -> LoyaltyReservation | None:
    """The held reservation the sale used: the one its record names, else the one made
    for its sale_id."""
    lo = record.loyalty
    assert lo is not None
    rid = lo.reservation
    where = LoyaltyReservation.id == rid if rid else (LoyaltyReservation.sale_id == record.sale_id)
    return session.scalar(
        select(LoyaltyReservation).where(where, LoyaltyReservation.state == "held")
    )


def _refund(book: Book, record: Record) -> None:
    lo = record.loyalty
    assert lo is not None
    account, sid, orig = lo.account, record.sale_id, record.refund_of or ""
    source = f"sale:{sid}"
    refunded = paid(record)
    earned = book.seen(f"sale:{orig}:earn") if orig else None
    book.lock(account)
    if earned is not None and earned.account == account:
        sale_paid = int(earned.detail.get("paid", 0))
        before = sale_paid - _refunded(book.session, account, orig)
        after = max(before - refunded, 0)
        points = reversal(earned.points, sale_paid, before, after)
        base_spend = spend_reversal(earned.spend, sale_paid, before, after)
        lot_entry: int | None = earned.id
    else:
        points, base_spend, lot_entry = abs(lo.earned), 0, None
    book.reverse(
        account,
        points,
        f"{source}:reverse",
        source=f"refund_of:{orig}",
        lot_entry=lot_entry,
        spend=base_spend,
        detail={"paid": refunded, "refund_of": orig, "till_earned": lo.earned},
    )
    # The till writes a refund's points negative (given back); older tests wrote them
    # positive: the size is what counts.
    if lo.redeemed:
        spent = book.seen(f"sale:{orig}:redeem") if orig else None
        original = book.seen(f"sale:{orig}:earn") if orig else None
        if orig and original is None and spent is None:
            # The sale refunded is not here (yet): what its refund gives back waits for it,
            # capped then by what it redeemed. Taken at its word, a record could give back
            # any number of points (777,777 for a sale that never existed).
            book.give_back(
                account,
                0,
                f"{source}{WAITING}",
                source=f"refund_of:{orig}",
                detail={"refund_of": orig, "till_redeemed": lo.redeemed, "waiting": True},
            )
            return
        redeemed = -spent.points if spent is not None and spent.account == account else 0
        given = _given_back(book.session, account, orig)
        book.give_back(
            account,
            giveback(abs(lo.redeemed), redeemed, given),
            f"{source}:giveback",
            source=f"refund_of:{orig}",
            detail={"refund_of": orig, "till_redeemed": lo.redeemed},
        )


def _refunded(session: Session, account: str, orig: str) -> int:
    """Money refunded of sale `orig` so far (the reversals' `paid`)."""
    rows = session.scalars(
        select(LoyaltyEntry.detail).where(
            LoyaltyEntry.account == account,
            LoyaltyEntry.kind == "reverse",
            LoyaltyEntry.source == f"refund_of:{orig}",
        )
    )
    return sum(int(d.get("paid", 0)) for d in rows)


def _given_back(session: Session, account: str, orig: str) -> int:
    """Redeemed points of sale `orig` that refunds gave back so far."""
    given = session.scalar(
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.account == account,
            LoyaltyEntry.kind == "giveback",
            LoyaltyEntry.source == f"refund_of:{orig}",
        )
    )
    return int(given or 0)
