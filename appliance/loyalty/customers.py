"""A loyalty customer as the unit sees one: what the till, the customer display and the
kiosk need to know, and the `LoyaltyLookup` they ask.

The collector holds balances and customer data and answers over MQTT; the till's
`LoyaltyAuthoriser` (appliance/loyalty/authoriser.py) asks it. `OfflineLoyalty` answers
honestly that the balance is only available online. The screens depend on the
`LoyaltyLookup` protocol alone, so either fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from protocol.cards import loyalty_card


@dataclass(frozen=True)
class Purchase:
    """One past purchase as the kiosk lists it."""

    date: str  # ISO date, as the collector sends it
    total: int  # minor units of `currency` (negative: a refund)
    points: int  # earned (negative when a refund took them back)
    store: str = ""
    currency: str = ""  # "": the till's own


@dataclass(frozen=True)
class Reward:
    """A reward and how many points it takes."""

    name: str
    points: int


@dataclass(frozen=True)
class ExpiringPoints:
    points: int
    on: str  # ISO date


@dataclass(frozen=True)
class CustomerSummary:
    """One customer as the screens show them; None fields mean "not known right now"."""

    account: str
    first_name: str | None = None
    balance: int | None = None
    purchases: tuple[Purchase, ...] = ()
    rewards: tuple[Reward, ...] = ()
    expiring: tuple[ExpiringPoints, ...] = ()
    offline: bool = False

    def within_reach(self, limit: int = 3) -> list[Reward]:
        """Rewards the customer can nearly or already afford, cheapest first."""
        if self.balance is None:
            return []
        return sorted(self.rewards, key=lambda r: r.points)[:limit]


@dataclass(frozen=True)
class Enrolment:
    """What the kiosk's form collects. `consent` is the marketing opt-in, asked explicitly."""

    first_names: str
    surname: str
    email: str = ""
    consent: bool = False
    terms_accepted: bool = False


@dataclass(frozen=True)
class EnrolResult:
    """The collector's answer to an enrolment: the new account and card code when `ok`."""

    ok: bool
    message: str
    account: str | None = None
    card: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class LoyaltyLookup(Protocol):
    """Where the screens get customer data; an implementation must never block the loop."""

    async def summary(self, card: str) -> CustomerSummary:
        """What the kiosk shows for a scanned loyalty card (a valid card number)."""
        ...

    async def enrol(self, form: Enrolment) -> EnrolResult: ...


class OfflineLoyalty:
    """No collector to ask: the account is known, nothing else.

    Enrolment is refused rather than kept here: accounts are allocated by the collector,
    and personal data should not sit on a countertop unit waiting for a network.
    """

    async def summary(self, card: str) -> CustomerSummary:
        found = loyalty_card(card)
        return CustomerSummary(account=found.account if found else "", offline=True)

    async def enrol(self, form: Enrolment) -> EnrolResult:
        return EnrolResult(
            ok=False,
            message="We cannot register you right now: the shop is offline. "
            "Please ask at the till.",
        )
