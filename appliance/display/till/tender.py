"""The tender panel: what is due, the cash keypad, exact and quick cash, card, back."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import ACCENT, GO, MUTED, PAPER, Key, Panel, Text
from appliance.display.till.keypad import entry, keypad
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
    root = Panel(PAPER, padding=s(8), spacing=s(8))
    left = BoxLayout(orientation="vertical", spacing=s(4), size_hint_x=0.55)
    headline, *lesser = model.tender_texts(view)
    left.add_widget(Text(headline, size_px=s(30), bold=True, size_hint_y=0.2))
    for text in lesser:
        left.add_widget(Text(text, size_px=s(15), size_hint_y=0.1))
    left.add_widget(entry(till, 0.16))
    cash = keypad(till, lambda: till.send(model.cash_typed()), "Cash", dot=model.exponent > 0)
    left.add_widget(cash)
    root.add_widget(left)
    right = BoxLayout(orientation="vertical", spacing=s(6), size_hint_x=0.45)
    for text, amount in model.cash_keys(view):
        right.add_widget(Key(text, partial(till.send, model.cash(amount)), size_px=s(18), bg=GO))

    def card() -> None:
        model.ask_card()
        till.refresh()

    def back() -> None:
        model.tender_back(till.view())
        till.refresh()

    right.add_widget(Key("Card", card, size_px=s(18), bg=ACCENT))
    right.add_widget(Key("Back to basket", back, size_px=s(15), bg=MUTED))
    root.add_widget(right)
    return root
