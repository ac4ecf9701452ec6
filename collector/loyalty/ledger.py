"""The points ledger as the rest of the collector uses it: each call one transaction
over the book (collector.loyalty.book), the account number and amount checked first.
The collector is the authority on every balance; reading one is a primary-key row plus
the account's open holds, whatever the ledger's size. See docs/loyalty.md.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.config import LoyaltySection, Tier
from collector.customers.accounts import check_account
from collector.loyalty.book import Balance, Book, Change, Hold
from collector.loyalty.rules import (
    LoyaltyInput,
    check_points,
    multiplier,
    points_for,
    tier_for,
    to_base,
)
from collector.models import LoyaltyAccount, LoyaltyEntry, LoyaltyLot, LoyaltyReservation
from protocol.limits import MAX_POINTS
from protocol.timestamps import utc_stamp


class Ledger:
    """The points ledger over an engine: balances, tiers, earn and redeem, holds and the
    expiry sweep, each call in a transaction of its own. `clock` is injectable so tests
    can move time."""

    def __init__(
        self,
        engine: Engine,
        settings: LoyaltySection | None = None,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.engine = engine
        self.settings = settings or LoyaltySection()
        self.clock = clock

    def _book(self, session: Session) -> Book:
        return Book(session, self.settings, self.clock())

    def balance(self, account: str) -> Balance:
        """The stored balance and active holds: a primary-key read, whatever the ledger's
        size (a write only when a lot has fallen due for expiry)."""
        check_account(account)
        now = utc_stamp(self.clock())
        with Session(self.engine) as session:
            acct = session.get(LoyaltyAccount, account)
            due = acct is not None and acct.next_expiry is not None and acct.next_expiry <= now
            if not due:
                book = Book(session, self.settings, self.clock())
                held = book.held(account) if acct else 0
                if acct is None:
                    return Balance(account, 0, 0, 0)
                return Balance(account, acct.balance, held, acct.issue)
        with Session(self.engine) as session, session.begin():
            book = self._book(session)
            acct = book.lock(account)
            return Balance(account, acct.balance, book.held(account), acct.issue)

    def tier(self, account: str) -> tuple[Tier | None, int]:
        """The account's tier now and its 12-month spend (base minor units)."""
        with Session(self.engine) as session:
            book = self._book(session)
            spend = book.spend_12m(account)
            return tier_for(self.settings, spend), spend

    def earn_money(
        self,
        account: str,
        amount: int,
        currency: str,
        key: str,
        *,
        source: str,
        detail: dict[str, Any] | None = None,
    ) -> Change:
        """Earn on `amount` paid (minor units of `currency`) by the rules, with the tier."""
        check_account(account)
        base = to_base(self.settings, amount, currency)
        if base is None:
            raise LoyaltyInput(f"currency {currency!r} has no rate in [loyalty.rates]")
        with Session(self.engine) as session, session.begin():
            book = self._book(session)
            mult = multiplier(book.tier(account))
            points = points_for(self.settings, base, mult)
            if points > MAX_POINTS:
                raise LoyaltyInput(f"{amount} {currency} would earn more than {MAX_POINTS} points")
            return book.earn(
                account,
                points,
                key,
                source=source,
                spend=base,
                detail={
                    "paid": amount,
                    "currency": currency,
                    "multiplier": str(mult),
                    **(detail or {}),
                },
            )

    def earn(
        self,
        account: str,
        points: int,
        key: str,
        *,
        source: str,
        detail: dict[str, Any] | None = None,
    ) -> Change:
        """Credit points outright (a goodwill gesture, a migration), once per `key`."""
        check_account(account)
        check_points(points)
        with Session(self.engine) as session, session.begin():
            return self._book(session).earn(account, points, key, source=source, detail=detail)

    def redeem(
        self,
        account: str,
        points: int,
        key: str,
        *,
        source: str,
        detail: dict[str, Any] | None = None,
    ) -> Change:
        """Spend points, once per `key`; LoyaltyRefused beyond what is available."""
        check_account(account)
        check_points(points)
        with Session(self.engine) as session, session.begin():
            return self._book(session).redeem(account, points, key, source=source, detail=detail)

    def reserve(
        self,
        account: str,
        points: int,
        device: str,
        *,
        key: str | None = None,
        ttl: float | None = None,
        sale_id: str | None = None,
    ) -> Hold:
        """Hold points for a till; LoyaltyRefused when fewer are available."""
        check_account(account)
        check_points(points)
        with Session(self.engine) as session, session.begin():
            return self._book(session).reserve(
                account,
                points,
                device,
                key or f"hold:{uuid.uuid4().hex}",
                ttl or self.settings.reservation_ttl,
                sale_id,
            )

    def release(self, reservation: str, by: str | None = None) -> Hold:
        """Let a hold go; `by`: the device asking, which must be the one that made it."""
        with Session(self.engine) as session, session.begin():
            return self._book(session).release(reservation, by)

    def keep(self, reservation: str, sale_id: str | None = None, by: str | None = None) -> Hold:
        with Session(self.engine) as session, session.begin():
            return self._book(session).keep(reservation, sale_id, self.settings.commit_ttl, by)

    def expire_all(self) -> int:
        """Expire every lot that has fallen due (a nightly sweep; reads expire lazily too)."""
        now = utc_stamp(self.clock())
        with Session(self.engine) as session:
            due = list(
                session.scalars(
                    select(LoyaltyAccount.account).where(LoyaltyAccount.next_expiry <= now)
                )
            )
        for account in due:
            with Session(self.engine) as session, session.begin():
                self._book(session).lock(account)
        return len(due)

    # -- what a kiosk's summary and a till's commit read --------------------------------------

    def hold_for_sale(self, sale_id: str | None) -> str | None:
        """The id of the hold still held for `sale_id`, if there is one."""
        if not sale_id:
            return None
        with Session(self.engine) as session:
            return session.scalar(
                select(LoyaltyReservation.id).where(
                    LoyaltyReservation.sale_id == sale_id, LoyaltyReservation.state == "held"
                )
            )

    def points_by_sale(self, sale_ids: list[str]) -> dict[str, int]:
        """The points each sale made: earned on it, less what refunds of it took back."""
        keys = [f"sale:{sid}:{kind}" for sid in sale_ids for kind in ("earn", "reverse")]
        points: dict[str, int] = {}
        with Session(self.engine) as session:
            for key, pts in session.execute(
                select(LoyaltyEntry.key, LoyaltyEntry.points).where(LoyaltyEntry.key.in_(keys))
            ):
                sid = key.split(":")[1]
                points[sid] = points.get(sid, 0) + int(pts)
        return points

    def expiring(self, account: str, within: dt.timedelta) -> dict[str, int]:
        """Points of the account's open lots that expire within `within`, per day (ISO
        date), soonest first."""
        at = self.clock()
        due: dict[str, int] = {}
        with Session(self.engine) as session:
            for expires_at, left in session.execute(
                select(LoyaltyLot.expires_at, LoyaltyLot.remaining)
                .where(
                    LoyaltyLot.account == account,
                    LoyaltyLot.remaining > 0,
                    LoyaltyLot.expires_at > utc_stamp(at),
                    LoyaltyLot.expires_at <= utc_stamp(at + within),
                )
                .order_by(LoyaltyLot.expires_at)
            ):
                day = str(expires_at)[:10]
                due[day] = due.get(day, 0) + int(left)
        return due
