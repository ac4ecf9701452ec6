"""The contract's money rules: worked examples by hand, and properties that pin them down."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec import to_builtins

from appliance.sales.pricing import (
    LineInput,
    PricingError,
    basket_discount,
    cash_due,
    line_discount,
    parse_percent,
    price_basket,
    rate_tax,
    spread,
    tax_by_rate,
    tax_row,
)
from protocol.errors import BadInput
from protocol.limits import MAX_MINOR
from protocol.money import AmountError, parse_major, round_half_up

RATES = ["0", "2.1", "5.5", "7", "10", "19", "20", "25"]
percents = st.one_of(
    st.integers(1, 100).map(Fraction),
    st.fractions(min_value=Fraction(1, 100), max_value=100, max_denominator=1000),
)
lines = st.lists(
    st.builds(
        LineInput,
        unit_price=st.integers(0, 100_000),
        qty=st.integers(1, 50),
        tax_rate=st.sampled_from(RATES),
        percent=st.none() | percents,
    ),
    min_size=1,
    max_size=12,
)


# -- worked examples, computed by hand -------------------------------------------------------
def _example_lines() -> list[LineInput]:
    # 12.35 at 20 %, 2 × 3.10 at 5.5 %, 7.99 at 0 %; a 10 % basket discount on top.
    return [LineInput(1235, 1, "20"), LineInput(310, 2, "5.5"), LineInput(799, 1, "0")]


def test_three_rates_basket_discount_prices_include_tax() -> None:
    priced = price_basket(_example_lines(), Fraction(10), prices_include_tax=True)
    # subtotal 2654; 10 % = 265.4 -> 265; shares 123.31 / 61.91 / 79.78: floors 123, 61, 79
    # leave 2 units, which go to the largest remainders (.91 then .78).
    assert priced.basket_discount == 265
    assert [p.basket_share for p in priced.lines] == [123, 62, 80]
    assert [p.total for p in priced.lines] == [1112, 558, 719]
    # 1112 × 20/120 = 185.33 -> 185; 558 × 5.5/105.5 = 29.09 -> 29
    assert list(to_builtins(priced.tax)) == [
        {"rate": "0", "base": 719, "tax": 0},
        {"rate": "5.5", "base": 529, "tax": 29},
        {"rate": "20", "base": 927, "tax": 185},
    ]
    assert priced.total == 2389
    assert cash_due(priced.total, 5) == 2390  # CHF: 23.89 is paid as 23.90


def test_three_rates_basket_discount_prices_exclude_tax() -> None:
    priced = price_basket(_example_lines(), Fraction(10), prices_include_tax=False)
    # 1112 × 20 % = 222.4 -> 222; 558 × 5.5 % = 30.69 -> 31
    assert [(r.rate, r.base, r.tax) for r in priced.tax] == [
        ("0", 719, 0),
        ("5.5", 558, 31),
        ("20", 1112, 222),
    ]
    assert priced.total == 2389 + 253
    assert cash_due(priced.total, 5) == 2640  # 26.42 -> 26.40


def test_halves_round_away_from_zero() -> None:
    assert line_discount(125, 1, Fraction(10)) == 13  # 12.5
    assert line_discount(-125, 1, Fraction(10)) == -13
    assert basket_discount(25, Fraction(10)) == 3  # 2.5
    assert round_half_up(Fraction(-5, 2)) == -3
    assert to_builtins(tax_row("20", 3, True)) == {"rate": "20", "base": 2, "tax": 1}  # 3/6 = 0.5
    assert to_builtins(tax_row("20", -3, True)) == {"rate": "20", "base": -2, "tax": -1}
    assert rate_tax(5, "10", False) == 1  # 0.5
    assert cash_due(1025, 5) == 1025
    assert cash_due(1022, 5) == 1020
    assert cash_due(1023, 5) == 1025
    assert cash_due(-1023, 5) == -1025
    assert cash_due(-1022, 5) == -1020
    assert cash_due(1025, 10) == 1030 and cash_due(-1025, 10) == -1030


def test_spread_ties_go_to_the_earlier_line() -> None:
    assert spread(1, [100, 100]) == [1, 0]
    assert spread(2, [1, 1, 1]) == [1, 1, 0]
    assert spread(-1, [100, 100]) == [-1, 0]
    assert spread(0, [0, 0]) == [0, 0]


def test_decimal_percent_is_exact() -> None:
    # 12.5 % of 1 × 3.00 = 37.5 -> 38; as a float 0.125 would be exact here but 0.1 is not
    assert line_discount(300, 1, parse_percent("12.5")) == 38
    assert line_discount(1000, 3, parse_percent("33.3333")) == 1000


@pytest.mark.parametrize("bad", ["0", "100.5", "-5", "abc", "1e2", "", 0.5, True, 101])
def test_percent_refused(bad: object) -> None:
    with pytest.raises(PricingError):
        parse_percent(bad)  # type: ignore[arg-type]


def test_tax_rows_sorted_numerically() -> None:
    rows = tax_by_rate([("20", 100), ("5.5", 100), ("10", 50), ("20", 20)], False)
    assert [r.rate for r in rows] == ["5.5", "10", "20"]
    assert to_builtins(rows[2]) == {"rate": "20", "base": 120, "tax": 24}


# -- properties ------------------------------------------------------------------------------
@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=30))
def test_spread_sums_exactly_and_never_exceeds_a_line(amount: int, weights: list[int]) -> None:
    total = sum(weights)
    amount = amount % (total + 1)  # a discount is never more than what it is spread over
    parts = spread(amount, weights)
    assert sum(parts) == amount
    assert all(0 <= p <= w for p, w in zip(parts, weights, strict=True))
    # largest remainder: each part is the floor or the ceiling of the exact share
    for p, w in zip(parts, weights, strict=True):
        exact = Fraction(amount * w, total) if total else Fraction(0)
        assert exact - 1 < p < exact + 1


@given(lines, st.none() | percents)
def test_basket_discount_parts_sum_and_no_line_goes_negative(
    basket: list[LineInput], pct: Fraction | None
) -> None:
    priced = price_basket(basket, pct, prices_include_tax=True)
    assert sum(p.basket_share for p in priced.lines) == priced.basket_discount
    subtotal = sum(p.gross - p.line_discount for p in priced.lines)
    assert priced.basket_discount == basket_discount(subtotal, pct)
    assert all(p.total >= 0 for p in priced.lines)
    for li, p in zip(basket, priced.lines, strict=True):
        assert p.line_discount == line_discount(li.unit_price, li.qty, li.percent)
        assert p.gross - p.discount == p.total


@given(lines, st.none() | percents)
def test_tax_included_base_plus_tax_is_gross_per_rate(
    basket: list[LineInput], pct: Fraction | None
) -> None:
    priced = price_basket(basket, pct, prices_include_tax=True)
    for row in priced.tax:
        gross = sum(
            p.total for li, p in zip(basket, priced.lines, strict=True) if li.tax_rate == row.rate
        )
        assert row.base + row.tax == gross
        assert row.tax == rate_tax(gross, row.rate, True)
    assert priced.total == sum(p.total for p in priced.lines)


@given(lines, st.none() | percents)
def test_tax_excluded_total_is_net_plus_tax(basket: list[LineInput], pct: Fraction | None) -> None:
    priced = price_basket(basket, pct, prices_include_tax=False)
    net = sum(p.total for p in priced.lines)
    assert sum(r.base for r in priced.tax) == net
    assert priced.total == net + sum(r.tax for r in priced.tax)


@given(st.integers(-(10**9), 10**9), st.sampled_from([1, 2, 5, 10, 25, 100]))
def test_cash_due_is_a_multiple_and_rounds_half_away_from_zero(amount: int, unit: int) -> None:
    due = cash_due(amount, unit)
    assert due % unit == 0
    assert abs(due - amount) * 2 <= unit
    assert cash_due(-amount, unit) == -due  # a refund mirrors its sale
    if abs(due - amount) * 2 == unit:
        assert abs(due) > abs(amount)


@given(st.integers(-(10**9), 10**9), st.sampled_from(RATES), st.booleans())
def test_refund_tax_mirrors_sale_tax(amount: int, rate: str, included: bool) -> None:
    assert rate_tax(-amount, rate, included) == -rate_tax(amount, rate, included)


@pytest.mark.parametrize(
    "text", ["abc", "1,20", "1e5", "NaN", "inf", "", " ", "1.2.3", "0x10", "1" * 30, "١٢"]
)
def test_parse_major_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(AmountError, match="is not a number"):
        parse_major(text, 2)


def test_parse_major_keeps_to_the_largest_amount() -> None:
    assert parse_major("100000000.00", 2) == MAX_MINOR
    assert parse_major("-100000000", 2) == -MAX_MINOR
    assert parse_major(str(MAX_MINOR), 0) == MAX_MINOR
    for text, exp in (("100000000.01", 2), (str(MAX_MINOR + 1), 0), ("99999999999999999999", 2)):
        with pytest.raises(AmountError, match="over the largest amount"):
            parse_major(text, exp)
    assert issubclass(AmountError, ValueError) and issubclass(AmountError, BadInput)
