"""The login panel: who is at the till (the roster's names, a page at a time when they
do not all fit, or "Set-up" without a roster) and a PIN pad."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import ACCENT, GO, MUTED, PAPER, Key, Panel, Text
from appliance.display.till.keypad import entry, keypad
from appliance.display.till.pages import page_row
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.screen import TillScreen


def build(till: TillScreen, view: TillView) -> Any:
    s, model = till.s, till.model
    root = Panel(PAPER, padding=s(10), spacing=s(10))
    people = BoxLayout(orientation="vertical", spacing=s(6), size_hint_x=0.45)
    people.add_widget(Text("Who is at the till?", size_px=s(18), bold=True))
    if model.setup_mode:
        people.add_widget(Text("No staff roster: set-up mode", size_px=s(13), color=MUTED))

    def choose(staff_id: str) -> None:
        model.choose_staff(staff_id)
        till.refresh()

    def turn(step: int) -> None:
        model.turn_staff(step)
        till.refresh()

    page = model.staff_keys()
    for key in page.items:
        bg = GO if key.chosen else ACCENT
        people.add_widget(Key(key.name, partial(choose, key.id), size_px=s(17), bg=bg))
    if (keys := page_row(page, turn, s(15), s(6))) is not None:
        for _ in range(page.size - len(page.items)):
            people.add_widget(BoxLayout())  # the page keys stay at the bottom
        people.add_widget(keys)
    root.add_widget(people)
    pad = BoxLayout(orientation="vertical", spacing=s(6), size_hint_x=0.55)
    pad.add_widget(entry(till))
    pad.add_widget(keypad(till, lambda: till.send(model.login()), "Log in"))
    root.add_widget(pad)
    return root
