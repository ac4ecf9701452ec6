"""The collector's answers to the tills' and kiosks' `loyalty/request`s (docs/loyalty.md,
"Reservation protocol"): balance and first name for a scanned card, holds for a redeem
(reserve, release, commit), the kiosk's summary of a card's account, and enrolment of a
new customer. Requests name the scanned card, never a bare account; a card whose issue
was replaced is refused; a hold is let go or kept only by the device that made it. A
refusal or bad input is an answer with `ok: false` and the reason, never an exception.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from collector.config import PrivacySection
from collector.customers.enrolment import enrol
from collector.customers.master_data import last_purchases
from collector.customers.privacy import Vault
from collector.errors import CollectorInput
from collector.loyalty.ledger import Ledger
from collector.loyalty.rules import LoyaltyInput, LoyaltyRefused, within_reach
from protocol.cards import LoyaltyCard, loyalty_card
from protocol.messages import (
    LoyaltyExpiry,
    LoyaltyPurchase,
    LoyaltyRequest,
    LoyaltyResponse,
    LoyaltyReward,
)
from protocol.text import control_character

MAX_CORR = 64  # a request's corr: `hold:<device>:<corr>` fits its 200-character key
MAX_ID = 64  # a sale_id, reservation id or card number (a hold's sale_id column is 64)
SUMMARY_PURCHASES = 5  # past purchases a `summary` lists
EXPIRY_NOTICE = dt.timedelta(days=30)  # lots expiring this soon are listed in a `summary`


class Answers:
    """Answers `loyalty/request`s from the ledger and the customers' data. The vault (the
    customers' sealed names) is opened on first need: the master key may be made after
    the collector started, by the first customer import or enrolment."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        vault: Vault | None = None,
        privacy: PrivacySection | None = None,
    ) -> None:
        self.ledger = ledger
        self.vault = vault
        self.privacy = privacy

    def answer(self, req: LoyaltyRequest, device: str) -> LoyaltyResponse:
        """The response to a till's `loyalty/request` (never raises on the request's content)."""
        try:
            return self._answer(req, device)
        except (LoyaltyRefused, CollectorInput) as exc:  # LoyaltyInput, CustomerInput
            return LoyaltyResponse(corr=req.corr, ok=False, error=str(exc))

    def _answer(self, req: LoyaltyRequest, device: str) -> LoyaltyResponse:
        ledger = self.ledger
        for name, value, limit in (
            ("corr", req.corr, MAX_CORR),
            ("sale_id", req.sale_id, MAX_ID),
            ("reservation", req.reservation, MAX_ID),
            ("card", req.card, MAX_ID),
        ):
            _check_id(name, value, limit)
        if req.op == "enrol":
            return self._enrol(req, device)
        if req.op in ("release", "commit"):
            return self._hold(req, device)
        card = _card(req)
        account, issue = card.account, card.issue
        if req.op == "balance":
            bal = ledger.balance(account)
            _check_issue(account, issue, bal.issue)
            return LoyaltyResponse(
                corr=req.corr,
                ok=True,
                balance=bal.available,
                first_name=self._first_name(account),
            )
        if req.op == "summary":
            bal = ledger.balance(account)
            _check_issue(account, issue, bal.issue)
            return self._summary(req.corr, account, bal.available)
        if req.op == "reserve":
            bal = ledger.balance(account)
            _check_issue(account, issue, bal.issue)
            hold = ledger.reserve(
                account, req.points, device, key=f"hold:{device}:{req.corr}", sale_id=req.sale_id
            )
            return LoyaltyResponse(
                corr=req.corr,
                ok=True,
                balance=ledger.balance(account).available,
                reservation=hold.id,
            )
        raise LoyaltyInput(f"op {req.op!r} is not a loyalty request")  # the Literal allows none

    def _hold(self, req: LoyaltyRequest, device: str) -> LoyaltyResponse:
        """`release` or `commit` of a hold, only from the device that made it."""
        ledger = self.ledger
        rid = req.reservation or ledger.hold_for_sale(req.sale_id)
        if not rid:
            raise LoyaltyInput(f"{req.op} needs the reservation id (or the sale_id it was for)")
        if req.op == "release":
            hold = ledger.release(rid, by=device)
        else:
            hold = ledger.keep(rid, req.sale_id, by=device)
        return LoyaltyResponse(
            corr=req.corr,
            ok=True,
            balance=ledger.balance(hold.account).available,
            reservation=hold.id,
        )

    def _summary(self, corr: str, account: str, available: int) -> LoyaltyResponse:
        """The kiosk's view: balance and name, the last purchases with the points each
        made, rewards within reach and points expiring within EXPIRY_NOTICE."""
        with Session(self.ledger.engine) as session:
            bought = last_purchases(session, account, SUMMARY_PURCHASES)
        points = self.ledger.points_by_sale([p["sale_id"] for p in bought])
        due = self.ledger.expiring(account, EXPIRY_NOTICE)
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
                LoyaltyReward(r.title, r.points)
                for r in within_reach(self.ledger.settings.rewards, available)
            ],
            expiring=[LoyaltyExpiry(points=n, on=day) for day, n in due.items()],
        )

    def _enrol(self, req: LoyaltyRequest, device: str) -> LoyaltyResponse:
        if req.enrolment is None:
            raise LoyaltyInput("enrol needs the new customer's details (enrolment)")
        if self.vault is None:
            self.vault = Vault.from_settings(self.privacy)  # the first customer makes the key
        made = enrol(
            self.ledger.engine,
            self.vault,
            req.enrolment,
            source=f"kiosk:{device}",
            key=f"enrol:{device}:{req.corr}",
            at=self.ledger.clock(),
        )
        return LoyaltyResponse(
            corr=req.corr,
            ok=True,
            balance=self.ledger.balance(made.account).available,
            first_name=req.enrolment.first_names.split(" ")[0] or None,
            account=made.account,
            card=made.card,
        )

    def _first_name(self, account: str) -> str | None:
        if self.vault is None:
            # The master key may be made later (the first customer import): look again.
            self.vault = Vault.existing(self.privacy)
        if self.vault is None:
            return None
        with Session(self.ledger.engine) as session:
            data = self.vault.read(session, account)
        if not data:
            return None
        return str(data.get("first_names", "")).split(" ")[0] or None


