"""What a panel needs of the till screen it is drawn on: `TillScreen` is one. Panels
depend on this, not on the screen, so the screen can import every panel without a
cycle."""

from __future__ import annotations

from typing import Protocol

from appliance.display.context import DisplayContext
from appliance.display.kit import Scale, Text
from appliance.display.till.model import Op, TillModel
from appliance.sales.till import TillView


class Shows(Protocol):
    """A part of a panel that redraws itself for a new view (the basket column)."""

    def show(self, view: TillView) -> None: ...


class Host(Protocol):
    ctx: DisplayContext
    s: Scale
    model: TillModel
    entry_label: Text | None  # the keypad's entry, when the panel has one
    basket: Shows | None  # the basket column, when the panel has one

    def refresh(self) -> None:
        """Rebuild the panel when the model, the panel or the till's view changed."""

    def send(self, op: Op | None) -> None:
        """Hand an operation to the controller (and the outcome back to the model)."""

    def view(self) -> TillView:
        """The till as it is now."""

    def typed(self) -> None:
        """A key of the keypad was touched: show the entry."""
