"""Loyalty cards: `29` + issue + account + check digit (protocol.cards). An account's
first card is issue 00; a replacement takes the next issue and blocks every older one
(a till scanning a blocked card is refused)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.customers.accounts import CustomerInput, check_account, lock_account
from collector.models import LoyaltyAccount, LoyaltyCard
from protocol.cards import make_loyalty_card
from protocol.timestamps import utc_stamp

MAX_ISSUE = 99  # two digits on the card


def first_card(session: Session, account: str, at: str) -> str:
    """The card of the account's current issue, made if it has none yet."""
    acct = session.get(LoyaltyAccount, account)
    issue = acct.issue if acct else 0
    card = session.get(LoyaltyCard, (account, issue))
    if card is not None:
        return card.code
    code = make_loyalty_card(account, issue)
    session.add(LoyaltyCard(account=account, issue=issue, code=code, issued_at=at))
    return code


def issue_card(engine: Engine, account: str) -> str:
    """A replacement card (next issue number); every older issue is blocked from now."""
    check_account(account)
    at = utc_stamp()
    with Session(engine) as s, s.begin():
        acct = lock_account(s, account, at)
        first_card(s, account, at)
        if acct.issue >= MAX_ISSUE:
            raise CustomerInput(f"account {account} has had 100 cards; open a new account")
        acct.issue += 1
        for card in s.scalars(select(LoyaltyCard).where(LoyaltyCard.account == account)):
            if card.blocked_at is None:
                card.blocked_at = at
        code = make_loyalty_card(account, acct.issue)
        s.add(LoyaltyCard(account=account, issue=acct.issue, code=code, issued_at=at))
    return code


def cards(session: Session, account: str) -> list[dict[str, Any]]:
    """Every card of `account`, by issue: code, when issued, whether blocked."""
    return [
        {
            "issue": c.issue,
            "code": c.code,
            "issued_at": c.issued_at,
            "blocked": c.blocked_at is not None,
        }
        for c in session.scalars(
            select(LoyaltyCard).where(LoyaltyCard.account == account).order_by(LoyaltyCard.issue)
        )
    ]