def _check_id(name: str, value: str | None, limit: int) -> None:
    """LoyaltyInput unless `value` is short and without control characters: these go
    into keys and columns (`hold:<device>:<corr>`, a hold's sale_id), and PostgreSQL
    refused a NUL or an overlong one with an error that reached the till as "the
    collector could not answer" (found by the fuzz harness)."""
    if value is None:
        return
    if len(value) > limit:
        raise LoyaltyInput(f"{name} is {len(value)} characters long; the most is {limit}")
    if (found := control_character(value)) is not None:
        raise LoyaltyInput(f"{name} {value[:20]!r} has a control character ({found})")


def _card(req: LoyaltyRequest) -> LoyaltyCard:
    """The scanned card a `balance`, `summary` or `reserve` names. A bare account is not
    answered: account numbers are printed on receipts and told over the counter, so
    anyone who saw one could read the customer's name and purchases or hold their
    points. (The card number is not a secret either, being the account with a check
    digit: what keeps strangers out is that only enrolled devices are answered, at a
    bounded rate each; docs/security.md.)"""
    if not req.card:
        raise LoyaltyInput(
            f"{req.op} needs the scanned card number (card); a bare account is not answered"
        )
    card = loyalty_card(req.card)
    if card is None:
        raise LoyaltyInput(f"card {req.card[:20]!r} is not a loyalty card number")
    if req.account and req.account != card.account:
        # A unit may send both; they must agree.
        raise LoyaltyInput(f"card {card.code} is not a loyalty card of {req.account}")
    return card


def _check_issue(account: str, asked: int | None, current: int) -> None:
    if asked is not None and asked < current:
        raise LoyaltyRefused(
            f"card issue {asked:02d} of account {account} is blocked: it was replaced by issue "
            f"{current:02d}; take the new card (or `collector customers card` for another)"
        )
