"""The change panel after a sale or refund: what to hand back, in 84 px type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from appliance.display.kit import GO, MUTED, PAPER, Key, Panel, Text
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
    title, amount, footer = model.change_texts()
    root = Panel(PAPER, orientation="vertical", padding=s(12), spacing=s(6))
    root.add_widget(Text(title, size_px=s(26), halign="center", size_hint_y=0.18))
    root.add_widget(Text(amount, size_px=s(84), bold=True, halign="center", size_hint_y=0.42))
    root.add_widget(Text(footer, size_px=s(16), halign="center", color=MUTED, size_hint_y=0.14))

    def next_customer() -> None:
        model.go("sell")
        till.refresh()

    root.add_widget(Key("Next customer", next_customer, size_px=s(20), bg=GO))
    return root
