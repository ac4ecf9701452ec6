"""The loyalty kiosk: scan a card, see balance, last purchases, rewards within reach and
points that expire soon; join with consent. Back to the start after a timeout, and the
start screen is rebuilt from nothing, so no one sees the previous customer's data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.checkbox import CheckBox
from kivy.uix.textinput import TextInput

from appliance.display.context import DisplayContext
from appliance.display.kit import (
    ACCENT,
    GO,
    MUTED,
    PANEL,
    PAPER,
    WARN,
    WHITE,
    Key,
    Panel,
    Scale,
    Text,
)
from appliance.display.models import KioskSession
from appliance.loyalty.customers import CustomerSummary, Enrolment, EnrolResult, Purchase
from protocol.cards import loyalty_card
from protocol.money import exponent


class KioskScreen(BoxLayout):
    """The customer-facing kiosk; `session` holds the one customer it may show."""

    def __init__(self, ctx: DisplayContext, scale: Scale, timeout: float, **kw: Any) -> None:
        super().__init__(orientation="vertical", **kw)
        self.ctx = ctx
        self.s = scale
        self.session = KioskSession(timeout=timeout)
        self.fields: dict[str, TextInput] = {}
        self.ticks: dict[str, CheckBox] = {}
        # Bumped by every scan, finish and time-out: an answer that comes back after its
        # customer has gone (or another has scanned) is dropped, never shown to the next.
        self.ticket = 0
        ctx.scan_hooks.append(self.on_scan)
        self.draw()

    def on_scan(self, code: str) -> None:
        card = loyalty_card(code)
        if card is not None:
            self.ticket += 1
            self.ctx.spawn(self.show_card(card.code, self.ticket))

    async def show_card(self, card: str, ticket: int | None = None) -> None:
        summary = await self.ctx.loyalty.summary(card)
        if ticket is not None and ticket != self.ticket:
            return
        self.session.show(summary, self.ctx.clock())
        self.draw()

    def tick(self) -> None:
        if self.session.tick(self.ctx.clock()):
            self.ticket += 1
            self.draw()

    def touched(self) -> None:
        self.session.touch(self.ctx.clock())

    def on_touch_down(self, touch: Any) -> bool:
        self.touched()
        return bool(super().on_touch_down(touch))

    def draw(self) -> None:
        self.clear_widgets()
        self.fields, self.ticks = {}, {}
        phase = self.session.phase
        if phase == "customer" and self.session.customer is not None:
            self.add_widget(self._customer(self.session.customer))
        elif phase == "enrol":
            self.add_widget(self._enrol())
        elif phase == "message":
            self.add_widget(self._message(self.session.message))
        else:
            self.add_widget(self._start())

    def _m(self, minor: int) -> str:
        return self.ctx.money(minor)

    def _paid(self, p: Purchase) -> str:
        """A purchase's total, in its own currency when another outlet's differs."""
        if not p.currency or p.currency == self.ctx.unit.cfg.store.currency:
            return self._m(p.total)
        return f"{Decimal(p.total).scaleb(-exponent(p.currency))} {p.currency}"

    def _start(self) -> Any:
        s = self.s
        root = Panel(PAPER, orientation="vertical", padding=s(24), spacing=s(12))
        root.add_widget(Text("Scan your loyalty card", size_px=s(40), bold=True, halign="center"))
        root.add_widget(
            Text(
                "Hold the barcode under the scanner to see your points",
                size_px=s(20),
                color=MUTED,
                halign="center",
            )
        )
        root.add_widget(
            Key(
                "No card yet? Join our loyalty club",
                self.start_enrol,
                size_px=s(22),
                bg=GO,
                size_hint_y=0.35,
            )
        )
        return root

    def _customer(self, c: CustomerSummary) -> Any:
        s = self.s
        n = self.ctx.money.number
        root = Panel(PAPER, orientation="vertical", padding=s(12), spacing=s(6))
        hello = f"Hello {c.first_name}" if c.first_name else f"Card {c.account}"
        root.add_widget(
            Text(hello, size_px=s(28), bold=True, color=WHITE, bg=ACCENT, halign="center",
                 size_hint_y=None, height=s(48))
        )  # fmt: skip
        if c.balance is None:
            root.add_widget(
                Text(
                    "Your balance is available when the shop is online",
                    size_px=s(22),
                    halign="center",
                    size_hint_y=None,
                    height=s(50),
                )
            )
        else:
            root.add_widget(
                Text(
                    f"{n(c.balance)} points",
                    size_px=s(46),
                    bold=True,
                    halign="center",
                    size_hint_y=None,
                    height=s(64),
                )
            )
        cols = BoxLayout(spacing=s(10))
        # Rows of a fixed height stack from the top; the empty box takes what is left.
        head, row = s(30), s(26)
        left = Panel(PANEL, orientation="vertical", padding=s(8), spacing=s(2))
        left.add_widget(
            Text("Your last purchases", size_px=s(17), bold=True, size_hint_y=None, height=head)
        )
        for p in c.purchases[:5]:
            sign = "+" if p.points >= 0 else "−"
            left.add_widget(
                Text(
                    f"{p.date}   {p.store + '   ' if p.store else ''}{self._paid(p)}   "
                    f"{sign}{n(abs(p.points))} pts",
                    size_px=s(15),
                    size_hint_y=None,
                    height=row,
                )
            )
        if not c.purchases:
            left.add_widget(Text("—", size_px=s(15), color=MUTED, size_hint_y=None, height=row))
        left.add_widget(BoxLayout())
        cols.add_widget(left)
        right = Panel(PANEL, orientation="vertical", padding=s(8), spacing=s(2))
        right.add_widget(
            Text("Rewards within reach", size_px=s(17), bold=True, size_hint_y=None, height=head)
        )
        for r in c.within_reach():
            short = max(r.points - (c.balance or 0), 0)
            state = "yours now!" if short == 0 else f"{n(short)} more points"
            right.add_widget(
                Text(f"{r.name}: {state}", size_px=s(15), size_hint_y=None, height=row)
            )
        for e in c.expiring[:2]:
            right.add_widget(
                Text(
                    f"{n(e.points)} points expire on {e.on}",
                    size_px=s(15),
                    color=WARN,
                    size_hint_y=None,
                    height=row,
                )
            )
        right.add_widget(BoxLayout())
        cols.add_widget(right)
        root.add_widget(cols)
        root.add_widget(
            Key("Done", self.finish, size_px=s(20), bg=MUTED, size_hint_y=None, height=s(46))
        )
        return root

    def start_enrol(self) -> None:
        self.session.enrol(self.ctx.clock())
        self.draw()

    def finish(self) -> None:
        self.ticket += 1
        self.session.reset()
        self.draw()

    def _enrol(self) -> Any:
        s = self.s
        root = Panel(PAPER, orientation="vertical", padding=s(12), spacing=s(6))
        root.add_widget(Text("Join our loyalty club", size_px=s(26), bold=True, size_hint_y=0.14))
        for key, hint in (
            ("first_names", "First name(s)"),
            ("surname", "Surname"),
            ("email", "E-mail (optional)"),
        ):
            field = TextInput(hint_text=hint, multiline=False, font_size=s(18))
            field.bind(text=lambda *_: self.touched())
            self.fields[key] = field
            root.add_widget(field)
        for key, label in (
            ("terms", "I accept the loyalty club's terms and privacy notice (required)"),
            ("consent", "Send me offers by e-mail (optional; you can stop them at any time)"),
        ):
            row = BoxLayout(spacing=s(6))
            box = CheckBox(size_hint_x=None, width=s(40), color=(0, 0, 0, 1))
            self.ticks[key] = box
            row.add_widget(box)
            row.add_widget(Text(label, size_px=s(15)))
            root.add_widget(row)
        keys = BoxLayout(spacing=s(8))
        keys.add_widget(Key("Join", self.submit, size_px=s(20), bg=GO))
        keys.add_widget(Key("Cancel", self.finish, size_px=s(20), bg=MUTED))
        root.add_widget(keys)
        return root

    def submit(self) -> None:
        form = Enrolment(
            first_names=self.fields["first_names"].text.strip(),
            surname=self.fields["surname"].text.strip(),
            email=self.fields["email"].text.strip(),
            consent=bool(self.ticks["consent"].active),
            terms_accepted=bool(self.ticks["terms"].active),
        )
        if not form.first_names or not form.surname:
            self.session.tell("Please give your first name and surname.", self.ctx.clock())
            self.draw()
            return
        if not form.terms_accepted:
            self.session.tell(
                "To join, please accept the terms and privacy notice.", self.ctx.clock()
            )
            self.draw()
            return
        self.ctx.spawn(self._enrol_now(form))

    async def _enrol_now(self, form: Enrolment) -> None:
        ticket = self.ticket
        self.session.tell("One moment, we are registering you…", self.ctx.clock())
        self.draw()
        result: EnrolResult = await self.ctx.loyalty.enrol(form)
        if ticket != self.ticket:
            return  # they walked away (timed out, or pressed OK): show it to no one else
        text = result.message
        if result.ok and result.account:
            text = f"Welcome, {form.first_names}! Your account is {result.account}. {text}"
        self.session.tell(text, self.ctx.clock())
        self.draw()

    def _message(self, text: str) -> Any:
        s = self.s
        root = Panel(PAPER, orientation="vertical", padding=s(24), spacing=s(12))
        root.add_widget(Text(text, size_px=s(26), halign="center", shorten=False))
        root.add_widget(Key("OK", self.finish, size_px=s(22), bg=GO, size_hint_y=0.3))
        return root
