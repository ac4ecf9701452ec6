"""The book: points ledger operations inside one open transaction, the caller's.

Append-only entries (one per change, each with a unique idempotency key such as
`sale:<sale_id>:earn` or `web:<channel>:<key>`), earn lots spent soonest-expiring first
with allocations linking each spend to its lots (so expiry is exact), the overdraft a
sale made offline may leave, reservations (holds), and a stored balance per account
(`loyalty_accounts`) changed in the same transaction. Every change first locks the
account row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises
writers), so two tills reserving the same points cannot both succeed. The ingest settles
sales through it in the sale's own transaction (collector.loyalty.settlement); the rest
goes through the Ledger facade (collector.loyalty.ledger). See docs/loyalty.md.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.config import LoyaltySection, Tier
from collector.customers.accounts import lock_account
from collector.loyalty.rules import LoyaltyRefused, expires, tier_for, tier_window
from collector.models import (
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyReservation,
)
from protocol.timestamps import parse_stamp, utc_stamp

# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """An account's stored balance, what active holds take from it, and what is left."""

    account: str
    balance: int
    held: int
    issue: int

    @property
    def available(self) -> int:
        return max(self.balance - self.held, 0)


@dataclass(frozen=True)
class Change:
    """One ledger entry as applied (or found again, on a retry: `replayed`)."""

    id: int
    key: str
    kind: str
    points: int
    balance: int
    replayed: bool
    detail: dict[str, Any]


@dataclass(frozen=True)
class Hold:
    """A reservation: its id, points, state and expiry."""

    id: str
    account: str
    points: int
    state: str
    expires_at: str


def _hold(r: LoyaltyReservation) -> Hold:
    return Hold(r.id, r.account, r.points, r.state, r.expires_at)


