"""The receipts not printed: held by the print queue because they were too old when the
printer could take them (the customer had gone). Newest first, a page at a time; touching
one prints a copy marked COPY, "Clear list" takes them all off without printing; both
need a supervisor (a cashier's go to the approval panel first)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import MUTED, WARN, Key, Text
from appliance.display.till.pages import page_row
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
    held = till.ctx.unprinted()
    root = BoxLayout(orientation="vertical", spacing=s(6), padding=s(8))
    title, hint = model.unprinted_texts(len(held))
    root.add_widget(Text(title, size_px=s(18), bold=True, size_hint_y=None, height=s(28)))
    root.add_widget(
        Text(hint, size_px=s(13), color=MUTED, shorten=False, size_hint_y=None, height=s(34))
    )

    def reprint(receipt_no: str) -> None:
        till.send(model.reprint_unprinted(receipt_no, till.view()))

    def turn(step: int) -> None:
        model.turn_unprinted(step)
        till.refresh()

    lines = BoxLayout(orientation="vertical", spacing=s(3))
    page = model.unprinted_keys(held)
    for key in page.items:
        lines.add_widget(Key(key.text, partial(reprint, key.receipt_no), size_px=s(15)))
    for _ in range(page.size - len(page.items)):
        lines.add_widget(BoxLayout())  # the page keys stay at the bottom
    if (keys := page_row(page, turn, s(13), s(8))) is not None:
        lines.add_widget(keys)
    root.add_widget(lines)

    def back() -> None:
        model.go("more")
        till.refresh()

    row = BoxLayout(spacing=s(8), size_hint_y=None, height=s(46))
    clear = Key(
        "Clear list",
        lambda: till.send(model.clear_unprinted(held, till.view())),
        size_px=s(17),
        bg=WARN,
        disabled=not held,
    )
    row.add_widget(clear)
    row.add_widget(Key("Back", back, size_px=s(17), bg=MUTED))
    root.add_widget(row)
    return root
