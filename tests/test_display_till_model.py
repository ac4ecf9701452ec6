"""What the till screen decides without Kivy: which panel, pages, choices, the texts the
panels show and the operations their keys send, and what an outcome leads to."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from appliance.controller import Outcome
from appliance.display.formatting import MoneyText
from appliance.display.status import printer_light
from appliance.display.till.model import FAVOURITES, TillModel, page_of
from appliance.sales.catalog import Catalog, Item
from appliance.sales.reports import shift_report
from appliance.sales.staff import Person
from appliance.sales.till import TillLine, TillView
from appliance.store import HeldReceipt
from protocol.record import Record, plain
from tests.conftest import ROOT
from tests.records import sale as a_sale

MONEY = MoneyText("GBP", 2, "en_GB")
ANA = Person("ana", "Ana", "cashier")
MARIE = Person("marie", "Marie", "supervisor")


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    role: str = "cashier"


def model(staff: list[Member] | None = None, favourites: tuple[str, ...] = ()) -> TillModel:
    return TillModel(MONEY, 2, favourites, staff or [])


def view(
    staff: Person | None = ANA, state: str = "idle", lines: int = 0, paid: int = 0, **kw: Any
) -> TillView:
    shown = tuple(
        TillLine(n, f"S{n}", f"Item {n}", 1, 100, 0, 100, kw.get("voided") == n)
        for n in range(1, lines + 1)
    )
    total = 100 * lines
    return TillView(
        staff=staff, state=state, lines=shown, subtotal=total, discount=0, tax=0, total=total,
        paid=paid, due=total - paid, cash_due=kw.get("cash_due", total - paid), change=0,
        loyalty=None, tenders=(), approval=kw.get("approval"),
        locked=kw.get("locked", frozenset()),
    )  # fmt: skip


def catalog(n: int, category: str = "Pens") -> Catalog:
    return Catalog(Item(f"P{i:02d}", "", f"Pen {i:02d}", 100, "20", category) for i in range(n))


def test_the_model_and_its_package_do_without_kivy() -> None:
    code = (
        "import sys, appliance.display.till, appliance.display.till.model\n"
        "assert not [m for m in sys.modules if m.startswith('kivy')], 'kivy imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_pages_hold_everything_once_and_keep_room_for_their_keys() -> None:
    items = list(range(25))
    first = page_of(items, 0, 12, 2)
    assert (first.items, first.pages, first.size) == (tuple(range(10)), 3, 10)
    assert not first.back and first.more and first.more_text == "More ›\n1/3"
    last = page_of(items, 7, 12, 2)  # past the end: the last page
    assert last.number == 2 and last.items == tuple(range(20, 25)) and not last.more
    fits = page_of(items[:12], 0, 12, 2)  # twelve fit without page keys
    assert fits.pages == 1 and len(fits.items) == 12 and fits.size == 12
    assert page_of([], 3, 12, 2).pages == 1
    seen = [i for n in range(3) for i in page_of(items, n, 12, 2).items]
    assert seen == items


def test_the_panel_follows_the_till() -> None:
    m = model()
    assert m.panel_for(view(staff=None)) == "login"
    assert m.panel_for(view()) == "sell"  # just logged in
    m.go("more")
    assert m.panel_for(view()) == "more"
    assert m.panel_for(view(state="tendering", lines=1, paid=50)) == "tender"
    m.go("tender")
    assert m.panel_for(view()) == "sell"  # paid in full elsewhere: back to selling
    m.finished_sale(a_sale(total=100, change=0, receipt_no="R1"))
    assert m.panel_for(view()) == "change"
    assert m.panel_for(view(state="open", lines=1)) == "sell"  # the next customer's scan
    m.ask_qty()
    assert m.panel_for(view(state="tendering", lines=1)) == "number"


def test_login_needs_a_name_and_sends_the_pin() -> None:
    m = model([Member("ana", "Ana"), Member("marie", "Marie", "supervisor")])
    assert not m.setup_mode
    assert [k.name for k in m.staff_keys().items] == ["Ana", "Marie"]
    for c in "12":
        m.type(c)
    assert m.entry_text() == "PIN  ●●"
    assert m.login() is None and m.message.startswith("Choose your name")
    m.choose_staff("marie")
    assert [k.chosen for k in m.staff_keys().items] == [False, True]
    assert m.login() == {"op": "login", "staff": "marie", "pin": "12"}
    assert m.entry == ""  # a PIN is not kept once sent
    m.took({"op": "login"}, Outcome("login", rejected="wrong PIN for marie; try again"))
    assert m.message == "wrong PIN for marie; try again"
    assert m.notice([printer_light("paper_out", 0)]) == (m.message, "fault")
    m.took({"op": "login"}, Outcome("login"))
    assert m.panel == "sell" and m.message == ""
    assert m.notice([printer_light("paper_out", 0)])[0].startswith("Printer out of paper")
    setup = model()
    assert setup.setup_mode and [k.id for k in setup.staff_keys().items] == ["setup"]
    assert setup.login() == {"op": "login", "staff": "setup", "pin": None}


def test_every_name_of_a_long_roster_is_on_a_page() -> None:
    """Fifteen staff on a panel with room for six: five a page and the page keys."""
    m = model([Member(f"s{n:02d}", f"Person {n:02d}") for n in range(1, 16)])
    pages = []
    for _ in range(4):  # one turn past the last page stays on it
        page = m.staff_keys()
        pages.append([k.name for k in page.items])
        m.turn_staff(1)
    assert pages[0] == [f"Person {n:02d}" for n in range(1, 6)]
    assert pages[2] == pages[3] == [f"Person {n:02d}" for n in range(11, 16)]
    everyone = [name for page in pages[:3] for name in page]
    assert everyone == [f"Person {n:02d}" for n in range(1, 16)]  # each once, in order
    last = m.staff_keys()
    assert last.back and not last.more and last.size == 5
    m.choose_staff("s15")
    m.turn_staff(-1)
    m.turn_staff(1)  # the choice stays while the pages turn
    assert [k.chosen for k in m.staff_keys().items] == [False] * 4 + [True]
    m.type("1")
    assert m.login() == {"op": "login", "staff": "s15", "pin": "1"}
    six = model([Member(f"s{n}", f"P{n}") for n in range(6)])
    assert six.staff_keys().pages == 1 and len(six.staff_keys().items) == 6  # six fit


def test_the_keypad_clears_and_stops_at_twelve_characters() -> None:
    m = model()
    m.go("tender")
    assert m.entry_text() == "0"
    for c in "1234567890123":
        m.type(c)
    assert m.entry == "123456789012"
    m.type("")
    assert m.entry == ""


def test_grid_categories_favourites_search_and_pages() -> None:
    cat = Catalog(
        [
            Item("B1", "", "Baguette", 120, "5.5", "Bakery"),
            Item("D1", "", "Milk", 115, "5.5", "Dairy"),
            Item("X1", "", "Thing", 50, "20", ""),
        ]
    )
    m = model(favourites=("D1", "GONE"))
    assert m.categories(cat) == [FAVOURITES, "Bakery", "Dairy", "Other"]
    assert [k.text for k in m.grid(cat).items] == ["Milk\n£1.15"]  # a missing SKU is skipped
    m.choose_category("Bakery")
    assert [k.sku for k in m.grid(cat).items] == ["B1"] and m.tab_on("Bakery")
    m.find("  milk ")
    assert [k.sku for k in m.grid(cat).items] == ["D1"] and not m.tab_on("Bakery")
    m.find("b1")  # an SKU, whatever its case
    assert [k.sku for k in m.grid(cat).items] == ["B1"]
    pens = catalog(25)
    m = model()
    assert m.grid(pens).items[0].sku == "P00"  # the first category when none is chosen
    m.turn_grid(1)
    m.turn_grid(1)
    m.turn_grid(1)  # past the last page
    page = m.grid(pens)
    assert page.number == 2 and m.grid_page == 2 and len(page.items) == 5
    m.choose_category("Pens")
    assert m.grid(pens).number == 0
    assert m.key_item("P03") == {"op": "key", "sku": "P03", "qty": 1}


def test_basket_selection_texts_and_keys() -> None:
    m = model()
    v = view(state="open", lines=3, voided=3)
    assert m.selection(v) == 2  # the newest live line
    m.select(1)
    assert m.selection(v) == 1 and m.void() == {"op": "void_line", "line": 1}
    assert m.selection(view(state="open", lines=1)) == 1  # line 2 is gone: the newest
    assert m.selection(view()) is None and m.void() is None
    struck = TillLine(3, "S3", "Item 3", 2, 100, 0, 200, True)
    assert m.line_text(struck) == ("3. [s]2 × Item 3[/s]", "£2.00")
    off = TillLine(1, "S1", "Item 1", 1, 100, 10, 90, False)
    assert m.line_text(off) == ("1. 1 × Item 1", "−£0.10  £0.90")
    assert m.total_text(view()) == "Scan or tap an item to start"
    assert m.total_text(v) == "Total  £3.00" and m.pay_text(v) == "Pay £3.00"
    m.pay(view())
    assert m.panel != "tender"  # nothing to pay for
    m.pay(v)
    assert m.panel == "tender"


def test_the_number_panel_makes_the_operation_asked_for() -> None:
    m = model()
    m.select(2)
    m.ask_discount()
    assert m.panel == "number" and m.prompt() == "Discount % on line 2"
    for c in "12.5":
        m.type(c)
    assert m.answer() == {"op": "discount", "percent": "12.5", "line": 2}
    assert m.panel == "sell" and m.entry == ""
    m.ask_qty()
    m.type("1")
    m.type(".")
    m.type("5")
    # Not a whole number: sent as typed, for the controller to refuse with its reason
    # (a screen that converted it itself would fail inside Kivy).
    assert m.answer() == {"op": "qty", "qty": "1.5"}
    m.ask_basket_discount()
    assert m.answer() == {"op": "discount", "percent": "0", "scope": "basket"}
    m.ask_card()
    for c in "4711":
        m.type(c)
    assert m.answer() == {"op": "tender", "type": "card", "ref": "4711"}


def test_tender_texts_cash_keys_and_back() -> None:
    m = model()
    v = view(state="tendering", lines=6, paid=100, cash_due=500)
    assert m.tender_texts(v) == ["To pay  £5.00", "Paid so far £1.00"]
    rounded = view(state="open", lines=6, cash_due=595)
    assert m.tender_texts(rounded) == ["To pay  £6.00", "In cash £5.95"]
    assert m.cash_keys(rounded) == [
        ("Exact £5.95", 595),
        ("£10.00", 1000),
        ("£20.00", 2000),
        ("£50.00", 5000),
    ]
    assert m.cash(595) == {"op": "tender", "type": "cash", "amount": "5.95"}
    assert m.cash_typed() is None  # nothing typed
    for c in "20":
        m.type(c)
    assert m.cash_typed() == {"op": "tender", "type": "cash", "amount": "20"}
    m.go("tender")
    m.tender_back(v)
    assert m.panel == "tender"  # a payment is taken: the basket cannot change now
    m.tender_back(rounded)
    assert m.panel == "sell"


def test_a_completed_sale_or_refund_shows_what_to_hand_back() -> None:
    m = model()
    sale = a_sale(total=615, change=385, receipt_no="R7")
    assert m.took(m.cash(1000), Outcome("tender", record=sale)) is None
    assert m.panel == "change"
    assert m.change_texts() == ("Change due", "£3.85", "Total £6.15 · receipt R7")
    m.finished_sale(a_sale(kind="refund", total=-110, change=0, receipt_no="R8"))
    assert m.change_texts()[:2] == ("Give back to the customer", "£1.10")
    m.go("sell")
    m.took(m.cash(100), Outcome("tender"))  # part paid: no record yet
    assert m.panel == "sell"


def test_reports_x_then_z() -> None:
    m = model()
    empty = shift_report([], 2)
    m.x_report(empty)
    assert m.panel == "report" and "X REPORT" in m.report_text and not m.report_z
    m.ask_z(empty)
    assert m.report_z
    close = a_sale(kind="shift_close", lines=[], tenders=[], tax=[], report=plain(empty))
    m.took({"op": "shift_close"}, Outcome("shift_close", record=close))
    assert "Z REPORT" in m.report_text and not m.report_z and m.panel == "report"


def record(lines: int, **changes: Any) -> Record:
    line = plain(a_sale().lines[0]) | {"qty": 1, "unit_price": 100, "total": 100}
    items = [line | {"name": f"Item {n}"} for n in range(1, lines + 1)]
    return a_sale(**({"receipt_no": "R1", "total": 100 * lines, "lines": items} | changes))


def test_refund_finds_a_receipt_and_chooses_its_lines() -> None:
    m = model()
    m.found("  nope ", None, set())
    assert m.panel == "refund" and m.message == "No receipt 'nope' on this till"
    assert m.refund(view(MARIE)) is None and m.message.startswith("Find the receipt")
    m.found("R1", record(3), {1})
    assert m.message == "" and m.receipt_text() == "Receipt R1  ·  £3.00"
    keys = m.refund_keys().items
    assert keys[0].text == "1. 1 × Item 1  £1.00  (refunded)"
    assert not keys[0].choosable and keys[1].choosable
    m.toggle_line(3)
    m.toggle_line(2)
    assert m.refund_text() == "Refund lines 2, 3"
    m.toggle_line(3)
    op = m.refund(view(MARIE))
    assert op == {"op": "refund", "receipt_no": "R1", "lines": [2]}
    m.took(op, Outcome("refund", rejected="a sale is open; finish or cancel it first"))
    assert m.receipt is not None and m.refund_lines == {2}  # kept to try again
    done = a_sale(kind="refund", total=-100, change=0, receipt_no="R2")
    m.took(op, Outcome("refund", record=done))
    assert m.receipt is None and m.refund_lines == set() and m.panel == "change"
    m.found("R1", record(3), set())
    m.refund_back()
    assert m.receipt is None and m.panel == "more"
    # The last receipt may be a refund's: shown (to reprint), its lines not to choose.
    m.found_last(record(2, kind="refund", total=-200), set())
    assert m.receipt_text() == "Refund R1  ·  -£2.00"
    assert [k.choosable for k in m.refund_keys().items] == [False, False]


def test_every_line_of_a_long_sale_can_be_refunded() -> None:
    """Twenty lines on a panel with room for eight: seven a page, and the page keys."""
    m = model()
    m.found("R1", record(20), {8})
    numbers = []
    for _ in range(3):
        numbers.append([k.number for k in m.refund_keys().items])
        m.turn_lines(1)
    assert numbers == [list(range(1, 8)), list(range(8, 15)), list(range(15, 21))]
    page = m.refund_keys()
    assert page.number == 2 and page.more_text == "More ›\n3/3" and not page.more
    m.toggle_line(20)
    m.turn_lines(-2)
    m.toggle_line(1)
    assert [k.chosen for k in m.refund_keys().items][:1] == [True]
    assert m.refund(view(MARIE)) == {"op": "refund", "receipt_no": "R1", "lines": [1, 20]}
    m.turn_lines(-1)
    assert m.refund_keys().number == 0
    m.turn_lines(2)
    m.found("R1", record(20), set())  # another receipt (or the same again): its first page
    assert m.refund_keys().number == 0 and m.refund_lines == set()
    m.found("R9", record(8), set())
    assert m.refund_keys().pages == 1 and len(m.refund_keys().items) == 8


def test_a_cashiers_refund_waits_for_a_supervisors_approval() -> None:
    m = model([Member("ana", "Ana"), Member("marie", "Marie", "supervisor")])
    m.found("R1", record(3), set())
    m.toggle_line(2)
    m.toggle_line(3)
    assert m.refund(view(ANA)) is None  # nothing sent yet
    assert m.panel == "approve"
    assert m.approval_text() == "Refund of lines 2, 3 of receipt R1"
    assert [k.name for k in m.approver_keys().items] == ["Marie"]  # supervisors only
    assert m.approve() is None and m.message.startswith("A supervisor chooses")
    m.choose_approver("marie")
    for c in "99":
        m.type(c)
    assert m.entry_text() == "PIN  ●●"
    approve = m.approve()
    assert approve == {"op": "approve", "staff": "marie", "pin": "99"}
    wrong = Outcome("approve", rejected="wrong PIN for marie; try again")
    assert m.took(approve, wrong) is None
    assert m.panel == "approve" and m.message == "wrong PIN for marie; try again"
    m.type("9")
    follow = m.took(m.approve() or {}, Outcome("approve"))
    assert follow == {"op": "refund", "receipt_no": "R1", "lines": [2, 3]}
    assert m.panel == "refund" and m.pending is None and m.message == ""
    # With the approval waiting (or a supervisor at the till) it goes at once.
    assert m.refund(view(ANA, approval="marie")) == follow
    assert m.refund(view(MARIE)) == follow


def test_no_sale_and_reprint_ask_too_and_back_cancels() -> None:
    bosses = [Member(f"b{n}", f"Boss {n}", "supervisor") for n in range(7)]
    m = model([Member("ana", "Ana"), *bosses])
    m.go("nosale")
    assert m.no_sale("Float check", view(ANA)) is None
    assert m.approval_text() == "Open the drawer: Float check"
    page = m.approver_keys()
    assert [k.name for k in page.items] == [f"Boss {n}" for n in range(4)] and page.more
    m.turn_approvers(1)
    assert [k.name for k in m.approver_keys().items] == ["Boss 4", "Boss 5", "Boss 6"]
    m.approve_back()
    assert m.panel == "nosale" and m.pending is None
    assert m.no_sale("Float check", view(MARIE)) == {"op": "no_sale", "reason": "Float check"}
    m.go("refund")
    assert m.reprint(view(ANA)) is None and m.message.startswith("Find the receipt first")
    m.found_last(None, set())
    assert m.message == "No sale or refund on this till yet"
    m.found_last(record(2), set())
    assert m.reprint(view(ANA)) is None and m.panel == "approve"
    assert m.approval_text() == "A copy of receipt R1"
    m.choose_approver("b6")
    m.type("1")
    reprint = m.took(m.approve() or {}, Outcome("approve"))
    assert reprint == {"op": "reprint", "receipt_no": "R1"} and m.panel == "refund"
    m.took(reprint, Outcome("reprint", detail={"receipt_no": "R1"}))
    assert m.notice([]) == ("A copy of receipt R1 is printing", "ok")
    assert m.receipt is not None  # still there, to refund or print again
    m.took(reprint, Outcome("reprint", rejected="the copy could not be queued"))
    assert m.notice([]) == ("the copy could not be queued", "fault")


def test_generation_counts_what_the_view_does_not_show() -> None:
    m = model()
    before = m.generation
    m.type("1")
    m.select(1)
    assert m.generation == before  # drawn in place, no rebuild
    m.found("R1", record(1), set())
    m.toggle_line(1)
    assert m.generation == before + 2


def test_a_locked_name_says_so_and_log_in_asks_a_supervisor_to_unlock_it() -> None:
    m = model([Member("ana", "Ana"), Member("marie", "Marie", "supervisor")])
    locked = frozenset({"ana"})
    keys = m.staff_keys(locked).items
    assert [(k.name, k.locked) for k in keys] == [("Ana (locked)", True), ("Marie", False)]
    m.choose_staff("ana")
    m.type("1")
    refused = "ana is locked after 10 wrong PINs; a supervisor must unlock it"
    m.took({"op": "login"}, Outcome("login", rejected=refused))
    assert m.notice([]) == (refused, "fault")  # why, on the screen
    assert m.login(locked) is None and m.entry == ""  # no PIN is sent for a locked name
    nobody = view(staff=None, locked=locked)
    assert m.panel == "approve" and m.panel_for(nobody) == "approve"
    assert m.approval_text() == "Unlock Ana, locked after wrong PINs"
    assert [k.name for k in m.approver_keys().items] == ["Marie"]
    m.choose_approver("marie")
    m.type("9")
    unlock = m.approve()
    assert unlock == {"op": "approve", "staff": "marie", "pin": "9", "unlock": "ana"}
    assert m.took(unlock, Outcome("approve", rejected="wrong PIN for marie; try again")) is None
    assert m.panel_for(nobody) == "approve"  # still there to try again
    assert m.took(unlock, Outcome("approve")) is None
    assert m.panel_for(view(staff=None)) == "login" and m.unlocking is None
    assert m.notice([]) == ("ana can log in again", "ok")
    # Back, instead: to the login panel, nothing sent.
    m.login(locked)
    m.approve_back()
    assert m.panel_for(nobody) == "login" and m.unlocking is None


def test_a_discount_the_till_refuses_for_want_of_a_supervisor_waits_for_one() -> None:
    m = model([Member("ana", "Ana"), Member("marie", "Marie", "supervisor")])
    m.select(2)
    m.ask_discount()
    m.type("5")
    m.type("0")
    op = m.answer()
    assert op == {"op": "discount", "percent": "50", "line": 2}
    needs = Outcome(
        "discount",
        rejected="a discount over 10 % needs a supervisor; ask one to approve first",
        detail={"needs": "supervisor"},
    )
    assert m.took(op, needs) is None
    assert m.panel == "approve" and m.approval_text() == "A discount of 50 % on line 2"
    m.choose_approver("marie")
    m.type("9")
    assert m.took(m.approve() or {}, Outcome("approve")) == op  # then the discount goes
    assert m.panel == "sell"
    # A refusal for anything else stays a message.
    m.took(op, Outcome("discount", rejected="the basket is empty"))
    assert m.panel == "sell" and m.message == "the basket is empty"
    basket = {"op": "discount", "percent": "20", "scope": "basket"}
    m.took(basket, Outcome("discount", rejected="over", detail={"needs": "supervisor"}))
    assert m.approval_text() == "A discount of 20 % on the whole basket"


def held(n: int) -> list[HeldReceipt]:
    """`n` receipts not printed, newest first, as `PrintJobs.held()` lists them."""
    return [
        HeldReceipt(j, j, f"R{j}", j == 2, f"2026-11-23T10:{j:02d}:00.000Z", 100 * j, "", "old")
        for j in range(n, 0, -1)
    ]


def test_receipts_not_printed_are_listed_for_a_supervised_copy_or_cleared() -> None:
    m = model([Member("ana", "Ana"), Member("marie", "Marie", "supervisor")])
    assert m.unprinted_title(0) == "Not printed" and m.unprinted_title(7) == "Not printed (7)"
    assert m.unprinted_texts(0)[0] == "Every receipt has printed"
    title, hint = m.unprinted_texts(7)
    assert title == "7 receipts not printed" and "Touch one to print a copy" in hint
    m.go("unprinted")
    page = m.unprinted_keys(held(7))  # six fit, or five a page and the page keys
    assert [k.receipt_no for k in page.items] == ["R7", "R6", "R5", "R4", "R3"] and page.more
    assert page.items[0].text.startswith("R7  ·  ") and page.items[0].text.endswith("£7.00")
    m.turn_unprinted(1)
    assert [k.text.split("  ·  ")[0] for k in m.unprinted_keys(held(7)).items] == [
        "copy of R2",
        "R1",
    ]
    # A cashier's copy waits for a supervisor; then it goes, and the list is drawn again.
    assert m.reprint_unprinted("R2", view(ANA)) is None and m.panel == "approve"
    assert m.approval_text() == "A copy of receipt R2"
    m.choose_approver("marie")
    m.type("9")
    follow = m.took(m.approve() or {}, Outcome("approve"))
    assert follow == {"op": "reprint", "receipt_no": "R2"} and m.panel == "unprinted"
    before = m.generation
    m.took(follow, Outcome("reprint", detail={"receipt_no": "R2"}))
    assert m.generation > before and m.notice([]) == ("A copy of receipt R2 is printing", "ok")
    # Clearing takes every receipt listed off, printing none; a supervisor's call too.
    assert m.clear_unprinted([], view(MARIE)) is None
    assert m.message == "There is no receipt to clear"
    clear = m.clear_unprinted(held(3), view(MARIE))
    assert clear == {"op": "clear_unprinted", "job_ids": [3, 2, 1]}
    assert m.clear_unprinted(held(3), view(ANA)) is None and m.panel == "approve"
    assert m.approval_text().startswith("Clear 3 receipts from the list")
    m.approve_back()
    m.took(clear, Outcome("clear_unprinted", detail={"count": 3}))
    assert m.notice([]) == ("3 receipts cleared from the list", "ok") and m.unprinted_page == 0


def test_the_printer_light_counts_the_receipts_not_printed() -> None:
    light = printer_light("ok", 0, 4)
    assert (light.level, light.text) == ("warn", "4 not printed")
    assert light.advice.endswith("a copy from More… › Not printed.")
    assert printer_light("ok", 0, 0).level == "ok"
    faulted = printer_light("paper_out", 2, 4)  # the fault first: it is what to fix
    assert faulted.level == "fault" and faulted.text == "Printer out of paper (2 waiting)"
