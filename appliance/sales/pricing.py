"""The contract's money rules, exactly: line and basket discounts, tax per rate, cash rounding.

Everything is integer minor units; fractions appear only inside a calculation and are
rounded once, half up (away from zero, so a refund mirrors its sale to the unit).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from protocol.errors import BadInput
from protocol.money import parse_rate, round_half_up
from protocol.record import TaxRow

Percent = str | int | Fraction

_PERCENT = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,4})?$")


class PricingError(BadInput):
    """A percent or amount the pricing rules cannot take."""


def parse_percent(value: Percent) -> Fraction:
    """A discount percent as written (`"12.5"`, `10`, `Fraction(25, 2)`): 0 < p <= 100."""
    if isinstance(value, bool) or not isinstance(value, str | int | Fraction):
        # floats are refused: 0.1 is not exactly a tenth and money rules must be exact
        raise PricingError(f"percent {value!r} must be written as a decimal number")
    if isinstance(value, str):
        text = value.strip()
        if not _PERCENT.match(text):
            raise PricingError(f'percent "{value}" is not a number like 10 or 12.5')
        p = Fraction(text)
    else:
        p = Fraction(value)
    if not 0 < p <= 100:
        raise PricingError(f"percent {value} is not more than 0 and at most 100")
    return p


def line_discount(unit_price: int, qty: int, percent: Fraction | None) -> int:
    """`round(unit_price × qty × p / 100)`; 0 without a discount."""
    if percent is None:
        return 0
    return round_half_up(Fraction(unit_price * qty) * percent / 100)


def basket_discount(subtotal: int, percent: Fraction | None) -> int:
    """`round(subtotal × p / 100)`, where subtotal is the lines after their own discounts."""
    if percent is None:
        return 0
    return round_half_up(Fraction(subtotal) * percent / 100)


def spread(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` over `weights` in proportion, by largest remainder; parts sum exactly.

    Ties go to the earlier weight. A negative amount is spread as its mirror image.
    """
    if amount < 0:
        return [-part for part in spread(-amount, weights)]
    total = sum(weights)
    if amount == 0 or not weights:
        return [0] * len(weights)
    if total <= 0:
        raise PricingError(f"cannot spread {amount} over lines that sum to {total}")
    parts = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(parts)
    # Sorting is stable, so among equal remainders the earlier line gets the unit first.
    for i in sorted(range(len(weights)), key=lambda i: -remainders[i])[:left]:
        parts[i] += 1
    return parts


def rate_tax(amount: int, rate: str, prices_include_tax: bool) -> int:
    """Tax in `amount` (included: `round(g × r / (100 + r))`) or on it (`round(n × r / 100)`)."""
    r = parse_rate(rate)
    if prices_include_tax:
        return round_half_up(Fraction(amount) * r / (100 + r))
    return round_half_up(Fraction(amount) * r / 100)


def tax_by_rate(lines: Iterable[tuple[str, int]], prices_include_tax: bool) -> list[TaxRow]:
    """One row per rate, by rate, from `(rate, line total)` pairs."""
    sums: dict[str, int] = {}
    for rate, total in lines:
        sums[rate] = sums.get(rate, 0) + total
    return [tax_row(rate, sums[rate], prices_include_tax) for rate in sort_rates(sums)]


def tax_row(rate: str, amount: int, prices_include_tax: bool) -> TaxRow:
    """One rate's base and tax for the sum of its line totals."""
    tax = rate_tax(amount, rate, prices_include_tax)
    base = amount - tax if prices_include_tax else amount
    return TaxRow(rate=rate, base=base, tax=tax)


def sort_rates(rates: Iterable[str]) -> list[str]:
    """Rates in numeric order (`"5.5"` before `"20"`)."""
    return sorted(rates, key=parse_rate)


def cash_due(amount: int, cash_rounding: int) -> int:
    """`amount` rounded half up (away from zero) to a multiple of the smallest cash unit."""
    if cash_rounding < 1:
        raise PricingError(f"cash rounding {cash_rounding} must be at least 1")
    return round_half_up(Fraction(amount, cash_rounding)) * cash_rounding


@dataclass(frozen=True)
class LineInput:
    """One basket line as the pricing rules see it."""

    unit_price: int
    qty: int
    tax_rate: str
    percent: Fraction | None = None


@dataclass(frozen=True)
class PricedLine:
    """A line with its discounts: `total = unit_price × qty - discount`."""

    gross: int
    line_discount: int
    basket_share: int

    @property
    def discount(self) -> int:
        return self.line_discount + self.basket_share

    @property
    def total(self) -> int:
        return self.gross - self.discount


@dataclass(frozen=True)
class PricedBasket:
    """A priced basket: its lines, tax per rate and the total to pay."""

    lines: tuple[PricedLine, ...]
    tax: tuple[TaxRow, ...]
    gross: int  # sum of unit_price × qty
    basket_discount: int
    total: int

    @property
    def discount(self) -> int:
        return sum(line.discount for line in self.lines)

    @property
    def tax_total(self) -> int:
        return sum(row.tax for row in self.tax)


def price_basket(
    lines: Sequence[LineInput], basket_percent: Fraction | None, prices_include_tax: bool
) -> PricedBasket:
    """Apply the contract's rules to a basket, in order: line discounts, basket, tax."""
    gross = [line.unit_price * line.qty for line in lines]
    own = [line_discount(li.unit_price, li.qty, li.percent) for li in lines]
    after_own = [g - d for g, d in zip(gross, own, strict=True)]
    bdisc = basket_discount(sum(after_own), basket_percent)
    shares = spread(bdisc, after_own)
    priced = tuple(
        PricedLine(gross=g, line_discount=d, basket_share=s)
        for g, d, s in zip(gross, own, shares, strict=True)
    )
    tax = tax_by_rate(
        ((li.tax_rate, p.total) for li, p in zip(lines, priced, strict=True)), prices_include_tax
    )
    total = sum(p.total for p in priced)
    if not prices_include_tax:
        total += sum(row.tax for row in tax)
    return PricedBasket(
        lines=priced, tax=tuple(tax), gross=sum(gross), basket_discount=bdisc, total=total
    )
