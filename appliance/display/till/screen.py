"""The till screen's frame: the status bar (who is working, each device's lamp), the
notice under it, and the body, where the panel the model names is built.

Every key ends in `DisplayContext.act(op)` with a scenario operation, so a finger on
this screen and a line of `appliance replay` do exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.uix.boxlayout import BoxLayout

from appliance.controller import Outcome
from appliance.display.context import DisplayContext
from appliance.display.kit import FAULT, GO, LEVEL, PANEL, WHITE, Panel, Scale, Text, recolour
from appliance.display.till import (
    approve,
    change,
    login,
    more,
    nosale,
    number,
    refund,
    report,
    sell,
    tender,
    unprinted,
)
from appliance.display.till.host import Shows
from appliance.display.till.model import Op, PanelName, TillModel
from appliance.events import Event
from appliance.sales.till import TillView

PANELS: dict[PanelName, Callable[[TillScreen, TillView], Any]] = {
    "login": login.build,
    "sell": sell.build,
    "number": number.build,
    "tender": tender.build,
    "change": change.build,
    "more": more.build,
    "nosale": nosale.build,
    "report": report.build,
    "refund": refund.build,
    "approve": approve.build,
    "unprinted": unprinted.build,
}


class TillScreen(BoxLayout):
    """The staff's screen: a status bar always in view, and the panel `model.panel`."""

    def __init__(self, ctx: DisplayContext, scale: Scale, favourites: list[str], **kw: Any) -> None:
        super().__init__(orientation="vertical", **kw)
        self.ctx = ctx
        self.s = s = scale
        cfg = ctx.unit.cfg
        self.model = TillModel(ctx.money, cfg.exponent, favourites, cfg.staff)
        # The entry of the panel shown (PIN, amount), updated in place as keys are typed.
        self.entry_label: Text | None = None
        self.basket: Shows | None = None
        self._shown: tuple[PanelName, TillView, int] | None = None
        # Status bar: who is working and how each device is, always in view.
        bar = Panel(PANEL, size_hint_y=None, height=s(34), padding=s(3), spacing=s(3))
        self.who = Text(size_px=s(15), bold=True, size_hint_x=0.24)
        bar.add_widget(self.who)
        self.lamps: dict[str, Text] = {}
        for dev in ("printer", "scanner", "drawer", "network"):
            lamp = Text(size_px=s(12), color=WHITE, bg=GO, halign="center", size_hint_x=0.19)
            self.lamps[dev] = lamp
            bar.add_widget(lamp)
        self.add_widget(bar)
        self.notice = Text(size_px=s(13), color=WHITE, bg=FAULT, size_hint_y=None, height=0)
        self.notice.padding = (s(8), 0)
        self.add_widget(self.notice)
        self.body = BoxLayout()
        self.add_widget(self.body)
        ctx.redraws.append(self.refresh)
        ctx.event_hooks.append(self.on_event)
        self.refresh()

    @property
    def panel(self) -> PanelName:
        return self.model.panel

    def on_event(self, event: Event) -> None:
        """A sale or refund completed (by this screen, a scenario or a remote command):
        show what to hand back."""
        if event.kind == "sale.committed" and event.detail.get("kind") in ("sale", "refund"):
            record = self.ctx.unit.store.by_seq(int(event.detail["seq"]))
            if record is not None:
                self.model.finished_sale(record)

    def refresh(self) -> None:
        """The status bar and notice, then the panel: rebuilt only when it, the till's
        view or the model changed (so a field being typed into survives a printer event);
        on the sell panel a basket change only updates the basket column."""
        model = self.model
        view = self.ctx.unit.till.view()
        self.who.text = model.who(view)
        lights = self.ctx.lights()
        for light in lights:
            lamp = self.lamps.get(light.device)
            if lamp is None:  # the journal: only its fault shows, in the notice
                continue
            lamp.text = light.text
            recolour(lamp, LEVEL[light.level])
        text, level = model.notice(lights)
        self.notice.text = text
        self.notice.height = self.s(26) if text else 0
        recolour(self.notice, LEVEL[level])
        name = model.panel_for(view)
        shown = (name, view, model.generation)
        if shown == self._shown:
            return
        if (
            name == "sell"
            and self._shown is not None
            and self._shown[0] == "sell"
            and self._shown[2] == model.generation
            and self.basket is not None
        ):
            # A scan or a key changes the basket only: the product grid stays as it is,
            # and the basket's rows are updated in place.
            self._shown = shown
            self.basket.show(view)
            return
        model.panel = name
        self._shown = shown
        self.entry_label = None
        self.basket = None
        self.body.clear_widgets()
        self.body.add_widget(PANELS[name](self, view))

    def view(self) -> TillView:
        return self.ctx.unit.till.view()

    def send(self, op: Op | None) -> None:
        """Hand an operation to the controller; the model hears what it did. None: the
        model refused it itself (its message is shown)."""
        if op is None:
            self.refresh()
            return

        def done(outcome: Outcome) -> None:
            follow = self.model.took(op, outcome)
            if follow is not None:
                self.send(follow)

        if op["op"] == "reprint":  # not a scenario operation: the controller's own call
            self.ctx.reprint(str(op["receipt_no"]), done)
        elif op["op"] == "clear_unprinted":  # nor this
            self.ctx.clear_unprinted(list(op["job_ids"]), done)
        else:
            self.ctx.act(op, done)

    def typed(self) -> None:
        """A keypad key was pressed: the entry shows it (no rebuild)."""
        if self.entry_label is not None:
            self.entry_label.text = self.model.entry_text()
