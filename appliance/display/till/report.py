"""The report panel: an X report (or the Z's, once the shift is closed), scrolled, and
for a Z the key that closes the shift."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout

from appliance.display.kit import MUTED, WARN, ClipScroll, Key, Text
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model
    root = BoxLayout(spacing=s(8), padding=s(8))
    scroll = ClipScroll()
    text = Text(
        model.report_text,
        size_px=s(13),
        font_name="DejaVuSansMono",
        shorten=False,
        valign="top",
        size_hint_y=None,
    )
    text.bind(texture_size=lambda w, ts: setattr(w, "height", ts[1]))
    scroll.add_widget(text)
    root.add_widget(scroll)
    side = BoxLayout(orientation="vertical", spacing=s(8), size_hint_x=0.3)
    if model.report_z:
        close = Key(
            "Close the shift now",
            lambda: till.send({"op": "shift_close"}),
            size_px=s(17),
            bg=WARN,
        )
        side.add_widget(close)

    def back() -> None:
        model.go("more")
        till.refresh()

    side.add_widget(Key("Back", back, size_px=s(17), bg=MUTED))
    root.add_widget(side)
    return root
