"""The digit keypad and the entry above it, shared by login, number and tender."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from appliance.display.kit import GO, MUTED, WARN, WHITE, Key, Text

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def keypad(till: Host, ok: Callable[[], None], ok_text: str = "OK", dot: bool = False) -> Any:
    """7-8-9 … C 0 and OK (or C 0 . with OK under the grid)."""
    s = till.s

    def press(char: str) -> None:
        till.model.type(char)
        till.typed()

    grid = GridLayout(cols=3, spacing=s(4))
    for label in ("7", "8", "9", "4", "5", "6", "1", "2", "3"):
        grid.add_widget(Key(label, partial(press, label), size_px=s(22), bg=MUTED))
    grid.add_widget(Key("C", partial(press, ""), size_px=s(20), bg=WARN))
    grid.add_widget(Key("0", partial(press, "0"), size_px=s(22), bg=MUTED))
    if dot:
        grid.add_widget(Key(".", partial(press, "."), size_px=s(22), bg=MUTED))
        box = BoxLayout(orientation="vertical", spacing=s(4))
        box.add_widget(grid)
        box.add_widget(Key(ok_text, ok, size_px=s(20), bg=GO, size_hint_y=0.22))
        return box
    grid.add_widget(Key(ok_text, ok, size_px=s(18), bg=GO))
    return grid


def entry(till: Host, height: float = 0.16) -> Text:
    """What has been typed, big and centred (a PIN as dots)."""
    till.entry_label = Text(
        till.model.entry_text(), size_px=till.s(26), halign="center", bg=WHITE, size_hint_y=height
    )
    return till.entry_label
