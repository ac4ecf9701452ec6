"""Retail barcodes: EAN-13, EAN-8 and UPC-A check digits, and loyalty cards.

A loyalty card is an EAN-13 in the in-store range `29`: `29` + issue (2 digits) +
account (8 digits) + check digit. Account `00000001`, first issue -> `2900000000018`.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import BadInput

LOYALTY_PREFIX = "29"
_LENGTHS = {13: "ean13", 8: "ean8", 12: "upca"}


class BarcodeError(BadInput):
    """A code that is not a valid EAN-13, EAN-8 or UPC-A."""


@dataclass(frozen=True)
class LoyaltyCard:
    account: str  # 8 digits
    issue: int  # 0..99; a newer issue of the same account blocks older cards
    code: str


def ean_check_digit(body: str) -> int:
    """Check digit for the digits before it (GS1 mod 10, weights 3,1 from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate(code: str) -> str:
    """Return the symbology of a valid code; BarcodeError saying why otherwise."""
    if not code.isascii() or not code.isdigit():
        raise BarcodeError(f"barcode {code[:40]!r} has characters other than digits")
    kind = _LENGTHS.get(len(code))
    if kind is None:
        raise BarcodeError(f"barcode {code[:40]!r} has {len(code)} digits (need 8, 12 or 13)")
    if ean_check_digit(code[:-1]) != int(code[-1]):
        raise BarcodeError(f"barcode {code!r} has a wrong check digit")
    return kind


def lookup_key(code: str) -> str:
    """The key items are filed under: UPC-A is EAN-13 with a leading zero."""
    return "0" + code if len(code) == 12 else code


def loyalty_card(code: str) -> LoyaltyCard | None:
    """The card a (valid) code stands for, or None when it is not a loyalty card."""
    if len(code) != 13 or not code.startswith(LOYALTY_PREFIX) or not code.isdigit():
        return None
    return LoyaltyCard(account=code[4:12], issue=int(code[2:4]), code=code)


def make_loyalty_card(account: str, issue: int = 0) -> str:
    """The EAN-13 printed on issue `issue` of `account`'s card."""
    if len(account) != 8 or not account.isdigit() or not 0 <= issue <= 99:
        raise BarcodeError(f"account {account!r} issue {issue} cannot be a card")
    body = f"{LOYALTY_PREFIX}{issue:02d}{account}"
    return body + str(ean_check_digit(body))
