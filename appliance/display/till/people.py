"""A column of names to touch, a page at a time: who logs in, which supervisor approves."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import ACCENT, GO, MUTED, Key, Scale, Text
from appliance.display.till.model import Page, StaffKey
from appliance.display.till.pages import page_row


def people_column(
    s: Scale,
    title: str,
    hints: list[str],
    page: Page[StaffKey],
    choose: Callable[[str], None],
    turn: Callable[[int], None],
    detail: str = "",
) -> Any:
    """The title, a detail under it (what is approved), lines of small print, the page's
    names (the chosen one green, a locked one grey), and the page keys at the bottom when
    the names do not all fit."""
    column = BoxLayout(orientation="vertical", spacing=s(6), size_hint_x=0.45)
    column.add_widget(Text(title, size_px=s(18), bold=True))
    if detail:
        column.add_widget(Text(detail, size_px=s(16), shorten=False))  # wraps
    for hint in hints:
        column.add_widget(Text(hint, size_px=s(13), color=MUTED, shorten=False))  # wraps
    for key in page.items:
        bg = GO if key.chosen else MUTED if key.locked else ACCENT
        column.add_widget(Key(key.name, partial(choose, key.id), size_px=s(17), bg=bg))
    if (keys := page_row(page, turn, s(15), s(6))) is not None:
        for _ in range(page.size - len(page.items)):
            column.add_widget(BoxLayout())  # the page keys stay at the bottom
        column.add_widget(keys)
    return column
