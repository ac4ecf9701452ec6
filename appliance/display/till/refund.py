"""The refund panel, where receipts are found: by number (a keyboard-wedge scanner types
its barcode into the field) or the last one; its lines to choose (a page at a time for a
long sale), Refund, Reprint (a copy marked COPY) and Back. A cashier's refund or
reprint asks a supervisor first (approve.py)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.textinput import TextInput

from appliance.display.kit import ACCENT, GO, MUTED, WARN, Key, Text
from appliance.display.till.pages import page_row
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
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
    field.bind(on_text_validate=lambda w: find_receipt(till, w.text))
    top = BoxLayout(spacing=s(8), size_hint_y=None, height=s(38))
    top.add_widget(field)
    last = Key("Last receipt", lambda: last_receipt(till), size_px=s(15), size_hint_x=0.25)
    top.add_widget(last)
    root.add_widget(top)
    lines = BoxLayout(orientation="vertical", spacing=s(3))
    if model.receipt is not None:
        lines.add_widget(Text(model.receipt_text(), size_px=s(16), bold=True))

        def toggle(number: int) -> None:
            model.toggle_line(number)
            till.refresh()

        def turn(step: int) -> None:
            model.turn_lines(step)
            till.refresh()

        page = model.refund_keys()
        for line in page.items:
            bg = GO if line.chosen else (ACCENT if line.choosable else MUTED)
            key = Key(
                line.text,
                partial(toggle, line.number),
                size_px=s(14),
                bg=bg,
                disabled=not line.choosable,
            )
            lines.add_widget(key)
        if (keys := page_row(page, turn, s(13), s(8))) is not None:
            for _ in range(page.size - len(page.items)):
                lines.add_widget(BoxLayout())  # the page keys stay at the bottom
            lines.add_widget(keys)
    root.add_widget(lines)
    row = BoxLayout(spacing=s(8), size_hint_y=None, height=s(46))
    row.add_widget(
        Key(
            model.refund_text(),
            lambda: till.send(model.refund(till.view())),
            size_px=s(17),
            bg=WARN,
        )
    )
    reprint = Key("Reprint", lambda: till.send(model.reprint(till.view())), size_px=s(17))
    row.add_widget(reprint)

    def back() -> None:
        model.refund_back()
        till.refresh()

    row.add_widget(Key("Back", back, size_px=s(17), bg=MUTED))
    root.add_widget(row)
    return root


def find_receipt(till: Host, receipt_no: str) -> None:
    """Look up a receipt by its number (what the receipt's barcode carries)."""
    store = till.ctx.unit.store
    record = store.by_receipt_no(receipt_no.strip())
    refunded = store.refunded_lines(record.sale_id) if record is not None else set()
    till.model.found(receipt_no, record, refunded)
    till.refresh()


def last_receipt(till: Host) -> None:
    """The till's newest sale or refund (what a customer asks a copy of, or brings back)."""
    store = till.ctx.unit.store
    record = None
    for seq in range(store.last_seq(), 0, -1):
        record = store.by_seq(seq)
        if record is not None and record.kind in ("sale", "refund"):
            break
        record = None
    refunded = store.refunded_lines(record.sale_id) if record is not None else set()
    till.model.found_last(record, refunded)
    till.refresh()
