"""The page keys of a list longer than its panel's room: "‹ Back" and "More ›" with
where the list is ("2/3"), as the product grid, the login names and a receipt's lines
have them. A key with nowhere to go is a gap, so the other stays where it was."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import Key
from appliance.display.till.model import Page

GREY = (0.45, 0.47, 0.52, 1)


def page_keys(page: Page[Any], turn: Callable[[int], None], size_px: float) -> list[Any]:
    """ "‹ Back" and "More ›" (each a gap at its end of the list); none for one page."""
    if page.pages <= 1:
        return []
    keys: list[Any] = []
    for there, text, step in ((page.back, "‹ Back", -1), (page.more, page.more_text, 1)):
        if there:
            keys.append(Key(text, partial(turn, step), size_px=size_px, bg=GREY))
        else:
            keys.append(BoxLayout())
    return keys


def page_row(page: Page[Any], turn: Callable[[int], None], size_px: float, spacing: float) -> Any:
    """The two page keys side by side, one row of a column of keys; None for one page."""
    keys = page_keys(page, turn, size_px)
    if not keys:
        return None
    row = BoxLayout(spacing=spacing)
    for key in keys:
        row.add_widget(key)
    return row
