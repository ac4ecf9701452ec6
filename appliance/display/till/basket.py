"""The basket column of the sell panel: its lines, total, card, line keys and Pay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.uix.gridlayout import GridLayout
from kivy.uix.togglebutton import ToggleButton

from appliance.display.kit import (
    GO,
    MUTED,
    PANEL,
    WARN,
    WHITE,
    ClipScroll,
    Key,
    Panel,
    Text,
    flat_background,
    ink_only,
)
from appliance.sales.till import TillLine, TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


class BasketRow(ToggleButton):
    """One basket line on the till (tap to select it), updated in place on a change."""

    def __init__(self, till: Host) -> None:
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
        self.bind(on_release=lambda _w: self._touched())

    def _touched(self) -> None:
        self.till.model.select(self.number)
        if self.till.basket is not None:
            self.till.basket.show(self.till.view())

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
        s = self.till.s
        self.number = ln.number
        self.text, self.amount.text = self.till.model.line_text(ln)
        self.padding = [s(6), 0, s(160) if ln.discount else s(90), 0]
        self.background_color = (0.80, 0.86, 0.95, 1) if selected else WHITE
        self.color = MUTED if ln.voided else (0.1, 0.1, 0.1, 1)
        self.disabled = ln.voided
        self.amount.color = self.color


class BasketColumn(Panel):
    """The till's basket: lines, total, card, line keys and Pay. Built with the sell
    panel; a scan only updates it (one row's text, the total, the Pay key)."""

    def __init__(self, till: Host, **kw: Any) -> None:
        s, model = till.s, till.model
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

        def asking(ask: Any) -> Any:
            def go() -> None:
                ask()
                till.refresh()

            return go

        def pay() -> None:
            model.pay(till.view())
            till.refresh()

        def more() -> None:
            model.go("more")
            till.refresh()

        keys = GridLayout(cols=3, spacing=s(3), size_hint_y=None, height=s(118))
        keys.add_widget(Key("Qty", asking(model.ask_qty), size_px=s(15)))
        keys.add_widget(Key("Line %", asking(model.ask_discount), size_px=s(15)))
        keys.add_widget(Key("Void line", lambda: till.send(model.void()), size_px=s(15), bg=WARN))
        keys.add_widget(Key("Basket %", asking(model.ask_basket_discount), size_px=s(15)))
        keys.add_widget(Key("Cancel", lambda: till.send({"op": "cancel"}), size_px=s(15), bg=WARN))
        keys.add_widget(Key("More…", more, size_px=s(15), bg=MUTED))
        self.add_widget(keys)
        self.pay = Key("Pay", pay, size_px=s(20), bg=GO, size_hint_y=None, height=s(46))
        self.add_widget(self.pay)

    def show(self, view: TillView) -> None:
        till, s, model = self.till, self.till.s, self.till.model
        selected = model.selection(view)
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
            row.show(ln, ln.number == selected)
        if grew:
            self.scroll.scroll_y = 0  # the line just added, at the bottom, in view
        elif len(self.rows) < shown:
            self.scroll.scroll_y = 1  # a new sale starts at the top
        self.total.text = model.total_text(view)
        self.total.font_size = s(22) if view.lines else s(15)
        self.total.bold = bool(view.lines)
        self.card.text = model.card_text(view)
        self.card.height = s(18) if view.loyalty else 0
        self.pay.text = model.pay_text(view)
