"""The till state machine: staff and approvals, basket, tenders, loyalty, drafts."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import to_builtins

from appliance.config import StaffMember
from appliance.sales.catalog import Catalog, Item
from appliance.sales.pins import PinPolicy
from appliance.sales.staff import Roster, StaffError, hash_pin, verify_pin
from appliance.sales.till import Rejected, Till, TillSettings
from protocol.cards import make_loyalty_card
from protocol.record import plain
from tests.records import record_of

PEN = Item("A1", "4006381333931", "Stabilo point 88", 145, "20", "Stationery", 50)
BREAD = Item("B1", "3760123450010", "Baguette", 120, "5.5", "Bakery")
WINE = Item("W1", "3760123450027", "Cotes du Rhone", 799, "0", "Wine")
COLA = Item("C1", "036000291452", "Cola", 250, "20", "Drinks")  # UPC-A in the catalog
CATALOG = Catalog([PEN, BREAD, WINE, COLA])
EUR = TillSettings(
    device="till-01",
    store="s001",
    region="north",
    currency="EUR",
    exponent=2,
    prices_include_tax=True,
    cash_rounding=1,
    points_per_unit=1,
    point_value=1,
    offline_redeem_cap=200,
)
CHF = replace(EUR, currency="CHF", cash_rounding=5)
NOW = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
# Hashing is slow on purpose; hash the test PINs once.
ROSTER = [
    StaffMember(id="ana", name="Ana", role="cashier", pin_hash=hash_pin("1234")),
    StaffMember(id="marie", name="Marie", role="supervisor", pin_hash=hash_pin("9999")),
]


def make_till(
    settings: TillSettings = EUR,
    roster: list[StaffMember] | None = None,
    *,
    monotonic: Callable[[], float] = lambda: 0.0,
    pins: PinPolicy | None = None,
) -> Till:
    ids = (f"sale-{n}" for n in itertools.count(1))
    return Till(
        settings,
        CATALOG,
        Roster(roster or []),
        clock=lambda: NOW,
        new_id=lambda: next(ids),
        monotonic=monotonic,
        pins=pins,
    )


def open_till(settings: TillSettings = EUR) -> Till:
    till = make_till(settings)
    till.login("ana")
    return till


def cashier_till() -> Till:
    till = make_till(EUR, ROSTER)
    till.login("ana", "1234")
    return till


# -- staff -----------------------------------------------------------------------------------
def test_pin_hash_format_and_verify() -> None:
    h = hash_pin("1234", salt=bytes(16))
    assert re.fullmatch(r"scrypt\$0{32}\$[0-9a-f]{64}", h)
    assert h == hash_pin("1234", salt=bytes(16))
    assert hash_pin("1234") != hash_pin("1234")  # a fresh salt each time
    assert verify_pin("1234", h)
    assert not verify_pin("1235", h)
    assert not verify_pin("1234", "scrypt$zz$00")
    assert not verify_pin("1234", "bcrypt$00$00")
    for bad in ("123", "123456789", "12a4", ""):
        with pytest.raises(StaffError):
            hash_pin(bad)


def test_open_till_lets_any_id_in_as_supervisor() -> None:
    till = make_till()
    person = till.login("bench-7")
    assert (person.id, person.role) == ("bench-7", "supervisor")
    with pytest.raises(Rejected) as err:
        till.login("Not Valid!")
    assert err.value.op == "login"


def test_roster_checks_pins_and_roles() -> None:
    till = make_till(EUR, ROSTER)
    with pytest.raises(Rejected, match="needs a PIN"):
        till.login("ana")
    with pytest.raises(Rejected, match="wrong PIN"):
        till.login("ana", "0000")
    with pytest.raises(Rejected, match="no staff member"):
        till.login("zoe", "1234")
    assert till.view().staff is None
    assert till.login("ana", "1234").role == "cashier"
    staff = till.view().staff
    assert staff is not None and staff.name == "Ana"


def test_nothing_but_login_without_staff() -> None:
    till = make_till()
    for call in (
        lambda: till.scan_item(PEN.barcode),
        lambda: till.key("A1"),
        lambda: till.no_sale("float"),
        lambda: till.tender("cash"),
        lambda: till.logout(),
        lambda: till.approve("ana"),
    ):
        with pytest.raises(Rejected, match="log in first"):
            call()


def test_restricted_ops_need_a_supervisor_approval_once() -> None:
    till = cashier_till()
    with pytest.raises(Rejected, match="needs a supervisor") as err:
        till.no_sale("float for the bakery")
    assert err.value.op == "no_sale"
    with pytest.raises(Rejected, match="not a supervisor"):
        till.approve("ana", "1234")
    with pytest.raises(Rejected, match="wrong PIN"):
        till.approve("marie", "1111")
    till.approve("marie", "9999")
    assert till.view().approval == "marie"
    draft = till.no_sale("  float for the bakery ")
    assert draft.approved_by == "marie" and draft.reason == "float for the bakery"
    assert draft.staff == "ana"
    assert till.view().approval is None
    with pytest.raises(Rejected, match="needs a supervisor"):
        till.no_sale("again")  # one-shot


def test_a_refused_restricted_op_keeps_the_approval() -> None:
    till = cashier_till()
    till.approve("marie", "9999")
    with pytest.raises(Rejected, match="say why"):
        till.no_sale("   ")
    assert till.view().approval == "marie"
    till.logout()
    till.login("ana", "1234")
    assert till.view().approval is None  # approvals do not outlive a login


def test_supervisor_needs_no_approval() -> None:
    till = make_till(EUR, ROSTER)
    till.login("marie", "9999")
    draft = till.no_sale("count the float")
    assert draft.approved_by is None and draft.staff == "marie"


def test_override_price_records_the_approver() -> None:
    till = cashier_till()
    till.key("A1")
    with pytest.raises(Rejected, match="needs a supervisor"):
        till.override_price(1, 100)
    till.approve("marie", "9999")
    till.override_price(1, 100)
    draft = till.tender("cash")
    assert draft is not None
    assert draft.lines[0].unit_price == 100 and draft.total == 100
    assert draft.approved_by == "marie"


# -- basket ----------------------------------------------------------------------------------
def test_scan_refusals() -> None:
    till = open_till()
    with pytest.raises(Rejected, match="wrong check digit") as err:
        till.scan_item("4006381333932")
    assert err.value.op == "scan" and err.value.reason == str(err.value)
    with pytest.raises(Rejected, match="loyalty card"):
        till.scan_item(make_loyalty_card("00000001"))
    with pytest.raises(Rejected, match="no item has barcode"):
        till.scan_item("3760123450034")
    with pytest.raises(Rejected, match="digits"):
        till.scan_item("abc")
    assert till.view().state == "idle"


def test_scan_finds_upca_and_ean13_forms_and_each_scan_is_a_line() -> None:
    till = open_till()
    assert till.scan_item("036000291452") == 1
    assert till.scan_item("0036000291452") == 2
    assert till.scan_item(PEN.barcode) == 3
    view = till.view()
    assert [(li.sku, li.qty) for li in view.lines] == [("C1", 1), ("C1", 1), ("A1", 1)]
    assert view.total == 250 + 250 + 145 and view.state == "open"


def test_qty_void_and_discounts() -> None:
    till = open_till()
    till.key("A1", 2)
    till.key("B1")
    till.set_qty(3)
    for bad in (0, 10_000, -1):
        with pytest.raises(Rejected, match="from 1 to 9999"):
            till.set_qty(bad)
    with pytest.raises(Rejected, match="no item has SKU"):
        till.key("ZZ")
    till.discount_line("50", line=1)
    till.discount_line(10, line=1)  # replaces, does not add
    till.key("W1")
    till.void_line(3)
    with pytest.raises(Rejected, match="voided"):
        till.void_line(3)
    with pytest.raises(Rejected, match="voided"):
        till.set_qty(2)  # the last line is the voided one
    with pytest.raises(Rejected, match="no line 9"):
        till.void_line(9)
    with pytest.raises(Rejected):
        till.discount_line("0")
    view = till.view()
    assert [li.number for li in view.lines] == [1, 2, 3] and view.lines[2].voided
    # 2 × 1.45 = 2.90 less 10 % = 0.29; 3 × 1.20 = 3.60; the wine is voided
    assert (view.subtotal, view.discount, view.total) == (650, 29, 621)
    till.discount_basket("5")
    till.discount_basket("10")  # replaces
    draft = till.tender("cash")
    assert draft is not None
    # basket 10 % of 621 = 62.1 -> 62; 261 × 62 / 621 = 26.06, 360 × 62 / 621 = 35.94 -> 26, 36
    assert [(li.sku, li.qty, li.discount, li.total) for li in draft.lines] == [
        ("A1", 2, 29 + 26, 235),
        ("B1", 3, 36, 324),
    ]
    assert draft.total == 559


def test_catalog_swap_only_between_sales() -> None:
    till = open_till()
    till.key("A1")
    with pytest.raises(Rejected, match="sale is open"):
        till.catalog = Catalog([BREAD])
    till.cancel()
    till.catalog = Catalog([BREAD])
    assert till.catalog.by_sku("A1") is None


# -- tenders ---------------------------------------------------------------------------------
def test_cash_sale_draft_is_the_journal_record() -> None:
    till = open_till()
    till.scan_item(PEN.barcode)
    till.key("B1", 2)
    assert till.tender("cash", 300) is None  # partial: 3.00 of 3.85
    assert till.view().state == "tendering" and till.view().due == 85
    draft = till.tender("cash", 100)
    assert draft is not None
    # The JSON the journal hashes: exactly the CONTRACT's keys and the set extensions.
    assert plain(draft) == {
        "schema": 1,
        "sale_id": "sale-1",
        "kind": "sale",
        "device": "till-01",
        "store": "s001",
        "region": "north",
        "staff": "ana",
        "ts": "2026-11-23T10:00:00.123Z",
        "currency": "EUR",
        "lines": [
            {
                "sku": "A1",
                "barcode": "4006381333931",
                "name": "Stabilo point 88",
                "qty": 1,
                "unit_price": 145,
                "discount": 0,
                "total": 145,
                "tax_rate": "20",
            },
            {
                "sku": "B1",
                "barcode": "3760123450010",
                "name": "Baguette",
                "qty": 2,
                "unit_price": 120,
                "discount": 0,
                "total": 240,
                "tax_rate": "5.5",
            },
        ],
        "total": 385,
        # 240 × 5.5 / 105.5 = 12.51 -> 13; 145 / 6 = 24.17 -> 24
        "tax": [{"rate": "5.5", "base": 227, "tax": 13}, {"rate": "20", "base": 121, "tax": 24}],
        "tenders": [{"type": "cash", "amount": 300}, {"type": "cash", "amount": 85}],
        "change": 15,
        "loyalty": None,
        "refund_of": None,
        "rounding": 0,
    }
    view = till.view()
    assert view.state == "idle" and view.change == 15 and view.lines == ()
    till.key("A1")
    assert till.view().change == 0  # the next sale has begun


def test_timestamp_is_utc_milliseconds() -> None:
    local = datetime(2026, 11, 23, 11, 30, 5, 999999, tzinfo=timezone(timedelta(hours=1)))
    till = Till(
        EUR, CATALOG, Roster([]), clock=lambda: local, new_id=lambda: "x", monotonic=lambda: 0.0
    )
    till.login("ana")
    assert till.no_sale("x").ts == "2026-11-23T10:30:05.999Z"


def test_chf_cash_rounding_worked_example() -> None:
    # 3 items at 20 % / 5.5 % / 0 %, a 10 % basket discount, Swiss 5-rappen cash.
    items = [
        Item("P", "4006381333931", "Pen", 1235, "20"),
        Item("B", "3760123450010", "Bread", 310, "5.5"),
        Item("W", "3760123450027", "Wine", 799, "0"),
    ]
    till = open_till(CHF)
    till.catalog = Catalog(items)
    till.key("P")
    till.key("B", 2)
    till.key("W")
    till.discount_basket(10)
    view = till.view()
    assert (view.total, view.cash_due, view.tax) == (2389, 2390, 214)
    with pytest.raises(Rejected, match=r"multiples of 0\.05"):
        till.tender("cash", 5002)
    draft = till.tender("cash", 5000)
    assert draft is not None
    assert [li.total for li in draft.lines] == [1112, 558, 719]
    assert to_builtins(draft.tax) == [
        {"rate": "0", "base": 719, "tax": 0},
        {"rate": "5.5", "base": 529, "tax": 29},
        {"rate": "20", "base": 927, "tax": 185},
    ]
    assert to_builtins(draft.tenders) == [{"type": "cash", "amount": 2390}]
    assert (draft.change, draft.rounding, draft.total) == (2610, 1, 2389)


def test_cash_rounding_down_completes_short_of_the_total() -> None:
    till = open_till(CHF)
    till.catalog = Catalog([Item("X", "", "X", 102, "0")])
    till.key("X")
    draft = till.tender("cash")
    assert draft is not None
    assert to_builtins(draft.tenders) == [{"type": "cash", "amount": 100}] and draft.rounding == -2


def test_prices_excluding_tax() -> None:
    till = open_till(replace(EUR, prices_include_tax=False))
    till.key("A1")  # 1.45 + 20 % = 0.29
    till.key("B1")  # 1.20 + 5.5 % = 0.066 -> 0.07
    view = till.view()
    assert (view.subtotal, view.tax, view.total) == (265, 36, 301)
    draft = till.tender("card", ref="T1")
    assert draft is not None and draft.total == 301
    assert sum(r.base for r in draft.tax) + sum(r.tax for r in draft.tax) == 301


def test_card_rules() -> None:
    till = open_till()
    with pytest.raises(Rejected, match="empty"):
        till.tender("card", ref="T1")
    till.key("W1")
    with pytest.raises(Rejected, match="reference"):
        till.tender("card")
    for pan in ("4111111111111111", "4111 1111 1111 1111", "5500-0000-0000-0004"):
        with pytest.raises(Rejected, match="card number"):
            till.tender("card", ref=pan)
    with pytest.raises(Rejected, match="no cashback"):
        till.tender("card", 800, ref="T1")
    with pytest.raises(Rejected, match="not cash or card"):
        till.tender("cheque", 100)
    assert till.tender("card", 500, ref="T1") is None
    with pytest.raises(Rejected, match="card was charged"):
        till.cancel()
    with pytest.raises(Rejected, match="payment has started"):
        till.logout()
    with pytest.raises(Rejected, match="payment has started"):
        till.void_line(1)
    with pytest.raises(Rejected, match="payment has started"):
        till.key("A1")
    draft = till.tender("card", ref="T2")
    assert draft is not None
    assert to_builtins(draft.tenders) == [
        {"type": "card", "amount": 500, "ref": "T1"},
        {"type": "card", "amount": 299, "ref": "T2"},
    ]
    assert draft.change == 0


def test_cancel_and_logout() -> None:
    till = open_till()
    with pytest.raises(Rejected, match="no sale is open"):
        till.cancel()
    till.key("W1")
    till.tender("cash", 500)
    till.cancel()  # cash is handed back; nothing recorded
    assert till.view().state == "idle"
    till.key("W1")
    with pytest.raises(Rejected, match="sale is open"):
        till.no_sale("float")
    with pytest.raises(Rejected, match="sale is open"):
        till.shift_close([])
    till.logout()  # an unpaid basket is dropped
    till.login("ben")
    assert till.view().lines == ()


# -- loyalty ---------------------------------------------------------------------------------
def test_loyalty_online_earn_and_redeem() -> None:
    till = open_till()
    with pytest.raises(Rejected, match="scan the card first"):
        till.redeem(10)
    till.key("W1", 2)  # 15.98
    till.attach_loyalty("00000001", balance=500, offline=False)
    with pytest.raises(Rejected, match="has 500 points"):
        till.redeem(600)
    with pytest.raises(Rejected, match="more than the"):
        till.redeem(1599)
    till.redeem(300)
    with pytest.raises(Rejected, match="has 500 points, not 600"):
        till.redeem(300)
    assert till.view().due == 1298
    draft = till.tender("card", ref="T9")
    assert draft is not None
    assert to_builtins(draft.tenders) == [
        {"type": "points", "amount": 300, "points": 300},
        {"type": "card", "amount": 1298, "ref": "T9"},
    ]
    # paid = 15.98 - 3.00 = 12.98 -> 12 points
    assert to_builtins(draft.loyalty) == {
        "account": "00000001",
        "earned": 12,
        "redeemed": 300,
        "balance": 500 - 300 + 12,
        "offline": False,
    }


def test_loyalty_offline_cap_and_points_covering_everything() -> None:
    till = open_till(replace(EUR, point_value=10, points_per_unit=2))
    till.key("A1")  # 1.45
    till.attach_loyalty("00000002", balance=None, offline=True)
    with pytest.raises(Rejected, match="at most 14"):
        till.redeem(15)  # 1.50 > 1.45
    till.redeem(14)
    assert till.view().due == 5
    with pytest.raises(Rejected, match="more than the"):
        till.redeem(1)
    draft = till.tender("cash", 10)
    assert draft is not None
    assert to_builtins(draft.loyalty) == {
        "account": "00000002",
        "earned": 0,  # 0.05 paid × 2 points per unit
        "redeemed": 14,
        "balance": None,
        "offline": True,
    }
    assert draft.change == 5

    till.key("W1", 20)
    till.attach_loyalty("00000002", balance=None, offline=True)
    till.redeem(20)
    with pytest.raises(Rejected, match="at most 200 points"):
        till.redeem(181)
    with pytest.raises(Rejected, match="already redeemed"):
        till.attach_loyalty("00000003", balance=None, offline=True)


def test_points_that_cover_the_total_close_with_cash() -> None:
    till = open_till()
    till.key("A1")
    till.attach_loyalty("00000001", balance=1000, offline=False)
    till.redeem(145)
    with pytest.raises(Rejected, match="nothing is left"):
        till.tender("card", ref="T1")
    draft = till.tender("cash")
    assert draft is not None
    assert to_builtins(draft.tenders) == [{"type": "points", "amount": 145, "points": 145}]
    assert draft.change == 0 and draft.loyalty.earned == 0


def test_shift_close_carries_the_z_report() -> None:
    till = open_till()
    till.key("A1")
    sale = till.tender("cash", 200)
    assert sale is not None
    draft = till.shift_close([record_of(sale)])
    assert draft.kind == "shift_close" and to_builtins(draft.lines) == [] and draft.total == 0
    assert to_builtins(draft.tenders) == [] and draft.change == 0 and draft.loyalty is None
    assert draft.report.sales == 1 and draft.report.expected_cash == 145


# -- properties ------------------------------------------------------------------------------
OPS: list[tuple[str, Any]] = [
    ("login", st.sampled_from(["ana", "marie", "Bad Id"])),
    ("logout", st.none()),
    ("approve", st.sampled_from(["ana", "marie"])),
    ("scan_item", st.sampled_from([PEN.barcode, COLA.barcode, "4006381333932", "2900000000018"])),
    ("key", st.tuples(st.sampled_from(["A1", "B1", "W1", "ZZ"]), st.integers(-1, 10_001))),
    ("set_qty", st.integers(-1, 10_001)),
    ("discount_line", st.tuples(st.sampled_from(["0", "10", "101", "x"]), st.integers(0, 4))),
    ("discount_basket", st.sampled_from(["0", "5", "12.5", "150"])),
    ("override_price", st.tuples(st.integers(0, 4), st.integers(-5, 500))),
    ("void_line", st.integers(0, 4)),
    ("attach_loyalty", st.tuples(st.sampled_from(["00000001", "123"]), st.booleans())),
    ("redeem", st.integers(-1, 2000)),
    ("tender", st.tuples(
        st.sampled_from(["cash", "card", "cheque"]),
        st.none() | st.integers(-5, 3000),
        st.sampled_from([None, "T1", "4111111111111111"]),
    )),
    ("cancel", st.none()),
    ("no_sale", st.sampled_from(["", "float", "x" * 201])),
    ("shift_close", st.none()),
]  # fmt: skip
op_strategy = st.one_of([st.tuples(st.just(name), args) for name, args in OPS])


def _call(till: Till, name: str, args: Any) -> object:
    match name:
        case "login":
            return till.login(args, "1234" if args == "ana" else "9999")
        case "approve":
            return till.approve(args, "1234" if args == "ana" else "9999")
        case "logout" | "cancel":
            return getattr(till, name)()
        case "shift_close":
            return till.shift_close([])
        case "key" | "discount_line" | "override_price":
            return getattr(till, name)(*args)
        case "attach_loyalty":
            till.attach_loyalty(args[0], None if args[1] else 150, args[1])
            return None
        case "tender":
            return till.tender(*args)
        case _:
            return getattr(till, name)(args)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op_strategy, max_size=30), st.sampled_from([EUR, CHF]))
def test_rejected_operations_change_nothing(ops: list[tuple[str, Any]], cfg: TillSettings) -> None:
    till = make_till(cfg, ROSTER)
    for name, args in ops:
        before = till.view()
        try:
            _call(till, name, args)
        except Rejected as e:
            assert e.reason and e.op
            assert till.view() == before, (name, args)
        view = till.view()
        assert view.due >= 0 and view.cash_due % cfg.cash_rounding == 0
        assert view.total == sum(li.total for li in view.lines if not li.voided) + (
            0 if cfg.prices_include_tax else view.tax
        )


@given(
    st.lists(st.tuples(st.sampled_from(["A1", "B1", "W1", "C1"]), st.integers(1, 20)), min_size=1),
    st.sampled_from([1, 5, 10]),
    st.integers(0, 100_000),
)
def test_cash_change_never_negative_and_due_is_rounded(
    basket: list[tuple[str, int]], unit: int, handed: int
) -> None:
    till = open_till(replace(EUR, cash_rounding=unit))
    for sku, qty in basket:
        till.key(sku, qty)
    view = till.view()
    assert view.cash_due % unit == 0 and abs(view.cash_due - view.total) * 2 <= unit
    handed -= handed % unit
    try:
        draft = till.tender("cash", handed)
    except Rejected:
        assert handed == 0
        return
    if draft is None:
        assert handed < view.cash_due and till.view().due == view.total - handed
    else:
        assert draft.change >= 0
        assert draft.change == handed - view.cash_due
        assert sum(t.amount for t in draft.tenders) == view.cash_due
        assert draft.rounding == view.cash_due - view.total
