"""Refunds: whole lines at what was paid, in the original tenders, never more than sold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import to_builtins

from appliance.sales.till import Rejected, Till, TillSettings
from protocol.record import Draft, Record
from tests.records import record_of
from tests.test_sales_till import CHF, EUR, cashier_till, make_till, open_till


def _sale(till: Till) -> Record:
    """Pen, 3 baguettes at 10 % off, 5 % off the basket; 1.00 in points, the rest cash."""
    till.scan_item("4006381333931")
    till.key("B1", 3)
    till.discount_line("10")
    till.discount_basket(5)
    till.attach_loyalty("00000001", None, True)
    till.redeem(100)
    draft = till.tender("cash", 1000)
    assert draft is not None
    return record_of(draft, 7)


def test_refund_worked_example() -> None:
    till = open_till()
    sale = _sale(till)
    # lines: pen 1.45 - 0.07 = 1.38 (20 %), bread 3.60 - 0.36 - 0.16 = 3.08 (5.5 %)
    assert [li.total for li in sale.lines] == [138, 308]
    assert sale.total == 446 and sale.loyalty.earned == 3
    refund = till.refund(sale, [2], set())
    assert refund.kind == "refund" and refund.refund_of == sale.sale_id
    assert refund.original_receipt_no == "s001-till-01-000007"
    assert refund.refund_lines == [2]
    assert to_builtins(refund.lines) == [
        {"sku": "B1", "barcode": "3760123450010", "name": "Baguette", "qty": -3,
         "unit_price": 120, "discount": -52, "total": -308, "tax_rate": "5.5"},
    ]  # fmt: skip
    assert refund.total == -308
    assert to_builtins(refund.tax) == [{"rate": "5.5", "base": -292, "tax": -16}]
    # points back in proportion: floor(100 × 308 / 446) = 69; the rest in cash
    assert to_builtins(refund.tenders) == [
        {"type": "points", "amount": -69, "points": -69},
        {"type": "cash", "amount": -239},
    ]
    assert to_builtins(refund.loyalty) == {
        "account": "00000001",
        "earned": -2,  # floor(3 × 308 / 446) = 2
        "redeemed": -69,
        "balance": None,
        "offline": True,
    }
    assert refund.change == 0 and refund.rounding == 0
    rest = till.refund(sale, [1], {2})
    assert rest.total == -138
    assert to_builtins(rest.tenders) == [
        {"type": "points", "amount": -31, "points": -31},
        {"type": "cash", "amount": -107},
    ]
    assert rest.loyalty.earned == -1 and rest.loyalty.redeemed == -31


def test_refund_goes_back_to_the_card_before_cash() -> None:
    till = open_till(CHF)
    till.key("W1")  # 7.99
    till.key("A1")  # 1.45
    till.tender("cash", 200)
    sale = till.tender("card", ref="T42")  # 7.44
    assert sale is not None
    refund = till.refund(record_of(sale), [1], set())
    assert to_builtins(refund.tenders) == [
        {"type": "card", "amount": -744, "ref": "T42"},
        {"type": "cash", "amount": -55},
    ]
    # 7.99 refunded: 7.44 to the card, 0.55 in cash (0.55 is a multiple of 0.05)
    assert refund.rounding == 0
    last = till.refund(record_of(sale), [2], {1})
    assert to_builtins(last.tenders) == [{"type": "cash", "amount": -145}]


def test_cash_refund_in_cash_units_and_exact_at_the_end() -> None:
    till = open_till(CHF)
    till.key("A1")  # 1.45
    till.key("B1")  # 1.20
    till.key("W1")  # 7.99 -> total 10.64, paid 10.65 in cash
    sale = till.tender("cash")
    assert sale is not None and to_builtins(sale.tenders) == [{"type": "cash", "amount": 1065}]
    first = till.refund(record_of(sale), [3], set())
    assert first.total == -799 and to_builtins(first.tenders) == [{"type": "cash", "amount": -800}]
    assert first.rounding == -1
    second = till.refund(record_of(sale), [1, 2], {3})
    assert second.total == -265 and to_builtins(second.tenders) == [
        {"type": "cash", "amount": -265}
    ]


def test_refund_refusals_change_nothing() -> None:
    till = cashier_till()
    till.key("A1")
    till.key("B1")
    sale = till.tender("card", ref="T1")
    assert sale is not None
    with pytest.raises(Rejected, match="needs a supervisor") as err:
        till.refund(record_of(sale), [1], set())
    assert err.value.op == "refund"
    till.approve("marie", "9999")
    for lines, done, why in (
        ([], set(), "which lines"),
        ([3], set(), "no line 3"),
        ([0], set(), "no line 0"),
        ([1, 1], set(), "twice"),
        ([1, 2], {2}, "line 2 was refunded already"),
    ):
        with pytest.raises(Rejected, match=why):
            till.refund(record_of(sale), lines, done)
    refund = till.refund(record_of(sale), [2, 1], set())
    assert refund.approved_by == "marie" and refund.refund_lines == [1, 2]
    assert refund.total == -sale.total
    till.approve("marie", "9999")
    with pytest.raises(Rejected, match="not a sale"):
        till.refund(record_of(refund, 8), [1], set())
    till.key("A1")
    with pytest.raises(Rejected, match="sale is open"):
        till.refund(record_of(sale), [1], set())


CATALOG_SKUS = ["A1", "B1", "W1", "C1"]


@st.composite
def sales(draw: st.DrawFn) -> tuple[TillSettings, Record]:
    cfg = replace(
        draw(st.sampled_from([EUR, CHF])),
        prices_include_tax=draw(st.booleans()),
        point_value=draw(st.sampled_from([1, 2, 10])),
        points_per_unit=draw(st.sampled_from([0, 1, 3])),
        offline_redeem_cap=10_000,
    )
    till = make_till(cfg)
    till.login("ana")
    for _ in range(draw(st.integers(1, 8))):
        till.key(draw(st.sampled_from(CATALOG_SKUS)), draw(st.integers(1, 5)))
        if draw(st.booleans()):
            till.discount_line(draw(st.sampled_from(["5", "12.5", "33", "100"])))
    if draw(st.booleans()):
        till.discount_basket(draw(st.sampled_from(["3", "10", "50"])))
    if draw(st.booleans()):
        till.attach_loyalty("00000001", None, True)
        due = till.view().due
        if due >= cfg.point_value and draw(st.booleans()):
            till.redeem(draw(st.integers(1, due // cfg.point_value)))
    sale: Draft | None = None
    while sale is None:
        due = till.view().due
        kind = draw(st.sampled_from(["cash", "card", "part-cash", "part-card"]))
        if kind == "part-cash" and till.view().cash_due > cfg.cash_rounding:
            amount = cfg.cash_rounding * draw(
                st.integers(1, till.view().cash_due // cfg.cash_rounding - 1)
            )
            sale = till.tender("cash", amount)
        elif kind == "part-card" and due > 1:
            sale = till.tender("card", draw(st.integers(1, due - 1)), ref=f"T{due}")
        elif kind == "card" and due > 0:
            sale = till.tender("card", ref="TX")
        else:
            sale = till.tender("cash", till.view().cash_due + draw(st.sampled_from([0, 500])))
    return cfg, record_of(sale)


def _by_type(records: Sequence[Draft]) -> Counter[str]:
    c: Counter[str] = Counter()
    for r in records:
        for t in r.tenders:
            c[t.type] += t.amount
    return c


@settings(max_examples=300, deadline=None)
@given(sales(), st.data())
def test_refunding_every_line_sums_exactly_to_the_sale(
    sale_cfg: tuple[TillSettings, Record], data: st.DataObject
) -> None:
    cfg, sale = sale_cfg
    till = make_till(cfg)
    till.login("marie")
    n = len(sale.lines)
    order = data.draw(st.permutations(range(1, n + 1)))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(n - 1, 1)), max_size=n - 1)))
    groups = [order[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True) if order[a:b]]
    done: set[int] = set()
    refunds = []
    for group in groups:
        r = till.refund(sale, list(group), done)
        done |= set(group)
        # every figure of a refund is money going back: never positive
        assert r.total <= 0 and all(t.amount <= 0 for t in r.tenders)
        assert all(row.tax <= 0 and row.base <= 0 for row in r.tax)
        assert all(li.qty < 0 and li.unit_price >= 0 for li in r.lines)
        assert r.total == sum(li.total for li in r.lines) + (
            0 if cfg.prices_include_tax else sum(row.tax for row in r.tax)
        )
        assert r.rounding == sum(t.amount for t in r.tenders) - r.total
        refunds.append(r)
        # never more than sold: any line already refunded is refused
        again = data.draw(st.sampled_from(sorted(done)))
        with pytest.raises(Rejected, match="refunded already"):
            till.refund(sale, [again], done)
    assert sum(r.total for r in refunds) == -sale.total
    taxes: Counter[tuple[str, str]] = Counter()
    for r in refunds:
        for row in r.tax:
            taxes[(row.rate, "base")] += row.base
            taxes[(row.rate, "tax")] += row.tax
    for row in sale.tax:
        assert taxes[(row.rate, "base")] == -row.base
        assert taxes[(row.rate, "tax")] == -row.tax
    assert _by_type(refunds) == Counter({k: -v for k, v in _by_type([sale]).items() if v})
    cards: Counter[str] = Counter()
    for t in sale.tenders:
        if t.type == "card":
            cards[t.ref] += t.amount
    for r in refunds:
        for t in r.tenders:
            if t.type == "card":
                cards[t.ref] += t.amount
    assert all(v == 0 for v in cards.values())
    assert sum(r.rounding for r in refunds) == -sale.rounding
    if sale.loyalty:
        assert sum(r.loyalty.earned for r in refunds) == -sale.loyalty.earned
        assert sum(r.loyalty.redeemed for r in refunds) == -sale.loyalty.redeemed
        points = sum(t.points or 0 for r in refunds for t in r.tenders)
        assert points == -sale.loyalty.redeemed
    else:
        assert all(r.loyalty is None for r in refunds)
