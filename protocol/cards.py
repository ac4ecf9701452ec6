"""Loyalty card numbers, as the till scans them and the collector issues them.

A card is an EAN-13 in the in-store range `29`: `29` + issue (2 digits) + account
(8 digits) + check digit. Account `00000001`, first issue -> `2900000000018`. A newer
issue of the same account blocks the older cards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocol.errors import BadInput

LOYALTY_PREFIX = "29"
ACCOUNT = re.compile(r"^[0-9]{8}\Z")  # \Z: $ would take "00000001\n"


class CardError(BadInput):
    """An account and issue that cannot make a card number."""


@dataclass(frozen=True)
class LoyaltyCard:
    account: str  # 8 digits
    issue: int  # 0..99; a newer issue of the same account blocks older cards
    code: str


def ean_check_digit(body: str) -> int:
    """Check digit for the digits before it (GS1 mod 10, weights 3,1 from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def loyalty_card(code: str) -> LoyaltyCard | None:
    """The card a code stands for, or None when it is not a valid loyalty card number."""
    if len(code) != 13 or not code.startswith(LOYALTY_PREFIX) or not code.isdigit():
        return None
    if not code.isascii() or ean_check_digit(code[:-1]) != int(code[-1]):
        return None
    return LoyaltyCard(account=code[4:12], issue=int(code[2:4]), code=code)


def make_loyalty_card(account: str, issue: int = 0) -> str:
    """The EAN-13 printed on issue `issue` of `account`'s card."""
    if not ACCOUNT.match(account) or not 0 <= issue <= 99:
        raise CardError(f"account {account!r} issue {issue} cannot be a card")
    body = f"{LOYALTY_PREFIX}{issue:02d}{account}"
    return body + str(ean_check_digit(body))
