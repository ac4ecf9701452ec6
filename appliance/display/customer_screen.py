"""The customer display: the basket as it grows, the total, a greeting, change, thanks;
between customers the shop's logo and the promotions the collector pushed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image

from appliance.display.context import DisplayContext
from appliance.display.kit import ACCENT, GO, INK, MUTED, PANEL, PAPER, WHITE, Panel, Scale, Text
from appliance.display.loyalty import CustomerSummary
from appliance.display.models import CustomerFrame, CustomerModel
from appliance.events import Event

SHOWN_LINES = 8


class CustomerScreen(BoxLayout):
    """What the customer watches; `frame` is the last thing drawn (tests read it)."""

    def __init__(self, ctx: DisplayContext, scale: Scale, logo: str, shop: str, **kw: Any) -> None:
        super().__init__(orientation="vertical", **kw)
        self.ctx = ctx
        self.s = scale
        self.logo = logo
        self.shop = shop
        self.model = CustomerModel()
        self.frame: CustomerFrame | None = None
        self.promo_index = 0
        self._asked: str | None = None
        # First in line: the customer's screen is the one whose delay people notice.
        ctx.redraws.insert(0, self.refresh)
        ctx.event_hooks.append(self.on_event)
        self.refresh()

    def on_event(self, event: Event) -> None:
        if event.kind == "sale.committed" and event.detail.get("kind") == "sale":
            record = self.ctx.unit.store.by_seq(int(event.detail["seq"]))
            if record is not None:
                self.model.sale_finished(record, self.ctx.clock())

    def next_promotion(self) -> None:
        self.promo_index += 1
        if self.frame is not None and self.frame.phase == "idle":
            self.frame = None  # force a redraw with the next one
            self.refresh()

    def refresh(self) -> None:
        view = self.ctx.unit.till.view()
        loyalty = view.loyalty
        if loyalty is not None and self._asked != loyalty.account:
            self._asked = loyalty.account
            self.ctx.spawn(self._lookup(loyalty.account))
        elif loyalty is None:
            self._asked = None
        frame = self.model.frame(view, self.ctx.clock())
        if frame == self.frame:
            return
        self.frame = frame
        self.clear_widgets()
        build = {"idle": self._idle, "basket": self._basket, "thanks": self._thanks}
        self.add_widget(build[frame.phase](frame))

    async def _lookup(self, account: str) -> None:
        summary = await self.ctx.loyalty.summary(account)
        self.model.customer_known(summary)
        self.frame = None
        self.refresh()

    def _m(self, minor: int) -> str:
        return self.ctx.money(minor)

    def _greeting(self, customer: CustomerSummary | None) -> str:
        if customer is None:
            return f"Welcome to {self.shop}"
        hello = f"Hello {customer.first_name}!" if customer.first_name else "Hello!"
        if customer.balance is None:
            return f"{hello}  Points balance available when online"
        return f"{hello}  You have {self.ctx.money.number(customer.balance)} points"

    def _basket(self, f: CustomerFrame) -> Any:
        s = self.s
        root = Panel(PAPER, orientation="vertical", padding=s(10), spacing=s(4))
        root.add_widget(
            Text(
                self._greeting(f.customer),
                size_px=s(20),
                color=WHITE,
                bg=ACCENT,
                halign="center",
                size_hint_y=None,
                height=s(40),
            )
        )
        lines = BoxLayout(orientation="vertical", spacing=s(2))
        live = [ln for ln in f.lines if not ln.voided]
        for ln in live[-SHOWN_LINES:]:
            row = BoxLayout(size_hint_y=None, height=s(30))
            name = f"{ln.qty} × {ln.name}" if ln.qty != 1 else ln.name
            row.add_widget(Text(name, size_px=s(18)))
            if ln.discount:
                row.add_widget(
                    Text(
                        f"−{self._m(ln.discount)}",
                        size_px=s(14),
                        color=GO,
                        halign="right",
                        size_hint_x=0.25,
                    )
                )
            row.add_widget(Text(self._m(ln.total), size_px=s(18), halign="right", size_hint_x=0.3))
            lines.add_widget(row)
        if len(live) > SHOWN_LINES:
            lines.add_widget(Text(f"… and {len(live) - SHOWN_LINES} more", size_px=s(14)))
        lines.add_widget(BoxLayout())
        root.add_widget(lines)
        foot = Panel(PANEL, orientation="vertical", size_hint_y=None, height=s(110), padding=s(6))
        foot.add_widget(
            Text(f"Total  {self._m(f.total)}", size_px=s(44), bold=True, halign="right")
        )
        if f.paid:
            foot.add_widget(
                Text(
                    f"Paid {self._m(f.paid)}   Still to pay {self._m(f.due)}",
                    size_px=s(18),
                    halign="right",
                )
            )
        root.add_widget(foot)
        return root

    def _thanks(self, f: CustomerFrame) -> Any:
        s = self.s
        root = Panel(PAPER, orientation="vertical", padding=s(16), spacing=s(6))
        root.add_widget(Text("Thank you!", size_px=s(54), bold=True, halign="center"))
        root.add_widget(
            Text(f"Total {self._m(f.total)}", size_px=s(24), halign="center", color=MUTED)
        )
        if f.change:
            root.add_widget(
                Text(
                    f"Your change  {self._m(f.change)}",
                    size_px=s(40),
                    bold=True,
                    color=GO,
                    halign="center",
                )
            )
        if f.earned is not None:
            who = f.customer.first_name if f.customer and f.customer.first_name else ""
            root.add_widget(
                Text(
                    f"{who + ', y' if who else 'Y'}ou earned {self.ctx.money.number(f.earned)} "
                    "points",
                    size_px=s(22),
                    halign="center",
                )
            )
        return root

    def _idle(self, f: CustomerFrame) -> Any:
        s = self.s
        root = Panel(PAPER, orientation="vertical", padding=s(16), spacing=s(8))
        if self.logo and Path(self.logo).is_file():
            root.add_widget(Image(source=self.logo, fit_mode="contain", size_hint_y=0.55))
        else:
            root.add_widget(
                Text(self.shop, size_px=s(44), bold=True, halign="center", size_hint_y=0.55)
            )
        promos = self.ctx.promotions()
        if promos:
            p = promos[self.promo_index % len(promos)]
            box = Panel(ACCENT, orientation="vertical", padding=s(10), size_hint_y=0.45)
            box.add_widget(Text(p["title"], size_px=s(30), bold=True, color=WHITE, halign="center"))
            box.add_widget(
                Text(p["text"], size_px=s(20), color=WHITE, halign="center", shorten=False)
            )
            root.add_widget(box)
        else:
            root.add_widget(Text("Welcome", size_px=s(30), color=INK, halign="center"))
        return root
