"""The "More…" panel: refund or reprint, no sale, X report, close the shift (Z), the
receipts not printed (too old when the printer could take them), log out, back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.uix.gridlayout import GridLayout

from appliance.display.kit import ACCENT, MUTED, WARN, Key
from appliance.display.till.model import PanelName
from appliance.sales.till import TillView

if TYPE_CHECKING:
    from appliance.display.till.host import Host


def build(till: Host, view: TillView) -> Any:
    s, model = till.s, till.model

    def go(panel: PanelName) -> Any:
        def to() -> None:
            model.go(panel)
            till.refresh()

        return to

    def x_report() -> None:
        model.x_report(till.ctx.unit.controller.x_report())
        till.refresh()

    def ask_z() -> None:
        model.ask_z(till.ctx.unit.controller.x_report())
        till.refresh()

    def unprinted() -> None:
        model.unprinted_page = 0
        model.go("unprinted")
        till.refresh()

    held = len(till.ctx.unprinted())
    grid = GridLayout(cols=3, spacing=s(8), padding=s(12))
    grid.add_widget(Key("Refund or reprint", go("refund"), size_px=s(20)))
    grid.add_widget(Key("No sale", go("nosale"), size_px=s(20)))
    grid.add_widget(Key("X report", x_report, size_px=s(20)))
    grid.add_widget(Key("Close shift (Z)", ask_z, size_px=s(20), bg=WARN))
    grid.add_widget(
        Key(model.unprinted_title(held), unprinted, size_px=s(20), bg=WARN if held else ACCENT)
    )
    grid.add_widget(Key("Log out", lambda: till.send({"op": "logout"}), size_px=s(20)))
    grid.add_widget(Key("Back", go("sell"), size_px=s(20), bg=MUTED))
    return grid