class Book:
    """Ledger operations inside one open session/transaction (the ingest uses it within
    the sale's own transaction). Each starts by locking the account row."""

    def __init__(self, session: Session, settings: LoyaltySection, at: dt.datetime) -> None:
        self.session = session
        self.settings = settings
        self.at = at
        self.now = utc_stamp(at)

    def lock(self, account: str) -> LoyaltyAccount:
        """The account's row, made if new, locked for this transaction; due lots expired."""
        acct = lock_account(self.session, account, self.now)
        self._expire(acct)
        return acct

    def seen(self, key: str) -> LoyaltyEntry | None:
        return self.session.scalar(select(LoyaltyEntry).where(LoyaltyEntry.key == key))

    def held(self, account: str) -> int:
        total = self.session.scalar(
            select(func.coalesce(func.sum(LoyaltyReservation.points), 0)).where(
                LoyaltyReservation.account == account,
                LoyaltyReservation.state == "held",
                LoyaltyReservation.expires_at > self.now,
            )
        )
        return int(total or 0)

    def spend_12m(self, account: str) -> int:
        since = utc_stamp(tier_window(self.at))
        total = self.session.scalar(
            select(func.coalesce(func.sum(LoyaltyEntry.spend), 0)).where(
                LoyaltyEntry.account == account, LoyaltyEntry.at > since
            )
        )
        return int(total or 0)

    def tier(self, account: str) -> Tier | None:
        return tier_for(self.settings, self.spend_12m(account))

    # -- entries ----------------------------------------------------------------------------

    def _entry(
        self,
        acct: LoyaltyAccount,
        key: str,
        kind: str,
        points: int,
        *,
        source: str = "",
        spend: int = 0,
        detail: dict[str, Any] | None = None,
    ) -> LoyaltyEntry:
        acct.balance += points
        acct.updated_at = self.now
        entry = LoyaltyEntry(
            key=key,
            account=acct.account,
            kind=kind,
            points=points,
            balance=acct.balance,
            spend=spend,
            at=self.now,
            source=source[:128],
            detail=detail or {},
        )
        self.session.add(entry)
        self.session.flush()
        return entry

    def _add_lot(self, acct: LoyaltyAccount, entry: LoyaltyEntry, points: int, since: str) -> None:
        """A new lot; it first pays off what the account is overdrawn by."""
        cover = min(points, acct.overdrawn)
        acct.overdrawn -= cover
        try:
            earned = parse_stamp(since)
        except ValueError:
            earned = self.at  # not a time we can read: the lot dates from now
        until = expires(self.settings, earned)
        expires_at = utc_stamp(until) if until else None
        lot = LoyaltyLot(
            entry=entry.id,
            account=acct.account,
            points=points,
            remaining=points - cover,
            earned_at=utc_stamp(earned),
            expires_at=expires_at,
            source=entry.source,
        )
        self.session.add(lot)
        self.session.flush()
        if cover:
            self.session.add(LoyaltyAllocation(entry=entry.id, lot=lot.id, points=cover))
        if (
            lot.remaining
            and expires_at
            and (acct.next_expiry is None or expires_at < acct.next_expiry)
        ):
            acct.next_expiry = expires_at

    def _take(
        self, acct: LoyaltyAccount, entry: LoyaltyEntry, points: int, first: int | None = None
    ) -> None:
        """Take points from open lots, soonest-expiring first (lot `first` before all), so
        expiry later is exact; what no lot covers makes the account overdrawn."""
        lots = list(
            self.session.scalars(
                select(LoyaltyLot)
                .where(LoyaltyLot.account == acct.account, LoyaltyLot.remaining > 0)
                .order_by(
                    LoyaltyLot.expires_at.asc().nulls_last(),
                    LoyaltyLot.earned_at,
                    LoyaltyLot.id,
                )
            )
        )
        lots.sort(key=lambda lot: lot.entry != first)  # stable: the rest keep their order
        left = points
        for lot in lots:
            if not left:
                break
            part = min(left, lot.remaining)
            lot.remaining -= part
            left -= part
            self.session.add(LoyaltyAllocation(entry=entry.id, lot=lot.id, points=part))
        acct.overdrawn += left

    def _expire(self, acct: LoyaltyAccount) -> None:
        if acct.next_expiry is None or acct.next_expiry > self.now:
            return
        due = self.session.scalars(
            select(LoyaltyLot)
            .where(
                LoyaltyLot.account == acct.account,
                LoyaltyLot.remaining > 0,
                LoyaltyLot.expires_at <= self.now,
            )
            .order_by(LoyaltyLot.expires_at, LoyaltyLot.id)
        ).all()
        for lot in due:
            points = lot.remaining
            lot.remaining = 0
            entry = self._entry(
                acct,
                f"expire:lot:{lot.id}",
                "expire",
                -points,
                source=lot.source,
                detail={"lot": lot.id, "expires_at": lot.expires_at},
            )
            self.session.add(LoyaltyAllocation(entry=entry.id, lot=lot.id, points=points))
        acct.next_expiry = self.session.scalar(
            select(func.min(LoyaltyLot.expires_at)).where(
                LoyaltyLot.account == acct.account, LoyaltyLot.remaining > 0
            )
        )

    # -- operations ---------------------------------------------------------------------------

    def earn(
        self,
        account: str,
        points: int,
        key: str,
        *,
        source: str,
        spend: int = 0,
        since: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Change:
        """Credit `points` as a new lot (dated `since`, default now) under `key`, once."""
        acct = self.lock(account)
        old = self.seen(key)
        if old is not None:
            return _change(old, replayed=True)
        entry = self._entry(
            acct, key, "earn", points, source=source, spend=spend, detail=detail or {}
        )
        if points:
            self._add_lot(acct, entry, points, since or self.now)
        return _change(entry, replayed=False)

    def redeem(
        self,
        account: str,
        points: int,
        key: str,
        *,
        source: str,
        overdraw: bool = False,
        holds_released: int = 0,
        detail: dict[str, Any] | None = None,
    ) -> Change:
        """Spend `points` under `key`, once. Refused beyond the available balance (balance
        less other holds) unless `overdraw`: a sale already made offline is never lost."""
        acct = self.lock(account)
        old = self.seen(key)
        if old is not None:
            return _change(old, replayed=True)
        available = acct.balance - (self.held(account) - holds_released)
        if not overdraw and points > available:
            raise LoyaltyRefused(
                f"account {account} has {max(available, 0)} points available, not {points}"
            )
        entry = self._entry(acct, key, "redeem", -points, source=source, detail=detail)
        self._take(acct, entry, points)
        return _change(entry, replayed=False)

    def reverse(
        self,
        account: str,
        points: int,
        key: str,
        *,
        source: str,
        lot_entry: int | None,
        spend: int = 0,
        detail: dict[str, Any] | None = None,
    ) -> Change:
        """Take back earned points (a refund): from their own lot first, then the oldest."""
        acct = self.lock(account)
        old = self.seen(key)
        if old is not None:
            return _change(old, replayed=True)
        entry = self._entry(
            acct, key, "reverse", -points, source=source, spend=-spend, detail=detail
        )
        self._take(acct, entry, points, first=lot_entry)
        return _change(entry, replayed=False)

    def give_back(
        self, account: str, points: int, key: str, *, source: str, detail: dict[str, Any]
    ) -> Change:
        """Return redeemed points (a refund) as a new lot."""
        acct = self.lock(account)
        old = self.seen(key)
        if old is not None:
            return _change(old, replayed=True)
        entry = self._entry(acct, key, "giveback", points, source=source, detail=detail)
        if points:
            self._add_lot(acct, entry, points, self.now)
        return _change(entry, replayed=False)

    # -- holds --------------------------------------------------------------------------------

    def reserve(
        self, account: str, points: int, device: str, key: str, ttl: float, sale_id: str | None
    ) -> Hold:
        acct = self.lock(account)
        found = self.session.scalar(select(LoyaltyReservation).where(LoyaltyReservation.key == key))
        if found is not None:
            return _hold(found)  # the till asked again (a retry): the same hold
        available = acct.balance - self.held(account)
        if points > available:
            raise LoyaltyRefused(
                f"account {account} has {max(available, 0)} points available, not {points}"
            )
        r = LoyaltyReservation(
            id=uuid.uuid4().hex,
            key=key,
            account=account,
            points=points,
            device=device[:64],
            sale_id=sale_id,
            state="held",
            created_at=self.now,
            expires_at=utc_stamp(self.at + dt.timedelta(seconds=ttl)),
        )
        self.session.add(r)
        return _hold(r)

    def _reservation(self, rid: str, by: str | None) -> LoyaltyReservation:
        """The hold `rid`, its account locked. `by`: the device asking, which must be the
        one that made it (another till may not let go of, or lengthen, this till's hold)."""
        r = self.session.get(LoyaltyReservation, rid)
        if r is None or (by is not None and r.device != by):
            # Another device's hold is refused as if unknown: its id tells that device nothing.
            raise LoyaltyRefused(f"reservation {rid[:40]!r} is unknown")
        self.lock(r.account)
        self.session.refresh(r)
        return r

    def release(self, rid: str, by: str | None = None) -> Hold:
        r = self._reservation(rid, by)
        if r.state == "held":
            r.state = "released"
        return _hold(r)

    def keep(self, rid: str, sale_id: str | None, ttl: float, by: str | None = None) -> Hold:
        """The till completed its sale: hold the points until the record is ingested."""
        r = self._reservation(rid, by)
        if r.state != "held" or r.expires_at <= self.now:
            raise LoyaltyRefused(f"reservation {rid} is {_state(r, self.now)}, not held")
        r.expires_at = utc_stamp(self.at + dt.timedelta(seconds=ttl))
        if sale_id:
            r.sale_id = sale_id
        return _hold(r)

    # -- a journal record ---------------------------------------------------------------------


def _change(e: LoyaltyEntry, replayed: bool) -> Change:
    return Change(e.id, e.key, e.kind, e.points, e.balance, replayed, dict(e.detail or {}))


def _state(r: LoyaltyReservation, now: str) -> str:
    return "expired" if r.state == "held" and r.expires_at <= now else r.state
