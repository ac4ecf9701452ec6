"""Money: integer minor units, exact fractions, ROUND_HALF_UP. Never floats."""

from __future__ import annotations

import re
from fractions import Fraction

from protocol.errors import BadInput
from protocol.limits import MAX_MINOR

# ISO 4217 minor-unit exponents for the currencies a shop may trade in.
# (Written out: the stdlib has no currency table and babel is far too big for this.)
EXPONENTS: dict[str, int] = {
    "EUR": 2, "GBP": 2, "USD": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2,
    "CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "CAD": 2, "AUD": 2, "NZD": 2, "MXN": 2,
    "BRL": 2, "ZAR": 2, "INR": 2, "CNY": 2, "HKD": 2, "SGD": 2, "TRY": 2, "ILS": 2,
    "ISK": 0, "JPY": 0, "KRW": 0, "CLP": 0, "VND": 0, "XOF": 0, "XAF": 0,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}  # fmt: skip

_AMOUNT = re.compile(r"^(?P<sign>-?)(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?$")
_RATE = re.compile(r"^[0-9]{1,2}(?:\.[0-9]{1,3})?$|^100$")


def exponent(currency: str) -> int:
    """The minor-unit exponent of an ISO 4217 code; ValueError when unknown."""
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r}") from None


def round_half_up(value: Fraction | int) -> int:
    """Round to the nearest integer, halves away from zero (ROUND_HALF_UP)."""
    v = Fraction(value)
    sign = -1 if v < 0 else 1
    a = abs(v)
    return sign * int((a.numerator * 2 + a.denominator) // (a.denominator * 2))


class AmountError(BadInput, ValueError):
    """An amount that is not one: the message says why, in one line."""


def parse_major(text: str, exp: int) -> int:
    """`"2.49"` with exponent 2 -> 249. AmountError (a ValueError) with a short reason on
    anything else: `"1,20"`, `"1e5"`, `"NaN"`, more decimals than the currency has, or
    more than MAX_MINOR."""
    s = text.strip()
    m = _AMOUNT.match(s) if len(s) <= 24 else None
    if not m:
        raise AmountError(f'"{text[:40]}" is not a number')
    frac = m["frac"] or ""
    if len(frac) > exp:
        raise AmountError(f'"{text}" has more than {exp} decimals')
    minor = int(m["int"]) * 10**exp + int(frac.ljust(exp, "0") or "0")
    if minor > MAX_MINOR:
        raise AmountError(f'"{text}" is over the largest amount, {format_minor(MAX_MINOR, exp)}')
    return -minor if m["sign"] else minor


def format_minor(amount: int, exp: int) -> str:
    """249 with exponent 2 -> `"2.49"`; -5 -> `"-0.05"`."""
    sign = "-" if amount < 0 else ""
    a = abs(amount)
    if exp == 0:
        return f"{sign}{a}"
    return f"{sign}{a // 10**exp}.{a % 10**exp:0{exp}d}"


def parse_rate(text: str) -> Fraction:
    """A tax rate in percent as written in the catalog (`"20"`, `"5.5"`, `"0"`)."""
    s = text.strip()
    if not _RATE.match(s):
        raise ValueError(f'tax rate "{text}" is not a percent between 0 and 100')
    return Fraction(s)


def canonical_rate(text: str) -> str:
    """The one spelling of a rate used in records: `"5.50"` -> `"5.5"`, `"20.0"` -> `"20"`."""
    r = parse_rate(text)
    if r.denominator == 1:
        return str(r.numerator)
    whole, rest = divmod(r.numerator * 1000 // r.denominator, 1000)
    return f"{whole}.{rest:03d}".rstrip("0")
