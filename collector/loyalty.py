"""The points ledger: the collector is the authority on every loyalty balance.

Append-only entries (one per change, each with a unique idempotency key such as
`sale:<sale_id>:earn` or `web:<channel>:<key>`), earn lots spent oldest-expiring first
with allocations linking each spend to its lots, and a stored balance per account
(`loyalty_accounts`) changed in the same transaction. Every change first locks the
account row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises
writers), so two tills reserving the same points cannot both succeed. Reading a balance
is one primary-key row plus the account's open holds: it does not grow with the ledger.
See docs/loyalty.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Any

import msgspec
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from collector.errors import CollectorError, CollectorInput
from collector.models import (
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyReservation,
    Sale,
)
from collector.privacy import PrivacySettings, Vault
from collector.upsert import upsert_insert
from protocol.cards import loyalty_card
from protocol.commandline import read_input
from protocol.messages import (
    LoyaltyExpiry,
    LoyaltyPurchase,
    LoyaltyRequest,
    LoyaltyResponse,
    LoyaltyReward,
)
from protocol.money import exponent
from protocol.record import Record
from protocol.timestamps import utc_stamp

log = logging.getLogger("collector.loyalty")
ACCOUNT = re.compile(r"^[0-9]{8}$")
MAX_POINTS = 10**12  # one request never moves more (keeps sums far inside BIGINT)
SUMMARY_PURCHASES = 5  # past purchases a `summary` lists
EXPIRY_NOTICE = dt.timedelta(days=30)  # lots expiring this soon are listed in a `summary`
REWARDS_SHOWN = 3


class LoyaltyError(CollectorError):
    """A loyalty operation could not be done; the message says why."""


class LoyaltyRefused(LoyaltyError):
    """Refused by the rules: not enough points, a blocked card, an unknown reservation."""


class LoyaltyInput(CollectorInput):
    """A loyalty setting, account number or amount we refuse (exit 2)."""


# -- settings -------------------------------------------------------------------------------


class Tier(msgspec.Struct, forbid_unknown_fields=True):
    """Earning is multiplied by `multiplier` once the last 12 months' spend (base currency,
    minor units) reaches `spend`."""

    name: str
    spend: Annotated[int, msgspec.Meta(ge=0)]
    multiplier: str = "1"


class Reward(msgspec.Struct, forbid_unknown_fields=True):
    """`[[loyalty.rewards]]`: what `points` buy, as the kiosk shows it."""

    points: Annotated[int, msgspec.Meta(gt=0)]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


def default_rewards() -> list[Reward]:
    return [
        Reward(250, "A free hot drink"),
        Reward(600, "A breakfast box"),
        Reward(1500, "10% off a whole shop"),
        Reward(3000, "A picnic hamper"),
    ]


class LoyaltySettings(msgspec.Struct, forbid_unknown_fields=True):
    """`[loyalty]` of the collector config. Points are valued in `base_currency`; a sale in
    another currency is converted with `rates` (base units per one unit of it)."""

    base_currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "EUR"
    points_per_unit: Annotated[int, msgspec.Meta(ge=0)] = 1
    point_value: Annotated[int, msgspec.Meta(ge=0)] = 1
    expiry_months: Annotated[int, msgspec.Meta(ge=0)] = 24  # 0: points never expire
    reservation_ttl: Annotated[float, msgspec.Meta(gt=0)] = 300.0  # seconds
    # After the till says the sale completed, the hold waits this long for its record.
    commit_ttl: Annotated[float, msgspec.Meta(gt=0)] = 7 * 24 * 3600.0
    tiers: list[Tier] = msgspec.field(default_factory=list)
    rates: dict[str, str] = msgspec.field(default_factory=dict)
    rewards: list[Reward] = msgspec.field(default_factory=default_rewards)

    def within_reach(self, balance: int) -> list[Reward]:
        """The dearest reward `balance` affords now, then the next ones up: what is worth
        saving for, not a list of everything already affordable."""
        ordered = sorted(self.rewards, key=lambda r: r.points)
        have = [r for r in ordered if r.points <= balance][-1:]
        return have + [r for r in ordered if r.points > balance][: REWARDS_SHOWN - len(have)]

    def multiplier(self, tier: Tier | None) -> Fraction:
        return Fraction(tier.multiplier) if tier else Fraction(1)

    def tier_for(self, spend: int) -> Tier | None:
        reached = [t for t in self.tiers if spend >= t.spend]
        return max(reached, key=lambda t: t.spend) if reached else None

    def to_base(self, amount: int, currency: str) -> int | None:
        """Minor units of `currency` in base minor units (ROUND_HALF_UP); None: no rate."""
        if currency == self.base_currency:
            return amount
        rate = self.rates.get(currency)
        if rate is None:
            return None
        scale = Decimal(10) ** (exponent(self.base_currency) - exponent(currency))
        value = Decimal(amount) * Decimal(rate) * scale
        return int(value.to_integral_value(rounding=ROUND_HALF_UP))

    def points_for(self, base_minor: int, multiplier: Fraction) -> int:
        """floor(paid / 10^exponent × points_per_unit × multiplier)."""
        if base_minor <= 0:
            return 0
        exact = Fraction(base_minor * self.points_per_unit, 10 ** exponent(self.base_currency))
        return int(exact * multiplier)


class CollectorConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The collector's optional TOML (`--config FILE`): `[loyalty]` and `[privacy]`."""

    loyalty: LoyaltySettings = msgspec.field(default_factory=LoyaltySettings)
    privacy: PrivacySettings = msgspec.field(default_factory=PrivacySettings)


