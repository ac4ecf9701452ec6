"""What the till screen shows and decides, without Kivy.

`TillModel` is the screen's state: which panel is up, the page each list is on, what is
chosen, what is being typed, what a refused operation said. It makes every text the
panels show and every operation a key sends (the scenario operations of the contract,
handed to `Controller.handle`), and it hears their outcomes. The panels in this package
only draw what it says and tell it what was touched, so every decision here is tested
without a display (tests/test_display_till_model.py).

A restricted operation (refund, no sale, reprint, clearing the receipts not printed)
asked for by a cashier with no approval waiting goes to the approval panel first: a
supervisor chooses their name and types their PIN (`approve`), and the operation follows;
so does one the till refused for want of a supervisor (a discount over the cashier's
limit). A name locked after wrong PINs goes there too, from the login panel: the
supervisor's `approve` carries `unlock`. A reprint is not a scenario operation: the
screen sends `{"op": "reprint", …}` to `Controller.reprint`, and
`{"op": "clear_unprinted", …}` to `Controller.clear_unprinted`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from appliance.controller import Outcome
from appliance.display.models import quick_cash
from appliance.display.status import Light, worst
from appliance.sales.catalog import Catalog, Item
from appliance.sales.reports import format_report
from appliance.sales.till import TillLine, TillView
from appliance.store import HeldReceipt
from protocol.money import format_minor
from protocol.record import Record, ShiftReport
from protocol.timestamps import parse_stamp

PanelName = Literal[
    "login", "sell", "number", "tender", "change", "more", "refund", "nosale", "report",
    "approve", "unprinted",
]  # fmt: skip
Op = dict[str, Any]
T = TypeVar("T")

FAVOURITES = "★ Favourites"
NO_SALE_REASONS = ("Change for a customer", "Float check", "Wrong tender corrected", "Other")
MAX_ENTRY = 12  # characters the keypad takes (a PIN, an amount, a terminal reference)
# Room on a panel for the keys of a list; a longer list pages, its page keys ("‹ Back",
# "More ›") taking one row of a column or two keys of the grid, so every entry is
# reachable by touch however long the list.
GRID_ROOM = 12  # product keys in the grid: 12, or 10 a page and the two page keys
STAFF_ROOM = 6  # names on the login panel: 6, or 5 a page and a row of page keys
REFUND_ROOM = 8  # lines of a receipt on the refund panel: 8, or 7 and the page keys
APPROVER_ROOM = 5  # supervisors' names on the approval panel (under what is approved)
UNPRINTED_ROOM = 6  # receipts not printed, on their panel: 6, or 5 and the page keys
# What needs a supervisor at the till, or one's one-shot approval (appliance.sales.till).
RESTRICTED = frozenset({"refund", "no_sale", "reprint", "clear_unprinted"})


class StaffEntry(Protocol):
    """What the login panel needs of a roster entry (config's StaffMember has it)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list longer than its panel has room for."""

    items: tuple[T, ...]
    number: int  # from 0
    pages: int
    size: int  # items a page holds (the panel leaves the rest of its room blank)

    @property
    def back(self) -> bool:
        return self.number > 0

    @property
    def more(self) -> bool:
        return self.number < self.pages - 1

    @property
    def more_text(self) -> str:
        return f"More ›\n{self.number + 1}/{self.pages}"


def page_of(items: Sequence[T], number: int, room: int, keys: int) -> Page[T]:
    """Page `number` of `items` in `room` places: all of them when they fit, else
    `room - keys` a page, the page keys ("‹ Back", "More ›") taking the other `keys`."""
    size = room if len(items) <= room else room - keys
    pages = max(1, -(-len(items) // size))
    number = min(max(number, 0), pages - 1)
    return Page(tuple(items[number * size : (number + 1) * size]), number, pages, size)


@dataclass(frozen=True)
class StaffKey:
    """A name to touch on the login panel."""

    id: str
    name: str
    chosen: bool
    locked: bool = False  # after wrong PINs: a supervisor unlocks it


@dataclass(frozen=True)
class ItemKey:
    """A product key of the grid."""

    sku: str
    text: str


@dataclass(frozen=True)
class RefundLine:
    """One line of the receipt being refunded, as its key shows it."""

    number: int
    text: str
    chosen: bool
    choosable: bool  # not when an earlier refund took it back, nor on a refund's receipt


@dataclass(frozen=True)
class UnprintedKey:
    """A receipt not printed (held: too old when the printer could take it), to touch
    for a copy."""

    receipt_no: str
    text: str


@dataclass(frozen=True)
class Ask:
    """A number the number panel asks for, and the operation the typed value makes."""

    prompt: str
    op: Callable[[str], Op]


class TillModel:
    """The till screen's state and decisions. `panel` names what the body shows.

    `generation` counts the changes to what a panel shows beyond the till's own view
    (a receipt found, a page turned, a report made): the screen rebuilds the panel when
    it or the view changes. What is typed and which basket line is selected are not
    counted: the screen updates those in place.
    """

    def __init__(
        self,
        money: Callable[[int], str],
        exponent: int,
        favourites: Iterable[str],
        staff: Sequence[StaffEntry],
    ) -> None:
        self.money = money
        self.exponent = exponent
        self.favourites = list(favourites)
        self.staff = list(staff)
        self.generation = 0
        self.panel: PanelName = "login"
        self.entry = ""
        self.message = ""
        self.message_level = "fault"
        self.login_staff: str | None = None
        self.staff_page = 0
        self.category = FAVOURITES if self.favourites else ""
        self.search = ""
        self.grid_page = 0
        self.selected: int | None = None
        self.asking: Ask | None = None
        self.finished: Record | None = None
        self.receipt: Record | None = None  # found on the refund panel
        self.refunded: set[int] = set()  # its lines earlier refunds took back
        self.refund_lines: set[int] = set()  # chosen to refund now
        self.lines_page = 0
        self.report_text = ""
        self.report_z = False
        self.pending: Op | None = None  # waiting for a supervisor's approval
        self.approve_from: PanelName = "more"
        self.approver: str | None = None
        self.approver_page = 0
        self.unlocking: str | None = None  # the locked id the approval panel is for
        self.unprinted_page = 0

    def _changed(self) -> None:
        self.generation += 1

    def go(self, panel: PanelName) -> None:
        """To another panel, with nothing typed and no message."""
        self.message, self.entry, self.panel = "", "", panel
        self._changed()

    # -- what is always shown -----------------------------------------------------------
    def who(self, view: TillView) -> str:
        return f" {view.staff.name}" if view.staff else " Not logged in"

    def notice(self, lights: Sequence[Light]) -> tuple[str, str]:
        """The line under the status bar and its level: the last refusal, else what to
        do about the worst fault, else nothing."""
        advice = worst(lights)
        if self.message:
            return self.message, self.message_level
        if advice is not None:
            return f"{advice.text}: {advice.advice}", advice.level
        return "", "ok"

    def panel_for(self, view: TillView) -> PanelName:
        """The panel to show for the till's state: login until someone is, the tender
        keypad while paying, else the panel chosen (the sell panel after login)."""
        if view.staff is None:
            return "approve" if self.panel == "approve" and self.unlocking else "login"
        if self.panel == "number":
            return "number"
        if view.state == "tendering":
            return "tender"
        if self.panel == "login" or (self.panel == "change" and view.state != "idle"):
            return "sell"
        if self.panel == "tender" and view.state == "idle":
            return "sell"
        return self.panel

    # -- what the keypad types ------------------------------------------------------------
    def type(self, char: str) -> None:
        """A keypad key: a character, or "" for C (clear)."""
        self.entry = "" if char == "" else (self.entry + char)[:MAX_ENTRY]

    def entry_text(self) -> str:
        if self.panel in ("login", "approve"):
            return "PIN  " + "●" * len(self.entry)
        return self.entry or "0"

    # -- login ----------------------------------------------------------------------------
    @property
    def setup_mode(self) -> bool:
        """No roster: one "Set-up" key logs in a supervisor without a PIN."""
        return not self.staff

    def staff_keys(self, locked: Collection[str] = ()) -> Page[StaffKey]:
        """The page of names on the login panel (the whole roster, page by page); a name
        `locked` after wrong PINs says so."""
        if self.setup_mode:
            people = [StaffKey("setup", "Set-up (supervisor)", self.login_staff == "setup")]
        else:
            people = [
                StaffKey(
                    m.id,
                    f"{m.name} (locked)" if m.id in locked else m.name,
                    m.id == self.login_staff,
                    m.id in locked,
                )
                for m in self.staff
            ]
        page = page_of(people, self.staff_page, STAFF_ROOM, 1)
        self.staff_page = page.number
        return page

    def turn_staff(self, step: int) -> None:
        self.staff_page = max(0, self.staff_page + step)
        self._changed()

    def choose_staff(self, staff_id: str) -> None:
        self.login_staff = staff_id
        self._changed()

    def login(self, locked: Collection[str] = ()) -> Op | None:
        """The login operation for the name chosen and the PIN typed; None (and a
        message) when no name is chosen, or (to the approval panel, to unlock it) when
        the name is `locked`."""
        sid = self.login_staff or ("setup" if self.setup_mode else None)
        if sid is None:
            self.message = "Choose your name first, then type your PIN"
            return None
        pin, self.entry = self.entry, ""
        if sid in locked:
            self.unlocking, self.pending, self.approve_from = sid, None, "login"
            self.approver, self.approver_page = None, 0
            self.go("approve")
            return None
        return {"op": "login", "staff": sid, "pin": pin or None}

    # -- selling: categories, grid, basket --------------------------------------------------
    def categories(self, catalog: Iterable[Item]) -> list[str]:
        seen: dict[str, None] = {}
        for item in catalog:
            seen.setdefault(item.category or "Other", None)
        return ([FAVOURITES] if self.favourites else []) + list(seen)

    def items(self, catalog: Catalog) -> list[Item]:
        """What the grid lists: the search's matches, else the category's items."""
        if not self.category:
            self.category = next(iter(self.categories(catalog)), "")
        if self.search:
            needle = self.search.casefold()
            return [i for i in catalog if needle in i.name.casefold() or needle == i.sku.lower()]
        if self.category == FAVOURITES:
            return [i for sku in self.favourites if (i := catalog.by_sku(sku)) is not None]
        return [i for i in catalog if i.category == self.category]

    def grid(self, catalog: Catalog) -> Page[ItemKey]:
        """The page of product keys to show (and the category chosen, if none was)."""
        keys = [ItemKey(i.sku, f"{i.name}\n{self.money(i.price)}") for i in self.items(catalog)]
        page = page_of(keys, self.grid_page, GRID_ROOM, 2)
        self.grid_page = page.number
        return page

    def tab_on(self, category: str) -> bool:
        return category == self.category and not self.search

    def choose_category(self, category: str) -> None:
        self.category, self.search, self.grid_page = category, "", 0
        self._changed()

    def find(self, text: str) -> None:
        """Search the catalog by name or SKU ("" goes back to the category)."""
        self.search, self.grid_page = text.strip(), 0
        self._changed()

    def turn_grid(self, step: int) -> None:
        self.grid_page = max(0, self.grid_page + step)
        self._changed()

    @staticmethod
    def key_item(sku: str) -> Op:
        return {"op": "key", "sku": sku, "qty": 1}

    def selection(self, view: TillView) -> int | None:
        """The basket line selected (for Line % and Void): the newest live line unless
        one still live was touched."""
        live = [ln.number for ln in view.lines if not ln.voided]
        if self.selected not in live:
            self.selected = live[-1] if live else None
        return self.selected

    def select(self, number: int) -> None:
        self.selected = number

    def line_text(self, ln: TillLine) -> tuple[str, str]:
        """A basket row's text (markup: a voided line struck) and its amount."""
        name = f"[s]{ln.qty} × {ln.name}[/s]" if ln.voided else f"{ln.qty} × {ln.name}"
        m = self.money
        amount = m(ln.total) if not ln.discount else f"−{m(ln.discount)}  {m(ln.total)}"
        return f"{ln.number}. {name}", amount

    def total_text(self, view: TillView) -> str:
        return f"Total  {self.money(view.total)}" if view.lines else "Scan or tap an item to start"

    @staticmethod
    def card_text(view: TillView) -> str:
        lo = view.loyalty
        return f"Card {lo.account}" + (" (offline)" if lo.offline else "") if lo else ""

    def pay_text(self, view: TillView) -> str:
        return f"Pay {self.money(view.due)}" if view.lines else "Pay"

    def void(self) -> Op | None:
        return None if self.selected is None else {"op": "void_line", "line": self.selected}

    def pay(self, view: TillView) -> None:
        if view.lines:
            self.go("tender")

    # -- the number panel -------------------------------------------------------------------
    def ask(self, prompt: str, op: Callable[[str], Op]) -> None:
        self.message, self.entry, self.asking = "", "", Ask(prompt, op)
        self.panel = "number"
        self._changed()

    def ask_qty(self) -> None:
        # The typed text goes as it is: the controller refuses what is not a whole number.
        self.ask("Quantity of the last line", lambda v: {"op": "qty", "qty": v})

    def ask_discount(self) -> None:
        line = self.selected
        self.ask(
            f"Discount % on line {line}",
            lambda v: {"op": "discount", "percent": v, "line": line},
        )

    def ask_basket_discount(self) -> None:
        self.ask(
            "Discount % on the whole basket",
            lambda v: {"op": "discount", "percent": v, "scope": "basket"},
        )

    def ask_card(self) -> None:
        self.ask(
            "Card terminal reference (from the terminal's slip)",
            lambda ref: {"op": "tender", "type": "card", "ref": ref},
        )

    def prompt(self) -> str:
        return self.asking.prompt if self.asking is not None else ""

    def answer(self) -> Op | None:
        """OK on the number panel: back to selling, with the operation the value makes."""
        value, self.entry = self.entry or "0", ""
        self.panel = "sell"
        self._changed()
        return self.asking.op(value) if self.asking is not None else None

    # -- tender ---------------------------------------------------------------------------
    def tender_texts(self, view: TillView) -> list[str]:
        """The tender panel's headline, then what is paid and what is due in cash."""
        m = self.money
        texts = [f"To pay  {m(view.due)}"]
        if view.paid:
            texts.append(f"Paid so far {m(view.paid)}")
        if view.cash_due != view.due:
            texts.append(f"In cash {m(view.cash_due)}")
        return texts

    def cash_keys(self, view: TillView) -> list[tuple[str, int]]:
        """Exact, then the notes a customer is likely to hand over."""
        exact = [(f"Exact {self.money(view.cash_due)}", view.cash_due)]
        return exact + [(self.money(a), a) for a in quick_cash(view.cash_due, self.exponent)]

    def cash(self, minor: int) -> Op:
        return {"op": "tender", "type": "cash", "amount": format_minor(minor, self.exponent)}

    def cash_typed(self) -> Op | None:
        text, self.entry = self.entry, ""
        return {"op": "tender", "type": "cash", "amount": text} if text else None

    def tender_back(self, view: TillView) -> None:
        """Back to the basket, unless a payment has been taken already."""
        if not view.paid:
            self.go("sell")

    # -- after a sale or refund ------------------------------------------------------------
    def finished_sale(self, record: Record) -> None:
        """A sale or refund completed (here, by a scenario or a remote command)."""
        self.finished, self.panel = record, "change"
        self._changed()

    def change_texts(self) -> tuple[str, str, str]:
        """Title, the amount to hand back (big), and the total and receipt number."""
        rec = self.finished
        refund = rec is not None and rec.kind == "refund"
        title = "Give back to the customer" if refund else "Change due"
        sold = 0 if rec is None else rec.total
        amount = -sold if refund else (0 if rec is None else rec.change)
        receipt_no = "" if rec is None else rec.receipt_no
        return title, self.money(amount), f"Total {self.money(sold)} · receipt {receipt_no}"

    # -- reports --------------------------------------------------------------------------
    def x_report(self, report: ShiftReport) -> None:
        self.report_text = format_report(report, "X REPORT", self.exponent)
        self.report_z = False
        self.go("report")

    def ask_z(self, report: ShiftReport) -> None:
        """The X report first, with a key that closes the shift."""
        self.x_report(report)
        self.report_z = True

    # -- refund ---------------------------------------------------------------------------
    def found(self, receipt_no: str, record: Record | None, refunded: set[int]) -> None:
        """A receipt looked up by its number (what its barcode carries)."""
        self.receipt, self.refunded, self.refund_lines = record, set(refunded), set()
        self.lines_page = 0
        self.message = "" if record else f"No receipt {receipt_no.strip()!r} on this till"
        self.panel = "refund"
        self._changed()

    def found_last(self, record: Record | None, refunded: set[int]) -> None:
        """The till's last sale or refund, for "Last receipt"."""
        self.found("", record, refunded)
        if record is None:
            self.message = "No sale or refund on this till yet"

    def receipt_text(self) -> str:
        rec = self.receipt
        if rec is None:
            return ""
        kind = {"sale": "Receipt", "refund": "Refund"}.get(rec.kind, rec.kind)
        return f"{kind} {rec.receipt_no}  ·  {self.money(rec.total)}"

    def refund_keys(self) -> Page[RefundLine]:
        """The page of the receipt's lines (every line of a long sale, page by page)."""
        rec = self.receipt
        sale = rec is not None and rec.kind == "sale"  # a refund's lines: to reprint only
        keys = []
        for n, li in enumerate(rec.lines if rec is not None else (), 1):
            text = f"{n}. {li.qty} × {li.name}  {self.money(li.total)}"
            if n in self.refunded:
                text += "  (refunded)"
            choosable = sale and n not in self.refunded
            keys.append(RefundLine(n, text, n in self.refund_lines, choosable))
        page = page_of(keys, self.lines_page, REFUND_ROOM, 1)
        self.lines_page = page.number
        return page

    def turn_lines(self, step: int) -> None:
        self.lines_page = max(0, self.lines_page + step)
        self._changed()

    def toggle_line(self, number: int) -> None:
        self.refund_lines ^= {number}
        self._changed()

    def refund_text(self) -> str:
        picked = sorted(self.refund_lines)
        return f"Refund lines {', '.join(map(str, picked))}" if picked else "Refund"

    def refund(self, view: TillView) -> Op | None:
        rec = self.receipt
        if rec is None or not self.refund_lines:
            self.message = "Find the receipt and choose the lines to refund"
            return None
        lines = sorted(self.refund_lines)
        return self.request({"op": "refund", "receipt_no": rec.receipt_no, "lines": lines}, view)

    def reprint(self, view: TillView) -> Op | None:
        """A copy of the receipt found (printed marked COPY)."""
        if self.receipt is None:
            self.message = "Find the receipt first: scan it, type its number, or Last receipt"
            return None
        return self.request({"op": "reprint", "receipt_no": self.receipt.receipt_no}, view)

    def refund_back(self) -> None:
        self.receipt, self.refunded, self.refund_lines = None, set(), set()
        self.go("more")

    # -- receipts not printed (held) -------------------------------------------------------
    @staticmethod
    def unprinted_title(count: int) -> str:
        """The key on the More… panel that opens the list."""
        return f"Not printed ({count})" if count else "Not printed"

    def unprinted_texts(self, count: int) -> tuple[str, str]:
        """The list's headline and what it is for."""
        if not count:
            return "Every receipt has printed", "Receipts too old to print by themselves show here."
        word = "receipt" if count == 1 else "receipts"
        return (
            f"{count} {word} not printed",
            "They were too old when the printer could take them: the customer had gone. "
            "Touch one to print a copy (marked COPY).",
        )

    def unprinted_keys(self, held: Sequence[HeldReceipt]) -> Page[UnprintedKey]:
        """The page of receipts not printed, newest first, each with its sale time and total."""
        keys = []
        for h in held:
            try:
                when = parse_stamp(h.sold).astimezone().strftime("%d/%m %H:%M")
            except ValueError:
                when = h.sold[:16]
            copy = "copy of " if h.copy else ""
            text = f"{copy}{h.receipt_no}  ·  {when}  ·  {self.money(h.total)}"
            keys.append(UnprintedKey(h.receipt_no, text))
        page = page_of(keys, self.unprinted_page, UNPRINTED_ROOM, 1)
        self.unprinted_page = page.number
        return page

    def turn_unprinted(self, step: int) -> None:
        self.unprinted_page = max(0, self.unprinted_page + step)
        self._changed()

    def reprint_unprinted(self, receipt_no: str, view: TillView) -> Op | None:
        """A copy of a receipt not printed; it leaves the list."""
        return self.request({"op": "reprint", "receipt_no": receipt_no}, view)

    def clear_unprinted(self, held: Sequence[HeldReceipt], view: TillView) -> Op | None:
        """Take every receipt listed off the list, printing none."""
        if not held:
            self.message = "There is no receipt to clear"
            return None
        return self.request({"op": "clear_unprinted", "job_ids": [h.job_id for h in held]}, view)

    # -- no sale --------------------------------------------------------------------------
    def no_sale(self, reason: str, view: TillView) -> Op | None:
        return self.request({"op": "no_sale", "reason": reason}, view)

    # -- a supervisor's approval ------------------------------------------------------------
    @staticmethod
    def needs_approval(view: TillView) -> bool:
        """A cashier at the till with no supervisor's approval waiting."""
        staff = view.staff
        return staff is not None and not staff.is_supervisor and view.approval is None

    def request(self, op: Op, view: TillView) -> Op | None:
        """`op` to send now, or None having gone to the approval panel with it."""
        if op["op"] not in RESTRICTED or not self.needs_approval(view):
            return op
        self.pending, self.approve_from = op, self.panel
        self.approver, self.approver_page = None, 0
        self.go("approve")
        return None

    def approval_text(self) -> str:
        """What the supervisor is asked to approve."""
        if self.unlocking is not None:
            name = next((m.name for m in self.staff if m.id == self.unlocking), self.unlocking)
            return f"Unlock {name}, locked after wrong PINs"
        op = self.pending or {}
        match op.get("op"):
            case "refund":
                word = "lines" if len(op["lines"]) > 1 else "line"
                lines = ", ".join(map(str, op["lines"]))
                return f"Refund of {word} {lines} of receipt {op['receipt_no']}"
            case "no_sale":
                return f"Open the drawer: {op['reason']}"
            case "reprint":
                return f"A copy of receipt {op['receipt_no']}"
            case "discount":
                where = "the whole basket" if op.get("scope") == "basket" else "line"
                if where == "line":
                    where = f"line {op['line']}" if op.get("line") is not None else "the last line"
                return f"A discount of {op.get('percent')} % on {where}"
            case "clear_unprinted":
                n = len(op["job_ids"])
                word = "receipt" if n == 1 else "receipts"
                return f"Clear {n} {word} from the list of those not printed (none is printed)"
        return ""

    def approver_keys(self) -> Page[StaffKey]:
        """The supervisors on the roster, a page at a time."""
        people = [
            StaffKey(m.id, m.name, m.id == self.approver)
            for m in self.staff
            if m.role == "supervisor"
        ]
        page = page_of(people, self.approver_page, APPROVER_ROOM, 1)
        self.approver_page = page.number
        return page

    def turn_approvers(self, step: int) -> None:
        self.approver_page = max(0, self.approver_page + step)
        self._changed()

    def choose_approver(self, staff_id: str) -> None:
        self.approver = staff_id
        self._changed()

    def approve(self) -> Op | None:
        """The approval for the name chosen and the PIN typed."""
        if self.approver is None:
            self.message = "A supervisor chooses their name, then types their PIN"
            return None
        pin, self.entry = self.entry, ""
        op: Op = {"op": "approve", "staff": self.approver, "pin": pin or None}
        if self.unlocking is not None:
            op["unlock"] = self.unlocking
        return op

    def approve_back(self) -> None:
        """No approval after all: back where it was asked for, nothing sent."""
        self.pending, self.unlocking = None, None
        self.go(self.approve_from)

    # -- outcomes -------------------------------------------------------------------------
    def took(self, op: Op, outcome: Outcome) -> Op | None:
        """What an operation sent from this screen did: a refusal is shown; a login
        goes to selling, a completed sale or refund to the change panel, a Z to its
        report, an approval to what it was asked for. Returns an operation to send next."""
        self.message, self.message_level = outcome.rejected or "", "fault"
        needs = isinstance(outcome.detail, dict) and outcome.detail.get("needs") == "supervisor"
        if outcome.rejected is not None and needs and op.get("op") != "approve":
            # The till wants a supervisor for it (a discount over the cashier's limit).
            self.pending, self.approve_from = op, self.panel
            self.approver, self.approver_page = None, 0
            self.go("approve")
            return None
        if outcome.rejected is not None:
            return None
        match op.get("op"):
            case "login" | "no_sale":
                self.go("sell")
            case "approve" if op.get("unlock") is not None:
                self.unlocking = None
                self.go("login")
                self.message = f"{op['unlock']} can log in again"
                self.message_level = "ok"
            case "approve":
                follow, self.pending = self.pending, None
                self.go(self.approve_from)
                return follow
            case "reprint":
                self.message = f"A copy of receipt {op['receipt_no']} is printing"
                self.message_level = "ok"
                if self.panel == "unprinted":
                    self._changed()  # the list, without it
            case "clear_unprinted":
                n = int((outcome.detail or {}).get("count", 0))
                self.message = f"{n} receipt{'' if n == 1 else 's'} cleared from the list"
                self.message_level = "ok"
                self.unprinted_page = 0
                self._changed()
            case "tender" if outcome.record is not None:
                self.finished_sale(outcome.record)
            case "refund":
                self.receipt, self.refunded, self.refund_lines = None, set(), set()
                if outcome.record is not None:
                    self.finished_sale(outcome.record)
            case "shift_close":
                report = None if outcome.record is None else outcome.record.report
                self.report_text = (
                    "" if report is None else format_report(report, "Z REPORT", self.exponent)
                )
                self.report_z, self.panel = False, "report"
                self._changed()
        return None
