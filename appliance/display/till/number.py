"""The number panel: a prompt (quantity, a discount %, the card terminal's reference),
the keypad, OK and Back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import MUTED, PAPER, Key, Panel, Text
from appliance.display.till.keypad import entry, keypad
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
    root = Panel(PAPER, orientation="vertical", padding=s(10), spacing=s(6))
    root.add_widget(Text(model.prompt(), size_px=s(18), bold=True, size_hint_y=0.12))
    root.add_widget(entry(till, 0.15))
    row = BoxLayout(spacing=s(8))
    row.add_widget(keypad(till, lambda: till.send(model.answer()), "OK", dot=True))

    def back() -> None:
        model.go("sell")
        till.refresh()

    row.add_widget(Key("Back", back, size_px=s(18), bg=MUTED, size_hint_x=0.3))
    root.add_widget(row)
    return root