def load_config(path: str | None) -> CollectorConfig:
    """The config at `path` (defaults when None); LoyaltyInput naming the mistake."""
    if path is None:
        return CollectorConfig()
    text = read_input(path, "collector config file", LoyaltyInput)
    try:
        cfg = msgspec.convert(tomllib.loads(text), CollectorConfig)
    except tomllib.TOMLDecodeError as exc:
        raise LoyaltyInput(f"{path}: {exc}") from exc
    except msgspec.ValidationError as exc:
        raise LoyaltyInput(f"{path}: {exc}") from exc
    for currency, rate in {cfg.loyalty.base_currency: "1", **cfg.loyalty.rates}.items():
        try:
            exponent(currency)
            if Decimal(rate) <= 0:
                raise InvalidOperation
        except ValueError as exc:
            raise LoyaltyInput(f"{path}: currency {currency!r} is not ISO 4217") from exc
        except InvalidOperation as exc:
            raise LoyaltyInput(f"{path}: rate {rate!r} of {currency} is not a number > 0") from exc
    for tier in cfg.loyalty.tiers:
        try:
            if Fraction(tier.multiplier) < 0:
                raise ValueError
        except ValueError as exc:
            raise LoyaltyInput(
                f"{path}: tier {tier.name!r} multiplier {tier.multiplier!r} is not a number ≥ 0"
            ) from exc
    return cfg


# -- time -------------------------------------------------------------------------------------


