"""The login panel: who is at the till (the roster's names, a page at a time when they
do not all fit, or "Set-up" without a roster; a name locked after wrong PINs marked, and
Log in on it asking a supervisor to unlock it) and a PIN pad."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import PAPER, Panel
from appliance.display.till.keypad import entry, keypad
from appliance.display.till.people import people_column
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
    root = Panel(PAPER, padding=s(10), spacing=s(10))

    def choose(staff_id: str) -> None:
        model.choose_staff(staff_id)
        till.refresh()

    def turn(step: int) -> None:
        model.turn_staff(step)
        till.refresh()

    hints = ["No staff roster: set-up mode"] if model.setup_mode else []
    if view.locked:
        hints.append("A locked name: Log in asks a supervisor to unlock it")
    page = model.staff_keys(view.locked)
    root.add_widget(people_column(s, "Who is at the till?", hints, page, choose, turn))
    pad = BoxLayout(orientation="vertical", spacing=s(6), size_hint_x=0.55)
    pad.add_widget(entry(till))
    pad.add_widget(keypad(till, lambda: till.send(model.login(till.view().locked)), "Log in"))
    root.add_widget(pad)
    return root
