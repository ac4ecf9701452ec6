"""The points rules, pure: what a payment earns (in the base currency, times the tier's
multiplier, rounded down), which tier 12 months' spend reaches, when a lot expires, what
a refund takes back and gives back in proportion, and which rewards are within reach.
No database and no clock: the book and the settlement call these with what they read.
The numbers come from `[loyalty]` of the collector config (collector.config).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from collector.config import LoyaltySection, Reward, Tier
from collector.errors import CollectorError, CollectorInput
from protocol.limits import MAX_POINTS
from protocol.money import exponent
from protocol.record import Record

REWARDS_SHOWN = 3  # rewards a kiosk's summary lists
TIER_MONTHS = 12  # the spend that reaches a tier is this many months'


class LoyaltyError(CollectorError):
    """A loyalty operation could not be done; the message says why."""


class LoyaltyRefused(LoyaltyError):
    """Refused by the rules: not enough points, a blocked card, an unknown reservation."""


class LoyaltyInput(CollectorInput):
    """An amount, currency or request we refuse (exit 2; `ok: false` to a till)."""


def check_points(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        raise LoyaltyInput(f"points {points!r} must be a whole number from 1 to {MAX_POINTS}")
    return points


# -- earning ------------------------------------------------------------------------------


def tier_for(rules: LoyaltySection, spend: int) -> Tier | None:
    """The highest tier that `spend` (base minor units, the last 12 months) reaches."""
    reached = [t for t in rules.tiers if spend >= t.spend]
    return max(reached, key=lambda t: t.spend) if reached else None


def multiplier(tier: Tier | None) -> Fraction:
    return Fraction(tier.multiplier) if tier else Fraction(1)


def to_base(rules: LoyaltySection, amount: int, currency: str) -> int | None:
    """Minor units of `currency` in base minor units (ROUND_HALF_UP); None: no rate."""
    if currency == rules.base_currency:
        return amount
    rate = rules.rates.get(currency)
    if rate is None:
        return None
    scale = Decimal(10) ** (exponent(rules.base_currency) - exponent(currency))
    value = Decimal(amount) * Decimal(rate) * scale
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def points_for(rules: LoyaltySection, base_minor: int, times: Fraction) -> int:
    """floor(paid / 10^exponent × points_per_unit × multiplier)."""
    if base_minor <= 0:
        return 0
    exact = Fraction(base_minor * rules.points_per_unit, 10 ** exponent(rules.base_currency))
    return int(exact * times)


def paid(record: Record) -> int:
    """The money a sale took, less what points paid (change handed back is not paid); of
    a refund, the money it gave back (a positive amount, as its points tenders are)."""
    if record.kind == "refund":
        back = sum(abs(t.amount) for t in record.tenders if t.type == "points")
        return max(abs(record.total) - back, 0)
    points_money = sum(t.amount for t in record.tenders if t.type == "points")
    return max(record.total - points_money, 0)


# -- time -----------------------------------------------------------------------------------


def add_months(t: dt.datetime, months: int) -> dt.datetime:
    """Calendar months later, the day clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    y, m = divmod(t.month - 1 + months, 12)
    year, month = t.year + y, m + 1
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = (nxt - dt.timedelta(days=1)).day
    return t.replace(year=year, month=month, day=min(t.day, last))


def expires(rules: LoyaltySection, earned: dt.datetime) -> dt.datetime | None:
    """When a lot earned at `earned` expires; None when points never do."""
    return add_months(earned, rules.expiry_months) if rules.expiry_months else None


def tier_window(at: dt.datetime) -> dt.datetime:
    """Spend after this moment counts towards the tier at `at`."""
    return add_months(at, -TIER_MONTHS)


# -- refunds ----------------------------------------------------------------------------------


def reversal(earned: int, paid_money: int, before: int, after: int) -> int:
    """Points a refund takes back of the `earned` points of a sale that was `paid_money`,
    when what is left unrefunded goes from `before` to `after`. The sale keeps
    floor(earned × unrefunded / paid), so over several partial refunds the reversals add
    up to exactly `earned` once all is refunded."""
    if not paid_money:
        return 0

    def kept(money: int) -> int:
        return earned * money // paid_money

    return max(kept(before) - kept(after), 0)


def spend_reversal(spend: int, paid_money: int, before: int, after: int) -> int:
    """The part of a sale's tier `spend` that a refund takes back (floor, in proportion)."""
    return spend * (before - after) // paid_money if paid_money else 0


def giveback(asked: int, redeemed: int | None, given: int) -> int:
    """Redeemed points a refund gives back: what the refund record says, but never more
    than the sale redeemed less what earlier refunds gave back (`redeemed` None: the sale
    is not known here, so the record's figure stands)."""
    if redeemed is None:
        return asked
    return max(min(asked, redeemed - given), 0)


# -- what the kiosk shows -----------------------------------------------------------------


def within_reach(rewards: list[Reward], balance: int) -> list[Reward]:
    """The dearest reward `balance` affords now, then the next ones up: what is worth
    saving for, not a list of everything already affordable."""
    ordered = sorted(rewards, key=lambda r: r.points)
    have = [r for r in ordered if r.points <= balance][-1:]
    return have + [r for r in ordered if r.points > balance][: REWARDS_SHOWN - len(have)]