def parse_iso(text: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def add_months(t: dt.datetime, months: int) -> dt.datetime:
    """Calendar months later, the day clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    y, m = divmod(t.month - 1 + months, 12)
    year, month = t.year + y, m + 1
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = (nxt - dt.timedelta(days=1)).day
    return t.replace(year=year, month=month, day=min(t.day, last))


def check_account(account: str) -> str:
    if not isinstance(account, str) or not ACCOUNT.match(account):
        raise LoyaltyInput(f"account {str(account)[:20]!r} is not 8 digits")
    return account


def check_points(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        raise LoyaltyInput(f"points {points!r} must be a whole number from 1 to {MAX_POINTS}")
    return points


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


# -- the ledger, inside a caller's transaction --------------------------------------------------


class Book:
    """Ledger operations inside one open session/transaction (the ingest uses it within
    the sale's own transaction). Each starts by locking the account row."""

    def __init__(self, session: Session, settings: LoyaltySettings, at: dt.datetime) -> None:
        self.session = session
        self.settings = settings
        self.at = at
        self.now = utc_stamp(at)

    def lock(self, account: str) -> LoyaltyAccount:
        """The account's row, made if new, locked for this transaction; due lots expired."""
        s = self.session
        ins = upsert_insert(s, LoyaltyAccount).values(
            account=account, balance=0, overdrawn=0, issue=0, next_expiry=None, updated_at=self.now
        )
        s.execute(ins.on_conflict_do_nothing(index_elements=["account"]))
        acct = s.execute(
            select(LoyaltyAccount)
            .where(LoyaltyAccount.account == account)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
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
        since = utc_stamp(add_months(self.at, -12))
        total = self.session.scalar(
            select(func.coalesce(func.sum(LoyaltyEntry.spend), 0)).where(
                LoyaltyEntry.account == account, LoyaltyEntry.at > since
            )
        )
        return int(total or 0)

    def tier(self, account: str) -> Tier | None:
        return self.settings.tier_for(self.spend_12m(account))

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
        earned = parse_iso(since) or self.at
        months = self.settings.expiry_months
        expires = utc_stamp(add_months(earned, months)) if months else None
        lot = LoyaltyLot(
            entry=entry.id,
            account=acct.account,
            points=points,
            remaining=points - cover,
            earned_at=utc_stamp(earned),
            expires_at=expires,
            source=entry.source,
        )
        self.session.add(lot)
        self.session.flush()
        if cover:
            self.session.add(LoyaltyAllocation(entry=entry.id, lot=lot.id, points=cover))
        if lot.remaining and expires and (acct.next_expiry is None or expires < acct.next_expiry):
            acct.next_expiry = expires

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

    def _reservation(self, rid: str) -> LoyaltyReservation:
        r = self.session.get(LoyaltyReservation, rid)
        if r is None:
            raise LoyaltyRefused(f"reservation {rid[:40]!r} is unknown")
        self.lock(r.account)
        self.session.refresh(r)
        return r

    def release(self, rid: str) -> Hold:
        r = self._reservation(rid)
        if r.state == "held":
            r.state = "released"
        return _hold(r)

    def keep(self, rid: str, sale_id: str | None, ttl: float) -> Hold:
        """The till completed its sale: hold the points until the record is ingested."""
        r = self._reservation(rid)
        if r.state != "held" or r.expires_at <= self.now:
            raise LoyaltyRefused(f"reservation {rid} is {_state(r, self.now)}, not held")
        r.expires_at = utc_stamp(self.at + dt.timedelta(seconds=ttl))
        if sale_id:
            r.sale_id = sale_id
        return _hold(r)

    # -- a journal record ---------------------------------------------------------------------

    def apply_record(self, record: Record) -> None:
        """Settle a sale's or refund's loyalty part. Never raises on content: the sale is
        a fact already (maybe made offline), so it is recorded, overdrawing if it must."""
        lo = record.loyalty
        if lo is None or record.kind not in ("sale", "refund"):
            return
        if not ACCOUNT.match(lo.account):
            log.warning("sale %s: account %r is not 8 digits", record.sale_id, lo.account[:20])
            return
        if record.kind == "sale":
            self._sale(record)
        else:
            self._refund(record)

    def _sale(self, record: Record) -> None:
        lo = record.loyalty
        assert lo is not None
        account, sid = lo.account, record.sale_id
        source = f"sale:{sid}"
        points_money = sum(t.amount for t in record.tenders if t.type == "points")
        paid = max(record.total - points_money, 0)
        if lo.redeemed > 0:
            acct = self.lock(account)
            hold = self._hold_for(record)
            if hold is not None:
                hold.state = "committed"
            # The hold is consumed by this entry: it stops counting against the balance.
            change = self.redeem(
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
        base = self.settings.to_base(paid, record.currency)
        mult = self.settings.multiplier(self.tier(account))
        if base is None:
            # No rate for this currency: the till's own figure, rather than nothing.
            log.warning("no rate for %s in [loyalty.rates]; using the till's earn", record.currency)
            points, spend = int(lo.earned * mult), 0
        else:
            points, spend = self.settings.points_for(base, mult), base
        self.earn(
            account,
            points,
            f"{source}:earn",
            source=source,
            spend=spend,
            since=record.ts,
            detail={
                "paid": paid,
                "currency": record.currency,
                "multiplier": str(mult),
                "till_earned": lo.earned,
                "offline": lo.offline,
                "device": record.device,
            },
        )

    def _hold_for(self, record: Record) -> LoyaltyReservation | None:
        lo = record.loyalty
        assert lo is not None
        rid = lo.reservation
        where = (
            LoyaltyReservation.id == rid if rid else (LoyaltyReservation.sale_id == record.sale_id)
        )
        return self.session.scalar(
            select(LoyaltyReservation).where(where, LoyaltyReservation.state == "held")
        )

    def _refund(self, record: Record) -> None:
        lo = record.loyalty
        assert lo is not None
        account, sid, orig = lo.account, record.sale_id, record.refund_of or ""
        source = f"sale:{sid}"
        back_money = sum(abs(t.amount) for t in record.tenders if t.type == "points")
        refunded = max(abs(record.total) - back_money, 0)
        earned = self.seen(f"sale:{orig}:earn") if orig else None
        self.lock(account)
        if earned is not None and earned.account == account:
            # Keep floor(L × unrefunded / paid) of the L points earned: over several
            # partial refunds the reversals add up to exactly L once all is refunded.
            paid = int(earned.detail.get("paid", 0))
            before = paid - self._refunded(account, orig)
            after = max(before - refunded, 0)
            kept = lambda money: earned.points * money // paid if paid else 0  # noqa: E731
            points = kept(before) - kept(after)
            base_spend = earned.spend * (before - after) // paid if paid else 0
            lot_entry: int | None = earned.id
        else:
            points, base_spend, lot_entry = abs(lo.earned), 0, None
        self.reverse(
            account,
            max(points, 0),
            f"{source}:reverse",
            source=f"refund_of:{orig}",
            lot_entry=lot_entry,
            spend=base_spend,
            detail={"paid": refunded, "refund_of": orig, "till_earned": lo.earned},
        )
        # The till writes a refund's points negative (given back); older tests wrote them
        # positive: the size is what counts.
        if lo.redeemed:
            points = abs(lo.redeemed)
            spent = self.seen(f"sale:{orig}:redeem") if orig else None
            if spent is not None:
                given = self.session.scalar(
                    select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
                        LoyaltyEntry.account == account,
                        LoyaltyEntry.kind == "giveback",
                        LoyaltyEntry.source == f"refund_of:{orig}",
                    )
                )
                points = max(min(points, -spent.points - int(given or 0)), 0)
            self.give_back(
                account,
                points,
                f"{source}:giveback",
                source=f"refund_of:{orig}",
                detail={"refund_of": orig, "till_redeemed": lo.redeemed},
            )

    def _refunded(self, account: str, orig: str) -> int:
        rows = self.session.scalars(
            select(LoyaltyEntry.detail).where(
                LoyaltyEntry.account == account,
                LoyaltyEntry.kind == "reverse",
                LoyaltyEntry.source == f"refund_of:{orig}",
            )
        )
        return sum(int(d.get("paid", 0)) for d in rows)


def _change(e: LoyaltyEntry, replayed: bool) -> Change:
    return Change(e.id, e.key, e.kind, e.points, e.balance, replayed, dict(e.detail or {}))


def _state(r: LoyaltyReservation, now: str) -> str:
    return "expired" if r.state == "held" and r.expires_at <= now else r.state


# -- the ledger, each call its own transaction ------------------------------------------------


class Ledger:
    """The points ledger over an engine: balances, earn and redeem, holds, and the answers
    to the tills' `loyalty/request`s. `clock` is injectable so tests can move time."""

    def __init__(
        self,
        engine: Engine,
        settings: LoyaltySettings | None = None,
        *,
        vault: Vault | None = None,
        privacy: PrivacySettings | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.engine = engine
        self.settings = settings or LoyaltySettings()
        self.vault = vault
        self.privacy = privacy
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
            return self.settings.tier_for(spend), spend

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
        base = self.settings.to_base(amount, currency)
        if base is None:
            raise LoyaltyInput(f"currency {currency!r} has no rate in [loyalty.rates]")
        with Session(self.engine) as session, session.begin():
            book = self._book(session)
            mult = self.settings.multiplier(book.tier(account))
            points = self.settings.points_for(base, mult)
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

    def release(self, reservation: str) -> Hold:
        with Session(self.engine) as session, session.begin():
            return self._book(session).release(reservation)

    def keep(self, reservation: str, sale_id: str | None = None) -> Hold:
        with Session(self.engine) as session, session.begin():
            return self._book(session).keep(reservation, sale_id, self.settings.commit_ttl)

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

    # -- MQTT ---------------------------------------------------------------------------------

    def answer(self, req: LoyaltyRequest, device: str) -> LoyaltyResponse:
        """The response to a till's `loyalty/request` (never raises on the request's content)."""
        try:
            return self._answer(req, device)
        except (LoyaltyRefused, CollectorInput) as exc:  # LoyaltyInput, CustomerInput
            return LoyaltyResponse(corr=req.corr, ok=False, error=str(exc))

    def _answer(self, req: LoyaltyRequest, device: str) -> LoyaltyResponse:
        if req.op == "enrol":
            return self._enrol(req, device)
        account = check_account(req.account)
        card = req.card
        issue: int | None = None
        if card:
            parsed = loyalty_card(card)
            if parsed is None or parsed.account != account:
                raise LoyaltyInput(f"card {card[:20]!r} is not a loyalty card of {account}")
            issue = parsed.issue
        if req.op == "balance":
            bal = self.balance(account)
            _check_issue(account, issue, bal.issue)
            return LoyaltyResponse(
                corr=req.corr,
                ok=True,
                balance=bal.available,
                first_name=self._first_name(account),
            )
        if req.op == "summary":
            bal = self.balance(account)
            _check_issue(account, issue, bal.issue)
            return self._summary(req.corr, account, bal.available)
        if req.op == "reserve":
            bal = self.balance(account)
            _check_issue(account, issue, bal.issue)
            hold = self.reserve(
                account, req.points, device, key=f"hold:{device}:{req.corr}", sale_id=req.sale_id
            )
            return LoyaltyResponse(
                corr=req.corr,
                ok=True,
                balance=self.balance(account).available,
                reservation=hold.id,
            )
        rid = req.reservation or self._by_sale(req.sale_id)
        if not rid:
            raise LoyaltyInput(f"{req.op} needs the reservation id (or the sale_id it was for)")
        hold = self.release(rid) if req.op == "release" else self.keep(rid, req.sale_id)
        return LoyaltyResponse(
            corr=req.corr,
            ok=True,
            balance=self.balance(hold.account).available,
            reservation=hold.id,
        )

    def _summary(self, corr: str, account: str, available: int) -> LoyaltyResponse:
        """The kiosk's view: balance and name, the last purchases with the points each
        made, rewards within reach and points expiring within EXPIRY_NOTICE."""
        at = self.clock()
        with Session(self.engine) as session:
            bought = last_purchases(session, account, SUMMARY_PURCHASES)
            keys = [f"sale:{p['sale_id']}:{k}" for p in bought for k in ("earn", "reverse")]
            points: dict[str, int] = {}
            for key, pts in session.execute(
                select(LoyaltyEntry.key, LoyaltyEntry.points).where(LoyaltyEntry.key.in_(keys))
            ):
                sid = key.split(":")[1]
                points[sid] = points.get(sid, 0) + int(pts)
            due: dict[str, int] = {}
            for expires, left in session.execute(
                select(LoyaltyLot.expires_at, LoyaltyLot.remaining)
                .where(
                    LoyaltyLot.account == account,
                    LoyaltyLot.remaining > 0,
                    LoyaltyLot.expires_at > utc_stamp(at),
                    LoyaltyLot.expires_at <= utc_stamp(at + EXPIRY_NOTICE),
                )
                .order_by(LoyaltyLot.expires_at)
            ):
                day = str(expires)[:10]
                due[day] = due.get(day, 0) + int(left)
        return LoyaltyResponse(
            corr=corr,
            ok=True,
            balance=available,
            first_name=self._first_name(account),
            purchases=[
                LoyaltyPurchase(
                    date=str(p["ts"])[:10],
                    store=p["store"],
                    total=int(p["total"]),
                    currency=p["currency"],
                    points=points.get(p["sale_id"], 0),
                )
                for p in bought
            ],
            rewards=[
                LoyaltyReward(r.title, r.points) for r in self.settings.within_reach(available)
            ],
            expiring=[LoyaltyExpiry(points=n, on=day) for day, n in due.items()],
        )

    def _enrol(self, req: LoyaltyRequest, device: str) -> LoyaltyResponse:
        # customers.py builds on this module, so it is imported here, not at the top.
        from collector.customers import enrol

        if req.enrolment is None:
            raise LoyaltyInput("enrol needs the new customer's details (enrolment)")
        if self.vault is None:
            self.vault = Vault.from_settings(self.privacy)  # the first customer makes the key
        made = enrol(
            self.engine,
            self.vault,
            req.enrolment,
            source=f"kiosk:{device}",
            key=f"enrol:{device}:{req.corr}",
            at=self.clock(),
        )
        return LoyaltyResponse(
            corr=req.corr,
            ok=True,
            balance=self.balance(made.account).available,
            first_name=req.enrolment.first_names.split(" ")[0] or None,
            account=made.account,
            card=made.card,
        )

    def _by_sale(self, sale_id: str | None) -> str | None:
        if not sale_id:
            return None
        with Session(self.engine) as session:
            return session.scalar(
                select(LoyaltyReservation.id).where(
                    LoyaltyReservation.sale_id == sale_id, LoyaltyReservation.state == "held"
                )
            )

    def _first_name(self, account: str) -> str | None:
        if self.vault is None:
            # The master key may be made later (the first customer import): look again.
            self.vault = Vault.existing(self.privacy)
        if self.vault is None:
            return None
        with Session(self.engine) as session:
            data = self.vault.read(session, account)
        if not data:
            return None
        return str(data.get("first_names", "")).split(" ")[0] or None


def _check_issue(account: str, asked: int | None, current: int) -> None:
    if asked is not None and asked < current:
        raise LoyaltyRefused(
            f"card issue {asked:02d} of account {account} is blocked: it was replaced by issue "
            f"{current:02d}; take the new card (or `collector customers card` for another)"
        )


def apply_record(session: Session, record: Record, settings: LoyaltySettings) -> None:
    """The ingest's hook: settle `record`'s loyalty part in the sale's own transaction."""
    Book(session, settings, dt.datetime.now(dt.UTC)).apply_record(record)


def last_purchases(session: Session, account: str, limit: int = 10) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Sale.sale_id, Sale.kind, Sale.ts, Sale.store, Sale.total, Sale.currency)
        .where(Sale.account == account)
        .order_by(Sale.ts.desc())
        .limit(limit)
    ).all()
    return [
        {"sale_id": r[0], "kind": r[1], "ts": r[2], "store": r[3], "total": r[4], "currency": r[5]}
        for r in rows
    ]
