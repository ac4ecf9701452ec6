"""The customer display: the basket as it grows, the total, a greeting, change, thanks;
between customers the shop's logo and the promotions the collector pushed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image

from appliance.display.context import DisplayContext
from appliance.display.kit import ACCENT, GO, INK, MUTED, PANEL, PAPER, WHITE, Panel, Scale, Text
from appliance.display.models import CustomerFrame, CustomerModel
from appliance.events import Event
from appliance.loyalty.customers import CustomerSummary
from appliance.sales.till import TillLine

SHOWN_LINES = 8


class LineRow(BoxLayout):
    """One basket line on the customer display. Rows are kept and handed from line to
    line, so a scan changes the text of one row instead of building widgets."""

    def __init__(self, scale: Scale, money: Callable[[int], str]) -> None:
        super().__init__(size_hint_y=None, height=scale(30))
        self.money = money
        self.shown: TillLine | None = None
        self.name = Text(size_px=scale(18))
        self.discount = Text(size_px=scale(14), color=GO, halign="right", size_hint_x=None, width=0)
        self.total = Text(size_px=scale(18), halign="right", size_hint_x=0.3)
        for w in (self.name, self.discount, self.total):
            self.add_widget(w)

    def show(self, ln: TillLine | None) -> None:
        """Draw `ln` in this row (None: blank); only the labels whose text changes
        render a new texture."""
        if ln == self.shown:
            return
        self.shown = ln
        if ln is None:
            self.name.text = self.discount.text = self.total.text = ""
            return
        self.name.text = f"{ln.qty} × {ln.name}" if ln.qty != 1 else ln.name
        self.discount.text = f"−{self.money(ln.discount)}" if ln.discount else ""
        # No discount: the column takes no room at all (a hint of 0 would keep 100 px).
        self.discount.size_hint_x = 0.25 if ln.discount else None
        self.discount.width = 0
        self.total.text = self.money(ln.total)


class BasketView(Panel):
    """The basket phase, built once and updated in place on every scan."""

    def __init__(self, scale: Scale, money: Callable[[int], str]) -> None:
        s = scale
        super().__init__(PAPER, orientation="vertical", padding=s(10), spacing=s(4))
        self.s, self.money = s, money
        self.greeting = Text(
            size_px=s(20),
            color=WHITE,
            bg=ACCENT,
            halign="center",
            size_hint_y=None,
            height=s(40),
        )
        self.add_widget(self.greeting)
        self.lines = BoxLayout(orientation="vertical", spacing=s(2))
        self.more = Text(size_px=s(14), color=MUTED, size_hint_y=None, height=s(22))
        self.filler = BoxLayout()  # keeps the rows at the top
        self.add_widget(self.lines)
        self.rows: dict[int, LineRow] = {}  # line number → the row showing it
        self.spare: list[LineRow] = []  # blank rows, ready for the next lines
        self._order: list[Any] = []
        foot = Panel(PANEL, orientation="vertical", size_hint_y=None, height=s(110), padding=s(6))
        self.total = Text(size_px=s(44), bold=True, halign="right")
        self.paid = Text(size_px=s(18), halign="right", size_hint_y=None, height=0)
        foot.add_widget(self.total)
        foot.add_widget(self.paid)
        self.add_widget(foot)

    def show(self, f: CustomerFrame, greeting: str) -> None:
        self.greeting.text = greeting
        live = [ln for ln in f.lines if not ln.voided]
        shown = live[-SHOWN_LINES:]
        wanted = {ln.number for ln in shown}
        for n in [n for n in self.rows if n not in wanted]:
            row = self.rows.pop(n)
            row.show(None)  # nothing of this sale stays in a row put aside
            self.spare.append(row)
        rows: list[LineRow] = []
        for ln in shown:
            if ln.number not in self.rows:
                new = self.spare.pop() if self.spare else LineRow(self.s, self.money)
                self.rows[ln.number] = new
            row = self.rows[ln.number]
            row.show(ln)
            rows.append(row)
        hidden = len(live) - len(shown)
        self.more.text = f"… and {hidden} more above" if hidden else ""
        order: list[Any] = ([self.more] if hidden else []) + rows + [self.filler]
        if order != self._order:
            # Re-stacking kept rows only moves them; their textures stay as they are.
            self._order = order
            self.lines.clear_widgets()
            for w in order:
                self.lines.add_widget(w)
        self.total.text = f"Total  {self.money(f.total)}"
        self.paid.text = (
            f"Paid {self.money(f.paid)}   Still to pay {self.money(f.due)}" if f.paid else ""
        )
        self.paid.height = self.s(28) if f.paid else 0

    def forget(self) -> None:
        """Put every row aside blank: the basket is hidden between customers."""
        for row in self.rows.values():
            row.show(None)
            self.spare.append(row)
        self.rows.clear()
        self.greeting.text = ""


class CustomerScreen(BoxLayout):
    """What the customer watches; `frame` is the last thing drawn (tests read it)."""

    def __init__(self, ctx: DisplayContext, scale: Scale, logo: str, shop: str, **kw: Any) -> None:
        super().__init__(orientation="vertical", **kw)
        self.ctx = ctx
        self.s = scale
        self.logo = logo
        self.shop = shop
        self.model = CustomerModel()
        self.frame: CustomerFrame | None = None
        self.promo_index = 0
        self.basket = BasketView(scale, ctx.money)
        self.shown: Any = None
        # First in line: the customer's screen is the one whose delay people notice.
        ctx.redraws.insert(0, self.refresh)
        ctx.event_hooks.append(self.on_event)
        self.refresh()

    def on_event(self, event: Event) -> None:
        if event.kind == "sale.committed" and event.detail.get("kind") == "sale":
            record = self.ctx.unit.store.by_seq(int(event.detail["seq"]))
            if record is not None:
                self.model.sale_finished(record, self.ctx.clock())

    def next_promotion(self) -> None:
        self.promo_index += 1
        if self.frame is not None and self.frame.phase == "idle":
            self.frame = None  # force a redraw with the next one
            self.refresh()

    def refresh(self) -> None:
        view = self.ctx.unit.till.view()
        frame = self.model.frame(view, self.ctx.clock())
        if frame == self.frame:
            return
        self.frame = frame
        if frame.phase == "basket":
            # The scan path: the basket is updated in place, never rebuilt.
            self.basket.show(frame, self._greeting(frame.customer))
            if self.shown is not self.basket:
                self._put(self.basket)
            return
        if self.shown is self.basket:
            self.basket.forget()
        self._put(self._idle(frame) if frame.phase == "idle" else self._thanks(frame))

    def _put(self, root: Any) -> None:
        self.clear_widgets()
        self.add_widget(root)
        self.shown = root

    def _m(self, minor: int) -> str:
        return self.ctx.money(minor)

    def _greeting(self, customer: CustomerSummary | None) -> str:
        if customer is None:
            return f"Welcome to {self.shop}"
        hello = f"Hello {customer.first_name}!" if customer.first_name else "Hello!"
        if customer.balance is None:
            return f"{hello}  Points balance available when online"
        return f"{hello}  You have {self.ctx.money.number(customer.balance)} points"

    def _thanks(self, f: CustomerFrame) -> Any:
        s = self.s
        root = Panel(PAPER, orientation="vertical", padding=s(16), spacing=s(6))
        root.add_widget(Text("Thank you!", size_px=s(54), bold=True, halign="center"))
        root.add_widget(
            Text(f"Total {self._m(f.total)}", size_px=s(24), halign="center", color=MUTED)
        )
        if f.change:
            root.add_widget(
                Text(
                    f"Your change  {self._m(f.change)}",
                    size_px=s(40),
                    bold=True,
                    color=GO,
                    halign="center",
                )
            )
        if f.earned is not None:
            who = f.customer.first_name if f.customer and f.customer.first_name else ""
            root.add_widget(
                Text(
                    f"{who + ', y' if who else 'Y'}ou earned {self.ctx.money.number(f.earned)} "
                    "points",
                    size_px=s(22),
                    halign="center",
                )
            )
        return root

    def _idle(self, f: CustomerFrame) -> Any:
        s = self.s
        root = Panel(PAPER, orientation="vertical", padding=s(16), spacing=s(8))
        if self.logo and Path(self.logo).is_file():
            root.add_widget(Image(source=self.logo, fit_mode="contain", size_hint_y=0.55))
        else:
            root.add_widget(
                Text(self.shop, size_px=s(44), bold=True, halign="center", size_hint_y=0.55)
            )
        promos = self.ctx.promotions()
        if promos:
            p = promos[self.promo_index % len(promos)]
            box = Panel(ACCENT, orientation="vertical", padding=s(10), size_hint_y=0.45)
            box.add_widget(Text(p["title"], size_px=s(30), bold=True, color=WHITE, halign="center"))
            box.add_widget(
                Text(p["text"], size_px=s(20), color=WHITE, halign="center", shorten=False)
            )
            root.add_widget(box)
        else:
            root.add_widget(Text("Welcome", size_px=s(30), color=INK, halign="center"))
        return root
