"""The sell panel: search, category tabs and the product grid on the left, the basket
column (basket.py) on the right."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.textinput import TextInput

from appliance.display.kit import ACCENT, GO, ClipScroll, Key
from appliance.display.till.basket import BasketColumn
from appliance.display.till.model import ItemKey, Page
from appliance.display.till.pages import GREY, page_keys
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host

FAINT_INK = (1.0, 1.0, 1.0, 0.3)  # an arrow key's glyph at the end of its row
ITEM = (0.20, 0.30, 0.42, 1)


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
    page = model.grid(till.ctx.unit.till.catalog)  # (chooses the first tab, if none is)
    root = BoxLayout(spacing=s(4), padding=s(4))
    left = BoxLayout(orientation="vertical", spacing=s(4), size_hint_x=0.58)
    search = TextInput(
        text=model.search,
        hint_text="Search by name or SKU",
        multiline=False,
        font_size=s(15),
        size_hint_y=None,
        height=s(34),
    )

    def find(text: str) -> None:
        model.find(text)
        till.refresh()

    search.bind(on_text_validate=lambda w: find(w.text))
    left.add_widget(search)
    left.add_widget(tab_bar(till))
    left.add_widget(item_grid(till, page))
    root.add_widget(left)
    till.basket = BasketColumn(till, size_hint_x=0.42)
    till.basket.show(view)
    root.add_widget(till.basket)
    return root


def item_grid(till: Host, page: Page[ItemKey]) -> Any:
    """Twelve keys: a page of items, gaps, and "‹ Back" / "More ›" when it pages."""
    s, model = till.s, till.model
    grid = GridLayout(cols=3, spacing=s(4))
    for key in page.items:
        action = partial(till.send, model.key_item(key.sku))
        grid.add_widget(Key(key.text, action, size_px=s(13), bg=ITEM))
    for _ in range(page.size - len(page.items)):
        grid.add_widget(BoxLayout())

    def turn(step: int) -> None:
        model.turn_grid(step)
        till.refresh()

    for key in page_keys(page, turn, s(13)):
        grid.add_widget(key)
    return grid


def tab_bar(till: Host) -> Any:
    """The category tabs, one row that scrolls sideways. When they do not all fit,
    "‹" and "›" keys at its ends say so and turn a page of tabs (each dimmed at its
    end), and the chosen tab is scrolled into view: the screen is rebuilt on every
    choice, and a row back at its start hid the tab just chosen."""
    s, model = till.s, till.model
    step = s(99)
    bar = BoxLayout(size_hint_y=None, height=s(36), spacing=s(3))
    tabs = ClipScroll(do_scroll_y=False)
    row = BoxLayout(size_hint_x=None, spacing=s(3))

    def choose(category: str) -> None:
        model.choose_category(category)
        till.refresh()

    chosen = 0
    for i, cat in enumerate(model.categories(till.ctx.unit.till.catalog)):
        on = model.tab_on(cat)
        chosen = i if on else chosen
        key = Key(cat, partial(choose, cat), size_px=s(13), bg=GO if on else ACCENT)
        key.size_hint_x, key.width = None, s(96)
        row.add_widget(key)
    row.width = len(row.children) * step
    tabs.add_widget(row)
    # Dimmed at its end: the same flat grey with a faint arrow (not Kivy's grey image).
    dim: dict[str, Any] = {"background_disabled_normal": "", "disabled_color": FAINT_INK}
    back = Key("‹", partial(turn_tabs, tabs, -1), size_px=s(20), bg=GREY, **dim)
    ahead = Key("›", partial(turn_tabs, tabs, 1), size_px=s(20), bg=GREY, **dim)
    for arrow in (back, ahead):
        arrow.size_hint_x, arrow.width = None, s(30)
    bar.add_widget(tabs)
    arrows = 2 * (s(30) + s(3))  # their width with the bar's spacing

    def fit(*_: Any) -> None:
        # Whether the tabs fit is judged against the room the row has without the
        # arrows, whichever is showing: showing them never makes the row fit again.
        # (Out of the bar when not needed: a Button drawn 0 wide still shows its
        # border slices, and opacity does not hide a background drawn unblended.)
        shown = back.parent is not None
        room = tabs.width + (arrows if shown else 0)
        need = row.width > room + 1
        if need != shown:
            if need:
                bar.add_widget(back, index=len(bar.children))
                bar.add_widget(ahead)
            else:
                bar.remove_widget(back)
                bar.remove_widget(ahead)
            return  # the view's width changes: fit runs again with it
        if need:
            over = row.width - tabs.width
            tabs.scroll_x = min(1.0, max(0.0, (chosen - 0.5) * step / over))
            turned(tabs, tabs.scroll_x)

    def turned(_w: Any, x: float) -> None:
        back.disabled = x <= 0.001
        ahead.disabled = x >= 0.999

    tabs.bind(width=fit, scroll_x=turned)
    row.bind(width=fit)
    return bar


def turn_tabs(tabs: Any, direction: int) -> None:
    """A view's width of tabs (less one, so one stays in sight) in `direction`."""
    over = tabs.children[0].width - tabs.width
    if over > 0:
        turn = max(tabs.width - tabs.children[0].children[0].width, 1) / over
        tabs.scroll_x = min(1.0, max(0.0, tabs.scroll_x + direction * turn))
