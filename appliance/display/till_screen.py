"""The staff till: PIN login, product grid, basket, tender keypad, refunds, no-sale, X/Z.

Every key ends in `DisplayContext.act(op)` with a scenario operation, so a finger on
this screen and a line of `appliance replay` do exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.textinput import TextInput
from kivy.uix.togglebutton import ToggleButton

from appliance.controller import Outcome
from appliance.display.context import DisplayContext
from appliance.display.kit import (
    ACCENT,
    FAULT,
    GO,
    LEVEL,
    MUTED,
    PANEL,
    PAPER,
    WARN,
    WHITE,
    ClipScroll,
    Key,
    Panel,
    Scale,
    Text,
    flat_background,
    ink_only,
    recolour,
)
from appliance.display.models import quick_cash
from appliance.display.status import worst
from appliance.events import Event
from appliance.sales.catalog import Item
from appliance.sales.reports import format_report
from appliance.sales.till import TillLine, TillView
from protocol.money import format_minor
from protocol.record import Record

FAVOURITES = "★ Favourites"
NO_SALE_REASONS = ("Change for a customer", "Float check", "Wrong tender corrected", "Other")
MAX_GRID = 240  # items a category or search can list (in pages of GRID_PAGE)
FAINT_INK = (1.0, 1.0, 1.0, 0.3)  # an arrow key's glyph at the end of its row
GRID_PAGE = 12  # keys in the grid; with more items, 10 and "‹ Back" / "More ›"


class TillScreen(BoxLayout):
    """The staff's screen. `panel` names what the body shows now: login, sell, number,
    tender, change, more, refund, nosale or report."""

    def __init__(self, ctx: DisplayContext, scale: Scale, favourites: list[str], **kw: Any) -> None:
        super().__init__(orientation="vertical", **kw)
        self.ctx = ctx
        self.s = s = scale
        self.favourites = favourites
        self.panel = ""
        self.entry = ""
        self.message = ""
        self.login_staff: str | None = None
        self.category = FAVOURITES if favourites else ""
        self.search = ""
        self.page = 0  # of the product grid
        self.selected: int | None = None
        self.finished: Record | None = None
        self.refund_record: Record | None = None
        self.refund_lines: set[int] = set()
        self.report_text = ""
        self.number_prompt = ""
        self.number_ok: Callable[[str], None] = lambda _v: None
        self.entry_label: Text | None = None
        self._shown: tuple[str, TillView] | None = None
        self.report_z = False
        # Status bar: who is working and how each device is, always in view.
        bar = Panel(PANEL, size_hint_y=None, height=s(34), padding=s(3), spacing=s(3))
        self.who = Text(size_px=s(15), bold=True, size_hint_x=0.24)
        bar.add_widget(self.who)
        self.lamps: dict[str, Text] = {}
        for dev in ("printer", "scanner", "drawer", "network"):
            lamp = Text(size_px=s(12), color=WHITE, bg=GO, halign="center", size_hint_x=0.19)
            self.lamps[dev] = lamp
            bar.add_widget(lamp)
        self.add_widget(bar)
        self.notice = Text(size_px=s(13), color=WHITE, bg=FAULT, size_hint_y=None, height=0)
        self.notice.padding = (s(8), 0)
        self.add_widget(self.notice)
        self.body = BoxLayout()
        self.basket: BasketColumn | None = None
        self.add_widget(self.body)
        ctx.redraws.append(self.refresh)
        ctx.event_hooks.append(self.on_event)
        self.refresh()

    def on_event(self, event: Event) -> None:
        """A sale or refund completed (by this screen, a scenario or a remote command):
        show what to hand back."""
        if event.kind == "sale.committed" and event.detail.get("kind") in ("sale", "refund"):
            record = self.ctx.unit.store.by_seq(int(event.detail["seq"]))
            if record is not None:
                self.finished = record
                self.panel, self._shown = "change", None

    # -- redraw --------------------------------------------------------------------------
    def refresh(self) -> None:
        view = self.ctx.unit.till.view()
        self.who.text = f" {view.staff.name}" if view.staff else " Not logged in"
        lights = self.ctx.lights()
        for light in lights:
            lamp = self.lamps[light.device]
            lamp.text = light.text
            recolour(lamp, LEVEL[light.level])
        advice = worst(lights)
        if self.message:
            text, level = self.message, "fault"
        elif advice is not None:
            text, level = f"{advice.text}: {advice.advice}", advice.level
        else:
            text, level = "", "ok"
        self.notice.text = text
        self.notice.height = self.s(26) if text else 0
        recolour(self.notice, LEVEL[level])
        name = self._panel_for(view)
        # Rebuild only on a change, so a field being typed into survives a printer event.
        if (name, view) == self._shown:
            return
        shown_sell = self._shown is not None and self._shown[0] == "sell"
        if name == "sell" and shown_sell and self.basket is not None:
            # A scan or a key changes the basket only: the product grid stays as it is,
            # and the basket's rows are updated in place.
            self._shown = (name, view)
            self.basket.show(view)
            return
        self.show(name, view)

    def _panel_for(self, view: TillView) -> str:
        if view.staff is None:
            return "login"
        if self.panel == "number":
            return "number"
        if view.state == "tendering":
            return "tender"
        if self.panel in ("", "login") or (self.panel == "change" and view.state != "idle"):
            return "sell"
        if self.panel == "tender" and view.state == "idle":
            return "sell"
        return self.panel

    def show(self, name: str, view: TillView | None = None) -> None:
        view = view or self.ctx.unit.till.view()
        self.panel = name
        self._shown = (name, view)
        self.entry_label = None
        self.body.clear_widgets()
        build: Callable[[TillView], Any] = getattr(self, f"_build_{name}")
        self.body.add_widget(build(view))

    def go(self, name: str) -> None:
        self.message = ""
        self.entry = ""
        self.panel = name
        self._shown = None
        self.refresh()

    def act(self, op: dict[str, Any], then: Callable[[Outcome], None] | None = None) -> None:
        def done(outcome: Outcome) -> None:
            self.message = outcome.rejected or ""
            if then is not None and not outcome.rejected:
                then(outcome)

        self.ctx.act(op, done)

    def _m(self, minor: int) -> str:
        return self.ctx.money(minor)

    # -- shared pieces --------------------------------------------------------------------
    def _keypad(self, ok: Callable[[], None], ok_text: str = "OK", dot: bool = False) -> Any:
        s = self.s
        grid = GridLayout(cols=3, spacing=s(4))
        for label in ("7", "8", "9", "4", "5", "6", "1", "2", "3"):
            grid.add_widget(Key(label, partial(self._type, label), size_px=s(22), bg=MUTED))
        grid.add_widget(Key("C", lambda: self._type(""), size_px=s(20), bg=WARN))
        grid.add_widget(Key("0", lambda: self._type("0"), size_px=s(22), bg=MUTED))
        if dot:
            grid.add_widget(Key(".", lambda: self._type("."), size_px=s(22), bg=MUTED))
            box = BoxLayout(orientation="vertical", spacing=s(4))
            box.add_widget(grid)
            box.add_widget(Key(ok_text, ok, size_px=s(20), bg=GO, size_hint_y=0.22))
            return box
        grid.add_widget(Key(ok_text, ok, size_px=s(18), bg=GO))
        return grid

    def _type(self, char: str) -> None:
        self.entry = "" if char == "" else (self.entry + char)[:12]
        if self.entry_label is not None:
            self.entry_label.text = self._entry_text()

    def _entry_text(self) -> str:
        if self.panel == "login":
            return "PIN  " + "●" * len(self.entry)
        return self.entry or "0"

    def _entry(self, height: float = 0.16) -> Text:
        self.entry_label = Text(
            self._entry_text(), size_px=self.s(26), halign="center", bg=WHITE, size_hint_y=height
        )
        return self.entry_label

    # -- login ---------------------------------------------------------------------------
    def _build_login(self, view: TillView) -> Any:
        s = self.s
        roster = self.ctx.unit.cfg.staff
        root = Panel(PAPER, padding=s(10), spacing=s(10))
        people = BoxLayout(orientation="vertical", spacing=s(6), size_hint_x=0.45)
        people.add_widget(Text("Who is at the till?", size_px=s(18), bold=True))
        if roster:
            staff = [(m.id, m.name) for m in roster][:6]
        else:
            people.add_widget(Text("No staff roster: set-up mode", size_px=s(13), color=MUTED))
            staff = [("setup", "Set-up (supervisor)")]
        for sid, name in staff:
            bg = GO if sid == self.login_staff else ACCENT
            people.add_widget(Key(name, partial(self._choose, sid), size_px=s(17), bg=bg))
        root.add_widget(people)
        pad = BoxLayout(orientation="vertical", spacing=s(6), size_hint_x=0.55)
        pad.add_widget(self._entry())
        pad.add_widget(self._keypad(self._login, "Log in"))
        root.add_widget(pad)
        return root

    def _choose(self, sid: str) -> None:
        self.login_staff = sid
        self.show("login")

    def _login(self) -> None:
        sid = self.login_staff or (None if self.ctx.unit.cfg.staff else "setup")
        if sid is None:
            self.message = "Choose your name first, then type your PIN"
            self.refresh()
            return
        pin, self.entry = self.entry, ""
        self.act({"op": "login", "staff": sid, "pin": pin or None}, lambda o: self.go("sell"))

    # -- selling -------------------------------------------------------------------------
    def _items(self) -> list[Item]:
        catalog = self.ctx.unit.till.catalog
        if self.search:
            needle = self.search.casefold()
            found = [i for i in catalog if needle in i.name.casefold() or needle == i.sku.lower()]
            return found[:MAX_GRID]
        if self.category == FAVOURITES:
            return [i for sku in self.favourites if (i := catalog.by_sku(sku)) is not None]
        return [i for i in catalog if i.category == self.category][:MAX_GRID]

    def categories(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.ctx.unit.till.catalog:
            seen.setdefault(item.category or "Other", None)
        return ([FAVOURITES] if self.favourites else []) + list(seen)

    def _build_sell(self, view: TillView) -> Any:
        s = self.s
        if not self.category:
            self.category = next(iter(self.categories()), "")
        root = BoxLayout(spacing=s(4), padding=s(4))
        left = BoxLayout(orientation="vertical", spacing=s(4), size_hint_x=0.58)
        search = TextInput(
            text=self.search,
            hint_text="Search by name or SKU",
            multiline=False,
            font_size=s(15),
            size_hint_y=None,
            height=s(34),
        )
        search.bind(on_text_validate=lambda w: self._search(w.text))
        left.add_widget(search)
        left.add_widget(self._tab_bar())
        grid = GridLayout(cols=3, spacing=s(4))
        items = self._items()
        per_page = GRID_PAGE if len(items) <= GRID_PAGE else GRID_PAGE - 2
        pages = max(1, -(-len(items) // per_page))
        self.page = min(self.page, pages - 1)
        for item in items[self.page * per_page : (self.page + 1) * per_page]:
            grid.add_widget(
                Key(
                    f"{item.name}\n{self._m(item.price)}",
                    partial(self.act, {"op": "key", "sku": item.sku, "qty": 1}),
                    size_px=s(13),
                    bg=(0.20, 0.30, 0.42, 1),
                )
            )
        for _ in range(per_page - len(grid.children)):
            grid.add_widget(BoxLayout())
        if pages > 1:
            grey = (0.45, 0.47, 0.52, 1)
            if self.page > 0:
                grid.add_widget(Key("‹ Back", partial(self._page, -1), size_px=s(13), bg=grey))
            else:
                grid.add_widget(BoxLayout())
            if self.page < pages - 1:
                more = f"More ›\n{self.page + 1}/{pages}"
                grid.add_widget(Key(more, partial(self._page, 1), size_px=s(13), bg=grey))
            else:
                grid.add_widget(BoxLayout())
        left.add_widget(grid)
        root.add_widget(left)
        self.basket = BasketColumn(self, size_hint_x=0.42)
        self.basket.show(view)
        root.add_widget(self.basket)
        return root

    def _tab_bar(self) -> Any:
        """The category tabs, one row that scrolls sideways. When they do not all fit,
        "‹" and "›" keys at its ends say so and turn a page of tabs (each dimmed at its
        end), and the chosen tab is scrolled into view: the screen is rebuilt on every
        choice, and a row back at its start hid the tab just chosen."""
        s, step = self.s, self.s(99)
        bar = BoxLayout(size_hint_y=None, height=s(36), spacing=s(3))
        tabs = ClipScroll(do_scroll_y=False)
        row = BoxLayout(size_hint_x=None, spacing=s(3))
        chosen = 0
        for i, cat in enumerate(self.categories()):
            on = cat == self.category and not self.search
            chosen = i if on else chosen
            key = Key(cat, partial(self._category, cat), size_px=s(13), bg=GO if on else ACCENT)
            key.size_hint_x, key.width = None, s(96)
            row.add_widget(key)
        row.width = len(row.children) * step
        tabs.add_widget(row)
        grey = (0.45, 0.47, 0.52, 1)
        # Dimmed at its end: the same flat grey with a faint arrow (not Kivy's grey image).
        dim: dict[str, Any] = {"background_disabled_normal": "", "disabled_color": FAINT_INK}
        back = Key("‹", partial(self._turn_tabs, tabs, -1), size_px=s(20), bg=grey, **dim)
        ahead = Key("›", partial(self._turn_tabs, tabs, 1), size_px=s(20), bg=grey, **dim)
        for arrow in (back, ahead):
            arrow.size_hint_x, arrow.width = None, s(30)
        bar.add_widget(tabs)
        arrows = 2 * (s(30) + s(3))  # their width with the bar's spacing

        def fit(*_: Any) -> None:
            # Whether the tabs fit is judged against the room the row has without the
            # arrows, whichever is showing: showing them never makes the row fit again.
            # (Out of the bar when not needed: a Button drawn 0 wide still shows its
            # border slices, and opacity does not hide a background drawn unblended.)
            shown = back.parent is not None
            room = tabs.width + (arrows if shown else 0)
            need = row.width > room + 1
            if need != shown:
                if need:
                    bar.add_widget(back, index=len(bar.children))
                    bar.add_widget(ahead)
                else:
                    bar.remove_widget(back)
                    bar.remove_widget(ahead)
                return  # the view's width changes: fit runs again with it
            if need:
                over = row.width - tabs.width
                tabs.scroll_x = min(1.0, max(0.0, (chosen - 0.5) * step / over))
                turned(tabs, tabs.scroll_x)

        def turned(_w: Any, x: float) -> None:
            back.disabled = x <= 0.001
            ahead.disabled = x >= 0.999

        tabs.bind(width=fit, scroll_x=turned)
        row.bind(width=fit)
        return bar

    @staticmethod
    def _turn_tabs(tabs: Any, direction: int) -> None:
        """A view's width of tabs (less one, so one stays in sight) in `direction`."""
        over = tabs.children[0].width - tabs.width
        if over > 0:
            turn = max(tabs.width - tabs.children[0].children[0].width, 1) / over
            tabs.scroll_x = min(1.0, max(0.0, tabs.scroll_x + direction * turn))

    def _search(self, text: str) -> None:
        self.search, self.page = text.strip(), 0
        self.show("sell")

    def _category(self, cat: str) -> None:
        self.category, self.search, self.page = cat, "", 0
        self.show("sell")

    def _page(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self.show("sell")

    def _select(self, number: int) -> None:
        self.selected = number
        if self.basket is not None:
            self.basket.show(self.ctx.unit.till.view())

    def _ask(self, prompt: str, ok: Callable[[str], None]) -> None:
        self.message, self.entry = "", ""
        self.number_prompt, self.number_ok = prompt, ok
        self.show("number")

    def _ask_qty(self) -> None:
        self._ask("Quantity of the last line", lambda v: self._back({"op": "qty", "qty": int(v)}))

    def _ask_discount(self) -> None:
        line = self.selected
        self._ask(
            f"Discount % on line {line}",
            lambda v: self._back({"op": "discount", "percent": v, "line": line}),
        )

    def _ask_basket(self) -> None:
        self._ask(
            "Discount % on the whole basket",
            lambda v: self._back({"op": "discount", "percent": v, "scope": "basket"}),
        )

    def _void(self) -> None:
        if self.selected is not None:
            self.act({"op": "void_line", "line": self.selected})

    def _pay(self) -> None:
        if self.ctx.unit.till.view().lines:
            self.go("tender")

    def _back(self, op: dict[str, Any]) -> None:
        self.panel, self._shown = "sell", None
        self.act(op)

    # -- number entry ----------------------------------------------------------------------
    def _build_number(self, view: TillView) -> Any:
        s = self.s
        root = Panel(PAPER, orientation="vertical", padding=s(10), spacing=s(6))
        root.add_widget(Text(self.number_prompt, size_px=s(18), bold=True, size_hint_y=0.12))
        root.add_widget(self._entry(0.15))
        row = BoxLayout(spacing=s(8))
        row.add_widget(self._keypad(self._number_done, "OK", dot=True))
        row.add_widget(
            Key("Back", lambda: self.go("sell"), size_px=s(18), bg=MUTED, size_hint_x=0.3)
        )
        root.add_widget(row)
        return root

    def _number_done(self) -> None:
        value, self.entry = self.entry or "0", ""
        self.panel, self._shown = "sell", None
        self.number_ok(value)

    # -- tender ----------------------------------------------------------------------------
    def _build_tender(self, view: TillView) -> Any:
        s = self.s
        exp = self.ctx.unit.cfg.exponent
        root = Panel(PAPER, padding=s(8), spacing=s(8))
        left = BoxLayout(orientation="vertical", spacing=s(4), size_hint_x=0.55)
        left.add_widget(
            Text(f"To pay  {self._m(view.due)}", size_px=s(30), bold=True, size_hint_y=0.2)
        )
        if view.paid:
            left.add_widget(
                Text(f"Paid so far {self._m(view.paid)}", size_px=s(15), size_hint_y=0.1)
            )
        if view.cash_due != view.due:
            left.add_widget(
                Text(f"In cash {self._m(view.cash_due)}", size_px=s(15), size_hint_y=0.1)
            )
        left.add_widget(self._entry(0.16))
        left.add_widget(self._keypad(self._cash_typed, "Cash", dot=exp > 0))
        root.add_widget(left)
        right = BoxLayout(orientation="vertical", spacing=s(6), size_hint_x=0.45)
        right.add_widget(
            Key(
                f"Exact {self._m(view.cash_due)}",
                lambda: self._cash(view.cash_due),
                size_px=s(18),
                bg=GO,
            )
        )
        for amount in quick_cash(view.cash_due, exp):
            right.add_widget(
                Key(self._m(amount), partial(self._cash, amount), size_px=s(18), bg=GO)
            )
        right.add_widget(Key("Card", self._card, size_px=s(18), bg=ACCENT))
        right.add_widget(Key("Back to basket", self._tender_back, size_px=s(15), bg=MUTED))
        root.add_widget(right)
        return root

    def _cash_typed(self) -> None:
        text, self.entry = self.entry, ""
        if text:
            self.act({"op": "tender", "type": "cash", "amount": text}, self._paid)

    def _cash(self, minor: int) -> None:
        amount = format_minor(minor, self.ctx.unit.cfg.exponent)
        self.act({"op": "tender", "type": "cash", "amount": amount}, self._paid)

    def _card(self) -> None:
        self._ask(
            "Card terminal reference (from the terminal's slip)",
            lambda ref: self.act({"op": "tender", "type": "card", "ref": ref}, self._paid),
        )

    def _tender_back(self) -> None:
        if not self.ctx.unit.till.view().paid:
            self.go("sell")

    def _paid(self, outcome: Outcome) -> None:
        if outcome.record is not None:
            self.finished = outcome.record
            self.panel, self._shown = "change", None

    def _build_change(self, view: TillView) -> Any:
        s = self.s
        rec = self.finished
        refund = rec is not None and rec.kind == "refund"
        total = 0 if rec is None else rec.total
        title = "Give back to the customer" if refund else "Change due"
        amount = -total if refund else (0 if rec is None else rec.change)
        root = Panel(PAPER, orientation="vertical", padding=s(12), spacing=s(6))
        root.add_widget(Text(title, size_px=s(26), halign="center", size_hint_y=0.18))
        root.add_widget(
            Text(
                self._m(amount),
                size_px=s(84),
                bold=True,
                halign="center",
                size_hint_y=0.42,
            )
        )
        root.add_widget(
            Text(
                f"Total {self._m(total)} · receipt {'' if rec is None else rec.receipt_no}",
                size_px=s(16),
                halign="center",
                color=MUTED,
                size_hint_y=0.14,
            )
        )
        root.add_widget(Key("Next customer", lambda: self.go("sell"), size_px=s(20), bg=GO))
        return root

    # -- more: refund, no sale, X, Z, log out ------------------------------------------------
    def _build_more(self, view: TillView) -> Any:
        s = self.s
        grid = GridLayout(cols=3, spacing=s(8), padding=s(12))
        grid.add_widget(Key("Refund", lambda: self.go("refund"), size_px=s(20)))
        grid.add_widget(Key("No sale", lambda: self.go("nosale"), size_px=s(20)))
        grid.add_widget(Key("X report", self._x_report, size_px=s(20)))
        grid.add_widget(Key("Close shift (Z)", self._ask_z, size_px=s(20), bg=WARN))
        grid.add_widget(Key("Log out", lambda: self.act({"op": "logout"}), size_px=s(20)))
        grid.add_widget(Key("Back", lambda: self.go("sell"), size_px=s(20), bg=MUTED))
        return grid

    def _build_nosale(self, view: TillView) -> Any:
        s = self.s
        box = BoxLayout(orientation="vertical", spacing=s(6), padding=s(12))
        box.add_widget(Text("Why open the drawer?", size_px=s(20), bold=True, size_hint_y=0.2))
        for reason in NO_SALE_REASONS:
            box.add_widget(
                Key(
                    reason,
                    partial(self._no_sale, reason),
                    size_px=s(17),
                )
            )
        box.add_widget(Key("Back", lambda: self.go("more"), size_px=s(17), bg=MUTED))
        return box

    def _no_sale(self, reason: str) -> None:
        self.act({"op": "no_sale", "reason": reason}, lambda o: self.go("sell"))

    def _x_report(self) -> None:
        report = self.ctx.unit.controller.x_report()
        self.report_text = format_report(report, "X REPORT", self.ctx.unit.cfg.exponent)
        self.report_z = False
        self.go("report")

    def _ask_z(self) -> None:
        self._x_report()
        self.report_z = True
        self.show("report")

    def _build_report(self, view: TillView) -> Any:
        s = self.s
        root = BoxLayout(spacing=s(8), padding=s(8))
        scroll = ClipScroll()
        text = Text(
            self.report_text,
            size_px=s(13),
            font_name="DejaVuSansMono",
            shorten=False,
            valign="top",
            size_hint_y=None,
        )
        text.bind(texture_size=lambda w, ts: setattr(w, "height", ts[1]))
        scroll.add_widget(text)
        root.add_widget(scroll)
        side = BoxLayout(orientation="vertical", spacing=s(8), size_hint_x=0.3)
        if self.report_z:
            side.add_widget(Key("Close the shift now", self._z, size_px=s(17), bg=WARN))
        side.add_widget(Key("Back", lambda: self.go("more"), size_px=s(17), bg=MUTED))
        root.add_widget(side)
        return root

    def _z(self) -> None:
        def shown(outcome: Outcome) -> None:
            exp = self.ctx.unit.cfg.exponent
            report = None if outcome.record is None else outcome.record.report
            self.report_text = "" if report is None else format_report(report, "Z REPORT", exp)
            self.report_z = False
            self.panel, self._shown = "report", None

        self.act({"op": "shift_close"}, shown)

    # -- refund ------------------------------------------------------------------------------
    def _build_refund(self, view: TillView) -> Any:
        s = self.s
        root = BoxLayout(orientation="vertical", spacing=s(6), padding=s(8))
        # A keyboard-wedge scanner types the receipt's barcode into this field and Enter.
        field = TextInput(
            hint_text="Scan the receipt's barcode or type its number",
            multiline=False,
            font_size=s(16),
            size_hint_y=None,
            height=s(38),
            focus=True,
        )
        field.bind(on_text_validate=lambda w: self.find_receipt(w.text))
        root.add_widget(field)
        rec = self.refund_record
        lines = BoxLayout(orientation="vertical", spacing=s(3))
        if rec is not None:
            lines.add_widget(
                Text(
                    f"Receipt {rec.receipt_no}  ·  {self._m(rec.total)}",
                    size_px=s(16),
                    bold=True,
                )
            )
            done = self.ctx.unit.store.refunded_lines(rec.sale_id)
            for n, li in enumerate(rec.lines[:8], 1):
                chosen = n in self.refund_lines
                label = f"{n}. {li.qty} × {li.name}  {self._m(li.total)}"
                if n in done:
                    label += "  (refunded)"
                lines.add_widget(
                    Key(
                        label,
                        partial(self._toggle_refund, n),
                        size_px=s(14),
                        bg=GO if chosen else (MUTED if n in done else ACCENT),
                        disabled=n in done,
                    )
                )
        root.add_widget(lines)
        row = BoxLayout(spacing=s(8), size_hint_y=None, height=s(46))
        picked = sorted(self.refund_lines)
        row.add_widget(
            Key(
                f"Refund lines {', '.join(map(str, picked))}" if picked else "Refund",
                self._refund,
                size_px=s(17),
                bg=WARN,
            )
        )
        row.add_widget(Key("Back", self._refund_back, size_px=s(17), bg=MUTED))
        root.add_widget(row)
        return root

    def find_receipt(self, receipt_no: str) -> None:
        """Look up a receipt by its number (what the receipt's barcode carries)."""
        rec = self.ctx.unit.store.by_receipt_no(receipt_no.strip())
        self.refund_record, self.refund_lines = rec, set()
        self.message = "" if rec else f"No receipt {receipt_no.strip()!r} on this till"
        self.go_keep("refund")

    def go_keep(self, name: str) -> None:
        self.panel = name
        self._shown = None
        self.refresh()

    def _toggle_refund(self, n: int) -> None:
        self.refund_lines ^= {n}
        self.show("refund")

    def _refund(self) -> None:
        rec = self.refund_record
        if rec is None or not self.refund_lines:
            self.message = "Find the receipt and choose the lines to refund"
            self.refresh()
            return
        op = {"op": "refund", "receipt_no": rec.receipt_no, "lines": sorted(self.refund_lines)}
        self.act(op, self._refunded)

    def _refunded(self, outcome: Outcome) -> None:
        self.refund_record, self.refund_lines = None, set()
        self.finished = outcome.record
        self.panel, self._shown = "change", None

    def _refund_back(self) -> None:
        self.refund_record, self.refund_lines = None, set()
        self.go("more")


class BasketRow(ToggleButton):
    """One basket line on the till (tap to select it), updated in place on a change."""

    def __init__(self, till: TillScreen) -> None:
        s = till.s
        super().__init__(
            markup=True,
            shorten=True,
            shorten_from="right",
            group="basket",
            font_size=s(13),
            size_hint_y=None,
            height=s(28),
            halign="left",
            valign="middle",
            background_normal="",
            background_down="",
        )
        flat_background(self)
        ink_only(self)
        self.till = till
        self.number = 0
        self.shown: tuple[TillLine, bool] | None = None
        self.amount = Text(size_px=s(13), halign="right", bold=True)
        self.add_widget(self.amount)
        self.bind(size=self._follow, pos=self._follow)
        self.bind(on_release=lambda _w: till._select(self.number))

    def _follow(self, _w: Any, _value: Any) -> None:
        self.text_size = (self.width, None)  # a texture as tall as the text, centred
        self.amount.pos = self.pos
        self.amount.size = (self.width - self.till.s(6), self.height)

    def show(self, ln: TillLine, selected: bool) -> None:
        # A tap toggles the button itself; the selection decides what it shows.
        self.state = "down" if selected else "normal"
        if (ln, selected) == self.shown:
            return
        self.shown = (ln, selected)
        s, m = self.till.s, self.till._m
        self.number = ln.number
        name = f"[s]{ln.qty} × {ln.name}[/s]" if ln.voided else f"{ln.qty} × {ln.name}"
        money = m(ln.total) if not ln.discount else f"−{m(ln.discount)}  {m(ln.total)}"
        self.text = f"{ln.number}. {name}"
        self.padding = [s(6), 0, s(160) if ln.discount else s(90), 0]
        self.background_color = (0.80, 0.86, 0.95, 1) if selected else WHITE
        self.color = MUTED if ln.voided else (0.1, 0.1, 0.1, 1)
        self.disabled = ln.voided
        self.amount.text = money
        self.amount.color = self.color


class BasketColumn(Panel):
    """The till's basket: lines, total, card, line keys and Pay. Built with the sell
    panel; a scan only updates it (one row's text, the total, the Pay key)."""

    def __init__(self, till: TillScreen, **kw: Any) -> None:
        s = till.s
        super().__init__(PANEL, orientation="vertical", spacing=s(3), padding=s(4), **kw)
        self.till = till
        self.lines = GridLayout(cols=1, spacing=s(1), size_hint_y=None)
        self.lines.bind(minimum_height=self.lines.setter("height"))
        self.rows: list[BasketRow] = []
        self.spare: list[BasketRow] = []
        # A short list stays at the top whatever scroll_y says (Kivy's default would put
        # it at the bottom once scrolled to the newest line). No damped bounce: its spring
        # animates for several frames each time the list grows past its box.
        self.scroll = ClipScroll(always_overscroll=False, effect_cls="ScrollEffect")
        self.scroll.add_widget(self.lines)
        self.add_widget(self.scroll)
        self.total = Text(size_px=s(15), halign="right", size_hint_y=None, height=s(34))
        self.add_widget(self.total)
        self.card = Text(size_px=s(12), color=MUTED, halign="right", size_hint_y=None, height=0)
        self.add_widget(self.card)
        keys = GridLayout(cols=3, spacing=s(3), size_hint_y=None, height=s(118))
        keys.add_widget(Key("Qty", till._ask_qty, size_px=s(15)))
        keys.add_widget(Key("Line %", till._ask_discount, size_px=s(15)))
        keys.add_widget(Key("Void line", till._void, size_px=s(15), bg=WARN))
        keys.add_widget(Key("Basket %", till._ask_basket, size_px=s(15)))
        keys.add_widget(Key("Cancel", lambda: till.act({"op": "cancel"}), size_px=s(15), bg=WARN))
        keys.add_widget(Key("More…", lambda: till.go("more"), size_px=s(15), bg=MUTED))
        self.add_widget(keys)
        self.pay = Key("Pay", till._pay, size_px=s(20), bg=GO, size_hint_y=None, height=s(46))
        self.add_widget(self.pay)

    def show(self, view: TillView) -> None:
        till, s, m = self.till, self.till.s, self.till._m
        live = [ln.number for ln in view.lines if not ln.voided]
        if till.selected not in live:
            till.selected = live[-1] if live else None
        grew, shown = len(view.lines) > len(self.rows), len(self.rows)
        while len(self.rows) < len(view.lines):
            row = self.spare.pop() if self.spare else BasketRow(till)
            self.rows.append(row)
            self.lines.add_widget(row)
        while len(self.rows) > len(view.lines):
            # Kept for the next sale's lines: no widgets made or dropped per scan.
            row = self.rows.pop()
            self.lines.remove_widget(row)
            self.spare.append(row)
        for row, ln in zip(self.rows, view.lines, strict=True):
            row.show(ln, ln.number == till.selected)
        if grew:
            self.scroll.scroll_y = 0  # the line just added, at the bottom, in view
        elif len(self.rows) < shown:
            self.scroll.scroll_y = 1  # a new sale starts at the top
        self.total.text = (
            f"Total  {m(view.total)}" if view.lines else "Scan or tap an item to start"
        )
        self.total.font_size = s(22) if view.lines else s(15)
        self.total.bold = bool(view.lines)
        loyalty = view.loyalty
        self.card.text = (
            f"Card {loyalty.account}" + (" (offline)" if loyalty.offline else "") if loyalty else ""
        )
        self.card.height = s(18) if loyalty else 0
        self.pay.text = f"Pay {m(view.due)}" if view.lines else "Pay"
