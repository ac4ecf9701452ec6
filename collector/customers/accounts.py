"""Account numbers, and the account's row.

An account is 8 digits; its row in `loyalty_accounts` holds the current card issue (and
the ledger's stored balance). Every change to an account, a card issued as much as a
point earned, first locks that row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
`BEGIN IMMEDIATE` serialises writers), so two changes to one account never interleave.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.errors import CollectorInput
from collector.models import Customer, LoyaltyAccount, LoyaltyCard
from collector.upsert import upsert_insert

# \Z, not $: $ also matches before a final newline, and "00000001\n" became an account of
# its own when a sale's loyalty part named it (found by the fuzz harness).
ACCOUNT = re.compile(r"^[0-9]{8}\Z")
# The same rule as a JSON Schema / pydantic pattern: those are Rust regexes (pydantic-core),
# where $ is the end of the text only and \Z is no escape at all.
ACCOUNT_PATTERN = "^[0-9]{8}$"


class CustomerInput(CollectorInput):
    """A customer file, row, account number or enrolment form we refuse; nothing is
    written."""


def check_account(account: str) -> str:
    """`account` when it is 8 digits; CustomerInput otherwise."""
    if not isinstance(account, str) or not ACCOUNT.match(account):
        raise CustomerInput(f"account {str(account)[:20]!r} is not 8 digits")
    return account


def lock_account(session: Session, account: str, at: str) -> LoyaltyAccount:
    """The account's row, made (empty) if new, locked for this transaction."""
    ins = upsert_insert(session, LoyaltyAccount).values(
        account=account, balance=0, overdrawn=0, issue=0, next_expiry=None, updated_at=at
    )
    session.execute(ins.on_conflict_do_nothing(index_elements=["account"]))
    return session.execute(
        select(LoyaltyAccount)
        .where(LoyaltyAccount.account == account)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def claim_account(session: Session, at: str) -> str:
    """The next account number after every one in use, its row made. Two kiosks
    enrolling at once both try the same number: the insert that finds the row made does
    nothing, and that one moves on to the next."""
    highest = 0
    for model in (LoyaltyAccount, Customer, LoyaltyCard):
        # Digits only: erased accounts become "erased-…", which sorts after "99999999".
        top = session.scalar(select(func.max(model.account)).where(model.account <= "99999999"))
        if top and ACCOUNT.match(top):
            highest = max(highest, int(top))
    for n in range(highest + 1, 10**8):
        account = f"{n:08d}"
        ins = upsert_insert(session, LoyaltyAccount).values(
            account=account, balance=0, overdrawn=0, issue=0, next_expiry=None, updated_at=at
        )
        ins = ins.on_conflict_do_nothing(index_elements=["account"])
        if session.scalar(ins.returning(LoyaltyAccount.account)) is not None:
            return account
    raise CustomerInput("every 8-digit account number is in use; the chain needs a new scheme")
