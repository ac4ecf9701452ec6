"""The approval panel: what a cashier asked for that needs a supervisor (refund, no
sale, reprint, a discount over the cashier's limit, unlocking a name locked after wrong
PINs), the supervisors' names and a PIN pad; the operation follows the approval."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import MUTED, PAPER, Key, Panel
from appliance.display.till.keypad import entry, keypad
from appliance.display.till.people import people_column
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
    root = Panel(PAPER, padding=s(10), spacing=s(10))

    def choose(staff_id: str) -> None:
        model.choose_approver(staff_id)
        till.refresh()

    def turn(step: int) -> None:
        model.turn_approvers(step)
        till.refresh()

    def back() -> None:
        model.approve_back()
        till.refresh()

    page = model.approver_keys()
    hints = [] if page.items else ["No supervisor on the staff roster"]
    title, detail = "A supervisor approves", model.approval_text()
    root.add_widget(people_column(s, title, hints, page, choose, turn, detail))
    pad = BoxLayout(orientation="vertical", spacing=s(6), size_hint_x=0.55)
    row = BoxLayout(spacing=s(6), size_hint_y=0.16)
    row.add_widget(entry(till, 1))
    row.add_widget(Key("Back", back, size_px=s(17), bg=MUTED, size_hint_x=0.3))
    pad.add_widget(row)
    pad.add_widget(keypad(till, lambda: till.send(model.approve()), "Approve"))
    root.add_widget(pad)
    return root
