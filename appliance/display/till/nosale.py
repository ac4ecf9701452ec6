"""The no-sale panel: why the drawer is opened, one key per reason."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import MUTED, Key, Text
from appliance.display.till.model import NO_SALE_REASONS
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
    box = BoxLayout(orientation="vertical", spacing=s(6), padding=s(12))
    box.add_widget(Text("Why open the drawer?", size_px=s(20), bold=True, size_hint_y=0.2))

    def open_drawer(reason: str) -> None:
        till.send(model.no_sale(reason, till.view()))  # (a cashier asks a supervisor first)

    for reason in NO_SALE_REASONS:
        box.add_widget(Key(reason, partial(open_drawer, reason), size_px=s(17)))

    def back() -> None:
        model.go("more")
        till.refresh()

    box.add_widget(Key("Back", back, size_px=s(17), bg=MUTED))
    return box
